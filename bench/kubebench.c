/* kubebench: what an ADD costs with the Kubernetes store, against the fake
 * API server, for a pool of 256 and of 65536 addresses holding the same
 * number of reservations. Each ADD is done as a CNI process does it (open
 * the store, allocate, close); the figures are API requests and wall time
 * per ADD, for a new identity (scan + POST + identity check) and for one
 * coming back (scan + PUT). Flat across pool sizes is the goal.
 *
 *   kubebench [--fake netns-harness/fakeapi/fakeapi.py] [--rows N] [--adds N]
 *
 * Exit 0 with the figures on stdout, 1 when something failed. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

static struct fakeapi fake;
static char kubeconfig[PATH_MAX + 16];

static int start_fake(const char *script)
{
	static const char *const args[] = { "--namespace", "gamelan-system", NULL };
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

/* One ADD (or DEL) as a CNI process makes it: open the store, allocate (or
 * release), close; an ADD adds its requests to *reqs. */
static int one_op(bool add, const struct gl_ipam_conf *c, const char *identity, const char *cid, long *reqs,
		  struct gl_err *err)
{
	struct gl_store_conf sc = { .type = "kubernetes", .kubeconfig = kubeconfig, .namespace = "gamelan-system" };
	struct gl_alloc_req rq = { .conf = c, .identity = identity, .ifname = "eth0", .container_id = cid,
				   .node = "bench", .now = gl_now_wall_ms() };
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_store *s = NULL;
	int r = gl_store_open(&sc, &s, err);

	if (r < 0)
		return r;
	if (add) {
		r = gl_alloc_add(s, &rq, ips, err);
		*reqs += gl_store_kube_requests(s);
	} else {
		r = gl_alloc_del(s, &rq, err);
	}
	gl_store_close(s);
	return r;
}

/* ADD (or DEL) games/gs-0 .. games/gs-N-1, container IDs CIDS-0 ... */
static int ops(bool add, const struct gl_ipam_conf *c, int n, const char *cids, long *reqs,
	       struct gl_err *err)
{
	char id[64], cid[64];

	for (int i = 0; i < n; i++) {
		int r;

		snprintf(id, sizeof(id), "games/gs-%d", i);
		snprintf(cid, sizeof(cid), "%s-%d", cids, i);
		r = one_op(add, c, id, cid, reqs, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int bench_pool(const char *net, const char *range, long size, int rows, int adds)
{
	char json[256], id[64];
	struct gl_ipam_conf c;
	struct gl_err err = {0};
	json_object *o = NULL;
	long reqs = 0, reqs_back = 0;
	int64_t t0, t_new, t_back;
	int r;

	snprintf(json, sizeof(json), "{\"range\":\"%s\"}", range);
	if (gl_json_parse_object(json, strlen(json), &o, &err) < 0 || gl_ipamconf_parse(o, net, &c, &err) < 0) {
		fprintf(stderr, "kubebench: %s\n", err.msg);
		json_object_put(o);
		return -1;
	}
	json_object_put(o);
	for (int i = 0; i < rows; i++) {
		long ignore = 0;

		snprintf(id, sizeof(id), "fill/%d", i);
		r = one_op(true, &c, id, id, &ignore, &err);
		if (r < 0)
			goto fail;
	}
	t0 = gl_now_mono_ms();
	r = ops(true, &c, adds, "c1", &reqs, &err);
	if (r < 0)
		goto fail;
	t_new = gl_now_mono_ms() - t0;
	r = ops(false, &c, adds, "c1", NULL, &err);
	if (r < 0)
		goto fail;
	t0 = gl_now_mono_ms();
	r = ops(true, &c, adds, "c2", &reqs_back, &err);
	if (r < 0)
		goto fail;
	t_back = gl_now_mono_ms() - t0;
	printf("kubebench: pool %6ld addresses, %d reservations: new identity %.2f requests/ADD %.1f ms/ADD;"
	       " returning identity %.2f requests/ADD %.1f ms/ADD\n", size, rows + adds,
	       (double)reqs / adds, (double)t_new / adds, (double)reqs_back / adds, (double)t_back / adds);
	gl_ipamconf_free(&c);
	return 0;
fail:
	fprintf(stderr, "kubebench: %s: %s\n", net, err.msg[0] ? err.msg : strerror(-r));
	gl_ipamconf_free(&c);
	return -1;
}

int main(int argc, char **argv)
{
	const char *script = "netns-harness/fakeapi/fakeapi.py";
	int rows = 150, adds = 50, r;
	struct gl_err err = {0};

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--fake") == 0 && i + 1 < argc)
			script = argv[++i];
		else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
			rows = atoi(argv[++i]);
		else if (strcmp(argv[i], "--adds") == 0 && i + 1 < argc)
			adds = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: kubebench [--fake PATH] [--rows N] [--adds N]\n");
			return 2;
		}
	}
	if (rows < 0 || adds < 1 || rows + adds > 250) {
		fprintf(stderr, "kubebench: --rows + --adds must fit a /24 (at most 250)\n");
		return 2;
	}
	if (access(script, R_OK) < 0) {
		fprintf(stderr, "kubebench: %s: %s (run from the source tree or pass --fake)\n", script,
			strerror(errno));
		return 1;
	}
	r = start_fake(script);
	if (r < 0) {
		fprintf(stderr, "kubebench: the fake API server did not start: %s\n", strerror(-r));
		stop_fake();
		return 1;
	}
	r = fakeapi_post_crd(kubeconfig, FAKEAPI_MINIMAL_CRD, &err);
	if (r < 0)
		fprintf(stderr, "kubebench: posting the CRD: %s\n", err.msg);
	if (r >= 0)
		r = bench_pool("bench-256", "10.30.0.0/24", 256, rows, adds);
	if (r >= 0)
		r = bench_pool("bench-65536", "10.40.0.0/16", 65536, rows, adds);
	stop_fake();
	return r < 0 ? 1 : 0;
}
