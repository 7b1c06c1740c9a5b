#include "daemon/http.h"
#include <errno.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "base/ip.h"
#include "base/log.h"
#include "base/util.h"

#define DEFAULT_CTYPE "text/plain; charset=utf-8"

struct route {
	char *method;
	char *path;
	gl_http_handler fn;
	void *userdata;
};

struct listener {
	struct gl_http *h;
	struct MHD_Daemon *mhd;
	sd_event_source *io;              /* MHD's epoll fd */
	struct gl_loop_timer *timer;      /* MHD's next timeout */
	char *unix_path;                  /* the socket file we made, to remove */
	dev_t dev;
	ino_t ino;
};

struct gl_http {
	struct gl_loop *loop;
	struct gl_http_opts opts;
	struct route routes[GL_HTTP_ROUTES_MAX];
	size_t nroutes;
	struct listener *listeners[GL_HTTP_LISTENERS_MAX];
	size_t nlisteners;
	struct gl_http_later *later;      /* deferred requests not yet answered by the daemon */
	bool closing;                     /* in gl_http_free: run no handler */
};

/* One request's state, from the URI log callback (the first thing MHD
 * tells of a request) to the completion notice. */
struct request {
	struct listener *li;
	char *uri;                        /* raw, query included */
	const struct route *route;
	bool started;
	bool too_big;
	char *body;
	size_t len, cap;
	/* deferred: the connection is suspended until the answer is in */
	struct gl_http_later *later;      /* NULL once answered (by anyone) or given up */
	bool deferred;
	bool suspended;                   /* the handler returned: MHD holds the connection */
	bool answered;                    /* the a_* fields hold the answer to queue */
	bool abandoned;                   /* the server is going: close, answer nothing */
	int a_status;
	char *a_ctype;
	char *a_body;
	size_t a_len;
};

/* The daemon's handle on a deferred request. It outlives the request (the
 * daemon frees it with gl_http_answer, whatever happened meanwhile). */
struct gl_http_later {
	struct gl_http *h;                /* NULL once the server is freed */
	struct gl_http_later *prev, *next;   /* in h->later */
	struct request *rq;               /* NULL once answered by the server or gone */
	struct MHD_Connection *c;
	struct gl_loop_timer *timer;      /* the answer_ms bound */
	int gone;                         /* why rq is NULL: -ETIMEDOUT, -ECONNRESET */
};

/* ---- driving MHD from the loop ---- */

/* After every MHD_run: MHD's next deadline (0 when it already has ready
 * connections inside its epoll set, which the outer fd will not report
 * again) becomes the listener's timer. */
static void listener_resched(struct listener *li)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(li->mhd, &ms) == MHD_YES)
		gl_loop_timer_arm(li->timer, ms > INT32_MAX ? INT32_MAX : (int64_t)ms);
	else
		gl_loop_timer_disarm(li->timer);
}

static void listener_run(struct listener *li)
{
	if (MHD_run(li->mhd) != MHD_YES)
		gl_debug("http: MHD_run failed");
	listener_resched(li);
}

static int on_mhd_io(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	listener_run(userdata);
	return 0;
}

static void on_mhd_timer(struct gl_loop *l, void *userdata)
{
	listener_run(userdata);
}

/* ---- requests ---- */

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct request *rq = calloc(1, sizeof(*rq));

	if (rq) {
		rq->li = cls;
		rq->uri = strdup(uri);
	}
	return rq;
}

static void later_detach(struct gl_http_later *p, int why)
{
	p->rq->later = NULL;
	p->rq = NULL;
	p->gone = why;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *req_cls;

	if (!rq)
		return;
	/* Not while suspended (MHD does not look at those); kept so that a
	 * handle can never point at a freed request. */
	if (rq->later)
		later_detach(rq->later, -ECONNRESET);
	free(rq->uri);
	free(rq->body);
	free(rq->a_ctype);
	free(rq->a_body);
	free(rq);
	*req_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[256];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	buf[strcspn(buf, "\n")] = '\0';
	gl_debug("http: %s", buf);
}

/* Queue a response that takes body (malloc'd, may be NULL). */
static enum MHD_Result send_owned(struct MHD_Connection *c, int status, const char *ctype,
				  char *body, size_t len, const char *allow)
{
	struct MHD_Response *resp;
	enum MHD_Result ok;

	resp = MHD_create_response_from_buffer(len, body ? body : (char *)"",
					       body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype ? ctype : DEFAULT_CTYPE);
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	ok = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *text,
				 const char *allow)
{
	return send_owned(c, status, DEFAULT_CTYPE, strdup(text), strlen(text), allow);
}

