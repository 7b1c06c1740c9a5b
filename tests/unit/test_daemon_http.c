/* lib/daemon/http.c and health.c over real sockets: a unix socket and TCP on
 * 127.0.0.1 port 0, the server on the loop in the test's thread, the
 * client (libcurl and raw sockets) as a worker job on a second thread.
 * GET /metrics, /healthz, /readyz, a JSON POST to a route, 404, 405, a
 * 2 MiB body -> 413 (with Content-Length and chunked), a garbage request
 * line -> 400 with the server still answering, a handler failure -> 500,
 * the idle timeout; and the unix socket file's rules (mode, parents, stale
 * file, live server, long path). Every wait is bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "base/util.h"
#include "daemon/health.h"
#include "daemon/http.h"
#include "daemon/loop.h"
#include "daemon/worker.h"

#define GUARD_MS 30000
#define CLIENT_TIMEOUT_MS 5000
#define BIG (2u << 20)

static char tmpdir[] = "/tmp/gl-dhttp.XXXXXX";

/* ---- the server side (loop thread) ---- */

struct server {
	struct gl_loop *loop;
	struct gl_http *http;
	struct gl_metrics *metrics;
	struct gl_metric *requests;
	struct gl_health health;
	pthread_t loop_thread;
	int off_loop;                 /* handler calls not on the loop thread */
};

/* Answers with what it saw, as JSON: method, query, an argument, the body's
 * "name" field, the content type. */
static int on_echo(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	struct server *s = userdata;
	json_object *in = json_tokener_parse(req->body), *out = json_object_new_object(), *name;
	const char *y = gl_http_req_arg(req, "y");
	const char *text;
	int r;

	if (!pthread_equal(pthread_self(), s->loop_thread))
		s->off_loop++;
	gl_metrics_add(s->requests, (const char *[]){ "echo" }, 1);
	json_object_object_add(out, "method", json_object_new_string(req->method));
	json_object_object_add(out, "path", json_object_new_string(req->path));
	json_object_object_add(out, "query", json_object_new_string(req->query));
	json_object_object_add(out, "y", y ? json_object_new_string(y) : NULL);
	json_object_object_add(out, "len", json_object_new_int64((int64_t)req->body_len));
	json_object_object_add(out, "ctype", json_object_new_string(req->content_type));
	if (in && json_object_object_get_ex(in, "name", &name))
		json_object_object_add(out, "name", json_object_get(name));
	text = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	r = gl_http_reply(resp, in ? 200 : 400, "application/json", text, strlen(text));
	json_object_put(in);
	json_object_put(out);
	return r;
}

static int on_fail(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	/* A partial answer is dropped: the client gets a plain 500. */
	gl_http_reply(resp, 200, NULL, "half", 4);
	return -EIO;
}

static int on_ready(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	struct server *s = userdata;

	s->health.ready = true;
	resp->status = 204;
	return 0;
}

static void on_guard(struct gl_loop *l, void *userdata)
{
	print_message("# guard timer fired: the client did not finish\n");
	gl_loop_exit(l, 99);
}

static void server_init(struct server *s, unsigned timeout_s)
{
	struct gl_http_opts o = { .timeout_s = timeout_s };

	memset(s, 0, sizeof(*s));
	s->loop_thread = pthread_self();
	assert_int_equal(gl_loop_new(&s->loop), 0);
	assert_int_equal(gl_loop_timer_add(s->loop, GUARD_MS, 0, on_guard, NULL, NULL), 0);
	assert_int_equal(gl_http_new(s->loop, &o, &s->http), 0);
	assert_int_equal(gl_metrics_new(&s->metrics), 0);
	assert_int_equal(gl_metrics_counter(s->metrics, "test_requests_total", "Requests.",
					    (const char *[]){ "route", NULL }, &s->requests), 0);
	s->health.metrics = s->metrics;
	assert_int_equal(gl_health_register(s->http, &s->health), 0);
	assert_int_equal(gl_http_route(s->http, "POST", "/echo", on_echo, s), 0);
	assert_int_equal(gl_http_route(s->http, "PUT", "/echo", on_echo, s), 0);
	assert_int_equal(gl_http_route(s->http, "POST", "/echo", on_echo, s), -EEXIST);
	assert_int_equal(gl_http_route(s->http, "GET", "/fail", on_fail, s), 0);
	assert_int_equal(gl_http_route(s->http, "POST", "/test/ready", on_ready, s), 0);
	assert_int_equal(gl_http_route(s->http, "GET", "relative", on_fail, s), -EINVAL);
}

