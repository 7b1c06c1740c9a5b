/* gamelan-ipam's CNI verbs, shared by the gamelan-ipam binary and by
 * gamelan-macvlan, which runs them in-process when its IPAM is gamelan-ipam
 * (the same code and store, without a fork and exec per pod start). */
#pragma once
#include <stdbool.h>
#include "cni/cni.h"
#include "ipam/conf.h"

#define GL_IPAM_TYPE "gamelan-ipam"

extern const struct gl_cni_ops gl_ipam_ops;

/* What an in-process ADD did, so that a failed plugin can take it back:
 * per range set, whether the reservation is new. */
struct gl_ipam_undo {
	bool valid;
	bool fresh[GL_IPAM_MAX_POOLS];
};

/* ADD; ret_undo (may be NULL) is filled on success. */
int gl_ipam_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_ipam_undo *ret_undo,
		struct gl_err *err);
/* Roll back that ADD: new reservations go away, an identity's earlier one is
 * released as DEL would. */
int gl_ipam_undo(struct gl_cni_req *req, const struct gl_ipam_undo *u, struct gl_err *err);
