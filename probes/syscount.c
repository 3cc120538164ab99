/* Syscall counts, errors and latency.
 *
 *   -DBY_PROCESS     key by process (tgid) instead of syscall number
 *   -DERRORS         count failed calls by (key, errno) at sys_exit
 *   -DLATENCY        total time per key; with -DHIST a log2 histogram (usecs)
 *   -DFILTER_NR=N -DFILTER_COMM="name"
 *
 * Pids to keep or leave out come at run time (config.h), so one compiled
 * program serves every run from the cache.
 *
 * Per-syscall counts, latencies and histograms are per-CPU arrays: no
 * hashing, no locks, no string keys on the hot path; user space sums the
 * CPUs when it reads. Per-process counts and errors are hashes with atomic
 * adds (libbcc's increment does not insert into per-CPU hashes). Calls are counted at
 * sys_enter, so exit() and execve() that never return are counted too. */
#define MAX_SYSCALLS 1024

#include "config.h"
#include "syscount.h"

struct err_key {
	u32 key;
	u32 err;
};


struct comm_t {
	char comm[16];
};

struct lat {
	u64 count;
	u64 ns;
};

#ifdef BY_PROCESS
BPF_HASH(counts, u32, u64, 10240);
BPF_HASH(comms, u32, struct comm_t, 10240);
#else
BPF_PERCPU_ARRAY(counts, u64, MAX_SYSCALLS);
#endif
#ifdef ERRORS
BPF_HASH(errors, struct err_key, u64, 10240);
#endif
#ifdef LATENCY
BPF_TABLE("lru_hash", u32, u64, start, 65536);
#ifdef BY_PROCESS
BPF_HASH(latency, u32, struct lat, 10240);
#else
BPF_PERCPU_ARRAY(latency, struct lat, MAX_SYSCALLS);
#endif
#ifdef HIST
BPF_PERCPU_ARRAY(hist, u64, MAX_SYSCALLS * HIST_SLOTS);
#endif
#endif

static __always_inline int wanted(u32 tgid, u32 nr)
{
	/* the tracer's own reads of the maps are not the host's syscalls */
	if (!bl_wanted())
		return 0;
#ifdef FILTER_NR
	if (nr != FILTER_NR)
		return 0;
#endif
#ifdef FILTER_COMM
	{
		char want[] = FILTER_COMM;
		char comm[16] = {};

		bpf_get_current_comm(&comm, sizeof(comm));
#pragma unroll
		for (int i = 0; i < sizeof(want) && i < 16; i++)
			if (comm[i] != want[i])
				return 0;
	}
#endif
	return 1;
}

/* the key a wanted call counts under (its process or its number); 0 for a
 * call the filters leave out */
static __always_inline int key_for(u32 nr, u32 *key)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;

	if (!wanted(tgid, nr))
		return 0;
#ifdef BY_PROCESS
	*key = tgid;
#else
	*key = nr;
#endif
	return 1;
}

TRACEPOINT_PROBE(raw_syscalls, sys_enter)
{
	u32 key;

	if (!key_for(args->id, &key))
		return 0;
#ifdef BY_PROCESS
	u64 zero = 0, *n = counts.lookup_or_try_init(&key, &zero);

	if (n)
		__sync_fetch_and_add(n, 1); /* a process's threads on two CPUs */
#else
	counts.increment(key); /* this CPU's own slot */
#endif
#ifdef BY_PROCESS
	if (!comms.lookup(&key)) {
		struct comm_t c = {};

		bpf_get_current_comm(&c.comm, sizeof(c.comm));
		comms.update(&key, &c);
	}
#endif
#ifdef LATENCY
	u32 tid = bpf_get_current_pid_tgid();
	u64 ts = bpf_ktime_get_ns();

	start.update(&tid, &ts);
#endif
	return 0;
}

#ifdef BY_PROCESS
/* a process's name is the one it has after exec, not its parent's */
TRACEPOINT_PROBE(sched, sched_process_exec)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct comm_t c = {};

	if (!comms.lookup(&tgid))
		return 0;
	bpf_get_current_comm(&c.comm, sizeof(c.comm));
	comms.update(&tgid, &c);
	return 0;
}
#endif

#if defined(ERRORS) || defined(LATENCY)
TRACEPOINT_PROBE(raw_syscalls, sys_exit)
{
	u32 key;

	if (!key_for(args->id, &key))
		return 0;
#ifdef ERRORS
	long ret = args->ret;

	if (ret < 0) {
		struct err_key ek = { .key = key, .err = (u32)-ret };

		u64 zero = 0, *n = errors.lookup_or_try_init(&ek, &zero);

		if (n)
			__sync_fetch_and_add(n, 1); /* threads of a process on two CPUs */
	}
#endif
#ifdef LATENCY
	u32 tid = bpf_get_current_pid_tgid();
	u64 *tsp = start.lookup(&tid);

	if (!tsp)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *tsp;

	start.delete(&tid);
	/* try_init: a plain update could zero what another CPU just added */
	struct lat lzero = {}, *l = latency.lookup_or_try_init(&key, &lzero);

	if (!l)
		return 0;
	__sync_fetch_and_add(&l->count, 1);
	__sync_fetch_and_add(&l->ns, delta);
#ifdef HIST
	u32 slot = bpf_log2l(delta / 1000);

	if (slot >= HIST_SLOTS)
		slot = HIST_SLOTS - 1;
	hist.increment(key * HIST_SLOTS + slot);
#endif
#endif
	return 0;
}
#endif
