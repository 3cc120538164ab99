/* Run-time settings of a snippet, set by lua/bpflua/probe.lua once the
 * program is loaded: pids change from run to run, so they live in a map
 * rather than in -D options, and one compiled program serves every run.
 * Nothing is counted until `ready` is set, which happens last. */
struct config {
	u32 ready;
	u32 filter_pid;  /* 0: every process */
	u32 exclude_pid; /* the tracer itself */
	u32 unused;
	u64 max_events;
};

BPF_ARRAY(config, struct config, 1);

static __always_inline struct config *bl_config(void)
{
	int zero = 0;
	struct config *cf = config.lookup(&zero);

	return cf && cf->ready ? cf : 0;
}

/* the calling process passes the pid filters */
static __always_inline int bl_wanted(void)
{
	struct config *cf = bl_config();
	u32 pid = bpf_get_current_pid_tgid() >> 32;

	return cf && pid != cf->exclude_pid && (!cf->filter_pid || pid == cf->filter_pid);
}
