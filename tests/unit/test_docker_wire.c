/* docker-driver/wire.c: the Docker driver's pure parts. The network options
 * with the built-in macvlan's texts, the pool request, the records' JSON
 * round trips, and the reading of dockerd's answers that name the container
 * an address is for: each built, parsed back and compared. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <linux/if_link.h>
#include <string.h>
#include "base/json.h"
#include "docker-driver/wire.h"

#include "unit.h"

#define NET_ID "8cb3c71223994f4e0d2828624833b8c624d69ec7d92bce0bdb1b1cfea91c6318"
#define EP_ID "a80248f00e583af58388a8b96afb72651892b9e00e508e378e2a8491d0646005"
#define CID_A "91887b79b9d482fbedf10c70e8c7a792f4ed7412dc2888a1a940b070c0cd8e51"
#define CID_B "e45c6a7e9f959b015e9733478c0f03ed2aac4917463f372f2abaf025a53c7a89"

static json_object *obj(const char *s)
{
	json_object *o = NULL;
	struct gl_err err = { 0 };

	assert_int_equal(gl_json_parse_object(s, strlen(s), &o, &err), 0);
	return o;
}

static void test_parent(void **state)
{
	char m[IFNAMSIZ];
	uint16_t vlan = 99;
	struct gl_err err = { 0 };

	assert_int_equal(dk_parent_parse("eth0", m, &vlan, &err), 0);
	assert_string_equal(m, "eth0");
	assert_int_equal(vlan, 0);
	assert_int_equal(dk_parent_parse("eth0.10", m, &vlan, &err), 0);
	assert_string_equal(m, "eth0");
	assert_int_equal(vlan, 10);
	assert_int_equal(dk_parent_parse("enp1s0.4094", m, &vlan, &err), 0);
	assert_int_equal(vlan, 4094);

	/* The built-in macvlan's texts, which docker shows. */
	memset(&err, 0, sizeof(err));
	assert_true(dk_parent_parse("eth0.x", m, &vlan, &err) < 0);
	assert_string_equal(err.msg, "unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)");
	memset(&err, 0, sizeof(err));
	assert_true(dk_parent_parse("eth0.5000", m, &vlan, &err) < 0);
	assert_string_equal(err.msg, "vlan id must be between 1-4094, received: 5000");
	memset(&err, 0, sizeof(err));
	assert_true(dk_parent_parse("eth0.0", m, &vlan, &err) < 0);
	assert_string_equal(err.msg, "vlan id must be between 1-4094, received: 0");
	memset(&err, 0, sizeof(err));
	assert_true(dk_parent_parse("eth0.1.2", m, &vlan, &err) < 0);
	assert_string_equal(err.msg, "invalid subinterface vlan name eth0.1.2, example formatting is eth0.10");
	memset(&err, 0, sizeof(err));
	assert_true(dk_parent_parse("eth0.", m, &vlan, &err) < 0);
	assert_true(dk_parent_parse("../x", m, &vlan, &err) < 0);
	assert_true(dk_parent_parse("averyveryverylongname0", m, &vlan, &err) < 0);
	assert_true(dk_parent_parse("", m, &vlan, &err) < 0);
	/* Nothing written on failure. */
	strcpy(m, "keep");
	vlan = 7;
	assert_true(dk_parent_parse("eth0.x", m, &vlan, &err) < 0);
	assert_string_equal(m, "keep");
	assert_int_equal(vlan, 7);
}

static void test_mode(void **state)
{
	struct gl_err err = { 0 };
	uint32_t mode = 0;

	assert_int_equal(dk_mode_parse(NULL, &mode, &err), 0);
	assert_int_equal(mode, MACVLAN_MODE_BRIDGE);
	assert_int_equal(dk_mode_parse("passthru", &mode, &err), 0);
	assert_int_equal(mode, MACVLAN_MODE_PASSTHRU);
	assert_string_equal(dk_mode_str(mode), "passthru");
	assert_int_equal(dk_mode_parse("private", &mode, &err), 0);
	assert_int_equal(dk_mode_parse("vepa", &mode, &err), 0);
	assert_string_equal(dk_mode_str(mode), "vepa");
	assert_true(dk_mode_parse("bogus", &mode, &err) < 0);
	assert_string_equal(err.msg, "requested macvlan mode 'bogus' is not valid, 'bridge' mode is the macvlan driver default");
}

