/* lib/kube*.c, the parts that need no server: kubeconfig and in-cluster
 * config, Status -> errno, the watch line splitter, paths and queries,
 * backoff and Retry-After. (Over real HTTP: tests/unit/test_kube_http.c.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kube/kube.h"
#include "base/util.h"

/* base64 of "-----BEGIN CERTIFICATE-----\nCA\n" and friends: content is not
 * checked here, only that it decodes to the bytes. */
#define CA_PEM "-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n"
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCkNBCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"
#define CERT_B64 "Q0VSVA=="   /* "CERT" */
#define KEY_B64 "S0VZ"        /* "KEY" */

static int parse(const char *text, const char *base, struct gl_kube_config **c, struct gl_err *e)
{
	memset(e, 0, sizeof(*e));
	return gl_kube_config_parse(text, strlen(text), base, c, e);
}

static const char *kc_head =
	"apiVersion: v1\n"
	"kind: Config\n"
	"current-context: ctx\n"
	"contexts:\n"
	"- name: other\n"
	"  context: {cluster: nope, user: nope}\n"
	"- name: ctx\n"
	"  context:\n"
	"    cluster: c1\n"
	"    user: u1\n"
	"    namespace: games\n";

static char *kc(const char *cluster, const char *user)
{
	char *s = NULL;

	assert_true(asprintf(&s, "%sclusters:\n- name: c1\n  cluster:\n%susers:\n- name: u1\n  user:\n%s",
			     kc_head, cluster, user) > 0);
	return s;
}

static void test_config_token(void **state)
{
	_cleanup_free_ char *t = kc("    server: https://10.0.0.1:6443/\n"
				    "    certificate-authority-data: " CA_B64 "\n",
				    "    token: abc.def\n");
	struct gl_kube_config *c = NULL;
	struct gl_err e;

	assert_int_equal(parse(t, "/etc/k", &c, &e), 0);
	assert_string_equal(c->server, "https://10.0.0.1:6443");   /* trailing '/' dropped */
	assert_int_equal(c->ca_data_len, strlen(CA_PEM));
	assert_memory_equal(c->ca_data, CA_PEM, strlen(CA_PEM));
	assert_null(c->ca_file);
	assert_string_equal(c->token, "abc.def");
	assert_null(c->token_file);
	assert_null(c->cert_data);
	assert_false(c->insecure);
	assert_false(c->in_cluster);
	assert_string_equal(c->namespace, "games");
	gl_kube_config_free(c);
}

static void test_config_files_relative(void **state)
{
	_cleanup_free_ char *t = kc("    server: https://api.example:6443\n"
				    "    certificate-authority: pki/ca.crt\n",
				    "    tokenFile: tok\n"
				    "    client-certificate: /abs/c.crt\n"
				    "    client-key: k.key\n");
	struct gl_kube_config *c = NULL;
	struct gl_err e;

	assert_int_equal(parse(t, "/etc/k", &c, &e), 0);
	assert_string_equal(c->ca_file, "/etc/k/pki/ca.crt");
	assert_null(c->ca_data);
	assert_null(c->token);
	assert_string_equal(c->token_file, "/etc/k/tok");
	assert_string_equal(c->cert_file, "/abs/c.crt");
	assert_string_equal(c->key_file, "/etc/k/k.key");
	gl_kube_config_free(c);
}

static void test_config_cert_data_insecure(void **state)
{
	_cleanup_free_ char *t = kc("    server: http://127.0.0.1:8080\n"
				    "    insecure-skip-tls-verify: true\n",
				    "    client-certificate-data: " CERT_B64 "\n"
				    "    client-key-data: " KEY_B64 "\n");
	struct gl_kube_config *c = NULL;
	struct gl_err e;

	assert_int_equal(parse(t, NULL, &c, &e), 0);
	assert_true(c->insecure);
	assert_int_equal(c->cert_data_len, 4);
	assert_memory_equal(c->cert_data, "CERT", 4);
	assert_int_equal(c->key_data_len, 3);
	assert_memory_equal(c->key_data, "KEY", 3);
	assert_null(c->token);
	gl_kube_config_free(c);
}

