/* Placeholder until the router role lands (replaced by its own change). */
#include <stdio.h>
#include "operator.h"

int operator_router_run(int argc, char **argv)
{
	fputs("gamelan-operator: the router role is not built yet\n", stderr);
	return 1;
}
