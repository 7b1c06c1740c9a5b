/* nftables messages (composed with libnftnl, framed here: pure), sent over
 * the netlink transport (nlsock.c): a batch and every ack back, dumps. */
#include "net/nft.h"
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/util.h"
#include "net/nlsock.h"

/* The largest batch we agree to build (2000 forwards are about 1.5 MB). */
#define NFT_BATCH_MAX (64u << 20)

struct gl_nft_rule {
	struct nftnl_rule *r;
	int family;
	int nfproto;       /* AF of the `meta nfproto` already matched, 0 none */
	int nexprs;
	int error;         /* first composition error, sticky */
	char what[160];    /* "rule inet t c \"comment\"" */
};

/* ---- names ---- */

static int check_name(const char *kind, const char *name, struct gl_err *err)
{
	size_t n;

	if (!name || !name[0])
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: empty %s name", kind);
	n = strnlen(name, GL_NFT_NAME_MAX + 1);
	if (n > GL_NFT_NAME_MAX) {
		gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: %s name longer than %d characters",
			   kind, GL_NFT_NAME_MAX);
		return -ENAMETOOLONG;
	}
	/* Printable, no spaces: the names also appear in our messages. */
	for (size_t i = 0; i < n; i++)
		if (name[i] <= ' ' || name[i] > '~')
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "nft: %s name has a character outside printable ASCII", kind);
	return 0;
}

static int check_family(int family, struct gl_err *err)
{
	switch (family) {
	case NFPROTO_INET:
	case NFPROTO_IPV4:
	case NFPROTO_IPV6:
	case NFPROTO_ARP:
	case NFPROTO_BRIDGE:
	case NFPROTO_NETDEV:
		return 0;
	default:
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: unknown family %d", family);
	}
}

static const char *family_str(int family)
{
	switch (family) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_NETDEV: return "netdev";
	default: return "?";
	}
}

/* ---- rules ---- */

int gl_nft_rule_new(int family, const char *table, const char *chain, const char *comment,
		    struct gl_nft_rule **ret, struct gl_err *err)
{
	struct gl_nft_rule *r;
	int e;

	if ((e = check_family(family, err)) < 0 || (e = check_name("table", table, err)) < 0 ||
	    (e = check_name("chain", chain, err)) < 0)
		return e;
	if (comment && strnlen(comment, GL_NFT_COMMENT_MAX + 1) > GL_NFT_COMMENT_MAX) {
		gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: rule comment longer than %d bytes",
			   GL_NFT_COMMENT_MAX);
		return -ENAMETOOLONG;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->r = nftnl_rule_alloc();
	if (!r->r) {
		free(r);
		return -ENOMEM;
	}
	r->family = family;
	snprintf(r->what, sizeof(r->what), "rule %s %.32s %.32s%s%.64s%s", family_str(family), table,
		 chain, comment && comment[0] ? " \"" : "", comment ? comment : "",
		 comment && comment[0] ? "\"" : "");
	nftnl_rule_set_u32(r->r, NFTNL_RULE_FAMILY, (uint32_t)family);
	if (nftnl_rule_set_str(r->r, NFTNL_RULE_TABLE, table) < 0 ||
	    nftnl_rule_set_str(r->r, NFTNL_RULE_CHAIN, chain) < 0)
		goto oom;
	if (comment && comment[0]) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
		int ok;

		if (!u)
			goto oom;
		ok = nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, comment) &&
		     nftnl_rule_set_data(r->r, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
					 nftnl_udata_buf_len(u)) == 0;
		nftnl_udata_buf_free(u);
		if (!ok)
			goto oom;
	}
	*ret = r;
	return 0;
oom:
	gl_nft_rule_free(r);
	return -ENOMEM;
}

void gl_nft_rule_free(struct gl_nft_rule *r)
{
	if (!r)
		return;
	nftnl_rule_free(r->r);
	free(r);
}

struct nftnl_rule *gl_nft_rule_nftnl(struct gl_nft_rule *r)
{
	return r->r;
}

/* Remember the first error of a rule and return it. */
static int rule_fail(struct gl_nft_rule *r, int e)
{
	if (!r->error)
		r->error = e;
	return e;
}

/* A new expression of kind name, or NULL (and the rule marked failed). */
static struct nftnl_expr *expr_new(struct gl_nft_rule *r, const char *name)
{
	struct nftnl_expr *e;

	if (r->error)
		return NULL;
	if (r->nexprs >= GL_NFT_RULE_EXPRS_MAX) {
		rule_fail(r, -E2BIG);
		return NULL;
	}
	e = nftnl_expr_alloc(name);
	if (!e)
		rule_fail(r, -ENOMEM);
	return e;
}

/* The rule takes ownership of e. */
static int expr_add(struct gl_nft_rule *r, struct nftnl_expr *e)
{
	nftnl_rule_add_expr(r->r, e);
	r->nexprs++;
	return 0;
}

