/* The host beside the BPF object: directories, time, sleeping, signals as
 * the script sees them, this process. Kept apart from bpf.c, which owns
 * the BPF object alone. */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "lbpflua.h"

/* the names of d into a new table, in a protected call: the caller closes
 * d whatever happens */
static int read_names(lua_State *L)
{
	DIR *d = lua_touserdata(L, 1);
	struct dirent *e;
	int n = 0;

	lua_newtable(L);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		lua_pushstring(L, e->d_name);
		lua_rawseti(L, -2, ++n);
	}
	lua_getglobal(L, "table");
	lua_getfield(L, -1, "sort");
	lua_pushvalue(L, -3);
	lua_call(L, 1, 0);
	lua_pop(L, 1);
	return 1;
}

/* BPF.listdir(path) -> sorted list of entry names (no "." or ".."), or nil
 * and the reason */
static int l_listdir(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);
	DIR *d = opendir(path);
	int status;

	if (!d) {
		lua_pushnil(L);
		lua_pushfstring(L, "%s: %s", path, strerror(errno));
		return 2;
	}
	lua_pushcfunction(L, read_names);
	lua_pushlightuserdata(L, d);
	status = lua_pcall(L, 1, 1, 0);
	closedir(d);
	if (status != LUA_OK)
		return lua_error(L);
	return 1;
}

void bl_lua_host_open(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "listdir", l_listdir },
		{ NULL, NULL },
	};

	luaL_setfuncs(L, funcs, 0);
}
