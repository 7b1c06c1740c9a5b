/* Every store backend: the table a binary gets unless it defines
 * gl_store_backends itself (see store.h). Alone in its file so that a
 * binary with its own table never pulls this one, nor the backends it
 * names, from the archive. */
#include "ipam/store.h"

const struct gl_store_ops *const gl_store_backends[] = {
	&gl_store_sqlite_ops, &gl_store_kube_ops, &gl_store_memory_ops, NULL,
};