static void server_free(struct server *s)
{
	gl_http_free(s->http);
	gl_metrics_free(s->metrics);
	gl_loop_free(s->loop);
}

/* ---- the client side (worker thread): records, the test thread checks ---- */

#define STEPS 19

struct answer {
	long status;                  /* 0: no answer (connection closed) */
	char ctype[128];
	char allow[64];
	char *body;
	size_t len;
};

struct client {
	const char *unix_path;        /* or */
	uint16_t port;
	bool timeout_test;
	struct answer a[STEPS];
	bool idle_closed;             /* the idle connection was closed by the server */
};

struct grow {
	char *buf;
	size_t len, cap;
};

static size_t on_data(char *p, size_t sz, size_t n, void *userdata)
{
	struct grow *g = userdata;

	return gl_buf_append(&g->buf, &g->len, &g->cap, p, sz * n) < 0 ? 0 : sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *userdata)
{
	struct answer *a = userdata;
	size_t len = sz * n;

	if (len > 13 && !strncasecmp(p, "Content-Type:", 13))
		snprintf(a->ctype, sizeof(a->ctype), "%.*s", (int)strcspn(p + 14, "\r\n"), p + 14);
	if (len > 6 && !strncasecmp(p, "Allow:", 6))
		snprintf(a->allow, sizeof(a->allow), "%.*s", (int)strcspn(p + 7, "\r\n"), p + 7);
	return len;
}

struct upload {
	size_t left;
};

static size_t on_read(char *p, size_t sz, size_t n, void *userdata)
{
	struct upload *u = userdata;
	size_t k = sz * n < u->left ? sz * n : u->left;

	memset(p, 'x', k);
	u->left -= k;
	return k;
}

/* One request with libcurl. body NULL: none; chunked: a body of len bytes
 * sent without Content-Length. */
static void request(struct client *c, struct answer *a, const char *method, const char *path,
		    const char *body, size_t len, bool chunked, const char *ctype)
{
	CURL *e = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct grow g = { 0 };
	struct upload u = { len };
	char url[256];

	if (!e)
		return;
	snprintf(url, sizeof(url), "http://%s%s", c->unix_path ? "localhost" : "127.0.0.1", path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	if (c->unix_path)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, c->unix_path);
	else
		curl_easy_setopt(e, CURLOPT_PORT, (long)c->port);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)CLIENT_TIMEOUT_MS);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &g);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (ctype) {
		char h[160];

		snprintf(h, sizeof(h), "Content-Type: %s", ctype);
		hdrs = curl_slist_append(hdrs, h);
	}
	if (chunked) {
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
		curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(e, CURLOPT_READDATA, &u);
	} else if (body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
	a->body = g.buf;
	a->len = g.len;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(e);
}

static int client_connect(const struct client *c)
{
	int fd;

	if (c->unix_path) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (gl_strlcpy(sa.sun_path, c->unix_path, sizeof(sa.sun_path)) < 0)
			return -1;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			return -1;
		}
	} else {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(c->port),
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			close(fd);
			return -1;
		}
	}
	return fd;
}

