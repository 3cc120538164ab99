-- Run-queue latency: how long a task waits, runnable, before a CPU runs
-- it; from the sched tracepoints (no kprobes, no BTF). A log2 histogram of
-- nanoseconds with the exact sum, both kept in per-CPU arrays.
return {
  name = "runq_latency",
  description = "Run-queue latency (wake-up or preemption to running), a histogram in seconds",
  text = [[
#define SLOTS 64
BPF_TABLE("lru_hash", u32, u64, queued, 65536);
BPF_PERCPU_ARRAY(hist, u64, SLOTS);
BPF_PERCPU_ARRAY(total, u64, 1);

static __always_inline void enqueue(u32 pid)
{
	u64 ts = bpf_ktime_get_ns();

	if (pid)
		queued.update(&pid, &ts);
}

TRACEPOINT_PROBE(sched, sched_wakeup) { enqueue(args->pid); return 0; }
TRACEPOINT_PROBE(sched, sched_wakeup_new) { enqueue(args->pid); return 0; }

TRACEPOINT_PROBE(sched, sched_switch)
{
	u32 next = args->next_pid;
	int zero = 0;

	/* preempted while runnable: back in the queue at once */
	if (args->prev_state == 0)
		enqueue(args->prev_pid);
	u64 *ts = queued.lookup(&next);
	if (!ts)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *ts;
	queued.delete(&next);
	u32 slot = bpf_log2l(delta);
	if (slot >= SLOTS)
		slot = SLOTS - 1;
	hist.increment(slot);
	u64 *sum = total.lookup(&zero);
	if (sum)
		*sum += delta;
	return 0;
}
]],
  metrics = {
    -- bpf_log2l: slot k holds up to 2^k - 1 ns
    { type = "histogram", name = "bpflua_runq_latency_seconds", help = "Time runnable tasks waited for a CPU",
      table = "hist", sum_table = "total", unit_scale = 1e-9 },
  },
}
