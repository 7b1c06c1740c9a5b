/* lib/ipam/plugin.c's direct API on a real SQLite store: one open IPAM for
 * an ADD and its conflict rounds, conflicts handed over as addresses, the
 * undo; and no conflict input through the config. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/util.h"
#include "cni/cni.h"
#include "ipam/alloc.h"
#include "ipam/plugin.h"
#include "ipam/store.h"
#include "unit.h"

static char dir[64];
static char db[128];

/* The environment a runtime gives (setup sets it): GAMELAN_NODE is read
 * by the IPAM itself, the rest through the request parser. */
static const char *env_lookup(const char *name)
{
	return getenv(name);
}

/* A request for network lan, range 10.0.0.10-10.0.0.14, store db; extra
 * (may be "") is more top-level fields. */
static void req_of(struct gl_cni_req *req, const char *extra)
{
	char buf[2048];
	struct gl_err err = {0};

	snprintf(buf, sizeof(buf),
		 "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"gamelan-macvlan\"%s%s,"
		 "\"ipam\":{\"type\":\"gamelan-ipam\",\"range\":\"10.0.0.10-10.0.0.14/24\","
		 "\"store\":{\"type\":\"sqlite\",\"path\":\"%s\"}}}",
		 extra[0] ? "," : "", extra, db);
	if (gl_cni_req_parse(req, env_lookup, buf, strlen(buf), &err) < 0)
		fail_msg("request does not parse: %s: %s", buf, err.msg);
}

/* The state of ip's row in the store: "Bound", "Conflict", ... or "none". */
static const char *state_of(const char *ip)
{
	static char out[4][32];
	static int k;
	struct gl_store_conf sc = { .type = "sqlite", .path = db };
	_cleanup_store_ struct gl_store *s = NULL;
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
	struct gl_err err = {0};
	struct gl_ip want = ip_of(ip);

	k = (k + 1) % 4;
	snprintf(out[k], sizeof(out[k]), "none");
	if (gl_store_open(&sc, &s, &err) < 0 || gl_alloc_list(s, "lan", &l, &err) < 0)
		fail_msg("listing the store: %s", err.msg);
	for (size_t i = 0; i < l.n; i++)
		if (gl_ip_equal(&l.v[i].ip, &want))
			snprintf(out[k], sizeof(out[k]), "%s", gl_alloc_status(&l.v[i]));
	return out[k];
}

