/* HTTP seen in socket reads and writes: the first bytes of each send and
 * receive on a TCP socket, for user space to parse; and, with -DTLS, the
 * cleartext OpenSSL's SSL_read/SSL_write hand over (uprobes, attached by
 * scripts/http.lua), the SSL object standing in for the socket. Only payloads that
 * start like HTTP/1 (a method or "HTTP/"), or belong to a connection that
 * began with the HTTP/2 preface or was reported already (a body's later
 * calls: user space finds a response's last byte in them), leave the
 * kernel; the rest is dropped here.
 *
 * Which calls are on TCP sockets comes from probes/sock_io.h (the
 * sock_*_length tracepoints, or kprobes on tcp_sendmsg/tcp_recvmsg), which
 * fire inside the syscall with the socket; the data pointer is the
 * syscall's own argument (user memory, stable ABI). */
#define IPPROTO_TCP 6
#define CAP 1024

#include <uapi/linux/ptrace.h>
#include "config.h"
#include "endpoints.h"
#include "http.h"
#include "tcp_states.h"

enum { K_WRITE = 1, K_READ, K_SENDTO, K_RECVFROM, K_SENDMSG, K_RECVMSG, K_WRITEV, K_READV };

#define MAX_IOV 40

struct pending {
	u64 ptr;  /* buffer, iovec array or msghdr */
	u64 sk;
	u64 nvec; /* writev/readv: iovec count */
	u32 fd;
	u32 kind;
	u32 on_tcp;
	u32 pad;
};

struct iov {
	u64 base;
	u64 len;
};

struct event {
	u64 ts;
	u64 sk;
	u32 pid;
	u32 fd;
	u32 len;    /* bytes the call moved */
	u32 caplen; /* of which captured in data */
	u32 dir;    /* BL_DIR_SEND, BL_DIR_RECV or BL_DIR_CLOSED (http.h) */
	u32 __pad;  /* __pad*: not decoded */
	char comm[16];
	BL_ENDPOINT_FIELDS /* family 0: connected before the trace began */
	u8 data[2 * CAP]; /* CAP captured at most; the rest keeps the verifier's bounds simple */
};

BPF_HASH(pending, u32, struct pending, 10240);
BPF_HASH(h2conns, u64, u32, 65536);
BPF_HASH(seen, u64, u32, 65536); /* sockets we reported: their close is news */
BPF_HASH(endpoints, u64, struct endpoints, 65536); /* by socket, and by SSL object */
#ifdef TLS
/* an SSL_read/SSL_write in progress; the _ex variants report the byte
 * count through a pointer */
struct ssl_call {
	u64 ssl;
	u64 buf;
	u64 count_ptr; /* SSL_*_ex: size_t *written / *readbytes */
	u32 dir;
	u32 pad;
};

BPF_HASH(ssl_calls, u32, struct ssl_call, 10240);
#endif
BPF_PERCPU_ARRAY(scratch, struct event, 1);
BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
#ifndef BL_RB_PAGES /* a power of 2; the agent sets fewer (bpflua/events.lua) */
#define BL_RB_PAGES 2048
#endif
BPF_RINGBUF_OUTPUT(events, BL_RB_PAGES);
#else
BPF_PERF_OUTPUT(events);
#endif

