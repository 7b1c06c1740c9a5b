/* Kubernetes client: HTTP over libcurl (one easy handle reused for requests,
 * a second one for watches), retries with backoff, token reload, list + watch. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include "base/json.h"
#include "kube/kube.h"
#include "base/log.h"
#include "base/util.h"

#define URL_MAX 8192
#define PATHQ_MAX 6144
#define ERR_BODY_MAX (64u << 10)
#define LIST_PAGE_DEFAULT 500
#define WATCH_TIMEOUT_DEFAULT 300

struct gl_kube {
	struct gl_kube_config cfg;
	struct gl_kube_opts o;
	CURL *curl;       /* requests */
	CURL *wcurl;      /* watches, created on first use */
	char *token;      /* current bearer token (NULL = none) */
	int64_t token_read_ms;
	uint64_t nreq;
	uint32_t rnd;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	struct sigaction sa;

	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	/* With CURLOPT_NOSIGNAL (needed in threaded programs) libcurl leaves
	 * SIGPIPE to us, and a TLS write to a connection the API server closed
	 * would kill a CNI plugin. Only a default disposition is changed. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		sa.sa_handler = SIG_IGN;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

static uint32_t next_rnd(struct gl_kube *k)
{
	/* xorshift32: jitter only needs to differ between clients. */
	uint32_t x = k->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return k->rnd = x ? x : 0x9e3779b9u;
}

static void sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void free_secret(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static int dup_opt(const char *s, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int dup_blob(const char *s, size_t n, char **ret)
{
	*ret = NULL;
	if (!s)
		return 0;
	*ret = malloc(n + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, s, n);
	(*ret)[n] = '\0';
	return 0;
}

static int config_copy(struct gl_kube_config *d, const struct gl_kube_config *s)
{
	int r = 0;

	*d = *s;
	d->server = d->ca_file = d->ca_data = d->token = d->token_file = NULL;
	d->cert_file = d->key_file = d->cert_data = d->key_data = d->namespace = NULL;
	r |= dup_opt(s->server, &d->server);
	r |= dup_opt(s->ca_file, &d->ca_file);
	r |= dup_blob(s->ca_data, s->ca_data_len, &d->ca_data);
	r |= dup_opt(s->token, &d->token);
	r |= dup_opt(s->token_file, &d->token_file);
	r |= dup_opt(s->cert_file, &d->cert_file);
	r |= dup_opt(s->key_file, &d->key_file);
	r |= dup_blob(s->cert_data, s->cert_data_len, &d->cert_data);
	r |= dup_blob(s->key_data, s->key_data_len, &d->key_data);
	r |= dup_opt(s->namespace ? s->namespace : "default", &d->namespace);
	return r ? -ENOMEM : 0;
}

static void config_clear(struct gl_kube_config *c)
{
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	free_secret(&c->token);
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	if (c->key_data)
		explicit_bzero(c->key_data, c->key_data_len);
	free(c->key_data);
	free(c->namespace);
}

/* Re-read the token file. A failed read keeps the token we have: a kubelet
 * rotating the projected token replaces it atomically, so a failure is rare
 * and the old token may still be valid. */
static void token_reload(struct gl_kube *k, bool force)
{
	_cleanup_close_ int fd = -1;
	char *buf = NULL;
	size_t len;
	int64_t now = gl_now_mono_ms();

	if (!k->cfg.token_file)
		return;
	if (!force && k->token && now - k->token_read_ms < k->o.token_reload_ms)
		return;
	k->token_read_ms = now;
	fd = open(k->cfg.token_file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || gl_read_all(fd, GL_KUBE_CONFIG_MAX, &buf, &len) < 0) {
		gl_debug("kube: cannot re-read token file %s", k->cfg.token_file);
		return;
	}
	while (len > 0 && strchr(" \t\r\n", buf[len - 1]))
		buf[--len] = '\0';
	if (len == 0 || strlen(buf) != len || strpbrk(buf, "\r\n")) {
		free_secret(&buf);
		return;
	}
	free_secret(&k->token);
	k->token = buf;
}

/* The client certificate or key: PEM from the kubeconfig's data (libcurl
 * copies it) or from its file; nothing when it has neither. */
static CURLcode set_pem(CURL *c, CURLoption blob_opt, CURLoption file_opt, CURLoption type_opt, char *data,
			size_t len, const char *file)
{
	CURLcode rc;

	if (data) {
		struct curl_blob b = { data, len, CURL_BLOB_COPY };

		rc = curl_easy_setopt(c, blob_opt, &b);
	} else if (file) {
		rc = curl_easy_setopt(c, file_opt, file);
	} else {
		return CURLE_OK;
	}
	return rc == CURLE_OK ? curl_easy_setopt(c, type_opt, "PEM") : rc;
}

static int handle_setup(struct gl_kube *k, CURL *c)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)k->o.connect_timeout_ms);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_USERAGENT, "gamelan/1");
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_SSL_VERIFYPEER, k->cfg.insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, k->cfg.insecure ? 0L : 2L);
	if (k->cfg.ca_data) {
		struct curl_blob b = { k->cfg.ca_data, k->cfg.ca_data_len, CURL_BLOB_COPY };

		SET(CURLOPT_CAINFO_BLOB, &b);
	} else if (k->cfg.ca_file) {
		SET(CURLOPT_CAINFO, k->cfg.ca_file);
	}