static int add_meta_load(struct gl_nft_rule *r, uint32_t key)
{
	struct nftnl_expr *e = expr_new(r, "meta");

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	return expr_add(r, e);
}

static int add_payload_load(struct gl_nft_rule *r, uint32_t base, uint32_t off, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "payload");

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	return expr_add(r, e);
}

static int add_cmp(struct gl_nft_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "cmp");

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set_data(e, NFTNL_EXPR_CMP_DATA, data, len);
	return expr_add(r, e);
}

/* reg1 = reg1 & mask (xor 0), as nft writes a prefix or flag test. */
static int add_bitwise_and(struct gl_nft_rule *r, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = expr_new(r, "bitwise");

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
	nftnl_expr_set_data(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	return expr_add(r, e);
}

static int match_ifname(struct gl_nft_rule *r, uint32_t key, const char *ifname)
{
	char name[IFNAMSIZ] = { 0 };
	int e;

	if (r->error)
		return r->error;
	if (!ifname || !ifname[0] || strnlen(ifname, IFNAMSIZ) >= IFNAMSIZ)
		return rule_fail(r, -EINVAL);
	memcpy(name, ifname, strlen(ifname));
	if ((e = add_meta_load(r, key)) < 0)
		return e;
	return add_cmp(r, NFT_CMP_EQ, name, IFNAMSIZ);
}

int gl_nft_rule_match_iifname(struct gl_nft_rule *r, const char *ifname)
{
	return match_ifname(r, NFT_META_IIFNAME, ifname);
}

int gl_nft_rule_match_oifname(struct gl_nft_rule *r, const char *ifname)
{
	return match_ifname(r, NFT_META_OIFNAME, ifname);
}

int gl_nft_rule_match_nfproto(struct gl_nft_rule *r, int af)
{
	uint8_t proto;
	int e;

	if (r->error)
		return r->error;
	if (af == AF_INET)
		proto = NFPROTO_IPV4;
	else if (af == AF_INET6)
		proto = NFPROTO_IPV6;
	else
		return rule_fail(r, -EAFNOSUPPORT);
	if ((e = add_meta_load(r, NFT_META_NFPROTO)) < 0)
		return e;
	if ((e = add_cmp(r, NFT_CMP_EQ, &proto, 1)) < 0)
		return e;
	r->nfproto = af;
	return 0;
}

/* In an inet (or bridge/netdev) table a network-header match needs the
 * family first, as nft adds it; an ip/ip6 table must match its own family. */
static int need_family(struct gl_nft_rule *r, int af)
{
	if (r->error)
		return r->error;
	if (af != AF_INET && af != AF_INET6)
		return rule_fail(r, -EAFNOSUPPORT);
	if (r->family == NFPROTO_IPV4 || r->family == NFPROTO_IPV6) {
		int want = r->family == NFPROTO_IPV4 ? AF_INET : AF_INET6;

		return af == want ? 0 : rule_fail(r, -EAFNOSUPPORT);
	}
	if (r->nfproto == af)
		return 0;
	if (r->nfproto)
		return rule_fail(r, -EAFNOSUPPORT); /* ipv4 and ipv6 in one rule never match */
	return gl_nft_rule_match_nfproto(r, af);
}

static int match_addr(struct gl_nft_rule *r, bool src, const struct gl_prefix *p, bool negate)
{
	uint32_t size, off;
	struct gl_prefix m;
	int e;

	if (r->error)
		return r->error;
	if (!p)
		return rule_fail(r, -EINVAL);
	if ((e = need_family(r, p->ip.family)) < 0)
		return e;
	size = (uint32_t)gl_ip_size(&p->ip);
	if (p->len > size * 8)
		return rule_fail(r, -EINVAL);
	if (p->ip.family == AF_INET)
		off = src ? 12 : 16;  /* struct iphdr saddr, daddr */
	else
		off = src ? 8 : 24;   /* struct ipv6hdr saddr, daddr */
	m = gl_prefix_masked(p);
	if (p->len == 0) {
		/* Every address is in ::/0: a negated match can never be true. */
		if (!negate)
			return 0;
	}
	if ((e = add_payload_load(r, NFT_PAYLOAD_NETWORK_HEADER, off, size)) < 0)
		return e;
	if (p->len < size * 8) {
		uint8_t mask[16] = { 0 };

		for (unsigned i = 0; i < p->len; i++)
			mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
		if ((e = add_bitwise_and(r, mask, size)) < 0)
			return e;
	}
	return add_cmp(r, negate ? NFT_CMP_NEQ : NFT_CMP_EQ, m.ip.addr, size);
}

int gl_nft_rule_match_saddr(struct gl_nft_rule *r, const struct gl_prefix *p, bool negate)
{
	return match_addr(r, true, p, negate);
}

int gl_nft_rule_match_daddr(struct gl_nft_rule *r, const struct gl_prefix *p, bool negate)
{
	return match_addr(r, false, p, negate);
}

int gl_nft_rule_match_saddr_not_in(struct gl_nft_rule *r, const struct gl_prefix *p, size_t n)
{
	int e;

	if (r->error)
		return r->error;
	if (n > 0 && !p)
		return rule_fail(r, -EINVAL);
	for (size_t i = 0; i < n; i++) {
		if (p[i].ip.family != p[0].ip.family)
			return rule_fail(r, -EAFNOSUPPORT);
		if ((e = match_addr(r, true, &p[i], true)) < 0)
			return e;
	}
	return 0;
}

int gl_nft_rule_match_l4proto(struct gl_nft_rule *r, uint8_t proto)
{
	int e;

	if ((e = add_meta_load(r, NFT_META_L4PROTO)) < 0)
		return e;
	return add_cmp(r, NFT_CMP_EQ, &proto, 1);
}

int gl_nft_rule_match_dport(struct gl_nft_rule *r, uint8_t proto, uint16_t port)
{
	uint16_t be = htons(port);
	int e;

	if (r->error)
		return r->error;
	/* th dport is only meaningful where the transport has ports at
	 * offset 2: udp, tcp, udplite, sctp, dccp. */
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP && proto != IPPROTO_UDPLITE &&
	    proto != IPPROTO_SCTP && proto != IPPROTO_DCCP)
		return rule_fail(r, -EPROTONOSUPPORT);
	if ((e = gl_nft_rule_match_l4proto(r, proto)) < 0)
		return e;
	if ((e = add_payload_load(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) < 0)
		return e;
	return add_cmp(r, NFT_CMP_EQ, &be, 2);
}

int gl_nft_rule_match_ct_dnat(struct gl_nft_rule *r)
{
	/* ct status is a host-order u32 in the register. */
	uint32_t mask = IPS_DST_NAT, zero = 0;
	struct nftnl_expr *e = expr_new(r, "ct");
	int rc;

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATUS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	expr_add(r, e);
	if ((rc = add_bitwise_and(r, &mask, 4)) < 0)
		return rc;
	return add_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

int gl_nft_rule_counter(struct gl_nft_rule *r)
{
	struct nftnl_expr *e = expr_new(r, "counter");

	if (!e)
		return r->error;
	return expr_add(r, e);
}

static int add_immediate_data(struct gl_nft_rule *r, uint32_t reg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = expr_new(r, "immediate");

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, reg);
	nftnl_expr_set_data(e, NFTNL_EXPR_IMM_DATA, data, len);
	return expr_add(r, e);
}

static int add_nat(struct gl_nft_rule *r, uint32_t type, const struct gl_ip *to, uint16_t port)
{
	struct nftnl_expr *e;
	int rc;

	if (r->error)
		return r->error;
	if (!to)
		return rule_fail(r, -EINVAL);
	if ((rc = need_family(r, to->family)) < 0)
		return rc;
	if ((rc = add_immediate_data(r, NFT_REG_1, to->addr, (uint32_t)gl_ip_size(to))) < 0)
		return rc;
	if (port) {
		uint16_t be = htons(port);

		if ((rc = add_immediate_data(r, NFT_REG_2, &be, 2)) < 0)
			return rc;
	}
	e = expr_new(r, "nat");
	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_TYPE, type);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FAMILY,
			   to->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6);
	nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, NFT_REG_1);
	if (port)
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, NFT_REG_2);
	return expr_add(r, e);
}

