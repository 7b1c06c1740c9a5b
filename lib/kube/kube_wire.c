/* Kubernetes client, the pure parts: paths and queries, Status -> errno,
 * backoff, and the incremental watch-line splitter. No I/O here, so all of it
 * is unit-tested without a server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/json.h"
#include "kube/kube.h"
#include "base/util.h"

static bool is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* Percent-encode s onto the end of buf (at *pos); -ENAMETOOLONG when full. */
static int append_escaped(char *buf, size_t size, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_unreserved(*p)) {
			if (*pos + 1 >= size)
				return -ENAMETOOLONG;
			buf[(*pos)++] = (char)*p;
		} else {
			if (*pos + 3 >= size)
				return -ENAMETOOLONG;
			buf[(*pos)++] = '%';
			buf[(*pos)++] = hex[*p >> 4];
			buf[(*pos)++] = hex[*p & 0xf];
		}
	}
	buf[*pos] = '\0';
	return 0;
}

static int append_raw(char *buf, size_t size, size_t *pos, const char *s)
{
	size_t n = strlen(s);

	if (*pos + n >= size)
		return -ENAMETOOLONG;
	memcpy(buf + *pos, s, n + 1);
	*pos += n;
	return 0;
}

/* A path segment we are willing to put into a URL: the API server's names are
 * DNS subdomains or labels (':' appears in RBAC names), never '/', '.', '..'. */
static bool segment_ok(const char *s)
{
	size_t n;

	if (!s)
		return false;
	n = strlen(s);
	if (n == 0 || n >= GL_KUBE_NAME_MAX || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '/' || *p == '?' || *p == '#' || *p == '%')
			return false;
	return true;
}

/* Group, version and plural come from code, not the wire; still check them. */
static bool ident_ok(const char *s, bool empty_ok)
{
	if (!s)
		return empty_ok;
	if (!*s)
		return empty_ok;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
		      (*p >= 'A' && *p <= 'Z')))
			return false;
	return strlen(s) < GL_KUBE_NAME_MAX;
}

int gl_kube_path(const struct gl_kube_res *res, const char *ns, const char *name,
		 const char *subres, char *buf, size_t size)
{
	size_t pos = 0;
	int r;

	if (!res || !buf || size == 0 || !ident_ok(res->group, true) ||
	    !ident_ok(res->version, false) || !ident_ok(res->plural, false))
		return -EINVAL;
	if ((res->namespaced && ns && !segment_ok(ns)) || (name && !segment_ok(name)) ||
	    (subres && (!ident_ok(subres, false) || !name)))
		return -EINVAL;
	buf[0] = '\0';
	if (res->group && *res->group) {
		r = append_raw(buf, size, &pos, "/apis/");
		if (r >= 0)
			r = append_raw(buf, size, &pos, res->group);
	} else {
		r = append_raw(buf, size, &pos, "/api");
	}
	if (r >= 0)
		r = append_raw(buf, size, &pos, "/");
	if (r >= 0)
		r = append_raw(buf, size, &pos, res->version);
	if (r >= 0 && res->namespaced && ns) {
		r = append_raw(buf, size, &pos, "/namespaces/");
		if (r >= 0)
			r = append_escaped(buf, size, &pos, ns);
	}
	if (r >= 0)
		r = append_raw(buf, size, &pos, "/");
	if (r >= 0)
		r = append_raw(buf, size, &pos, res->plural);
	if (r >= 0 && name) {
		r = append_raw(buf, size, &pos, "/");
		if (r >= 0)
			r = append_escaped(buf, size, &pos, name);
	}
	if (r >= 0 && subres) {
		r = append_raw(buf, size, &pos, "/");
		if (r >= 0)
			r = append_raw(buf, size, &pos, subres);
	}
	return r;
}

int gl_kube_query_add(char *buf, size_t size, const char *key, const char *value)
{
	size_t pos, keep;
	int r;

	if (!buf || !key || !value)
		return -EINVAL;
	pos = keep = strnlen(buf, size);
	if (pos >= size)
		return -ENAMETOOLONG;
	r = append_raw(buf, size, &pos, strchr(buf, '?') ? "&" : "?");
	if (r >= 0)
		r = append_escaped(buf, size, &pos, key);
	if (r >= 0)
		r = append_raw(buf, size, &pos, "=");
	if (r >= 0)
		r = append_escaped(buf, size, &pos, value);
	if (r < 0)
		buf[keep] = '\0';   /* leave the caller's URL as it was */
	return r;
}

