/* lib/net/nl.c: every rtnetlink request we build, walked back byte by byte
 * with libmnl; and the parsers, fed what the kernel sends, what it never
 * would, and random bytes. No socket, no kernel. Then the operations against
 * the kernel, in a netns of the test's own (needs root, fails without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <net/if_arp.h>
#include <linux/neighbour.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "net/nl.h"
#include "unit.h"

/* linux/if.h (which has it) clashes with net/if.h. */
#define K_IFF_LOWER_UP 0x10000

static const uint8_t mac1[6] = { 0x02, 0x42, 0xc0, 0xa8, 0x01, 0xc8 };

/* ---- walking a built message ---- */

#define TB_MAX 256

struct tb {
	const struct nlattr *a[TB_MAX];
	int count[TB_MAX];
	int n;
};

static int collect_cb(const struct nlattr *a, void *data)
{
	struct tb *t = data;
	uint16_t type = mnl_attr_get_type(a);

	assert_true(type < TB_MAX);
	t->a[type] = a;
	t->count[type]++;
	t->n++;
	return MNL_CB_OK;
}

/* Every byte after the fixed header must belong to a well-formed
 * attribute: sum the aligned attribute lengths and compare. */
static void assert_attrs_fill(const void *start, size_t len)
{
	const struct nlattr *a = start;
	size_t used = 0;

	while (used < len) {
		assert_true(len - used >= sizeof(struct nlattr));
		assert_true(a->nla_len >= sizeof(struct nlattr));
		assert_true(a->nla_len <= len - used);
		used += MNL_ALIGN(a->nla_len);
		a = (const struct nlattr *)((const char *)start + used);
	}
	assert_int_equal(used, len);
}

static void collect(const struct nlmsghdr *nlh, size_t hdrlen, struct tb *t)
{
	memset(t, 0, sizeof(*t));
	assert_true(nlh->nlmsg_len <= GL_NL_BUFSIZE);
	assert_true(mnl_nlmsg_ok(nlh, (int)nlh->nlmsg_len));
	assert_true(nlh->nlmsg_len >= mnl_nlmsg_size(hdrlen));
	assert_int_equal(nlh->nlmsg_len % 4, 0);
	assert_int_equal(mnl_attr_parse(nlh, (unsigned)hdrlen, collect_cb, t), MNL_CB_OK);
	assert_attrs_fill((const char *)mnl_nlmsg_get_payload(nlh) + MNL_ALIGN(hdrlen),
			  mnl_nlmsg_get_payload_len(nlh) - MNL_ALIGN(hdrlen));
}

static void collect_nested(const struct nlattr *nest, struct tb *t)
{
	memset(t, 0, sizeof(*t));
	assert_non_null(nest);
	/* Nests carry NLA_F_NESTED, which strict kernels insist on. */
	assert_true(nest->nla_type & NLA_F_NESTED);
	assert_int_equal(mnl_attr_validate(nest, MNL_TYPE_NESTED), 0);
	assert_int_equal(mnl_attr_parse_nested(nest, collect_cb, t), MNL_CB_OK);
	assert_attrs_fill(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest));
}

static void assert_u32_attr(const struct tb *t, int type, uint32_t want)
{
	const struct nlattr *a = t->a[type];

	assert_non_null(a);
	assert_int_equal(t->count[type], 1);
	assert_int_equal(mnl_attr_get_payload_len(a), 4);
	assert_int_equal(mnl_attr_get_u32(a), want);
}

static void assert_str_attr(const struct tb *t, int type, const char *want)
{
	const struct nlattr *a = t->a[type];

	assert_non_null(a);
	assert_int_equal(t->count[type], 1);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
	/* Exactly the string and its NUL. */
	assert_int_equal(mnl_attr_get_payload_len(a), strlen(want) + 1);
	assert_string_equal(mnl_attr_get_str(a), want);
}

static void assert_bin_attr(const struct tb *t, int type, const void *want, size_t len)
{
	const struct nlattr *a = t->a[type];

	assert_non_null(a);
	assert_int_equal(t->count[type], 1);
	assert_int_equal(mnl_attr_get_payload_len(a), len);
	assert_memory_equal(mnl_attr_get_payload(a), want, len);
}

static void assert_header(const struct nlmsghdr *nlh, uint16_t type, uint16_t flags, uint32_t seq)
{
	assert_int_equal(nlh->nlmsg_type, type);
	assert_int_equal(nlh->nlmsg_flags, flags);
	assert_int_equal(nlh->nlmsg_seq, seq);
	/* The socket fills in the port. */
	assert_int_equal(nlh->nlmsg_pid, 0);
}

#define F_REQ_ACK (NLM_F_REQUEST | NLM_F_ACK)

/* ---- builders ---- */

static void test_link_new_macvlan(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_link_spec spec = {
		.name = "gl-c0ffee01", .master = 2, .macvlan_mode = MACVLAN_MODE_BRIDGE, .mtu = 1400,
		.mac = mac1, .netns_fd = 7, .up = true,
	};
	struct nlmsghdr *nlh = gl_nl_build_link_new(buf, 42, &spec);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t, info, data;

	assert_ptr_equal(nlh, buf);
	assert_header(nlh, RTM_NEWLINK, F_REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, 42);
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 0);
	assert_int_equal(ifi->ifi_type, 0);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	assert_int_equal(ifi->ifi_change, IFF_UP);

	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 6);
	assert_str_attr(&t, IFLA_IFNAME, "gl-c0ffee01");
	assert_u32_attr(&t, IFLA_LINK, 2);
	assert_u32_attr(&t, IFLA_MTU, 1400);
	assert_bin_attr(&t, IFLA_ADDRESS, mac1, 6);
	assert_u32_attr(&t, IFLA_NET_NS_FD, 7);

	collect_nested(t.a[IFLA_LINKINFO], &info);
	assert_int_equal(info.n, 2);
	assert_str_attr(&info, IFLA_INFO_KIND, "macvlan");
	collect_nested(info.a[IFLA_INFO_DATA], &data);
	assert_int_equal(data.n, 1);
	assert_u32_attr(&data, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
}

static void test_link_new_minimal(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_link_spec spec = {
		.name = "abcdefghijklmno", .master = 5, .macvlan_mode = MACVLAN_MODE_PASSTHRU,
		.netns_fd = -1,
	};
	struct nlmsghdr *nlh = gl_nl_build_link_new(buf, 1, &spec);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t, info, data;

	/* Not up: no flag set nor changed; mtu, mac and netns left to the kernel. */
	assert_int_equal(ifi->ifi_flags, 0);
	assert_int_equal(ifi->ifi_change, 0);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 3);
	assert_str_attr(&t, IFLA_IFNAME, "abcdefghijklmno");
	assert_u32_attr(&t, IFLA_LINK, 5);
	assert_null(t.a[IFLA_MTU]);
	assert_null(t.a[IFLA_ADDRESS]);
	assert_null(t.a[IFLA_NET_NS_FD]);
	collect_nested(t.a[IFLA_LINKINFO], &info);
	collect_nested(info.a[IFLA_INFO_DATA], &data);
	assert_u32_attr(&data, IFLA_MACVLAN_MODE, MACVLAN_MODE_PASSTHRU);

	/* fd 0 is a valid fd: it is passed. */
	spec.netns_fd = 0;
	nlh = gl_nl_build_link_new(buf, 1, &spec);
	collect(nlh, sizeof(*ifi), &t);
	assert_u32_attr(&t, IFLA_NET_NS_FD, 0);
}

static void test_link_new_vlan(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_link_spec spec = { .name = "eth0.10", .master = 4, .netns_fd = -1, .vlan_id = 10 };
	struct nlmsghdr *nlh = gl_nl_build_link_new(buf, 3, &spec);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t, info, data;

	/* An 802.1q link (gamelan-docker's -o parent=eth0.10): kind vlan and
	 * its id as the only data (no macvlan mode, which has the same number). */
	collect(nlh, sizeof(*ifi), &t);
	assert_str_attr(&t, IFLA_IFNAME, "eth0.10");
	assert_u32_attr(&t, IFLA_LINK, 4);
	collect_nested(t.a[IFLA_LINKINFO], &info);
	assert_str_attr(&info, IFLA_INFO_KIND, "vlan");
	collect_nested(info.a[IFLA_INFO_DATA], &data);
	assert_int_equal(data.n, 1);
	assert_non_null(data.a[IFLA_VLAN_ID]);
	assert_int_equal(mnl_attr_get_u16(data.a[IFLA_VLAN_ID]), 10);
}

