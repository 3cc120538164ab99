/* BPF.http_client{...}: HTTP POSTs that never block the caller, for the
 * OTLP exporter (lua/bpflua/otlp.lua). A userdata owns one libcurl multi
 * handle and a fixed set of transfer slots; __gc/__close end every transfer
 * still running.
 *
 * libcurl's multi interface, rather than a socket loop written here: it
 * brings connection reuse, HTTP/1.1 and 2, TLS, proxies, an asynchronous
 * resolver and Retry-After parsing, and curl_multi_perform only ever does
 * what the sockets allow at once. What the server sends back is untrusted:
 * at most MAX_RESPONSE bytes of it are kept, the rest is read and dropped.
 *
 *   c = BPF.http_client{ slots = 4, timeout = 10, connect_timeout = 5,
 *                        ca_file =, client_cert =, client_key = }
 *   id = c:post(url, body, { "Content-Type: application/json", ... } [, gzip])
 *        -> a transfer id, or nil and "busy" when every slot is taken;
 *        with gzip, the body goes compressed (Content-Encoding: gzip)
 *   done = c:poll([wait_seconds])
 *        -> { { id =, status =, retry_after =, body = } or
 *             { id =, error =, transient = (worth another try) }, ... }
 *   c:running() -> transfers in flight
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>
#include <zlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lbpflua.h"

#define HTTP_CLIENT_MT "bpflua.HttpClient"
#define MAX_SLOTS 64
#define MAX_RESPONSE 4096

struct xfer {
	CURL *easy;
	struct curl_slist *headers;
	char resp[MAX_RESPONSE];
	size_t resp_len;
	lua_Integer id;
};

struct lhttp {
	CURLM *multi;
	struct xfer *slots;
	size_t nslots;
	lua_Integer next_id;
	long timeout_ms, connect_ms;
	char *tls[3]; /* CA bundle, client certificate, client key: TLS_OPTS */
};

/* the TLS files a collector may need: its CA (a private one), and a
 * certificate and key of ours where it asks for them */
static const struct {
	const char *key;
	CURLoption opt;
} TLS_OPTS[3] = {
	{ "ca_file", CURLOPT_CAINFO },
	{ "client_cert", CURLOPT_SSLCERT },
	{ "client_key", CURLOPT_SSLKEY },
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, room = sizeof(x->resp) - x->resp_len;

	memcpy(x->resp + x->resp_len, p, len < room ? len : room);
	x->resp_len += len < room ? len : room;
	return len; /* the rest is read and dropped */
}

static void xfer_end(struct lhttp *h, struct xfer *x)
{
	if (!x->easy)
		return;
	curl_multi_remove_handle(h->multi, x->easy);
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	x->easy = NULL;
	x->headers = NULL;
	x->resp_len = 0;
}

static int http_gc(lua_State *L)
{
	struct lhttp *h = luaL_checkudata(L, 1, HTTP_CLIENT_MT);

	for (size_t i = 0; h->slots && i < h->nslots; i++)
		xfer_end(h, &h->slots[i]);
	free(h->slots);
	h->slots = NULL;
	for (int i = 0; i < 3; i++) {
		free(h->tls[i]);
		h->tls[i] = NULL;
	}
	if (h->multi)
		curl_multi_cleanup(h->multi);
	h->multi = NULL;
	return 0;
}

static struct lhttp *check_open(lua_State *L)
{
	struct lhttp *h = luaL_checkudata(L, 1, HTTP_CLIENT_MT);

	if (!h->multi)
		luaL_error(L, "http client is closed");
	return h;
}

static long opt_ms(lua_State *L, const char *key, double def, double max)
{
	double v;

	lua_getfield(L, 1, key);
	v = luaL_optnumber(L, -1, def);
	lua_pop(L, 1);
	if (!(v > 0 && v <= max))
		luaL_error(L, "http_client: %s must be a number of seconds above 0 and at most %f", key, max);
	return (long)(v * 1000);
}

static int add_header(struct xfer *x, const char *h)
{
	struct curl_slist *n = curl_slist_append(x->headers, h);

	if (!n)
		return -1;
	x->headers = n;
	return 0;
}

/* body gzipped into a box (box.c) pushed on the stack; its length in *out */
static const char *gzip_body(lua_State *L, const char *body, size_t len, size_t *out)
{
	z_stream z = { 0 };
	size_t cap = compressBound(len) + 32; /* + the gzip header and trailer */
	char *buf = bl_lua_box(L, cap);
	int rc;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		luaL_error(L, "http_client: cannot start gzip");
	z.next_in = (Bytef *)body;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)buf;
	z.avail_out = (uInt)cap;
	rc = deflate(&z, Z_FINISH);
	*out = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		luaL_error(L, "http_client: gzip failed (%d)", rc);
	return buf;
}

