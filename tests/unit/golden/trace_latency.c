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

struct event {
	u64 ts;
	u32 pid;
	char comm[16];
	s64 args_ret;
};
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 256);
#else
BPF_PERF_OUTPUT(events);
#endif
BPF_PERCPU_ARRAY(events_lost, u64, 1);
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
	struct event e = {};
	e.ts = bpf_ktime_get_ns();
	e.pid = pid;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	e.args_ret = args->ret;
#ifdef BL_RINGBUF
	if (events.ringbuf_output(&e, sizeof(e), 0)) {
		int zero = 0;
		events_lost.increment(zero);
	}
#else
	if (events.perf_submit(args, &e, sizeof(e))) {
		int zero = 0;
		events_lost.increment(zero);
	}
#endif
	return 0;
}