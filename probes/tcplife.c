/* TCP sessions from open to close, from the sock:inet_sock_set_state
 * tracepoint (addresses, ports and states as the kernel hands them over)
 * and the bytes each send and receive moved, per socket (probes/sock_io.h:
 * the sock_*_length tracepoints, or kprobes on tcp_sendmsg/tcp_recvmsg
 * where a kernel lacks them). No kernel struct is read, so a mismatched
 * header tree or a host without BTF changes nothing. */
#define IPPROTO_TCP 6

#include "config.h"
#include "endpoints.h"
#include "tcp_states.h"

struct session {
	u64 start_ns;
	u64 tx, rx;
	u32 pid;
	char comm[16];
};

struct event {
	u64 duration_ns;
	u64 tx, rx;
	u32 pid;
	u32 pad;
	BL_ENDPOINT_FIELDS
	char comm[16];
};

BPF_HASH(sessions, u64, struct session, 65536);
BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
#ifndef BL_RB_PAGES /* a power of 2; the agent sets fewer (bpflua/events.lua) */
#define BL_RB_PAGES 1024
#endif
BPF_RINGBUF_OUTPUT(events, BL_RB_PAGES);
#else
BPF_PERF_OUTPUT(events);
#endif
#include "submit.h"

/* a socket seen for the first time in process context gets its owner */
static __always_inline void own(struct session *s)
{
	if (s->pid)
		return;
	s->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&s->comm, sizeof(s->comm));
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	u64 sk = (u64)args->skaddr;

	if (args->protocol != IPPROTO_TCP)
		return 0;
	if (args->newstate == TCP_SYN_SENT || (args->newstate == TCP_ESTABLISHED && !sessions.lookup(&sk))) {
		struct session s = { .start_ns = bpf_ktime_get_ns() };

		/* connect() runs in the process; a passive open completes in
		 * softirq context, so its owner is set at its first send or receive */
		if (args->newstate == TCP_SYN_SENT)
			own(&s);
		sessions.update(&sk, &s);
		return 0;
	}
	if (args->newstate != TCP_CLOSE)
		return 0;
	struct session *s = sessions.lookup(&sk);
	if (!s)
		return 0;
	struct event e = {};
	e.duration_ns = bpf_ktime_get_ns() - s->start_ns;
	e.tx = s->tx;
	e.rx = s->rx;
	e.pid = s->pid;
	__builtin_memcpy(&e.comm, s->comm, sizeof(e.comm));
	BL_ENDPOINTS(&e, args);
	sessions.delete(&sk);
	if (bl_pid_wanted(e.pid))
		bl_submit(args, &e);
	return 0;
}

/* the bytes a send or receive on a traced TCP socket moved */
static __always_inline int bl_sock_io(void *ctx, u64 sk, int protocol, long ret, int rx)
{
	struct session *s;

	if (protocol != IPPROTO_TCP || ret <= 0 || !(s = sessions.lookup(&sk)))
		return 0;
	own(s);
	__sync_fetch_and_add(rx ? &s->rx : &s->tx, ret);
	return 0;
}

#include "sock_io.h"
