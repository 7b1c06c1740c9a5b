/* The IpamDriver half: pools from --subnet/--ip-range, and addresses from
 * gamelan's sticky allocator (lib/ipam), keyed by the container's name.
 *
 * Docker 20.10 tells IPAM nothing of the container. RequestAddress asks
 * dockerd, bounded, for the containers on the network: exactly one that is
 * being started (not running, no endpoint there yet) is the one, and gets
 * its name's address; none or several (parallel starts, dockerd restoring
 * at boot and not answering) get a fresh address under an anonymous
 * identity, never another name's. After Join the endpoint's name is looked
 * up (nobody waits for that) and an anonymous address becomes the name's,
 * unless the name has one of its own already. Docker >= 29 passes the name
 * (com.docker.network.endpoint.name) and none of this is needed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "api.h"
#include "base/json.h"
#include "base/log.h"
#include "base/mac.h"
#include "base/util.h"
#include "driver.h"
#include "ipam/alloc.h"
#include "ipam/conf.h"

#define OPT_ADDR_TYPE "RequestAddressType"
#define ADDR_TYPE_GATEWAY "com.docker.network.gateway"
#define OPT_EP_NAME "com.docker.network.endpoint.name"
/* Rows record this as their netns, so that the allocator asks local_gone. */
#define ROW_NETNS "dockerd"

void dk_mac_of(const struct dk_net *n, const struct gl_prefix *addr, uint8_t ret[6])
{
	char key[DK_POOL_ID_MAX], ip[64];

	dk_pool_id(&n->subnet, key);
	gl_mac_stable(key, gl_ip_str(&addr->ip, ip, sizeof(ip)), DK_IFNAME, ret);
}

static void pool_conf(const struct dk *d, const struct dk_pool *p, struct gl_ipam_conf *c)
{
	struct gl_ipam_range *rg = &c->pools[0].ranges[0];
	const struct gl_prefix *from = p->has_range ? &p->range : &p->subnet;

	memset(c, 0, sizeof(*c));
	gl_strlcpy(c->network, p->id, sizeof(c->network));
	c->n_pools = 1;
	c->pools[0].family = AF_INET;
	c->pools[0].n_ranges = 1;
	rg->subnet = p->subnet;
	rg->start = gl_prefix_first(from);
	rg->end = gl_prefix_last(from);
	rg->has_gateway = p->has_gw;
	rg->gateway = p->gw;
	for (int i = 0; i < p->n_aux && i < GL_IPAM_MAX_EXCLUDES; i++) {
		c->excludes[i].ip = p->aux[i];
		c->excludes[i].len = 32;
		c->n_excludes++;
	}
	c->hold_ms = p->hold_ms;
	c->conflict_hold_ms = GL_IPAM_DEFAULT_CONFLICT_HOLD_MS;
	gl_strlcpy(c->store.type, "sqlite", sizeof(c->store.type));
	gl_strlcpy(c->store.path, d->db, sizeof(c->store.path));
}

static void put_addr(json_object *resp, const struct dk_pool *p, const struct gl_ip *ip)
{
	char a[64], out[80];

	snprintf(out, sizeof(out), "%s/%d", gl_ip_str(ip, a, sizeof(a)), p->subnet.len);
	json_object_object_add(resp, "Address", json_object_new_string(out));
	json_object_object_add(resp, "Data", json_object_new_object());
}

static void anon_identity(char buf[GL_CNI_IDENTITY_MAX])
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)gl_now_wall_ms() * 2654435761u;
	snprintf(buf, GL_CNI_IDENTITY_MAX, "%s%016llx", DK_ANON_PREFIX, (unsigned long long)v);
}

static bool is_anon(const char *identity)
{
	return strncmp(identity, DK_ANON_PREFIX, strlen(DK_ANON_PREFIX)) == 0;
}

