/* Shared by the Lua bindings: the BPF object userdata and its tables. */
#ifndef BPFLUA_LUA_H
#define BPFLUA_LUA_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/attach/attach.h"
#include "../core/events.h"
#include "../core/object.h"
#include "../core/types.h"

#define BPF_MT "bpflua.BPF"
#define TABLE_MT "bpflua.Table"
#define USDT_MT "bpflua.USDT"

struct lbuf; /* an open perf or ring buffer, see events.c */

struct lprog {
	char *name;
	int type;
	int fd;
};

/* The BPF object: owns every map, program, link and buffer it made. */
struct lbpf {
	struct bl_object *obj;
	int *map_fds;
	struct bl_type **key_types, **leaf_types, **event_types; /* per map, parsed on use */
	struct lprog *progs;
	size_t nprogs;
	struct bl_link *links;
	size_t nlinks, caplinks;
	struct lbuf **bufs;
	size_t nbufs;
	struct bl_perfbuf **perfbufs; /* the perf buffers among bufs, polled together */
	size_t nperfbufs;
	struct bl_ringbuf *ringbuf;   /* one poller for every ring buffer map */
	int ring_busy, perf_busy;     /* the last poll delivered events: linger */
	lua_State *L;                 /* the state a poll runs in, for callbacks */
	int cb_error_ref;             /* a callback's error, raised after the poll */
	int closed;
};

struct ltable {
	struct lbpf *b;
	int map;
};

struct lbpf *lbpf_check(lua_State *L, int idx);
void lbpf_release(struct lbpf *b);
const struct bl_type *lbpf_key_type(lua_State *L, struct lbpf *b, int map);
const struct bl_type *lbpf_leaf_type(lua_State *L, struct lbpf *b, int map);
const struct bl_type *lbpf_event_type(lua_State *L, struct lbpf *b, int map);

/* decode.c */
void bl_lua_push_value(lua_State *L, const struct bl_type *t, const void *p);
void bl_lua_to_value(lua_State *L, int idx, const struct bl_type *t, void *p);
void bl_lua_fill_struct(lua_State *L, const struct bl_type *t, const void *p, int idx);
void bl_lua_fill_struct_cut(lua_State *L, const struct bl_type *t, const void *p, size_t size, int idx, int cut,
			    int len);

/* table.c */
void bl_lua_table_open(lua_State *L);
void bl_lua_push_table(lua_State *L, int bpf_idx, struct lbpf *b, int map);

/* events.c */
int bl_lua_open_perf_buffer(lua_State *L);
int bl_lua_open_ring_buffer(lua_State *L);
int bl_lua_perf_buffer_poll(lua_State *L);
int bl_lua_ring_buffer_poll(lua_State *L);
int bl_lua_ring_buffer_consume(lua_State *L);
int bl_lua_ring_buffer_fill(lua_State *L);
void bl_lua_free_buffers(struct lbpf *b);

/* signals.c: Ctrl-C and SIGTERM */
void bl_signals_install(lua_State *L);
/* Raises "interrupted" if a signal is pending and was already handed to the
 * script once; sleeps and polls call it on entry. */
void bl_signals_check(lua_State *L);
/* Marks the pending signal as delivered to the script (a sleep returned early). */
int bl_signals_consume(void);
int bl_interrupted(void);
/* On: the first signal only ends sleeps and polls; a second one interrupts. */
void bl_signals_graceful(int on);
/* SIGHUP or SIGPIPE seen (the signal number): the run must end, unreported. */
int bl_signals_aborted(void);
/* Forgets signals seen so far: the REPL's next statement starts clean. */
void bl_signals_reset(lua_State *L);

int luaopen_bpf(lua_State *L);

/* usdt.c: USDT{} contexts */
struct bl_usdt;
struct bl_usdt *bl_lua_check_usdt(lua_State *L, int idx);
void bl_lua_usdt_open(lua_State *L);
/* symbols.c: names a build-id stack frame {status=, build_id=, offset= | ip=} */
int bl_lua_sym_frame(lua_State *L, int idx, int pid, int with_offset);
/* trace.c: trace_pipe, kernel symbols by name */
extern const luaL_Reg bl_lua_trace_funcs[];

/* t.k = v, for the table on top of the stack */
static inline void bl_set_str(lua_State *L, const char *k, const char *v)
{
	lua_pushstring(L, v);
	lua_setfield(L, -2, k);
}

static inline void bl_set_int(lua_State *L, const char *k, lua_Integer v)
{
	lua_pushinteger(L, v);
	lua_setfield(L, -2, k);
}

static inline void bl_set_bool(lua_State *L, const char *k, int v)
{
	lua_pushboolean(L, v);
	lua_setfield(L, -2, k);
}

/* process.c: BPF.spawn, the -c command */
void bl_lua_process_open(lua_State *L);

/* class.c: a userdata class: metatable `name` with the metamethods in
 * meta and, if given, __index = a table of methods */
void bl_lua_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods);

/* box.c: a malloc'd block owned by a userdata pushed on the stack (freed
 * by __gc), for temporaries held across calls that may raise */
void *bl_lua_box(lua_State *L, size_t size);
void *bl_lua_box_resize(lua_State *L, int idx, size_t size); /* at least size bytes */
void *bl_lua_box_grow(lua_State *L, int idx, size_t need);   /* doubling to fit need */

/* errors.c: the one error type (see there) */
void bl_lua_push_error(lua_State *L, const char *kind, const char *message, const char *hint);
int bl_lua_raise(lua_State *L, const char *kind, const char *fmt, ...);
/* raises the core's last error (core/error.h), at the script's line */
int bl_lua_raise_core(lua_State *L, const char *what);
/* the kind of the error object at idx, or NULL for anything else */
const char *bl_lua_error_kind(lua_State *L, int idx);
void bl_lua_errors_open(lua_State *L);

/* json.c */
int bl_lua_json(lua_State *L);

/* text.c: untrusted bytes made safe to show */
/* The length of the valid UTF-8 sequence at s (code point in *cp), or 0. */
size_t bl_utf8_len(const unsigned char *s, size_t n, uint32_t *cp);
extern const luaL_Reg bl_lua_text_funcs[]; /* BPF.printable */

/* inet.c: BPF.inet_ntop, BPF.inet_pton */
extern const luaL_Reg bl_lua_inet_funcs[];

/* host.c: BPF.listdir, sleep, clocks, features... the host beside the BPF object */
extern const luaL_Reg bl_lua_host_funcs[];
/* cache.c: BPF.cache_list, cache_clear, cache_stats */
extern const luaL_Reg bl_lua_cache_funcs[];
/* symbols.c: BPF.ksym, sym_module, sym_flush, sym_trim, elf_functions */
extern const luaL_Reg bl_lua_symbols_funcs[];
/* http_client.c: BPF.http_client (libcurl, for OTLP), BPF.realtime_ns */
extern const luaL_Reg bl_lua_http_client_funcs[];

/* the agent's: httpd.c (BPF.httpd, libmicrohttpd), pprof.c (BPF.pprof_encode),
 * agent.c (BPF.reload_on_hup, hup, realtime_ns) */
extern const luaL_Reg bl_lua_httpd_funcs[];
extern const luaL_Reg bl_lua_pprof_funcs[];
extern const luaL_Reg bl_lua_agent_funcs[];

/* outfile.c: BPF.open_output, the -o file */
void bl_lua_outfile_open(lua_State *L);

#endif
