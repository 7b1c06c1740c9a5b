/* gamelan-macvlan: the CNI verbs, an adapter from the CNI request to the
 * macvlan engine (lib/net/macvlan.h) and the IPAM. */
#pragma once
#include "cni/cni.h"

int macvlan_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err);
int macvlan_del(struct gl_cni_req *req, struct gl_err *err);
int macvlan_check(struct gl_cni_req *req, struct gl_err *err);
int macvlan_status(struct gl_cni_req *req, struct gl_err *err);
int macvlan_gc(struct gl_cni_req *req, struct gl_err *err);
