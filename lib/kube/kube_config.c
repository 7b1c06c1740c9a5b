/* Kubernetes client configuration: kubeconfig files (YAML through libyaml,
 * converted to json-c so the typed getters of json.h check every field) and
 * the in-cluster service account. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>
#include "base/json.h"
#include "kube/kube.h"
#include "base/util.h"

/* A kubeconfig is small; these bound what a hostile one can make us build
 * (aliases can expand a document exponentially). */
#define YAML_DEPTH_MAX 32
#define YAML_NODES_MAX 100000
/* Scalar bytes the expanded document may hold: aliases to one large scalar
 * would otherwise multiply a 1 MiB file into gigabytes. Without aliases the
 * expansion is never larger than the text. */
#define YAML_BYTES_MAX (2 * (size_t)GL_KUBE_CONFIG_MAX)

struct yaml_budget {
	size_t nodes;
	size_t bytes;
};

static int read_file(const char *path, const char *what, char **ret, size_t *ret_len,
		     struct gl_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r;

	if (fd < 0) {
		r = -errno;
		return gl_err_from(err, r, GL_ERR_INVALID_CONFIG, "cannot open %s %s: %s", what, path,
				  strerror(-r)), r;
	}
	r = gl_read_all(fd, GL_KUBE_CONFIG_MAX, ret, ret_len);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_INVALID_CONFIG, "cannot read %s %s: %s", what, path,
				  r == -EFBIG ? "larger than 1 MiB" : strerror(-r)), r;
	return 0;
}

static int yaml_node_to_json(yaml_document_t *doc, yaml_node_t *n, int depth,
			     struct yaml_budget *budget, json_object **ret, struct gl_err *err)
{
	json_object *o;

	if (!n)
		return gl_err_set(err, GL_ERR_DECODE, "kubeconfig: broken YAML document"), -EBADMSG;
	if (depth > YAML_DEPTH_MAX || ++budget->nodes > YAML_NODES_MAX)
		return gl_err_set(err, GL_ERR_DECODE, "kubeconfig: YAML too deep or too large"), -E2BIG;
	switch (n->type) {
	case YAML_SCALAR_NODE:
		budget->bytes += n->data.scalar.length;
		if (budget->bytes > YAML_BYTES_MAX)
			return gl_err_set(err, GL_ERR_DECODE,
					  "kubeconfig: YAML expands to too much data (aliases)"), -E2BIG;
		o = json_object_new_string_len((const char *)n->data.scalar.value,
					       (int)n->data.scalar.length);
		break;
	case YAML_SEQUENCE_NODE:
		o = json_object_new_array();
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     o && it < n->data.sequence.items.top; it++) {
			json_object *c = NULL;
			int r = yaml_node_to_json(doc, yaml_document_get_node(doc, *it), depth + 1,
						  budget, &c, err);

			if (r < 0) {
				json_object_put(o);
				return r;
			}
			json_object_array_add(o, c);
		}
		break;
	case YAML_MAPPING_NODE:
		o = json_object_new_object();
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     o && p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(doc, p->key);
			json_object *c = NULL;
			int r;

			if (!k || k->type != YAML_SCALAR_NODE) {
				json_object_put(o);
				return gl_err_set(err, GL_ERR_DECODE,
						  "kubeconfig: mapping keys must be plain strings"), -EBADMSG;
			}
			/* json-c copies every key, an aliased one too. */
			budget->bytes += k->data.scalar.length;
			if (budget->bytes > YAML_BYTES_MAX) {
				json_object_put(o);
				return gl_err_set(err, GL_ERR_DECODE,
						  "kubeconfig: YAML expands to too much data (aliases)"), -E2BIG;
			}
			r = yaml_node_to_json(doc, yaml_document_get_node(doc, p->value), depth + 1,
					      budget, &c, err);
			if (r < 0) {
				json_object_put(o);
				return r;
			}
			json_object_object_add(o, (const char *)k->data.scalar.value, c);
		}
		break;
	default:
		return gl_err_set(err, GL_ERR_DECODE, "kubeconfig: empty YAML node"), -EBADMSG;
	}
	if (!o)
		return -ENOMEM;
	*ret = o;
	return 0;
}