/* kubectl writes JSON kubeconfigs too; JSON is YAML. No namespace: default. */
static void test_config_json(void **state)
{
	static const char *t =
		"{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"x\","
		"\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\",\"user\":\"u\"}}],"
		"\"clusters\":[{\"name\":\"c\",\"cluster\":{\"server\":\"https://[fd00::1]:443\","
		"\"insecure-skip-tls-verify\":false}}],"
		"\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"t0\"}}]}";
	struct gl_kube_config *c = NULL;
	struct gl_err e;

	assert_int_equal(parse(t, NULL, &c, &e), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	assert_false(c->insecure);
	assert_string_equal(c->token, "t0");
	assert_string_equal(c->namespace, "default");
	gl_kube_config_free(c);
}

/* A context without a user is an anonymous client. */
static void test_config_no_user(void **state)
{
	static const char *t =
		"current-context: x\n"
		"contexts: [{name: x, context: {cluster: c}}]\n"
		"clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n";
	struct gl_kube_config *c = NULL;
	struct gl_err e;

	assert_int_equal(parse(t, NULL, &c, &e), 0);
	assert_null(c->token);
	assert_null(c->token_file);
	gl_kube_config_free(c);
}

static void test_config_errors(void **state)
{
	static const struct {
		const char *cluster, *user;
		int r;
		const char *msg;
	} bad[] = {
		{ "    server: https://a\n", "    exec:\n      command: aws\n", -EOPNOTSUPP,
		  "exec credential plugins are not supported" },
		{ "    server: https://a\n", "    auth-provider: {name: gcp}\n", -EOPNOTSUPP,
		  "auth-provider" },
		{ "    server: https://a\n", "    username: admin\n    password: x\n", -EOPNOTSUPP,
		  "username/password" },
		{ "    certificate-authority-data: " CA_B64 "\n", "    token: t\n", -EINVAL,
		  "cluster.server is missing" },
		{ "    server: ftp://a\n", "    token: t\n", -EINVAL, "http(s)://" },
		{ "    server: https://a\n    certificate-authority-data: '!!notb64'\n", "    token: t\n",
		  -EINVAL, "certificate-authority-data is not valid base64" },
		{ "    server: https://a\n", "    client-certificate-data: " CERT_B64 "\n", -EINVAL,
		  "needs its key" },
		{ "    server: https://a\n    insecure-skip-tls-verify: maybe\n", "    token: t\n",
		  -EINVAL, "insecure-skip-tls-verify must be true or false" },
		{ "    server: https://a\n", "    token: [a, b]\n", -EINVAL, "user.token must be a string" },
		{ "    server: https://a\n    proxy-url: http://p\n", "    token: t\n", -EOPNOTSUPP,
		  "proxy-url" },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		_cleanup_free_ char *t = kc(bad[i].cluster, bad[i].user);
		struct gl_kube_config *c = NULL;
		struct gl_err e;

		print_message("bad %zu: %s\n", i, bad[i].msg);
		assert_int_equal(parse(t, NULL, &c, &e), bad[i].r);
		assert_null(c);
		assert_int_equal(e.code, GL_ERR_INVALID_CONFIG);
		assert_non_null(strstr(e.msg, bad[i].msg));
	}
}

static void test_config_structure_errors(void **state)
{
	static const struct {
		const char *text, *msg;
	} bad[] = {
		{ "clusters: []\n", "no current-context" },
		{ "current-context: ''\n", "no current-context" },
		{ "current-context: x\ncontexts: [{name: y, context: {cluster: c}}]\n",
		  "current-context \"x\" is not in contexts" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n",
		  "cluster \"c\" (of context \"x\") is not in clusters" },
		{ "current-context: x\ncontexts: [{name: x, context: {user: u}}]\n",
		  "context \"x\" has no cluster" },
		{ "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
		  "clusters: [{name: c, cluster: {server: 'https://a'}}]\n",
		  "user \"u\" (of context \"x\") is not in users" },
		{ "current-context: x\ncontexts: {a: b}\n", "contexts must be an array" },
		{ "- a\n- b\n", "not a mapping" },
		{ "a: [\n", "malformed YAML" },
		{ "", "not a mapping" },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		struct gl_kube_config *c = NULL;
		struct gl_err e;

		print_message("bad %zu: %s\n", i, bad[i].msg);
		assert_true(parse(bad[i].text, NULL, &c, &e) < 0);
		assert_null(c);
		assert_non_null(strstr(e.msg, bad[i].msg));
	}
}

/* Aliases expand exponentially: the converter's node budget stops it. */
static void test_config_alias_bomb(void **state)
{
	static const char *t =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"current-context: x\n";
	struct gl_kube_config *c = NULL;
	struct gl_err e;

	assert_int_equal(parse(t, NULL, &c, &e), -E2BIG);
	assert_non_null(strstr(e.msg, "too deep or too large"));
}

static char tmpdir[PATH_MAX];

static void write_file(const char *dir, const char *name, const char *content)
{
	char p[PATH_MAX * 2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static int setup_tmp(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gl-test-kube-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_config_load_file(void **state)
{
	_cleanup_free_ char *t = kc("    server: https://a:1\n    certificate-authority: ca.crt\n",
				    "    tokenFile: ./token\n");
	char p1[PATH_MAX * 2], env[PATH_MAX * 3];
	struct gl_kube_config *c = NULL;
	struct gl_err e = { 0 };

	write_file(tmpdir, "kc.yaml", t);
	snprintf(p1, sizeof(p1), "%s/kc.yaml", tmpdir);
	assert_int_equal(gl_kube_config_load(p1, &c, &e), 0);
	snprintf(env, sizeof(env), "%s/ca.crt", tmpdir);
	assert_string_equal(c->ca_file, env);
	gl_kube_config_free(c);
	c = NULL;

	/* $KUBECONFIG: the first path of the list. */
	snprintf(env, sizeof(env), "%s:/nonexistent/b", p1);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(gl_kube_config_load(NULL, &c, &e), 0);
	assert_string_equal(c->server, "https://a:1");
	gl_kube_config_free(c);
	c = NULL;

	setenv("KUBECONFIG", "/nonexistent/kc", 1);
	assert_int_equal(gl_kube_config_load(NULL, &c, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "/nonexistent/kc"));
	unsetenv("KUBECONFIG");
}

static void test_config_in_cluster(void **state)
{
	char sa[PATH_MAX * 2];
	struct gl_kube_config *c = NULL;
	struct gl_err e = { 0 };

	snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
	assert_int_equal(mkdir(sa, 0700), 0);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	setenv("GAMELAN_SA_DIR", sa, 1);
	assert_int_equal(gl_kube_config_load(NULL, &c, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "KUBERNETES_SERVICE_HOST"));

	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	memset(&e, 0, sizeof(e));
	assert_int_equal(gl_kube_config_load(NULL, &c, &e), -ENOENT);   /* no token yet */
	assert_non_null(strstr(e.msg, "service account token"));
	assert_null(strstr(e.msg, "secret-token"));

	write_file(sa, "token", "secret-token\n");
	write_file(sa, "namespace", "gamelan-system\n");
	write_file(sa, "ca.crt", CA_PEM);
	assert_int_equal(gl_kube_config_load(NULL, &c, &e), 0);
	assert_string_equal(c->server, "https://[fd00::1]:443");
	assert_true(c->in_cluster);
	assert_string_equal(c->namespace, "gamelan-system");
	assert_non_null(strstr(c->token_file, "/sa/token"));
	assert_non_null(strstr(c->ca_file, "/sa/ca.crt"));
	assert_null(c->token);   /* read per request, so rotation works */
	gl_kube_config_free(c);
	c = NULL;

	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	assert_int_equal(gl_kube_config_in_cluster(sa, &c, &e), 0);
	assert_string_equal(c->server, "https://10.96.0.1:443");
	gl_kube_config_free(c);
	c = NULL;

	setenv("KUBERNETES_SERVICE_HOST", "evil/host@x", 1);
	memset(&e, 0, sizeof(e));
	assert_int_equal(gl_kube_config_in_cluster(sa, &c, &e), -EINVAL);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "99999", 1);
	assert_int_equal(gl_kube_config_in_cluster(sa, &c, &e), -EINVAL);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("GAMELAN_SA_DIR");
}

static void test_status_errno(void **state)
{
	static const struct {
		long http;
		const char *body;
		int r;
		const char *msg;
		int code;
	} cases[] = {
		{ 200, "{}", 0, "", 0 },
		{ 201, NULL, 0, "", 0 },
		{ 404, "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"pods \\\"x\\\" not found\","
		       "\"reason\":\"NotFound\",\"code\":404}", -ENOENT, "pods \"x\" not found", GL_ERR_STORE },
		{ 409, "{\"kind\":\"Status\",\"message\":\"ipreservations.gamelan.dev \\\"a\\\" already exists\","
		       "\"reason\":\"AlreadyExists\",\"code\":409}", -EEXIST, "already exists", GL_ERR_STORE },
		{ 409, "{\"kind\":\"Status\",\"message\":\"the object has been modified\","
		       "\"reason\":\"Conflict\",\"code\":409}", -ESTALE, "has been modified", GL_ERR_STORE },
		{ 409, NULL, -ESTALE, "HTTP 409 Conflict", GL_ERR_STORE },
		{ 410, "{\"kind\":\"Status\",\"message\":\"too old resource version: 1 (5)\","
		       "\"reason\":\"Expired\",\"code\":410}", -EIDRM, "too old resource version", GL_ERR_STORE },
		{ 422, "{\"kind\":\"Status\",\"message\":\"spec.address: Invalid value\","
		       "\"reason\":\"Invalid\",\"code\":422}", -EINVAL, "spec.address: Invalid value", GL_ERR_STORE },
		{ 400, "{\"kind\":\"Status\",\"reason\":\"BadRequest\"}", -EINVAL, "HTTP 400 Bad Request: BadRequest", GL_ERR_STORE },
		{ 401, "{\"kind\":\"Status\",\"message\":\"Unauthorized\"}", -EACCES, "Unauthorized", GL_ERR_STORE },
		{ 403, "{\"message\":\"forbidden: user cannot list\"}", -EACCES, "forbidden", GL_ERR_STORE },
		{ 429, "{\"message\":\"too many requests\"}", -EAGAIN, "too many", GL_ERR_TRY_AGAIN },
		{ 500, "<html>oops</html>", -EAGAIN, "HTTP 500 Internal Server Error", GL_ERR_TRY_AGAIN },
		{ 503, "", -EAGAIN, "HTTP 503", GL_ERR_TRY_AGAIN },
		{ 418, "{}", -EINVAL, "HTTP 418", GL_ERR_STORE },
		{ 302, "", -EIO, "HTTP 302", GL_ERR_IO },
		{ 404, "{\"message\": 42}", -ENOENT, "HTTP 404 Not Found", GL_ERR_STORE },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(cases); i++) {
		struct gl_err e = { 0 };

		print_message("%ld %s\n", cases[i].http, cases[i].body ? cases[i].body : "(none)");
		assert_int_equal(gl_kube_status_errno(cases[i].http, cases[i].body,
						      cases[i].body ? strlen(cases[i].body) : 0, &e),
				 cases[i].r);
		assert_non_null(strstr(e.msg, cases[i].msg));
		assert_int_equal(e.code, cases[i].code);
	}
	/* NULL err is fine. */
	assert_int_equal(gl_kube_status_errno(404, NULL, 0, NULL), -ENOENT);
}

/* ---- the line splitter --------------------------------------------------- */

struct collected {
	char text[4096];
	int n;
	int stop_at;
};

static int collect(char *line, size_t len, void *ud)
{
	struct collected *c = ud;

	assert_int_equal(strlen(line), len);
	strncat(c->text, line, sizeof(c->text) - strlen(c->text) - 2);
	strcat(c->text, "|");
	c->n++;
	return c->stop_at && c->n == c->stop_at ? 7 : 0;
}

static const char stream[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}\n"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}\r\n"
	"\n"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"12\"}}}\n";
static const char expect[] =
	"{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"5\"}}}|"
	"{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"9\"}}}|"
	"{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"12\"}}}|";

static void feed_chunks(const size_t *cuts, size_t ncuts, struct collected *c)
{
	struct gl_kube_lines l = { 0 };
	size_t pos = 0, n = sizeof(stream) - 1;

	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		assert_int_equal(gl_kube_lines_feed(&l, stream + pos, end - pos, collect, c), 0);
		pos = end;
	}
	gl_kube_lines_free(&l);
}

static void test_lines_chunkings(void **state)
{
	size_t n = sizeof(stream) - 1;

	/* Whole, then every single split point, then every pair of split points. */
	for (size_t a = 0; a <= n; a++) {
		for (size_t b = a; b <= n; b++) {
			struct collected c = { .n = 0 };
			size_t cuts[2] = { a, b };

			feed_chunks(cuts, 2, &c);
			assert_int_equal(c.n, 3);
			assert_string_equal(c.text, expect);
		}
	}
	/* One byte at a time. */
	{
		struct collected c = { .n = 0 };
		size_t cuts[sizeof(stream)];

		for (size_t i = 0; i < n; i++)
			cuts[i] = i;
		feed_chunks(cuts, n, &c);
		assert_string_equal(c.text, expect);
	}
	/* Random chunkings. */
	srand(42);
	for (int round = 0; round < 200; round++) {
		struct collected c = { .n = 0 };
		size_t cuts[16], k = 0, p = 0;

		while (k < GL_ARRAY_SIZE(cuts) && p < n) {
			p += (size_t)rand() % 40;
			if (p > n)
				p = n;
			cuts[k++] = p;
		}
		feed_chunks(cuts, k, &c);
		assert_string_equal(c.text, expect);
	}
}

static void test_lines_partial_and_bounds(void **state)
{
	struct gl_kube_lines l = { .max = 16 };
	struct collected c = { .n = 0 };

	/* A tail without '\n' waits for more. */
	assert_int_equal(gl_kube_lines_feed(&l, "abc\nde", 6, collect, &c), 0);
	assert_string_equal(c.text, "abc|");
	assert_int_equal(gl_kube_lines_feed(&l, "f\n", 2, collect, &c), 0);
	assert_string_equal(c.text, "abc|def|");
	/* Exactly max is fine; one more is not, whether in one chunk or split. */
	assert_int_equal(gl_kube_lines_feed(&l, "0123456789abcdef\n", 17, collect, &c), 0);
	assert_int_equal(gl_kube_lines_feed(&l, "0123456789abcdefg\n", 18, collect, &c), -EMSGSIZE);
	gl_kube_lines_free(&l);
	l.max = 16;
	assert_int_equal(gl_kube_lines_feed(&l, "0123456789", 10, collect, &c), 0);
	assert_int_equal(gl_kube_lines_feed(&l, "abcdefg", 7, collect, &c), -EMSGSIZE);
	gl_kube_lines_free(&l);

	/* A callback's non-zero stops feeding and comes back. */
	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	l.max = 0;
	assert_int_equal(gl_kube_lines_feed(&l, "a\nb\nc\n", 6, collect, &c), 7);
	assert_int_equal(c.n, 2);
	gl_kube_lines_free(&l);
}

static void test_event_parse(void **state)
{
	static const struct {
		const char *line;
		enum gl_kube_event_type type;
	} ok[] = {
		{ "{\"type\":\"ADDED\",\"object\":{}}", GL_KUBE_ADDED },
		{ "{\"type\":\"MODIFIED\",\"object\":{\"a\":1}}", GL_KUBE_MODIFIED },
		{ "{\"type\":\"DELETED\",\"object\":{}}", GL_KUBE_DELETED },
		{ "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"3\"}}}", GL_KUBE_BOOKMARK },
		{ "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410}}", GL_KUBE_ERROR },
	};
	static const char *const bad[] = {
		"", "{", "[]", "{\"type\":\"ADDED\"}", "{\"object\":{}}", "{\"type\":\"NOPE\",\"object\":{}}",
		"{\"type\":1,\"object\":{}}", "{\"type\":\"ADDED\",\"object\":[]}",
		"{\"type\":\"ADDED\",\"object\":{}} trailing",
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(ok); i++) {
		struct gl_kube_event ev = { 0 };
		struct gl_err e = { 0 };

		assert_int_equal(gl_kube_event_parse(ok[i].line, strlen(ok[i].line), &ev, &e), 0);
		assert_int_equal(ev.type, ok[i].type);
		assert_true(json_object_is_type(ev.object, json_type_object));
		if (ev.type == GL_KUBE_BOOKMARK)
			assert_string_equal(gl_kube_obj_rv(ev.object), "3");
		json_object_put(ev.object);
	}
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		struct gl_kube_event ev = { .object = NULL };
		struct gl_err e = { 0 };

		print_message("bad %s\n", bad[i]);
		assert_int_equal(gl_kube_event_parse(bad[i], strlen(bad[i]), &ev, &e), -EBADMSG);
		assert_null(ev.object);
		assert_int_equal(e.code, GL_ERR_DECODE);
	}
}

/* ---- paths and queries --------------------------------------------------- */

static const struct gl_kube_res pods = { "", "v1", "pods", true };
static const struct gl_kube_res nss = { "", "v1", "namespaces", false };
static const struct gl_kube_res iprs = { "gamelan.dev", "v1alpha1", "ipreservations", true };

static void test_path(void **state)
{
	char b[256];

	assert_int_equal(gl_kube_path(&pods, "games", "dst-0", NULL, b, sizeof(b)), 0);
	assert_string_equal(b, "/api/v1/namespaces/games/pods/dst-0");
	assert_int_equal(gl_kube_path(&pods, NULL, NULL, NULL, b, sizeof(b)), 0);
	assert_string_equal(b, "/api/v1/pods");
	assert_int_equal(gl_kube_path(&nss, "ignored", "games", NULL, b, sizeof(b)), 0);
	assert_string_equal(b, "/api/v1/namespaces/games");
	assert_int_equal(gl_kube_path(&iprs, "gamelan-system", "lan-192-168-1-200", "status", b,
				      sizeof(b)), 0);
	assert_string_equal(b, "/apis/gamelan.dev/v1alpha1/namespaces/gamelan-system/ipreservations/"
			       "lan-192-168-1-200/status");
	assert_int_equal(gl_kube_path(&iprs, "ns", NULL, NULL, b, sizeof(b)), 0);
	assert_string_equal(b, "/apis/gamelan.dev/v1alpha1/namespaces/ns/ipreservations");
	/* RBAC names carry ':'; it is escaped, harmlessly. */
	assert_int_equal(gl_kube_path(&nss, NULL, "system:node", NULL, b, sizeof(b)), 0);
	assert_string_equal(b, "/api/v1/namespaces/system%3Anode");

	static const char *const bad_names[] = { "", ".", "..", "a/b", "a?b", "a#b", "a%2f", "a b",
						 "a\nb", "\x7f" };
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad_names); i++) {
		assert_int_equal(gl_kube_path(&pods, "ns", bad_names[i], NULL, b, sizeof(b)), -EINVAL);
		assert_int_equal(gl_kube_path(&pods, bad_names[i], "x", NULL, b, sizeof(b)), -EINVAL);
	}
	struct gl_kube_res evil = { "a/b", "v1", "x", false };
	assert_int_equal(gl_kube_path(&evil, NULL, NULL, NULL, b, sizeof(b)), -EINVAL);
	assert_int_equal(gl_kube_path(&pods, "ns", NULL, "status", b, sizeof(b)), -EINVAL);
	assert_int_equal(gl_kube_path(&pods, "ns", "x", "st/atus", b, sizeof(b)), -EINVAL);
	assert_int_equal(gl_kube_path(&iprs, "gamelan-system", "x", NULL, b, 20), -ENAMETOOLONG);

	char longname[GL_KUBE_NAME_MAX + 1];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(gl_kube_path(&pods, "ns", longname, NULL, b, sizeof(b)), -EINVAL);
}

