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
#define GL_HTTP_ANSWER_MS 30000          /* default bound of a deferred answer: 503 past it */
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
	void *request;                   /* the server's, for gl_http_defer */
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
	int64_t answer_ms;               /* bound of a deferred answer (gl_http_defer) */
};

/* A server on loop l, listening nowhere yet. opts NULL = defaults. */
int gl_http_new(struct gl_loop *l, const struct gl_http_opts *opts, struct gl_http **ret);
/* Stop every listener (connections are closed, deferred requests among
 * them, unix socket files removed if they are still ours) and free (NULL is
 * fine). Not from a handler. */
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

/* ---- Answering later ------------------------------------------------------
 * A handler whose answer needs a blocking call (a worker's: dockerd's API, a
 * probe) takes the request with gl_http_defer and returns 0; resp is then
 * ignored. The connection waits, costing the loop nothing (MHD suspends it:
 * no reads, no idle timeout), until gl_http_answer, on the loop thread,
 * typically from the worker's deliver or done. Past opts.answer_ms without
 * an answer the server answers 503 itself, so a client with no timeout of
 * its own (Docker's plugin client) never hangs. Either way, every deferral
 * ends with exactly one gl_http_answer, which frees it. */

struct gl_http_later;

/* From a handler: keep req open. req->body stays valid (and the caller's to
 * read) until gl_http_answer; copy anything else needed later. -EALREADY
 * when req was deferred already, -ENOMEM. */
int gl_http_defer(const struct gl_http_req *req, struct gl_http_later **ret);
/* Answer and free p (loop thread; from the deferring handler itself too,
 * e.g. when starting the work failed). status, content type and body as
 * gl_http_reply (copied). Returns
 * 0 when the answer is on its way, -ETIMEDOUT when the server had answered
 * 503 already, -ECONNRESET when the server was freed or the connection is
 * gone, -EINVAL for a status outside 100..599 (500 sent), -ENOMEM (500
 * sent, no body). p is freed in every case. */
int gl_http_answer(struct gl_http_later *p, int status, const char *content_type,
		   const void *body, size_t len);