static int setup(void **state)
{
	setenv("CNI_COMMAND", "ADD", 1);
	setenv("CNI_CONTAINERID", "c0ffee01", 1);
	setenv("CNI_NETNS", "/run/netns/pod1", 1);
	setenv("CNI_IFNAME", "eth0", 1);
	setenv("CNI_PATH", "/opt/cni/bin", 1);
	setenv("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0", 1);
	setenv("GAMELAN_NODE", "node1", 1);
	snprintf(dir, sizeof(dir), "/tmp/gl-ipam-plugin.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(db, sizeof(db), "%s/ipam.db", dir);
	return 0;
}

static int teardown(void **state)
{
	char p[192];

	for (const char *const *sfx = (const char *const[]){ "", "-wal", "-shm", NULL }; *sfx; sfx++) {
		snprintf(p, sizeof(p), "%s%s", db, *sfx);
		unlink(p);
	}
	rmdir(dir);
	return 0;
}

static void test_conflict_rounds_on_one_open_ipam(void **state)
{
	struct gl_cni_req req;
	_cleanup_ipam_ struct gl_ipam *ipam = NULL;
	struct gl_cni_result res;
	struct gl_ipam_undo undo = {0};
	struct gl_err err = {0};
	struct gl_ip bad[2];

	req_of(&req, "");
	assert_int_equal(gl_ipam_open(&req, &ipam, &err), 0);
	assert_int_equal(gl_ipam_add(ipam, NULL, 0, &res, &undo, &err), 0);
	assert_int_equal(res.n_ips, 1);
	assert_string_equal(ip_str(&res.ips[0].address.ip), "10.0.0.10");
	assert_true(undo.valid && undo.fresh[0]);

	/* The LAN answers for .10: the next round on the same IPAM sets it
	 * aside and hands out .11. */
	bad[0] = res.ips[0].address.ip;
	assert_int_equal(gl_ipam_add(ipam, bad, 1, &res, &undo, &err), 0);
	assert_string_equal(ip_str(&res.ips[0].address.ip), "10.0.0.11");
	assert_string_equal(state_of("10.0.0.10"), "Conflict");
	assert_string_equal(state_of("10.0.0.11"), "Bound");

	/* Two at once, one of them not in the range (ignored). */
	bad[0] = res.ips[0].address.ip;
	bad[1] = ip_of("192.0.2.1");
	assert_int_equal(gl_ipam_add(ipam, bad, 2, &res, &undo, &err), 0);
	assert_string_equal(ip_str(&res.ips[0].address.ip), "10.0.0.12");
	assert_string_equal(state_of("10.0.0.11"), "Conflict");

	/* The ADD fails later: the undo takes the last reservation away and
	 * keeps the conflicts. */
	assert_int_equal(gl_ipam_undo(ipam, &undo, &err), 0);
	assert_string_equal(state_of("10.0.0.12"), "none");
	assert_string_equal(state_of("10.0.0.10"), "Conflict");
	assert_string_equal(state_of("10.0.0.11"), "Conflict");
	gl_cni_req_free(&req);
}

static void test_no_conflicts_from_the_config(void **state)
{
	static const char *const extras[] = {
		"\"args\":{\"cni\":{\"gamelanConflicts\":[\"10.0.0.10\",\"10.0.0.11\"]}}",
		"\"args\":{\"cni\":{\"gamelanConflicts\":[\"nope\",5]}}",
		"\"gamelanConflicts\":[\"10.0.0.10\"]",
		"\"runtimeConfig\":{\"gamelanConflicts\":[\"10.0.0.10\"]}",
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(extras); i++) {
		struct gl_cni_req req;
		struct gl_cni_result res;
		struct gl_err err = {0};

		req_of(&req, extras[i]);
		if (gl_ipam_verb(&req, GL_CNI_ADD, &res, &err) < 0)
			fail_msg("%s: ADD failed: %s", extras[i], err.msg);
		/* The same identity each time: it keeps .10, nothing is set aside. */
		assert_string_equal(ip_str(&res.ips[0].address.ip), "10.0.0.10");
		assert_string_equal(state_of("10.0.0.10"), "Bound");
		assert_string_equal(state_of("10.0.0.11"), "none");
		gl_cni_req_free(&req);
	}
}

/* One ADD with CNI_ARGS as the test sets them: the address, or "E<code>". */
static const char *add_with_args(const char *args, const char *extra)
{
	static char out[4][64];
	static int k;
	struct gl_cni_req req;
	_cleanup_ipam_ struct gl_ipam *ipam = NULL;
	struct gl_cni_result res;
	struct gl_err err = {0};

	k = (k + 1) % 4;
	setenv("CNI_ARGS", args, 1);
	req_of(&req, extra);
	assert_int_equal(gl_ipam_open(&req, &ipam, &err), 0);
	if (gl_ipam_add(ipam, NULL, 0, &res, NULL, &err) < 0) {
		print_message("# %s: %s\n", args, err.msg);
		snprintf(out[k], sizeof(out[k]), "E%d", err.code);
	} else {
		snprintf(out[k], sizeof(out[k]), "%s", ip_str(&res.ips[0].address.ip));
	}
	gl_cni_req_free(&req);
	return out[k];
}

/* podman's --ip: CNI_ARGS IP=, as host-local reads it: the address asked
 * for, an error when no range has it or another identity holds it. */
static void test_args_ip(void **state)
{
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=a;IP=10.0.0.13", ""), "10.0.0.13");
	assert_string_equal(state_of("10.0.0.13"), "Bound");
	/* The same identity asking again gets it again; with a length too. */
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=a;IP=10.0.0.13/24", ""), "10.0.0.13");
	/* Another identity: taken. */
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=b;IP=10.0.0.13", ""), "E101");
	/* Outside the range, outside any range, another family: refused. */
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=b;IP=10.0.0.20", ""), "E7");
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=b;IP=192.0.2.1", ""), "E7");
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=b;IP=2001:db8::1", ""), "E7");
	/* The identity moves to the address it asks for; its old one is freed. */
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=a;IP=10.0.0.14", ""), "10.0.0.14");
	assert_string_equal(state_of("10.0.0.13"), "none");
	/* IP= comes before runtimeConfig.ips, as in host-local. */
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=c;IP=10.0.0.12",
					  "\"runtimeConfig\":{\"ips\":[\"10.0.0.11/24\"]}"), "10.0.0.12");
	/* Without IP=, the identity keeps what it has. */
	assert_string_equal(add_with_args("IgnoreUnknown=1;K8S_POD_NAME=a", ""), "10.0.0.14");
}

static void test_verb_switch(void **state)
{
	struct gl_cni_req req;
	struct gl_cni_result res;
	struct gl_err err = {0};

	req_of(&req, "");
	/* DEL with no store file: nothing to release, and no file made. */
	assert_int_equal(gl_ipam_verb(&req, GL_CNI_DEL, NULL, &err), 0);
	assert_int_equal(access(db, F_OK), -1);
	assert_int_equal(gl_ipam_verb(&req, GL_CNI_ADD, &res, &err), 0);
	assert_int_equal(gl_ipam_verb(&req, GL_CNI_STATUS, NULL, &err), 0);
	assert_int_equal(gl_ipam_verb(&req, GL_CNI_DEL, NULL, &err), 0);
	assert_string_equal(state_of("10.0.0.10"), "Held");
	/* ADD without a place for the result, and a verb IPAM does not have. */
	assert_true(gl_ipam_verb(&req, GL_CNI_ADD, NULL, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INTERNAL);
	memset(&err, 0, sizeof(err));
	assert_true(gl_ipam_verb(&req, GL_CNI_VERSION, NULL, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INTERNAL);
	gl_cni_req_free(&req);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_conflict_rounds_on_one_open_ipam, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_conflicts_from_the_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_verb_switch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_ip, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
