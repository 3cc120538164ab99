/* Kernel probing: what this host can trace, asked once per run.
 * `bpflua doctor` prints it; compile and attach use it to choose and explain. */
#ifndef BPFLUA_KERNEL_H
#define BPFLUA_KERNEL_H

struct bl_features {
	char release[128];
	int version[3];
	int is_root;
	int cap_sys_admin, cap_bpf, cap_perfmon;
	int bpf_syscall;   /* a map can be created */
	int btf;           /* /sys/kernel/btf/vmlinux */
	int kprobes;       /* kprobe PMU or kprobe_events */
	int uprobes;       /* uprobe PMU or uprobe_events */
	int raw_tracepoints;
	int ringbuf;
	int ancestor_cgroup; /* tracing programs may call bpf_get_current_ancestor_cgroup_id */
	int noprealloc_perf_event; /* perf_event programs may use BPF_F_NO_PREALLOC hashes */
	int perf_sampling; /* a software cpu-clock event opens */
	int perf_event_paranoid;
	char tracefs[64];  /* "" when none could be found or mounted */
	int tracefs_mounted_by_us;
};

/* Probes on the first call; later calls return the same answers. */
const struct bl_features *bl_features(void);

/* Where tracefs is, mounting it on /sys/kernel/tracing if it is missing and
 * we may. Returns "" when there is none. */
const char *bl_tracefs(void);

/* " (run as root, or grant CAP_BPF and CAP_PERFMON)" when privileges are
 * what is missing; "" otherwise. */
const char *bl_privilege_hint(void);

/* Parses a CPU list file ("0-3,5"). Fills cpus (up to max) and returns how
 * many CPUs it names, or negative errno. */


/* Value of a kernel config option from /proc/config.gz or /boot/config-*:
 * "y", "m", "n" (unset), or NULL when no config is readable. */
const char *bl_kconfig(const char *option);

#endif
