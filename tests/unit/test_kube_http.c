/* lib/kube.c against the fake API server (netns-harness/fakeapi/fakeapi.py) over real
 * HTTP on 127.0.0.1: errors mapped from Status objects, pagination, watch
 * resume after a dropped stream, events split across chunks, 410 -> relist,
 * token reload on 401, kubeconfig variants with TLS, retries and timeouts.
 * The fake runs as a child process on port 0 (--port-file). Without python3
 * (with ssl), the fake or the openssl CLI (tests/install-deps.sh installs
 * them) the cases fail, saying what is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "kube/kube.h"
#include "base/util.h"
#include "fakeapi/fakeapi_child.h"

static char tmpdir[] = "/tmp/gl-kubehttp.XXXXXX";
static char fake_path[PATH_MAX];
static const char *python;
static struct fakeapi fake;
static char fake_url[128];
static bool have_certs;

static const struct gl_kube_res R_CM = { "", "v1", "configmaps", true };
static const struct gl_kube_res R_IPR = { "gamelan.dev", "v1alpha1", "ipreservations", true };

static const char *CRD =
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
	"\"metadata\":{\"name\":\"ipreservations.gamelan.dev\"},\"spec\":{\"group\":\"gamelan.dev\","
	"\"scope\":\"Namespaced\",\"names\":{\"plural\":\"ipreservations\",\"singular\":\"ipreservation\","
	"\"kind\":\"IPReservation\",\"shortNames\":[\"ipr\"]},\"versions\":[{\"name\":\"v1alpha1\","
	"\"served\":true,\"storage\":true,\"subresources\":{\"status\":{}},\"schema\":{\"openAPIV3Schema\":"
	"{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

/* ---- the fake as a child process (netns-harness/fakeapi/fakeapi_child.h) ---- */

/* Start a fresh fake with extra args (NULL-terminated); https when TLS. */
static void fake_start(bool tls, ...)
{
	const char *args[32] = { "--bookmark-interval", "0.2", "--namespace", "gamelan-system" };
	int n = 4, r;
	va_list ap;

	va_start(ap, tls);
	for (const char *a; (a = va_arg(ap, const char *)) && n < 31;)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	r = fakeapi_start(&fake, python, fake_path, tls, args);
	if (r < 0)
		print_message("the fake did not start: %s (see %s/fake.log)\n", strerror(-r), fake.dir);
	assert_int_equal(r, 0);
	snprintf(fake_url, sizeof(fake_url), "%s", fake.url);
}

/* A control request (raw libcurl, TLS unverified; /fake/ needs no auth).
 * Returns the HTTP status; the body goes to out (may be NULL). */
struct buf {
	char d[65536];
	size_t n;
};

static size_t buf_write(char *p, size_t s, size_t n, void *ud)
{
	struct buf *b = ud;
	size_t k = s * n;

	if (k > sizeof(b->d) - 1 - b->n)
		k = sizeof(b->d) - 1 - b->n;
	memcpy(b->d + b->n, p, k);
	b->n += k;
	b->d[b->n] = '\0';
	return s * n;
}

