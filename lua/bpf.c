/* The BPF object as Lua sees it, named after BCC's Python API:
 * BPF{text=...}, b:attach_tracepoint{...}, b:get_table(name), b:cleanup(). */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/attach/usdt.h"
#include "../core/compile.h"
#include "../core/error.h"
#include "../core/kernel.h"
#include "../core/load.h"
#include "../core/grow.h"
#include "../core/open.h"
#include "../core/symbols.h"
#include "lbpflua.h"

struct lbpf *lbpf_check(lua_State *L, int idx)
{
	struct lbpf *b = luaL_checkudata(L, idx, BPF_MT);

	if (b->closed)
		luaL_error(L, "this BPF object was cleaned up");
	return b;
}

/* Frees everything the object owns, in reverse order of creation: links
 * first so no program runs on a half-freed object. Safe to call twice. */
void lbpf_release(struct lbpf *b)
{
	if (b->closed)
		return;
	b->closed = 1;
	bl_detach_all(b->links, b->nlinks);
	free(b->links);
	bl_lua_free_buffers(b);
	for (size_t i = 0; i < b->nprogs; i++) {
		close(b->progs[i].fd);
		free(b->progs[i].name);
	}
	free(b->progs);
	if (b->obj) {
		for (size_t i = 0; i < b->obj->nmaps; i++) {
			if (b->key_types)
				bl_type_free(b->key_types[i]);
			if (b->leaf_types)
				bl_type_free(b->leaf_types[i]);
			if (b->event_types)
				bl_type_free(b->event_types[i]);
		}
	}
	free(b->key_types);
	free(b->leaf_types);
	free(b->event_types);
	bl_object_close(b->obj, b->map_fds);
	b->obj = NULL;
	b->map_fds = NULL;
	if (b->L && b->cb_error_ref != LUA_NOREF)
		luaL_unref(b->L, LUA_REGISTRYINDEX, b->cb_error_ref);
	b->cb_error_ref = LUA_NOREF;
}

static int bpf_gc(lua_State *L)
{
	lbpf_release(luaL_checkudata(L, 1, BPF_MT));
	return 0;
}

static const struct bl_type *lazy_type(lua_State *L, struct bl_type **slot, const char *desc,
				       size_t size, const char *what, const char *map)
{
	if (*slot)
		return *slot;
	if (desc && !bl_type_parse(desc, slot))
		return *slot;
	/* no usable description: decode as an integer of the right size */
	*slot = bl_type_scalar(size, 0);
	if (!*slot)
		luaL_error(L, "out of memory decoding the %s of %s", what, map);
	return *slot;
}

const struct bl_type *lbpf_key_type(lua_State *L, struct lbpf *b, int map)
{
	const struct bl_map_spec *m = &b->obj->maps[map];

	return lazy_type(L, &b->key_types[map], m->key_desc, m->key_size, "key", m->name);
}

const struct bl_type *lbpf_leaf_type(lua_State *L, struct lbpf *b, int map)
{
	const struct bl_map_spec *m = &b->obj->maps[map];

	return lazy_type(L, &b->leaf_types[map], m->leaf_desc, m->value_size, "value", m->name);
}

const struct bl_type *lbpf_event_type(lua_State *L, struct lbpf *b, int map)
{
	const struct bl_map_spec *m = &b->obj->maps[map];

	if (b->event_types[map] || !m->nevent_fields)
		return b->event_types[map];
	if (bl_type_from_fields((const char *const *)m->event_fields, m->nevent_fields, &b->event_types[map]))
		luaL_error(L, "cannot decode the event type of %s (%s, ...)", m->name, m->event_fields[0]);
	return b->event_types[map];
}

/* Pushes the contents of path as a string. */
static void push_file(lua_State *L, const char *path)
{
	FILE *f = fopen(path, "r");
	luaL_Buffer buf;
	char chunk[4096];
	size_t n;

	if (!f)
		luaL_error(L, "cannot open %s: %s", path, strerror(errno));
	luaL_buffinit(L, &buf);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		luaL_addlstring(&buf, chunk, n);
	fclose(f);
	luaL_pushresult(&buf);
}

