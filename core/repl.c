/* The REPL's terminal side: line editing, history and completion through
 * libedit. Evaluation and completion candidates are Lua's
 * (lua/bpflua/interactive.lua); this file only moves lines between the
 * terminal and that module. */
#include "repl.h"

#include <editline/readline.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lua/lbpflua.h"

static lua_State *repl_L;
static int env_ref = LUA_NOREF;

/* Calls interactive.NAME(env, arg) with the module on the registry. */
static int call_interactive(lua_State *L, const char *name, const char *arg, int nresults)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, "bpflua.interactive");
	if (lua_pcall(L, 1, 1, 0))
		return -1;
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
	lua_rawgeti(L, LUA_REGISTRYINDEX, env_ref);
	lua_pushstring(L, arg);
	return lua_pcall(L, 2, nresults, 0) ? -1 : 0;
}

/* libedit asks for candidates one at a time; we compute the list once. */
static char **candidates;
static size_t ncandidates, next_candidate;

static void free_candidates(void)
{
	for (size_t i = 0; i < ncandidates; i++)
		free(candidates[i]);
	free(candidates);
	candidates = NULL;
	ncandidates = next_candidate = 0;
}

static char *generator(const char *text, int state)
{
	(void)text;
	if (next_candidate < ncandidates)
		return strdup(candidates[next_candidate++]);
	(void)state;
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	lua_State *L = repl_L;
	int top = lua_gettop(L);

	(void)start;
	(void)end;
	free_candidates();
	if (call_interactive(L, "complete", text, 1) == 0 && lua_istable(L, -1)) {
		size_t n = lua_rawlen(L, -1);

		candidates = calloc(n + 1, sizeof(char *));
		for (size_t i = 0; candidates && i < n; i++) {
			lua_rawgeti(L, -1, (lua_Integer)i + 1);
			if (lua_isstring(L, -1))
				candidates[ncandidates++] = strdup(lua_tostring(L, -1));
			lua_pop(L, 1);
		}
	}
	lua_settop(L, top);
	rl_attempted_completion_over = 1; /* no file-name fallback */
	return rl_completion_matches(text, generator);
}

static void history_path(char *buf, size_t len)
{
	const char *home = getenv("HOME");

	snprintf(buf, len, "%s/.bpflua_history", home && *home ? home : ".");
}

int bl_repl(lua_State *L)
{
	char hist[PATH_MAX];
	char *chunk = NULL;
	size_t chunk_len = 0;

	repl_L = L;
	if (luaL_loadstring(L, "return require('bpflua.interactive').env()") || lua_pcall(L, 0, 1, 0)) {
		fprintf(stderr, "bpflua: %s\n", lua_tostring(L, -1));
		lua_pop(L, 1);
		return 1;
	}
	env_ref = luaL_ref(L, LUA_REGISTRYINDEX);

	history_path(hist, sizeof(hist));
	using_history();
	read_history(hist);
	rl_attempted_completion_function = complete;
	rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{(,";
	printf("bpflua %s REPL on Lua 5.4: help() for the basics, Ctrl-D to leave\n", BPFLUA_VERSION);
	for (;;) {
		char *line = readline(chunk ? "   ...> " : "bpflua> ");
		const char *verdict;
		char *grown;
		size_t n;

		if (bl_signals_aborted()) { /* the terminal went away */
			free(line);
			break;
		}
		if (!line) { /* Ctrl-D */
			putchar('\n');
			break;
		}
		n = strlen(line);
		grown = realloc(chunk, chunk_len + n + 2);
		if (!grown) {
			free(line);
			break;
		}
		chunk = grown;
		if (chunk_len)
			chunk[chunk_len++] = '\n';
		memcpy(chunk + chunk_len, line, n + 1);
		chunk_len += n;
		free(line);
		if (!chunk_len) {
			free(chunk);
			chunk = NULL;
			continue;
		}
		bl_signals_reset(L);
		if (call_interactive(L, "eval", chunk, 1)) {
			if (bl_signals_aborted()) {
				lua_pop(L, 1);
				break;
			}
			fprintf(stderr, "%s\n", luaL_tolstring(L, -1, NULL));
			lua_pop(L, 1);
			verdict = "error";
		} else {
			verdict = lua_tostring(L, -1);
		}
		if (verdict && !strcmp(verdict, "incomplete")) {
			lua_pop(L, 1);
			continue;
		}
		lua_pop(L, 1);
		add_history(chunk);
		free(chunk);
		chunk = NULL;
		chunk_len = 0;
		bl_signals_reset(L);
		fflush(stdout);
	}
	free(chunk);
	free_candidates();
	write_history(hist);
	history_truncate_file(hist, 1000);
	luaL_unref(L, LUA_REGISTRYINDEX, env_ref);
	return 0;
}
