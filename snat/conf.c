/* gamelan-snat's in-pod configuration: the fields of the network config,
 * with what they leave out taken from the previous plugin's result. Pure. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include "base/json.h"
#include "snat.h"
#include "base/util.h"

_Static_assert(sizeof(SNAT_TABLE_PREFIX) + IFNAMSIZ <= 256, "table name within NFT_TABLE_MAXNAMELEN");

static const char *family_name(int family)
{
	return family == AF_INET6 ? "IPv6" : "IPv4";
}

int snat_names(const struct gl_cni_req *req, struct snat_conf *ret, struct gl_err *err)
{
	/* "gamelan:" + ":" + ifname, and the NUL. */
	size_t room = SNAT_COMMENT_MAX - strlen("gamelan::") - strlen(req->ifname) - 1;

	if (!gl_cni_ifname_valid(req->ifname))
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_IFNAME \"%s\" is not a valid interface name",
				  req->ifname);
	if (!gl_cni_container_id_valid(req->container_id))
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_CONTAINERID is not valid");
	snprintf(ret->table, sizeof(ret->table), SNAT_TABLE_PREFIX "%s", req->ifname);
	/* nft(8) shows comments up to 127 bytes; a container ID longer than the
	 * usual 64 hex is cut, the same way every time, so CHECK still matches. */
	snprintf(ret->comment, sizeof(ret->comment), "gamelan:%.*s:%s", (int)room, req->container_id,
		 req->ifname);
	return 0;
}

bool snat_conf_has_family(const struct snat_conf *c, int family)
{
	for (int i = 0; i < c->n_lan; i++)
		if (c->lan[i].ip.family == family)
			return true;
	return false;
}

int snat_conf_rule_count(const struct snat_conf *c)
{
	int fams = snat_conf_has_family(c, AF_INET) + snat_conf_has_family(c, AF_INET6);

	return fams * (c->n_ports ? c->n_ports : 1);
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

static int add_lan(struct snat_conf *c, const struct gl_prefix *p, struct gl_err *err)
{
	struct gl_prefix m = gl_prefix_masked(p);

	for (int i = 0; i < c->n_lan; i++)
		if (c->lan[i].len == m.len && gl_ip_equal(&c->lan[i].ip, &m.ip))
			return 0;
	if (c->n_lan >= SNAT_MAX_LAN)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lan: at most %d prefixes", SNAT_MAX_LAN);
	c->lan[c->n_lan++] = m;
	return 0;
}

static int parse_lan(json_object *conf, struct snat_conf *c, struct gl_err *err)
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
	if (n > SNAT_MAX_LAN)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lan: at most %d prefixes, not %zu",
				  SNAT_MAX_LAN, n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct gl_prefix p;

		if (!json_object_is_type(e, json_type_string))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lan[%zu] must be a string", i);
		if (gl_prefix_parse(json_object_get_string(e), &p) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "lan[%zu]: \"%.64s\" is not a prefix like 192.168.1.0/24", i,
					  json_object_get_string(e));
		r = add_lan(c, &p, err);
		if (r < 0)
			return r;
	}
	return 1;
}

static int set_gateway(struct snat_conf *c, const char *what, const char *s, struct gl_err *err)
{
	struct gl_ip ip;
	int f;

	if (gl_ip_parse(s, &ip) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: \"%.64s\" is not an IP address", what, s);
	f = snat_family_index(ip.family);
	if (c->has_gw[f])
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: at most one %s gateway", what,
				  family_name(ip.family));
	c->gw[f] = ip;
	c->has_gw[f] = true;
	return 0;
}

/* "gateway": "192.168.1.1" or ["192.168.1.1", "fd00:1::1"]. */
static int parse_gateway(json_object *conf, struct snat_conf *c, struct gl_err *err)
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
static int parse_ports(json_object *conf, struct snat_conf *c, struct gl_err *err)
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
	if (n > SNAT_MAX_PORTS)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "ports: at most %d entries, not %zu",
				  SNAT_MAX_PORTS, n);
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct snat_port *p = &c->ports[c->n_ports];
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