/* The row of pool p holding ip (a copy), or -ENOENT. */
static int row_of(struct dk *d, const struct dk_pool *p, const struct gl_ip *ip, struct gl_resv *ret,
		  struct gl_err *err)
{
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = { 0 };
	int r = gl_alloc_list(d->store, p->id, &l, err);

	if (r < 0)
		return r;
	for (size_t i = 0; i < l.n; i++) {
		if (gl_ip_equal(&l.v[i].ip, ip)) {
			*ret = l.v[i];
			return 0;
		}
	}
	return -ENOENT;
}

/* The allocator asks whether a Bound row's container is gone: it is when
 * dockerd's list (complete, just read) does not have it. */
static const struct dk_who *gone_who;

static int local_gone(const struct gl_resv *r)
{
	if (!gone_who || gone_who->n_ids < 0 || !dk_id_valid(r->container_id))
		return 0;
	for (int i = 0; i < gone_who->n_ids; i++)
		if (strcmp(gone_who->ids[i], r->container_id) == 0)
			return 0;
	return 1;
}

/* An address from p for the container called name (NULL: unknown), or want. */
static int allocate(struct dk *d, const struct dk_pool *p, const char *name, const char *cid,
		    const struct dk_who *who, const struct gl_ip *want, struct gl_ip *ret,
		    struct gl_err *err)
{
	char identity[GL_CNI_IDENTITY_MAX], container[GL_CNI_ID_MAX];
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_ipam_conf conf;
	struct gl_alloc_req req;
	struct gl_resv row;
	int r;

	if (name) {
		gl_strlcpy(identity, name, sizeof(identity));
		gl_strlcpy(container, cid, sizeof(container));
	} else {
		anon_identity(identity);
		gl_strlcpy(container, identity, sizeof(container));
		/* --ip of an unnamed container: the address stays the name's it is
		 * kept for (a container restored at boot asks for its own). */
		if (want && row_of(d, p, want, &row, err) == 0 && row.identity[0]) {
			char a[64];

			if (row.state == GL_RESV_BOUND)
				return gl_err_set(err, GL_ERR_PIN_CONFLICT, "address %s is in use by container %.12s (%s)",
						  gl_ip_str(want, a, sizeof(a)), row.container_id, row.identity);
			gl_strlcpy(identity, row.identity, sizeof(identity));
		}
	}
	pool_conf(d, p, &conf);
	req = (struct gl_alloc_req){
		.conf = &conf, .identity = identity, .ifname = DK_IFNAME, .container_id = container,
		.node = d->node, .now = gl_now_wall_ms(), .requested = want, .n_requested = want ? 1 : 0,
		.netns = ROW_NETNS, .local_gone = local_gone,
	};
	gone_who = who;
	r = gl_alloc_add(d->store, &req, ips, err);
	gone_who = NULL;
	gl_ipamconf_free(&conf);
	if (r < 0)
		return r;
	*ret = ips[0];
	return 0;
}

/* ---- the later half of RequestAddress ---- */

struct pending {
	struct dk *d;
	struct gl_http_later *later;
	char pool_id[DK_POOL_ID_MAX];
	char network_id[DK_ID_MAX];
	bool has_want;
	struct gl_ip want;
};

static void list_answered(int r, long status, const char *body, size_t len, void *userdata);

/* GET the containers on network n (by name: a starting one's entry has no
 * network ID yet). */
static int list_start(struct dk *d, const struct dk_net *n, struct pending *pd)
{
	char path[512];

	snprintf(path, sizeof(path),
		 "/containers/json?all=1&filters=%%7B%%22network%%22%%3A%%5B%%22%s%%22%%5D%%7D", n->name);
	return dk_api_get(d->loop, d->docker_sock, path, dk_who_timeout(d), list_answered, pd);
}

/* Allocate for whoever who names (who NULL or not one candidate: unnamed)
 * and answer. */