static __always_inline int remember(u32 kind, u32 fd, u64 ptr, u64 nvec)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct pending p = { .ptr = ptr, .fd = fd, .kind = kind, .nvec = nvec };

	if (bl_wanted())
		pending.update(&tid, &p);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_write) { return remember(K_WRITE, args->fd, (u64)args->buf, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_read) { return remember(K_READ, args->fd, (u64)args->buf, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_sendto) { return remember(K_SENDTO, args->fd, (u64)args->buff, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_recvfrom) { return remember(K_RECVFROM, args->fd, (u64)args->ubuf, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_sendmsg) { return remember(K_SENDMSG, args->fd, (u64)args->msg, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_recvmsg) { return remember(K_RECVMSG, args->fd, (u64)args->msg, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_writev) { return remember(K_WRITEV, args->fd, (u64)args->vec, args->vlen); }
TRACEPOINT_PROBE(syscalls, sys_enter_readv) { return remember(K_READV, args->fd, (u64)args->vec, args->vlen); }

static __always_inline int bl_sock_io(void *ctx, u64 sk, int protocol, long ret, int rx)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct pending *p = pending.lookup(&tid);

	if (p && protocol == IPPROTO_TCP) {
		p->on_tcp = 1;
		p->sk = sk;
	}
#ifdef TLS
	/* the socket under an SSL object: its endpoints are the object's */
	struct ssl_call *c = ssl_calls.lookup(&tid);
	struct endpoints *ep = c && protocol == IPPROTO_TCP ? endpoints.lookup(&sk) : 0;
	if (ep) {
		struct endpoints copy = *ep;

		endpoints.update(&c->ssl, &copy);
	}
#endif
	return 0;
}

#include "sock_io.h"

#include "submit.h"

/* "GET ", "POST", "PUT ", "HEAD", "DELE", "PATC", "OPTI", "HTTP", "PRI " as
 * little-endian words */
static __always_inline int http_start(u32 w)
{
	return w == 0x20544547 || w == 0x54534f50 || w == 0x20545550 || w == 0x44414548 ||
	       w == 0x454c4544 || w == 0x43544150 || w == 0x4954504f || w == 0x50545448;
}
#define H2_PREFACE 0x20495250 /* "PRI " */

/* Hides a value's known bounds from clang, so the masks below stay in the
 * program: clang drops `n & (CAP - 1)` as redundant after the min(), and a
 * 5.10 verifier, which does not narrow a register compared with another
 * register, then sees an unbounded size (libbpf's barrier_var). */
#define BL_OPAQUE(x) asm volatile("" : "+r"(x))

/* One payload of `ret` bytes on connection sk: in a plain buffer (vec 0,
 * at base) or across nvec iovecs at vec. Sent on only when it looks like
 * HTTP or belongs to an HTTP/2 connection. */
static __always_inline void payload(void *ctx, u64 sk, u32 fd, u32 dir, long ret, u64 base, u64 vec, u64 nvec)
{
	u32 first = 0, zero = 0, one = 1;
	struct iov v = { .base = base };

	if (vec)
		bpf_probe_read_user(&v, sizeof(v), (void *)vec);
	bpf_probe_read_user(&first, sizeof(first), (void *)v.base);
	if (!h2conns.lookup(&sk)) {
		if (first == H2_PREFACE)
			h2conns.update(&sk, &one);
		else if (!http_start(first) && !seen.lookup(&sk))
			return; /* on a connection already reported: a body goes on */
	}
	struct event *e = scratch.lookup(&zero);
	if (!e)
		return;
	e->ts = bpf_ktime_get_ns();
	e->sk = sk;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->fd = fd;
	e->len = ret;
	e->dir = dir;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	/* gather the call's bytes in order, across up to MAX_IOV iovecs */
	u64 off = 0, left = ret < CAP - 1 ? ret : CAP - 1;
	BL_OPAQUE(left);
	if (!vec) {
		bpf_probe_read_user(&e->data, left & (CAP - 1), (void *)v.base);
		off = left;
	} else {
#pragma unroll
		for (int i = 0; i < MAX_IOV; i++) {
			if (i >= nvec || !left)
				break;
			if (i)
				bpf_probe_read_user(&v, sizeof(v), (void *)(vec + i * sizeof(v)));
			u64 n = v.len < left ? v.len : left;
			BL_OPAQUE(n);
			BL_OPAQUE(off);
			bpf_probe_read_user(&e->data[off & (CAP - 1)], n & (CAP - 1), (void *)v.base);
			off += n;
			left -= n;
		}
	}
	e->caplen = off;
	struct endpoints *ep = endpoints.lookup(&sk);
	if (ep)
		BL_COPY_ENDPOINTS(e, ep);
	else
		e->family = 0;
	seen.update(&sk, &one);
	/* the captured bytes alone, not the whole buffer: a tenth of the ring
	 * and of the copying for a typical request (user space reads it with
	 * cut = { data = "caplen" }) */
	u64 used = off;
	BL_OPAQUE(used);
	bl_submit_len(ctx, e, __builtin_offsetof(struct event, data) + (used & (CAP - 1)));
}

static __always_inline int done(void *ctx, long ret)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct pending *p = pending.lookup(&tid);
	u64 vec = 0, nvec = 1;

	if (!p)
		return 0;
	if (p->on_tcp && ret > 0) {
		if (p->kind == K_SENDMSG || p->kind == K_RECVMSG) { /* user_msghdr: msg_iov, msg_iovlen */
			bpf_probe_read_user(&vec, sizeof(vec), (void *)(p->ptr + 16));
			bpf_probe_read_user(&nvec, sizeof(nvec), (void *)(p->ptr + 24));
		} else if (p->kind == K_WRITEV || p->kind == K_READV) {
			vec = p->ptr;
			nvec = p->nvec;
		}
		u32 dir = p->kind == K_READ || p->kind == K_RECVFROM || p->kind == K_RECVMSG || p->kind == K_READV
				  ? BL_DIR_RECV : BL_DIR_SEND;

		payload(ctx, p->sk, p->fd, dir, ret, p->ptr, vec, nvec);
	}
	pending.delete(&tid);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_write) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_read) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_sendto) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_recvfrom) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_sendmsg) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_recvmsg) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_writev) { return done(args, args->ret); }
