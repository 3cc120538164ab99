/* Tables: BPF maps as BCC's Python presents them. items() takes a snapshot
 * of the keys first, so a map that changes while a script walks it cannot
 * make the walk loop. Per-CPU maps give a list with one value per CPU. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>

#include <bcc/libbpf.h>

#include "../core/load.h"
#include "../core/sys.h"
#include "lbpflua.h"

static struct ltable *check_table(lua_State *L, int idx)
{
	struct ltable *t = luaL_checkudata(L, idx, TABLE_MT);

	if (t->b->closed)
		luaL_error(L, "the BPF object of this table was cleaned up");
	return t;
}

void bl_lua_push_table(lua_State *L, int bpf_idx, struct lbpf *b, int map)
{
	struct ltable *t;

	bpf_idx = lua_absindex(L, bpf_idx);
	t = lua_newuserdatauv(L, sizeof(*t), 1);
	t->b = b;
	t->map = map;
	/* the table keeps its BPF object alive */
	lua_pushvalue(L, bpf_idx);
	lua_setiuservalue(L, -2, 1);
	luaL_setmetatable(L, TABLE_MT);
}

static int is_percpu(int type)
{
	return type == BPF_MAP_TYPE_PERCPU_HASH || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

static const struct bl_map_spec *spec(const struct ltable *t)
{
	return &t->b->obj->maps[t->map];
}

static int fd(const struct ltable *t)
{
	return t->b->map_fds[t->map];
}

/* The kernel lays per-CPU values out 8-byte aligned, one per possible CPU. */
static size_t percpu_stride(const struct bl_map_spec *m)
{
	return (m->value_size + 7) & ~(size_t)7;
}

static size_t value_bytes(const struct ltable *t)
{
	const struct bl_map_spec *m = spec(t);

	if (is_percpu(m->type))
		return percpu_stride(m) * (size_t)bl_possible_cpus();
	return m->value_size;
}

static void push_value(lua_State *L, struct ltable *t, const unsigned char *v)
{
	const struct bl_type *lt = lbpf_leaf_type(L, t->b, t->map);
	const struct bl_map_spec *m = spec(t);

	if (!is_percpu(m->type)) {
		bl_lua_push_value(L, lt, v);
		return;
	}
	int n = bl_possible_cpus();
	size_t stride = percpu_stride(m);

	lua_createtable(L, n, 0);
	for (int c = 0; c < n; c++) {
		bl_lua_push_value(L, lt, v + (size_t)c * stride);
		lua_rawseti(L, -2, c + 1);
	}
}

static void *key_from_lua(lua_State *L, struct ltable *t, int idx)
{
	const struct bl_map_spec *m = spec(t);
	void *k = lua_newuserdatauv(L, m->key_size ? m->key_size : 1, 0); /* freed by the GC */

	memset(k, 0, m->key_size);
	bl_lua_to_value(L, idx, lbpf_key_type(L, t->b, t->map), k);
	return k;
}

static int t_get(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	void *k = key_from_lua(L, t, 2);
	void *v = lua_newuserdatauv(L, value_bytes(t), 0);

	if (bpf_lookup_elem(fd(t), k, v)) {
		if (errno == ENOENT) {
			lua_pushnil(L);
			return 1;
		}
		return luaL_error(L, "lookup in %s: %s", spec(t)->name, strerror(errno));
	}
	push_value(L, t, v);
	return 1;
}

static int t_set(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	const struct bl_map_spec *m = spec(t);
	void *k = key_from_lua(L, t, 2);
	unsigned char *v = lua_newuserdatauv(L, value_bytes(t), 0);
	const struct bl_type *lt = lbpf_leaf_type(L, t->b, t->map);

	memset(v, 0, value_bytes(t));
	if (is_percpu(m->type)) {
		size_t stride = percpu_stride(m);

		luaL_checktype(L, 3, LUA_TTABLE);
		for (int c = 0; c < bl_possible_cpus(); c++) {
			if (lua_rawgeti(L, 3, c + 1) != LUA_TNIL)
				bl_lua_to_value(L, -1, lt, v + (size_t)c * stride);
			lua_pop(L, 1);
		}
	} else {
		bl_lua_to_value(L, 3, lt, v);
	}
	if (bpf_update_elem(fd(t), k, v, 0))
		return luaL_error(L, "update of %s: %s", m->name, strerror(errno));
	return 0;
}

static int t_delete(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	void *k = key_from_lua(L, t, 2);

	if (bpf_delete_elem(fd(t), k) && errno != ENOENT)
		return luaL_error(L, "delete from %s: %s", spec(t)->name, strerror(errno));
	return 0;
}

static int is_array(int type)
{
	return type == BPF_MAP_TYPE_ARRAY || type == BPF_MAP_TYPE_PERCPU_ARRAY ||
	       type == BPF_MAP_TYPE_PERF_EVENT_ARRAY || type == BPF_MAP_TYPE_PROG_ARRAY;
}

/* Collects every key into one block, boxed on the stack (box.c) so that an
 * error while they are decoded leaks nothing; returns how many. */
static size_t snapshot_keys(lua_State *L, struct ltable *t, unsigned char **out)
{
	const struct bl_map_spec *m = spec(t);
	size_t ks = m->key_size, n = 0;
	int box = lua_gettop(L) + 1;
	unsigned char *keys = bl_lua_box(L, 64 * ks + ks), *prev = NULL;

	for (;;) {
		int rc;

		keys = bl_lua_box_grow(L, box, (n + 2) * ks);
		prev = n ? keys + (n - 1) * ks : NULL;
		rc = prev ? bpf_get_next_key(fd(t), prev, keys + n * ks)
			  : bpf_get_first_key(fd(t), keys + n * ks, ks);
		if (rc)
			break;
		n++;
		if (n > (size_t)m->max_entries) /* a map being refilled as we walk */
			break;
	}
	*out = keys;
	return n;
}

/* An iterator over n items: a closure over the `nup` values on the stack,
 * then n and the position reached (0). */
static int push_iterator(lua_State *L, lua_CFunction fn, int nup, size_t n)
{
	lua_pushinteger(L, (lua_Integer)n);
	lua_pushinteger(L, 0);
	lua_pushcclosure(L, fn, nup + 2);
	return 1;
}

/* t:items() -> iterator of key, value (arrays skip nothing: zeros included;
 * hashes give what is there). */
static int items_iter(lua_State *L)
{
	struct ltable *t = check_table(L, lua_upvalueindex(1));
	unsigned char *keys = lua_touserdata(L, lua_upvalueindex(2));
	size_t n = (size_t)lua_tointeger(L, lua_upvalueindex(3));
	size_t i = (size_t)lua_tointeger(L, lua_upvalueindex(4));
	const struct bl_map_spec *m = spec(t);
	void *v = lua_newuserdatauv(L, value_bytes(t), 0);

	for (; i < n; i++) {
		unsigned char *k = keys + i * m->key_size;

		if (bpf_lookup_elem(fd(t), k, v))
			continue; /* deleted since the snapshot */
		lua_pushinteger(L, (lua_Integer)i + 1);
		lua_replace(L, lua_upvalueindex(4));
		bl_lua_push_value(L, lbpf_key_type(L, t->b, t->map), k);
		push_value(L, t, v);
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)n);
	lua_replace(L, lua_upvalueindex(4));
	return 0;
}

