/* lib/cni.c: the runtime's request (environment through a fake getenv, the
 * config as a buffer), identity, results in every spec version, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cni/cni.h"
#include "base/json.h"
#include "base/util.h"
#include "unit.h"

#define CONF "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"gamelan-macvlan\"}"
#define CONF11 "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"gamelan-macvlan\"}"

static int parse(struct gl_cni_req *req, const char *conf, struct gl_err *err)
{
	memset(err, 0, sizeof(*err));
	return gl_cni_req_parse(req, fake_getenv, conf, strlen(conf), err);
}

/* Parse with the current env and expect failure with code (and msg
 * containing needle, if given). */
static void expect_fail(const char *conf, int code, const char *needle)
{
	struct gl_cni_req req;
	struct gl_err err;
	int r = parse(&req, conf, &err);

	print_message("  -> r=%d code=%d msg=%s\n", r, err.code, err.msg);
	assert_true(r < 0);
	assert_int_equal(err.code, code);
	assert_true(err.msg[0] != '\0');
	if (needle && !strstr(err.msg, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
	gl_cni_req_free(&req);
}

static void expect_ok(const char *conf)
{
	struct gl_cni_req req;
	struct gl_err err;
	int r = parse(&req, conf, &err);

	if (r < 0)
		fail_msg("unexpected failure %d: code %d: %s", r, err.code, err.msg);
	assert_int_equal(err.code, 0);
	gl_cni_req_free(&req);
}

/* ---- small pieces ---- */

static void test_cmd_parse(void **state)
{
	assert_int_equal(gl_cni_cmd_parse("ADD"), GL_CNI_ADD);
	assert_int_equal(gl_cni_cmd_parse("DEL"), GL_CNI_DEL);
	assert_int_equal(gl_cni_cmd_parse("CHECK"), GL_CNI_CHECK);
	assert_int_equal(gl_cni_cmd_parse("VERSION"), GL_CNI_VERSION);
	assert_int_equal(gl_cni_cmd_parse("STATUS"), GL_CNI_STATUS);
	assert_int_equal(gl_cni_cmd_parse("GC"), GL_CNI_GC);
	assert_int_equal(gl_cni_cmd_parse("add"), GL_CNI_NONE);
	assert_int_equal(gl_cni_cmd_parse("ADD "), GL_CNI_NONE);
	assert_int_equal(gl_cni_cmd_parse(""), GL_CNI_NONE);
	assert_int_equal(gl_cni_cmd_parse(NULL), GL_CNI_NONE);
}

static void test_versions(void **state)
{
	static const char *const ok[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
	static const char *const bad[] = { "0.1.0", "0.2.0", "1.2.0", "2.0.0", "1.0", "", "1.0.0 ", "v1.0.0" };

	for (size_t i = 0; i < GL_ARRAY_SIZE(ok); i++)
		assert_true(gl_cni_version_supported(ok[i]));
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++)
		assert_false(gl_cni_version_supported(bad[i]));
	assert_string_equal(GL_CNI_VERSION_LATEST, "1.1.0");
	assert_true(gl_cni_version_cmp("0.3.1", "0.4.0") < 0);
	assert_true(gl_cni_version_cmp("0.4.0", "0.3.1") > 0);
	assert_true(gl_cni_version_cmp("1.0.0", "1.0.0") == 0);
	assert_true(gl_cni_version_cmp("1.1.0", "1.0.0") > 0);
	/* Numeric, not lexical. */
	assert_true(gl_cni_version_cmp("1.10.0", "1.9.0") > 0);
	assert_true(gl_cni_version_cmp("0.10.0", "0.4.0") > 0);
	assert_true(gl_cni_version_cmp("1.1", "1.1.0") == 0);
}

static void test_ifname_container_id_valid(void **state)
{
	static const char *const if_ok[] = { "eth0", "net1", "a", "123456789012345", "gl-lan.1" };
	static const char *const if_bad[] = { "", ".", "..", "a/b", "a b", "a:b", "1234567890123456",
					      "tab\t", "nl\n", "\x7f" };
	static const char *const id_ok[] = { "c0ffee01", "a", "A_b.c-d", "0" };
	static const char *const id_bad[] = { "", "-a", "_a", ".a", "a/b", "a b", "a:b", "a;b", "a\n" };

	for (size_t i = 0; i < GL_ARRAY_SIZE(if_ok); i++)
		assert_true(gl_cni_ifname_valid(if_ok[i]));
	for (size_t i = 0; i < GL_ARRAY_SIZE(if_bad); i++) {
		print_message("ifname \"%s\"\n", if_bad[i]);
		assert_false(gl_cni_ifname_valid(if_bad[i]));
	}
	for (size_t i = 0; i < GL_ARRAY_SIZE(id_ok); i++)
		assert_true(gl_cni_container_id_valid(id_ok[i]));
	for (size_t i = 0; i < GL_ARRAY_SIZE(id_bad); i++) {
		print_message("container id \"%s\"\n", id_bad[i]);
		assert_false(gl_cni_container_id_valid(id_bad[i]));
	}
	{
		char id[GL_CNI_ID_MAX + 1];

		memset(id, 'a', sizeof(id));
		id[GL_CNI_ID_MAX - 1] = '\0';
		assert_true(gl_cni_container_id_valid(id));
		id[GL_CNI_ID_MAX - 1] = 'a';
		id[GL_CNI_ID_MAX] = '\0';
		assert_false(gl_cni_container_id_valid(id));
	}
}

/* ---- every verb ---- */

static void test_req_add(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;

	fake_env_runtime("ADD");
	assert_int_equal(parse(&req, CONF, &err), 0);
	assert_int_equal(req.cmd, GL_CNI_ADD);
	assert_string_equal(req.container_id, "c0ffee01");
	assert_string_equal(req.netns, "/run/netns/pod1");
	assert_string_equal(req.ifname, "eth0");
	assert_string_equal(req.path, "/opt/cni/bin:/usr/lib/cni");
	assert_string_equal(req.k8s_namespace, "games");
	assert_string_equal(req.k8s_pod_name, "dst-0");
	assert_string_equal(req.k8s_infra_id, "c0ffee01");
	assert_string_equal(req.cni_version, "1.0.0");
	assert_string_equal(req.name, "lan");
	assert_string_equal(req.type, "gamelan-macvlan");
	assert_non_null(req.conf);
	assert_int_equal(req.raw_len, strlen(CONF));
	assert_string_equal(req.raw, CONF);
	assert_false(req.has_prev);
	assert_null(req.args_cni);
	assert_null(req.runtime_config);
	assert_int_equal(req.n_rc_ips, 0);
	assert_string_equal(req.rc_mac, "");
	assert_false(req.has_valid);
	assert_string_equal(req.identity, "games/dst-0");
	assert_true(req.identity_sticky);
	gl_cni_req_free(&req);
	assert_null(req.raw);
	assert_null(req.conf);
}

static void test_req_del_check(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;

	fake_env_runtime("DEL");
	assert_int_equal(parse(&req, CONF, &err), 0);
	assert_int_equal(req.cmd, GL_CNI_DEL);
	assert_string_equal(req.identity, "games/dst-0");
	gl_cni_req_free(&req);
	/* DEL may come after the netns is gone: CNI_NETNS is optional. */
	fake_env_set("CNI_NETNS", NULL);
	assert_int_equal(parse(&req, CONF, &err), 0);
	assert_string_equal(req.netns, "");
	gl_cni_req_free(&req);
	fake_env_set("CNI_NETNS", "");
	assert_int_equal(parse(&req, CONF, &err), 0);
	gl_cni_req_free(&req);

	fake_env_runtime("CHECK");
	assert_int_equal(parse(&req, CONF, &err), 0);
	assert_int_equal(req.cmd, GL_CNI_CHECK);
	assert_string_equal(req.netns, "/run/netns/pod1");
	gl_cni_req_free(&req);
	/* ...but ADD and CHECK need it. */
	fake_env_set("CNI_NETNS", NULL);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_NETNS");
	fake_env_runtime("ADD");
	fake_env_set("CNI_NETNS", NULL);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_NETNS");
}

static void test_req_version(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;

	/* VERSION needs nothing but the command; stdin may be empty. */
	fake_env_clear();
	fake_env_set("CNI_COMMAND", "VERSION");
	assert_int_equal(parse(&req, "", &err), 0);
	assert_int_equal(req.cmd, GL_CNI_VERSION);
	assert_string_equal(req.cni_version, GL_CNI_VERSION_LATEST);
	gl_cni_req_free(&req);
	assert_int_equal(parse(&req, " \n", &err), 0);
	assert_string_equal(req.cni_version, GL_CNI_VERSION_LATEST);
	gl_cni_req_free(&req);
	/* libcni sends {"cniVersion": X}: answered in X. */
	assert_int_equal(parse(&req, "{\"cniVersion\":\"0.4.0\"}", &err), 0);
	assert_string_equal(req.cni_version, "0.4.0");
	gl_cni_req_free(&req);
}

static void test_req_version_newer_runtime(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;
	int r;

	/* A runtime newer than us asks VERSION with its own newest version, to
	 * learn which versions we speak; the reference skeleton answers
	 * whatever the stdin says, so that the runtime can pick one. */
	fake_env_clear();
	fake_env_set("CNI_COMMAND", "VERSION");
	r = parse(&req, "{\"cniVersion\":\"1.2.0\"}", &err);
	print_message("r=%d code=%d msg=%s\n", r, err.code, err.msg);
	assert_int_equal(r, 0);
	assert_int_equal(req.cmd, GL_CNI_VERSION);
	gl_cni_req_free(&req);
}

static void test_req_status_gc(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;

	/* STATUS and GC have no container: only command, path and config. */
	fake_env_clear();
	fake_env_set("CNI_COMMAND", "STATUS");
	fake_env_set("CNI_PATH", "/opt/cni/bin");
	assert_int_equal(parse(&req, CONF11, &err), 0);
	assert_int_equal(req.cmd, GL_CNI_STATUS);
	assert_string_equal(req.container_id, "");
	assert_string_equal(req.cni_version, "1.1.0");
	gl_cni_req_free(&req);

	fake_env_set("CNI_COMMAND", "GC");
	assert_int_equal(parse(&req, CONF11, &err), 0);
	assert_int_equal(req.cmd, GL_CNI_GC);
	assert_false(req.has_valid);
	gl_cni_req_free(&req);

	/* Both need cniVersion 1.1.0. */
	expect_fail(CONF, GL_ERR_VERSION, "1.1.0");
	fake_env_set("CNI_COMMAND", "STATUS");
	expect_fail(CONF, GL_ERR_VERSION, "1.1.0");
	expect_fail("{\"cniVersion\":\"0.4.0\",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, NULL);
}

static void test_req_check_version(void **state)
{
	fake_env_runtime("CHECK");
	/* CHECK exists from 0.4.0 on. */
	expect_fail("{\"cniVersion\":\"0.3.1\",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, "0.4.0");
	expect_fail("{\"cniVersion\":\"0.3.0\",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, NULL);
	expect_ok("{\"cniVersion\":\"0.4.0\",\"name\":\"lan\",\"type\":\"x\"}");
	expect_ok(CONF11);
	/* ADD is fine with 0.3.x. */
	fake_env_runtime("ADD");
	expect_ok("{\"cniVersion\":\"0.3.0\",\"name\":\"lan\",\"type\":\"x\"}");
	expect_ok("{\"cniVersion\":\"0.3.1\",\"name\":\"lan\",\"type\":\"x\"}");
}

/* ---- environment validation ---- */

static void test_env_command(void **state)
{
	fake_env_runtime("ADD");
	fake_env_set("CNI_COMMAND", NULL);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_COMMAND");
	fake_env_set("CNI_COMMAND", "");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_COMMAND");
	fake_env_set("CNI_COMMAND", "add");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_COMMAND");
	fake_env_set("CNI_COMMAND", "DELETE");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_COMMAND");
}

static void test_env_container_id(void **state)
{
	static const char *const bad[] = { "-abc", "a/b", "../x", "a b", "a;b", "_x" };
	char longid[GL_CNI_ID_MAX + 10];

	for (const char *const *cmd = (const char *const[]){ "ADD", "DEL", "CHECK", NULL }; *cmd; cmd++) {
		print_message("%s\n", *cmd);
		fake_env_runtime(*cmd);
		fake_env_set("CNI_CONTAINERID", NULL);
		expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_CONTAINERID");
		fake_env_set("CNI_CONTAINERID", "");
		expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_CONTAINERID");
		for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
			fake_env_set("CNI_CONTAINERID", bad[i]);
			expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_CONTAINERID");
		}
	}
	fake_env_runtime("ADD");
	memset(longid, 'a', sizeof(longid));
	longid[sizeof(longid) - 1] = '\0';
	fake_env_set("CNI_CONTAINERID", longid);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_CONTAINERID");
}

static void test_env_ifname(void **state)
{
	static const char *const bad[] = { "a/b", ".", "..", "eth 0", "eth0:1", "/", "a\tb" };

	fake_env_runtime("ADD");
	fake_env_set("CNI_IFNAME", NULL);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_IFNAME");
	fake_env_set("CNI_IFNAME", "");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_IFNAME");
	/* IFNAMSIZ is 16: 15 characters is the most. */
	fake_env_set("CNI_IFNAME", "abcdefghijklmnop");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_IFNAME");
	fake_env_set("CNI_IFNAME", "averyveryverylonginterfacename");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_IFNAME");
	fake_env_set("CNI_IFNAME", "abcdefghijklmno");
	expect_ok(CONF);
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		fake_env_set("CNI_IFNAME", bad[i]);
		expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_IFNAME");
	}
	/* DEL validates it as well. */
	fake_env_runtime("DEL");
	fake_env_set("CNI_IFNAME", "../eth0");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_IFNAME");
}

static void test_env_netns(void **state)
{
	static char longpath[PATH_MAX + 10];

	fake_env_runtime("ADD");
	fake_env_set("CNI_NETNS", "run/netns/pod1");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_NETNS");
	fake_env_set("CNI_NETNS", "pod1");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_NETNS");
	longpath[0] = '/';
	memset(longpath + 1, 'a', sizeof(longpath) - 2);
	longpath[sizeof(longpath) - 1] = '\0';
	fake_env_set("CNI_NETNS", longpath);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_NETNS");
	fake_env_runtime("DEL");
	fake_env_set("CNI_NETNS", "relative");
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_NETNS");
	/* A /proc path (as docker and podman pass) is fine. */
	fake_env_runtime("ADD");
	fake_env_set("CNI_NETNS", "/proc/1234/ns/net");
	expect_ok(CONF);
	/* CNI_PATH is optional for the request itself. */
	fake_env_set("CNI_PATH", NULL);
	expect_ok(CONF);
}

static void test_env_empty_stdin(void **state)
{
	fake_env_runtime("ADD");
	expect_fail("", GL_ERR_DECODE, NULL);
	fake_env_runtime("DEL");
	expect_fail("", GL_ERR_DECODE, NULL);
}

/* ---- configuration validation ---- */

static void test_conf_version(void **state)
{
	fake_env_runtime("ADD");
	{
		/* No cniVersion (a NetworkAttachmentDefinition as in multus'
		 * quickstart): the default version, written into the config that
		 * delegates will see. */
		struct gl_cni_req req;
		struct gl_err err;
		json_object *o = NULL;

		assert_int_equal(parse(&req, "{\"name\":\"lan\",\"type\":\"x\"}", &err), 0);
		assert_string_equal(req.cni_version, GL_CNI_VERSION_DEFAULT);
		assert_int_equal(req.raw_len, strlen(req.raw));
		assert_int_equal(gl_json_parse_object(req.raw, req.raw_len, &o, &err), 0);
		assert_string_equal(json_object_get_string(json_object_object_get(o, "cniVersion")),
				    GL_CNI_VERSION_DEFAULT);
		assert_string_equal(json_object_get_string(json_object_object_get(o, "name")), "lan");
		json_object_put(o);
		gl_cni_req_free(&req);
	}
	expect_fail("{\"cniVersion\":\"0.2.0\",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, "0.2.0");
	expect_fail("{\"cniVersion\":\"2.0.0\",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, "2.0.0");
	expect_fail("{\"cniVersion\":1,\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_INVALID_CONFIG, "cniVersion");
	expect_fail("{\"cniVersion\":\"1.0.0.0.0.0.0.0.0.0.0.0\",\"name\":\"lan\",\"type\":\"x\"}",
		    GL_ERR_INVALID_CONFIG, "cniVersion");
	{
		struct gl_cni_req req;
		struct gl_err err;

		/* The errno matches the code, for callers that only look at r. */
		assert_int_equal(parse(&req, "{\"cniVersion\":\"0.2.0\",\"name\":\"lan\",\"type\":\"x\"}", &err),
				 gl_err_errno(GL_ERR_VERSION));
		gl_cni_req_free(&req);
	}
}

/* libcni (multus, podman) injects "cniVersion": "" into every plugin's config
 * when the NAD or conflist has none: the same as an absent one, on every
 * verb (a failing DEL blocks the kubelet's sandbox teardown). */
static void test_conf_version_empty(void **state)
{
	static const char *const verbs[] = { "ADD", "DEL", "CHECK" };
	static const char *const conf =
		"{\"cniVersion\":\"\",\"name\":\"lan\",\"type\":\"x\","
		"\"prevResult\":{\"cniVersion\":\"\",\"ips\":[{\"address\":\"192.168.1.200/24\"}]}}";

	for (size_t i = 0; i < GL_ARRAY_SIZE(verbs); i++) {
		struct gl_cni_req req;
		struct gl_err err;
		json_object *o = NULL;

		print_message("%s\n", verbs[i]);
		fake_env_runtime(verbs[i]);
		assert_int_equal(parse(&req, conf, &err), 0);
		assert_string_equal(req.cni_version, GL_CNI_VERSION_DEFAULT);
		assert_true(req.has_prev);
		assert_int_equal(req.prev.n_ips, 1);
		/* Delegates see the default too, not "". */
		assert_int_equal(req.raw_len, strlen(req.raw));
		assert_int_equal(gl_json_parse_object(req.raw, req.raw_len, &o, &err), 0);
		assert_string_equal(json_object_get_string(json_object_object_get(o, "cniVersion")),
				    GL_CNI_VERSION_DEFAULT);
		json_object_put(o);
		gl_cni_req_free(&req);
	}
	/* DEL without a netns, as a runtime retries it. */
	fake_env_runtime("DEL");
	fake_env_set("CNI_NETNS", NULL);
	expect_ok("{\"cniVersion\":\"\",\"name\":\"lan\",\"type\":\"x\"}");
	/* VERSION answers; STATUS and GC need 1.1.0, which "" is not. */
	fake_env_clear();
	fake_env_set("CNI_COMMAND", "VERSION");
	expect_ok("{\"cniVersion\":\"\"}");
	fake_env_set("CNI_COMMAND", "GC");
	expect_fail("{\"cniVersion\":\"\",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, "1.1.0");
	/* Blank is not empty: refused. */
	fake_env_runtime("ADD");
	expect_fail("{\"cniVersion\":\" \",\"name\":\"lan\",\"type\":\"x\"}", GL_ERR_VERSION, NULL);
}

static void test_conf_name_type(void **state)
{
	static const char *const bad_names[] = {
		"{\"cniVersion\":\"1.0.0\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"-lan\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"lan net\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"lan/x\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\"../lan\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":\".lan\",\"type\":\"x\"}",
		"{\"cniVersion\":\"1.0.0\",\"name\":5,\"type\":\"x\"}",
	};
	char big[600];

	fake_env_runtime("ADD");
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad_names); i++) {
		print_message("%s\n", bad_names[i]);
		expect_fail(bad_names[i], GL_ERR_INVALID_CONFIG, "name");
	}
	snprintf(big, sizeof(big), "{\"cniVersion\":\"1.0.0\",\"name\":\"%0300d\",\"type\":\"x\"}", 1);
	expect_fail(big, GL_ERR_INVALID_CONFIG, "name");
	expect_ok("{\"cniVersion\":\"1.0.0\",\"name\":\"Lan_1.x-y\",\"type\":\"x\"}");

	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\"}", GL_ERR_INVALID_CONFIG, "type");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":7}", GL_ERR_INVALID_CONFIG, "type");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"args\":5}",
		    GL_ERR_INVALID_CONFIG, "args");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"args\":{\"cni\":[]}}",
		    GL_ERR_INVALID_CONFIG, "cni");
}

static void test_conf_decode(void **state)
{
	fake_env_runtime("ADD");
	expect_fail("{", GL_ERR_DECODE, NULL);
	expect_fail("not json", GL_ERR_DECODE, NULL);
	expect_fail("[1,2]", GL_ERR_DECODE, NULL);
	expect_fail("\"str\"", GL_ERR_DECODE, NULL);
	expect_fail(CONF "x", GL_ERR_DECODE, NULL);
	expect_fail(CONF CONF, GL_ERR_DECODE, NULL);
	expect_ok(CONF "\n");
	{
		/* A NUL inside the buffer is not the end of the input. */
		struct gl_cni_req req;
		struct gl_err err = {0};
		char buf[] = CONF "\0garbage";

		assert_true(gl_cni_req_parse(&req, fake_getenv, buf, sizeof(buf) - 1, &err) < 0);
		assert_int_equal(err.code, GL_ERR_DECODE);
		gl_cni_req_free(&req);
	}
	{
		/* Deep nesting is refused, not recursed into. */
		static char deep[4096];
		size_t n = 0;

		n += (size_t)snprintf(deep, sizeof(deep), "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"d\":");
		for (int i = 0; i < 1000; i++)
			deep[n++] = '[';
		for (int i = 0; i < 1000; i++)
			deep[n++] = ']';
		deep[n++] = '}';
		deep[n] = '\0';
		expect_fail(deep, GL_ERR_DECODE, NULL);
	}
}

/* ---- CNI_ARGS ---- */

static void test_cni_args(void **state)
{
	struct gl_cni_req req;
	struct gl_err err = {0};

	memset(&req, 0, sizeof(req));
	assert_int_equal(gl_cni_parse_args(&req, "IgnoreUnknown=1;K8S_POD_NAMESPACE=games;"
					   "K8S_POD_NAME=dst-0;K8S_POD_UID=0a1b-2c3d;"
					   "K8S_POD_INFRA_CONTAINER_ID=abc123;FOO=bar;GAMELAN_IDENTITY=srv-1",
					   &err), 0);
	assert_string_equal(req.k8s_namespace, "games");
	assert_string_equal(req.k8s_pod_name, "dst-0");
	assert_string_equal(req.k8s_pod_uid, "0a1b-2c3d");
	assert_string_equal(req.k8s_infra_id, "abc123");
	assert_string_equal(req.args_identity, "srv-1");
	assert_int_equal(err.code, 0);

	/* Empty and NULL are nothing; empty pairs are skipped; unknown keys
	 * (even with odd values) are ignored. */
	memset(&req, 0, sizeof(req));
	assert_int_equal(gl_cni_parse_args(&req, NULL, &err), 0);
	assert_int_equal(gl_cni_parse_args(&req, "", &err), 0);
	assert_int_equal(gl_cni_parse_args(&req, ";;K8S_POD_NAME=a;;", &err), 0);
	assert_string_equal(req.k8s_pod_name, "a");
	assert_int_equal(gl_cni_parse_args(&req, "X=a b c;Y=;Z==", &err), 0);
	assert_int_equal(err.code, 0);
}

static void test_cni_args_bad(void **state)
{
	static const char *const bad[] = {
		"x", "IgnoreUnknown=1;x", "K8S_POD_NAME", "A=1;;B", "K8S_POD_NAMESPACE=bad_ns",
		"K8S_POD_NAME=a/b", "K8S_POD_NAME=a b", "K8S_POD_NAMESPACE=../x/y",
		/* What a container name must never be: a path step, a separator,
		 * a control character, an option-like or non-ASCII start. */
		"K8S_POD_NAME=.", "K8S_POD_NAME=..", "K8S_POD_NAME=../etc", "K8S_POD_NAME=a\\b",
		"K8S_POD_NAME=a\x01b", "K8S_POD_NAME=a\tb", "K8S_POD_NAME=a\x7f", "K8S_POD_NAME=-x",
		"K8S_POD_NAME=_x", "K8S_POD_NAME=a:b", "K8S_POD_NAME=caf\xc3\xa9",
		"K8S_POD_NAMESPACE=.", "K8S_POD_NAMESPACE=..;K8S_POD_NAME=x",
	};
	char big[5000], uid[200];

	fake_env_runtime("ADD");
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		print_message("CNI_ARGS=%s\n", bad[i]);
		fake_env_set("CNI_ARGS", bad[i]);
		expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_ARGS");
	}
	/* Too long as a whole or for a field: refused, not truncated. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "FOO=", 4);
	big[sizeof(big) - 1] = '\0';
	fake_env_set("CNI_ARGS", big);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_ARGS");
	/* A name one longer than Kubernetes allows (253). */
	snprintf(big, sizeof(big), "K8S_POD_NAME=%0254d", 7);
	fake_env_set("CNI_ARGS", big);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "K8S_POD_NAME");
	snprintf(uid, sizeof(uid), "K8S_POD_UID=%0150d", 7);
	fake_env_set("CNI_ARGS", uid);
	expect_fail(CONF, GL_ERR_INVALID_ENV, "K8S_POD_UID");
	{
		struct gl_cni_req req;
		struct gl_err err = {0};

		memset(&req, 0, sizeof(req));
		assert_int_equal(gl_cni_parse_args(&req, "x", &err), gl_err_errno(GL_ERR_INVALID_ENV));
		assert_int_equal(err.code, GL_ERR_INVALID_ENV);
	}
}