static void test_link_new_round_trip(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_link_spec spec = {
		.name = "gl-x", .master = 3, .macvlan_mode = MACVLAN_MODE_VEPA, .mtu = 9000,
		.mac = mac1, .netns_fd = -1, .up = true,
	};
	struct gl_nl_link l;

	/* Our request parses as a link with the same facts. */
	assert_int_equal(gl_nl_parse_link(gl_nl_build_link_new(buf, 9, &spec), &l), 0);
	assert_string_equal(l.name, "gl-x");
	assert_int_equal(l.link, 3);
	assert_int_equal(l.mtu, 9000);
	assert_true(l.has_mac);
	assert_memory_equal(l.mac, mac1, 6);
	assert_string_equal(l.kind, "macvlan");
	assert_int_equal(l.macvlan_mode, MACVLAN_MODE_VEPA);
	assert_int_equal(l.flags, IFF_UP);
}

static void test_link_get(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct nlmsghdr *nlh = gl_nl_build_link_get(buf, 7, 5, NULL);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	assert_header(nlh, RTM_GETLINK, F_REQ_ACK, 7);
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 5);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 1);
	assert_u32_attr(&t, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	assert_null(t.a[IFLA_IFNAME]);

	nlh = gl_nl_build_link_get(buf, 8, 0, "eth0");
	ifi = mnl_nlmsg_get_payload(nlh);
	assert_header(nlh, RTM_GETLINK, F_REQ_ACK, 8);
	assert_int_equal(ifi->ifi_index, 0);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 2);
	assert_str_attr(&t, IFLA_IFNAME, "eth0");
	assert_u32_attr(&t, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

static void test_link_del(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct nlmsghdr *nlh = gl_nl_build_link_del(buf, 11, 9);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	assert_header(nlh, RTM_DELLINK, F_REQ_ACK, 11);
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 9);
	assert_int_equal(ifi->ifi_flags, 0);
	assert_int_equal(ifi->ifi_change, 0);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 0);
	assert_int_equal(nlh->nlmsg_len, mnl_nlmsg_size(sizeof(*ifi)));
}

static void test_link_set(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct nlmsghdr *nlh = gl_nl_build_link_set(buf, 12, 3, "eth0", true, mac1, 9000);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	/* Changing an existing link: no CREATE, no EXCL. */
	assert_header(nlh, RTM_NEWLINK, F_REQ_ACK, 12);
	assert_int_equal(ifi->ifi_index, 3);
	assert_int_equal(ifi->ifi_flags, IFF_UP);
	assert_int_equal(ifi->ifi_change, IFF_UP);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 3);
	assert_str_attr(&t, IFLA_IFNAME, "eth0");
	assert_bin_attr(&t, IFLA_ADDRESS, mac1, 6);
	assert_u32_attr(&t, IFLA_MTU, 9000);

	/* Down, nothing else: the change mask still says "UP is meant". */
	nlh = gl_nl_build_link_set(buf, 13, 3, NULL, false, NULL, 0);
	ifi = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(ifi->ifi_flags, 0);
	assert_int_equal(ifi->ifi_change, IFF_UP);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 0);
}

