/* kubebench: what an ADD costs the API server with the Kubernetes store,
 * against the fake API server's cost model (netns-harness/fakeapi/README.md:
 * a LIST from etcd reads every object of the namespace it ranges over, one
 * from the watch cache reads what matches).
 *
 * 1. Objects read per ADD, from etcd and from the watch cache, with 0, 500
 *    and 5000 reservations already in the namespace: once in other networks
 *    (the rest of the namespace) and once in the ADD's own network. Each ADD
 *    is done as a CNI process does it (open the store, allocate, close), for
 *    new identities and for returning ones (after their DEL). Goal: flat in
 *    the reservations count.
 * 2. 96 concurrent ADDs of new identities from 8 "nodes" (processes): every
 *    one answers, 96 distinct addresses, and the 409s the API server sent
 *    per allocation. Goal: <= 0.3.
 *
 *   kubebench [--fake netns-harness/fakeapi/fakeapi.py] [--adds N]
 *
 * Exit 0 with the figures on stdout (a goal missed is printed as MISSED),
 * 1 when something failed. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ipam/alloc.h"
#include "ipam/conf.h"
#include "base/json.h"
#include "kube/kube.h"
#include "ipam/store.h"
#include "ipam/store_kube.h"
#include "base/util.h"
#include "fakeapi/fakeapi_child.h"

#define NS "gamelan-system"
#define RACERS 96
#define NODES 8
#define GOAL_409 0.3

static const struct gl_kube_res resv_res = { "gamelan.dev", "v1alpha1", "ipreservations", true };
static struct fakeapi fake;
static char kubeconfig[PATH_MAX + 16];
static char *crd;

static int start_fake(const char *script)
{
	static const char *const args[] = { "--namespace", NS, NULL };
	int r;

	snprintf(fake.dir, sizeof(fake.dir), "/tmp/gl-kubebench.XXXXXX");
	if (!mkdtemp(fake.dir)) {
		fake.dir[0] = '\0';
		return -errno;
	}
	r = fakeapi_start(&fake, fakeapi_python(), script, false, args);
	if (r < 0)
		return r;
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", fake.dir);
	return fakeapi_kubeconfig(kubeconfig, fake.url, NULL, NULL);
}

static void stop_fake(void)
{
	static const char *const files[] = { "port", "fake.log", "kubeconfig" };
	char p[PATH_MAX + 16];

	fakeapi_stop(&fake);
	if (!fake.dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fake.dir, files[i]);
		unlink(p);
	}
	rmdir(fake.dir);
}

static size_t to_buf(char *data, size_t size, size_t n, void *ud)
{
	char *buf = ud;
	size_t have = strlen(buf), add = size * n;

	if (have + add >= 1 << 16)
		return 0;
	memcpy(buf + have, data, add);
	buf[have + add] = '\0';
	return add;
}

/* A /fake/ control request; the answer (JSON) in *ret when wanted. */
static int ctl(const char *method, const char *path, json_object **ret)
{
	_cleanup_free_ char *buf = calloc(1, 1 << 16);
	char url[128];
	long code = 0;
	CURL *c = curl_easy_init();
	int r = -EIO;

	if (!c || !buf) {
		if (c)
			curl_easy_cleanup(c);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s%s", fake.url, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, buf);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	if (curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
	    code / 100 == 2)
		r = 0;
	curl_easy_cleanup(c);
	if (r == 0 && ret)
		r = gl_json_parse_object(buf, strlen(buf), ret, NULL);
	return r;
}

struct cost {
	int64_t etcd, cache, conflicts;
};

static int64_t get_int(json_object *o, const char *a, const char *b)
{
	json_object *x, *y;

	if (!json_object_object_get_ex(o, a, &x) || !json_object_object_get_ex(x, b, &y))
		return 0;
	return json_object_get_int64(y);
}

