/* gamelan-ipam's CNI verbs, shared by the gamelan-ipam binary and by
 * gamelan-macvlan, which runs them in-process when its IPAM is gamelan-ipam
 * (the same code and store, without a fork and exec per pod start). */
#pragma once
#include "cni.h"

#define GL_IPAM_TYPE "gamelan-ipam"

extern const struct gl_cni_ops gl_ipam_ops;
