/* The memory store: rows in this process's memory, for tests and benchmarks
 * (no CNI config can name it: they die with the process). Handles opened
 * with the same conf->path share one set of rows, as two processes share a
 * database; without a path a handle has its own. A write transaction is a
 * snapshot: begin copies the rows, rollback puts the copy back. One handle
 * writes at a time; another's begin is told to try again. Lost races are
 * reported as the Kubernetes store reports them (store.h): insert gives
 * -EADDRINUSE when (network, ip) is taken and -EEXIST when the identity key
 * is; update and remove give -ESTALE when the row changed or is gone.
 * Not thread-safe. */
#include "ipam/store.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"

#define MEM_NAME_MAX 256

/* One set of rows, shared by the handles that name it. */
struct mem_db {
	char name[MEM_NAME_MAX];     /* "" for a private one */
	int refs;
	struct gl_resv_list rows;
	struct gl_resv_list snap;    /* the rows at begin */
	struct gl_store *writer;     /* the handle in a transaction, or NULL */
	long version;
	struct mem_db *next;
};

struct mem_store {
	struct gl_store base;
	struct mem_db *db;
};

static struct mem_db *named_dbs;

static struct mem_db *db_of(struct gl_store *s)
{
	return ((struct mem_store *)s)->db;
}

static struct mem_db *db_get(const char *name)
{
	struct mem_db *db;

	for (db = named_dbs; name[0] && db; db = db->next)
		if (strcmp(db->name, name) == 0) {
			db->refs++;
			return db;
		}
	db = calloc(1, sizeof(*db));
	if (!db)
		return NULL;
	snprintf(db->name, sizeof(db->name), "%s", name);
	db->refs = 1;
	if (name[0]) {
		db->next = named_dbs;
		named_dbs = db;
	}
	return db;
}

static void db_put(struct mem_db *db)
{
	if (--db->refs > 0)
		return;
	for (struct mem_db **p = &named_dbs; *p; p = &(*p)->next)
		if (*p == db) {
			*p = db->next;
			break;
		}
	gl_store_list_free(&db->rows);
	gl_store_list_free(&db->snap);
	free(db);
}

static int mem_open(const struct gl_store_conf *conf, struct gl_store **ret, struct gl_err *err)
{
	const char *name = conf->path ? conf->path : "";
	struct mem_store *s;

	if (strlen(name) >= MEM_NAME_MAX)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "memory store: a name shorter than %d",
				  MEM_NAME_MAX);
	s = calloc(1, sizeof(*s));
	if (!s)
		return gl_err_from(err, -ENOMEM, GL_ERR_STORE, "memory store: out of memory");
	s->db = db_get(name);
	if (!s->db) {
		free(s);
		return gl_err_from(err, -ENOMEM, GL_ERR_STORE, "memory store: out of memory");
	}
	s->base.ops = &gl_store_memory_ops;
	*ret = &s->base;
	return 0;
}

static void mem_rollback(struct gl_store *s)
{
	struct mem_db *db = db_of(s);

	if (db->writer != s)
		return;
	gl_store_list_free(&db->rows);
	db->rows = db->snap;
	db->snap = (struct gl_resv_list){ 0 };
	db->writer = NULL;
}

static void mem_close(struct gl_store *s)
{
	mem_rollback(s);
	db_put(db_of(s));
	free(s);
}

static int mem_begin(struct gl_store *s, struct gl_err *err)
{
	struct mem_db *db = db_of(s);
	int r;

	if (db->writer == s)
		return gl_err_set(err, GL_ERR_INTERNAL, "memory store: a transaction is already open");
	if (db->writer)
		return gl_err_from(err, -EBUSY, GL_ERR_TRY_AGAIN, "memory store: another handle is writing");
	for (size_t i = 0; i < db->rows.n; i++) {
		r = gl_store_list_push(&db->snap, &db->rows.v[i]);
		if (r < 0) {
			gl_store_list_free(&db->snap);
			return gl_err_from(err, r, GL_ERR_STORE, "memory store: %s", strerror(-r));
		}
	}
	db->writer = s;
	return 0;
}

/* Writes need this handle's transaction: a write outside one is a bug of
 * the caller's, not a race. */