/* The fake's counters since the last reset of its stats. */
static int cost_read(struct cost *ret)
{
	json_object *st = NULL;
	int r = ctl("GET", "/fake/stats", &st);

	if (r < 0)
		return r;
	ret->etcd = get_int(st, "objectsRead", "etcd");
	ret->cache = get_int(st, "objectsRead", "cache");
	ret->conflicts = get_int(st, "byStatus", "409");
	json_object_put(st);
	return 0;
}

/* An empty store (the fake's reset drops the CRD too: post it again). */
static int reset_fake(struct gl_err *err)
{
	int r = ctl("POST", "/fake/reset", NULL);

	return r < 0 ? r : fakeapi_post_crd(kubeconfig, crd, err);
}

static int parse_conf(const char *net, const char *range, struct gl_ipam_conf *ret, struct gl_err *err)
{
	char json[256];
	json_object *o = NULL;
	int r;

	snprintf(json, sizeof(json), "{\"range\":\"%s\"}", range);
	r = gl_json_parse_object(json, strlen(json), &o, err);
	if (r >= 0)
		r = gl_ipamconf_parse(o, net, ret, err);
	json_object_put(o);
	return r;
}

/* n Bound reservations of network, written straight to the API (no scan per
 * row: filling 5000 through the allocator would measure the filling). */
static int fill(const char *network, const char *base, int n, struct gl_err *err)
{
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	struct gl_ip ip;
	int r = gl_ip_parse(base, &ip);

	if (r >= 0)
		r = gl_kube_config_load(kubeconfig, &cfg, err);
	if (r >= 0)
		r = gl_kube_open(cfg, NULL, &k, err);
	for (int i = 0; r >= 0 && i < n; i++) {
		struct gl_resv row = { .state = GL_RESV_BOUND, .expires = GL_RESV_NEVER, .updated = gl_now_wall_ms() };
		json_object *o;

		snprintf(row.network, sizeof(row.network), "%s", network);
		snprintf(row.identity, sizeof(row.identity), "fill/%d", i);
		snprintf(row.container_id, sizeof(row.container_id), "fill-%d", i);
		snprintf(row.ifname, sizeof(row.ifname), "eth0");
		snprintf(row.node, sizeof(row.node), "filler");
		r = gl_ip_add(&ip, i, &row.ip);
		o = r < 0 ? NULL : gl_store_kube_to_json(&row, NS, false);
		if (r >= 0 && !o)
			r = -ENOMEM;
		if (r >= 0)
			r = gl_kube_create(k, &resv_res, NS, o, NULL, err);
		json_object_put(o);
	}
	gl_kube_close(k);
	gl_kube_config_free(cfg);
	return r;
}

/* One ADD (or DEL) as a CNI process makes it: open the store, allocate (or
 * release), close. */
static int one_op(bool add, const struct gl_ipam_conf *c, const char *identity, const char *cid,
		  const char *node, struct gl_ip *ret_ip, struct gl_err *err)
{
	struct gl_store_conf sc = { .type = "kubernetes", .kubeconfig = kubeconfig, .namespace = NS };
	struct gl_alloc_req rq = { .conf = c, .identity = identity, .ifname = "eth0", .container_id = cid,
				   .node = node, .now = gl_now_wall_ms() };
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_store *s = NULL;
	int r = gl_store_open(&sc, &s, err);

	if (r < 0)
		return r;
	r = add ? gl_alloc_add(s, &rq, ips, err) : gl_alloc_del(s, &rq, err);
	if (r >= 0 && add && ret_ip)
		*ret_ip = ips[0];
	gl_store_close(s);
	return r;
}