static void test_query(void **state)
{
	char b[256] = "/api/v1/pods";

	assert_int_equal(gl_kube_query_add(b, sizeof(b), "labelSelector",
					   "gamelan.dev/network=lan,app in (a,b),!x"), 0);
	assert_string_equal(b, "/api/v1/pods?labelSelector=gamelan.dev%2Fnetwork%3Dlan%2Capp%20in"
			       "%20%28a%2Cb%29%2C%21x");
	assert_int_equal(gl_kube_query_add(b, sizeof(b), "continue", "eyJ2Ijo+/=="), 0);
	assert_non_null(strstr(b, "&continue=eyJ2Ijo%2B%2F%3D%3D"));
	assert_int_equal(gl_kube_query_add(b, sizeof(b), "a&b", "c#d"), 0);
	assert_non_null(strstr(b, "&a%26b=c%23d"));

	/* Too long: an error, and the buffer as it was. */
	char s[24] = "/api/v1/pods";
	assert_int_equal(gl_kube_query_add(s, sizeof(s), "limit", "500"), 0);
	assert_string_equal(s, "/api/v1/pods?limit=500");
	assert_int_equal(gl_kube_query_add(s, sizeof(s), "x", "y"), -ENAMETOOLONG);
	assert_string_equal(s, "/api/v1/pods?limit=500");
}

