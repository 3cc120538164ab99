/* Ctrl-C and SIGTERM, the lua.c way: the handler only records the signal and
 * sets a hook; the hook raises "interrupted" at the next Lua instruction
 * unless a sleep or poll already handed the signal to the script (they
 * return early so the script can print its summary). */
#include <signal.h>
#include <string.h>

#include "lbpflua.h"

static lua_State *main_L;
static volatile sig_atomic_t received;  /* signals seen */
static volatile sig_atomic_t delivered; /* of those, handed to the script */

static void hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	if (received > delivered)
		luaL_error(L, "interrupted");
}

/* Tracers stop at their own pace on the first Ctrl-C (their sleeps and
 * polls return, the loop ends, the report prints); only a second one
 * interrupts whatever Lua code is running. Scripts get lua.c's behaviour. */
static volatile sig_atomic_t graceful;

static void on_signal(int sig)
{
	(void)sig;
	received++;
	if (main_L && (!graceful || received > 1))
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
}

void bl_signals_check(lua_State *L)
{
	if (graceful && received < 2)
		return;
	if (received && received == delivered)
		luaL_error(L, "interrupted");
}

int bl_signals_consume(void)
{
	if (received > delivered) {
		delivered = received;
		return 1;
	}
	return 0;
}

int bl_interrupted(void)
{
	return received > 0;
}

void bl_signals_reset(lua_State *L)
{
	lua_sethook(L, NULL, 0, 0);
	received = delivered = 0;
}
