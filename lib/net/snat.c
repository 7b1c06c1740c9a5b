/* In-pod source NAT: the config model and its checks, the CNI request's
 * view of it (defaults from prevResult), the table's batch, and the thin
 * install, remove and read-back inside a netns. */
#include "net/snat.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <linux/netfilter/nf_tables.h>
#include "base/util.h"
#include "net/netns.h"

_Static_assert(sizeof(GL_SNAT_TABLE_PREFIX) + IFNAMSIZ <= 256, "table name within NFT_TABLE_MAXNAMELEN");

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

/* ---- the config ---- */

int gl_snat_names(const char *owner, const char *ifname, struct gl_snat_conf *c, struct gl_err *err)
{
	size_t room;

	if (!gl_cni_ifname_valid(ifname))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "interface name \"%.32s\" is not valid", ifname);
	if (!gl_cni_container_id_valid(owner))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "owner ID \"%.64s\" is not valid", owner);
	/* "gamelan:" + ":" + ifname, and the NUL. */
	room = GL_SNAT_COMMENT_MAX - strlen("gamelan::") - strlen(ifname) - 1;
	snprintf(c->table, sizeof(c->table), GL_SNAT_TABLE_PREFIX "%s", ifname);
	/* nft(8) shows comments up to 127 bytes; an owner longer than the usual
	 * 64 hex is cut, the same way every time, so a check still matches. */
	snprintf(c->comment, sizeof(c->comment), "gamelan:%.*s:%s", (int)room, owner, ifname);
	return 0;
}

bool gl_snat_conf_has_family(const struct gl_snat_conf *c, int family)
{
	for (int i = 0; i < c->n_lan; i++)
		if (c->lan[i].ip.family == family)
			return true;
	return false;
}

int gl_snat_conf_rule_count(const struct gl_snat_conf *c)
{
	int fams = gl_snat_conf_has_family(c, AF_INET) + gl_snat_conf_has_family(c, AF_INET6);

	return fams * (c->n_ports ? c->n_ports : 1);
}

const char *gl_snat_chain(const struct gl_snat_conf *c)
{
	return c->disabled ? GL_SNAT_CHAIN_DROP : GL_SNAT_CHAIN_NAT;
}

int gl_snat_conf_add_lan(struct gl_snat_conf *c, const struct gl_prefix *p, struct gl_err *err)
{
	struct gl_prefix m = gl_prefix_masked(p);

	for (int i = 0; i < c->n_lan; i++)
		if (c->lan[i].len == m.len && gl_ip_equal(&c->lan[i].ip, &m.ip))
			return 0;
	if (c->n_lan >= GL_SNAT_MAX_LAN)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lan: at most %d prefixes", GL_SNAT_MAX_LAN);
	c->lan[c->n_lan++] = m;
	return 0;
}

void gl_snat_conf_default_gw(struct gl_snat_conf *c, const struct gl_ip *gw)
{
	int f = gl_snat_family_index(gw->family);

	if (c->has_gw[f] || c->gw_default[f])
		return;
	c->gw[f] = *gw;
	c->gw_default[f] = true;
}

static int parse_lan(json_object *conf, struct gl_snat_conf *c, struct gl_err *err)
{
	json_object *arr = NULL;
	size_t n;
	int r;

	r = gl_json_get_array(conf, NULL, "lan", &arr, err);
	if (r <= 0)
		return r;
	n = json_object_array_length(arr);
	if (n == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lan must list at least one prefix (leave it out to use prevResult's)");
	if (n > GL_SNAT_MAX_LAN)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lan: at most %d prefixes, not %zu",
				  GL_SNAT_MAX_LAN, n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct gl_prefix p;

		if (!json_object_is_type(e, json_type_string))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lan[%zu] must be a string", i);
		if (gl_prefix_parse(json_object_get_string(e), &p) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "lan[%zu]: \"%.64s\" is not a prefix like 192.168.1.0/24", i,
					  json_object_get_string(e));
		r = gl_snat_conf_add_lan(c, &p, err);
		if (r < 0)
			return r;
	}
	return 1;
}

static int set_gateway(struct gl_snat_conf *c, const char *what, const char *s, struct gl_err *err)
{
	struct gl_ip ip;
	int f;

	if (gl_ip_parse(s, &ip) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: \"%.64s\" is not an IP address", what, s);
	f = gl_snat_family_index(ip.family);
	if (c->has_gw[f])
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: at most one %s gateway", what,
				  family_name(ip.family));
	c->gw[f] = ip;
	c->has_gw[f] = true;
	return 0;
}