/* Loads fn as prog_type once; later attaches reuse the fd. */
static int load_func(lua_State *L, struct lbpf *b, const char *fn, int prog_type)
{
	struct lprog *p;
	int fd;

	for (size_t i = 0; i < b->nprogs; i++)
		if (b->progs[i].type == prog_type && !strcmp(b->progs[i].name, fn))
			return b->progs[i].fd;
	if (bl_load_prog(b->obj, b->map_fds, fn, prog_type, &fd))
		bl_lua_raise_core(L, NULL);
	p = realloc(b->progs, sizeof(*p) * (b->nprogs + 1));
	if (!p) {
		close(fd);
		luaL_error(L, "out of memory");
	}
	b->progs = p;
	p[b->nprogs].name = strdup(fn);
	p[b->nprogs].type = prog_type;
	p[b->nprogs].fd = fd;
	b->nprogs++;
	return fd;
}

static void do_attach(lua_State *L, struct lbpf *b, const char *kind, const char *fn,
		      const struct bl_attach_spec *spec)
{
	const struct bl_provider *prov = bl_provider_find(kind);
	struct bl_link link;
	int fd;

	if (bl_grow((void **)&b->links, &b->caplinks, b->nlinks + 1, sizeof(*b->links), 8))
		luaL_error(L, "out of memory");
	if (!strcmp(kind, "kprobe") && !bl_features()->kprobes) {
		/* say "no kprobes" before the program is even loaded */
		if (bl_attach(prov, -1, spec, &link))
			bl_lua_raise_core(L, NULL);
	}
	fd = load_func(L, b, fn, prov->prog_type);
	if (bl_attach(prov, fd, spec, &link))
		bl_lua_raise_core(L, NULL);
	b->links[b->nlinks++] = link;
}

static const char *opt_string(lua_State *L, int t, const char *k, const char *dflt)
{
	const char *s;

	lua_getfield(L, t, k);
	s = luaL_optstring(L, -1, dflt);
	lua_pop(L, 1);
	if (!s)
		luaL_error(L, "missing argument '%s'", k);
	return s;
}

static int opt_bool(lua_State *L, int t, const char *k)
{
	int v, type = lua_getfield(L, t, k);

	if (type != LUA_TNIL && type != LUA_TBOOLEAN)
		luaL_error(L, "argument '%s' must be a boolean", k);
	v = lua_toboolean(L, -1);
	lua_pop(L, 1);
	return v;
}

static lua_Integer opt_int(lua_State *L, int t, const char *k, lua_Integer dflt)
{
	lua_Integer v;

	lua_getfield(L, t, k);
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return dflt;
	}
	if (!lua_isinteger(L, -1))
		luaL_error(L, "argument '%s' must be an integer", k);
	v = lua_tointeger(L, -1);
	lua_pop(L, 1);
	return v;
}

/* b:attach_tracepoint{tp=, fn_name=}, b:attach_raw_tracepoint{tp=, fn_name=} */
static int attach_tp(lua_State *L, const char *kind)
{
	struct lbpf *b = lbpf_check(L, 1);
	struct bl_attach_spec s = { .pid = -1, .cpu = -1 };

	luaL_checktype(L, 2, LUA_TTABLE);
	s.target = opt_string(L, 2, "tp", NULL);
	do_attach(L, b, kind, opt_string(L, 2, "fn_name", NULL), &s);
	return 0;
}

static int l_attach_tracepoint(lua_State *L) { return attach_tp(L, "tracepoint"); }
static int l_attach_raw_tracepoint(lua_State *L) { return attach_tp(L, "raw_tracepoint"); }

static int l_attach_perf_event(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);
	struct bl_attach_spec s;

	luaL_checktype(L, 2, LUA_TTABLE);
	memset(&s, 0, sizeof(s));
	s.ev_type = (uint32_t)opt_int(L, 2, "ev_type", PERF_TYPE_SOFTWARE);
	s.ev_config = (uint32_t)opt_int(L, 2, "ev_config", PERF_COUNT_SW_CPU_CLOCK);
	s.sample_freq = (uint64_t)opt_int(L, 2, "sample_freq", 0);
	s.sample_period = (uint64_t)opt_int(L, 2, "sample_period", 0);
	if (!s.sample_freq && !s.sample_period)
		return luaL_error(L, "attach_perf_event needs sample_freq or sample_period");
	s.pid = (int)opt_int(L, 2, "pid", -1);
	s.cpu = (int)opt_int(L, 2, "cpu", -1);
	do_attach(L, b, "perf_event", opt_string(L, 2, "fn_name", NULL), &s);
	return 0;
}

