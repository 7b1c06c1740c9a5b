#include "wire.h"
#include <ctype.h>
#include <errno.h>
#include <linux/if_link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/json.h"
#include "base/mac.h"
#include "base/util.h"

#define OPT_GENERIC "com.docker.network.generic"

static bool ifname_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
			return false;
	return true;
}

int dk_parent_parse(const char *parent, char ret_master[IFNAMSIZ], uint16_t *ret_vlan,
		    struct gl_err *err)
{
	char master[IFNAMSIZ];
	const char *dot;
	char *end;
	long id;

	if (!ifname_valid(parent))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "-o parent=%.40s is not a valid interface name", parent);
	dot = strchr(parent, '.');
	if (!dot) {
		gl_strlcpy(ret_master, parent, IFNAMSIZ);
		*ret_vlan = 0;
		return 0;
	}
	/* The built-in macvlan's rules and texts (moby's parseVlan). */
	if (strchr(dot + 1, '.') || dot == parent)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "invalid subinterface vlan name %s, example formatting is eth0.10", parent);
	errno = 0;
	id = strtol(dot + 1, &end, 10);
	if (dot[1] == '\0' || *end != '\0' || errno)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "unable to parse a valid vlan id from: %s (ex. eth0.10 for vlan 10)",
				  dot + 1);
	if (id < 1 || id > 4094)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "vlan id must be between 1-4094, received: %ld", id);
	memcpy(master, parent, (size_t)(dot - parent));
	master[dot - parent] = '\0';
	gl_strlcpy(ret_master, master, IFNAMSIZ);
	*ret_vlan = (uint16_t)id;
	return 0;
}

static const struct {
	const char *name;
	uint32_t mode;
} modes[] = {
	{ "bridge", MACVLAN_MODE_BRIDGE },
	{ "private", MACVLAN_MODE_PRIVATE },
	{ "vepa", MACVLAN_MODE_VEPA },
	{ "passthru", MACVLAN_MODE_PASSTHRU },
};

int dk_mode_parse(const char *s, uint32_t *ret_mode, struct gl_err *err)
{
	if (!s || !*s) {
		*ret_mode = MACVLAN_MODE_BRIDGE;
		return 0;
	}
	for (size_t i = 0; i < GL_ARRAY_SIZE(modes); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*ret_mode = modes[i].mode;
			return 0;
		}
	}
	return gl_err_set(err, GL_ERR_INVALID_CONFIG,
			  "requested macvlan mode '%.40s' is not valid, 'bridge' mode is the macvlan driver default",
			  s);
}

const char *dk_mode_str(uint32_t mode)
{
	for (size_t i = 0; i < GL_ARRAY_SIZE(modes); i++)
		if (modes[i].mode == mode)
			return modes[i].name;
	return "bridge";
}

static int parse_bool_opt(const char *key, const char *v, bool *ret, struct gl_err *err)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || !*v) {
		*ret = false;
		return 0;
	}
	return gl_err_set(err, GL_ERR_INVALID_CONFIG, "-o %s must be true or false, not '%.40s'", key, v);
}

/* "192.168.1.1/24" or "192.168.1.1" -> the address. */
static int parse_addr(const char *s, struct gl_ip *ret)
{
	struct gl_prefix p;

	if (strchr(s, '/')) {
		if (gl_prefix_parse(s, &p) < 0)
			return -EINVAL;
		*ret = p.ip;
		return 0;
	}
	return gl_ip_parse(s, ret);
}

