/* gamelan-ipam's config: host-local's and whereabouts' field names, so that
 * migrating is a change of `type`, plus holds, pins, store, routes and DNS. */
#include "ipam/conf.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/json.h"
#include "base/util.h"

#define INVALID(err, ...) gl_err_set(err, GL_ERR_INVALID_CONFIG, __VA_ARGS__)

static const char *ipstr(const struct gl_ip *ip, char buf[GL_IP_STRLEN])
{
	return gl_ip_str(ip, buf, GL_IP_STRLEN);
}

static int parse_ip_str(const char *what, const char *key, const char *s, struct gl_ip *ret,
			struct gl_err *err)
{
	if (gl_ip_parse(s, ret) < 0)
		return INVALID(err, "%s.%s: \"%.64s\" is not an IP address", what, key, s);
	return 0;
}

static int get_ip(json_object *o, const char *what, const char *key, struct gl_ip *ret,
		  bool *present, struct gl_err *err)
{
	const char *s = NULL;
	int r = gl_json_get_str(o, what, key, &s, err);

	if (r < 0)
		return r;
	*present = r > 0;
	if (r == 0)
		return 0;
	return parse_ip_str(what, key, s, ret, err);
}

/* "addr/len" with an optional demand that host bits be clear (host-local's
 * rule for `subnet`); a bare address is accepted where allow_bare says so. */
static int parse_cidr(const char *what, const char *s, bool strict, bool allow_bare,
		      struct gl_prefix *ret, struct gl_err *err)
{
	struct gl_prefix p, m;
	char buf[GL_PREFIX_STRLEN];

	if (gl_prefix_parse(s, &p) < 0) {
		struct gl_ip ip;

		if (!allow_bare || gl_ip_parse(s, &ip) < 0)
			return INVALID(err, "%s: \"%.64s\" is not a CIDR (address/length)", what, s);
		p = (struct gl_prefix){ .ip = ip, .len = ip.family == AF_INET ? 32 : 128 };
	}
	m = gl_prefix_masked(&p);
	if (strict && !gl_ip_equal(&m.ip, &p.ip))
		return INVALID(err, "%s: %s has host bits set; the network address for /%u is %s",
			       what, s, p.len, gl_prefix_str(&m, buf, sizeof(buf)));
	*ret = m;
	return 0;
}

static bool v4(const struct gl_ip *ip)
{
	return ip->family == AF_INET;
}

/* host-local's defaults: from the address after the network address to the
 * one before the IPv4 broadcast (IPv6: the last address). */
static struct gl_ip default_start(const struct gl_prefix *subnet)
{
	struct gl_ip ip = gl_prefix_first(subnet);

	gl_ip_add(&ip, 1, &ip);
	return ip;
}

static struct gl_ip default_end(const struct gl_prefix *subnet)
{
	struct gl_ip ip = gl_prefix_last(subnet);

	if (v4(&ip))
		gl_ip_add(&ip, -1, &ip);
	return ip;
}

/* Check a range once subnet, start, end and gateway are known. */
static int range_validate(const char *what, struct gl_ipam_range *rg, struct gl_err *err)
{
	char a[GL_IP_STRLEN], b[GL_IP_STRLEN], n[GL_PREFIX_STRLEN];
	unsigned max = v4(&rg->subnet.ip) ? 32 : 128;

	gl_prefix_str(&rg->subnet, n, sizeof(n));
	if (rg->subnet.len > max - 2)
		return INVALID(err, "%s: network %s is too small to allocate from", what, n);
	if (!gl_prefix_contains(&rg->subnet, &rg->start))
		return INVALID(err, "%s: range start %s is not in network %s", what, ipstr(&rg->start, a), n);
	if (!gl_prefix_contains(&rg->subnet, &rg->end))
		return INVALID(err, "%s: range end %s is not in network %s", what, ipstr(&rg->end, a), n);
	if (gl_ip_cmp(&rg->start, &rg->end) > 0)
		return INVALID(err, "%s: range start %s is after range end %s", what,
			       ipstr(&rg->start, a), ipstr(&rg->end, b));
	if (rg->has_gateway && !gl_prefix_contains(&rg->subnet, &rg->gateway))
		return INVALID(err, "%s: gateway %s is not in network %s", what,
			       ipstr(&rg->gateway, a), n);
	return 0;
}