int gl_nft_rule_snat(struct gl_nft_rule *r, const struct gl_ip *to)
{
	return add_nat(r, NFT_NAT_SNAT, to, 0);
}

int gl_nft_rule_dnat(struct gl_nft_rule *r, const struct gl_ip *to, uint16_t port)
{
	return add_nat(r, NFT_NAT_DNAT, to, port);
}

static int add_verdict(struct gl_nft_rule *r, int verdict)
{
	struct nftnl_expr *e = expr_new(r, "immediate");

	if (!e)
		return r->error;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	return expr_add(r, e);
}

int gl_nft_rule_drop(struct gl_nft_rule *r)
{
	return add_verdict(r, NF_DROP);
}

int gl_nft_rule_accept(struct gl_nft_rule *r)
{
	return add_verdict(r, NF_ACCEPT);
}

/* ---- batches ---- */

/* Make room for one more message of at most GL_NFT_MSG_MAX bytes: libnftnl's
 * builders write without bounds, so the room must be there before. */
static int batch_reserve(struct gl_nft_batch *b, struct gl_err *err)
{
	size_t need = b->len + GL_NFT_MSG_MAX, size;
	char *p;

	if (need <= b->size)
		return 0;
	if (need > NFT_BATCH_MAX)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: batch larger than %u bytes",
				  NFT_BATCH_MAX);
	size = b->size ? b->size : 65536;
	while (size < need)
		size *= 2;
	p = realloc(b->buf, size);
	if (!p)
		return -ENOMEM;
	memset(p + b->size, 0, size - b->size);
	b->buf = p;
	b->size = size;
	return 0;
}