static void test_addr_new_v4(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_prefix p = prefix_of("192.168.1.200/24");
	struct nlmsghdr *nlh = gl_nl_build_addr(buf, 20, RTM_NEWADDR, 4, &p, 0);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	static const uint8_t addr[4] = { 192, 168, 1, 200 }, bcast[4] = { 192, 168, 1, 255 };
	struct tb t;

	assert_header(nlh, RTM_NEWADDR, F_REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, 20);
	assert_int_equal(ifa->ifa_family, AF_INET);
	assert_int_equal(ifa->ifa_prefixlen, 24);
	assert_int_equal(ifa->ifa_index, 4);
	assert_int_equal(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
	assert_int_equal(ifa->ifa_flags, 0);
	collect(nlh, sizeof(*ifa), &t);
	assert_int_equal(t.n, 3);
	assert_bin_attr(&t, IFA_LOCAL, addr, 4);
	assert_bin_attr(&t, IFA_ADDRESS, addr, 4);
	assert_bin_attr(&t, IFA_BROADCAST, bcast, 4);
	assert_null(t.a[IFA_FLAGS]);

	/* A /29 in the middle of an octet. */
	p = prefix_of("10.0.0.203/29");
	nlh = gl_nl_build_addr(buf, 21, RTM_NEWADDR, 4, &p, 0);
	collect(nlh, sizeof(*ifa), &t);
	assert_bin_attr(&t, IFA_BROADCAST, ((const uint8_t[]){ 10, 0, 0, 207 }), 4);

	/* /31 and /32 have no broadcast address. */
	p = prefix_of("10.0.0.1/31");
	nlh = gl_nl_build_addr(buf, 22, RTM_NEWADDR, 4, &p, 0);
	collect(nlh, sizeof(*ifa), &t);
	assert_int_equal(t.n, 2);
	assert_null(t.a[IFA_BROADCAST]);
	p = prefix_of("10.0.0.1/32");
	nlh = gl_nl_build_addr(buf, 23, RTM_NEWADDR, 4, &p, 0);
	collect(nlh, sizeof(*ifa), &t);
	assert_null(t.a[IFA_BROADCAST]);
	assert_int_equal(((const struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_prefixlen, 32);
}

static void test_addr_new_v6_nodad(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_prefix p = prefix_of("2001:db8::c8/64");
	struct nlmsghdr *nlh = gl_nl_build_addr(buf, 30, RTM_NEWADDR, 6, &p, IFA_F_NODAD);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	assert_header(nlh, RTM_NEWADDR, F_REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, 30);
	assert_int_equal(ifa->ifa_family, AF_INET6);
	assert_int_equal(ifa->ifa_prefixlen, 64);
	assert_int_equal(ifa->ifa_index, 6);
	assert_int_equal(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
	collect(nlh, sizeof(*ifa), &t);
	assert_int_equal(t.n, 3);
	assert_bin_attr(&t, IFA_LOCAL, p.ip.addr, 16);
	assert_bin_attr(&t, IFA_ADDRESS, p.ip.addr, 16);
	assert_null(t.a[IFA_BROADCAST]);
	assert_u32_attr(&t, IFA_FLAGS, IFA_F_NODAD);
}

static void test_addr_del(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_prefix p = prefix_of("192.168.1.200/24");
	struct nlmsghdr *nlh = gl_nl_build_addr(buf, 31, RTM_DELADDR, 4, &p, 0);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	/* Deleting: no CREATE/EXCL, and no broadcast to match against. */
	assert_header(nlh, RTM_DELADDR, F_REQ_ACK, 31);
	assert_int_equal(ifa->ifa_family, AF_INET);
	assert_int_equal(ifa->ifa_prefixlen, 24);
	assert_int_equal(ifa->ifa_index, 4);
	collect(nlh, sizeof(*ifa), &t);
	assert_int_equal(t.n, 2);
	assert_bin_attr(&t, IFA_LOCAL, p.ip.addr, 4);
	assert_null(t.a[IFA_BROADCAST]);
}

static void test_addr_dump(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct nlmsghdr *nlh = gl_nl_build_addr_dump(buf, 40, AF_INET);
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	assert_header(nlh, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 40);
	assert_int_equal(ifa->ifa_family, AF_INET);
	assert_int_equal(ifa->ifa_index, 0);
	assert_int_equal(ifa->ifa_prefixlen, 0);
	collect(nlh, sizeof(*ifa), &t);
	assert_int_equal(t.n, 0);
	nlh = gl_nl_build_addr_dump(buf, 41, AF_UNSPEC);
	assert_int_equal(((const struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family, AF_UNSPEC);
}

static void test_link_dump(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct nlmsghdr *nlh = gl_nl_build_link_dump(buf, 42);
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	assert_header(nlh, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 42);
	assert_int_equal(ifi->ifi_family, AF_UNSPEC);
	assert_int_equal(ifi->ifi_index, 0);
	collect(nlh, sizeof(*ifi), &t);
	assert_int_equal(t.n, 1);
	assert_u32_attr(&t, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
}

static void assert_rtmsg(const struct nlmsghdr *nlh, int family, int dst_len, int scope)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);

	assert_int_equal(rtm->rtm_family, family);
	assert_int_equal(rtm->rtm_dst_len, dst_len);
	assert_int_equal(rtm->rtm_src_len, 0);
	assert_int_equal(rtm->rtm_tos, 0);
	assert_int_equal(rtm->rtm_table, RT_TABLE_MAIN);
	assert_int_equal(rtm->rtm_protocol, RTPROT_BOOT);
	assert_int_equal(rtm->rtm_scope, scope);
	assert_int_equal(rtm->rtm_type, RTN_UNICAST);
}

static void test_route_default_v4(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_route rt = { .dst = prefix_of("0.0.0.0/0"), .has_gw = true, .gw = ip_of("192.168.1.1") };
	struct nlmsghdr *nlh = gl_nl_build_route(buf, 50, RTM_NEWROUTE, 4, &rt);
	static const uint8_t gw[4] = { 192, 168, 1, 1 };
	struct tb t;

	assert_header(nlh, RTM_NEWROUTE, F_REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, 50);
	assert_rtmsg(nlh, AF_INET, 0, RT_SCOPE_UNIVERSE);
	collect(nlh, sizeof(struct rtmsg), &t);
	assert_int_equal(t.n, 2);
	assert_null(t.a[RTA_DST]);          /* a default route has no destination */
	assert_bin_attr(&t, RTA_GATEWAY, gw, 4);
	assert_u32_attr(&t, RTA_OIF, 4);
	assert_null(t.a[RTA_PRIORITY]);
	assert_null(t.a[RTA_TABLE]);
}

static void test_route_link_v4(void **state)
{
	char buf[GL_NL_BUFSIZE];
	/* Host bits in the destination must not reach the kernel (it refuses
	 * "192.168.1.77/24" as a route). */
	struct gl_nl_route rt = { .dst = prefix_of("192.168.1.77/24") };
	struct nlmsghdr *nlh = gl_nl_build_route(buf, 51, RTM_NEWROUTE, 4, &rt);
	static const uint8_t net[4] = { 192, 168, 1, 0 };
	struct tb t;

	assert_rtmsg(nlh, AF_INET, 24, RT_SCOPE_LINK);
	collect(nlh, sizeof(struct rtmsg), &t);
	assert_int_equal(t.n, 2);
	assert_bin_attr(&t, RTA_DST, net, 4);
	assert_u32_attr(&t, RTA_OIF, 4);
	assert_null(t.a[RTA_GATEWAY]);

	/* No oif: no RTA_OIF. */
	nlh = gl_nl_build_route(buf, 52, RTM_NEWROUTE, 0, &rt);
	collect(nlh, sizeof(struct rtmsg), &t);
	assert_int_equal(t.n, 1);
	assert_null(t.a[RTA_OIF]);
	/* Deleting: no CREATE/EXCL. */
	nlh = gl_nl_build_route(buf, 53, RTM_DELROUTE, 4, &rt);
	assert_header(nlh, RTM_DELROUTE, F_REQ_ACK, 53);
	assert_rtmsg(nlh, AF_INET, 24, RT_SCOPE_LINK);
}

static void test_route_v6_priority(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_route rt = {
		.dst = prefix_of("2001:db8:1::/48"), .has_gw = true, .gw = ip_of("2001:db8::1"), .priority = 100,
	};
	struct nlmsghdr *nlh = gl_nl_build_route(buf, 54, RTM_NEWROUTE, 6, &rt);
	struct gl_ip net = ip_of("2001:db8:1::");
	struct gl_nl_route back;
	struct tb t;

	assert_header(nlh, RTM_NEWROUTE, F_REQ_ACK | NLM_F_CREATE | NLM_F_EXCL, 54);
	assert_rtmsg(nlh, AF_INET6, 48, RT_SCOPE_UNIVERSE);
	collect(nlh, sizeof(struct rtmsg), &t);
	assert_int_equal(t.n, 4);
	assert_bin_attr(&t, RTA_DST, net.addr, 16);
	assert_bin_attr(&t, RTA_GATEWAY, rt.gw.addr, 16);
	assert_u32_attr(&t, RTA_OIF, 6);
	assert_u32_attr(&t, RTA_PRIORITY, 100);

	/* And it reads back. */
	assert_int_equal(gl_nl_parse_route(nlh, &back), 0);
	assert_int_equal(back.family, AF_INET6);
	assert_true(gl_ip_equal(&back.dst.ip, &net));
	assert_int_equal(back.dst.len, 48);
	assert_true(back.has_gw);
	assert_true(gl_ip_equal(&back.gw, &rt.gw));
	assert_int_equal(back.oif, 6);
	assert_int_equal(back.priority, 100);
	assert_int_equal(back.table, RT_TABLE_MAIN);
}

static void test_route_dump(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct nlmsghdr *nlh = gl_nl_build_route_dump(buf, 60, AF_INET6);
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct tb t;

	assert_header(nlh, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 60);
	assert_int_equal(rtm->rtm_family, AF_INET6);
	assert_int_equal(rtm->rtm_table, 0);
	collect(nlh, sizeof(*rtm), &t);
	assert_int_equal(t.n, 0);
}

static void test_neigh(void **state)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_ip ip = ip_of("192.168.1.77"), back_ip;
	struct nlmsghdr *nlh = gl_nl_build_neigh(buf, 70, RTM_NEWNEIGH, 4, &ip, mac1, NUD_PERMANENT);
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	uint8_t back_mac[6];
	int back_if = 0;
	struct tb t;

	assert_header(nlh, RTM_NEWNEIGH, F_REQ_ACK | NLM_F_CREATE | NLM_F_REPLACE, 70);
	assert_int_equal(nd->ndm_family, AF_INET);
	assert_int_equal(nd->ndm_ifindex, 4);
	assert_int_equal(nd->ndm_state, NUD_PERMANENT);
	assert_int_equal(nd->ndm_flags, 0);
	collect(nlh, sizeof(*nd), &t);
	assert_int_equal(t.n, 2);
	assert_bin_attr(&t, NDA_DST, ip.addr, 4);
	assert_bin_attr(&t, NDA_LLADDR, mac1, 6);
	assert_int_equal(gl_nl_parse_neigh(nlh, &back_if, &back_ip, back_mac), 0);
	assert_int_equal(back_if, 4);
	assert_true(gl_ip_equal(&back_ip, &ip));
	assert_memory_equal(back_mac, mac1, 6);

	ip = ip_of("2001:db8::4d");
	nlh = gl_nl_build_neigh(buf, 71, RTM_DELNEIGH, 5, &ip, NULL, 0);
	nd = mnl_nlmsg_get_payload(nlh);
	assert_header(nlh, RTM_DELNEIGH, F_REQ_ACK, 71);
	assert_int_equal(nd->ndm_family, AF_INET6);
	assert_int_equal(nd->ndm_ifindex, 5);
	collect(nlh, sizeof(*nd), &t);
	assert_int_equal(t.n, 1);
	assert_bin_attr(&t, NDA_DST, ip.addr, 16);
	assert_null(t.a[NDA_LLADDR]);
}

/* ---- messages as the kernel sends them ---- */

#define KBUF 4096

static struct nlmsghdr *k_header(void *buf, uint16_t type, size_t extra, void **ret_extra)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, KBUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = 1234;
	nlh->nlmsg_pid = 5678;
	*ret_extra = mnl_nlmsg_put_extra_header(nlh, extra);
	return nlh;
}

/* RTM_NEWLINK for a macvlan, in the kernel's attribute order, with the
 * attributes we do not read (and some from kernels newer than our
 * headers) around the ones we do. */
static struct nlmsghdr *k_link_macvlan(void *buf)
{
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	struct nlattr *info, *data, *af;
	static const uint8_t stats[200];
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_type = ARPHRD_ETHER;
	ifi->ifi_index = 7;
	ifi->ifi_flags = IFF_UP | IFF_BROADCAST | IFF_MULTICAST | K_IFF_LOWER_UP | IFF_RUNNING;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "gl-c0ffee01");
	mnl_attr_put_u32(nlh, IFLA_TXQLEN, 1000);
	mnl_attr_put_u8(nlh, IFLA_OPERSTATE, 6);
	mnl_attr_put_u8(nlh, IFLA_LINKMODE, 0);
	mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
	mnl_attr_put_u32(nlh, IFLA_MIN_MTU, 68);
	mnl_attr_put_u32(nlh, IFLA_MAX_MTU, 65535);
	mnl_attr_put_u32(nlh, IFLA_GROUP, 0);
	mnl_attr_put_strz(nlh, IFLA_QDISC, "noqueue");
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac1);
	mnl_attr_put(nlh, IFLA_BROADCAST, 6, bcast);
	mnl_attr_put(nlh, IFLA_STATS64, sizeof(stats), stats);
	mnl_attr_put_u32(nlh, IFLA_LINK, 2);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "macvlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, MACVLAN_MODE_PRIVATE);
	mnl_attr_put_u16(nlh, IFLA_MACVLAN_FLAGS, 0);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_MACADDR_COUNT, 0);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_BC_QUEUE_LEN, 1000);
	mnl_attr_put_u32(nlh, IFLA_MACVLAN_BC_QUEUE_LEN_USED, 1000);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	af = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	mnl_attr_put_u32(nlh, AF_INET, 0);
	mnl_attr_nest_end(nlh, af);
	mnl_attr_put_u32(nlh, 64, 65536);      /* IFLA_GRO_IPV4_MAX_SIZE, newer kernels */
	mnl_attr_put_u32(nlh, 200, 1);         /* whatever comes next */
	return nlh;
}

