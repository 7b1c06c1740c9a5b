/* gamelan-snat, router mode: the command line over lib/net/forward.h
 * (WAN port-forwards to pinned LAN addresses on a Linux gateway, in the
 * table `inet gamelan-router`). */
#pragma once

/* `gamelan-snat router CMD ...`: argv as main() got it (argv[0] the program,
 * argv[1] "router"). Returns the exit code: 0 ok, 1 error (message on
 * stderr), 2 usage. Runs in the netns the process is in. */
int gl_snat_router_main(int argc, char **argv);
