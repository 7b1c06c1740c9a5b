/* The SQLite reservation store: one file per host, WAL, one short
 * BEGIN IMMEDIATE transaction per decision, uniqueness in the schema. */
#include "ipam/store.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/util.h"

/* Writers queue on the database lock; past this a CNI call gives up with
 * "try again" rather than hang the runtime. */
#define BUSY_TIMEOUT_MS 10000
#define SCHEMA_VERSION 1

struct sqlite_store {
	struct gl_store base;
	sqlite3 *db;
	bool in_txn;
	unsigned seed;              /* jitter for retries */
	int64_t busy_since;         /* when the current wait began */
	char path[PATH_MAX];
};

static struct sqlite_store *to_sq(struct gl_store *s)
{
	return (struct sqlite_store *)s;
}

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS reservations ("
	" network TEXT NOT NULL,"
	" pool INTEGER NOT NULL,"
	" ip TEXT NOT NULL,"
	" identity TEXT,"                 /* NULL for conflict rows */
	" ifname TEXT,"
	" container_id TEXT NOT NULL DEFAULT '',"
	" state TEXT NOT NULL CHECK (state IN ('bound','released','conflict')),"
	" pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0,1)),"
	" expires INTEGER,"               /* ms since the epoch; NULL = never */
	" node TEXT NOT NULL DEFAULT '',"
	" updated INTEGER NOT NULL,"
	" version INTEGER NOT NULL DEFAULT 1,"
	" UNIQUE (network, ip),"
	" UNIQUE (network, identity, ifname, pool));"
	"CREATE INDEX IF NOT EXISTS reservations_container ON reservations (container_id);";

static bool retryable(int rc)
{
	/* PROTOCOL: a WAL lock raced too often; SQLite asks callers to retry. */
	return rc == SQLITE_BUSY || rc == SQLITE_LOCKED || rc == SQLITE_PROTOCOL;
}

/* A short random pause, growing with the attempts (1-32 ms): polling the
 * lock often keeps a queue of writers moving; the jitter keeps processes
 * that started together from retrying in step. */
static void backoff(struct sqlite_store *s, int attempt)
{
	unsigned cap = 1000u << (attempt < 5 ? attempt : 5);

	s->seed = s->seed * 1103515245u + 12345u;
	usleep(cap / 2 + (s->seed >> 8) % (cap / 2));
}

/* SQLite's own busy handler sleeps up to 100 ms at a time; ours keeps the
 * same bound (BUSY_TIMEOUT_MS) with shorter, jittered steps. */
static int busy_handler(void *arg, int count)
{
	struct sqlite_store *s = arg;

	if (count == 0)
		s->busy_since = gl_now_mono_ms();
	if (gl_now_mono_ms() - s->busy_since > BUSY_TIMEOUT_MS)
		return 0;
	backoff(s, count);
	return 1;
}

static int db_error(struct sqlite_store *s, int rc, const char *what, struct gl_err *err)
{
	if (retryable(rc))
		return gl_err_set(err, GL_ERR_TRY_AGAIN, "store busy for more than %d s (%s): try again",
				  BUSY_TIMEOUT_MS / 1000, what);
	return gl_err_set(err, GL_ERR_STORE, "store %s: %s: %s", s->path, what,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* Run sql (with an optional row callback), retrying what SQLite reports as
 * transient until BUSY_TIMEOUT_MS has passed. */
static int exec_cb(struct sqlite_store *s, const char *sql, int (*cb)(void *, int, char **, char **),
		   void *arg, struct gl_err *err)
{
	int64_t deadline = gl_now_mono_ms() + BUSY_TIMEOUT_MS;

	for (int attempt = 0;; attempt++) {
		int rc = sqlite3_exec(s->db, sql, cb, arg, NULL);

		if (rc == SQLITE_OK)
			return 0;
		if (!retryable(rc) || gl_now_mono_ms() > deadline)
			return db_error(s, rc, sql, err);
		backoff(s, attempt);
	}
}

static int exec_sql(struct sqlite_store *s, const char *sql, struct gl_err *err)
{
	return exec_cb(s, sql, NULL, NULL, err);
}

/* Create each missing directory above path with mode 0700; existing ones
 * are left as the admin made them. */
static int make_parents(const char *path, struct gl_err *err)
{
	char buf[PATH_MAX];
	char *p;

	if (gl_strlcpy(buf, path, sizeof(buf)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "store path is too long");
	for (p = buf + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return gl_err_set(err, GL_ERR_STORE, "store: cannot create directory %s: %s", buf,
					  strerror(errno));
		*p = '/';
	}
	return 0;
}

/* The database and its -wal/-shm hold who has which address: root only. A
 * file someone else created looser is tightened; symlinks are refused.
 * Never open() and close() these files ourselves: closing any descriptor
 * of a file drops every POSIX lock this process holds on it, SQLite's
 * included, and another process would then reset the WAL index under us.
 * An O_PATH descriptor carries no locks, and chmod through /proc uses it. */
static int tighten_mode(const char *path, bool must_exist, struct gl_err *err)
{
	_cleanup_close_ int fd = -1;
	char proc[64];
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT && !must_exist)
			return 0;
		return gl_err_set(err, GL_ERR_STORE, "store %s: %s", path, strerror(errno));
	}
	if (!S_ISREG(st.st_mode))
		return gl_err_set(err, GL_ERR_STORE, "store %s: not a regular file (symbolic links are refused)",
				  path);
	if ((st.st_mode & 07777) == 0600)
		return 0;
	fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return gl_err_set(err, GL_ERR_STORE, "store %s: cannot check the file: %s", path,
				  fd < 0 ? strerror(errno) : "not a regular file");
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (chmod(proc, 0600) < 0)
		return gl_err_set(err, GL_ERR_STORE, "store %s: cannot make it mode 0600: %s", path,
				  strerror(errno));
	return 0;
}

static int tighten_files(const char *path, bool must_exist, struct gl_err *err)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	char buf[PATH_MAX + 8];
	int r = tighten_mode(path, must_exist, err);

	for (size_t i = 0; r >= 0 && i < GL_ARRAY_SIZE(suffixes); i++) {
		snprintf(buf, sizeof(buf), "%s%s", path, suffixes[i]);
		r = tighten_mode(buf, false, err);
	}
	return r;
}

static int tighten_all(const char *path, struct gl_err *err)
{
	return tighten_files(path, true, err);
}

static int tighten_all_existing(const char *path, struct gl_err *err)
{
	return tighten_files(path, false, err);
}

static int read_int(void *arg, int ncols, char **vals, char **names)
{
	*(int *)arg = ncols > 0 && vals[0] ? atoi(vals[0]) : 0;
	return 0;
}

static int user_version(struct sqlite_store *s, int *ret, struct gl_err *err)
{
	return exec_cb(s, "PRAGMA user_version", read_int, ret, err);
}

/* WAL lets readers (the admin's `list`) run beside a writer. The mode
 * sticks to the file. */
static int read_mode(void *arg, int ncols, char **vals, char **names)
{
	*(bool *)arg = ncols > 0 && vals[0] && strcmp(vals[0], "wal") == 0;
	return 0;
}

static int set_wal(struct sqlite_store *s, struct gl_err *err)
{
	bool wal = false;
	int r = exec_cb(s, "PRAGMA journal_mode=WAL", read_mode, &wal, err);

	if (r < 0)
		return r;
	if (!wal)
		return gl_err_set(err, GL_ERR_STORE, "store %s: cannot switch to WAL mode", s->path);
	/* Every CNI call is a short-lived process. By default the last one to
	 * close the database checkpoints the WAL into it (two more syncs) and
	 * deletes the WAL (recreated and synced with its directory by the
	 * next). Keep the WAL and leave checkpoints to SQLite's automatic ones
	 * at commit: one sync per allocation, as durable as before. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	{
		int persist = 1;

		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	return 0;
}

static int ensure_schema(struct sqlite_store *s, struct gl_err *err)
{
	int v = 0, r;

	r = user_version(s, &v, err);
	if (r < 0)
		return r;
	if (v == SCHEMA_VERSION)
		return 0;
	if (v > SCHEMA_VERSION)
		return gl_err_set(err, GL_ERR_STORE,
				  "store: database schema version %d is newer than this gamelan-ipam knows (%d)",
				  v, SCHEMA_VERSION);
	r = exec_sql(s, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	r = exec_sql(s, schema_sql, err);
	if (r >= 0)
		r = exec_sql(s, "PRAGMA user_version = 1", err);
	if (r >= 0)
		r = exec_sql(s, "COMMIT", err);
	if (r < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static void sq_close(struct gl_store *gs)
{
	struct sqlite_store *s = to_sq(gs);

	if (s->in_txn)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close_v2(s->db);
	free(s);
}

static int sq_open(const struct gl_store_conf *conf, struct gl_store **ret, struct gl_err *err)
{
	_cleanup_free_ struct sqlite_store *s = calloc(1, sizeof(*s));
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX;
	struct stat st;
	mode_t old;
	int rc, r;

	if (!s)
		return -ENOMEM;
	s->base.ops = &gl_store_sqlite_ops;
	if (!conf->path || conf->path[0] != '/' || gl_strlcpy(s->path, conf->path, sizeof(s->path)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "store path must be absolute and shorter than %d",
				  PATH_MAX);
	if (lstat(conf->path, &st) == 0 && !S_ISREG(st.st_mode))
		return gl_err_set(err, GL_ERR_STORE, "store %s: not a regular file (symbolic links are refused)",
				  conf->path);
	if (conf->create) {
		r = make_parents(conf->path, err);
		if (r < 0)
			return r;
		flags |= SQLITE_OPEN_CREATE;
	} else if (stat(conf->path, &st) < 0) {
		return gl_err_set(err, GL_ERR_STORE, "store %s: %s", conf->path, strerror(errno));
	}
	/* SQLite gives -wal and -shm the database file's mode. */
	r = tighten_all_existing(conf->path, err);
	if (r < 0)
		return r;
	/* New files are born 0600 instead of being chmod'ed after a moment of
	 * being readable. */
	old = umask(077);
	rc = sqlite3_open_v2(conf->path, &s->db, flags, NULL);
	umask(old);
	if (rc != SQLITE_OK) {
		r = gl_err_set(err, GL_ERR_STORE, "store %s: cannot open: %s", conf->path,
			       s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		sqlite3_close_v2(s->db);
		return r;
	}
	s->seed = (unsigned)getpid() * 2654435761u ^ (unsigned)gl_now_mono_ms();
	sqlite3_busy_handler(s->db, busy_handler, s);
	old = umask(077);
	r = set_wal(s, err);
	/* FULL: a committed reservation survives a power cut, so an address is
	 * never handed out twice after a reboot. */
	if (r >= 0)
		r = exec_sql(s, "PRAGMA synchronous = FULL", err);
	if (r >= 0)
		r = ensure_schema(s, err);
	if (r >= 0)
		r = tighten_all(conf->path, err);
	umask(old);
	if (r < 0) {
		sqlite3_close_v2(s->db);
		return r;
	}
	*ret = &TAKE_PTR(s)->base;
	return 0;
}

static int sq_begin(struct gl_store *gs, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	int r;

	if (s->in_txn)
		return gl_err_set(err, GL_ERR_INTERNAL, "store: nested transaction");
	r = exec_sql(s, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	s->in_txn = true;
	return 0;
}

static int sq_commit(struct gl_store *gs, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	int r = exec_sql(s, "COMMIT", err);

	if (r < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = false;
		return r;
	}
	s->in_txn = false;
	return 0;
}

static void sq_rollback(struct gl_store *gs)
{
	struct sqlite_store *s = to_sq(gs);

	if (s->in_txn)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->in_txn = false;
}

static int col_str(sqlite3_stmt *st, int i, char *buf, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (!t) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)sqlite3_column_bytes(st, i) >= size)
		return -ENAMETOOLONG;
	return gl_strlcpy(buf, (const char *)t, size);
}

static int row_read(sqlite3_stmt *st, struct gl_resv *r)
{
	char ip[GL_IP_STRLEN], state[16];

	memset(r, 0, sizeof(*r));
	if (col_str(st, 0, r->network, sizeof(r->network)) < 0 ||
	    col_str(st, 2, ip, sizeof(ip)) < 0 || gl_ip_parse(ip, &r->ip) < 0 ||
	    col_str(st, 3, r->identity, sizeof(r->identity)) < 0 ||
	    col_str(st, 4, r->ifname, sizeof(r->ifname)) < 0 ||
	    col_str(st, 5, r->container_id, sizeof(r->container_id)) < 0 ||
	    col_str(st, 6, state, sizeof(state)) < 0 || gl_store_state_parse(state, &r->state) < 0 ||
	    col_str(st, 9, r->node, sizeof(r->node)) < 0)
		return -EBADMSG;
	r->pool = sqlite3_column_int(st, 1);
	r->pinned = sqlite3_column_int(st, 7) != 0;
	r->expires = sqlite3_column_type(st, 8) == SQLITE_NULL ? GL_RESV_NEVER
								: sqlite3_column_int64(st, 8);
	r->updated = sqlite3_column_int64(st, 10);
	snprintf(r->version, sizeof(r->version), "%lld", (long long)sqlite3_column_int64(st, 11));
	return 0;
}

/* One pass over the rows; *ret_rc is SQLite's last code, for retries. */
static int scan_once(struct sqlite_store *s, const char *network, struct gl_resv_list *ret,
		     int *ret_rc, struct gl_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *sql = network ?
		"SELECT network, pool, ip, identity, ifname, container_id, state, pinned, expires,"
		" node, updated, version FROM reservations WHERE network = ?1" :
		"SELECT network, pool, ip, identity, ifname, container_id, state, pinned, expires,"
		" node, updated, version FROM reservations";
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	int r = 0;

	*ret_rc = rc;
	if (rc != SQLITE_OK)
		return db_error(s, rc, "scan", err);
	if (network)
		sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gl_resv row;

		if (row_read(st, &row) < 0) {
			const unsigned char *ip = sqlite3_column_text(st, 2);

			r = gl_err_set(err, GL_ERR_STORE, "store %s: a reservation row is malformed (ip \"%.64s\")",
				       s->path, ip ? (const char *)ip : "");
			break;
		}
		r = gl_store_list_push(ret, &row);
		if (r < 0) {
			r = gl_err_set(err, GL_ERR_STORE, "store %s: %s", s->path,
				       r == -E2BIG ? "more than 100000 reservations in one scan" : "out of memory");
			break;
		}
	}
	*ret_rc = rc;
	if (r >= 0 && rc != SQLITE_DONE)
		r = db_error(s, rc, "scan", err);
	sqlite3_finalize(st);
	return r;
}