static void test_net_parse(void **state)
{
	_cleanup_json_ json_object *ok = obj(
		"{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.enable_ipv6\":false,"
		"\"com.docker.network.generic\":{\"parent\":\"eth0.10\",\"macvlan_mode\":\"private\",\"snat\":\"true\"}},"
		"\"IPv4Data\":[{\"AddressSpace\":\"gamelan-local\",\"Gateway\":\"192.168.1.1/24\",\"Pool\":\"192.168.1.0/24\"}],"
		"\"IPv6Data\":[]}");
	struct gl_err err = { 0 };
	struct dk_net n;
	char b[64];

	assert_int_equal(dk_net_parse(ok, &n, &err), 0);
	assert_string_equal(n.id, NET_ID);
	assert_string_equal(n.parent, "eth0.10");
	assert_string_equal(n.master, "eth0");
	assert_int_equal(n.vlan, 10);
	assert_int_equal(n.mode, MACVLAN_MODE_PRIVATE);
	assert_true(n.snat);
	assert_true(n.has_gw);
	assert_string_equal(gl_ip_str(&n.gw, b, sizeof(b)), "192.168.1.1");
	assert_string_equal(gl_prefix_str(&n.subnet, b, sizeof(b)), "192.168.1.0/24");
	assert_false(n.made_parent);

	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"NetworkID\":\"" NET_ID "\",\"IPv4Data\":[{\"Pool\":\"10.0.0.0/24\"}]}",
		  "gamelan needs -o parent=IFACE, the host's LAN interface" },
		{ "{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.generic\":{\"parent\":\"eth0\",\"snat\":\"maybe\"}},"
		  "\"IPv4Data\":[{\"Pool\":\"10.0.0.0/24\"}]}",
		  "-o snat must be true or false, not 'maybe'" },
		{ "{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.generic\":{\"parent\":\"eth0\",\"colour\":\"red\"}},"
		  "\"IPv4Data\":[{\"Pool\":\"10.0.0.0/24\"}]}",
		  "unknown option -o colour (gamelan takes parent, macvlan_mode, snat)" },
		{ "{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.generic\":{\"parent\":\"eth0\"}},"
		  "\"IPv4Data\":[{\"Pool\":\"10.0.0.0/24\"},{\"Pool\":\"10.0.1.0/24\"}]}",
		  "gamelan needs exactly one IPv4 --subnet per network" },
		{ "{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.generic\":{\"parent\":\"eth0\"}},"
		  "\"IPv4Data\":[{\"Pool\":\"10.0.0.0/24\"}],\"IPv6Data\":[{\"Pool\":\"fd00::/64\"}]}",
		  "gamelan gives IPv4 addresses only (no --ipv6)" },
		{ "{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.generic\":{\"parent\":\"eth0\"}},"
		  "\"IPv4Data\":[{\"Pool\":\"10.0.0.0/24\",\"Gateway\":\"10.0.1.1/24\"}]}",
		  "IPv4Data.Gateway 10.0.1.1/24 is not in the subnet" },
		{ "{\"NetworkID\":\"NOT-AN-ID\"}", "NetworkID is missing or not an ID" },
		{ "{\"NetworkID\":\"" NET_ID "\",\"Options\":{\"com.docker.network.generic\":{\"parent\":7}}}",
		  "-o parent must be a string" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_json_ json_object *o = obj(bad[i].json);

		memset(&err, 0, sizeof(err));
		assert_true(dk_net_parse(o, &n, &err) < 0);
		assert_string_equal(err.msg, bad[i].msg);
	}
}

