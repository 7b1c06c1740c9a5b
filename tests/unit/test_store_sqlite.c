/* The SQLite store's WAL stays short across processes: each CNI call is a
 * new connection that rebuilds the WAL index from every valid frame, and
 * how far a checkpoint got is not known to the next connection, so only a
 * checkpoint that truncates the WAL bounds what the next call reads. A
 * reader in the way puts the checkpoint off without making a commit wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ipam/store.h"
#include "base/util.h"
#include "unit.h"

#define T0 1700000000000LL
/* store_sqlite.c's WAL_CKPT_FRAMES, plus one commit's frames, in bytes
 * (a 32-byte header, then 24 + 4096 bytes a frame). */
#define WAL_MAX_BYTES (32 + (128 + 16) * (24 + 4096))

static char tmpdir[64];
static char db[128];
static char wal[140];

static int setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gl-test-sqlite.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(db, sizeof(db), "%s/ipam.db", tmpdir);
	snprintf(wal, sizeof(wal), "%s-wal", db);
	return 0;
}

static int teardown(void **state)
{
	char p[160];

	unlink(db);
	unlink(wal);
	snprintf(p, sizeof(p), "%s-shm", db);
	unlink(p);
	rmdir(tmpdir);
	return 0;
}

static off_t wal_size(void)
{
	struct stat st;

	assert_int_equal(stat(wal, &st), 0);
	return st.st_size;
}

/* One CNI call's write: its own connection, one transaction, closed. */
static void one_call(int i)
{
	struct gl_store_conf sc = { .type = "sqlite", .path = db, .create = true };
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	struct gl_resv r;
	char ip[32];

	memset(&r, 0, sizeof(r));
	strcpy(r.network, "lan");
	snprintf(ip, sizeof(ip), "10.0.%d.%d", i / 250, i % 250 + 1);
	r.ip = ip_of(ip);
	snprintf(r.identity, sizeof(r.identity), "games/gs-%d", i);
	strcpy(r.ifname, "eth0");
	snprintf(r.container_id, sizeof(r.container_id), "c%d", i);
	r.state = GL_RESV_BOUND;
	r.expires = GL_RESV_NEVER;
	r.updated = T0 + i;
	if (gl_store_open(&sc, &s, &err) < 0)
		fail_msg("open: %s", err.msg);
	assert_int_equal(s->ops->begin(s, &err), 0);
	assert_int_equal(s->ops->insert(s, &r, &err), 0);
	assert_int_equal(s->ops->commit(s, &err), 0);
	gl_store_close(s);
}

static size_t rows(void)
{
	struct gl_store_conf sc = { .type = "sqlite", .path = db };
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	struct gl_resv_list l = {0};
	size_t n;

	assert_int_equal(gl_store_open(&sc, &s, &err), 0);
	assert_int_equal(s->ops->scan(s, "lan", &l, &err), 0);
	n = l.n;
	gl_store_list_free(&l);
	gl_store_close(s);
	return n;
}

static void test_wal_stays_short(void **state)
{
	off_t most = 0;

	for (int i = 0; i < 400; i++) {
		one_call(i);
		if (wal_size() > most)
			most = wal_size();
	}
	/* 400 commits of about 4 frames each: 1600 frames (6.5 MB) unbounded. */
	if (most > WAL_MAX_BYTES)
		fail_msg("the WAL grew to %lld bytes (bound %d)", (long long)most, WAL_MAX_BYTES);
	assert_int_equal(rows(), 400);
}

static void test_reader_puts_checkpoint_off(void **state)
{
	sqlite3 *reader = NULL;
	sqlite3_stmt *st = NULL;
	int64_t t;
	int i = 1000;

	/* A connection in a read transaction (an admin's `list`, say). */
	assert_int_equal(sqlite3_open_v2(db, &reader, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(reader, "SELECT count(*) FROM reservations", -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	t = gl_now_mono_ms();
	for (; i < 1300; i++)
		one_call(i);
	/* No commit waited for it (a wait would be until the 60 s deadline). */
	assert_true(gl_now_mono_ms() - t < 30000);
	assert_true(wal_size() > WAL_MAX_BYTES);
	sqlite3_finalize(st);
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	/* The next commit after it has gone does the checkpoint. */
	one_call(i);
	assert_int_equal(wal_size(), 0);
	assert_int_equal(rows(), 400 + 300 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wal_stays_short),
		cmocka_unit_test(test_reader_puts_checkpoint_off),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
