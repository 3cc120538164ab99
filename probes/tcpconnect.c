/* TCP connects (with their latency) and accepts, from
 * sock:inet_sock_set_state alone: a connect goes SYN_SENT -> ESTABLISHED
 * in the connecting process; an accept is a passive socket reaching
 * ESTABLISHED in softirq context, so it is reported at its first send or
 * receive, where the accepting process is known (or at close, if none).
 * A failed connect carries its errno: ECONNREFUSED when tcp:tcp_receive_reset
 * (-DBL_RECEIVE_RESET, 4.15+) fires for a socket still in SYN_SENT, the
 * kernel's own rule in tcp_reset; 0 (unknown) for the rest, such as
 * timeouts: sock:inet_sk_error_report has the errno but not the socket. */
#define IPPROTO_TCP 6

#include "config.h"
#include "endpoints.h"
#include "tcp_states.h"

struct event {
	u64 latency_ns;
	u32 pid;
	u8 accept;   /* 0 connect, 1 accept */
	u8 failed;   /* a connect that never got established */
	u16 err;     /* its errno, 0 if unknown */
	BL_ENDPOINT_FIELDS
	char comm[16];
};

BPF_HASH(connecting, u64, struct event, 65536);
BPF_HASH(accepted, u64, struct event, 65536);
BPF_HASH(started, u64, u64, 65536);
BPF_HASH(errs, u64, u16, 65536); /* a connecting socket's error, until it closes */
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
		u16 *err = errs.lookup(&sk);
		if (err) {
			e.err = *err;
			errs.delete(&sk);
		}
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
		errs.delete(&sk);
	}
	return 0;
}

#define ECONNREFUSED 111

#ifdef BL_RECEIVE_RESET
/* a reset for a socket still connecting: refused, as tcp_reset decides */
TRACEPOINT_PROBE(tcp, tcp_receive_reset)
{
	u64 sk = (u64)args->skaddr;
	u16 err = ECONNREFUSED;

	if (started.lookup(&sk))
		errs.update(&sk, &err);
	return 0;
}
#endif

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

/* the first send or receive on a socket (probes/sock_io.h) */
static __always_inline int bl_sock_io(void *ctx, u64 sk, int protocol, long ret, int rx)
{
	if (protocol != IPPROTO_TCP)
		return 0;
	return owned(ctx, sk);
}

#include "sock_io.h"