static int attach_uprobe(lua_State *L, int ret)
{
	struct lbpf *b = lbpf_check(L, 1);
	struct bl_attach_spec s = { .cpu = -1 };

	luaL_checktype(L, 2, LUA_TTABLE);
	s.target = opt_string(L, 2, "name", NULL);
	s.sym = opt_string(L, 2, "sym", "");
	if (!*s.sym)
		s.sym = NULL;
	s.addr = (uint64_t)opt_int(L, 2, "addr", 0);
	if (!s.sym && !s.addr)
		return luaL_error(L, "attach_uprobe needs sym or addr");
	s.pid = (int)opt_int(L, 2, "pid", -1);
	s.retprobe = ret;
	s.emulate = opt_bool(L, 2, "emulate");
	do_attach(L, b, "uprobe", opt_string(L, 2, "fn_name", NULL), &s);
	return 0;
}

static int l_attach_uprobe(lua_State *L) { return attach_uprobe(L, 0); }
static int l_attach_uretprobe(lua_State *L) { return attach_uprobe(L, 1); }

static int attach_kprobe(lua_State *L, int ret)
{
	struct lbpf *b = lbpf_check(L, 1);
	struct bl_attach_spec s = { .pid = -1, .cpu = -1 };

	luaL_checktype(L, 2, LUA_TTABLE);
	s.target = opt_string(L, 2, "event", NULL);
	s.retprobe = ret;
	do_attach(L, b, "kprobe", opt_string(L, 2, "fn_name", NULL), &s);
	return 0;
}

static int l_attach_kprobe(lua_State *L) { return attach_kprobe(L, 0); }
static int l_attach_kretprobe(lua_State *L) { return attach_kprobe(L, 1); }

/* BCC's naming convention: the function's name says where it goes. */
static void auto_attach(lua_State *L, struct lbpf *b)
{
	for (size_t i = 0; i < b->obj->nfuncs; i++) {
		const char *fn = b->obj->funcs[i].name;
		struct bl_attach_spec s = { .pid = -1, .cpu = -1 };
		char target[256];

		if (!strncmp(fn, "tracepoint__", 12)) {
			const char *sep = strstr(fn + 12, "__");

			if (!sep)
				continue;
			snprintf(target, sizeof(target), "%.*s:%s", (int)(sep - fn - 12), fn + 12, sep + 2);
			s.target = target;
			do_attach(L, b, "tracepoint", fn, &s);
		} else if (!strncmp(fn, "raw_tracepoint__", 16)) {
			s.target = fn + 16;
			do_attach(L, b, "raw_tracepoint", fn, &s);
		} else if (!strncmp(fn, "kprobe__", 8) || !strncmp(fn, "kretprobe__", 11)) {
			s.retprobe = fn[1] == 'r';
			s.target = fn + (s.retprobe ? 11 : 8);
			do_attach(L, b, "kprobe", fn, &s);
		}
	}
}

/* BCC attaches a USDT context's enabled probes as the object is made: each
 * location of each probe, its semaphore counted by the kernel. */
static void attach_usdt_probe(lua_State *L, struct lbpf *b, const struct bl_usdt *u,
			      const struct bl_usdt_probe *p, const char *fn)
{
	for (int i = 0; i < p->nlocations; i++) {
		struct bl_attach_spec s;
		char path[4096], desc[256];

		if (bl_usdt_location_spec(u, p, i, &s, path, sizeof(path), desc, sizeof(desc)))
			bl_lua_raise_core(L, NULL);
		do_attach(L, b, "uprobe", fn, &s);
	}
}

