/* The verbs of gamelan-macvlan: the CNI request in, the macvlan engine and
 * the IPAM in the order the spec asks. ADD: create the link, get addresses
 * from the IPAM, configure them (the engine probes the LAN first); an
 * address the LAN answers for goes back to gamelan-ipam, which sets it
 * aside and hands out another. Everything ADD did is undone in reverse
 * order when a later step fails. */
#include <errno.h>
#include <string.h>
#include "base/log.h"
#include "base/util.h"
#include "cni/cni.h"
#include "ipam/plugin.h"
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
		.netns = req->netns, .ifname = req->ifname, .network = req->name,
		.identity = req->identity, .identity_sticky = req->identity_sticky,
	};
}

/* gamelan-ipam's verbs are linked in, so they run here: the same code and
 * store as the binary, without a fork, an exec and a second parse per pod
 * start. Any other IPAM is exec'd as the spec says. */
static bool ipam_in_process(const struct gl_macvlan_conf *c)
{
	return strcmp(c->ipam_type, GL_IPAM_TYPE) == 0;
}

/* An IPAM verb other than ADD (no result). */
static int ipam_verb(struct gl_cni_req *req, const struct gl_macvlan_conf *c, enum gl_cni_cmd cmd,
		     struct gl_err *err)
{
	if (!c->ipam_type[0])
		return 0;
	if (ipam_in_process(c))
		return gl_ipam_verb(req, cmd, NULL, err);
	return gl_cni_delegate(req, c->ipam_type, cmd, req->raw, req->raw_len, NULL, err);
}

/* The first ADD of the IPAM. In-process, *ret_ipam stays open for the
 * conflict rounds and the undo. */
static int ipam_add(struct gl_cni_req *req, const struct gl_macvlan_conf *c, struct gl_ipam **ret_ipam,
		    struct gl_cni_result *res, struct gl_ipam_undo *undo, struct gl_err *err)
{
	int r;

	if (!ipam_in_process(c))
		return gl_cni_delegate(req, c->ipam_type, GL_CNI_ADD, req->raw, req->raw_len, res, err);
	r = gl_ipam_open(req, ret_ipam, err);
	if (r < 0)
		return r;
	return gl_ipam_add(*ret_ipam, NULL, 0, res, undo, err);
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
	else if (!ipam_in_process(c))
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
		r = ipam_add(req, &c, &ipam, res, &undo, err);
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
		if (!ipam || round >= CONFLICT_ROUNDS) {
			r = gl_err_set(err, GL_ERR_ADDR_IN_USE, "address %s is already in use on the LAN",
				       gl_ip_str(&bad[0], s, sizeof(s)));
			goto undo_ipam;
		}
		memset(res, 0, sizeof(*res));
		err->details[0] = '\0';
		r = gl_ipam_add(ipam, bad, n_bad, res, &undo, err);
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

	r = conf_of(req, &c, err);
	if (r < 0)
		return r;
	r = ipam_verb(req, &c, GL_CNI_DEL, err);
	if (r < 0)
		return r;
	return gl_macvlan_del(&c, &att, err);
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
	int r = conf_of(req, &c, err);

	if (r < 0)
		return r;
	/* Links die with their netns; what outlives a pod is its reservation. */
	return ipam_verb(req, &c, GL_CNI_GC, err);
}
