/* gamelan-operator: three roles in one binary (DESIGN.md section 6).
 * Each role's run function parses the options after the role's name,
 * builds its own sd-event loop and runs until SIGTERM; it returns the
 * process's exit code (0, or 1 with a message on stderr). */
#pragma once

/* The controller (a Deployment, leader-elected): keeps and releases the
 * reservations as the servers' lifecycles go, publishes network-status. */
int operator_controller_run(int argc, char **argv);
/* The node agent (in the DaemonSet): switches each pod's in-pod SNAT table
 * between SNAT and drop as networkDisabled asks, reports gamelan.dev/wan-cut. */
int operator_node_run(int argc, char **argv);
/* The router agent (on the Linux gateway): WAN port-forwards follow the
 * servers, sticky WAN ports, conntrack cleaned for moved forwards. */
int operator_router_run(int argc, char **argv);
