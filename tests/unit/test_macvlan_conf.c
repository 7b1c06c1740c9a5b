/* lib/net/macvlan_conf.c: gamelan-macvlan's configuration, through the same
 * request parser a runtime's call goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/if_link.h>
#include "base/util.h"
#include "cni/cni.h"
#include "net/macvlan.h"

#include "unit.h"

#define HEAD "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"gamelan-macvlan\""

/* Parse `HEAD, fields}` into c; returns gl_macvlan_conf_parse's result. */
static int conf_of(const char *fields, struct gl_macvlan_conf *c, struct gl_err *err)
{
	char buf[8192];
	struct gl_cni_req req;
	int r;

	snprintf(buf, sizeof(buf), "%s%s%s}", HEAD, fields[0] ? "," : "", fields);
	memset(err, 0, sizeof(*err));
	r = gl_cni_req_parse(&req, fake_getenv, buf, strlen(buf), err);
	if (r < 0)
		fail_msg("request does not parse: %s: %s", buf, err->msg);
	r = gl_macvlan_conf_parse(req.conf, req.rc_mac, req.args_mac, c, err);
	gl_cni_req_free(&req);
	return r;
}

static void ok(const char *fields, struct gl_macvlan_conf *c)
{
	struct gl_err err;
	int r = conf_of(fields, c, &err);

	if (r < 0)
		fail_msg("{%s}: unexpected error %d: %s", fields, err.code, err.msg);
}