static int t_items(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	unsigned char *keys, *copy;
	size_t n = snapshot_keys(L, t, &keys);

	lua_pushvalue(L, 1);
	copy = lua_newuserdatauv(L, n * spec(t)->key_size + 1, 0);
	memcpy(copy, keys, n * spec(t)->key_size);
	return push_iterator(L, items_iter, 2, n);
}

static int t_keys(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	unsigned char *keys;
	size_t n = snapshot_keys(L, t, &keys);

	lua_createtable(L, (int)n, 0);
	for (size_t i = 0; i < n; i++) {
		bl_lua_push_value(L, lbpf_key_type(L, t->b, t->map), keys + i * spec(t)->key_size);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	return 1;
}

/* t:range(first, n) -> the values at indexes first .. first + n - 1 of an
 * array, in one BPF_MAP_LOOKUP_BATCH where the kernel has it (5.6): reading
 * a histogram's slots one lookup each cost an agent's scrape ~2,000 calls;
 * one lookup each on older kernels. */
static int t_range(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	const struct bl_map_spec *m = spec(t);
	lua_Integer first = luaL_checkinteger(L, 2), n = luaL_checkinteger(L, 3);
	size_t vs = value_bytes(t);
	uint32_t got = 0, prev, count;
	unsigned char *values;

	if (m->type != BPF_MAP_TYPE_ARRAY && m->type != BPF_MAP_TYPE_PERCPU_ARRAY)
		return luaL_error(L, "range: %s is not an array", m->name);
	luaL_argcheck(L, first >= 0 && first <= m->max_entries, 2, "not an index of the array");
	luaL_argcheck(L, n >= 0 && n <= m->max_entries - first, 3, "past the array's end");
	values = bl_lua_box(L, (size_t)n * vs + 1);
	if (n > 0) {
		uint32_t *keys = bl_lua_box(L, (size_t)n * sizeof(uint32_t));
		uint32_t out;
		int err;

		/* the batch starts after the index in_batch names */
		prev = (uint32_t)first - 1;
		count = (uint32_t)n;
		err = bl_sys_map_lookup_batch(fd(t), first ? &prev : NULL, &out, keys, values, &count);
		if (!err || err == -ENOENT)
			got = count;
		lua_pop(L, 1);
	}
	for (uint32_t i = got; i < (uint32_t)n; i++) { /* no batches here: one at a time */
		uint32_t k = (uint32_t)first + i;

		if (bpf_lookup_elem(fd(t), &k, values + i * vs))
			return luaL_error(L, "lookup in %s: %s", m->name, strerror(errno));
	}
	lua_createtable(L, (int)n, 0);
	for (lua_Integer i = 0; i < n; i++) {
		push_value(L, t, values + (size_t)i * vs);
		lua_rawseti(L, -2, i + 1);
	}
	return 1;
}

/* Hashes are emptied; arrays are zeroed, as BCC does. */
static int t_clear(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	const struct bl_map_spec *m = spec(t);
	unsigned char *keys;
	size_t n = snapshot_keys(L, t, &keys);
	void *zero = calloc(1, value_bytes(t) + 1);

	for (size_t i = 0; zero && i < n; i++) {
		void *k = keys + i * m->key_size;

		if (is_array(m->type))
			bpf_update_elem(fd(t), k, zero, 0);
		else
			bpf_delete_elem(fd(t), k);
	}
	free(zero);
	return 0;
}

/* t:walk(stack_id): the stack's instruction pointers, innermost first. */
static int walk_iter(lua_State *L)
{
	const uint64_t *ips = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer n = lua_tointeger(L, lua_upvalueindex(2));
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(3));

	if (i >= n || !ips[i])
		return 0;
	lua_pushinteger(L, i + 1);
	lua_replace(L, lua_upvalueindex(3));
	lua_pushinteger(L, (lua_Integer)ips[i]);
	return 1;
}