static void attach_usdt_contexts(lua_State *L, struct lbpf *b, int list)
{
	for (lua_Integer i = 1; lua_rawgeti(L, list, i) != LUA_TNIL; i++) {
		struct bl_usdt *u = bl_lua_check_usdt(L, -1);

		for (size_t j = 0; j < u->nenabled; j++)
			attach_usdt_probe(L, b, u, u->enabled[j].probe, u->enabled[j].fn_name);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

/* (b, usdt_contexts or nil) */
static int l_auto_attach(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);

	if (lua_istable(L, 2))
		attach_usdt_contexts(L, b, 2);
	auto_attach(L, b);
	return 0;
}

/* b:attach_usdt{ usdt = USDT{...}, probe = "[provider:]name", fn_name = } */
static int l_attach_usdt(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);
	const struct bl_usdt_probe *p;
	struct bl_usdt *u;

	luaL_checktype(L, 2, LUA_TTABLE);
	lua_getfield(L, 2, "usdt");
	u = bl_lua_check_usdt(L, -1);
	if (bl_usdt_find(u, opt_string(L, 2, "probe", NULL), &p))
		return bl_lua_raise_core(L, NULL);
	attach_usdt_probe(L, b, u, p, opt_string(L, 2, "fn_name", NULL));
	return 0;
}

/* A BPF{} field of the wrong type: the message names the field, as
 * luaL_argerror names an argument. */
static int field_error(lua_State *L, const char *field, const char *want, int idx)
{
	return luaL_error(L, "BPF{}: %s must be %s, not %s", field, want, luaL_typename(L, idx));
}

#define MAX_CFLAGS 64

/* The C libbcc compiles: the USDT contexts' argument readers, and
 * <uapi/linux/ptrace.h> for a program that uses struct pt_regs without
 * including it (BCC's tools rely on getting it), then the script's text at
 * its own line 1. Replaces the text at index text with the result. */
