/* BPF.json(value [, key_order]): one line of JSON from a Lua value. Object
 * keys come in key_order first, then sorted, so output is stable from run
 * to run.
 *
 * Written here rather than through json-c because what it encodes is
 * untrusted: strings from other processes must come out as valid UTF-8
 * (invalid bytes become U+FFFD), NaN and infinities as null, and a cyclic
 * or too deep table must raise an error without leaking what was built.
 * The text grows in a box (box.c), as lauxlib boxes its temporaries. Numbers are written in the shortest form
 * that reads back to the same double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lbpflua.h"

#define MAX_DEPTH 32

/* the text so far, in a box (box.c) at stack index `box` */
struct jbuf {
	char *p;
	size_t n;
	int box;
};

static void add(lua_State *L, struct jbuf *j, const char *s, size_t len)
{
	j->p = bl_lua_box_grow(L, j->box, j->n + len);
	memcpy(j->p + j->n, s, len);
	j->n += len;
}

#define ADD_LIT(L, j, s) add(L, j, s, sizeof(s) - 1)

static void add_string(lua_State *L, struct jbuf *j, const unsigned char *s, size_t n)
{
	ADD_LIT(L, j, "\"");
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = bl_utf8_len(s + i, n - i, &cp);
		char esc[8];

		if (!len) {
			ADD_LIT(L, j, "\\ufffd");
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			esc[0] = '\\';
			esc[1] = (char)cp;
			add(L, j, esc, 2);
		} else if (cp == '\n') {
			ADD_LIT(L, j, "\\n");
		} else if (cp == '\t') {
			ADD_LIT(L, j, "\\t");
		} else if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)cp);
			add(L, j, esc, 6);
		} else {
			add(L, j, (const char *)s + i, len);
		}
		i += len;
	}
	ADD_LIT(L, j, "\"");
}

static void add_number(lua_State *L, struct jbuf *j, int idx)
{
	char s[40];
	double d;
	int len = 0;

	if (lua_isinteger(L, idx)) {
		len = snprintf(s, sizeof(s), LUA_INTEGER_FMT, lua_tointeger(L, idx));
		add(L, j, s, (size_t)len);
		return;
	}
	d = lua_tonumber(L, idx);
	if (!isfinite(d)) {
		ADD_LIT(L, j, "null"); /* JSON has no NaN or infinity */
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		len = snprintf(s, sizeof(s), "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	add(L, j, s, (size_t)len);
	if (!strpbrk(s, ".eE")) /* keep a float looking like one */
		ADD_LIT(L, j, ".0");
}

static void encode(lua_State *L, struct jbuf *j, int idx, int order, int depth);

static int is_sequence(lua_State *L, int idx)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	lua_Integer count = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	return n > 0 && count == n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One "key":value pair, unless the key was written already (key_order) or
 * its value is nil. */
static void add_field(lua_State *L, struct jbuf *j, int idx, int seen, const char *k, int order,
		      int depth, int *first)
{
	if (lua_getfield(L, seen, k) != LUA_TNIL) {
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	lua_pushboolean(L, 1);
	lua_setfield(L, seen, k);
	if (lua_getfield(L, idx, k) != LUA_TNIL) {
		if (!*first)
			ADD_LIT(L, j, ",");
		*first = 0;
		add_string(L, j, (const unsigned char *)k, strlen(k));
		ADD_LIT(L, j, ":");
		encode(L, j, lua_gettop(L), order, depth + 1);
	}
	lua_pop(L, 1);
}

static void add_object(lua_State *L, struct jbuf *j, int idx, int order, int depth)
{
	size_t n = 0, i = 0;
	const char **keys;
	int seen, first = 1;

	lua_newtable(L); /* keys written so far */
	seen = lua_gettop(L);
	ADD_LIT(L, j, "{");
	if (order) {
		for (lua_Integer k = 1; lua_rawgeti(L, order, k) == LUA_TSTRING; k++) {
			add_field(L, j, idx, seen, lua_tostring(L, -1), order, depth, &first);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		n += lua_type(L, -2) == LUA_TSTRING;
		lua_pop(L, 1);
	}
	/* the key list lives in a userdata, so an error below frees it too;
	 * the strings stay referenced by the table itself */
	keys = lua_newuserdatauv(L, (n ? n : 1) * sizeof(*keys), 0);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) == LUA_TSTRING && i < n)
			keys[i++] = lua_tostring(L, -1);
	}
	qsort(keys, i, sizeof(*keys), cmp_str);
	for (size_t k = 0; k < i; k++)
		add_field(L, j, idx, seen, keys[k], order, depth, &first);
	lua_pop(L, 2);
	ADD_LIT(L, j, "}");
}

static void encode(lua_State *L, struct jbuf *j, int idx, int order, int depth)
{
	if (depth > MAX_DEPTH)
		luaL_error(L, "json: value nested more than %d deep (a table that contains itself?)", MAX_DEPTH);
	luaL_checkstack(L, 8, "json: value nested too deeply");
	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, idx))
			ADD_LIT(L, j, "true");
		else
			ADD_LIT(L, j, "false");
		return;
	case LUA_TNUMBER:
		add_number(L, j, idx);
		return;
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);

		add_string(L, j, (const unsigned char *)s, len);
		return;
	}
	case LUA_TTABLE:
		/* an empty table is an empty list: tracers' empty tables are
		 * stacks and histograms far more often than records */
		lua_pushnil(L);
		if (!lua_next(L, idx)) {
			ADD_LIT(L, j, "[]");
			return;
		}
		lua_pop(L, 2);
		if (is_sequence(L, idx)) {
			size_t n = lua_rawlen(L, idx);

			ADD_LIT(L, j, "[");
			for (size_t i = 1; i <= n; i++) {
				if (i > 1)
					ADD_LIT(L, j, ",");
				lua_rawgeti(L, idx, (lua_Integer)i);
				encode(L, j, lua_gettop(L), order, depth + 1);
				lua_pop(L, 1);
			}
			ADD_LIT(L, j, "]");
			return;
		}
		add_object(L, j, idx, order, depth);
		return;
	default:
		ADD_LIT(L, j, "null");
	}
}

int bl_lua_json(lua_State *L)
{
	int order = lua_istable(L, 2) ? 2 : 0;
	struct jbuf j = { NULL, 0, 3 };

	luaL_checkany(L, 1);
	lua_settop(L, 2);
	j.p = bl_lua_box(L, 256); /* index 3 */
	encode(L, &j, 1, order, 0);
	lua_pushlstring(L, j.p, j.n);
	return 1;
}