/* "gateway": "192.168.1.1" or ["192.168.1.1", "fd00:1::1"]. */
static int parse_gateway(json_object *conf, struct gl_snat_conf *c, struct gl_err *err)
{
	json_object *g = NULL;
	size_t n;

	if (!json_object_object_get_ex(conf, "gateway", &g) || !g)
		return 0;
	if (json_object_is_type(g, json_type_string))
		return set_gateway(c, "gateway", json_object_get_string(g), err);
	if (!json_object_is_type(g, json_type_array))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "gateway must be an address or a list of one address per family");
	n = json_object_array_length(g);
	if (n == 0 || n > 2)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "gateway must list one or two addresses (one per family), not %zu", n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(g, i);
		char what[32];

		snprintf(what, sizeof(what), "gateway[%zu]", i);
		if (!json_object_is_type(e, json_type_string))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s must be a string", what);
		if (set_gateway(c, what, json_object_get_string(e), err) < 0)
			return -EINVAL;
	}
	return 0;
}

static int parse_proto(const char *s, uint8_t *ret)
{
	static const struct { const char *name; uint8_t proto; } protos[] = {
		{ "udp", IPPROTO_UDP }, { "tcp", IPPROTO_TCP }, { "sctp", IPPROTO_SCTP },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(protos); i++) {
		if (strcasecmp(s, protos[i].name) == 0) {
			*ret = protos[i].proto;
			return 0;
		}
	}
	return -EINVAL;
}

/* "ports": [{"protocol": "udp", "port": 10999}, {"protocol": "udp",
 * "port": 27015, "endPort": 27030}, {"protocol": "tcp"}] */
static int parse_ports(json_object *conf, struct gl_snat_conf *c, struct gl_err *err)
{
	json_object *arr = NULL;
	size_t n;
	int r;

	r = gl_json_get_array(conf, NULL, "ports", &arr, err);
	if (r <= 0)
		return r;
	n = json_object_array_length(arr);
	if (n == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "ports must list at least one entry (leave it out for every port)");
	if (n > GL_SNAT_MAX_PORTS)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "ports: at most %d entries, not %zu",
				  GL_SNAT_MAX_PORTS, n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct gl_snat_port *p = &c->ports[c->n_ports];
		const char *proto = NULL;
		int64_t port = 0, end = 0;
		char what[32];
		int has_end;

		snprintf(what, sizeof(what), "ports[%zu]", i);
		if (!json_object_is_type(e, json_type_object))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "%s must be an object like {\"protocol\": \"udp\", \"port\": 10999}", what);
		r = gl_json_get_str(e, what, "protocol", &proto, err);
		if (r < 0)
			return r;
		if (r == 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s.protocol is missing (udp, tcp or sctp)", what);
		if (parse_proto(proto, &p->proto) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "%s.protocol \"%.32s\" is not one of udp, tcp, sctp", what, proto);
		if (gl_json_get_int(e, what, "port", 1, 65535, &port, err) < 0)
			return -EINVAL;
		has_end = gl_json_get_int(e, what, "endPort", 1, 65535, &end, err);
		if (has_end < 0)
			return -EINVAL;
		if (has_end && !port)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s.endPort needs port", what);
		if (has_end && end < port)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s.endPort %lld is below port %lld",
					  what, (long long)end, (long long)port);
		p->first = (uint16_t)port;
		p->last = (uint16_t)(has_end ? end : port);
		c->n_ports++;
	}
	return 0;
}

int gl_snat_conf_parse_json(json_object *o, struct gl_snat_conf *c, struct gl_err *err)
{
	int has_lan = parse_lan(o, c, err);

	if (has_lan < 0)
		return has_lan;
	if (parse_gateway(o, c, err) < 0 || parse_ports(o, c, err) < 0)
		return -EINVAL;
	return has_lan;
}

int gl_snat_conf_finish(struct gl_snat_conf *c, const char *from, struct gl_err *err)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	char gs[GL_IP_STRLEN];

	if (c->n_lan == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lan: %s has no address on %s to take the LAN prefix from; give lan", from,
				  c->ifname);
	for (size_t k = 0; k < GL_ARRAY_SIZE(fams); k++) {
		int fam = fams[k], f = gl_snat_family_index(fam);
		bool in_lan = false;

		if (!gl_snat_conf_has_family(c, fam)) {
			/* A gateway the config names must serve a lan prefix; a
			 * default for a family lan leaves out is not used. */
			if (c->has_gw[f])
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "gateway %s is outside every lan prefix (lan has no %s prefix)",
						  gl_ip_str(&c->gw[f], gs, sizeof(gs)), family_name(fam));
			c->gw[f] = (struct gl_ip){ 0 };
			c->gw_default[f] = false;
			continue;
		}
		if (!c->has_gw[f] && c->gw_default[f])
			c->has_gw[f] = true;
		if (!c->has_gw[f]) {
			/* Dropping needs no address to rewrite to. */
			if (c->disabled)
				continue;
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "gateway: lan has %s prefixes but neither gateway nor %s gives an %s gateway",
					  family_name(fam), from, family_name(fam));
		}
		for (int i = 0; i < c->n_lan && !in_lan; i++)
			in_lan = gl_prefix_contains(&c->lan[i], &c->gw[f]);
		if (!in_lan)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "gateway %s%s%s%s is outside every %s lan prefix",
					  gl_ip_str(&c->gw[f], gs, sizeof(gs)), c->gw_default[f] ? " (from " : "",
					  c->gw_default[f] ? from : "", c->gw_default[f] ? ")" : "", family_name(fam));
	}
	return 0;
}

