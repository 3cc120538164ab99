/* Run-queue latency: the time from a task becoming runnable (woken, new,
 * or preempted while still runnable) to its running on a CPU, as a log2
 * histogram, for the host, per process (-DBY_PROCESS) or per thread
 * (-DBY_THREAD); in microseconds, or milliseconds with -DMSECS.
 *
 * Raw tracepoints, not tracefs ones: a tracefs tracepoint's program is
 * skipped whenever another BPF program (any tracer's) runs on that CPU, as
 * when a timer's wakeup interrupts it; a raw tracepoint's only when the
 * same program is. Their arguments are task_struct pointers, whose layout
 * this host may not know (no BTF, headers of another kernel), so tasks are
 * known by address: a task's thread and process ids and name are learned
 * when it leaves a CPU (sched_switch runs in the leaving task's context).
 * A latency of a task not known yet (a new one, or one that has not left a
 * CPU since the trace began) waits for that.
 *
 * The filter is the woken task's, not the current one's: config.h's
 * bl_pid_wanted(), not bl_wanted().
 *
 *   -DSWITCH_HAS_STATE  sched_switch passes prev_state (Linux 5.18+) */
#include "config.h"

struct hkey {
	u32 id;   /* 0, a process or a thread id */
	u32 slot; /* log2 bucket */
};

struct who {
	u32 tid;
	u32 tgid;
	char comm[16];
};

BPF_TABLE("lru_hash", u64, u64, start, 65536);
BPF_TABLE("lru_hash", u64, u64, pending, 65536);
BPF_TABLE("lru_hash", u64, struct who, tasks, 65536);
BPF_HASH(hist, struct hkey, u64, 65536);
#if defined(BY_PROCESS) || defined(BY_THREAD)
BPF_HASH(comms, u32, struct who, 10240);
#endif

static __always_inline void account(struct who *w, u64 delta)
{
	struct hkey key = {};

	if (!bl_pid_wanted(w->tgid))
		return;
#ifdef BY_PROCESS
	key.id = w->tgid;
#elif defined(BY_THREAD)
	key.id = w->tid;
#endif
#ifdef MSECS
	key.slot = bpf_log2l(delta / 1000000);
#else
	key.slot = bpf_log2l(delta / 1000);
#endif
	u64 zero = 0, *n = hist.lookup_or_try_init(&key, &zero);

	if (n)
		__sync_fetch_and_add(n, 1); /* a shared map: every CPU adds here */
#if defined(BY_PROCESS) || defined(BY_THREAD)
	comms.update(&key.id, w);
#endif
}

/* sched_wakeup(struct task_struct *p) */
RAW_TRACEPOINT_PROBE(sched_wakeup)
{
	u64 task = ctx->args[0], now = bpf_ktime_get_ns();

	start.update(&task, &now);
	return 0;
}

/* a new task: whatever had its address before is gone */
RAW_TRACEPOINT_PROBE(sched_wakeup_new)
{
	u64 task = ctx->args[0], now = bpf_ktime_get_ns();

	tasks.delete(&task);
	start.update(&task, &now);
	return 0;
}

/* sched_switch(bool preempt, struct task_struct *prev, struct task_struct
 * *next[, unsigned int prev_state]); prev is the current task */
RAW_TRACEPOINT_PROBE(sched_switch)
{
	u64 now = bpf_ktime_get_ns(), id = bpf_get_current_pid_tgid();
	u64 prev = ctx->args[1], next = ctx->args[2];

	if ((u32)id) {
		struct who w = { .tid = (u32)id, .tgid = id >> 32 };

		bpf_get_current_comm(&w.comm, sizeof(w.comm));
		tasks.update(&prev, &w);
		u64 *d = pending.lookup(&prev);
		if (d) {
			u64 delta = *d;

			pending.delete(&prev);
			account(&w, delta);
		}
		/* preempted, or yielding without a sleep state: back on the
		 * run queue at once */
#ifdef SWITCH_HAS_STATE
		if (ctx->args[0] || (u32)ctx->args[3] == 0)
#else
		if (ctx->args[0])
#endif
			start.update(&prev, &now);
	}
	u64 *ts = start.lookup(&next);
	if (!ts)
		return 0;
	u64 delta = now - *ts;

	start.delete(&next);
	struct who *w = tasks.lookup(&next);
	if (w)
		account(w, delta);
	else
		pending.update(&next, &delta);
	return 0;
}
