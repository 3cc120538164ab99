/* The kernel calls bpflua makes itself, one wrapper each, as libbpf keeps
 * bpf() in bpf.c: nothing else in the tree says __NR_bpf or
 * __NR_perf_event_open or reads the CPU lists. (libbcc_bpf makes its own
 * calls for what bpflua borrows from it: map access, perf readers, uprobes.) */
#ifndef BPFLUA_SYS_H
#define BPFLUA_SYS_H

#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdint.h>
#include <sys/types.h>

/* the most CPUs bpflua opens per-CPU events on */
#define BL_MAX_CPUS 4096

/* bpf(cmd, attr): as the syscall, -1 and errno on failure */
long bl_sys_bpf(int cmd, union bpf_attr *attr);

/* BPF_MAP_LOOKUP_BATCH (5.6): up to *count keys and values of map fd from
 * after the position `in` names (NULL: the start), the position reached
 * into `out`; *count becomes how many came. 0, or negative errno (-ENOENT:
 * the end was reached, *count still valid). */
int bl_sys_map_lookup_batch(int fd, const void *in, void *out, void *keys, void *values, uint32_t *count);

/* perf_event_open(attr, pid, cpu, no group, CLOEXEC): an fd, or -1 and errno */
int bl_sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu);

/* The online CPUs' numbers: how many (at most BL_MAX_CPUS), or negative
 * errno; *cpus points at a list the next call overwrites. */
int bl_online_cpus(const int **cpus);

/* How many CPUs are possible: the stride of per-CPU map values (1 if the
 * list cannot be read). */
int bl_possible_cpus(void);

/* Parses a CPU list file ("0-3,8"): how many CPUs it names, the first max
 * of them into cpus (may be NULL). */
int bl_cpu_list(const char *path, int *cpus, int max);

#endif