#undef SET
	if (rc == CURLE_OK)
		rc = set_pem(c, CURLOPT_SSLCERT_BLOB, CURLOPT_SSLCERT, CURLOPT_SSLCERTTYPE, k->cfg.cert_data,
			     k->cfg.cert_data_len, k->cfg.cert_file);
	if (rc == CURLE_OK)
		rc = set_pem(c, CURLOPT_SSLKEY_BLOB, CURLOPT_SSLKEY, CURLOPT_SSLKEYTYPE, k->cfg.key_data,
			     k->cfg.key_data_len, k->cfg.key_file);
	return rc == CURLE_OK ? 0 : -EINVAL;
}

int gl_kube_open(const struct gl_kube_config *cfg, const struct gl_kube_opts *opts,
		 struct gl_kube **ret, struct gl_err *err)
{
	struct gl_kube *k;
	int r;

	if (!cfg || !cfg->server)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: no API server URL"), -EINVAL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return gl_err_set(err, GL_ERR_IO, "kube: libcurl failed to initialize"), -EIO;
	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	if (opts)
		k->o = *opts;
	if (k->o.connect_timeout_ms <= 0)
		k->o.connect_timeout_ms = 5000;
	if (k->o.timeout_ms <= 0)
		k->o.timeout_ms = 30000;
	if (k->o.max_retries <= 0)
		k->o.max_retries = opts && opts->max_retries < 0 ? 0 : 4;
	if (k->o.max_retries > 20)
		k->o.max_retries = 20;
	if (k->o.backoff_base_ms <= 0)
		k->o.backoff_base_ms = 200;
	if (k->o.backoff_max_ms <= 0)
		k->o.backoff_max_ms = 5000;
	if (k->o.token_reload_ms <= 0)
		k->o.token_reload_ms = 60000;
	if (getrandom(&k->rnd, sizeof(k->rnd), GRND_NONBLOCK) != sizeof(k->rnd))
		k->rnd = (uint32_t)gl_now_wall_ms() ^ (uint32_t)getpid() << 16;
	r = config_copy(&k->cfg, cfg);
	if (r < 0)
		goto fail;
	if (k->cfg.token) {
		k->token = strdup(k->cfg.token);
		if (!k->token) {
			r = -ENOMEM;
			goto fail;
		}
	}
	token_reload(k, true);
	k->curl = curl_easy_init();
	if (!k->curl) {
		r = -ENOMEM;
		goto fail;
	}
	r = handle_setup(k, k->curl);
	if (r < 0) {
		gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: libcurl refused the TLS settings");
		goto fail;
	}
	*ret = k;
	return 0;
fail:
	gl_kube_close(k);
	return r;
}

void gl_kube_close(struct gl_kube *k)
{
	if (!k)
		return;
	if (k->curl)
		curl_easy_cleanup(k->curl);
	if (k->wcurl)
		curl_easy_cleanup(k->wcurl);
	free_secret(&k->token);
	config_clear(&k->cfg);
	free(k);
}

const char *gl_kube_namespace(const struct gl_kube *k)
{
	return k && k->cfg.namespace ? k->cfg.namespace : "default";
}

uint64_t gl_kube_requests(const struct gl_kube *k)
{
	return k ? k->nreq : 0;
}

/* ---- one HTTP exchange ---------------------------------------------------- */

struct body {
	char *buf;
	size_t len, cap, max;
	bool too_big;
};

static size_t body_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct body *b = ud;
	size_t n = size * nmemb;

	if (b->len + n > b->max) {
		b->too_big = true;
		return 0;
	}
	if (gl_buf_append(&b->buf, &b->len, &b->cap, data, n) < 0)
		return 0;
	return n;
}

struct hdrs {
	char retry_after[32];
};

static size_t header_cb(char *data, size_t size, size_t nmemb, void *ud)
{
	struct hdrs *h = ud;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";

	/* A new response (after a 100 Continue or a retry) starts clean. */
	if (n >= 5 && !strncmp(data, "HTTP/", 5))
		h->retry_after[0] = '\0';
	if (n > sizeof(name) - 1 && !strncasecmp(data, name, sizeof(name) - 1)) {
		size_t v = n - (sizeof(name) - 1);

		if (v >= sizeof(h->retry_after))
			v = sizeof(h->retry_after) - 1;
		memcpy(h->retry_after, data + sizeof(name) - 1, v);
		h->retry_after[v] = '\0';
	}
	return n;
}

