/* The command line: sets up Lua with the BPF module and hands over.
 * `bpflua FILE.lua` runs a script; run, list and doctor are written in Lua
 * (lua/bpflua/cli.lua), so tracers stay Lua files and never need a rebuild. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../lua/lbpflua.h"
#include "attach/attach.h"
#include "cache.h"
#include "repl.h"
#include "error.h"
#include "headers.h"
#include "paths.h"

#ifdef BPFLUA_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

#ifndef BPFLUA_VERSION
#define BPFLUA_VERSION "0.0.0"
#endif

static const char usage[] =
	"usage: bpflua                                  a REPL on a terminal; a script on stdin otherwise\n"
	"       bpflua -e 'CODE' [-d SECONDS] [-i SECONDS]   one-liners: count{\"t:syscalls:sys_enter_getppid\", by=\"comm\"}\n"
	"                                               (-i: print the aggregations every SECONDS)\n"
	"       bpflua -l ['t:sched:*']                 list probes: t:CAT:NAME, u:/PATH:SYMBOL, ...\n"
	"       bpflua [--verbose] [--no-cache] FILE.lua [ARGS...]   run a Lua script with the BPF API\n"
	"       bpflua run NAME [OPTIONS]               run a tracer (bpflua list shows them)\n"
	"       bpflua list                             list the tracers with a line each\n"
	"       bpflua doctor [--json]                  what this host can and cannot trace\n"
	"       bpflua cache list|clear                 the compiled-program cache\n"
	"       bpflua agent [--config FILE.lua] [--listen ADDR:PORT]   tracers exported to Prometheus, pprof, OTLP\n"
	"       bpflua --help | --version\n";

/* Error objects (lua/errors.c) are user-facing errors: no traceback, and
 * their kind decides the exit status. Strings are a script's own bugs: they
 * get lua.c's traceback. */
static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	if (bl_lua_error_kind(L, 1))
		return 1;
	if (!msg) {
		if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
			return 1;
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	}
	luaL_traceback(L, L, msg, 1);
	return 1;
}

/* Exit statuses, one convention for every entry point (README):
 * 0 done, 1 failed, 2 usage error, 130 interrupted, 128+N signal N. */
enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

static int exit_status(lua_State *L, int idx, const char *kind)
{
	int rc = EXIT_FAILED;

	if (!kind)
		return rc;
	if (!strcmp(kind, "usage"))
		return EXIT_USAGE;
	if (!strcmp(kind, "interrupted"))
		return EXIT_INTERRUPTED;
	lua_getfield(L, idx, "exit");
	if (lua_isinteger(L, -1))
		rc = (int)lua_tointeger(L, -1);
	lua_pop(L, 1);
	return rc;
}

/* Runs the function on top of the stack with nargs arguments below it;
 * returns the process exit status. */
static int run_protected(lua_State *L, int nargs)
{
	int base = lua_gettop(L) - nargs;
	int status, rc;
	const char *kind;

	lua_pushcfunction(L, msghandler);
	lua_insert(L, base);
	status = lua_pcall(L, nargs, 1, base);
	lua_remove(L, base);
	if (status == LUA_OK) {
		rc = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
		lua_pop(L, 1);
		return rc;
	}
	kind = bl_lua_error_kind(L, -1);
	rc = exit_status(L, lua_gettop(L), kind);
	if (rc != EXIT_INTERRUPTED) /* Ctrl-C needs no message */
		fprintf(stderr, "bpflua: %s\n", luaL_tolstring(L, -1, NULL));
	lua_settop(L, base - 1);
	return rc;
}

/* Output that did not arrive is a failure, not a success: a full disk or a
 * closed pipe on stdout gives a message and a non-zero status. */
static int check_stdout(int rc)
{
	if (fflush(stdout) == 0 && !ferror(stdout) && fclose(stdout) == 0)
		return rc;
	if (rc) /* already failed, and said why (often this very write) */
		return rc;
	fprintf(stderr, "bpflua: cannot write to standard output: %s\n", strerror(errno));
	return EXIT_FAILED;
}

/* require('bpflua.cli').main(args), inside run_protected */
static int cli_main(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, "bpflua.cli");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "main");
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	return 1;
}