static void answer_for(struct pending *pd, const struct dk_who *who)
{
	struct dk *d = pd->d;
	struct gl_err err = { 0 };
	json_object *resp = json_object_new_object();
	bool named = who && who->n_candidates == 1;
	struct dk_pool *p = dk_pool_find(d, pd->pool_id);
	struct gl_ip ip;
	int ar;

	if (!p) {
		ar = gl_err_set(&err, GL_ERR_INVALID_CONFIG, "pool %s is gone", pd->pool_id);
	} else {
		ar = allocate(d, p, named ? who->name : NULL, named ? who->cid : NULL, who,
			      pd->has_want ? &pd->want : NULL, &ip, &err);
		if (ar >= 0) {
			char a[64];

			put_addr(resp, p, &ip);
			gl_info("RequestAddress: %s for %s", gl_ip_str(&ip, a, sizeof(a)),
				named ? who->name : "an unnamed container");
		}
	}
	dk_answer_later(pd->later, true, ar, resp, &err);
	free(pd);
}

static void unnamed(struct pending *pd, int r, long status)
{
	gl_info("RequestAddress: dockerd did not name the container (%s, HTTP %ld): a fresh address",
		r < 0 ? strerror(-r) : "an unexpected answer", status);
	answer_for(pd, NULL);
}

static void list_answered(int r, long status, const char *body, size_t len, void *userdata)
{
	struct pending *pd = userdata;
	struct dk_who *who;

	dk_api_seen(pd->d, r);
	if (r < 0 || status != 200) {
		unnamed(pd, r, status);
		return;
	}
	who = calloc(1, sizeof(*who));
	if (!who || dk_who_parse(body, len, dk_net_find(pd->d, pd->network_id) ?
					     dk_net_find(pd->d, pd->network_id)->name : "", who) < 0) {
		free(who);
		unnamed(pd, -EBADMSG, status);
		return;
	}
	gl_debug("RequestAddress: %d candidates on %.12s%s%s", who->n_candidates, pd->network_id,
		 who->n_candidates == 1 ? ": " : "", who->name);
	answer_for(pd, who);
	free(who);
}

/* Learn n's name from r's answer (GET /networks/{id}); 0 when known. */
static int learned(struct dk *d, const char *net_id, int r, long status, const char *body, size_t len)
{
	struct dk_net *n = dk_net_find(d, net_id);
	char name[DK_NAME_MAX];

	if (!n)
		return -ENOENT;
	if (n->name[0])
		return 0;
	if (r < 0)
		return r;
	if (status != 200 || dk_net_name_parse(body, len, name) < 0)
		return -EBADMSG;
	gl_strlcpy(n->name, name, sizeof(n->name));
	dk_save_net(d, n, NULL);
	gl_info("network %.12s is '%s'", n->id, n->name);
	return 0;
}

static void name_answered(int r, long status, const char *body, size_t len, void *userdata)
{
	struct pending *pd = userdata;
	struct dk_net *n;

	dk_api_seen(pd->d, r);
	r = learned(pd->d, pd->network_id, r, status, body, len);
	n = dk_net_find(pd->d, pd->network_id);
	if (r < 0 || !n || list_start(pd->d, n, pd) < 0)
		unnamed(pd, r < 0 ? r : -ENOENT, status);
}

