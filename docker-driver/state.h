/* Where gamelan-docker keeps what dockerd never replays (its pools,
 * networks and endpoints): a table of its own in the reservation store's
 * SQLite file, beside the rows the allocator keeps. Each record is one
 * JSON object under (kind, id). Blocking calls, bounded by SQLite's busy
 * timeout; made on the loop thread. */
#pragma once
#include <json-c/json.h>
#include "base/err.h"

struct dk_state;

/* path: the store's file, which gl_store_open made (0600). */
int dk_state_open(const char *path, struct dk_state **ret, struct gl_err *err);
void dk_state_close(struct dk_state *s);
/* Replace (kind, id) with o (not taken). */
int dk_state_put(struct dk_state *s, const char *kind, const char *id, json_object *o,
		 struct gl_err *err);
/* A missing record is no error. */
int dk_state_del(struct dk_state *s, const char *kind, const char *id, struct gl_err *err);
/* fn once per record of kind (o is borrowed); a negative fn result stops and is returned. */
typedef int (*dk_state_fn)(json_object *o, void *userdata);
int dk_state_each(struct dk_state *s, const char *kind, dk_state_fn fn, void *userdata,
		  struct gl_err *err);