/* A host-local range object {subnet, rangeStart, rangeEnd, gateway}. */
static int parse_hostlocal_range(json_object *o, const char *what, struct gl_ipam_range *ret,
				 struct gl_err *err)
{
	struct gl_ipam_range rg = {0};
	const char *subnet = NULL;
	bool has_start, has_end;
	char w[96];
	int r;

	if (!json_object_is_type(o, json_type_object))
		return INVALID(err, "%s must be an object", what);
	r = gl_json_get_str(o, what, "subnet", &subnet, err);
	if (r < 0)
		return r;
	if (r == 0)
		return INVALID(err, "%s.subnet is missing", what);
	snprintf(w, sizeof(w), "%s.subnet", what);
	r = parse_cidr(w, subnet, true, false, &rg.subnet, err);
	if (r < 0)
		return r;
	if (get_ip(o, what, "rangeStart", &rg.start, &has_start, err) < 0 ||
	    get_ip(o, what, "rangeEnd", &rg.end, &has_end, err) < 0 ||
	    get_ip(o, what, "gateway", &rg.gateway, &rg.has_gateway, err) < 0)
		return -EINVAL;
	if (!has_start)
		rg.start = default_start(&rg.subnet);
	if (!has_end)
		rg.end = default_end(&rg.subnet);
	/* host-local claims the first address as the gateway when none is given. */
	if (!rg.has_gateway) {
		rg.gateway = default_start(&rg.subnet);
		rg.has_gateway = true;
	}
	r = range_validate(what, &rg, err);
	if (r < 0)
		return r;
	*ret = rg;
	return 0;
}

/* whereabouts' "range": a CIDR, or "first-last/len". */
static int parse_wb_range(const char *what, const char *s, struct gl_ipam_range *ret,
			  struct gl_err *err)
{
	struct gl_ipam_range rg = {0};
	const char *dash = strchr(s, '-');

	if (!dash) {
		if (parse_cidr(what, s, false, false, &rg.subnet, err) < 0)
			return -EINVAL;
		rg.start = default_start(&rg.subnet);
		rg.end = default_end(&rg.subnet);
	} else {
		char first[GL_IP_STRLEN + 1];
		size_t n = (size_t)(dash - s);
		struct gl_prefix p;

		if (n == 0 || n >= sizeof(first))
			return INVALID(err, "%s: \"%.64s\" is not a CIDR or first-last/length", what, s);
		memcpy(first, s, n);
		first[n] = '\0';
		if (gl_ip_parse(first, &rg.start) < 0 || gl_prefix_parse(dash + 1, &p) < 0)
			return INVALID(err, "%s: \"%.64s\" is not a CIDR or first-last/length", what, s);
		rg.end = p.ip;
		if (rg.start.family != rg.end.family)
			return INVALID(err, "%s: \"%.64s\" mixes IPv4 and IPv6", what, s);
		rg.subnet = gl_prefix_masked(&(struct gl_prefix){ .ip = rg.start, .len = p.len });
	}
	*ret = rg;
	return 0;
}

/* A whereabouts range object {range, range_start, range_end, gateway}. The
 * top-level ipam object is one too. */
static int parse_wb_object(json_object *o, const char *what, const char *range,
			   struct gl_ipam_range *ret, struct gl_err *err)
{
	struct gl_ipam_range rg;
	bool has;
	struct gl_ip ip;
	char w[96];
	int r;