static void test_parse_link_kernel(void **state)
{
	char buf[KBUF];
	struct gl_nl_link l;

	memset(&l, 0x5a, sizeof(l));
	assert_int_equal(gl_nl_parse_link(k_link_macvlan(buf), &l), 0);
	assert_int_equal(l.ifindex, 7);
	assert_string_equal(l.name, "gl-c0ffee01");
	assert_int_equal(l.flags, IFF_UP | IFF_BROADCAST | IFF_MULTICAST | K_IFF_LOWER_UP | IFF_RUNNING);
	assert_int_equal(l.mtu, 1500);
	assert_true(l.has_mac);
	assert_memory_equal(l.mac, mac1, 6);
	assert_int_equal(l.link, 2);
	assert_string_equal(l.kind, "macvlan");
	assert_int_equal(l.macvlan_mode, MACVLAN_MODE_PRIVATE);
}

static void test_parse_link_other_kinds(void **state)
{
	char buf[KBUF];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh;
	struct nlattr *info, *data;
	struct gl_nl_link l;

	/* Loopback: no LINKINFO, no LINK. */
	nlh = k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	ifi->ifi_index = 1;
	ifi->ifi_flags = IFF_UP | IFF_LOOPBACK;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "lo");
	mnl_attr_put_u32(nlh, IFLA_MTU, 65536);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, (const uint8_t[6]){ 0 });
	assert_int_equal(gl_nl_parse_link(nlh, &l), 0);
	assert_int_equal(l.ifindex, 1);
	assert_string_equal(l.name, "lo");
	assert_int_equal(l.mtu, 65536);
	assert_string_equal(l.kind, "");
	assert_int_equal(l.link, 0);
	assert_int_equal(l.macvlan_mode, 0);

	/* A veth: a kind, and data we do not read as macvlan's. */
	nlh = k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	ifi->ifi_index = 3;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	mnl_attr_put_u32(nlh, IFLA_LINK, 4);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	mnl_attr_put_u16(nlh, 1, 7);    /* same number as IFLA_MACVLAN_MODE, other meaning */
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	assert_int_equal(gl_nl_parse_link(nlh, &l), 0);
	assert_string_equal(l.kind, "veth");
	assert_int_equal(l.macvlan_mode, 0);
	assert_int_equal(l.link, 4);
	assert_false(l.has_mac);

	/* An IPIP tunnel's 4-byte "MAC" is not a MAC. */
	nlh = k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "tunl0");
	mnl_attr_put(nlh, IFLA_ADDRESS, 4, (const uint8_t[4]){ 0 });
	assert_int_equal(gl_nl_parse_link(nlh, &l), 0);
	assert_false(l.has_mac);

	/* A macvlan without INFO_DATA: mode unknown (0). */
	nlh = k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "mv0");
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "macvlan");
	mnl_attr_nest_end(nlh, info);
	assert_int_equal(gl_nl_parse_link(nlh, &l), 0);
	assert_string_equal(l.kind, "macvlan");
	assert_int_equal(l.macvlan_mode, 0);

	/* A 15-character name, the longest there is. */
	nlh = k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "abcdefghijklmno");
	assert_int_equal(gl_nl_parse_link(nlh, &l), 0);
	assert_string_equal(l.name, "abcdefghijklmno");
}

static struct nlmsghdr *k_addr_v4(void *buf)
{
	struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh = k_header(buf, RTM_NEWADDR, sizeof(*ifa), (void **)&ifa);
	struct ifa_cacheinfo ci = { .ifa_prefered = 0xffffffff, .ifa_valid = 0xffffffff };

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 24;
	ifa->ifa_flags = IFA_F_PERMANENT;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = 4;
	mnl_attr_put(nlh, IFA_ADDRESS, 4, (const uint8_t[4]){ 192, 168, 1, 200 });
	mnl_attr_put(nlh, IFA_LOCAL, 4, (const uint8_t[4]){ 192, 168, 1, 200 });
	mnl_attr_put(nlh, IFA_BROADCAST, 4, (const uint8_t[4]){ 192, 168, 1, 255 });
	mnl_attr_put_strz(nlh, IFA_LABEL, "eth0");
	mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE);
	mnl_attr_put(nlh, IFA_CACHEINFO, sizeof(ci), &ci);
	mnl_attr_put_u8(nlh, IFA_PROTO, 0);
	return nlh;
}

static void test_parse_addr_kernel(void **state)
{
	char buf[KBUF], s[GL_PREFIX_STRLEN];
	struct ifaddrmsg *ifa;
	struct nlmsghdr *nlh;
	struct gl_nl_addr a;

	assert_int_equal(gl_nl_parse_addr(k_addr_v4(buf), &a), 0);
	assert_int_equal(a.ifindex, 4);
	assert_string_equal(gl_prefix_str(&a.prefix, s, sizeof(s)), "192.168.1.200/24");
	/* IFA_FLAGS (32 bits) wins over the 8-bit header field. */
	assert_int_equal(a.flags, IFA_F_PERMANENT | IFA_F_NOPREFIXROUTE);

	/* Point-to-point: IFA_LOCAL is ours, IFA_ADDRESS the peer. */
	nlh = k_header(buf, RTM_NEWADDR, sizeof(*ifa), (void **)&ifa);
	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = 32;
	ifa->ifa_index = 9;
	mnl_attr_put(nlh, IFA_ADDRESS, 4, (const uint8_t[4]){ 10, 0, 0, 2 });
	mnl_attr_put(nlh, IFA_LOCAL, 4, (const uint8_t[4]){ 10, 0, 0, 1 });
	assert_int_equal(gl_nl_parse_addr(nlh, &a), 0);
	assert_string_equal(gl_prefix_str(&a.prefix, s, sizeof(s)), "10.0.0.1/32");

	/* IPv6 sends IFA_ADDRESS only; flags from the header without IFA_FLAGS. */
	nlh = k_header(buf, RTM_NEWADDR, sizeof(*ifa), (void **)&ifa);
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = 64;
	ifa->ifa_flags = IFA_F_NODAD | IFA_F_PERMANENT;
	ifa->ifa_index = 6;
	mnl_attr_put(nlh, IFA_ADDRESS, 16, ip_of("2001:db8::c8").addr);
	assert_int_equal(gl_nl_parse_addr(nlh, &a), 0);
	assert_int_equal(a.ifindex, 6);
	assert_string_equal(gl_prefix_str(&a.prefix, s, sizeof(s)), "2001:db8::c8/64");
	assert_int_equal(a.flags, IFA_F_NODAD | IFA_F_PERMANENT);

	/* Our own request reads back. */
	{
		char req[GL_NL_BUFSIZE];
		struct gl_prefix p = prefix_of("192.168.1.201/24");

		assert_int_equal(gl_nl_parse_addr(gl_nl_build_addr(req, 1, RTM_NEWADDR, 3, &p, IFA_F_NODAD), &a), 0);
		assert_int_equal(a.ifindex, 3);
		assert_string_equal(gl_prefix_str(&a.prefix, s, sizeof(s)), "192.168.1.201/24");
		assert_int_equal(a.flags, IFA_F_NODAD);
	}
}