/* RFC 9110's token: what a method may be made of. MHD hands on any bytes. */
static bool method_ok(const char *m)
{
	if (!*m)
		return false;
	for (; *m; m++)
		if (!(*m >= 'a' && *m <= 'z') && !(*m >= 'A' && *m <= 'Z') &&
		    !(*m >= '0' && *m <= '9') && !strchr("!#$%&'*+-.^_`|~", *m))
			return false;
	return true;
}

/* The route for method and path, or NULL with the methods that path does
 * have in allow ("" when the path is unknown). HEAD finds a GET route. */
static const struct route *route_find(const struct gl_http *h, const char *method,
				      const char *path, char *allow, size_t allow_size)
{
	bool head = strcmp(method, "HEAD") == 0;

	allow[0] = '\0';
	for (size_t i = 0; i < h->nroutes; i++) {
		const struct route *r = &h->routes[i];
		size_t used = strlen(allow);

		if (strcmp(r->path, path) != 0)
			continue;
		if (strcmp(r->method, method) == 0 || (head && strcmp(r->method, "GET") == 0))
			return r;
		snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", r->method);
	}
	return NULL;
}

/* Hand a deferred request's answer (or its end) back to MHD: resuming
 * makes MHD call on_request again, which queues it. MHD's ITC wakes its
 * epoll fd; the zero timer makes sure MHD runs on the next iteration even
 * before that fd is seen. */
static void later_resume(struct request *rq, struct MHD_Connection *c)
{
	MHD_resume_connection(c);
	gl_loop_timer_arm(rq->li->timer, 0);
}

static void later_set(struct request *rq, int status, char *ctype, char *body, size_t len)
{
	rq->answered = true;
	rq->a_status = status;
	rq->a_ctype = ctype;
	rq->a_body = body;
	rq->a_len = len;
}

/* No answer from the daemon within answer_ms: say so rather than leave a
 * client with no timeout of its own waiting for ever. */
static void on_later_timeout(struct gl_loop *l, void *userdata)
{
	struct gl_http_later *p = userdata;
	struct request *rq = p->rq;
	static const char msg[] = "no answer in time\n";

	if (!rq)
		return;
	gl_debug("http: %s: no answer within %lld ms, answering 503", rq->uri ? rq->uri : "?",
		 (long long)p->h->opts.answer_ms);
	later_detach(p, -ETIMEDOUT);
	later_set(rq, 503, NULL, strdup(msg), strlen(msg));
	later_resume(rq, p->c);
}

static void later_unlink(struct gl_http_later *p)
{
	if (!p->h)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		p->h->later = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->h = NULL;
}

int gl_http_defer(const struct gl_http_req *req, struct gl_http_later **ret)
{
	struct request *rq = req ? req->request : NULL;
	struct gl_http *h;
	struct gl_http_later *p;
	int r;

	if (!rq || !ret)
		return -EINVAL;
	if (rq->deferred)
		return -EALREADY;
	h = rq->li->h;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = gl_loop_timer_add(h->loop, h->opts.answer_ms, 0, on_later_timeout, p, &p->timer);
	if (r < 0) {
		free(p);
		return r;
	}
	p->h = h;
	p->c = req->conn;
	p->rq = rq;
	p->next = h->later;
	if (h->later)
		h->later->prev = p;
	h->later = p;
	rq->later = p;
	rq->deferred = true;
	*ret = p;
	return 0;
}

int gl_http_answer(struct gl_http_later *p, int status, const char *content_type,
		   const void *body, size_t len)
{
	struct request *rq;
	char *b = NULL, *ct = NULL;
	int r = 0;

	if (!p)
		return -EINVAL;
	rq = p->rq;
	if (!rq) {
		r = p->gone;
	} else {
		if (status < 100 || status > 599) {
			r = -EINVAL;
		} else {
			b = malloc(len + 1);
			ct = content_type ? strdup(content_type) : NULL;
			if (!b || (content_type && !ct))
				r = -ENOMEM;
		}
		if (r < 0) {
			free(b);
			free(ct);
			later_set(rq, 500, NULL, NULL, 0);
		} else {
			if (len)
				memcpy(b, body, len);
			b[len] = '\0';
			later_set(rq, status, ct, b, len);
		}
		later_detach(p, 0);
		/* Answered within the handler itself: run_handler queues it. */
		if (rq->suspended)
			later_resume(rq, p->c);
	}
	later_unlink(p);
	gl_loop_timer_free(p->timer);
	free(p);
	return r;
}

