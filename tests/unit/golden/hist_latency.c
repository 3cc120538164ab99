#include <uapi/linux/bpf_perf_event.h>
BPF_ARRAY(bl_self, u32, 1);
/* comm_is("name") in filters */
#define comm_is(s) bl_streq(comm, s, sizeof(s))
static __always_inline int bl_streq(const char *a, const char *b, int n)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (i >= n)
			return 1;
		if (a[i] != b[i])
			return 0;
	}
	return 1;
}

struct key_t {
	u32 none;
	u32 slot;
};
BPF_HASH(values, struct key_t, u64, 10240);
BPF_TABLE("lru_hash", u32, u64, bl_start, 65536);
TRACEPOINT_PROBE(syscalls, sys_enter_nanosleep)
{
	u32 tid = (u32)bpf_get_current_pid_tgid();
	u64 now = bpf_ktime_get_ns();
	bl_start.update(&tid, &now);
	return 0;
}
TRACEPOINT_PROBE(syscalls, sys_exit_nanosleep)
{
	u64 __id = bpf_get_current_pid_tgid();
	u32 pid = __id >> 32, tid = (u32)__id;
	u32 cpu = bpf_get_smp_processor_id();
	u32 uid = (u32)bpf_get_current_uid_gid();
	int __zero = 0;
	u32 *__self = bl_self.lookup(&__zero);
	if (!__self || !*__self || pid == *__self)
		return 0;

	u64 *t0 = bl_start.lookup(&tid);
	if (!t0)
		return 0;
	u64 elapsed = (bpf_ktime_get_ns() - *t0) / 1000;
	bl_start.delete(&tid);
	char comm[16];
	bpf_get_current_comm(&comm, sizeof(comm));
	if (!(comm_is("sleep")))
		return 0;
	struct key_t k = {};
	u64 v = (u64)(elapsed);
	k.slot = bpf_log2l(v);
	values.increment(k);
	return 0;
}