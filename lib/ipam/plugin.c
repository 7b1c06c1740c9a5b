/* gamelan-ipam's CNI verbs: read the ipam config, open the store (once per
 * open IPAM, however many calls it serves), let the allocator decide, and
 * shape the result. Logs at debug only: the binary decides what to print. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ipam/alloc.h"
#include "cni/cni.h"
#include "ipam/plugin.h"
#include "ipam/conf.h"
#include "base/json.h"
#include "base/log.h"
#include "ipam/store.h"
#include "base/util.h"
#include "net/netns.h"

static int open_store(const struct gl_ipam_conf *c, bool create, int64_t deadline,
		      struct gl_store **ret, struct gl_err *err)
{
	struct gl_store_conf sc = { .type = c->store.type, .path = c->store.path, .create = create,
				    .kubeconfig = c->store.kubeconfig, .namespace = c->store.namespace,
				    .deadline = deadline };

	return gl_store_open(&sc, ret, err);
}

/* A SQLite file that does not exist yet holds no reservation: DEL, CHECK
 * and GC need not create it. Other stores always exist. */
static bool store_missing(const struct gl_ipam_conf *c)
{
	struct stat st;

	return strcmp(c->store.type, "sqlite") == 0 && stat(c->store.path, &st) < 0 && errno == ENOENT;
}

/* What to call the store in a message. */
static const char *store_desc(const struct gl_ipam_conf *c, char *buf, size_t size)
{
	if (strcmp(c->store.type, "sqlite") == 0)
		return c->store.path;
	snprintf(buf, size, "%s (namespace %s)", c->store.type, c->store.namespace);
	return buf;
}

/* The node a reservation was made on, so that GC on one node never frees
 * another node's addresses: GAMELAN_NODE, else the host name. */
static void node_name(char buf[GL_NODE_MAX])
{
	const char *env = getenv("GAMELAN_NODE");

	buf[0] = '\0';
	if (env && *env && strlen(env) < GL_NODE_MAX) {
		strcpy(buf, env);
	} else if (gethostname(buf, GL_NODE_MAX - 1) < 0) {
		buf[0] = '\0';
	}
	buf[GL_NODE_MAX - 1] = '\0';
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
			*p = '_';
}

/* args.cni.<key>: a list of addresses ("ip" or "ip/len"). */
static int parse_ip_list(const struct gl_cni_req *req, const char *key, struct gl_ip *out,
			 int max, int *n, struct gl_err *err)
{
	json_object *arr = NULL;
	int r;

	if (!req->args_cni)
		return 0;
	r = gl_json_get_array(req->args_cni, "args.cni", key, &arr, err);
	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(e);
		struct gl_prefix p;

		if (!json_object_is_type(e, json_type_string))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "args.cni.%s[%zu] must be a string",
					  key, i);
		if (*n >= max)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "args.cni.%s: at most %d addresses",
					  key, max);
		if (gl_ip_parse(s, &out[*n]) < 0) {
			if (gl_prefix_parse(s, &p) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "args.cni.%s[%zu]: \"%.64s\" is not an IP address", key, i, s);
			out[*n] = p.ip;
		}
		(*n)++;
	}
	return 0;
}

struct gl_ipam {
	const struct gl_cni_req *req;
	struct gl_ipam_conf conf;
	char node[GL_NODE_MAX];
	char pod[GL_RESV_POD_MAX];       /* "namespace/name" when the runtime named a pod */
	struct gl_store *store;          /* NULL until a verb needs it */
};

int gl_ipam_open(const struct gl_cni_req *req, struct gl_ipam **ret, struct gl_err *err)
{
	_cleanup_free_ struct gl_ipam *ipam = calloc(1, sizeof(*ipam));
	int r;

	if (!ipam)
		return -ENOMEM;
	r = gl_ipamconf_parse_netconf(req->conf, &ipam->conf, err);
	if (r < 0)
		return r;
	ipam->req = req;
	node_name(ipam->node);
	if (req->k8s_namespace[0] && req->k8s_pod_name[0] &&
	    snprintf(ipam->pod, sizeof(ipam->pod), "%s/%s", req->k8s_namespace, req->k8s_pod_name) >=
		    (int)sizeof(ipam->pod))
		ipam->pod[0] = '\0';
	*ret = TAKE_PTR(ipam);
	return 0;
}