static void bad(const char *fields, const char *names)
{
	struct gl_macvlan_conf c;
	struct gl_err err;
	int r;

	memset(&c, 0x5a, sizeof(c));
	r = conf_of(fields, &c, &err);
	print_message("{%s} -> %d code %d: %s\n", fields, r, err.code, err.msg);
	assert_true(r < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	if (!strstr(err.msg, names))
		fail_msg("message \"%s\" does not name \"%s\"", err.msg, names);
	/* ret untouched on failure. */
	assert_int_equal(c.mtu, 0x5a5a5a5a);
}

static void test_defaults(void **state)
{
	struct gl_macvlan_conf c;

	ok("", &c);
	assert_string_equal(c.master, "");
	assert_int_equal(c.mode, MACVLAN_MODE_BRIDGE);
	assert_int_equal(c.mtu, 0);
	assert_false(c.has_mac);
	assert_false(c.link_in_container);
	assert_string_equal(c.ipam_type, "");
	assert_true(c.probe);
	assert_int_equal(c.probe_wait_ms, 200);
	assert_true(c.probe_recent_ms == 5 * 60 * 1000);
	assert_int_equal(c.stable_mac, -1);
	assert_string_equal(c.state_dir, "/var/lib/gamelan/macvlan");
	/* An empty ipam object is no IPAM. */
	ok("\"ipam\":{}", &c);
	assert_string_equal(c.ipam_type, "");
	/* Unknown fields (other plugins' or future ones) are ignored. */
	ok("\"capabilities\":{\"mac\":true},\"futureField\":[1,2]", &c);
}

static void test_every_field(void **state)
{
	struct gl_macvlan_conf c;
	static const uint8_t mac[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

	ok("\"master\":\"eth0\",\"mode\":\"vepa\",\"mtu\":1400,\"mac\":\"02:11:22:33:44:55\","
	   "\"linkInContainer\":true,\"stableMac\":false,\"probe\":\"300ms\","
	   "\"stateDir\":\"/run/gamelan/state\",\"ipam\":{\"type\":\"gamelan-ipam\",\"range\":\"192.168.1.0/24\"}",
	   &c);
	assert_string_equal(c.master, "eth0");
	assert_int_equal(c.mode, MACVLAN_MODE_VEPA);
	assert_int_equal(c.mtu, 1400);
	assert_true(c.has_mac);
	assert_memory_equal(c.mac, mac, 6);
	assert_true(c.link_in_container);
	assert_int_equal(c.stable_mac, 0);
	assert_true(c.probe);
	assert_int_equal(c.probe_wait_ms, 300);
	assert_string_equal(c.state_dir, "/run/gamelan/state");
	assert_string_equal(c.ipam_type, "gamelan-ipam");

	ok("\"stableMac\":true,\"mtu\":0", &c);
	assert_int_equal(c.stable_mac, 1);
	assert_int_equal(c.mtu, 0);
	/* The bounds are inclusive. */
	ok("\"mtu\":68", &c);
	assert_int_equal(c.mtu, 68);
	ok("\"mtu\":65535", &c);
	assert_int_equal(c.mtu, 65535);
	ok("\"master\":\"abcdefghijklmno\"", &c);
	assert_string_equal(c.master, "abcdefghijklmno");
}

static void test_modes(void **state)
{
	struct {
		const char *name;
		uint32_t mode;
	} modes[] = {
		{ "bridge", MACVLAN_MODE_BRIDGE }, { "private", MACVLAN_MODE_PRIVATE },
		{ "vepa", MACVLAN_MODE_VEPA }, { "passthru", MACVLAN_MODE_PASSTHRU },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(modes); i++) {
		struct gl_macvlan_conf c;
		char f[64];

		snprintf(f, sizeof(f), "\"mode\":\"%s\"", modes[i].name);
		ok(f, &c);
		assert_int_equal(c.mode, modes[i].mode);
	}
}

static void test_probe_forms(void **state)
{
	struct gl_macvlan_conf c;

	ok("\"probe\":true", &c);
	assert_true(c.probe);
	assert_int_equal(c.probe_wait_ms, 200);
	ok("\"probe\":false", &c);
	assert_false(c.probe);
	ok("\"probe\":\"300ms\"", &c);
	assert_true(c.probe);
	assert_int_equal(c.probe_wait_ms, 300);
	ok("\"probe\":\"1s\"", &c);
	assert_int_equal(c.probe_wait_ms, 1000);
	ok("\"probe\":\"10s\"", &c);
	assert_int_equal(c.probe_wait_ms, 10000);
	ok("\"probe\":\"1ms\"", &c);
	assert_int_equal(c.probe_wait_ms, 1);
	ok("\"probe\":{\"wait\":\"500ms\",\"recent\":\"1h\"}", &c);
	assert_true(c.probe);
	assert_int_equal(c.probe_wait_ms, 500);
	assert_true(c.probe_recent_ms == 3600 * 1000);
	ok("\"probe\":{\"recent\":\"0s\"}", &c);
	assert_int_equal(c.probe_wait_ms, 200);
	assert_true(c.probe_recent_ms == 0);
	ok("\"probe\":{\"wait\":\"50ms\"}", &c);
	assert_int_equal(c.probe_wait_ms, 50);
	assert_true(c.probe_recent_ms == 5 * 60 * 1000);
	ok("\"probe\":{}", &c);
	assert_true(c.probe);
	assert_int_equal(c.probe_wait_ms, 200);
	ok("\"probe\":null", &c);
	assert_true(c.probe);
}

static void test_bad_values(void **state)
{
	bad("\"mode\":\"x\"", "mode");
	bad("\"mode\":\"Bridge\"", "mode");
	bad("\"mode\":5", "mode");
	bad("\"mtu\":10", "mtu");
	bad("\"mtu\":67", "mtu");
	bad("\"mtu\":70000", "mtu");
	bad("\"mtu\":-1", "mtu");
	bad("\"mtu\":\"a\"", "mtu");
	bad("\"mtu\":1500.5", "mtu");
	bad("\"mac\":\"zz:11:22:33:44:55\"", "mac");
	bad("\"mac\":\"02:11:22:33:44\"", "mac");
	bad("\"mac\":\"02-11-22-33-44-55\"", "mac");
	bad("\"mac\":\"01:00:5e:00:00:01\"", "mac");     /* multicast */
	bad("\"mac\":\"ff:ff:ff:ff:ff:ff\"", "mac");     /* broadcast */
	bad("\"mac\":7", "mac");
	bad("\"master\":\"abcdefghijklmnop\"", "master");
	bad("\"master\":\"a/b\"", "master");
	bad("\"master\":\"..\"", "master");
	bad("\"master\":\"eth 0\"", "master");
	bad("\"master\":\"\"", "master");
	bad("\"master\":5", "master");
	bad("\"stateDir\":\"relative/dir\"", "stateDir");
	bad("\"stateDir\":\"\"", "stateDir");
	bad("\"stateDir\":\"/var/lib/../../etc\"", "stateDir");
	bad("\"stateDir\":\"/var/./lib\"", "stateDir");
	bad("\"stateDir\":5", "stateDir");
	bad("\"probe\":\"11s\"", "probe");
	bad("\"probe\":\"0ms\"", "probe");
	bad("\"probe\":\"forever\"", "probe");
	bad("\"probe\":\"x\"", "probe");
	bad("\"probe\":5", "probe");
	bad("\"probe\":[]", "probe");
	bad("\"probe\":{\"wait\":\"11s\"}", "probe.wait");
	bad("\"probe\":{\"wait\":5}", "wait");
	bad("\"probe\":{\"recent\":\"soon\"}", "probe.recent");
	bad("\"probe\":{\"recent\":true}", "recent");
	bad("\"ipam\":{\"subnet\":\"192.168.1.0/24\"}", "ipam.type");
	bad("\"ipam\":{\"type\":5}", "type");
	bad("\"ipam\":\"gamelan-ipam\"", "ipam");
	bad("\"linkInContainer\":\"yes\"", "linkInContainer");
	bad("\"stableMac\":1", "stableMac");
}

static void test_state_dir_trailing_dotdot(void **state)
{
	/* "/.." at the end climbs out just as "/../" in the middle does. */
	bad("\"stateDir\":\"/var/lib/gamelan/..\"", "stateDir");
	bad("\"stateDir\":\"/var/lib/gamelan/.\"", "stateDir");
	bad("\"stateDir\":\"/..\"", "stateDir");
}

static void test_mac_zero(void **state)
{
	/* The kernel refuses an all-zero MAC for a macvlan (EADDRNOTAVAIL,
	 * is_valid_ether_addr): a config error, caught before any link is
	 * made rather than as a netlink failure. */
	bad("\"mac\":\"00:00:00:00:00:00\"", "mac");
}

static void test_runtime_config_mac(void **state)
{
	struct gl_macvlan_conf c;
	static const uint8_t mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

	/* The "mac" capability (runtimeConfig) sets the MAC too, and wins
	 * over the config's. */
	ok("\"runtimeConfig\":{\"mac\":\"02:aa:bb:cc:dd:ee\"}", &c);
	assert_true(c.has_mac);
	assert_memory_equal(c.mac, mac, 6);
	ok("\"mac\":\"02:11:22:33:44:55\",\"runtimeConfig\":{\"mac\":\"02:aa:bb:cc:dd:ee\"}", &c);
	assert_memory_equal(c.mac, mac, 6);
	bad("\"runtimeConfig\":{\"mac\":\"03:aa:bb:cc:dd:ee\"}", "mac");
}

static void test_args_mac(void **state)
{
	struct gl_macvlan_conf c;
	struct gl_err err;
	static const uint8_t args[6] = { 0x02, 0x42, 0x00, 0x00, 0x00, 0x07 };
	static const uint8_t rc[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

	/* podman's --mac-address comes as CNI_ARGS MAC=; the reference
	 * macvlan's order is runtimeConfig.mac, then MAC=, then the config. */
	fake_env_set("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=dst-a;MAC=02:42:00:00:00:07");
	ok("", &c);
	assert_true(c.has_mac);
	assert_memory_equal(c.mac, args, 6);
	ok("\"mac\":\"02:11:22:33:44:55\"", &c);
	assert_memory_equal(c.mac, args, 6);
	ok("\"mac\":\"02:11:22:33:44:55\",\"runtimeConfig\":{\"mac\":\"02:aa:bb:cc:dd:ee\"}", &c);
	assert_memory_equal(c.mac, rc, 6);
	/* Parsed, but not one a link can have: refused, naming CNI_ARGS. */
	fake_env_set("CNI_ARGS", "IgnoreUnknown=1;MAC=01:00:5e:00:00:01");
	assert_true(conf_of("", &c, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_ENV);
	assert_non_null(strstr(err.msg, "CNI_ARGS MAC"));
	fake_env_set("CNI_ARGS", "IgnoreUnknown=1;MAC=00:00:00:00:00:00");
	assert_true(conf_of("", &c, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_ENV);
	/* Without MAC=, nothing changes. */
	fake_env_set("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=dst-a");
	ok("", &c);
	assert_false(c.has_mac);
	fake_env_runtime("ADD");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_probe_forms),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_state_dir_trailing_dotdot),
		cmocka_unit_test(test_mac_zero),
		cmocka_unit_test(test_runtime_config_mac),
		cmocka_unit_test(test_args_mac),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
