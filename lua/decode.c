/* decode: bytes <-> Lua values, driven by the type tree from core/types.c.
 * Integers become Lua integers, structs tables keyed by field name, char[N]
 * strings cut at the first NUL, other arrays sequences. */
#include <string.h>

#include "lbpflua.h"

void bl_lua_push_value(lua_State *L, const struct bl_type *t, const void *p)
{
	const unsigned char *b = p;

	luaL_checkstack(L, 4, "decoding a value");
	switch (t->kind) {
	case BL_INT:
		lua_pushinteger(L, (lua_Integer)bl_type_read_int(t, p));
		break;
	case BL_BYTES:
		lua_pushlstring(L, p, t->size);
		break;
	case BL_CHARS:
		lua_pushlstring(L, p, strnlen(p, t->count));
		break;
	case BL_ARRAY:
		lua_createtable(L, (int)t->count, 0);
		for (size_t i = 0; i < t->count; i++) {
			bl_lua_push_value(L, t->elem, b + i * t->elem->size);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
		}
		break;
	case BL_STRUCT:
		lua_createtable(L, 0, (int)t->nfields);
		for (size_t i = 0; i < t->nfields; i++) {
			/* padding that libbcc made explicit is not data */
			if (!strncmp(t->fields[i].name, "__pad", 5))
				continue;
			bl_lua_push_value(L, t->fields[i].type, b + t->fields[i].offset);
			lua_setfield(L, -2, t->fields[i].name);
		}
		break;
	}
}

/* Refills the struct table at idx in place (an event table being reused). */
void bl_lua_fill_struct(lua_State *L, const struct bl_type *t, const void *p, int idx)
{
	bl_lua_fill_struct_cut(L, t, p, t->size, idx, -1, -1);
}

/* As bl_lua_fill_struct, but field `cut` (a byte or char array; -1: none)
 * only as far as integer field `len` says: a capture buffer whose tail is
 * whatever the slot held before, which copying would only cost. size: the
 * bytes at p, short of t->size when the sender left out the unused tail of
 * a last field `cut` (every other field is whole: events.c checks). */
void bl_lua_fill_struct_cut(lua_State *L, const struct bl_type *t, const void *p, size_t size, int idx, int cut,
			    int len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < t->nfields; i++) {
		const struct bl_field *f = &t->fields[i];

		if (!strncmp(f->name, "__pad", 5))
			continue;
		if (cut >= 0 && i == (size_t)cut) {
			int64_t n = bl_type_read_int(t->fields[len].type, b + t->fields[len].offset);
			size_t have = size > f->offset ? size - f->offset : 0;

			if (have > f->type->size)
				have = f->type->size;
			n = n < 0 ? 0 : (uint64_t)n > have ? (int64_t)have : n;
			luaL_checkstack(L, 1, "decoding a value");
			lua_pushlstring(L, (const char *)b + f->offset, (size_t)n);
		} else {
			bl_lua_push_value(L, f->type, b + f->offset);
		}
		lua_setfield(L, idx, f->name);
	}
}

/* Writes the Lua value at idx into p (t->size bytes, zeroed first by the
 * caller). Missing struct fields and array elements stay zero. */
void bl_lua_to_value(lua_State *L, int idx, const struct bl_type *t, void *p)
{
	unsigned char *b = p;
	size_t len;
	const char *s;

	idx = lua_absindex(L, idx);
	switch (t->kind) {
	case BL_INT:
		bl_type_write_int(t, p, (int64_t)luaL_checkinteger(L, idx));
		break;
	case BL_BYTES:
	case BL_CHARS:
		if (lua_isinteger(L, idx) && t->kind == BL_BYTES) {
			lua_Integer v = lua_tointeger(L, idx);

			memcpy(p, &v, t->size < sizeof(v) ? t->size : sizeof(v));
			break;
		}
		s = luaL_checklstring(L, idx, &len);
		memcpy(p, s, len < t->size ? len : t->size);
		break;
	case BL_ARRAY:
		luaL_checktype(L, idx, LUA_TTABLE);
		for (size_t i = 0; i < t->count; i++) {
			if (lua_rawgeti(L, idx, (lua_Integer)i + 1) != LUA_TNIL)
				bl_lua_to_value(L, -1, t->elem, b + i * t->elem->size);
			lua_pop(L, 1);
		}
		break;
	case BL_STRUCT:
		luaL_checktype(L, idx, LUA_TTABLE);
		for (size_t i = 0; i < t->nfields; i++) {
			if (lua_getfield(L, idx, t->fields[i].name) != LUA_TNIL)
				bl_lua_to_value(L, -1, t->fields[i].type, b + t->fields[i].offset);
			lua_pop(L, 1);
		}
		break;
	}
}