/* Parse YAML (JSON is YAML) into a json-c object; scalars all become strings. */
static int yaml_parse_object(const char *text, size_t len, json_object **ret, struct gl_err *err)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	json_object *o = NULL;
	struct yaml_budget budget = { 0 };
	int r;

	if (len > GL_KUBE_CONFIG_MAX)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig larger than 1 MiB"), -EFBIG;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = gl_err_set(err, GL_ERR_DECODE, "kubeconfig: malformed YAML at line %zu: %s",
			       parser.problem_mark.line + 1,
			       parser.problem ? parser.problem : "parse error");
		yaml_parser_delete(&parser);
		return -EBADMSG;
	}
	yaml_node_t *root = yaml_document_get_root_node(&doc);

	if (!root || root->type != YAML_MAPPING_NODE) {
		gl_err_set(err, GL_ERR_DECODE, "kubeconfig: the document is not a mapping");
		r = -EBADMSG;
	} else {
		r = yaml_node_to_json(&doc, root, 0, &budget, &o, err);
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r < 0)
		return r;
	*ret = o;
	return 0;
}

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

/* Standard base64 with optional padding; whitespace ignored. */
static int b64_decode(const char *s, char **ret, size_t *ret_len)
{
	size_t n = strlen(s), out = 0;
	_cleanup_free_ char *buf = malloc(n / 4 * 3 + 4);
	uint32_t acc = 0;
	int bits = 0, pad = 0;

	if (!buf)
		return -ENOMEM;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int v;

		if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		v = b64_val(*p);
		if (v < 0 || pad)
			return -EINVAL;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[out++] = (char)((acc >> bits) & 0xff);
		}
	}
	if (pad > 2 || bits >= 6)
		return -EINVAL;
	buf[out] = '\0';
	*ret_len = out;
	*ret = TAKE_PTR(buf);
	return 0;
}

void gl_kube_config_free(struct gl_kube_config *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_file);
	free(c->ca_data);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	free(c->cert_file);
	free(c->key_file);
	free(c->cert_data);
	if (c->key_data) {
		explicit_bzero(c->key_data, c->key_data_len);
		free(c->key_data);
	}
	free(c->namespace);
	free(c);
}

static void config_freep(struct gl_kube_config **c)
{
	gl_kube_config_free(*c);
}
#define _cleanup_config_ _cleanup_(config_freep)

/* Find the entry of a named list (clusters, users, contexts) and return its
 * inner object (entry[inner]). */
static int named_entry(json_object *root, const char *list, const char *inner, const char *name,
		       json_object **ret, struct gl_err *err)
{
	json_object *arr = NULL;
	int r = gl_json_get_array(root, "kubeconfig", list, &arr, err);

	if (r < 0)
		return r;
	for (size_t i = 0; r > 0 && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i), *in = NULL;
		const char *n = NULL;

		if (!json_object_is_type(e, json_type_object))
			continue;
		/* An entry with a non-string name is not the one asked for; it
		 * must not leave its message in err for a later error to keep. */
		if (gl_json_get_str(e, list, "name", &n, NULL) <= 0 || strcmp(n, name))
			continue;
		r = gl_json_get_object(e, list, inner, &in, err);
		if (r < 0)
			return r;
		if (r == 0)  /* `user: {}` may be written as no user at all */
			in = NULL;
		*ret = in;
		return 1;
	}
	return 0;
}

static int dup_str(const char *s, char **ret)
{
	char *d = strdup(s);

	if (!d)
		return -ENOMEM;
	free(*ret);
	*ret = d;
	return 0;
}

/* A path from the kubeconfig: relative ones are relative to its directory. */
static int resolve_path(const char *base_dir, const char *p, const char *field, char **ret,
			struct gl_err *err)
{
	char buf[PATH_MAX];
	int n;