static void test_pool(void **state)
{
	_cleanup_json_ json_object *ok = obj("{\"AddressSpace\":\"\",\"Pool\":\"192.168.1.7/24\",\"SubPool\":\"192.168.1.200/29\","
					     "\"Options\":{\"hold\":\"30m\"},\"V6\":false}");
	_cleanup_json_ json_object *back = NULL;
	struct gl_err err = { 0 };
	struct dk_pool p, q;
	char b[64];

	assert_int_equal(dk_pool_parse(ok, &p, &err), 0);
	assert_string_equal(p.id, "gamelan:192.168.1.0/24");
	assert_string_equal(gl_prefix_str(&p.subnet, b, sizeof(b)), "192.168.1.0/24");
	assert_true(p.has_range);
	assert_string_equal(gl_prefix_str(&p.range, b, sizeof(b)), "192.168.1.200/29");
	assert_int_equal(p.hold_ms, 30 * 60 * 1000);

	/* The record survives the store. */
	p.has_gw = true;
	p.gw = ip_of("192.168.1.1");
	p.aux[p.n_aux++] = ip_of("192.168.1.201");
	strcpy(p.network_id, NET_ID);
	back = dk_pool_to_json(&p);
	assert_int_equal(dk_pool_from_json(back, &q, &err), 0);
	assert_string_equal(q.id, p.id);
	assert_true(q.has_range && q.has_gw);
	assert_true(gl_ip_equal(&q.gw, &p.gw));
	assert_int_equal(q.n_aux, 1);
	assert_true(gl_ip_equal(&q.aux[0], &p.aux[0]));
	assert_int_equal(q.hold_ms, p.hold_ms);
	assert_string_equal(q.network_id, NET_ID);

	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"Pool\":\"\"}", "gamelan's IPAM needs --subnet (it never picks a LAN's subnet itself)" },
		{ "{\"V6\":true,\"Pool\":\"fd00::/64\"}", "gamelan gives IPv4 addresses only (no --ipv6)" },
		{ "{\"Pool\":\"192.168.1.0/31\"}", "--subnet 192.168.1.0/31 is too small for containers" },
		{ "{\"Pool\":\"192.168.1.0/24\",\"SubPool\":\"10.0.0.0/29\"}", "--ip-range 10.0.0.0/29 is not inside --subnet" },
		{ "{\"Pool\":\"192.168.1.0/24\",\"Options\":{\"hold\":\"soon\"}}",
		  "--ipam-opt hold=soon is not a duration (e.g. 24h, 30m)" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		_cleanup_json_ json_object *o = obj(bad[i].json);

		memset(&err, 0, sizeof(err));
		assert_true(dk_pool_parse(o, &p, &err) < 0);
		assert_string_equal(err.msg, bad[i].msg);
	}
}

static void test_records(void **state)
{
	struct dk_net n = { .vlan = 10, .made_parent = true, .mode = MACVLAN_MODE_VEPA, .snat = true, .has_gw = true };
	struct dk_ep e = { .snat = true, .mac = { 0x02, 0x42, 0xc0, 0xa8, 0x01, 0x99 } };
	struct gl_err err = { 0 };
	struct dk_net n2;
	struct dk_ep e2;
	json_object *o;

	strcpy(n.id, NET_ID);
	strcpy(n.parent, "eth0.10");
	strcpy(n.master, "eth0");
	strcpy(n.pool_id, "gamelan:192.168.1.0/24");
	strcpy(n.name, "lan");
	n.subnet = prefix_of("192.168.1.0/24");
	n.gw = ip_of("192.168.1.1");
	o = dk_net_to_json(&n);
	assert_int_equal(dk_net_from_json(o, &n2, &err), 0);
	json_object_put(o);
	assert_string_equal(n2.id, n.id);
	assert_string_equal(n2.parent, "eth0.10");
	assert_string_equal(n2.master, "eth0");
	assert_int_equal(n2.vlan, 10);
	assert_true(n2.made_parent && n2.snat && n2.has_gw);
	assert_int_equal(n2.mode, MACVLAN_MODE_VEPA);
	assert_string_equal(n2.pool_id, n.pool_id);
	assert_string_equal(n2.name, "lan");

	strcpy(e.id, EP_ID);
	strcpy(e.net, NET_ID);
	strcpy(e.sandbox, "/var/run/docker/netns/15852f7e8b4f");
	strcpy(e.ifname, "eth0");
	e.addr = prefix_of("192.168.1.128/24");
	o = dk_ep_to_json(&e);
	assert_int_equal(dk_ep_from_json(o, &e2, &err), 0);
	json_object_put(o);
	assert_memory_equal(e2.mac, e.mac, 6);
	assert_string_equal(e2.sandbox, e.sandbox);
	assert_string_equal(e2.ifname, "eth0");
	assert_true(e2.snat);
	assert_int_equal(e2.addr.len, 24);

	/* A damaged record is refused, not half read. */
	o = obj("{\"id\":\"" EP_ID "\",\"network\":\"" NET_ID "\",\"address\":\"x\",\"mac\":\"02:00:00:00:00:01\"}");
	assert_true(dk_ep_from_json(o, &e2, &err) < 0);
	json_object_put(o);
}

/* What 20.10 lists while dst-a starts: dst-a (created, no endpoint yet), a
 * running container, and one a stopped one on another network. */
#define LIST_ONE "[{\"Id\":\"" CID_A "\",\"Names\":[\"/dst-a\"],\"State\":\"created\",\"NetworkSettings\":{\"Networks\":" \
	"{\"lan\":{\"NetworkID\":\"\",\"EndpointID\":\"\"}}}}," \
	"{\"Id\":\"" CID_B "\",\"Names\":[\"/srv\"],\"State\":\"running\",\"NetworkSettings\":{\"Networks\":" \
	"{\"lan\":{\"NetworkID\":\"" NET_ID "\",\"EndpointID\":\"" EP_ID "\"}}}}]"

