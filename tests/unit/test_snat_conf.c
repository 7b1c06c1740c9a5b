/* lib/net/snat.c: gamelan-snat's in-pod configuration and its defaults from
 * prevResult, through the same request parser a runtime's call goes
 * through; then the nftables transactions built from it, parsed back with
 * libnftnl (no kernel needed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include "base/util.h"
#include "cni/cni.h"
#include "net/snat.h"

#include "unit.h"

#define HEAD "{\"cniVersion\":\"1.0.0\",\"name\":\"lan\",\"type\":\"gamelan-snat\""
/* What gamelan-macvlan returns for a pod on the seed's LAN. */
#define PREV4 "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"02:00:00:00:00:01\"," \
	"\"sandbox\":\"/run/netns/pod1\"}],\"ips\":[{\"address\":\"192.168.1.200/24\"," \
	"\"gateway\":\"192.168.1.1\",\"interface\":0}]}"
#define PREV46 "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/pod1\"}]," \
	"\"ips\":[{\"address\":\"192.168.1.220/24\",\"gateway\":\"192.168.1.1\",\"interface\":0}," \
	"{\"address\":\"fd00:1::100/64\",\"gateway\":\"fd00:1::1\",\"interface\":0}]}"

/* Parse `HEAD, fields, "prevResult": prev}` (no prevResult when prev is
 * NULL) into c; returns gl_snat_cni_conf_parse's result. */
static int conf_of(const char *fields, const char *prev, struct gl_snat_conf *c, struct gl_err *err)
{
	char buf[16384];
	struct gl_cni_req req;
	int r;

	snprintf(buf, sizeof(buf), "%s%s%s%s%s}", HEAD, fields[0] ? "," : "", fields,
		 prev ? ",\"prevResult\":" : "", prev ? prev : "");
	memset(err, 0, sizeof(*err));
	r = gl_cni_req_parse(&req, fake_getenv, buf, strlen(buf), err);
	if (r < 0)
		fail_msg("request does not parse: %s: %s", buf, err->msg);
	r = gl_snat_cni_conf_parse(&req, c, err);
	gl_cni_req_free(&req);
	return r;
}

static void ok_prev(const char *fields, const char *prev, struct gl_snat_conf *c)
{
	struct gl_err err;

	if (conf_of(fields, prev, c, &err) < 0)
		fail_msg("{%s}: unexpected error %d: %s", fields, err.code, err.msg);
}

static void ok(const char *fields, struct gl_snat_conf *c)
{
	ok_prev(fields, PREV4, c);
}