/* ---- backoff --------------------------------------------------------------- */

static void test_backoff(void **state)
{
	static const uint32_t rnds[] = { 0, 1, 2, 99, 12345, 0x7fffffff, 0xffffffffu };

	for (int a = 0; a < 70; a++) {
		int64_t d = 200;

		for (int i = 0; i < a && d < 5000; i++)
			d *= 2;
		if (d > 5000)
			d = 5000;
		for (size_t i = 0; i < GL_ARRAY_SIZE(rnds); i++) {
			int64_t b = gl_kube_backoff_ms(a, 200, 5000, rnds[i]);

			assert_true(b >= d - d / 2);
			assert_true(b <= d);
		}
	}
	assert_int_equal(gl_kube_backoff_ms(0, 200, 5000, 0), 100);
	assert_int_equal(gl_kube_backoff_ms(0, 200, 5000, 100), 200);
	assert_int_equal(gl_kube_backoff_ms(3, 200, 5000, 800), 1600);
	assert_int_equal(gl_kube_backoff_ms(1000, 200, 5000, 2500), 5000);
	/* Nonsense bounds still give a small positive delay. */
	assert_true(gl_kube_backoff_ms(5, 0, 0, 7) >= 1);
	assert_true(gl_kube_backoff_ms(-3, 200, 5000, 7) <= 200);

	/* Jitter actually spreads: many rnd values give many delays. */
	int distinct = 0;
	int64_t prev = -1;
	for (uint32_t r = 0; r < 1000; r += 37) {
		int64_t b = gl_kube_backoff_ms(4, 200, 5000, r);

		distinct += b != prev;
		prev = b;
	}
	assert_true(distinct > 20);
}

