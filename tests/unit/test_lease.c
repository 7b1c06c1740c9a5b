/* lib/kube/lease.c, the pure part: gl_lease_decide / gl_lease_settle driven
 * by a fake clock (ms on the monotonic clock, µs on the wall clock), the
 * config checks, the record's JSON both ways. No server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "kube/lease.h"

/* 2026-12-04T10:00:00Z */
#define WALL0 INT64_C(1796378400000000)

static struct gl_lease_config cfg_default(void)
{
	struct gl_lease_config c;

	assert_int_equal(gl_lease_config_check(NULL, &c, NULL), 0);
	return c;
}

static struct gl_lease_record rec_of(const char *holder, int32_t dur, const char *acq,
				     const char *renew, int32_t transitions)
{
	struct gl_lease_record r = { .duration_s = dur, .transitions = transitions };

	snprintf(r.holder, sizeof(r.holder), "%s", holder);
	snprintf(r.acquire_time, sizeof(r.acquire_time), "%s", acq);
	snprintf(r.renew_time, sizeof(r.renew_time), "%s", renew);
	return r;
}

/* A remote holder "b" that renewed at some (remote) time text. */
static struct gl_lease_record other(const char *renew)
{
	return rec_of("b", 15, "2026-12-04T09:00:00.000000Z", renew, 3);
}

