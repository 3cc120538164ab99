/* The REPL's terminal side: line editing, history and completion through
 * libedit. Evaluation and completion candidates are Lua's
 * (lua/bpflua/interactive.lua); this file only moves lines between the
 * terminal and that module. */
#include "repl.h"

#include <editline/readline.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../lua/lbpflua.h"

static lua_State *repl_L;
static int env_ref = LUA_NOREF;

/* Calls interactive.NAME(env, arg[, width]) with the module on the registry. */
static int call_interactive(lua_State *L, const char *name, const char *arg, int width, int nresults)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, "bpflua.interactive");
	if (lua_pcall(L, 1, 1, 0))
		return -1;
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
	lua_rawgeti(L, LUA_REGISTRYINDEX, env_ref);
	lua_pushstring(L, arg);
	if (width > 0)
		lua_pushinteger(L, width);
	return lua_pcall(L, width > 0 ? 3 : 2, nresults, 0) ? -1 : 0;
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
	if (call_interactive(L, "complete", text, 0, 1) == 0 && lua_istable(L, -1)) {
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

/* Rows text takes on a terminal cols wide, stopping past limit. */
static size_t screen_rows(const char *text, size_t cols, size_t limit)
{
	size_t rows = 0, col = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p && rows <= limit; p++) {
		if (*p == '\n') {
			rows++;
			col = 0;
		} else if ((*p & 0xc0) != 0x80 && ++col > cols) { /* a UTF-8 lead byte: one column */
			rows++;
			col = 1;
		}
	}
	return rows + 1;
}

/* Shows a result as git shows long output: through $PAGER (or less -FRX)
 * when stdout is a terminal and the text is taller than it, else plainly.
 * The pager quitting early is no reason to leave: SIGPIPE is ignored while
 * it reads. */
static void show(const char *text)
{
	struct winsize ws = { 0 };
	const char *pager = getenv("PAGER");
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int status = 0;
	FILE *p;

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || ws.ws_row < 2 ||
	    screen_rows(text, ws.ws_col ? ws.ws_col : 80, ws.ws_row) < ws.ws_row || (pager && !*pager))
		goto plain;
	fflush(stdout);
	sigaction(SIGPIPE, &ign, &old);
	p = popen(pager ? pager : "less -FRX", "w");
	if (p) {
		fputs(text, p);
		fputc('\n', p);
		status = pclose(p);
	}
	sigaction(SIGPIPE, &old, NULL);
	/* 127: the shell found no such pager; the text is shown plainly then */
	if (p && !(WIFEXITED(status) && WEXITSTATUS(status) == 127))
		return;
plain:
	fputs(text, stdout);
	fputc('\n', stdout);
}

static int term_width(void)
{
	struct winsize ws = { 0 };

	if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) || !ws.ws_col)
		return 80;
	return ws.ws_col;
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
	printf("bpflua %s REPL on Lua 5.4: help for the basics, Ctrl-D to leave\n", BPFLUA_VERSION);
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
		if (call_interactive(L, "eval", chunk, term_width(), 2)) {
			if (bl_signals_aborted()) {
				lua_pop(L, 1);
				break;
			}
			fprintf(stderr, "%s\n", luaL_tolstring(L, -1, NULL));
			lua_pop(L, 2);
			lua_pushnil(L); /* the two results eval would have left */
			lua_pushnil(L);
			verdict = "error";
		} else {
			verdict = lua_tostring(L, -2);
		}
		if (verdict && !strcmp(verdict, "incomplete")) {
			lua_pop(L, 2);
			continue;
		}
		if (lua_isstring(L, -1))
			show(lua_tostring(L, -1));
		lua_pop(L, 2);
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
