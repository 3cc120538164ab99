/* OOM kills, one event each, from oom:mark_victim: it runs in the context
 * of the task whose allocation set the OOM killer off (the trigger), and
 * names the victim. Since Linux 6.8 the tracepoint also carries the
 * victim's name and memory (-DHAVE_COMM, -DHAVE_RSS; in kB); before, user
 * space asks /proc while the victim is still dying. */
#include "config.h"

struct event {
	u32 trigger_pid;
	u32 victim_pid;
	u64 total_vm_kb;
	u64 anon_rss_kb;
	u64 file_rss_kb;
	u64 shmem_rss_kb;
	char trigger_comm[16];
	char victim_comm[16];
};

BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 16);
#else
BPF_PERF_OUTPUT(events);
#endif

#include "submit.h"

TRACEPOINT_PROBE(oom, mark_victim)
{
	struct config *cf = bl_config();
	struct event e = {};

	if (!cf)
		return 0;
	e.trigger_pid = bpf_get_current_pid_tgid() >> 32;
	e.victim_pid = args->pid;
	if (!bl_pid_wanted(e.trigger_pid) && !bl_pid_wanted(e.victim_pid))
		return 0;
	bpf_get_current_comm(&e.trigger_comm, sizeof(e.trigger_comm));
#ifdef HAVE_COMM
	{
		unsigned short off = args->data_loc_comm & 0xFFFF;

		bpf_probe_read_kernel_str(&e.victim_comm, sizeof(e.victim_comm), (char *)args + off);
	}
#endif
#ifdef HAVE_RSS
	e.total_vm_kb = args->total_vm;
	e.anon_rss_kb = args->anon_rss;
	e.file_rss_kb = args->file_rss;
	e.shmem_rss_kb = args->shmem_rss;
#endif
	bl_submit(args, &e);
	return 0;
}
