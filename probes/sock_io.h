/* The bytes one send or receive on a socket moved, with the socket, from
 * whichever source lua/bpflua/net.lua chose for this kernel:
 *   - sock:sock_send_length / sock_recv_length (Linux 6.3 and later), fired by
 *     sock_sendmsg/sock_recvmsg with the protocol's return value;
 *   - else kprobes on that protocol function itself (tcp_sendmsg,
 *     tcp_recvmsg, udp_sendmsg, udpv6_sendmsg, udp_recvmsg, udpv6_recvmsg):
 *     the socket is its first argument, the bytes its return value, the same
 *     numbers the tracepoints carry, and no kernel struct is read.
 * -DBL_SEND_KPROBE / -DBL_RECV_KPROBE pick the kprobes (net.lua attaches
 * them by the bl_*_enter names below and bl_sock_exit). Include after the
 * snippet's own
 *   static __always_inline int bl_sock_io(void *ctx, u64 sk, int protocol, long ret, int rx);
 * A return with no entry seen (the trace began mid-call) counts nothing. */
#if defined(BL_SEND_KPROBE) || defined(BL_RECV_KPROBE)
#include <uapi/linux/ptrace.h>

struct bl_sock_call {
	u64 sk;
	u32 protocol;
	u32 rx;
};

BPF_HASH(bl_sock_calls, u32, struct bl_sock_call, 10240);

/* udpv6_sendmsg calls udp_sendmsg for an IPv4-mapped peer: the inner entry
 * overwrites the outer one with the same socket, the inner return counts
 * and the outer one finds nothing left, so the datagram counts once */
static __always_inline int bl_sock_enter(u64 sk, u32 protocol, u32 rx)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct bl_sock_call c = { .sk = sk, .protocol = protocol, .rx = rx };

	bl_sock_calls.update(&tid, &c);
	return 0;
}

int bl_sock_exit(struct pt_regs *ctx)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct bl_sock_call *p = bl_sock_calls.lookup(&tid);

	if (!p)
		return 0;
	struct bl_sock_call c = *p;
	bl_sock_calls.delete(&tid);
	return bl_sock_io(ctx, c.sk, c.protocol, (int)PT_REGS_RC(ctx), c.rx);
}
#endif

#ifdef BL_SEND_KPROBE
int bl_tcp_send_enter(struct pt_regs *ctx, void *sk) { return bl_sock_enter((u64)sk, 6, 0); }
int bl_udp_send_enter(struct pt_regs *ctx, void *sk) { return bl_sock_enter((u64)sk, 17, 0); }
#else
TRACEPOINT_PROBE(sock, sock_send_length) { return bl_sock_io(args, (u64)args->sk, args->protocol, args->ret, 0); }
#endif

#ifdef BL_RECV_KPROBE
int bl_tcp_recv_enter(struct pt_regs *ctx, void *sk) { return bl_sock_enter((u64)sk, 6, 1); }
int bl_udp_recv_enter(struct pt_regs *ctx, void *sk) { return bl_sock_enter((u64)sk, 17, 1); }
#else
TRACEPOINT_PROBE(sock, sock_recv_length) { return bl_sock_io(args, (u64)args->sk, args->protocol, args->ret, 1); }
#endif
