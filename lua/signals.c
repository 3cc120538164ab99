/* Ctrl-C and SIGTERM, the lua.c way: the handler only records the signal and
 * sets a hook; the hook raises an "interrupted" error (errors.c) at the next
 * Lua instruction
 * unless a sleep or poll already handed the signal to the script (they
 * return early so the script can print its summary).
 *
 * SIGHUP (the terminal went away) and SIGPIPE (the reader of our output
 * went away) abort instead: nobody is left to read a report, so the hook
 * raises at once, everything unwinds (probes detached, the -c command
 * killed, an -o file discarded) and bpflua exits with 128 + the signal. */
#include <signal.h>
#include <string.h>

#include "lbpflua.h"

static lua_State *main_L;
static volatile sig_atomic_t received;  /* signals seen */
static volatile sig_atomic_t delivered; /* of those, handed to the script */

static volatile sig_atomic_t aborted; /* SIGHUP or SIGPIPE, once seen */

static void raise_abort(lua_State *L)
{
	lua_pushfstring(L, "stopped by SIG%s: %s", sigabbrev_np(aborted),
			aborted == SIGPIPE ? "the output's reader went away" : "the terminal went away");
	bl_lua_push_error(L, "signal", lua_tostring(L, -1), NULL);
	bl_set_int(L, "exit", 128 + aborted);
	lua_error(L);
}

static void raise_interrupted(lua_State *L)
{
	bl_lua_push_error(L, "interrupted", "interrupted", NULL);
	lua_error(L);
}

static void hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	if (aborted)
		raise_abort(L);
	if (received > delivered)
		raise_interrupted(L);
}

/* Tracers stop at their own pace on the first Ctrl-C (their sleeps and
 * polls return, the loop ends, the report prints); only a second one
 * interrupts whatever Lua code is running. Scripts get lua.c's behaviour. */
static volatile sig_atomic_t graceful;

static void on_signal(int sig)
{
	if (sig == SIGHUP || sig == SIGPIPE) {
		if (!aborted)
			aborted = sig;
	} else {
		received++;
	}
	if (main_L && (aborted || !graceful || received > 1))
		lua_sethook(main_L, hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void bl_signals_graceful(int on)
{
	graceful = on;
}

void bl_signals_install(lua_State *L)
{
	struct sigaction sa;

	main_L = L;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: sleeps and polls must return on the signal */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
}

void bl_signals_check(lua_State *L)
{
	if (aborted)
		raise_abort(L);
	if (graceful && received < 2)
		return;
	if (received && received == delivered)
		raise_interrupted(L);
}

int bl_signals_consume(void)
{
	if (aborted)
		return 1;
	if (received > delivered) {
		delivered = received;
		return 1;
	}
	return 0;
}

int bl_interrupted(void)
{
	return received > 0 || aborted;
}

int bl_signals_aborted(void)
{
	return aborted;
}

void bl_signals_reset(lua_State *L)
{
	lua_sethook(L, NULL, 0, 0);
	received = delivered = 0;
}