	snprintf(w, sizeof(w), "%s.range", what);
	r = parse_wb_range(w, range, &rg, err);
	if (r < 0)
		return r;
	if (get_ip(o, what, "range_start", &ip, &has, err) < 0)
		return -EINVAL;
	if (has)
		rg.start = ip;
	if (get_ip(o, what, "range_end", &ip, &has, err) < 0)
		return -EINVAL;
	if (has)
		rg.end = ip;
	/* whereabouts hands out no gateway unless one is configured. */
	if (get_ip(o, what, "gateway", &rg.gateway, &rg.has_gateway, err) < 0)
		return -EINVAL;
	r = range_validate(what, &rg, err);
	if (r < 0)
		return r;
	*ret = rg;
	return 0;
}

static int pool_add_range(struct gl_ipam_conf *c, int pool, const struct gl_ipam_range *rg,
			  const char *what, struct gl_err *err)
{
	struct gl_ipam_pool *p = &c->pools[pool];

	if (p->n_ranges >= GL_IPAM_MAX_RANGES)
		return INVALID(err, "%s: at most %d ranges in one range set", what, GL_IPAM_MAX_RANGES);
	if (p->n_ranges > 0 && p->family != rg->subnet.ip.family)
		return INVALID(err, "%s: a range set mixes IPv4 and IPv6 (use one range set per family)",
			       what);
	p->family = rg->subnet.ip.family;
	p->ranges[p->n_ranges++] = *rg;
	return 0;
}

static int new_pool(struct gl_ipam_conf *c, const char *what, struct gl_err *err)
{
	if (c->n_pools >= GL_IPAM_MAX_POOLS)
		return INVALID(err, "%s: at most %d range sets", what, GL_IPAM_MAX_POOLS);
	return c->n_pools++;
}

static int parse_excludes(json_object *o, const char *what, struct gl_ipam_conf *c,
			  struct gl_err *err)
{
	json_object *arr = NULL;
	char w[96];
	int r = gl_json_get_array(o, what, "exclude", &arr, err);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		snprintf(w, sizeof(w), "%s.exclude[%zu]", what, i);
		if (!json_object_is_type(e, json_type_string))
			return INVALID(err, "%s must be a string", w);
		if (c->n_excludes >= GL_IPAM_MAX_EXCLUDES)
			return INVALID(err, "%s.exclude: at most %d entries", what, GL_IPAM_MAX_EXCLUDES);
		r = parse_cidr(w, json_object_get_string(e), false, true,
			       &c->excludes[c->n_excludes], err);
		if (r < 0)
			return r;
		c->n_excludes++;
	}
	return 0;
}

