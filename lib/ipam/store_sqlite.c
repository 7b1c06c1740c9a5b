/* The SQLite reservation store: one file per host, WAL, one short
 * BEGIN IMMEDIATE transaction per decision, uniqueness in the schema.
 *
 * Under a burst of plugin processes the write lock is what they queue on,
 * and its holder competes with all of them for the CPU; so the lock covers
 * as little work as can be: the rows are read and the decision made
 * outside it (snapshot), and inside it only the writes made since that
 * snapshot are read back (refresh: every write transaction bumps one
 * generation counter and stamps the rows it writes with it) before the
 * decision's own writes and the commit.
 *
 * Durability: WAL with synchronous = NORMAL, so a commit is not synced;
 * the WAL is synced only when a checkpoint copies it into the database.
 * A commit survives the death of any process (kill -9 included: the data
 * is in the kernel's page cache, tests/e2e/test_crash.sh), and the file
 * is consistent after any crash, power loss included. What a power loss or
 * a kernel crash can lose is the last commits before it, those not yet
 * written back (seconds). That is weighed for a store of one host: the
 * same power loss ends every container of that host, and the runtime runs
 * ADD again for each after the reboot. A lost ADD leaves its address free
 * in the store while no pod of this host uses it any more (an identity
 * that got its first address in those seconds may get another one); a
 * lost DEL leaves the reservation bound, as a DEL that never ran would,
 * until its identity comes back or GC releases it; a lost conflict row is
 * found again by the next ADD's probe. The price of FULL was one fdatasync
 * of the WAL and one of its directory per ADD and per DEL (about 1 ms of
 * each call's 4-6 ms here, and a blocking wait on a loaded node).
 * Admin pins (gamelan-ipam pin) share the rule: one just made can be lost
 * with a power cut that follows within seconds. */
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
#include "base/log.h"
#include "base/util.h"

/* Writers queue on the database lock until the CNI call's deadline
 * (gl_store_conf.deadline); a store opened without one gets this budget. */
#define DEFAULT_BUDGET_MS 60000
#define SCHEMA_VERSION 2
/* Frames in the WAL after a commit past which that commit's process
 * checkpoints it and truncates it to nothing. Every process is a new
 * connection, and the first one after the last has closed rebuilds the WAL
 * index by reading every valid frame of the WAL; how far checkpoints got
 * lives in that index only, so SQLite's automatic checkpoint (PASSIVE)
 * never lets the next process restart the WAL: it grew by every commit (a
 * commit writes about 5 frames; 12 MB after 1200 calls) and each call read
 * all of it, then copied all of it again. A TRUNCATE checkpoint costs two
 * syncs (the WAL, then the database) every 25 commits or so; the WAL a
 * process reads stays under 128 frames (0.5 MB). */
#define WAL_CKPT_FRAMES 128
/* A snapshot token for a database without a generation counter. */
#define TOKEN_NONE UINT64_MAX

enum { ST_INSERT, ST_UPDATE, ST_REMOVE, ST_GEN, ST_BUMP, ST_DELTA, ST_COUNT, ST_N };

