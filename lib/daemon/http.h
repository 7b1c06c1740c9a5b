/* An HTTP/1.1 server on libmicrohttpd, driven by the daemon's loop (MHD's
 * epoll fd and timeout become loop sources; handlers run on the loop
 * thread). Listens on unix sockets and/or TCP; routes are method + exact
 * path; request bodies are bounded; malformed requests get a 4xx from MHD or
 * from here and the server carries on. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "base/err.h"
#include "daemon/loop.h"

#define GL_HTTP_BODY_MAX (1u << 20)      /* default request body bound: 413 past it */
#define GL_HTTP_TIMEOUT_S 10             /* default idle timeout of a connection */
#define GL_HTTP_CONNS_MAX 64             /* default concurrent connections */
#define GL_HTTP_ROUTES_MAX 64
#define GL_HTTP_LISTENERS_MAX 4

struct gl_http;

/* What a handler sees; valid during the call only. */
struct gl_http_req {
	const char *method;
	const char *path;                /* percent-decoded, without the query */
	const char *query;               /* raw text after '?', "" when none */
	const char *body;                /* NUL-terminated (body_len bytes before it) */
	size_t body_len;
	const char *content_type;        /* "" when absent */
	void *conn;                      /* the server's, for gl_http_req_arg/header */
};

/* What a handler answers. status starts at 200, content_type at text/plain;
 * body is malloc'd and becomes the server's (set it directly or with
 * gl_http_reply). content_type must stay valid until the handler returns. */
struct gl_http_resp {
	int status;
	const char *content_type;
	char *body;
	size_t body_len;
};

/* A handler returns 0, or a negative errno to answer 500 whatever resp says. */
typedef int (*gl_http_handler)(const struct gl_http_req *req, struct gl_http_resp *resp,
			       void *userdata);

/* Zero fields take the defaults above. */
struct gl_http_opts {
	size_t body_max;
	unsigned timeout_s;
	unsigned conns_max;
};

/* A server on loop l, listening nowhere yet. opts NULL = defaults. */
int gl_http_new(struct gl_loop *l, const struct gl_http_opts *opts, struct gl_http **ret);
/* Stop every listener (connections are closed, unix socket files removed if
 * they are still ours) and free (NULL is fine). Not from a handler. */
void gl_http_free(struct gl_http *h);

/* Route method ("GET", "POST", ...) on path to fn. A GET route also answers
 * HEAD. -EEXIST for a route already there, -ENOSPC past GL_HTTP_ROUTES_MAX. */
int gl_http_route(struct gl_http *h, const char *method, const char *path, gl_http_handler fn,
		  void *userdata);

/* Listen on a unix socket at path (absolute, shorter than sun_path) with the
 * file's mode (0 = 0600). Missing parent folders are created 0700. A file
 * already at path is replaced only if it is a socket nobody listens on:
 * -EADDRINUSE when a server answers there, -EEXIST for a non-socket. */
int gl_http_listen_unix(struct gl_http *h, const char *path, mode_t mode, struct gl_err *err);
/* Listen on TCP host (a literal address; NULL = 127.0.0.1) and port (0 = any
 * free one); *ret_port (may be NULL) gets the bound port. */
int gl_http_listen_tcp(struct gl_http *h, const char *host, uint16_t port, uint16_t *ret_port,
		       struct gl_err *err);

/* Set resp to status, content type (NULL = text/plain) and a copy of len
 * bytes of body. -ENOMEM leaves resp as it was. */
int gl_http_reply(struct gl_http_resp *resp, int status, const char *content_type,
		  const void *body, size_t len);
/* A query argument, decoded (NULL when absent; "" for "?flag"). */
const char *gl_http_req_arg(const struct gl_http_req *req, const char *key);
/* A request header (case-insensitive name; NULL when absent). */
const char *gl_http_req_header(const struct gl_http_req *req, const char *name);