	if (!*p)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig: %s is empty", field), -EINVAL;
	if (p[0] == '/' || !base_dir)
		n = snprintf(buf, sizeof(buf), "%s", p);
	else
		n = snprintf(buf, sizeof(buf), "%s/%s", base_dir, p);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig: %s is too long", field),
		       -ENAMETOOLONG;
	return dup_str(buf, ret);
}

static int get_b64(json_object *o, const char *what, const char *key, char **ret, size_t *ret_len,
		   struct gl_err *err)
{
	const char *s = NULL;
	int r = gl_json_get_str(o, what, key, &s, err);

	if (r <= 0)
		return r;
	free(*ret);
	*ret = NULL;
	r = b64_decode(s, ret, ret_len);
	if (r == -EINVAL || (r == 0 && *ret_len == 0))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig: %s.%s is not valid base64",
				  what, key), -EINVAL;
	return r < 0 ? r : 1;
}

static int parse_bool(json_object *o, const char *what, const char *key, bool *ret,
		      struct gl_err *err)
{
	const char *s = NULL;
	int r = gl_json_get_str(o, what, key, &s, err);

	if (r <= 0)
		return r;
	if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
		*ret = true;
	else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
		*ret = false;
	else
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig: %s.%s must be true or false",
				  what, key), -EINVAL;
	return 1;
}

static bool server_ok(const char *s)
{
	const char *host = !strncmp(s, "https://", 8) ? s + 8 : !strncmp(s, "http://", 7) ? s + 7 : NULL;

	/* "https://" and "https:///" name no host; the URLs built on them
	 * would not either. */
	if (!host || !*host || strchr("/?#@", *host))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			return false;
	return strlen(s) < 2048;
}

static int parse_cluster(struct gl_kube_config *c, json_object *cl, const char *base_dir,
			 struct gl_err *err)
{
	const char *s = NULL;
	size_t n;
	int r;

	r = gl_json_get_str(cl, "cluster", "server", &s, err);
	if (r < 0)
		return r;
	if (r == 0 || !*s)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig: cluster.server is missing"),
		       -EINVAL;
	if (!server_ok(s))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: cluster.server must be an http(s):// URL"), -EINVAL;
	r = dup_str(s, &c->server);
	if (r < 0)
		return r;
	n = strlen(c->server);
	while (n > 0 && c->server[n - 1] == '/')
		c->server[--n] = '\0';

	r = get_b64(cl, "cluster", "certificate-authority-data", &c->ca_data, &c->ca_data_len, err);
	if (r < 0)
		return r;
	if (r == 0) {
		r = gl_json_get_str(cl, "cluster", "certificate-authority", &s, err);
		if (r < 0)
			return r;
		if (r > 0) {
			r = resolve_path(base_dir, s, "cluster.certificate-authority", &c->ca_file, err);
			if (r < 0)
				return r;
		}
	}
	r = parse_bool(cl, "cluster", "insecure-skip-tls-verify", &c->insecure, err);
	if (r < 0)
		return r;
	if (json_object_object_get_ex(cl, "proxy-url", NULL))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: cluster.proxy-url is not supported"), -EOPNOTSUPP;
	return 0;
}

/* A bearer token: visible ASCII only (RFC 6750's b64token is narrower). */
static bool token_ok(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p >= 0x7f)
			return false;
	return true;
}