static long ctl(const char *method, const char *path, const char *body, struct buf *out)
{
	static struct buf scratch;
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	char url[512];
	CURL *c = curl_easy_init();
	long code = 0;

	if (!out)
		out = &scratch;
	out->n = 0;
	out->d[0] = '\0';
	snprintf(url, sizeof(url), "%s%s", fake_url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return code;
}

static void write_file(const char *name, const char *text, char *path, size_t size)
{
	FILE *f;

	snprintf(path, size, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A kubeconfig at the fake with the given user fields (YAML flow mapping body)
 * and extra cluster fields. */
static struct gl_kube *open_with(const char *cluster_extra, const char *user,
				 const struct gl_kube_opts *o, int want)
{
	char path[PATH_MAX];
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	struct gl_err err = { 0 };
	int r;

	snprintf(path, sizeof(path), "%s/kubeconfig", tmpdir);
	assert_int_equal(fakeapi_kubeconfig(path, fake_url, cluster_extra, user), 0);
	r = gl_kube_config_load(path, &cfg, &err);
	if (r < 0)
		print_message("config: %s\n", err.msg);
	assert_int_equal(r, 0);
	r = gl_kube_open(cfg, o, &k, &err);
	gl_kube_config_free(cfg);
	assert_int_equal(r, 0);
	if (want != 1) {
		json_object *o2 = NULL;

		r = gl_kube_get(k, &R_CM, "gamelan-system", "probe", &o2, &err);
		if (r != want)
			print_message("probe: %d %s\n", r, err.msg);
		assert_int_equal(r, want);
		json_object_put(o2);
	}
	return k;
}

static const struct gl_kube_opts fast = { .connect_timeout_ms = 2000, .timeout_ms = 5000,
					  .max_retries = 3, .backoff_base_ms = 20,
					  .backoff_max_ms = 200 };

static json_object *obj_of(const char *fmt, ...)
{
	char text[4096];
	va_list ap;
	json_object *o;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	o = json_tokener_parse(text);
	assert_non_null(o);
	return o;
}

static const char *jstr(json_object *o, const char *a, const char *b)
{
	json_object *x;

	if (!json_object_object_get_ex(o, a, &x))
		return NULL;
	if (b && !json_object_object_get_ex(x, b, &x))
		return NULL;
	return json_object_get_string(x);
}

static json_object *ipr(const char *name, const char *labels)
{
	return obj_of("{\"apiVersion\":\"gamelan.dev/v1alpha1\",\"kind\":\"IPReservation\","
		      "\"metadata\":{\"name\":\"%s\",\"labels\":%s},\"spec\":{\"address\":\"10.0.0.1\"}}",
		      name, labels ? labels : "{}");
}

static int create(struct gl_kube *k, const struct gl_kube_res *res, json_object *o, char *rv)
{
	json_object *out = NULL;
	struct gl_err err = { 0 };
	int r = gl_kube_create(k, res, NULL, o, &out, &err);

	json_object_put(o);
	if (r == 0 && rv)
		snprintf(rv, GL_KUBE_RV_MAX, "%s", gl_kube_obj_rv(out));
	json_object_put(out);
	return r;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	char cmd[PATH_MAX * 2];

	python = fakeapi_python();
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(fake.dir, sizeof(fake.dir), "%s", tmpdir);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!fakeapi_find(fake_path))
		fake_path[0] = '\0';
	snprintf(cmd, sizeof(cmd),
		 "(cd %s && for n in ca srv cli; do openssl ecparam -name prime256v1 -genkey -noout -out $n.key || exit 1; done && "
		 "openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj /CN=fake-ca && "
		 "openssl req -new -key srv.key -out srv.csr -subj /CN=127.0.0.1 && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > srv.ext && "
		 "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile srv.ext && "
		 "openssl req -new -key cli.key -out cli.csr -subj /CN=gamelan && "
		 "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2) >/dev/null 2>&1",
		 tmpdir);
	have_certs = system(cmd) == 0; /* a test helper may use the openssl CLI */
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[PATH_MAX];

	fakeapi_stop(&fake);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return -1;
	curl_global_cleanup();
	return 0;
}

static bool can_run(void)
{
	char cmd[PATH_MAX];

	if (!fake_path[0])
		return false;
	snprintf(cmd, sizeof(cmd), "%s -c 'import ssl' >/dev/null 2>&1", python);
	return system(cmd) == 0;
}

#define NEED_FAKE()                                                                        \
	do {                                                                               \
		if (!can_run())                                                            \
			fail_msg("%s", fake_path[0] ? "python3 with its ssl module is missing " \
				 "(tests/install-deps.sh installs python3)" :                     \
				 "netns-harness/fakeapi/fakeapi.py not found (set GL_TOP)");      \
	} while (0)

#define NEED_CERTS()                                                                  \
	do {                                                                          \
		if (!have_certs)                                                      \
			fail_msg("the openssl CLI did not make the test certificates "   \
				 "(tests/install-deps.sh installs openssl)");            \
	} while (0)

static int test_setup(void **state)
{
	if (can_run()) {
		fake_start(false, NULL);
		assert_int_equal(ctl("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD, NULL), 201);
	}
	return 0;
}

static int test_teardown(void **state)
{
	fakeapi_stop(&fake);
	return 0;
}

/* ---- tests ---- */

static void test_crud_errors(void **state)
{
	struct gl_err err = { 0 };
	json_object *o = NULL, *p;
	char rv1[GL_KUBE_RV_MAX], rv2[GL_KUBE_RV_MAX];
	struct gl_kube *k;
	int r;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	assert_int_equal(create(k, &R_IPR, ipr("a", NULL), rv1), 0);
	r = create(k, &R_IPR, ipr("a", NULL), NULL);
	assert_int_equal(r, -EEXIST);
	r = gl_kube_create(k, &R_IPR, NULL, (o = ipr("Bad_Name", NULL)), NULL, &err);
	json_object_put(o);
	assert_int_equal(r, -EINVAL);
	assert_non_null(strstr(err.msg, "Bad_Name"));
	r = gl_kube_create(k, &R_IPR, "nosuchns", (o = ipr("b", NULL)), NULL, NULL);
	json_object_put(o);
	assert_int_equal(r, -ENOENT);

	/* update with the current rv, then with the stale one */
	assert_int_equal(gl_kube_get(k, &R_IPR, NULL, "a", &o, NULL), 0);
	json_object_object_add(json_object_object_get(o, "spec"), "state", json_object_new_string("Bound"));
	assert_int_equal(gl_kube_update(k, &R_IPR, NULL, o, &p, NULL), 0);
	snprintf(rv2, sizeof(rv2), "%s", gl_kube_obj_rv(p));
	assert_string_not_equal(rv1, rv2);
	json_object_put(p);
	memset(&err, 0, sizeof(err));
	r = gl_kube_update(k, &R_IPR, NULL, o, NULL, &err);
	assert_int_equal(r, -ESTALE);
	assert_non_null(strstr(err.msg, "the object has been modified"));
	json_object_put(o);

	/* status subresource: only status changes */
	o = obj_of("{\"apiVersion\":\"gamelan.dev/v1alpha1\",\"kind\":\"IPReservation\",\"metadata\":"
		   "{\"name\":\"a\",\"resourceVersion\":\"%s\"},\"spec\":{\"address\":\"9.9.9.9\"},"
		   "\"status\":{\"phase\":\"Ready\"}}", rv2);
	assert_int_equal(gl_kube_update_status(k, &R_IPR, NULL, o, &p, NULL), 0);
	json_object_put(o);
	assert_string_equal(jstr(p, "status", "phase"), "Ready");
	assert_string_equal(jstr(p, "spec", "address"), "10.0.0.1");
	json_object_put(p);
	o = obj_of("{\"status\":{\"phase\":\"Patched\"}}");
	assert_int_equal(gl_kube_patch_merge(k, &R_IPR, NULL, "a", o, true, &p, NULL), 0);
	json_object_put(o);
	assert_string_equal(jstr(p, "status", "phase"), "Patched");
	json_object_put(p);
	o = obj_of("{\"spec\":{\"state\":null,\"pinned\":true}}");
	assert_int_equal(gl_kube_patch_merge(k, &R_IPR, NULL, "a", o, false, &p, NULL), 0);
	json_object_put(o);
	assert_null(jstr(p, "spec", "state"));
	assert_string_equal(jstr(p, "spec", "pinned"), "true");
	snprintf(rv2, sizeof(rv2), "%s", gl_kube_obj_rv(p));
	json_object_put(p);
	assert_int_equal(gl_kube_patch_merge(k, &R_IPR, NULL, "nope", o = obj_of("{}"), false, NULL, NULL),
			 -ENOENT);
	json_object_put(o);

	/* delete with preconditions */
	assert_int_equal(gl_kube_delete(k, &R_IPR, NULL, "a", NULL, rv1, NULL), -ESTALE);
	assert_int_equal(gl_kube_delete(k, &R_IPR, NULL, "a", "not-the-uid", NULL, NULL), -ESTALE);
	assert_int_equal(gl_kube_delete(k, &R_IPR, NULL, "a", NULL, rv2, NULL), 0);
	assert_int_equal(gl_kube_get(k, &R_IPR, NULL, "a", &o, NULL), -ENOENT);
	assert_int_equal(gl_kube_delete(k, &R_IPR, NULL, "a", NULL, NULL, NULL), -ENOENT);

	/* generateName */
	o = obj_of("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"generateName\":\"g-\"}}");
	assert_int_equal(gl_kube_create(k, &R_CM, NULL, o, &p, NULL), 0);
	json_object_put(o);
	assert_int_equal(strncmp(gl_kube_obj_name(p), "g-", 2), 0);
	json_object_put(p);
	gl_kube_close(k);
}

static void test_keepalive(void **state)
{
	struct buf b;
	struct gl_kube *k;
	json_object *o;
	uint64_t n0;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	assert_int_equal(ctl("POST", "/fake/stats", "{}", NULL), 200);
	n0 = gl_kube_requests(k);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(gl_kube_get(k, &R_CM, "default", "nope", &o, NULL), -ENOENT);
	}
	assert_int_equal(gl_kube_requests(k) - n0, 20);
	assert_int_equal(ctl("GET", "/fake/stats", NULL, &b), 200);
	/* one control connection (the stats call itself) + at most one for the client */
	assert_non_null(strstr(b.d, "\"connections\":1}"));
	gl_kube_close(k);
}

static void test_list_pages(void **state)
{
	struct gl_kube_list_opts lo = { .label_selector = "page=y", .limit = 3 };
	char name[32], cont[4096] = "";
	json_object *l, *items;
	struct gl_kube *k;
	int seen = 0, pages = 0;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "p%d", i);
		assert_int_equal(create(k, &R_IPR, ipr(name, i < 7 ? "{\"page\":\"y\"}" : "{\"page\":\"n\"}"), NULL), 0);
	}
	do {
		lo.cont = *cont ? cont : NULL;
		assert_int_equal(gl_kube_list(k, &R_IPR, NULL, &lo, &l, NULL), 0);
		items = json_object_object_get(l, "items");
		seen += (int)json_object_array_length(items);
		snprintf(cont, sizeof(cont), "%s", jstr(l, "metadata", "continue") ? jstr(l, "metadata", "continue") : "");
		json_object_put(l);
		pages++;
	} while (*cont && pages < 10);
	assert_int_equal(seen, 7);
	assert_int_equal(pages, 3);

	/* list_all follows continue, and restarts once when a continue token expires */
	lo.limit = 2;
	assert_int_equal(ctl("POST", "/fake/faults",
			     "{\"match\":\"GET /ipreservations$\",\"query\":\"continue=\",\"status\":410}", NULL), 201);
	assert_int_equal(gl_kube_list_all(k, &R_IPR, NULL, &lo, &l, NULL), 0);
	assert_int_equal(json_object_array_length(json_object_object_get(l, "items")), 7);
	assert_non_null(gl_kube_obj_rv(l));
	json_object_put(l);
	gl_kube_close(k);
}

struct evlog {
	char names[64][32];
	int types[64];
	int n, bookmarks;
	int stop_at;     /* return 1 after this many object events (0 = never) */
};

static int ev_cb(const struct gl_kube_event *ev, void *ud)
{
	struct evlog *l = ud;

	if (ev->type == GL_KUBE_BOOKMARK) {
		l->bookmarks++;
		return 0;
	}
	if (l->n < 64) {
		const char *n = gl_kube_obj_name(ev->object);

		snprintf(l->names[l->n], sizeof(l->names[0]), "%s", n ? n : "?");
		l->types[l->n] = ev->type;
	}
	l->n++;
	return l->stop_at && l->n >= l->stop_at ? 1 : 0;
}

static void make_history(struct gl_kube *k, char *rv0, int n)
{
	json_object *l;
	char name[32];

	assert_int_equal(gl_kube_list(k, &R_IPR, NULL, NULL, &l, NULL), 0);
	snprintf(rv0, GL_KUBE_RV_MAX, "%s", gl_kube_obj_rv(l));
	json_object_put(l);
	for (int i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		assert_int_equal(create(k, &R_IPR, ipr(name, NULL), NULL), 0);
	}
}

static void test_watch_resume_after_drop(void **state)
{
	struct gl_kube_watch_opts wo = { .timeout_seconds = 1 };
	struct evlog log = { 0 };
	char rv[GL_KUBE_RV_MAX];
	struct gl_kube *k;
	int r, calls = 0;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	make_history(k, rv, 5);
	assert_int_equal(ctl("POST", "/fake/faults",
			     "{\"match\":\"GET /ipreservations$\",\"dropWatchAfter\":2}", NULL), 201);
	r = gl_kube_watch(k, &R_IPR, NULL, &wo, rv, sizeof(rv), ev_cb, &log, NULL);
	assert_int_equal(r, 0);  /* a cut stream: resume from rv */
	assert_int_equal(log.n, 2);
	/* resume: the other three, no repeats */
	while (log.n < 5 && calls++ < 3)
		assert_int_equal(gl_kube_watch(k, &R_IPR, NULL, &wo, rv, sizeof(rv), ev_cb, &log, NULL), 0);
	assert_int_equal(log.n, 5);
	for (int i = 0; i < 5; i++) {
		char want[16];

		snprintf(want, sizeof(want), "w%d", i);
		assert_string_equal(log.names[i], want);
		assert_int_equal(log.types[i], GL_KUBE_ADDED);
	}
	gl_kube_close(k);
}

static void test_watch_split_chunks_and_bookmarks(void **state)
{
	/* 3 s: the fake, as the real server, sends no bookmark in the last 2 s of a watch. */
	struct gl_kube_watch_opts wo = { .timeout_seconds = 3 };
	struct evlog log = { 0 };
	char rv[GL_KUBE_RV_MAX], rv_before[GL_KUBE_RV_MAX];
	json_object *o;
	struct gl_kube *k;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	make_history(k, rv, 3);
	/* Every event in 7-byte chunks with a pause between them. */
	assert_int_equal(ctl("POST", "/fake/faults",
			     "{\"match\":\"GET /ipreservations$\",\"splitEvents\":7,\"chunkDelayMs\":1}", NULL), 201);
	assert_int_equal(gl_kube_watch(k, &R_IPR, NULL, &wo, rv, sizeof(rv), ev_cb, &log, NULL), 0);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.names[2], "w2");

	/* A quiet watch gets bookmarks that move rv past writes to other kinds. */
	snprintf(rv_before, sizeof(rv_before), "%s", rv);
	o = obj_of("{\"metadata\":{\"name\":\"elsewhere\"}}");
	assert_int_equal(gl_kube_create(k, &R_CM, "default", o, NULL, NULL), 0);
	json_object_put(o);
	log.n = 0;
	assert_int_equal(gl_kube_watch(k, &R_IPR, NULL, &wo, rv, sizeof(rv), ev_cb, &log, NULL), 0);
	assert_int_equal(log.n, 0);
	assert_true(log.bookmarks >= 2);
	assert_int_equal(atoll(rv), atoll(rv_before) + 1);
	gl_kube_close(k);
}