static void test_config(void **state)
{
	struct gl_lease_config c, in;
	struct gl_err err = { 0 };

	c = cfg_default();
	assert_int_equal(c.lease_duration_ms, 15000);
	assert_int_equal(c.renew_deadline_ms, 10000);
	assert_int_equal(c.retry_period_ms, 2000);
	assert_false(c.release_on_stop);

	in = (struct gl_lease_config){ 2000, 1500, 300, true };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), 0);
	assert_int_equal(c.lease_duration_ms, 2000);
	assert_true(c.release_on_stop);

	/* duration > deadline */
	in = (struct gl_lease_config){ 10000, 10000, 2000, false };
	assert_int_equal(gl_lease_config_check(&in, &c, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "renew deadline"));
	/* deadline > retry * 1.2: 1200 = 1000 * 1.2 is refused, 1201 taken */
	in = (struct gl_lease_config){ 2000, 1200, 1000, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
	in.renew_deadline_ms = 1201;
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), 0);
	/* whole seconds, positive */
	in = (struct gl_lease_config){ 2500, 1500, 300, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
	in = (struct gl_lease_config){ 15000, -1, 2000, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
	in = (struct gl_lease_config){ 15000, 10000, -5, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
	/* a retry too large to multiply: refused, not overflowed */
	in = (struct gl_lease_config){ 15000, 10000, INT64_MAX, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
	in = (struct gl_lease_config){ 15000, 10000, INT64_MAX / 5, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
	/* zero fields are defaults: 15 s / 10 s with a 9 s retry is too slow */
	in = (struct gl_lease_config){ 0, 0, 9000, false };
	assert_int_equal(gl_lease_config_check(&in, &c, NULL), -EINVAL);
}

static void test_time_str(void **state)
{
	char t[GL_LEASE_TIME_MAX];

	gl_lease_time_str(WALL0 + 123456, t);
	assert_string_equal(t, "2026-12-04T10:00:00.123456Z");
	gl_lease_time_str(WALL0 + 1, t);
	assert_string_equal(t, "2026-12-04T10:00:00.000001Z");
	gl_lease_time_str(-5, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
	gl_lease_time_str(INT64_MAX, t);
	assert_string_equal(t, "9999-12-31T23:59:59.999999Z");
}

static void test_no_lease_creates(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record next;

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, NULL, 1000, WALL0, &next), GL_LEASE_CREATE);
	assert_string_equal(next.holder, "a");
	assert_int_equal(next.duration_s, 15);
	assert_string_equal(next.acquire_time, "2026-12-04T10:00:00.000000Z");
	assert_string_equal(next.renew_time, "2026-12-04T10:00:00.000000Z");
	assert_int_equal(next.transitions, 0);
	assert_false(st.observed_valid);
	assert_false(st.leading);

	/* The create succeeded: leader from the round's start. */
	assert_int_equal(gl_lease_settle(&c, &st, &next, 1000, 1050), GL_LEASE_STARTED);
	assert_true(st.leading);
	assert_int_equal(st.renewed_ms, 1000);
	assert_int_equal(st.observed_ms, 1000);
	assert_true(gl_lease_state_leading(&c, &st, 1050));
}

static void test_identity(void **state)
{
	struct gl_lease_state st;
	char big[GL_LEASE_IDENTITY_MAX + 1];

	assert_int_equal(gl_lease_state_init(&st, ""), -EINVAL);
	assert_int_equal(gl_lease_state_init(&st, NULL), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(gl_lease_state_init(&st, big), -ENAMETOOLONG);
	big[GL_LEASE_IDENTITY_MAX - 1] = '\0';
	assert_int_equal(gl_lease_state_init(&st, big), 0);
}

/* Held by b: we wait a full duration from when WE first saw the record,
 * whatever its times say, then take it over. */
static void test_not_expired_then_expired(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record cur = other("2026-12-04T09:59:59.000000Z"), next;

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 5000, WALL0, &next), GL_LEASE_WAIT);
	assert_true(st.observed_valid);
	assert_int_equal(st.observed_ms, 5000);
	for (int64_t t = 5000; t < 20000; t += 2000)
		assert_int_equal(gl_lease_decide(&c, &st, &cur, t, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 19999, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(st.observed_ms, 5000);
	assert_int_equal(gl_lease_settle(&c, &st, NULL, 19999, 19999), GL_LEASE_SAME);
	assert_false(st.leading);

	assert_int_equal(gl_lease_decide(&c, &st, &cur, 20000, WALL0 + 7, &next), GL_LEASE_TAKEOVER);
	assert_string_equal(next.holder, "a");
	assert_int_equal(next.duration_s, 15);
	assert_string_equal(next.acquire_time, "2026-12-04T10:00:00.000007Z");
	assert_string_equal(next.renew_time, "2026-12-04T10:00:00.000007Z");
	assert_int_equal(next.transitions, 4);
	assert_int_equal(gl_lease_settle(&c, &st, &next, 20000, 20100), GL_LEASE_STARTED);
}

/* The expiry is the record's leaseDurationSeconds (the one the holder
 * promised), not our own config: client-go's rule. */
static void test_duration_from_record(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record cur = other("x"), next;

	cur.duration_s = 60;
	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 0, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 59999, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 60000, WALL0, &next), GL_LEASE_TAKEOVER);
	/* Our own writes carry our duration. */
	assert_int_equal(next.duration_s, 15);

	/* No duration at all: nothing binds us (client-go reads it as 0). */
	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	cur.duration_s = 0;
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 0, WALL0, &next), GL_LEASE_TAKEOVER);
}

static void test_empty_holder(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record cur = other("x"), next;

	cur.holder[0] = '\0';
	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	/* Seen this very instant, still free: taken at once. */
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 100, WALL0, &next), GL_LEASE_TAKEOVER);
	assert_int_equal(next.transitions, 4);
}

/* Our own lease: renewed with a new renewTime, acquireTime and the
 * transitions kept, even when we have not seen it for long. */
static void test_my_own_lease(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record cur = rec_of("a", 15, "2026-12-04T08:00:00.000001Z",
					    "2026-12-04T09:59:58.000000Z", 7), next;

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 0, WALL0 + 5, &next), GL_LEASE_RENEW);
	assert_string_equal(next.acquire_time, "2026-12-04T08:00:00.000001Z");
	assert_string_equal(next.renew_time, "2026-12-04T10:00:00.000005Z");
	assert_int_equal(next.transitions, 7);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 999999, WALL0, &next), GL_LEASE_RENEW);
	assert_int_equal(next.transitions, 7);
	assert_int_equal(gl_lease_settle(&c, &st, &next, 999999, 999999), GL_LEASE_STARTED);

	/* An absent acquireTime stays absent. */
	cur.acquire_time[0] = '\0';
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 1000000, WALL0, &next), GL_LEASE_RENEW);
	assert_string_equal(next.acquire_time, "");
}

