/* gamelan-snat, router mode: WAN port-forwards to pinned LAN addresses on a
 * Linux gateway, in the table `inet gamelan-router`, each rule tagged with a
 * comment naming its forward so that list/apply read them back from the
 * kernel. */
#pragma once

#define ROUTER_TABLE "gamelan-router"
#define ROUTER_CHAIN_DNAT "prerouting"   /* nat, hook prerouting, prio -100 */
#define ROUTER_CHAIN_SNAT "postrouting"  /* nat, hook postrouting, prio 100 */
#define ROUTER_COMMENT_PREFIX "gamelan:fwd:"

/* `gamelan-snat router CMD ...`: argv as main() got it (argv[0] the program,
 * argv[1] "router"). Returns the exit code: 0 ok, 1 error (message on
 * stderr), 2 usage. Runs in the netns the process is in. */
int gl_snat_router_main(int argc, char **argv);