static void test_watch_410(void **state)
{
	struct gl_kube_watch_opts wo = { .timeout_seconds = 1 };
	struct evlog log = { 0 };
	struct gl_err err = { 0 };
	char rv[GL_KUBE_RV_MAX];
	struct gl_kube *k;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	make_history(k, rv, 2);
	assert_int_equal(ctl("POST", "/fake/compact", "{}", NULL), 200);
	assert_int_equal(gl_kube_watch(k, &R_IPR, NULL, &wo, rv, sizeof(rv), ev_cb, &log, &err), -EIDRM);
	assert_int_equal(log.n, 0);
	gl_kube_close(k);
}

struct loopctx {
	struct gl_kube *k;
	int syncs;
	size_t items[4];
	struct evlog log;
};

static int sync_cb(json_object *list, void *ud)
{
	struct loopctx *c = ud;

	if (c->syncs < 4)
		c->items[c->syncs] = json_object_array_length(json_object_object_get(list, "items"));
	c->syncs++;
	/* After the relist, a write the watch must deliver. */
	if (c->syncs == 2)
		assert_int_equal(create(c->k, &R_IPR, ipr("after-relist", NULL), NULL), 0);
	return 0;
}

static int loop_ev(const struct gl_kube_event *ev, void *ud)
{
	struct loopctx *c = ud;
	const char *n = gl_kube_obj_name(ev->object);

	ev_cb(ev, &c->log);
	return n && !strcmp(n, "after-relist") ? 7 : 0;
}

