/* gamelan-ipam: sticky CNI IPAM on SQLite; without CNI_COMMAND, its admin tool. */
#include "admin.h"
#include "cni/cni.h"
#include "ipam/plugin.h"

int main(int argc, char **argv)
{
	return gl_cni_main(&gl_ipam_ops, ipam_admin_main, argc, argv);
}
