/* gamelan-ipam's config: both dialects, every field, and the errors a human
 * gets for bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "ipam/conf.h"
#include "base/json.h"

static int parse(const char *ipam_json, struct gl_ipam_conf *c, struct gl_err *err)
{
	json_object *o = NULL;
	struct gl_err perr = {0};
	int r;

	memset(err, 0, sizeof(*err));
	r = gl_json_parse_object(ipam_json, strlen(ipam_json), &o, &perr);
	if (r < 0)
		fail_msg("test JSON does not parse: %s: %s", perr.msg, ipam_json);
	r = gl_ipamconf_parse(o, "lan", c, err);
	json_object_put(o);
	return r;
}

static void ipeq(const struct gl_ip *ip, const char *want)
{
	char buf[GL_IP_STRLEN];

	assert_string_equal(gl_ip_str(ip, buf, sizeof(buf)), want);
}

static void prefeq(const struct gl_prefix *p, const char *want)
{
	char buf[GL_PREFIX_STRLEN];

	assert_string_equal(gl_prefix_str(p, buf, sizeof(buf)), want);
}

static void test_hostlocal_seed(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;

	/* The seed's NetworkAttachmentDefinition, type changed only. */
	assert_int_equal(parse("{\"type\":\"gamelan-ipam\",\"subnet\":\"192.168.1.0/24\","
			       "\"rangeStart\":\"192.168.1.200\",\"rangeEnd\":\"192.168.1.216\","
			       "\"gateway\":\"192.168.1.1\"}", &c, &err), 0);
	assert_string_equal(c.network, "lan");
	assert_int_equal(c.n_pools, 1);
	assert_int_equal(c.pools[0].n_ranges, 1);
	assert_int_equal(c.pools[0].family, AF_INET);
	prefeq(&c.pools[0].ranges[0].subnet, "192.168.1.0/24");
	ipeq(&c.pools[0].ranges[0].start, "192.168.1.200");
	ipeq(&c.pools[0].ranges[0].end, "192.168.1.216");
	assert_true(c.pools[0].ranges[0].has_gateway);
	ipeq(&c.pools[0].ranges[0].gateway, "192.168.1.1");
	assert_int_equal(c.hold_ms, 24LL * 3600 * 1000);
	assert_int_equal(c.conflict_hold_ms, 10LL * 60 * 1000);
	assert_string_equal(c.store.type, "sqlite");
	assert_string_equal(c.store.path, "/var/lib/gamelan/ipam.db");
	assert_int_equal(c.n_pins, 0);
	assert_int_equal(c.n_routes, 0);
	gl_ipamconf_free(&c);
}

static void test_hostlocal_defaults(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;
	struct gl_ip ip;

	/* Like host-local: range from .1 to the one before broadcast, gateway .1. */
	assert_int_equal(parse("{\"subnet\":\"10.0.0.0/29\"}", &c, &err), 0);
	ipeq(&c.pools[0].ranges[0].start, "10.0.0.1");
	ipeq(&c.pools[0].ranges[0].end, "10.0.0.6");
	ipeq(&c.pools[0].ranges[0].gateway, "10.0.0.1");
	gl_ip_parse("10.0.0.1", &ip);
	assert_true(gl_ipamconf_reserved(&c, 0, &ip));
	gl_ip_parse("10.0.0.0", &ip);
	assert_true(gl_ipamconf_reserved(&c, 0, &ip));
	gl_ip_parse("10.0.0.7", &ip);
	assert_true(gl_ipamconf_reserved(&c, 0, &ip));
	gl_ip_parse("10.0.0.2", &ip);
	assert_false(gl_ipamconf_reserved(&c, 0, &ip));
	assert_int_equal(gl_ipamconf_pool_of(&c, &ip), 0);
	gl_ip_parse("10.0.1.2", &ip);
	assert_int_equal(gl_ipamconf_pool_of(&c, &ip), -1);
	gl_ipamconf_free(&c);

	/* IPv6: the last address is usable (no broadcast). */
	assert_int_equal(parse("{\"subnet\":\"fd00:1::/120\"}", &c, &err), 0);
	assert_int_equal(c.pools[0].family, AF_INET6);
	ipeq(&c.pools[0].ranges[0].start, "fd00:1::1");
	ipeq(&c.pools[0].ranges[0].end, "fd00:1::ff");
	ipeq(&c.pools[0].ranges[0].gateway, "fd00:1::1");
	gl_ipamconf_free(&c);
}

