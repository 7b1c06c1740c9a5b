/* Router port-forwards: the forward codec (JSON, canonical rule comment,
 * command-line options), the set checks, the plan between a desired set
 * and a dump, its batch, and the thin apply, list, remove and flush. The
 * kernel is the only state: every rule's comment carries its forward's
 * whole canonical spec, so list and apply read the set back from a dump. */
#include "net/forward.h"
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/json.h"
#include "base/util.h"
#include "cni/cni.h"

/* Attempts when the ruleset changes between our dump and our batch. */
#define APPLY_ATTEMPTS 3

void gl_fwd_set_free(struct gl_fwd_set *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int gl_fwd_set_push(struct gl_fwd_set *s, const struct gl_fwd *f)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct gl_fwd *p;

		if (s->n >= GL_FWD_SET_MAX)
			return -E2BIG;
		p = realloc(s->v, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = *f;
	return 0;
}

/* ---- one forward: checks, canonical comment ---- */

bool gl_fwd_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > GL_FWD_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

const char *gl_fwd_proto_str(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : "udp";
}

static int proto_parse(const char *s, uint8_t *ret)
{
	if (!strcmp(s, "udp"))
		*ret = IPPROTO_UDP;
	else if (!strcmp(s, "tcp"))
		*ret = IPPROTO_TCP;
	else
		return -EINVAL;
	return 0;
}

/* A whole forward makes sense on its own; `what` names it in messages. */
int gl_fwd_validate(const struct gl_fwd *f, const char *what, struct gl_err *err)
{
	if (!gl_fwd_name_valid(f->name))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "%s: name must be 1-%d characters of A-Z a-z 0-9 . _ -", what,
				  GL_FWD_NAME_MAX);
	if (!gl_cni_ifname_valid(f->wan_if))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: wanInterface '%s' is not an interface name",
				  what, f->wan_if);
	if (f->proto != IPPROTO_UDP && f->proto != IPPROTO_TCP)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: protocol must be udp or tcp", what);
	if (f->port == 0 || f->to_port == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: port and toPort must be 1-65535", what);
	if (f->to.family != AF_INET && f->to.family != AF_INET6)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: \"to\" must be an IP address", what);
	if (f->has_wan_addr && f->wan_addr.family != f->to.family)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "%s: wanAddress and \"to\" must be of the same family", what);
	if (f->snat && !f->has_lan_addr)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "%s: lanAddress is required when snat is true", what);
	if (f->has_lan_addr && f->lan_addr.family != f->to.family)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "%s: lanAddress and \"to\" must be of the same family", what);
	return 0;
}

/* Appenders for the comment: a dump and an apply build thousands of them,
 * and printf's machinery (inet_ntop included) was most of their cost. */
static char *put_str(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

static char *put_uint(char *p, unsigned v)
{
	char d[10];
	int n = 0;

	do
		d[n++] = (char)('0' + v % 10);
	while ((v /= 10));
	while (n)
		*p++ = d[--n];
	return p;
}

/* IPv4 as inet_ntop writes it; IPv6 (rare here, and its zero-run rules are
 * subtle) through inet_ntop itself. */
static char *put_ip(char *p, const struct gl_ip *ip)
{
	char buf[GL_IP_STRLEN];

	if (ip->family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = put_uint(p, ip->addr[i]);
		}
		return p;
	}
	return put_str(p, gl_ip_str(ip, buf, sizeof(buf)));
}

/* The canonical comment: every field, positional, one space apart:
 * "gamelan:fwd:NAME WANIF WANADDR|* PROTO PORT TO TOPORT LANADDR|- snat|nosnat".
 * The lan address is kept even with nosnat so that nothing given is lost. */
int gl_fwd_comment(const struct gl_fwd *f, char *buf, size_t size)
{
	/* Every field is bounded (name 63, interface 15, addresses 45): the
	 * whole fits here; the comment limit is checked after. */
	char c[sizeof(GL_FWD_COMMENT_PREFIX) + sizeof(f->name) + sizeof(f->wan_if) +
	       3 * GL_IP_STRLEN + 64];
	char *p = c;
	size_t n;

	p = put_str(p, GL_FWD_COMMENT_PREFIX);
	p = put_str(p, f->name);
	*p++ = ' ';
	p = put_str(p, f->wan_if);
	*p++ = ' ';
	if (f->has_wan_addr)
		p = put_ip(p, &f->wan_addr);
	else
		*p++ = '*';
	*p++ = ' ';
	p = put_str(p, gl_fwd_proto_str(f->proto));
	*p++ = ' ';
	p = put_uint(p, f->port);
	*p++ = ' ';
	p = put_ip(p, &f->to);
	*p++ = ' ';
	p = put_uint(p, f->to_port);
	*p++ = ' ';
	if (f->has_lan_addr)
		p = put_ip(p, &f->lan_addr);
	else
		*p++ = '-';
	*p++ = ' ';
	p = put_str(p, f->snat ? "snat" : "nosnat");
	n = (size_t)(p - c);
	if (n >= size || n > GL_NFT_COMMENT_MAX)
		return -ENAMETOOLONG;
	memcpy(buf, c, n);
	buf[n] = 0;
	return 0;
}

