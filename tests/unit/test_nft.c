/* lib/net/nft.c: every nftables message we build, parsed back with libnftnl
 * (as libnftnl's own tests do) and compared attribute by attribute; the
 * batch framing walked message by message; bad input refused. No kernel.
 * Then batches, dumps and their errors against the kernel, in a netns of
 * the test's own (needs root, fails without). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/nft.h"
#include "unit.h"

/* ---- walking a batch ---- */

#define MSGS_MAX 8192

struct walk {
	const struct nlmsghdr *m[MSGS_MAX];
	size_t n;
};

/* Every byte of the batch belongs to a well-formed message. */
static void walk_batch(const struct gl_nft_batch *b, struct walk *w)
{
	const char *p = gl_nft_batch_data(b);
	size_t len = gl_nft_batch_len(b), off = 0;

	memset(w, 0, sizeof(*w));
	while (off < len) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(p + off);

		assert_true(len - off >= sizeof(*nlh));
		assert_true(nlh->nlmsg_len >= sizeof(*nlh) + sizeof(struct nfgenmsg));
		assert_true(nlh->nlmsg_len <= len - off);
		assert_true(w->n < MSGS_MAX);
		w->m[w->n++] = nlh;
		off += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	assert_int_equal(off, len);
}

static uint16_t nft_type(uint16_t msg)
{
	return (uint16_t)((NFNL_SUBSYS_NFTABLES << 8) | msg);
}

/* Begin and end frame the batch, with consecutive seqs from seq0; each
 * message between asks for an ack. */
static void assert_framing(const struct walk *w, uint32_t seq0)
{
	const struct nfgenmsg *nfg;

	assert_true(w->n >= 2);
	assert_int_equal(w->m[0]->nlmsg_type, NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(w->m[0]->nlmsg_seq, seq0);
	nfg = mnl_nlmsg_get_payload(w->m[0]);
	assert_int_equal(ntohs(nfg->res_id), NFNL_SUBSYS_NFTABLES);
	assert_int_equal(w->m[w->n - 1]->nlmsg_type, NFNL_MSG_BATCH_END);
	for (size_t i = 0; i < w->n; i++) {
		assert_int_equal(w->m[i]->nlmsg_seq, seq0 + i);
		assert_true(w->m[i]->nlmsg_flags & NLM_F_REQUEST);
		if (i > 0 && i < w->n - 1)
			assert_true(w->m[i]->nlmsg_flags & NLM_F_ACK);
	}
}

static void test_batch_framing(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 1000, 0, &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	walk_batch(&b, &w);
	assert_int_equal(w.n, 2);
	assert_framing(&w, 1000);
	assert_int_equal(gl_nft_batch_count(&b), 0);
	/* Nothing between begin and end: nothing to send, no socket opened. */
	assert_int_equal(gl_nft_send(&b, &err), 0);
	/* Ended: no more messages. */
	assert_true(gl_nft_batch_add_table(&b, NFPROTO_INET, "t", &err) < 0);
	gl_nft_batch_done(&b);
	gl_nft_batch_done(&b); /* twice is fine */
}

static void test_batch_genid(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	const struct nlattr *a;
	bool found = false;
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 7, 0xabcdef01, &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	walk_batch(&b, &w);
	mnl_attr_for_each(a, w.m[0], sizeof(struct nfgenmsg)) {
		assert_int_equal(mnl_attr_get_type(a), NFNL_BATCH_GENID);
		assert_int_equal(mnl_attr_get_payload_len(a), 4);
		assert_int_equal(ntohl(mnl_attr_get_u32(a)), 0xabcdef01);
		found = true;
	}
	assert_true(found);
	gl_nft_batch_done(&b);
}

static void test_table(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct nftnl_table *t;
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 50, 0, &err), 0);
	assert_int_equal(gl_nft_batch_add_table(&b, NFPROTO_INET, "gamelan-router", &err), 0);
	assert_int_equal(gl_nft_batch_del_table(&b, NFPROTO_IPV4, "other", &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	assert_int_equal(gl_nft_batch_count(&b), 2);
	walk_batch(&b, &w);
	assert_int_equal(w.n, 4);
	assert_framing(&w, 50);
	assert_int_equal(w.m[1]->nlmsg_type, nft_type(NFT_MSG_NEWTABLE));
	assert_true(w.m[1]->nlmsg_flags & NLM_F_CREATE);
	assert_false(w.m[1]->nlmsg_flags & NLM_F_EXCL);
	t = nftnl_table_alloc();
	assert_int_equal(nftnl_table_nlmsg_parse(w.m[1], t), 0);
	assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "gamelan-router");
	assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), NFPROTO_INET);
	nftnl_table_free(t);
	assert_int_equal(w.m[2]->nlmsg_type, nft_type(NFT_MSG_DELTABLE));
	t = nftnl_table_alloc();
	assert_int_equal(nftnl_table_nlmsg_parse(w.m[2], t), 0);
	assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "other");
	assert_int_equal(nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), NFPROTO_IPV4);
	nftnl_table_free(t);
	gl_nft_batch_done(&b);
}