static void test_who(void **state)
{
	static struct dk_who w;
	const char *two;

	assert_int_equal(dk_who_parse(LIST_ONE, strlen(LIST_ONE), "lan", &w), 0);
	assert_int_equal(w.n_candidates, 1);
	assert_string_equal(w.name, "dst-a");
	assert_string_equal(w.cid, CID_A);
	assert_int_equal(w.n_ids, 2);
	assert_string_equal(w.ids[1], CID_B);

	/* Another network's list: nobody is starting on it. */
	assert_int_equal(dk_who_parse(LIST_ONE, strlen(LIST_ONE), "wan", &w), 0);
	assert_int_equal(w.n_candidates, 0);
	assert_string_equal(w.name, "");

	/* Two stopped ones: ambiguous, nobody named. */
	two = "[{\"Id\":\"" CID_A "\",\"Names\":[\"/a\"],\"State\":\"exited\",\"NetworkSettings\":{\"Networks\":{\"lan\":{}}}},"
	      "{\"Id\":\"" CID_B "\",\"Names\":[\"/b\"],\"State\":\"exited\",\"NetworkSettings\":{\"Networks\":{\"lan\":{}}}}]";
	assert_int_equal(dk_who_parse(two, strlen(two), "lan", &w), 0);
	assert_int_equal(w.n_candidates, 2);
	assert_string_equal(w.name, "");
	assert_string_equal(w.cid, "");

	/* Not Docker's list. */
	assert_int_equal(dk_who_parse("{}", 2, "lan", &w), -EBADMSG);
	assert_int_equal(dk_who_parse("[{\"Id\":\"../x\"}]", 16, "lan", &w), -EBADMSG);
	assert_int_equal(dk_who_parse("[", 1, "lan", &w), -EBADMSG);
	two = "[{\"Id\":\"" CID_A "\",\"Names\":[\"/bad name\"],\"NetworkSettings\":{\"Networks\":{\"lan\":{}}}}]";
	assert_int_equal(dk_who_parse(two, strlen(two), "lan", &w), -EBADMSG);
}

static void test_names(void **state)
{
	char name[DK_NAME_MAX] = "", cid[GL_CNI_ID_MAX] = "", v[16];
	const char *net = "{\"Name\":\"lan\",\"Id\":\"" NET_ID "\",\"Containers\":{\"" CID_A "\":{\"Name\":\"dst-a\","
			  "\"EndpointID\":\"" EP_ID "\"},\"ep-1234\":{\"Name\":\"other\",\"EndpointID\":\"abcd\"}}}";
	const char *lbl = "[{\"Id\":\"" CID_A "\",\"Labels\":{\"gamelan.snat\":\"true\"}}]";
	char link[IFNAMSIZ];

	assert_int_equal(dk_ep_name_parse(net, strlen(net), EP_ID, name, cid), 0);
	assert_string_equal(name, "dst-a");
	assert_string_equal(cid, CID_A);
	assert_int_equal(dk_ep_name_parse(net, strlen(net), "abcd", name, cid), 0);
	assert_string_equal(name, "other");
	assert_string_equal(cid, "");           /* "ep-" keys are no container ID */
	assert_int_equal(dk_ep_name_parse(net, strlen(net), "ffff", name, cid), -ENOENT);
	assert_int_equal(dk_net_name_parse(net, strlen(net), name), 0);
	assert_string_equal(name, "lan");
	assert_int_equal(dk_net_name_parse("{\"Name\":\"/x\"}", 12, name), -EBADMSG);

	assert_int_equal(dk_label_parse(lbl, strlen(lbl), "gamelan.snat", v, sizeof(v)), 0);
	assert_string_equal(v, "true");
	assert_int_equal(dk_label_parse(lbl, strlen(lbl), "other", v, sizeof(v)), -ENOENT);
	assert_int_equal(dk_label_parse("[]", 2, "gamelan.snat", v, sizeof(v)), -ENOENT);

	assert_true(dk_name_valid("/dst-a"));
	assert_true(dk_name_valid("a_b.c-d9"));
	assert_false(dk_name_valid("-a"));
	assert_false(dk_name_valid("a b"));
	assert_false(dk_name_valid(""));
	assert_true(dk_id_valid(NET_ID));
	assert_false(dk_id_valid("ABC"));
	assert_false(dk_id_valid(NET_ID "0"));
	dk_link_name(EP_ID, link);
	assert_string_equal(link, "gla80248f00e58");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parent), cmocka_unit_test(test_mode),    cmocka_unit_test(test_net_parse),
		cmocka_unit_test(test_pool),   cmocka_unit_test(test_records), cmocka_unit_test(test_who),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
