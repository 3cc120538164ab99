/* TCP retransmissions, one event each, from tcp:tcp_retransmit_skb: the
 * connection's endpoints and state, and (-DHAVE_ERR, Linux 6.10+, where
 * the tracepoint also fires for attempts that failed) the attempt's
 * error. Retransmits run in the kernel's timers and softirqs, so the
 * process on the CPU is whoever happened to be there: no pid filter. */
#include "config.h"
#include "endpoints.h"

struct event {
	u32 pid;
	s32 err;
	u32 state;
	u32 pad;
	BL_ENDPOINT_FIELDS
	char comm[16];
};

BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 64);
#else
BPF_PERF_OUTPUT(events);
#endif

#include "submit.h"

TRACEPOINT_PROBE(tcp, tcp_retransmit_skb)
{
	struct event e = {};

	if (!bl_config())
		return 0;
	e.pid = bpf_get_current_pid_tgid() >> 32;
	e.state = args->state;
#ifdef HAVE_ERR
	e.err = args->err;
#endif
	BL_ENDPOINTS(&e, args);
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	bl_submit(args, &e);
	return 0;
}