/* delete-if-exists is add then delete of the same table, in one batch. */
static void test_destroy_table(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 9, 0, &err), 0);
	assert_int_equal(gl_nft_batch_destroy_table(&b, NFPROTO_INET, "gamelan-snat-eth0", &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	walk_batch(&b, &w);
	assert_int_equal(w.n, 4);
	assert_framing(&w, 9);
	assert_int_equal(w.m[1]->nlmsg_type, nft_type(NFT_MSG_NEWTABLE));
	assert_int_equal(w.m[2]->nlmsg_type, nft_type(NFT_MSG_DELTABLE));
	for (int i = 1; i <= 2; i++) {
		struct nftnl_table *t = nftnl_table_alloc();

		assert_int_equal(nftnl_table_nlmsg_parse(w.m[i], t), 0);
		assert_string_equal(nftnl_table_get_str(t, NFTNL_TABLE_NAME), "gamelan-snat-eth0");
		nftnl_table_free(t);
	}
	gl_nft_batch_done(&b);
}

static void test_chain(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct nftnl_chain *c;
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 1, 0, &err), 0);
	assert_int_equal(gl_nft_batch_add_chain(&b, NFPROTO_INET, "t", "prerouting", "nat",
						NF_INET_PRE_ROUTING, -100, &err), 0);
	assert_int_equal(gl_nft_batch_add_chain(&b, NFPROTO_INET, "t", "drop", "filter",
						NF_INET_LOCAL_IN, 0, &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	walk_batch(&b, &w);
	assert_int_equal(w.n, 4);
	assert_int_equal(w.m[1]->nlmsg_type, nft_type(NFT_MSG_NEWCHAIN));
	c = nftnl_chain_alloc();
	assert_int_equal(nftnl_chain_nlmsg_parse(w.m[1], c), 0);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), "t");
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_NAME), "prerouting");
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "nat");
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_PRE_ROUTING);
	assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), -100);
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY), NFPROTO_INET);
	nftnl_chain_free(c);
	c = nftnl_chain_alloc();
	assert_int_equal(nftnl_chain_nlmsg_parse(w.m[2], c), 0);
	assert_string_equal(nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE), "filter");
	assert_int_equal(nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), NF_INET_LOCAL_IN);
	assert_int_equal(nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO), 0);
	nftnl_chain_free(c);
	gl_nft_batch_done(&b);
}

/* ---- rules: build, frame, parse back ---- */

/* The one rule in a batch of one rule, parsed back. */
static struct nftnl_rule *roundtrip(const struct gl_nft_rule *r)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct nftnl_rule *out = nftnl_rule_alloc();
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 300, 0, &err), 0);
	assert_int_equal(gl_nft_batch_add_rule(&b, r, &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	walk_batch(&b, &w);
	assert_int_equal(w.n, 3);
	assert_framing(&w, 300);
	assert_int_equal(w.m[1]->nlmsg_type, nft_type(NFT_MSG_NEWRULE));
	assert_true(w.m[1]->nlmsg_flags & NLM_F_APPEND);
	assert_true(w.m[1]->nlmsg_flags & NLM_F_CREATE);
	assert_int_equal(nftnl_rule_nlmsg_parse(w.m[1], out), 0);
	gl_nft_batch_done(&b);
	return out;
}

#define EXPRS_MAX 40

struct exprs {
	struct nftnl_expr *e[EXPRS_MAX];
	int n;
};

static int collect_expr(struct nftnl_expr *e, void *data)
{
	struct exprs *x = data;

	assert_true(x->n < EXPRS_MAX);
	x->e[x->n++] = e;
	return 0;
}

static void exprs_of(struct nftnl_rule *r, struct exprs *x)
{
	memset(x, 0, sizeof(*x));
	assert_int_equal(nftnl_expr_foreach(r, collect_expr, x), 0);
}

static void assert_name(struct nftnl_expr *e, const char *name)
{
	assert_string_equal(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), name);
}

static void assert_data(struct nftnl_expr *e, uint16_t attr, const void *want, uint32_t len)
{
	uint32_t got = 0;
	const void *d = nftnl_expr_get(e, attr, &got);

	assert_non_null(d);
	assert_int_equal(got, len);
	assert_memory_equal(d, want, len);
}

static void assert_meta(struct nftnl_expr *e, uint32_t key)
{
	assert_name(e, "meta");
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY), key);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG), NFT_REG_1);
}

static void assert_cmp(struct nftnl_expr *e, uint32_t op, const void *data, uint32_t len)
{
	assert_name(e, "cmp");
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG), NFT_REG_1);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP), op);
	assert_data(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void assert_payload(struct nftnl_expr *e, uint32_t base, uint32_t off, uint32_t len)
{
	assert_name(e, "payload");
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_BASE), base);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET), off);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_LEN), len);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_PAYLOAD_DREG), NFT_REG_1);
}

static void assert_bitwise(struct nftnl_expr *e, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];

	assert_name(e, "bitwise");
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_SREG), NFT_REG_1);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_DREG), NFT_REG_1);
	assert_int_equal(nftnl_expr_get_u32(e, NFTNL_EXPR_BITWISE_LEN), len);
	assert_data(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	assert_data(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void assert_nfproto(struct exprs *x, int at, uint8_t proto)
{
	assert_meta(x->e[at], NFT_META_NFPROTO);
	assert_cmp(x->e[at + 1], NFT_CMP_EQ, &proto, 1);
}

static const char *comment_of(struct nftnl_rule *r)
{
	static char out[GL_NFT_COMMENT_MAX + 1];
	struct gl_nft_rule_info info;
	char buf[GL_NFT_MSG_MAX];
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), 0);
	snprintf(out, sizeof(out), "%s", info.comment);
	return out;
}