static int port_parse(const char *s, uint16_t *ret)
{
	char *end;
	unsigned long v;

	if (!s[0] || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return -EINVAL;
	*ret = (uint16_t)v;
	return 0;
}

/* The forward a comment of ours describes; -EINVAL when it is not one (or
 * not in canonical form, so a hand-edited rule never passes for ours). */
int gl_fwd_from_comment(const char *c, struct gl_fwd *ret)
{
	char copy[GL_NFT_COMMENT_MAX + 1], canon[GL_NFT_COMMENT_MAX + 1];
	char *field[9], *save = NULL, *p;
	struct gl_fwd f = { 0 };
	size_t plen = strlen(GL_FWD_COMMENT_PREFIX);
	int n = 0;

	if (strncmp(c, GL_FWD_COMMENT_PREFIX, plen) || gl_strlcpy(copy, c + plen, sizeof(copy)) < 0)
		return -EINVAL;
	for (p = strtok_r(copy, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
		if (n == 9)
			return -EINVAL;
		field[n++] = p;
	}
	if (n != 9)
		return -EINVAL;
	if (gl_strlcpy(f.name, field[0], sizeof(f.name)) < 0 ||
	    gl_strlcpy(f.wan_if, field[1], sizeof(f.wan_if)) < 0)
		return -EINVAL;
	if (strcmp(field[2], "*")) {
		if (gl_ip_parse(field[2], &f.wan_addr) < 0)
			return -EINVAL;
		f.has_wan_addr = true;
	}
	if (proto_parse(field[3], &f.proto) < 0 || port_parse(field[4], &f.port) < 0 ||
	    gl_ip_parse(field[5], &f.to) < 0 || port_parse(field[6], &f.to_port) < 0)
		return -EINVAL;
	if (strcmp(field[7], "-")) {
		if (gl_ip_parse(field[7], &f.lan_addr) < 0)
			return -EINVAL;
		f.has_lan_addr = true;
	}
	if (!strcmp(field[8], "snat"))
		f.snat = true;
	else if (strcmp(field[8], "nosnat"))
		return -EINVAL;
	if (gl_fwd_validate(&f, "comment", NULL) < 0 || gl_fwd_comment(&f, canon, sizeof(canon)) < 0 ||
	    strcmp(canon, c))
		return -EINVAL;
	*ret = f;
	return 0;
}

/* Equal forwards have equal canonical comments. */
bool gl_fwd_equal(const struct gl_fwd *a, const struct gl_fwd *b)
{
	char x[GL_NFT_COMMENT_MAX + 1], y[GL_NFT_COMMENT_MAX + 1];

	return gl_fwd_comment(a, x, sizeof(x)) == 0 && gl_fwd_comment(b, y, sizeof(y)) == 0 && !strcmp(x, y);
}

/* ---- a desired set: JSON, checks ---- */

/* Sorting a set by index: names, then the WAN match key. */
struct fwd_ix {
	const struct gl_fwd *f;
	size_t i;
};

static int ix_cmp(size_t a, size_t b)
{
	return a < b ? -1 : a > b;
}

static int by_name_cmp(const void *a, const void *b)
{
	const struct fwd_ix *x = a, *y = b;
	int c = strcmp(x->f->name, y->f->name);

	return c ? c : ix_cmp(x->i, y->i);
}

/* The packets a forward catches: interface, protocol, port, family. */
static int wan_key_cmp(const struct gl_fwd *a, const struct gl_fwd *b)
{
	int c = strcmp(a->wan_if, b->wan_if);

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return a->to.family - b->to.family;
}

/* By WAN key; within one, "any address" first, then by address. */
static int by_wan_cmp(const void *a, const void *b)
{
	const struct fwd_ix *x = a, *y = b;
	int c = wan_key_cmp(x->f, y->f);

	if (c)
		return c;
	if (x->f->has_wan_addr != y->f->has_wan_addr)
		return x->f->has_wan_addr ? 1 : -1;
	if (x->f->has_wan_addr &&
	    (c = memcmp(x->f->wan_addr.addr, y->f->wan_addr.addr, gl_ip_size(&x->f->wan_addr))))
		return c;
	return ix_cmp(x->i, y->i);
}

/* A conflicting pair (i < j); kept when it comes before *best, so that of
 * several conflicts the one earliest in the set is reported. */
static void pair_keep(size_t a, size_t b, bool name, size_t best[2], bool *best_name, bool *found)
{
	size_t i = a < b ? a : b, j = a < b ? b : a;

	if (*found && (i > best[0] || (i == best[0] && j >= best[1])))
		return;
	best[0] = i;
	best[1] = j;
	*best_name = name;
	*found = true;
}

/* Names unique, no two forwards catching the same packets. Sorted, then
 * neighbours compared: O(n log n), a set of thousands costs nothing. */
int gl_fwd_set_check(const struct gl_fwd_set *s, struct gl_err *err)
{
	_cleanup_free_ struct fwd_ix *v = NULL;
	size_t best[2] = { 0 };
	bool found = false, name = false;

	if (s->n < 2)
		return 0;
	v = malloc(s->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		v[i] = (struct fwd_ix){ .f = &s->v[i], .i = i };
	qsort(v, s->n, sizeof(*v), by_name_cmp);
	for (size_t k = 1; k < s->n; k++)
		if (!strcmp(v[k - 1].f->name, v[k].f->name))
			pair_keep(v[k - 1].i, v[k].i, true, best, &name, &found);
	qsort(v, s->n, sizeof(*v), by_wan_cmp);
	for (size_t g = 0, end; g < s->n; g = end) {
		for (end = g + 1; end < s->n && !wan_key_cmp(v[g].f, v[end].f); end++)
			;
		if (end - g < 2)
			continue;
		/* "Any address" overlaps every other forward of the group. */
		if (!v[g].f->has_wan_addr) {
			pair_keep(v[g].i, v[g + 1].i, false, best, &name, &found);
			continue;
		}
		for (size_t k = g + 1; k < end; k++)
			if (gl_ip_equal(&v[k - 1].f->wan_addr, &v[k].f->wan_addr))
				pair_keep(v[k - 1].i, v[k].i, false, best, &name, &found);
	}
	if (!found)
		return 0;
	if (name)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "forward \"%s\" is given twice",
				  s->v[best[0]].name);
	return gl_err_set(err, GL_ERR_INVALID_CONFIG,
			  "forwards \"%s\" and \"%s\" catch the same %s port %u on %s",
			  s->v[best[0]].name, s->v[best[1]].name, gl_fwd_proto_str(s->v[best[0]].proto),
			  s->v[best[0]].port, s->v[best[0]].wan_if);
}

static const char *const fwd_keys[] = { "name", "wanInterface", "wanAddress", "protocol", "port",
					"to", "toPort", "lanAddress", "snat" };

static int fwd_from_json(json_object *o, size_t idx, struct gl_fwd *ret, struct gl_err *err)
{
	char what[96], buf[GL_IP_STRLEN + 8];
	struct gl_fwd f = { .snat = true };
	int64_t v;
	int r;

	snprintf(what, sizeof(what), "forwards[%zu]", idx);
	if (!json_object_is_type(o, json_type_object))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s must be an object", what);
	r = gl_json_get_strbuf(o, what, "name", f.name, sizeof(f.name), err);
	if (r == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: name is required", what);
	if (r < 0)
		return r;
	/* From here on the messages name the forward itself. */
	snprintf(what, sizeof(what), "forward \"%s\"", f.name);
	json_object_object_foreach(o, key, val) {
		bool known = false;

		(void)val;
		for (size_t i = 0; i < GL_ARRAY_SIZE(fwd_keys); i++)
			known |= !strcmp(key, fwd_keys[i]);
		if (!known)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: unknown field \"%s\"", what, key);
	}
	r = gl_json_get_strbuf(o, what, "wanInterface", f.wan_if, sizeof(f.wan_if), err);
	if (r == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: wanInterface is required", what);
	if (r < 0)
		return r;
	if ((r = gl_json_get_strbuf(o, what, "wanAddress", buf, sizeof(buf), err)) < 0)
		return r;
	if (r > 0) {
		if (gl_ip_parse(buf, &f.wan_addr) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: wanAddress '%s' is not an IP address",
					  what, buf);
		f.has_wan_addr = true;
	}
	r = gl_json_get_strbuf(o, what, "protocol", buf, sizeof(buf), err);
	if (r == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: protocol is required", what);
	if (r < 0)
		return r;
	if (proto_parse(buf, &f.proto) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: unknown protocol '%s' (udp or tcp)",
				  what, buf);
	r = gl_json_get_int(o, what, "port", 1, 65535, &v, err);
	if (r == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: port is required", what);
	if (r < 0)
		return r;
	f.port = f.to_port = (uint16_t)v;
	r = gl_json_get_strbuf(o, what, "to", buf, sizeof(buf), err);
	if (r == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: \"to\" is required", what);
	if (r < 0)
		return r;
	if (gl_ip_parse(buf, &f.to) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: \"to\" '%s' is not an IP address",
				  what, buf);
	if ((r = gl_json_get_int(o, what, "toPort", 1, 65535, &v, err)) < 0)
		return r;
	if (r > 0)
		f.to_port = (uint16_t)v;
	if ((r = gl_json_get_strbuf(o, what, "lanAddress", buf, sizeof(buf), err)) < 0)
		return r;
	if (r > 0) {
		if (gl_ip_parse(buf, &f.lan_addr) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s: lanAddress '%s' is not an IP address",
					  what, buf);
		f.has_lan_addr = true;
	}
	if ((r = gl_json_get_bool(o, what, "snat", &f.snat, err)) < 0)
		return r;
	if ((r = gl_fwd_validate(&f, what, err)) < 0)
		return r;
	*ret = f;
	return 0;
}

/* Parse and check a whole apply document; nothing partial on error. */
int gl_fwd_set_parse(const char *buf, size_t len, struct gl_fwd_set *ret, struct gl_err *err)
{
	_cleanup_json_ json_object *root = NULL;
	json_object *arr = NULL;
	struct gl_fwd_set s = { 0 };
	size_t n;
	int r;

	if ((r = gl_json_parse_object(buf, len, &root, err)) < 0)
		return r;
	json_object_object_foreach(root, key, val) {
		(void)val;
		if (strcmp(key, "forwards"))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "unknown field \"%s\" (expected \"forwards\")",
					  key);
	}
	r = gl_json_get_array(root, NULL, "forwards", &arr, err);
	if (r < 0)
		return r;
	n = r > 0 ? json_object_array_length(arr) : 0;
	if (n > GL_FWD_SET_MAX)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "more than %d forwards", GL_FWD_SET_MAX);
	for (size_t i = 0; i < n; i++) {
		struct gl_fwd f;

		if ((r = fwd_from_json(json_object_array_get_idx(arr, i), i, &f, err)) < 0 ||
		    (r = gl_fwd_set_push(&s, &f)) < 0) {
			gl_fwd_set_free(&s);
			return r;
		}
	}
	if ((r = gl_fwd_set_check(&s, err)) < 0) {
		gl_fwd_set_free(&s);
		return r;
	}
	/* Every comment must fit: checked here so nothing is sent otherwise. */
	for (size_t i = 0; i < s.n; i++) {
		char c[GL_NFT_COMMENT_MAX + 1];

		if (gl_fwd_comment(&s.v[i], c, sizeof(c)) < 0) {
			r = gl_err_set(err, GL_ERR_INVALID_CONFIG,
				       "forward \"%s\": its description is longer than a rule comment can hold (%d bytes); use a shorter name",
				       s.v[i].name, GL_NFT_COMMENT_MAX);
			gl_fwd_set_free(&s);
			return r;
		}
	}
	*ret = s;
	return 0;
}

static json_object *fwd_to_json(const struct gl_fwd *f)
{
	json_object *o = json_object_new_object();
	char buf[GL_IP_STRLEN];

	if (!o)
		return NULL;
	json_object_object_add(o, "name", json_object_new_string(f->name));
	json_object_object_add(o, "wanInterface", json_object_new_string(f->wan_if));
	if (f->has_wan_addr)
		json_object_object_add(o, "wanAddress",
				       json_object_new_string(gl_ip_str(&f->wan_addr, buf, sizeof(buf))));
	json_object_object_add(o, "protocol", json_object_new_string(gl_fwd_proto_str(f->proto)));
	json_object_object_add(o, "port", json_object_new_int(f->port));
	json_object_object_add(o, "to", json_object_new_string(gl_ip_str(&f->to, buf, sizeof(buf))));
	json_object_object_add(o, "toPort", json_object_new_int(f->to_port));
	if (f->has_lan_addr)
		json_object_object_add(o, "lanAddress",
				       json_object_new_string(gl_ip_str(&f->lan_addr, buf, sizeof(buf))));
	json_object_object_add(o, "snat", json_object_new_boolean(f->snat));
	return o;
}

/* {"forwards":[...]}, the apply format: `list --json | apply -` is a no-op. */
char *gl_fwd_set_json(const struct gl_fwd_set *s)
{
	_cleanup_json_ json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();

	if (!root || !arr) {
		if (arr)
			json_object_put(arr);
		return NULL;
	}
	json_object_object_add(root, "forwards", arr);
	for (size_t i = 0; i < s->n; i++)
		json_object_array_add(arr, fwd_to_json(&s->v[i]));
	return gl_json_dump(root);
}

/* ---- what the kernel has ---- */

/* A rule of the dump by its comment, and a forward read from one. */
struct rule_ix {
	const char *comment;
	size_t i;
};

static int by_comment_cmp(const void *a, const void *b)
{
	const struct rule_ix *x = a, *y = b;
	int c = strcmp(x->comment, y->comment);

	return c ? c : ix_cmp(x->i, y->i);
}

struct fwd_at {
	struct gl_fwd f;
	size_t i;               /* the first rule that describes it */
};

static int at_name_cmp(const void *a, const void *b)
{
	const struct fwd_at *x = a, *y = b;
	int c = strcmp(x->f.name, y->f.name);

	return c ? c : ix_cmp(x->i, y->i);
}

static int at_index_cmp(const void *a, const void *b)
{
	const struct fwd_at *x = a, *y = b;

	return ix_cmp(x->i, y->i);
}

/* The forwards that the rules of our table describe, unique by name (the
 * first rule seen wins), in rule order. Foreign rules are skipped. Each
 * distinct comment is parsed once (a forward's two rules share one), and
 * sorting keeps it O(n log n). */
int gl_fwd_set_from_rules(const struct gl_nft_rule_info *rules, size_t n, struct gl_fwd_set *ret)
{
	_cleanup_free_ struct rule_ix *rv = NULL;
	_cleanup_free_ struct fwd_at *fv = NULL;
	struct gl_fwd_set s = { 0 };
	size_t nr = 0, nf = 0, kept = 0;
	int r;

	rv = malloc((n + 1) * sizeof(*rv));
	fv = malloc((n + 1) * sizeof(*fv));
	if (!rv || !fv)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!strncmp(rules[i].comment, GL_FWD_COMMENT_PREFIX, strlen(GL_FWD_COMMENT_PREFIX)))
			rv[nr++] = (struct rule_ix){ .comment = rules[i].comment, .i = i };
	qsort(rv, nr, sizeof(*rv), by_comment_cmp);
	for (size_t k = 0; k < nr; k++) {
		if (k > 0 && !strcmp(rv[k - 1].comment, rv[k].comment))
			continue;  /* the first rule of this comment stands for it */
		if (gl_fwd_from_comment(rv[k].comment, &fv[nf].f) < 0)
			continue;
		fv[nf++].i = rv[k].i;
	}
	qsort(fv, nf, sizeof(*fv), at_name_cmp);
	for (size_t k = 0; k < nf; k++)
		if (k == 0 || strcmp(fv[k - 1].f.name, fv[k].f.name))
			fv[kept++] = fv[k];
	qsort(fv, kept, sizeof(*fv), at_index_cmp);
	for (size_t k = 0; k < kept; k++)
		if ((r = gl_fwd_set_push(&s, &fv[k].f)) < 0) {
			gl_fwd_set_free(&s);
			return r;
		}
	*ret = s;
	return 0;
}

/* ---- the diff ---- */

void gl_fwd_plan_free(struct gl_fwd_plan *p)
{
	free(p->want);
	free(p->comments);
	free(p->del);
	memset(p, 0, sizeof(*p));
}

static int want_cmp(const void *a, const void *b)
{
	const struct gl_fwd_want *x = a, *y = b;
	int c = strcmp(x->chain, y->chain);

	return c ? c : strcmp(x->comment, y->comment);
}

/* Desired rules vs. the dump: a kernel rule stays when it is a desired
 * (chain, comment) not matched yet; every other rule of our table goes
 * (old specs, duplicates, anything foreign); desired rules with no match
 * are added. The comment holds the whole spec, so equal comments mean equal
 * rules. Sorted wants and a binary search per rule: O(n log n). */
int gl_fwd_plan_make(const struct gl_fwd_set *desired, const struct gl_nft_rule_info *rules,
		     size_t n_rules, struct gl_fwd_plan *ret)
{
	struct gl_fwd_plan p = { 0 };

	p.want = calloc(desired->n * 2 + 1, sizeof(*p.want));
	p.comments = calloc(desired->n + 1, sizeof(*p.comments));
	p.del = calloc(n_rules + 1, sizeof(*p.del));
	if (!p.want || !p.comments || !p.del) {
		gl_fwd_plan_free(&p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < desired->n; i++) {
		/* A forward's rules share its comment: made once. */
		if (gl_fwd_comment(&desired->v[i], p.comments[i], sizeof(p.comments[i])) < 0) {
			gl_fwd_plan_free(&p);
			return -ENAMETOOLONG;
		}
		for (int k = GL_FWD_DNAT; k <= GL_FWD_SNAT; k++) {
			struct gl_fwd_want *w = &p.want[p.n_want];

			if (k == GL_FWD_SNAT && !desired->v[i].snat)
				continue;
			w->comment = p.comments[i];
			w->chain = k == GL_FWD_DNAT ? GL_FWD_CHAIN_DNAT : GL_FWD_CHAIN_SNAT;
			w->fwd = i;
			w->kind = k;
			p.n_want++;
		}
	}
	qsort(p.want, p.n_want, sizeof(*p.want), want_cmp);
	for (size_t i = 0; i < n_rules; i++) {
		struct gl_fwd_want key = { .chain = rules[i].chain, .comment = rules[i].comment };
		struct gl_fwd_want *w = NULL;

		/* Only our comments can match: skip the search for the rest. */
		if (!strncmp(rules[i].comment, GL_FWD_COMMENT_PREFIX, strlen(GL_FWD_COMMENT_PREFIX)))
			w = bsearch(&key, p.want, p.n_want, sizeof(*p.want), want_cmp);
		if (w && !w->present)
			w->present = true;
		else
			p.del[p.n_del++] = i;
	}
	for (size_t i = 0; i < p.n_want; i++)
		p.n_add += !p.want[i].present;
	*ret = p;
	return 0;
}

/* Compose the rule of one want. */
static int want_rule(const struct gl_fwd_set *desired, const struct gl_fwd_want *w, struct gl_nft_rule **ret,
		     struct gl_err *err)
{
	const struct gl_fwd *f = &desired->v[w->fwd];
	struct gl_nft_rule *r;
	int e;

	if ((e = gl_nft_rule_new(NFPROTO_INET, GL_FWD_TABLE, w->chain, w->comment, &r, err)) < 0)
		return e;
	gl_nft_rule_match_nfproto(r, f->to.family);
	if (w->kind == GL_FWD_DNAT) {
		gl_nft_rule_match_iifname(r, f->wan_if);
		if (f->has_wan_addr) {
			struct gl_prefix p = { .ip = f->wan_addr, .len = (uint8_t)(gl_ip_size(&f->wan_addr) * 8) };

			gl_nft_rule_match_daddr(r, &p, false);
		}
		gl_nft_rule_match_dport(r, f->proto, f->port);
		gl_nft_rule_counter(r);
		gl_nft_rule_dnat(r, &f->to, f->to_port);
	} else {
		struct gl_prefix p = { .ip = f->to, .len = (uint8_t)(gl_ip_size(&f->to) * 8) };

		gl_nft_rule_match_daddr(r, &p, false);
		gl_nft_rule_match_dport(r, f->proto, f->to_port);
		gl_nft_rule_match_ct_dnat(r);
		gl_nft_rule_counter(r);
		gl_nft_rule_snat(r, &f->lan_addr);
	}
	*ret = r;
	return 0;
}

/* The batch of a plan (empty: no message between begin and end). */
int gl_fwd_plan_batch(const struct gl_fwd_set *desired, const struct gl_nft_rule_info *rules,
		      const struct gl_fwd_plan *p, uint32_t genid, struct gl_nft_batch *b, struct gl_err *err)
{
	_cleanup_free_ const struct gl_fwd_want **order = NULL;
	int e;

	if ((e = gl_nft_batch_begin(b, 0, genid, err)) < 0)
		return e;
	if (p->n_add) {
		/* Idempotent: they may exist already; cheap when they do. */
		if ((e = gl_nft_batch_add_table(b, NFPROTO_INET, GL_FWD_TABLE, err)) < 0 ||
		    (e = gl_nft_batch_add_chain(b, NFPROTO_INET, GL_FWD_TABLE, GL_FWD_CHAIN_DNAT, "nat",
						NF_INET_PRE_ROUTING, GL_FWD_PRIO_DNAT, err)) < 0 ||
		    (e = gl_nft_batch_add_chain(b, NFPROTO_INET, GL_FWD_TABLE, GL_FWD_CHAIN_SNAT, "nat",
						NF_INET_POST_ROUTING, GL_FWD_PRIO_SNAT, err)) < 0)
			return e;
	}
	for (size_t i = 0; i < p->n_del; i++) {
		const struct gl_nft_rule_info *ri = &rules[p->del[i]];

		if ((e = gl_nft_batch_del_rule(b, NFPROTO_INET, GL_FWD_TABLE, ri->chain, ri->handle,
					       err)) < 0)
			return e;
	}
	/* Adds in the desired set's order, so a fresh table reads like the
	 * file: slot (fwd, kind) -> its want. */
	order = calloc(desired->n * 2 + 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t j = 0; j < p->n_want; j++)
		if (!p->want[j].present)
			order[p->want[j].fwd * 2 + (size_t)p->want[j].kind] = &p->want[j];
	for (size_t i = 0; i < desired->n * 2; i++) {
		_cleanup_nft_rule_ struct gl_nft_rule *r = NULL;

		if (!order[i])
			continue;
		if ((e = want_rule(desired, order[i], &r, err)) < 0 ||
		    (e = gl_nft_batch_add_rule(b, r, err)) < 0)
			return e;
	}
	return gl_nft_batch_end(b, err);
}

/* ---- the kernel ---- */

/* Our table's rules; a missing table is an empty one. */
int gl_fwd_dump(struct gl_nft_rule_info **ret, size_t *ret_n, uint32_t *ret_genid, struct gl_err *err)
{
	int e = gl_nft_rules_dump(NFPROTO_INET, GL_FWD_TABLE, ret, ret_n, ret_genid, err);

	if (e == -ENOENT) {
		*ret = NULL;
		*ret_n = 0;
		return gl_nft_genid(ret_genid, err);
	}
	return e;
}

/* One attempt: make the kernel's forwards (rules, as dumped at generation
 * genid) equal desired with one batch, none when equal. The kernel refuses
 * the batch with -ERESTART if the ruleset moved on since the dump. */
static int apply_once(const struct gl_fwd_set *desired, const struct gl_nft_rule_info *rules, size_t n,
		      uint32_t genid, struct gl_fwd_stats *ret, struct gl_err *err)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	struct gl_fwd_plan p = { 0 };
	int e;

	if ((e = gl_fwd_plan_make(desired, rules, n, &p)) < 0)
		return e;
	if (p.n_add == 0 && p.n_del == 0) {
		gl_fwd_plan_free(&p);
		*ret = (struct gl_fwd_stats){ .forwards = desired->n };
		return 0;
	}
	e = gl_fwd_plan_batch(desired, rules, &p, genid, &b, err);
	if (e == 0)
		e = gl_nft_send(&b, err);
	if (e == 0)
		*ret = (struct gl_fwd_stats){ .added = p.n_add, .deleted = p.n_del, .forwards = desired->n };
	gl_fwd_plan_free(&p);
	return e;
}

/* desired is the whole set (apply), or NULL with add: the kernel's set plus
 * add, computed from the same dump the batch is checked against. Retried
 * when the ruleset changes between dump and batch. */
static int apply_set(const struct gl_fwd_set *desired, const struct gl_fwd *add, struct gl_fwd_stats *ret,
		     struct gl_err *err)
{
	for (int attempt = 1;; attempt++) {
		_cleanup_free_ struct gl_nft_rule_info *rules = NULL;
		struct gl_fwd_set cur = { 0 };
		struct gl_err e2 = { 0 };
		uint32_t genid = 0;
		size_t n = 0;
		int e;

		if ((e = gl_fwd_dump(&rules, &n, &genid, err)) < 0)
			return e;
		if (add) {
			bool same = false;

			if ((e = gl_fwd_set_from_rules(rules, n, &cur)) < 0)
				return e;
			for (size_t i = 0; i < cur.n; i++) {
				if (strcmp(cur.v[i].name, add->name))
					continue;
				if (!gl_fwd_equal(&cur.v[i], add)) {
					gl_fwd_set_free(&cur);
					gl_err_set(err, GL_ERR_INVALID_CONFIG,
						   "forward \"%s\" exists with other settings; remove it first or use apply",
						   add->name);
					return -EEXIST;
				}
				same = true;  /* the same forward again: "no change" */
			}
			if ((!same && (e = gl_fwd_set_push(&cur, add)) < 0) ||
			    (e = gl_fwd_set_check(&cur, err)) < 0) {
				gl_fwd_set_free(&cur);
				return e;
			}
			desired = &cur;
		}
		e = apply_once(desired, rules, n, genid, ret, &e2);
		gl_fwd_set_free(&cur);
		if (e == -ERESTART && attempt < APPLY_ATTEMPTS)
			continue;
		if (e < 0 && err && !err->code)
			*err = e2;
		return e;
	}
}

int gl_fwd_apply(const struct gl_fwd_set *desired, struct gl_fwd_stats *ret, struct gl_err *err)
{
	return apply_set(desired, NULL, ret, err);
}

int gl_fwd_add(const struct gl_fwd *f, struct gl_fwd_stats *ret, struct gl_err *err)
{
	return apply_set(NULL, f, ret, err);
}

int gl_fwd_remove(const char *name, size_t *ret_rules, struct gl_err *err)
{
	_cleanup_free_ struct gl_nft_rule_info *rules = NULL;
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	const size_t plen = strlen(GL_FWD_COMMENT_PREFIX), nlen = strlen(name);
	uint32_t genid;
	size_t n, found = 0;
	int e;

	if (!gl_fwd_name_valid(name))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "forward name '%s' is not valid", name);
	if ((e = gl_fwd_dump(&rules, &n, &genid, err)) < 0)
		return e;
	if ((e = gl_nft_batch_begin(&b, 0, genid, err)) < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		struct gl_fwd f;

		/* Only a comment naming it can be its: parse just those. */
		if (strncmp(rules[i].comment, GL_FWD_COMMENT_PREFIX, plen) ||
		    strncmp(rules[i].comment + plen, name, nlen) || rules[i].comment[plen + nlen] != ' ' ||
		    gl_fwd_from_comment(rules[i].comment, &f) < 0 || strcmp(f.name, name))
			continue;
		if ((e = gl_nft_batch_del_rule(&b, NFPROTO_INET, GL_FWD_TABLE, rules[i].chain,
					       rules[i].handle, err)) < 0)
			return e;
		found++;
	}
	if (!found) {
		gl_err_set(err, GL_ERR_INVALID_CONFIG, "no forward named \"%s\"", name);
		return -ENOENT;
	}
	if ((e = gl_nft_batch_end(&b, err)) < 0 || (e = gl_nft_send(&b, err)) < 0)
		return e;
	*ret_rules = found;
	return 0;
}

int gl_fwd_flush(struct gl_err *err)
{
	_cleanup_nft_batch_ struct gl_nft_batch b = { 0 };
	int e;

	if ((e = gl_nft_batch_begin(&b, 0, 0, err)) < 0 ||
	    (e = gl_nft_batch_destroy_table(&b, NFPROTO_INET, GL_FWD_TABLE, err)) < 0 ||
	    (e = gl_nft_batch_end(&b, err)) < 0)
		return e;
	return gl_nft_send(&b, err);
}

/* ---- the command-line form ---- */

/* "LANIP", "LANIP:PORT" or "[LANIP6]:PORT". */
static int to_parse(const char *s, struct gl_ip *ret_ip, uint16_t *ret_port)
{
	char buf[GL_IP_STRLEN + 8];
	const char *colon;
	uint16_t port = 0;

	if (gl_strlcpy(buf, s, sizeof(buf)) < 0)
		return -EINVAL;
	if (buf[0] == '[') {
		char *end = strchr(buf, ']');

		if (!end || end[1] != ':' || port_parse(end + 2, &port) < 0)
			return -EINVAL;
		*end = 0;
		if (gl_ip_parse(buf + 1, ret_ip) < 0 || ret_ip->family != AF_INET6)
			return -EINVAL;
		*ret_port = port;
		return 0;
	}
	colon = strchr(buf, ':');
	if (colon && !strchr(colon + 1, ':')) {   /* exactly one ':' -> IPv4:port */
		buf[colon - buf] = 0;
		if (port_parse(colon + 1, &port) < 0)
			return -EINVAL;
	}
	if (gl_ip_parse(buf, ret_ip) < 0)
		return -EINVAL;
	*ret_port = port;
	return 0;
}

/* A usage error (a missing or unknown argument), as opposed to a bad value. */
static int usage_err(bool *ret_usage, struct gl_err *err, const char *msg, const char *arg)
{
	*ret_usage = true;
	return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s%s%s", msg, arg ? " " : "", arg ? arg : "");
}

/* `add NAME --opt v|--opt=v ...` into ret. On error *ret_usage tells a
 * usage error (missing/unknown argument) from a bad value. */
int gl_fwd_from_args(int argc, char **argv, struct gl_fwd *ret, bool *ret_usage, struct gl_err *err)
{
	struct gl_fwd f = { .snat = true };
	bool have_if = false, have_proto = false, have_port = false, have_to = false;
	char what[96], c[GL_NFT_COMMENT_MAX + 1];
	uint16_t to_port = 0;
	int e;

	*ret_usage = false;
	if (argc < 1 || argv[0][0] == '-')
		return usage_err(ret_usage, err, "add: a forward NAME is required", NULL);
	if (gl_strlcpy(f.name, argv[0], sizeof(f.name)) < 0 || !gl_fwd_name_valid(f.name))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "forward name '%s': must be 1-%d characters of A-Z a-z 0-9 . _ -",
				  argv[0], GL_FWD_NAME_MAX);
	for (int i = 1; i < argc; i++) {
		char opt[32];
		const char *val, *eq = strchr(argv[i], '=');
		size_t olen = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);

		if (strncmp(argv[i], "--", 2) || olen >= sizeof(opt))
			return usage_err(ret_usage, err, "add: unexpected argument", argv[i]);
		memcpy(opt, argv[i], olen);
		opt[olen] = 0;
		if (!strcmp(opt, "--no-snat")) {
			if (eq)
				return usage_err(ret_usage, err, "add: --no-snat takes no value", NULL);
			f.snat = false;
			continue;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return usage_err(ret_usage, err, "add: a value is missing after", opt);
		if (!strcmp(opt, "--wan-if")) {
			if (gl_strlcpy(f.wan_if, val, sizeof(f.wan_if)) < 0 || !gl_cni_ifname_valid(val))
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "--wan-if '%s' is not an interface name", val);
			have_if = true;
		} else if (!strcmp(opt, "--wan-addr")) {
			if (gl_ip_parse(val, &f.wan_addr) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "--wan-addr '%s' is not an IP address", val);
			f.has_wan_addr = true;
		} else if (!strcmp(opt, "--proto")) {
			if (proto_parse(val, &f.proto) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "--proto '%s': unknown protocol (udp or tcp)", val);
			have_proto = true;
		} else if (!strcmp(opt, "--port")) {
			if (port_parse(val, &f.port) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--port '%s' must be 1-65535", val);
			have_port = true;
		} else if (!strcmp(opt, "--to")) {
			if (to_parse(val, &f.to, &to_port) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "--to '%s' must be LANIP, LANIP:PORT or [LANIP6]:PORT (port 1-65535)",
						  val);
			have_to = true;
		} else if (!strcmp(opt, "--lan-addr")) {
			if (gl_ip_parse(val, &f.lan_addr) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "--lan-addr '%s' is not an IP address", val);
			f.has_lan_addr = true;
		} else {
			return usage_err(ret_usage, err, "add: unknown option", opt);
		}
	}
	if (!have_if || !have_proto || !have_port || !have_to)
		return usage_err(ret_usage, err, "add: --wan-if, --proto, --port and --to are required",
				 NULL);
	f.to_port = to_port ? to_port : f.port;
	snprintf(what, sizeof(what), "forward \"%s\"", f.name);
	if ((e = gl_fwd_validate(&f, what, err)) < 0)
		return e;
	if (gl_fwd_comment(&f, c, sizeof(c)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "%s: its description is longer than a rule comment can hold; use a shorter name",
				  what);
	*ret = f;
	return 0;
}

/* The current forwards as the kernel has them. */
int gl_fwd_list(struct gl_fwd_set *ret, struct gl_err *err)
{
	_cleanup_free_ struct gl_nft_rule_info *rules = NULL;
	uint32_t genid;
	size_t n;
	int e;

	if ((e = gl_fwd_dump(&rules, &n, &genid, err)) < 0)
		return e;
	return gl_fwd_set_from_rules(rules, n, ret);
}
