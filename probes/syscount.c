/* Syscall counts by number, optionally for one process (-DFILTER_PID=N),
 * leaving out the tracer itself (-DEXCLUDE_PID=N).
 * A per-CPU array indexed by syscall number: no hashing, no locking, no
 * string keys on the hot path; user space sums the CPUs when it reads. */
#define MAX_SYSCALLS 1024

BPF_PERCPU_ARRAY(counts, u64, MAX_SYSCALLS);

TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
#ifdef FILTER_PID
	if (tgid != FILTER_PID)
		return 0;
#endif
#ifdef EXCLUDE_PID
	/* the tracer's own reads of the map are not the host's syscalls */
	if (tgid == EXCLUDE_PID)
		return 0;
#endif
	u32 nr = args->id;
	counts.increment(nr);
	return 0;
}