/* Headers for one attempt; the Authorization line is built in a buffer we
 * wipe so the token does not linger in freed memory longer than needed. */
static struct curl_slist *make_headers(struct gl_kube *k, const char *ctype)
{
	struct curl_slist *h = NULL, *t;
	char line[64];

	h = curl_slist_append(NULL, "Accept: application/json");
	if (h && ctype) {
		snprintf(line, sizeof(line), "Content-Type: %s", ctype);
		t = curl_slist_append(h, line);
		if (!t)
			goto fail;
		h = t;
	}
	if (h) {
		/* Without this libcurl waits a second for 100-continue on large bodies. */
		t = curl_slist_append(h, "Expect:");
		if (!t)
			goto fail;
		h = t;
	}
	if (h && k->token) {
		_cleanup_free_ char *auth = NULL;
		int n = asprintf(&auth, "Authorization: Bearer %s", k->token);

		if (n < 0)
			goto fail;
		t = curl_slist_append(h, auth);
		explicit_bzero(auth, (size_t)n);
		if (!t)
			goto fail;
		h = t;
	}
	return h;
fail:
	curl_slist_free_all(h);
	return NULL;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY: return -ENOMEM;
	default: return -EIO;
	}
}

/* The transfer never reached the server: safe to retry any verb. */
static bool not_sent(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY;
}

static int build_url(struct gl_kube *k, const char *pathq, char *url, size_t size)
{
	int n = snprintf(url, size, "%s%s", k->cfg.server, pathq);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* One request with retries: 429/5xx and connection failures are retried with
 * backoff (Retry-After honoured up to backoff_max_ms), a 401 with a token file
 * re-reads the token and retries once. */
static int kube_request(struct gl_kube *k, const char *method, const char *pathq,
			json_object *in, const char *ctype, json_object **ret_obj,
			struct gl_err *err)
{
	_cleanup_free_ char *payload = NULL;
	char url[URL_MAX];
	bool reauthed = false;
	int attempt = 0, r;

	if (!k)
		return -EINVAL;
	r = build_url(k, pathq, url, sizeof(url));
	if (r < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: URL too long"), r;
	if (in) {
		payload = gl_json_dump(in);
		if (!payload)
			return -ENOMEM;
	}
	for (;;) {
		struct body b = { .max = GL_KUBE_BODY_MAX };
		struct hdrs h = { { 0 } };
		struct curl_slist *hl;
		CURLcode rc;
		long code = 0;
		int64_t delay;

		token_reload(k, false);
		hl = make_headers(k, in ? ctype : NULL);
		if (!hl)
			return -ENOMEM;
		curl_easy_setopt(k->curl, CURLOPT_URL, url);
		curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hl);
		curl_easy_setopt(k->curl, CURLOPT_TIMEOUT_MS, (long)k->o.timeout_ms);
		curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, body_write);
		curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, &b);
		curl_easy_setopt(k->curl, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(k->curl, CURLOPT_HEADERDATA, &h);
		if (payload) {
			curl_easy_setopt(k->curl, CURLOPT_POST, 1L);
			curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, payload);
			curl_easy_setopt(k->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
		} else {
			curl_easy_setopt(k->curl, CURLOPT_HTTPGET, 1L);
		}
		curl_easy_setopt(k->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "GET") ? method : NULL);
		rc = curl_easy_perform(k->curl);
		k->nreq++;
		curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, NULL);
		curl_slist_free_all(hl);
		if (rc == CURLE_OK)
			curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &code);

		if (rc != CURLE_OK) {
			/* A GET may be repeated after any transport failure but
			 * our own timeout; other verbs only when nothing was sent. */
			bool retry = not_sent(rc) ||
				     (!strcmp(method, "GET") && rc != CURLE_WRITE_ERROR &&
				      rc != CURLE_OPERATION_TIMEDOUT);

			if (b.too_big) {
				free(b.buf);
				return gl_err_set(err, GL_ERR_DECODE,
						  "kube: %s %s: response larger than %u MiB", method,
						  pathq, GL_KUBE_BODY_MAX >> 20), -EFBIG;
			}
			free(b.buf);
			if (retry && attempt < k->o.max_retries) {
				sleep_ms(gl_kube_backoff_ms(attempt++, k->o.backoff_base_ms,
							    k->o.backoff_max_ms, next_rnd(k)));
				continue;
			}
			r = curl_errno(rc);
			return gl_err_set(err, r == -ETIMEDOUT ? GL_ERR_TRY_AGAIN : GL_ERR_IO,
					  "kube: %s %s: %s", method, pathq, curl_easy_strerror(rc)), r;
		}
		if (code == 401 && k->cfg.token_file && !reauthed) {
			free(b.buf);
			reauthed = true;
			token_reload(k, true);
			continue;
		}
		if ((code == 429 || code >= 500) && attempt < k->o.max_retries) {
			free(b.buf);
			delay = gl_kube_retry_after_ms(h.retry_after, k->o.backoff_max_ms);
			if (delay < 0)
				delay = gl_kube_backoff_ms(attempt, k->o.backoff_base_ms,
							   k->o.backoff_max_ms, next_rnd(k));
			attempt++;
			gl_debug("kube: %s %s: HTTP %ld, retry %d in %lld ms", method, pathq, code,
				 attempt, (long long)delay);
			sleep_ms(delay);
			continue;
		}
		if (code < 200 || code > 299) {
			r = gl_kube_status_errno(code, b.buf, b.len, err);
			if (err && r == -EAGAIN)
				gl_err_details(err, "%s %s gave HTTP %ld after %d attempts", method,
					       pathq, code, attempt + 1);
			else if (err)
				gl_err_details(err, "%s %s gave HTTP %ld", method, pathq, code);
			free(b.buf);
			return r;
		}
		if (ret_obj) {
			json_object *o = NULL;

			r = gl_json_parse_object(b.buf ? b.buf : "", b.len, &o, err);
			free(b.buf);
			if (r < 0) {
				gl_err_details(err, "the response to %s %s", method, pathq);
				return -EBADMSG;
			}
			*ret_obj = o;
		} else {
			free(b.buf);
		}
		return 0;
	}
}