/* A holder that keeps renewing keeps resetting our observed time: however
 * long it goes on, we never take over; once it stops, we take over exactly
 * one duration after the last change we saw. Any field counts. */
static void test_changing_record_resets(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record cur, next;
	char renew[GL_LEASE_TIME_MAX];
	int64_t t, last_change = 0;

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	for (t = 0; t <= 120000; t += 2000) {
		if (t % 10000 == 0) {
			snprintf(renew, sizeof(renew), "2026-12-04T10:%02d:%02d.000000Z", (int)(t / 60000),
				 (int)(t / 1000 % 60));
			cur = other(renew);
			last_change = t;
		}
		assert_int_equal(gl_lease_decide(&c, &st, &cur, t, WALL0, &next), GL_LEASE_WAIT);
		assert_int_equal(st.observed_ms, last_change);
	}
	assert_int_equal(last_change, 120000);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 134999, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 135000, WALL0, &next), GL_LEASE_TAKEOVER);

	/* Each field alone is a change. */
	for (int f = 0; f < 5; f++) {
		struct gl_lease_record x = other("r");

		assert_int_equal(gl_lease_state_init(&st, "a"), 0);
		assert_int_equal(gl_lease_decide(&c, &st, &x, 0, WALL0, &next), GL_LEASE_WAIT);
		switch (f) {
		case 0: snprintf(x.holder, sizeof(x.holder), "c"); break;
		case 1: x.duration_s = 16; break;
		case 2: x.acquire_time[0] = '\0'; break;
		case 3: snprintf(x.renew_time, sizeof(x.renew_time), "s"); break;
		case 4: x.transitions++; break;
		}
		assert_int_equal(gl_lease_decide(&c, &st, &x, 14000, WALL0, &next), GL_LEASE_WAIT);
		assert_int_equal(st.observed_ms, 14000);
		assert_int_equal(gl_lease_decide(&c, &st, &x, 28999, WALL0, &next), GL_LEASE_WAIT);
		assert_int_equal(gl_lease_decide(&c, &st, &x, 29000 + (f == 1 ? 1000 : 0), WALL0, &next),
				 GL_LEASE_TAKEOVER);
	}
}

/* Remote times far in the future or the past, or our wall clock far off,
 * change no decision: only our monotonic clock counts. */
static void test_clock_skew(void **state)
{
	static const char *const renews[] = { "2999-01-01T00:00:00.000000Z",
					      "1970-01-01T00:00:01.000000Z",
					      "2026-12-04T10:00:00.000000Z", "garbage" };
	static const int64_t walls[] = { 0, WALL0, WALL0 * 2 };
	struct gl_lease_config c = cfg_default();

	for (size_t i = 0; i < sizeof(renews) / sizeof(renews[0]); i++) {
		for (size_t w = 0; w < sizeof(walls) / sizeof(walls[0]); w++) {
			struct gl_lease_record cur = other(renews[i]), next;
			struct gl_lease_state st;

			assert_int_equal(gl_lease_state_init(&st, "a"), 0);
			assert_int_equal(gl_lease_decide(&c, &st, &cur, 1000, walls[w], &next), GL_LEASE_WAIT);
			assert_int_equal(gl_lease_decide(&c, &st, &cur, 15999, walls[w], &next), GL_LEASE_WAIT);
			assert_int_equal(gl_lease_decide(&c, &st, &cur, 16000, walls[w], &next),
					 GL_LEASE_TAKEOVER);
		}
	}
}