/* The router's DNAT rule, as `nft list` would print it:
 * meta nfproto ipv4 iifname "wan0" ip daddr 198.51.100.1 udp dport 10999
 * counter dnat ip to 192.168.1.200:10999 comment "gamelan:fwd:dst-0 ..." */
static void test_rule_dnat(void **state)
{
	struct gl_nft_rule *r;
	struct gl_err err = { 0 };
	struct gl_prefix wan = prefix_of("198.51.100.1/32");
	struct gl_ip to = ip_of("192.168.1.200");
	char ifname[16] = "wan0";
	uint8_t udp = IPPROTO_UDP;
	uint16_t port = htons(10999), toport = htons(11000);
	struct nftnl_rule *out;
	struct exprs x;

	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "gamelan-router", "prerouting",
					 "gamelan:fwd:dst-0 spec", &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_nfproto(r, AF_INET), 0);
	assert_int_equal(gl_nft_rule_match_iifname(r, "wan0"), 0);
	assert_int_equal(gl_nft_rule_match_daddr(r, &wan, false), 0);
	assert_int_equal(gl_nft_rule_match_dport(r, IPPROTO_UDP, 10999), 0);
	assert_int_equal(gl_nft_rule_counter(r), 0);
	assert_int_equal(gl_nft_rule_dnat(r, &to, 11000), 0);
	out = roundtrip(r);
	assert_string_equal(nftnl_rule_get_str(out, NFTNL_RULE_TABLE), "gamelan-router");
	assert_string_equal(nftnl_rule_get_str(out, NFTNL_RULE_CHAIN), "prerouting");
	assert_int_equal(nftnl_rule_get_u32(out, NFTNL_RULE_FAMILY), NFPROTO_INET);
	assert_string_equal(comment_of(out), "gamelan:fwd:dst-0 spec");
	exprs_of(out, &x);
	assert_int_equal(x.n, 14);
	assert_nfproto(&x, 0, NFPROTO_IPV4);
	assert_meta(x.e[2], NFT_META_IIFNAME);
	assert_cmp(x.e[3], NFT_CMP_EQ, ifname, 16);   /* zero padded to IFNAMSIZ */
	/* Already matched ipv4: no second nfproto before the address. */
	assert_payload(x.e[4], NFT_PAYLOAD_NETWORK_HEADER, 16, 4);
	assert_cmp(x.e[5], NFT_CMP_EQ, wan.ip.addr, 4);  /* /32: no bitwise */
	assert_meta(x.e[6], NFT_META_L4PROTO);
	assert_cmp(x.e[7], NFT_CMP_EQ, &udp, 1);
	assert_payload(x.e[8], NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);
	assert_cmp(x.e[9], NFT_CMP_EQ, &port, 2);
	assert_name(x.e[10], "counter");
	assert_name(x.e[11], "immediate");
	assert_int_equal(nftnl_expr_get_u32(x.e[11], NFTNL_EXPR_IMM_DREG), NFT_REG_1);
	assert_data(x.e[11], NFTNL_EXPR_IMM_DATA, to.addr, 4);
	assert_name(x.e[12], "immediate");
	assert_int_equal(nftnl_expr_get_u32(x.e[12], NFTNL_EXPR_IMM_DREG), NFT_REG_2);
	assert_data(x.e[12], NFTNL_EXPR_IMM_DATA, &toport, 2);
	assert_name(x.e[13], "nat");
	assert_int_equal(nftnl_expr_get_u32(x.e[13], NFTNL_EXPR_NAT_TYPE), NFT_NAT_DNAT);
	assert_int_equal(nftnl_expr_get_u32(x.e[13], NFTNL_EXPR_NAT_FAMILY), NFPROTO_IPV4);
	assert_int_equal(nftnl_expr_get_u32(x.e[13], NFTNL_EXPR_NAT_REG_ADDR_MIN), NFT_REG_1);
	assert_int_equal(nftnl_expr_get_u32(x.e[13], NFTNL_EXPR_NAT_REG_PROTO_MIN), NFT_REG_2);
	nftnl_rule_free(out);
	gl_nft_rule_free(r);
}

/* The in-pod shape: iifname, saddr not in two LAN prefixes, dport, ct,
 * snat ip6 / drop. */
