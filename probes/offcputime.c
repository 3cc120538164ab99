/* Off-CPU time: how long threads spent off a CPU, by user and kernel stack
 * and task state at the moment they left it (S sleeping, D uninterruptible,
 * R preempted, ...), counted in the kernel: blocks and nanoseconds per key.
 *
 * A raw tracepoint on sched_switch: it runs in the context of the task
 * leaving the CPU, so its stacks, ids and name are taken there and kept by
 * the task's address until the task comes back on (no task_struct field is
 * read, so no BTF or matching headers are needed). Raw, not tracefs: a
 * tracefs tracepoint's program is skipped whenever another BPF program runs
 * on that CPU.
 *
 * Blocks shorter than `limits.min_ns` or longer than `limits.max_ns` (set
 * at run time) are left out.
 *
 *   -DSWITCH_HAS_STATE  sched_switch passes prev_state (Linux 5.18+)
 *   -DUSER_ONLY / -DKERNEL_ONLY
 *   -DSTACK_ENTRIES=N   stack ids the stack map holds (default 16384) */
#include "config.h"
#include "offcputime.h"

#ifndef STACK_ENTRIES
#define STACK_ENTRIES 16384
#endif

struct key_t {
	u32 pid;
	u32 tid;
	s32 user_stack;
	s32 kernel_stack;
	u32 state; /* prev_state, OFFCPU_PREEMPTED or OFFCPU_UNKNOWN */
	char comm[16];
};

struct start_t {
	u64 ts;
	struct key_t key;
};

struct val_t {
	u64 count;
	u64 ns;
};

struct limits_t {
	u64 min_ns;
	u64 max_ns;
};

BPF_TABLE("lru_hash", u64, struct start_t, start, 65536);
BPF_HASH(counts, struct key_t, struct val_t, 40960);
BPF_STACK_TRACE(stacks, STACK_ENTRIES);
BPF_ARRAY(limits, struct limits_t, 1);

/* a new task at an address: whatever was kept for an old one there is not its */
RAW_TRACEPOINT_PROBE(sched_wakeup_new)
{
	u64 task = ctx->args[0];

	start.delete(&task);
	return 0;
}

/* sched_switch(bool preempt, struct task_struct *prev, struct task_struct
 * *next[, unsigned int prev_state]); prev is the current task */
RAW_TRACEPOINT_PROBE(sched_switch)
{
	u64 now = bpf_ktime_get_ns(), id = bpf_get_current_pid_tgid();
	u64 prev = ctx->args[1], next = ctx->args[2];
	int zero = 0;

#ifdef SWITCH_HAS_STATE
	/* a task leaving for good (TASK_DEAD) never comes back */
	int dead = !ctx->args[0] && ((u32)ctx->args[3] & 0x80);
#else
	int dead = 0;
#endif
	if ((u32)id && !dead && bl_wanted()) {
		struct start_t s = { .ts = now };

		s.key.pid = id >> 32;
		s.key.tid = (u32)id;
#ifdef SWITCH_HAS_STATE
		s.key.state = ctx->args[0] ? OFFCPU_PREEMPTED : (u32)ctx->args[3];
#else
		s.key.state = ctx->args[0] ? OFFCPU_PREEMPTED : OFFCPU_UNKNOWN;
#endif
		s.key.user_stack = -1;
		s.key.kernel_stack = -1;
#ifndef KERNEL_ONLY
		s.key.user_stack = stacks.get_stackid(ctx, BPF_F_USER_STACK);
#endif
#ifndef USER_ONLY
		s.key.kernel_stack = stacks.get_stackid(ctx, 0);
#endif
		bpf_get_current_comm(&s.key.comm, sizeof(s.key.comm));
		start.update(&prev, &s);
	}
	struct start_t *s = start.lookup(&next);
	if (!s)
		return 0;
	u64 delta = now - s->ts;
	struct key_t key = s->key;

	start.delete(&next);
	struct limits_t *lim = limits.lookup(&zero);
	if (!lim || delta < lim->min_ns || (lim->max_ns && delta > lim->max_ns))
		return 0;
	struct val_t *v = counts.lookup(&key);
	if (!v) {
		struct val_t z = {};

		counts.update(&key, &z);
		v = counts.lookup(&key);
		if (!v)
			return 0;
	}
	__sync_fetch_and_add(&v->count, 1);
	__sync_fetch_and_add(&v->ns, delta);
	return 0;
}