/* c:post(url, body, headers [, gzip]) -> id, or nil, "busy" */
static int l_post(lua_State *L)
{
	struct lhttp *h = check_open(L);
	const char *url = luaL_checkstring(L, 2);
	size_t body_len;
	const char *body = luaL_checklstring(L, 3, &body_len);
	struct xfer *x = NULL;
	lua_Integer nh = 0;
	int gzip = lua_toboolean(L, 5);
	CURLMcode mc;

	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))
		return luaL_argerror(L, 2, "an http:// or https:// URL");
	if (body_len > (1u << 30))
		return luaL_argerror(L, 3, "a body of at most 1 GiB");
	if (!lua_isnoneornil(L, 4)) {
		luaL_checktype(L, 4, LUA_TTABLE);
		nh = (lua_Integer)lua_rawlen(L, 4);
		for (lua_Integer i = 1; i <= nh; i++) { /* checked before anything is allocated */
			if (lua_rawgeti(L, 4, i) != LUA_TSTRING || strpbrk(lua_tostring(L, -1), "\r\n"))
				return luaL_argerror(L, 4, "headers are strings without line breaks");
			lua_pop(L, 1);
		}
	}
	for (size_t i = 0; i < h->nslots && !x; i++)
		if (!h->slots[i].easy)
			x = &h->slots[i];
	if (!x) {
		lua_pushnil(L);
		lua_pushliteral(L, "busy");
		return 2;
	}
	if (gzip) /* before the slot owns anything: this may raise */
		body = gzip_body(L, body, body_len, &body_len);
	if (!(x->easy = curl_easy_init()))
		return luaL_error(L, "http_client: out of memory");
	for (lua_Integer i = 1; i <= nh; i++) {
		int err;

		lua_rawgeti(L, 4, i);
		err = add_header(x, lua_tostring(L, -1));
		lua_pop(L, 1);
		if (err)
			goto nomem;
	}
	/* no "Expect: 100-continue" round trip before the body */
	if (add_header(x, "Expect:") || (gzip && add_header(x, "Content-Encoding: gzip")))
		goto nomem;
	x->id = ++h->next_id;
	x->resp_len = 0;
	if (curl_easy_setopt(x->easy, CURLOPT_URL, url) ||
	    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, h->timeout_ms) ||
	    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, h->connect_ms) ||
	    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers) ||
	    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) ||
	    curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS, body) ||
	    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body) ||
	    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x) ||
	    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x))
		goto nomem;
	for (int i = 0; i < 3; i++)
		if (h->tls[i] && curl_easy_setopt(x->easy, TLS_OPTS[i].opt, h->tls[i]))
			goto nomem;
	if ((mc = curl_multi_add_handle(h->multi, x->easy))) {
		xfer_end(h, x);
		return luaL_error(L, "http_client: %s", curl_multi_strerror(mc));
	}
	lua_pushinteger(L, x->id);
	return 1;
nomem:
	curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	x->easy = NULL;
	x->headers = NULL;
	return luaL_error(L, "http_client: cannot set up a request to %s", url);
}

/* Failures that another try may not meet: the collector down, restarting
 * or slow, the connection cut. A certificate that does not verify or a
 * malformed URL stays as it is: retrying those only fills the queue. */
static int transient(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return 1;
	default:
		return 0;
	}
}

/* one finished transfer as a table, then its slot is free again */
static void push_done(lua_State *L, struct lhttp *h, struct xfer *x, CURLcode res)
{
	long status = 0;
	curl_off_t retry_after = 0;

	lua_createtable(L, 0, 5);
	bl_set_int(L, "id", x->id);
	if (res == CURLE_OK) {
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		bl_set_int(L, "status", status);
		if (!curl_easy_getinfo(x->easy, CURLINFO_RETRY_AFTER, &retry_after) && retry_after > 0)
			bl_set_int(L, "retry_after", (lua_Integer)retry_after);
		lua_pushlstring(L, x->resp, x->resp_len);
		lua_setfield(L, -2, "body");
	} else {
		bl_set_str(L, "error", curl_easy_strerror(res));
		bl_set_bool(L, "transient", transient(res));
	}
	xfer_end(h, x);
}