/* Container names as runtimes make them: podman's generated ones have '_',
 * and podman passes only IgnoreUnknown and K8S_POD_NAME (plus MAC and IP
 * for --mac-address and --ip), on ADD and on DEL. */
static void test_cni_args_container_names(void **state)
{
	static const char *const verbs[] = { "ADD", "DEL", "CHECK" };
	static const char *const good[] = {
		"friendly_feynman", "dst-a", "Web.1", "a", "9", "srv_01.eu-west", "A-_._-z",
	};
	char args[400], big[300];

	for (size_t v = 0; v < GL_ARRAY_SIZE(verbs); v++) {
		fake_env_runtime(verbs[v]);
		for (size_t i = 0; i < GL_ARRAY_SIZE(good); i++) {
			struct gl_cni_req req;
			struct gl_err err;
			char want[300];

			snprintf(args, sizeof(args), "IgnoreUnknown=1;K8S_POD_NAME=%s;MAC=02:00:00:00:00:09;"
				 "IP=192.168.1.230", good[i]);
			print_message("%s CNI_ARGS=%s\n", verbs[v], args);
			fake_env_set("CNI_ARGS", args);
			if (parse(&req, CONF, &err) < 0)
				fail_msg("refused: %s", err.msg);
			assert_string_equal(req.k8s_pod_name, good[i]);
			snprintf(want, sizeof(want), "podman/%s", good[i]);
			assert_string_equal(req.identity, want);
			assert_true(req.identity_sticky);
			gl_cni_req_free(&req);
		}
	}
	/* The longest Kubernetes name (253) is fine. */
	fake_env_runtime("ADD");
	memset(big, 'n', 253);
	big[253] = '\0';
	snprintf(args, sizeof(args), "K8S_POD_NAME=%s", big);
	fake_env_set("CNI_ARGS", args);
	expect_ok(CONF);
}