static enum MHD_Result run_handler(struct gl_http *h, struct MHD_Connection *c,
				   struct request *rq, const char *method, const char *path)
{
	const char *q = strchr(rq->uri ? rq->uri : "", '?');
	const char *ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							MHD_HTTP_HEADER_CONTENT_TYPE);
	struct gl_http_req req = {
		.method = method,
		.path = path,
		.query = q ? q + 1 : "",
		.body = rq->body ? rq->body : "",
		.body_len = rq->len,
		.content_type = ctype ? ctype : "",
		.conn = c,
		.request = rq,
	};
	struct gl_http_resp resp = { .status = 200, .content_type = DEFAULT_CTYPE };
	int r = rq->route->fn(&req, &resp, rq->route->userdata);

	if (rq->deferred && rq->answered) {
		free(resp.body);
		rq->answered = false;
		return send_owned(c, rq->a_status, rq->a_ctype, TAKE_PTR(rq->a_body), rq->a_len, NULL);
	}
	if (rq->deferred && r >= 0) {
		/* The answer comes later: MHD leaves the connection alone
		 * until later_resume. */
		free(resp.body);
		rq->suspended = true;
		MHD_suspend_connection(c);
		return MHD_YES;
	}
	if (rq->deferred) {
		/* Deferred, then failed: answer now; the daemon's handle
		 * learns it is gone when it answers. */
		later_detach(rq->later, -ECONNRESET);
		r = -ECANCELED;
	}
	if (r < 0 || resp.status < 100 || resp.status > 599) {
		gl_debug("http: %s %s: handler failed (%d, status %d)", method, path, r, resp.status);
		free(resp.body);
		return send_text(c, 500, "internal error\n", NULL);
	}
	return send_owned(c, resp.status, resp.content_type, resp.body, resp.body_len, NULL);
}

/* MHD calls this first when the headers are in (route and size checks
 * answer at once, before any body is read: a client that sent "Expect:
 * 100-continue" never sends it), then once per piece of body, then once
 * with nothing left, when the handler runs. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct listener *li = cls;
	struct gl_http *h = li->h;
	struct request *rq = *req_cls;

	if (!rq || h->closing)
		return MHD_NO;    /* out of memory in on_uri, or going: drop the connection */
	if (rq->deferred) {
		/* Resumed: the answer is in, or the server is going. */
		if (rq->abandoned || !rq->answered)
			return MHD_NO;
		rq->answered = false;
		return send_owned(c, rq->a_status, rq->a_ctype, TAKE_PTR(rq->a_body), rq->a_len,
				  NULL);
	}
	if (!rq->started) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		char allow[128];

		rq->started = true;
		if (!method_ok(method))
			return send_text(c, 400, "bad request\n", NULL);
		rq->route = route_find(h, method, url, allow, sizeof(allow));
		if (!rq->route && allow[0])
			return send_text(c, 405, "method not allowed\n", allow);
		if (!rq->route)
			return send_text(c, 404, "not found\n", NULL);
		if (cl && strtoull(cl, NULL, 10) > h->opts.body_max)
			return send_text(c, 413, "request body too large\n", NULL);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (rq->too_big)
			return MHD_NO;
		if (n > h->opts.body_max - rq->len) {
			/* A body without Content-Length (chunked) that outgrows the
			 * bound: answer 413 if MHD lets us now, else drop it. */
			rq->too_big = true;
			free(rq->body);
			rq->body = NULL;
			return send_text(c, 413, "request body too large\n", NULL);
		}
		if (gl_buf_append(&rq->body, &rq->len, &rq->cap, upload, n) < 0)
			return MHD_NO;
		return MHD_YES;
	}
	if (rq->too_big)
		return MHD_NO;
	return run_handler(h, c, rq, method, url);
}

/* ---- listeners ---- */