static int parse_user(struct gl_kube_config *c, json_object *u, const char *uname,
		      const char *base_dir, struct gl_err *err)
{
	static const struct {
		const char *key, *what;
	} unsupported[] = {
		{ "exec", "exec credential plugins are not supported" },
		{ "auth-provider", "auth-provider plugins are not supported" },
		{ "username", "basic authentication (username/password) is not supported" },
		{ "password", "basic authentication (username/password) is not supported" },
	};
	const char *s = NULL;
	int r;

	for (size_t i = 0; i < GL_ARRAY_SIZE(unsupported); i++)
		if (json_object_object_get_ex(u, unsupported[i].key, NULL))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "kubeconfig: user \"%s\": users[].user.%s: %s; use token, "
					  "tokenFile or a client certificate", uname,
					  unsupported[i].key, unsupported[i].what), -EOPNOTSUPP;

	r = gl_json_get_str(u, "user", "token", &s, err);
	if (r < 0)
		return r;
	/* The token goes into an HTTP header line: a CR or LF in it would add
	 * headers of the file's choosing. The message never shows the token. */
	if (r > 0 && !token_ok(s))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: user \"%s\": user.token contains control characters",
				  uname), -EINVAL;
	if (r > 0 && *s && (r = dup_str(s, &c->token)) < 0)
		return r;
	r = gl_json_get_str(u, "user", "tokenFile", &s, err);
	if (r < 0)
		return r;
	if (r > 0 && (r = resolve_path(base_dir, s, "user.tokenFile", &c->token_file, err)) < 0)
		return r;

	r = get_b64(u, "user", "client-certificate-data", &c->cert_data, &c->cert_data_len, err);
	if (r < 0)
		return r;
	if (r == 0) {
		r = gl_json_get_str(u, "user", "client-certificate", &s, err);
		if (r < 0)
			return r;
		if (r > 0 &&
		    (r = resolve_path(base_dir, s, "user.client-certificate", &c->cert_file, err)) < 0)
			return r;
	}
	r = get_b64(u, "user", "client-key-data", &c->key_data, &c->key_data_len, err);
	if (r < 0)
		return r;
	if (r == 0) {
		r = gl_json_get_str(u, "user", "client-key", &s, err);
		if (r < 0)
			return r;
		if (r > 0 && (r = resolve_path(base_dir, s, "user.client-key", &c->key_file, err)) < 0)
			return r;
	}
	if (!!(c->cert_data || c->cert_file) != !!(c->key_data || c->key_file))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: user \"%s\": a client certificate needs its key "
				  "(client-certificate[-data] and client-key[-data] together)",
				  uname), -EINVAL;
	return 0;
}

int gl_kube_config_parse(const char *text, size_t len, const char *base_dir,
			 struct gl_kube_config **ret, struct gl_err *err)
{
	_cleanup_config_ struct gl_kube_config *c = calloc(1, sizeof(*c));
	_cleanup_json_ json_object *root = NULL;
	json_object *ctx = NULL, *cl = NULL, *u = NULL;
	const char *cur = NULL, *cname = NULL, *uname = NULL, *ns = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	r = yaml_parse_object(text, len, &root, err);
	if (r < 0)
		return r;
	r = gl_json_get_str(root, "kubeconfig", "current-context", &cur, err);
	if (r < 0)
		return r;
	if (r == 0 || !*cur)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig: no current-context"), -EINVAL;
	r = named_entry(root, "contexts", "context", cur, &ctx, err);
	if (r < 0)
		return r;
	if (r == 0 || !ctx)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: current-context \"%s\" is not in contexts", cur), -EINVAL;
	r = gl_json_get_str(ctx, "context", "cluster", &cname, err);
	if (r < 0)
		return r;
	if (r == 0 || !*cname)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: context \"%s\" has no cluster", cur), -EINVAL;
	r = named_entry(root, "clusters", "cluster", cname, &cl, err);
	if (r < 0)
		return r;
	if (r == 0 || !cl)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "kubeconfig: cluster \"%s\" (of context \"%s\") is not in clusters",
				  cname, cur), -EINVAL;
	r = parse_cluster(c, cl, base_dir, err);
	if (r < 0)
		return r;

	r = gl_json_get_str(ctx, "context", "user", &uname, err);
	if (r < 0)
		return r;
	if (r > 0 && *uname) {
		r = named_entry(root, "users", "user", uname, &u, err);
		if (r < 0)
			return r;
		if (r == 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "kubeconfig: user \"%s\" (of context \"%s\") is not in users",
					  uname, cur), -EINVAL;
		if (u && (r = parse_user(c, u, uname, base_dir, err)) < 0)
			return r;
	}

	r = gl_json_get_str(ctx, "context", "namespace", &ns, err);
	if (r < 0)
		return r;
	r = dup_str(r > 0 && *ns ? ns : "default", &c->namespace);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(c);
	return 0;
}