static int setup(lua_State *L)
{
	const char *prelude = "local dir, probes, scripts = ...\n"
			      "package.path = dir .. '/?.lua;' .. dir .. '/?/init.lua;' .. package.path\n"
			      "BPF = require('bpf')\n"
			      "BPF.probes_dir, BPF.scripts_dir = probes, scripts\n"
			      "require('bpflua')\n";

	luaL_openlibs(L);
	luaL_requiref(L, "bpf", luaopen_bpf, 0);
	lua_pop(L, 1);
	if (luaL_loadstring(L, prelude))
		return lua_error(L);
	lua_pushstring(L, bl_lua_dir());
	lua_pushstring(L, bl_probes_dir());
	lua_pushstring(L, bl_scripts_dir());
	lua_call(L, 3, 0);
	return 0;
}

/* -e CODE, or a script on stdin ("-" or no arguments off a terminal), with
 * an optional -d SECONDS: one-liners run, wait, and print what they saw. */
static int run_code(lua_State *L, char **argv, int argc, int i)
{
	luaL_Buffer b;
	const char *chunkname = "=-e";
	double seconds = 0, interval = 0;
	int code_given = i < argc && !strcmp(argv[i], "-e");

	if (code_given) {
		lua_pushstring(L, argv[i + 1]);
		i += 2;
	} else {
		char buf[4096];
		size_t n;

		luaL_buffinit(L, &b);
		while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
			luaL_addlstring(&b, buf, n);
		luaL_pushresult(&b);
		chunkname = "=stdin";
		if (i < argc && !strcmp(argv[i], "-"))
			i++;
	}
	for (; i < argc; i++) {
		char *end;

		if (!strcmp(argv[i], "-d") && i + 1 < argc) {
			seconds = strtod(argv[++i], &end);
			if (*end || seconds <= 0) {
				fprintf(stderr, "bpflua: -d wants a positive number of seconds, not '%s'\n", argv[i]);
				lua_pop(L, 1);
				return EXIT_USAGE;
			}
		} else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
			interval = strtod(argv[++i], &end);
			if (*end || !(interval > 0 && interval <= 86400)) {
				fprintf(stderr, "bpflua: -i wants a number of seconds (more than 0, at most 86400), not '%s'\n",
					argv[i]);
				lua_pop(L, 1);
				return EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "bpflua: unexpected argument '%s' (after -e CODE only -d SECONDS and -i SECONDS may follow)\n",
				argv[i]);
			lua_pop(L, 1);
			return EXIT_USAGE;
		}
	}
	if (luaL_loadstring(L, "local code, name, seconds, interval = ...\n"
			       "require('bpflua.oneliner').default_interval = interval\n"
			       "return require('bpflua.interactive').run(code, name, seconds)")) {
		fprintf(stderr, "bpflua: %s\n", lua_tostring(L, -1));
		lua_pop(L, 2);
		return 1;
	}
	lua_insert(L, -2); /* run, code */
	lua_pushstring(L, chunkname);
	if (seconds > 0)
		lua_pushnumber(L, seconds);
	else
		lua_pushnil(L);
	if (interval > 0)
		lua_pushnumber(L, interval);
	else
		lua_pushnil(L);
	return run_protected(L, 4);
}

/* -l [GLOB]: the probes a glob names, one a line, as bpftrace -l */
static int list_probes(lua_State *L, const char *glob)
{
	if (luaL_loadstring(L, "local glob = ...\n"
			       "local list = require('bpflua.oneliner').probes(glob)\n"
			       "if #list == 0 then error(BPF.error('failed', 'no probe matches ' .. glob), 0) end\n"
			       "for _, p in ipairs(list) do print(p) end")) {
		fprintf(stderr, "bpflua: %s\n", lua_tostring(L, -1));
		lua_pop(L, 1);
		return 1;
	}
	lua_pushstring(L, glob);
	return run_protected(L, 1);
}

/* Started with 0, 1 or 2 closed, the first files we open would take their
 * numbers and our output would land in them (or a library's stray close
 * would take it away): fill the gaps with /dev/null. */
