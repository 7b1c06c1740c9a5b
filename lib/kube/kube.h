/* A small Kubernetes API client: kubeconfig and in-cluster config, the REST
 * verbs on any resource (core or custom), list + watch with resume and relist.
 * libcurl for HTTP (one reused easy handle: keep-alive), json-c for bodies,
 * libyaml for kubeconfig files.
 *
 * Conventions: every function returns 0 or a negative errno and fills `err`
 * (may be NULL) with a human message; ret_ parameters are written only on
 * success. API failures map from the Status object (err->msg = Status.message):
 *   404 -> -ENOENT, 409 AlreadyExists -> -EEXIST, 409 Conflict -> -ESTALE,
 *   410 Gone -> -EIDRM, 422 Invalid (and 400 BadRequest) -> -EINVAL,
 *   401/403 -> -EACCES, 429/5xx after bounded retries -> -EAGAIN,
 *   timeout -> -ETIMEDOUT, transport/TLS -> -EIO, bad response -> -EBADMSG.
 * err->code is GL_ERR_STORE for API refusals, GL_ERR_TRY_AGAIN for -EAGAIN and
 * -ETIMEDOUT, GL_ERR_IO for transport, GL_ERR_INVALID_CONFIG for config.
 * err is filled on every failure, also on expected ones (-EEXIST, -ESTALE,
 * -ENOENT): pass a scratch gl_err when a failure is an ordinary outcome, since
 * gl_err_set keeps the first message.
 *
 * A struct gl_kube is not thread-safe: one request at a time. A watch uses its
 * own second handle, so its callbacks may call the other verbs on the same
 * gl_kube. The bearer token is never logged nor put into a message.
 * The first gl_kube_open sets SIGPIPE to ignored if it was at its default. */
#pragma once
#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

/* Bounds on what we read from outside. */
#define GL_KUBE_CONFIG_MAX (1u << 20)      /* kubeconfig / token / CA file bytes */
#define GL_KUBE_BODY_MAX (64u << 20)       /* one response body */
#define GL_KUBE_LINE_MAX (16u << 20)       /* one watch event line */
#define GL_KUBE_RV_MAX 128                 /* a resourceVersion string, NUL included */
#define GL_KUBE_NAME_MAX 254               /* object names and namespaces, NUL included */

/* Where the in-cluster service-account files live; GAMELAN_SA_DIR overrides. */
#define GL_KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* ---- Configuration -------------------------------------------------------- */

/* Everything needed to talk to one API server. Strings are malloc'd and owned
 * by the struct (NULL = absent); *_data are PEM bytes (decoded from base64). */
struct gl_kube_config {
	char *server;            /* "https://host:port[/prefix]", no trailing '/' */
	char *ca_file;           /* absolute path */
	char *ca_data;
	size_t ca_data_len;
	char *token;             /* static token (kubeconfig user.token) */
	char *token_file;        /* re-read every minute and on 401 (tokenFile, SA token) */
	char *cert_file, *key_file;
	char *cert_data, *key_data;
	size_t cert_data_len, key_data_len;
	bool insecure;           /* insecure-skip-tls-verify */
	bool in_cluster;
	char *namespace;         /* from the context or the SA dir; "default" when none */
};

/* Load config: path (kubeconfig) when not NULL; else $KUBECONFIG (its first
 * ':'-separated path); else in-cluster. Caller frees with gl_kube_config_free. */
int gl_kube_config_load(const char *path, struct gl_kube_config **ret, struct gl_err *err);
/* Parse kubeconfig text (YAML or JSON, at most GL_KUBE_CONFIG_MAX); relative
 * file paths resolve against base_dir (NULL = cwd). Uses current-context.
 * Pure: reads no files (tokenFile is read at request time). */
int gl_kube_config_parse(const char *text, size_t len, const char *base_dir,
			 struct gl_kube_config **ret, struct gl_err *err);
/* In-cluster config from KUBERNETES_SERVICE_HOST/PORT and sa_dir (NULL =
 * $GAMELAN_SA_DIR or GL_KUBE_SA_DIR): token (file), ca.crt, namespace. */
int gl_kube_config_in_cluster(const char *sa_dir, struct gl_kube_config **ret, struct gl_err *err);
/* Free a config (NULL is fine). */
void gl_kube_config_free(struct gl_kube_config *c);

/* ---- Client ---------------------------------------------------------------- */