static int need_txn(struct gl_store *s, const char *what, struct gl_err *err)
{
	if (db_of(s)->writer != s)
		return gl_err_set(err, GL_ERR_INTERNAL, "memory store: %s outside a transaction", what);
	return 0;
}

static int mem_commit(struct gl_store *s, struct gl_err *err)
{
	int r = need_txn(s, "commit", err);

	if (r < 0)
		return r;
	gl_store_list_free(&db_of(s)->snap);
	db_of(s)->writer = NULL;
	return 0;
}

static int mem_scan(struct gl_store *s, const char *network, struct gl_resv_list *ret,
		    struct gl_err *err)
{
	const struct gl_resv_list *rows = &db_of(s)->rows;

	for (size_t i = 0; i < rows->n; i++) {
		int r;

		if (network && strcmp(rows->v[i].network, network) != 0)
			continue;
		r = gl_store_list_push(ret, &rows->v[i]);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_STORE, "memory store: scan: %s", strerror(-r));
	}
	return 0;
}

static long find_row(const struct mem_db *db, const struct gl_resv *r)
{
	for (size_t i = 0; i < db->rows.n; i++)
		if (strcmp(db->rows.v[i].network, r->network) == 0 && gl_ip_equal(&db->rows.v[i].ip, &r->ip))
			return (long)i;
	return -1;
}

/* The identity key (network, identity, ifname, pool) of r is another row's
 * than skip's; conflict rows (no identity) have none. */
static bool identity_taken(const struct mem_db *db, const struct gl_resv *r, long skip)
{
	if (!r->identity[0])
		return false;
	for (size_t i = 0; i < db->rows.n; i++) {
		const struct gl_resv *o = &db->rows.v[i];

		if ((long)i != skip && strcmp(o->network, r->network) == 0 &&
		    strcmp(o->identity, r->identity) == 0 && strcmp(o->ifname, r->ifname) == 0 &&
		    o->pool == r->pool)
			return true;
	}
	return false;
}

static void next_version(struct mem_db *db, struct gl_resv *r)
{
	snprintf(r->version, sizeof(r->version), "%ld", ++db->version);
}

static int mem_insert(struct gl_store *s, struct gl_resv *r, struct gl_err *err)
{
	struct mem_db *db = db_of(s);
	struct gl_resv row = *r;
	int ret = need_txn(s, "insert", err);

	if (ret < 0)
		return ret;
	if (find_row(db, r) >= 0)
		return -EADDRINUSE;
	if (identity_taken(db, r, -1))
		return -EEXIST;
	next_version(db, &row);
	ret = gl_store_list_push(&db->rows, &row);
	if (ret < 0)
		return gl_err_from(err, ret, GL_ERR_STORE, "memory store: insert: %s", strerror(-ret));
	*r = row;
	return 0;
}

static int mem_update(struct gl_store *s, struct gl_resv *r, struct gl_err *err)
{
	struct mem_db *db = db_of(s);
	long i;
	int ret = need_txn(s, "update", err);

	if (ret < 0)
		return ret;
	i = find_row(db, r);
	if (i < 0 || strcmp(db->rows.v[i].version, r->version) != 0)
		return -ESTALE;
	if (identity_taken(db, r, i))
		return -EEXIST;
	next_version(db, r);
	db->rows.v[i] = *r;
	return 0;
}

static int mem_remove(struct gl_store *s, const struct gl_resv *r, struct gl_err *err)
{
	struct mem_db *db = db_of(s);
	long i;
	int ret = need_txn(s, "remove", err);

	if (ret < 0)
		return ret;
	i = find_row(db, r);
	if (i < 0 || strcmp(db->rows.v[i].version, r->version) != 0)
		return -ESTALE;
	db->rows.v[i] = db->rows.v[db->rows.n - 1];
	db->rows.n--;
	return 0;
}

static int mem_status(struct gl_store *s, struct gl_err *err)
{
	return 0;
}

const struct gl_store_ops gl_store_memory_ops = {
	.type = "memory",
	.open = mem_open,
	.close = mem_close,
	.begin = mem_begin,
	.commit = mem_commit,
	.rollback = mem_rollback,
	.scan = mem_scan,
	.insert = mem_insert,
	.update = mem_update,
	.remove = mem_remove,
	.status = mem_status,
};