static void test_rule_not_in_snat(void **state)
{
	struct gl_nft_rule *r;
	struct gl_err err = { 0 };
	struct gl_prefix lan[2] = { prefix_of("192.168.1.77/24"), prefix_of("10.0.0.0/8") };
	struct gl_ip gw = ip_of("192.168.1.1");
	const uint8_t m24[4] = { 255, 255, 255, 0 }, m8[4] = { 255, 0, 0, 0 };
	const uint8_t n24[4] = { 192, 168, 1, 0 }, n8[4] = { 10, 0, 0, 0 };
	uint32_t dnat = IPS_DST_NAT, zero = 0;
	struct nftnl_rule *out;
	struct exprs x;

	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "gamelan-snat-eth0", "input", NULL, &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_saddr_not_in(r, lan, 2), 0);
	assert_int_equal(gl_nft_rule_match_ct_dnat(r), 0);
	assert_int_equal(gl_nft_rule_snat(r, &gw), 0);
	out = roundtrip(r);
	assert_string_equal(comment_of(out), "");
	exprs_of(out, &x);
	assert_int_equal(x.n, 13);
	/* The address match adds the family dependency itself, once. */
	assert_nfproto(&x, 0, NFPROTO_IPV4);
	assert_payload(x.e[2], NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	assert_bitwise(x.e[3], m24, 4);
	assert_cmp(x.e[4], NFT_CMP_NEQ, n24, 4);     /* host bits cleared */
	assert_payload(x.e[5], NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	assert_bitwise(x.e[6], m8, 4);
	assert_cmp(x.e[7], NFT_CMP_NEQ, n8, 4);
	assert_name(x.e[8], "ct");
	assert_int_equal(nftnl_expr_get_u32(x.e[8], NFTNL_EXPR_CT_KEY), NFT_CT_STATUS);
	assert_int_equal(nftnl_expr_get_u32(x.e[8], NFTNL_EXPR_CT_DREG), NFT_REG_1);
	assert_bitwise(x.e[9], &dnat, 4);
	assert_cmp(x.e[10], NFT_CMP_NEQ, &zero, 4);
	assert_name(x.e[11], "immediate");
	assert_data(x.e[11], NFTNL_EXPR_IMM_DATA, gw.addr, 4);
	assert_name(x.e[12], "nat");
	assert_int_equal(nftnl_expr_get_u32(x.e[12], NFTNL_EXPR_NAT_TYPE), NFT_NAT_SNAT);
	assert_false(nftnl_expr_is_set(x.e[12], NFTNL_EXPR_NAT_REG_PROTO_MIN));
	nftnl_rule_free(out);
	gl_nft_rule_free(r);
}

static void test_rule_ipv6_drop(void **state)
{
	struct gl_nft_rule *r;
	struct gl_err err = { 0 };
	struct gl_prefix lan = prefix_of("fd00:1:2::/48"), host = prefix_of("fd00::5/128");
	const uint8_t mask[16] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	char oif[16] = "eth0";
	uint8_t tcp = IPPROTO_TCP;
	struct nftnl_rule *out;
	struct exprs x;

	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", "x", &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_oifname(r, "eth0"), 0);
	assert_int_equal(gl_nft_rule_match_saddr(r, &lan, true), 0);
	assert_int_equal(gl_nft_rule_match_daddr(r, &host, false), 0);
	assert_int_equal(gl_nft_rule_match_l4proto(r, IPPROTO_TCP), 0);
	assert_int_equal(gl_nft_rule_drop(r), 0);
	out = roundtrip(r);
	exprs_of(out, &x);
	assert_int_equal(x.n, 12);
	assert_meta(x.e[0], NFT_META_OIFNAME);
	assert_cmp(x.e[1], NFT_CMP_EQ, oif, 16);
	assert_nfproto(&x, 2, NFPROTO_IPV6);
	assert_payload(x.e[4], NFT_PAYLOAD_NETWORK_HEADER, 8, 16);
	assert_bitwise(x.e[5], mask, 16);
	assert_cmp(x.e[6], NFT_CMP_NEQ, lan.ip.addr, 16);
	assert_payload(x.e[7], NFT_PAYLOAD_NETWORK_HEADER, 24, 16);
	assert_cmp(x.e[8], NFT_CMP_EQ, host.ip.addr, 16);
	assert_meta(x.e[9], NFT_META_L4PROTO);
	assert_cmp(x.e[10], NFT_CMP_EQ, &tcp, 1);
	assert_name(x.e[11], "immediate");
	assert_int_equal(nftnl_expr_get_u32(x.e[11], NFTNL_EXPR_IMM_DREG), NFT_REG_VERDICT);
	assert_int_equal(nftnl_expr_get_u32(x.e[11], NFTNL_EXPR_IMM_VERDICT), (uint32_t)NF_DROP);
	nftnl_rule_free(out);
	gl_nft_rule_free(r);
}

/* An ip (not inet) table needs no nfproto; an accept verdict. */
static void test_rule_ip_family(void **state)
{
	struct gl_nft_rule *r;
	struct gl_err err = { 0 };
	struct gl_prefix p = prefix_of("192.168.1.0/24");
	struct gl_prefix p6 = prefix_of("fd00::/8");
	struct nftnl_rule *out;
	struct exprs x;

	assert_int_equal(gl_nft_rule_new(NFPROTO_IPV4, "t", "c", NULL, &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_saddr(r, &p, false), 0);
	assert_int_equal(gl_nft_rule_accept(r), 0);
	out = roundtrip(r);
	exprs_of(out, &x);
	assert_int_equal(x.n, 4);
	assert_payload(x.e[0], NFT_PAYLOAD_NETWORK_HEADER, 12, 4);
	assert_int_equal(nftnl_expr_get_u32(x.e[3], NFTNL_EXPR_IMM_VERDICT), (uint32_t)NF_ACCEPT);
	nftnl_rule_free(out);
	/* An ip6 address in an ip table is refused, and sticks. */
	assert_int_equal(gl_nft_rule_match_saddr(r, &p6, false), -EAFNOSUPPORT);
	assert_int_equal(gl_nft_rule_drop(r), -EAFNOSUPPORT);
	gl_nft_rule_free(r);
}

/* The comment survives byte for byte, up to the limit. */
static void test_comment_roundtrip(void **state)
{
	char c[GL_NFT_COMMENT_MAX + 2];
	struct gl_nft_rule *r;
	struct gl_err err = { 0 };
	struct nftnl_rule *out;

	memset(c, 'a', sizeof(c));
	c[GL_NFT_COMMENT_MAX] = 0;
	c[0] = 'g';
	c[GL_NFT_COMMENT_MAX - 1] = 'z';
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", c, &r, &err), 0);
	assert_int_equal(gl_nft_rule_counter(r), 0);
	out = roundtrip(r);
	assert_string_equal(comment_of(out), c);
	nftnl_rule_free(out);
	gl_nft_rule_free(r);
	/* One byte more is refused. */
	c[GL_NFT_COMMENT_MAX] = 'x';
	c[GL_NFT_COMMENT_MAX + 1] = 0;
	r = NULL;
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", c, &r, &err), -ENAMETOOLONG);
	assert_null(r);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
}

static void test_del_rule(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct nftnl_rule *out = nftnl_rule_alloc();
	struct walk w;

	assert_int_equal(gl_nft_batch_begin(&b, 77, 0, &err), 0);
	assert_int_equal(gl_nft_batch_del_rule(&b, NFPROTO_INET, "t", "postrouting", 4242, &err), 0);
	assert_true(gl_nft_batch_del_rule(&b, NFPROTO_INET, "t", "postrouting", 0, &err) < 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	walk_batch(&b, &w);
	assert_int_equal(w.n, 3);
	assert_framing(&w, 77);
	assert_int_equal(w.m[1]->nlmsg_type, nft_type(NFT_MSG_DELRULE));
	assert_int_equal(nftnl_rule_nlmsg_parse(w.m[1], out), 0);
	assert_string_equal(nftnl_rule_get_str(out, NFTNL_RULE_CHAIN), "postrouting");
	assert_int_equal(nftnl_rule_get_u64(out, NFTNL_RULE_HANDLE), 4242);
	nftnl_rule_free(out);
	gl_nft_batch_done(&b);
}

/* What a dump hands us: chain, handle, comment. */
static void test_rule_info_parse(void **state)
{
	char buf[GL_NFT_MSG_MAX];
	struct gl_nft_rule_info info;
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(256);
	struct nlmsghdr *nlh;

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "gamelan-router");
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "prerouting");
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, 12);
	assert_true(nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, "gamelan:fwd:a b"));
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), 0);
	assert_string_equal(info.chain, "prerouting");
	assert_int_equal(info.handle, 12);
	assert_string_equal(info.comment, "gamelan:fwd:a b");
	nftnl_udata_buf_free(u);

	/* A comment attribute that is not a string: refused. */
	u = nftnl_udata_buf_alloc(256);
	assert_true(nftnl_udata_put(u, NFTNL_UDATA_RULE_COMMENT, 3, "abc"));
	nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u));
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), -EBADMSG);
	nftnl_udata_buf_free(u);
	nftnl_rule_free(r);

	/* No chain attribute, then garbage. */
	r = nftnl_rule_alloc();
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "t");
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), -EBADMSG);
	nftnl_rule_free(r);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	{
		struct nlattr *a = mnl_nlmsg_get_payload_tail(nlh);

		a->nla_type = NFTA_RULE_CHAIN;
		a->nla_len = 200;  /* past the message */
		nlh->nlmsg_len += 8;
	}
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), -EBADMSG);
}

