/* gamelan-macvlan: a CNI plugin that gives a pod a macvlan interface on the
 * host NIC with a stable MAC, conflict detection and announcements. */
#include "cni/cni.h"
#include "macvlan.h"

int main(int argc, char **argv)
{
	static const struct gl_cni_ops ops = {
		.name = "gamelan-macvlan",
		.usage = "Usage: gamelan-macvlan [--help | --version]\n"
			 "\n"
			 "A CNI plugin: gives a pod a macvlan interface on a host NIC, with a stable\n"
			 "MAC per identity, an ARP probe / DAD before the address is used and\n"
			 "announcements after it.\n"
			 "\n"
			 "Example (ADD by hand, as a runtime would; pod1 made with `ip netns add`):\n"
			 "  echo '{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"gamelan-macvlan\",\n"
			 "        \"master\":\"eth0\",\"ipam\":{\"type\":\"gamelan-ipam\",\"subnet\":\"192.168.1.0/24\"}}' |\n"
			 "  CNI_COMMAND=ADD CNI_CONTAINERID=c1 CNI_NETNS=/run/netns/pod1 CNI_IFNAME=eth0 \\\n"
			 "  CNI_PATH=/opt/cni/bin gamelan-macvlan\n",
		.add = macvlan_add,
		.del = macvlan_del,
		.check = macvlan_check,
		.status = macvlan_status,
		.gc = macvlan_gc,
	};

	return gl_cni_main(&ops, NULL, argc, argv);
}
