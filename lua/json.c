/* BPF.json(value [, key_order]): one line of JSON from a Lua value, through
 * json-c. Object keys come in key_order first, then sorted, so output is
 * stable from run to run. */
#include <json.h>
#include <stdlib.h>
#include <string.h>

#include "lbpflua.h"

static json_object *to_json(lua_State *L, int idx, int order, int depth);

static int is_sequence(lua_State *L, int idx)
{
	lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
	int count = 0;

	lua_pushnil(L);
	while (lua_next(L, idx)) {
		count++;
		lua_pop(L, 1);
	}
	return count == n && (n > 0 || !lua_getmetatable(L, idx));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_field(lua_State *L, json_object *o, int idx, const char *k, int order, int depth)
{
	if (json_object_object_get_ex(o, k, NULL))
		return;
	lua_getfield(L, idx, k);
	if (!lua_isnil(L, -1))
		json_object_object_add(o, k, to_json(L, lua_gettop(L), order, depth + 1));
	lua_pop(L, 1);
}

static json_object *object(lua_State *L, int idx, int order, int depth)
{
	json_object *o = json_object_new_object();
	const char **keys = NULL;
	size_t n = 0, cap = 0;

	if (order) {
		for (lua_Integer i = 1; lua_rawgeti(L, order, i) == LUA_TSTRING; i++) {
			add_field(L, o, idx, lua_tostring(L, -1), order, depth);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pop(L, 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			continue;
		if (n == cap) {
			const char **nk = realloc(keys, (cap = cap ? cap * 2 : 16) * sizeof(*keys));

			if (!nk)
				break;
			keys = nk;
		}
		keys[n++] = lua_tostring(L, -1); /* the key stays referenced by the table */
	}
	if (n)
		qsort(keys, n, sizeof(*keys), cmp_str);
	for (size_t i = 0; i < n; i++)
		add_field(L, o, idx, keys[i], order, depth);
	free(keys);
	return o;
}

static json_object *to_json(lua_State *L, int idx, int order, int depth)
{
	if (depth > 32)
		luaL_error(L, "json: value nested too deeply");
	switch (lua_type(L, idx)) {
	case LUA_TBOOLEAN:
		return json_object_new_boolean(lua_toboolean(L, idx));
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			return json_object_new_int64(lua_tointeger(L, idx));
		return json_object_new_double(lua_tonumber(L, idx));
	case LUA_TSTRING: {
		size_t len;
		const char *s = lua_tolstring(L, idx, &len);

		return json_object_new_string_len(s, (int)len);
	}
	case LUA_TTABLE:
		/* an empty table is an empty list: tracers' empty tables are
		 * stacks and histograms far more often than records */
		lua_pushnil(L);
		if (!lua_next(L, idx))
			return json_object_new_array();
		lua_pop(L, 2);
		if (is_sequence(L, idx) && lua_rawlen(L, idx) > 0) {
			size_t n = lua_rawlen(L, idx);
			json_object *a = json_object_new_array_ext((int)n);

			for (size_t i = 1; i <= n; i++) {
				lua_rawgeti(L, idx, (lua_Integer)i);
				json_object_array_add(a, to_json(L, lua_gettop(L), order, depth + 1));
				lua_pop(L, 1);
			}
			return a;
		}
		return object(L, idx, order, depth);
	default:
		return NULL; /* null */
	}
}

int bl_lua_json(lua_State *L)
{
	int order = lua_istable(L, 2) ? 2 : 0;
	json_object *j;

	luaL_checkany(L, 1);
	j = to_json(L, 1, order, 0);
	lua_pushstring(L, json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(j);
	return 1;
}
