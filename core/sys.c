#include "sys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

long bl_sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int bl_sys_map_lookup_batch(int fd, const void *in, void *out, void *keys, void *values, uint32_t *count)
{
	union bpf_attr attr;
	long rc;

	memset(&attr, 0, sizeof(attr));
	attr.batch.map_fd = (uint32_t)fd;
	attr.batch.in_batch = (uint64_t)(uintptr_t)in;
	attr.batch.out_batch = (uint64_t)(uintptr_t)out;
	attr.batch.keys = (uint64_t)(uintptr_t)keys;
	attr.batch.values = (uint64_t)(uintptr_t)values;
	attr.batch.count = *count;
	rc = bl_sys_bpf(BPF_MAP_LOOKUP_BATCH, &attr);
	*count = attr.batch.count;
	return rc < 0 ? -errno : 0;
}

int bl_sys_perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return (int)syscall(__NR_perf_event_open, attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

int bl_cpu_list(const char *path, int *cpus, int max)
{
	FILE *f = fopen(path, "r");
	char buf[1024], *p;
	int n = 0;

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	for (p = buf; *p && *p != '\n';) {
		char *end;
		long a = strtol(p, &end, 10), b = a;

		if (end == p)
			return -EINVAL;
		if (*end == '-')
			b = strtol(end + 1, &end, 10);
		for (long c = a; c <= b; c++, n++)
			if (cpus && n < max)
				cpus[n] = (int)c;
		p = *end == ',' ? end + 1 : end;
	}
	return n;
}

int bl_online_cpus(const int **cpus)
{
	static int list[BL_MAX_CPUS];
	int n = bl_cpu_list("/sys/devices/system/cpu/online", list, BL_MAX_CPUS);

	*cpus = list;
	if (n == 0)
		return -EIO;
	return n > BL_MAX_CPUS ? BL_MAX_CPUS : n;
}

int bl_possible_cpus(void)
{
	static int n;

	if (!n)
		n = bl_cpu_list("/sys/devices/system/cpu/possible", NULL, 0);
	return n > 0 ? n : 1;
}