static struct nlmsghdr *k_route_default(void *buf)
{
	struct rtmsg *rtm;
	struct nlmsghdr *nlh = k_header(buf, RTM_NEWROUTE, sizeof(*rtm), (void **)&rtm);

	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_DHCP;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, 100);
	mnl_attr_put(nlh, RTA_GATEWAY, 4, (const uint8_t[4]){ 192, 168, 1, 1 });
	mnl_attr_put_u32(nlh, RTA_OIF, 2);
	mnl_attr_put_u8(nlh, RTA_PREF, 0);
	return nlh;
}

static void test_parse_route_kernel(void **state)
{
	char buf[KBUF], s[GL_PREFIX_STRLEN];
	struct rtmsg *rtm;
	struct nlmsghdr *nlh;
	struct gl_nl_route rt;

	assert_int_equal(gl_nl_parse_route(k_route_default(buf), &rt), 0);
	assert_int_equal(rt.family, AF_INET);
	assert_int_equal(rt.dst.ip.family, AF_INET);
	assert_string_equal(gl_prefix_str(&rt.dst, s, sizeof(s)), "0.0.0.0/0");
	assert_true(rt.has_gw);
	assert_string_equal(gl_ip_str(&rt.gw, s, sizeof(s)), "192.168.1.1");
	assert_int_equal(rt.oif, 2);
	assert_int_equal(rt.table, RT_TABLE_MAIN);
	assert_int_equal(rt.priority, 100);

	/* A table id above 255: rtm_table says "compat", RTA_TABLE the truth. */
	nlh = k_header(buf, RTM_NEWROUTE, sizeof(*rtm), (void **)&rtm);
	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 24;
	rtm->rtm_table = RT_TABLE_COMPAT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	mnl_attr_put_u32(nlh, RTA_TABLE, 1000);
	mnl_attr_put(nlh, RTA_DST, 4, (const uint8_t[4]){ 10, 1, 2, 0 });
	mnl_attr_put(nlh, RTA_PREFSRC, 4, (const uint8_t[4]){ 10, 1, 2, 3 });
	mnl_attr_put_u32(nlh, RTA_OIF, 5);
	assert_int_equal(gl_nl_parse_route(nlh, &rt), 0);
	assert_int_equal(rt.table, 1000);
	assert_string_equal(gl_prefix_str(&rt.dst, s, sizeof(s)), "10.1.2.0/24");
	assert_false(rt.has_gw);
	assert_int_equal(rt.priority, 0);

	/* No RTA_TABLE (old kernels): rtm_table. */
	nlh = k_header(buf, RTM_NEWROUTE, sizeof(*rtm), (void **)&rtm);
	rtm->rtm_family = AF_INET;
	rtm->rtm_table = RT_TABLE_LOCAL;
	assert_int_equal(gl_nl_parse_route(nlh, &rt), 0);
	assert_int_equal(rt.table, RT_TABLE_LOCAL);
	assert_int_equal(rt.oif, 0);

	/* IPv6, with a multipath nest we do not read. */
	nlh = k_header(buf, RTM_NEWROUTE, sizeof(*rtm), (void **)&rtm);
	rtm->rtm_family = AF_INET6;
	rtm->rtm_dst_len = 64;
	rtm->rtm_table = RT_TABLE_MAIN;
	mnl_attr_put_u32(nlh, RTA_TABLE, RT_TABLE_MAIN);
	mnl_attr_put(nlh, RTA_DST, 16, ip_of("2001:db8:5::").addr);
	mnl_attr_put_u32(nlh, RTA_PRIORITY, 1024);
	{
		/* RTA_MULTIPATH holds rtnexthop records, not attributes. */
		struct rtnexthop nh[2] = { { .rtnh_len = sizeof(nh[0]), .rtnh_ifindex = 3 },
					   { .rtnh_len = sizeof(nh[1]), .rtnh_ifindex = 4 } };

		mnl_attr_put(nlh, RTA_MULTIPATH, sizeof(nh), nh);
	}
	assert_int_equal(gl_nl_parse_route(nlh, &rt), 0);
	assert_int_equal(rt.family, AF_INET6);
	assert_string_equal(gl_prefix_str(&rt.dst, s, sizeof(s)), "2001:db8:5::/64");
	assert_int_equal(rt.priority, 1024);
	assert_false(rt.has_gw);
}

static void test_parse_neigh_kernel(void **state)
{
	char buf[KBUF];
	struct ndmsg *nd;
	struct nlmsghdr *nlh;
	struct gl_ip ip = {0};
	uint8_t mac[6] = {0};
	int ifindex = 0;
	struct nda_cacheinfo ci = {0};

	nlh = k_header(buf, RTM_NEWNEIGH, sizeof(*nd), (void **)&nd);
	nd->ndm_family = AF_INET;
	nd->ndm_ifindex = 4;
	nd->ndm_state = NUD_REACHABLE;
	nd->ndm_type = RTN_UNICAST;
	mnl_attr_put(nlh, NDA_DST, 4, (const uint8_t[4]){ 192, 168, 1, 77 });
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac1);
	mnl_attr_put_u32(nlh, NDA_PROBES, 1);
	mnl_attr_put(nlh, NDA_CACHEINFO, sizeof(ci), &ci);
	assert_int_equal(gl_nl_parse_neigh(nlh, &ifindex, &ip, mac), 0);
	assert_int_equal(ifindex, 4);
	assert_true(gl_ip_equal(&ip, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 77 } }));
	assert_memory_equal(mac, mac1, 6);

	/* An incomplete entry has no lladdr: nothing to report. */
	nlh = k_header(buf, RTM_NEWNEIGH, sizeof(*nd), (void **)&nd);
	nd->ndm_family = AF_INET;
	nd->ndm_state = NUD_INCOMPLETE;
	mnl_attr_put(nlh, NDA_DST, 4, (const uint8_t[4]){ 192, 168, 1, 78 });
	ifindex = 99;
	assert_int_equal(gl_nl_parse_neigh(nlh, &ifindex, &ip, mac), -EBADMSG);
	assert_int_equal(ifindex, 99);

	/* IPv6. */
	nlh = k_header(buf, RTM_NEWNEIGH, sizeof(*nd), (void **)&nd);
	nd->ndm_family = AF_INET6;
	nd->ndm_ifindex = 6;
	mnl_attr_put(nlh, NDA_DST, 16, ip_of("fe80::1").addr);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac1);
	assert_int_equal(gl_nl_parse_neigh(nlh, &ifindex, &ip, mac), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_int_equal(ifindex, 6);
}

/* ---- what the kernel would never send ---- */