static void push_program_text(lua_State *L, int args, int text)
{
	const char *src = lua_tostring(L, text);
	struct bl_usdt *us[16];
	size_t n = 0;
	char *gen = NULL;
	luaL_Buffer buf;

	lua_getfield(L, args, "usdt_contexts");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			field_error(L, "usdt_contexts", "a list of USDT{} contexts", -1);
		for (lua_Integer i = 1; lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
			if (n == sizeof(us) / sizeof(us[0]))
				luaL_error(L, "BPF{}: at most %d usdt_contexts", (int)n);
			if (!luaL_testudata(L, -1, USDT_MT))
				luaL_error(L, "BPF{}: usdt_contexts[%d] must be a USDT{} context, not %s", (int)i,
					   luaL_typename(L, -1));
			us[n++] = bl_lua_check_usdt(L, -1);
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	if (n && bl_usdt_genargs(us, n, &gen))
		bl_lua_raise_core(L, NULL);
	if (!gen && (!strstr(src, "pt_regs") || strstr(src, "linux/ptrace.h")))
		return;
	/* the generated C as a Lua string first: nothing malloc'd is held
	 * across the calls below, which may raise */
	luaL_buffinit(L, &buf);
	lua_pushstring(L, gen ? gen : "#include <uapi/linux/ptrace.h>\n");
	free(gen);
	luaL_addvalue(&buf);
	luaL_addstring(&buf, "#line 1\n");
	luaL_addstring(&buf, src);
	luaL_pushresult(&buf);
	lua_replace(L, text);
}

/* BPF{ text = src | src_file = path, cflags = {...} } */
static int l_new(lua_State *L)
{
	const char *cflags[MAX_CFLAGS];
	struct bl_compile_opts co = { 0 };
	struct lbpf *b;
	int nc = 0, top, use_cache;

	if (!lua_istable(L, 1))
		return luaL_argerror(L, 1, "BPF{} takes a table: BPF{ text = \"C source\" }");
	lua_getfield(L, 1, "text");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		lua_getfield(L, 1, "src_file");
		if (lua_isnil(L, -1))
			return luaL_error(L, "BPF{} needs text or src_file");
		if (lua_type(L, -1) != LUA_TSTRING)
			return field_error(L, "src_file", "a path", -1);
		push_file(L, lua_tostring(L, -1));
		lua_remove(L, -2);
	} else if (lua_type(L, -1) != LUA_TSTRING) {
		return field_error(L, "text", "a string of C", -1);
	}
	push_program_text(L, 1, lua_gettop(L));
	co.text = lua_tostring(L, -1);
	top = lua_gettop(L);
	lua_getfield(L, 1, "cflags");
	if (!lua_isnil(L, -1)) {
		if (!lua_istable(L, -1))
			return field_error(L, "cflags", "a list of strings", -1);
		for (lua_Integer i = 1;; i++) {
			if (lua_rawgeti(L, top + 1, i) == LUA_TNIL) {
				lua_pop(L, 1);
				break;
			}
			if (lua_type(L, -1) != LUA_TSTRING)
				return luaL_error(L, "BPF{}: cflags[%d] must be a string, not %s", (int)i,
						  luaL_typename(L, -1));
			if (nc == MAX_CFLAGS)
				return luaL_error(L, "BPF{}: at most %d cflags", MAX_CFLAGS);
			cflags[nc++] = lua_tostring(L, -1); /* stays on the stack */
		}
	}
	/* what the kernel lacks, for the snippets' headers (probes/config.h) */
	if (nc > MAX_CFLAGS - 2)
		return luaL_error(L, "BPF{}: at most %d cflags", MAX_CFLAGS - 2);
	if (!bl_features()->ancestor_cgroup)
		cflags[nc++] = "-DBL_NO_ANCESTOR_CGROUP";
	if (!bl_features()->noprealloc_perf_event)
		cflags[nc++] = "-DBL_PREALLOC_ONLY";
	co.cflags = cflags;
	co.ncflags = nc;

	b = lua_newuserdatauv(L, sizeof(*b), 1);
	memset(b, 0, sizeof(*b));
	b->cb_error_ref = LUA_NOREF;
	b->closed = 1; /* nothing to release until the object is complete */
	luaL_setmetatable(L, BPF_MT);
	lua_getfield(L, 1, "cache");
	use_cache = lua_isnil(L, -1) || lua_toboolean(L, -1);
	lua_pop(L, 1);
	if (bl_object_open(&co, use_cache, &b->obj, &b->map_fds))
		return bl_lua_raise_core(L, NULL);
	b->closed = 0;
	b->L = L;
	b->key_types = calloc(b->obj->nmaps + 1, sizeof(void *));
	b->leaf_types = calloc(b->obj->nmaps + 1, sizeof(void *));
	b->event_types = calloc(b->obj->nmaps + 1, sizeof(void *));
	if (!b->key_types || !b->leaf_types || !b->event_types) {
		lbpf_release(b);
		return luaL_error(L, "out of memory");
	}
	/* A failed auto-attach must not leave the earlier ones attached until
	 * the collector gets round to the object. */
	lua_pushcfunction(L, l_auto_attach);
	lua_pushvalue(L, -2);
	lua_getfield(L, 1, "usdt_contexts");
	if (lua_pcall(L, 2, 0, 0)) {
		lbpf_release(b);
		return lua_error(L);
	}
	return 1;
}

static int l_cleanup(lua_State *L)
{
	lbpf_release(luaL_checkudata(L, 1, BPF_MT));
	return 0;
}

static int l_get_table(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);
	const char *name = luaL_checkstring(L, 2);
	int map = bl_object_map_index(b->obj, name);

	if (map < 0) {
		luaL_Buffer buf;

		luaL_buffinit(L, &buf);
		for (size_t i = 0; i < b->obj->nmaps; i++) {
			luaL_addstring(&buf, i ? ", " : "");
			luaL_addstring(&buf, b->obj->maps[i].name);
		}
		luaL_pushresult(&buf);
		return luaL_error(L, "no table named '%s' in this program (it has: %s)", name,
				  b->obj->nmaps ? lua_tostring(L, -1) : "none");
	}
	bl_lua_push_table(L, 1, b, map);
	return 1;
}

static int l_load_func(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);

	lua_pushinteger(L, load_func(L, b, luaL_checkstring(L, 2), (int)luaL_checkinteger(L, 3)));
	return 1;
}