static void bad_prev(const char *fields, const char *prev, const char *names)
{
	struct gl_snat_conf c;
	struct gl_err err;
	int r;

	memset(&c, 0x5a, sizeof(c));
	r = conf_of(fields, prev, &c, &err);
	/* cmocka bounds a message; a long one would lose its newline and break the TAP line after it. */
	print_message("{%.160s%s} -> %d code %d: %s\n", fields, strlen(fields) > 160 ? "..." : "",
		      r, err.code, err.msg);
	assert_true(r < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	if (!strstr(err.msg, names))
		fail_msg("message \"%s\" does not name \"%s\"", err.msg, names);
	/* ret untouched on failure. */
	assert_int_equal(c.n_lan, 0x5a5a5a5a);
}

static void bad(const char *fields, const char *names)
{
	bad_prev(fields, PREV4, names);
}

static void assert_prefix(const struct gl_prefix *p, const char *want)
{
	char s[GL_PREFIX_STRLEN];

	assert_string_equal(gl_prefix_str(p, s, sizeof(s)), want);
}

static void assert_ip(const struct gl_ip *ip, const char *want)
{
	char s[GL_IP_STRLEN];

	assert_string_equal(gl_ip_str(ip, s, sizeof(s)), want);
}

static void test_defaults(void **state)
{
	struct gl_snat_conf c;

	ok("", &c);
	assert_string_equal(c.table, "gamelan-snat-eth0");
	assert_string_equal(c.comment, "gamelan:c0ffee01:eth0");
	assert_string_equal(c.ifname, "eth0");
	assert_int_equal(c.n_lan, 1);
	/* The address's prefix, host bits cleared. */
	assert_prefix(&c.lan[0], "192.168.1.0/24");
	assert_true(c.has_gw[0]);
	assert_ip(&c.gw[0], "192.168.1.1");
	assert_false(c.has_gw[1]);
	assert_int_equal(c.n_ports, 0);
	assert_false(c.disabled);
	assert_int_equal(gl_snat_conf_rule_count(&c), 1);
}

static void test_every_field(void **state)
{
	struct gl_snat_conf c;

	ok("\"gateway\":\"192.168.1.254\",\"lan\":[\"192.168.1.0/24\",\"10.0.0.7/8\"],"
	   "\"ports\":[{\"protocol\":\"udp\",\"port\":10999},{\"protocol\":\"TCP\",\"port\":27015,\"endPort\":27030},"
	   "{\"protocol\":\"sctp\"}]", &c);
	assert_int_equal(c.n_lan, 2);
	assert_prefix(&c.lan[0], "192.168.1.0/24");
	assert_prefix(&c.lan[1], "10.0.0.0/8");
	assert_ip(&c.gw[0], "192.168.1.254");
	assert_int_equal(c.n_ports, 3);
	assert_int_equal(c.ports[0].proto, IPPROTO_UDP);
	assert_int_equal(c.ports[0].first, 10999);
	assert_int_equal(c.ports[0].last, 10999);
	assert_int_equal(c.ports[1].proto, IPPROTO_TCP);
	assert_int_equal(c.ports[1].first, 27015);
	assert_int_equal(c.ports[1].last, 27030);
	assert_int_equal(c.ports[2].proto, IPPROTO_SCTP);
	assert_int_equal(c.ports[2].first, 0);
	assert_int_equal(gl_snat_conf_rule_count(&c), 3);
	/* The extremes of the port space. */
	ok("\"ports\":[{\"protocol\":\"udp\",\"port\":1},{\"protocol\":\"udp\",\"port\":65535,\"endPort\":65535}]", &c);
	assert_int_equal(c.ports[0].first, 1);
	assert_int_equal(c.ports[1].last, 65535);
	/* Duplicate lan prefixes collapse. */
	ok("\"lan\":[\"192.168.1.0/24\",\"192.168.1.9/24\"]", &c);
	assert_int_equal(c.n_lan, 1);
}

static void test_dual_stack(void **state)
{
	struct gl_snat_conf c;

	ok_prev("", PREV46, &c);
	assert_int_equal(c.n_lan, 2);
	assert_prefix(&c.lan[0], "192.168.1.0/24");
	assert_prefix(&c.lan[1], "fd00:1::/64");
	assert_true(c.has_gw[0] && c.has_gw[1]);
	assert_ip(&c.gw[0], "192.168.1.1");
	assert_ip(&c.gw[1], "fd00:1::1");
	assert_int_equal(gl_snat_conf_rule_count(&c), 2);
	ok_prev("\"ports\":[{\"protocol\":\"udp\",\"port\":10999},{\"protocol\":\"tcp\",\"port\":10999}]", PREV46, &c);
	assert_int_equal(gl_snat_conf_rule_count(&c), 4);
	/* A gateway list: one per family, any order; the other family's from prevResult. */
	ok_prev("\"gateway\":[\"fd00:1::fe\",\"192.168.1.254\"]", PREV46, &c);
	assert_ip(&c.gw[0], "192.168.1.254");
	assert_ip(&c.gw[1], "fd00:1::fe");
	ok_prev("\"gateway\":\"fd00:1::fe\"", PREV46, &c);
	assert_ip(&c.gw[0], "192.168.1.1");
	assert_ip(&c.gw[1], "fd00:1::fe");
	/* lan limited to IPv4: prevResult's IPv6 gateway is not used. */
	ok_prev("\"lan\":[\"192.168.1.0/24\"]", PREV46, &c);
	assert_int_equal(gl_snat_conf_rule_count(&c), 1);
	assert_false(c.has_gw[1]);
	/* IPv6 from the config alone, on an IPv4 prevResult. */
	ok("\"lan\":[\"192.168.1.0/24\",\"fd00:2::/64\"],\"gateway\":[\"fd00:2::1\"]", &c);
	assert_ip(&c.gw[0], "192.168.1.1");
	assert_ip(&c.gw[1], "fd00:2::1");
	assert_int_equal(gl_snat_conf_rule_count(&c), 2);
}

static void test_disabled(void **state)
{
	struct gl_snat_conf c;

	ok("\"runtimeConfig\":{\"disabled\":true}", &c);
	assert_true(c.disabled);
	ok("\"runtimeConfig\":{\"disabled\":false}", &c);
	assert_false(c.disabled);
	ok("\"args\":{\"cni\":{\"disabled\":true}}", &c);
	assert_true(c.disabled);
	/* Dropping needs no gateway. */
	ok_prev("\"lan\":[\"192.168.1.0/24\",\"fd00:2::/64\"],\"runtimeConfig\":{\"disabled\":true}", PREV4, &c);
	assert_true(c.disabled);
	assert_false(c.has_gw[1]);
	assert_int_equal(gl_snat_conf_rule_count(&c), 2);
	bad("\"runtimeConfig\":{\"disabled\":\"yes\"}", "runtimeConfig.disabled");
	bad("\"args\":{\"cni\":{\"disabled\":1}}", "args.cni.disabled");
}

static void test_interface(void **state)
{
	struct gl_snat_conf c;

	/* The host side of a veth first, the pod's net1 second: rules go on
	 * net1 with net1's addresses; the table stays named after CNI_IFNAME. */
	ok_prev("", "{\"interfaces\":[{\"name\":\"veth1\"},{\"name\":\"net1\",\"sandbox\":\"/run/netns/pod1\"}],"
		"\"ips\":[{\"address\":\"10.1.0.1/16\",\"gateway\":\"10.1.0.254\",\"interface\":0},"
		"{\"address\":\"192.168.1.201/24\",\"gateway\":\"192.168.1.1\",\"interface\":1}]}", &c);
	assert_string_equal(c.ifname, "net1");
	assert_string_equal(c.table, "gamelan-snat-eth0");
	assert_int_equal(c.n_lan, 1);
	assert_prefix(&c.lan[0], "192.168.1.0/24");
	assert_ip(&c.gw[0], "192.168.1.1");
	/* Another sandbox's interface is not ours: CNI_IFNAME, all addresses. */
	ok_prev("", "{\"interfaces\":[{\"name\":\"x0\",\"sandbox\":\"/run/netns/other\"}],"
		"\"ips\":[{\"address\":\"192.168.1.201/24\",\"gateway\":\"192.168.1.1\"}]}", &c);
	assert_string_equal(c.ifname, "eth0");
	/* CNI_IFNAME wins among several interfaces of the sandbox. */
	ok_prev("", "{\"interfaces\":[{\"name\":\"lo\",\"sandbox\":\"/run/netns/pod1\"},"
		"{\"name\":\"eth0\",\"sandbox\":\"/run/netns/pod1\"}],"
		"\"ips\":[{\"address\":\"192.168.1.201/24\",\"gateway\":\"192.168.1.1\",\"interface\":1}]}", &c);
	assert_string_equal(c.ifname, "eth0");
}

static void test_long_container_id(void **state)
{
	static char id[250];
	struct gl_snat_conf c;

	memset(id, 'a', sizeof(id) - 1);
	fake_env_set("CNI_CONTAINERID", id);
	ok("", &c);
	fake_env_runtime("ADD");
	/* nft(8) reads comments of at most 127 bytes: the ID is cut, the
	 * interface kept. */
	assert_true(strlen(c.comment) <= GL_SNAT_COMMENT_MAX - 1);
	assert_true(strncmp(c.comment, "gamelan:aaaa", 12) == 0);
	assert_string_equal(c.comment + strlen(c.comment) - 5, ":eth0");
}

static void test_bad_values(void **state)
{
	bad("\"lan\":\"192.168.1.0/24\"", "lan");
	bad("\"lan\":[]", "lan");
	bad("\"lan\":[5]", "lan[0]");
	bad("\"lan\":[\"192.168.1.0/24\",\"lan\"]", "lan[1]");
	bad("\"lan\":[\"192.168.1.0/33\"]", "lan[0]");
	bad("\"gateway\":5", "gateway");
	bad("\"gateway\":\"router\"", "gateway");
	bad("\"gateway\":[]", "gateway");
	bad("\"gateway\":[\"192.168.1.1\",\"192.168.1.2\"]", "gateway[1]");
	bad("\"gateway\":[\"192.168.1.1\",\"fd00::1\",\"fd00::2\"]", "gateway");
	bad("\"gateway\":[true]", "gateway[0]");
	bad("\"gateway\":\"10.0.0.1\"", "gateway 10.0.0.1");
	bad("\"gateway\":\"fd00::1\"", "gateway fd00::1");
	/* prevResult's gateway outside the lan the config gives. */
	bad("\"lan\":[\"10.0.0.0/8\"]", "gateway 192.168.1.1");
	bad("\"lan\":[\"192.168.1.0/24\",\"fd00:2::/64\"]", "IPv6 gateway");
	bad("\"ports\":{\"protocol\":\"udp\"}", "ports");
	bad("\"ports\":[]", "ports");
	bad("\"ports\":[10999]", "ports[0]");
	bad("\"ports\":[{\"port\":10999}]", "ports[0].protocol");
	bad("\"ports\":[{\"protocol\":\"icmp\",\"port\":10999}]", "ports[0].protocol");
	bad("\"ports\":[{\"protocol\":17,\"port\":10999}]", "ports[0].protocol");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":0}]", "ports[0].port");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":65536}]", "ports[0].port");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":-1}]", "ports[0].port");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":\"10999\"}]", "ports[0].port");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":10.5}]", "ports[0].port");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":1},{\"protocol\":\"udp\",\"port\":99999999999999999999}]",
	    "ports[1].port");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":20,\"endPort\":10}]", "ports[0].endPort");
	bad("\"ports\":[{\"protocol\":\"udp\",\"endPort\":10}]", "ports[0].endPort");
	bad("\"ports\":[{\"protocol\":\"udp\",\"port\":20,\"endPort\":70000}]", "ports[0].endPort");
}