static int ops(bool add, const struct gl_ipam_conf *c, int n, const char *cids, struct gl_err *err)
{
	char id[64], cid[64];

	for (int i = 0; i < n; i++) {
		int r;

		snprintf(id, sizeof(id), "games/gs-%d", i);
		snprintf(cid, sizeof(cid), "%s-%d", cids, i);
		r = one_op(add, c, id, cid, "bench", NULL, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Objects read per ADD (new, returning) with `rows` reservations elsewhere
 * in the namespace or in the ADD's own network. */
static int bench_reads(int rows, bool same_net, int adds, double ret[4], struct gl_err *err)
{
	struct gl_ipam_conf c;
	struct cost a, b, d, e;
	int r = reset_fake(err);

	if (r < 0)
		return r;
	/* A /18: room for 5000 filler rows and the ADDs in one network. */
	r = parse_conf("bench", "10.40.0.0/18", &c, err);
	if (r < 0)
		return r;
	r = fill(same_net ? "bench" : "other", same_net ? "10.40.32.0" : "10.60.0.0", rows, err);
	if (r >= 0)
		r = cost_read(&a);
	if (r >= 0)
		r = ops(true, &c, adds, "c1", err);
	if (r >= 0)
		r = cost_read(&b);
	if (r >= 0)
		r = ops(false, &c, adds, "c1", err);
	if (r >= 0)
		r = cost_read(&d);
	if (r >= 0)
		r = ops(true, &c, adds, "c2", err);
	if (r >= 0)
		r = cost_read(&e);
	gl_ipamconf_free(&c);
	if (r < 0)
		return r;
	ret[0] = (double)(b.etcd - a.etcd) / adds;
	ret[1] = (double)(b.cache - a.cache) / adds;
	ret[2] = (double)(e.etcd - d.etcd) / adds;
	ret[3] = (double)(e.cache - d.cache) / adds;
	return 0;
}

/* RACERS new identities at once, NODES node names; the 409s per allocation. */
static int bench_race(double *ret_409, double *ret_s, struct gl_err *err)
{
	struct gl_ipam_conf c;
	struct cost before, after;
	pid_t pids[RACERS];
	int fds[RACERS][2], r = reset_fake(err), failed = 0, distinct = 0;
	struct gl_ip ips[RACERS];
	int64_t t0;

	if (r < 0)
		return r;
	r = parse_conf("race", "10.50.0.0/24", &c, err);
	if (r < 0)
		return r;
	r = cost_read(&before);
	t0 = gl_now_mono_ms();
	for (int i = 0; r >= 0 && i < RACERS; i++) {
		if (pipe(fds[i]) < 0) {
			r = -errno;
			break;
		}
		pids[i] = fork();
		if (pids[i] == 0) {
			char id[64], cid[64], node[16];
			struct gl_err e = {0};
			struct gl_ip ip = {0};

			close(fds[i][0]);
			snprintf(id, sizeof(id), "games/racer-%d", i);
			snprintf(cid, sizeof(cid), "race-%d", i);
			snprintf(node, sizeof(node), "node%d", i % NODES);
			if (one_op(true, &c, id, cid, node, &ip, &e) < 0)
				fprintf(stderr, "kubebench: racer %d: %s\n", i, e.msg);
			_exit(write(fds[i][1], &ip, sizeof(ip)) == sizeof(ip) ? 0 : 1);
		}
		close(fds[i][1]);
		if (pids[i] < 0)
			r = -errno;
	}
	for (int i = 0; i < RACERS; i++) {
		int st = 0;

		memset(&ips[i], 0, sizeof(ips[i]));
		if (r >= 0 && read(fds[i][0], &ips[i], sizeof(ips[i])) != sizeof(ips[i]))
			ips[i].family = 0;
		close(fds[i][0]);
		if (waitpid(pids[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0 || !ips[i].family)
			failed++;
	}
	*ret_s = (double)(gl_now_mono_ms() - t0) / 1000.0;
	for (int i = 0; i < RACERS; i++) {
		bool dup = !ips[i].family;

		for (int k = 0; k < i && !dup; k++)
			dup = gl_ip_equal(&ips[i], &ips[k]);
		distinct += !dup;
	}
	gl_ipamconf_free(&c);
	if (r >= 0)
		r = cost_read(&after);
	if (r < 0)
		return r;
	*ret_409 = (double)(after.conflicts - before.conflicts) / RACERS;
	printf("kubebench: %d concurrent ADDs of new identities from %d nodes: %d answered, %d distinct "
	       "addresses, %.2f s\n", RACERS, NODES, RACERS - failed, distinct, *ret_s);
	if (failed || distinct != RACERS)
		return gl_err_set(err, GL_ERR_STORE, "%d of %d concurrent ADDs failed, %d distinct addresses",
				  failed, RACERS, distinct);
	return 0;
}

int main(int argc, char **argv)
{
	static const int counts[] = { 0, 500, 5000 };
	const char *script = "netns-harness/fakeapi/fakeapi.py";
	char script_abs[PATH_MAX];
	double reads[2][3][4], c409 = 0, secs = 0, flat_max = 0;
	struct gl_err err = {0};
	int adds = 20, r = 0;
	bool flat = true;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fake") == 0 && i + 1 < argc)
			script = argv[++i];
		else if (strcmp(argv[i], "--adds") == 0 && i + 1 < argc)
			adds = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: kubebench [--fake PATH] [--adds N]\n");
			return 2;
		}
	}
	if (adds < 1 || adds > 1000) {
		fprintf(stderr, "kubebench: --adds is 1-1000\n");
		return 2;
	}
	if (access(script, R_OK) < 0) {
		fprintf(stderr, "kubebench: %s: %s (run from the source tree or pass --fake)\n", script,
			strerror(errno));
		return 1;
	}
	/* fakeapi_crd_json finds conf/k8s/ three levels above the script. */
	if (!realpath(script, script_abs)) {
		fprintf(stderr, "kubebench: %s: %s\n", script, strerror(errno));
		return 1;
	}
	r = start_fake(script_abs);
	crd = r < 0 ? NULL : fakeapi_crd_json(fakeapi_python(), script_abs);
	if (r < 0 || !crd) {
		fprintf(stderr, "kubebench: the fake API server did not start: %s\n", strerror(r < 0 ? -r : ENOMEM));
		stop_fake();
		free(crd);
		return 1;
	}
	printf("kubebench: objects the API server reads per ADD (etcd + watch cache), %d ADDs each,\n"
	       "kubebench: new identity | returning identity (after its DEL)\n", adds);
	for (int w = 0; w < 2 && r >= 0; w++)
		for (size_t i = 0; i < GL_ARRAY_SIZE(counts) && r >= 0; i++) {
			double *x = reads[w][i];

			r = bench_reads(counts[i], w == 1, adds, x, &err);
			if (r < 0)
				break;
			printf("kubebench:   %4d reservations %-26s etcd %5.1f + cache %7.1f | etcd %5.1f + "
			       "cache %7.1f\n", counts[i], w ? "in the ADD's own network:" : "in other networks:",
			       x[0], x[1], x[2], x[3]);
		}
	/* The goal: every read (etcd and watch cache) flat in the reservations
	 * count, wherever they are; an ADD reads its identity's rows, not its
	 * network's. A 409 on a new identity's first try reads one object, so
	 * "flat" allows a little noise. */
	for (int w = 0; r >= 0 && w < 2; w++)
		for (size_t i = 0; i < GL_ARRAY_SIZE(counts); i++)
			for (int k = 0; k < 4; k++) {
				double d = reads[w][i][k] - reads[w][0][k];

				if (d > 0.5 || d < -0.5)
					flat = false;
				if (reads[w][i][k] > flat_max)
					flat_max = reads[w][i][k];
			}
	if (r >= 0) {
		printf("kubebench: goal: objects read per ADD flat in the reservations count (0, 500, 5000; "
		       "etcd and watch cache, in the ADD's own network too): %s (at most %.1f)\n",
		       flat ? "ok" : "MISSED", flat_max);
		r = bench_race(&c409, &secs, &err);
	}
	if (r >= 0)
		printf("kubebench: goal: 409s per allocation at %d concurrent <= %.1f: %.2f %s\n", RACERS, GOAL_409,
		       c409, c409 <= GOAL_409 ? "ok" : "MISSED");
	if (r < 0)
		fprintf(stderr, "kubebench: %s\n", err.msg[0] ? err.msg : strerror(-r));
	stop_fake();
	free(crd);
	return r < 0 ? 1 : 0;
}
