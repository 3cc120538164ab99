/* BPF.httpd{listen = "127.0.0.1:9435"}: a small HTTP server for the agent's
 * /metrics and /debug/pprof endpoints, on libmicrohttpd in its external
 * event-loop mode: no thread of its own ever touches Lua.
 *
 * Each request is suspended as soon as its headers are in and handed to
 * Lua by srv:poll(ms), which returns a list of { id, method, path, query };
 * Lua answers with srv:respond(id, status, content_type, body) whenever it
 * likes (a pprof profile answers seconds later), and the loop goes on
 * meanwhile. Nothing Lua does runs inside a libmicrohttpd callback, so an
 * error in Lua never unwinds through libmicrohttpd's frames. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lbpflua.h"

#define HTTPD_MT "bpflua.Httpd"
#define MAX_CONNECTIONS 32
#define CONNECTION_TIMEOUT 10 /* seconds an idle client may hold a slot */

struct req {
	struct MHD_Connection *conn;
	unsigned long id;
	int handed;   /* given to Lua by a poll */
	int answered; /* a response is set: queue it when the connection resumes */
	unsigned status;
	char method[16];
	char *path;
	struct MHD_Response *resp;
	struct req *next;
};

struct httpd {
	struct MHD_Daemon *d;
	int lfd;
	int epfd;
	unsigned long next_id;
	struct req *reqs; /* every request not yet completed */
	int port;
	int closing; /* answer at once: nobody will poll for requests again */
};

static void unlink_req(struct httpd *h, struct req *r)
{
	for (struct req **p = &h->reqs; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			return;
		}
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct httpd *h = cls;
	struct req *r = *con_cls;

	(void)version;
	(void)upload;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->path = strdup(url);
		if (!r->path) {
			free(r);
			return MHD_NO;
		}
		snprintf(r->method, sizeof(r->method), "%s", method);
		r->conn = conn;
		r->id = ++h->next_id;
		r->next = h->reqs;
		h->reqs = r;
		*con_cls = r;
		return MHD_YES;
	}
	if (*upload_size) { /* a body nobody asked for: read and ignore it */
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->answered) {
		enum MHD_Result ok = MHD_queue_response(conn, r->status, r->resp);

		MHD_destroy_response(r->resp);
		r->resp = NULL;
		return ok;
	}
	if (h->closing) {
		struct MHD_Response *resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
		enum MHD_Result ok = resp ? MHD_queue_response(conn, MHD_HTTP_SERVICE_UNAVAILABLE, resp) : MHD_NO;

		if (resp)
			MHD_destroy_response(resp);
		return ok;
	}
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
	struct httpd *h = cls;
	struct req *r = *con_cls;

	(void)conn;
	(void)why;
	if (!r)
		return;
	unlink_req(h, r);
	if (r->resp)
		MHD_destroy_response(r->resp);
	free(r->path);
	free(r);
	*con_cls = NULL;
}

static void httpd_close(struct httpd *h)
{
	if (h->d) {
		h->closing = 1;
		/* a suspended connection must be resumed before the daemon stops;
		 * requests arriving from now on are answered at once */
		for (struct req *r = h->reqs; r; r = r->next)
			if (!r->answered) {
				r->answered = 1;
				r->status = MHD_HTTP_SERVICE_UNAVAILABLE;
				r->resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
				MHD_resume_connection(r->conn);
			}
		/* a resume takes effect in a later run of the loop, not at once */
		for (int i = 0; i < 3; i++) {
			struct pollfd p = { .fd = h->epfd, .events = POLLIN };

			MHD_run(h->d);
			poll(&p, 1, 1);
		}
		MHD_run(h->d);
		MHD_stop_daemon(h->d); /* closes the listening socket too */
		h->d = NULL;
		h->lfd = -1;
	}
	if (h->lfd >= 0)
		close(h->lfd);
	h->lfd = -1;
}

static int l_gc(lua_State *L)
{
	httpd_close(luaL_checkudata(L, 1, HTTPD_MT));
	return 0;
}

static struct httpd *check_open(lua_State *L)
{
	struct httpd *h = luaL_checkudata(L, 1, HTTPD_MT);

	if (!h->d)
		luaL_error(L, "the HTTP server is closed");
	return h;
}

/* "ADDR:PORT" or "[V6ADDR]:PORT" into ss; 0 or a message */
static const char *parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;
	size_t n;

	if (!colon)
		return "wants ADDR:PORT, such as 127.0.0.1:9435";
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return "wants a port from 0 to 65535 after the colon";
	n = (size_t)(colon - s);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(host))
		return "wants an IPv4 or IPv6 address before the port";
	memcpy(host, s, n);
	host[n] = 0;
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		*len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*in6);
	} else {
		return "wants an IPv4 or IPv6 address before the port (no host names)";
	}
	return NULL;
}

