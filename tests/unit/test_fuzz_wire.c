/* Robustness of the parsers that read hostile bytes: kubeconfig text
 * (gl_kube_config_parse), watch streams (gl_kube_lines_feed +
 * gl_kube_event_parse), Status bodies (gl_kube_status_errno), Retry-After,
 * IPReservation objects (gl_store_kube_from_json) and gamelan-snat's in-pod
 * config (lib/net/snat.c, through the same request parser a runtime's call
 * goes through). Seeded random mutations of valid inputs, thousands per
 * parser; each call must return 0 or a negative errno, never crash (run
 * under ASan+UBSan), and what it returns with 0 must be well-formed.
 *
 * GL_FUZZ_SEED (default fixed) and GL_FUZZ_ITERS (per parser, default 10000)
 * change the run; a failure prints the seed, the iteration and the input.
 * Regression tests for what the fuzzing and review found come first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/json.h"
#include "kube/kube.h"
#include "ipam/store.h"
#include "ipam/store_kube.h"
#include "base/util.h"
#include "cni/cni.h"
#include "net/snat.h"
#include "unit.h"

static uint64_t seed = 0x67616d656c616eull; /* "gamelan" */
static int iters = 10000;
static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ull;
}

static size_t rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

static void reseed(uint64_t salt)
{
	rs = seed ^ (salt * 0x9e3779b97f4a7c15ull);
	if (!rs)
		rs = 1;
}

/* Fragments that tend to matter to JSON and YAML parsers. */
static const char *const tokens[] = {
	"\"", "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "\n", "\r\n", "\t", " ",
	"null", "true", "false", "0", "-1", "1e999", "-0.0", "65536", "4294967296",
	"9223372036854775807", "9223372036854775808", "99999999999999999999999",
	"&a ", "*a", "!!binary ", "- ", "? ", "---\n", "...\n", "%YAML 1.1\n", "|\n", ">\n",
	"\xff", "\xc0\x80", "\xe2\x80\xa8", "~", "=", "/", "..", "::", "%",
	"\"\"", "{}", "[]", "\"a\":", "\"metadata\":", "\"spec\":", "\"object\":", "\"type\":",
	"192.168.1.1", "fd00::1", "::ffff:1.2.3.4", "0.0.0.0/0", "/33", "/129",
};

/* One mutation of buf (len bytes, cap room, at least 1 spare for NUL);
 * returns the new length. `other` is another seed to splice from. */
static size_t mutate_once(char *buf, size_t len, size_t cap, const char *other, size_t olen)
{
	size_t pos = rnd_below(len + 1), n;

	switch (rnd_below(9)) {
	case 0: /* flip a bit */
		if (len)
			buf[rnd_below(len)] ^= (char)(1u << rnd_below(8));
		break;
	case 1: /* a random byte */
		if (len)
			buf[rnd_below(len)] = (char)rnd();
		break;
	case 2: /* delete a run */
		n = rnd_below(len - pos + 1);
		n = n > 16 ? rnd_below(17) : n;
		memmove(buf + pos, buf + pos + n, len - pos - n);
		len -= n;
		break;
	case 3: /* insert a token */
	case 4: {
		const char *t = tokens[rnd_below(GL_ARRAY_SIZE(tokens))];

		n = strlen(t);
		if (len + n < cap) {
			memmove(buf + pos + n, buf + pos, len - pos);
			memcpy(buf + pos, t, n);
			len += n;
		}
		break;
	}
	case 5: /* duplicate a run */
		n = rnd_below(len - pos + 1);
		n = n > 64 ? 64 : n;
		if (len + n < cap) {
			memmove(buf + pos + n, buf + pos, len - pos);
			memcpy(buf + pos + n, buf + pos, n); /* the run moved by n */
			len += n;
		}
		break;
	case 6: /* truncate */
		len = pos;
		break;
	case 7: /* splice a run of the other seed */
		if (olen) {
			size_t from = rnd_below(olen);

			n = rnd_below(olen - from + 1);
			n = n > 64 ? 64 : n;
			if (len + n < cap) {
				memmove(buf + pos + n, buf + pos, len - pos);
				memcpy(buf + pos, other + from, n);
				len += n;
			}
		}
		break;
	default: /* a NUL byte in the middle */
		if (len)
			buf[rnd_below(len)] = '\0';
		break;
	}
	return len;
}