/* Tunables; zero fields take the defaults shown. */
struct gl_kube_opts {
	int connect_timeout_ms;  /* 5000 */
	int timeout_ms;          /* 30000: whole request (not watches) */
	int max_retries;         /* 4 (-1: none): extra attempts on 429/5xx, on a connect
	                          * failure, and for GETs on any transport failure */
	int backoff_base_ms;     /* 200 */
	int backoff_max_ms;      /* 5000: also the bound on an honoured Retry-After */
	int token_reload_ms;     /* 60000: re-read token_file at least this often */
};

struct gl_kube;

/* Open a client on cfg (copied; the caller keeps cfg). opts NULL = defaults. */
int gl_kube_open(const struct gl_kube_config *cfg, const struct gl_kube_opts *opts,
		 struct gl_kube **ret, struct gl_err *err);
/* Close a client (NULL is fine). */
void gl_kube_close(struct gl_kube *k);
/* The config's default namespace (never NULL). */
const char *gl_kube_namespace(const struct gl_kube *k);
/* HTTP requests sent so far (every attempt, watches included), for benches. */
uint64_t gl_kube_requests(const struct gl_kube *k);

/* A resource type: core is group "" (path /api/v1), others /apis/<group>/<version>. */
struct gl_kube_res {
	const char *group;
	const char *version;
	const char *plural;
	bool namespaced;
};

/* In every verb, ns is ignored for cluster-scoped resources; for namespaced
 * ones NULL means gl_kube_namespace(k) for single objects and all namespaces
 * for list/watch. ret_obj may be NULL when the answer is not wanted; the
 * caller owns (json_object_put) what it gets. */

/* GET one object. */
int gl_kube_get(struct gl_kube *k, const struct gl_kube_res *res, const char *ns, const char *name,
		json_object **ret_obj, struct gl_err *err);

/* List options; all optional. */
struct gl_kube_list_opts {
	const char *label_selector;    /* "gamelan.dev/network=lan,app in (a,b)" */
	const char *field_selector;
	int limit;                     /* page size; list_all: 0 = 500 */
	const char *cont;              /* list: the previous page's metadata.continue */
	const char *resource_version;  /* list: e.g. "0" for any cached version */
	const char *resource_version_match;  /* "NotOlderThan" | "Exact" | NULL */
};

/* One page: *ret_list is the List object (items, metadata.continue). */
int gl_kube_list(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		 const struct gl_kube_list_opts *o, json_object **ret_list, struct gl_err *err);
/* Every page, following continue: *ret_list is one List object holding all
 * items with metadata.resourceVersion of the snapshot (use it to watch).
 * o->cont is ignored. A 410 on a continue token restarts once. */
int gl_kube_list_all(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		     const struct gl_kube_list_opts *o, json_object **ret_list, struct gl_err *err);
/* POST obj (metadata.name set by the caller; generateName works too). */
int gl_kube_create(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		   json_object *obj, json_object **ret_obj, struct gl_err *err);
/* PUT obj to its metadata.name; a metadata.resourceVersion in obj makes it
 * conditional (stale -> -ESTALE). */
int gl_kube_update(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		   json_object *obj, json_object **ret_obj, struct gl_err *err);
/* PUT obj to .../<name>/status (the status subresource). */
int gl_kube_update_status(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
			  json_object *obj, json_object **ret_obj, struct gl_err *err);
/* PATCH (application/merge-patch+json) name with patch; status: the subresource. */
int gl_kube_patch_merge(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
			const char *name, json_object *patch, bool status, json_object **ret_obj,
			struct gl_err *err);
/* DELETE name; uid / resource_version (NULL = none) become DeleteOptions
 * preconditions (mismatch -> -ESTALE). */
int gl_kube_delete(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		   const char *name, const char *uid, const char *resource_version,
		   struct gl_err *err);

/* ---- Watch ----------------------------------------------------------------- */

enum gl_kube_event_type {
	GL_KUBE_ADDED,
	GL_KUBE_MODIFIED,
	GL_KUBE_DELETED,
	GL_KUBE_BOOKMARK,
	GL_KUBE_ERROR,    /* object is a Status; a 410 one ends the watch with -EIDRM */
};

/* One event; object is borrowed for the duration of the callback
 * (json_object_get it to keep it). */
struct gl_kube_event {
	enum gl_kube_event_type type;
	json_object *object;
};

/* Called per ADDED/MODIFIED/DELETED event (gl_kube_watch also passes BOOKMARK
 * and non-410 ERROR ones). Return 0 to go on; anything else stops the watch
 * (loop) and is returned by it: negative = an error, positive = done. */
