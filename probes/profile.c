/* CPU profile by perf-event sampling: one count per (process, user stack,
 * kernel stack), aggregated here in the kernel; user space reads the
 * counts and the stack map, never a per-sample stream.
 *
 *   -DINCLUDE_IDLE     keep samples of the idle task (pid 0)
 *   -DUSER_ONLY / -DKERNEL_ONLY
 *
 * The pid filter and the sample limit come at run time through `config`,
 * so one compiled program serves every run from the cache. */
#include <uapi/linux/bpf_perf_event.h>
#include "config.h"

struct key_t {
	u32 pid;
	s32 user_stack;
	s32 kernel_stack;
	char comm[16];
};

BPF_HASH(counts, struct key_t, u64, 40960);
BPF_STACK_TRACE(stacks, 16384);
BPF_ARRAY(total, u64, 1);


int on_sample(struct bpf_perf_event_data *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tgid = id >> 32;
	int zero = 0;

#ifndef INCLUDE_IDLE
	if ((u32)id == 0)
		return 0;
#endif
	struct config *cf = bl_config();
	if (!cf || !bl_wanted())
		return 0;
	u64 *n = total.lookup(&zero);
	if (!n || *n >= cf->max_events)
		return 0;
	__sync_fetch_and_add(n, 1);

	struct key_t key = { .pid = tgid };
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
#ifdef KERNEL_ONLY
	key.user_stack = -1;
#else
	key.user_stack = stacks.get_stackid(&ctx->regs, BPF_F_USER_STACK);
#endif
#ifdef USER_ONLY
	key.kernel_stack = -1;
#else
	key.kernel_stack = stacks.get_stackid(&ctx->regs, 0);
#endif
	counts.increment(key);
	return 0;
}
