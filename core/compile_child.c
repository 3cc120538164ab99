/* Compiling in a child process: libbcc and LLVM (over 100 MB) live and die
 * in the child, so the tracer that runs for hours never carries them, and an
 * LLVM abort costs an error message, not the trace. The child sends the
 * compiled object back through a pipe, in the cache's own encoding. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compile.h"
#include "grow.h"
#include "error.h"
#include "serialize.h"

struct reply {
	int32_t err;      /* 0, or the negative errno of the failure */
	uint32_t unused;
	uint64_t len;     /* bytes that follow: the object, or the message */
};

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static void send_error(int fd, int err)
{
	const char *msg = bl_last_error();
	struct reply r = { .err = err, .len = strlen(msg) };

	if (write_all(fd, &r, sizeof(r)) == 0)
		write_all(fd, msg, r.len);
}

/* LLVM gives up on some programs with exit(1) from inside the compile
 * (report_fatal_error), its reason still in the captured output: that
 * becomes the answer, so the message reaches the user. */
static int answer_fd = -1;

static void compiler_exited(void)
{
	char *msgs = bl_compile_abandoned_output();

	if (!msgs)
		return;
	send_error(answer_fd, bl_error(-EINVAL, "BPF program failed to compile (LLVM stopped):\n%s",
				       *msgs ? msgs : "(LLVM gave no reason)\n"));
	free(msgs);
}

static void child(const struct bl_compile_opts *opts, int fd)
{
	struct bl_object *obj = NULL;
	struct reply r = { 0 };
	unsigned char *buf = NULL;
	size_t len = 0;

	answer_fd = fd;
	atexit(compiler_exited);
	r.err = bl_compile(opts, &obj);
	if (!r.err)
		r.err = bl_object_encode(obj, &buf, &len);
	if (r.err) {
		send_error(fd, r.err);
	} else {
		r.len = len;
		if (write_all(fd, &r, sizeof(r)) == 0)
			write_all(fd, buf, len);
	}
	/* _exit: no atexit handlers, no leak report for libbcc's and LLVM's
	 * process-lifetime allocations, nothing flushed twice */
	_exit(0);
}

static unsigned char *read_all(int fd, size_t *len)
{
	size_t cap = 0, n = 0;
	unsigned char *buf = NULL;

	while (!bl_grow((void **)&buf, &cap, n + 1, 1, 65536)) {
		ssize_t r = read(fd, buf + n, cap - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*len = n;
			return buf;
		}
		n += (size_t)r;
	}
	free(buf);
	return NULL;
}

int bl_compile_in_child(const struct bl_compile_opts *opts, struct bl_object **out)
{
	int p[2], status = 0, err;
	unsigned char *buf;
	size_t len = 0;
	struct reply r;
	pid_t pid;

	*out = NULL;
	if (pipe2(p, O_CLOEXEC))
		return bl_error(-errno, "cannot start the compiler: pipe: %s", strerror(errno));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		close(p[0]);
		close(p[1]);
		return bl_error(err, "cannot start the compiler: fork: %s", strerror(-err));
	}
	if (pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_IGN);
		child(opts, p[1]);
	}
	close(p[1]);
	buf = read_all(p[0], &len);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!buf)
		return bl_error(-ENOMEM, "out of memory reading the compiled program");
	if (WIFSIGNALED(status) || len < sizeof(r)) {
		free(buf);
		if (WIFSIGNALED(status))
			return bl_error(-EIO, "the BPF compiler (libbcc/LLVM) crashed with signal %d (%s); "
					      "its own message, if any, is above",
					WTERMSIG(status), strsignal(WTERMSIG(status)));
		return bl_error(-EIO, "the BPF compiler process ended without an answer (exit status %d)",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
	memcpy(&r, buf, sizeof(r));
	if (r.len != len - sizeof(r)) {
		free(buf);
		return bl_error(-EIO, "the BPF compiler process sent a truncated answer");
	}
	if (r.err) {
		err = bl_error(r.err, "%.*s", (int)r.len, (const char *)buf + sizeof(r));
		free(buf);
		return err;
	}
	err = bl_object_decode(buf + sizeof(r), r.len, out);
	free(buf);
	if (err)
		return bl_error(err, "the BPF compiler process sent an unreadable program");
	return 0;
}
