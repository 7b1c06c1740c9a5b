/* gamelan-ipam's two faces: the CNI verbs and the admin command line. */
#pragma once
#include "cni.h"

extern const struct gl_cni_ops ipam_ops;
/* The admin tool (run without CNI_COMMAND); returns the exit code. */
int ipam_admin_main(int argc, char **argv);
