/* gamelan-macvlan: a CNI plugin that gives a pod a macvlan interface on the
 * host NIC with a stable MAC, conflict detection and announcements. */
#include "cni/cni.h"
#include "macvlan.h"

int main(int argc, char **argv)
{
	static const struct gl_cni_ops ops = {
		.name = "gamelan-macvlan",
		.add = macvlan_add,
		.del = macvlan_del,
		.check = macvlan_check,
		.status = macvlan_status,
		.gc = macvlan_gc,
	};

	return gl_cni_main(&ops, NULL, argc, argv);
}
