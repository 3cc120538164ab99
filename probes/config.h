/* Run-time settings of a snippet, set by lua/bpflua/probe.lua once the
 * program is loaded: pids change from run to run, so they live in a map
 * rather than in -D options, and one compiled program serves every run.
 * Nothing is counted until `ready` is set, which happens last.
 *
 * Who is traced has one owner, bl_wanted() here: the tracer itself is left
 * out; with filter_pid, that process and (children) every process it starts
 * from then on, as `strace -f` follows them; with cgroup_id, the processes
 * in that cgroup v2 directory and the ones below it. */
struct config {
	u32 ready;
	u32 filter_pid;   /* 0: every process */
	u32 exclude_pid;  /* the tracer itself */
	u32 children;     /* follow the forks of wanted processes (bl_tgids) */
	u64 max_events;
	u64 cgroup_id;    /* 0: every cgroup */
	u32 cgroup_level; /* cgroup_id's depth below the cgroup2 root */
	u32 exit_cgroups; /* keep the cgroup of each traced process that exits */
};

BPF_ARRAY(config, struct config, 1);
/* Every snippet carries these maps, most runs leave them empty: the hash
 * is not preallocated, and the LRUs (which must be) hold only the recently
 * exited, so a loaded snippet costs the kernel little memory. */
/* the processes followed: filter_pid's descendants, added as they fork
 * (bl_follow_fork) and removed as they exit (bl_follow_exit) */
#ifdef BL_PREALLOC_ONLY
/* where perf_event programs (profile) may use preallocated hashes only,
 * as on 5.10 (set by lua/bpf.c from the kernel's answer): fewer entries,
 * since each costs the kernel memory from the load on */
BPF_HASH(bl_tgids, u32, u8, 8192);
#else
BPF_F_TABLE("hash", u32, u8, bl_tgids, 65536, BPF_F_NO_PREALLOC);
#endif
/* followed processes that exited: a socket of theirs may close after them
 * (bl_pid_wanted); forgotten when the pid is given out again */
BPF_TABLE("lru_hash", u32, u8, bl_exited, 8192);
/* a traced process that exited -> its cgroup id: a record written after it
 * is gone still names its container (--container) */
BPF_TABLE("lru_hash", u32, u64, bl_exit_cgroup, 8192);

static __always_inline struct config *bl_config(void)
{
	int zero = 0;
	struct config *cf = config.lookup(&zero);

	return cf && cf->ready ? cf : 0;
}

static __always_inline int bl_cgroup_wanted(struct config *cf)
{
#ifdef BL_NO_ANCESTOR_CGROUP
	/* tracing programs may not ask for it on this kernel (5.10 may not,
	 * set by lua/bpf.c from the kernel's answer): a process in that very
	 * cgroup, or one of the processes below it at the start and what they
	 * fork since (bl_tgids) */
	u32 pid = bpf_get_current_pid_tgid() >> 32;

	return !cf->cgroup_id || bpf_get_current_cgroup_id() == cf->cgroup_id || bl_tgids.lookup(&pid);
#else
	return !cf->cgroup_id || bpf_get_current_ancestor_cgroup_id(cf->cgroup_level) == cf->cgroup_id;
#endif
}

/* the pid filters alone, for a process that may not be the one running */
static __always_inline int bl_pid_passes(struct config *cf, u32 pid)
{
	if (pid == cf->exclude_pid)
		return 0;
	if (!cf->filter_pid || pid == cf->filter_pid)
		return 1;
	return cf->children && bl_tgids.lookup(&pid);
}

/* the calling process is traced */
static __always_inline int bl_wanted(void)
{
	struct config *cf = bl_config();
	u32 pid = bpf_get_current_pid_tgid() >> 32;

	return cf && bl_pid_passes(cf, pid) && bl_cgroup_wanted(cf);
}

/* process `pid` is traced, where the event is seen in another context (a
 * socket closed from softirq): its cgroup is known only while it runs, so
 * elsewhere a cgroup filter keeps the processes seen forking inside it */
static __always_inline int bl_pid_wanted(u32 pid)
{
	struct config *cf = bl_config();

	if (!cf)
		return 0;
	if (pid == bpf_get_current_pid_tgid() >> 32)
		return bl_pid_passes(cf, pid) && bl_cgroup_wanted(cf);
	if (bl_exited.lookup(&pid))
		return pid != cf->exclude_pid;
	return bl_pid_passes(cf, pid) && (!cf->cgroup_id || bl_tgids.lookup(&pid));
}

#ifdef BL_PARENTS
/* every new task's parent process, as getppid() says (execsnoop's PPID):
 * kept by the same fork and exit hooks, which a program may attach once */
BPF_TABLE("lru_hash", u32, u32, bl_parents, 65536);
#endif

/* Attached by probe.lua when children are followed (not by name, so a
 * tracer that follows nobody pays nothing on every fork). The tracepoint
 * runs in the parent; a new thread (same tgid) is added too and removed
 * as it exits, harmlessly. */
int bl_follow_fork(struct tracepoint__sched__sched_process_fork *args)
{
	struct config *cf = bl_config();
	u32 child = args->child_pid;
	u8 one = 1;

#ifdef BL_PARENTS
	u32 parent = bpf_get_current_pid_tgid() >> 32;

	bl_parents.update(&child, &parent);
#endif
	bl_exited.delete(&child);
	bl_exit_cgroup.delete(&child);
	if (cf && (cf->children || cf->cgroup_id) && bl_wanted())
		bl_tgids.update(&child, &one);
	return 0;
}

int bl_follow_exit(struct tracepoint__sched__sched_process_exit *args)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id, tgid = id >> 32;
	struct config *cf = bl_config();
	u8 one = 1;

	if (cf && cf->exit_cgroups && tid == tgid && bl_wanted()) {
		u64 cgroup = bpf_get_current_cgroup_id();

		bl_exit_cgroup.update(&tgid, &cgroup);
	}

#ifdef BL_PARENTS
	bl_parents.delete(&tid);
#endif
	if (bl_tgids.lookup(&tid)) {
		bl_exited.update(&tid, &one);
		bl_tgids.delete(&tid);
	}
	return 0;
}
