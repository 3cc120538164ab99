/* Addresses as text, through the C library's inet_ntop/inet_pton: one
 * canonical form (RFC 5952, IPv4-mapped IPv6 as ::ffff:a.b.c.d) for what the
 * tracers print and for what users give to -a, so the two compare equal. */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "lbpflua.h"

/* BPF.inet_ntop(family, bytes) -> text; family 2 (AF_INET) or 10 (AF_INET6),
 * bytes a string or a list of byte values */
static int l_inet_ntop(lua_State *L)
{
	int family = (int)luaL_checkinteger(L, 1);
	size_t want = family == AF_INET ? 4 : 16, n = 0;
	unsigned char addr[16] = { 0 };
	char text[INET6_ADDRSTRLEN];

	if (family != AF_INET && family != AF_INET6)
		return luaL_argerror(L, 1, "family must be 2 (AF_INET) or 10 (AF_INET6)");
	if (lua_type(L, 2) == LUA_TSTRING) {
		const char *s = lua_tolstring(L, 2, &n);

		memcpy(addr, s, n < want ? n : want);
	} else {
		luaL_checktype(L, 2, LUA_TTABLE);
		n = lua_rawlen(L, 2);
		for (size_t i = 0; i < want && i < n; i++) {
			lua_rawgeti(L, 2, (lua_Integer)i + 1);
			addr[i] = (unsigned char)lua_tointeger(L, -1);
			lua_pop(L, 1);
		}
	}
	if (n < want)
		return luaL_argerror(L, 2, "too few address bytes");
	lua_pushstring(L, inet_ntop(family, addr, text, sizeof(text)));
	return 1;
}

/* BPF.inet_pton(text) -> family, bytes; nil for anything not an address */
static int l_inet_pton(lua_State *L)
{
	const char *s = luaL_checkstring(L, 1);
	unsigned char addr[16];

	if (inet_pton(AF_INET, s, addr) == 1) {
		lua_pushinteger(L, AF_INET);
		lua_pushlstring(L, (const char *)addr, 4);
		return 2;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		lua_pushinteger(L, AF_INET6);
		lua_pushlstring(L, (const char *)addr, 16);
		return 2;
	}
	lua_pushnil(L);
	return 1;
}

const luaL_Reg bl_lua_inet_funcs[] = {
	{ "inet_ntop", l_inet_ntop },
	{ "inet_pton", l_inet_pton },
	{ NULL, NULL },
};
