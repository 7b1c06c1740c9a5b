/* The reservation store: rows keyed by (network, ip) behind one interface.
 * The store only keeps rows; every decision (which address, who keeps it)
 * is the allocator's (alloc.h), so that SQLite on one host and Kubernetes
 * custom resources for a cluster share it.
 *
 * A store offers a write transaction made of row primitives. SQLite makes
 * it a real `BEGIN IMMEDIATE` transaction (writers queue on the lock, so a
 * decision never races). A store without transactions (Kubernetes: one
 * object per address, created with POST, updated with a resourceVersion
 * precondition) makes begin/commit cheap and reports a lost race from the
 * write itself: insert -> -EEXIST, update/remove -> -ESTALE; the allocator
 * then rolls back and decides again from a fresh scan. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "cni/cni.h"
#include "base/err.h"
#include "base/ip.h"

enum gl_resv_state {
	GL_RESV_BOUND,      /* in use by container_id */
	GL_RESV_RELEASED,   /* DEL'd: kept for its identity until expires (Held), or Pinned */
	GL_RESV_CONFLICT,   /* another host on the LAN answers for it; nobody's until expires */
};

#define GL_RESV_NEVER INT64_MAX   /* expires: never (NULL in SQLite) */
#define GL_NODE_MAX 254
#define GL_STORE_VERSION_MAX 64
#define GL_STORE_SCAN_MAX 100000  /* rows one scan may return */
#define GL_RESV_NETNS_MAX 256     /* a longer netns path is not recorded */
#define GL_RESV_POD_MAX 320       /* "namespace/name": 63 + 1 + 253 + NUL */
#define GL_RESV_UID_MAX 64

/* One reserved address. (network, ip) is its key: an update never changes
 * them (remove and insert instead). identity and ifname are "" for conflict
 * rows; (network, identity, ifname, pool) is unique otherwise. */
struct gl_resv {
	char network[GL_CNI_NAME_MAX];
	int pool;                              /* range-set index in the config */
	struct gl_ip ip;
	char identity[GL_CNI_IDENTITY_MAX];
	char ifname[IFNAMSIZ];
	char container_id[GL_CNI_ID_MAX];      /* bound: its user; released: its last user */
	enum gl_resv_state state;
	bool pinned;
	int64_t expires;                       /* ms since the epoch, GL_RESV_NEVER */
	char node[GL_NODE_MAX];
	/* Who holds (Bound) or last held it, so that another ADD of the
	 * identity can tell whether that holder is gone: the netns path and
	 * the Kubernetes pod ("namespace/name", its UID); "" when unknown. */
	char netns[GL_RESV_NETNS_MAX];
	char pod[GL_RESV_POD_MAX];
	char pod_uid[GL_RESV_UID_MAX];
	int64_t updated;                       /* ms since the epoch */
	char version[GL_STORE_VERSION_MAX];    /* the store's token for this row's last write */
};

struct gl_resv_list {
	struct gl_resv *v;
	size_t n;
	size_t cap;
};

/* Append a copy of r; -E2BIG past GL_STORE_SCAN_MAX. */
int gl_store_list_push(struct gl_resv_list *l, const struct gl_resv *r);
void gl_store_list_free(struct gl_resv_list *l);
static inline void gl_store_list_freep(struct gl_resv_list *l) { gl_store_list_free(l); }

struct gl_store_conf {
	const char *type;           /* "sqlite" (default) | "kubernetes" | "memory" */
	const char *path;           /* sqlite: absolute; memory: handles with one path share rows */
	bool create;                /* sqlite: create the file (and its directory, 0700) if missing */
	const char *kubeconfig;     /* kubernetes: NULL or "" = $KUBECONFIG, else in-cluster */
	const char *namespace;      /* kubernetes: NULL or "" = "gamelan-system" */
	int64_t deadline;           /* monotonic ms the CNI call must end by; 0: a default budget */
};

struct gl_store;

/* Each returns 0 or a negative errno with err filled (GL_ERR_STORE, or
 * GL_ERR_TRY_AGAIN when the store stayed busy past its bounded wait). */