/* a -> b -> a: every change of holder counts once, a renewal never. */
static void test_transitions(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state a, b;
	struct gl_lease_record server, next;
	int64_t t = 0;

	assert_int_equal(gl_lease_state_init(&a, "a"), 0);
	assert_int_equal(gl_lease_state_init(&b, "b"), 0);
	assert_int_equal(gl_lease_decide(&c, &a, NULL, t, WALL0, &next), GL_LEASE_CREATE);
	server = next;
	assert_int_equal(gl_lease_settle(&c, &a, &server, t, t), GL_LEASE_STARTED);
	assert_int_equal(gl_lease_decide(&c, &b, &server, t, WALL0, &next), GL_LEASE_WAIT);
	for (int i = 1; i <= 3; i++) {
		t += 2000;
		assert_int_equal(gl_lease_decide(&c, &a, &server, t, WALL0 + t * 1000, &next), GL_LEASE_RENEW);
		server = next;
		assert_int_equal(gl_lease_settle(&c, &a, &server, t, t), GL_LEASE_SAME);
		assert_int_equal(gl_lease_decide(&c, &b, &server, t, WALL0, &next), GL_LEASE_WAIT);
	}
	assert_int_equal(server.transitions, 0);
	/* a dies; b waits 15 s from the last change it saw. */
	assert_int_equal(gl_lease_decide(&c, &b, &server, t + 14999, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &b, &server, t + 15000, WALL0, &next), GL_LEASE_TAKEOVER);
	server = next;
	assert_int_equal(server.transitions, 1);
	assert_int_equal(gl_lease_settle(&c, &b, &server, t + 15000, t + 15000), GL_LEASE_STARTED);
	t += 15000;
	/* a comes back: sees b's lease, stops (its deadline has long passed
	 * anyway), waits, and later takes it back: 2. */
	assert_int_equal(gl_lease_decide(&c, &a, &server, t, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_settle(&c, &a, NULL, t, t), GL_LEASE_STOPPED);
	assert_int_equal(gl_lease_decide(&c, &a, &server, t + 15000, WALL0, &next), GL_LEASE_TAKEOVER);
	assert_int_equal(next.transitions, 2);

	/* Saturated, never negative. */
	server.transitions = INT32_MAX;
	assert_int_equal(gl_lease_state_init(&a, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &a, &server, 0, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &a, &server, 15000, WALL0, &next), GL_LEASE_TAKEOVER);
	assert_int_equal(next.transitions, INT32_MAX);
}

/* The leader stops when it has not renewed within the deadline, counted
 * from the start of its last successful round. */
static void test_deadline_loss(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record next;

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, NULL, 0, WALL0, &next), GL_LEASE_CREATE);
	assert_int_equal(gl_lease_settle(&c, &st, &next, 0, 3000), GL_LEASE_STARTED);
	assert_int_equal(gl_lease_decide(&c, &st, &st.observed, 5000, WALL0, &next), GL_LEASE_RENEW);
	assert_int_equal(gl_lease_settle(&c, &st, &next, 5000, 5100), GL_LEASE_SAME);
	assert_int_equal(st.renewed_ms, 5000);
	/* Failed rounds (NULL): still leading until 15000, not at it. */
	for (int64_t t = 7000; t < 15000; t += 2000)
		assert_int_equal(gl_lease_settle(&c, &st, NULL, t, t + 500), GL_LEASE_SAME);
	assert_true(gl_lease_state_leading(&c, &st, 14999));
	assert_false(gl_lease_state_leading(&c, &st, 15000));
	assert_true(st.leading);
	assert_int_equal(gl_lease_settle(&c, &st, NULL, 14999, 14999), GL_LEASE_SAME);
	assert_int_equal(gl_lease_settle(&c, &st, NULL, 15000, 15000), GL_LEASE_STOPPED);
	assert_false(st.leading);
	assert_int_equal(gl_lease_settle(&c, &st, NULL, 16000, 16000), GL_LEASE_SAME);

	/* The deadline stays below the others' wait: b saw a's last write no
	 * earlier than 5000, so it cannot take over before 20000. */
	{
		struct gl_lease_state b;
		struct gl_lease_record server = st.observed;

		assert_int_equal(gl_lease_state_init(&b, "b"), 0);
		assert_int_equal(gl_lease_decide(&c, &b, &server, 5000, WALL0, &next), GL_LEASE_WAIT);
		assert_int_equal(gl_lease_decide(&c, &b, &server, 19999, WALL0, &next), GL_LEASE_WAIT);
		assert_int_equal(gl_lease_decide(&c, &b, &server, 20000, WALL0, &next), GL_LEASE_TAKEOVER);
	}
}

