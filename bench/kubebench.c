/* kubebench: what an ADD costs with the Kubernetes store, against the fake
 * API server, for a pool of 256 and of 65536 addresses holding the same
 * number of reservations. Each ADD is done as a CNI process does it (open
 * the store, allocate, close); the figures are API requests and wall time
 * per ADD, for a new identity (scan + POST + identity check) and for one
 * coming back (scan + PUT). Flat across pool sizes is the goal.
 *
 *   kubebench [--fake tests/fakeapi/fakeapi.py] [--rows N] [--adds N]
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
#include "alloc.h"
#include "ipamconf.h"
#include "json.h"
#include "kube.h"
#include "store.h"
#include "util.h"

static const char crd[] =
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","
	"\"metadata\":{\"name\":\"ipreservations.gamelan.dev\"},\"spec\":{\"group\":\"gamelan.dev\","
	"\"scope\":\"Namespaced\",\"names\":{\"kind\":\"IPReservation\",\"listKind\":\"IPReservationList\","
	"\"plural\":\"ipreservations\",\"singular\":\"ipreservation\",\"shortNames\":[\"ipr\"]},"
	"\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,\"schema\":"
	"{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}";

static pid_t fake_pid;
static char dir[64];
static char kubeconfig[PATH_MAX];

static int start_fake(const char *script)
{
	char portfile[128], port[16] = "";
	FILE *f;

	snprintf(dir, sizeof(dir), "/tmp/gl-kubebench.XXXXXX");
	if (!mkdtemp(dir))
		return -errno;
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	fake_pid = fork();
	if (fake_pid < 0)
		return -errno;
	if (fake_pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl("/usr/bin/python3", "python3", script, "--listen", "127.0.0.1:0", "--port-file",
		      portfile, "--namespace", "gamelan-system", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 300 && !port[0]; i++) {
		f = fopen(portfile, "r");
		if (f) {
			if (!fgets(port, sizeof(port), f))
				port[0] = '\0';
			fclose(f);
		}
		if (!port[0])
			usleep(50000);
	}
	if (!port[0])
		return -ETIMEDOUT;
	port[strcspn(port, "\n")] = '\0';
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", dir);
	f = fopen(kubeconfig, "w");
	if (!f)
		return -errno;
	fprintf(f, "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n"
		"    server: http://127.0.0.1:%s\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: c\n"
		"  context: {cluster: fake, user: u}\ncurrent-context: c\n", port);
	fclose(f);
	return 0;
}

static void stop_fake(void)
{
	char p[160];

	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
	if (dir[0]) {
		snprintf(p, sizeof(p), "%s/port", dir);
		unlink(p);
		unlink(kubeconfig);
		rmdir(dir);
	}
}

static int post_crd(struct gl_err *err)
{
	static const struct gl_kube_res crds = { "apiextensions.k8s.io", "v1", "customresourcedefinitions", false };
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	json_object *o = NULL;
	int r = gl_json_parse_object(crd, strlen(crd), &o, err);

	if (r >= 0)
		r = gl_kube_config_load(kubeconfig, &cfg, err);
	if (r >= 0)
		r = gl_kube_open(cfg, NULL, &k, err);
	if (r >= 0)
		r = gl_kube_create(k, &crds, NULL, o, NULL, err);
	gl_kube_close(k);
	gl_kube_config_free(cfg);
	json_object_put(o);
	return r;
}

/* One ADD as a CNI process makes it; adds its requests to *reqs. */
static int one_add(const struct gl_ipam_conf *c, const char *identity, const char *cid, long *reqs,
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
	r = gl_alloc_add(s, &rq, ips, err);
	*reqs += gl_store_kube_requests(s);
	gl_store_close(s);
	return r;
}

static int one_del(const struct gl_ipam_conf *c, const char *identity, const char *cid, struct gl_err *err)
{
	struct gl_store_conf sc = { .type = "kubernetes", .kubeconfig = kubeconfig, .namespace = "gamelan-system" };
	struct gl_alloc_req rq = { .conf = c, .identity = identity, .ifname = "eth0", .container_id = cid,
				   .node = "bench", .now = gl_now_wall_ms() };
	struct gl_store *s = NULL;
	int r = gl_store_open(&sc, &s, err);

	if (r < 0)
		return r;
	r = gl_alloc_del(s, &rq, err);
	gl_store_close(s);
	return r;
}

static int bench_pool(const char *net, const char *range, long size, int rows, int adds)
{
	char json[256], id[64], cid[64];
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
		r = one_add(&c, id, id, &ignore, &err);
		if (r < 0)
			goto fail;
	}
	t0 = gl_now_mono_ms();
	for (int i = 0; i < adds; i++) {
		snprintf(id, sizeof(id), "games/gs-%d", i);
		snprintf(cid, sizeof(cid), "c1-%d", i);
		r = one_add(&c, id, cid, &reqs, &err);
		if (r < 0)
			goto fail;
	}
	t_new = gl_now_mono_ms() - t0;
	for (int i = 0; i < adds; i++) {
		snprintf(id, sizeof(id), "games/gs-%d", i);
		snprintf(cid, sizeof(cid), "c1-%d", i);
		r = one_del(&c, id, cid, &err);
		if (r < 0)
			goto fail;
	}
	t0 = gl_now_mono_ms();
	for (int i = 0; i < adds; i++) {
		snprintf(id, sizeof(id), "games/gs-%d", i);
		snprintf(cid, sizeof(cid), "c2-%d", i);
		r = one_add(&c, id, cid, &reqs_back, &err);
		if (r < 0)
			goto fail;
	}
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
	const char *script = "tests/fakeapi/fakeapi.py";
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
	r = post_crd(&err);
	if (r < 0)
		fprintf(stderr, "kubebench: posting the CRD: %s\n", err.msg);
	if (r >= 0)
		r = bench_pool("bench-256", "10.30.0.0/24", 256, rows, adds);
	if (r >= 0)
		r = bench_pool("bench-65536", "10.40.0.0/16", 65536, rows, adds);
	stop_fake();
	return r < 0 ? 1 : 0;
}