static int batch_fail(struct gl_nft_batch *b, int e)
{
	if (!b->error)
		b->error = e;
	return e;
}

/* Common start of every message between begin and end: room, the seq and
 * what the message is (for errors). Returns where to build, or NULL. */
static char *batch_next(struct gl_nft_batch *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static char *batch_next(struct gl_nft_batch *b, const char *fmt, ...)
{
	struct gl_nft_batch_msg *m;
	va_list ap;

	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct gl_nft_batch_msg *p = realloc(b->msgs, cap * sizeof(*p));

		if (!p)
			return NULL;
		b->msgs = p;
		b->cap = cap;
	}
	m = &b->msgs[b->n];
	m->seq = b->seq;
	va_start(ap, fmt);
	vsnprintf(m->what, sizeof(m->what), fmt, ap);
	va_end(ap);
	return b->buf + b->len;
}

/* Account for the message just built at the end of the buffer. */
static int batch_commit(struct gl_nft_batch *b, struct nlmsghdr *nlh, struct gl_err *err)
{
	if (nlh->nlmsg_len > GL_NFT_MSG_MAX) /* cannot happen with our bounds */
		return batch_fail(b, gl_err_set(err, GL_ERR_INTERNAL, "nft: message too large"));
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->n++;
	b->seq++;
	return 0;
}

/* The checks every add/del shares. */
static int batch_check(struct gl_nft_batch *b, int family, struct gl_err *err)
{
	int e;

	if (!b->buf || b->ended)
		return gl_err_set(err, GL_ERR_INTERNAL, "nft: batch not begun or already ended");
	if (b->error)
		return b->error;
	if ((e = check_family(family, err)) < 0)
		return e;
	return batch_reserve(b, err);
}

int gl_nft_batch_begin(struct gl_nft_batch *b, uint32_t seq0, uint32_t genid, struct gl_err *err)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	int e;

	memset(b, 0, sizeof(*b));
	if ((e = batch_reserve(b, err)) < 0)
		return e;
	if (!seq0)
		seq0 = (uint32_t)time(NULL);
	/* Keep every seq of this batch clear of 0 after wrapping. */
	if (seq0 > UINT32_MAX - 3u * 1000000u)
		seq0 = 1;
	b->seq0 = seq0;
	b->seq = seq0 + 1;
	b->genid = genid;
	nlh = mnl_nlmsg_put_header(b->buf);
	nlh->nlmsg_type = NFNL_MSG_BATCH_BEGIN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq0;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	/* The kernel refuses the batch (-ERESTART) if the ruleset moved on
	 * since the generation our decisions were made from. */
	if (genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(genid));
	b->len = NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
}

int gl_nft_batch_end(struct gl_nft_batch *b, struct gl_err *err)
{
	struct nlmsghdr *nlh;
	int e;

	if (!b->buf || b->ended)
		return gl_err_set(err, GL_ERR_INTERNAL, "nft: batch not begun or already ended");
	if (b->error)
		return b->error;
	if ((e = batch_reserve(b, err)) < 0)
		return e;
	nlh = nftnl_batch_end(b->buf + b->len, b->seq);
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
	b->ended = true;
	return 0;
}

void gl_nft_batch_done(struct gl_nft_batch *b)
{
	free(b->buf);
	free(b->msgs);
	memset(b, 0, sizeof(*b));
}

const void *gl_nft_batch_data(const struct gl_nft_batch *b)
{
	return b->buf;
}

size_t gl_nft_batch_len(const struct gl_nft_batch *b)
{
	return b->len;
}

static int batch_table(struct gl_nft_batch *b, uint16_t type, uint16_t flags, int family,
		       const char *table, struct gl_err *err)
{
	struct nftnl_table *t;
	struct nlmsghdr *nlh;
	char *at;
	int e;

	if ((e = batch_check(b, family, err)) < 0 || (e = check_name("table", table, err)) < 0)
		return e;
	at = batch_next(b, "%s table %s %s", type == NFT_MSG_NEWTABLE ? "add" : "delete",
			family_str(family), table);
	t = nftnl_table_alloc();
	if (!at || !t) {
		nftnl_table_free(t);
		return batch_fail(b, -ENOMEM);
	}
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, (uint32_t)family);
	if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, table) < 0) {
		nftnl_table_free(t);
		return batch_fail(b, -ENOMEM);
	}
	nlh = nftnl_nlmsg_build_hdr(at, type, (uint16_t)family, flags | NLM_F_ACK, b->seq);
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	return batch_commit(b, nlh, err);
}