/* The listening socket is ours, so a port in use is reported as such. */
static int l_new(lua_State *L)
{
	const char *listen_at;
	struct sockaddr_storage ss;
	socklen_t len;
	const char *bad;
	struct httpd *h;
	int one = 1;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_getfield(L, 1, "listen");
	listen_at = luaL_optstring(L, -1, "127.0.0.1:9435");
	bad = parse_listen(listen_at, &ss, &len);
	if (bad)
		return bl_lua_raise(L, "usage", "--listen %s: %s", listen_at, bad);
	h = lua_newuserdatauv(L, sizeof(*h), 0);
	memset(h, 0, sizeof(*h));
	h->lfd = -1;
	luaL_setmetatable(L, HTTPD_MT);
	h->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (h->lfd < 0)
		goto fail;
	setsockopt(h->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(h->lfd, (struct sockaddr *)&ss, len) || listen(h->lfd, 64))
		goto fail;
	if (getsockname(h->lfd, (struct sockaddr *)&ss, &len))
		goto fail;
	h->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	h->d = MHD_start_daemon(MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				on_request, h, MHD_OPTION_LISTEN_SOCKET, h->lfd, MHD_OPTION_NOTIFY_COMPLETED,
				on_completed, h, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT, MHD_OPTION_END);
	if (!h->d) {
		errno = errno ? errno : EINVAL;
		goto fail;
	}
	h->epfd = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
	return 1;
fail:
	bad = strerror(errno);
	httpd_close(h);
	return bl_lua_raise(L, "failed", "cannot listen on %s: %s", listen_at, bad);
}

static int l_port(lua_State *L)
{
	lua_pushinteger(L, check_open(L)->port);
	return 1;
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	lua_State *L = cls;

	(void)kind;
	if (key && value && lua_checkstack(L, 2)) {
		lua_pushstring(L, value);
		lua_setfield(L, -2, key);
	}
	return MHD_YES;
}

/* srv:poll(ms) -> list of new requests { id, method, path, query = {k = v} };
 * waits up to ms for the first activity (a signal ends the wait early) */
static int l_poll(lua_State *L)
{
	struct httpd *h = check_open(L);
	lua_Integer ms = luaL_checkinteger(L, 2);
	MHD_UNSIGNED_LONG_LONG mhd_ms;
	struct pollfd p = { .fd = h->epfd, .events = POLLIN };
	int n = 0;

	if (MHD_get_timeout(h->d, &mhd_ms) == MHD_YES && (lua_Integer)mhd_ms < ms)
		ms = (lua_Integer)mhd_ms;
	if (ms < 0)
		ms = 0;
	if (poll(&p, 1, (int)ms) < 0 && errno != EINTR)
		return bl_lua_raise(L, "failed", "HTTP server: poll: %s", strerror(errno));
	MHD_run(h->d);
	lua_newtable(L);
	for (struct req *r = h->reqs; r; r = r->next) {
		const union MHD_ConnectionInfo *ci;

		if (r->handed || r->answered)
			continue;
		/* a request whose headers are still arriving is not suspended yet */
		ci = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_SUSPENDED);
		if (!ci || !ci->suspended)
			continue;
		r->handed = 1;
		lua_createtable(L, 0, 4);
		lua_pushinteger(L, (lua_Integer)r->id);
		lua_setfield(L, -2, "id");
		lua_pushstring(L, r->method);
		lua_setfield(L, -2, "method");
		lua_pushstring(L, r->path);
		lua_setfield(L, -2, "path");
		lua_newtable(L);
		MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, add_arg, L);
		lua_setfield(L, -2, "query");
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

static struct req *find(struct httpd *h, unsigned long id)
{
	for (struct req *r = h->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* srv:respond(id, status, content_type, body): false when the client left */
static int l_respond(lua_State *L)
{
	struct httpd *h = check_open(L);
	struct req *r = find(h, (unsigned long)luaL_checkinteger(L, 2));
	lua_Integer status = luaL_checkinteger(L, 3);
	const char *ctype = luaL_checkstring(L, 4);
	size_t len;
	const char *body = luaL_checklstring(L, 5, &len);

	luaL_argcheck(L, status >= 100 && status <= 599, 3, "an HTTP status from 100 to 599");
	if (!r || r->answered) {
		lua_pushboolean(L, 0);
		return 1;
	}
	r->resp = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r->resp)
		return bl_lua_raise(L, "failed", "HTTP server: out of memory for a %d-byte response", (int)len);
	MHD_add_response_header(r->resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	r->status = (unsigned)status;
	r->answered = 1;
	MHD_resume_connection(r->conn);
	lua_pushboolean(L, 1);
	return 1;
}

static int l_close(lua_State *L)
{
	httpd_close(luaL_checkudata(L, 1, HTTPD_MT));
	return 0;
}

static int l_httpd(lua_State *L)
{
	static const luaL_Reg meta[] = { { "__gc", l_gc }, { "__close", l_gc }, { NULL, NULL } };
	static const luaL_Reg methods[] = { { "poll", l_poll }, { "respond", l_respond }, { "port", l_port },
					    { "close", l_close }, { NULL, NULL } };

	bl_lua_class(L, HTTPD_MT, meta, methods);
	return l_new(L);
}

const luaL_Reg bl_lua_httpd_funcs[] = {
	{ "httpd", l_httpd },
	{ NULL, NULL },
};