/* ---- verbs ----------------------------------------------------------------- */

static const char *ns_or_default(struct gl_kube *k, const struct gl_kube_res *res, const char *ns)
{
	return res && res->namespaced ? (ns ? ns : gl_kube_namespace(k)) : NULL;
}

static int path_or_err(const struct gl_kube_res *res, const char *ns, const char *name,
		       const char *subres, char *buf, size_t size, struct gl_err *err)
{
	int r = gl_kube_path(res, ns, name, subres, buf, size);

	if (r < 0)
		gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: invalid %s name \"%.64s\"",
			   res && res->plural ? res->plural : "resource", name ? name : (ns ? ns : ""));
	return r;
}

/* METHOD on an object of res (its collection when name is NULL; its
 * subresource subres) in ns, the client's namespace when NULL. */
static int object_request(struct gl_kube *k, const char *method, const struct gl_kube_res *res,
			  const char *ns, const char *name, const char *subres, json_object *in,
			  const char *ctype, json_object **ret_obj, struct gl_err *err)
{
	char p[PATHQ_MAX];
	int r = path_or_err(res, ns_or_default(k, res, ns), name, subres, p, sizeof(p), err);

	if (r < 0)
		return r;
	return kube_request(k, method, p, in, ctype, ret_obj, err);
}

int gl_kube_get(struct gl_kube *k, const struct gl_kube_res *res, const char *ns, const char *name,
		json_object **ret_obj, struct gl_err *err)
{
	if (!name)
		return -EINVAL;
	return object_request(k, "GET", res, ns, name, NULL, NULL, NULL, ret_obj, err);
}

static int add_selectors(char *p, size_t size, const char *label, const char *field)
{
	int r = 0;

	if (label && *label)
		r = gl_kube_query_add(p, size, "labelSelector", label);
	if (r >= 0 && field && *field)
		r = gl_kube_query_add(p, size, "fieldSelector", field);
	return r;
}