int gl_nft_batch_add_table(struct gl_nft_batch *b, int family, const char *table,
			   struct gl_err *err)
{
	return batch_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, family, table, err);
}

int gl_nft_batch_del_table(struct gl_nft_batch *b, int family, const char *table,
			   struct gl_err *err)
{
	return batch_table(b, NFT_MSG_DELTABLE, 0, family, table, err);
}

int gl_nft_batch_destroy_table(struct gl_nft_batch *b, int family, const char *table,
			       struct gl_err *err)
{
	int e;

	/* Kernels before 6.3 have no NFT_MSG_DESTROYTABLE: creating the table
	 * first makes the delete succeed whether it existed or not, and both
	 * happen in one transaction, so nobody sees the empty table. */
	if ((e = gl_nft_batch_add_table(b, family, table, err)) < 0)
		return e;
	return gl_nft_batch_del_table(b, family, table, err);
}

int gl_nft_batch_add_chain(struct gl_nft_batch *b, int family, const char *table,
			   const char *chain, const char *type, int hook, int prio,
			   struct gl_err *err)
{
	struct nftnl_chain *c;
	struct nlmsghdr *nlh;
	char *at;
	int e;

	if ((e = batch_check(b, family, err)) < 0 || (e = check_name("table", table, err)) < 0 ||
	    (e = check_name("chain", chain, err)) < 0)
		return e;
	if (!type || (strcmp(type, "nat") && strcmp(type, "filter") && strcmp(type, "route")))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: chain type must be nat, filter or route");
	if (hook < 0 || hook >= NF_INET_NUMHOOKS)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: bad hook %d", hook);
	at = batch_next(b, "add chain %s %.32s %.32s", family_str(family), table, chain);
	c = nftnl_chain_alloc();
	if (!at || !c) {
		nftnl_chain_free(c);
		return batch_fail(b, -ENOMEM);
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, (uint32_t)family);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, chain) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type) < 0) {
		nftnl_chain_free(c);
		return batch_fail(b, -ENOMEM);
	}
	nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWCHAIN, (uint16_t)family,
				    NLM_F_CREATE | NLM_F_ACK, b->seq);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	nftnl_chain_free(c);
	return batch_commit(b, nlh, err);
}

int gl_nft_batch_add_rule(struct gl_nft_batch *b, const struct gl_nft_rule *r,
			  struct gl_err *err)
{
	struct nlmsghdr *nlh;
	char *at;
	int e;

	if (!r)
		return gl_err_set(err, GL_ERR_INTERNAL, "nft: no rule");
	if (r->error)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: %s: %s", r->what,
				  strerror(-r->error));
	if ((e = batch_check(b, r->family, err)) < 0)
		return e;
	if (r->nexprs == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: %s has no expression", r->what);
	at = batch_next(b, "add %s", r->what);
	if (!at)
		return batch_fail(b, -ENOMEM);
	nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_NEWRULE, (uint16_t)r->family,
				    NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, b->seq);
	nftnl_rule_nlmsg_build_payload(nlh, r->r);
	return batch_commit(b, nlh, err);
}

int gl_nft_batch_del_rule(struct gl_nft_batch *b, int family, const char *table,
			  const char *chain, uint64_t handle, struct gl_err *err)
{
	struct nftnl_rule *r;
	struct nlmsghdr *nlh;
	char *at;
	int e;

	if ((e = batch_check(b, family, err)) < 0 || (e = check_name("table", table, err)) < 0 ||
	    (e = check_name("chain", chain, err)) < 0)
		return e;
	if (handle == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "nft: rule handle 0");
	at = batch_next(b, "delete rule %s %.32s %.32s handle %llu", family_str(family), table,
			chain, (unsigned long long)handle);
	r = nftnl_rule_alloc();
	if (!at || !r) {
		nftnl_rule_free(r);
		return batch_fail(b, -ENOMEM);
	}
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
	nftnl_rule_set_u64(r, NFTNL_RULE_HANDLE, handle);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table) < 0 ||
	    nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0) {
		nftnl_rule_free(r);
		return batch_fail(b, -ENOMEM);
	}
	nlh = nftnl_nlmsg_build_hdr(at, NFT_MSG_DELRULE, (uint16_t)family, NLM_F_ACK, b->seq);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	nftnl_rule_free(r);
	return batch_commit(b, nlh, err);
}

/* ---- parsing ---- */

/* A dump of 2000 rules is parsed on every list/apply/remove: read only the
 * top-level attributes we keep, straight from the wire (no libnftnl object,
 * no expression allocated). The bytes come from the kernel but are treated
 * as hostile all the same: every length is checked. */
