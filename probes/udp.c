/* UDP datagrams and bytes per process, direction and remote endpoint.
 * The bytes come from probes/sock_io.h (the sock_*_length tracepoints, or
 * kprobes on udp_sendmsg/udpv6_sendmsg/udp_recvmsg/udpv6_recvmsg);
 * the remote endpoint from the syscall's own arguments (sendto's address,
 * sendmsg's msg_name; for receives, read at syscall exit once the kernel
 * has filled it in): user memory in its stable ABI layout, no kernel
 * structs. A connected socket used with send()/write() has no address in
 * the call and is counted with the remote left blank. */
#define IPPROTO_UDP 17
#define AF_INET 2
#define AF_INET6 10

#include "config.h"

enum { SENDTO = 1, SENDMSG, RECVFROM, RECVMSG };

struct pending {
	u64 addr_ptr;
	u64 msg_ptr;
	u64 bytes;
	u32 kind;
	u32 pad;
};

struct key_t {
	u32 pid;
	u16 dir; /* 0 send, 1 receive */
	u16 family;
	u16 port;
	u16 pad[3];
	u8 addr[16];
	char comm[16];
};

struct val_t {
	u64 datagrams;
	u64 bytes;
};

BPF_HASH(pending, u32, struct pending, 10240);
BPF_HASH(stats, struct key_t, struct val_t, 10240);

static __always_inline void peer(struct key_t *k, struct pending *p)
{
	u64 sa = p->addr_ptr;
	u16 family = 0, port = 0;

	if (p->msg_ptr) /* struct user_msghdr: msg_name comes first */
		bpf_probe_read_user(&sa, sizeof(sa), (void *)p->msg_ptr);
	if (!sa)
		return;
	bpf_probe_read_user(&family, sizeof(family), (void *)sa);
	bpf_probe_read_user(&port, sizeof(port), (void *)(sa + 2));
	if (family == AF_INET)
		bpf_probe_read_user(&k->addr, 4, (void *)(sa + 4));
	else if (family == AF_INET6)
		bpf_probe_read_user(&k->addr, 16, (void *)(sa + 8));
	else
		return;
	k->family = family;
	k->port = __builtin_bswap16(port);
}

static __always_inline void count(struct pending *p, u16 dir, u64 bytes)
{
	struct key_t k = {};

	k.pid = bpf_get_current_pid_tgid() >> 32;
	k.dir = dir;
	bpf_get_current_comm(&k.comm, sizeof(k.comm));
	if (p)
		peer(&k, p);
	struct val_t zero = {};
	struct val_t *v = stats.lookup_or_try_init(&k, &zero);
	if (v) {
		__sync_fetch_and_add(&v->datagrams, 1);
		__sync_fetch_and_add(&v->bytes, bytes);
	}
}

static __always_inline int remember(u32 kind, u64 addr_ptr, u64 msg_ptr)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct pending p = { .addr_ptr = addr_ptr, .msg_ptr = msg_ptr, .kind = kind };

	if (bl_wanted())
		pending.update(&tid, &p);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_sendto) { return remember(SENDTO, (u64)args->addr, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_sendmsg) { return remember(SENDMSG, 0, (u64)args->msg); }
TRACEPOINT_PROBE(syscalls, sys_enter_recvfrom) { return remember(RECVFROM, (u64)args->addr, 0); }
TRACEPOINT_PROBE(syscalls, sys_enter_recvmsg) { return remember(RECVMSG, 0, (u64)args->msg); }

static __always_inline int done(void)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct pending *p = pending.lookup(&tid);

	if (!p)
		return 0;
	/* a receive is counted now: the kernel has written the sender's address */
	if (p->bytes && (p->kind == RECVFROM || p->kind == RECVMSG))
		count(p, 1, p->bytes);
	pending.delete(&tid);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_exit_sendto) { return done(); }
TRACEPOINT_PROBE(syscalls, sys_exit_sendmsg) { return done(); }
TRACEPOINT_PROBE(syscalls, sys_exit_recvfrom) { return done(); }
TRACEPOINT_PROBE(syscalls, sys_exit_recvmsg) { return done(); }

static __always_inline int bl_sock_io(void *ctx, u64 sk, int protocol, long ret, int rx)
{
	u32 tid = bpf_get_current_pid_tgid();

	if (protocol != IPPROTO_UDP || ret <= 0 || !bl_wanted())
		return 0;
	struct pending *p = pending.lookup(&tid);
	if (!rx) {
		if (p && p->kind != SENDTO && p->kind != SENDMSG)
			p = 0;
		count(p, 0, ret);
		return 0;
	}
	if (p && (p->kind == RECVFROM || p->kind == RECVMSG)) {
		p->bytes = ret;
		return 0;
	}
	count(0, 1, ret);
	return 0;
}

#include "sock_io.h"