static void test_parse_wrong_type(void **state)
{
	char buf[KBUF];
	struct gl_nl_link l;
	struct gl_nl_addr a;
	struct gl_nl_route rt;
	struct gl_ip ip;
	uint8_t mac[6];
	int ifindex;
	struct nlmsghdr *nlh;

	nlh = k_link_macvlan(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	assert_int_equal(gl_nl_parse_link(nlh, &l), -EBADMSG);
	nlh->nlmsg_type = NLMSG_ERROR;
	assert_int_equal(gl_nl_parse_link(nlh, &l), -EBADMSG);
	nlh->nlmsg_type = RTM_NEWADDR;
	assert_int_equal(gl_nl_parse_link(nlh, &l), -EBADMSG);
	nlh = k_addr_v4(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	assert_int_equal(gl_nl_parse_addr(nlh, &a), -EBADMSG);
	nlh = k_route_default(buf);
	nlh->nlmsg_type = RTM_DELROUTE;
	assert_int_equal(gl_nl_parse_route(nlh, &rt), -EBADMSG);
	nlh->nlmsg_type = RTM_NEWROUTE;
	assert_int_equal(gl_nl_parse_neigh(nlh, &ifindex, &ip, mac), -EBADMSG);
}

/* Put one attribute with an arbitrary payload into a fresh message made
 * by make(), then expect parse to refuse it. */
enum which { LINK, ADDR, ROUTE, NEIGH };

static int run_parser(enum which w, const struct nlmsghdr *nlh)
{
	struct gl_nl_link l;
	struct gl_nl_addr a;
	struct gl_nl_route rt;
	struct gl_ip ip;
	uint8_t mac[6];
	int ifindex;

	switch (w) {
	case LINK: return gl_nl_parse_link(nlh, &l);
	case ADDR: return gl_nl_parse_addr(nlh, &a);
	case ROUTE: return gl_nl_parse_route(nlh, &rt);
	case NEIGH: return gl_nl_parse_neigh(nlh, &ifindex, &ip, mac);
	}
	return 0;
}

static struct nlmsghdr *base_msg(enum which w, void *buf)
{
	switch (w) {
	case LINK: {
		struct ifinfomsg *ifi;

		return k_header(buf, RTM_NEWLINK, sizeof(*ifi), (void **)&ifi);
	}
	case ADDR: {
		struct ifaddrmsg *ifa;
		struct nlmsghdr *nlh = k_header(buf, RTM_NEWADDR, sizeof(*ifa), (void **)&ifa);

		ifa->ifa_family = AF_INET;
		ifa->ifa_prefixlen = 24;
		return nlh;
	}
	case ROUTE: {
		struct rtmsg *rtm;
		struct nlmsghdr *nlh = k_header(buf, RTM_NEWROUTE, sizeof(*rtm), (void **)&rtm);

		rtm->rtm_family = AF_INET;
		return nlh;
	}
	case NEIGH: {
		struct ndmsg *nd;
		struct nlmsghdr *nlh = k_header(buf, RTM_NEWNEIGH, sizeof(*nd), (void **)&nd);

		nd->ndm_family = AF_INET;
		return nlh;
	}
	}
	return NULL;
}

static void expect_bad_attr(enum which w, uint16_t type, size_t len, const void *payload,
			    const char *what)
{
	char buf[KBUF];
	struct nlmsghdr *nlh = base_msg(w, buf);
	static const uint8_t zeros[64];

	/* The attributes the parser needs, correct, then the bad one last so
	 * that it overrides them. */
	if (w == ADDR)
		mnl_attr_put(nlh, IFA_LOCAL, 4, zeros);
	if (w == NEIGH) {
		mnl_attr_put(nlh, NDA_DST, 4, zeros);
		mnl_attr_put(nlh, NDA_LLADDR, 6, zeros);
	}
	mnl_attr_put(nlh, type, len, payload ? payload : zeros);
	print_message("%s\n", what);
	assert_int_equal(run_parser(w, nlh), -EBADMSG);
}

static void test_parse_bad_sizes(void **state)
{
	char name17[17] = "abcdefghijklmnop";   /* 16 characters + NUL */
	char kind20[20] = "macvlanmacvlanmacv";

	expect_bad_attr(LINK, IFLA_MTU, 2, NULL, "IFLA_MTU of 2 bytes");
	expect_bad_attr(LINK, IFLA_MTU, 8, NULL, "IFLA_MTU of 8 bytes");
	expect_bad_attr(LINK, IFLA_MTU, 0, NULL, "IFLA_MTU empty");
	expect_bad_attr(LINK, IFLA_LINK, 2, NULL, "IFLA_LINK of 2 bytes");
	expect_bad_attr(LINK, IFLA_IFNAME, 4, "eth0", "IFLA_IFNAME without NUL");
	expect_bad_attr(LINK, IFLA_IFNAME, 0, NULL, "IFLA_IFNAME empty");
	expect_bad_attr(LINK, IFLA_IFNAME, sizeof(name17), name17, "IFLA_IFNAME of 16 characters");
	expect_bad_attr(ADDR, IFA_LOCAL, 5, NULL, "IFA_LOCAL of 5 bytes");
	expect_bad_attr(ADDR, IFA_LOCAL, 16, NULL, "IFA_LOCAL of 16 bytes for AF_INET");
	expect_bad_attr(ADDR, IFA_LOCAL, 0, NULL, "IFA_LOCAL empty");
	expect_bad_attr(ADDR, IFA_FLAGS, 2, NULL, "IFA_FLAGS of 2 bytes");
	expect_bad_attr(ROUTE, RTA_DST, 16, NULL, "RTA_DST of 16 bytes for AF_INET");
	expect_bad_attr(ROUTE, RTA_GATEWAY, 3, NULL, "RTA_GATEWAY of 3 bytes");
	expect_bad_attr(ROUTE, RTA_OIF, 2, NULL, "RTA_OIF of 2 bytes");
	expect_bad_attr(ROUTE, RTA_TABLE, 8, NULL, "RTA_TABLE of 8 bytes");
	expect_bad_attr(ROUTE, RTA_PRIORITY, 1, NULL, "RTA_PRIORITY of 1 byte");
	expect_bad_attr(NEIGH, NDA_DST, 16, NULL, "NDA_DST of 16 bytes for AF_INET");
	expect_bad_attr(NEIGH, NDA_LLADDR, 20, NULL, "NDA_LLADDR of 20 bytes");
	expect_bad_attr(NEIGH, NDA_LLADDR, 0, NULL, "NDA_LLADDR empty");

	/* Inside the nests. */
	{
		char buf[KBUF];
		struct nlmsghdr *nlh = base_msg(LINK, buf);
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);

		mnl_attr_put(nlh, IFLA_INFO_KIND, sizeof(kind20), kind20);
		mnl_attr_nest_end(nlh, info);
		print_message("IFLA_INFO_KIND of 20 bytes\n");
		assert_int_equal(run_parser(LINK, nlh), -EBADMSG);
	}
	{
		char buf[KBUF];
		struct nlmsghdr *nlh = base_msg(LINK, buf);
		struct nlattr *info = mnl_attr_nest_start(nlh, IFLA_LINKINFO), *data;

		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "macvlan");
		data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
		mnl_attr_put_u16(nlh, IFLA_MACVLAN_MODE, 4);
		mnl_attr_nest_end(nlh, data);
		mnl_attr_nest_end(nlh, info);
		print_message("IFLA_MACVLAN_MODE of 2 bytes\n");
		assert_int_equal(run_parser(LINK, nlh), -EBADMSG);
	}
}