struct rule_attrs {
	const struct nlattr *chain, *handle, *position, *userdata;
	const char *msg_end;         /* nlh + nlmsg_len */
	const char *end;             /* where the last attribute walked ends */
	bool bad;
};

static int rule_attr_cb(const struct nlattr *a, void *data)
{
	struct rule_attrs *ra = data;
	const struct nlattr **slot = NULL;
	enum mnl_attr_data_type type = MNL_TYPE_UNSPEC;

	/* libmnl bounds attributes by the *aligned* message length: an odd
	 * nlmsg_len would let the last one reach up to 3 bytes past it. */
	if ((size_t)(ra->msg_end - (const char *)a) < a->nla_len) {
		ra->bad = true;
		return MNL_CB_ERROR;
	}
	ra->end = (const char *)a + NLA_ALIGN(a->nla_len);
	switch (mnl_attr_get_type(a)) {
	case NFTA_RULE_CHAIN:
		slot = &ra->chain;
		type = MNL_TYPE_NUL_STRING;
		break;
	case NFTA_RULE_HANDLE:
		slot = &ra->handle;
		type = MNL_TYPE_U64;
		break;
	case NFTA_RULE_POSITION:
		slot = &ra->position;
		type = MNL_TYPE_U64;
		break;
	case NFTA_RULE_USERDATA:
		slot = &ra->userdata;
		type = MNL_TYPE_BINARY;
		break;
	default:
		return MNL_CB_OK;   /* table, expressions, ...: not ours to read */
	}
	if (mnl_attr_validate(a, type) < 0) {
		ra->bad = true;
		return MNL_CB_ERROR;
	}
	*slot = a;
	return MNL_CB_OK;
}

/* The comment in a rule's user data: a list of TLVs (type u8, length u8,
 * value), as libnftnl writes it. NULL (no comment) or the comment; -1 when
 * the TLVs are malformed or the comment is not a string filling its TLV. */
static int udata_comment(const uint8_t *u, size_t len, const char **ret)
{
	const char *comment = NULL;
	size_t pos = 0;

	while (pos < len) {
		uint8_t type, l;

		if (len - pos < 2)
			return -1;
		type = u[pos];
		l = u[pos + 1];
		if (len - pos - 2 < l)
			return -1;
		if (type == NFTNL_UDATA_RULE_COMMENT) {
			const char *v = (const char *)u + pos + 2;

			if (l == 0 || v[l - 1] != '\0' || strlen(v) + 1 != l)
				return -1;
			comment = v;  /* the last one wins, as libnftnl reads it */
		}
		pos += 2u + l;
	}
	*ret = comment;
	return 0;
}

int gl_nft_rule_info_parse(const struct nlmsghdr *nlh, struct gl_nft_rule_info *ret)
{
	struct gl_nft_rule_info info = { 0 };
	struct rule_attrs ra = { 0 };
	const char *tail, *chain, *comment = NULL;
	size_t clen;

	if (!nlh || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nfgenmsg)))
		return -EBADMSG;
	ra.msg_end = (const char *)nlh + nlh->nlmsg_len;
	ra.end = (const char *)mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), rule_attr_cb, &ra) < 0 || ra.bad)
		return -EBADMSG;
	/* mnl_attr_parse stops quietly at an attribute that does not fit:
	 * whatever is left after the last good one means a broken message. */
	tail = ra.msg_end;
	if (ra.end < tail && (size_t)(tail - ra.end) >= NLA_ALIGNTO)
		return -EBADMSG;
	if (!ra.chain)
		return -EBADMSG;
	chain = mnl_attr_get_str(ra.chain);
	clen = strlen(chain);
	if (clen == 0 || clen > GL_NFT_NAME_MAX)
		return -EBADMSG;
	memcpy(info.chain, chain, clen + 1);
	if (ra.handle)
		info.handle = be64toh(mnl_attr_get_u64(ra.handle));
	if (ra.position)
		info.position = (uint32_t)be64toh(mnl_attr_get_u64(ra.position));
	if (ra.userdata &&
	    udata_comment(mnl_attr_get_payload(ra.userdata), mnl_attr_get_payload_len(ra.userdata),
			  &comment) < 0)
		return -EBADMSG;
	/* A foreign rule's comment may be longer than ours can be: keep a
	 * prefix, it is only compared against ours. */
	if (comment)
		snprintf(info.comment, sizeof(info.comment), "%s", comment);
	*ret = info;
	return 0;
}

/* ---- the kernel ---- */

static int sock_open(struct gl_nlsock **ret, struct gl_err *err)
{
	int e = gl_nlsock_open(NETLINK_NETFILTER, ret);

	if (e < 0)
		return gl_err_from(err, e, GL_ERR_NETLINK, "nft: netlink socket: %s", strerror(-e));
	return 0;
}