/* b:functions(), b:tables(): the object's names, in the program's order */
static int l_names(lua_State *L, int maps)
{
	struct lbpf *b = lbpf_check(L, 1);
	size_t n = maps ? b->obj->nmaps : b->obj->nfuncs;

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		lua_pushstring(L, maps ? b->obj->maps[i].name : b->obj->funcs[i].name);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

static int l_functions(lua_State *L) { return l_names(L, 0); }
static int l_tables(lua_State *L) { return l_names(L, 1); }

/* What is attached, as strings: for listings and for tests. */
static int l_attached(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);

	lua_createtable(L, (int)b->nlinks, 0);
	for (size_t i = 0; i < b->nlinks; i++) {
		lua_pushstring(L, b->links[i].desc);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* b:detach(n or "desc"): detaches one of the object's probes (as listed by
 * b:attached()) and keeps the rest; returns what it detached. */
static int l_detach(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);
	size_t i = b->nlinks;

	if (lua_isinteger(L, 2)) {
		lua_Integer n = lua_tointeger(L, 2);

		if (n >= 1 && (lua_Unsigned)n <= b->nlinks)
			i = (size_t)n - 1;
	} else {
		const char *want = luaL_checkstring(L, 2);

		for (i = 0; i < b->nlinks && strcmp(b->links[i].desc, want); i++)
			;
	}
	if (i == b->nlinks)
		return luaL_argerror(L, 2, "no such probe attached (b:attached() lists them)");
	lua_pushstring(L, b->links[i].desc);
	bl_detach(&b->links[i]);
	memmove(&b->links[i], &b->links[i + 1], (b->nlinks - i - 1) * sizeof(b->links[0]));
	b->nlinks--;
	return 1;
}

static void drop_link(struct lbpf *b, size_t i)
{
	bl_detach(&b->links[i]);
	memmove(&b->links[i], &b->links[i + 1], (b->nlinks - i - 1) * sizeof(b->links[0]));
	b->nlinks--;
}

/* Detaches every link of provider prov whose desc (or uprobe key) is want;
 * returns how many. */
static size_t detach_matching(struct lbpf *b, const struct bl_provider *prov, const char *want, int by_key)
{
	size_t n = 0;

	for (size_t i = b->nlinks; i-- > 0;)
		if (b->links[i].prov == prov && !strcmp(by_key ? b->links[i].key : b->links[i].desc, want)) {
			drop_link(b, i);
			n++;
		}
	return n;
}

/* BCC's detach_tracepoint(tp=), detach_kprobe(event=), detach_kretprobe(event=) */
static int detach_named(lua_State *L, const char *kind, const char *field, const char *prefix)
{
	struct lbpf *b = lbpf_check(L, 1);
	const char *name;

	luaL_checktype(L, 2, LUA_TTABLE);
	name = opt_string(L, 2, field, NULL);
	lua_pushfstring(L, "%s:%s", prefix, name);
	if (!detach_matching(b, bl_provider_find(kind), lua_tostring(L, -1), 0))
		return luaL_error(L, "%s %s is not attached (b:attached() lists what is)", prefix, name);
	return 0;
}

static int l_detach_tracepoint(lua_State *L) { return detach_named(L, "tracepoint", "tp", "tracepoint"); }
static int l_detach_raw_tracepoint(lua_State *L) { return detach_named(L, "raw_tracepoint", "tp", "raw_tracepoint"); }
static int l_detach_kprobe(lua_State *L) { return detach_named(L, "kprobe", "event", "kprobe"); }
static int l_detach_kretprobe(lua_State *L) { return detach_named(L, "kprobe", "event", "kretprobe"); }

/* BCC's detach_uprobe{name=, sym=, addr=, pid=}: the same binary and
 * offset its attach_uprobe resolved, so a symbol or its address both work. */
static int detach_uprobe(lua_State *L, int ret)
{
	struct lbpf *b = lbpf_check(L, 1);
	struct bl_attach_spec s = { .cpu = -1 };
	char key[320];

	luaL_checktype(L, 2, LUA_TTABLE);
	s.target = opt_string(L, 2, "name", NULL);
	s.sym = opt_string(L, 2, "sym", "");
	if (!*s.sym)
		s.sym = NULL;
	s.addr = (uint64_t)opt_int(L, 2, "addr", 0);
	s.pid = (int)opt_int(L, 2, "pid", -1);
	s.retprobe = ret;
	s.emulate = opt_bool(L, 2, "emulate");
	if (bl_uprobe_key(&s, key, sizeof(key)))
		return bl_lua_raise_core(L, NULL);
	if (!detach_matching(b, &bl_uprobe_provider, key, 1))
		return luaL_error(L, "%s %s:%s is not attached (b:attached() lists what is)",
				  ret ? "uretprobe" : "uprobe", s.target, s.sym ? s.sym : "");
	return 0;
}