/* IP= and MAC= (podman's --ip and --mac-address), parsed as the reference
 * plugins take them: IP a comma-separated list of "ip" or "ip/len". */
static void test_cni_args_ip_mac(void **state)
{
	static const char *const bad[] = {
		"IP=nope", "IP=10.0.0.1,", "IP=,", "IP=10.0.0.1;IP=x", "IP=10.0.0.1/33",
		"IP=1,2,3,4,5,6,7,8,9", "MAC=nope", "MAC=02:00:00:00:00", "MAC=02:00:00:00:00:00:00",
	};
	struct gl_cni_req req;
	struct gl_err err = {0};

	memset(&req, 0, sizeof(req));
	assert_int_equal(gl_cni_parse_args(&req, "IgnoreUnknown=1;K8S_POD_NAME=a;MAC=02:42:ac:11:00:07;"
					   "IP=192.168.1.230", &err), 0);
	assert_string_equal(req.args_mac, "02:42:ac:11:00:07");
	assert_int_equal(req.n_args_ips, 1);
	assert_string_equal(ip_str(&req.args_ips[0]), "192.168.1.230");

	memset(&req, 0, sizeof(req));
	assert_int_equal(gl_cni_parse_args(&req, "IP=192.168.1.230/24, 2001:db8::7 ,10.1.2.3", &err), 0);
	assert_int_equal(req.n_args_ips, 3);
	assert_string_equal(ip_str(&req.args_ips[0]), "192.168.1.230");
	assert_string_equal(ip_str(&req.args_ips[1]), "2001:db8::7");
	assert_string_equal(ip_str(&req.args_ips[2]), "10.1.2.3");
	assert_string_equal(req.args_mac, "");

	/* Empty values are nothing; the keys are upper case, as the
	 * reference's LoadArgs matches them. */
	memset(&req, 0, sizeof(req));
	assert_int_equal(gl_cni_parse_args(&req, "IP=;MAC=;ip=nope;mac=nope", &err), 0);
	assert_int_equal(req.n_args_ips, 0);
	assert_string_equal(req.args_mac, "");

	fake_env_runtime("ADD");
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		print_message("CNI_ARGS=%s\n", bad[i]);
		fake_env_set("CNI_ARGS", bad[i]);
		expect_fail(CONF, GL_ERR_INVALID_ENV, "CNI_ARGS");
	}
}