static void test_parse_bad_headers(void **state)
{
	char buf[KBUF];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	struct rtmsg *rtm;

	/* Prefix lengths past the family's size. */
	nlh = k_addr_v4(buf);
	((struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_prefixlen = 33;
	assert_int_equal(run_parser(ADDR, nlh), -EBADMSG);
	nlh = k_route_default(buf);
	((struct rtmsg *)mnl_nlmsg_get_payload(nlh))->rtm_dst_len = 33;
	assert_int_equal(run_parser(ROUTE, nlh), -EBADMSG);
	nlh = k_header(buf, RTM_NEWADDR, sizeof(*ifa), (void **)&ifa);
	ifa->ifa_family = AF_INET6;
	ifa->ifa_prefixlen = 129;
	mnl_attr_put(nlh, IFA_ADDRESS, 16, ip_of("2001:db8::1").addr);
	assert_int_equal(run_parser(ADDR, nlh), -EBADMSG);
	/* An address of a family that is not IP, or none at all. */
	nlh = k_addr_v4(buf);
	((struct ifaddrmsg *)mnl_nlmsg_get_payload(nlh))->ifa_family = AF_PACKET;
	assert_int_equal(run_parser(ADDR, nlh), -EBADMSG);
	nlh = k_header(buf, RTM_NEWADDR, sizeof(*ifa), (void **)&ifa);
	ifa->ifa_family = AF_INET;
	mnl_attr_put_strz(nlh, IFA_LABEL, "eth0");
	assert_int_equal(run_parser(ADDR, nlh), -EBADMSG);
	/* A route of another family (MPLS) is not ours: refused either way. */
	nlh = k_header(buf, RTM_NEWROUTE, sizeof(*rtm), (void **)&rtm);
	rtm->rtm_family = AF_MPLS;
	assert_true(run_parser(ROUTE, nlh) < 0);
	/* A neighbour without NDA_DST. */
	nlh = base_msg(NEIGH, buf);
	mnl_attr_put(nlh, NDA_LLADDR, 6, mac1);
	assert_int_equal(run_parser(NEIGH, nlh), -EBADMSG);
}

/* Copy the first len bytes of nlh into a heap block of just that size
 * (rounded to 4, as netlink buffers are) so that ASan sees any read past
 * it, and claim len in the header. */
static struct nlmsghdr *heap_copy(const struct nlmsghdr *nlh, size_t len)
{
	size_t cap = MNL_ALIGN(len < sizeof(*nlh) ? sizeof(*nlh) : len);
	struct nlmsghdr *h = calloc(1, cap);

	assert_non_null(h);
	memcpy(h, nlh, len < cap ? len : cap);
	h->nlmsg_len = (uint32_t)len;
	return h;
}

static struct nlmsghdr *kernel_msg(enum which w, void *buf)
{
	switch (w) {
	case LINK: return k_link_macvlan(buf);
	case ADDR: return k_addr_v4(buf);
	case ROUTE: return k_route_default(buf);
	case NEIGH: {
		struct ndmsg *nd;
		struct nlmsghdr *nlh = k_header(buf, RTM_NEWNEIGH, sizeof(*nd), (void **)&nd);

		nd->ndm_family = AF_INET;
		nd->ndm_ifindex = 4;
		mnl_attr_put(nlh, NDA_DST, 4, (const uint8_t[4]){ 192, 168, 1, 77 });
		mnl_attr_put(nlh, NDA_LLADDR, 6, mac1);
		mnl_attr_put_u32(nlh, NDA_PROBES, 1);
		return nlh;
	}
	}
	return NULL;
}

static const size_t fixed_len[] = {
	[LINK] = sizeof(struct ifinfomsg), [ADDR] = sizeof(struct ifaddrmsg),
	[ROUTE] = sizeof(struct rtmsg), [NEIGH] = sizeof(struct ndmsg),
};

static void test_parse_truncated_never_crash(void **state)
{
	/* Every cut of every kind of message: no crash, no read past the
	 * claimed length; a cut inside the fixed header is always refused. */
	for (enum which w = LINK; w <= NEIGH; w++) {
		char buf[KBUF];
		const struct nlmsghdr *full = kernel_msg(w, buf);

		assert_int_equal(run_parser(w, full), 0);
		for (size_t len = sizeof(struct nlmsghdr); len <= full->nlmsg_len; len++) {
			struct nlmsghdr *h = heap_copy(full, len);
			int r = run_parser(w, h);

			assert_true(r == 0 || r == -EBADMSG);
			if (len < mnl_nlmsg_size(fixed_len[w]))
				assert_int_equal(r, -EBADMSG);
			free(h);
		}
	}
}

static void test_parse_truncated_attr_refused(void **state)
{
	/* A message cut in the middle of an attribute lost data: it must be
	 * refused, not read as if the attribute had never been there. */
	for (enum which w = LINK; w <= NEIGH; w++) {
		char buf[KBUF];
		const struct nlmsghdr *full = kernel_msg(w, buf);
		size_t start = mnl_nlmsg_size(MNL_ALIGN(fixed_len[w]));

		for (size_t len = start; len < full->nlmsg_len; len++) {
			/* Is len on an attribute boundary (or in the padding
			 * after a complete attribute)? */
			bool boundary = false;
			size_t off = start;

			while (off < full->nlmsg_len) {
				const struct nlattr *a = (const struct nlattr *)((const char *)full + off);

				if (len == off || (len >= off + a->nla_len && len < off + MNL_ALIGN(a->nla_len)))
					boundary = true;
				off += MNL_ALIGN(a->nla_len);
			}
			if (!boundary) {
				struct nlmsghdr *h = heap_copy(full, len);
				int r = run_parser(w, h);

				free(h);
				if (r != -EBADMSG)
					fail_msg("kind %d cut at %zu of %u (inside an attribute): %d, want -EBADMSG",
						 w, len, full->nlmsg_len, r);
			}
		}
	}
}

static void test_parse_garbage_in_nest_refused(void **state)
{
	/* IFLA_LINKINFO whose content is not attributes. */
	char buf[KBUF];
	struct nlmsghdr *nlh = base_msg(LINK, buf);
	static const uint8_t junk[7] = { 0xff, 0xff, 0xff, 0xff, 1, 2, 3 };

	mnl_attr_put_strz(nlh, IFLA_IFNAME, "eth0");
	mnl_attr_put(nlh, IFLA_LINKINFO, sizeof(junk), junk);
	assert_int_equal(run_parser(LINK, nlh), -EBADMSG);
}

static uint32_t rnd_state;

static uint32_t rnd(void)
{
	/* xorshift32: the same sequence on every libc. */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Parse; when accepted, the result must be self-consistent. Returns 1 when
 * accepted. */
static int check_result_sane(enum which w, const struct nlmsghdr *nlh)
{
	struct gl_nl_link l;
	struct gl_nl_addr a;
	struct gl_nl_route rt;
	struct gl_ip ip;
	uint8_t mac[6];
	int ifindex;

	switch (w) {
	case LINK:
		if (gl_nl_parse_link(nlh, &l) < 0)
			return 0;
		assert_true(memchr(l.name, '\0', sizeof(l.name)) != NULL);
		assert_true(memchr(l.kind, '\0', sizeof(l.kind)) != NULL);
		return 1;
	case ADDR:
		if (gl_nl_parse_addr(nlh, &a) < 0)
			return 0;
		assert_true(a.prefix.ip.family == AF_INET || a.prefix.ip.family == AF_INET6);
		assert_true(a.prefix.len <= (a.prefix.ip.family == AF_INET ? 32 : 128));
		return 1;
	case ROUTE:
		if (gl_nl_parse_route(nlh, &rt) < 0)
			return 0;
		assert_true(rt.family == AF_INET || rt.family == AF_INET6);
		assert_int_equal(rt.dst.ip.family, rt.family);
		assert_true(rt.dst.len <= (rt.family == AF_INET ? 32 : 128));
		if (rt.has_gw)
			assert_int_equal(rt.gw.family, rt.family);
		return 1;
	case NEIGH:
		if (gl_nl_parse_neigh(nlh, &ifindex, &ip, mac) < 0)
			return 0;
		assert_true(ip.family == AF_INET || ip.family == AF_INET6);
		return 1;
	}
	return 0;
}

static void test_parse_random_bytes(void **state)
{
	static const uint16_t types[] = { RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE, RTM_NEWNEIGH };

	int accepted = 0;

	rnd_state = 0x5eed1234;
	for (int i = 0; i < 4000; i++) {
		enum which w = (enum which)(i % 4);
		size_t len = sizeof(struct nlmsghdr) + rnd() % 300;
		struct nlmsghdr *h = calloc(1, MNL_ALIGN(len));

		assert_non_null(h);
		for (size_t j = 0; j < len; j++)
			((uint8_t *)h)[j] = (uint8_t)rnd();
		h->nlmsg_len = (uint32_t)len;
		/* Mostly the right type, to get past the first check. */
		if (rnd() % 8)
			h->nlmsg_type = types[w];
		accepted += check_result_sane(w, h);
		free(h);
	}
	print_message("random: %d of 4000 accepted\n", accepted);
}

static void test_parse_mutated(void **state)
{
	/* Real messages with a few bytes changed (often attribute headers):
	 * reaches the nested parsing that random bytes rarely do. */
	int accepted = 0;

	rnd_state = 0xc0ffee;
	for (int i = 0; i < 4000; i++) {
		enum which w = (enum which)(i % 4);
		char buf[KBUF];
		const struct nlmsghdr *full = kernel_msg(w, buf);
		size_t len = full->nlmsg_len - (rnd() % 4 == 0 ? rnd() % (full->nlmsg_len - 16) : 0);
		struct nlmsghdr *h = heap_copy(full, len);
		int flips = 1 + (int)(rnd() % 6);

		for (int k = 0; k < flips; k++) {
			size_t at = sizeof(struct nlmsghdr) + rnd() % (len - sizeof(struct nlmsghdr) + 1);

			if (at < len)
				((uint8_t *)h)[at] = (uint8_t)rnd();
		}
		accepted += check_result_sane(w, h);
		free(h);
	}
	/* The mutations reach both outcomes, or they test nothing. */
	print_message("mutated: %d of 4000 accepted\n", accepted);
	assert_true(accepted > 400);
	assert_true(accepted < 3600);
}

/* ---- against the kernel ---- */

static int stop_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(int *)data)++;
	return MNL_CB_STOP;
}

static int fail_cb(const struct nlmsghdr *nlh, void *data)
{
	errno = EMLINK;
	return MNL_CB_ERROR;
}

static void test_kernel_ops(void **state)
{
	_cleanup_nl_ struct gl_nl *nl = NULL;
	char buf[GL_NL_BUFSIZE];
	struct gl_err err = { 0 };
	struct gl_nl_link lo;
	struct gl_nl_addr addrs[8];
	struct gl_nl_route routes[8];
	struct gl_prefix p = prefix_of("10.9.8.7/24");
	int n, ifindex, seen = 0;

	assert_int_equal(gl_nl_open(&nl), 0);
	assert_int_equal(gl_nl_link_get(nl, 0, "lo", &lo, &err), 0);
	assert_string_equal(lo.name, "lo");
	{
		struct gl_nl_link links[4];

		n = gl_nl_link_list(nl, links, (int)GL_ARRAY_SIZE(links), &err);
		assert_true(n >= 1);
		for (int i = 0; i < n; i++)
			seen += links[i].ifindex == lo.ifindex && strcmp(links[i].name, "lo") == 0;
		assert_int_equal(seen, 1);
		assert_int_equal(gl_nl_link_list(nl, links, 0, &err), 0);
		seen = 0;
	}
	assert_int_equal(gl_nl_talk(nl, gl_nl_build_link_set(buf, gl_nl_seq(nl), lo.ifindex, NULL,
							      true, NULL, 0), NULL, NULL, &err), 0);
	assert_int_equal(gl_nl_talk(nl, gl_nl_build_addr(buf, gl_nl_seq(nl), RTM_NEWADDR,
							  lo.ifindex, &p, 0), NULL, NULL, &err), 0);
	assert_int_equal(gl_nl_talk(nl, gl_nl_build_addr(buf, gl_nl_seq(nl), RTM_NEWADDR,
							  lo.ifindex, &p, 0), NULL, NULL, &err), -EEXIST);
	print_message("twice: %s\n", err.details);
	n = gl_nl_addr_list(nl, lo.ifindex, addrs, (int)GL_ARRAY_SIZE(addrs), &err);
	assert_true(n >= 1);
	for (int i = 0; i < n; i++)
		seen += gl_ip_equal(&addrs[i].prefix.ip, &p.ip) && addrs[i].prefix.len == p.len;
	assert_int_equal(seen, 1);
	n = gl_nl_route_list(nl, AF_INET, routes, (int)GL_ARRAY_SIZE(routes), &err);
	assert_true(n >= 1);
	assert_int_equal(gl_nl_default_link(nl, AF_INET, &ifindex, &err), -ENOENT);
	assert_int_equal(gl_nl_link_del(nl, 999999, &err), -ENODEV);
	assert_int_equal(gl_nl_link_get(nl, 999999, NULL, &lo, &err), -ENODEV);
	/* A callback's failure keeps its errno; one that stops leaves the
	 * rest of the dump unread, and the next request is not confused by
	 * it (other seq: skipped). */
	assert_int_equal(gl_nl_talk(nl, gl_nl_build_addr_dump(buf, gl_nl_seq(nl), AF_UNSPEC),
				    fail_cb, NULL, &err), -EMLINK);
	n = 0;
	assert_int_equal(gl_nl_talk(nl, gl_nl_build_route_dump(buf, gl_nl_seq(nl), AF_UNSPEC),
				    stop_cb, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(gl_nl_link_get(nl, 0, "lo", &lo, &err), 0);
	assert_string_equal(lo.name, "lo");
}

static void test_kernel_extack(void **state)
{
	_cleanup_nl_ struct gl_nl *nl = NULL;
	char buf[GL_NL_BUFSIZE];
	struct gl_err err = { 0 };
	struct gl_nl_link_spec spec = { .name = "a-name-far-too-long-for-ifnamsiz", .netns_fd = -1 };

	assert_int_equal(gl_nl_open(&nl), 0);
	/* The kernel's reason reaches err's details; the message stays the
	 * caller's to write. */
	assert_int_equal(gl_nl_talk(nl, gl_nl_build_link_new(buf, gl_nl_seq(nl), &spec), NULL, NULL,
				    &err), -ERANGE);
	assert_string_equal(err.details, "kernel: Attribute failed policy validation");
	assert_string_equal(err.msg, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_link_new_macvlan),
		cmocka_unit_test(test_link_new_minimal),
		cmocka_unit_test(test_link_new_round_trip),
		cmocka_unit_test(test_link_new_vlan),
		cmocka_unit_test(test_link_get),
		cmocka_unit_test(test_link_del),
		cmocka_unit_test(test_link_set),
		cmocka_unit_test(test_addr_new_v4),
		cmocka_unit_test(test_addr_new_v6_nodad),
		cmocka_unit_test(test_addr_del),
		cmocka_unit_test(test_addr_dump),
		cmocka_unit_test(test_link_dump),
		cmocka_unit_test(test_route_default_v4),
		cmocka_unit_test(test_route_link_v4),
		cmocka_unit_test(test_route_v6_priority),
		cmocka_unit_test(test_route_dump),
		cmocka_unit_test(test_neigh),
		cmocka_unit_test(test_parse_link_kernel),
		cmocka_unit_test(test_parse_link_other_kinds),
		cmocka_unit_test(test_parse_addr_kernel),
		cmocka_unit_test(test_parse_route_kernel),
		cmocka_unit_test(test_parse_neigh_kernel),
		cmocka_unit_test(test_parse_wrong_type),
		cmocka_unit_test(test_parse_bad_sizes),
		cmocka_unit_test(test_parse_bad_headers),
		cmocka_unit_test(test_parse_truncated_never_crash),
		cmocka_unit_test(test_parse_truncated_attr_refused),
		cmocka_unit_test(test_parse_garbage_in_nest_refused),
		cmocka_unit_test(test_parse_random_bytes),
		cmocka_unit_test(test_parse_mutated),
	};
	const struct CMUnitTest kernel[] = {
		cmocka_unit_test(test_kernel_ops),
		cmocka_unit_test(test_kernel_extack),
	};
	int failed = cmocka_run_group_tests_name("built", tests, NULL, NULL);

	return failed + cmocka_run_group_tests_name("kernel", kernel, unit_own_netns, NULL);
}
