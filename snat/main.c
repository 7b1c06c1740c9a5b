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
