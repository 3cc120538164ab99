/* The host beside the BPF object: directories, time, sleeping, signals as
 * the script sees them, syscall names, what the kernel supports, this
 * process. Kept apart from bpf.c, which owns the BPF object alone. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/error.h"
#include "../core/headers.h"
#include "../core/kernel.h"
#include "../core/syscalls.h"
#include "lbpflua.h"

/* the names of d into a new table, in a protected call: the caller closes
 * d whatever happens */
static int read_names(lua_State *L)
{
	DIR *d = lua_touserdata(L, 1);
	struct dirent *e;
	int n = 0;

	lua_newtable(L);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		lua_pushstring(L, e->d_name);
		lua_rawseti(L, -2, ++n);
	}
	lua_getglobal(L, "table");
	lua_getfield(L, -1, "sort");
	lua_pushvalue(L, -3);
	lua_call(L, 1, 0);
	lua_pop(L, 1);
	return 1;
}

/* BPF.listdir(path) -> sorted list of entry names (no "." or ".."), or nil
 * and the reason */
static int l_listdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	DIR *d = opendir(path);
	int status;

	if (!d) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", path, strerror(errno));
		return 2;
	}
	lua_pushcfunction(L, read_names);
	lua_pushlightuserdata(L, d);
	status = lua_pcall(L, 1, 1, 0);
	closedir(d);
	if (status != LUA_OK)
		return lua_error(L);
	return 1;
}

/* BPF.sleep(seconds): true when it slept the whole time, false when Ctrl-C
 * cut it short. */
#define MAX_SLEEP 1e9 /* about 31 years: anything longer is a mistake */

static int l_sleep(lua_State *L)
{
	double secs = luaL_checknumber(L, 1);
	struct timespec ts;

	if (!(secs >= 0 && secs <= MAX_SLEEP)) /* NaN fails both */
		return luaL_argerror(L, 1, "seconds must be a number from 0 to 1e9");
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	bl_signals_check(L);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		if (bl_signals_consume()) {
			lua_pushboolean(L, 0);
			return 1;
		}
	lua_pushboolean(L, 1);
	return 1;
}

/* BPF.aborted() -> the signal's name when SIGHUP or SIGPIPE ended the run */
static int l_aborted(lua_State *L)
{
	int sig = bl_signals_aborted();

	if (!sig)
		return 0;
	lua_pushfstring(L, "SIG%s", sigabbrev_np(sig));
	return 1;
}

static int l_graceful_stop(lua_State *L)
{
	bl_signals_graceful(lua_toboolean(L, 1));
	return 0;
}

static int l_interrupted(lua_State *L)
{
	lua_pushboolean(L, bl_interrupted());
	return 1;
}

static int l_monotonic(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
	return 1;
}

/* BPF.monotonic_ns(): the clock bpf_ktime_get_ns() reads, as an integer */
static int l_monotonic_ns(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return 1;
}

/* a number's name, or PREFIX and the number (argument 1) where it has none */
static int push_name(lua_State *L, const char *name, const char *prefix)
{
	if (name)
		lua_pushstring(L, name);
	else
		lua_pushfstring(L, "%s%d", prefix, (int)lua_tointeger(L, 1));
	return 1;
}

static int l_syscall_name(lua_State *L)
{
	return push_name(L, bl_syscall_name((int)luaL_checkinteger(L, 1)), "syscall_");
}

static int l_errno_name(lua_State *L)
{
	return push_name(L, strerrorname_np((int)luaL_checkinteger(L, 1)), "E");
}

static int l_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

static int l_syscall_number(lua_State *L)
{
	int nr = bl_syscall_number(luaL_checkstring(L, 1));

	if (nr < 0)
		lua_pushnil(L);
	else
		lua_pushinteger(L, nr);
	return 1;
}

static int l_features(lua_State *L)
{
	const struct bl_features *f = bl_features();
	const struct bl_headers *h = bl_headers_host();
	const char *cfg;

	lua_newtable(L);
#define B(k) (lua_pushboolean(L, f->k), lua_setfield(L, -2, #k))
	B(is_root); B(cap_sys_admin); B(cap_bpf); B(cap_perfmon); B(bpf_syscall); B(btf);
	B(kprobes); B(uprobes); B(raw_tracepoints); B(ringbuf); B(perf_sampling); B(ancestor_cgroup);
	B(noprealloc_perf_event);
#undef B
	bl_set_int(L, "perf_event_paranoid", f->perf_event_paranoid);
	bl_set_str(L, "release", f->release);
	bl_set_str(L, "tracefs", f->tracefs);
	cfg = f->kprobes ? "y" : bl_kconfig("CONFIG_KPROBES");
	bl_set_str(L, "config_kprobes", cfg ? cfg : "unknown");
	if (h) {
		static const char *const how[] = { "BCC_KERNEL_SOURCE", "exact", "kheaders", "nearest" };

		lua_createtable(L, 0, 4);
		bl_set_str(L, "path", h->path);
		bl_set_str(L, "source", h->source);
		bl_set_str(L, "version", h->version);
		bl_set_str(L, "how", how[h->how]);
		lua_setfield(L, -2, "headers");
	} else {
		bl_set_str(L, "headers_error", bl_last_error());
	}
	bl_set_str(L, "headers_rejected", bl_headers_rejected());
	return 1;
}

static int l_getpid(lua_State *L)
{
	lua_pushinteger(L, getpid());
	return 1;
}

static int l_set_verbose(lua_State *L)
{
	bl_verbose_level = (int)luaL_checkinteger(L, 1);
	return 0;
}

const luaL_Reg bl_lua_host_funcs[] = {
	{ "listdir", l_listdir },
	{ "sleep", l_sleep },
	{ "aborted", l_aborted },
	{ "graceful_stop", l_graceful_stop },
	{ "interrupted", l_interrupted },
	{ "monotonic", l_monotonic },
	{ "monotonic_ns", l_monotonic_ns },
	{ "syscall_name", l_syscall_name },
	{ "errno_name", l_errno_name },
	{ "isatty", l_isatty },
	{ "syscall_number", l_syscall_number },
	{ "features", l_features },
	{ "getpid", l_getpid },
	{ "set_verbose", l_set_verbose },
	{ NULL, NULL },
};