typedef int (*gl_kube_event_cb)(const struct gl_kube_event *ev, void *userdata);
/* Called by gl_kube_watch_loop after every (re)list with the whole List: the
 * caller replaces its cache with it. Return as for gl_kube_event_cb. */
typedef int (*gl_kube_sync_cb)(json_object *list, void *userdata);

struct gl_kube_watch_opts {
	const char *label_selector;
	const char *field_selector;
	int timeout_seconds;            /* server side per watch request; 0 = 300 */
	int64_t max_duration_ms;        /* the whole call; 0 = unbounded */
	volatile sig_atomic_t *stop;    /* set non-zero (e.g. by a signal) to end: returns 0 */
};

/* One watch request from the resourceVersion in rv (in/out, "" = from now):
 * events go to cb; rv follows every object and bookmark. Returns 0 when the
 * server ends the stream (resume by calling again with rv), -EIDRM on 410
 * (HTTP or an ERROR event: relist), a callback's non-zero value, or an error. */
int gl_kube_watch(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		  const struct gl_kube_watch_opts *o, char *rv, size_t rv_size,
		  gl_kube_event_cb cb, void *userdata, struct gl_err *err);
/* Informer: list_all -> sync -> watch from the list's version, resume when a
 * stream ends, relist (sync again) on 410, back off with jitter on errors,
 * 429 and 5xx. Runs until o->stop, o->max_duration_ms or a callback stops it
 * (returns 0, or the callback's value); only a non-retryable error (-EINVAL,
 * -EACCES after a token reload, -ENOENT resource unknown) returns early. */
int gl_kube_watch_loop(struct gl_kube *k, const struct gl_kube_res *res, const char *ns,
		       const struct gl_kube_watch_opts *o, gl_kube_sync_cb sync,
		       gl_kube_event_cb cb, void *userdata, struct gl_err *err);

/* ---- Pure helpers (exported for tests and for the store/operator) --------- */

/* Build the path of a collection (name NULL) or object, plus "/<subres>" when
 * subres is not NULL: "/apis/g/v/namespaces/ns/plural/name/status".
 * ns/name must be valid path segments (no '/', not "." or ".."): -EINVAL;
 * -ENAMETOOLONG when it does not fit. */
int gl_kube_path(const struct gl_kube_res *res, const char *ns, const char *name,
		 const char *subres, char *buf, size_t size);
/* Append "?key=value" or "&key=value" (value percent-encoded: everything but
 * unreserved characters) to the NUL-terminated buf; -ENAMETOOLONG if too long. */
int gl_kube_query_add(char *buf, size_t size, const char *key, const char *value);
/* Map an HTTP status and its body (a Status object or anything) to a negative
 * errno and fill err with Status.message (or the HTTP code). 2xx -> 0. */
int gl_kube_status_errno(long http_code, const char *body, size_t len, struct gl_err *err);
/* Backoff before retry `attempt` (0-based): d = min(max, base * 2^attempt),
 * result in [d/2, d] chosen by rnd (equal jitter). */
int64_t gl_kube_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, uint32_t rnd);
/* Retry-After header value (delay-seconds; an HTTP date is not honoured) in
 * ms capped at max_ms; -1 when absent or malformed. */
int64_t gl_kube_retry_after_ms(const char *value, int64_t max_ms);

/* Incremental splitter of a newline-delimited stream (watch bodies). */
struct gl_kube_lines {
	char *buf;
	size_t len, cap, max;     /* max: longest line accepted (0 = GL_KUBE_LINE_MAX) */
};
/* Called per complete line (without '\n', NUL-terminated at line[len]);
 * non-zero stops feeding and is returned by gl_kube_lines_feed. */
typedef int (*gl_kube_line_cb)(char *line, size_t len, void *userdata);
/* Feed n bytes; complete lines go to cb, a partial tail is kept for the next
 * call. Empty lines are skipped. -EMSGSIZE when a line exceeds max. */
int gl_kube_lines_feed(struct gl_kube_lines *l, const char *data, size_t n, gl_kube_line_cb cb,
		       void *userdata);
/* Release the splitter's buffer (the struct itself is the caller's). */
void gl_kube_lines_free(struct gl_kube_lines *l);
/* Parse one watch line {"type":..., "object":{...}}; *ret->object is owned by
 * the caller. -EBADMSG on malformed lines or unknown types. */
int gl_kube_event_parse(const char *line, size_t len, struct gl_kube_event *ret, struct gl_err *err);
/* metadata.resourceVersion of obj, or NULL. */
const char *gl_kube_obj_rv(json_object *obj);
/* metadata.name of obj, or NULL. */
const char *gl_kube_obj_name(json_object *obj);
