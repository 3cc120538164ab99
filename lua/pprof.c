/* BPF.pprof_encode(p): a profile in pprof's format (google/pprof's
 * profile.proto, packed by protobuf-c from code generated at build time),
 * gzipped as `go tool pprof`, Parca and Pyroscope expect it.
 *
 * lua/bpflua/pprof.lua does the bookkeeping (string table, one function and
 * one location per frame name) and hands over plain indices:
 *   { strings = { "", ... },              -- string_table, index 0 first
 *     sample_type = { {type, unit}, ... },  -- string indices
 *     period_type = {type, unit}, period = N, time_nanos = N, duration_nanos = N,
 *     functions = { name, ... },            -- function k (and location k) names strings[name]
 *     samples = { { locs = {k, ...}, values = {v, ...}, labels = {key, str, ...} }, ... } }
 * Every message lives in a userdata anchored in one table, so a bad
 * argument raises without leaking. */
#include <string.h>
#include <zlib.h>

#include "lbpflua.h"
#include "profile.pb-c.h"

struct enc {
	lua_State *L;
	int anchor; /* stack index of the table that keeps allocations alive */
	int n;
};

static void *alloc(struct enc *e, size_t size)
{
	void *p = lua_newuserdatauv(e->L, size ? size : 1, 0);

	memset(p, 0, size ? size : 1);
	lua_rawseti(e->L, e->anchor, ++e->n);
	return p;
}

/* integer t[k] of the table at idx */
static lua_Integer int_at(lua_State *L, int idx, lua_Integer k, const char *what)
{
	lua_Integer v;
	int ok;

	lua_geti(L, idx, k);
	v = lua_tointegerx(L, -1, &ok);
	lua_pop(L, 1);
	if (!ok)
		luaL_error(L, "pprof_encode: %s[%d] is not an integer", what, (int)k);
	return v;
}

static lua_Integer int_field(lua_State *L, int idx, const char *k)
{
	lua_Integer v;

	lua_getfield(L, idx, k);
	v = luaL_optinteger(L, -1, 0);
	lua_pop(L, 1);
	return v;
}

/* the list field k of the table at idx, pushed; its length */
static size_t list_field(lua_State *L, int idx, const char *k)
{
	lua_getfield(L, idx, k);
	if (!lua_istable(L, -1))
		luaL_error(L, "pprof_encode: field %s must be a list", k);
	return (size_t)luaL_len(L, -1);
}

static Perftools__Profiles__ValueType *value_type(struct enc *e, int idx)
{
	Perftools__Profiles__ValueType *vt = alloc(e, sizeof(*vt));

	perftools__profiles__value_type__init(vt);
	vt->type = int_at(e->L, idx, 1, "value type");
	vt->unit = int_at(e->L, idx, 2, "value type");
	return vt;
}

