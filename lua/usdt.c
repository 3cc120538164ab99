/* USDT{path=, pid=} as BCC's Python has it: u:enable_probe{probe=, fn_name=}
 * then BPF{text=, usdt_contexts={u}}. The probes are found and their
 * arguments read by core/attach/usdt.c. */
#include <stdlib.h>
#include <string.h>

#include "../core/attach/usdt.h"
#include "../core/error.h"
#include "lbpflua.h"

struct lusdt {
	struct bl_usdt *u;
};

struct bl_usdt *bl_lua_check_usdt(lua_State *L, int idx)
{
	struct lusdt *p = luaL_checkudata(L, idx, USDT_MT);

	if (!p->u)
		luaL_error(L, "this USDT context was closed");
	return p->u;
}

static int u_gc(lua_State *L)
{
	struct lusdt *p = luaL_checkudata(L, 1, USDT_MT);

	bl_usdt_close(p->u);
	p->u = NULL;
	return 0;
}

/* USDT{ path = "/usr/bin/x" | "c", pid = N } */
static int l_usdt(lua_State *L)
{
	struct lusdt *p;
	const char *path = NULL;
	int pid = -1;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "path");
	if (!lua_isnil(L, -1))
		path = luaL_checkstring(L, -1);
	lua_getfield(L, 1, "pid");
	if (!lua_isnil(L, -1)) {
		if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) <= 0)
			return luaL_error(L, "USDT{}: pid must be a positive integer");
		pid = (int)lua_tointeger(L, -1);
	}
	p = lua_newuserdatauv(L, sizeof(*p), 0);
	p->u = NULL;
	luaL_setmetatable(L, USDT_MT);
	if (bl_usdt_open(path, pid, &p->u))
		return bl_lua_raise_core(L, NULL);
	return 1;
}

/* u:enable_probe{ probe = "[provider:]name", fn_name = "c_function" } */
static int u_enable_probe(lua_State *L)
{
	struct bl_usdt *u = bl_lua_check_usdt(L, 1);
	const char *probe, *fn;

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "probe");
	probe = luaL_checkstring(L, -1);
	lua_getfield(L, 2, "fn_name");
	fn = luaL_checkstring(L, -1);
	if (bl_usdt_enable(u, probe, fn))
		return bl_lua_raise_core(L, NULL);
	return 0;
}

/* u:enumerate_probes() -> { {provider=, name=, bin_path=, semaphore=,
 * semaphore_offset=, locations=, arguments=}, ... } */
static int u_enumerate(lua_State *L)
{
	struct bl_usdt *u = bl_lua_check_usdt(L, 1);

	lua_createtable(L, (int)u->nprobes, 0);
	for (size_t i = 0; i < u->nprobes; i++) {
		const struct bl_usdt_probe *p = &u->probes[i];

		lua_createtable(L, 0, 7);
		bl_set_str(L, "provider", p->provider);
		bl_set_str(L, "name", p->name);
		bl_set_str(L, "bin_path", p->bin_path);
		bl_set_int(L, "semaphore", (lua_Integer)p->semaphore);
		bl_set_int(L, "semaphore_offset", (lua_Integer)p->semaphore_offset);
		bl_set_int(L, "locations", p->nlocations);
		bl_set_int(L, "arguments", p->narguments);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* u:arg_functions(probe, fn) -> C defining u64 FN_usdt_argN(ctx), argument count */
static int u_arg_functions(lua_State *L)
{
	struct bl_usdt *u = bl_lua_check_usdt(L, 1);
	const struct bl_usdt_probe *p;
	char *text;

	if (bl_usdt_find(u, luaL_checkstring(L, 2), &p) ||
	    bl_usdt_arg_functions(u, p, luaL_checkstring(L, 3), &text))
		return bl_lua_raise_core(L, NULL);
	lua_pushstring(L, text);
	free(text);
	lua_pushinteger(L, p->narguments);
	return 2;
}

static int u_path(lua_State *L)
{
	struct bl_usdt *u = bl_lua_check_usdt(L, 1);

	lua_pushstring(L, u->path);
	return 1;
}

void bl_lua_usdt_open(lua_State *L)
{
	static const luaL_Reg meta[] = { { "__gc", u_gc }, { "__close", u_gc }, { NULL, NULL } };
	static const luaL_Reg methods[] = {
		{ "enable_probe", u_enable_probe },
		{ "enumerate_probes", u_enumerate },
		{ "arg_functions", u_arg_functions },
		{ "path", u_path },
		{ NULL, NULL },
	};

	bl_lua_class(L, USDT_MT, meta, methods);
	lua_pushcfunction(L, l_usdt);
	lua_setfield(L, -2, "USDT");
}