static int l_detach_uprobe(lua_State *L) { return detach_uprobe(L, 0); }
static int l_detach_uretprobe(lua_State *L) { return detach_uprobe(L, 1); }

/* BCC's num_open_kprobes() and the like: the probes of one kind attached */
static int num_open(lua_State *L, const char *kind)
{
	struct lbpf *b = lbpf_check(L, 1);
	const struct bl_provider *prov = bl_provider_find(kind);
	lua_Integer n = 0;

	for (size_t i = 0; i < b->nlinks; i++)
		n += b->links[i].prov == prov;
	lua_pushinteger(L, n);
	return 1;
}

static int l_num_open_kprobes(lua_State *L) { return num_open(L, "kprobe"); }
static int l_num_open_uprobes(lua_State *L) { return num_open(L, "uprobe"); }
static int l_num_open_tracepoints(lua_State *L) { return num_open(L, "tracepoint"); }

/* b.name / b["name"]: a method, else the table of that name (BCC's
 * b["counts"]); nil for anything else, so `if b.x then` still works. */
static int bpf_index(lua_State *L)
{
	struct lbpf *b;

	lua_pushvalue(L, 2);
	if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL || lua_type(L, 2) != LUA_TSTRING)
		return 1;
	b = luaL_checkudata(L, 1, BPF_MT);
	if (b->closed || bl_object_map_index(b->obj, lua_tostring(L, 2)) < 0)
		return 1;
	bl_lua_push_table(L, 1, b, bl_object_map_index(b->obj, lua_tostring(L, 2)));
	return 1;
}

static int l_sym(lua_State *L)
{
	uint64_t addr;
	int pid = (int)luaL_optinteger(L, 3, -1);
	int with_offset = lua_toboolean(L, 4);
	char name[512];

	if (lua_istable(L, 2)) /* a frame of a build-id stack */
		return bl_lua_sym_frame(L, 2, pid, with_offset);
	addr = (uint64_t)luaL_checkinteger(L, 2);
	bl_sym_resolve(pid, addr, with_offset, name, sizeof(name));
	lua_pushstring(L, name);
	return 1;
}

static const luaL_Reg bpf_methods[] = {
	{ "attach_tracepoint", l_attach_tracepoint },
	{ "attach_raw_tracepoint", l_attach_raw_tracepoint },
	{ "attach_perf_event", l_attach_perf_event },
	{ "attach_uprobe", l_attach_uprobe },
	{ "attach_uretprobe", l_attach_uretprobe },
	{ "attach_kprobe", l_attach_kprobe },
	{ "attach_kretprobe", l_attach_kretprobe },
	{ "get_table", l_get_table },
	{ "load_func", l_load_func },
	{ "functions", l_functions },
	{ "tables", l_tables },
	{ "attached", l_attached },
	{ "detach", l_detach },
	{ "sym", l_sym },
	{ "attach_usdt", l_attach_usdt },
	{ "detach_tracepoint", l_detach_tracepoint },
	{ "detach_raw_tracepoint", l_detach_raw_tracepoint },
	{ "detach_kprobe", l_detach_kprobe },
	{ "detach_kretprobe", l_detach_kretprobe },
	{ "detach_uprobe", l_detach_uprobe },
	{ "detach_uretprobe", l_detach_uretprobe },
	{ "num_open_kprobes", l_num_open_kprobes },
	{ "num_open_uprobes", l_num_open_uprobes },
	{ "num_open_tracepoints", l_num_open_tracepoints },
	{ "perf_buffer_poll", bl_lua_perf_buffer_poll },
	{ "ring_buffer_poll", bl_lua_ring_buffer_poll },
	{ "ring_buffer_consume", bl_lua_ring_buffer_consume },
	{ "ring_buffer_fill", bl_lua_ring_buffer_fill },
	{ "cleanup", l_cleanup },
	{ NULL, NULL },
};

