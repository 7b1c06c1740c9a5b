/* The verbs of gamelan-snat's in-pod mode. ADD installs, in the pod's netns,
 * one table of its own (`inet gamelan-snat-<ifname>`) whose input chain
 * rewrites the source of packets arriving on the LAN interface from outside
 * the LAN to the LAN gateway; conntrack reverses it on replies. The table is
 * replaced in one atomic batch, so a failure leaves nothing half-made and a
 * retried ADD leaves no duplicate. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>
#include "net/netns.h"
#include "net/nft.h"
#include "snat.h"
#include "base/util.h"

/* `th dport FIRST-LAST`, as nft writes it: one load, two compares. */
static int match_dport_range(struct gl_nft_rule *rule, uint16_t first, uint16_t last)
{
	struct nftnl_rule *nr = gl_nft_rule_nftnl(rule);
	uint16_t lo = htons(first), hi = htons(last);
	struct nftnl_expr *e;

	e = nftnl_expr_alloc("payload");
	if (!e)
		return -ENOMEM;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, 2);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, 2);
	nftnl_rule_add_expr(nr, e);
	for (int i = 0; i < 2; i++) {
		e = nftnl_expr_alloc("cmp");
		if (!e)
			return -ENOMEM;
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, i == 0 ? NFT_CMP_GTE : NFT_CMP_LTE);
		/* Network order compares as bytes, which is what cmp does. */
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, i == 0 ? &lo : &hi, sizeof(lo));
		nftnl_rule_add_expr(nr, e);
	}
	return 0;
}

static const char *chain_of(const struct snat_conf *c)
{
	return c->disabled ? SNAT_CHAIN_DROP : SNAT_CHAIN_NAT;
}

/* One rule: packets of `family` arriving on the interface from outside the
 * lan prefixes of that family (to the port entry p, or any port when p is
 * NULL) get the gateway as source, or are dropped when disabled. */
static int add_rule(struct gl_nft_batch *b, const struct snat_conf *c, int family,
		    const struct snat_port *p, struct gl_err *err)
{
	_cleanup_nft_rule_ struct gl_nft_rule *rule = NULL;
	struct gl_prefix lan[SNAT_MAX_LAN];
	size_t n = 0;
	int r;

	for (int i = 0; i < c->n_lan; i++)
		if (c->lan[i].ip.family == family)
			lan[n++] = c->lan[i];
	r = gl_nft_rule_new(NFPROTO_INET, c->table, chain_of(c), c->comment, &rule, err);
	if (r < 0)
		return r;
	/* The helpers remember their first failure; add_rule reports it. */
	gl_nft_rule_match_iifname(rule, c->ifname);
	gl_nft_rule_match_nfproto(rule, family);
	gl_nft_rule_match_saddr_not_in(rule, lan, n);
	if (p && p->first == 0)
		gl_nft_rule_match_l4proto(rule, p->proto);
	else if (p && p->first == p->last)
		gl_nft_rule_match_dport(rule, p->proto, p->first);
	else if (p) {
		gl_nft_rule_match_l4proto(rule, p->proto);
		r = match_dport_range(rule, p->first, p->last);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_INTERNAL, "building a port range: %s", strerror(-r));
	}
	gl_nft_rule_counter(rule);
	if (c->disabled)
		gl_nft_rule_drop(rule);
	else
		gl_nft_rule_snat(rule, &c->gw[snat_family_index(family)]);
	return gl_nft_batch_add_rule(b, rule, err);
}

/* The ADD transaction: the attachment's table, replaced whole. Pure. */
static int build_add(const struct snat_conf *c, struct gl_nft_batch *b, struct gl_err *err)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	int r;

	r = gl_nft_batch_begin(b, 0, 0, err);
	if (r < 0)
		return r;
	/* A retried ADD finds its own table: drop it in the same transaction. */
	r = gl_nft_batch_destroy_table(b, NFPROTO_INET, c->table, err);
	if (r < 0)
		return r;
	r = gl_nft_batch_add_table(b, NFPROTO_INET, c->table, err);
	if (r < 0)
		return r;
	if (c->disabled)
		r = gl_nft_batch_add_chain(b, NFPROTO_INET, c->table, SNAT_CHAIN_DROP, "filter",
					   NF_INET_LOCAL_IN, SNAT_PRIO_DROP, err);
	else
		r = gl_nft_batch_add_chain(b, NFPROTO_INET, c->table, SNAT_CHAIN_NAT, "nat",
					   NF_INET_LOCAL_IN, SNAT_PRIO_NAT, err);
	if (r < 0)
		return r;
	for (size_t k = 0; k < GL_ARRAY_SIZE(fams); k++) {
		if (!snat_conf_has_family(c, fams[k]))
			continue;
		if (c->n_ports == 0)
			r = add_rule(b, c, fams[k], NULL, err);
		for (int i = 0; i < c->n_ports && r >= 0; i++)
			r = add_rule(b, c, fams[k], &c->ports[i], err);
		if (r < 0)
			return r;
	}
	return gl_nft_batch_end(b, err);
}