/* host-local: top-level subnet (old style), then `ranges`. */
static int parse_hostlocal(json_object *ipam, struct gl_ipam_conf *c, struct gl_err *err)
{
	json_object *ranges = NULL, *subnet = NULL;
	char w[64];
	int r;

	if (json_object_object_get_ex(ipam, "subnet", &subnet) && subnet) {
		struct gl_ipam_range rg;
		int p;

		r = parse_hostlocal_range(ipam, "ipam", &rg, err);
		if (r < 0)
			return r;
		p = new_pool(c, "ipam", err);
		if (p < 0)
			return p;
		r = pool_add_range(c, p, &rg, "ipam", err);
		if (r < 0)
			return r;
	}
	r = gl_json_get_array(ipam, "ipam", "ranges", &ranges, err);
	if (r < 0)
		return r;
	for (size_t i = 0; ranges && i < json_object_array_length(ranges); i++) {
		json_object *set = json_object_array_get_idx(ranges, i);
		int p;

		snprintf(w, sizeof(w), "ipam.ranges[%zu]", i);
		if (!json_object_is_type(set, json_type_array))
			return INVALID(err, "%s must be an array of ranges", w);
		if (json_object_array_length(set) == 0)
			return INVALID(err, "%s is empty", w);
		p = new_pool(c, w, err);
		if (p < 0)
			return p;
		for (size_t j = 0; j < json_object_array_length(set); j++) {
			struct gl_ipam_range rg;
			char wj[96];

			snprintf(wj, sizeof(wj), "%s[%zu]", w, j);
			r = parse_hostlocal_range(json_object_array_get_idx(set, j), wj, &rg, err);
			if (r < 0)
				return r;
			r = pool_add_range(c, p, &rg, wj, err);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* whereabouts: top-level range, then `ipRanges` (its dual-stack form). */
static int parse_whereabouts(json_object *ipam, struct gl_ipam_conf *c, struct gl_err *err)
{
	json_object *arr = NULL;
	const char *range = NULL;
	int r;

	r = gl_json_get_str(ipam, "ipam", "range", &range, err);
	if (r < 0)
		return r;
	if (range) {
		struct gl_ipam_range rg;
		int p;

		r = parse_wb_object(ipam, "ipam", range, &rg, err);
		if (r < 0)
			return r;
		p = new_pool(c, "ipam.range", err);
		if (p < 0)
			return p;
		r = pool_add_range(c, p, &rg, "ipam.range", err);
		if (r < 0)
			return r;
	}
	r = parse_excludes(ipam, "ipam", c, err);
	if (r < 0)
		return r;
	r = gl_json_get_array(ipam, "ipam", "ipRanges", &arr, err);
	if (r < 0)
		return r;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct gl_ipam_range rg;
		char w[64];
		int p;

		snprintf(w, sizeof(w), "ipam.ipRanges[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return INVALID(err, "%s must be an object", w);
		r = gl_json_get_str(o, w, "range", &range, err);
		if (r < 0)
			return r;
		if (r == 0)
			return INVALID(err, "%s.range is missing", w);
		r = parse_wb_object(o, w, range, &rg, err);
		if (r < 0)
			return r;
		r = parse_excludes(o, w, c, err);
		if (r < 0)
			return r;
		p = new_pool(c, w, err);
		if (p < 0)
			return p;
		r = pool_add_range(c, p, &rg, w, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static bool ranges_overlap(const struct gl_ipam_range *a, const struct gl_ipam_range *b)
{
	if (a->start.family != b->start.family)
		return false;
	return gl_ip_cmp(&a->start, &b->end) <= 0 && gl_ip_cmp(&b->start, &a->end) <= 0;
}

/* Two ranges that share an address would hand it out twice. */
static int check_overlaps(const struct gl_ipam_conf *c, struct gl_err *err)
{
	for (int p = 0; p < c->n_pools; p++)
		for (int i = 0; i < c->pools[p].n_ranges; i++)
			for (int q = p; q < c->n_pools; q++)
				for (int j = q == p ? i + 1 : 0; j < c->pools[q].n_ranges; j++)
					if (ranges_overlap(&c->pools[p].ranges[i], &c->pools[q].ranges[j]))
						return INVALID(err, "range %d of range set %d overlaps range %d of range set %d",
							       i, p, j, q);
	return 0;
}

static int parse_duration(json_object *o, const char *key, int64_t *ret, struct gl_err *err)
{
	const char *s = NULL;
	int r = gl_json_get_str(o, "ipam", key, &s, err);

	if (r <= 0)
		return r;
	if (gl_duration_parse(s, ret) < 0)
		return INVALID(err, "ipam.%s: \"%.64s\" is not a duration (like \"10m\", \"24h\", \"7d\" or \"forever\")",
			       key, s);
	return 0;
}

static bool identity_valid(const char *s)
{
	if (!*s || strlen(s) >= GL_CNI_IDENTITY_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s == 0x7f)
			return false;
	return true;
}

static int pin_add_ip(struct gl_ipam_conf *c, struct gl_ipam_pin *pin, const char *s,
		      struct gl_err *err)
{
	char a[GL_IP_STRLEN];
	struct gl_ip ip;
	int pool;

	if (gl_ip_parse(s, &ip) < 0)
		return INVALID(err, "ipam.pins[\"%.64s\"]: \"%.64s\" is not an IP address", pin->identity, s);
	pool = gl_ipamconf_pool_of(c, &ip);
	if (pool < 0)
		return INVALID(err, "ipam.pins[\"%.64s\"]: %s is not in the subnet of any range",
			       pin->identity, s);
	if (gl_ipamconf_reserved(c, pool, &ip))
		return INVALID(err, "ipam.pins[\"%.64s\"]: %s is a gateway or a network/broadcast address",
			       pin->identity, s);
	for (int i = 0; i < pin->n_ips; i++)
		if (pin->pool[i] == pool)
			return INVALID(err, "ipam.pins[\"%.64s\"]: %s and %s are in the same range set (one address per range set)",
				       pin->identity, ipstr(&pin->ips[i], a), s);
	for (int k = 0; k < c->n_pins; k++)
		for (int i = 0; i < c->pins[k].n_ips; i++)
			if (gl_ip_equal(&c->pins[k].ips[i], &ip))
				return INVALID(err, "ipam.pins: %s is pinned for both \"%.64s\" and \"%.64s\"",
					       s, c->pins[k].identity, pin->identity);
	pin->ips[pin->n_ips] = ip;
	pin->pool[pin->n_ips] = pool;
	pin->n_ips++;
	return 0;
}

/* {"ns/pod": "ip"} or {"ns/pod": ["ipv4", "ipv6"]}. */
static int parse_pins(json_object *ipam, struct gl_ipam_conf *c, struct gl_err *err)
{
	json_object *pins = NULL;
	int r = gl_json_get_object(ipam, "ipam", "pins", &pins, err);
	int n;

	if (r <= 0)
		return r;
	n = json_object_object_length(pins);
	if (n > GL_IPAM_MAX_PINS)
		return INVALID(err, "ipam.pins: at most %d pins", GL_IPAM_MAX_PINS);
	c->pins = calloc(n ? (size_t)n : 1, sizeof(*c->pins));
	if (!c->pins)
		return -ENOMEM;
	json_object_object_foreach(pins, key, val) {
		struct gl_ipam_pin *pin = &c->pins[c->n_pins];

		if (!identity_valid(key))
			return INVALID(err, "ipam.pins: identity \"%.64s\" must be 1-%d printable characters without spaces",
				       key, GL_CNI_IDENTITY_MAX - 1);
		pin->identity = strdup(key);
		if (!pin->identity)
			return -ENOMEM;
		if (json_object_is_type(val, json_type_string)) {
			r = pin_add_ip(c, pin, json_object_get_string(val), err);
			if (r < 0)
				goto fail;
		} else if (json_object_is_type(val, json_type_array)) {
			size_t len = json_object_array_length(val);

			if (len == 0 || len > GL_IPAM_MAX_POOLS) {
				r = INVALID(err, "ipam.pins[\"%.64s\"] must list 1-%d addresses", key,
					    GL_IPAM_MAX_POOLS);
				goto fail;
			}
			for (size_t i = 0; i < len; i++) {
				json_object *e = json_object_array_get_idx(val, i);

				if (!json_object_is_type(e, json_type_string)) {
					r = INVALID(err, "ipam.pins[\"%.64s\"][%zu] must be a string", key, i);
					goto fail;
				}
				r = pin_add_ip(c, pin, json_object_get_string(e), err);
				if (r < 0)
					goto fail;
			}
		} else {
			r = INVALID(err, "ipam.pins[\"%.64s\"] must be an address or a list of addresses", key);
			goto fail;
		}
		c->n_pins++;
	}
	return 0;
fail:
	/* The pin being built is not counted yet; free its identity here. */
	free(c->pins[c->n_pins].identity);
	c->pins[c->n_pins].identity = NULL;
	return r;
}

/* Paths with ".." could leave the directory an admin meant; relative paths
 * depend on the runtime's working directory. */
static bool db_path_valid(const char *p)
{
	const char *s;

	if (p[0] != '/' || p[strlen(p) - 1] == '/')
		return false;
	for (s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '/' || s[2] == '\0'))
			return false;
	for (s = p; *s; s++)
		if ((unsigned char)*s < ' ')
			return false;
	return true;
}

bool gl_ipamconf_dns_label_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static int parse_store_kube(json_object *store, struct gl_ipam_conf *c, struct gl_err *err)
{
	int r = gl_json_get_strbuf(store, "ipam.store", "kubeconfig", c->store.kubeconfig,
				   sizeof(c->store.kubeconfig), err);

	if (r < 0)
		return r;
	if (r > 0 && !db_path_valid(c->store.kubeconfig))
		return INVALID(err, "ipam.store.kubeconfig \"%.128s\" must be an absolute file path without \"..\"",
			       c->store.kubeconfig);
	r = gl_json_get_strbuf(store, "ipam.store", "namespace", c->store.namespace,
			       sizeof(c->store.namespace), err);
	if (r < 0)
		return r;
	if (!gl_ipamconf_dns_label_valid(c->store.namespace))
		return INVALID(err, "ipam.store.namespace \"%.64s\" must be a Kubernetes namespace name "
			       "(lowercase letters, digits and '-', at most 63)", c->store.namespace);
	/* SQLite's path has no meaning here; DEL and CHECK must not look for it. */
	c->store.path[0] = '\0';
	return 0;
}

static int parse_store(json_object *ipam, struct gl_ipam_conf *c, struct gl_err *err)
{
	json_object *store = NULL;
	int r;

	strcpy(c->store.type, "sqlite");
	strcpy(c->store.path, GL_IPAM_DEFAULT_DB);
	strcpy(c->store.namespace, GL_IPAM_DEFAULT_KUBE_NAMESPACE);
	r = gl_json_get_object(ipam, "ipam", "store", &store, err);
	if (r <= 0)
		return r;
	r = gl_json_get_strbuf(store, "ipam.store", "type", c->store.type, sizeof(c->store.type), err);
	if (r < 0)
		return r;
	if (strcmp(c->store.type, "kubernetes") == 0)
		return parse_store_kube(store, c, err);
	if (strcmp(c->store.type, "sqlite") != 0)
		return INVALID(err, "ipam.store.type \"%s\" is not supported (supported: \"sqlite\", \"kubernetes\")",
			       c->store.type);
	r = gl_json_get_strbuf(store, "ipam.store", "path", c->store.path, sizeof(c->store.path), err);
	if (r < 0)
		return r;
	if (!db_path_valid(c->store.path))
		return INVALID(err, "ipam.store.path \"%.128s\" must be an absolute file path without \"..\"",
			       c->store.path);
	return 0;
}

static int parse_routes(json_object *ipam, struct gl_ipam_conf *c, struct gl_err *err)
{
	json_object *arr = NULL;
	int r = gl_json_get_array(ipam, "ipam", "routes", &arr, err);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);
		struct gl_cni_route *rt = &c->routes[c->n_routes];
		const char *dst = NULL;
		int64_t prio = 0;
		char w[64];

		snprintf(w, sizeof(w), "ipam.routes[%zu]", i);
		if (!json_object_is_type(o, json_type_object))
			return INVALID(err, "%s must be an object", w);
		if (c->n_routes >= GL_CNI_MAX_ROUTES)
			return INVALID(err, "ipam.routes: at most %d routes", GL_CNI_MAX_ROUTES);
		memset(rt, 0, sizeof(*rt));
		r = gl_json_get_str(o, w, "dst", &dst, err);
		if (r < 0)
			return r;
		if (r == 0)
			return INVALID(err, "%s.dst is missing", w);
		if (gl_prefix_parse(dst, &rt->dst) < 0)
			return INVALID(err, "%s.dst: \"%.64s\" is not a CIDR (address/length)", w, dst);
		rt->dst = gl_prefix_masked(&rt->dst);
		if (get_ip(o, w, "gw", &rt->gw, &rt->has_gw, err) < 0)
			return -EINVAL;
		if (rt->has_gw && rt->gw.family != rt->dst.ip.family)
			return INVALID(err, "%s: gw and dst are of different address families", w);
		if (gl_json_get_int(o, w, "priority", 0, INT32_MAX, &prio, err) < 0)
			return -EINVAL;
		rt->priority = (int)prio;
		c->n_routes++;
	}
	return 0;
}

static int parse_str_list(json_object *o, const char *key, char *base, size_t stride,
			  int *count, bool want_ip, struct gl_err *err)
{
	json_object *arr = NULL;
	int r = gl_json_get_array(o, "ipam.dns", key, &arr, err);

	if (r <= 0)
		return r;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(e);
		struct gl_ip ip;

		if (!json_object_is_type(e, json_type_string))
			return INVALID(err, "ipam.dns.%s[%zu] must be a string", key, i);
		if (*count >= GL_CNI_MAX_DNS)
			return INVALID(err, "ipam.dns.%s: at most %d entries", key, GL_CNI_MAX_DNS);
		if (want_ip && gl_ip_parse(s, &ip) < 0)
			return INVALID(err, "ipam.dns.%s[%zu]: \"%.64s\" is not an IP address", key, i, s);
		if (gl_strlcpy(base + stride * (size_t)*count, s, stride) < 0)
			return INVALID(err, "ipam.dns.%s[%zu] is too long", key, i);
		(*count)++;
	}
	return 0;
}

static int parse_dns(json_object *ipam, struct gl_ipam_conf *c, struct gl_err *err)
{
	struct gl_cni_dns *d = &c->dns;
	json_object *dns = NULL;
	int r = gl_json_get_object(ipam, "ipam", "dns", &dns, err);

	if (r <= 0)
		return r;
	if (parse_str_list(dns, "nameservers", &d->nameservers[0][0], sizeof(d->nameservers[0]),
			   &d->n_nameservers, true, err) < 0 ||
	    parse_str_list(dns, "search", &d->search[0][0], sizeof(d->search[0]), &d->n_search,
			   false, err) < 0 ||
	    parse_str_list(dns, "options", &d->options[0][0], sizeof(d->options[0]), &d->n_options,
			   false, err) < 0 ||
	    gl_json_get_strbuf(dns, "ipam.dns", "domain", d->domain, sizeof(d->domain), err) < 0)
		return -EINVAL;
	return 0;
}

static int parse_network_name(json_object *ipam, const char *net_name, struct gl_ipam_conf *c,
			      struct gl_err *err)
{
	const char *s = NULL;
	int r = gl_json_get_str(ipam, "ipam", "network_name", &s, err);

	if (r < 0)
		return r;
	if (r == 0)
		s = net_name;
	if (!s || !*s)
		return INVALID(err, "the network has no name (set \"name\" or ipam.network_name)");
	if (gl_strlcpy(c->network, s, sizeof(c->network)) < 0)
		return INVALID(err, "%s is longer than %zu bytes",
			       r ? "ipam.network_name" : "the network name", sizeof(c->network) - 1);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p == 0x7f)
			return INVALID(err, "%s contains control characters",
				       r ? "ipam.network_name" : "the network name");
	return 0;
}

int gl_ipamconf_parse(json_object *ipam, const char *net_name, struct gl_ipam_conf *ret,
		      struct gl_err *err)
{
	_cleanup_free_ struct gl_ipam_conf *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	if (!ipam || !json_object_is_type(ipam, json_type_object))
		return INVALID(err, "ipam must be an object");
	c->hold_ms = GL_IPAM_DEFAULT_HOLD_MS;
	c->conflict_hold_ms = GL_IPAM_DEFAULT_CONFLICT_HOLD_MS;
	r = parse_network_name(ipam, net_name, c, err);
	if (r >= 0)
		r = parse_hostlocal(ipam, c, err);
	if (r >= 0)
		r = parse_whereabouts(ipam, c, err);
	if (r >= 0 && c->n_pools == 0)
		r = INVALID(err, "ipam needs an address range: \"subnet\", \"ranges\", \"range\" or \"ipRanges\"");
	if (r >= 0)
		r = check_overlaps(c, err);
	if (r >= 0)
		r = parse_duration(ipam, "hold", &c->hold_ms, err);
	if (r >= 0)
		r = parse_duration(ipam, "conflictHold", &c->conflict_hold_ms, err);
	if (r >= 0)
		r = parse_store(ipam, c, err);
	if (r >= 0)
		r = parse_routes(ipam, c, err);
	if (r >= 0)
		r = parse_dns(ipam, c, err);
	if (r >= 0)
		r = parse_pins(ipam, c, err);
	if (r < 0) {
		gl_ipamconf_free(c);
		return r;
	}
	*ret = *c;
	return 0;
}

int gl_ipamconf_parse_netconf(json_object *netconf, struct gl_ipam_conf *ret, struct gl_err *err)
{
	json_object *ipam = NULL;
	const char *name = NULL;
	int r;

	if (gl_json_get_str(netconf, NULL, "name", &name, err) < 0)
		return -EINVAL;
	r = gl_json_get_object(netconf, NULL, "ipam", &ipam, err);
	if (r < 0)
		return r;
	if (r == 0)
		return INVALID(err, "the network config has no ipam object");
	return gl_ipamconf_parse(ipam, name, ret, err);
}

void gl_ipamconf_free(struct gl_ipam_conf *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_pins; i++)
		free(c->pins[i].identity);
	free(c->pins);
	c->pins = NULL;
	c->n_pins = 0;
}