/* Read until EOF or CLIENT_TIMEOUT_MS; true when the peer closed. */
static bool read_to_eof(int fd, char *buf, size_t size, size_t *ret_len)
{
	int64_t until = gl_now_mono_ms() + CLIENT_TIMEOUT_MS;
	size_t len = 0;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = until - gl_now_mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0) {
			buf[len] = '\0';
			*ret_len = len;
			return n == 0 || errno == ECONNRESET;
		}
		len += (size_t)n;
		if (len == size - 1)
			break;
	}
	buf[len] = '\0';
	*ret_len = len;
	return false;
}

/* Send raw bytes on a new connection; the answer's status line's code. */
static void raw_request(struct client *c, struct answer *a, const char *text)
{
	char buf[4096];
	size_t len;
	int fd = client_connect(c);

	if (fd < 0)
		return;
	if (gl_write_all(fd, text, strlen(text)) == 0) {
		read_to_eof(fd, buf, sizeof(buf), &len);
		if (len > 12 && !strncmp(buf, "HTTP/1.", 7))
			a->status = strtol(buf + 9, NULL, 10);
		a->body = strdup(buf);
	}
	close(fd);
}

static int client_job(struct gl_worker *w, void *job)
{
	struct client *c = job;
	static const char json[] = "{\"name\":\"gs-0\",\"n\":1}";
	char *big = malloc(BIG);
	int i = 0;

	if (!big)
		return -ENOMEM;
	memset(big, '{', BIG);
	request(c, &c->a[i++], "GET", "/readyz", NULL, 0, false, NULL);                      /* 0 */
	request(c, &c->a[i++], "POST", "/test/ready", "", 0, false, NULL);                   /* 1 */
	request(c, &c->a[i++], "GET", "/readyz", NULL, 0, false, NULL);                      /* 2 */
	request(c, &c->a[i++], "POST", "/echo?x=1&y=a%20b", json, strlen(json), false,
		"application/json");                                                         /* 3 */
	request(c, &c->a[i++], "GET", "/metrics", NULL, 0, false, NULL);                     /* 4 */
	request(c, &c->a[i++], "GET", "/nope", NULL, 0, false, NULL);                        /* 5 */
	request(c, &c->a[i++], "GET", "/echo", NULL, 0, false, NULL);                        /* 6 */
	request(c, &c->a[i++], "POST", "/echo", big, BIG, false, "application/json");        /* 7 */
	request(c, &c->a[i++], "POST", "/echo", NULL, BIG, true, "application/json");        /* 8 */
	raw_request(c, &c->a[i++], "GET / FOO\r\nHost: x\r\n\r\n");                           /* 9 */
	raw_request(c, &c->a[i++], "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	request(c, &c->a[i++], "GET", "/fail", NULL, 0, false, NULL);                        /* 11 */
	request(c, &c->a[i++], "HEAD", "/healthz", NULL, 0, false, NULL);                    /* 12 */
	raw_request(c, &c->a[i++], "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
	request(c, &c->a[i++], "PUT", "/echo", "not json", 8, false, "text/plain");          /* 14 */
	request(c, &c->a[i++], "GET", "/healthz", NULL, 0, false, NULL);                     /* 15 */
	raw_request(c, &c->a[i++], "GARBAGE\r\n\r\n");                                       /* 16 */
	raw_request(c, &c->a[i++], "\x01\x7f / HTTP/1.1\r\nHost: x\r\n\r\n");                  /* 17 */
	request(c, &c->a[i++], "GET", "/healthz", NULL, 0, false, NULL);                     /* 18 */
	free(big);
	if (c->timeout_test) {
		/* An idle, unfinished request: the server's timeout closes it. */
		char buf[256];
		size_t len;
		int fd = client_connect(c);

		if (fd >= 0) {
			gl_write_all(fd, "GET /healthz HTTP/1.1\r\n", 23);
			c->idle_closed = read_to_eof(fd, buf, sizeof(buf), &len);
			close(fd);
		}
	}
	return 0;
}

static void deliver_none(void *msg, void *userdata)
{
	free(msg);
}

static void client_done(int result, void *userdata)
{
	gl_loop_exit(userdata, result == 0 ? 0 : 98);
}

static void run_client(struct server *s, struct client *c)
{
	static const struct gl_worker_ops ops = { .run = client_job, .deliver = deliver_none,
						  .done = client_done };
	struct gl_worker *w;

	assert_int_equal(gl_worker_start(s->loop, &ops, c, s->loop, 0, &w), 0);
	assert_int_equal(gl_loop_run(s->loop), 0);
	gl_worker_free(w, 0);
}

static void check_answers(struct client *c)
{
	struct answer *a = c->a;

	for (int i = 0; i < STEPS; i++)
		print_message("# step %d: %ld %s\n", i, a[i].status, a[i].ctype);
	assert_int_equal(a[0].status, 503);
	assert_int_equal(a[1].status, 204);
	assert_int_equal(a[2].status, 200);
	assert_string_equal(a[2].body, "ok\n");
	assert_int_equal(a[3].status, 200);
	assert_string_equal(a[3].ctype, "application/json");
	assert_string_equal(a[3].body,
			    "{\"method\":\"POST\",\"path\":\"/echo\",\"query\":\"x=1&y=a%20b\","
			    "\"y\":\"a b\",\"len\":21,\"ctype\":\"application/json\",\"name\":\"gs-0\"}");
	assert_int_equal(a[4].status, 200);
	assert_string_equal(a[4].ctype, GL_METRICS_CONTENT_TYPE);
	assert_string_equal(a[4].body, "# HELP test_requests_total Requests.\n"
				       "# TYPE test_requests_total counter\n"
				       "test_requests_total{route=\"echo\"} 1\n");
	assert_int_equal(a[5].status, 404);
	assert_int_equal(a[6].status, 405);
	assert_string_equal(a[6].allow, "POST, PUT");
	assert_int_equal(a[7].status, 413);
	/* Chunked past the bound: a 413, or the connection dropped. */
	assert_true(a[8].status == 413 || a[8].status == 0);
	assert_int_equal(a[9].status, 400);
	assert_int_equal(a[10].status, 200);
	assert_non_null(strstr(a[10].body, "\r\n\r\nok\n"));
	assert_int_equal(a[11].status, 500);
	assert_string_equal(a[11].body, "internal error\n");
	assert_int_equal(a[12].status, 200);
	assert_int_equal(a[12].len, 0);
	assert_int_equal(a[13].status, 400);
	assert_int_equal(a[14].status, 400);
	assert_int_equal(a[15].status, 200);
	/* A request line of one word: MHD closes without an answer. */
	assert_int_equal(a[16].status, 0);
	assert_string_equal(a[16].body, "");
	assert_int_equal(a[17].status, 400);
	assert_int_equal(a[18].status, 200);
	for (int i = 0; i < STEPS; i++)
		free(a[i].body);
}

/* ---- tests ---- */

static void test_unix_socket(void **state)
{
	struct server s;
	struct client c = { 0 };
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/run/plugins/gamelan.sock", tmpdir);
	server_init(&s, 0);
	assert_int_equal(gl_http_listen_unix(s.http, path, 0, NULL), 0);
	/* The socket file is 0600, its new parents 0700. */
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	*strrchr(path, '/') = '\0';
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	strcat(path, "/gamelan.sock");

	c.unix_path = path;
	run_client(&s, &c);
	check_answers(&c);
	assert_int_equal(s.off_loop, 0);
	server_free(&s);
	/* Gone with the server. */
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static void test_tcp(void **state)
{
	struct server s;
	struct client c = { .timeout_test = true };
	struct gl_err err = { 0 };

	server_init(&s, 1);
	assert_int_equal(gl_http_listen_tcp(s.http, NULL, 0, &c.port, &err), 0);
	assert_true(c.port > 0);
	assert_int_equal(gl_http_listen_tcp(s.http, "not-an-ip", 0, NULL, NULL), -EINVAL);
	run_client(&s, &c);
	check_answers(&c);
	assert_true(c.idle_closed);
	server_free(&s);
}

static void test_unix_socket_rules(void **state)
{
	struct server s, other;
	char path[PATH_MAX], longp[200];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct gl_err err = { 0 };
	struct stat st;
	int fd;

	server_init(&s, 0);
	/* A stale socket file (its server gone) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", tmpdir);
	assert_int_equal(gl_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(gl_http_listen_unix(s.http, path, 0660, &err), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);

	/* A live server's socket is not taken over. */
	server_init(&other, 0);
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_http_listen_unix(other.http, path, 0, &err), -EADDRINUSE);
	assert_non_null(strstr(err.msg, "already listens"));

	/* A file that is not a socket is left alone. */
	snprintf(path, sizeof(path), "%s/regular", tmpdir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(gl_http_listen_unix(other.http, path, 0, NULL), -EEXIST);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));

	/* Too long for sun_path; relative. */
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(gl_http_listen_unix(other.http, longp, 0, NULL), -ENAMETOOLONG);
	assert_true(gl_http_listen_unix(other.http, "rel.sock", 0, NULL) < 0);
	server_free(&other);
	server_free(&s);
}

/* ---- deferred answers (MHD suspend/resume) ---- */

#define NSLOW 20                  /* as many parallel `docker run`s */

struct deferred {
	struct server s;
	int go;                       /* the slow jobs may end (set on the loop) */
	int answered;                 /* slow answers handed to gl_http_answer */
	int answer_fail;
	struct gl_http_later *never;  /* deferred and never answered by the daemon */
	struct gl_http_later *hang;
	int defer_twice;
};

struct slow {
	struct deferred *d;
	struct gl_http_later *later;
	struct gl_worker *w;
	int id;
	int result;
};

/* A blocking call on the worker: it ends only once the loop served /go, so
 * a loop blocked by the deferred requests would never let it end. */
static int slow_run(struct gl_worker *w, void *job)
{
	struct slow *sl = job;
	int64_t until = gl_now_mono_ms() + GUARD_MS;

	while (!__atomic_load_n(&sl->d->go, __ATOMIC_SEQ_CST)) {
		if (gl_now_mono_ms() > until || gl_worker_sleep(w, 5) < 0)
			return -ETIMEDOUT;
	}
	return sl->id * 10;
}

static void slow_done(int result, void *userdata)
{
	struct slow *sl = userdata;
	char text[32];
	int n = snprintf(text, sizeof(text), "%d", result);

	if (gl_http_answer(sl->later, 200, "text/plain", text, (size_t)n) == 0)
		sl->d->answered++;
	else
		sl->d->answer_fail++;
	gl_worker_free(sl->w, 0);
	free(sl);
}

static void deliver_free(void *msg, void *userdata)
{
	free(msg);
}

static int on_slow(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	static const struct gl_worker_ops ops = { .run = slow_run, .deliver = deliver_free,
						  .done = slow_done };
	struct deferred *d = userdata;
	struct gl_http_later *again;
	struct slow *sl = calloc(1, sizeof(*sl));
	int r;

	if (!sl)
		return -ENOMEM;
	sl->d = d;
	sl->id = atoi(req->body);
	r = gl_http_defer(req, &sl->later);
	if (r < 0) {
		free(sl);
		return r;
	}
	if (gl_http_defer(req, &again) == -EALREADY)
		d->defer_twice++;
	r = gl_worker_start(d->s.loop, &ops, sl, sl, 0, &sl->w);
	if (r < 0) {
		/* Answering from the deferring handler itself is fine. */
		gl_http_answer(sl->later, 503, NULL, "busy\n", 5);
		free(sl);
	}
	return 0;
}

static int on_go(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	struct deferred *d = userdata;

	__atomic_store_n(&d->go, 1, __ATOMIC_SEQ_CST);
	return gl_http_reply(resp, 200, NULL, "go\n", 3);
}

/* Deferred and answered at once, from the handler itself. */
static int on_now(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	struct gl_http_later *p;
	int r = gl_http_defer(req, &p);

	return r < 0 ? r : gl_http_answer(p, 202, NULL, "now\n", 4);
}

static int on_never(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	struct deferred *d = userdata;

	return gl_http_defer(req, &d->never);
}

static int on_hang(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	struct deferred *d = userdata;
	int r = gl_http_defer(req, &d->hang);

	gl_loop_exit(d->s.loop, 0);
	return r;
}

struct slow_client {
	uint16_t port, never_port;
	int status[NSLOW];
	char body[NSLOW][64];
	struct answer go, never, now;
};

/* The status and body of one raw answer. */
static void parse_raw(const char *buf, int *ret_status, char *body, size_t size)
{
	const char *b = strstr(buf, "\r\n\r\n");

	if (strncmp(buf, "HTTP/1.", 7) == 0)
		*ret_status = (int)strtol(buf + 9, NULL, 10);
	snprintf(body, size, "%s", b ? b + 4 : "");
}

/* NSLOW requests left waiting at once on connections of their own, then
 * /go on another, then every answer read; then /never, which only the
 * second server's bound answers. */
static int slow_client_job(struct gl_worker *w, void *job)
{
	struct slow_client *sc = job;
	struct client c = { .port = sc->port }, cn = { .port = sc->never_port };
	int fds[NSLOW];

	for (int i = 0; i < NSLOW; i++) {
		char req[128];
		char num[8];
		int n = snprintf(num, sizeof(num), "%d", i + 1);

		snprintf(req, sizeof(req),
			 "POST /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
			 "Content-Length: %d\r\n\r\n%s", n, num);
		fds[i] = client_connect(&c);
		if (fds[i] >= 0 && gl_write_all(fds[i], req, strlen(req)) < 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
	request(&c, &sc->go, "GET", "/go", NULL, 0, false, NULL);
	for (int i = 0; i < NSLOW; i++) {
		char buf[1024];
		size_t len;

		if (fds[i] < 0)
			continue;
		read_to_eof(fds[i], buf, sizeof(buf), &len);
		parse_raw(buf, &sc->status[i], sc->body[i], sizeof(sc->body[i]));
		close(fds[i]);
	}
	request(&cn, &sc->never, "GET", "/never", NULL, 0, false, NULL);
	request(&c, &sc->now, "GET", "/now", NULL, 0, false, NULL);
	return 0;
}

static void slow_client_done(int result, void *userdata)
{
	gl_loop_exit(userdata, result == 0 ? 0 : 98);
}

/* What the Docker driver does: each request deferred, its blocking part on
 * a worker, answered from the worker's done; the loop keeps serving others
 * meanwhile. And a request nobody answers gets the server's 503 at its
 * bound. */
static void test_deferred(void **state)
{
	static const struct gl_worker_ops ops = { .run = slow_client_job, .deliver = deliver_free,
						  .done = slow_client_done };
	struct deferred *d = calloc(1, sizeof(*d));
	struct slow_client sc = { 0 };
	struct gl_http_opts o = { .answer_ms = 300 };
	struct gl_http *bounded;
	struct gl_worker *w;

	assert_non_null(d);
	d->s.loop_thread = pthread_self();
	assert_int_equal(gl_loop_new(&d->s.loop), 0);
	assert_int_equal(gl_loop_timer_add(d->s.loop, GUARD_MS, 0, on_guard, NULL, NULL), 0);
	assert_int_equal(gl_http_new(d->s.loop, NULL, &d->s.http), 0);
	assert_int_equal(gl_http_route(d->s.http, "POST", "/slow", on_slow, d), 0);
	assert_int_equal(gl_http_route(d->s.http, "GET", "/go", on_go, d), 0);
	assert_int_equal(gl_http_route(d->s.http, "GET", "/now", on_now, d), 0);
	assert_int_equal(gl_http_listen_tcp(d->s.http, NULL, 0, &sc.port, NULL), 0);
	assert_int_equal(gl_http_new(d->s.loop, &o, &bounded), 0);
	assert_int_equal(gl_http_route(bounded, "GET", "/never", on_never, d), 0);
	assert_int_equal(gl_http_listen_tcp(bounded, NULL, 0, &sc.never_port, NULL), 0);

	assert_int_equal(gl_worker_start(d->s.loop, &ops, &sc, d->s.loop, 0, &w), 0);
	assert_int_equal(gl_loop_run(d->s.loop), 0);
	gl_worker_free(w, 0);

	assert_int_equal(sc.go.status, 200);
	assert_int_equal(d->defer_twice, NSLOW);
	for (int i = 0; i < NSLOW; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%d", (i + 1) * 10);
		assert_int_equal(sc.status[i], 200);
		assert_string_equal(sc.body[i], want);
	}
	assert_int_equal(d->answered, NSLOW);
	assert_int_equal(d->answer_fail, 0);
	/* The daemon's handle for /never: the server answered 503 itself. */
	assert_int_equal(sc.never.status, 503);
	assert_string_equal(sc.never.body, "no answer in time\n");
	assert_non_null(d->never);
	assert_int_equal(gl_http_answer(d->never, 200, NULL, "late", 4), -ETIMEDOUT);
	assert_int_equal(sc.now.status, 202);
	assert_string_equal(sc.now.body, "now\n");
	free(sc.go.body);
	free(sc.never.body);
	free(sc.now.body);
	gl_http_free(bounded);
	gl_http_free(d->s.http);
	gl_loop_free(d->s.loop);
	free(d);
}

/* Freed with a request still deferred: MHD must not meet a suspended
 * connection (it aborts), the client sees its connection closed, and the
 * daemon's handle learns that the request is gone. */
static void test_deferred_free(void **state)
{
	struct deferred *d = calloc(1, sizeof(*d));
	const char *req = "GET /hang HTTP/1.1\r\nHost: x\r\n\r\n";
	struct client c = { 0 };
	char buf[256];
	size_t len;
	int fd;

	assert_non_null(d);
	assert_int_equal(gl_loop_new(&d->s.loop), 0);
	assert_int_equal(gl_loop_timer_add(d->s.loop, GUARD_MS, 0, on_guard, NULL, NULL), 0);
	assert_int_equal(gl_http_new(d->s.loop, NULL, &d->s.http), 0);
	assert_int_equal(gl_http_route(d->s.http, "GET", "/hang", on_hang, d), 0);
	assert_int_equal(gl_http_listen_tcp(d->s.http, NULL, 0, &c.port, NULL), 0);
	/* The kernel queues the connection and the bytes: the loop, in this
	 * same thread, takes them when it runs; /hang ends the loop. */
	fd = client_connect(&c);
	assert_true(fd >= 0);
	assert_int_equal(gl_write_all(fd, req, strlen(req)), 0);
	assert_int_equal(gl_loop_run(d->s.loop), 0);
	assert_non_null(d->hang);
	gl_http_free(d->s.http);
	assert_true(read_to_eof(fd, buf, sizeof(buf), &len));
	assert_int_equal(len, 0);
	close(fd);
	assert_int_equal(gl_http_answer(d->hang, 200, NULL, "late", 4), -ECONNRESET);
	gl_loop_free(d->s.loop);
	free(d);
}

static int setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_tcp),
		cmocka_unit_test(test_unix_socket_rules),
		cmocka_unit_test(test_deferred),
		cmocka_unit_test(test_deferred_free),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
