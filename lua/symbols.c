/* BPF.ksym, BPF.sym_*, BPF.elf_functions: names for addresses and the
 * functions of a binary (core/symbols.c and libbcc's ELF reader). The
 * object's own b:sym(addr, pid) stays a method in bpf.c. */
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bcc/bcc_elf.h>
#include <bcc/bcc_proc.h>
#include <bcc/bcc_syms.h>

#include "../core/maps_snapshot.h"
#include "../core/symbols.h"
#include "lbpflua.h"

static int l_ksym(lua_State *L)
{
	uint64_t addr = (uint64_t)luaL_checkinteger(L, 1);
	char name[512];

	bl_sym_resolve(-1, addr, lua_toboolean(L, 2), name, sizeof(name));
	lua_pushstring(L, name);
	return 1;
}

static int l_sym_module(lua_State *L)
{
	char mod[4096];

	bl_sym_module((int)luaL_checkinteger(L, 2), (uint64_t)luaL_checkinteger(L, 1), mod, sizeof(mod));
	lua_pushstring(L, mod);
	return 1;
}

static int l_sym_flush(lua_State *L)
{
	(void)L;
	bl_sym_flush();
	return 0;
}

/* BPF.sym_trim(): drops the symbol tables of processes that exited; returns
 * how many it dropped and how many it keeps. */
static int l_sym_trim(lua_State *L)
{
	lua_pushinteger(L, bl_sym_trim());
	lua_pushinteger(L, bl_sym_cached());
	return 2;
}

/* BPF.sym_snapshot(pid[, max_age_ms[, with_children]]): snapshots pid's
 * mappings now (or refreshes one older than max_age_ms), so that its stacks
 * still resolve after it exits; the mappings kept, or nil and why. With
 * children, also the processes it started (at most 64 in all); then the
 * processes taken. */
static int l_sym_snapshot(lua_State *L)
{
	lua_Integer pid = luaL_checkinteger(L, 1);
	lua_Integer age = luaL_optinteger(L, 2, 0);
	int n;

	luaL_argcheck(L, pid > 0 && pid <= INT32_MAX, 1, "a process id");
	luaL_argcheck(L, age >= 0 && age <= INT32_MAX, 2, "milliseconds, from 0");
	if (lua_toboolean(L, 3))
		n = bl_snap_take_tree((int)pid, (unsigned)age, 64);
	else
		n = bl_sym_snapshot((int)pid, (unsigned)age);
	if (n < 0) {
		luaL_pushfail(L);
		lua_pushfstring(L, "cannot read the mappings of process %d: %s", (int)pid, strerror(-n));
		return 2;
	}
	lua_pushinteger(L, n);
	return 1;
}

/* BPF.sym_snapshots() -> processes and files the snapshots hold */
static int l_sym_snapshots(lua_State *L)
{
	lua_pushinteger(L, bl_snap_count());
	lua_pushinteger(L, bl_snap_files());
	return 2;
}

static int push_function_name(const char *name, uint64_t addr, uint64_t len, void *arg)
{
	lua_State *L = arg;

	(void)addr;
	(void)len;
	lua_pushstring(L, name);
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
	return 0;
}

/* BPF.elf_functions(path or library name) -> { names }: for uprobe
 * completion and probes("u:..."). */
static int l_elf_functions(lua_State *L)
{
	const char *name = luaL_checkstring(L, 1);
	struct bcc_symbol_option opt = { .use_debug_file = 0, .use_symbol_type = 1 << 2 /* STT_FUNC */ };
	char *path = strchr(name, '/') ? NULL : bcc_procutils_which_so(name, 0);

	lua_newtable(L);
	if (bcc_elf_foreach_sym(path ? path : name, push_function_name, &opt, L) < 0) {
		free(path);
		return luaL_error(L, "cannot read the symbols of %s (no such binary or library?)", name);
	}
	free(path);
	return 1;
}

int bl_lua_sym_frame(lua_State *L, int idx, int pid, int with_offset)
{
	struct bpf_stack_build_id f;
	const char *hex;
	char name[512];

	memset(&f, 0, sizeof(f));
	lua_getfield(L, idx, "status");
	f.status = (int32_t)luaL_optinteger(L, -1, BPF_STACK_BUILD_ID_VALID);
	lua_getfield(L, idx, "build_id");
	hex = lua_tostring(L, -1);
	lua_getfield(L, idx, f.status == BPF_STACK_BUILD_ID_VALID ? "offset" : "ip");
	f.offset = (uint64_t)luaL_checkinteger(L, -1);
	if (f.status == BPF_STACK_BUILD_ID_VALID) {
		if (!hex || strlen(hex) != 2 * BPF_BUILD_ID_SIZE)
			return luaL_argerror(L, 1, "a build-id frame needs build_id (40 hex digits)");
		for (int i = 0; i < BPF_BUILD_ID_SIZE; i++) {
			unsigned int byte;

			if (sscanf(hex + 2 * i, "%2x", &byte) != 1)
				return luaL_argerror(L, 1, "build_id is not hex");
			f.build_id[i] = (unsigned char)byte;
		}
	}
	bl_sym_buildid(&f, pid, with_offset, name, sizeof(name));
	lua_pushstring(L, name);
	return 1;
}

/* BPF.add_module(path): a file whose build id stacks may name (BCC's);
 * true, or false and why (as in BCC, a missing file is not an error) */
static int l_add_module(lua_State *L)
{
	const char *path = luaL_checkstring(L, 1);

	if (bl_sym_add_module(path)) {
		lua_pushboolean(L, 0);
		lua_pushfstring(L, "cannot read the build id of %s", path);
		return 2;
	}
	lua_pushboolean(L, 1);
	return 1;
}

const luaL_Reg bl_lua_symbols_funcs[] = {
	{ "add_module", l_add_module },
	{ "ksym", l_ksym },
	{ "sym_module", l_sym_module },
	{ "sym_flush", l_sym_flush },
	{ "sym_trim", l_sym_trim },
	{ "sym_snapshot", l_sym_snapshot },
	{ "sym_snapshots", l_sym_snapshots },
	{ "elf_functions", l_elf_functions },
	{ NULL, NULL },
};