static void listener_free(struct listener *li)
{
	struct stat st;

	if (!li)
		return;
	li->io = sd_event_source_disable_unref(li->io);
	gl_loop_timer_free(li->timer);
	if (li->mhd)
		MHD_stop_daemon(li->mhd);   /* closes the listen socket */
	if (li->unix_path && lstat(li->unix_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_dev == li->dev && st.st_ino == li->ino)
		unlink(li->unix_path);
	free(li->unix_path);
	free(li);
}

/* Hand the listening fd to a new MHD daemon on the loop; fd is MHD's from
 * here on. When MHD_start_daemon fails, whether it closed fd depends on how
 * far it got: we leave fd alone rather than risk closing a number another
 * thread has reused (the caller is a daemon that will exit on this). */
static int listener_start(struct gl_http *h, int fd, struct listener **ret, struct gl_err *err)
{
	struct listener *li;
	const union MHD_DaemonInfo *info;
	int r;

	if (h->nlisteners == GL_HTTP_LISTENERS_MAX) {
		close(fd);
		return gl_err_set(err, GL_ERR_INTERNAL, "too many listeners");
	}
	li = calloc(1, sizeof(*li));
	if (!li) {
		close(fd);
		return -ENOMEM;
	}
	li->h = h;
	/* No MHD thread: MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD
	 * is the external-loop mode (one epoll fd, MHD_run, MHD_get_timeout).
	 * Suspend/resume brings MHD's ITC, an eventfd in that epoll set, so a
	 * resume wakes the loop. */
	li->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0,
				   NULL, NULL, on_request, li,
				   MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
				   MHD_OPTION_LISTEN_SOCKET, fd,
				   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)h->opts.timeout_s,
				   MHD_OPTION_CONNECTION_LIMIT, (unsigned)h->opts.conns_max,
				   MHD_OPTION_URI_LOG_CALLBACK, on_uri, li,
				   MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				   MHD_OPTION_END);
	if (!li->mhd) {
		free(li);
		return gl_err_set(err, GL_ERR_INTERNAL, "cannot start the HTTP server");
	}
	info = MHD_get_daemon_info(li->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	r = info ? gl_loop_io_add(h->loop, info->epoll_fd, EPOLLIN, on_mhd_io, li, &li->io) : -EIO;
	if (r >= 0)
		r = gl_loop_timer_add(h->loop, 0, 0, on_mhd_timer, li, &li->timer);
	if (r < 0) {
		listener_free(li);
		return gl_err_from(err, r, GL_ERR_INTERNAL, "cannot watch the HTTP server");
	}
	gl_loop_timer_disarm(li->timer);
	h->listeners[h->nlisteners++] = li;
	*ret = li;
	return 0;
}

/* A socket file at path: gone if nobody answers on it, -EADDRINUSE if a
 * server does; any other file is left alone (-EEXIST). */
static int clear_stale(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN)
		return -EADDRINUSE;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int gl_http_listen_unix(struct gl_http *h, const char *path, mode_t mode, struct gl_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1;
	struct listener *li;
	struct stat st;
	int r;

	if (!path || path[0] != '/')
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "socket path must be absolute");
	if (gl_strlcpy(sa.sun_path, path, sizeof(sa.sun_path)) < 0)
		return gl_err_from(err, -ENAMETOOLONG, GL_ERR_INVALID_CONFIG,
				   "socket path longer than %zu bytes: %s", sizeof(sa.sun_path) - 1,
				   path);
	if (!mode)
		mode = 0600;
	r = gl_mkdir_parents(path);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_IO, "cannot create the folder of %s: %s", path,
				   strerror(-r));
	r = clear_stale(&sa);
	if (r == -EADDRINUSE)
		return gl_err_from(err, r, GL_ERR_IO, "a server already listens on %s", path);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_IO, "cannot replace %s: %s", path, strerror(-r));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return gl_err_from(err, -errno, GL_ERR_IO, "socket: %s", strerror(errno));
	/* On Linux bind() gives the file the socket inode's mode less the
	 * umask: narrowing it first means the file is never more open than
	 * mode, and the chmod after sets it exactly. */
	if (fchmod(fd, mode) < 0 ||
	    bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0)
		return gl_err_from(err, -errno, GL_ERR_IO, "cannot bind %s: %s", path,
				   strerror(errno));
	if (chmod(path, mode) < 0 || lstat(path, &st) < 0 || listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		unlink(path);
		return gl_err_from(err, r, GL_ERR_IO, "cannot listen on %s: %s", path, strerror(-r));
	}
	r = listener_start(h, TAKE_FD(fd), &li, err);
	if (r < 0) {
		unlink(path);
		return r;
	}
	li->unix_path = strdup(path);
	li->dev = st.st_dev;
	li->ino = st.st_ino;
	return 0;
}

