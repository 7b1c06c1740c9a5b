/* gamelan-snat: in-pod mode is a chained CNI plugin (CNI_COMMAND set);
 * "gamelan-snat router ..." manages port-forwards on a Linux gateway. */
#include <string.h>
#include "cni/cni.h"
#include "router.h"
#include "snat.h"

int main(int argc, char **argv)
{
	static const struct gl_cni_ops ops = {
		.name = "gamelan-snat",
		.usage = "Usage: gamelan-snat [--help | --version]\n"
			 "       gamelan-snat router add|remove|list|apply|flush ...  (see 'gamelan-snat router --help')\n"
			 "\n"
			 "In-pod mode, a chained CNI plugin after gamelan-macvlan: WAN players that\n"
			 "reach a LAN-only game server through the router's port-forward arrive from\n"
			 "the LAN gateway's address. Router mode manages WAN port-forwards with SNAT\n"
			 "on a Linux gateway.\n"
			 "\n"
			 "Examples:\n"
			 "  {\"type\": \"gamelan-snat\", \"ports\": [{\"protocol\": \"udp\", \"port\": 10999}]}\n"
			 "                          a conflist entry after gamelan-macvlan\n"
			 "  gamelan-snat router add dst --wan-if wan0 --proto udp --port 10999 --to 192.168.1.200\n",
		.passthrough = true,
		.add = snat_add,
		.del = snat_del,
		.check = snat_check,
		.status = snat_status,
		.gc = snat_gc,
	};

	if (argc > 1 && strcmp(argv[1], "router") == 0)
		return gl_snat_router_main(argc, argv);
	return gl_cni_main(&ops, NULL, argc, argv);
}