static void test_watch_loop_relist(void **state)
{
	struct gl_kube_watch_opts wo = { .timeout_seconds = 2, .max_duration_ms = 10000 };
	struct loopctx c = { 0 };
	char rv[GL_KUBE_RV_MAX];
	int64_t t0;

	NEED_FAKE();
	c.k = open_with(NULL, NULL, &fast, -ENOENT);
	make_history(c.k, rv, 2);
	/* The first watch is told its version is too old: relist, then watch on. A
	 * 500 and a dropped stream on the way are waited out. */
	assert_int_equal(ctl("POST", "/fake/faults",
			     "[{\"match\":\"GET /ipreservations$\",\"query\":\"watch=\",\"expire\":true},"
			     "{\"match\":\"GET /ipreservations$\",\"query\":\"watch=\",\"status\":500},"
			     "{\"match\":\"GET /ipreservations$\",\"query\":\"watch=\",\"dropWatchAfter\":0}]", NULL), 201);
	t0 = gl_now_mono_ms();
	assert_int_equal(gl_kube_watch_loop(c.k, &R_IPR, NULL, &wo, sync_cb, loop_ev, &c, NULL), 7);
	assert_true(gl_now_mono_ms() - t0 < 9000);
	assert_int_equal(c.syncs, 2);
	assert_int_equal(c.items[0], 2);
	assert_int_equal(c.items[1], 2);
	assert_int_equal(c.log.n, 1);
	gl_kube_close(c.k);
}