static void test_retry_after(void **state)
{
	assert_int_equal(gl_kube_retry_after_ms("3", 5000), 3000);
	assert_int_equal(gl_kube_retry_after_ms(" 2\r\n", 5000), 2000);
	assert_int_equal(gl_kube_retry_after_ms("0", 5000), 0);
	assert_int_equal(gl_kube_retry_after_ms("120", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms("99999999999999999999999", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms(NULL, 5000), -1);
	assert_int_equal(gl_kube_retry_after_ms("", 5000), -1);
	assert_int_equal(gl_kube_retry_after_ms("-1", 5000), -1);
	assert_int_equal(gl_kube_retry_after_ms("1.5", 5000), -1);
	assert_int_equal(gl_kube_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT", 5000), -1);
}

static void test_obj_meta(void **state)
{
	json_object *o = json_tokener_parse("{\"metadata\":{\"name\":\"n\",\"resourceVersion\":\"7\"}}");
	json_object *bad = json_tokener_parse("{\"metadata\":{\"name\":1,\"resourceVersion\":[]}}");
	json_object *bad2 = json_tokener_parse("{\"metadata\":\"x\"}");

	assert_string_equal(gl_kube_obj_name(o), "n");
	assert_string_equal(gl_kube_obj_rv(o), "7");
	assert_null(gl_kube_obj_name(bad));
	assert_null(gl_kube_obj_rv(bad));
	assert_null(gl_kube_obj_rv(bad2));
	assert_null(gl_kube_obj_rv(NULL));
	json_object_put(o);
	json_object_put(bad);
	json_object_put(bad2);
}

/* Opening needs no server; a config without one is refused. */
static void test_open_close(void **state)
{
	struct gl_kube_config cfg = { .server = (char *)"http://127.0.0.1:1", .token = (char *)"t" };
	struct gl_kube_config none = { 0 };
	struct gl_kube *k = NULL;
	struct gl_err e = { 0 };

	assert_int_equal(gl_kube_open(&none, NULL, &k, &e), -EINVAL);
	assert_null(k);
	assert_int_equal(gl_kube_open(&cfg, NULL, &k, &e), 0);
	assert_string_equal(gl_kube_namespace(k), "default");
	assert_int_equal(gl_kube_requests(k), 0);
	gl_kube_close(k);
	gl_kube_close(NULL);
	gl_kube_config_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_token),
		cmocka_unit_test(test_config_files_relative),
		cmocka_unit_test(test_config_cert_data_insecure),
		cmocka_unit_test(test_config_json),
		cmocka_unit_test(test_config_no_user),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_config_structure_errors),
		cmocka_unit_test(test_config_alias_bomb),
		cmocka_unit_test_setup_teardown(test_config_load_file, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_config_in_cluster, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_status_errno),
		cmocka_unit_test(test_lines_chunkings),
		cmocka_unit_test(test_lines_partial_and_bounds),
		cmocka_unit_test(test_event_parse),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_obj_meta),
		cmocka_unit_test(test_open_close),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
