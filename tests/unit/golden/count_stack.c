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
struct key_t {
	s32 stack;
};
BPF_HASH(values, struct key_t, u64, 10240);
TRACEPOINT_PROBE(sched, sched_switch)
{
	u64 __id = bpf_get_current_pid_tgid();
	u32 pid = __id >> 32, tid = (u32)__id;
	u32 cpu = bpf_get_smp_processor_id();
	u32 uid = (u32)bpf_get_current_uid_gid();
	int __zero = 0;
	u32 *__self = bl_self.lookup(&__zero);
	if (!__self || !*__self || pid == *__self)
		return 0;

	if (!(args->prev_pid != 0))
		return 0;
	struct key_t k = {};
	k.stack = stacks.get_stackid(args, 0);
	values.increment(k);
	return 0;
}