static void test_retries(void **state)
{
	struct gl_err err = { 0 };
	struct buf b;
	json_object *o = NULL;
	struct gl_kube *k;
	uint64_t n0;
	int64_t t0;

	NEED_FAKE();
	k = open_with(NULL, NULL, &fast, -ENOENT);
	assert_int_equal(create(k, &R_CM, obj_of("{\"metadata\":{\"name\":\"x\"}}"), NULL), 0);
	/* two 500s, then the answer */
	assert_int_equal(ctl("POST", "/fake/faults", "{\"match\":\"GET /configmaps/x$\",\"status\":500,\"count\":2}", NULL), 201);
	n0 = gl_kube_requests(k);
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "x", &o, NULL), 0);
	json_object_put(o);
	assert_int_equal(gl_kube_requests(k) - n0, 3);
	/* 429 for ever: -EAGAIN after 1 + max_retries attempts, Retry-After honoured (capped) */
	assert_int_equal(ctl("POST", "/fake/faults",
			     "{\"match\":\"GET /configmaps/x$\",\"status\":429,\"retryAfter\":1,\"count\":-1}", NULL), 201);
	assert_int_equal(ctl("POST", "/fake/stats", "{}", NULL), 200);
	t0 = gl_now_mono_ms();
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "x", &o, &err), -EAGAIN);
	assert_true(gl_now_mono_ms() - t0 >= 3 * 100);  /* 3 waits of at least half the 200 ms cap */
	assert_int_equal(ctl("GET", "/fake/stats", NULL, &b), 200);
	assert_non_null(strstr(b.d, "\"GET /api/v1/namespaces/gamelan-system/configmaps/x\":4"));
	assert_int_equal(ctl("DELETE", "/fake/faults", NULL, NULL), 200);
	/* a POST that failed with 503 is retried too (the server did not act on it) */
	assert_int_equal(ctl("POST", "/fake/faults", "{\"match\":\"POST /configmaps$\",\"status\":503}", NULL), 201);
	assert_int_equal(create(k, &R_CM, obj_of("{\"metadata\":{\"name\":\"y\"}}"), NULL), 0);
	gl_kube_close(k);
}

