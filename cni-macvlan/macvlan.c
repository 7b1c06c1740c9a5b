/* The verbs of gamelan-macvlan: the CNI request in, the macvlan engine and
 * the IPAM in the order the spec asks. ADD: create the link, get addresses
 * from the IPAM, configure them (the engine probes the LAN first); an
 * address the LAN answers for goes back to gamelan-ipam, which sets it
 * aside and hands out another. Everything ADD did is undone in reverse
 * order when a later step fails. DEL: the IPAM's release, then the link,
 * which goes even when the release failed. */
#include <errno.h>
#include <string.h>
#include "base/ip.h"
#include "base/log.h"
#include "base/util.h"
#include "cni/cni.h"
#include "ipam/plugin.h"
#include "ipam/store.h"
#include "macvlan.h"
#include "net/macvlan.h"

#define CONFLICT_ROUNDS 3          /* fresh addresses tried after conflicts */

static int conf_of(const struct gl_cni_req *req, struct gl_macvlan_conf *ret, struct gl_err *err)
{
	return gl_macvlan_conf_parse(req->conf, req->rc_mac, req->args_mac, ret, err);
}

static struct gl_macvlan_att att_of(const struct gl_cni_req *req)
{
	return (struct gl_macvlan_att){
		.netns = req->netns, .ifname = req->ifname, .container_id = req->container_id,
		.network = req->name,
		.identity = req->identity, .identity_sticky = req->identity_sticky,
	};
}

static bool ipam_ours(const struct gl_macvlan_conf *c)
{
	return strcmp(c->ipam_type, GL_IPAM_TYPE) == 0;
}

/* gamelan-ipam's verbs are linked in, so they run here for the stores this
 * binary has (SQLite: cni-macvlan/store_backends.c): the same code and
 * store as gamelan-ipam, without a fork, an exec and a second parse per pod
 * start. gamelan-ipam on another store (kubernetes), and any other IPAM,
 * is exec'd from CNI_PATH as the spec says. A store type that is not a
 * string is left to the in-process parser to refuse. */
static bool ipam_in_process(const struct gl_cni_req *req, const struct gl_macvlan_conf *c)
{
	json_object *ipam, *store, *type;

	if (!ipam_ours(c))
		return false;
	if (json_object_object_get_ex(req->conf, "ipam", &ipam) &&
	    json_object_object_get_ex(ipam, "store", &store) &&
	    json_object_object_get_ex(store, "type", &type) && json_object_is_type(type, json_type_string))
		return gl_store_backend(json_object_get_string(type)) != NULL;
	return true;
}

/* An IPAM verb other than ADD (no result). */
static int ipam_verb(struct gl_cni_req *req, const struct gl_macvlan_conf *c, enum gl_cni_cmd cmd,
		     struct gl_err *err)
{
	if (!c->ipam_type[0])
		return 0;
	if (ipam_in_process(req, c))
		return gl_ipam_verb(req, cmd, NULL, err);
	return gl_cni_delegate(req, c->ipam_type, cmd, req->raw, req->raw_len, NULL, err);
}

/* ADD by the exec'd gamelan-ipam, handing it the addresses the LAN answered
 * for in its environment (GL_IPAM_ENV_CONFLICTS), never in the config. */
static int delegate_add(struct gl_cni_req *req, const struct gl_macvlan_conf *c, const struct gl_ip *bad,
			int n_bad, struct gl_cni_result *res, struct gl_err *err)
{
	char list[GL_CNI_MAX_IPS * (GL_IP_STRLEN + 1)] = "";
	size_t used = 0;
	int r;

	for (int i = 0; i < n_bad && i < GL_CNI_MAX_IPS; i++) {
		char s[GL_IP_STRLEN];

		gl_ip_str(&bad[i], s, sizeof(s));
		used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "", s);
	}
	/* Only this process decides what the delegate is told: a value the
	 * runtime's environment carried is not passed on. */
	if (n_bad > 0)
		r = setenv(GL_IPAM_ENV_CONFLICTS, list, 1);
	else
		r = unsetenv(GL_IPAM_ENV_CONFLICTS);
	if (r < 0)
		return gl_err_from(err, -errno, GL_ERR_INTERNAL, "environment: %s", strerror(errno));
	r = gl_cni_delegate(req, c->ipam_type, GL_CNI_ADD, req->raw, req->raw_len, res, err);
	unsetenv(GL_IPAM_ENV_CONFLICTS);
	return r;
}

/* An ADD of the IPAM, with the addresses the LAN answered for (none the
 * first time). In-process, *ipam is opened by the first and stays open for
 * the conflict rounds and the undo. */
static int ipam_add(struct gl_cni_req *req, const struct gl_macvlan_conf *c, struct gl_ipam **ipam,
		    const struct gl_ip *bad, int n_bad, struct gl_cni_result *res, struct gl_ipam_undo *undo,
		    struct gl_err *err)
{
	int r;

	if (!ipam_in_process(req, c))
		return delegate_add(req, c, bad, n_bad, res, err);
	if (!*ipam) {
		r = gl_ipam_open(req, ipam, err);
		if (r < 0)
			return r;
	}
	return gl_ipam_add(*ipam, bad, n_bad, res, undo, err);
}

/* Take back the IPAM's part of a failed ADD. In-process, exactly: a new
 * reservation goes away. A delegate only has DEL, which may keep the
 * address held for the identity, as it would after any DEL. */