struct sqlite_store {
	struct gl_store base;
	sqlite3 *db;
	bool in_txn;
	bool wrote;                 /* this transaction wrote a row */
	int wal_frames;             /* in the WAL after our last commit */
	int schema;                 /* user_version as last seen */
	uint64_t gen;               /* the generation this transaction began on */
	unsigned seed;              /* jitter for retries */
	int64_t deadline;           /* monotonic ms: every wait ends here */
	sqlite3_stmt *st[ST_N];     /* prepared once, before the lock where it can be */
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
	" netns TEXT NOT NULL DEFAULT '',"
	" pod TEXT NOT NULL DEFAULT '',"
	" pod_uid TEXT NOT NULL DEFAULT '',"
	" seq INTEGER NOT NULL DEFAULT 0,"    /* the generation that last wrote the row */
	" UNIQUE (network, ip),"
	" UNIQUE (network, identity, ifname, pool));"
	"CREATE INDEX IF NOT EXISTS reservations_container ON reservations (container_id);";

/* Version 1 had neither the holder's facts nor the generation. */
static const char migrate_v1_sql[] =
	"ALTER TABLE reservations ADD COLUMN netns TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE reservations ADD COLUMN pod TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE reservations ADD COLUMN pod_uid TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE reservations ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;";

static const char schema_v2_sql[] =
	"CREATE INDEX IF NOT EXISTS reservations_seq ON reservations (network, seq);"
	"CREATE TABLE IF NOT EXISTS generation (id INTEGER PRIMARY KEY CHECK (id = 1),"
	" gen INTEGER NOT NULL);"
	"INSERT OR IGNORE INTO generation (id, gen) VALUES (1, 0);"
	"PRAGMA user_version = 2;";

#define COLS "network, pool, ip, identity, ifname, container_id, state, pinned, expires, node," \
	     " updated, version"
#define COLS_V2 COLS ", netns, pod, pod_uid"
#define COLS_V1 COLS ", '', '', ''"

static const char *const stmt_sql[ST_N] = {
	[ST_INSERT] = "INSERT INTO reservations (network, pool, ip, identity, ifname, container_id,"
		      " state, pinned, expires, node, updated, netns, pod, pod_uid, seq, version)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1)",
	[ST_UPDATE] = "UPDATE reservations SET pool = ?2, identity = ?4, ifname = ?5,"
		      " container_id = ?6, state = ?7, pinned = ?8, expires = ?9, node = ?10,"
		      " updated = ?11, netns = ?12, pod = ?13, pod_uid = ?14, seq = ?15,"
		      " version = version + 1 WHERE network = ?1 AND ip = ?3 AND version = ?16",
	[ST_REMOVE] = "DELETE FROM reservations WHERE network = ?1 AND ip = ?2 AND version = ?3",
	[ST_GEN] = "SELECT gen FROM generation WHERE id = 1",
	[ST_BUMP] = "UPDATE generation SET gen = ?1 WHERE id = 1",
	[ST_DELTA] = "SELECT " COLS_V2 " FROM reservations WHERE network = ?1 AND seq > ?2",
	[ST_COUNT] = "SELECT count(*) FROM reservations WHERE network = ?1",
};

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

/* SQLite's own busy handler sleeps up to 100 ms at a time; ours waits
 * with shorter, jittered steps until the call's deadline. */
static int busy_handler(void *arg, int count)
{
	struct sqlite_store *s = arg;

	if (gl_now_mono_ms() >= s->deadline)
		return 0;
	backoff(s, count);
	return 1;
}

static int db_error(struct sqlite_store *s, int rc, const char *what, struct gl_err *err)
{
	if (retryable(rc))
		return gl_err_set(err, GL_ERR_TRY_AGAIN,
				  "store %s stayed busy until the call's deadline (%s): try again", s->path,
				  what);
	return gl_err_set(err, GL_ERR_STORE, "store %s: %s: %s", s->path, what,
			  s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
}

/* Run sql (with an optional row callback), retrying what SQLite reports as
 * transient until the deadline. */
static int exec_cb(struct sqlite_store *s, const char *sql, int (*cb)(void *, int, char **, char **),
		   void *arg, struct gl_err *err)
{
	for (int attempt = 0;; attempt++) {
		int rc = sqlite3_exec(s->db, sql, cb, arg, NULL);

		if (rc == SQLITE_OK)
			return 0;
		if (!retryable(rc) || gl_now_mono_ms() > s->deadline)
			return db_error(s, rc, sql, err);
		backoff(s, attempt);
	}
}

/* A cached statement, reset for a new use; prepared on first use. */
static int stmt(struct sqlite_store *s, int which, sqlite3_stmt **ret, struct gl_err *err)
{
	if (!s->st[which]) {
		int rc = sqlite3_prepare_v3(s->db, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT,
					    &s->st[which], NULL);

		if (rc != SQLITE_OK)
			return db_error(s, rc, "prepare", err);
	} else {
		sqlite3_reset(s->st[which]);
		sqlite3_clear_bindings(s->st[which]);
	}
	*ret = s->st[which];
	return 0;
}

/* Step a cached statement that returns no row, then let go of it. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc;
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
	 * next). Keep the WAL; checkpoints happen when it is long
	 * (checkpoint_long_wal). */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	{
		int persist = 1;

		sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	return 0;
}

static int read_schema(struct sqlite_store *s, struct gl_err *err)
{
	int v = 0, r = user_version(s, &v, err);

	if (r < 0)
		return r;
	if (v > SCHEMA_VERSION)
		return gl_err_set(err, GL_ERR_STORE,
				  "store: database schema version %d is newer than this gamelan-ipam knows (%d)",
				  v, SCHEMA_VERSION);
	s->schema = v;
	return 0;
}

/* Inside the write lock: create or upgrade the schema if no one has yet.
 * It rides on the first write transaction instead of taking the lock once
 * more in every process that finds a fresh file. */
static int ensure_schema(struct sqlite_store *s, struct gl_err *err)
{
	int r;

	if (s->schema == SCHEMA_VERSION)
		return 0;
	r = read_schema(s, err);
	if (r < 0 || s->schema == SCHEMA_VERSION)
		return r;
	r = exec_sql(s, s->schema == 0 ? schema_sql : migrate_v1_sql, err);
	if (r >= 0)
		r = exec_sql(s, schema_v2_sql, err);
	if (r >= 0)
		s->schema = SCHEMA_VERSION;
	return r;
}

static void sq_close(struct gl_store *gs)
{
	struct sqlite_store *s = to_sq(gs);

	if (s->in_txn)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	for (int i = 0; i < ST_N; i++)
		sqlite3_finalize(s->st[i]);
	sqlite3_close_v2(s->db);
	free(s);
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	to_sq(arg)->wal_frames = frames;
	return SQLITE_OK;
}

/* After a commit that left the WAL long: copy it into the database and
 * truncate it, if no other connection is in the way right now (no wait:
 * the next commit tries again). Failing to is not the caller's failure. */
static void checkpoint_long_wal(struct sqlite_store *s)
{
	int rc;

	if (s->wal_frames < WAL_CKPT_FRAMES)
		return;
	sqlite3_busy_handler(s->db, NULL, NULL);
	rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_handler(s->db, busy_handler, s);
	if (rc != SQLITE_OK)
		gl_debug("store %s: checkpoint of %d WAL frames put off: %s", s->path, s->wal_frames,
			 sqlite3_errstr(rc));
	s->wal_frames = 0;
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
	s->deadline = conf->deadline > 0 ? conf->deadline : gl_now_mono_ms() + DEFAULT_BUDGET_MS;
	sqlite3_busy_handler(s->db, busy_handler, s);
	old = umask(077);
	r = set_wal(s, err);
	/* NORMAL: no sync per commit (see the top of this file). */
	if (r >= 0)
		r = exec_sql(s, "PRAGMA synchronous = NORMAL", err);
	/* Ours replaces SQLite's automatic checkpoint. */
	sqlite3_wal_hook(s->db, wal_hook, s);
	if (r >= 0)
		r = read_schema(s, err);
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

/* The generation counter, inside a transaction. */
static int read_gen(struct sqlite_store *s, uint64_t *ret, struct gl_err *err)
{
	sqlite3_stmt *st;
	int rc, r = stmt(s, ST_GEN, &st, err);

	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return db_error(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, "generation", err);
	}
	*ret = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

static int sq_begin(struct gl_store *gs, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	sqlite3_stmt *st;
	int r;

	if (s->in_txn)
		return gl_err_set(err, GL_ERR_INTERNAL, "store: nested transaction");
	/* Parsing SQL is work the lock need not wait for. */
	for (int i = 0; s->schema == SCHEMA_VERSION && i < ST_N; i++) {
		r = stmt(s, i, &st, err);
		if (r < 0)
			return r;
	}
	r = exec_sql(s, "BEGIN IMMEDIATE", err);
	if (r < 0)
		return r;
	s->in_txn = true;
	s->wrote = false;
	r = ensure_schema(s, err);
	if (r >= 0)
		r = read_gen(s, &s->gen, err);
	if (r < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = false;
	}
	return r;
}

static int sq_commit(struct gl_store *gs, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	sqlite3_stmt *st;
	int r = 0, rc;

	if (s->wrote) {
		r = stmt(s, ST_BUMP, &st, err);
		if (r >= 0) {
			sqlite3_bind_int64(st, 1, (sqlite3_int64)(s->gen + 1));
			rc = step_done(st);
			if (rc != SQLITE_DONE)
				r = db_error(s, rc, "generation", err);
		}
	}
	if (r >= 0)
		r = exec_sql(s, "COMMIT", err);

	if (r < 0) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		s->in_txn = false;
		return r;
	}
	s->in_txn = false;
	checkpoint_long_wal(s);
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
	    col_str(st, 9, r->node, sizeof(r->node)) < 0 ||
	    col_str(st, 12, r->netns, sizeof(r->netns)) < 0 ||
	    col_str(st, 13, r->pod, sizeof(r->pod)) < 0 ||
	    col_str(st, 14, r->pod_uid, sizeof(r->pod_uid)) < 0)
		return -EBADMSG;
	r->pool = sqlite3_column_int(st, 1);
	r->pinned = sqlite3_column_int(st, 7) != 0;
	r->expires = sqlite3_column_type(st, 8) == SQLITE_NULL ? GL_RESV_NEVER
								: sqlite3_column_int64(st, 8);
	r->updated = sqlite3_column_int64(st, 10);
	snprintf(r->version, sizeof(r->version), "%lld", (long long)sqlite3_column_int64(st, 11));
	return 0;
}

/* A row read replaces the one with its address in ret when merge (the
 * rows changed since a snapshot), else it is appended. */
static int take_row(struct gl_resv_list *ret, const struct gl_resv *row, bool merge)
{
	for (size_t i = 0; merge && i < ret->n; i++)
		if (gl_ip_equal(&ret->v[i].ip, &row->ip) && strcmp(ret->v[i].network, row->network) == 0) {
			ret->v[i] = *row;
			return 0;
		}
	return gl_store_list_push(ret, row);
}

/* Every row st yields, into ret; *ret_rc is SQLite's last code. */
static int read_rows(struct sqlite_store *s, sqlite3_stmt *st, const bool *merge,
		     struct gl_resv_list *ret, int *ret_rc, struct gl_err *err)
{
	int rc, r = 0;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct gl_resv row;