static void test_hostlocal_ranges_dual_stack(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;

	assert_int_equal(parse("{\"ranges\":["
			       "[{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\",\"rangeEnd\":\"192.168.1.210\"},"
			       " {\"subnet\":\"192.168.2.0/24\",\"gateway\":\"192.168.2.254\"}],"
			       "[{\"subnet\":\"fd00::/64\",\"rangeStart\":\"fd00::100\",\"rangeEnd\":\"fd00::1ff\",\"gateway\":\"fd00::1\"}]],"
			       "\"routes\":[{\"dst\":\"0.0.0.0/0\"},{\"dst\":\"10.9.0.0/16\",\"gw\":\"192.168.1.1\",\"priority\":5},{\"dst\":\"::/0\"}]}",
			       &c, &err), 0);
	assert_int_equal(c.n_pools, 2);
	assert_int_equal(c.pools[0].n_ranges, 2);
	assert_int_equal(c.pools[0].family, AF_INET);
	ipeq(&c.pools[0].ranges[1].gateway, "192.168.2.254");
	ipeq(&c.pools[0].ranges[1].start, "192.168.2.1");
	assert_int_equal(c.pools[1].family, AF_INET6);
	ipeq(&c.pools[1].ranges[0].start, "fd00::100");
	assert_int_equal(c.n_routes, 3);
	prefeq(&c.routes[0].dst, "0.0.0.0/0");
	assert_false(c.routes[0].has_gw);
	assert_true(c.routes[1].has_gw);
	ipeq(&c.routes[1].gw, "192.168.1.1");
	assert_int_equal(c.routes[1].priority, 5);
	prefeq(&c.routes[2].dst, "::/0");
	gl_ipamconf_free(&c);
}

static void test_hostlocal_subnet_plus_ranges(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;

	/* host-local puts the old-style subnet first. */
	assert_int_equal(parse("{\"subnet\":\"10.1.0.0/24\",\"ranges\":[[{\"subnet\":\"fd01::/64\"}]]}",
			       &c, &err), 0);
	assert_int_equal(c.n_pools, 2);
	assert_int_equal(c.pools[0].family, AF_INET);
	assert_int_equal(c.pools[1].family, AF_INET6);
	gl_ipamconf_free(&c);
}

static void test_whereabouts_seed(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;

	assert_int_equal(parse("{\"type\":\"whereabouts\",\"range\":\"192.168.1.0/24\","
			       "\"range_start\":\"192.168.1.200\",\"range_end\":\"192.168.1.216\"}", &c, &err), 0);
	assert_int_equal(c.n_pools, 1);
	prefeq(&c.pools[0].ranges[0].subnet, "192.168.1.0/24");
	ipeq(&c.pools[0].ranges[0].start, "192.168.1.200");
	ipeq(&c.pools[0].ranges[0].end, "192.168.1.216");
	/* whereabouts gives no gateway unless asked. */
	assert_false(c.pools[0].ranges[0].has_gateway);
	gl_ipamconf_free(&c);
}