static void ipam_undo(struct gl_cni_req *req, const struct gl_macvlan_conf *c, struct gl_ipam *ipam,
		      const struct gl_ipam_undo *undo)
{
	struct gl_err e = {0};
	int r = 0;

	if (!c->ipam_type[0])
		return;
	if (ipam)
		r = gl_ipam_undo(ipam, undo, &e);
	else if (!ipam_in_process(req, c))
		r = gl_cni_delegate(req, c->ipam_type, GL_CNI_DEL, req->raw, req->raw_len, NULL, &e);
	if (r < 0)
		gl_warn("rollback: IPAM undo failed: %s", e.msg);
}

int macvlan_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err)
{
	struct gl_macvlan_conf c;
	struct gl_macvlan_att att = att_of(req);
	_cleanup_macvlan_ struct gl_macvlan *m = NULL;
	_cleanup_ipam_ struct gl_ipam *ipam = NULL;
	_cleanup_free_ struct gl_cni_result *res = calloc(1, sizeof(*res));
	struct gl_ipam_undo undo = {0};
	char s[GL_IP_STRLEN];
	int r;

	if (!res)
		return -ENOMEM;
	r = conf_of(req, &c, err);
	if (r < 0)
		return r;
	r = gl_macvlan_create(&c, &att, &m, err);
	if (r < 0)
		return r;
	if (c.ipam_type[0]) {
		r = ipam_add(req, &c, &ipam, NULL, 0, res, &undo, err);
		if (r < 0)
			goto undo_link;
	}

	for (int round = 0;; round++) {
		struct gl_ip bad[GL_CNI_MAX_IPS];
		int n_bad = gl_macvlan_configure(m, res, bad, err);

		if (n_bad < 0) {
			r = n_bad;
			goto undo_ipam;
		}
		if (n_bad == 0)
			break;
		for (int i = 0; i < n_bad; i++)
			gl_info("ADD %s: %s is in use on the LAN", req->identity, gl_ip_str(&bad[i], s, sizeof(s)));
		/* Only gamelan-ipam knows how to set an address aside; with any
		 * other IPAM a conflict ends the ADD. */
		if (!ipam_ours(&c) || round >= CONFLICT_ROUNDS) {
			r = gl_err_set(err, GL_ERR_ADDR_IN_USE, "address %s is already in use on the LAN",
				       gl_ip_str(&bad[0], s, sizeof(s)));
			goto undo_ipam;
		}
		memset(res, 0, sizeof(*res));
		err->details[0] = '\0';
		r = ipam_add(req, &c, &ipam, bad, n_bad, res, &undo, err);
		/* The cause a human must fix is the conflict, not the pool. */
		if (r < 0 && err->code == GL_ERR_POOL_EXHAUSTED)
			gl_err_reset(err, GL_ERR_ADDR_IN_USE,
				     "address %s is already in use on the LAN, and no other address is free (%s)",
				     gl_ip_str(&bad[0], s, sizeof(s)), err->msg);
		if (r < 0)
			goto undo_ipam;
	}
	r = gl_macvlan_announce(m, res, err);
	if (r < 0)
		goto undo_ipam;
	*ret = *res;
	return 0;

undo_ipam:
	ipam_undo(req, &c, ipam, &undo);
undo_link:
	gl_macvlan_undo(m);
	return r < 0 ? r : -EIO;
}

int macvlan_del(struct gl_cni_req *req, struct gl_err *err)
{
	struct gl_macvlan_conf c;
	struct gl_macvlan_att att = att_of(req);
	int r;

	struct gl_err link_err = {0};
	int q;

	r = conf_of(req, &c, err);
	if (r < 0)
		return r;
	/* The link goes even when the release failed (a busy store): the pod
	 * leaves the LAN now, and the error makes the runtime retry DEL, which
	 * finds the link gone and releases. */
	r = ipam_verb(req, &c, GL_CNI_DEL, err);
	q = gl_macvlan_del(&c, &att, r < 0 ? &link_err : err);
	if (r < 0 && q < 0)
		gl_warn("DEL %s: removing the link failed too: %s", req->identity, link_err.msg);
	return r < 0 ? r : q;
}

int macvlan_check(struct gl_cni_req *req, struct gl_err *err)
{
	struct gl_macvlan_conf c;
	struct gl_macvlan_att att = att_of(req);
	int r;

	r = conf_of(req, &c, err);
	if (r < 0)
		return r;
	if (!req->has_prev)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "CHECK needs prevResult");
	r = ipam_verb(req, &c, GL_CNI_CHECK, err);
	if (r < 0)
		return r;
	return gl_macvlan_check(&c, &att, &req->prev, err);
}

int macvlan_status(struct gl_cni_req *req, struct gl_err *err)
{
	struct gl_macvlan_conf c;
	int r;

	r = conf_of(req, &c, err);
	if (r < 0)
		return r;
	r = gl_macvlan_status(&c, err);
	if (r < 0)
		return r;
	return ipam_verb(req, &c, GL_CNI_STATUS, err);
}

int macvlan_gc(struct gl_cni_req *req, struct gl_err *err)
{
	struct gl_macvlan_conf c;
	struct gl_err link_err = {0};
	int removed = 0, q, r = conf_of(req, &c, err);

	if (r < 0)
		return r;
	/* Links die with their netns; what outlives a pod is its reservation,
	 * and a link a crashed DEL left behind in a netns that lives on. */
	r = ipam_verb(req, &c, GL_CNI_GC, err);
	q = gl_macvlan_gc(GL_MACVLAN_NETNS_DIR, &removed, r < 0 ? &link_err : err);
	if (q == 0 && removed > 0)
		gl_info("GC: removing %d link(s) a DEL left behind", removed);
	return r < 0 ? r : q;
}