static void test_bounds(void **state)
{
	char buf[8192];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "\"lan\":[");
	for (int i = 0; i <= GL_SNAT_MAX_LAN; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s\"10.%d.0.0/16\"", i ? "," : "", i);
	snprintf(buf + n, sizeof(buf) - n, "]");
	bad(buf, "at most");
	n = (size_t)snprintf(buf, sizeof(buf), "\"ports\":[");
	for (int i = 0; i <= GL_SNAT_MAX_PORTS; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s{\"protocol\":\"udp\",\"port\":%d}",
				      i ? "," : "", i + 1);
	snprintf(buf + n, sizeof(buf) - n, "]");
	bad(buf, "at most");
}

static void test_prev_result(void **state)
{
	/* A chained plugin with nothing before it. */
	bad_prev("", NULL, "prevResult");
	bad_prev("\"gateway\":\"192.168.1.1\",\"lan\":[\"192.168.1.0/24\"]", NULL, "prevResult");
	/* Nothing to take the lan from, nor the gateway. */
	bad_prev("", "{\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/pod1\"}]}", "lan");
	bad_prev("", "{\"ips\":[{\"address\":\"192.168.1.201/24\"}]}", "IPv4 gateway");
	/* ...unless the config gives them. */
	{
		struct gl_snat_conf c;

		ok_prev("\"lan\":[\"192.168.1.0/24\"],\"gateway\":\"192.168.1.1\"", "{}", &c);
		assert_string_equal(c.ifname, "eth0");
	}
}