int dk_net_parse(json_object *req, struct dk_net *ret, struct gl_err *err)
{
	struct dk_net n = { .mode = MACVLAN_MODE_BRIDGE };
	json_object *opts = NULL, *generic = NULL, *v4 = NULL, *v6 = NULL, *d;
	const char *s = NULL, *parent = NULL, *mode = NULL, *snat = NULL;
	int r;

	r = gl_json_get_strbuf(req, NULL, "NetworkID", n.id, sizeof(n.id), err);
	if (r < 0)
		return r;
	if (!dk_id_valid(n.id))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "NetworkID is missing or not an ID");
	if (gl_json_get_object(req, NULL, "Options", &opts, err) < 0 ||
	    gl_json_get_object(opts, "Options", OPT_GENERIC, &generic, err) < 0)
		return -EINVAL;
	if (generic) {
		json_object_object_foreach(generic, key, val) {
			if (!json_object_is_type(val, json_type_string))
				return gl_err_set(err, GL_ERR_INVALID_CONFIG, "-o %.40s must be a string", key);
			if (strcmp(key, "parent") == 0)
				parent = json_object_get_string(val);
			else if (strcmp(key, "macvlan_mode") == 0)
				mode = json_object_get_string(val);
			else if (strcmp(key, "snat") == 0)
				snat = json_object_get_string(val);
			else if (strncmp(key, "com.docker.", 11) != 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "unknown option -o %.40s (gamelan takes parent, macvlan_mode, snat)",
						  key);
		}
	}
	if (!parent || !*parent)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "gamelan needs -o parent=IFACE, the host's LAN interface");
	r = dk_parent_parse(parent, n.master, &n.vlan, err);
	if (r < 0)
		return r;
	gl_strlcpy(n.parent, parent, sizeof(n.parent));
	r = dk_mode_parse(mode, &n.mode, err);
	if (r < 0)
		return r;
	if (snat) {
		r = parse_bool_opt("snat", snat, &n.snat, err);
		if (r < 0)
			return r;
	}
	if (gl_json_get_array(req, NULL, "IPv6Data", &v6, err) < 0 ||
	    gl_json_get_array(req, NULL, "IPv4Data", &v4, err) < 0)
		return -EINVAL;
	if (v6 && json_object_array_length(v6) > 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "gamelan gives IPv4 addresses only (no --ipv6)");
	if (!v4 || json_object_array_length(v4) != 1)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "gamelan needs exactly one IPv4 --subnet per network");
	d = json_object_array_get_idx(v4, 0);
	if (!json_object_is_type(d, json_type_object))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "IPv4Data[0] must be an object");
	if (gl_json_get_str(d, "IPv4Data", "Pool", &s, err) <= 0 || gl_prefix_parse(s, &n.subnet) < 0 ||
	    n.subnet.ip.family != AF_INET)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "IPv4Data.Pool is not an IPv4 prefix");
	n.subnet = gl_prefix_masked(&n.subnet);
	s = NULL;
	if (gl_json_get_str(d, "IPv4Data", "Gateway", &s, err) < 0)
		return -EINVAL;
	if (s && *s) {
		if (parse_addr(s, &n.gw) < 0 || !gl_prefix_contains(&n.subnet, &n.gw))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "IPv4Data.Gateway %.60s is not in the subnet", s);
		n.has_gw = true;
	}
	*ret = n;
	return 0;
}

void dk_pool_id(const struct gl_prefix *subnet, char buf[DK_POOL_ID_MAX])
{
	char p[64];

	snprintf(buf, DK_POOL_ID_MAX, "%s%s", DK_POOL_PREFIX, gl_prefix_str(subnet, p, sizeof(p)));
}