int gl_http_listen_tcp(struct gl_http *h, const char *host, uint16_t port, uint16_t *ret_port,
		       struct gl_err *err)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	_cleanup_close_ int fd = -1;
	struct listener *li;
	struct gl_ip ip;
	int one = 1, r;

	if (!host)
		host = "127.0.0.1";
	if (gl_ip_parse(host, &ip) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "not an IP address: %s", host);
	if (ip.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip.addr, 4);
		sl = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, ip.addr, 16);
		sl = sizeof(*sin6);
	}
	fd = socket(ip.family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return gl_err_from(err, -errno, GL_ERR_IO, "socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ip.family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, SOMAXCONN) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		return gl_err_from(err, -errno, GL_ERR_IO, "cannot listen on %s port %u: %s", host,
				   (unsigned)port, strerror(errno));
	port = ntohs(ip.family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					  : ((struct sockaddr_in6 *)&ss)->sin6_port);
	r = listener_start(h, TAKE_FD(fd), &li, err);
	if (r < 0)
		return r;
	if (ret_port)
		*ret_port = port;
	return 0;
}

/* ---- server ---- */

int gl_http_new(struct gl_loop *l, const struct gl_http_opts *opts, struct gl_http **ret)
{
	struct gl_http *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->loop = l;
	if (opts)
		h->opts = *opts;
	if (!h->opts.body_max)
		h->opts.body_max = GL_HTTP_BODY_MAX;
	if (!h->opts.timeout_s)
		h->opts.timeout_s = GL_HTTP_TIMEOUT_S;
	if (!h->opts.conns_max)
		h->opts.conns_max = GL_HTTP_CONNS_MAX;
	if (h->opts.answer_ms <= 0)
		h->opts.answer_ms = GL_HTTP_ANSWER_MS;
	*ret = h;
	return 0;
}

void gl_http_free(struct gl_http *h)
{
	if (!h)
		return;
	/* MHD_stop_daemon must not meet a suspended connection (MHD panics):
	 * resume every deferred one, marked to close without an answer. The
	 * daemon's handles stay valid until its gl_http_answer (-ECONNRESET);
	 * their timers go now, while the loop is surely alive. */
	h->closing = true;
	while (h->later) {
		struct gl_http_later *p = h->later;

		if (p->rq) {
			struct request *rq = p->rq;

			rq->abandoned = true;
			later_detach(p, -ECONNRESET);
			MHD_resume_connection(p->c);
		}
		gl_loop_timer_free(p->timer);
		p->timer = NULL;
		later_unlink(p);
	}
	for (size_t i = 0; i < h->nlisteners; i++) {
		/* Let MHD see the resumed ones (they close) before it stops. */
		MHD_run(h->listeners[i]->mhd);
		listener_free(h->listeners[i]);
	}
	for (size_t i = 0; i < h->nroutes; i++) {
		free(h->routes[i].method);
		free(h->routes[i].path);
	}
	free(h);
}

int gl_http_route(struct gl_http *h, const char *method, const char *path, gl_http_handler fn,
		  void *userdata)
{
	struct route *r;

	if (!method || !*method || !path || path[0] != '/' || !fn)
		return -EINVAL;
	for (size_t i = 0; i < h->nroutes; i++)
		if (strcmp(h->routes[i].method, method) == 0 && strcmp(h->routes[i].path, path) == 0)
			return -EEXIST;
	if (h->nroutes == GL_HTTP_ROUTES_MAX)
		return -ENOSPC;
	r = &h->routes[h->nroutes];
	r->method = strdup(method);
	r->path = strdup(path);
	if (!r->method || !r->path) {
		free(r->method);
		free(r->path);
		return -ENOMEM;
	}
	r->fn = fn;
	r->userdata = userdata;
	h->nroutes++;
	return 0;
}

int gl_http_reply(struct gl_http_resp *resp, int status, const char *content_type,
		  const void *body, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, body, len);
	copy[len] = '\0';
	free(resp->body);
	resp->body = copy;
	resp->body_len = len;
	resp->status = status;
	resp->content_type = content_type ? content_type : DEFAULT_CTYPE;
	return 0;
}

const char *gl_http_req_arg(const struct gl_http_req *req, const char *key)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *gl_http_req_header(const struct gl_http_req *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}