/* c:poll([wait_seconds]) -> the transfers that finished. With a wait, it
 * first sleeps until a socket is ready or the wait is over (tests and a
 * final flush); without one it never waits. */
static int l_poll(lua_State *L)
{
	struct lhttp *h = check_open(L);
	double wait = luaL_optnumber(L, 2, 0);
	int running, left, n = 0;
	CURLMsg *m;
	CURLMcode mc;

	if (!(wait >= 0 && wait <= 60))
		return luaL_argerror(L, 2, "seconds from 0 to 60");
	/* no bl_signals_check: a final flush after Ctrl-C must still run; the
	 * wait is bounded and the caller's loop answers signals */
	if (wait > 0 && (mc = curl_multi_poll(h->multi, NULL, 0, (int)(wait * 1000), NULL)))
		return luaL_error(L, "http_client: %s", curl_multi_strerror(mc));
	if ((mc = curl_multi_perform(h->multi, &running)))
		return luaL_error(L, "http_client: %s", curl_multi_strerror(mc));
	lua_newtable(L);
	while ((m = curl_multi_info_read(h->multi, &left))) {
		struct xfer *x = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		push_done(L, h, x, m->data.result); /* m is invalid from here on */
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

static int l_running(lua_State *L)
{
	struct lhttp *h = check_open(L);
	lua_Integer n = 0;

	for (size_t i = 0; i < h->nslots; i++)
		n += h->slots[i].easy != NULL;
	lua_pushinteger(L, n);
	return 1;
}

static int l_close(lua_State *L)
{
	return http_gc(L);
}

static const luaL_Reg methods[] = {
	{ "post", l_post },
	{ "poll", l_poll },
	{ "running", l_running },
	{ "close", l_close },
	{ NULL, NULL },
};

static int l_http_client(lua_State *L)
{
	static const luaL_Reg meta[] = { { "__gc", http_gc }, { "__close", http_gc }, { NULL, NULL } };
	static int curl_ready;
	struct lhttp *h;
	lua_Integer slots;
	long timeout_ms, connect_ms;

	if (lua_isnoneornil(L, 1))
		lua_newtable(L);
	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	lua_getfield(L, 1, "slots");
	slots = luaL_optinteger(L, -1, 4);
	lua_pop(L, 1);
	if (slots < 1 || slots > MAX_SLOTS)
		return luaL_error(L, "http_client: slots must be from 1 to %d", MAX_SLOTS);
	timeout_ms = opt_ms(L, "timeout", 10, 3600);
	connect_ms = opt_ms(L, "connect_timeout", 5, 3600);
	for (int i = 0; i < 3; i++) { /* checked before anything is allocated */
		const char *f;

		lua_getfield(L, 1, TLS_OPTS[i].key);
		f = luaL_optstring(L, -1, NULL);
		if (f && access(f, R_OK))
			return luaL_error(L, "http_client: %s %s: %s", TLS_OPTS[i].key, f, strerror(errno));
		lua_pop(L, 1);
	}
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return luaL_error(L, "http_client: libcurl failed to initialise");
		curl_ready = 1;
	}
	bl_lua_class(L, HTTP_CLIENT_MT, meta, methods);
	h = lua_newuserdatauv(L, sizeof(*h), 0);
	memset(h, 0, sizeof(*h));
	luaL_setmetatable(L, HTTP_CLIENT_MT);
	h->timeout_ms = timeout_ms;
	h->connect_ms = connect_ms;
	h->slots = calloc((size_t)slots, sizeof(*h->slots));
	h->multi = h->slots ? curl_multi_init() : NULL;
	if (!h->multi)
		return luaL_error(L, "http_client: out of memory");
	h->nslots = (size_t)slots;
	for (int i = 0; i < 3; i++) {
		const char *f;

		lua_getfield(L, 1, TLS_OPTS[i].key);
		f = lua_tostring(L, -1);
		if (f && !(h->tls[i] = strdup(f)))
			return luaL_error(L, "http_client: out of memory");
		lua_pop(L, 1);
	}
	return 1;
}

/* BPF.realtime_ns(): the wall clock, for timestamps a collector reads */
static int l_realtime_ns(lua_State *L)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushinteger(L, (lua_Integer)ts.tv_sec * 1000000000 + ts.tv_nsec);
	return 1;
}

const luaL_Reg bl_lua_http_client_funcs[] = {
	{ "http_client", l_http_client },
	{ "realtime_ns", l_realtime_ns },
	{ NULL, NULL },
};
