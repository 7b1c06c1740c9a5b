/* gamelan-ipam's CNI verbs: read the ipam config, open the store, let the
 * allocator decide, and shape the result. */
#include <errno.h>
#include <stdio.h>
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

static void conf_freep(struct gl_ipam_conf *c)
{
	gl_ipamconf_free(c);
}

static int load_conf(const struct gl_cni_req *req, struct gl_ipam_conf *ret, struct gl_err *err)
{
	return gl_ipamconf_parse_netconf(req->conf, ret, err);
}

static int open_store(const struct gl_ipam_conf *c, bool create, struct gl_store **ret,
		      struct gl_err *err)
{
	struct gl_store_conf sc = { .type = c->store.type, .path = c->store.path, .create = create,
				    .kubeconfig = c->store.kubeconfig, .namespace = c->store.namespace };

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

struct call {
	struct gl_ipam_conf conf;
	struct gl_alloc_req areq;
	char node[GL_NODE_MAX];
	struct gl_ip conflicts[GL_ALLOC_MAX_CONFLICTS];
	struct gl_ip requested[GL_CNI_MAX_IPS * 2];
};

static void call_freep(struct call **c)
{
	if (*c) {
		gl_ipamconf_free(&(*c)->conf);
		free(*c);
	}
}

static int call_init(struct call *c, const struct gl_cni_req *req, struct gl_err *err)
{
	int r;

	memset(c, 0, sizeof(*c));
	r = load_conf(req, &c->conf, err);
	if (r < 0)
		return r;
	node_name(c->node);
	c->areq = (struct gl_alloc_req){
		.conf = &c->conf,
		.identity = req->identity,
		.ifname = req->ifname,
		.container_id = req->container_id,
		.node = c->node,
		.now = gl_now_wall_ms(),
		.conflicts = c->conflicts,
		.requested = c->requested,
	};
	return 0;
}

int gl_ipam_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_ipam_undo *ret_undo,
		struct gl_err *err)
{
	struct gl_ipam_undo undo = {0};
	_cleanup_(call_freep) struct call *c = calloc(1, sizeof(*c));
	_cleanup_store_ struct gl_store *s = NULL;
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	int r;

	if (!c)
		return -ENOMEM;
	r = call_init(c, req, err);
	if (r < 0)
		return r;
	r = parse_ip_list(req, "gamelanConflicts", c->conflicts, GL_ALLOC_MAX_CONFLICTS,
			  &c->areq.n_conflicts, err);
	for (int i = 0; r >= 0 && i < req->n_rc_ips; i++)
		c->requested[c->areq.n_requested++] = req->rc_ips[i].ip;
	if (r >= 0)
		r = parse_ip_list(req, "ips", c->requested, (int)GL_ARRAY_SIZE(c->requested),
				  &c->areq.n_requested, err);
	if (r >= 0)
		r = open_store(&c->conf, true, &s, err);
	c->areq.ret_fresh = undo.fresh;
	if (r >= 0)
		r = gl_alloc_add(s, &c->areq, ips, err);
	if (r < 0)
		return r;
	if (ret_undo) {
		undo.valid = true;
		*ret_undo = undo;
	}

	memset(ret, 0, sizeof(*ret));
	for (int p = 0; p < c->conf.n_pools; p++) {
		const struct gl_ipam_range *rg = gl_ipamconf_range_of(&c->conf, p, &ips[p]);
		struct gl_cni_ipconf *ipc = &ret->ips[ret->n_ips++];

		ipc->address.ip = ips[p];
		ipc->address.len = rg ? rg->subnet.len : (ips[p].family == AF_INET ? 32 : 128);
		ipc->has_gateway = rg && rg->has_gateway;
		if (ipc->has_gateway)
			ipc->gateway = rg->gateway;
		/* IPAM does not know the interface; the main plugin sets it. */
		ipc->interface = -1;
	}
	memcpy(ret->routes, c->conf.routes, sizeof(ret->routes[0]) * (size_t)c->conf.n_routes);
	ret->n_routes = c->conf.n_routes;
	ret->dns = c->conf.dns;
	return 0;
}

static int ipam_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err)
{
	return gl_ipam_add(req, ret, NULL, err);
}