static int request_address(struct dk *d, json_object *req, json_object *resp,
			   const struct gl_http_req *hr, struct gl_err *err)
{
	const char *pool_id = NULL, *addr = NULL, *type = NULL, *name = NULL;
	json_object *opts = NULL;
	struct gl_ip want, ip;
	struct pending *pd;
	struct dk_pool *p;
	struct dk_net *n;
	char path[128];
	bool has_want = false;
	int r;

	if (gl_json_get_str(req, NULL, "PoolID", &pool_id, err) < 0 ||
	    gl_json_get_str(req, NULL, "Address", &addr, err) < 0 ||
	    gl_json_get_object(req, NULL, "Options", &opts, err) < 0 ||
	    gl_json_get_str(opts, "Options", OPT_ADDR_TYPE, &type, err) < 0 ||
	    gl_json_get_str(opts, "Options", OPT_EP_NAME, &name, err) < 0)
		return -EINVAL;
	p = pool_id ? dk_pool_find(d, pool_id) : NULL;
	if (!p)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "unknown pool %.80s", pool_id ? pool_id : "(none)");
	if (addr && *addr) {
		if (gl_ip_parse(addr, &want) < 0 || !gl_prefix_contains(&p->subnet, &want))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%.60s is not an address of pool %s", addr,
					  p->id);
		has_want = true;
	}
	if (type && strcmp(type, ADDR_TYPE_GATEWAY) == 0) {
		/* The gateway is the LAN router's: never a container's. */
		if (!has_want)
			gl_ip_add(&p->subnet.ip, 1, &want);
		p->gw = want;
		p->has_gw = true;
		r = dk_save_pool(d, p, err);
		if (r < 0)
			return r;
		put_addr(resp, p, &want);
		return 0;
	}
	if (!p->network_id[0]) {
		/* Before CreateNetwork only --aux-address asks: keep it out of use. */
		if (!has_want)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "pool %s has no network yet", p->id);
		for (int i = 0; i < p->n_aux; i++)
			if (gl_ip_equal(&p->aux[i], &want))
				goto aux_done;
		if (p->n_aux >= DK_AUX_MAX)
			return gl_err_set(err, GL_ERR_LIMITED, "at most %d --aux-address per network", DK_AUX_MAX);
		p->aux[p->n_aux++] = want;
		r = dk_save_pool(d, p, err);
		if (r < 0)
			return r;
aux_done:
		put_addr(resp, p, &want);
		return 0;
	}
	if (name && dk_name_valid(name)) {
		char cid[GL_CNI_ID_MAX];

		if (name[0] == '/')
			name++;
		snprintf(cid, sizeof(cid), "name:%s", name);
		r = allocate(d, p, name, cid, NULL, has_want ? &want : NULL, &ip, err);
		if (r < 0)
			return r;
		put_addr(resp, p, &ip);
		return 0;
	}
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->d = d;
	gl_strlcpy(pd->pool_id, p->id, sizeof(pd->pool_id));
	gl_strlcpy(pd->network_id, p->network_id, sizeof(pd->network_id));
	pd->has_want = has_want;
	pd->want = want;
	r = gl_http_defer(hr, &pd->later);
	if (r < 0) {
		free(pd);
		return r;
	}
	n = dk_net_find(d, p->network_id);
	if (n && n->name[0]) {
		r = list_start(d, n, pd);
	} else {
		snprintf(path, sizeof(path), "/networks/%s", p->network_id);
		r = dk_api_get(d->loop, d->docker_sock, path, dk_who_timeout(d), name_answered, pd);
	}
	if (r < 0)
		unnamed(pd, r, 0);       /* no worker: answer now */
	return 1;
}

static int release_address(struct dk *d, json_object *req, json_object *resp,
			   const struct gl_http_req *hr, struct gl_err *err)
{
	const char *pool_id = NULL, *addr = NULL;
	struct gl_ipam_conf conf;
	struct gl_alloc_req ar;
	struct dk_pool *p;
	struct gl_resv row;
	struct gl_ip ip;
	int r;

	if (gl_json_get_str(req, NULL, "PoolID", &pool_id, err) < 0 ||
	    gl_json_get_str(req, NULL, "Address", &addr, err) < 0)
		return -EINVAL;
	if (!addr || gl_ip_parse(addr, &ip) < 0) {
		struct gl_prefix pf;

		if (!addr || gl_prefix_parse(addr, &pf) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "Address is missing or not an address");
		ip = pf.ip;
	}
	p = pool_id ? dk_pool_find(d, pool_id) : NULL;
	if (!p)
		return 0;     /* gone already: nothing to release */
	if (p->has_gw && gl_ip_equal(&p->gw, &ip))
		return 0;
	r = row_of(d, p, &ip, &row, err);
	if (r == -ENOENT || (r == 0 && row.state != GL_RESV_BOUND))
		return 0;
	if (r < 0)
		return r;
	pool_conf(d, p, &conf);
	ar = (struct gl_alloc_req){
		.conf = &conf, .identity = row.identity, .ifname = row.ifname,
		.container_id = row.container_id, .node = d->node, .now = gl_now_wall_ms(),
	};
	r = gl_alloc_del(d->store, &ar, err);
	gl_ipamconf_free(&conf);
	if (r >= 0)
		gl_info("ReleaseAddress: %s of %s", addr, row.identity);
	return r;
}

