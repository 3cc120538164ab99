/* Untrusted bytes made safe to show. Process names, symbols, paths and
 * payloads come from other processes and files: they may hold escape
 * sequences that drive a terminal, newlines that split a row, or bytes that
 * are not UTF-8 at all. Text output shows them escaped (BPF.printable);
 * json.c uses the same UTF-8 reading to keep JSON valid. */
#include <string.h>

#include "lbpflua.h"

size_t bl_utf8_len(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len;

	if (!n)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0; /* a continuation byte, 0xc0/0xc1 or past U+10FFFF */
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, UTF-16 surrogates and code points past Unicode */
	if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* C0, DEL and C1 controls: what a terminal acts on rather than shows */
static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

static void add_hex(luaL_Buffer *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char e[4] = { '\\', 'x', hex[c >> 4], hex[c & 15] };

	luaL_addlstring(b, e, sizeof(e));
}

/* BPF.printable(s): s with control characters, backslashes and bytes that
 * are not UTF-8 escaped (\n, \t, \\, \xNN), so one value stays one field on
 * one line and never reaches the terminal as a command. */
static int l_printable(lua_State *L)
{
	size_t n, i = 0;
	const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
	luaL_Buffer b;
	uint32_t cp;

	for (; i < n; i++) /* most names are plain ASCII: hand them back */
		if (s[i] < 0x20 || s[i] >= 0x7f || s[i] == '\\')
			break;
	if (i == n) {
		lua_settop(L, 1);
		return 1;
	}
	luaL_buffinit(L, &b);
	luaL_addlstring(&b, (const char *)s, i);
	while (i < n) {
		size_t len = bl_utf8_len(s + i, n - i, &cp);

		if (!len) {
			add_hex(&b, s[i++]);
			continue;
		}
		if (cp == '\\')
			luaL_addstring(&b, "\\\\");
		else if (cp == '\n')
			luaL_addstring(&b, "\\n");
		else if (cp == '\t')
			luaL_addstring(&b, "\\t");
		else if (cp == '\r')
			luaL_addstring(&b, "\\r");
		else if (is_control(cp))
			for (size_t k = 0; k < len; k++)
				add_hex(&b, s[i + k]);
		else
			luaL_addlstring(&b, (const char *)s + i, len);
		i += len;
	}
	luaL_pushresult(&b);
	return 1;
}

const luaL_Reg bl_lua_text_funcs[] = {
	{ "printable", l_printable },
	{ NULL, NULL },
};