/* A leader that reads a lease not its own stops at once, without waiting
 * for its deadline; so does one whose lease is gone. */
static void test_lost_to_another(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state st;
	struct gl_lease_record next, cur = other("x");

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, NULL, 0, WALL0, &next), GL_LEASE_CREATE);
	assert_int_equal(gl_lease_settle(&c, &st, &next, 0, 0), GL_LEASE_STARTED);
	assert_int_equal(gl_lease_decide(&c, &st, &cur, 2000, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_settle(&c, &st, NULL, 2000, 2000), GL_LEASE_STOPPED);

	assert_int_equal(gl_lease_state_init(&st, "a"), 0);
	assert_int_equal(gl_lease_decide(&c, &st, NULL, 0, WALL0, &next), GL_LEASE_CREATE);
	assert_int_equal(gl_lease_settle(&c, &st, &next, 0, 0), GL_LEASE_STARTED);
	assert_int_equal(gl_lease_decide(&c, &st, NULL, 2000, WALL0, &next), GL_LEASE_CREATE);
	assert_int_equal(gl_lease_settle(&c, &st, NULL, 2000, 2000), GL_LEASE_STOPPED);
	/* ... and starts again with its own new lease. */
	assert_int_equal(gl_lease_settle(&c, &st, &next, 2000, 2100), GL_LEASE_STARTED);
}

/* Released as client-go releases: the next candidate takes over at once. */
static void test_release(void **state)
{
	struct gl_lease_config c = cfg_default();
	struct gl_lease_state b;
	struct gl_lease_record held = rec_of("a", 15, "t0", "t1", 5), rel, next;

	gl_lease_release_record(&held, WALL0 + 9, &rel);
	assert_string_equal(rel.holder, "");
	assert_int_equal(rel.duration_s, 1);
	assert_string_equal(rel.acquire_time, "2026-12-04T10:00:00.000009Z");
	assert_string_equal(rel.renew_time, "2026-12-04T10:00:00.000009Z");
	assert_int_equal(rel.transitions, 5);

	assert_int_equal(gl_lease_state_init(&b, "b"), 0);
	assert_int_equal(gl_lease_decide(&c, &b, &held, 0, WALL0, &next), GL_LEASE_WAIT);
	assert_int_equal(gl_lease_decide(&c, &b, &rel, 2000, WALL0, &next), GL_LEASE_TAKEOVER);
	assert_int_equal(next.transitions, 6);
}

static json_object *parse(const char *text)
{
	json_object *o = json_tokener_parse(text);

	assert_non_null(o);
	return o;
}