static bool overlaps(const struct gl_prefix *a, const struct gl_prefix *b)
{
	return gl_prefix_contains(a, &b->ip) || gl_prefix_contains(b, &a->ip);
}

static int request_pool(struct dk *d, json_object *req, json_object *resp,
			const struct gl_http_req *hr, struct gl_err *err)
{
	struct dk_pool p;
	char s[64];
	int r;

	r = dk_pool_parse(req, &p, err);
	if (r < 0)
		return r;
	for (int i = 0; i < d->n_pools; i++)
		if (overlaps(&d->pools[i].subnet, &p.subnet))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "Pool overlaps with other one on this address space (%s)", d->pools[i].id);
	if (d->n_pools >= DK_POOLS_MAX)
		return gl_err_set(err, GL_ERR_LIMITED, "at most %d gamelan pools", DK_POOLS_MAX);
	r = dk_save_pool(d, &p, err);
	if (r < 0)
		return r;
	d->pools[d->n_pools++] = p;
	json_object_object_add(resp, "PoolID", json_object_new_string(p.id));
	json_object_object_add(resp, "Pool", json_object_new_string(gl_prefix_str(&p.subnet, s, sizeof(s))));
	json_object_object_add(resp, "Data", json_object_new_object());
	gl_info("RequestPool: %s", p.id);
	return 0;
}

static int release_pool(struct dk *d, json_object *req, json_object *resp,
			const struct gl_http_req *hr, struct gl_err *err)
{
	const char *id = NULL;
	struct dk_pool *p;
	int r;

	if (gl_json_get_str(req, NULL, "PoolID", &id, err) < 0)
		return -EINVAL;
	p = id ? dk_pool_find(d, id) : NULL;
	if (!p)
		return 0;
	/* The rows stay: a network made again on the subnet gives each name
	 * its address back. */
	r = dk_state_del(d->meta, "pool", p->id, err);
	if (r < 0)
		return r;
	gl_info("ReleasePool: %s", p->id);
	*p = d->pools[--d->n_pools];
	return 0;
}

static int ipam_caps(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		     struct gl_err *err)
{
	json_object_object_add(resp, "RequiresMACAddress", json_object_new_boolean(false));
	json_object_object_add(resp, "RequiresRequestReplay", json_object_new_boolean(false));
	return 0;
}

static int address_spaces(struct dk *d, json_object *req, json_object *resp,
			  const struct gl_http_req *hr, struct gl_err *err)
{
	json_object_object_add(resp, "LocalDefaultAddressSpace", json_object_new_string("gamelan-local"));
	json_object_object_add(resp, "GlobalDefaultAddressSpace", json_object_new_string("gamelan-global"));
	return 0;
}

const struct dk_route dk_ipam_routes[] = {
	{ "/IpamDriver.GetCapabilities", true, ipam_caps },
	{ "/IpamDriver.GetDefaultAddressSpaces", true, address_spaces },
	{ "/IpamDriver.RequestPool", true, request_pool },
	{ "/IpamDriver.ReleasePool", true, release_pool },
	{ "/IpamDriver.RequestAddress", true, request_address },
	{ "/IpamDriver.ReleaseAddress", true, release_address },
	{ NULL, false, NULL },
};