static void test_whereabouts_forms(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;
	struct gl_ip ip;

	assert_int_equal(parse("{\"range\":\"192.168.1.200-192.168.1.216/24\",\"gateway\":\"192.168.1.1\","
			       "\"exclude\":[\"192.168.1.204/30\",\"192.168.1.210\"],\"network_name\":\"dst-lan\"}",
			       &c, &err), 0);
	assert_string_equal(c.network, "dst-lan");
	prefeq(&c.pools[0].ranges[0].subnet, "192.168.1.0/24");
	ipeq(&c.pools[0].ranges[0].start, "192.168.1.200");
	ipeq(&c.pools[0].ranges[0].end, "192.168.1.216");
	ipeq(&c.pools[0].ranges[0].gateway, "192.168.1.1");
	assert_int_equal(c.n_excludes, 2);
	prefeq(&c.excludes[0], "192.168.1.204/30");
	prefeq(&c.excludes[1], "192.168.1.210/32");
	gl_ip_parse("192.168.1.207", &ip);
	assert_true(gl_ipamconf_excluded(&c, &ip));
	gl_ip_parse("192.168.1.208", &ip);
	assert_false(gl_ipamconf_excluded(&c, &ip));
	gl_ipamconf_free(&c);

	/* A CIDR with host bits is taken as its network, as whereabouts does. */
	assert_int_equal(parse("{\"range\":\"192.168.2.225/28\"}", &c, &err), 0);
	prefeq(&c.pools[0].ranges[0].subnet, "192.168.2.224/28");
	ipeq(&c.pools[0].ranges[0].start, "192.168.2.225");
	ipeq(&c.pools[0].ranges[0].end, "192.168.2.238");
	gl_ipamconf_free(&c);

	/* ipRanges: whereabouts' dual stack. */
	assert_int_equal(parse("{\"ipRanges\":[{\"range\":\"10.2.0.0/24\",\"exclude\":[\"10.2.0.0/28\"]},"
			       "{\"range\":\"fd02::10-fd02::20/64\"}]}", &c, &err), 0);
	assert_int_equal(c.n_pools, 2);
	assert_int_equal(c.n_excludes, 1);
	ipeq(&c.pools[1].ranges[0].start, "fd02::10");
	ipeq(&c.pools[1].ranges[0].end, "fd02::20");
	prefeq(&c.pools[1].ranges[0].subnet, "fd02::/64");
	gl_ipamconf_free(&c);
}

static void test_gamelan_fields(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;
	const struct gl_ipam_pin *pin;

	assert_int_equal(parse("{\"ranges\":[[{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\","
			       "\"rangeEnd\":\"192.168.1.216\"}],[{\"subnet\":\"fd00::/64\"}]],"
			       "\"hold\":\"forever\",\"conflictHold\":\"90s\","
			       "\"pins\":{\"games/dst-0\":\"192.168.1.100\",\"games/dst-1\":[\"192.168.1.201\",\"fd00::201\"]},"
			       "\"store\":{\"type\":\"sqlite\",\"path\":\"/tmp/x/ipam.db\"},"
			       "\"dns\":{\"nameservers\":[\"192.168.1.1\",\"fd00::1\"],\"domain\":\"lan\","
			       "\"search\":[\"lan\",\"home\"],\"options\":[\"ndots:1\"]},"
			       "\"unknownField\":{\"x\":[1,2]},\"dataDir\":\"/ignored\",\"leader_lease_duration\":1500}",
			       &c, &err), 0);
	assert_int_equal(c.hold_ms, INT64_MAX);
	assert_int_equal(c.conflict_hold_ms, 90000);
	assert_string_equal(c.store.path, "/tmp/x/ipam.db");
	assert_int_equal(c.n_pins, 2);
	pin = gl_ipamconf_pin_of(&c, "games/dst-0");
	assert_non_null(pin);
	assert_int_equal(pin->n_ips, 1);
	/* A pin may sit outside rangeStart-rangeEnd: the seed's server had .100. */
	ipeq(&pin->ips[0], "192.168.1.100");
	assert_int_equal(pin->pool[0], 0);
	pin = gl_ipamconf_pin_of(&c, "games/dst-1");
	assert_non_null(pin);
	assert_int_equal(pin->n_ips, 2);
	assert_int_equal(pin->pool[1], 1);
	assert_null(gl_ipamconf_pin_of(&c, "games/dst-2"));
	assert_int_equal(c.dns.n_nameservers, 2);
	assert_string_equal(c.dns.nameservers[1], "fd00::1");
	assert_string_equal(c.dns.domain, "lan");
	assert_int_equal(c.dns.n_search, 2);
	assert_string_equal(c.dns.options[0], "ndots:1");
	gl_ipamconf_free(&c);

	assert_int_equal(parse("{\"subnet\":\"10.0.0.0/24\",\"hold\":\"1h30m\",\"store\":{\"path\":\"/a/b..c/d.db\"}}",
			       &c, &err), 0);
	assert_int_equal(c.hold_ms, 90 * 60 * 1000);
	assert_string_equal(c.store.path, "/a/b..c/d.db");
	gl_ipamconf_free(&c);
}