/* ---- the nftables transactions, parsed back ---- */

#define BATCH_MAX_MSGS 64

/* One message of a built batch, as the kernel would read it. */
struct parsed {
	int type;                      /* NFT_MSG_* or NFNL_MSG_BATCH_* */
	char table[GL_NFT_NAME_MAX + 1], chain[GL_NFT_NAME_MAX + 1], type_name[16];
	char comment[GL_NFT_COMMENT_MAX + 1];
	uint32_t hook;
	int32_t prio;
	char text[4096];               /* a rule's expressions, as libnftnl prints them */
};

static int comment_cb(const struct nftnl_udata *attr, void *data)
{
	const char *v = nftnl_udata_get(attr);
	uint8_t len = nftnl_udata_len(attr);

	if (nftnl_udata_type(attr) != NFTNL_UDATA_RULE_COMMENT)
		return 0;
	assert_true(len > 0 && len <= GL_NFT_COMMENT_MAX + 1);
	assert_int_equal(v[len - 1], '\0');
	memcpy(data, v, len);
	return 0;
}

static int parse_batch(const struct gl_nft_batch *b, struct parsed *out, int max)
{
	const struct nlmsghdr *nlh = gl_nft_batch_data(b);
	int len = (int)gl_nft_batch_len(b), n = 0;

	for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
		struct parsed *p = &out[n];

		assert_true(n < max);
		memset(p, 0, sizeof(*p));
		p->type = NFNL_MSG_TYPE(nlh->nlmsg_type);
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN || nlh->nlmsg_type == NFNL_MSG_BATCH_END) {
			p->type = nlh->nlmsg_type;
		} else if (p->type == NFT_MSG_NEWTABLE || p->type == NFT_MSG_DELTABLE) {
			struct nftnl_table *t = nftnl_table_alloc();

			assert_int_equal(nftnl_table_nlmsg_parse(nlh, t), 0);
			assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), NFPROTO_INET);
			snprintf(p->table, sizeof(p->table), "%s", nftnl_table_get_str(t, NFTNL_TABLE_NAME));
			nftnl_table_free(t);
		} else if (p->type == NFT_MSG_NEWCHAIN) {
			struct nftnl_chain *c = nftnl_chain_alloc();

			assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
			snprintf(p->table, sizeof(p->table), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE));
			snprintf(p->chain, sizeof(p->chain), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
			snprintf(p->type_name, sizeof(p->type_name), "%s", nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE));
			p->hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
			p->prio = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
			nftnl_chain_free(c);
		} else if (p->type == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();
			const void *u;
			uint32_t ulen = 0;

			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
			assert_int_equal(nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), NFPROTO_INET);
			snprintf(p->table, sizeof(p->table), "%s", nftnl_rule_get_str(r, NFTNL_RULE_TABLE));
			snprintf(p->chain, sizeof(p->chain), "%s", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN));
			nftnl_rule_snprintf(p->text, sizeof(p->text), r, NFTNL_OUTPUT_DEFAULT, 0);
			/* The comment, as nft(8) reads it back. */
			u = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &ulen);
			assert_non_null(u);
			assert_int_equal(nftnl_udata_parse(u, ulen, comment_cb, p->comment), 0);
			nftnl_rule_free(r);
		}
		n++;
	}
	assert_int_equal(len, 0);
	return n;
}