/* ---- a CNI request's view ---- */

int gl_snat_cni_names(const struct gl_cni_req *req, struct gl_snat_conf *ret, struct gl_err *err)
{
	if (!gl_cni_ifname_valid(req->ifname))
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_IFNAME \"%s\" is not a valid interface name",
				  req->ifname);
	if (!gl_cni_container_id_valid(req->container_id))
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_CONTAINERID is not valid");
	return gl_snat_names(req->container_id, req->ifname, ret, err);
}

/* The interface of prevResult that lives in this pod: the one named
 * CNI_IFNAME there, else the first one in the sandbox; -1 when none is. */
static int pod_iface(const struct gl_cni_req *req)
{
	int first = -1;

	for (int i = 0; i < req->prev.n_ifaces; i++) {
		const struct gl_cni_iface *f = &req->prev.ifaces[i];

		if (!f->sandbox[0] || strcmp(f->sandbox, req->netns) != 0)
			continue;
		if (strcmp(f->name, req->ifname) == 0)
			return i;
		if (first < 0)
			first = i;
	}
	return first;
}

/* runtimeConfig {"disabled": true} or args.cni.disabled: maintenance mode. */
static int parse_disabled(const struct gl_cni_req *req, struct gl_snat_conf *c, struct gl_err *err)
{
	bool b = false;

	if (gl_json_get_bool(req->runtime_config, "runtimeConfig", "disabled", &b, err) < 0)
		return -EINVAL;
	c->disabled = b;
	b = false;
	if (gl_json_get_bool(req->args_cni, "args.cni", "disabled", &b, err) < 0)
		return -EINVAL;
	c->disabled = c->disabled || b;
	return 0;
}

/* lan and gateway left out: from prevResult's addresses on the pod's interface. */
static int prev_defaults(const struct gl_cni_req *req, int iface, bool want_lan, struct gl_snat_conf *c,
			 struct gl_err *err)
{
	for (int i = 0; i < req->prev.n_ips; i++) {
		const struct gl_cni_ipconf *ip = &req->prev.ips[i];

		/* An address on another interface (say, the host side of a veth)
		 * is not where WAN packets arrive. */
		if (iface >= 0 && ip->interface >= 0 && ip->interface != iface)
			continue;
		if (want_lan && gl_snat_conf_add_lan(c, &ip->address, err) < 0)
			return gl_err_reset(err, GL_ERR_INVALID_CONFIG,
					    "prevResult has more than %d prefixes: give lan", GL_SNAT_MAX_LAN);
		if (ip->has_gateway)
			gl_snat_conf_default_gw(c, &ip->gateway);
	}
	return 0;
}

int gl_snat_cni_conf_parse(const struct gl_cni_req *req, struct gl_snat_conf *ret, struct gl_err *err)
{
	_cleanup_free_ struct gl_snat_conf *c = calloc(1, sizeof(*c));
	int iface, has_lan, r;

	if (!c)
		return -ENOMEM;
	r = gl_snat_cni_names(req, c, err);
	if (r < 0)
		return r;
	/* A chained plugin acts on what the plugins before it made. */
	if (!req->has_prev)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "prevResult is missing: gamelan-snat must be chained after an interface plugin");
	has_lan = gl_snat_conf_parse_json(req->conf, c, err);
	if (has_lan < 0)
		return has_lan;
	if (parse_disabled(req, c, err) < 0)
		return -EINVAL;

	iface = pod_iface(req);
	r = gl_strlcpy(c->ifname, iface >= 0 ? req->prev.ifaces[iface].name : req->ifname,
		       sizeof(c->ifname));
	if (r < 0 || !gl_cni_ifname_valid(c->ifname))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "prevResult.interfaces[%d].name is not a valid interface name", iface);
	r = prev_defaults(req, iface, !has_lan, c, err);
	if (r < 0)
		return r;
	r = gl_snat_conf_finish(c, "prevResult", err);
	if (r < 0)
		return r;
	*ret = *c;
	return 0;
}

/* ---- the batches ---- */

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

/* One rule: packets of `family` arriving on the interface from outside the
 * lan prefixes of that family (to the port entry p, or any port when p is
 * NULL) get the gateway as source, or are dropped when disabled. */