static const struct gl_nft_batch_msg *msg_of(const struct gl_nft_batch *b, uint32_t seq)
{
	if (seq <= b->seq0 || seq - b->seq0 - 1 >= b->n)
		return NULL;
	return &b->msgs[seq - b->seq0 - 1];
}

/* The acks of one batch: how many came, and the first failure. */
struct send_q {
	const struct gl_nft_batch *b;
	size_t acked;
	bool whole_failed;
	int first;
	char first_what[192];
	char first_msg[GL_NLSOCK_MSG_MAX];
};

static void send_fail(struct send_q *q, int e, const char *what, const char *msg)
{
	q->first = e;
	snprintf(q->first_what, sizeof(q->first_what), "%s", what);
	snprintf(q->first_msg, sizeof(q->first_msg), "%s", msg);
}

static int send_ack(const struct gl_nlsock_ack *a, void *data)
{
	struct send_q *q = data;
	const struct gl_nft_batch_msg *m;

	if (a->done)
		return 0;  /* nothing else is expected: no dump asked */
	if (a->seq == q->b->seq0) {
		/* The batch as a whole failed (commit, or no room for the
		 * errors): nothing was applied. */
		q->whole_failed = true;
		if (a->error < 0 && (!q->first || q->first == -ENOBUFS))
			send_fail(q, a->error, "the batch as a whole", a->msg);
		return 0;
	}
	m = msg_of(q->b, a->seq);
	if (!m)
		return 0;  /* not ours: END's, or a foreign seq */
	q->acked++;
	if (a->error < 0 && !q->first)
		send_fail(q, a->error, m->what, a->msg);
	return 0;
}

int gl_nft_send(const struct gl_nft_batch *b, struct gl_err *err)
{
	struct gl_nlsock *s;
	struct send_q q = { .b = b };
	struct gl_nlsock_rx rx = { .on_ack = send_ack, .data = &q };
	int e;

	if (!b->buf || !b->ended)
		return gl_err_set(err, GL_ERR_INTERNAL, "nft: send of a batch that was not ended");
	if (b->error)
		return b->error;
	if (b->n == 0)
		return 0;
	if ((e = sock_open(&s, err)) < 0)
		return e;
	/* Every message is acked; the acks come after the whole batch has
	 * been processed and must all fit in the receive buffer. */
	gl_nlsock_set_bufs(s, b->len + 4096, b->n * 1024 + 262144);
	if ((e = gl_nlsock_send(s, b->buf, b->len)) < 0) {
		gl_nlsock_close(s);
		return gl_err_from(err, e, GL_ERR_NETLINK, "nft: sending the batch (%zu bytes): %s",
				   b->len, strerror(-e));
	}
	rx.seq_lo = b->seq0;
	rx.seq_hi = b->seq0 + (uint32_t)b->n + 1;
	while (q.acked < b->n) {
		char what[96];

		/* After a whole-batch error no more acks may come: drain. */
		e = gl_nlsock_recv(s, &rx, !q.whole_failed);
		if (e >= 0)
			continue;
		if (e == -EAGAIN && q.whole_failed)
			break;
		if (!q.first) {
			snprintf(what, sizeof(what), "reading the kernel's acks (%zu of %zu)", q.acked, b->n);
			send_fail(&q, e, what, "");
		}
		break;
	}
	/* The last close of a socket that committed waits for the kernel's
	 * transaction cleanup: every ack is in, so a detached child may pay
	 * that instead of our caller. */
	gl_nlsock_close_detached(s);
	if (q.first)
		return gl_err_from(err, q.first, GL_ERR_NETLINK, "nft: %s: %s%s%s", q.first_what,
				   strerror(-q.first), q.first_msg[0] ? ": " : "", q.first_msg);
	return 0;
}

/* Send one request and read answers until its ack/done; cb sees each data
 * message; intr (may be NULL) learns whether the kernel flagged the dump as
 * interrupted. A kernel -ENOENT is returned without filling err (callers
 * ask whether something exists). */
static int talk(struct gl_nlsock *s, struct nlmsghdr *nlh, gl_nlsock_data_cb cb, void *data,
		bool *intr, struct gl_err *err)
{
	struct gl_nlsock_ack a;
	int e = gl_nlsock_talk(s, nlh, cb, data, &a);

	if (intr && (a.flags & NLM_F_DUMP_INTR))
		*intr = true;
	if (e >= 0 || e == -ENOENT)
		return e;
	return gl_err_from(err, e, GL_ERR_NETLINK, "nft: %s%s%s", strerror(-e), a.msg[0] ? ": " : "",
			   a.msg);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *g;
	uint32_t *ret = data;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
		return 0;
	g = nftnl_gen_alloc();
	if (!g)
		return -ENOMEM;
	if (nftnl_gen_nlmsg_parse(nlh, g) < 0) {
		nftnl_gen_free(g);
		return -EBADMSG;
	}
	*ret = nftnl_gen_get_u32(g, NFTNL_GEN_ID);
	nftnl_gen_free(g);
	return 0;
}