static void test_store_kubernetes(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err;

	assert_int_equal(parse("{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\","
			       "\"kubeconfig\":\"/etc/cni/net.d/gamelan.d/gamelan.kubeconfig\",\"namespace\":\"games-ipam\"}}",
			       &c, &err), 0);
	assert_string_equal(c.store.type, "kubernetes");
	assert_string_equal(c.store.kubeconfig, "/etc/cni/net.d/gamelan.d/gamelan.kubeconfig");
	assert_string_equal(c.store.namespace, "games-ipam");
	gl_ipamconf_free(&c);
	/* In-cluster and the default namespace. */
	assert_int_equal(parse("{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\"}}", &c, &err), 0);
	assert_string_equal(c.store.kubeconfig, "");
	assert_string_equal(c.store.namespace, "gamelan-system");
	assert_string_equal(c.store.path, "");
	gl_ipamconf_free(&c);
	assert_true(gl_ipamconf_dns_label_valid("a"));
	assert_true(gl_ipamconf_dns_label_valid("gamelan-system"));
	assert_false(gl_ipamconf_dns_label_valid("a-"));
	assert_false(gl_ipamconf_dns_label_valid("a.b"));
	assert_false(gl_ipamconf_dns_label_valid("0123456789012345678901234567890123456789012345678901234567890123"));
}

static void test_netconf(void **state)
{
	const char *s = "{\"cniVersion\":\"1.0.0\",\"name\":\"games\",\"type\":\"gamelan-macvlan\","
			"\"ipam\":{\"type\":\"gamelan-ipam\",\"subnet\":\"10.0.0.0/24\"}}";
	json_object *o = NULL;
	struct gl_ipam_conf c;
	struct gl_err err = {0};

	assert_int_equal(gl_json_parse_object(s, strlen(s), &o, &err), 0);
	assert_int_equal(gl_ipamconf_parse_netconf(o, &c, &err), 0);
	assert_string_equal(c.network, "games");
	gl_ipamconf_free(&c);
	json_object_put(o);

	s = "{\"cniVersion\":\"1.0.0\",\"name\":\"games\",\"type\":\"gamelan-macvlan\"}";
	assert_int_equal(gl_json_parse_object(s, strlen(s), &o, &err), 0);
	assert_true(gl_ipamconf_parse_netconf(o, &c, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "no ipam"));
	json_object_put(o);
}

struct bad {
	const char *json;
	const char *msg;    /* a part of the message */
};