int dk_pool_parse(json_object *req, struct dk_pool *ret, struct gl_err *err)
{
	struct dk_pool p = { .hold_ms = 24LL * 3600 * 1000 };
	json_object *opts = NULL;
	const char *s = NULL;
	bool v6 = false;
	int r;

	if (gl_json_get_bool(req, NULL, "V6", &v6, err) < 0)
		return -EINVAL;
	if (v6)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "gamelan gives IPv4 addresses only (no --ipv6)");
	if (gl_json_get_str(req, NULL, "Pool", &s, err) < 0)
		return -EINVAL;
	if (!s || !*s)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "gamelan's IPAM needs --subnet (it never picks a LAN's subnet itself)");
	if (gl_prefix_parse(s, &p.subnet) < 0 || p.subnet.ip.family != AF_INET)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--subnet %.60s is not an IPv4 prefix", s);
	if (p.subnet.len > 30)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--subnet %.60s is too small for containers", s);
	p.subnet = gl_prefix_masked(&p.subnet);
	s = NULL;
	if (gl_json_get_str(req, NULL, "SubPool", &s, err) < 0)
		return -EINVAL;
	if (s && *s) {
		if (gl_prefix_parse(s, &p.range) < 0 || p.range.ip.family != AF_INET)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--ip-range %.60s is not an IPv4 prefix", s);
		p.range = gl_prefix_masked(&p.range);
		if (p.range.len < p.subnet.len || !gl_prefix_contains(&p.subnet, &p.range.ip))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--ip-range %.60s is not inside --subnet", s);
		p.has_range = true;
	}
	if (gl_json_get_object(req, NULL, "Options", &opts, err) < 0)
		return -EINVAL;
	s = NULL;
	if (gl_json_get_str(opts, "--ipam-opt", "hold", &s, err) < 0)
		return -EINVAL;
	if (s) {
		r = gl_duration_parse(s, &p.hold_ms);
		if (r < 0 || p.hold_ms <= 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "--ipam-opt hold=%.40s is not a duration (e.g. 24h, 30m)", s);
	}
	dk_pool_id(&p.subnet, p.id);
	*ret = p;
	return 0;
}

/* ---- records ---- */

static void put_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void put_ip(json_object *o, const char *k, const struct gl_ip *ip)
{
	char b[64];

	put_str(o, k, gl_ip_str(ip, b, sizeof(b)));
}

static void put_prefix(json_object *o, const char *k, const struct gl_prefix *p)
{
	char b[64];

	put_str(o, k, gl_prefix_str(p, b, sizeof(b)));
}

static int get_ip(json_object *o, const char *k, struct gl_ip *ret, bool *has, struct gl_err *err)
{
	const char *s = NULL;

	if (gl_json_get_str(o, "record", k, &s, err) < 0)
		return -EINVAL;
	if (!s) {
		if (has)
			*has = false;
		return 0;
	}
	if (gl_ip_parse(s, ret) < 0)
		return gl_err_set(err, GL_ERR_DECODE, "record.%s: bad address", k);
	if (has)
		*has = true;
	return 0;
}

static int get_prefix(json_object *o, const char *k, struct gl_prefix *ret, bool *has,
		      struct gl_err *err)
{
	const char *s = NULL;

	if (gl_json_get_str(o, "record", k, &s, err) < 0)
		return -EINVAL;
	if (!s) {
		if (!has)
			return gl_err_set(err, GL_ERR_DECODE, "record.%s is missing", k);
		*has = false;
		return 0;
	}
	if (gl_prefix_parse(s, ret) < 0)
		return gl_err_set(err, GL_ERR_DECODE, "record.%s: bad prefix", k);
	if (has)
		*has = true;
	return 0;
}

static int get_str(json_object *o, const char *k, char *buf, size_t size, struct gl_err *err)
{
	buf[0] = '\0';
	return gl_json_get_strbuf(o, "record", k, buf, size, err) < 0 ? -EINVAL : 0;
}

json_object *dk_pool_to_json(const struct dk_pool *p)
{
	json_object *o = json_object_new_object(), *aux = json_object_new_array();
	char b[64];

	put_str(o, "id", p->id);
	put_prefix(o, "subnet", &p->subnet);
	if (p->has_range)
		put_prefix(o, "range", &p->range);
	if (p->has_gw)
		put_ip(o, "gateway", &p->gw);
	for (int i = 0; i < p->n_aux; i++)
		json_object_array_add(aux, json_object_new_string(gl_ip_str(&p->aux[i], b, sizeof(b))));
	json_object_object_add(o, "aux", aux);
	json_object_object_add(o, "holdMs", json_object_new_int64(p->hold_ms));
	put_str(o, "networkId", p->network_id);
	return o;
}