/* The DEL transaction: the table gone, whether or not it was there. Pure. */
static int build_del(const struct snat_conf *c, struct gl_nft_batch *b, struct gl_err *err)
{
	int r = gl_nft_batch_begin(b, 0, 0, err);

	if (r < 0)
		return r;
	r = gl_nft_batch_destroy_table(b, NFPROTO_INET, c->table, err);
	if (r < 0)
		return r;
	return gl_nft_batch_end(b, err);
}

/* Send b from inside the namespace ns_fd: a netfilter socket belongs to the
 * namespace it was made in. */
static int send_in(int ns_fd, const struct gl_nft_batch *b, struct gl_err *err)
{
	int orig, r, q;

	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = gl_nft_send(b, err);
	q = gl_netns_restore(orig);
	if (q < 0)
		return gl_err_reset(err, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-q));
	return r;
}

int snat_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err)
{
	_cleanup_free_ struct snat_conf *c = calloc(1, sizeof(*c));
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	_cleanup_close_ int ns_fd = -1;
	int r;

	if (!c)
		return -ENOMEM;
	r = snat_conf_parse(req, c, err);
	if (r < 0)
		return r;
	r = build_add(c, &b, err);
	if (r < 0)
		return r;
	r = gl_netns_open(req->netns, &ns_fd, err);
	if (r < 0)
		return r;
	r = send_in(ns_fd, &b, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "installing table inet %s: %s", c->table, strerror(-r));
	/* A chained plugin passes the result on as it came. */
	*ret = req->prev;
	return 0;
}

int snat_del(struct gl_cni_req *req, struct gl_err *err)
{
	struct snat_conf c;
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	_cleanup_close_ int ns_fd = -1;
	int r;

	/* DEL reads no more of the config than the attachment's names: a
	 * config that has since gone bad must not keep the table alive. */
	r = snat_names(req, &c, err);
	if (r < 0)
		return r;
	/* A netns that is already gone took the table with it. */
	if (!req->netns[0] || gl_netns_open(req->netns, &ns_fd, NULL) < 0)
		return 0;
	r = build_del(&c, &b, err);
	if (r < 0)
		return r;
	r = send_in(ns_fd, &b, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "deleting table inet %s: %s", c.table, strerror(-r));
	return 0;
}

/* Compare the rules the kernel has with the ones the config asks for. */
static int check_rules(const struct snat_conf *c, const struct gl_nft_rule_info *rules, size_t n,
		       struct gl_err *err)
{
	size_t want = (size_t)snat_conf_rule_count(c);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(rules[i].chain, chain_of(c)) != 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "table inet %s has a rule in chain %s; the config asks for chain %s (%s)",
					  c->table, rules[i].chain, chain_of(c),
					  c->disabled ? "disabled: drop" : "source NAT");
		if (strcmp(rules[i].comment, c->comment) != 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "table inet %s: rule %llu has comment \"%s\", not \"%s\"", c->table,
					  (unsigned long long)rules[i].handle, rules[i].comment, c->comment);
	}
	if (n != want)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "table inet %s chain %s has %zu rules; the config asks for %zu", c->table,
				  chain_of(c), n, want);
	return 0;
}

int snat_check(struct gl_cni_req *req, struct gl_err *err)
{
	_cleanup_free_ struct snat_conf *c = calloc(1, sizeof(*c));
	_cleanup_free_ struct gl_nft_rule_info *rules = NULL;
	_cleanup_close_ int ns_fd = -1;
	size_t n = 0;
	int orig, r, q;

	if (!c)
		return -ENOMEM;
	r = snat_conf_parse(req, c, err);
	if (r < 0)
		return r;
	r = gl_netns_open(req->netns, &ns_fd, err);
	if (r < 0)
		return r;
	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = gl_nft_rules_dump(NFPROTO_INET, c->table, &rules, &n, NULL, err);
	q = gl_netns_restore(orig);
	if (q < 0)
		return gl_err_reset(err, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-q));
	if (r == -ENOENT)
		return gl_err_reset(err, GL_ERR_INVALID_CONFIG, "table inet %s is missing from %s", c->table,
				    req->netns);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "listing table inet %s: %s", c->table, strerror(-r));
	return check_rules(c, rules, n, err);
}

int snat_status(struct gl_cni_req *req, struct gl_err *err)
{
	/* Nothing outside the pods to depend on. */
	return 0;
}

int snat_gc(struct gl_cni_req *req, struct gl_err *err)
{
	/* The tables live in the pods' namespaces and go with them: nothing
	 * outlives an attachment that DEL would have to free. */
	return 0;
}
