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

BPF_STACK_TRACE(stacks, 8192);
struct event {
	u64 ts;
	u32 pid;
	char comm[16];
	s32 stack;
	s32 ustack;
	u32 cpu;
};
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 256);
#else
BPF_PERF_OUTPUT(events);
#endif
BPF_PERCPU_ARRAY(events_lost, u64, 1);
int bl_probe(struct bpf_perf_event_data *ctx)
{
	u64 __id = bpf_get_current_pid_tgid();
	u32 pid = __id >> 32, tid = (u32)__id;
	u32 cpu = bpf_get_smp_processor_id();
	u32 uid = (u32)bpf_get_current_uid_gid();
	int __zero = 0;
	u32 *__self = bl_self.lookup(&__zero);
	if (!__self || !*__self || pid == *__self)
		return 0;

	struct event e = {};
	e.ts = bpf_ktime_get_ns();
	e.pid = pid;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	e.stack = stacks.get_stackid(&ctx->regs, 0);
	e.ustack = stacks.get_stackid(&ctx->regs, BPF_F_USER_STACK);
	e.cpu = cpu;
#ifdef BL_RINGBUF
	if (events.ringbuf_output(&e, sizeof(e), 0)) {
		int zero = 0;
		events_lost.increment(zero);
	}
#else
	if (events.perf_submit(ctx, &e, sizeof(e))) {
		int zero = 0;
		events_lost.increment(zero);
	}
#endif
	return 0;
}