/* ---- what Join does not say: the endpoint's container ---- */

struct confirm {
	struct dk *d;
	char ep[DK_ID_MAX];
	char cid[DK_ID_MAX];
	int tries;
};

static void confirm_start(struct confirm *c);

/* The anonymous row of ip becomes name's, unless name has a row already. */
static int rekey(struct dk *d, const struct dk_pool *p, const struct gl_ip *ip, const char *name,
		 const char *cid, struct gl_err *err)
{
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = { 0 };
	const struct gl_store_ops *ops = d->store->ops;
	struct gl_resv *row = NULL;
	int r;

	r = ops->begin(d->store, err);
	if (r < 0)
		return r;
	r = ops->scan(d->store, p->id, &l, err);
	if (r < 0)
		goto fail;
	for (size_t i = 0; i < l.n; i++)
		if (gl_ip_equal(&l.v[i].ip, ip))
			row = &l.v[i];
	if (!row || !is_anon(row->identity) || row->state != GL_RESV_BOUND)
		goto fail;
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(l.v[i].identity, name) == 0) {
			gl_info("%s keeps its own address; this run's stays unnamed", name);
			goto fail;
		}
	}
	gl_strlcpy(row->identity, name, sizeof(row->identity));
	if (dk_id_valid(cid))
		gl_strlcpy(row->container_id, cid, sizeof(row->container_id));
	row->updated = gl_now_wall_ms();
	r = ops->update(d->store, row, err);
	if (r < 0)
		goto fail;
	r = ops->commit(d->store, err);
	if (r >= 0)
		gl_info("%s is the unnamed container that took %s", name, gl_ip_str(ip, (char[64]){ 0 }, 64));
	return r;
fail:
	ops->rollback(d->store);
	return r < 0 ? r : 0;
}

static void confirm_retry(struct gl_loop *l, void *userdata)
{
	confirm_start(userdata);
}

/* Try c again later (bounded), or give up: 0 when retried. */
static int confirm_again(struct confirm *c, const char *what)
{
	if (++c->tries < DK_CONFIRM_TRIES &&
	    gl_loop_timer_add(c->d->loop, DK_CONFIRM_RETRY_MS, 0, confirm_retry, c, NULL) >= 0)
		return 0;
	gl_warn("endpoint %.12s: %s", c->ep, what);
	free(c);
	return -ETIMEDOUT;
}

static void label_answered(int r, long status, const char *body, size_t len, void *userdata)
{
	struct confirm *c = userdata;
	char v[16];

	if (!dk_ep_find(c->d, c->ep)) {
		free(c);
		return;
	}
	if (r < 0 || status != 200) {
		confirm_again(c, "its container's labels are unknown: no " "gamelan.snat label is honoured");
		return;
	}
	if (dk_label_parse(body, len, "gamelan.snat", v, sizeof(v)) == 0 && strcmp(v, "true") == 0)
		dk_snat_watch(c->d, c->ep);
	free(c);
}