static const char *http_reason(long code)
{
	switch (code) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

int gl_kube_status_errno(long http_code, const char *body, size_t len, struct gl_err *err)
{
	_cleanup_json_ json_object *st = NULL;
	const char *message = NULL, *reason = NULL;
	json_object *v;
	int r, code;

	if (http_code >= 200 && http_code < 300)
		return 0;
	/* The body is the server's Status when it is one; anything else (a proxy's
	 * HTML page) only gives the HTTP code. */
	if (body && len > 0 && len <= GL_KUBE_BODY_MAX) {
		struct gl_err scratch = { 0 };

		if (gl_json_parse_object(body, len, &st, &scratch) < 0)
			st = NULL;
	}
	if (st) {
		if (json_object_object_get_ex(st, "message", &v) && json_object_is_type(v, json_type_string))
			message = json_object_get_string(v);
		if (json_object_object_get_ex(st, "reason", &v) && json_object_is_type(v, json_type_string))
			reason = json_object_get_string(v);
		if (json_object_object_get_ex(st, "code", &v) && json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) >= 100 && json_object_get_int64(v) <= 599 && http_code == 0)
			http_code = json_object_get_int64(v);
	}

	code = GL_ERR_STORE;
	switch (http_code) {
	case 400:
	case 422: r = -EINVAL; break;
	case 401:
	case 403: r = -EACCES; break;
	case 404: r = -ENOENT; break;
	case 409: r = reason && !strcmp(reason, "AlreadyExists") ? -EEXIST : -ESTALE; break;
	case 410: r = -EIDRM; break;
	case 429: r = -EAGAIN; code = GL_ERR_TRY_AGAIN; break;
	default:
		if (http_code >= 500 && http_code <= 599) {
			r = -EAGAIN;
			code = GL_ERR_TRY_AGAIN;
		} else if (http_code >= 400 && http_code <= 499) {
			r = -EINVAL;
		} else {
			r = -EIO;
			code = GL_ERR_IO;
		}
	}
	if (message && *message)
		gl_err_set(err, code, "%s", message);
	else
		gl_err_set(err, code, "Kubernetes API answered HTTP %ld%s%s%s%s", http_code,
			   *http_reason(http_code) ? " " : "", http_reason(http_code),
			   reason && *reason ? ": " : "", reason && *reason ? reason : "");
	return r;
}

int64_t gl_kube_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint32_t rnd)
{
	int64_t d = base_ms > 0 ? base_ms : 1;

	if (max_ms < d)
		max_ms = d;
	for (int i = 0; i < attempt && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* Equal jitter: never less than half the step (so a crowd of clients
	 * still backs off), spread over the other half so they don't stampede. */
	return d - d / 2 + (int64_t)(rnd % (uint64_t)(d / 2 + 1));
}

int64_t gl_kube_retry_after_ms(const char *value, int64_t max_ms)
{
	int64_t s = 0;
	const char *p = value;

	if (!p)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (s > INT64_MAX / 10000)
			return max_ms;    /* absurdly long: the bound applies */
		s = s * 10 + (*p - '0');
	}
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p)
		return -1;
	/* Compare before multiplying: the loop's bound still lets s * 1000
	 * pass INT64_MAX (a server's "9223372036854779"). */
	if (s > max_ms / 1000)
		return max_ms;
	return s * 1000 > max_ms ? max_ms : s * 1000;
}

int gl_kube_lines_feed(struct gl_kube_lines *l, const char *data, size_t n, gl_kube_line_cb cb,
		       void *userdata)
{
	size_t max = l->max ? l->max : GL_KUBE_LINE_MAX;

	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;
		int r;

		if (l->len + take > max)
			return -EMSGSIZE;
		/* The callback wants a writable, NUL-terminated line, so every
		 * line goes through the buffer. */
		r = gl_buf_append(&l->buf, &l->len, &l->cap, data, take);
		if (r < 0)
			return r;
		if (!nl)
			break;
		data += take + 1;
		n -= take + 1;
		size_t len = l->len;

		l->len = 0;
		/* Tolerate CRLF and blank keep-alive lines. */
		if (len > 0 && l->buf[len - 1] == '\r')
			l->buf[--len] = '\0';
		if (len == 0)
			continue;
		r = cb(l->buf, len, userdata);
		if (r != 0)
			return r;
	}
	return 0;
}

void gl_kube_lines_free(struct gl_kube_lines *l)
{
	if (!l)
		return;
	free(l->buf);
	l->buf = NULL;
	l->len = l->cap = 0;
}

int gl_kube_event_parse(const char *line, size_t len, struct gl_kube_event *ret, struct gl_err *err)
{
	static const struct {
		const char *name;
		enum gl_kube_event_type type;
	} types[] = {
		{ "ADDED", GL_KUBE_ADDED }, { "MODIFIED", GL_KUBE_MODIFIED },
		{ "DELETED", GL_KUBE_DELETED }, { "BOOKMARK", GL_KUBE_BOOKMARK },
		{ "ERROR", GL_KUBE_ERROR },
	};
	_cleanup_json_ json_object *ev = NULL;
	json_object *t, *o;
	const char *ts;
	int r;

	r = gl_json_parse_object(line, len, &ev, err);
	if (r < 0)
		return -EBADMSG;
	if (!json_object_object_get_ex(ev, "type", &t) || !json_object_is_type(t, json_type_string))
		return gl_err_set(err, GL_ERR_DECODE, "watch event without a type"), -EBADMSG;
	if (!json_object_object_get_ex(ev, "object", &o) || !json_object_is_type(o, json_type_object))
		return gl_err_set(err, GL_ERR_DECODE, "watch event without an object"), -EBADMSG;
	ts = json_object_get_string(t);
	for (size_t i = 0; i < GL_ARRAY_SIZE(types); i++) {
		if (!strcmp(ts, types[i].name)) {
			ret->type = types[i].type;
			ret->object = json_object_get(o);
			return 0;
		}
	}
	gl_err_set(err, GL_ERR_DECODE, "watch event of unknown type \"%.32s\"", ts);
	return -EBADMSG;
}

static const char *meta_str(json_object *obj, const char *key)
{
	json_object *m, *v;

	if (!obj || !json_object_object_get_ex(obj, "metadata", &m) ||
	    !json_object_is_type(m, json_type_object) || !json_object_object_get_ex(m, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

const char *gl_kube_obj_rv(json_object *obj)
{
	return meta_str(obj, "resourceVersion");
}

const char *gl_kube_obj_name(json_object *obj)
{
	return meta_str(obj, "name");
}