/* A build-id stack's frames, as BCC's walk gives them: {status =, build_id
 * = hex, offset =} (status 1) or {status = 2, ip =} where the kernel could
 * not read the file's build id; b:sym(frame, pid) names either. */
static int walk_buildid_iter(lua_State *L)
{
	const struct bpf_stack_build_id *f = lua_touserdata(L, lua_upvalueindex(1));
	lua_Integer n = lua_tointeger(L, lua_upvalueindex(2));
	lua_Integer i = lua_tointeger(L, lua_upvalueindex(3));
	char hex[2 * BPF_BUILD_ID_SIZE + 1];

	if (i >= n || f[i].status == BPF_STACK_BUILD_ID_EMPTY)
		return 0;
	lua_pushinteger(L, i + 1);
	lua_replace(L, lua_upvalueindex(3));
	lua_createtable(L, 0, 3);
	bl_set_int(L, "status", f[i].status);
	if (f[i].status == BPF_STACK_BUILD_ID_VALID) {
		for (int j = 0; j < BPF_BUILD_ID_SIZE; j++)
			snprintf(hex + 2 * j, 3, "%02x", f[i].build_id[j]);
		bl_set_str(L, "build_id", hex);
		bl_set_int(L, "offset", (lua_Integer)f[i].offset);
	} else {
		bl_set_int(L, "ip", (lua_Integer)f[i].ip);
	}
	return 1;
}