int dk_pool_from_json(json_object *o, struct dk_pool *ret, struct gl_err *err)
{
	struct dk_pool p = { 0 };
	json_object *aux = NULL;
	int64_t hold = 0;

	if (get_str(o, "id", p.id, sizeof(p.id), err) < 0 || get_prefix(o, "subnet", &p.subnet, NULL, err) < 0 ||
	    get_prefix(o, "range", &p.range, &p.has_range, err) < 0 ||
	    get_ip(o, "gateway", &p.gw, &p.has_gw, err) < 0 ||
	    get_str(o, "networkId", p.network_id, sizeof(p.network_id), err) < 0 ||
	    gl_json_get_int(o, "record", "holdMs", 1, INT64_MAX, &hold, err) < 0 ||
	    gl_json_get_array(o, "record", "aux", &aux, err) < 0)
		return -EINVAL;
	p.hold_ms = hold > 0 ? hold : 24LL * 3600 * 1000;
	for (size_t i = 0; aux && i < json_object_array_length(aux); i++) {
		json_object *a = json_object_array_get_idx(aux, i);

		if (p.n_aux >= DK_AUX_MAX || !json_object_is_type(a, json_type_string) ||
		    gl_ip_parse(json_object_get_string(a), &p.aux[p.n_aux]) < 0)
			return gl_err_set(err, GL_ERR_DECODE, "record.aux[%zu] is bad", i);
		p.n_aux++;
	}
	if (!p.id[0])
		return gl_err_set(err, GL_ERR_DECODE, "record.id is missing");
	*ret = p;
	return 0;
}

json_object *dk_net_to_json(const struct dk_net *n)
{
	json_object *o = json_object_new_object();

	put_str(o, "id", n->id);
	put_str(o, "parent", n->parent);
	put_str(o, "master", n->master);
	json_object_object_add(o, "vlan", json_object_new_int(n->vlan));
	json_object_object_add(o, "madeParent", json_object_new_boolean(n->made_parent));
	put_str(o, "mode", dk_mode_str(n->mode));
	json_object_object_add(o, "snat", json_object_new_boolean(n->snat));
	put_prefix(o, "subnet", &n->subnet);
	if (n->has_gw)
		put_ip(o, "gateway", &n->gw);
	put_str(o, "poolId", n->pool_id);
	put_str(o, "name", n->name);
	return o;
}

int dk_net_from_json(json_object *o, struct dk_net *ret, struct gl_err *err)
{
	struct dk_net n = { 0 };
	char mode[16];
	int64_t vlan = 0;

	if (get_str(o, "id", n.id, sizeof(n.id), err) < 0 ||
	    get_str(o, "parent", n.parent, sizeof(n.parent), err) < 0 ||
	    get_str(o, "master", n.master, sizeof(n.master), err) < 0 ||
	    gl_json_get_int(o, "record", "vlan", 0, 4094, &vlan, err) < 0 ||
	    gl_json_get_bool(o, "record", "madeParent", &n.made_parent, err) < 0 ||
	    get_str(o, "mode", mode, sizeof(mode), err) < 0 || dk_mode_parse(mode, &n.mode, err) < 0 ||
	    gl_json_get_bool(o, "record", "snat", &n.snat, err) < 0 ||
	    get_prefix(o, "subnet", &n.subnet, NULL, err) < 0 ||
	    get_ip(o, "gateway", &n.gw, &n.has_gw, err) < 0 ||
	    get_str(o, "poolId", n.pool_id, sizeof(n.pool_id), err) < 0 ||
	    get_str(o, "name", n.name, sizeof(n.name), err) < 0)
		return -EINVAL;
	if (!dk_id_valid(n.id) || !n.master[0])
		return gl_err_set(err, GL_ERR_DECODE, "record: a network without id or master");
	n.vlan = (uint16_t)vlan;
	*ret = n;
	return 0;
}