/* runtimeConfig {"disabled": true} or args.cni.disabled: maintenance mode. */
static int parse_disabled(const struct gl_cni_req *req, struct snat_conf *c, struct gl_err *err)
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
static int apply_defaults(const struct gl_cni_req *req, int iface, bool want_lan, struct snat_conf *c,
			  bool prev_gw[2], struct gl_err *err)
{
	for (int i = 0; i < req->prev.n_ips; i++) {
		const struct gl_cni_ipconf *ip = &req->prev.ips[i];
		int f = snat_family_index(ip->address.ip.family);

		/* An address on another interface (say, the host side of a veth)
		 * is not where WAN packets arrive. */
		if (iface >= 0 && ip->interface >= 0 && ip->interface != iface)
			continue;
		if (want_lan && add_lan(c, &ip->address, err) < 0)
			return gl_err_reset(err, GL_ERR_INVALID_CONFIG,
					    "prevResult has more than %d prefixes: give lan", SNAT_MAX_LAN);
		if (ip->has_gateway && !c->has_gw[f] && !prev_gw[f]) {
			c->gw[f] = ip->gateway;
			prev_gw[f] = true;
		}
	}
	return 0;
}

static int check_gateways(struct snat_conf *c, const bool prev_gw[2], struct gl_err *err)
{
	static const int fams[] = { AF_INET, AF_INET6 };
	char gs[GL_IP_STRLEN];

	for (size_t k = 0; k < GL_ARRAY_SIZE(fams); k++) {
		int fam = fams[k], f = snat_family_index(fam);
		bool in_lan = false;

		if (!snat_conf_has_family(c, fam)) {
			/* A gateway the config names must serve a lan prefix; one
			 * prevResult has for a family lan leaves out is not used. */
			if (c->has_gw[f])
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "gateway %s is outside every lan prefix (lan has no %s prefix)",
						  gl_ip_str(&c->gw[f], gs, sizeof(gs)), family_name(fam));
			c->gw[f] = (struct gl_ip){ 0 };
			continue;
		}
		if (!c->has_gw[f] && prev_gw[f])
			c->has_gw[f] = true;
		if (!c->has_gw[f]) {
			/* Dropping needs no address to rewrite to. */
			if (c->disabled)
				continue;
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "gateway: lan has %s prefixes but neither gateway nor prevResult gives an %s gateway",
					  family_name(fam), family_name(fam));
		}
		for (int i = 0; i < c->n_lan && !in_lan; i++)
			in_lan = gl_prefix_contains(&c->lan[i], &c->gw[f]);
		if (!in_lan)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "gateway %s%s is outside every %s lan prefix",
					  gl_ip_str(&c->gw[f], gs, sizeof(gs)), prev_gw[f] ? " (from prevResult)" : "",
					  family_name(fam));
	}
	return 0;
}

int snat_conf_parse(const struct gl_cni_req *req, struct snat_conf *ret, struct gl_err *err)
{
	_cleanup_free_ struct snat_conf *c = calloc(1, sizeof(*c));
	bool prev_gw[2] = { false, false };
	int iface, has_lan, r;

	if (!c)
		return -ENOMEM;
	r = snat_names(req, c, err);
	if (r < 0)
		return r;
	/* A chained plugin acts on what the plugins before it made. */
	if (!req->has_prev)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "prevResult is missing: gamelan-snat must be chained after an interface plugin");
	has_lan = parse_lan(req->conf, c, err);
	if (has_lan < 0)
		return has_lan;
	if (parse_gateway(req->conf, c, err) < 0 || parse_ports(req->conf, c, err) < 0 ||
	    parse_disabled(req, c, err) < 0)
		return -EINVAL;

	iface = pod_iface(req);
	r = gl_strlcpy(c->ifname, iface >= 0 ? req->prev.ifaces[iface].name : req->ifname,
		       sizeof(c->ifname));
	if (r < 0 || !gl_cni_ifname_valid(c->ifname))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "prevResult.interfaces[%d].name is not a valid interface name", iface);
	r = apply_defaults(req, iface, !has_lan, c, prev_gw, err);
	if (r < 0)
		return r;
	if (c->n_lan == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lan: prevResult has no address on %s to take the LAN prefix from; give lan",
				  c->ifname);
	r = check_gateways(c, prev_gw, err);
	if (r < 0)
		return r;
	*ret = *c;
	return 0;
}