static int sq_scan(struct gl_store *gs, const char *network, struct gl_resv_list *ret,
		   struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	int64_t deadline = gl_now_mono_ms() + BUSY_TIMEOUT_MS;
	size_t n0 = ret->n;

	/* Inside a transaction the snapshot is ours; outside (a plain read),
	 * a writer's moment with the WAL index may make us wait. */
	for (int attempt = 0;; attempt++) {
		struct gl_err e = {0};
		int rc, r = scan_once(s, network, ret, &rc, &e);

		if (r >= 0)
			return 0;
		ret->n = n0;
		if (s->in_txn || !retryable(rc) || gl_now_mono_ms() > deadline) {
			if (err && !err->code)
				*err = e;
			return r;
		}
		backoff(s, attempt);
	}
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* Columns 1..11 in the order of the schema, version aside. */
static void bind_row(sqlite3_stmt *st, const struct gl_resv *r, const char *ip)
{
	sqlite3_bind_text(st, 1, r->network, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, r->pool);
	sqlite3_bind_text(st, 3, ip, -1, SQLITE_STATIC);
	bind_opt_text(st, 4, r->identity);
	bind_opt_text(st, 5, r->ifname);
	sqlite3_bind_text(st, 6, r->container_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, gl_store_state_str(r->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, r->pinned ? 1 : 0);
	if (r->expires == GL_RESV_NEVER)
		sqlite3_bind_null(st, 9);
	else
		sqlite3_bind_int64(st, 9, r->expires);
	sqlite3_bind_text(st, 10, r->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, r->updated);
}

static int version_parse(const char *v, sqlite3_int64 *ret)
{
	char *end;
	long long x;

	errno = 0;
	x = strtoll(v, &end, 10);
	if (errno || end == v || *end)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int sq_insert(struct gl_store *gs, struct gl_resv *r, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	sqlite3_stmt *st = NULL;
	char ip[GL_IP_STRLEN];
	int rc;

	gl_ip_str(&r->ip, ip, sizeof(ip));
	rc = sqlite3_prepare_v2(s->db,
		"INSERT INTO reservations (network, pool, ip, identity, ifname, container_id, state,"
		" pinned, expires, node, updated, version) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
		" ?10, ?11, 1)", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(s, rc, "insert", err);
	bind_row(st, r, ip);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return db_error(s, rc, "insert", err);
	strcpy(r->version, "1");
	return 0;
}

static int sq_update(struct gl_store *gs, struct gl_resv *r, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	sqlite3_stmt *st = NULL;
	char ip[GL_IP_STRLEN];
	sqlite3_int64 v;
	int rc;

	if (version_parse(r->version, &v) < 0)
		return -ESTALE;
	gl_ip_str(&r->ip, ip, sizeof(ip));
	rc = sqlite3_prepare_v2(s->db,
		"UPDATE reservations SET pool = ?2, identity = ?4, ifname = ?5, container_id = ?6,"
		" state = ?7, pinned = ?8, expires = ?9, node = ?10, updated = ?11,"
		" version = version + 1 WHERE network = ?1 AND ip = ?3 AND version = ?12", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(s, rc, "update", err);
	bind_row(st, r, ip);
	sqlite3_bind_int64(st, 12, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	if (rc != SQLITE_DONE)
		return db_error(s, rc, "update", err);
	if (sqlite3_changes(s->db) != 1)
		return -ESTALE;
	snprintf(r->version, sizeof(r->version), "%lld", (long long)v + 1);
	return 0;
}

static int sq_remove(struct gl_store *gs, const struct gl_resv *r, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	sqlite3_stmt *st = NULL;
	char ip[GL_IP_STRLEN];
	sqlite3_int64 v;
	int rc;

	if (version_parse(r->version, &v) < 0)
		return -ESTALE;
	gl_ip_str(&r->ip, ip, sizeof(ip));
	rc = sqlite3_prepare_v2(s->db,
		"DELETE FROM reservations WHERE network = ?1 AND ip = ?2 AND version = ?3", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return db_error(s, rc, "delete", err);
	sqlite3_bind_text(st, 1, r->network, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, v);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_error(s, rc, "delete", err);
	if (sqlite3_changes(s->db) != 1)
		return -ESTALE;
	return 0;
}

/* Writable now: take the write lock and let it go. */
static int sq_status(struct gl_store *gs, struct gl_err *err)
{
	int r = sq_begin(gs, err);

	if (r < 0)
		return r;
	sq_rollback(gs);
	return 0;
}

const struct gl_store_ops gl_store_sqlite_ops = {
	.type = "sqlite",
	.open = sq_open,
	.close = sq_close,
	.begin = sq_begin,
	.commit = sq_commit,
	.rollback = sq_rollback,
	.scan = sq_scan,
	.insert = sq_insert,
	.update = sq_update,
	.remove = sq_remove,
	.status = sq_status,
};
