/* The verbs of gamelan-snat's in-pod mode. ADD installs, in the pod's netns,
 * one table of its own (`inet gamelan-snat-<ifname>`) whose input chain
 * rewrites the source of packets arriving on the LAN interface from outside
 * the LAN to the LAN gateway; conntrack reverses it on replies. The table is
 * replaced in one atomic batch, so a failure leaves nothing half-made and a
 * retried ADD leaves no duplicate. */
#include <errno.h>
#include <stdlib.h>
#include "base/util.h"
#include "net/netns.h"
#include "net/snat.h"
#include "snat.h"

int snat_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err)
{
	_cleanup_free_ struct gl_snat_conf *c = calloc(1, sizeof(*c));
	_cleanup_close_ int ns_fd = -1;
	int r;

	if (!c)
		return -ENOMEM;
	r = gl_snat_cni_conf_parse(req, c, err);
	if (r < 0)
		return r;
	r = gl_netns_open(req->netns, &ns_fd, err);
	if (r < 0)
		return r;
	r = gl_snat_install(ns_fd, c, err);
	if (r < 0)
		return r;
	/* A chained plugin passes the result on as it came. */
	*ret = req->prev;
	return 0;
}

int snat_del(struct gl_cni_req *req, struct gl_err *err)
{
	struct gl_snat_conf c;
	_cleanup_close_ int ns_fd = -1;
	int r;

	/* DEL reads no more of the config than the attachment's names: a
	 * config that has since gone bad must not keep the table alive. */
	r = gl_snat_cni_names(req, &c, err);
	if (r < 0)
		return r;
	/* A netns that is already gone took the table with it. */
	if (!req->netns[0] || gl_netns_open(req->netns, &ns_fd, NULL) < 0)
		return 0;
	return gl_snat_remove(ns_fd, c.table, err);
}

int snat_check(struct gl_cni_req *req, struct gl_err *err)
{
	_cleanup_free_ struct gl_snat_conf *c = calloc(1, sizeof(*c));
	_cleanup_close_ int ns_fd = -1;
	int r;

	if (!c)
		return -ENOMEM;
	r = gl_snat_cni_conf_parse(req, c, err);
	if (r < 0)
		return r;
	r = gl_netns_open(req->netns, &ns_fd, err);
	if (r < 0)
		return r;
	return gl_snat_verify(ns_fd, req->netns, c, err);
}

int snat_status(struct gl_cni_req *req, struct gl_err *err)
{
	/* Nothing outside the pods to depend on. */
	return 0;
}

int snat_gc(struct gl_cni_req *req, struct gl_err *err)
{
	/* The tables live in the pods' namespaces and go with them: nothing
	 * outlives an attachment that DEL would have to free. */
	return 0;
}