/* The wire parser reads chain, handle, position and comment straight from
 * the attributes: a rule as libnftnl builds it, with and without handle and
 * comment (a message of our own batch has no handle); every truncation and
 * garbage in the attributes or the user data -> -EBADMSG, never a crash. */
static struct nlmsghdr *rule_msg(char *buf, const char *chain, uint64_t handle,
				 const void *udata, uint32_t ulen, bool exprs)
{
	struct nftnl_rule *r = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	assert_non_null(r);
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, "gamelan-router");
	if (chain)
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
	if (handle)
		nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	if (udata)
		nftnl_rule_set_data(r, NFTNL_RULE_USERDATA, udata, ulen);
	if (exprs) {
		struct nftnl_expr *e = nftnl_expr_alloc("counter");

		assert_non_null(e);
		nftnl_rule_add_expr(r, e);
		e = nftnl_expr_alloc("immediate");
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NF_ACCEPT);
		nftnl_rule_add_expr(r, e);
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_NEWRULE, NFPROTO_INET, 0, 1);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return nlh;
}

static void test_rule_info_wire(void **state)
{
	char buf[GL_NFT_MSG_MAX], copy[GL_NFT_MSG_MAX];
	struct gl_nft_rule_info info;
	struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(256);
	struct nlmsghdr *nlh;
	char longc[GL_NFT_COMMENT_MAX + 1];
	uint32_t full;

	/* Handle, expressions and a comment, as a dump has them. */
	assert_true(nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, "gamelan:fwd:x y"));
	nlh = rule_msg(buf, "postrouting", 0x1122334455ull, nftnl_udata_buf_data(u),
		       nftnl_udata_buf_len(u), true);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), 0);
	assert_string_equal(info.chain, "postrouting");
	assert_true(info.handle == 0x1122334455ull);
	assert_string_equal(info.comment, "gamelan:fwd:x y");
	assert_int_equal(info.position, 0);

	/* No handle (a message of our own batch), no comment, no expressions. */
	nlh = rule_msg(buf, "prerouting", 0, NULL, 0, false);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), 0);
	assert_string_equal(info.chain, "prerouting");
	assert_int_equal(info.handle, 0);
	assert_string_equal(info.comment, "");

	/* Our own batch's rule: what gl_nft_rule_new wrote is read back. */
	{
		struct gl_nft_batch b = { 0 };
		struct gl_nft_rule *r = NULL;
		struct gl_err err = { 0 };
		const struct nlmsghdr *m;

		assert_int_equal(gl_nft_batch_begin(&b, 100, 0, &err), 0);
		assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", "gamelan:z", &r, &err), 0);
		gl_nft_rule_counter(r);
		assert_int_equal(gl_nft_batch_add_rule(&b, r, &err), 0);
		gl_nft_rule_free(r);
		m = (const struct nlmsghdr *)((const char *)gl_nft_batch_data(&b) +
					       NLMSG_ALIGN(((const struct nlmsghdr *)gl_nft_batch_data(&b))->nlmsg_len));
		assert_int_equal(gl_nft_rule_info_parse(m, &info), 0);
		assert_string_equal(info.chain, "c");
		assert_int_equal(info.handle, 0);
		assert_string_equal(info.comment, "gamelan:z");
		gl_nft_batch_done(&b);
	}

	/* Other user data beside the comment; the comment wins, whatever the
	 * order. A foreign comment longer than ours can be: a prefix. */
	nftnl_udata_buf_free(u);
	u = nftnl_udata_buf_alloc(512);
	assert_true(nftnl_udata_put(u, NFTNL_UDATA_RULE_EBTABLES_POLICY, 4, "\1\2\3\4"));
	memset(longc, 'c', sizeof(longc) - 1);
	longc[sizeof(longc) - 1] = 0;
	assert_true(nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, longc));
	nlh = rule_msg(buf, "c", 7, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u), true);
	assert_int_equal(gl_nft_rule_info_parse(nlh, &info), 0);
	assert_string_equal(info.comment, longc);
	nftnl_udata_buf_free(u);

	/* Every truncation of a good message: the header cut -> refused; cut
	 * inside an attribute -> refused; never a read past nlmsg_len (ASan). */
	u = nftnl_udata_buf_alloc(256);
	assert_true(nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, "gamelan:fwd:x y"));
	nlh = rule_msg(buf, "postrouting", 9, nftnl_udata_buf_data(u), nftnl_udata_buf_len(u), true);
	nftnl_udata_buf_free(u);
	full = nlh->nlmsg_len;
	for (uint32_t len = 0; len < full; len++) {
		char *m = malloc(len < sizeof(struct nlmsghdr) ? sizeof(struct nlmsghdr) : len);
		int rc;

		assert_non_null(m);
		memcpy(m, buf, len < sizeof(struct nlmsghdr) ? sizeof(struct nlmsghdr) : len);
		((struct nlmsghdr *)m)->nlmsg_len = len;
		rc = gl_nft_rule_info_parse((struct nlmsghdr *)m, &info);
		assert_true(rc == 0 || rc == -EBADMSG);
		if (len < NLMSG_HDRLEN + sizeof(struct nfgenmsg))
			assert_int_equal(rc, -EBADMSG);
		free(m);
	}

	/* Garbage: each attribute byte in turn flipped to every value. */
	for (uint32_t at = NLMSG_HDRLEN + sizeof(struct nfgenmsg); at < full; at++)
		for (int v = 0; v < 256; v += 17) {
			int rc;

			memcpy(copy, buf, full);
			copy[at] = (char)v;
			rc = gl_nft_rule_info_parse((struct nlmsghdr *)copy, &info);
			assert_true(rc == 0 || rc == -EBADMSG);
		}

	/* Pointed cases: a handle of the wrong size; a chain without its NUL;
	 * a comment TLV running past the user data. */
	{
		struct nlmsghdr *h = mnl_nlmsg_put_header(copy);
		struct nfgenmsg *g = mnl_nlmsg_put_extra_header(h, sizeof(*g));
		uint32_t four = 4;

		(void)g;
		mnl_attr_put_strz(h, NFTA_RULE_CHAIN, "c");
		mnl_attr_put(h, NFTA_RULE_HANDLE, sizeof(four), &four);
		assert_int_equal(gl_nft_rule_info_parse(h, &info), -EBADMSG);

		h = mnl_nlmsg_put_header(copy);
		mnl_nlmsg_put_extra_header(h, sizeof(*g));
		mnl_attr_put(h, NFTA_RULE_CHAIN, 3, "abc");
		assert_int_equal(gl_nft_rule_info_parse(h, &info), -EBADMSG);

		h = mnl_nlmsg_put_header(copy);
		mnl_nlmsg_put_extra_header(h, sizeof(*g));
		mnl_attr_put_strz(h, NFTA_RULE_CHAIN, "c");
		mnl_attr_put(h, NFTA_RULE_USERDATA, 5, "\0\011ab\0");
		assert_int_equal(gl_nft_rule_info_parse(h, &info), -EBADMSG);

		h = mnl_nlmsg_put_header(copy);
		mnl_nlmsg_put_extra_header(h, sizeof(*g));
		mnl_attr_put_strz(h, NFTA_RULE_CHAIN, "c");
		mnl_attr_put(h, NFTA_RULE_USERDATA, 5, "\0\003ab\0");
		assert_int_equal(gl_nft_rule_info_parse(h, &info), 0);
		assert_string_equal(info.comment, "ab");
		/* An empty chain name is no chain. */
		h = mnl_nlmsg_put_header(copy);
		mnl_nlmsg_put_extra_header(h, sizeof(*g));
		mnl_attr_put_strz(h, NFTA_RULE_CHAIN, "");
		assert_int_equal(gl_nft_rule_info_parse(h, &info), -EBADMSG);
	}
}