static int sock_genid(struct gl_nlsock *s, uint32_t *ret, struct gl_err *err)
{
	char buf[256];
	struct nlmsghdr *nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK,
						     gl_nlsock_seq(s));
	uint32_t id = 0;
	int e = talk(s, nlh, gen_cb, &id, NULL, err);

	if (e < 0)
		return e;
	*ret = id;
	return 0;
}

int gl_nft_genid(uint32_t *ret, struct gl_err *err)
{
	struct gl_nlsock *s;
	int e;

	if ((e = sock_open(&s, err)) < 0)
		return e;
	e = sock_genid(s, ret, err);
	gl_nlsock_close(s);
	return e;
}

static int sock_table_exists(struct gl_nlsock *s, int family, const char *table,
			     struct gl_err *err)
{
	char buf[1024];
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int e;

	if (!t)
		return -ENOMEM;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, (uint32_t)family);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, table);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETTABLE, (uint16_t)family, NLM_F_ACK,
				    gl_nlsock_seq(s));
	nftnl_table_nlmsg_build_payload(nlh, t);
	nftnl_table_free(t);
	e = talk(s, nlh, NULL, NULL, NULL, err);
	if (e == -ENOENT)
		return 0;
	return e < 0 ? e : 1;
}

int gl_nft_table_exists(int family, const char *table, struct gl_err *err)
{
	struct gl_nlsock *s;
	int e;

	if ((e = check_family(family, err)) < 0 || (e = check_name("table", table, err)) < 0)
		return e;
	if ((e = sock_open(&s, err)) < 0)
		return e;
	e = sock_table_exists(s, family, table, err);
	gl_nlsock_close(s);
	return e;
}

struct dump_q {
	struct gl_nft_rule_info *v;
	size_t n, cap;
	struct gl_err *err;        /* names a malformed rule */
	const char *table;
};

/* Rules in a dump are bounded by what fits in memory; 1M is far beyond any
 * set we manage and stops a runaway. */
#define NFT_DUMP_MAX 1000000

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_q *q = data;
	int e;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE)
		return 0;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		struct gl_nft_rule_info *p;

		if (cap > NFT_DUMP_MAX)
			return -E2BIG;
		p = realloc(q->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		q->v = p;
		q->cap = cap;
	}
	if ((e = gl_nft_rule_info_parse(nlh, &q->v[q->n])) < 0)
		return gl_err_from(q->err, e, GL_ERR_NETLINK, "nft: malformed rule in the dump of %s",
				   q->table);
	q->n++;
	return 0;
}

int gl_nft_rules_dump(int family, const char *table, struct gl_nft_rule_info **ret,
		      size_t *ret_n, uint32_t *ret_genid, struct gl_err *err)
{
	struct gl_nlsock *s;
	struct dump_q q = { .err = err, .table = table };
	uint32_t gen0 = 0, gen1 = 0;
	int e;

	if ((e = check_family(family, err)) < 0 || (e = check_name("table", table, err)) < 0)
		return e;
	if ((e = sock_open(&s, err)) < 0)
		return e;
	/* A dump spans several messages: if the ruleset changed meanwhile
	 * (generation moved or the kernel flagged the dump), read again. */
	for (int attempt = 0;; attempt++) {
		char buf[1024];
		struct nftnl_rule *r;
		struct nlmsghdr *nlh;
		bool intr = false;

		q.n = 0;
		if ((e = sock_genid(s, &gen0, err)) < 0)
			goto out;
		if ((e = sock_table_exists(s, family, table, err)) <= 0) {
			if (e == 0)
				e = -ENOENT;
			goto out;
		}
		r = nftnl_rule_alloc();
		if (!r) {
			e = -ENOMEM;
			goto out;
		}
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, (uint32_t)family);
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
		nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, (uint16_t)family,
					    NLM_F_DUMP, gl_nlsock_seq(s));
		nftnl_rule_nlmsg_build_payload(nlh, r);
		nftnl_rule_free(r);
		if ((e = talk(s, nlh, dump_cb, &q, &intr, err)) < 0)
			goto out;
		if ((e = sock_genid(s, &gen1, err)) < 0)
			goto out;
		if (!intr && gen0 == gen1)
			break;
		if (attempt == 4) {
			e = gl_err_set(err, GL_ERR_TRY_AGAIN, "nft: ruleset keeps changing during the dump");
			goto out;
		}
	}
	*ret = q.v;
	q.v = NULL;
	*ret_n = q.n;
	if (ret_genid)
		*ret_genid = gen0;
	e = 0;
out:
	free(q.v);
	gl_nlsock_close(s);
	return e;
}
