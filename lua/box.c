/* Memory that an error cannot leak, as lauxlib boxes its temporaries: a
 * userdata on the Lua stack owns a malloc'd block and frees it in __gc, so
 * a binding may grow a buffer, call anything that raises, and leave the
 * freeing to the collector when it does. */
#include <stdlib.h>

#include "lbpflua.h"

#define BOX_MT "bpflua.Box"

struct box {
	void *p;
	size_t size;
};

static int box_gc(lua_State *L)
{
	struct box *b = luaL_checkudata(L, 1, BOX_MT);

	free(b->p);
	b->p = NULL;
	b->size = 0;
	return 0;
}

void *bl_lua_box(lua_State *L, size_t size)
{
	struct box *b = lua_newuserdatauv(L, sizeof(*b), 0);

	static const luaL_Reg meta[] = { { "__gc", box_gc }, { "__close", box_gc }, { NULL, NULL } };

	b->p = NULL;
	b->size = 0;
	bl_lua_class(L, BOX_MT, meta, NULL);
	luaL_setmetatable(L, BOX_MT);
	return bl_lua_box_resize(L, -1, size);
}

void *bl_lua_box_resize(lua_State *L, int idx, size_t size)
{
	struct box *b = luaL_checkudata(L, idx, BOX_MT);
	void *p;

	if (size <= b->size)
		return b->p;
	p = realloc(b->p, size ? size : 1);
	if (!p)
		luaL_error(L, "out of memory");
	b->p = p;
	b->size = size;
	return p;
}

void *bl_lua_box_grow(lua_State *L, int idx, size_t need)
{
	struct box *b = luaL_checkudata(L, idx, BOX_MT);
	size_t size = b->size ? b->size : 64;

	while (size < need)
		size *= 2;
	return bl_lua_box_resize(L, idx, size);
}