static int t_walk(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	const struct bl_map_spec *m = spec(t);
	uint32_t id = (uint32_t)luaL_checkinteger(L, 2);
	uint64_t *ips;

	if (m->type != BPF_MAP_TYPE_STACK_TRACE)
		return luaL_error(L, "%s is not a stack trace table", m->name);
	if (m->flags & BPF_F_STACK_BUILD_ID) {
		void *frames = lua_newuserdatauv(L, m->value_size, 0);

		if (bpf_lookup_elem(fd(t), &id, frames))
			memset(frames, 0, m->value_size);
		return push_iterator(L, walk_buildid_iter, 1, m->value_size / sizeof(struct bpf_stack_build_id));
	}
	ips = lua_newuserdatauv(L, m->value_size, 0);
	if (bpf_lookup_elem(fd(t), &id, ips))
		memset(ips, 0, m->value_size);
	return push_iterator(L, walk_iter, 1, m->value_size / 8);
}

/* t:key_fields() -> the key struct's field names in order (BCC's
 * Key._fields_), or nil when the key is not a struct */
static int t_key_fields(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	const struct bl_type *k = lbpf_key_type(L, t->b, t->map);
	int n = 0;

	if (k->kind != BL_STRUCT)
		return 0;
	lua_createtable(L, (int)k->nfields, 0);
	for (size_t i = 0; i < k->nfields; i++)
		if (strncmp(k->fields[i].name, "__pad", 5)) {
			lua_pushstring(L, k->fields[i].name);
			lua_rawseti(L, -2, ++n);
		}
	return 1;
}

/* #t: how many entries the table holds now (BCC's len(table)). */
static int t_len(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	unsigned char *keys;
	size_t n = snapshot_keys(L, t, &keys); /* boxed: freed with the stack */

	lua_pushinteger(L, (lua_Integer)n);
	return 1;
}

static int t_name(lua_State *L)
{
	lua_pushstring(L, spec(check_table(L, 1))->name);
	return 1;
}

static const char *kind_name(int type)
{
	switch (type) {
	case BPF_MAP_TYPE_HASH: return "hash";
	case BPF_MAP_TYPE_ARRAY: return "array";
	case BPF_MAP_TYPE_PERCPU_HASH: return "percpu_hash";
	case BPF_MAP_TYPE_PERCPU_ARRAY: return "percpu_array";
	case BPF_MAP_TYPE_LRU_HASH: return "lru_hash";
	case BPF_MAP_TYPE_STACK_TRACE: return "stack_trace";
	case BPF_MAP_TYPE_PERF_EVENT_ARRAY: return "perf_event_array";
	case BPF_MAP_TYPE_RINGBUF: return "ringbuf";
	default: return "other";
	}
}

static int t_info(lua_State *L)
{
	struct ltable *t = check_table(L, 1);
	const struct bl_map_spec *m = spec(t);

	lua_createtable(L, 0, 6);
	bl_set_str(L, "name", m->name);
	bl_set_int(L, "type", m->type);
	bl_set_int(L, "key_size", m->key_size);
	bl_set_int(L, "value_size", m->value_size);
	bl_set_int(L, "max_entries", m->max_entries);
	bl_set_bool(L, "percpu", is_percpu(m->type));
	bl_set_str(L, "kind", kind_name(m->type));
	return 1;
}

static int t_tostring(lua_State *L)
{
	struct ltable *t = luaL_checkudata(L, 1, TABLE_MT);

	lua_pushfstring(L, "BPF table %s", t->b->closed ? "(closed)" : spec(t)->name);
	return 1;
}

static const luaL_Reg table_methods[] = {
	{ "get", t_get },
	{ "set", t_set },
	{ "delete", t_delete },
	{ "items", t_items },
	{ "range", t_range },
	{ "keys", t_keys },
	{ "clear", t_clear },
	{ "walk", t_walk },
	{ "key_fields", t_key_fields },
	{ "name", t_name },
	{ "info", t_info },
	{ "open_perf_buffer", bl_lua_open_perf_buffer },
	{ "open_ring_buffer", bl_lua_open_ring_buffer },
	{ NULL, NULL },
};

void bl_lua_table_open(lua_State *L)
{
	static const luaL_Reg meta[] = { { "__tostring", t_tostring }, { "__len", t_len }, { NULL, NULL } };

	bl_lua_class(L, TABLE_MT, meta, table_methods);
}