static void standard_fds(void)
{
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF && open("/dev/null", O_RDWR) != fd)
			_exit(127);
}

static void push_args(lua_State *L, char **argv, int argc, int script_index)
{
	lua_createtable(L, argc, 1);
	for (int i = 0; i < argc; i++) {
		lua_pushstring(L, argv[i]);
		lua_rawseti(L, -2, i - script_index);
	}
}

int main(int argc, char **argv)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	lua_State *L;
	int i = 1, rc;

	standard_fds();
	if (getenv("BPFLUA_NO_CACHE") && *getenv("BPFLUA_NO_CACHE") && strcmp(getenv("BPFLUA_NO_CACHE"), "0"))
		bl_cache_enabled = 0;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--verbose"))
			bl_verbose_level++;
		else if (!strcmp(argv[i], "--no-cache"))
			bl_cache_enabled = 0;
		else
			break;
	}
	if (i < argc && (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))) {
		fputs(usage, stdout);
		return 0;
	}
	if (i < argc && !strcmp(argv[i], "--version")) {
		printf("bpflua %s\n", BPFLUA_VERSION);
		return 0;
	}
	if (i < argc && !strcmp(argv[i], "-e") && i + 1 >= argc) {
		fprintf(stderr, "bpflua: -e needs the code to run\n%s", usage);
		return EXIT_USAGE;
	}
	/* kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK */
	setrlimit(RLIMIT_MEMLOCK, &rl);

	L = luaL_newstate();
	if (!L) {
		fprintf(stderr, "bpflua: cannot create a Lua state\n");
		return 1;
	}
	bl_signals_install(L);
	lua_pushcfunction(L, setup);
	rc = run_protected(L, 0);
	if (rc)
		goto out;
	if (i >= argc && isatty(0)) {
		rc = bl_repl(L);
		goto out;
	}
	if (i < argc && !strcmp(argv[i], "-l")) {
		if (i + 2 < argc) {
			fprintf(stderr, "bpflua: -l takes one probe glob, e.g. -l 't:sched:*'\n");
			rc = EXIT_USAGE;
		} else {
			rc = list_probes(L, i + 1 < argc ? argv[i + 1] : "t:*");
		}
		goto out;
	}
	if (i >= argc || !strcmp(argv[i], "-e") || !strcmp(argv[i], "-") || !strcmp(argv[i], "-d")) {
		rc = run_code(L, argv, argc, i);
		goto out;
	}
	push_args(L, argv, argc, i);
	lua_setglobal(L, "arg");
	if (!strcmp(argv[i], "run") || !strcmp(argv[i], "list") || !strcmp(argv[i], "doctor") ||
	    !strcmp(argv[i], "cache") || !strcmp(argv[i], "agent")) {
		lua_pushcfunction(L, cli_main);
		lua_newtable(L);
		for (int k = i; k < argc; k++) {
			lua_pushstring(L, argv[k]);
			lua_rawseti(L, -2, k - i + 1);
		}
		rc = run_protected(L, 1);
		goto out;
	}
	if (luaL_loadfile(L, argv[i])) {
		fprintf(stderr, "bpflua: %s\n", lua_tostring(L, -1));
		rc = 1;
		goto out;
	}
	for (int k = i + 1; k < argc; k++)
		lua_pushstring(L, argv[k]);
	rc = run_protected(L, argc - i - 1);
out:
	/* closing the state runs every __gc: all probes detach here */
	bl_detach_deferred = rc == 0;
	lua_close(L);
	bl_detach_finish();
	bl_headers_cleanup();
	rc = check_stdout(rc);
	if (bl_signals_aborted()) /* even where a script caught the error */
		rc = 128 + bl_signals_aborted();
	fflush(NULL);
#ifdef BPFLUA_SANITIZE
	__lsan_do_leak_check();
#endif
	/* libbcc.so (dlopen'd to compile) and libbcc_bpf.so both define the same
	 * C++ statics; the dynamic linker binds both to one copy, whose
	 * destructor then runs twice at exit. Nothing is left to flush or
	 * detach by now, so leave without running static destructors. */
	_exit(rc);
}
