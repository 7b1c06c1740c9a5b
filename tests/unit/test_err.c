/* lib/base/err: the first cause's real errno survives every layer, and
 * context can be put in front of a message that is its own argument.
 * Messages are valid UTF-8 whatever the input (lib/base/utf8): cut on a
 * character boundary wherever the cut falls, raw bytes escaped, and the CNI
 * error JSON built from them re-parses with UTF-8 validation. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "base/err.h"
#include "base/json.h"
#include "base/utf8.h"
#include "cni/cni.h"

/* Multi-byte text: 2-, 3- and 4-byte characters. */
#define MB "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"

static void assert_utf8(const char *s)
{
	size_t bad = 0;

	if (!gl_utf8_valid(s, strlen(s), &bad))
		fail_msg("not UTF-8 at byte %zu: \"%s\"", bad, s);
}

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

static void test_utf8_char_len(void **state)
{
	static const struct { const char *s; size_t len; } cases[] = {
		{ "a", 1 }, { "\xc3\xa9", 2 }, { "\xe2\x82\xac", 3 }, { "\xf0\x9f\x98\x80", 4 },
		{ "\xf4\x8f\xbf\xbf", 4 },  /* U+10FFFF */
		{ "\xc0\x80", 0 }, { "\xc1\xbf", 0 }, { "\xe0\x80\x80", 0 },  /* overlong */
		{ "\xf0\x80\x80\x80", 0 }, { "\xed\xa0\x80", 0 },  /* overlong, surrogate */
		{ "\xf4\x90\x80\x80", 0 }, { "\xf5\x80\x80\x80", 0 }, { "\xff", 0 },
		{ "\x80", 0 }, { "\xc3", 0 }, { "\xe2\x82", 0 }, { "\xc3(", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(gl_utf8_char_len(cases[i].s, strlen(cases[i].s)), cases[i].len);
}

/* "%.8s" of user input cuts at every byte of a multi-byte character in turn:
 * the message holds the longest whole-character prefix, nothing escaped. */
static void test_precision_cut_every_position(void **state)
{
	for (size_t j = 0; j <= 9; j++) {
		char in[64], want[64];
		struct gl_err err = { 0 };
		size_t n;

		memset(in, 'a', j);
		strcpy(in + j, MB MB);
		n = gl_utf8_cut(in, 8);
		assert_true(n <= 8 && n >= 5);
		memcpy(want, in, n);
		want[n] = '\0';
		gl_err_set(&err, GL_ERR_INVALID_CONFIG, "id \"%.8s\" is bad (%d)", in, 7);
		assert_utf8(err.msg);
		assert_true(strncmp(err.msg, "id \"", 4) == 0);
		assert_memory_equal(err.msg + 4, want, n);
		assert_string_equal(err.msg + 4 + n, "\" is bad (7)");
		/* Flags and width survive the lowered precision. */
		gl_err_reset(&err, GL_ERR_INVALID_CONFIG, "[%-10.8s]", in);
		assert_utf8(err.msg);
		assert_int_equal(strlen(err.msg), 12);
		assert_memory_equal(err.msg + 1, want, n);
	}
}

/* The message buffer's own limit cuts on a character boundary too, for
 * gl_err_set, gl_err_prefix and gl_err_details, wherever the cut falls. */
static void test_buffer_cut_every_position(void **state)
{
	char big[GL_ERR_DETAILS_MAX * 2];

	for (size_t j = 0; j < 4; j++) {
		struct gl_err err = { 0 };
		size_t o = j;

		memset(big, 'a', j);
		while (o + 9 < sizeof(big)) {
			memcpy(big + o, MB, 9);
			o += 9;
		}
		big[o] = '\0';
		gl_err_set(&err, GL_ERR_IO, "%s", big);
		assert_utf8(err.msg);
		assert_true(strlen(err.msg) >= GL_ERR_MSG_MAX - 4 && strlen(err.msg) < GL_ERR_MSG_MAX);
		assert_memory_equal(err.msg, big, strlen(err.msg));
		for (size_t k = 0; k < 4; k++) {
			char head[8] = "xxx";

			head[k] = '\0';
			gl_err_prefix(&err, "%s" MB, head);
			assert_utf8(err.msg);
			assert_true(strlen(err.msg) >= GL_ERR_MSG_MAX - 4);
		}
		for (size_t k = 0; k < 6; k++) {
			gl_err_details(&err, "%.*s%s", (int)k, "bbbbb", big);
			assert_utf8(err.details);
		}
		assert_true(strlen(err.details) >= GL_ERR_DETAILS_MAX - 8);
	}
}

/* Bytes of the input that are not UTF-8 are escaped, never copied. */
static void test_raw_bytes_escaped(void **state)
{
	struct gl_err err = { 0 };

	gl_err_set(&err, GL_ERR_INVALID_ENV, "CNI_IFNAME \"%s\"", "e\xff\xc3(\xed\xa0\x80" MB);
	assert_string_equal(err.msg, "CNI_IFNAME \"e\\xff\\xc3(\\xed\\xa0\\x80" MB "\"");
	/* An input that ends inside a character was not cut by us: escaped. */
	gl_err_reset(&err, GL_ERR_INVALID_ENV, "[%.8s]", "abc\xe2\x82");
	assert_string_equal(err.msg, "[abc\\xe2\\x82]");
	gl_err_details(&err, "d\xfe");
	assert_string_equal(err.details, "d\\xfe");
	/* Escaping grows the text; the limit still holds. */
	{
		char bad[GL_ERR_MSG_MAX];

		memset(bad, 0xff, sizeof(bad) - 1);
		bad[sizeof(bad) - 1] = '\0';
		gl_err_reset(&err, GL_ERR_IO, "%s", bad);
		assert_utf8(err.msg);
		assert_int_equal(strlen(err.msg) % 4, 0);
		assert_true(strlen(err.msg) >= GL_ERR_MSG_MAX - 4);
	}
}

/* gl_cni_error_to_json of any message re-parses as strict UTF-8 JSON. */
static void test_error_json_reparses(void **state)
{
	const char *inputs[] = { MB MB MB, "raw \xff\xfe", "cut \xe2\x82", "nul\x01\x1f\"\\" };

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		for (size_t j = 0; j < 4; j++) {
			struct gl_err err = { 0 }, perr = { 0 };
			_cleanup_json_ json_object *o = NULL, *back = NULL;
			char *s;
			const char *msg = NULL;

			gl_err_set(&err, GL_ERR_DECODE, "%.*s|%.5s", (int)j, "xyz", inputs[i]);
			gl_err_details(&err, "%s", inputs[i]);
			/* A message written around gl_err (by hand) is made valid too. */
			if (j == 3)
				strcpy(err.msg, "hand \xc3");
			o = gl_cni_error_to_json(&err, "1.1.0");
			assert_non_null(o);
			s = gl_json_dump(o);
			assert_non_null(s);
			assert_utf8(s);
			assert_int_equal(gl_json_parse_object(s, strlen(s), &back, &perr), 0);
			assert_int_equal(gl_json_get_str(back, NULL, "msg", &msg, NULL), 1);
			assert_utf8(msg);
			free(s);
		}
	}
}

/* Invalid UTF-8 in a JSON document is a decode error naming the byte. */
static void test_json_rejects_bad_utf8(void **state)
{
	static const char *bad[] = {
		"{\"a\":\"\xff\"}", "{\"a\":\"\xc0\x80\"}", "{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xe2\x82\"}", "{\"\xf5\x80\x80\x80\":1}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct gl_err err = { 0 };
		json_object *o = NULL;

		assert_int_equal(gl_json_parse_object(bad[i], strlen(bad[i]), &o, &err), -EBADMSG);
		assert_null(o);
		assert_int_equal(err.code, GL_ERR_DECODE);
		assert_non_null(strstr(err.msg, "invalid UTF-8 at byte"));
	}
	{
		struct gl_err err = { 0 };
		_cleanup_json_ json_object *o = NULL;
		const char *ok = "{\"a\":\"" MB "\"}";

		assert_int_equal(gl_json_parse_object(ok, strlen(ok), &o, &err), 0);
	}
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
		cmocka_unit_test(test_utf8_char_len),
		cmocka_unit_test(test_precision_cut_every_position),
		cmocka_unit_test(test_buffer_cut_every_position),
		cmocka_unit_test(test_raw_bytes_escaped),
		cmocka_unit_test(test_error_json_reparses),
		cmocka_unit_test(test_json_rejects_bad_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
