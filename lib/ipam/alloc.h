/* The sticky allocator: every decision about who gets which address, made
 * over the store's row primitives (store.h) inside one store transaction
 * (with a store that can, decided on a snapshot outside it, see run()).
 *
 * Rules (DESIGN.md section 4):
 *  - (network, identity, ifname, pool) always gets its address back.
 *  - A config pin gives the identity that address (101 if another identity
 *    has it); a requested address (runtimeConfig.ips / args.cni.ips) too.
 *  - An identity Bound to another container is not given its address again
 *    while that holder may be alive: it is checked on this node (its netns
 *    and link, local_gone), or by the store (Kubernetes: the pod and its
 *    UID); otherwise 11 (try again) naming the holder, until its DEL, a GC
 *    or an admin (`gamelan-ipam release --force`) frees it.
 *  - A new identity takes the lowest free address of the range set, never a
 *    network/broadcast/gateway, excluded, config-pinned or conflicted one;
 *    only when none is free, the oldest expired Held one; never a Bound or
 *    Pinned one; else 100 (pool exhausted).
 *  - DEL turns the container's Bound rows into Held (expires = now + hold)
 *    or, when pinned, Pinned; rows of non-sticky identities (the identity is
 *    the container ID) are freed at once.
 *  - GC releases this node's Bound rows that no valid attachment names.
 *  - Conflicts reported by the macvlan plugin's ARP probe become Conflict
 *    rows nobody gets until conflictHold passes (102 if the address is
 *    pinned for the caller). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "cni/cni.h"
#include "base/err.h"
#include "base/ip.h"
#include "ipam/conf.h"
#include "ipam/store.h"

#define GL_ALLOC_MAX_CONFLICTS 16

struct gl_alloc_req {
	const struct gl_ipam_conf *conf;
	const char *identity;
	const char *ifname;
	const char *container_id;
	const char *node;
	int64_t now;                        /* ms since the epoch */
	const struct gl_ip *conflicts;      /* addresses the LAN answered for */
	int n_conflicts;
	const struct gl_ip *requested;      /* addresses the runtime asked for */
	int n_requested;
	bool *ret_fresh;                    /* optional, n_pools: ADD made the row (no earlier one) */
	/* Recorded on the rows this ADD binds, so that a later ADD of the
	 * identity from another container can check the holder; may be NULL. */
	const char *netns;                  /* CNI_NETNS */
	const char *pod;                    /* "namespace/name" of the Kubernetes pod */
	const char *pod_uid;                /* K8S_POD_UID */
	/* Holder check on this node: 1 when the holder of r (a row Bound on
	 * req->node, r->netns set) is provably gone (its netns or its link
	 * with the address is gone), 0 when it may be alive. NULL: never. */
	int (*local_gone)(const struct gl_resv *r);
};

/* ADD: one address per range set, ret_ips[pool] for pool 0..n_pools-1.
 * ret_ips is written only on success. */
int gl_alloc_add(struct gl_store *s, const struct gl_alloc_req *req,
		 struct gl_ip ret_ips[GL_IPAM_MAX_POOLS], struct gl_err *err);
/* Roll back an ADD of this container (fresh as ADD reported it): rows the
 * ADD made are removed, rows the identity had before are released as DEL
 * does. For a plugin whose later step failed. */
int gl_alloc_undo(struct gl_store *s, const struct gl_alloc_req *req,
		  const bool fresh[GL_IPAM_MAX_POOLS], struct gl_err *err);
/* DEL: release what this container holds; nothing held is success. */
int gl_alloc_del(struct gl_store *s, const struct gl_alloc_req *req, struct gl_err *err);
/* CHECK: the addresses bound to this container, one per range set;
 * GL_ERR_UNKNOWN_CONTAINER when a range set has none. */
int gl_alloc_check(struct gl_store *s, const struct gl_alloc_req *req,
		   struct gl_ip ret_ips[GL_IPAM_MAX_POOLS], struct gl_err *err);
/* GC: release conf's network's Bound rows of `node` whose (container_id,
 * ifname) is not in valid; drop Conflict rows whose hold has passed.
 * ret_released (may be NULL) counts the rows released. */
int gl_alloc_gc(struct gl_store *s, const struct gl_ipam_conf *conf, const char *node,
		int64_t now, const struct gl_cni_attachment *valid, int n_valid,
		int *ret_released, struct gl_err *err);

/* Admin: pin identity (ifname) to ip in network, creating a Pinned row or
 * pinning its current one. pool < 0: taken from the identity's or the
 * network's rows of ip's family, else 0. Refuses (101) when another identity
 * has ip, or when the identity is Bound to another address right now. */
int gl_alloc_pin(struct gl_store *s, const char *network, const char *identity,
		 const char *ifname, const struct gl_ip *ip, int pool, const char *node,
		 int64_t now, struct gl_err *err);
/* Admin: unpin every row of identity in network; released ones become Held
 * for hold_ms. ret_n counts them; none -> GL_ERR_UNKNOWN_CONTAINER. */
int gl_alloc_unpin(struct gl_store *s, const char *network, const char *identity,
		   int64_t now, int64_t hold_ms, int *ret_n, struct gl_err *err);
/* Admin: forget the reservation of an address or of every interface of an
 * identity, so the address is free. Bound rows only with force. */
int gl_alloc_release(struct gl_store *s, const char *network, const char *identity_or_ip,
		     bool force, int *ret_n, struct gl_err *err);
/* All rows of network (all networks when NULL), sorted by network and
 * address. The caller frees ret with gl_store_list_free. */
int gl_alloc_list(struct gl_store *s, const char *network, struct gl_resv_list *ret,
		  struct gl_err *err);

/* What a human calls a row: "Bound", "Pinned", "Held", "Conflict";
 * "Bound,Pinned" for a pinned row in use. */
const char *gl_alloc_status(const struct gl_resv *r);
/* A row's hold has passed. */
bool gl_alloc_expired(const struct gl_resv *r, int64_t now);
