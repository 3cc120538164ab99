/* The command a tracer runs with -c: started stopped at a gate, so the
 * probes (filtered on its pid) are attached before it makes its first
 * call; killed and reaped if the tracer fails, so nothing is left behind. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lbpflua.h"

#define CHILD_MT "bpflua.Child"

struct lchild {
	pid_t pid;
	int gate;   /* write end: one byte lets the child exec */
	int errfd;  /* read end: the exec's errno, or EOF when exec worked */
	int done;
	int status;
};

/* BPF.spawn({ "prog", "arg", ... } [, PATH]) -> child, stopped before exec;
 * PATH, the program already found, spares the traced command execvp's
 * failed execve calls along $PATH */
static int l_spawn(lua_State *L)
{
	int gate[2], err[2];
	size_t n;
	char **argv;
	struct lchild *c;
	const char *file = luaL_optstring(L, 2, NULL);

	luaL_checktype(L, 1, LUA_TTABLE);
	n = lua_rawlen(L, 1);
	if (!n)
		return luaL_error(L, "spawn: empty command");
	argv = lua_newuserdatauv(L, (n + 1) * sizeof(*argv), 0);
	for (size_t i = 0; i < n; i++) {
		lua_rawgeti(L, 1, (lua_Integer)i + 1);
		argv[i] = (char *)luaL_checkstring(L, -1);
		lua_pop(L, 1); /* the strings stay alive in the argument table */
	}
	argv[n] = NULL;
	c = lua_newuserdatauv(L, sizeof(*c), 0);
	memset(c, 0, sizeof(*c));
	c->gate = c->errfd = -1;
	c->done = 1;
	luaL_setmetatable(L, CHILD_MT);
	if (pipe2(gate, O_CLOEXEC))
		return luaL_error(L, "spawn: pipe: %s", strerror(errno));
	if (pipe2(err, O_CLOEXEC)) {
		close(gate[0]);
		close(gate[1]);
		return luaL_error(L, "spawn: pipe: %s", strerror(errno));
	}
	pid_t parent = getpid();

	c->pid = fork();
	if (c->pid < 0) {
		int e = errno;

		close(gate[0]); close(gate[1]); close(err[0]); close(err[1]);
		return luaL_error(L, "spawn: fork: %s", strerror(e));
	}
	if (c->pid == 0) {
		char b;
		sigset_t none;
		int e;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* if bpflua dies, even by SIGKILL, the command goes too: a
		 * traced command must never run on untraced under init. The
		 * signal survives exec; checking the parent closes the race
		 * with a tracer that died before prctl. */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
			_exit(127);
		close(gate[1]);
		close(err[0]);
		/* set up: from here the command makes no call but the gate's
		 * read before its exec, so the tracer (attaching meanwhile)
		 * counts only what the command itself does */
		if (write(err[1], "r", 1) != 1 || read(gate[0], &b, 1) != 1)
			_exit(127); /* the tracer went away before starting us */
		if (file)
			execv(file, argv);
		else
			execvp(argv[0], argv);
		e = errno;
		if (write(err[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(gate[0]);
	close(err[1]);
	c->gate = gate[1];
	c->errfd = err[0];
	c->done = 0;
	{
		char ready;
		ssize_t n;

		do /* the child has set itself up (or died: then EOF) */
			n = read(c->errfd, &ready, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1) { /* no gate to open: writing it would raise SIGPIPE */
			waitpid(c->pid, &c->status, 0);
			c->done = 1;
			close(c->gate);
			close(c->errfd);
			c->gate = c->errfd = -1;
			return bl_lua_raise(L, "failed", "cannot start the command: its process ended before exec");
		}
	}
	return 1;
}

static struct lchild *check_child(lua_State *L)
{
	return luaL_checkudata(L, 1, CHILD_MT);
}

/* child:start(): lets it exec; raises if the command cannot be run */
static int c_start(lua_State *L)
{
	struct lchild *c = check_child(L);
	int e = 0;
	ssize_t n;

	if (c->gate < 0)
		return luaL_error(L, "the command was already started");
	if (write(c->gate, "x", 1) != 1)
		return luaL_error(L, "cannot start the command: %s", strerror(errno));
	close(c->gate);
	c->gate = -1;
	do
		n = read(c->errfd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(c->errfd);
	c->errfd = -1;
	if (n == sizeof(e)) {
		waitpid(c->pid, &c->status, 0);
		c->done = 1;
		return bl_lua_raise(L, "failed", "cannot run the command: %s", strerror(e));
	}
	return 0;
}

/* child:wait(block) -> exited, exit_code (128+N for signal N) */
static int c_wait(lua_State *L)
{
	struct lchild *c = check_child(L);
	int block = lua_toboolean(L, 2);

	if (!c->done) {
		pid_t r;

		do
			r = waitpid(c->pid, &c->status, block ? 0 : WNOHANG);
		while (r < 0 && errno == EINTR && block);
		if (r == c->pid)
			c->done = 1;
	}
	lua_pushboolean(L, c->done);
	if (!c->done)
		return 1;
	lua_pushinteger(L, WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status));
	return 2;
}

static int c_pid(lua_State *L)
{
	lua_pushinteger(L, check_child(L)->pid);
	return 1;
}

/* Unstarted or still running when the tracer ends on an error: kill it. */
static int c_gc(lua_State *L)
{
	struct lchild *c = check_child(L);

	if (c->gate >= 0)
		close(c->gate); /* an unstarted child exits on EOF */
	if (c->errfd >= 0)
		close(c->errfd);
	c->gate = c->errfd = -1;
	if (!c->done) {
		if (waitpid(c->pid, &c->status, WNOHANG) != c->pid) {
			kill(c->pid, SIGTERM);
			waitpid(c->pid, &c->status, 0);
		}
		c->done = 1;
	}
	return 0;
}

/* BPF.cgroup_id(PATH) -> the id bpf_get_current_cgroup_id() gives for a
 * cgroup v2 directory: its kernfs node id, which is the directory's file
 * handle (as libbpf's and bpftool's cgroup lookups read it). */
static int l_cgroup_id(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	struct {
		struct file_handle fh;
		unsigned long long id;
	} h = { .fh.handle_bytes = sizeof(h.id) };
	struct statfs fs;
	int mount_id;

	if (statfs(path, &fs))
		return luaL_error(L, "%s: %s", path, strerror(errno));
	if (fs.f_type != 0x63677270) /* CGROUP2_SUPER_MAGIC */
		return luaL_error(L, "%s is not a cgroup v2 directory", path);
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0))
		return luaL_error(L, "%s: %s", path, strerror(errno));
	if (h.fh.handle_bytes != sizeof(h.id))
		return luaL_error(L, "%s: unexpected cgroup file handle of %u bytes", path, h.fh.handle_bytes);
	lua_pushinteger(L, (lua_Integer)h.id);
	return 1;
}

void bl_lua_process_open(lua_State *L)
{
	static const luaL_Reg methods[] = {
		{ "start", c_start }, { "wait", c_wait }, { "pid", c_pid }, { "kill", c_gc }, { NULL, NULL },
	};
	static const luaL_Reg funcs[] = {
		{ "spawn", l_spawn }, { "cgroup_id", l_cgroup_id }, { NULL, NULL },
	};

	static const luaL_Reg meta[] = { { "__gc", c_gc }, { "__close", c_gc }, { NULL, NULL } };

	bl_lua_class(L, CHILD_MT, meta, methods);
	luaL_setfuncs(L, funcs, 0); /* into the module table on top */
}