int gl_ipamconf_pool_of(const struct gl_ipam_conf *c, const struct gl_ip *ip)
{
	for (int p = 0; p < c->n_pools; p++)
		if (gl_ipamconf_range_of(c, p, ip))
			return p;
	return -1;
}

const struct gl_ipam_range *gl_ipamconf_range_of(const struct gl_ipam_conf *c, int pool,
						 const struct gl_ip *ip)
{
	if (pool < 0 || pool >= c->n_pools)
		return NULL;
	for (int i = 0; i < c->pools[pool].n_ranges; i++)
		if (gl_prefix_contains(&c->pools[pool].ranges[i].subnet, ip))
			return &c->pools[pool].ranges[i];
	return NULL;
}

const struct gl_ipam_pin *gl_ipamconf_pin_of(const struct gl_ipam_conf *c, const char *identity)
{
	for (int i = 0; i < c->n_pins; i++)
		if (strcmp(c->pins[i].identity, identity) == 0)
			return &c->pins[i];
	return NULL;
}

bool gl_ipamconf_excluded(const struct gl_ipam_conf *c, const struct gl_ip *ip)
{
	for (int i = 0; i < c->n_excludes; i++)
		if (gl_prefix_contains(&c->excludes[i], ip))
			return true;
	return false;
}

bool gl_ipamconf_reserved(const struct gl_ipam_conf *c, int pool, const struct gl_ip *ip)
{
	if (pool < 0 || pool >= c->n_pools)
		return false;
	for (int i = 0; i < c->pools[pool].n_ranges; i++) {
		const struct gl_ipam_range *rg = &c->pools[pool].ranges[i];
		struct gl_ip first, last;

		if (!gl_prefix_contains(&rg->subnet, ip))
			continue;
		if (rg->has_gateway && gl_ip_equal(&rg->gateway, ip))
			return true;
		first = gl_prefix_first(&rg->subnet);
		last = gl_prefix_last(&rg->subnet);
		if (gl_ip_equal(ip, &first) || (v4(ip) && gl_ip_equal(ip, &last)))
			return true;
	}
	return false;
}