json_object *dk_ep_to_json(const struct dk_ep *e)
{
	json_object *o = json_object_new_object();
	char b[GL_MAC_STRLEN];

	put_str(o, "id", e->id);
	put_str(o, "network", e->net);
	put_prefix(o, "address", &e->addr);
	put_str(o, "mac", gl_mac_str(e->mac, b, sizeof(b)));
	put_str(o, "sandbox", e->sandbox);
	put_str(o, "ifname", e->ifname);
	json_object_object_add(o, "snat", json_object_new_boolean(e->snat));
	return o;
}

int dk_ep_from_json(json_object *o, struct dk_ep *ret, struct gl_err *err)
{
	struct dk_ep e = { 0 };
	char mac[GL_MAC_STRLEN + 1];

	if (get_str(o, "id", e.id, sizeof(e.id), err) < 0 || get_str(o, "network", e.net, sizeof(e.net), err) < 0 ||
	    get_prefix(o, "address", &e.addr, NULL, err) < 0 || get_str(o, "mac", mac, sizeof(mac), err) < 0 ||
	    get_str(o, "sandbox", e.sandbox, sizeof(e.sandbox), err) < 0 ||
	    get_str(o, "ifname", e.ifname, sizeof(e.ifname), err) < 0 ||
	    gl_json_get_bool(o, "record", "snat", &e.snat, err) < 0)
		return -EINVAL;
	if (!dk_id_valid(e.id) || !dk_id_valid(e.net) || gl_mac_parse(mac, e.mac) < 0)
		return gl_err_set(err, GL_ERR_DECODE, "record: a bad endpoint");
	*ret = e;
	return 0;
}

/* ---- naming the container ---- */

bool dk_id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]) || isupper((unsigned char)id[i]))
			return false;
	return true;
}

