/* gamelan-snat, in-pod mode: a chained CNI plugin that makes WAN clients
 * arriving on the pod's LAN interface look like LAN clients (their source
 * becomes the LAN gateway), or keeps them out when disabled. The engine is
 * lib/net/snat.h; these are its CNI verbs. */
#pragma once
#include "cni/cni.h"

int snat_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err);
int snat_del(struct gl_cni_req *req, struct gl_err *err);
int snat_check(struct gl_cni_req *req, struct gl_err *err);
int snat_status(struct gl_cni_req *req, struct gl_err *err);
int snat_gc(struct gl_cni_req *req, struct gl_err *err);
