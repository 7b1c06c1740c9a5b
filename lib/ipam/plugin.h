/* gamelan-ipam's CNI verbs, shared by the gamelan-ipam binary and by
 * gamelan-macvlan, which calls them in-process when its IPAM is
 * gamelan-ipam (the same code and store, without a fork and exec per pod
 * start, and with the LAN's conflicts handed over as addresses). */
#pragma once
#include <stdbool.h>
#include "base/ip.h"
#include "cni/cni.h"
#include "ipam/conf.h"

#define GL_IPAM_TYPE "gamelan-ipam"
/* The environment variable with which gamelan-macvlan, exec'ing
 * gamelan-ipam (Kubernetes store), hands over the addresses the LAN answered
 * for: what gl_ipam_add's conflicts are in-process. Comma-separated
 * addresses. It is the environment, never the network config, because a
 * config is written by whoever may create a NetworkAttachmentDefinition
 * while the environment is the node's: no config can create Conflict rows. */
#define GL_IPAM_ENV_CONFLICTS "GAMELAN_IPAM_CONFLICTS"

/* Parse a GL_IPAM_ENV_CONFLICTS value (NULL or "" = none) into at most max
 * addresses: -EINVAL on a malformed entry, -E2BIG past max. */
int gl_ipam_conflicts_parse(const char *s, struct gl_ip *ret, int max, int *ret_n);

/* The binary's ops table: each verb is gl_ipam_verb. */
extern const struct gl_cni_ops gl_ipam_ops;

/* An open IPAM: the request's ipam config and, once a verb needs it, the
 * store, kept open until gl_ipam_close. */
struct gl_ipam;

/* Parse req's ipam config (code 7 on error). req must outlive *ret. */
int gl_ipam_open(const struct gl_cni_req *req, struct gl_ipam **ret, struct gl_err *err);
void gl_ipam_close(struct gl_ipam *ipam);
static inline void gl_ipam_closep(struct gl_ipam **p) { if (*p) gl_ipam_close(*p); }
#define _cleanup_ipam_ __attribute__((cleanup(gl_ipam_closep)))

/* The one place a CNI verb maps to the allocator: ADD (result in ret, which
 * is needed only for ADD), DEL, CHECK, STATUS, GC, on an open IPAM. */
int gl_ipam_run(struct gl_ipam *ipam, enum gl_cni_cmd cmd, struct gl_cni_result *ret,
		struct gl_err *err);
/* Open, run cmd, close: what the binary does for each call. */
int gl_ipam_verb(const struct gl_cni_req *req, enum gl_cni_cmd cmd, struct gl_cni_result *ret,
		 struct gl_err *err);

/* What an ADD did, so that a failed plugin can take it back: per range
 * set, whether the reservation is new. */
struct gl_ipam_undo {
	bool valid;
	bool fresh[GL_IPAM_MAX_POOLS];
};

/* ADD, with the addresses the LAN answered for (conflicts, may be 0 of
 * them): they become Conflict rows nobody gets for a while, and the
 * identity gets other ones (102 if a pinned address is among them).
 * ret_undo (may be NULL) is filled on success; an ADD again on the same
 * IPAM (a conflict round) replaces the earlier one's undo. */
int gl_ipam_add(struct gl_ipam *ipam, const struct gl_ip *conflicts, int n_conflicts,
		struct gl_cni_result *ret, struct gl_ipam_undo *ret_undo, struct gl_err *err);
/* Roll back that ADD: new reservations go away, an identity's earlier one
 * is released as DEL would. */
int gl_ipam_undo(struct gl_ipam *ipam, const struct gl_ipam_undo *u, struct gl_err *err);