/* A mutated copy of seeds[i] (1-4 mutations, sometimes none). */
static size_t mutated(const char *const *seeds, size_t n_seeds, char *buf, size_t cap)
{
	const char *s = seeds[rnd_below(n_seeds)], *o = seeds[rnd_below(n_seeds)];
	size_t len = strlen(s), k = rnd_below(5);

	assert_true(len < cap);
	memcpy(buf, s, len);
	for (size_t i = 0; i < k; i++)
		len = mutate_once(buf, len, cap - 1, o, strlen(o));
	buf[len] = '\0';
	return len;
}

static void is_errno(int r, const char *what, int it, const char *input)
{
	if (r > 0 || r < -4095)
		fail_msg("%s: seed %llu iteration %d: returned %d for: %.300s", what,
			 (unsigned long long)seed, it, r, input);
}

static void err_well_formed(const struct gl_err *e)
{
	assert_non_null(memchr(e->msg, '\0', sizeof(e->msg)));
	assert_non_null(memchr(e->details, '\0', sizeof(e->details)));
}

/* ---- regressions ---- */

static json_object *seed_row_expiring(int64_t expires);

/* store_kube.c's bound on spec.pool. */
#define POOL_MAX_CHECK 1023

#define KC_HEAD \
	"current-context: ctx\n" \
	"contexts:\n- name: ctx\n  context: {cluster: c1, user: u1}\n" \
	"clusters:\n- name: c1\n  cluster: {server: \"https://10.0.0.1:6443\"}\n"

/* A server's Retry-After of 16 digits passed the loop's bound and then
 * overflowed s * 1000 (UB; UBSan aborts). */
