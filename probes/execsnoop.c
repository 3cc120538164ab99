/* Program executions: execve and execveat, with the process's parent and
 * its arguments, reported when the call returns (so with its result).
 *
 * The arguments are read at sys_enter (after a successful exec the old
 * memory is gone) into an event kept per process until sys_exit: the
 * file name, then argv[1..], at most MAXARG strings of at most ARGSIZE
 * bytes each, as BCC's execsnoop reads them.
 *
 * The parent comes from sched:sched_process_fork (config.h's fork hooks,
 * -DBL_PARENTS), not from task_struct:
 * without BTF or the running kernel's headers a struct's layout is not
 * known, but a tracepoint's fields are (tracefs describes them). A process
 * forked before the trace began has no entry; user space asks /proc.
 *
 *   -DMAXARG=N   strings kept per exec (default 20) */
#include "config.h"
#include "execsnoop.h"

#ifndef MAXARG
#define MAXARG EXECSNOOP_MAXARG
#endif

struct event {
	u32 pid;
	u32 ppid;   /* 0: unknown here */
	s32 retval;
	u32 argc;   /* strings in args */
	u32 more;   /* argv went on past MAXARG */
	u32 pad;
	char comm[16];
	char args[MAXARG][EXECSNOOP_ARGSIZE];
};

BPF_PERCPU_ARRAY(scratch, struct event, 1);
BPF_HASH(execs, u32, struct event, 1024);
BPF_PERCPU_ARRAY(events_lost, u64, 1);
#ifdef BL_RINGBUF
BPF_RINGBUF_OUTPUT(events, 1024); /* 4 MB: some 1500 execs of 2.7 KB */
#else
BPF_PERF_OUTPUT(events);
#endif

#include "submit.h"

static __always_inline int enter(const char *filename, const char *const *argv)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	int zero = 0;

	if (!bl_wanted())
		return 0;
	struct event *e = scratch.lookup(&zero);
	if (!e)
		return 0;
	u32 *ppid = bl_parents.lookup(&tgid);

	e->pid = tgid;
	e->ppid = ppid ? *ppid : 0;
	e->retval = 0;
	e->more = 0;
	e->argc = 1;
	bpf_probe_read_user_str(e->args[0], EXECSNOOP_ARGSIZE, filename);
#pragma unroll
	for (int i = 1; i < MAXARG; i++) {
		const char *p = 0;

		if (bpf_probe_read_user(&p, sizeof(p), (void *)&argv[i]) || !p)
			goto done;
		bpf_probe_read_user_str(e->args[i], EXECSNOOP_ARGSIZE, p);
		e->argc = i + 1;
	}
	{
		const char *p = 0;

		bpf_probe_read_user(&p, sizeof(p), (void *)&argv[MAXARG]);
		e->more = p != 0;
	}
done:
	execs.update(&tgid, e);
	return 0;
}

static __always_inline int leave(void *ctx, long ret)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct event *e = execs.lookup(&tgid);

	if (!e)
		return 0;
	e->retval = ret;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	bl_submit(ctx, e);
	execs.delete(&tgid);
	return 0;
}

TRACEPOINT_PROBE(syscalls, sys_enter_execve)
{
	return enter((const char *)args->filename, (const char *const *)args->argv);
}

TRACEPOINT_PROBE(syscalls, sys_exit_execve)
{
	return leave(args, args->ret);
}

TRACEPOINT_PROBE(syscalls, sys_enter_execveat)
{
	return enter((const char *)args->filename, (const char *const *)args->argv);
}

TRACEPOINT_PROBE(syscalls, sys_exit_execveat)
{
	return leave(args, args->ret);
}