static void test_bad_input(void **state)
{
	char longname[GL_NFT_NAME_MAX + 2];
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct gl_nft_rule *r = NULL;
	struct gl_prefix p4 = prefix_of("10.0.0.0/8"), p6 = prefix_of("fd00::/8");
	struct gl_ip ip6 = ip_of("fd00::1");

	memset(longname, 'n', sizeof(longname));
	longname[GL_NFT_NAME_MAX + 1] = 0;
	assert_int_equal(gl_nft_batch_begin(&b, 5, 0, &err), 0);
	assert_int_equal(gl_nft_batch_add_table(&b, NFPROTO_INET, longname, &err), -ENAMETOOLONG);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	assert_non_null(strstr(err.msg, "table"));
	memset(&err, 0, sizeof(err));
	assert_true(gl_nft_batch_add_table(&b, NFPROTO_INET, "", &err) < 0);
	assert_true(gl_nft_batch_add_table(&b, NFPROTO_INET, "a b", &err) < 0);
	assert_true(gl_nft_batch_add_table(&b, 99, "t", &err) < 0);
	assert_true(gl_nft_batch_add_chain(&b, NFPROTO_INET, "t", "c", "bogus", 0, 0, &err) < 0);
	assert_true(gl_nft_batch_add_chain(&b, NFPROTO_INET, "t", "c", "nat", 9, 0, &err) < 0);
	assert_true(gl_nft_rule_new(NFPROTO_INET, "t", longname, NULL, &r, &err) < 0);
	assert_null(r);
	/* Refused input left nothing in the batch. */
	assert_int_equal(gl_nft_batch_count(&b), 0);

	/* A rule remembers its first error; adding it fails and says why. */
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_iifname(r, "a-name-too-long-for-ifnamsiz"), -EINVAL);
	assert_int_equal(gl_nft_rule_counter(r), -EINVAL);
	memset(&err, 0, sizeof(err));
	assert_true(gl_nft_batch_add_rule(&b, r, &err) < 0);
	assert_int_equal(err.code, GL_ERR_INVALID_CONFIG);
	gl_nft_rule_free(r);

	/* ipv4 then ipv6 in one rule can never match. */
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_saddr(r, &p4, false), 0);
	assert_int_equal(gl_nft_rule_match_daddr(r, &p6, false), -EAFNOSUPPORT);
	gl_nft_rule_free(r);
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_nfproto(r, AF_INET), 0);
	assert_int_equal(gl_nft_rule_snat(r, &ip6), -EAFNOSUPPORT);
	gl_nft_rule_free(r);
	/* Prefixes of two families in one not-in list. */
	{
		struct gl_prefix mixed[2] = { p4, p6 };

		assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
		assert_int_equal(gl_nft_rule_match_saddr_not_in(r, mixed, 2), -EAFNOSUPPORT);
		gl_nft_rule_free(r);
	}
	/* th dport of a protocol without ports. */
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
	assert_int_equal(gl_nft_rule_match_dport(r, IPPROTO_ICMP, 1), -EPROTONOSUPPORT);
	gl_nft_rule_free(r);
	/* An empty rule is refused. */
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
	memset(&err, 0, sizeof(err));
	assert_true(gl_nft_batch_add_rule(&b, r, &err) < 0);
	gl_nft_rule_free(r);
	/* Expressions are bounded per rule. */
	assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "c", NULL, &r, &err), 0);
	for (int i = 0; i < GL_NFT_RULE_EXPRS_MAX; i++)
		assert_int_equal(gl_nft_rule_counter(r), 0);
	assert_int_equal(gl_nft_rule_counter(r), -E2BIG);
	gl_nft_rule_free(r);

	assert_int_equal(gl_nft_batch_count(&b), 0);
	/* Not ended: not sent. */
	memset(&err, 0, sizeof(err));
	assert_true(gl_nft_send(&b, &err) < 0);
	gl_nft_batch_done(&b);
	/* Operations on a batch that was never begun. */
	memset(&b, 0, sizeof(b));
	assert_true(gl_nft_batch_add_table(&b, NFPROTO_INET, "t", &err) < 0);
	assert_true(gl_nft_batch_end(&b, &err) < 0);
	gl_nft_batch_done(&b);
}

