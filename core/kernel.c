#include "kernel.h"
#include "sys.h"

#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <zlib.h>

static struct bl_features feat;
static int probed;

static int exists(const char *path)
{
	return access(path, F_OK) == 0;
}

static const char *find_tracefs(void)
{
	static const char *const paths[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

	for (size_t i = 0; i < 2; i++) {
		char probe[128];

		snprintf(probe, sizeof(probe), "%s/events", paths[i]);
		if (exists(probe))
			return paths[i];
	}
	return NULL;
}

const char *bl_tracefs(void)
{
	static int tried;
	const char *p = find_tracefs();

	if (p || tried)
		return p ? p : "";
	tried = 1;
	/* Fresh VMs and containers often boot without tracefs mounted; libbcc
	 * needs it for tracepoints and uprobes, and root may mount it. */
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0)
		feat.tracefs_mounted_by_us = 1;
	p = find_tracefs();
	return p ? p : "";
}

/* CapEff from /proc/self/status: the capabilities this process may use now. */
static unsigned long long effective_caps(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	unsigned long long caps = 0;
	char line[256];

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &caps) == 1)
			break;
	fclose(f);
	return caps;
}

static int read_int(const char *path, int dflt)
{
	FILE *f = fopen(path, "r");
	int v = dflt;

	if (!f)
		return dflt;
	if (fscanf(f, "%d", &v) != 1)
		v = dflt;
	fclose(f);
	return v;
}

/* a probe's verdict: the kernel gave an fd (closed again at once) */
static int works(int fd)
{
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

static int try_map(int type, unsigned key, unsigned value, unsigned entries)
{
	union bpf_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = (unsigned)type;
	attr.key_size = key;
	attr.value_size = value;
	attr.max_entries = entries;
	fd = (int)bl_sys_bpf(BPF_MAP_CREATE, &attr);
	return works(fd);
}

/* A program of this type and these instructions loads (GPL). */
static int try_prog(int type, const struct bpf_insn *insns, unsigned n)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = (unsigned)type;
	attr.insns = (unsigned long)insns;
	attr.insn_cnt = n;
	attr.license = (unsigned long)"GPL";
	return works((int)bl_sys_bpf(BPF_PROG_LOAD, &attr));
}

static int try_raw_tracepoint(void)
{
	/* r0 = 0; exit */
	const struct bpf_insn insns[2] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return try_prog(BPF_PROG_TYPE_RAW_TRACEPOINT, insns, 2);
}

/* A tracepoint program calling helper `fn` with r1 = 0 loads: the helper
 * is there for tracing programs (bpf_get_current_ancestor_cgroup_id is
 * not on 5.10: "unknown func") */
static int try_tracing_helper(int fn)
{
	/* r1 = 0; call fn; r0 = 0; exit */
	const struct bpf_insn insns[4] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1 },
		{ .code = BPF_JMP | BPF_CALL, .imm = fn },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};

	return try_prog(BPF_PROG_TYPE_TRACEPOINT, insns, 4);
}

/* A perf_event program may use a hash map that is not preallocated (5.10
 * refuses: "perf_event programs can only use preallocated hash map") */
static int try_perf_event_noprealloc(void)
{
	union bpf_attr attr;
	int map, ok;

	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_HASH;
	attr.key_size = 4;
	attr.value_size = 1;
	attr.max_entries = 1;
	attr.map_flags = BPF_F_NO_PREALLOC;
	map = (int)bl_sys_bpf(BPF_MAP_CREATE, &attr);
	if (map < 0)
		return 0;
	/* r1 = the map; r0 = 0; exit: naming the map is what is checked */
	const struct bpf_insn insns[4] = {
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = 1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = map },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	ok = try_prog(BPF_PROG_TYPE_PERF_EVENT, insns, 4);
	close(map);
	return ok;
}

static int try_perf_sampling(void)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_CPU_CLOCK;
	attr.freq = 1;
	attr.sample_freq = 99;
	attr.disabled = 1;
	fd = bl_sys_perf_event_open(&attr, -1, 0);
	return works(fd);
}

/* The running kernel's build option, from /proc/config.gz or
 * /boot/config-RELEASE (zlib reads plain files as they are). */
const char *bl_kconfig(const char *option)
{
	char path[512], line[512];
	struct utsname un;
	const char *val = NULL;
	size_t olen = strlen(option);
	gzFile f;

	uname(&un);
	if (exists("/proc/config.gz"))
		snprintf(path, sizeof(path), "/proc/config.gz");
	else
		snprintf(path, sizeof(path), "/boot/config-%s", un.release);
	f = gzopen(path, "rb");
	if (!f)
		return NULL;
	while (gzgets(f, line, sizeof(line))) {
		if (!val)
			val = "n"; /* a readable config that never sets it */
		if (!strncmp(line, option, olen) && line[olen] == '=') {
			val = line[olen + 1] == 'y' ? "y" : line[olen + 1] == 'm' ? "m" : "n";
			break;
		}
	}
	gzclose(f);
	return val;
}

const struct bl_features *bl_features(void)
{
	unsigned long long caps;
	struct utsname un;
	char path[160];
	const char *tfs;

	if (probed)
		return &feat;
	probed = 1;
	uname(&un);
	snprintf(feat.release, sizeof(feat.release), "%s", un.release);
	sscanf(un.release, "%d.%d.%d", &feat.version[0], &feat.version[1], &feat.version[2]);
	feat.is_root = geteuid() == 0;
	caps = effective_caps();
	feat.cap_sys_admin = !!(caps & (1ULL << 21));
	feat.cap_perfmon = !!(caps & (1ULL << 38));
	feat.cap_bpf = !!(caps & (1ULL << 39));
	feat.bpf_syscall = try_map(BPF_MAP_TYPE_ARRAY, 4, 4, 1);
	feat.ringbuf = feat.bpf_syscall && try_map(BPF_MAP_TYPE_RINGBUF, 0, 0, 4096);
	feat.raw_tracepoints = feat.bpf_syscall && try_raw_tracepoint();
	feat.ancestor_cgroup = feat.bpf_syscall && try_tracing_helper(BPF_FUNC_get_current_ancestor_cgroup_id);
	feat.noprealloc_perf_event = feat.bpf_syscall && try_perf_event_noprealloc();
	feat.btf = exists("/sys/kernel/btf/vmlinux");
	feat.perf_sampling = try_perf_sampling();
	feat.perf_event_paranoid = read_int("/proc/sys/kernel/perf_event_paranoid", 2);
	tfs = bl_tracefs();
	snprintf(feat.tracefs, sizeof(feat.tracefs), "%s", tfs);
	snprintf(path, sizeof(path), "%s/kprobe_events", tfs);
	feat.kprobes = exists("/sys/bus/event_source/devices/kprobe") || (*tfs && exists(path));
	snprintf(path, sizeof(path), "%s/uprobe_events", tfs);
	feat.uprobes = exists("/sys/bus/event_source/devices/uprobe") || (*tfs && exists(path));
	return &feat;
}

const char *bl_privilege_hint(void)
{
	unsigned long long caps = effective_caps();

	if (geteuid() == 0 && (caps & (1ULL << 21)))
		return "";
	if ((caps & (1ULL << 39)) && (caps & (1ULL << 38)))
		return "";
	return " (bpflua needs root, or the capabilities CAP_BPF and CAP_PERFMON; try sudo)";
}