bool dk_name_valid(const char *name)
{
	size_t n;

	if (name[0] == '/')
		name++;
	n = strlen(name);
	if (n == 0 || n >= DK_NAME_MAX || !isalnum((unsigned char)name[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("_.-", name[i]))
			return false;
	return true;
}

void dk_link_name(const char *ep_id, char buf[IFNAMSIZ])
{
	snprintf(buf, IFNAMSIZ, "%s%.12s", DK_LINK_PREFIX, ep_id);
}

static json_object *parse_any(const char *body, size_t len)
{
	struct json_tokener *tok;
	json_object *o;

	if (len > INT32_MAX)
		return NULL;
	tok = json_tokener_new_ex(32);
	if (!tok)
		return NULL;
	o = json_tokener_parse_ex(tok, body, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success && o) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The container's entry for network_name in NetworkSettings.Networks, NULL
 * when it has none. */
static json_object *net_entry(json_object *c, const char *network_name)
{
	json_object *ns, *nets, *e;

	if (!json_object_object_get_ex(c, "NetworkSettings", &ns) || !json_object_is_type(ns, json_type_object) ||
	    !json_object_object_get_ex(ns, "Networks", &nets) || !json_object_is_type(nets, json_type_object) ||
	    !json_object_object_get_ex(nets, network_name, &e) || !json_object_is_type(e, json_type_object))
		return NULL;
	return e;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int dk_who_parse(const char *body, size_t len, const char *network_name, struct dk_who *ret)
{
	_cleanup_json_ json_object *list = parse_any(body, len);
	struct dk_who *w = ret;
	size_t n;

	if (!list || !json_object_is_type(list, json_type_array))
		return -EBADMSG;
	w->n_candidates = 0;
	w->n_ids = 0;
	w->name[0] = w->cid[0] = '\0';
	n = json_object_array_length(list);
	for (size_t i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(list, i), *names, *e;
		const char *id = str_of(c, "Id"), *state = str_of(c, "State"), *name = NULL, *ep;

		if (!json_object_is_type(c, json_type_object) || !id || !dk_id_valid(id))
			return -EBADMSG;
		if (w->n_ids >= 0 && w->n_ids < DK_HOLDERS_MAX)
			gl_strlcpy(w->ids[w->n_ids++], id, DK_ID_MAX);
		else
			w->n_ids = -1;
		e = net_entry(c, network_name);
		if (!e)
			continue;
		ep = str_of(e, "EndpointID");
		/* The one being started: not running yet, no endpoint on this network. */
		if ((state && strcmp(state, "running") == 0) || (ep && *ep))
			continue;
		if (json_object_object_get_ex(c, "Names", &names) && json_object_is_type(names, json_type_array) &&
		    json_object_array_length(names) > 0 &&
		    json_object_is_type(json_object_array_get_idx(names, 0), json_type_string))
			name = json_object_get_string(json_object_array_get_idx(names, 0));
		if (!name || !dk_name_valid(name))
			return -EBADMSG;
		if (++w->n_candidates == 1) {
			gl_strlcpy(w->name, name[0] == '/' ? name + 1 : name, sizeof(w->name));
			gl_strlcpy(w->cid, id, sizeof(w->cid));
		}
	}
	if (w->n_candidates != 1)
		w->name[0] = w->cid[0] = '\0';
	return 0;
}

int dk_ep_name_parse(const char *body, size_t len, const char *ep_id, char ret_name[DK_NAME_MAX],
		     char ret_cid[GL_CNI_ID_MAX])
{
	_cleanup_json_ json_object *net = parse_any(body, len);
	json_object *ctrs;

	if (!net || !json_object_is_type(net, json_type_object))
		return -EBADMSG;
	if (!json_object_object_get_ex(net, "Containers", &ctrs) || !json_object_is_type(ctrs, json_type_object))
		return -ENOENT;
	json_object_object_foreach(ctrs, key, c) {
		const char *ep = str_of(c, "EndpointID"), *name = str_of(c, "Name");

		if (!ep || strcmp(ep, ep_id) != 0 || !name || !dk_name_valid(name))
			continue;
		gl_strlcpy(ret_name, name[0] == '/' ? name + 1 : name, DK_NAME_MAX);
		/* "ep-<id>" keys stand for a container this daemon does not know yet. */
		gl_strlcpy(ret_cid, dk_id_valid(key) ? key : "", GL_CNI_ID_MAX);
		return 0;
	}
	return -ENOENT;
}

int dk_net_name_parse(const char *body, size_t len, char ret_name[DK_NAME_MAX])
{
	_cleanup_json_ json_object *net = parse_any(body, len);
	const char *name;

	if (!net || !json_object_is_type(net, json_type_object))
		return -EBADMSG;
	name = str_of(net, "Name");
	if (!name || name[0] == '/' || !dk_name_valid(name))
		return -EBADMSG;
	gl_strlcpy(ret_name, name, DK_NAME_MAX);
	return 0;
}

int dk_label_parse(const char *body, size_t len, const char *key, char *buf, size_t size)
{
	_cleanup_json_ json_object *list = parse_any(body, len);
	json_object *c, *labels;
	const char *v;

	if (!list || !json_object_is_type(list, json_type_array))
		return -EBADMSG;
	if (json_object_array_length(list) < 1)
		return -ENOENT;
	c = json_object_array_get_idx(list, 0);
	if (!json_object_is_type(c, json_type_object))
		return -EBADMSG;
	if (!json_object_object_get_ex(c, "Labels", &labels) || !json_object_is_type(labels, json_type_object))
		return -ENOENT;
	v = str_of(labels, key);
	if (!v)
		return -ENOENT;
	return gl_strlcpy(buf, v, size) < 0 ? -EBADMSG : 0;
}
