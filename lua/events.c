/* Event streams into Lua: each record is decoded from the event struct's
 * type (known from the compile) and handed to the script's callback. */
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/error.h"
#include "lbpflua.h"

struct lbuf {
	struct lbpf *b;
	int map;
	int cb_ref, lost_ref;
	int reuse_ref; /* { reuse = true }: one table refilled for every event */
	int cut, cut_len; /* { cut = { data = "caplen" } }: field indices, -1 none */
	size_t min_size;  /* the shortest record decoded as the struct */
	int is_ring;
	uint64_t received, lost, lost_reported;
	struct bl_perfbuf *pb;
};

static int traceback(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);

	luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
	return 1;
}

/* Runs the Lua callback; a failure is kept and raised once the poll returns,
 * since raising through libbcc's C frames would skip its cleanup. */
static int deliver(void *ctx, const void *data, size_t size)
{
	struct lbuf *lb = ctx;
	struct lbpf *b = lb->b;
	lua_State *L = b->L;
	const struct bl_type *t;

	lb->received++;
	if (b->cb_error_ref != LUA_NOREF)
		return 1;
	lua_pushcfunction(L, traceback);
	lua_rawgeti(L, LUA_REGISTRYINDEX, lb->cb_ref);
	t = b->event_types[lb->map];
	if (t && size >= lb->min_size && t->kind == BL_STRUCT && (lb->reuse_ref != LUA_NOREF || lb->cut >= 0)) {
		if (lb->reuse_ref != LUA_NOREF)
			lua_rawgeti(L, LUA_REGISTRYINDEX, lb->reuse_ref);
		else
			lua_createtable(L, 0, (int)t->nfields);
		bl_lua_fill_struct_cut(L, t, data, size, lua_gettop(L), lb->cut, lb->cut_len);
	} else if (t && size >= t->size)
		bl_lua_push_value(L, t, data);
	else
		lua_pushlstring(L, data, size);
	lua_pushinteger(L, (lua_Integer)size);
	if (lua_pcall(L, 2, 0, -4)) {
		b->cb_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_pop(L, 1);
		return 1;
	}
	lua_pop(L, 1);
	return 0;
}

