/* CPU profile by perf-event sampling: one count per (process, user stack,
 * kernel stack), aggregated here in the kernel; user space reads the
 * counts and the stack map, never a per-sample stream.
 *
 *   -DINCLUDE_IDLE     keep samples of the idle task (pid 0)
 *   -DUSER_ONLY / -DKERNEL_ONLY
 *
 * The pid filter and the sample limit come at run time through `config`,
 * so one compiled program serves every run from the cache.
 *
 * Counts and stacks come in two halves: samples go to the half `active`
 * names while user space drains the other, every quarter second, and empties
 * it. A stack map that is never emptied fills within minutes when processes
 * come and go (each has its own addresses), and from then on nearly every
 * new stack is lost; the halves keep it at what a quarter second brings.
 *
 *   -DSTACK_ENTRIES=N  stack ids each half holds (default 8192) */
#include <uapi/linux/bpf_perf_event.h>
#include "config.h"

struct key_t {
	u32 pid;
	s32 user_stack;
	s32 kernel_stack;
	char comm[16];
};

#ifndef STACK_ENTRIES
#define STACK_ENTRIES 8192
#endif

BPF_HASH(counts0, struct key_t, u64, 20480);
BPF_HASH(counts1, struct key_t, u64, 20480);
BPF_STACK_TRACE(stacks0, STACK_ENTRIES);
BPF_STACK_TRACE(stacks1, STACK_ENTRIES);
BPF_ARRAY(active, u32, 1);
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

	struct key_t key = { .pid = tgid, .user_stack = -1, .kernel_stack = -1 };
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	u32 *half = active.lookup(&zero);
	if (half && *half) {
#ifndef KERNEL_ONLY
		key.user_stack = stacks1.get_stackid(&ctx->regs, BPF_F_USER_STACK);
#endif
#ifndef USER_ONLY
		key.kernel_stack = stacks1.get_stackid(&ctx->regs, 0);
#endif
		u64 zero = 0, *n = counts1.lookup_or_try_init(&key, &zero);

		if (n)
			__sync_fetch_and_add(n, 1); /* both CPUs may sample one stack */
	} else {
#ifndef KERNEL_ONLY
		key.user_stack = stacks0.get_stackid(&ctx->regs, BPF_F_USER_STACK);
#endif
#ifndef USER_ONLY
		key.kernel_stack = stacks0.get_stackid(&ctx->regs, 0);
#endif
		u64 zero = 0, *n = counts0.lookup_or_try_init(&key, &zero);

		if (n)
			__sync_fetch_and_add(n, 1);
	}
	return 0;
}