/* A batch of thousands of rules grows its buffer and keeps every message
 * whole, with consecutive seqs. */
static void test_batch_large(void **state)
{
	struct gl_nft_batch b = { 0 };
	struct gl_err err = { 0 };
	struct gl_ip to = ip_of("192.168.1.200");
	struct walk *w = malloc(sizeof(*w));
	const size_t n = 4000;

	assert_non_null(w);
	assert_int_equal(gl_nft_batch_begin(&b, 1u << 20, 0, &err), 0);
	for (size_t i = 0; i < n; i++) {
		struct gl_nft_rule *r;
		char c[64];

		snprintf(c, sizeof(c), "gamelan:fwd:f%zu", i);
		assert_int_equal(gl_nft_rule_new(NFPROTO_INET, "t", "prerouting", c, &r, &err), 0);
		gl_nft_rule_match_iifname(r, "wan0");
		gl_nft_rule_match_dport(r, IPPROTO_UDP, (uint16_t)(1000 + i));
		gl_nft_rule_dnat(r, &to, 10999);
		assert_int_equal(gl_nft_batch_add_rule(&b, r, &err), 0);
		gl_nft_rule_free(r);
	}
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	assert_int_equal(gl_nft_batch_count(&b), n);
	walk_batch(&b, w);
	assert_int_equal(w->n, n + 2);
	assert_framing(w, 1u << 20);
	{
		struct nftnl_rule *out = nftnl_rule_alloc();
		struct gl_nft_rule_info info;

		assert_int_equal(nftnl_rule_nlmsg_parse(w->m[n], out), 0);
		assert_int_equal(gl_nft_rule_info_parse(w->m[n], &info), 0);
		assert_string_equal(info.comment, "gamelan:fwd:f3999");
		nftnl_rule_free(out);
	}
	free(w);
	gl_nft_batch_done(&b);
}