static void assert_has(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("\"%s\" not in:\n%s", needle, text);
}

static void assert_has_not(const char *text, const char *needle)
{
	if (strstr(text, needle))
		fail_msg("\"%s\" unexpected in:\n%s", needle, text);
}

/* Build the ADD batch of `fields` on prev and parse it back. */
static int add_batch(const char *fields, const char *prev, struct parsed *out)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	struct gl_snat_conf c;
	struct gl_err err = { 0 };

	ok_prev(fields, prev, &c);
	if (gl_snat_build_add(&c, &b, &err) < 0)
		fail_msg("gl_snat_build_add: %s", err.msg);
	return parse_batch(&b, out, BATCH_MAX_MSGS);
}

/* Begin, replace the table (add, delete, add), its chain; rules follow. */
static void assert_head(const struct parsed *m, const char *chain, const char *type, int32_t prio)
{
	assert_int_equal(m[0].type, NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(m[1].type, NFT_MSG_NEWTABLE);
	assert_int_equal(m[2].type, NFT_MSG_DELTABLE);
	assert_int_equal(m[3].type, NFT_MSG_NEWTABLE);
	for (int i = 1; i <= 3; i++)
		assert_string_equal(m[i].table, "gamelan-snat-eth0");
	assert_int_equal(m[4].type, NFT_MSG_NEWCHAIN);
	assert_string_equal(m[4].table, "gamelan-snat-eth0");
	assert_string_equal(m[4].chain, chain);
	assert_string_equal(m[4].type_name, type);
	assert_int_equal(m[4].hook, NF_INET_LOCAL_IN);
	assert_int_equal(m[4].prio, prio);
}

static void assert_rule(const struct parsed *m, const char *chain)
{
	assert_int_equal(m->type, NFT_MSG_NEWRULE);
	assert_string_equal(m->table, "gamelan-snat-eth0");
	assert_string_equal(m->chain, chain);
	assert_string_equal(m->comment, "gamelan:c0ffee01:eth0");
	/* iifname "eth0", as 16 bytes. */
	assert_has(m->text, "[ meta load iifname => reg 1 ]");
	assert_has(m->text, "[ cmp eq reg 1 0x30687465 0x00000000 0x00000000 0x00000000 ]");
	assert_has(m->text, "[ counter pkts 0 bytes 0 ]");
}

static void test_build_every_port(void **state)
{
	struct parsed m[BATCH_MAX_MSGS];
	int n = add_batch("", PREV4, m);

	assert_int_equal(n, 7);
	assert_head(m, "input", "nat", 100);
	assert_rule(&m[5], "input");
	/* meta nfproto ipv4, ip saddr != 192.168.1.0/24, snat ip to 192.168.1.1 */
	assert_has(m[5].text, "[ meta load nfproto => reg 1 ]");
	assert_has(m[5].text, "[ cmp eq reg 1 0x00000002 ]");
	assert_has(m[5].text, "[ payload load 4b @ network header + 12 => reg 1 ]");
	assert_has(m[5].text, "[ bitwise reg 1 = ( reg 1 & 0x00ffffff ) ^ 0x00000000 ]");
	assert_has(m[5].text, "[ cmp neq reg 1 0x0001a8c0 ]");
	assert_has(m[5].text, "[ immediate reg 1 0x0101a8c0 ]");
	assert_has(m[5].text, "[ nat snat ip addr_min reg 1 ]");
	/* Every port: no transport match. */
	assert_has_not(m[5].text, "l4proto");
	assert_has_not(m[5].text, "transport header");
	assert_int_equal(m[6].type, NFNL_MSG_BATCH_END);
}

static void test_build_ports(void **state)
{
	struct parsed m[BATCH_MAX_MSGS];
	int n = add_batch("\"ports\":[{\"protocol\":\"udp\",\"port\":10999},"
			  "{\"protocol\":\"tcp\",\"port\":27015,\"endPort\":27030},{\"protocol\":\"sctp\"}]", PREV4, m);

	assert_int_equal(n, 9);
	assert_head(m, "input", "nat", 100);
	for (int i = 5; i < 8; i++) {
		assert_rule(&m[i], "input");
		assert_has(m[i].text, "[ meta load l4proto => reg 1 ]");
		assert_has(m[i].text, "[ nat snat ip addr_min reg 1 ]");
	}
	/* udp dport 10999 (0x2af7) */
	assert_has(m[5].text, "[ cmp eq reg 1 0x00000011 ]");
	assert_has(m[5].text, "[ payload load 2b @ transport header + 2 => reg 1 ]");
	assert_has(m[5].text, "[ cmp eq reg 1 0x0000f72a ]");
	/* tcp dport 27015-27030 (0x6987-0x6996) */
	assert_has(m[6].text, "[ cmp eq reg 1 0x00000006 ]");
	assert_has(m[6].text, "[ cmp gte reg 1 0x00008769 ]");
	assert_has(m[6].text, "[ cmp lte reg 1 0x00009669 ]");
	/* every sctp port */
	assert_has(m[7].text, "[ cmp eq reg 1 0x00000084 ]");
	assert_has_not(m[7].text, "transport header");
	assert_int_equal(m[8].type, NFNL_MSG_BATCH_END);
}

static void test_build_dual_stack(void **state)
{
	struct parsed m[BATCH_MAX_MSGS];
	int n = add_batch("\"ports\":[{\"protocol\":\"udp\",\"port\":10999}]", PREV46, m);

	assert_int_equal(n, 8);
	assert_rule(&m[5], "input");
	assert_rule(&m[6], "input");
	assert_has(m[5].text, "[ nat snat ip addr_min reg 1 ]");
	/* meta nfproto ipv6, ip6 saddr != fd00:1::/64, snat ip6 to fd00:1::1 */
	assert_has(m[6].text, "[ cmp eq reg 1 0x0000000a ]");
	assert_has(m[6].text, "[ payload load 16b @ network header + 8 => reg 1 ]");
	assert_has(m[6].text, "[ cmp neq reg 1 0x010000fd 0x00000000 0x00000000 0x00000000 ]");
	assert_has(m[6].text, "[ immediate reg 1 0x010000fd 0x00000000 0x00000000 0x01000000 ]");
	assert_has(m[6].text, "[ nat snat ip6 addr_min reg 1 ]");
}

static void test_build_lan_list(void **state)
{
	struct parsed m[BATCH_MAX_MSGS];
	int n = add_batch("\"lan\":[\"192.168.1.0/24\",\"10.0.0.0/8\",\"192.168.7.9/32\"]", PREV4, m);

	assert_int_equal(n, 7);
	/* Outside every prefix: one negated compare each. */
	assert_has(m[5].text, "[ cmp neq reg 1 0x0001a8c0 ]");
	assert_has(m[5].text, "[ cmp neq reg 1 0x0000000a ]");
	assert_has(m[5].text, "[ cmp neq reg 1 0x0907a8c0 ]");
}

static void test_build_disabled(void **state)
{
	struct parsed m[BATCH_MAX_MSGS];
	int n = add_batch("\"ports\":[{\"protocol\":\"udp\",\"port\":10999}],\"runtimeConfig\":{\"disabled\":true}",
			  PREV46, m);

	assert_int_equal(n, 8);
	assert_head(m, "drop", "filter", 0);
	for (int i = 5; i < 7; i++) {
		assert_rule(&m[i], "drop");
		assert_has(m[i].text, "[ immediate reg 0 drop ]");
		assert_has_not(m[i].text, "[ nat");
	}
}

static void test_build_del(void **state)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	struct parsed m[BATCH_MAX_MSGS];
	struct gl_snat_conf c;
	struct gl_err err = { 0 };
	struct gl_cni_req req;

	memset(&req, 0, sizeof(req));
	strcpy(req.container_id, "c0ffee01");
	strcpy(req.ifname, "net1");
	assert_int_equal(gl_snat_cni_names(&req, &c, &err), 0);
	assert_int_equal(gl_snat_build_del(c.table, &b, &err), 0);
	assert_int_equal(parse_batch(&b, m, BATCH_MAX_MSGS), 4);
	/* Gone whether or not it was there: add, then delete. */
	assert_int_equal(m[1].type, NFT_MSG_NEWTABLE);
	assert_int_equal(m[2].type, NFT_MSG_DELTABLE);
	assert_string_equal(m[2].table, "gamelan-snat-net1");
	assert_int_equal(m[3].type, NFNL_MSG_BATCH_END);
}

