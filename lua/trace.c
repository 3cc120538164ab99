/* The kernel's trace_pipe (bpf_trace_printk output) for BCC's trace_print and
 * trace_fields, kernel symbols by name for get_syscall_fnname, and
 * tracepoint_exists. Reads are bounded by a timeout and end on Ctrl-C. */
#include <bcc/bcc_syms.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/kernel.h"
#include "lbpflua.h"

#define LINE_MAX_BYTES 65536

/* trace_pipe is one stream for the whole system: opened once, kept open
 * (a reopen would lose what the kernel had queued for the previous reader) */
static int pipe_fd = -1;
static char pending[LINE_MAX_BYTES];
static size_t npending;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Pushes the first complete line in pending (without its newline). */
static int take_line(lua_State *L)
{
	char *nl = memchr(pending, '\n', npending);
	size_t n;

	if (!nl && npending < sizeof(pending))
		return 0;
	n = nl ? (size_t)(nl - pending) : npending; /* an endless line comes in pieces */
	lua_pushlstring(L, pending, n);
	n += nl != NULL;
	memmove(pending, pending + n, npending - n);
	npending -= n;
	return 1;
}

/* BPF.trace_readline([timeout]) -> line, or nil and "timeout" or
 * "interrupted". No timeout: waits until a line or Ctrl-C; 0: does not wait. */
static int l_trace_readline(lua_State *L)
{
	double timeout = luaL_optnumber(L, 1, -1), deadline;

	if (timeout != timeout || timeout > 1e9)
		return luaL_argerror(L, 1, "timeout must be a number of seconds");
	deadline = timeout < 0 ? 0 : now() + timeout;
	bl_signals_check(L);
	if (pipe_fd < 0) {
		char path[128];

		if (!*bl_tracefs())
			return luaL_error(L, "trace_pipe: tracefs is not mounted");
		snprintf(path, sizeof(path), "%s/trace_pipe", bl_tracefs());
		pipe_fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		if (pipe_fd < 0 && errno == EBUSY)
			return luaL_error(L, "cannot open %s: another process is reading it (the kernel "
					  "allows one reader at a time)", path);
		if (pipe_fd < 0)
			return luaL_error(L, "cannot open %s: %s", path, strerror(errno));
	}
	for (;;) {
		struct pollfd pfd = { .fd = pipe_fd, .events = POLLIN };
		double left = deadline - now();
		ssize_t n;
		int r;

		if (take_line(L))
			return 1;
		r = poll(&pfd, 1, timeout < 0 ? -1 : left <= 0 ? 0 : (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR) {
			if (bl_signals_consume()) {
				lua_pushnil(L);
				lua_pushliteral(L, "interrupted");
				return 2;
			}
			continue;
		}
		if (r < 0)
			return luaL_error(L, "trace_pipe: %s", strerror(errno));
		if (r == 0) {
			if (timeout >= 0 && deadline - now() <= 0) {
				lua_pushnil(L);
				lua_pushliteral(L, "timeout");
				return 2;
			}
			continue;
		}
		n = read(pipe_fd, pending + npending, sizeof(pending) - npending);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return luaL_error(L, "trace_pipe: %s", strerror(errno));
		if (n > 0)
			npending += (size_t)n;
	}
}

/* BPF.ksymname(name) -> the kernel symbol's address, or nil */
static int l_ksymname(lua_State *L)
{
	static void *cache;
	const char *name = luaL_checkstring(L, 1);
	uint64_t addr;

	if (!cache)
		cache = bcc_symcache_new(-1, NULL);
	if (!cache || bcc_symcache_resolve_name(cache, NULL, name, &addr) < 0)
		return 0;
	lua_pushinteger(L, (lua_Integer)addr);
	return 1;
}

/* BPF.tracepoint_exists(category, event) */
static int l_tracepoint_exists(lua_State *L)
{
	const char *cat = luaL_checkstring(L, 1), *ev = luaL_checkstring(L, 2);
	char path[512];

	if (strchr(cat, '/') || strchr(ev, '/') || !strcmp(cat, "..") || !strcmp(ev, "..")) {
		lua_pushboolean(L, 0);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/events/%s/%s", bl_tracefs(), cat, ev);
	lua_pushboolean(L, *bl_tracefs() && access(path, F_OK) == 0);
	return 1;
}

const luaL_Reg bl_lua_trace_funcs[] = {
	{ "trace_readline", l_trace_readline },
	{ "ksymname", l_ksymname },
	{ "tracepoint_exists", l_tracepoint_exists },
	{ NULL, NULL },
};