static void test_timeout(void **state)
{
	struct gl_kube_opts o = fast;
	struct gl_err err = { 0 };
	json_object *obj = NULL;
	struct gl_kube *k;
	int64_t t0;

	NEED_FAKE();
	o.timeout_ms = 400;
	o.max_retries = 1;
	k = open_with(NULL, NULL, &o, -ENOENT);
	assert_int_equal(ctl("POST", "/fake/faults", "{\"match\":\"GET /configmaps/slow$\",\"delayMs\":3000,\"count\":-1}", NULL), 201);
	t0 = gl_now_mono_ms();
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "slow", &obj, &err), -ETIMEDOUT);
	assert_true(gl_now_mono_ms() - t0 < 2500);
	/* the handle still works afterwards */
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "other", &obj, NULL), -ENOENT);
	gl_kube_close(k);
}

static void test_token_reload(void **state)
{
	char tokfile[PATH_MAX], user[PATH_MAX + 32], p[PATH_MAX];
	struct gl_kube_opts o = fast;
	struct gl_err err = { 0 };
	json_object *obj = NULL;
	struct gl_kube *k;

	NEED_FAKE();
	fake_start(false, "--token", "t-one", NULL);
	/* no token / a wrong static token: -EACCES */
	k = open_with(NULL, NULL, &fast, -EACCES);
	gl_kube_close(k);
	k = open_with(NULL, "token: wrong", &fast, -EACCES);
	gl_kube_close(k);
	k = open_with(NULL, "token: t-one", &fast, -ENOENT);
	gl_kube_close(k);
	/* tokenFile: rotated on the server and in the file -> 401 -> re-read -> ok */
	write_file("token", "t-one\n", tokfile, sizeof(tokfile));
	snprintf(user, sizeof(user), "tokenFile: %s", tokfile);
	o.token_reload_ms = 3600 * 1000;
	k = open_with(NULL, user, &o, -ENOENT);
	assert_int_equal(ctl("POST", "/fake/token", "{\"token\":\"t-two\"}", NULL), 200);
	write_file("token", "t-two\n", p, sizeof(p));
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "x", &obj, &err), -ENOENT);
	/* the same in a watch */
	assert_int_equal(ctl("POST", "/fake/token", "{\"token\":\"t-three\"}", NULL), 200);
	write_file("token", "t-three", p, sizeof(p));
	{
		struct gl_kube_watch_opts wo = { .timeout_seconds = 1 };
		char rv[GL_KUBE_RV_MAX] = "";
		struct evlog log = { 0 };

		assert_int_equal(gl_kube_watch(k, &R_CM, NULL, &wo, rv, sizeof(rv), ev_cb, &log, &err), 0);
	}
	/* a token the server no longer takes and no new one in the file: -EACCES */
	assert_int_equal(ctl("POST", "/fake/token", "{\"token\":\"t-four\"}", NULL), 200);
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "x", &obj, &err), -EACCES);
	gl_kube_close(k);
}

