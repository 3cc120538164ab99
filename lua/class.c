/* One way to define a userdata class, as lauxlib's luaL_newlib defines a
 * library: a named metatable with its metamethods, and an __index table of
 * methods when there are any. */
#include "lbpflua.h"

void bl_lua_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods)
{
	if (luaL_newmetatable(L, name)) {
		luaL_setfuncs(L, meta, 0);
		if (methods) {
			lua_newtable(L);
			luaL_setfuncs(L, methods, 0);
			lua_setfield(L, -2, "__index");
		}
	}
	lua_pop(L, 1);
}
