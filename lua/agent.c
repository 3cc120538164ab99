/* What the agent needs from the host beside the tracers' own.
 *
 * SIGHUP as "reload the configuration": a daemon has no
 * terminal to lose, so signals.c's reading of SIGHUP (the terminal went
 * away, abort) does not fit it. BPF.reload_on_hup() takes the signal over;
 * BPF.hup() says whether one came since it was last asked. */
#include <signal.h>
#include <string.h>
#include <time.h>

#include "lbpflua.h"

static volatile sig_atomic_t hups;

static void on_hup(int sig)
{
	(void)sig;
	hups++;
}

static int l_reload_on_hup(lua_State *L)
{
	struct sigaction sa;

	(void)L;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	sigemptyset(&sa.sa_mask);
	/* no SA_RESTART: the loop's poll returns and the reload happens at once */
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

static int l_hup(lua_State *L)
{
	static sig_atomic_t seen;
	sig_atomic_t now = hups;

	lua_pushboolean(L, now != seen);
	seen = now;
	return 1;
}

/* BPF.realtime_ns(): the wall clock, for exported timestamps */
static int l_realtime_ns(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return 1;
}

const luaL_Reg bl_lua_agent_funcs[] = {
	{ "realtime_ns", l_realtime_ns },
	{ "reload_on_hup", l_reload_on_hup },
	{ "hup", l_hup },
	{ NULL, NULL },
};
