/* File opens (open, openat, openat2), reported when the call returns: the
 * path as the process passed it, the flags, and the descriptor or the
 * error. The path is read at sys_enter, kept per thread until sys_exit. */
#include "config.h"
#include "opensnoop.h"

struct event {
	u32 pid;
	u32 tid;
	s32 ret;
	u32 pad;
	u64 flags;
	char comm[16];
	char path[OPENSNOOP_PATHSIZE];
};

BPF_PERCPU_ARRAY(scratch, struct event, 1);
BPF_HASH(opening, u32, struct event, 4096);
BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 512); /* 2 MB: some 6000 opens */
#else
BPF_PERF_OUTPUT(events);
#endif

#include "submit.h"

static __always_inline int enter(const char *path, u64 flags)
{
	u64 id = bpf_get_current_pid_tgid();
	u32 tid = id;
	int zero = 0;

	if (!bl_wanted())
		return 0;
	struct event *e = scratch.lookup(&zero);
	if (!e)
		return 0;
	e->pid = id >> 32;
	e->tid = tid;
	e->flags = flags;
	bpf_probe_read_user_str(e->path, sizeof(e->path), path);
	opening.update(&tid, e);
	return 0;
}

static __always_inline int leave(void *ctx, long ret)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct event *e = opening.lookup(&tid);

	if (!e)
		return 0;
	e->ret = ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bl_submit(ctx, e);
	opening.delete(&tid);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_openat)
{
	return enter((const char *)args->filename, args->flags);
}

TRACEPOINT_PROBE(syscalls, sys_exit_openat)
{
	return leave(args, args->ret);
}

#ifdef HAVE_OPEN
TRACEPOINT_PROBE(syscalls, sys_enter_open)
{
	return enter((const char *)args->filename, args->flags);
}

TRACEPOINT_PROBE(syscalls, sys_exit_open)
{
	return leave(args, args->ret);
}
#endif

#ifdef HAVE_OPENAT2
/* the flags are the first field of the caller's struct open_how */
TRACEPOINT_PROBE(syscalls, sys_enter_openat2)
{
	u64 flags = 0;

	bpf_probe_read_user(&flags, sizeof(flags), (void *)args->how);
	return enter((const char *)args->filename, flags);
}

TRACEPOINT_PROBE(syscalls, sys_exit_openat2)
{
	return leave(args, args->ret);
}
#endif
