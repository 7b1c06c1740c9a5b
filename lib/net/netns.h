/* Network namespaces: open one safely, and switch the calling thread into
 * it and back. */
#pragma once
#include "base/err.h"

/* Open path (the runtime's CNI_NETNS, which messages name) and check that it is a network namespace: ENOENT -> code 3
 * (container unknown), not a netns -> code 4. Returns an O_CLOEXEC fd. */
int gl_netns_open(const char *path, int *ret_fd, struct gl_err *err);
/* Enter ns_fd; *ret_orig gets an fd of the namespace we left. */
int gl_netns_enter(int ns_fd, int *ret_orig, struct gl_err *err);
/* Go back to orig (and close it). Failing here would leave the process in
 * the wrong place, so the caller must stop. */
int gl_netns_restore(int orig);