static void test_retry_after_no_overflow(void **state)
{
	assert_int_equal(gl_kube_retry_after_ms("9223372036854779", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms("9223372036854775", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms("9223372036854775807", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms("4", 5000), 4000);
	assert_int_equal(gl_kube_retry_after_ms("5", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms("6", 5000), 5000);
	assert_int_equal(gl_kube_retry_after_ms("1", 1999), 1000);
	assert_int_equal(gl_kube_retry_after_ms("2", 1999), 1999);
}

/* Aliases of one 256 KiB scalar, 64 times over: 16 MiB from a 256 KiB file
 * (and a hundred thousand of them would be tens of GiB). */
static void test_kubeconfig_alias_bomb(void **state)
{
	size_t big = 256 << 10, cap = big + 4096, len;
	_cleanup_free_ char *t = malloc(cap);
	struct gl_kube_config *c = NULL;
	struct gl_err e = { 0 };
	int r;

	assert_non_null(t);
	len = (size_t)snprintf(t, cap, KC_HEAD "users:\n- name: u1\n  user: {token: abc}\nbig: &b \"");
	memset(t + len, 'x', big);
	len += big;
	len += (size_t)snprintf(t + len, cap - len, "\"\njunk: [");
	for (int i = 0; i < 64; i++)
		len += (size_t)snprintf(t + len, cap - len, "%s*b", i ? ", " : "");
	len += (size_t)snprintf(t + len, cap - len, "]\n");
	r = gl_kube_config_parse(t, len, NULL, &c, &e);
	gl_kube_config_free(c);
	assert_int_equal(r, -E2BIG);
	assert_non_null(strstr(e.msg, "too much"));
	/* A few aliases of a small scalar are ordinary YAML and still parse. */
	c = NULL;
	memset(&e, 0, sizeof(e));
	snprintf(t, cap, KC_HEAD "users:\n- name: u1\n  user: {token: &tk abc}\nx: [*tk, *tk]\n");
	assert_int_equal(gl_kube_config_parse(t, strlen(t), NULL, &c, &e), 0);
	assert_string_equal(c->token, "abc");
	gl_kube_config_free(c);
}

/* A CR/LF in a kubeconfig token would inject HTTP headers; the refusal
 * must not quote the token. */
static void test_kubeconfig_token_control_chars(void **state)
{
	static const char *const bad[] = {
		KC_HEAD "users:\n- name: u1\n  user: {token: \"s3cr3t\\r\\nX-Injected: 1\"}\n",
		KC_HEAD "users:\n- name: u1\n  user: {token: \"s3cr3t\\nX-Injected: 1\"}\n",
		KC_HEAD "users:\n- name: u1\n  user: {token: \"s3cr3t\\u0001\"}\n",
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		struct gl_kube_config *c = NULL;
		struct gl_err e = { 0 };

		assert_int_equal(gl_kube_config_parse(bad[i], strlen(bad[i]), NULL, &c, &e), -EINVAL);
		assert_null(c);
		assert_non_null(strstr(e.msg, "control characters"));
		assert_null(strstr(e.msg, "s3cr3t"));
		assert_null(strstr(e.details, "s3cr3t"));
	}
}

/* A server URL must name a host: "https://" (or "https:///", which the
 * trailing-'/' trim made "https:") was accepted. */
static void test_kubeconfig_server_without_host(void **state)
{
	static const char *const servers[] = { "https://", "https:///", "http://", "https://?x", "https://#" };

	for (size_t i = 0; i < GL_ARRAY_SIZE(servers); i++) {
		char t[512];
		struct gl_kube_config *c = NULL;
		struct gl_err e = { 0 };

		snprintf(t, sizeof(t), "current-context: ctx\n"
			 "contexts:\n- name: ctx\n  context: {cluster: c1}\n"
			 "clusters:\n- name: c1\n  cluster: {server: \"%s\"}\n", servers[i]);
		if (gl_kube_config_parse(t, strlen(t), NULL, &c, &e) != -EINVAL)
			fail_msg("server \"%s\" was accepted", servers[i]);
		assert_null(c);
	}
}

/* A context entry whose name is not a string is skipped; it must not leave
 * its message for the real error to be lost behind. */
static void test_kubeconfig_entry_message(void **state)
{
	static const char t[] =
		"current-context: ctx\n"
		"contexts:\n- name: {a: b}\n  context: {cluster: c1}\n"
		"clusters:\n- name: c1\n  cluster: {server: \"https://10.0.0.1\"}\n";
	struct gl_kube_config *c = NULL;
	struct gl_err e = { 0 };

	assert_int_equal(gl_kube_config_parse(t, strlen(t), NULL, &c, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "is not in contexts"));
}

/* A time past year 9999 (hold "100000000h", or the leap second that
 * time_parse accepts at 9999-12-31T23:59:60Z) was written with a 5-digit
 * year that time_parse refuses: the reservation could not be read back and
 * failed every scan of its network. */
static void test_kube_time_far_future(void **state)
{
	static const int64_t far[] = { 253402300800000LL, 253402300800999LL,
				       (int64_t)1790000000000LL + 100000000LL * 3600 * 1000,
				       INT64_MAX - 1 };
	char t[32], why[256];
	int64_t back;

	assert_int_equal(gl_store_kube_time_parse("9999-12-31T23:59:60Z", &back), 0);
	for (size_t i = 0; i < GL_ARRAY_SIZE(far); i++) {
		gl_store_kube_time_str(far[i], t);
		if (gl_store_kube_time_parse(t, &back) != 0)
			fail_msg("%lld was written as \"%s\", which does not parse", (long long)far[i], t);
		assert_string_equal(t, "9999-12-31T23:59:59.999Z");
	}
	/* The whole row: written, read back. */
	json_object *o = seed_row_expiring(far[2]);
	struct gl_resv r;

	assert_non_null(o);
	if (gl_store_kube_from_json(o, &r, why, sizeof(why)) != 0)
		fail_msg("a row expiring in year ~13000 does not read back: %s", why);
	assert_true(r.expires == 253402300799999LL);
	json_object_put(o);
}

/* ---- kubeconfig ---- */

static const char *const kubeconfigs[] = {
	KC_HEAD "users:\n- name: u1\n  user: {token: abc.def}\n",
	"apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
	"contexts:\n- name: ctx\n  context:\n    cluster: c1\n    user: u1\n    namespace: games\n"
	"clusters:\n- name: c1\n  cluster:\n    server: https://api.example:6443/\n"
	"    certificate-authority-data: Q0E=\n    insecure-skip-tls-verify: false\n"
	"users:\n- name: u1\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n",
	"{\"apiVersion\":\"v1\",\"kind\":\"Config\",\"current-context\":\"ctx\","
	"\"contexts\":[{\"name\":\"ctx\",\"context\":{\"cluster\":\"c1\",\"user\":\"u1\"}}],"
	"\"clusters\":[{\"name\":\"c1\",\"cluster\":{\"server\":\"http://127.0.0.1:8080\","
	"\"certificate-authority\":\"pki/ca.crt\"}}],"
	"\"users\":[{\"name\":\"u1\",\"user\":{\"tokenFile\":\"tok\",\"client-certificate\":\"c.crt\","
	"\"client-key\":\"c.key\"}}]}",
	"current-context: ctx\ncontexts:\n- name: ctx\n  context: &ctx {cluster: c1}\n"
	"- name: two\n  context: *ctx\nclusters:\n- name: c1\n  cluster: {server: https://h}\n",
	KC_HEAD "users:\n- name: u1\n  user:\n    exec: {command: aws}\n",
};

static void check_config(const struct gl_kube_config *c)
{
	assert_non_null(c->server);
	if (strncmp(c->server, "http://", 7) != 0 && strncmp(c->server, "https://", 8) != 0)
		fail_msg("server \"%s\" is not an http(s) URL", c->server);
	assert_non_null(c->namespace);
	assert_true(c->namespace[0] != '\0');
	assert_true(!!(c->cert_data || c->cert_file) == !!(c->key_data || c->key_file));
	if (c->ca_data)
		assert_true(c->ca_data_len > 0 && c->ca_data[c->ca_data_len] == '\0');
	if (c->token)
		for (const char *p = c->token; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void test_fuzz_kubeconfig(void **state)
{
	char buf[4096];
	int ok = 0;

	reseed(1);
	for (int it = 0; it < iters; it++) {
		size_t len = mutated(kubeconfigs, GL_ARRAY_SIZE(kubeconfigs), buf, sizeof(buf));
		struct gl_kube_config *c = NULL;
		struct gl_err e = { 0 };
		int r = gl_kube_config_parse(buf, len, it & 1 ? "/etc/k" : NULL, &c, &e);

		is_errno(r, "gl_kube_config_parse", it, buf);
		err_well_formed(&e);
		if (r == 0) {
			check_config(c);
			ok++;
		} else {
			assert_null(c);
		}
		gl_kube_config_free(c);
	}
	fprintf(stderr, "fuzz kubeconfig: %d inputs, %d accepted\n", iters, ok);
}

/* ---- watch streams ---- */

static const char *const streams[] = {
	"{\"type\":\"ADDED\",\"object\":{\"kind\":\"IPReservation\",\"metadata\":{\"name\":\"a\","
	"\"resourceVersion\":\"12\"}}}\n{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":"
	"{\"resourceVersion\":\"13\"}}}\n",
	"{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,\"reason\":\"Expired\"}}\r\n\n",
	"{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":7}}}\n"
	"{\"type\":\"DELETED\",\"object\":{}}\n{\"type\":\"NOPE\",\"object\":{}}\n",
};

struct feed_state {
	int events;
};

static int on_line(char *line, size_t len, void *userdata)
{
	struct feed_state *st = userdata;
	struct gl_kube_event ev = { 0 };
	struct gl_err e = { 0 };
	int r;

	assert_true(len > 0);
	assert_int_equal(line[len], '\0');
	r = gl_kube_event_parse(line, len, &ev, &e);
	err_well_formed(&e);
	if (r == 0) {
		assert_true(ev.type >= GL_KUBE_ADDED && ev.type <= GL_KUBE_ERROR);
		assert_true(json_object_is_type(ev.object, json_type_object));
		(void)gl_kube_obj_rv(ev.object);
		(void)gl_kube_obj_name(ev.object);
		json_object_put(ev.object);
		st->events++;
	} else {
		assert_int_equal(r, -EBADMSG);
	}
	/* Sometimes stop the feed, as a callback may. */
	return rnd_below(50) == 0 ? 1 : 0;
}

static void test_fuzz_watch(void **state)
{
	char buf[4096];
	int events = 0;

	reseed(2);
	for (int it = 0; it < iters; it++) {
		size_t len = mutated(streams, GL_ARRAY_SIZE(streams), buf, sizeof(buf));
		struct gl_kube_lines l = { .max = 16 + rnd_below(512) };
		struct feed_state st = { 0 };
		size_t off = 0;
		int r = 0;

		/* The same bytes in random chunks: a split line is one line. */
		while (off < len && r == 0) {
			size_t n = 1 + rnd_below(len - off < 64 ? len - off : 64);

			r = gl_kube_lines_feed(&l, buf + off, n, on_line, &st);
			off += n;
		}
		assert_true(r == 0 || r == 1 || r == -EMSGSIZE);
		assert_true(l.len <= l.max);
		events += st.events;
		gl_kube_lines_free(&l);
	}
	assert_true(events > 0);
	fprintf(stderr, "fuzz watch: %d streams, %d events parsed\n", iters, events);
}

/* ---- Status bodies, Retry-After, backoff ---- */

static const char *const statuses[] = {
	"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"ipreservations "
	"\\\"x\\\" already exists\",\"reason\":\"AlreadyExists\",\"code\":409}",
	"{\"kind\":\"Status\",\"status\":\"Failure\",\"reason\":\"Conflict\",\"code\":409,"
	"\"details\":{\"name\":\"x\",\"causes\":[{\"message\":\"m\"}]}}",
	"<html><body>502 Bad Gateway</body></html>",
	"{\"code\":\"410\",\"message\":null,\"reason\":[]}",
};

static void test_fuzz_status(void **state)
{
	static const long codes[] = { 0, -1, 100, 200, 204, 299, 300, 400, 401, 403, 404, 409,
				      410, 422, 429, 500, 503, 599, 600, 99999, LONG_MIN, LONG_MAX };
	char buf[1024];

	reseed(3);
	for (int it = 0; it < iters; it++) {
		size_t len = mutated(statuses, GL_ARRAY_SIZE(statuses), buf, sizeof(buf));
		long code = codes[rnd_below(GL_ARRAY_SIZE(codes))];
		struct gl_err e = { 0 };
		int r = gl_kube_status_errno(code, rnd_below(8) ? buf : NULL, len, &e);

		is_errno(r, "gl_kube_status_errno", it, buf);
		err_well_formed(&e);
		assert_true((r == 0) == (code >= 200 && code < 300));
		if (r < 0)
			assert_true(e.msg[0] != '\0');
	}
}

static void test_fuzz_retry_after_backoff(void **state)
{
	static const char alphabet[] = "0123456789 \t\r\n-+.xe";
	char v[40];

	reseed(4);
	for (int it = 0; it < iters * 4; it++) {
		size_t n = rnd_below(sizeof(v));
		int64_t max = (int64_t)rnd_below(100000), ms;

		for (size_t i = 0; i < n; i++)
			v[i] = rnd_below(4) ? (char)('0' + rnd_below(10)) : alphabet[rnd_below(sizeof(alphabet) - 1)];
		v[n] = '\0';
		ms = gl_kube_retry_after_ms(v, max);
		assert_true(ms == -1 || (ms >= 0 && ms <= max));

		int attempt = (int)rnd_below(200) - 10;
		int64_t base = (int64_t)rnd_below(100000) - 10, bmax = (int64_t)rnd_below(1000000) - 10;

		ms = gl_kube_backoff_ms(attempt, base, bmax, (uint32_t)rnd());
		assert_true(ms >= 0);
		int64_t lo = base > 0 ? base : 1;

		assert_true(ms <= (bmax > lo ? bmax : lo));
	}
}

/* ---- IPReservation objects ---- */

static json_object *seed_row(int which)
{
	struct gl_resv r;

	memset(&r, 0, sizeof(r));
	snprintf(r.network, sizeof(r.network), "%s", which == 2 ? "Game LAN.v6" : "lan");
	assert_int_equal(gl_ip_parse(which == 2 ? "fd00::" : which == 1 ? "192.168.1.216" : "192.168.1.200",
				     &r.ip), 0);
	r.pool = which;
	snprintf(r.identity, sizeof(r.identity), "%s", which == 2 ? "" : "games/dst-0");
	snprintf(r.ifname, sizeof(r.ifname), "%s", which == 2 ? "" : "net1");
	snprintf(r.container_id, sizeof(r.container_id), "c0ffee");
	r.state = which == 2 ? GL_RESV_CONFLICT : which == 1 ? GL_RESV_RELEASED : GL_RESV_BOUND;
	r.pinned = which == 1;
	r.expires = which == 0 ? GL_RESV_NEVER : 1790000000123;
	snprintf(r.node, sizeof(r.node), "node-1");
	r.updated = 1780000000000;
	snprintf(r.version, sizeof(r.version), "%d", 1000 + which);
	return gl_store_kube_to_json(&r, "gamelan-system", true);
}

static json_object *seed_row_expiring(int64_t expires)
{
	struct gl_resv r;

	memset(&r, 0, sizeof(r));
	snprintf(r.network, sizeof(r.network), "lan");
	assert_int_equal(gl_ip_parse("192.168.1.201", &r.ip), 0);
	snprintf(r.identity, sizeof(r.identity), "games/dst-1");
	r.state = GL_RESV_RELEASED;
	r.expires = expires;
	r.updated = expires;
	snprintf(r.version, sizeof(r.version), "7");
	return gl_store_kube_to_json(&r, "gamelan-system", true);
}

static void check_row(const struct gl_resv *r)
{
	struct gl_resv again;
	json_object *o;
	char why[256];

	assert_true(r->network[0] != '\0');
	assert_true(r->ip.family == AF_INET || r->ip.family == AF_INET6);
	assert_true(r->pool >= 0 && r->pool <= POOL_MAX_CHECK);
	assert_true(r->state == GL_RESV_BOUND || r->state == GL_RESV_RELEASED ||
		    r->state == GL_RESV_CONFLICT);
	assert_true(r->state == GL_RESV_CONFLICT || r->identity[0] != '\0');
	assert_non_null(memchr(r->version, '\0', sizeof(r->version)));
	/* What we read, we can write back, and it reads the same. */
	o = gl_store_kube_to_json(r, "gamelan-system", true);
	assert_non_null(o);
	if (gl_store_kube_from_json(o, &again, why, sizeof(why)) != 0)
		fail_msg("a row read back does not read again: %s: %s", why, json_object_to_json_string(o));
	json_object_put(o);
	assert_string_equal(again.network, r->network);
	assert_true(gl_ip_equal(&again.ip, &r->ip));
	assert_string_equal(again.identity, r->identity);
	assert_int_equal(again.state, r->state);
	assert_true(again.expires == r->expires ||
		    (r->expires != GL_RESV_NEVER && (r->expires < 0 || r->expires > 253402300799999LL)));
}

/* Replace one member somewhere in o (depth-first, random) with a value of a
 * random type: the typed reads must refuse what they do not expect. */
static json_object *random_value(void)
{
	static const char *const strs[] = { "", "Bound", "Held", "Released", "Conflict", "192.168.1.200",
					    "fd00::", "2026-11-22T10:00:00.000Z", "9999-12-31T23:59:60Z",
					    "1969-12-31T23:59:59Z", "2026-02-31T00:00:00+00:00",
					    "2026-01-01T00:00:00.0000000000Z", "lan-192-168-1-200" };

	switch (rnd_below(8)) {
	case 0: return NULL;
	case 1: return json_object_new_int64((int64_t)rnd());
	case 2: return json_object_new_int((int)rnd_below(2000) - 500);
	case 3: return json_object_new_double(1.5);
	case 4: return json_object_new_boolean(rnd_below(2));
	case 5: return json_object_new_array();
	case 6: {
		char s[600];
		size_t n = rnd_below(sizeof(s));

		memset(s, 'a', n);
		if (n && rnd_below(2))
			s[rnd_below(n)] = '\0';
		return json_object_new_string_len(s, (int)n);
	}
	default: return json_object_new_string(strs[rnd_below(GL_ARRAY_SIZE(strs))]);
	}
}

static void poke(json_object *o, int depth)
{
	size_t n = (size_t)json_object_object_length(o), pick = rnd_below(n), i = 0;

	json_object_object_foreach(o, k, v) {
		if (i++ != pick)
			continue;
		if (json_object_is_type(v, json_type_object) && depth < 3 && rnd_below(3))
			poke(v, depth + 1);
		else if (rnd_below(6) == 0)
			json_object_object_del(o, k);
		else
			json_object_object_add(o, k, random_value());
		return;
	}
}

static void test_fuzz_reservation(void **state)
{
	json_object *seeds[3];
	char *texts[3];
	char buf[4096];
	int ok = 0;

	for (int i = 0; i < 3; i++) {
		seeds[i] = seed_row(i);
		assert_non_null(seeds[i]);
		texts[i] = gl_json_dump(seeds[i]);
		assert_non_null(texts[i]);
	}
	reseed(5);
	for (int it = 0; it < iters; it++) {
		json_object *o = NULL;
		struct gl_resv r;
		char why[256] = "";
		int e;

		if (it & 1) {
			/* Structure: a member of the right name with the wrong thing in it. */
			const char *t = texts[rnd_below(3)];

			o = json_tokener_parse(t);
			for (size_t k = 1 + rnd_below(3); k > 0; k--)
				poke(o, 0);
		} else {
			/* Bytes: whatever the tokener still makes of them. */
			mutated((const char *const *)texts, 3, buf, sizeof(buf));
			o = json_tokener_parse(buf);
		}
		if (!o)
			continue;
		memset(&r, 0xa5, sizeof(r));
		e = gl_store_kube_from_json(o, &r, why, sizeof(why));
		is_errno(e, "gl_store_kube_from_json", it, json_object_to_json_string(o));
		assert_non_null(memchr(why, '\0', sizeof(why)));
		if (e == 0) {
			check_row(&r);
			ok++;
		} else {
			assert_int_equal(e, -EBADMSG);
			assert_true(why[0] != '\0');
		}
		json_object_put(o);
	}
	assert_true(ok > 0);
	fprintf(stderr, "fuzz IPReservation: %d inputs, %d read\n", iters, ok);
	for (int i = 0; i < 3; i++) {
		json_object_put(seeds[i]);
		free(texts[i]);
	}
}

static void test_fuzz_times(void **state)
{
	reseed(6);
	for (int it = 0; it < iters * 4; it++) {
		int64_t ms = (int64_t)rnd_below(253402300800000ULL), back = -1;
		char t[32], s[64] = { 0 };

		gl_store_kube_time_str(ms, t);
		assert_int_equal(gl_store_kube_time_parse(t, &back), 0);
		assert_true(back == ms);
		/* Mutated text: refused, or a time within the years we write. */
		snprintf(s, sizeof(s), "%s", t);
		for (size_t k = 1 + rnd_below(3); k > 0; k--)
			s[rnd_below(strlen(s) + 1)] = "0123456789:-.TZz+ \x80"[rnd_below(19)];
		back = -1;
		if (gl_store_kube_time_parse(s, &back) == 0)
			assert_true(back >= 0 && back < 253402300800000LL + 1000);
	}
}

/* ---- gamelan-snat's in-pod config ---- */

#define SNAT_PREV "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\"," \
	"\"sandbox\":\"/run/netns/pod1\"}],\"ips\":[{\"address\":\"192.168.1.220/24\"," \
	"\"gateway\":\"192.168.1.1\",\"interface\":0},{\"address\":\"fd00:1::100/64\"," \
	"\"gateway\":\"fd00:1::1\",\"interface\":0}]}"

static const char *const snat_confs[] = {
	"{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"gamelan-snat\"," SNAT_PREV "}",
	"{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"gamelan-snat\",\"gateway\":\"192.168.1.1\","
	"\"lan\":[\"192.168.1.0/24\"],\"ports\":[{\"protocol\":\"udp\",\"port\":10999},"
	"{\"protocol\":\"tcp\",\"port\":27015,\"endPort\":27030},{\"protocol\":\"sctp\"}]," SNAT_PREV "}",
	"{\"cniVersion\":\"0.4.0\",\"name\":\"lan\",\"type\":\"gamelan-snat\",\"gateway\":[\"192.168.1.1\","
	"\"fd00:1::1\"],\"lan\":[\"192.168.1.0/24\",\"fd00:1::/64\"],\"runtimeConfig\":{\"disabled\":true},"
	"\"args\":{\"cni\":{\"disabled\":false}}," SNAT_PREV "}",
	"{\"cniVersion\":\"0.3.1\",\"name\":\"lan\",\"type\":\"gamelan-snat\",\"lan\":[\"10.0.0.0/8\"],"
	"\"runtimeConfig\":{\"disabled\":true}," SNAT_PREV "}",
};

static void check_snat(const struct gl_snat_conf *c)
{
	assert_true(strncmp(c->table, GL_SNAT_TABLE_PREFIX, strlen(GL_SNAT_TABLE_PREFIX)) == 0);
	assert_true(strncmp(c->comment, "gamelan:", 8) == 0);
	assert_true(gl_cni_ifname_valid(c->ifname));
	assert_true(c->n_lan >= 1 && c->n_lan <= GL_SNAT_MAX_LAN);
	assert_true(c->n_ports >= 0 && c->n_ports <= GL_SNAT_MAX_PORTS);
	for (int i = 0; i < c->n_ports; i++) {
		const struct gl_snat_port *p = &c->ports[i];

		assert_true(p->proto == IPPROTO_UDP || p->proto == IPPROTO_TCP || p->proto == IPPROTO_SCTP);
		assert_true(p->first <= p->last);
		assert_true(p->first != 0 || p->last == 0);
	}
	for (int fam = AF_INET; fam <= AF_INET6; fam += AF_INET6 - AF_INET) {
		int f = gl_snat_family_index(fam);
		bool in = false;

		if (!gl_snat_conf_has_family(c, fam) || (!c->has_gw[f] && c->disabled))
			continue;
		assert_true(c->has_gw[f]);
		for (int i = 0; i < c->n_lan; i++)
			in = in || gl_prefix_contains(&c->lan[i], &c->gw[f]);
		assert_true(in);
	}
	assert_true(gl_snat_conf_rule_count(c) >= 1 && gl_snat_conf_rule_count(c) <= 2 * GL_SNAT_MAX_PORTS);
}

static void test_fuzz_snat_conf(void **state)
{
	char buf[4096];
	int ok = 0;

	reseed(7);
	for (int it = 0; it < iters; it++) {
		size_t len = mutated(snat_confs, GL_ARRAY_SIZE(snat_confs), buf, sizeof(buf));
		struct gl_snat_conf *c = calloc(1, sizeof(*c));
		struct gl_cni_req req;
		struct gl_err e = { 0 };
		int r;

		assert_non_null(c);
		r = gl_cni_req_parse(&req, fake_getenv, buf, len, &e);
		is_errno(r, "gl_cni_req_parse", it, buf);
		if (r == 0) {
			r = gl_snat_cni_conf_parse(&req, c, &e);
			is_errno(r, "gl_snat_cni_conf_parse", it, buf);
			if (r == 0) {
				check_snat(c);
				ok++;
			} else {
				assert_true(e.code == GL_ERR_INVALID_CONFIG || e.code == GL_ERR_INVALID_ENV);
			}
		}
		err_well_formed(&e);
		gl_cni_req_free(&req);
		free(c);
	}
	assert_true(ok > 0);
	fprintf(stderr, "fuzz snat conf: %d inputs, %d accepted\n", iters, ok);
}

int main(void)
{
	const char *s = getenv("GL_FUZZ_SEED"), *n = getenv("GL_FUZZ_ITERS");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retry_after_no_overflow),
		cmocka_unit_test(test_kubeconfig_alias_bomb),
		cmocka_unit_test(test_kubeconfig_token_control_chars),
		cmocka_unit_test(test_kubeconfig_entry_message),
		cmocka_unit_test(test_kube_time_far_future),
		cmocka_unit_test(test_kubeconfig_server_without_host),
		cmocka_unit_test(test_fuzz_kubeconfig),
		cmocka_unit_test(test_fuzz_watch),
		cmocka_unit_test(test_fuzz_status),
		cmocka_unit_test(test_fuzz_retry_after_backoff),
		cmocka_unit_test(test_fuzz_reservation),
		cmocka_unit_test(test_fuzz_times),
		cmocka_unit_test(test_fuzz_snat_conf),
	};

	if (s && *s)
		seed = strtoull(s, NULL, 0);
	if (n && atoi(n) > 0)
		iters = atoi(n);
	fprintf(stderr, "test_fuzz_wire: GL_FUZZ_SEED=%llu GL_FUZZ_ITERS=%d\n", (unsigned long long)seed,
		iters);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
