/* lib/base/err: the first cause's real errno survives every layer, and
 * context can be put in front of a message that is its own argument. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "base/err.h"

/* A lower layer that fails with a real errno, as netlink would. */
static int lower(struct gl_err *err, int r)
{
	return gl_err_from(err, r, GL_ERR_NETLINK, "creating macvlan on eth9: %s", strerror(-r));
}

static void test_from_keeps_errno(void **state)
{
	struct gl_err err = { 0 };

	/* Before: gl_err_set returned -EIO for GL_ERR_NETLINK whatever the cause. */
	assert_int_equal(lower(&err, -EEXIST), -EEXIST);
	assert_int_equal(err.code, GL_ERR_NETLINK);
	assert_int_equal(err.errnum, -EEXIST);
	assert_string_equal(err.msg, "creating macvlan on eth9: File exists");
}

static void test_first_cause_wins(void **state)
{
	struct gl_err err = { 0 };
	int r;

	r = lower(&err, -ENODEV);
	/* An upper layer adds its own code and message: the cause is kept. */
	r = gl_err_set(&err, GL_ERR_INTERNAL, "ADD failed");
	assert_int_equal(r, -ENODEV);
	r = gl_err_from(&err, -EPERM, GL_ERR_IO, "again");
	assert_int_equal(r, -ENODEV);
	assert_int_equal(err.code, GL_ERR_NETLINK);
	assert_string_equal(err.msg, "creating macvlan on eth9: No such device");
}

static void test_set_without_cause(void **state)
{
	struct gl_err err = { 0 };

	assert_int_equal(gl_err_set(&err, GL_ERR_INVALID_CONFIG, "bad mtu"), -EINVAL);
	assert_int_equal(err.errnum, -EINVAL);
	assert_int_equal(gl_err_set(NULL, GL_ERR_POOL_EXHAUSTED, "x"), -ENOSPC);
	/* A non-negative "cause" is no cause: -EIO, never success. */
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_err_from(&err, 0, GL_ERR_STORE, "odd"), -EIO);
	assert_int_equal(gl_err_from(NULL, -EAGAIN, GL_ERR_STORE, "busy"), -EAGAIN);
}

static void test_reset_overwrites(void **state)
{
	struct gl_err err = { 0 };

	lower(&err, -ENODEV);
	assert_int_equal(gl_err_reset(&err, GL_ERR_NOT_AVAILABLE, "master: %s", err.msg), -EBUSY);
	/* Its own message as an argument is read before it is written. */
	assert_string_equal(err.msg, "master: creating macvlan on eth9: No such device");
	assert_int_equal(err.code, GL_ERR_NOT_AVAILABLE);
}

static void test_prefix(void **state)
{
	struct gl_err err = { 0 };

	lower(&err, -ENODEV);
	gl_err_prefix(&err, "master link unusable: ");
	assert_string_equal(err.msg, "master link unusable: creating macvlan on eth9: No such device");
	assert_int_equal(err.errnum, -ENODEV);
	assert_int_equal(err.code, GL_ERR_NETLINK);
	gl_err_prefix(NULL, "nothing");
}

static void test_prefix_bounded(void **state)
{
	struct gl_err err = { 0 };
	char big[GL_ERR_MSG_MAX * 2];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	gl_err_set(&err, GL_ERR_IO, "%s", big);
	assert_int_equal(strlen(err.msg), GL_ERR_MSG_MAX - 1);
	gl_err_prefix(&err, "%s", big);
	assert_int_equal(strlen(err.msg), GL_ERR_MSG_MAX - 1);
}

static void test_details(void **state)
{
	struct gl_err err = { 0 };

	gl_err_details(&err, "one");
	gl_err_details(&err, "two %d", 2);
	assert_string_equal(err.details, "one; two 2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_keeps_errno),
		cmocka_unit_test(test_first_cause_wins),
		cmocka_unit_test(test_set_without_cause),
		cmocka_unit_test(test_reset_overwrites),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_prefix_bounded),
		cmocka_unit_test(test_details),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
