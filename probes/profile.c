/* CPU profile by perf-event sampling: one count per (process, user stack,
 * kernel stack), aggregated here in the kernel; user space reads the
 * counts and the stack map, never a per-sample stream.
 *
 *   -DFILTER_PID=N -DEXCLUDE_PID=N
 *   -DINCLUDE_IDLE     keep samples of the idle task (pid 0)
 *   -DUSER_ONLY / -DKERNEL_ONLY
 *   -DMAX_SAMPLES=N    stop counting after N samples (user space stops too) */
#include <uapi/linux/bpf_perf_event.h>

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
#ifdef FILTER_PID
	if (tgid != FILTER_PID)
		return 0;
#endif
#ifdef EXCLUDE_PID
	if (tgid == EXCLUDE_PID)
		return 0;
#endif
	u64 *n = total.lookup(&zero);
	if (!n)
		return 0;
#ifdef MAX_SAMPLES
	if (*n >= MAX_SAMPLES)
		return 0;
#endif
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