static void test_record_json(void **state)
{
	static const char *const bad[] = {
		"{\"spec\":[]}",
		"{\"spec\":{\"holderIdentity\":5}}",
		"{\"spec\":{\"leaseDurationSeconds\":\"15\"}}",
		"{\"spec\":{\"leaseDurationSeconds\":15.5}}",
		"{\"spec\":{\"leaseDurationSeconds\":-1}}",
		"{\"spec\":{\"leaseDurationSeconds\":4294967296}}",
		"{\"spec\":{\"leaseTransitions\":-3}}",
		"{\"spec\":{\"leaseTransitions\":true}}",
		"{\"spec\":{\"acquireTime\":12}}",
		"{\"spec\":{\"renewTime\":{}}}",
		"{\"spec\":{\"renewTime\":\"2026-12-04T10:00:00.000000000000000000000000000000Z\"}}",
	};
	struct gl_lease_record r, back;
	struct gl_err err = { 0 };
	json_object *o, *spec;
	char big[600];

	o = parse("{\"metadata\":{\"name\":\"op\"},\"spec\":{\"holderIdentity\":\"a_1\","
		  "\"leaseDurationSeconds\":15,\"acquireTime\":\"2026-12-04T10:00:00.000000Z\","
		  "\"renewTime\":\"2026-12-04T10:00:02.500000Z\",\"leaseTransitions\":2,"
		  "\"preferredHolder\":\"x\"}}");
	assert_int_equal(gl_lease_record_from_json(o, &r, &err), 0);
	assert_string_equal(r.holder, "a_1");
	assert_int_equal(r.duration_s, 15);
	assert_string_equal(r.acquire_time, "2026-12-04T10:00:00.000000Z");
	assert_string_equal(r.renew_time, "2026-12-04T10:00:02.500000Z");
	assert_int_equal(r.transitions, 2);

	/* Back into the spec: other fields kept, empty times removed. */
	assert_true(json_object_object_get_ex(o, "spec", &spec));
	r.acquire_time[0] = '\0';
	r.transitions = 3;
	assert_int_equal(gl_lease_record_to_spec(&r, spec), 0);
	assert_false(json_object_object_get_ex(spec, "acquireTime", NULL));
	assert_true(json_object_object_get_ex(spec, "preferredHolder", NULL));
	assert_int_equal(gl_lease_record_from_json(o, &back, NULL), 0);
	assert_true(gl_lease_record_equal(&r, &back));
	json_object_put(o);

	/* Absent and null fields are empty. */
	o = parse("{\"metadata\":{\"name\":\"op\"}}");
	assert_int_equal(gl_lease_record_from_json(o, &r, NULL), 0);
	assert_string_equal(r.holder, "");
	assert_int_equal(r.duration_s, 0);
	json_object_put(o);
	o = parse("{\"spec\":{\"holderIdentity\":null,\"leaseDurationSeconds\":null,"
		  "\"acquireTime\":null,\"renewTime\":null,\"leaseTransitions\":null}}");
	assert_int_equal(gl_lease_record_from_json(o, &r, NULL), 0);
	assert_string_equal(r.renew_time, "");
	json_object_put(o);
	o = parse("{\"spec\":null}");
	assert_int_equal(gl_lease_record_from_json(o, &r, NULL), 0);
	json_object_put(o);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = (struct gl_err){ 0 };
		o = parse(bad[i]);
		if (gl_lease_record_from_json(o, &r, &err) != -EBADMSG)
			fail_msg("accepted %s", bad[i]);
		assert_int_equal(err.code, GL_ERR_DECODE);
		json_object_put(o);
	}
	memset(big, 'h', sizeof(big));
	memcpy(big, "{\"spec\":{\"holderIdentity\":\"", 27);
	memcpy(big + sizeof(big) - 5, "\"}}", 4);
	o = parse(big);
	assert_int_equal(gl_lease_record_from_json(o, &r, NULL), -EBADMSG);
	json_object_put(o);
	assert_int_equal(gl_lease_record_from_json(NULL, &r, NULL), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_time_str),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_no_lease_creates),
		cmocka_unit_test(test_not_expired_then_expired),
		cmocka_unit_test(test_duration_from_record),
		cmocka_unit_test(test_empty_holder),
		cmocka_unit_test(test_my_own_lease),
		cmocka_unit_test(test_changing_record_resets),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_transitions),
		cmocka_unit_test(test_deadline_loss),
		cmocka_unit_test(test_lost_to_another),
		cmocka_unit_test(test_release),
		cmocka_unit_test(test_record_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