int gl_ipam_undo(struct gl_cni_req *req, const struct gl_ipam_undo *u, struct gl_err *err)
{
	_cleanup_(call_freep) struct call *c = calloc(1, sizeof(*c));
	_cleanup_store_ struct gl_store *s = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	if (!u->valid)
		return 0;
	r = call_init(c, req, err);
	if (r >= 0)
		r = open_store(&c->conf, false, &s, err);
	if (r >= 0)
		r = gl_alloc_undo(s, &c->areq, u->fresh, err);
	return r;
}

static int ipam_del(struct gl_cni_req *req, struct gl_err *err)
{
	_cleanup_(call_freep) struct call *c = calloc(1, sizeof(*c));
	_cleanup_store_ struct gl_store *s = NULL;
	int r;

	if (!c)
		return -ENOMEM;
	r = call_init(c, req, err);
	if (r < 0)
		return r;
	/* Nothing was ever allocated: nothing to release. */
	if (store_missing(&c->conf))
		return 0;
	r = open_store(&c->conf, false, &s, err);
	if (r >= 0)
		r = gl_alloc_del(s, &c->areq, err);
	return r;
}

static int ipam_check(struct gl_cni_req *req, struct gl_err *err)
{
	_cleanup_(call_freep) struct call *c = calloc(1, sizeof(*c));
	_cleanup_store_ struct gl_store *s = NULL;
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	char a[GL_IP_STRLEN], b[GL_IP_STRLEN];
	int r;

	if (!c)
		return -ENOMEM;
	r = call_init(c, req, err);
	if (r >= 0 && store_missing(&c->conf))
		r = gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "no address is reserved for container %s: "
			       "the store %s does not exist", req->container_id, c->conf.store.path);
	if (r >= 0)
		r = open_store(&c->conf, false, &s, err);
	if (r >= 0)
		r = gl_alloc_check(s, &c->areq, ips, err);
	/* The chain's result must carry exactly the reserved addresses. */
	for (int i = 0; r >= 0 && req->has_prev && i < req->prev.n_ips; i++) {
		const struct gl_ip *ip = &req->prev.ips[i].address.ip;
		int p = gl_ipamconf_pool_of(&c->conf, ip);

		if (p >= 0 && !gl_ip_equal(ip, &ips[p]))
			r = gl_err_set(err, GL_ERR_INVALID_CONFIG,
				       "prevResult has %s, but the reservation of %s is %s",
				       gl_ip_str(ip, a, sizeof(a)), req->identity, gl_ip_str(&ips[p], b, sizeof(b)));
	}
	for (int p = 0; r >= 0 && req->has_prev && p < c->conf.n_pools; p++) {
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
static int ipam_status(struct gl_cni_req *req, struct gl_err *err)
{
	_cleanup_(conf_freep) struct gl_ipam_conf conf = {0};
	_cleanup_store_ struct gl_store *s = NULL;
	struct gl_err e = {0};
	char desc[128];
	int r;

	r = load_conf(req, &conf, err);
	if (r < 0)
		return r;
	r = open_store(&conf, true, &s, &e);
	if (r >= 0)
		r = s->ops->status(s, &e);
	if (r < 0)
		return gl_err_set(err, GL_ERR_NOT_AVAILABLE, "the address store %s is not usable: %s",
				  store_desc(&conf, desc, sizeof(desc)), e.msg);
	return 0;
}

static int ipam_gc(struct gl_cni_req *req, struct gl_err *err)
{
	_cleanup_(conf_freep) struct gl_ipam_conf conf = {0};
	_cleanup_store_ struct gl_store *s = NULL;
	char node[GL_NODE_MAX];
	int r, released = 0;

	r = load_conf(req, &conf, err);
	if (r < 0)
		return r;
	/* Without the runtime's list every attachment would look stale. */
	if (!req->has_valid) {
		gl_warn("GC without cni.dev/valid-attachments: nothing released");
		return 0;
	}
	if (store_missing(&conf))
		return 0;
	node_name(node);
	r = open_store(&conf, false, &s, err);
	if (r >= 0)
		r = gl_alloc_gc(s, &conf, node, gl_now_wall_ms(), req->valid, req->n_valid, &released, err);
	if (r >= 0 && released)
		gl_info("GC of %s released %d stale reservation(s)", conf.network, released);
	return r;
}

const struct gl_cni_ops gl_ipam_ops = {
	.name = "gamelan-ipam",
	.add = ipam_add,
	.del = ipam_del,
	.check = ipam_check,
	.status = ipam_status,
	.gc = ipam_gc,
};