static void lost(void *ctx, uint64_t n)
{
	struct lbuf *lb = ctx;
	lua_State *L = lb->b->L;

	lb->lost += n;
	if (lb->lost_ref == LUA_NOREF || lb->b->cb_error_ref != LUA_NOREF)
		return;
	lua_pushcfunction(L, traceback);
	lua_rawgeti(L, LUA_REGISTRYINDEX, lb->lost_ref);
	lua_pushinteger(L, (lua_Integer)n);
	if (lua_pcall(L, 1, 0, -3)) {
		lb->b->cb_error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
}

static int field_index(const struct bl_type *t, const char *name)
{
	for (size_t i = 0; i < t->nfields; i++)
		if (!strcmp(t->fields[i].name, name))
			return (int)i;
	return -1;
}

/* opts.cut = { FIELD = "LENFIELD" }: FIELD, a byte or char array of the
 * event struct, is decoded only as far as the integer LENFIELD says (a
 * capture buffer's used part). When FIELD is the struct's last, a program
 * may also send the used part alone (min_size: where FIELD starts).
 * Checked before anything is opened. */
static void check_cut(lua_State *L, int opts, const struct bl_type *t, int *cut, int *len, size_t *min_size)
{
	const char *field, *lenfield;

	*cut = *len = -1;
	*min_size = t ? t->size : 0;
	if (!lua_istable(L, opts))
		return;
	lua_getfield(L, opts, "cut");
	if (lua_isnil(L, -1)) {
		lua_pop(L, 1);
		return;
	}
	luaL_argcheck(L, lua_istable(L, -1), opts, "cut must be a table { FIELD = \"LENGTH_FIELD\" }");
	lua_pushnil(L);
	if (!lua_next(L, -2) || lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
		luaL_argerror(L, opts, "cut must be a table { FIELD = \"LENGTH_FIELD\" }");
	field = lua_tostring(L, -2);
	lenfield = lua_tostring(L, -1);
	if (!t || t->kind != BL_STRUCT)
		luaL_argerror(L, opts, "cut: the events are not a struct");
	*cut = field_index(t, field);
	*len = field_index(t, lenfield);
	if (*cut < 0 || (t->fields[*cut].type->kind != BL_BYTES && t->fields[*cut].type->kind != BL_CHARS))
		luaL_error(L, "cut: the event has no byte array named %s", field);
	if (*len < 0 || t->fields[*len].type->kind != BL_INT)
		luaL_error(L, "cut: the event has no integer field named %s", lenfield);
	lua_pop(L, 3);
	*min_size = t->fields[*cut].offset;
	for (size_t i = 0; i < t->nfields; i++)
		if (i != (size_t)*cut && t->fields[i].offset + t->fields[i].type->size > *min_size)
			*min_size = t->size; /* not the last field: records come whole */
}

static struct lbuf *new_buf(lua_State *L, struct ltable *t, int is_ring)
{
	struct lbpf *b = t->b;
	struct lbuf **bufs, *lb;
	int cut, cut_len;
	size_t min_size;

	for (size_t i = 0; i < b->nbufs; i++)
		if (b->bufs[i]->map == t->map)
			luaL_error(L, "%s is already open", b->obj->maps[t->map].name);
	/* may raise: before anything is allocated */
	check_cut(L, 3, lbpf_event_type(L, b, t->map), &cut, &cut_len, &min_size);
	bufs = realloc(b->bufs, sizeof(*bufs) * (b->nbufs + 1));
	if (!bufs)
		luaL_error(L, "out of memory");
	b->bufs = bufs;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		luaL_error(L, "out of memory");
	lb->b = b;
	lb->map = t->map;
	lb->is_ring = is_ring;
	lb->cb_ref = lb->lost_ref = lb->reuse_ref = LUA_NOREF;
	lb->cut = cut;
	lb->cut_len = cut_len;
	lb->min_size = min_size;
	return lb;
}

/* opts.reuse: the callback gets the same table each time, refilled: no
 * allocation per event, for callbacks that do not keep the event. */
static void set_reuse(lua_State *L, int opts, struct lbuf *lb)
{
	if (!lua_istable(L, opts))
		return;
	lua_getfield(L, opts, "reuse");
	if (lua_toboolean(L, -1)) {
		lua_newtable(L);
		lb->reuse_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	}
	lua_pop(L, 1);
}

static void free_buf(lua_State *L, struct lbuf *lb)
{
	if (lb->cb_ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, lb->cb_ref);
	if (lb->lost_ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, lb->lost_ref);
	if (lb->reuse_ref != LUA_NOREF)
		luaL_unref(L, LUA_REGISTRYINDEX, lb->reuse_ref);
	bl_perfbuf_free(lb->pb);
	free(lb);
}

#define MAX_PAGE_CNT 65536

/* t:open_perf_buffer(callback, { page_cnt = 64, lost_cb = f, reuse = false, cut = nil }) */
int bl_lua_open_perf_buffer(lua_State *L)
{
	struct ltable *t = luaL_checkudata(L, 1, TABLE_MT);
	struct lbpf *b = t->b;
	int page_cnt = 64;
	struct bl_perfbuf **pbs;
	struct lbuf *lb;

	if (b->closed)
		return luaL_error(L, "the BPF object of this table was cleaned up");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (b->obj->maps[t->map].type != BPF_MAP_TYPE_PERF_EVENT_ARRAY)
		return luaL_error(L, "%s is not a perf buffer (BPF_PERF_OUTPUT)", b->obj->maps[t->map].name);
	if (lua_istable(L, 3)) {
		lua_Integer n;

		lua_getfield(L, 3, "page_cnt");
		n = luaL_optinteger(L, -1, 64);
		/* the kernel wants a power of two, and a per-CPU buffer past
		 * 256 MB maps but never delivers: refuse rather than truncate */
		if (n < 1 || n > MAX_PAGE_CNT || (n & (n - 1)))
			return luaL_error(L, "open_perf_buffer: page_cnt must be a power of two from 1 to %d, not %I",
					  MAX_PAGE_CNT, n);
		page_cnt = (int)n;
		lua_pop(L, 1);
	}
	pbs = realloc(b->perfbufs, sizeof(*pbs) * (b->nperfbufs + 1));
	if (!pbs)
		return luaL_error(L, "out of memory");
	b->perfbufs = pbs;
	lb = new_buf(L, t, 0);
	b->L = L;
	if (bl_perfbuf_open(b->map_fds[t->map], page_cnt, deliver, lost, lb, &lb->pb)) {
		free(lb);
		return bl_lua_raise_core(L, NULL);
	}
	/* owned by the object from here, so an error below leaks nothing */
	b->bufs[b->nbufs++] = lb;
	b->perfbufs[b->nperfbufs++] = lb->pb;
	lua_pushvalue(L, 2);
	lb->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	set_reuse(L, 3, lb);
	if (lua_istable(L, 3)) {
		lua_getfield(L, 3, "lost_cb");
		if (lua_isfunction(L, -1))
			lb->lost_ref = luaL_ref(L, LUA_REGISTRYINDEX);
		else
			lua_pop(L, 1);
	}
	return 0;
}

/* t:open_ring_buffer(callback, { reuse = false, cut = nil }) */
int bl_lua_open_ring_buffer(lua_State *L)
{
	struct ltable *t = luaL_checkudata(L, 1, TABLE_MT);
	struct lbpf *b = t->b;
	struct lbuf *lb;
	int err;

	if (b->closed)
		return luaL_error(L, "the BPF object of this table was cleaned up");
	luaL_checktype(L, 2, LUA_TFUNCTION);
	if (b->obj->maps[t->map].type != BPF_MAP_TYPE_RINGBUF)
		return luaL_error(L, "%s is not a ring buffer (BPF_RINGBUF_OUTPUT)", b->obj->maps[t->map].name);
	lb = new_buf(L, t, 1);
	b->L = L;
	err = b->ringbuf ? 0 : bl_ringbuf_open(&b->ringbuf);
	if (!err)
		err = bl_ringbuf_add(b->ringbuf, b->map_fds[t->map], b->obj->maps[t->map].max_entries, deliver, lb);
	if (err) {
		free(lb);
		return bl_lua_raise_core(L, NULL);
	}
	b->bufs[b->nbufs++] = lb; /* owned by the object from here */
	lua_pushvalue(L, 2);
	lb->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
	set_reuse(L, 3, lb);
	return 0;
}

/* After a poll: raise a callback's error, report losses nobody asked for. */
static void after_poll(lua_State *L, struct lbpf *b)
{
	for (size_t i = 0; i < b->nbufs; i++) {
		struct lbuf *lb = b->bufs[i];

		if (lb->lost > lb->lost_reported && lb->lost_ref == LUA_NOREF)
			fprintf(stderr, "bpflua: warning: lost %llu events on %s (the buffer was full)\n",
				(unsigned long long)(lb->lost - lb->lost_reported), b->obj->maps[lb->map].name);
		lb->lost_reported = lb->lost;
	}
	if (b->cb_error_ref != LUA_NOREF) {
		lua_rawgeti(L, LUA_REGISTRYINDEX, b->cb_error_ref);
		luaL_unref(L, LUA_REGISTRYINDEX, b->cb_error_ref);
		b->cb_error_ref = LUA_NOREF;
		lua_error(L);
	}
}

static uint64_t total_received(struct lbpf *b)
{
	uint64_t n = 0;

	for (size_t i = 0; i < b->nbufs; i++)
		n += b->bufs[i]->received;
	return n;
}

/* While events keep coming, a poll lingers a moment before it reads again.
 * The kernel wakes the reader for a record only when the reader had caught
 * up with everything before it; a reader that drains the instant anything
 * arrives is always caught up, and the traced program pays a wake-up per
 * event. Reading every millisecond during a burst costs at most a thousand
 * wake-ups a second and a millisecond of latency; when the stream goes
 * quiet, the poll blocks as usual. */
#define LINGER_NS 1000000L

static int linger(int *busy, int timeout_ms)
{
	struct timespec ts = { 0, LINGER_NS };

	if (!*busy || timeout_ms == 0)
		return 0;
	if (nanosleep(&ts, NULL) && errno == EINTR)
		return -EINTR;
	return 1;
}

enum poll_kind { PERF_POLL, RING_POLL, RING_CONSUME };

/* b:perf_buffer_poll(timeout_ms), b:ring_buffer_poll(timeout_ms),
 * b:ring_buffer_consume() -> events delivered */
static int poll_op(lua_State *L, enum poll_kind kind)
{
	struct lbpf *b = lbpf_check(L, 1);
	int timeout = (int)luaL_optinteger(L, 2, -1);
	uint64_t before = total_received(b);
	int perf = kind == PERF_POLL, *busy = perf ? &b->perf_busy : &b->ring_busy;
	int rc;

	if (perf ? !b->nperfbufs : !b->ringbuf)
		return luaL_error(L, "no %s buffer is open (call open_%s_buffer first)", perf ? "perf" : "ring",
				  perf ? "perf" : "ring");
	bl_signals_check(L);
	b->L = L;
	if (kind == RING_CONSUME) {
		rc = bl_ringbuf_consume(b->ringbuf);
	} else {
		rc = linger(busy, timeout);
		if (rc != -EINTR && perf)
			rc = bl_perfbuf_poll(b->perfbufs, (int)b->nperfbufs, rc ? 0 : timeout);
		else if (rc != -EINTR)
			rc = rc ? bl_ringbuf_consume(b->ringbuf) : bl_ringbuf_poll(b->ringbuf, timeout);
		*busy = total_received(b) > before;
	}
	if (rc == -EINTR)
		bl_signals_consume();
	after_poll(L, b);
	lua_pushinteger(L, (lua_Integer)(total_received(b) - before));
	return 1;
}

int bl_lua_perf_buffer_poll(lua_State *L)
{
	return poll_op(L, PERF_POLL);
}

int bl_lua_ring_buffer_poll(lua_State *L)
{
	return poll_op(L, RING_POLL);
}

int bl_lua_ring_buffer_consume(lua_State *L)
{
	return poll_op(L, RING_CONSUME);
}

/* b:ring_buffer_fill() -> the share (0 to 1) of the fullest ring holding
 * records not read yet: a reader may wait for a batch without risking one */
int bl_lua_ring_buffer_fill(lua_State *L)
{
	struct lbpf *b = lbpf_check(L, 1);

	if (!b->ringbuf)
		return luaL_error(L, "no ring buffer is open (call open_ring_buffer first)");
	lua_pushnumber(L, bl_ringbuf_fill(b->ringbuf));
	return 1;
}

void bl_lua_free_buffers(struct lbpf *b)
{
	bl_ringbuf_free(b->ringbuf);
	b->ringbuf = NULL;
	for (size_t i = 0; i < b->nbufs; i++)
		free_buf(b->L, b->bufs[i]);
	free(b->bufs);
	b->bufs = NULL;
	b->nbufs = 0;
	free(b->perfbufs);
	b->perfbufs = NULL;
	b->nperfbufs = 0;
}