TRACEPOINT_PROBE(syscalls, sys_exit_readv) { return done(args, args->ret); }

/* a reported connection (a socket, or an SSL object) is gone: user space
 * drops its state */
static __always_inline void closed(void *ctx, u64 key)
{
	u32 zero = 0;

	if (!seen.lookup(&key))
		return;
	seen.delete(&key);
	h2conns.delete(&key);
	struct event *e = scratch.lookup(&zero);
	if (!e)
		return;
	e->ts = bpf_ktime_get_ns();
	e->sk = key;
	e->dir = BL_DIR_CLOSED;
	e->len = e->caplen = 0;
	bl_submit_len(ctx, e, __builtin_offsetof(struct event, data));
}

#ifdef TLS
/* OpenSSL: the cleartext at SSL_write's entry and SSL_read's return. */


static __always_inline int ssl_enter(u64 ssl, u64 buf, u64 count_ptr, u32 dir)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct ssl_call c = { .ssl = ssl, .buf = buf, .count_ptr = count_ptr, .dir = dir };

	if (bl_wanted())
		ssl_calls.update(&tid, &c);
	return 0;
}

int ssl_write_enter(struct pt_regs *ctx, void *ssl, void *buf) { return ssl_enter((u64)ssl, (u64)buf, 0, BL_DIR_SEND); }
int ssl_read_enter(struct pt_regs *ctx, void *ssl, void *buf) { return ssl_enter((u64)ssl, (u64)buf, 0, BL_DIR_RECV); }
int ssl_write_ex_enter(struct pt_regs *ctx, void *ssl, void *buf, size_t num, size_t *written)
{
	return ssl_enter((u64)ssl, (u64)buf, (u64)written, BL_DIR_SEND);
}
int ssl_read_ex_enter(struct pt_regs *ctx, void *ssl, void *buf, size_t num, size_t *readbytes)
{
	return ssl_enter((u64)ssl, (u64)buf, (u64)readbytes, BL_DIR_RECV);
}

int ssl_exit(struct pt_regs *ctx)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct ssl_call *c = ssl_calls.lookup(&tid);
	long rc = (int)PT_REGS_RC(ctx);
	u64 n = 0;

	if (!c)
		return 0;
	if (c->count_ptr) {
		if (rc == 1)
			bpf_probe_read_user(&n, sizeof(n), (void *)c->count_ptr);
	} else if (rc > 0) {
		n = rc;
	}
	if (n > 0)
		payload(ctx, c->ssl, BL_TLS_FD, c->dir, n, c->buf, 0, 1);
	ssl_calls.delete(&tid);
	return 0;
}

/* an SSL object freed: like a socket closing */
int ssl_free_enter(struct pt_regs *ctx, void *ssl)
{
	u64 key = (u64)ssl;

	endpoints.delete(&key);
	closed(ctx, key);
	return 0;
}
#endif

/* endpoints as connections open; their close */
TRACEPOINT_PROBE(sock, inet_sock_set_state)
{
	u64 sk = (u64)args->skaddr;

	if (args->newstate == TCP_ESTABLISHED) {
		struct endpoints ep = {};

		BL_ENDPOINTS(&ep, args);
		endpoints.update(&sk, &ep);
		return 0;
	}
	if (args->newstate != TCP_CLOSE)
		return 0;
	endpoints.delete(&sk);
	closed(args, sk);
	return 0;
}