static int add_rule(struct gl_nft_batch *b, const struct gl_snat_conf *c, int family,
		    const struct gl_snat_port *p, struct gl_err *err)
{
	_cleanup_nft_rule_ struct gl_nft_rule *rule = NULL;
	struct gl_prefix lan[GL_SNAT_MAX_LAN];
	size_t n = 0;
	int r;

	for (int i = 0; i < c->n_lan; i++)
		if (c->lan[i].ip.family == family)
			lan[n++] = c->lan[i];
	r = gl_nft_rule_new(NFPROTO_INET, c->table, gl_snat_chain(c), c->comment, &rule, err);
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
		gl_nft_rule_snat(rule, &c->gw[gl_snat_family_index(family)]);
	return gl_nft_batch_add_rule(b, rule, err);
}

int gl_snat_build_add(const struct gl_snat_conf *c, struct gl_nft_batch *b, struct gl_err *err)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	int r;

	r = gl_nft_batch_begin(b, 0, 0, err);
	if (r < 0)
		return r;
	/* A retried install finds its own table: drop it in the same transaction. */
	r = gl_nft_batch_destroy_table(b, NFPROTO_INET, c->table, err);
	if (r < 0)
		return r;
	r = gl_nft_batch_add_table(b, NFPROTO_INET, c->table, err);
	if (r < 0)
		return r;
	if (c->disabled)
		r = gl_nft_batch_add_chain(b, NFPROTO_INET, c->table, GL_SNAT_CHAIN_DROP, "filter",
					   NF_INET_LOCAL_IN, GL_SNAT_PRIO_DROP, err);
	else
		r = gl_nft_batch_add_chain(b, NFPROTO_INET, c->table, GL_SNAT_CHAIN_NAT, "nat",
					   NF_INET_LOCAL_IN, GL_SNAT_PRIO_NAT, err);
	if (r < 0)
		return r;
	for (size_t k = 0; k < GL_ARRAY_SIZE(fams); k++) {
		if (!gl_snat_conf_has_family(c, fams[k]))
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

int gl_snat_build_del(const char *table, struct gl_nft_batch *b, struct gl_err *err)
{
	int r = gl_nft_batch_begin(b, 0, 0, err);

	if (r < 0)
		return r;
	r = gl_nft_batch_destroy_table(b, NFPROTO_INET, table, err);
	if (r < 0)
		return r;
	return gl_nft_batch_end(b, err);
}

int gl_snat_check_rules(const struct gl_snat_conf *c, const struct gl_nft_rule_info *rules, size_t n,
			struct gl_err *err)
{
	size_t want = (size_t)gl_snat_conf_rule_count(c);
	const char *chain = gl_snat_chain(c);

	for (size_t i = 0; i < n; i++) {
		if (strcmp(rules[i].chain, chain) != 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "table inet %s has a rule in chain %s; the config asks for chain %s (%s)",
					  c->table, rules[i].chain, chain,
					  c->disabled ? "disabled: drop" : "source NAT");
		if (strcmp(rules[i].comment, c->comment) != 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "table inet %s: rule %llu has comment \"%s\", not \"%s\"", c->table,
					  (unsigned long long)rules[i].handle, rules[i].comment, c->comment);
	}
	if (n != want)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "table inet %s chain %s has %zu rules; the config asks for %zu", c->table,
				  chain, n, want);
	return 0;
}

/* ---- the kernel ---- */

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

int gl_snat_install(int ns_fd, const struct gl_snat_conf *c, struct gl_err *err)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	int r;

	r = gl_snat_build_add(c, &b, err);
	if (r < 0)
		return r;
	r = send_in(ns_fd, &b, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "installing table inet %s: %s", c->table, strerror(-r));
	return 0;
}

int gl_snat_remove(int ns_fd, const char *table, struct gl_err *err)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	int r;

	r = gl_snat_build_del(table, &b, err);
	if (r < 0)
		return r;
	r = send_in(ns_fd, &b, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "deleting table inet %s: %s", table, strerror(-r));
	return 0;
}

int gl_snat_verify(int ns_fd, const char *ns_name, const struct gl_snat_conf *c, struct gl_err *err)
{
	_cleanup_free_ struct gl_nft_rule_info *rules = NULL;
	size_t n = 0;
	int orig, r, q;

	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = gl_nft_rules_dump(NFPROTO_INET, c->table, &rules, &n, NULL, err);
	q = gl_netns_restore(orig);
	if (q < 0)
		return gl_err_reset(err, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-q));
	if (r == -ENOENT)
		return gl_err_reset(err, GL_ERR_INVALID_CONFIG, "table inet %s is missing from %s", c->table,
				    ns_name);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "listing table inet %s: %s", c->table, strerror(-r));
	return gl_snat_check_rules(c, rules, n, err);
}