static void confirm_answered(int r, long status, const char *body, size_t len, void *userdata)
{
	struct confirm *c = userdata;
	struct dk *d = c->d;
	char name[DK_NAME_MAX], cid[GL_CNI_ID_MAX], path[512];
	struct gl_err err = { 0 };
	struct dk_ep *e = dk_ep_find(d, c->ep);
	struct dk_net *n = e ? dk_net_find(d, e->net) : NULL;
	struct dk_pool *p = n && n->pool_id[0] ? dk_pool_find(d, n->pool_id) : NULL;

	dk_api_seen(d, r);
	if (!n) {
		free(c);
		return;
	}
	if (r < 0 || status != 200 || dk_ep_name_parse(body, len, c->ep, name, cid) < 0) {
		confirm_again(c, "its container is still unknown: an unnamed address stays unnamed");
		return;
	}
	if (p && rekey(d, p, &e->addr.ip, name, cid, &err) < 0)
		gl_warn("endpoint %.12s (%s): %s", c->ep, name, err.msg);
	gl_debug("endpoint %.12s is %s", c->ep, name);
	if (n->snat) {
		free(c);
		return;
	}
	/* While the container starts dockerd lists it as "ep-<id>", without its
	 * ID: ask again for the labels' sake. */
	if (!dk_id_valid(cid)) {
		confirm_again(c, "its container's ID is still unknown: no gamelan.snat label is honoured");
		return;
	}
	/* The label gamelan.snat=true: the list has labels without waiting on
	 * the container's lock, which its start still holds. */
	gl_strlcpy(c->cid, cid, sizeof(c->cid));
	c->tries = 0;
	snprintf(path, sizeof(path), "/containers/json?all=1&filters=%%7B%%22id%%22%%3A%%5B%%22%s%%22%%5D%%7D", cid);
	if (dk_api_get(d->loop, d->docker_sock, path, DK_CONFIRM_TIMEOUT_MS, label_answered, c) < 0)
		free(c);
}

static void confirm_start(struct confirm *c)
{
	struct dk_ep *e = dk_ep_find(c->d, c->ep);
	char path[256];
	int r;

	if (!e) {
		free(c);
		return;
	}
	if (c->cid[0]) {
		snprintf(path, sizeof(path), "/containers/json?all=1&filters=%%7B%%22id%%22%%3A%%5B%%22%s%%22%%5D%%7D",
			 c->cid);
		r = dk_api_get(c->d->loop, c->d->docker_sock, path, DK_CONFIRM_TIMEOUT_MS, label_answered, c);
	} else {
		snprintf(path, sizeof(path), "/networks/%s", e->net);
		r = dk_api_get(c->d->loop, c->d->docker_sock, path, DK_CONFIRM_TIMEOUT_MS, confirm_answered, c);
	}
	if (r < 0)
		free(c);
}

void dk_ep_learn(struct dk *d, const struct dk_ep *e)
{
	struct confirm *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	c->d = d;
	gl_strlcpy(c->ep, e->id, sizeof(c->ep));
	confirm_start(c);
}

/* ---- a network's name, learned after CreateNetwork ---- */

struct learn {
	struct dk *d;
	char net[DK_ID_MAX];
	int tries;
};

static void learn_start(struct learn *l);

static void learn_retry(struct gl_loop *loop, void *userdata)
{
	learn_start(userdata);
}

static void learn_answered(int r, long status, const char *body, size_t len, void *userdata)
{
	struct learn *l = userdata;

	dk_api_seen(l->d, r);
	r = learned(l->d, l->net, r, status, body, len);
	if (r < 0 && r != -ENOENT && ++l->tries < DK_CONFIRM_TRIES &&
	    gl_loop_timer_add(l->d->loop, DK_CONFIRM_RETRY_MS, 0, learn_retry, l, NULL) >= 0)
		return;
	free(l);
}

static void learn_start(struct learn *l)
{
	char path[128];

	snprintf(path, sizeof(path), "/networks/%s", l->net);
	if (!dk_net_find(l->d, l->net) ||
	    dk_api_get(l->d->loop, l->d->docker_sock, path, DK_CONFIRM_TIMEOUT_MS, learn_answered, l) < 0)
		free(l);
}

void dk_learn_net_name(struct dk *d, const char *net_id)
{
	struct learn *l = calloc(1, sizeof(*l));

	if (!l)
		return;
	l->d = d;
	gl_strlcpy(l->net, net_id, sizeof(l->net));
	/* dockerd stores the network once CreateNetwork has answered. */
	if (gl_loop_timer_add(d->loop, 200, 0, learn_retry, l, NULL) < 0)
		free(l);
}
