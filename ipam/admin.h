/* gamelan-ipam's admin command line (the CNI verbs are lib/ipam.c). */
#pragma once

/* The admin tool (run without CNI_COMMAND); returns the exit code. */
int ipam_admin_main(int argc, char **argv);