static char *b64_file(const char *name)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64];
	static char out[8][16384];
	static int slot;
	char *o = out[slot++ % 8];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	snprintf(cmd, sizeof(cmd), "base64 -w0 %s", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(o, 1, sizeof(out[0]) - 1, f);
	o[n] = '\0';
	pclose(f);
	return o;
}

static void test_tls_variants(void **state)
{
	char cl[PATH_MAX * 2 + 64], user[3 * 16384 + 64], a[PATH_MAX], b[PATH_MAX], c[PATH_MAX];
	struct gl_kube *k;

	NEED_FAKE();
	NEED_CERTS();
	snprintf(a, sizeof(a), "%s/srv.crt", tmpdir);
	snprintf(b, sizeof(b), "%s/srv.key", tmpdir);
	snprintf(c, sizeof(c), "%s/ca.crt", tmpdir);
	fake_start(true, "--tls-cert", a, "--tls-key", b, "--client-ca", c, "--token", "tt", NULL);
	/* CA data + token */
	snprintf(cl, sizeof(cl), "    certificate-authority-data: %s\n", b64_file("ca.crt"));
	k = open_with(cl, "token: tt", &fast, -ENOENT);
	gl_kube_close(k);
	/* CA file + client certificate files */
	snprintf(cl, sizeof(cl), "    certificate-authority: %s/ca.crt\n", tmpdir);
	snprintf(user, sizeof(user), "client-certificate: %s/cli.crt, client-key: %s/cli.key", tmpdir, tmpdir);
	k = open_with(cl, user, &fast, -ENOENT);
	gl_kube_close(k);
	/* client certificate data */
	snprintf(user, sizeof(user), "client-certificate-data: %s, client-key-data: %s",
		 b64_file("cli.crt"), b64_file("cli.key"));
	k = open_with(cl, user, &fast, -ENOENT);
	gl_kube_close(k);
	/* TLS but neither token nor certificate: 401 */
	k = open_with(cl, NULL, &fast, -EACCES);
	gl_kube_close(k);
	/* a server certificate nobody vouches for: a transport error, not retried for ever */
	snprintf(cl, sizeof(cl), "    certificate-authority: %s/cli.crt\n", tmpdir);
	k = open_with(cl, "token: tt", &fast, -EIO);
	gl_kube_close(k);
	/* insecure-skip-tls-verify */
	k = open_with("    insecure-skip-tls-verify: true\n", "token: tt", &fast, -ENOENT);
	gl_kube_close(k);
}