static bool host_ok(const char *h)
{
	if (!*h || strlen(h) > 253)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '-' || *p == ':' || *p == '%' || *p == '_'))
			return false;
	return true;
}

int gl_kube_config_in_cluster(const char *sa_dir, struct gl_kube_config **ret, struct gl_err *err)
{
	_cleanup_config_ struct gl_kube_config *c = calloc(1, sizeof(*c));
	_cleanup_free_ char *tok = NULL, *ns = NULL;
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[PATH_MAX], *end;
	size_t len;
	long p;
	int r;

	if (!c)
		return -ENOMEM;
	if (!sa_dir)
		sa_dir = getenv("GAMELAN_SA_DIR");
	if (!sa_dir || !*sa_dir)
		sa_dir = GL_KUBE_SA_DIR;
	if (!host || !*host || !port || !*port)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "no kubeconfig given and not in a cluster "
				  "(KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT unset)"), -ENOENT;
	errno = 0;
	p = strtol(port, &end, 10);
	if (!host_ok(host) || errno || *end || p < 1 || p > 65535)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "invalid KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT"), -EINVAL;
	/* An IPv6 literal goes in brackets in a URL. */
	if (asprintf(&c->server, strchr(host, ':') ? "https://[%s]:%ld" : "https://%s:%ld", host, p) < 0) {
		c->server = NULL;
		return -ENOMEM;
	}

	if ((size_t)snprintf(path, sizeof(path), "%s/token", sa_dir) >= sizeof(path))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "service account dir too long"), -ENAMETOOLONG;
	/* Read the token once now so that a missing one is a config error, not
	 * a 401 later; requests re-read it. */
	r = read_file(path, "service account token", &tok, &len, err);
	if (r < 0)
		return r;
	explicit_bzero(tok, len);
	if ((r = dup_str(path, &c->token_file)) < 0)
		return r;

	snprintf(path, sizeof(path), "%s/ca.crt", sa_dir);
	if (access(path, R_OK) == 0 && (r = dup_str(path, &c->ca_file)) < 0)
		return r;

	snprintf(path, sizeof(path), "%s/namespace", sa_dir);
	if (read_file(path, "namespace", &ns, &len, NULL) == 0) {
		while (len > 0 && strchr(" \t\r\n", ns[len - 1]))
			ns[--len] = '\0';
	}
	r = dup_str(ns && *ns ? ns : "default", &c->namespace);
	if (r < 0)
		return r;
	c->in_cluster = true;
	*ret = TAKE_PTR(c);
	return 0;
}

int gl_kube_config_load(const char *path, struct gl_kube_config **ret, struct gl_err *err)
{
	_cleanup_free_ char *first = NULL, *text = NULL, *dir = NULL;
	char *slash;
	size_t len;
	int r;

	if (!path) {
		const char *env = getenv("KUBECONFIG");

		if (!env || !*env)
			return gl_kube_config_in_cluster(NULL, ret, err);
		/* Like kubectl, KUBECONFIG is a list; merging several files is
		 * not supported, the first one is used. */
		first = strndup(env, strcspn(env, ":"));
		if (!first)
			return -ENOMEM;
		if (!*first)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "KUBECONFIG starts with ':'"), -EINVAL;
		path = first;
	}
	r = read_file(path, "kubeconfig", &text, &len, err);
	if (r < 0)
		return r;
	dir = realpath(path, NULL);
	if (!dir)
		return r = -errno, gl_err_from(err, r, GL_ERR_INVALID_CONFIG, "kubeconfig %s: %s", path,
					      strerror(-r)), r;
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (strlen(text) != len)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubeconfig %s contains a NUL byte", path),
		       -EINVAL;
	return gl_kube_config_parse(text, len, dir, ret, err);
}