static const struct bad bad_values[] = {
	{ "{}", "needs an address range" },
	{ "{\"type\":\"gamelan-ipam\"}", "needs an address range" },
	{ "{\"subnet\":\"192.168.1.0\"}", "is not a CIDR" },
	{ "{\"subnet\":\"192.168.1.0/33\"}", "is not a CIDR" },
	{ "{\"subnet\":\"banana/24\"}", "is not a CIDR" },
	{ "{\"subnet\":24}", "ipam.subnet must be a string" },
	{ "{\"subnet\":\"192.168.1.5/24\"}", "host bits set" },
	{ "{\"subnet\":\"192.168.1.0/31\"}", "too small" },
	{ "{\"subnet\":\"fd00::/127\"}", "too small" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.2.5\"}", "range start 192.168.2.5 is not in network 192.168.1.0/24" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"rangeEnd\":\"10.0.0.1\"}", "range end 10.0.0.1 is not in network" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.50\",\"rangeEnd\":\"192.168.1.10\"}", "is after range end" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"fd00::1\"}", "range start fd00::1 is not in network" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.300\"}", "is not an IP address" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"gateway\":\"10.0.0.1\"}", "gateway 10.0.0.1 is not in network" },
	{ "{\"subnet\":\"192.168.1.0/24\",\"gateway\":\"gw\"}", "ipam.gateway: \"gw\" is not an IP address" },
	{ "{\"ranges\":{}}", "ipam.ranges must be an array" },
	{ "{\"ranges\":[{\"subnet\":\"10.0.0.0/24\"}]}", "ipam.ranges[0] must be an array" },
	{ "{\"ranges\":[[]]}", "ipam.ranges[0] is empty" },
	{ "{\"ranges\":[[\"10.0.0.0/24\"]]}", "ipam.ranges[0][0] must be an object" },
	{ "{\"ranges\":[[{\"rangeStart\":\"10.0.0.1\"}]]}", "ipam.ranges[0][0].subnet is missing" },
	{ "{\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"},{\"subnet\":\"fd00::/64\"}]]}", "mixes IPv4 and IPv6" },
	{ "{\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}],[{\"subnet\":\"10.0.0.0/25\"}]]}", "overlaps" },
	{ "{\"ranges\":[[{\"subnet\":\"10.0.0.0/24\"}],[{\"subnet\":\"10.0.1.0/24\"}],[{\"subnet\":\"10.0.2.0/24\"}],"
	  "[{\"subnet\":\"10.0.3.0/24\"}],[{\"subnet\":\"10.0.4.0/24\"}],[{\"subnet\":\"10.0.5.0/24\"}],"
	  "[{\"subnet\":\"10.0.6.0/24\"}],[{\"subnet\":\"10.0.7.0/24\"}],[{\"subnet\":\"10.0.8.0/24\"}]]}", "at most 8 range sets" },
	{ "{\"range\":\"192.168.1.216-192.168.1.200/24\"}", "is after range end" },
	{ "{\"range\":\"192.168.1.200-192.168.2.5/24\"}", "range end 192.168.2.5 is not in network" },
	{ "{\"range\":\"192.168.1.200-fd00::1/64\"}", "mixes IPv4 and IPv6" },
	{ "{\"range\":\"-192.168.1.5/24\"}", "is not a CIDR or first-last/length" },
	{ "{\"range\":\"192.168.1.0/24\",\"range_start\":\"10.1.1.1\"}", "range start 10.1.1.1 is not in network" },
	{ "{\"range\":\"192.168.1.0/24\",\"range_end\":\"nope\"}", "ipam.range_end: \"nope\" is not an IP address" },
	{ "{\"range\":\"192.168.1.0/24\",\"exclude\":\"192.168.1.0/28\"}", "ipam.exclude must be an array" },
	{ "{\"range\":\"192.168.1.0/24\",\"exclude\":[\"192.168.1.0/99\"]}", "ipam.exclude[0]: \"192.168.1.0/99\" is not a CIDR" },
	{ "{\"range\":\"192.168.1.0/24\",\"exclude\":[7]}", "ipam.exclude[0] must be a string" },
	{ "{\"ipRanges\":[{\"range_start\":\"10.0.0.1\"}]}", "ipam.ipRanges[0].range is missing" },
	{ "{\"range\":\"192.168.1.0/24\",\"network_name\":\"\"}", "no name" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"hold\":\"a day\"}", "ipam.hold: \"a day\" is not a duration" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"hold\":\"-5m\"}", "ipam.hold" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"hold\":86400}", "ipam.hold must be a string" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"conflictHold\":\"10 minutes\"}", "ipam.conflictHold" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":[\"10.0.0.5\"]}", "ipam.pins must be an object" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"games/dst-0\":\"10.0.0.500\"}}", "\"10.0.0.500\" is not an IP address" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"games/dst-0\":\"10.9.0.5\"}}", "10.9.0.5 is not in the subnet of any range" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"games/dst-0\":\"10.0.0.1\"}}", "gateway or a network/broadcast" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"games/dst-0\":\"10.0.0.255\"}}", "gateway or a network/broadcast" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"a/b\":\"10.0.0.5\",\"c/d\":\"10.0.0.5\"}}", "is pinned for both" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"a/b\":[\"10.0.0.5\",\"10.0.0.6\"]}}", "same range set" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"a/b\":[]}}", "must list 1-8 addresses" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"a/b\":5}}", "must be an address or a list" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"pins\":{\"a b\":\"10.0.0.5\"}}", "printable characters without spaces" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"etcd\"}}", "ipam.store.type \"etcd\" is not supported" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"path\":\"ipam.db\"}}", "must be an absolute file path" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"path\":\"/var/lib/../../etc/passwd\"}}", "without \"..\"" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"path\":\"/var/lib/gamelan/..\"}}", "without \"..\"" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"path\":\"/var/lib/gamelan/\"}}", "absolute file path" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"path\":\"\"}}", "absolute file path" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":\"sqlite\"}", "ipam.store must be an object" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\",\"kubeconfig\":\"kc\"}}", "ipam.store.kubeconfig \"kc\" must be an absolute file path" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\",\"kubeconfig\":\"/etc/../x\"}}", "without \"..\"" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\",\"namespace\":\"Gamelan\"}}", "must be a Kubernetes namespace name" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\",\"namespace\":\"-x\"}}", "must be a Kubernetes namespace name" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\",\"namespace\":\"\"}}", "must be a Kubernetes namespace name" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"store\":{\"type\":\"kubernetes\",\"namespace\":5}}", "ipam.store.namespace" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"routes\":[{\"dst\":\"0.0.0.0\"}]}", "ipam.routes[0].dst: \"0.0.0.0\" is not a CIDR" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"routes\":[{\"gw\":\"10.0.0.1\"}]}", "ipam.routes[0].dst is missing" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"fd00::1\"}]}", "different address families" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"x\"}]}", "is not an IP address" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"dns\":{\"nameservers\":[\"dns.google\"]}}", "ipam.dns.nameservers[0]: \"dns.google\" is not an IP address" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"dns\":{\"nameservers\":\"10.0.0.1\"}}", "ipam.dns.nameservers must be an array" },
	{ "{\"subnet\":\"10.0.0.0/24\",\"dns\":{\"search\":[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\"]}}", "at most 8" },
};