int gl_kube_list(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		 const struct gl_kube_list_opts *o, json_object **ret_list, struct gl_err *err)
{
	static const struct gl_kube_list_opts none = { 0 };
	char p[PATHQ_MAX], num[24];
	json_object *list = NULL, *items;
	int r;

	if (!o)
		o = &none;
	/* ns NULL lists across all namespaces. */
	r = path_or_err(res, res && res->namespaced ? ns : NULL, NULL, NULL, p, sizeof(p), err);
	if (r < 0)
		return r;
	r = add_selectors(p, sizeof(p), o->label_selector, o->field_selector);
	if (r >= 0 && o->limit > 0) {
		snprintf(num, sizeof(num), "%d", o->limit);
		r = gl_kube_query_add(p, sizeof(p), "limit", num);
	}
	if (r >= 0 && o->cont && *o->cont)
		r = gl_kube_query_add(p, sizeof(p), "continue", o->cont);
	if (r >= 0 && o->resource_version && *o->resource_version)
		r = gl_kube_query_add(p, sizeof(p), "resourceVersion", o->resource_version);
	if (r >= 0 && o->resource_version_match && *o->resource_version_match)
		r = gl_kube_query_add(p, sizeof(p), "resourceVersionMatch", o->resource_version_match);
	if (r < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: list query too long"), r;
	r = kube_request(k, "GET", p, NULL, NULL, &list, err);
	if (r < 0)
		return r;
	/* Hostile until checked: a List has an items array (null when empty in
	 * some servers' encodings: normalize it). */
	if (!json_object_object_get_ex(list, "items", &items) || json_object_is_type(items, json_type_null)) {
		json_object_object_add(list, "items", json_object_new_array());
	} else if (!json_object_is_type(items, json_type_array)) {
		json_object_put(list);
		return gl_err_set(err, GL_ERR_DECODE, "kube: list of %s: items is not an array",
				  res->plural), -EBADMSG;
	}
	*ret_list = list;
	return 0;
}

static const char *list_continue(json_object *list)
{
	json_object *m, *c;

	if (!json_object_object_get_ex(list, "metadata", &m) || !json_object_is_type(m, json_type_object) ||
	    !json_object_object_get_ex(m, "continue", &c) || !json_object_is_type(c, json_type_string))
		return NULL;
	return *json_object_get_string(c) ? json_object_get_string(c) : NULL;
}

int gl_kube_list_all(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		     const struct gl_kube_list_opts *o, json_object **ret_list, struct gl_err *err)
{
	struct gl_kube_list_opts lo = { 0 };
	bool restarted = false;

	if (o)
		lo = *o;
	if (lo.limit <= 0)
		lo.limit = LIST_PAGE_DEFAULT;
	for (;;) {
		_cleanup_json_ json_object *first = NULL;
		json_object *all, *meta = NULL;
		_cleanup_free_ char *cont = NULL;
		int r;

		lo.cont = NULL;
		r = gl_kube_list(k, res, ns, &lo, &first, err);
		if (r < 0)
			return r;
		json_object_object_get_ex(first, "items", &all);
		for (const char *c = list_continue(first); c;) {
			_cleanup_json_ json_object *page = NULL;
			json_object *items;
			struct gl_err scratch = { 0 };

			free(cont);
			cont = strdup(c);
			if (!cont)
				return -ENOMEM;
			lo.cont = cont;
			r = gl_kube_list(k, res, ns, &lo, &page, &scratch);
			if (r == -EIDRM && !restarted)
				break;          /* the continue token expired: start over */
			if (r < 0) {
				if (err && !err->code)
					*err = scratch;
				return r;
			}
			json_object_object_get_ex(page, "items", &items);
			for (size_t i = 0; i < json_object_array_length(items); i++)
				json_object_array_add(all, json_object_get(json_object_array_get_idx(items, i)));
			/* Every page carries the snapshot's resourceVersion; keep the last. */
			if (json_object_object_get_ex(page, "metadata", &meta))
				json_object_object_add(first, "metadata", json_object_get(meta));
			c = list_continue(page);
		}
		if (r == -EIDRM) {
			restarted = true;
			continue;
		}
		if (json_object_object_get_ex(first, "metadata", &meta) &&
		    json_object_is_type(meta, json_type_object)) {
			json_object_object_del(meta, "continue");
			json_object_object_del(meta, "remainingItemCount");
		}
		*ret_list = TAKE_PTR(first);
		return 0;
	}
}

int gl_kube_create(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		   json_object *obj, json_object **ret_obj, struct gl_err *err)
{
	if (!obj)
		return -EINVAL;
	return object_request(k, "POST", res, ns, NULL, NULL, obj, "application/json", ret_obj, err);
}

static int put(struct gl_kube *k, const struct gl_kube_res *res, const char *ns, json_object *obj,
	       const char *subres, json_object **ret_obj, struct gl_err *err)
{
	const char *name = gl_kube_obj_name(obj);

	if (!name)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: update of an object without "
				  "metadata.name"), -EINVAL;
	return object_request(k, "PUT", res, ns, name, subres, obj, "application/json", ret_obj, err);
}

int gl_kube_update(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		   json_object *obj, json_object **ret_obj, struct gl_err *err)
{
	return put(k, res, ns, obj, NULL, ret_obj, err);
}

int gl_kube_update_status(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
			  json_object *obj, json_object **ret_obj, struct gl_err *err)
{
	return put(k, res, ns, obj, "status", ret_obj, err);
}

int gl_kube_patch_merge(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
			const char *name, json_object *patch, bool status, json_object **ret_obj,
			struct gl_err *err)
{
	if (!name || !patch)
		return -EINVAL;
	return object_request(k, "PATCH", res, ns, name, status ? "status" : NULL, patch,
			      "application/merge-patch+json", ret_obj, err);
}

int gl_kube_delete(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		   const char *name, const char *uid, const char *resource_version,
		   struct gl_err *err)
{
	_cleanup_json_ json_object *opts = NULL;

