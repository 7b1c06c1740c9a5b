/* gamelan-macvlan's store backends: SQLite only, run in-process. Any other
 * store (kubernetes) is gamelan-ipam's, exec'd as the IPAM plugin, so that
 * this binary links no Kubernetes client (libcurl, libyaml) and every pod
 * start on SQLite is spared loading them. */
#include "ipam/store.h"

const struct gl_store_ops *const gl_store_backends[] = { &gl_store_sqlite_ops, NULL };