/* ---- identity ---- */

static void expect_identity(const char *conf, const char *want, bool sticky)
{
	struct gl_cni_req req;
	struct gl_err err;
	int r = parse(&req, conf, &err);

	if (r < 0)
		fail_msg("parse failed: %d %s", err.code, err.msg);
	print_message("identity \"%s\" sticky=%d\n", req.identity, req.identity_sticky);
	assert_string_equal(req.identity, want);
	assert_int_equal(req.identity_sticky, sticky);
	gl_cni_req_free(&req);
}

static void test_identity_precedence(void **state)
{
	static const char *const with_args =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":\"conf-id\","
		"\"args\":{\"cni\":{\"identity\":\"args-id\"}}}";
	static const char *const with_conf =
		"{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":\"conf-id\"}";

	fake_env_runtime("ADD");
	fake_env_set("CNI_ARGS", FAKE_K8S_ARGS ";GAMELAN_IDENTITY=env-id");
	/* 1. args.cni.identity beats everything. */
	expect_identity(with_args, "args-id", true);
	/* 2. then GAMELAN_IDENTITY in CNI_ARGS. */
	expect_identity(with_conf, "env-id", true);
	/* 3. then the Kubernetes pod, sticky. */
	fake_env_set("CNI_ARGS", FAKE_K8S_ARGS);
	expect_identity(with_conf, "games/dst-0", true);
	/* 4. then the config's identity. */
	fake_env_set("CNI_ARGS", "IgnoreUnknown=1");
	expect_identity(with_conf, "conf-id", true);
	/* 5. else the container ID, which is not sticky. */
	expect_identity(CONF, "c0ffee01", false);
	fake_env_set("CNI_ARGS", NULL);
	expect_identity(CONF, "c0ffee01", false);
	/* A namespace without a pod name is not a pod identity. */
	fake_env_set("CNI_ARGS", "K8S_POD_NAMESPACE=games");
	expect_identity(CONF, "c0ffee01", false);
	/* A pod name without a namespace (podman's container name) is an
	 * identity of its own, before the config's. */
	fake_env_set("CNI_ARGS", "K8S_POD_NAME=dst-0");
	expect_identity(with_conf, "podman/dst-0", true);
	expect_identity(CONF, "podman/dst-0", true);
	fake_env_set("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=dst-0;GAMELAN_IDENTITY=env-id");
	expect_identity(CONF, "env-id", true);
	/* An empty GAMELAN_IDENTITY is as good as none. */
	fake_env_set("CNI_ARGS", FAKE_K8S_ARGS ";GAMELAN_IDENTITY=");
	expect_identity(CONF, "games/dst-0", true);
	/* args.cni without identity falls through. */
	expect_identity("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\","
			"\"args\":{\"cni\":{\"other\":1}}}", "games/dst-0", true);
	/* The same on DEL and CHECK: DEL must find what ADD reserved. */
	fake_env_runtime("DEL");
	expect_identity(with_conf, "games/dst-0", true);
	fake_env_runtime("CHECK");
	expect_identity(with_args, "args-id", true);
}