	if (!name)
		return -EINVAL;
	if (uid || resource_version) {
		json_object *pre = json_object_new_object();

		opts = json_object_new_object();
		if (!opts || !pre) {
			json_object_put(pre);
			return -ENOMEM;
		}
		json_object_object_add(opts, "kind", json_object_new_string("DeleteOptions"));
		json_object_object_add(opts, "apiVersion", json_object_new_string("v1"));
		if (uid)
			json_object_object_add(pre, "uid", json_object_new_string(uid));
		if (resource_version)
			json_object_object_add(pre, "resourceVersion",
					       json_object_new_string(resource_version));
		json_object_object_add(opts, "preconditions", pre);
	}
	return object_request(k, "DELETE", res, ns, name, NULL, opts, "application/json", NULL, err);
}

/* ---- watch ----------------------------------------------------------------- */

struct watch_ctx {
	struct gl_kube *k;
	CURL *c;
	struct gl_kube_lines lines;
	struct body errbody;       /* the body of a non-200 answer */
	char *rv;
	size_t rv_size;
	gl_kube_event_cb cb;
	void *ud;
	struct gl_err *err;
	int result;                /* why we stopped the transfer (0 = we didn't) */
	bool got_event;
	volatile sig_atomic_t *stop;
	int64_t deadline;          /* monotonic ms, 0 = none */
	bool stopped;              /* stop flag or deadline ended it */
};

static void rv_track(struct watch_ctx *w, json_object *obj)
{
	const char *rv = gl_kube_obj_rv(obj);

	if (rv && *rv && strlen(rv) < w->rv_size)
		strcpy(w->rv, rv);
}

static int watch_line(char *line, size_t len, void *ud)
{
	struct watch_ctx *w = ud;
	struct gl_kube_event ev;
	int r;

	r = gl_kube_event_parse(line, len, &ev, w->err);
	if (r < 0)
		return r;
	w->got_event = true;
	if (ev.type == GL_KUBE_ERROR) {
		json_object *c;
		int64_t code = 0;

		if (json_object_object_get_ex(ev.object, "code", &c) && json_object_is_type(c, json_type_int))
			code = json_object_get_int64(c);
		_cleanup_free_ char *body = gl_json_dump(ev.object);

		if (code == 410) {
			json_object_put(ev.object);
			return gl_kube_status_errno(410, body, body ? strlen(body) : 0, w->err);
		}
		/* Any other ERROR ends the watch too, as the API server closes it. */
		r = w->cb ? w->cb(&ev, w->ud) : 0;
		json_object_put(ev.object);
		if (r != 0)
			return r;
		r = gl_kube_status_errno(code ? code : 500, body, body ? strlen(body) : 0, w->err);
		return r ? r : -EIO;
	}
	rv_track(w, ev.object);
	r = w->cb ? w->cb(&ev, w->ud) : 0;
	json_object_put(ev.object);
	return r;
}

static size_t watch_write(char *data, size_t size, size_t nmemb, void *ud)
{
	struct watch_ctx *w = ud;
	size_t n = size * nmemb;
	long code = 0;
	int r;

	curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200)
		return body_write(data, size, nmemb, &w->errbody);
	r = gl_kube_lines_feed(&w->lines, data, n, watch_line, w);
	if (r != 0) {
		if (r == -EMSGSIZE)
			gl_err_set(w->err, GL_ERR_DECODE, "watch: an event longer than %zu bytes",
				   w->lines.max);
		w->result = r;
		return 0;   /* aborts the transfer: CURLE_WRITE_ERROR */
	}
	return n;
}

static int watch_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct watch_ctx *w = ud;

	if ((w->stop && *w->stop) || (w->deadline && gl_now_mono_ms() >= w->deadline)) {
		w->stopped = true;
		return 1;
	}
	return 0;
}

