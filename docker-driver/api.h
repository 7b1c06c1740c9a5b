/* Calls to dockerd's API from inside a driver call: a GET on a worker
 * thread, bounded (dockerd does not serve its API while it restores
 * containers at boot, and a driver call that waits on it would hang
 * `docker run`), its answer delivered on the loop thread. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "daemon/loop.h"

#define DK_API_BODY_MAX (4u << 20)

/* r: 0 with HTTP status and body, or a negative errno (-ETIMEDOUT past the
 * bound, -ECONNREFUSED when dockerd is not there). body is the callee's only
 * during the call. */
typedef void (*dk_api_fn)(int r, long status, const char *body, size_t len, void *userdata);

/* GET path (with its query, already encoded) on the unix socket sock. fn is
 * called exactly once, later, on the loop thread (unless this fails). */
int dk_api_get(struct gl_loop *l, const char *sock, const char *path, int64_t timeout_ms,
	       dk_api_fn fn, void *userdata);
