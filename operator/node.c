/* Placeholder until the node role lands (replaced by its own change). */
#include <stdio.h>
#include "operator.h"

int operator_node_run(int argc, char **argv)
{
	fputs("gamelan-operator: the node role is not built yet\n", stderr);
	return 1;
}