static int watch_once(struct gl_kube *k, const char *url, struct watch_ctx *w, long timeout_ms,
		      long *ret_code, CURLcode *ret_rc)
{
	struct curl_slist *hl;
	struct hdrs h = { { 0 } };
	CURLcode rc;

	token_reload(k, false);
	hl = make_headers(k, NULL);
	if (!hl)
		return -ENOMEM;
	curl_easy_setopt(w->c, CURLOPT_URL, url);
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(w->c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(w->c, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(w->c, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(w->c, CURLOPT_WRITEDATA, w);
	curl_easy_setopt(w->c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(w->c, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(w->c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(w->c, CURLOPT_XFERINFOFUNCTION, watch_progress);
	curl_easy_setopt(w->c, CURLOPT_XFERINFODATA, w);
	rc = curl_easy_perform(w->c);
	k->nreq++;
	curl_easy_setopt(w->c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	*ret_code = 0;
	curl_easy_getinfo(w->c, CURLINFO_RESPONSE_CODE, ret_code);
	*ret_rc = rc;
	return 0;
}

int gl_kube_watch(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		  const struct gl_kube_watch_opts *o, char *rv, size_t rv_size,
		  gl_kube_event_cb cb, void *userdata, struct gl_err *err)
{
	static const struct gl_kube_watch_opts none = { 0 };
	char p[PATHQ_MAX], url[URL_MAX], num[24];
	struct watch_ctx w = {
		.k = k, .rv = rv, .rv_size = rv_size, .cb = cb, .ud = userdata, .err = err,
		.lines = { .max = GL_KUBE_LINE_MAX }, .errbody = { .max = ERR_BODY_MAX },
	};
	int timeout_s, r;
	bool reauthed = false;
	int64_t start = gl_now_mono_ms();

	if (!k || !rv || rv_size == 0)
		return -EINVAL;
	if (!o)
		o = &none;
	timeout_s = o->timeout_seconds > 0 ? o->timeout_seconds : WATCH_TIMEOUT_DEFAULT;
	w.stop = o->stop;
	w.deadline = o->max_duration_ms > 0 ? start + o->max_duration_ms : 0;
	if (w.stop && *w.stop)
		return 0;
	if (!k->wcurl) {
		k->wcurl = curl_easy_init();
		if (!k->wcurl)
			return -ENOMEM;
		r = handle_setup(k, k->wcurl);
		if (r < 0) {
			curl_easy_cleanup(k->wcurl);
			k->wcurl = NULL;
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: libcurl refused the TLS settings"), r;
		}
	}
	w.c = k->wcurl;

	for (;;) {
		long code = 0, tmo;
		CURLcode rc;

		r = path_or_err(res, res && res->namespaced ? ns : NULL, NULL, NULL, p, sizeof(p), err);
		if (r < 0)
			return r;
		r = gl_kube_query_add(p, sizeof(p), "watch", "1");
		if (r >= 0)
			r = gl_kube_query_add(p, sizeof(p), "allowWatchBookmarks", "true");
		if (r >= 0 && *rv)
			r = gl_kube_query_add(p, sizeof(p), "resourceVersion", rv);
		snprintf(num, sizeof(num), "%d", timeout_s);
		if (r >= 0)
			r = gl_kube_query_add(p, sizeof(p), "timeoutSeconds", num);
		if (r >= 0)
			r = add_selectors(p, sizeof(p), o->label_selector, o->field_selector);
		if (r >= 0)
			r = build_url(k, p, url, sizeof(url));
		if (r < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kube: watch URL too long"), r;

		/* The server ends the stream after timeoutSeconds; the client-side
		 * bound only catches a server that went silent. */
		tmo = (long)timeout_s * 1000 + 30000;
		w.result = 0;
		w.errbody.len = 0;
		w.lines.len = 0;
		r = watch_once(k, url, &w, tmo, &code, &rc);
		if (r < 0)
			break;
		if (w.result != 0) {
			r = w.result;
			break;
		}
		if (w.stopped) {
			r = 0;
			break;
		}
		if (rc != CURLE_OK && code == 200) {
			/* A stream cut or our own bound hit: the caller resumes from rv. */
			r = rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_PARTIAL_FILE ||
					    rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING
				    ? 0
				    : -EIO;
			if (r < 0)
				gl_err_set(err, GL_ERR_IO, "kube: watch %s: %s", res->plural,
					   curl_easy_strerror(rc));
			break;
		}
		if (rc != CURLE_OK) {
			r = curl_errno(rc);
			gl_err_set(err, r == -ETIMEDOUT ? GL_ERR_TRY_AGAIN : GL_ERR_IO,
				   "kube: watch %s: %s", res->plural, curl_easy_strerror(rc));
			break;
		}
		if (code == 401 && k->cfg.token_file && !reauthed) {
			reauthed = true;
			token_reload(k, true);
			continue;
		}
		r = code == 200 ? 0 : gl_kube_status_errno(code, w.errbody.buf, w.errbody.len, err);
		break;
	}
	gl_kube_lines_free(&w.lines);
	free(w.errbody.buf);
	return r;
}

struct loop_ctx {
	gl_kube_event_cb cb;
	void *ud;
	int cb_result;
};

static int loop_event(const struct gl_kube_event *ev, void *ud)
{
	struct loop_ctx *l = ud;

	if (ev->type == GL_KUBE_BOOKMARK || ev->type == GL_KUBE_ERROR || !l->cb)
		return 0;
	l->cb_result = l->cb(ev, l->ud);
	return l->cb_result;
}

static bool sleep_until(const struct gl_kube_watch_opts *o, int64_t deadline, int64_t ms)
{
	int64_t end = gl_now_mono_ms() + ms;

	for (;;) {
		int64_t now = gl_now_mono_ms(), step;

		if ((o->stop && *o->stop) || (deadline && now >= deadline))
			return false;
		if (now >= end)
			return true;
		step = end - now;
		if (step > 100)
			step = 100;
		sleep_ms(step);
	}
}

/* Errors worth waiting out: the API server or the network will come back. */
static bool retryable(int r)
{
	return r == -EAGAIN || r == -EIO || r == -ETIMEDOUT || r == -EBADMSG || r == -EMSGSIZE ||
	       r == -EFBIG;
}

/* Sleep off the backoff of try *attempt (counting it), at most max_ms;
 * false when stopped or past the deadline meanwhile. */
static bool loop_backoff(struct gl_kube *k, const struct gl_kube_watch_opts *o, int64_t deadline,
			 int *attempt, int64_t max_ms)
{
	return sleep_until(o, deadline, gl_kube_backoff_ms((*attempt)++, k->o.backoff_base_ms, max_ms,
							   next_rnd(k)));
}

/* After a list or watch failed with r (its message in *scratch): a final
 * error is returned as is (err filled); a passing one is slept off (longer
 * backoff: the API server is in trouble). 1: try again; 0: stopped. */
static int loop_retry(struct gl_kube *k, const struct gl_kube_watch_opts *o, int64_t deadline, int *attempt,
		      int r, const char *what, const struct gl_kube_res *res, const struct gl_err *scratch,
		      struct gl_err *err)
{
	if (!retryable(r)) {
		if (err)
			*err = *scratch;
		return r;
	}
	gl_debug("kube: %s %s failed (%s), retrying", what, res->plural, scratch->msg);
	return loop_backoff(k, o, deadline, attempt, k->o.backoff_max_ms * 6) ? 1 : 0;
}

int gl_kube_watch_loop(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		       const struct gl_kube_watch_opts *o, gl_kube_sync_cb sync,
		       gl_kube_event_cb cb, void *userdata, struct gl_err *err)
{
	static const struct gl_kube_watch_opts none = { 0 };
	struct loop_ctx l = { .cb = cb, .ud = userdata };
	int64_t deadline;
	char rv[GL_KUBE_RV_MAX] = "";
	bool need_list = true;
	int attempt = 0, r;

	if (!k)
		return -EINVAL;
	if (!o)
		o = &none;
	deadline = o->max_duration_ms > 0 ? gl_now_mono_ms() + o->max_duration_ms : 0;
	for (;;) {
		struct gl_err scratch = { 0 };
		struct gl_kube_watch_opts wo = *o;
		int64_t started;

		if ((o->stop && *o->stop) || (deadline && gl_now_mono_ms() >= deadline))
			return 0;
		if (need_list) {
			struct gl_kube_list_opts lo = { .label_selector = o->label_selector,
							.field_selector = o->field_selector };
			json_object *list = NULL;
			const char *lrv;

			r = gl_kube_list_all(k, res, ns, &lo, &list, &scratch);
			if (r < 0) {
				r = loop_retry(k, o, deadline, &attempt, r, "list", res, &scratch, err);
				if (r <= 0)
					return r;
				continue;
			}
			lrv = gl_kube_obj_rv(list);
			snprintf(rv, sizeof(rv), "%s", lrv && strlen(lrv) < sizeof(rv) ? lrv : "");
			r = sync ? sync(list, userdata) : 0;
			json_object_put(list);
			if (r != 0)
				return r;
			need_list = false;
		}
		if (deadline)
			wo.max_duration_ms = deadline - gl_now_mono_ms() > 0 ? deadline - gl_now_mono_ms() : 1;
		started = gl_now_mono_ms();
		l.cb_result = 0;
		r = gl_kube_watch(k, res, ns, &wo, rv, sizeof(rv), loop_event, &l, &scratch);
		if (l.cb_result != 0)
			return l.cb_result;
		if (r == 0) {
			/* A stream that ends at once (a proxy closing it, a fault) must
			 * not make us spin. */
			if (gl_now_mono_ms() - started >= 1000)
				attempt = 0;
			else if (!loop_backoff(k, o, deadline, &attempt, k->o.backoff_max_ms))
				return 0;
			continue;
		}
		if (r == -EIDRM) {
			gl_debug("kube: watch %s: 410 Gone, relisting", res->plural);
			need_list = true;
			rv[0] = '\0';
			/* The first relist is at once. */
			if (attempt == 0)
				attempt++;
			else if (!loop_backoff(k, o, deadline, &attempt, k->o.backoff_max_ms))
				return 0;
			continue;
		}
		r = loop_retry(k, o, deadline, &attempt, r, "watch", res, &scratch, err);
		if (r <= 0)
			return r;
	}
}
