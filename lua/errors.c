/* The one error type, from C to Lua: a table { kind =, message =, hint = }
 * with the metatable bpflua.Error (tostring gives the message and the hint).
 *
 * Kinds say what the caller may do about it, so nothing has to read the
 * message's text: "usage" (a bad option or argument: exit status 2),
 * "interrupted" (Ctrl-C: 130), "signal" (SIGHUP/SIGPIPE: 128+N, in `exit`),
 * "privilege", "missing" (no such file, process, probe), "failed" (the
 * rest). Errors that are a script's own bugs stay Lua strings with their
 * traceback, as in lua.c; the core's errors (negative errno and its message,
 * core/error.h) become error objects through bl_lua_raise_errno. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "../core/error.h"
#include "lbpflua.h"

#define ERROR_MT "bpflua.Error"

static int error_tostring(lua_State *L)
{
	const char *hint;

	lua_getfield(L, 1, "message");
	lua_getfield(L, 1, "hint");
	hint = lua_tostring(L, -1);
	if (hint && *hint)
		lua_pushfstring(L, "%s\n%s", luaL_optstring(L, -2, "error"), hint);
	else
		lua_pushstring(L, luaL_optstring(L, -2, "error"));
	return 1;
}

/* err:find(...), err:match(...): an error object answers string methods as
 * its text, so scripts that treat errors as strings keep working */
static int error_method(lua_State *L)
{
	lua_pushcfunction(L, error_tostring);
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	lua_replace(L, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

static int error_index(lua_State *L)
{
	lua_getglobal(L, "string");
	if (!lua_istable(L, -1) || lua_getfield(L, -1, luaL_checkstring(L, 2)) != LUA_TFUNCTION)
		return 0;
	lua_pushcclosure(L, error_method, 1);
	return 1;
}

/* "prefix: " .. err */
static int error_concat(lua_State *L)
{
	luaL_tolstring(L, 1, NULL);
	luaL_tolstring(L, 2, NULL);
	lua_concat(L, 2);
	return 1;
}

void bl_lua_push_error(lua_State *L, const char *kind, const char *message, const char *hint)
{
	lua_createtable(L, 0, 3);
	bl_set_str(L, "kind", kind);
	bl_set_str(L, "message", message);
	if (hint) {
		bl_set_str(L, "hint", hint);
	}
	luaL_setmetatable(L, ERROR_MT);
}

int bl_lua_raise(lua_State *L, const char *kind, const char *fmt, ...)
{
	va_list ap;
	const char *msg;

	va_start(ap, fmt);
	msg = lua_pushvfstring(L, fmt, ap);
	va_end(ap);
	bl_lua_push_error(L, kind, msg, NULL);
	return lua_error(L);
}

static const char *errno_kind(int err)
{
	switch (-err) {
	case EPERM:
	case EACCES:
		return "privilege";
	case ENOENT:
	case ESRCH:
	case ENODEV:
		return "missing";
	default:
		return "failed";
	}
}

int bl_lua_raise_core(lua_State *L, const char *what)
{
	luaL_where(L, 1); /* the script's line, as luaL_error gives it */
	if (what)
		lua_pushfstring(L, "%s%s: %s", lua_tostring(L, -1), what, bl_last_error());
	else
		lua_pushfstring(L, "%s%s", lua_tostring(L, -1), bl_last_error());
	bl_lua_push_error(L, errno_kind(bl_last_errno()), lua_tostring(L, -1), NULL);
	return lua_error(L);
}

/* BPF.error(kind, message [, hint]) -> an error object, for error() */
static int l_error(lua_State *L)
{
	bl_lua_push_error(L, luaL_checkstring(L, 1), luaL_checkstring(L, 2), luaL_optstring(L, 3, NULL));
	return 1;
}

/* BPF.is_error(v) -> the kind of an error object, or nil */
static int l_is_error(lua_State *L)
{
	const char *kind = bl_lua_error_kind(L, 1);

	if (!kind)
		return 0;
	lua_pushstring(L, kind);
	return 1;
}

const char *bl_lua_error_kind(lua_State *L, int idx)
{
	const char *kind = NULL;

	idx = lua_absindex(L, idx);
	if (!lua_istable(L, idx) || !lua_getmetatable(L, idx))
		return NULL;
	luaL_getmetatable(L, ERROR_MT);
	if (lua_rawequal(L, -1, -2)) {
		lua_getfield(L, idx, "kind");
		kind = lua_tostring(L, -1); /* interned, and kept by the table */
		lua_pop(L, 1);
	}
	lua_pop(L, 2);
	return kind;
}

void bl_lua_errors_open(lua_State *L)
{
	static const luaL_Reg funcs[] = {
		{ "error", l_error },
		{ "is_error", l_is_error },
		{ NULL, NULL },
	};

	static const luaL_Reg meta[] = {
		{ "__tostring", error_tostring }, { "__index", error_index }, { "__concat", error_concat }, { NULL, NULL },
	};

	bl_lua_class(L, ERROR_MT, meta, NULL);
	luaL_setfuncs(L, funcs, 0);
}