		if (row_read(st, &row) < 0) {
			const unsigned char *ip = sqlite3_column_text(st, 2);

			r = gl_err_set(err, GL_ERR_STORE, "store %s: a reservation row is malformed (ip \"%.64s\")",
				       s->path, ip ? (const char *)ip : "");
			break;
		}
		r = take_row(ret, &row, merge && *merge);
		if (r < 0) {
			r = gl_err_set(err, GL_ERR_STORE, "store %s: %s", s->path,
				       r == -E2BIG ? "more than 100000 reservations in one scan" : "out of memory");
			break;
		}
	}
	*ret_rc = rc;
	if (r >= 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = db_error(s, rc, "scan", err);
	return r;
}

/* One pass over the rows; *ret_rc is SQLite's last code, for retries. */
static int scan_once(struct sqlite_store *s, const char *network, struct gl_resv_list *ret,
		     int *ret_rc, struct gl_err *err)
{
	sqlite3_stmt *st = NULL;
	const char *sql;
	int rc, r;

	/* A file no ADD has written to yet has no table: no rows. Another
	 * process may have made it since this one looked. */
	*ret_rc = SQLITE_OK;
	r = s->schema == 0 ? read_schema(s, err) : 0;
	if (r < 0 || s->schema == 0)
		return r;
	sql = s->schema >= 2 ?
		(network ? "SELECT " COLS_V2 " FROM reservations WHERE network = ?1" :
			   "SELECT " COLS_V2 " FROM reservations") :
		(network ? "SELECT " COLS_V1 " FROM reservations WHERE network = ?1" :
			   "SELECT " COLS_V1 " FROM reservations");
	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	*ret_rc = rc;
	if (rc != SQLITE_OK)
		return db_error(s, rc, "scan", err);
	if (network)
		sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
	r = read_rows(s, st, NULL, ret, ret_rc, err);
	sqlite3_finalize(st);
	return r;
}

static int sq_scan(struct gl_store *gs, const char *network, struct gl_resv_list *ret,
		   struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	size_t n0 = ret->n;

	/* Inside a transaction the snapshot is ours; outside (a plain read),
	 * a writer's moment with the WAL index may make us wait. */
	for (int attempt = 0;; attempt++) {
		struct gl_err e = {0};
		int rc, r = scan_once(s, network, ret, &rc, &e);

		if (r >= 0)
			return 0;
		ret->n = n0;
		if (s->in_txn || !retryable(rc) || gl_now_mono_ms() > s->deadline) {
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
	sqlite3_bind_text(st, 12, r->netns, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 13, r->pod, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 14, r->pod_uid, -1, SQLITE_STATIC);
}

/* The generation this transaction's writes carry (commit makes it the
 * counter's value). */
static sqlite3_int64 write_seq(struct sqlite_store *s)
{
	s->wrote = true;
	return (sqlite3_int64)(s->gen + 1);
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
	int rc, ret;

	gl_ip_str(&r->ip, ip, sizeof(ip));
	ret = stmt(s, ST_INSERT, &st, err);
	if (ret < 0)
		return ret;
	bind_row(st, r, ip);
	sqlite3_bind_int64(st, 15, write_seq(s));
	rc = step_done(st);
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
	rc = stmt(s, ST_UPDATE, &st, err);
	if (rc < 0)
		return rc;
	bind_row(st, r, ip);
	sqlite3_bind_int64(st, 15, write_seq(s));
	sqlite3_bind_int64(st, 16, v);
	rc = step_done(st);
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
	rc = stmt(s, ST_REMOVE, &st, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, r->network, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ip, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, v);
	s->wrote = true;
	rc = step_done(st);
	if (rc != SQLITE_DONE)
		return db_error(s, rc, "delete", err);
	if (sqlite3_changes(s->db) != 1)
		return -ESTALE;
	return 0;
}

/* Outside any transaction: one read transaction for the rows and the
 * generation they are at, retried (bounded) while a writer's moment with
 * the WAL index makes readers wait. */
static int snapshot_once(struct sqlite_store *s, const char *network, struct gl_resv_list *ret,
			 uint64_t *ret_token, int *ret_rc, struct gl_err *err)
{
	int r;

	*ret_rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
	if (*ret_rc != SQLITE_OK)
		return db_error(s, *ret_rc, "BEGIN", err);
	r = read_schema(s, err);
	*ret_token = 0;
	if (r >= 0)
		r = scan_once(s, network, ret, ret_rc, err);
	if (r >= 0 && s->schema == SCHEMA_VERSION)
		r = read_gen(s, ret_token, err);
	else if (r >= 0 && s->schema > 0)
		*ret_token = TOKEN_NONE;
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	return r;
}

static int sq_snapshot(struct gl_store *gs, const char *network, struct gl_resv_list *ret,
		       uint64_t *ret_token, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	size_t n0 = ret->n;

	if (s->in_txn)
		return gl_err_set(err, GL_ERR_INTERNAL, "store: snapshot inside a transaction");
	for (int attempt = 0;; attempt++) {
		struct gl_err e = {0};
		int rc, r = snapshot_once(s, network, ret, ret_token, &rc, &e);

		if (r >= 0)
			return 0;
		ret->n = n0;
		if (!retryable(rc) || gl_now_mono_ms() > s->deadline) {
			if (err && !err->code)
				*err = e;
			return r;
		}
		backoff(s, attempt);
	}
}

static int count_rows(struct sqlite_store *s, const char *network, size_t *ret, struct gl_err *err)
{
	sqlite3_stmt *st;
	int rc, r = stmt(s, ST_COUNT, &st, err);

	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_error(s, rc, "count", err);
}

/* Inside the lock: the rows written since token replace or join theirs. A
 * row removed since leaves no trace but the count, and then the whole
 * network is read again. */
static int sq_refresh(struct gl_store *gs, const char *network, uint64_t token,
		      struct gl_resv_list *rows, bool *ret_changed, struct gl_err *err)
{
	struct sqlite_store *s = to_sq(gs);
	bool merge = true;
	sqlite3_stmt *st;
	size_t n = 0;
	int rc, r;

	if (!s->in_txn || !network)
		return gl_err_set(err, GL_ERR_INTERNAL, "store: refresh outside a transaction");
	if (token == s->gen) {
		*ret_changed = false;
		return 0;
	}
	*ret_changed = true;
	if (token != TOKEN_NONE && token < s->gen) {
		r = stmt(s, ST_DELTA, &st, err);
		if (r < 0)
			return r;
		sqlite3_bind_text(st, 1, network, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (sqlite3_int64)token);
		r = read_rows(s, st, &merge, rows, &rc, err);
		sqlite3_reset(st);
		if (r < 0)
			return r;
		r = count_rows(s, network, &n, err);
		if (r < 0)
			return r;
		if (n == rows->n)
			return 0;
	}
	rows->n = 0;
	return sq_scan(gs, network, rows, err);
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
	.snapshot = sq_snapshot,
	.refresh = sq_refresh,
};
