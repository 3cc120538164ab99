/* TCP connects (with their latency) and accepts, from
 * sock:inet_sock_set_state alone: a connect goes SYN_SENT -> ESTABLISHED
 * in the connecting process; an accept is a passive socket reaching
 * ESTABLISHED in softirq context, so it is reported at its first send or
 * receive, where the accepting process is known (or at close, if none). */
#define IPPROTO_TCP 6

#include "config.h"
#include "endpoints.h"
#include "tcp_states.h"

struct event {
	u64 latency_ns;
	u32 pid;
	u8 accept;   /* 0 connect, 1 accept */
	u8 failed;   /* a connect that never got established */
	u16 pad;
	BL_ENDPOINT_FIELDS
	char comm[16];
};

BPF_HASH(connecting, u64, struct event, 65536);
BPF_HASH(accepted, u64, struct event, 65536);
BPF_HASH(started, u64, u64, 65536);
BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 256);
#else
BPF_PERF_OUTPUT(events);
#endif

#include "submit.h"

static __always_inline void emit(void *ctx, struct event *e)
{
	if (bl_pid_wanted(e->pid))
		bl_submit(ctx, e);
}

TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	u64 sk = (u64)args->skaddr;
	u64 now = bpf_ktime_get_ns();

	if (args->protocol != IPPROTO_TCP)
		return 0;
	if (args->newstate == TCP_SYN_SENT) {
		started.update(&sk, &now);
		return 0;
	}
	struct event e = {};
	BL_ENDPOINTS(&e, args);
	if (args->oldstate == TCP_SYN_SENT) {
		u64 *t0 = started.lookup(&sk);

		if (!t0)
			return 0;
		e.latency_ns = now - *t0;
		started.delete(&sk);
		e.failed = args->newstate != TCP_ESTABLISHED;
		/* the connecting process, when the handshake completes in its
		 * own context; softirq completions are owned at the first send */
		e.pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(&e.comm, sizeof(e.comm));
		if (e.failed || e.pid) {
			emit(args, &e);
			return 0;
		}
		connecting.update(&sk, &e);
		return 0;
	}
	if (args->oldstate == TCP_SYN_RECV && args->newstate == TCP_ESTABLISHED) {
		e.accept = 1;
		e.latency_ns = now; /* kept as the accept time */
		accepted.update(&sk, &e);
		return 0;
	}
	if (args->newstate == TCP_CLOSE) {
		struct event *p = accepted.lookup(&sk);

		if (p) {
			struct event a = *p;

			a.latency_ns = 0;
			emit(args, &a);
			accepted.delete(&sk);
		}
		connecting.delete(&sk);
		started.delete(&sk);
	}
	return 0;
}

static __always_inline int owned(void *ctx, u64 sk)
{
	struct event *p = accepted.lookup(&sk);

	if (!p)
		p = connecting.lookup(&sk);
	if (!p)
		return 0;
	struct event e = *p;
	e.pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(&e.comm, sizeof(e.comm));
	if (e.accept)
		e.latency_ns = 0;
	emit(ctx, &e);
	accepted.delete(&sk);
	connecting.delete(&sk);
	return 0;
}

TRACEPOINT_PROBE(sock, sock_send_length)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	return owned(args, (u64)args->sk);
}

TRACEPOINT_PROBE(sock, sock_recv_length)
{
	if (args->protocol != IPPROTO_TCP)
		return 0;
	return owned(args, (u64)args->sk);
}
