/* BPF.cache_*: the compiled-program cache (core/cache.c) as the `bpflua
 * cache` command and the tests see it. */
#include "../core/cache.h"
#include "lbpflua.h"

static int l_cache_stats(lua_State *L)
{
	lua_createtable(L, 0, 3);
	bl_set_int(L, "hits", bl_cache_hits);
	bl_set_int(L, "misses", bl_cache_misses);
	bl_set_bool(L, "enabled", bl_cache_enabled);
	return 1;
}

static void push_entry(const struct bl_cache_entry *e, void *arg)
{
	lua_State *L = arg;

	lua_createtable(L, 0, 3);
	bl_set_str(L, "key", e->key);
	bl_set_int(L, "size", (lua_Integer)e->size);
	bl_set_int(L, "mtime", (lua_Integer)e->mtime);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* BPF.cache_list() -> { {key, size, mtime}, ... }, directory */
static int l_cache_list(lua_State *L)
{
	int n;

	lua_newtable(L);
	n = bl_cache_list(push_entry, L);
	if (n < 0)
		return bl_lua_raise_core(L, NULL);
	lua_pushstring(L, bl_cache_programs_path());
	return 2;
}

static int l_cache_clear(lua_State *L)
{
	int n = bl_cache_clear();

	if (n < 0)
		return bl_lua_raise_core(L, NULL);
	lua_pushinteger(L, n);
	return 1;
}

const luaL_Reg bl_lua_cache_funcs[] = {
	{ "cache_stats", l_cache_stats },
	{ "cache_list", l_cache_list },
	{ "cache_clear", l_cache_clear },
	{ NULL, NULL },
};