static void test_identity_bad(void **state)
{
	char big[700];

	fake_env_runtime("ADD");
	fake_env_set("CNI_ARGS", NULL);
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":\"a b\"}",
		    GL_ERR_INVALID_CONFIG, "identity");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":\"\"}",
		    GL_ERR_INVALID_CONFIG, "identity");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":\"a\\nb\"}",
		    GL_ERR_INVALID_CONFIG, "identity");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":5}",
		    GL_ERR_INVALID_CONFIG, "identity");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"args\":{\"cni\":{\"identity\":[]}}}",
		    GL_ERR_INVALID_CONFIG, "identity");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"args\":{\"cni\":{\"identity\":\"\\u0000x\"}}}",
		    GL_ERR_INVALID_CONFIG, "identity");
	snprintf(big, sizeof(big), "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"identity\":\"%0600d\"}", 3);
	expect_fail(big, GL_ERR_INVALID_CONFIG, "identity");
	fake_env_set("CNI_ARGS", "GAMELAN_IDENTITY=a\tb");
	expect_fail(CONF, GL_ERR_INVALID_CONFIG, "identity");
}

/* ---- runtimeConfig ---- */

static void test_runtime_config(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;
	char buf[GL_PREFIX_STRLEN];

	fake_env_runtime("ADD");
	assert_int_equal(parse(&req, "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\","
			       "\"runtimeConfig\":{\"ips\":[\"192.168.1.200/24\",\"192.168.1.201\",\"2001:db8::5\"],"
			       "\"mac\":\"02:00:00:00:00:01\",\"portMappings\":[]}}", &err), 0);
	assert_non_null(req.runtime_config);
	assert_int_equal(req.n_rc_ips, 3);
	assert_string_equal(gl_prefix_str(&req.rc_ips[0], buf, sizeof(buf)), "192.168.1.200/24");
	assert_string_equal(gl_prefix_str(&req.rc_ips[1], buf, sizeof(buf)), "192.168.1.201/32");
	assert_string_equal(gl_prefix_str(&req.rc_ips[2], buf, sizeof(buf)), "2001:db8::5/128");
	assert_string_equal(req.rc_mac, "02:00:00:00:00:01");
	gl_cni_req_free(&req);

	assert_int_equal(parse(&req, "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"runtimeConfig\":{}}",
			       &err), 0);
	assert_non_null(req.runtime_config);
	assert_int_equal(req.n_rc_ips, 0);
	assert_string_equal(req.rc_mac, "");
	gl_cni_req_free(&req);
}

static void test_runtime_config_bad(void **state)
{
	static const char *const bad[] = {
		"{\"runtimeConfig\":5}",
		"{\"runtimeConfig\":{\"ips\":\"192.168.1.200\"}}",
		"{\"runtimeConfig\":{\"ips\":[5]}}",
		"{\"runtimeConfig\":{\"ips\":[\"x\"]}}",
		"{\"runtimeConfig\":{\"ips\":[\"192.168.1.200/33\"]}}",
		"{\"runtimeConfig\":{\"ips\":[\"1.2.3.4\",\"1.2.3.4\",\"1.2.3.4\",\"1.2.3.4\",\"1.2.3.4\","
		"\"1.2.3.4\",\"1.2.3.4\",\"1.2.3.4\",\"1.2.3.4\"]}}",
		"{\"runtimeConfig\":{\"mac\":\"zz:00:00:00:00:01\"}}",
		"{\"runtimeConfig\":{\"mac\":\"02:00:00:00:00:01:02\"}}",
		"{\"runtimeConfig\":{\"mac\":5}}",
	};

	fake_env_runtime("ADD");
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		char conf[512];

		snprintf(conf, sizeof(conf), "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",%s",
			 bad[i] + 1);
		print_message("%s\n", conf);
		expect_fail(conf, GL_ERR_INVALID_CONFIG, "runtimeConfig");
	}
}

/* ---- GC attachments ---- */

static void test_gc_attachments(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;

	fake_env_clear();
	fake_env_set("CNI_COMMAND", "GC");
	assert_int_equal(parse(&req, "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"x\","
			       "\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\",\"ifname\":\"eth0\"},"
			       "{\"containerID\":\"c2\",\"ifname\":\"net1\"}]}", &err), 0);
	assert_true(req.has_valid);
	assert_int_equal(req.n_valid, 2);
	assert_string_equal(req.valid[0].container_id, "c1");
	assert_string_equal(req.valid[0].ifname, "eth0");
	assert_string_equal(req.valid[1].container_id, "c2");
	assert_string_equal(req.valid[1].ifname, "net1");
	gl_cni_req_free(&req);
	assert_null(req.valid);

	/* The older key name is read as well. */
	assert_int_equal(parse(&req, "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"x\","
			       "\"cni.dev/attachments\":[{\"containerID\":\"c3\",\"ifname\":\"eth0\"}]}", &err), 0);
	assert_true(req.has_valid);
	assert_int_equal(req.n_valid, 1);
	assert_string_equal(req.valid[0].container_id, "c3");
	gl_cni_req_free(&req);

	/* An empty list is a list: everything may be collected. */
	assert_int_equal(parse(&req, "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"x\","
			       "\"cni.dev/valid-attachments\":[]}", &err), 0);
	assert_true(req.has_valid);
	assert_int_equal(req.n_valid, 0);
	gl_cni_req_free(&req);

	/* Both: the standard name wins. */
	assert_int_equal(parse(&req, "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"x\","
			       "\"cni.dev/attachments\":[{\"containerID\":\"old\",\"ifname\":\"eth0\"}],"
			       "\"cni.dev/valid-attachments\":[{\"containerID\":\"new\",\"ifname\":\"eth0\"}]}", &err), 0);
	assert_int_equal(req.n_valid, 1);
	assert_string_equal(req.valid[0].container_id, "new");
	gl_cni_req_free(&req);
}

static void test_gc_attachments_bad(void **state)
{
	static const char *const bad[] = {
		"\"cni.dev/valid-attachments\":{}",
		"\"cni.dev/valid-attachments\":[5]",
		"\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\"}]",
		"\"cni.dev/valid-attachments\":[{\"ifname\":\"eth0\"}]",
		"\"cni.dev/valid-attachments\":[{\"containerID\":5,\"ifname\":\"eth0\"}]",
		"\"cni.dev/valid-attachments\":[{\"containerID\":\"c1\",\"ifname\":\"averyveryverylongname\"}]",
	};

	fake_env_clear();
	fake_env_set("CNI_COMMAND", "GC");
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		char conf[512];

		snprintf(conf, sizeof(conf), "{\"cniVersion\":\"1.1.0\",\"name\":\"lan\",\"type\":\"x\",%s}", bad[i]);
		print_message("%s\n", conf);
		expect_fail(conf, GL_ERR_INVALID_CONFIG, NULL);
	}
}

/* ---- results ---- */