struct gl_store_ops {
	const char *type;
	/* Writers race instead of queueing (no transactions): the allocator
	 * starts a new identity's search at a point derived from the identity
	 * rather than at the lowest free address, so racers rarely collide. */
	bool spread_start;
	int (*open)(const struct gl_store_conf *conf, struct gl_store **ret, struct gl_err *err);
	void (*close)(struct gl_store *s);
	int (*begin)(struct gl_store *s, struct gl_err *err);
	int (*commit)(struct gl_store *s, struct gl_err *err);
	void (*rollback)(struct gl_store *s);
	/* Every row of network (all networks when NULL), appended to ret. */
	int (*scan)(struct gl_store *s, const char *network, struct gl_resv_list *ret,
		    struct gl_err *err);
	/* -EEXIST when (network, identity, ifname, pool) is taken, or (network,
	 * ip) is and the store cannot tell which; -EADDRINUSE when the store
	 * knows that (network, ip) is (the allocator then tries another free
	 * address). Sets r->version. */
	int (*insert)(struct gl_store *s, struct gl_resv *r, struct gl_err *err);
	/* The row (network, ip) as last read (r->version); -ESTALE when it changed
	 * or is gone. Sets r->version. */
	int (*update)(struct gl_store *s, struct gl_resv *r, struct gl_err *err);
	/* -ESTALE when the row changed or is already gone. */
	int (*remove)(struct gl_store *s, const struct gl_resv *r, struct gl_err *err);
	/* STATUS: the store is reachable and writable now. */
	int (*status)(struct gl_store *s, struct gl_err *err);

	/* Optional (a store with a real write lock: SQLite). A decision can
	 * then be made outside the lock: snapshot reads every row of network
	 * outside any transaction, with a token for that state; inside the
	 * transaction, refresh brings the rows up to date with the writes made
	 * since token, *ret_changed telling whether there were any (false: a
	 * decision made on the snapshot still holds). */
	int (*snapshot)(struct gl_store *s, const char *network, struct gl_resv_list *ret,
			uint64_t *ret_token, struct gl_err *err);
	int (*refresh)(struct gl_store *s, const char *network, uint64_t token,
		       struct gl_resv_list *rows, bool *ret_changed, struct gl_err *err);
	/* Optional: 1 when the store can prove that the Bound row's holder is
	 * gone (Kubernetes: its pod is gone or has another UID), 0 when it may
	 * be alive or the store cannot tell. */
	int (*holder_gone)(struct gl_store *s, const struct gl_resv *r, struct gl_err *err);
	/* Optional (a store whose scan costs the server per row: Kubernetes):
	 * the rows of network whose identity is `identity` (every ifname and
	 * pool), read at a cost independent of the network's size. An ADD
	 * then decides from them alone while it can (a returning identity; a
	 * new one taking a free address by insert) and scans only when it
	 * cannot (conflicts, a pin someone else holds, no free address found). */
	int (*scan_identity)(struct gl_store *s, const char *network, const char *identity,
			     struct gl_resv_list *ret, struct gl_err *err);
};

struct gl_store {
	const struct gl_store_ops *ops;
};

extern const struct gl_store_ops gl_store_sqlite_ops;
extern const struct gl_store_ops gl_store_kube_ops;   /* store_kube.h has its pure parts */
/* Rows in this process's memory, for tests and benchmarks (store_mem.c). */
extern const struct gl_store_ops gl_store_memory_ops;

/* The backends this binary has, NULL-terminated. lib/ipam/store_backends.c
 * has every one; a binary that must not link one (gamelan-macvlan: no
 * Kubernetes client) defines this table in an object of its own, and the
 * archive's default is then never linked. */
extern const struct gl_store_ops *const gl_store_backends[];
/* The linked backend of type ("" or NULL = "sqlite"), NULL when absent. */
const struct gl_store_ops *gl_store_backend(const char *type);
/* Open the store conf->type names. */
int gl_store_open(const struct gl_store_conf *conf, struct gl_store **ret, struct gl_err *err);
void gl_store_close(struct gl_store *s);
static inline void gl_store_closep(struct gl_store **s) { if (*s) gl_store_close(*s); }
#define _cleanup_store_ __attribute__((cleanup(gl_store_closep)))

const char *gl_store_state_str(enum gl_resv_state st);
/* "bound" | "released" | "conflict" -> state; -EINVAL otherwise. */
int gl_store_state_parse(const char *s, enum gl_resv_state *ret);