static const luaL_Reg module_funcs[] = {
	{ "new", l_new },
	{ "json", bl_lua_json },
	{ NULL, NULL },
};

static int module_call(lua_State *L)
{
	lua_remove(L, 1); /* BPF{...} is BPF.new{...} */
	return l_new(L);
}

static const luaL_Reg *const libraries[] = {
	module_funcs, bl_lua_host_funcs, bl_lua_cache_funcs, bl_lua_symbols_funcs, bl_lua_inet_funcs,
	bl_lua_text_funcs,
	bl_lua_http_client_funcs,
	bl_lua_trace_funcs,
	bl_lua_httpd_funcs, bl_lua_pprof_funcs, bl_lua_agent_funcs, /* the agent's */
};

int luaopen_bpf(lua_State *L)
{
	static const struct { const char *name; lua_Integer v; } consts[] = {
		{ "PERF_TYPE_HARDWARE", PERF_TYPE_HARDWARE },
		{ "PERF_TYPE_SOFTWARE", PERF_TYPE_SOFTWARE },
		{ "PERF_COUNT_HW_CPU_CYCLES", PERF_COUNT_HW_CPU_CYCLES },
		{ "PERF_COUNT_HW_INSTRUCTIONS", PERF_COUNT_HW_INSTRUCTIONS },
		{ "PERF_COUNT_HW_CACHE_MISSES", PERF_COUNT_HW_CACHE_MISSES },
		{ "PERF_COUNT_SW_CPU_CLOCK", PERF_COUNT_SW_CPU_CLOCK },
		{ "PERF_COUNT_SW_TASK_CLOCK", PERF_COUNT_SW_TASK_CLOCK },
		{ "PERF_COUNT_SW_PAGE_FAULTS", PERF_COUNT_SW_PAGE_FAULTS },
		{ "PERF_COUNT_SW_CONTEXT_SWITCHES", PERF_COUNT_SW_CONTEXT_SWITCHES },
		{ "KPROBE", BPF_PROG_TYPE_KPROBE },
		{ "TRACEPOINT", BPF_PROG_TYPE_TRACEPOINT },
		{ "RAW_TRACEPOINT", BPF_PROG_TYPE_RAW_TRACEPOINT },
		{ "PERF_EVENT", BPF_PROG_TYPE_PERF_EVENT },
		/* what helpers return, negated (e.g. get_stackid: -EFAULT, no user stack) */
		{ "EFAULT", EFAULT },
		{ "ENOENT", ENOENT },
	};

	static const luaL_Reg meta[] = { { "__gc", bpf_gc }, { "__close", bpf_gc }, { NULL, NULL } };

	bl_lua_class(L, BPF_MT, meta, bpf_methods);
	bl_lua_table_open(L);

	/* the module: the object's constructor, then one library per concern */
	lua_newtable(L);
	for (size_t i = 0; i < sizeof(libraries) / sizeof(libraries[0]); i++)
		luaL_setfuncs(L, libraries[i], 0);
	bl_lua_process_open(L);
	bl_lua_errors_open(L);
	bl_lua_outfile_open(L);
	bl_lua_usdt_open(L);
	for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++) {
		lua_pushinteger(L, consts[i].v);
		lua_setfield(L, -2, consts[i].name);
	}
	/* Lua code may extend the object and table methods (histograms and such) */
	luaL_getmetatable(L, BPF_MT);
	lua_getfield(L, -1, "__index");
	lua_pushvalue(L, -1);
	lua_setfield(L, -4, "methods");
	lua_pushvalue(L, -1);
	lua_setfield(L, -3, "__methods"); /* __index is a function: where the methods are */
	lua_pushcclosure(L, bpf_index, 1);
	lua_setfield(L, -2, "__index");
	lua_pop(L, 1);
	luaL_getmetatable(L, TABLE_MT);
	lua_getfield(L, -1, "__index");
	lua_setfield(L, -3, "table_methods");
	lua_pop(L, 1);
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, module_call);
	lua_setfield(L, -2, "__call");
	lua_setmetatable(L, -2);
	return 1;
}
