/* lib/seen.c: the "recently verified" records, in a temp dir per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "net/seen.h"

#define MIN5 (5 * 60 * 1000LL)

struct tmp {
	char dir[64];
};

static int setup(void **state)
{
	struct tmp *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/gl-seen.XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

static void rm_rf(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		while (d && (e = readdir(d))) {
			char sub[PATH_MAX];

			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		if (d)
			closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int teardown(void **state)
{
	struct tmp *t = *state;

	rm_rf(t->dir);
	free(t);
	return 0;
}

static const char *dir_of(void **state)
{
	return ((struct tmp *)*state)->dir;
}

static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_record_recent(void **state)
{
	const char *dir = dir_of(state);
	char path[PATH_MAX], buf[64];
	struct stat st;
	int fd;
	ssize_t n;

	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));
	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/dst-0"), 0);
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));

	/* Laid out as dir/network/ip, holding the identity and a newline. */
	snprintf(path, sizeof(path), "%s/lan/192.168.1.200", dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	assert_int_equal(n, strlen("games/dst-0\n"));
	assert_memory_equal(buf, "games/dst-0\n", (size_t)n);

	/* Other addresses and networks are unknown. */
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.201", "games/dst-0", MIN5));
	assert_false(gl_seen_recent(dir, "lan2", "192.168.1.200", "games/dst-0", MIN5));
	/* Recording again refreshes; no temp files are left behind. */
	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/dst-0"), 0);
	snprintf(path, sizeof(path), "%s/lan", dir);
	assert_int_equal(count_entries(path), 1);
	assert_int_equal(stat(path, &st), 0);

	/* IPv6 addresses are names too. */
	assert_int_equal(gl_seen_record(dir, "lan", "2001:db8::c8", "games/dst-0"), 0);
	assert_true(gl_seen_recent(dir, "lan", "2001:db8::c8", "games/dst-0", MIN5));
}

static void test_modes(void **state)
{
	char base[PATH_MAX / 2], path[PATH_MAX];
	struct stat st;
	mode_t old = umask(0);

	/* A state dir that does not exist yet is created 0700, whatever the
	 * umask; the network level too; the record is 0600. */
	snprintf(base, sizeof(base), "%s/state", dir_of(state));
	assert_int_equal(gl_seen_record(base, "lan", "192.168.1.200", "games/dst-0"), 0);
	umask(old);
	assert_int_equal(stat(base, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/lan", base);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(path, sizeof(path), "%s/lan/192.168.1.200", base);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

static void test_identity_mismatch(void **state)
{
	const char *dir = dir_of(state);

	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/dst-0"), 0);
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-1", MIN5));
	/* Prefixes and extensions of the identity do not match either. */
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-", MIN5));
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-00", MIN5));
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "", MIN5));
	/* A new holder replaces the old one. */
	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/other"), 0);
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", "games/other", MIN5));
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));
}

static void set_age(const char *path, time_t seconds_ago)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= seconds_ago;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_old_record(void **state)
{
	const char *dir = dir_of(state);
	char path[PATH_MAX];

	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/dst-0"), 0);
	snprintf(path, sizeof(path), "%s/lan/192.168.1.200", dir);

	set_age(path, 10 * 60);
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));
	/* ...but within a longer window it still counts. */
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", 11 * 60 * 1000LL));
	set_age(path, 4 * 60);
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));
	/* A window of 0 means "never recent enough" once any time passed. */
	set_age(path, 1);
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", 0));
	/* Recording again makes it fresh. */
	set_age(path, 3600);
	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/dst-0"), 0);
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));
}

static void test_traversal(void **state)
{
	const char *dir = dir_of(state);
	char victim[PATH_MAX], rel[PATH_MAX];
	static const char *const bad[] = { "", ".", "..", "../x", "a/b", "/abs", ".hidden", "x/../..", "a/" };
	struct stat st;

	/* A file next to the state dir that an escaping name would reach. */
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	{
		FILE *f = fopen(victim, "w");

		assert_non_null(f);
		fputs("keep\n", f);
		fclose(f);
	}
	snprintf(rel, sizeof(rel), "%s/state", dir);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("name \"%s\"\n", bad[i]);
		assert_int_equal(gl_seen_record(rel, bad[i], "192.168.1.200", "x"), -EINVAL);
		assert_int_equal(gl_seen_record(rel, "lan", bad[i], "x"), -EINVAL);
		assert_false(gl_seen_recent(rel, bad[i], "192.168.1.200", "x", MIN5));
		assert_false(gl_seen_recent(rel, "lan", bad[i], "x", MIN5));
	}
	/* "../victim" from state/lan would be dir/victim. */
	assert_int_equal(gl_seen_record(rel, "..", "victim", "x"), -EINVAL);
	assert_int_equal(gl_seen_record(rel, "lan", "../../victim", "x"), -EINVAL);
	assert_int_equal(stat(victim, &st), 0);

	/* The dir itself must be absolute and free of "..". */
	assert_int_equal(gl_seen_record("relative/dir", "lan", "192.168.1.200", "x"), -EINVAL);
	snprintf(rel, sizeof(rel), "%s/state/..", dir);
	assert_int_equal(gl_seen_record(rel, "lan", "192.168.1.200", "x"), -EINVAL);
	snprintf(rel, sizeof(rel), "%s/../%s", dir, strrchr(dir, '/') + 1);
	assert_int_equal(gl_seen_record(rel, "lan", "192.168.1.200", "x"), -EINVAL);
	assert_false(gl_seen_recent(rel, "lan", "192.168.1.200", "x", MIN5));
	/* Nothing was created by any of the refused calls. */
	snprintf(rel, sizeof(rel), "%s/state", dir);
	assert_int_equal(stat(rel, &st), -1);
	assert_int_equal(count_entries(dir), 1);
}

static void test_no_symlink_follow(void **state)
{
	const char *dir = dir_of(state);
	char target[PATH_MAX], link[PATH_MAX], lan[PATH_MAX];
	FILE *f;

	/* A record planted as a symlink to a file holding the identity must
	 * not count: the record is ours only if it is a plain file. */
	snprintf(target, sizeof(target), "%s/planted", dir);
	f = fopen(target, "w");
	assert_non_null(f);
	fputs("games/dst-0\n", f);
	fclose(f);
	snprintf(lan, sizeof(lan), "%s/lan", dir);
	assert_int_equal(mkdir(lan, 0700), 0);
	snprintf(link, sizeof(link), "%s/lan/192.168.1.200", dir);
	assert_int_equal(symlink(target, link), 0);
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", "games/dst-0", MIN5));
	/* Recording replaces the link (rename over it) rather than writing
	 * through it into the target. */
	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", "games/other"), 0);
	f = fopen(target, "r");
	assert_non_null(f);
	{
		char buf[64] = "";

		assert_non_null(fgets(buf, sizeof(buf), f));
		assert_string_equal(buf, "games/dst-0\n");
	}
	fclose(f);
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", "games/other", MIN5));
}

static void test_long_identity(void **state)
{
	const char *dir = dir_of(state);
	char id[512];

	/* The longest identity the CNI layer allows (511 characters). */
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	assert_int_equal(gl_seen_record(dir, "lan", "192.168.1.200", id), 0);
	assert_true(gl_seen_recent(dir, "lan", "192.168.1.200", id, MIN5));
	id[510] = 'y';
	assert_false(gl_seen_recent(dir, "lan", "192.168.1.200", id, MIN5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_record_recent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traversal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_symlink_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_identity, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