void gl_ipam_close(struct gl_ipam *ipam)
{
	if (!ipam)
		return;
	if (ipam->store)
		gl_store_close(ipam->store);
	gl_ipamconf_free(&ipam->conf);
	free(ipam);
}

/* The store, opened on first use and kept for the next call on this IPAM
 * (a conflict round's ADD, an undo). create: a SQLite file may be made
 * (ADD, STATUS); the verbs that only read or release need not make one. */
static int ipam_store(struct gl_ipam *ipam, bool create, struct gl_store **ret, struct gl_err *err)
{
	int r;

	if (!ipam->store) {
		r = open_store(&ipam->conf, create, ipam->req->deadline, &ipam->store, err);
		if (r < 0)
			return r;
	}
	*ret = ipam->store;
	return 0;
}

/* A holder on this node is gone when its network namespace is (no file,
 * or a file no namespace is mounted on any more). Nothing less proves it:
 * a sandbox has its netns before its link (a holder still in its ADD),
 * and keeps it until its DEL has succeeded. */
static int holder_local_gone(const struct gl_resv *r)
{
	struct gl_err e = {0};
	int fd, ret = gl_netns_open(r->netns, &fd, &e);

	if (ret >= 0) {
		close(fd);
		return 0;
	}
	if (e.code == GL_ERR_UNKNOWN_CONTAINER)
		return 1;
	fd = open(r->netns, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* The addresses a runtime may ask for: CNI_ARGS IP=, runtimeConfig.ips,
 * args.cni.ips. */
#define MAX_REQUESTED (GL_CNI_MAX_IPS * 3)

/* CNI_ARGS IP= (podman's --ip), first as host-local takes it: an address no
 * range of the network holds is an error, as there (one inside a range but
 * not assignable, or held by another identity, is refused by the
 * allocator). */
static int args_ips(const struct gl_ipam_conf *c, const struct gl_cni_req *req,
		    struct gl_ip *out, int *n, struct gl_err *err)
{
	char a[GL_IP_STRLEN];

	for (int i = 0; i < req->n_args_ips; i++) {
		if (gl_ipamconf_pool_of(c, &req->args_ips[i]) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "CNI_ARGS IP %s is not in any range of network %s",
					  gl_ip_str(&req->args_ips[i], a, sizeof(a)), c->network);
		out[(*n)++] = req->args_ips[i];
	}
	return 0;
}

/* The allocator's request for this call; requested (MAX_REQUESTED) gets
 * the addresses the runtime asks for when it is not NULL. */
static int alloc_req(struct gl_ipam *ipam, struct gl_ip *requested, struct gl_alloc_req *ret,
		     struct gl_err *err)
{
	const struct gl_cni_req *req = ipam->req;
	int r;

	*ret = (struct gl_alloc_req){
		.conf = &ipam->conf,
		.identity = req->identity,
		.ifname = req->ifname,
		.container_id = req->container_id,
		.node = ipam->node,
		.now = gl_now_wall_ms(),
		.requested = requested,
		.netns = req->netns,
		.pod = ipam->pod,
		.pod_uid = req->k8s_pod_uid,
		.local_gone = holder_local_gone,
	};
	if (!requested)
		return 0;
	r = args_ips(&ipam->conf, req, requested, &ret->n_requested, err);
	if (r < 0)
		return r;
	for (int i = 0; i < req->n_rc_ips; i++)
		requested[ret->n_requested++] = req->rc_ips[i].ip;
	r = parse_ip_list(req, "ips", requested, MAX_REQUESTED, &ret->n_requested, err);
	return r < 0 ? r : 0;
}

int gl_ipam_add(struct gl_ipam *ipam, const struct gl_ip *conflicts, int n_conflicts,
		struct gl_cni_result *ret, struct gl_ipam_undo *ret_undo, struct gl_err *err)
{
	struct gl_ipam_undo undo = {0};
	struct gl_ip requested[MAX_REQUESTED];
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_alloc_req areq;
	struct gl_store *s;
	int r;

	r = alloc_req(ipam, requested, &areq, err);
	if (r < 0)
		return r;
	areq.conflicts = conflicts;
	areq.n_conflicts = n_conflicts;
	areq.ret_fresh = undo.fresh;
	r = ipam_store(ipam, true, &s, err);
	if (r < 0)
		return r;
	r = gl_alloc_add(s, &areq, ips, err);
	if (r < 0)
		return r;
	if (ret_undo) {
		undo.valid = true;
		*ret_undo = undo;
	}

	memset(ret, 0, sizeof(*ret));
	for (int p = 0; p < ipam->conf.n_pools; p++) {
		const struct gl_ipam_range *rg = gl_ipamconf_range_of(&ipam->conf, p, &ips[p]);
		struct gl_cni_ipconf *ipc = &ret->ips[ret->n_ips++];

		ipc->address.ip = ips[p];
		ipc->address.len = rg ? rg->subnet.len : (ips[p].family == AF_INET ? 32 : 128);
		ipc->has_gateway = rg && rg->has_gateway;
		if (ipc->has_gateway)
			ipc->gateway = rg->gateway;
		/* IPAM does not know the interface; the main plugin sets it. */
		ipc->interface = -1;
	}
	memcpy(ret->routes, ipam->conf.routes, sizeof(ret->routes[0]) * (size_t)ipam->conf.n_routes);
	ret->n_routes = ipam->conf.n_routes;
	ret->dns = ipam->conf.dns;
	return 0;
}

int gl_ipam_undo(struct gl_ipam *ipam, const struct gl_ipam_undo *u, struct gl_err *err)
{
	struct gl_alloc_req areq;
	struct gl_store *s;
	int r;

	if (!u->valid)
		return 0;
	r = alloc_req(ipam, NULL, &areq, err);
	if (r >= 0)
		r = ipam_store(ipam, false, &s, err);
	if (r >= 0)
		r = gl_alloc_undo(s, &areq, u->fresh, err);
	return r;
}

static int ipam_del(struct gl_ipam *ipam, struct gl_err *err)
{
	struct gl_alloc_req areq;
	struct gl_store *s;
	int r;

	/* Nothing was ever allocated: nothing to release. */
	if (!ipam->store && store_missing(&ipam->conf))
		return 0;
	r = alloc_req(ipam, NULL, &areq, err);
	if (r >= 0)
		r = ipam_store(ipam, false, &s, err);
	if (r >= 0)
		r = gl_alloc_del(s, &areq, err);
	return r;
}

static int ipam_check(struct gl_ipam *ipam, struct gl_err *err)
{
	const struct gl_cni_req *req = ipam->req;
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	char a[GL_IP_STRLEN], b[GL_IP_STRLEN];
	struct gl_alloc_req areq;
	struct gl_store *s;
	int r;

	r = alloc_req(ipam, NULL, &areq, err);
	if (r >= 0 && !ipam->store && store_missing(&ipam->conf))
		r = gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "no address is reserved for container %s: "
			       "the store %s does not exist", req->container_id, ipam->conf.store.path);
	if (r >= 0)
		r = ipam_store(ipam, false, &s, err);
	if (r >= 0)
		r = gl_alloc_check(s, &areq, ips, err);
	/* The chain's result must carry exactly the reserved addresses. */
	for (int i = 0; r >= 0 && req->has_prev && i < req->prev.n_ips; i++) {
		const struct gl_ip *ip = &req->prev.ips[i].address.ip;
		int p = gl_ipamconf_pool_of(&ipam->conf, ip);

		if (p >= 0 && !gl_ip_equal(ip, &ips[p]))
			r = gl_err_set(err, GL_ERR_INVALID_CONFIG,
				       "prevResult has %s, but the reservation of %s is %s",
				       gl_ip_str(ip, a, sizeof(a)), req->identity, gl_ip_str(&ips[p], b, sizeof(b)));
	}
	for (int p = 0; r >= 0 && req->has_prev && p < ipam->conf.n_pools; p++) {
		bool found = false;

		for (int i = 0; i < req->prev.n_ips; i++)
			found = found || gl_ip_equal(&req->prev.ips[i].address.ip, &ips[p]);
		if (!found)
			r = gl_err_set(err, GL_ERR_INVALID_CONFIG, "prevResult lacks the reserved address %s",
				       gl_ip_str(&ips[p], a, sizeof(a)));
	}
	return r;
}

/* STATUS says whether ADD can work. Only an unusable store is "not
 * available" (50). A full pool is not reported: sticky identities still
 * get their addresses back, and a failing STATUS makes the runtime stop
 * every ADD on the network (kubelet marks the node's network not ready). */
static int ipam_status(struct gl_ipam *ipam, struct gl_err *err)
{
	struct gl_store *s;
	struct gl_err e = {0};
	char desc[128];
	int r;

	r = ipam_store(ipam, true, &s, &e);
	if (r >= 0)
		r = s->ops->status(s, &e);
	if (r < 0)
		return gl_err_set(err, GL_ERR_NOT_AVAILABLE, "the address store %s is not usable: %s",
				  store_desc(&ipam->conf, desc, sizeof(desc)), e.msg);
	return 0;
}

static int ipam_gc(struct gl_ipam *ipam, struct gl_err *err)
{
	const struct gl_cni_req *req = ipam->req;
	struct gl_store *s;
	int r, released = 0;

	/* Without the runtime's list every attachment would look stale. */
	if (!req->has_valid) {
		gl_debug("GC without cni.dev/valid-attachments: nothing released");
		return 0;
	}
	if (!ipam->store && store_missing(&ipam->conf))
		return 0;
	r = ipam_store(ipam, false, &s, err);
	if (r >= 0)
		r = gl_alloc_gc(s, &ipam->conf, ipam->node, gl_now_wall_ms(), req->valid, req->n_valid,
				&released, err);
	if (r >= 0)
		gl_debug("GC of %s released %d stale reservation(s)", ipam->conf.network, released);
	return r;
}

int gl_ipam_run(struct gl_ipam *ipam, enum gl_cni_cmd cmd, struct gl_cni_result *ret,
		struct gl_err *err)
{
	switch (cmd) {
	case GL_CNI_ADD:
		if (!ret)
			return gl_err_set(err, GL_ERR_INTERNAL, "IPAM ADD without a result");
		return gl_ipam_add(ipam, NULL, 0, ret, NULL, err);
	case GL_CNI_DEL: return ipam_del(ipam, err);
	case GL_CNI_CHECK: return ipam_check(ipam, err);
	case GL_CNI_STATUS: return ipam_status(ipam, err);
	case GL_CNI_GC: return ipam_gc(ipam, err);
	default: return gl_err_set(err, GL_ERR_INTERNAL, "unexpected IPAM verb %d", (int)cmd);
	}
}

int gl_ipam_verb(const struct gl_cni_req *req, enum gl_cni_cmd cmd, struct gl_cni_result *ret,
		 struct gl_err *err)
{
	_cleanup_ipam_ struct gl_ipam *ipam = NULL;
	int r = gl_ipam_open(req, &ipam, err);

	return r < 0 ? r : gl_ipam_run(ipam, cmd, ret, err);
}

int gl_ipam_conflicts_parse(const char *s, struct gl_ip *ret, int max, int *ret_n)
{
	char buf[GL_IP_STRLEN];
	int n = 0;

	while (s && *s) {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		if (len == 0 || len >= sizeof(buf))
			return -EINVAL;
		if (n == max)
			return -E2BIG;
		memcpy(buf, s, len);
		buf[len] = '\0';
		if (gl_ip_parse(buf, &ret[n]) < 0)
			return -EINVAL;
		n++;
		s = end ? end + 1 : NULL;
	}
	*ret_n = n;
	return 0;
}

static int op_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err)
{
	_cleanup_ipam_ struct gl_ipam *ipam = NULL;
	struct gl_ip conflicts[GL_CNI_MAX_IPS];
	int n = 0, r;

	r = gl_ipam_conflicts_parse(getenv(GL_IPAM_ENV_CONFLICTS), conflicts, GL_CNI_MAX_IPS, &n);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_INVALID_ENV, "%s is not a list of at most %d addresses",
				   GL_IPAM_ENV_CONFLICTS, GL_CNI_MAX_IPS);
	r = gl_ipam_open(req, &ipam, err);
	return r < 0 ? r : gl_ipam_add(ipam, conflicts, n, ret, NULL, err);
}

static int op_del(struct gl_cni_req *req, struct gl_err *err)
{
	return gl_ipam_verb(req, GL_CNI_DEL, NULL, err);
}

static int op_check(struct gl_cni_req *req, struct gl_err *err)
{
	return gl_ipam_verb(req, GL_CNI_CHECK, NULL, err);
}

static int op_status(struct gl_cni_req *req, struct gl_err *err)
{
	return gl_ipam_verb(req, GL_CNI_STATUS, NULL, err);
}

static int op_gc(struct gl_cni_req *req, struct gl_err *err)
{
	return gl_ipam_verb(req, GL_CNI_GC, NULL, err);
}

const struct gl_cni_ops gl_ipam_ops = {
	.name = "gamelan-ipam",
	.add = op_add,
	.del = op_del,
	.check = op_check,
	.status = op_status,
	.gc = op_gc,
};
