/* gamelan-operator: `gamelan-operator controller|node|router [options]`. */
#include <stdio.h>
#include <string.h>
#include "base/version.h"
#include "operator.h"

static const char usage[] =
	"Usage: gamelan-operator controller [options]   the cluster's controller (leader-elected)\n"
	"       gamelan-operator node [options]         the node agent (DaemonSet)\n"
	"       gamelan-operator router [options]       the router agent (Linux gateway)\n"
	"       gamelan-operator --help | --version\n"
	"\n"
	"'gamelan-operator ROLE --help' lists each role's options.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("gamelan-operator %s\n", GL_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "controller") == 0)
		return operator_controller_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "node") == 0)
		return operator_node_run(argc - 1, argv + 1);
	if (strcmp(argv[1], "router") == 0)
		return operator_router_run(argc - 1, argv + 1);
	fprintf(stderr, "gamelan-operator: unknown role '%s'\n%s", argv[1], usage);
	return 2;
}