static void test_check_rules(void **state)
{
	struct gl_nft_rule_info rules[4];
	struct gl_snat_conf c;
	struct gl_err err;

	ok_prev("\"ports\":[{\"protocol\":\"udp\",\"port\":10999}]", PREV46, &c);
	memset(rules, 0, sizeof(rules));
	for (int i = 0; i < 2; i++) {
		strcpy(rules[i].chain, "input");
		strcpy(rules[i].comment, "gamelan:c0ffee01:eth0");
		rules[i].handle = (uint64_t)i + 2;
	}
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_snat_check_rules(&c, rules, 2, &err), 0);
	/* One missing. */
	memset(&err, 0, sizeof(err));
	assert_true(gl_snat_check_rules(&c, rules, 1, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	assert_has(err.msg, "has 1 rules");
	/* Somebody else's rule. */
	strcpy(rules[1].comment, "gamelan:other:eth0");
	memset(&err, 0, sizeof(err));
	assert_true(gl_snat_check_rules(&c, rules, 2, &err) < 0);
	assert_has(err.msg, "gamelan:other:eth0");
	/* Disabled since: the rules are in the wrong chain. */
	strcpy(rules[1].comment, "gamelan:c0ffee01:eth0");
	c.disabled = true;
	memset(&err, 0, sizeof(err));
	assert_true(gl_snat_check_rules(&c, rules, 2, &err) < 0);
	assert_has(err.msg, "chain drop");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_interface),
		cmocka_unit_test(test_long_container_id),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_prev_result),
		cmocka_unit_test(test_build_every_port),
		cmocka_unit_test(test_build_ports),
		cmocka_unit_test(test_build_dual_stack),
		cmocka_unit_test(test_build_lan_list),
		cmocka_unit_test(test_build_disabled),
		cmocka_unit_test(test_build_del),
		cmocka_unit_test(test_check_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