#define RESULT_100                                                                                  \
	"{\"cniVersion\":\"1.0.0\","                                                               \
	"\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"02:42:ac:11:00:02\",\"mtu\":1400,"            \
	"\"sandbox\":\"/run/netns/pod1\"},{\"name\":\"lan0\"}],"                                    \
	"\"ips\":[{\"address\":\"192.168.1.200/24\",\"gateway\":\"192.168.1.1\",\"interface\":0},"  \
	"{\"address\":\"2001:db8::c8/64\",\"interface\":0},{\"address\":\"10.9.0.5/16\"}],"         \
	"\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"192.168.1.1\",\"priority\":100},"               \
	"{\"dst\":\"10.0.0.0/8\"},{\"dst\":\"::/0\",\"gw\":\"2001:db8::1\"}],"                      \
	"\"dns\":{\"nameservers\":[\"192.168.1.1\",\"2001:db8::1\"],\"domain\":\"lan\","            \
	"\"search\":[\"lan\",\"example.org\"],\"options\":[\"ndots:2\"]}}"

static json_object *jparse(const char *s)
{
	json_object *o = NULL;
	struct gl_err err = {0};

	if (gl_json_parse_object(s, strlen(s), &o, &err) < 0)
		fail_msg("test JSON does not parse: %s", err.msg);
	return o;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static json_object *jidx(json_object *a, size_t i)
{
	assert_true(json_object_is_type(a, json_type_array));
	assert_true(i < json_object_array_length(a));
	return json_object_array_get_idx(a, i);
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = jget(o, key);

	if (!v)
		return NULL;
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static struct gl_cni_result *parse_result(const char *s, const char *version)
{
	json_object *o = jparse(s);
	struct gl_cni_result *r = calloc(1, sizeof(*r));
	struct gl_err err = {0};

	assert_non_null(r);
	if (gl_cni_result_parse(o, version, r, &err) < 0)
		fail_msg("result does not parse: %d %s", err.code, err.msg);
	json_object_put(o);
	return r;
}

static void test_result_parse(void **state)
{
	struct gl_cni_result *r = parse_result(RESULT_100, "1.0.0");
	char buf[GL_PREFIX_STRLEN];

	assert_int_equal(r->n_ifaces, 2);
	assert_string_equal(r->ifaces[0].name, "eth0");
	assert_string_equal(r->ifaces[0].mac, "02:42:ac:11:00:02");
	assert_string_equal(r->ifaces[0].sandbox, "/run/netns/pod1");
	assert_int_equal(r->ifaces[0].mtu, 1400);
	assert_string_equal(r->ifaces[1].name, "lan0");
	assert_string_equal(r->ifaces[1].mac, "");
	assert_string_equal(r->ifaces[1].sandbox, "");
	assert_int_equal(r->ifaces[1].mtu, 0);

	assert_int_equal(r->n_ips, 3);
	assert_string_equal(gl_prefix_str(&r->ips[0].address, buf, sizeof(buf)), "192.168.1.200/24");
	assert_true(r->ips[0].has_gateway);
	assert_string_equal(gl_ip_str(&r->ips[0].gateway, buf, sizeof(buf)), "192.168.1.1");
	assert_int_equal(r->ips[0].interface, 0);
	assert_string_equal(gl_prefix_str(&r->ips[1].address, buf, sizeof(buf)), "2001:db8::c8/64");
	assert_false(r->ips[1].has_gateway);
	assert_int_equal(r->ips[2].interface, -1);

	assert_int_equal(r->n_routes, 3);
	assert_string_equal(gl_prefix_str(&r->routes[0].dst, buf, sizeof(buf)), "0.0.0.0/0");
	assert_true(r->routes[0].has_gw);
	assert_int_equal(r->routes[0].priority, 100);
	assert_false(r->routes[1].has_gw);
	assert_int_equal(r->routes[1].priority, 0);
	assert_string_equal(gl_ip_str(&r->routes[2].gw, buf, sizeof(buf)), "2001:db8::1");

	assert_int_equal(r->dns.n_nameservers, 2);
	assert_string_equal(r->dns.nameservers[1], "2001:db8::1");
	assert_string_equal(r->dns.domain, "lan");
	assert_int_equal(r->dns.n_search, 2);
	assert_string_equal(r->dns.search[1], "example.org");
	assert_int_equal(r->dns.n_options, 1);
	assert_string_equal(r->dns.options[0], "ndots:2");
	free(r);

	/* A 0.4.0 result with "version" fields reads the same. */
	r = parse_result("{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":\"4\",\"address\":\"192.168.1.200/24\","
			 "\"gateway\":\"192.168.1.1\"}]}", "0.4.0");
	assert_int_equal(r->n_ips, 1);
	assert_int_equal(r->n_ifaces, 0);
	assert_int_equal(r->ips[0].interface, -1);
	free(r);
	/* So does an empty one. */
	r = parse_result("{\"cniVersion\":\"1.0.0\"}", "1.0.0");
	assert_int_equal(r->n_ips + r->n_ifaces + r->n_routes, 0);
	free(r);
}

static void check_emitted(json_object *o, const char *version)
{
	bool old = gl_cni_version_cmp(version, "1.0.0") < 0;
	bool v11 = strcmp(version, "1.1.0") == 0;
	json_object *ips = jget(o, "ips"), *routes = jget(o, "routes"), *ifs = jget(o, "interfaces");
	json_object *dns = jget(o, "dns");

	assert_string_equal(jstr(o, "cniVersion"), version);
	assert_int_equal(json_object_array_length(ips), 3);
	assert_string_equal(jstr(jidx(ips, 0), "address"), "192.168.1.200/24");
	assert_string_equal(jstr(jidx(ips, 0), "gateway"), "192.168.1.1");
	assert_int_equal(json_object_get_int(jget(jidx(ips, 0), "interface")), 0);
	assert_null(jget(jidx(ips, 2), "interface"));
	assert_null(jget(jidx(ips, 1), "gateway"));
	if (old) {
		/* 0.3.x and 0.4.0 carry the IP version as a string. */
		assert_string_equal(jstr(jidx(ips, 0), "version"), "4");
		assert_string_equal(jstr(jidx(ips, 1), "version"), "6");
		assert_string_equal(jstr(jidx(ips, 2), "version"), "4");
	} else {
		for (size_t i = 0; i < 3; i++)
			assert_null(jget(jidx(ips, i), "version"));
	}
	assert_int_equal(json_object_array_length(ifs), 2);
	assert_string_equal(jstr(jidx(ifs, 0), "name"), "eth0");
	assert_string_equal(jstr(jidx(ifs, 0), "mac"), "02:42:ac:11:00:02");
	assert_string_equal(jstr(jidx(ifs, 0), "sandbox"), "/run/netns/pod1");
	assert_null(jget(jidx(ifs, 1), "mac"));
	assert_null(jget(jidx(ifs, 1), "sandbox"));
	assert_int_equal(json_object_array_length(routes), 3);
	assert_string_equal(jstr(jidx(routes, 0), "dst"), "0.0.0.0/0");
	assert_string_equal(jstr(jidx(routes, 0), "gw"), "192.168.1.1");
	assert_null(jget(jidx(routes, 1), "gw"));
	assert_string_equal(jstr(jidx(routes, 2), "dst"), "::/0");
	if (v11) {
		/* Only 1.1.0 knows route priority and interface MTU. */
		assert_int_equal(json_object_get_int(jget(jidx(routes, 0), "priority")), 100);
		assert_int_equal(json_object_get_int(jget(jidx(ifs, 0), "mtu")), 1400);
	} else {
		assert_null(jget(jidx(routes, 0), "priority"));
		assert_null(jget(jidx(ifs, 0), "mtu"));
	}
	assert_null(jget(jidx(routes, 1), "priority"));
	assert_null(jget(jidx(ifs, 1), "mtu"));
	assert_non_null(dns);
	assert_string_equal(jstr(dns, "domain"), "lan");
	assert_int_equal(json_object_array_length(jget(dns, "nameservers")), 2);
	assert_int_equal(json_object_array_length(jget(dns, "search")), 2);
	assert_int_equal(json_object_array_length(jget(dns, "options")), 1);
}

static void test_result_emit_versions(void **state)
{
	struct gl_cni_result *r = parse_result(RESULT_100, "1.0.0");
	static const char *const versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };

	for (size_t i = 0; i < GL_ARRAY_SIZE(versions); i++) {
		json_object *o = gl_cni_result_to_json(r, versions[i]);
		char *s = gl_json_dump(o);

		print_message("%s: %s\n", versions[i], s);
		check_emitted(o, versions[i]);
		free(s);
		json_object_put(o);
	}
	free(r);
}

static void test_result_round_trip(void **state)
{
	json_object *in = jparse(RESULT_100);
	struct gl_cni_result *r = parse_result(RESULT_100, "1.0.0"), *r2;
	json_object *out = gl_cni_result_to_json(r, "1.1.0"), *out2;
	char *s;
	static const char *const keys[] = { "interfaces", "ips", "routes", "dns" };

	/* Nothing lost: the 1.1.0 emission holds all of the input. */
	for (size_t i = 0; i < GL_ARRAY_SIZE(keys); i++) {
		print_message("%s\n", keys[i]);
		assert_true(json_object_equal(jget(in, keys[i]), jget(out, keys[i])));
	}
	/* And reading our own output gives the same output again, in every
	 * version. */
	s = gl_json_dump(out);
	r2 = parse_result(s, "1.1.0");
	out2 = gl_cni_result_to_json(r2, "1.1.0");
	assert_true(json_object_equal(out, out2));
	free(s);
	for (const char *const *v = (const char *const[]){ "0.3.1", "0.4.0", "1.0.0", NULL }; *v; v++) {
		json_object *a = gl_cni_result_to_json(r, *v), *b;
		struct gl_cni_result *r3;
		char *t = gl_json_dump(a);

		r3 = parse_result(t, *v);
		b = gl_cni_result_to_json(r3, *v);
		assert_true(json_object_equal(a, b));
		free(t);
		free(r3);
		json_object_put(a);
		json_object_put(b);
	}
	/* The 1.0.0 input and 1.0.0 output agree on ips. */
	{
		json_object *a = gl_cni_result_to_json(r, "1.0.0");

		assert_true(json_object_equal(jget(in, "ips"), jget(a, "ips")));
		json_object_put(a);
	}
	json_object_put(in);
	json_object_put(out);
	json_object_put(out2);
	free(r);
	free(r2);
}

static void expect_result_fail(const char *s, const char *needle)
{
	json_object *o = jparse(s);
	struct gl_cni_result *r = calloc(1, sizeof(*r));
	struct gl_err err = {0};
	int rc;

	r->n_ips = 77;
	rc = gl_cni_result_parse(o, "1.0.0", r, &err);
	print_message("%s\n  -> %d code %d: %s\n", s, rc, err.code, err.msg);
	assert_true(rc < 0);
	/* A decode problem (6) or a wrongly typed field (7), with a message. */
	assert_true(err.code == GL_ERR_DECODE || err.code == GL_ERR_INVALID_CONFIG);
	assert_true(err.msg[0] != '\0');
	if (needle && !strstr(err.msg, needle))
		fail_msg("message \"%s\" does not mention \"%s\"", err.msg, needle);
	/* ret untouched on failure. */
	assert_int_equal(r->n_ips, 77);
	free(r);
	json_object_put(o);
}

static void test_result_bad(void **state)
{
	expect_result_fail("{\"ips\":{}}", "ips");
	expect_result_fail("{\"ips\":[5]}", "ips");
	expect_result_fail("{\"ips\":[{}]}", "address");
	expect_result_fail("{\"ips\":[{\"address\":\"192.168.1.200\"}]}", "192.168.1.200");
	expect_result_fail("{\"ips\":[{\"address\":\"192.168.1.200/33\"}]}", "address");
	expect_result_fail("{\"ips\":[{\"address\":5}]}", "address");
	expect_result_fail("{\"ips\":[{\"address\":\"192.168.1.200/24\",\"gateway\":\"x\"}]}", "gateway");
	expect_result_fail("{\"ips\":[{\"address\":\"192.168.1.200/24\",\"gateway\":\"2001:db8::1\"}]}", "family");
	/* interface must index interfaces[]. */
	expect_result_fail("{\"ips\":[{\"address\":\"192.168.1.200/24\",\"interface\":0}]}", "interface");
	expect_result_fail("{\"interfaces\":[{\"name\":\"eth0\"}],"
			   "\"ips\":[{\"address\":\"192.168.1.200/24\",\"interface\":1}]}", "interface");
	expect_result_fail("{\"interfaces\":[{\"name\":\"eth0\"}],"
			   "\"ips\":[{\"address\":\"192.168.1.200/24\",\"interface\":-1}]}", "interface");
	expect_result_fail("{\"interfaces\":[{\"name\":\"eth0\"}],"
			   "\"ips\":[{\"address\":\"192.168.1.200/24\",\"interface\":\"0\"}]}", "interface");
	expect_result_fail("{\"interfaces\":{}}", "interfaces");
	expect_result_fail("{\"interfaces\":[\"eth0\"]}", "interfaces");
	expect_result_fail("{\"routes\":[{\"gw\":\"192.168.1.1\"}]}", "dst");
	expect_result_fail("{\"routes\":[{\"dst\":\"0.0.0.0\"}]}", "dst");
	expect_result_fail("{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"priority\":-1}]}", "priority");
	expect_result_fail("{\"routes\":\"x\"}", "routes");
	expect_result_fail("{\"dns\":{\"nameservers\":[1]}}", "nameservers");
	expect_result_fail("{\"dns\":[]}", "dns");
	/* Past the fixed capacity: refused, not overflowed. */
	expect_result_fail("{\"ips\":[{\"address\":\"10.0.0.1/8\"},{\"address\":\"10.0.0.2/8\"},"
			   "{\"address\":\"10.0.0.3/8\"},{\"address\":\"10.0.0.4/8\"},{\"address\":\"10.0.0.5/8\"},"
			   "{\"address\":\"10.0.0.6/8\"},{\"address\":\"10.0.0.7/8\"},{\"address\":\"10.0.0.8/8\"},"
			   "{\"address\":\"10.0.0.9/8\"}]}", "ips");
	expect_result_fail("{\"interfaces\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"},{\"name\":\"d\"},"
			   "{\"name\":\"e\"},{\"name\":\"f\"},{\"name\":\"g\"},{\"name\":\"h\"},{\"name\":\"i\"}]}",
			   "interfaces");
	/* Not an object at all. */
	{
		json_object *a = json_object_new_array();
		struct gl_cni_result *r = calloc(1, sizeof(*r));
		struct gl_err err = {0};

		assert_true(gl_cni_result_parse(a, "1.0.0", r, &err) < 0);
		assert_int_equal(err.code, GL_ERR_DECODE);
		json_object_put(a);
		free(r);
	}
}

static void test_result_bad_interface_msg(void **state)
{
	/* The message for a bad interface entry keeps the inner reason. */
	expect_result_fail("{\"interfaces\":[{\"name\":\"averyveryverylongname\"}]}", "too long");
	expect_result_fail("{\"interfaces\":[{\"name\":\"eth0\",\"mtu\":\"x\"}]}", "mtu");
	expect_result_fail("{\"interfaces\":[{\"name\":\"eth0\"},{\"name\":\"eth1\",\"mtu\":70000}]}",
			   "interfaces[1]");
}

static void test_result_bad_null_err(void **state)
{
	/* err may be NULL (a caller that only wants yes or no); a bad entry
	 * must then fail cleanly, not crash. Run in a child so that a crash
	 * fails this test only. */
	static const char *const bad[] = {
		"{\"interfaces\":[{\"name\":\"eth0\",\"mtu\":\"x\"}]}",
		"{\"ips\":[{\"address\":\"192.168.1.200/24\",\"interface\":3}]}",
		"{\"ips\":[{\"address\":\"192.168.1.200\"}]}",
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		pid_t pid;
		int status;

		fflush(NULL);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			json_object *o = NULL;
			static struct gl_cni_result r;

			if (gl_json_parse_object(bad[i], strlen(bad[i]), &o, NULL) < 0)
				_exit(2);
			_exit(gl_cni_result_parse(o, "1.0.0", &r, NULL) < 0 ? 0 : 3);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		print_message("%s: %s %d\n", bad[i], WIFEXITED(status) ? "exit" : "signal",
			      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
}

static void test_prev_result(void **state)
{
	struct gl_cni_req req;
	struct gl_err err;
	char conf[2048];

	fake_env_runtime("CHECK");
	snprintf(conf, sizeof(conf), "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"prevResult\":%s}",
		 RESULT_100);
	assert_int_equal(parse(&req, conf, &err), 0);
	assert_true(req.has_prev);
	assert_int_equal(req.prev.n_ips, 3);
	assert_int_equal(req.prev.n_ifaces, 2);
	gl_cni_req_free(&req);
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"prevResult\":"
		    "{\"ips\":[{\"address\":\"bad\"}]}}", GL_ERR_DECODE, "bad");
	expect_fail("{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"x\",\"prevResult\":[]}",
		    GL_ERR_INVALID_CONFIG, "prevResult");
}

static void test_add_iface(void **state)
{
	struct gl_cni_result *r = calloc(1, sizeof(*r));
	char longname[IFNAMSIZ + 1];

	assert_int_equal(gl_cni_result_add_iface(r, "eth0", "02:00:00:00:00:01", "/run/netns/p"), 0);
	assert_int_equal(gl_cni_result_add_iface(r, "lan0", NULL, NULL), 1);
	assert_string_equal(r->ifaces[1].mac, "");
	assert_string_equal(r->ifaces[1].sandbox, "");
	assert_string_equal(r->ifaces[0].sandbox, "/run/netns/p");
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(gl_cni_result_add_iface(r, longname, NULL, NULL), -ENAMETOOLONG);
	assert_int_equal(r->n_ifaces, 2);
	for (int i = 2; i < GL_CNI_MAX_IFACES; i++)
		assert_int_equal(gl_cni_result_add_iface(r, "x", NULL, NULL), i);
	assert_int_equal(gl_cni_result_add_iface(r, "y", NULL, NULL), -ENOSPC);
	assert_int_equal(r->n_ifaces, GL_CNI_MAX_IFACES);
	free(r);
}

/* ---- errors ---- */

static void test_error_json(void **state)
{
	struct gl_err err = {0};
	json_object *o;

	assert_int_equal(gl_err_set(&err, GL_ERR_POOL_EXHAUSTED, "no free address in %s", "lan"), -ENOSPC);
	gl_err_details(&err, "range %s", "192.168.1.200-192.168.1.216");
	o = gl_cni_error_to_json(&err, "1.0.0");
	assert_int_equal(json_object_object_length(o), 4);
	assert_string_equal(jstr(o, "cniVersion"), "1.0.0");
	assert_true(json_object_is_type(jget(o, "code"), json_type_int));
	assert_int_equal(json_object_get_int(jget(o, "code")), 100);
	assert_string_equal(jstr(o, "msg"), "no free address in lan");
	assert_string_equal(jstr(o, "details"), "range 192.168.1.200-192.168.1.216");
	json_object_put(o);

	/* No details: no key. No version known yet: the newest. */
	memset(&err, 0, sizeof(err));
	gl_err_set(&err, GL_ERR_INVALID_ENV, "CNI_COMMAND must be ADD");
	o = gl_cni_error_to_json(&err, NULL);
	assert_int_equal(json_object_object_length(o), 3);
	assert_string_equal(jstr(o, "cniVersion"), GL_CNI_VERSION_LATEST);
	assert_int_equal(json_object_get_int(jget(o, "code")), 4);
	assert_null(jget(o, "details"));
	json_object_put(o);
	o = gl_cni_error_to_json(&err, "");
	assert_string_equal(jstr(o, "cniVersion"), GL_CNI_VERSION_LATEST);
	json_object_put(o);

	/* An error nobody described still has a code and a message. */
	memset(&err, 0, sizeof(err));
	o = gl_cni_error_to_json(&err, "0.4.0");
	assert_int_equal(json_object_get_int(jget(o, "code")), GL_ERR_INTERNAL);
	assert_true(strlen(jstr(o, "msg")) > 0);
	json_object_put(o);
}

static void test_err_semantics(void **state)
{
	struct gl_err err = {0};

	/* The first (innermost) cause wins... */
	assert_int_equal(gl_err_set(&err, GL_ERR_STORE, "disk full"), -EIO);
	assert_int_equal(gl_err_set(&err, GL_ERR_INVALID_CONFIG, "outer"), -EIO);
	assert_int_equal(err.code, GL_ERR_STORE);
	assert_string_equal(err.msg, "disk full");
	/* ...unless reset. */
	assert_int_equal(gl_err_reset(&err, GL_ERR_INVALID_CONFIG, "outer %d", 2), -EINVAL);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	assert_string_equal(err.msg, "outer 2");
	/* Details accumulate. */
	gl_err_details(&err, "a");
	gl_err_details(&err, "b=%d", 1);
	assert_string_equal(err.details, "a; b=1");
	/* Long messages are truncated, not overflowed. */
	{
		char big[GL_ERR_MSG_MAX * 2];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		memset(&err, 0, sizeof(err));
		gl_err_set(&err, 5, "%s", big);
		assert_int_equal(strlen(err.msg), GL_ERR_MSG_MAX - 1);
		for (int i = 0; i < 10; i++)
			gl_err_details(&err, "%s", big);
		assert_true(strlen(err.details) < GL_ERR_DETAILS_MAX);
	}
	/* NULL err is allowed everywhere. */
	assert_int_equal(gl_err_set(NULL, GL_ERR_TRY_AGAIN, "x"), -EAGAIN);
	assert_int_equal(gl_err_reset(NULL, GL_ERR_VERSION, "x"), -ENOTSUP);
	gl_err_details(NULL, "x");
	/* The mapping of codes to errno. */
	assert_int_equal(gl_err_errno(GL_ERR_UNKNOWN_CONTAINER), -ENOENT);
	assert_int_equal(gl_err_errno(GL_ERR_DECODE), -EBADMSG);
	assert_int_equal(gl_err_errno(GL_ERR_ADDR_IN_USE), -EADDRINUSE);
	assert_int_equal(gl_err_errno(GL_ERR_PIN_CONFLICT), -EADDRINUSE);
	assert_int_equal(gl_err_errno(GL_ERR_NETLINK), -EIO);
	assert_int_equal(gl_err_errno(GL_ERR_INVALID_ENV), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cmd_parse),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_ifname_container_id_valid),
		cmocka_unit_test(test_req_add),
		cmocka_unit_test(test_req_del_check),
		cmocka_unit_test(test_req_version),
		cmocka_unit_test(test_req_version_newer_runtime),
		cmocka_unit_test(test_req_status_gc),
		cmocka_unit_test(test_req_check_version),
		cmocka_unit_test(test_env_command),
		cmocka_unit_test(test_env_container_id),
		cmocka_unit_test(test_env_ifname),
		cmocka_unit_test(test_env_netns),
		cmocka_unit_test(test_env_empty_stdin),
		cmocka_unit_test(test_conf_version),
		cmocka_unit_test(test_conf_version_empty),
		cmocka_unit_test(test_conf_name_type),
		cmocka_unit_test(test_conf_decode),
		cmocka_unit_test(test_cni_args),
		cmocka_unit_test(test_cni_args_bad),
		cmocka_unit_test(test_cni_args_container_names),
		cmocka_unit_test(test_cni_args_ip_mac),
		cmocka_unit_test(test_identity_precedence),
		cmocka_unit_test(test_identity_bad),
		cmocka_unit_test(test_runtime_config),
		cmocka_unit_test(test_runtime_config_bad),
		cmocka_unit_test(test_gc_attachments),
		cmocka_unit_test(test_gc_attachments_bad),
		cmocka_unit_test(test_result_parse),
		cmocka_unit_test(test_result_emit_versions),
		cmocka_unit_test(test_result_round_trip),
		cmocka_unit_test(test_result_bad),
		cmocka_unit_test(test_result_bad_interface_msg),
		cmocka_unit_test(test_result_bad_null_err),
		cmocka_unit_test(test_prev_result),
		cmocka_unit_test(test_add_iface),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_err_semantics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