static void test_bad_values(void **state)
{
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]); i++) {
		struct gl_ipam_conf c;
		struct gl_err err;
		int r = parse(bad_values[i].json, &c, &err);

		if (r >= 0) {
			gl_ipamconf_free(&c);
			fail_msg("accepted: %s", bad_values[i].json);
		}
		if (err.code != GL_ERR_INVALID_CONFIG)
			fail_msg("code %d for %s (%s)", err.code, bad_values[i].json, err.msg);
		if (!strstr(err.msg, bad_values[i].msg))
			fail_msg("message \"%s\" lacks \"%s\" for %s", err.msg, bad_values[i].msg,
				 bad_values[i].json);
	}
}

static void test_not_an_object(void **state)
{
	struct gl_ipam_conf c;
	struct gl_err err = {0};
	json_object *a = json_object_new_array();

	assert_true(gl_ipamconf_parse(a, "lan", &c, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "ipam must be an object"));
	json_object_put(a);
}

static void test_name_too_long(void **state)
{
	char name[400];
	json_object *o = json_object_new_object();
	struct gl_ipam_conf c;
	struct gl_err err = {0};

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	json_object_object_add(o, "subnet", json_object_new_string("10.0.0.0/24"));
	assert_true(gl_ipamconf_parse(o, name, &c, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "longer than"));
	json_object_put(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostlocal_seed),
		cmocka_unit_test(test_hostlocal_defaults),
		cmocka_unit_test(test_hostlocal_ranges_dual_stack),
		cmocka_unit_test(test_hostlocal_subnet_plus_ranges),
		cmocka_unit_test(test_whereabouts_seed),
		cmocka_unit_test(test_whereabouts_forms),
		cmocka_unit_test(test_gamelan_fields),
		cmocka_unit_test(test_store_kubernetes),
		cmocka_unit_test(test_netconf),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_not_an_object),
		cmocka_unit_test(test_name_too_long),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