static void strings(struct enc *e, Perftools__Profiles__Profile *p)
{
	lua_State *L = e->L;
	size_t n = list_field(L, 1, "strings");

	p->n_string_table = n;
	p->string_table = alloc(e, n * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		lua_geti(L, -1, (lua_Integer)i + 1);
		if (lua_type(L, -1) != LUA_TSTRING)
			luaL_error(L, "pprof_encode: strings[%d] is not a string", (int)i + 1);
		/* the string stays alive in the argument's table */
		p->string_table[i] = (char *)lua_tostring(L, -1);
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
}

static void sample_types(struct enc *e, Perftools__Profiles__Profile *p)
{
	lua_State *L = e->L;
	size_t n = list_field(L, 1, "sample_type");

	p->n_sample_type = n;
	p->sample_type = alloc(e, n * sizeof(*p->sample_type));
	for (size_t i = 0; i < n; i++) {
		lua_geti(L, -1, (lua_Integer)i + 1);
		luaL_checktype(L, -1, LUA_TTABLE);
		p->sample_type[i] = value_type(e, lua_gettop(L));
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	lua_getfield(L, 1, "period_type");
	luaL_checktype(L, -1, LUA_TTABLE);
	p->period_type = value_type(e, lua_gettop(L));
	lua_pop(L, 1);
}

/* function k and location k, for each frame name */
static void functions(struct enc *e, Perftools__Profiles__Profile *p)
{
	lua_State *L = e->L;
	size_t n = list_field(L, 1, "functions");
	int t = lua_gettop(L);

	p->n_function = p->n_location = n;
	p->function = alloc(e, n * sizeof(*p->function));
	p->location = alloc(e, n * sizeof(*p->location));
	for (size_t i = 0; i < n; i++) {
		Perftools__Profiles__Function *f = alloc(e, sizeof(*f));
		Perftools__Profiles__Location *loc = alloc(e, sizeof(*loc));
		Perftools__Profiles__Line *line = alloc(e, sizeof(*line));

		perftools__profiles__function__init(f);
		perftools__profiles__location__init(loc);
		perftools__profiles__line__init(line);
		f->id = loc->id = line->function_id = i + 1;
		f->name = f->system_name = int_at(L, t, (lua_Integer)i + 1, "functions");
		if (f->name < 0 || (size_t)f->name >= p->n_string_table)
			luaL_error(L, "pprof_encode: functions[%d] names no string", (int)i + 1);
		loc->n_line = 1;
		loc->line = alloc(e, sizeof(*loc->line));
		loc->line[0] = line;
		p->function[i] = f;
		p->location[i] = loc;
	}
	lua_pop(L, 1);
}

static void one_sample(struct enc *e, Perftools__Profiles__Sample *s, int idx, size_t nlocs)
{
	lua_State *L = e->L;
	size_t n;

	n = list_field(L, idx, "locs");
	s->n_location_id = n;
	s->location_id = alloc(e, n * sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		lua_Integer id = int_at(L, -1, (lua_Integer)i + 1, "locs");

		if (id < 1 || (size_t)id > nlocs)
			luaL_error(L, "pprof_encode: location %d does not exist", (int)id);
		s->location_id[i] = (uint64_t)id;
	}
	lua_pop(L, 1);
	n = list_field(L, idx, "values");
	s->n_value = n;
	s->value = alloc(e, n * sizeof(int64_t));
	for (size_t i = 0; i < n; i++)
		s->value[i] = int_at(L, -1, (lua_Integer)i + 1, "values");
	lua_pop(L, 1);
	lua_getfield(L, idx, "labels");
	n = lua_istable(L, -1) ? (size_t)luaL_len(L, -1) / 2 : 0;
	s->n_label = n;
	s->label = alloc(e, n * sizeof(*s->label));
	for (size_t i = 0; i < n; i++) {
		Perftools__Profiles__Label *l = alloc(e, sizeof(*l));

		perftools__profiles__label__init(l);
		l->key = int_at(L, -1, (lua_Integer)(2 * i + 1), "labels");
		l->str = int_at(L, -1, (lua_Integer)(2 * i + 2), "labels");
		s->label[i] = l;
	}
	lua_pop(L, 1);
}

static void samples(struct enc *e, Perftools__Profiles__Profile *p)
{
	lua_State *L = e->L;
	size_t n = list_field(L, 1, "samples");

	p->n_sample = n;
	p->sample = alloc(e, n * sizeof(*p->sample));
	for (size_t i = 0; i < n; i++) {
		Perftools__Profiles__Sample *s = alloc(e, sizeof(*s));

		perftools__profiles__sample__init(s);
		lua_geti(L, -1, (lua_Integer)i + 1);
		luaL_checktype(L, -1, LUA_TTABLE);
		one_sample(e, s, lua_gettop(L), p->n_location);
		lua_pop(L, 1);
		p->sample[i] = s;
	}
	lua_pop(L, 1);
}

/* gzip, as the pprof HTTP handlers serve profiles */
static int push_gzipped(lua_State *L, const uint8_t *in, size_t len)
{
	z_stream z;
	size_t cap;
	uint8_t *out;
	int rc;

	memset(&z, 0, sizeof(z));
	if (deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return luaL_error(L, "pprof_encode: zlib: cannot start");
	cap = deflateBound(&z, len) + 64;
	out = bl_lua_box(L, cap);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return luaL_error(L, "pprof_encode: zlib: %d", rc);
	lua_pushlstring(L, (const char *)out, cap - z.avail_out);
	return 1;
}

static int l_pprof_encode(lua_State *L)
{
	Perftools__Profiles__Profile *p;
	struct enc e = { .L = L };
	size_t len;
	uint8_t *buf;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_newtable(L);
	e.anchor = lua_gettop(L);
	p = alloc(&e, sizeof(*p));
	perftools__profiles__profile__init(p);
	strings(&e, p);
	if (p->n_string_table == 0)
		return luaL_error(L, "pprof_encode: the string table must start with \"\"");
	sample_types(&e, p);
	functions(&e, p);
	samples(&e, p);
	p->period = int_field(L, 1, "period");
	p->time_nanos = int_field(L, 1, "time_nanos");
	p->duration_nanos = int_field(L, 1, "duration_nanos");
	len = perftools__profiles__profile__get_packed_size(p);
	buf = bl_lua_box(L, len ? len : 1);
	perftools__profiles__profile__pack(p, buf);
	return push_gzipped(L, buf, len);
}

const luaL_Reg bl_lua_pprof_funcs[] = {
	{ "pprof_encode", l_pprof_encode },
	{ NULL, NULL },
};