/* ---- against the kernel (a netns of the test's own) ---- */

/* add table T, a nat prerouting chain and one DNAT rule with comment. */
static int send_forward(const char *table, const char *chain_of_rule, uint32_t genid,
			struct gl_err *err)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	_cleanup_nft_rule_ struct gl_nft_rule *r = NULL;
	struct gl_ip to = ip_of("192.168.1.200");
	int e;

	if ((e = gl_nft_batch_begin(&b, 0, genid, err)) < 0 ||
	    (e = gl_nft_batch_add_table(&b, NFPROTO_INET, table, err)) < 0 ||
	    (e = gl_nft_batch_add_chain(&b, NFPROTO_INET, table, "pre", "nat", NF_INET_PRE_ROUTING,
					-100, err)) < 0 ||
	    (e = gl_nft_rule_new(NFPROTO_INET, table, chain_of_rule, "gamelan:test", &r, err)) < 0)
		return e;
	gl_nft_rule_match_iifname(r, "wan0");
	gl_nft_rule_match_dport(r, IPPROTO_UDP, 10999);
	gl_nft_rule_dnat(r, &to, 11000);
	if ((e = gl_nft_batch_add_rule(&b, r, err)) < 0 || (e = gl_nft_batch_end(&b, err)) < 0)
		return e;
	return gl_nft_send(&b, err);
}

static void test_kernel_send_dump(void **state)
{
	struct gl_err err = { 0 };
	struct gl_nft_rule_info *rules = NULL;
	size_t n = 0;
	uint32_t gen0, gen1, gen_dump;

	assert_int_equal(gl_nft_table_exists(NFPROTO_INET, "gltest", &err), 0);
	assert_int_equal(gl_nft_rules_dump(NFPROTO_INET, "gltest", &rules, &n, NULL, &err), -ENOENT);
	assert_int_equal(gl_nft_genid(&gen0, &err), 0);
	assert_int_equal(send_forward("gltest", "pre", 0, &err), 0);
	assert_int_equal(gl_nft_genid(&gen1, &err), 0);
	assert_int_not_equal(gen0, gen1);
	assert_int_equal(gl_nft_table_exists(NFPROTO_INET, "gltest", &err), 1);
	assert_int_equal(gl_nft_rules_dump(NFPROTO_INET, "gltest", &rules, &n, &gen_dump, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(rules[0].chain, "pre");
	assert_string_equal(rules[0].comment, "gamelan:test");
	assert_true(rules[0].handle != 0);
	assert_int_equal(gen_dump, gen1);
	free(rules);
	assert_int_equal(err.code, 0);
}

static void test_kernel_errors(void **state)
{
	struct gl_err err = { 0 };
	uint32_t gen;
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };

	/* One message fails: the batch names it and keeps the kernel's errno;
	 * nothing of the batch is applied. */
	assert_int_equal(send_forward("glfail", "missing", 0, &err), -ENOENT);
	assert_int_equal(err.errnum, -ENOENT);
	assert_int_equal(err.code, GL_ERR_NETLINK);
	print_message("%s\n", err.msg);
	assert_non_null(strstr(err.msg, "add rule inet glfail missing \"gamelan:test\""));
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_nft_table_exists(NFPROTO_INET, "glfail", &err), 0);
	/* A stale generation: the batch as a whole is refused. */
	assert_int_equal(gl_nft_genid(&gen, &err), 0);
	assert_int_equal(send_forward("glstale", "pre", gen + 1, &err), -ERESTART);
	print_message("%s\n", err.msg);
	assert_int_equal(err.errnum, -ERESTART);
	assert_non_null(strstr(err.msg, "the batch as a whole"));
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_nft_table_exists(NFPROTO_INET, "glstale", &err), 0);
	/* Deleting what is not there. */
	assert_int_equal(gl_nft_batch_begin(&b, 0, 0, &err), 0);
	assert_int_equal(gl_nft_batch_del_table(&b, NFPROTO_INET, "nosuch", &err), 0);
	assert_int_equal(gl_nft_batch_end(&b, &err), 0);
	assert_int_equal(gl_nft_send(&b, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "delete table inet nosuch"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_framing),
		cmocka_unit_test(test_batch_genid),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_destroy_table),
		cmocka_unit_test(test_chain),
		cmocka_unit_test(test_rule_dnat),
		cmocka_unit_test(test_rule_not_in_snat),
		cmocka_unit_test(test_rule_ipv6_drop),
		cmocka_unit_test(test_rule_ip_family),
		cmocka_unit_test(test_comment_roundtrip),
		cmocka_unit_test(test_del_rule),
		cmocka_unit_test(test_rule_info_parse),
		cmocka_unit_test(test_rule_info_wire),
		cmocka_unit_test(test_bad_input),
		cmocka_unit_test(test_batch_large),
	};
	const struct CMUnitTest kernel[] = {
		cmocka_unit_test(test_kernel_send_dump),
		cmocka_unit_test(test_kernel_errors),
	};
	int failed = cmocka_run_group_tests_name("built", tests, NULL, NULL);

	return failed + cmocka_run_group_tests_name("kernel", kernel, unit_own_netns, NULL);
}