static void test_in_cluster(void **state)
{
	char a[PATH_MAX], b[PATH_MAX], c[PATH_MAX], sa[PATH_MAX], cmd[PATH_MAX * 6], port[16];
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	struct gl_err err = { 0 };
	json_object *o = NULL;

	NEED_FAKE();
	NEED_CERTS();
	snprintf(a, sizeof(a), "%s/srv.crt", tmpdir);
	snprintf(b, sizeof(b), "%s/srv.key", tmpdir);
	snprintf(c, sizeof(c), "%s/ca.crt", tmpdir);
	fake_start(true, "--tls-cert", a, "--tls-key", b, "--token", "sa-token", NULL);
	snprintf(sa, sizeof(sa), "%s/sa", tmpdir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s %s/ca.crt && printf sa-token > %s/token && "
		 "printf gamelan-system > %s/namespace", sa, c, sa, sa, sa);
	assert_int_equal(system(cmd), 0);
	snprintf(port, sizeof(port), "%s", strrchr(fake_url, ':') + 1);
	setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", port, 1);
	assert_int_equal(gl_kube_config_in_cluster(sa, &cfg, &err), 0);
	assert_int_equal(gl_kube_open(cfg, &fast, &k, &err), 0);
	gl_kube_config_free(cfg);
	assert_string_equal(gl_kube_namespace(k), "gamelan-system");
	assert_int_equal(gl_kube_get(k, &R_CM, NULL, "x", &o, &err), -ENOENT);
	gl_kube_close(k);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crud_errors, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_keepalive, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_list_pages, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_watch_resume_after_drop, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_watch_split_chunks_and_bookmarks, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_watch_410, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_watch_loop_relist, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_retries, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_timeout, test_setup, test_teardown),
		cmocka_unit_test_setup_teardown(test_token_reload, NULL, test_teardown),
		cmocka_unit_test_setup_teardown(test_tls_variants, NULL, test_teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, NULL, test_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
