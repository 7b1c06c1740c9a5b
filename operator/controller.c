/* Placeholder until the controller role lands (replaced by its own change). */
#include <stdio.h>
#include "operator.h"

int operator_controller_run(int argc, char **argv)
{
	fputs("gamelan-operator: the controller role is not built yet\n", stderr);
	return 1;
}
