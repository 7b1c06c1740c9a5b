/* The Kubernetes reservation store: one IPReservation custom resource per
 * reserved address (DESIGN.md section 4), named from the network and the
 * address so that the API server's name uniqueness is the lock: POST
 * creates a reservation or fails with 409 (the address is taken), PUT and
 * DELETE carry the row's resourceVersion (409: another writer was first).
 *
 * There is no transaction in the API. begin/commit are free; every write
 * goes out at once and is journalled, and rollback() undoes the journal in
 * reverse (delete what we created, put back what we changed or removed),
 * so that a decision the allocator abandons after a lost race leaves the
 * rows as they were. Compensation is best effort: a row whose undo fails
 * (somebody changed it again) is left as that somebody wrote it.
 *
 * (network, identity, ifname, pool) must be unique, as SQLite's UNIQUE
 * makes it; names cannot say that, so an insert of a row with an identity
 * lists the identity's rows afterwards and withdraws its own row when
 * another live one has the same key. Two racers may both withdraw (the
 * allocator retries with jitter); both keeping theirs is impossible, since
 * the later of the two creations is seen by the other's list.
 *
 * Cost on the API server. A LIST without resourceVersion is a consistent
 * read: kube-apiserver reads and decodes every IPReservation of the
 * namespace from etcd and filters by label afterwards, so a label selector
 * does not make it cheaper (an identity check with 0 items back cost 1.7 s
 * at 5000 reservations). Every LIST here is served from the watch cache
 * instead, which filters objects it holds decoded in memory and sends only
 * the matches, and none carries a limit (1.24-1.30 send any limit with a
 * resourceVersion other than "0" to etcd, and a paged, label-selected LIST
 * from etcd drops items on 1.24.0-1.24.2, kubernetes#110625):
 *  - the scan: resourceVersion=0 (any version the cache has), or, once this
 *    handle has written, NotOlderThan its last write (see scan_floor);
 *  - the identity check: NotOlderThan the resourceVersion of our own POST
 *    (or PUT), which includes that object and every one created before it.
 *    (The current global version would do too, but makes the cache wait.)
 * A slightly stale scan is correct because the scan only proposes: every
 * decision taken from it is written with a precondition that fails if the
 * snapshot was wrong about the row it writes. An address that looks free but
 * was taken since: our POST of its name gets 409 (-EADDRINUSE, the allocator
 * tries another). A row that changed or went away since: our PUT or DELETE
 * with its old resourceVersion gets 409 or 404 (-ESTALE, decided again). The
 * one fact without a precondition is an absence, "this identity has no row
 * yet", and the identity check after the write covers exactly that. So
 * staleness costs a retry, never a second address or a lost row.
 *
 * An ADD does not scan: scan_identity lists the identity's rows by its
 * label (from the cache, as the scan would), and the allocator decides from
 * them, taking a new address by POST (409: try another); it scans the
 * network only when that cannot decide (alloc.c, run()). So an ADD reads
 * O(the identity's rows) objects from the cache and O(1) from etcd; the
 * scan (DEL, GC, admin verbs) reads the network's. A per-identity object
 * (named from network + identity, created with POST so that the identity
 * race is a 409 too; a returning server one GET and one PUT) was weighed
 * and not built: the label list already costs a returning server one
 * cached read of its own objects, it would be a second object and a second
 * write per allocation that must agree with the address object without a
 * transaction (a crash between the two leaves one without the other, for GC
 * to reconcile), and the address object has to stay the lock on the
 * address anyway. The identity check above already answers the identity
 * race with one cheap cached read. */
#include "ipam/store.h"
#include "ipam/store_kube.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/json.h"
#include "kube/kube.h"
#include "base/util.h"

#define GROUP "gamelan.dev"
#define VERSION "v1alpha1"
#define KIND "IPReservation"
#define PLURAL "ipreservations"
#define LABEL_NETWORK GROUP "/network"
#define LABEL_IDENTITY GROUP "/identity"
#define LABEL_NODE GROUP "/node"
#define DEFAULT_NAMESPACE "gamelan-system"
#define NET_CUT 40
#define POOL_MAX 1023
/* Writes one decision may make; GC of a large node is the big one. */
#define JOURNAL_MAX 4096
/* A CNI call must answer in bounded time (the runtime retries ADD), yet a
 * busy API server may take seconds for a list under a storm of ADDs. */
#define REQUEST_TIMEOUT_MS 30000
#define CONNECT_TIMEOUT_MS 3000

static const struct gl_kube_res resv_res = { GROUP, VERSION, PLURAL, true };

/* ---- names, labels, times, objects: pure ---- */

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* A Kubernetes label value: at most 63 of [A-Za-z0-9._-], alphanumeric at
 * both ends. */
static bool label_value_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (; *s; s++)
		if (!label_char(*s))
			return false;
	return true;
}

void gl_store_kube_net_label(const char *network, char ret[GL_STORE_KUBE_NET_MAX])
{
	const char *parts[1] = { network };
	size_t n = 0;
	bool changed = false;

	for (const char *p = network; *p; p++) {
		char c = *p;

		if (n == NET_CUT) {
			changed = true;
			break;
		}
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			c = '-';
		changed = changed || c != *p;
		ret[n++] = c;
	}
	ret[n] = '\0';
	/* A name and a label value must start and end alphanumeric: a leading
	 * '-' becomes 'n', a trailing one is covered by the hash suffix. */
	if (n > 0 && ret[0] == '-') {
		ret[0] = 'n';
		changed = true;
	}
	if (n > 0 && ret[n - 1] == '-')
		changed = true;
	if (changed)
		snprintf(ret + n, GL_STORE_KUBE_NET_MAX - n, "-%08x",
			 (unsigned)(gl_hash64(parts, 1) & 0xffffffffu));
}

void gl_store_kube_name(const char *network, const struct gl_ip *ip, char ret[GL_STORE_KUBE_NAME_MAX])
{
	char net[GL_STORE_KUBE_NET_MAX], a[GL_IP_STRLEN];

	gl_store_kube_net_label(network, net);
	gl_ip_str(ip, a, sizeof(a));
	for (char *p = a; *p; p++)
		if (*p == '.' || *p == ':')
			*p = '-';
	/* "fd00::" would end the name with '-'; canonical text never ends in
	 * "::0", so appending '0' keeps names distinct. */
	snprintf(ret, GL_STORE_KUBE_NAME_MAX, "%s-%s%s", net, a,
		 a[strlen(a) - 1] == '-' ? "0" : "");
}

void gl_store_kube_identity_label(const char *identity, char ret[17])
{
	const char *parts[1] = { identity };

	snprintf(ret, 17, "%016llx", (unsigned long long)gl_hash64(parts, 1));
}

void gl_store_kube_time_str(int64_t ms, char ret[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	if (ms < 0 || !gmtime_r(&t, &tm)) {
		snprintf(ret, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	/* Past year 9999 (a hold like "100000000h", or a leap second at its
	 * very end) strftime writes a 5-digit year that time_parse, like RFC
	 * 3339, refuses: the row could never be read again and would fail
	 * every scan of its network. The last instant we can write stands in. */
	n = tm.tm_year > 9999 - 1900 ? 0 : strftime(ret, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	if (n != 19) {
		snprintf(ret, 32, "9999-12-31T23:59:59.999Z");
		return;
	}
	snprintf(ret + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00|-00:00)": what we write and
 * what a human writing UTC writes. Other offsets are refused rather than
 * guessed. */
int gl_store_kube_time_parse(const char *s, int64_t *ret_ms)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, n = 0, ms = 0;
	const char *p;
	time_t t;

	if (strlen(s) > 40 ||
	    sscanf(s, "%4d-%2d-%2d%*[Tt]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
		return -EINVAL;
	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || h < 0 || mi < 0 || sec < 0)
		return -EINVAL;
	p = s + n;
	if (*p == '.') {
		int digits = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*p - '0');
		if (digits == 0 || digits > 9)
			return -EINVAL;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (!(strcmp(p, "Z") == 0 || strcmp(p, "z") == 0 || strcmp(p, "+00:00") == 0 ||
	      strcmp(p, "-00:00") == 0))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_ms = (int64_t)t * 1000 + ms;
	return 0;
}

static const char *state_kube(enum gl_resv_state st)
{
	switch (st) {
	case GL_RESV_BOUND: return "Bound";
	case GL_RESV_RELEASED: return "Held";
	case GL_RESV_CONFLICT: return "Conflict";
	}
	return "?";
}

static int state_kube_parse(const char *s, enum gl_resv_state *ret)
{
	static const enum gl_resv_state all[] = { GL_RESV_BOUND, GL_RESV_RELEASED, GL_RESV_CONFLICT };

	for (size_t i = 0; i < GL_ARRAY_SIZE(all); i++)
		if (strcmp(s, state_kube(all[i])) == 0) {
			*ret = all[i];
			return 0;
		}
	/* What versions before the one vocabulary wrote for Held; rewritten
	 * as Held on the object's next update. */
	if (strcmp(s, "Released") == 0) {
		*ret = GL_RESV_RELEASED;
		return 0;
	}
	return -EINVAL;
}

/* json-c objects are built bottom-up; any NULL along the way is out of
 * memory, checked once at the end by add() returning false. */
static bool add(json_object *o, const char *key, json_object *v)
{
	if (!o || !v) {
		json_object_put(v);
		return false;
	}
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

static bool add_str_opt(json_object *o, const char *key, const char *v)
{
	return !*v || add(o, key, json_object_new_string(v));
}

json_object *gl_store_kube_to_json(const struct gl_resv *r, const char *ns, bool with_version)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *meta = json_object_new_object(), *labels = json_object_new_object(),
		    *spec = json_object_new_object();
	char name[GL_STORE_KUBE_NAME_MAX], net[GL_STORE_KUBE_NET_MAX], idl[17], a[GL_IP_STRLEN],
	     t[32];
	bool ok;

	/* Owned by o once added; freed here if o never got them. */
	if (!add(o, "metadata", meta)) {
		json_object_put(labels);
		json_object_put(spec);
		return NULL;
	}
	if (!add(o, "spec", spec)) {
		json_object_put(labels);
		return NULL;
	}
	if (!add(meta, "labels", labels))
		return NULL;
	gl_store_kube_name(r->network, &r->ip, name);
	gl_store_kube_net_label(r->network, net);
	gl_ip_str(&r->ip, a, sizeof(a));
	ok = add(o, "apiVersion", json_object_new_string(GROUP "/" VERSION)) &&
	     add(o, "kind", json_object_new_string(KIND)) &&
	     add(meta, "name", json_object_new_string(name)) &&
	     add(meta, "namespace", json_object_new_string(ns)) &&
	     (!with_version || add(meta, "resourceVersion", json_object_new_string(r->version))) &&
	     add(labels, LABEL_NETWORK, json_object_new_string(net));
	if (ok && r->state != GL_RESV_CONFLICT && r->identity[0]) {
		gl_store_kube_identity_label(r->identity, idl);
		ok = add(labels, LABEL_IDENTITY, json_object_new_string(idl));
	}
	if (ok && label_value_valid(r->node))
		ok = add(labels, LABEL_NODE, json_object_new_string(r->node));
	ok = ok && add(spec, "network", json_object_new_string(r->network)) &&
	     add(spec, "pool", json_object_new_int(r->pool)) &&
	     add(spec, "address", json_object_new_string(a)) &&
	     add_str_opt(spec, "identity", r->identity) &&
	     add_str_opt(spec, "ifname", r->ifname) &&
	     add_str_opt(spec, "containerID", r->container_id) &&
	     add(spec, "state", json_object_new_string(state_kube(r->state))) &&
	     add(spec, "pinned", json_object_new_boolean(r->pinned));
	if (ok && r->expires != GL_RESV_NEVER) {
		gl_store_kube_time_str(r->expires, t);
		ok = add(spec, "expires", json_object_new_string(t));
	}
	ok = ok && add_str_opt(spec, "node", r->node) && add_str_opt(spec, "netns", r->netns) &&
	     add_str_opt(spec, "pod", r->pod) && add_str_opt(spec, "podUID", r->pod_uid);
	if (ok) {
		gl_store_kube_time_str(r->updated, t);
		ok = add(spec, "updated", json_object_new_string(t));
	}
	return ok ? TAKE_PTR(o) : NULL;
}

/* A string member that must fit buf; absent gives "" unless required. */
static int get_str(json_object *o, const char *key, bool required, char *buf, size_t size,
		   char *why, size_t why_size)
{
	json_object *v;

	buf[0] = '\0';
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null)) {
		if (!required)
			return 0;
		snprintf(why, why_size, "%s is missing", key);
		return -EBADMSG;
	}
	if (!json_object_is_type(v, json_type_string)) {
		snprintf(why, why_size, "%s is not a string", key);
		return -EBADMSG;
	}
	if ((size_t)json_object_get_string_len(v) >= size || gl_strlcpy(buf, json_object_get_string(v), size) < 0) {
		snprintf(why, why_size, "%s is too long", key);
		return -EBADMSG;
	}
	if (strlen(buf) != (size_t)json_object_get_string_len(v)) {
		snprintf(why, why_size, "%s contains a NUL byte", key);
		return -EBADMSG;
	}
	return 0;
}

static int get_time(json_object *o, const char *key, int64_t absent, int64_t *ret, char *why,
		    size_t why_size)
{
	char buf[48];
	int r = get_str(o, key, false, buf, sizeof(buf), why, why_size);

	if (r < 0)
		return r;
	if (!buf[0]) {
		*ret = absent;
		return 0;
	}
	if (gl_store_kube_time_parse(buf, ret) < 0) {
		snprintf(why, why_size, "%s \"%.40s\" is not an RFC 3339 UTC time", key, buf);
		return -EBADMSG;
	}
	return 0;
}

int gl_store_kube_from_json(json_object *o, struct gl_resv *ret, char *why, size_t why_size)
{
	json_object *meta, *spec, *v;
	char name[GL_STORE_KUBE_NAME_MAX + 8], want[GL_STORE_KUBE_NAME_MAX], a[GL_IP_STRLEN],
	     state[16];
	struct gl_resv r;
	int e;

	memset(&r, 0, sizeof(r));
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "metadata", &meta) || !json_object_is_type(meta, json_type_object) ||
	    !json_object_object_get_ex(o, "spec", &spec) || !json_object_is_type(spec, json_type_object)) {
		snprintf(why, why_size, "not an object with metadata and spec");
		return -EBADMSG;
	}
	e = get_str(meta, "name", true, name, sizeof(name), why, why_size);
	if (e >= 0)
		e = get_str(meta, "resourceVersion", true, r.version, sizeof(r.version), why, why_size);
	if (e >= 0)
		e = get_str(spec, "network", true, r.network, sizeof(r.network), why, why_size);
	if (e >= 0)
		e = get_str(spec, "address", true, a, sizeof(a), why, why_size);
	if (e >= 0)
		e = get_str(spec, "identity", false, r.identity, sizeof(r.identity), why, why_size);
	if (e >= 0)
		e = get_str(spec, "ifname", false, r.ifname, sizeof(r.ifname), why, why_size);
	if (e >= 0)
		e = get_str(spec, "containerID", false, r.container_id, sizeof(r.container_id), why, why_size);
	if (e >= 0)
		e = get_str(spec, "state", true, state, sizeof(state), why, why_size);
	if (e >= 0)
		e = get_str(spec, "node", false, r.node, sizeof(r.node), why, why_size);
	if (e >= 0)
		e = get_str(spec, "netns", false, r.netns, sizeof(r.netns), why, why_size);
	if (e >= 0)
		e = get_str(spec, "pod", false, r.pod, sizeof(r.pod), why, why_size);
	if (e >= 0)
		e = get_str(spec, "podUID", false, r.pod_uid, sizeof(r.pod_uid), why, why_size);
	if (e >= 0)
		e = get_time(spec, "expires", GL_RESV_NEVER, &r.expires, why, why_size);
	if (e >= 0)
		e = get_time(spec, "updated", 0, &r.updated, why, why_size);
	if (e < 0)
		return e;
	if (!r.network[0]) {
		snprintf(why, why_size, "spec.network is empty");
		return -EBADMSG;
	}
	if (gl_ip_parse(a, &r.ip) < 0) {
		snprintf(why, why_size, "spec.address \"%.46s\" is not an IP address", a);
		return -EBADMSG;
	}
	if (state_kube_parse(state, &r.state) < 0) {
		snprintf(why, why_size, "spec.state \"%.16s\" is not Bound, Held or Conflict", state);
		return -EBADMSG;
	}
	if (json_object_object_get_ex(spec, "pool", &v)) {
		int64_t pool;

		errno = 0;
		pool = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || errno || pool < 0 || pool > POOL_MAX) {
			snprintf(why, why_size, "spec.pool is not an integer 0-%d", POOL_MAX);
			return -EBADMSG;
		}
		r.pool = (int)pool;
	}
	if (json_object_object_get_ex(spec, "pinned", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			snprintf(why, why_size, "spec.pinned is not a boolean");
			return -EBADMSG;
		}
		r.pinned = json_object_get_boolean(v);
	}
	if (r.state != GL_RESV_CONFLICT && !r.identity[0]) {
		snprintf(why, why_size, "spec.identity is missing (only a Conflict has none)");
		return -EBADMSG;
	}
	if (r.state == GL_RESV_CONFLICT)
		r.identity[0] = r.ifname[0] = '\0';
	/* The name is the lock on the address: an object named otherwise
	 * would let a second object claim the same address. */
	gl_store_kube_name(r.network, &r.ip, want);
	if (strcmp(name, want) != 0) {
		snprintf(why, why_size, "it is named %.100s, but a reservation of %.46s must be named %s",
			 name, a, want);
		return -EBADMSG;
	}
	*ret = r;
	return 0;
}

/* ---- the store ---- */

enum jop { J_CREATED, J_UPDATED, J_REMOVED };

/* One write of the open transaction. `version` is the object's version
 * after the write ("" when it is gone); undoing a later write of the same
 * object moves it on. */
struct jentry {
	enum jop op;
	struct gl_resv before;      /* J_UPDATED, J_REMOVED: the row before the write */
	char name[GL_STORE_KUBE_NAME_MAX];
	char version[GL_STORE_VERSION_MAX];
};

struct kube_store {
	struct gl_store base;
	struct gl_kube *k;
	char ns[GL_KUBE_NAME_MAX];
	char floor_rv[GL_STORE_VERSION_MAX];   /* our last write's resourceVersion, or "" */
	bool in_txn;
	struct gl_resv_list seen;   /* rows as this transaction read and wrote them */
	struct jentry *j;
	size_t nj, capj;
};

static struct kube_store *to_kube(struct gl_store *s)
{
	return (struct kube_store *)s;
}

static void resv_name(const struct gl_resv *r, char buf[GL_STORE_KUBE_NAME_MAX])
{
	gl_store_kube_name(r->network, &r->ip, buf);
}

/* The API's version of an object it answered with. */
static int take_version(json_object *obj, struct gl_resv *r, struct gl_err *err)
{
	const char *rv = obj ? gl_kube_obj_rv(obj) : NULL;

	if (!rv || gl_strlcpy(r->version, rv, sizeof(r->version)) < 0)
		return gl_err_set(err, GL_ERR_STORE, "store: the API server answered without a usable "
				  "metadata.resourceVersion");
	return 0;
}

static int api_error(int r, const struct gl_err *e, const char *what, struct gl_err *err)
{
	int code = r == -EAGAIN || r == -ETIMEDOUT ? GL_ERR_TRY_AGAIN : GL_ERR_STORE;

	if (r == -ENOMEM)
		return r;
	return gl_err_from(err, r, code, "kubernetes store: %s: %s", what,
			  e->msg[0] ? e->msg : strerror(-r));
}

static int seen_find(struct kube_store *s, const char *network, const struct gl_ip *ip)
{
	for (size_t i = 0; i < s->seen.n; i++)
		if (s->seen.v[i].ip.family && gl_ip_equal(&s->seen.v[i].ip, ip) &&
		    strcmp(s->seen.v[i].network, network) == 0)
			return (int)i;
	return -1;
}

static void seen_set(struct kube_store *s, const struct gl_resv *r)
{
	int i = seen_find(s, r->network, &r->ip);

	if (i >= 0)
		s->seen.v[i] = *r;
	else
		(void)gl_store_list_push(&s->seen, r); /* only the undo's before-image is lost */
}

static void seen_drop(struct kube_store *s, const struct gl_resv *r)
{
	int i = seen_find(s, r->network, &r->ip);

	if (i >= 0)
		s->seen.v[i].ip.family = 0;
}

static int journal_room(struct kube_store *s, struct gl_err *err)
{
	struct jentry *v;
	size_t cap;

	if (!s->in_txn || s->nj < s->capj)
		return 0;
	if (s->nj >= JOURNAL_MAX)
		return gl_err_set(err, GL_ERR_STORE, "kubernetes store: more than %d writes in one decision",
				  JOURNAL_MAX);
	cap = s->capj ? s->capj * 2 : 8;
	v = realloc(s->j, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->j = v;
	s->capj = cap;
	return 0;
}

/* Room was made by journal_room() before the write. */
static void journal_add(struct kube_store *s, enum jop op, const struct gl_resv *before,
			const char *name, const char *version)
{
	struct jentry *e;

	if (!s->in_txn || s->nj >= s->capj)
		return;
	e = &s->j[s->nj++];
	memset(e, 0, sizeof(*e));
	e->op = op;
	if (before)
		e->before = *before;
	gl_strlcpy(e->name, name, sizeof(e->name));
	gl_strlcpy(e->version, version, sizeof(e->version));
}

/* A later scan of this handle must see what it wrote (scan_floor). The
 * versions stay opaque: the last write is the newest, as this handle
 * writes one request at a time. */
static void wrote(struct kube_store *s, const struct gl_resv *r)
{
	gl_strlcpy(s->floor_rv, r->version, sizeof(s->floor_rv));
}

static int put_row(struct kube_store *s, struct gl_resv *r, struct gl_err *e)
{
	_cleanup_json_ json_object *obj = gl_store_kube_to_json(r, s->ns, true), *out = NULL;
	int ret;

	if (!obj)
		return -ENOMEM;
	ret = gl_kube_update(s->k, &resv_res, s->ns, obj, &out, e);
	if (ret < 0)
		return ret;
	ret = take_version(out, r, e);
	if (ret >= 0)
		wrote(s, r);
	return ret;
}

static int post_row(struct kube_store *s, struct gl_resv *r, struct gl_err *e)
{
	_cleanup_json_ json_object *obj = gl_store_kube_to_json(r, s->ns, false), *out = NULL;
	int ret;

	if (!obj)
		return -ENOMEM;
	ret = gl_kube_create(s->k, &resv_res, s->ns, obj, &out, e);
	if (ret < 0)
		return ret;
	ret = take_version(out, r, e);
	if (ret >= 0)
		wrote(s, r);
	return ret;
}

/* Parse a List's items into ret; only rows of network when not NULL
 * (the label is a hash: another network may share it). */
static int items_to_rows(json_object *list, const char *network, struct gl_resv_list *ret,
			 struct gl_err *err)
{
	json_object *items;
	size_t n;

	if (!json_object_object_get_ex(list, "items", &items) || json_object_is_type(items, json_type_null))
		return 0;
	if (!json_object_is_type(items, json_type_array))
		return gl_err_set(err, GL_ERR_STORE, "kubernetes store: a list without an items array");
	n = json_object_array_length(items);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_array_get_idx(items, i);
		const char *name = gl_kube_obj_name(o);
		char why[256];
		struct gl_resv r;
		int e = gl_store_kube_from_json(o, &r, why, sizeof(why));

		if (e < 0)
			return gl_err_set(err, GL_ERR_STORE, "kubernetes store: IPReservation %.100s is malformed: %s",
					  name ? name : "(no name)", why);
		if (network && strcmp(r.network, network) != 0)
			continue;
		e = gl_store_list_push(ret, &r);
		if (e < 0)
			return e == -E2BIG ? gl_err_set(err, GL_ERR_STORE, "kubernetes store: more than %d "
							"reservations in one scan", GL_STORE_SCAN_MAX) : e;
	}
	return 0;
}

/* One LIST from the watch cache (see the top of this file): resourceVersion
 * "0", or rv with NotOlderThan. No limit, so one answer holds every match
 * and no continue token sends a page to etcd. */
static int list_rows(struct kube_store *s, const char *selector, const char *network,
		     const char *rv, struct gl_resv_list *ret, struct gl_err *err)
{
	struct gl_kube_list_opts o = { .label_selector = selector,
				       .resource_version = rv && *rv ? rv : "0",
				       .resource_version_match = rv && *rv ? "NotOlderThan" : NULL };
	_cleanup_json_ json_object *list = NULL;
	struct gl_err e = {0};
	size_t n0 = ret->n;
	int r = gl_kube_list(s->k, &resv_res, s->ns, &o, &list, &e);

	if (r < 0)
		return api_error(r, &e, "list IPReservations", err);
	r = items_to_rows(list, network, ret, err);
	if (r < 0)
		ret->n = n0;
	return r;
}

static int network_selector(const char *network, char *buf, size_t size)
{
	char net[GL_STORE_KUBE_NET_MAX];

	gl_store_kube_net_label(network, net);
	return snprintf(buf, size, LABEL_NETWORK "=%s", net) < (int)size ? 0 : -ENAMETOOLONG;
}

/* The selector of identity's rows in network (labels are hashes: the
 * rows of another identity or network may match too). */
static void identity_selector(const char *network, const char *identity, char buf[256])
{
	char net[GL_STORE_KUBE_NET_MAX], idl[17];

	gl_store_kube_net_label(network, net);
	gl_store_kube_identity_label(identity, idl);
	snprintf(buf, 256, LABEL_NETWORK "=%s," LABEL_IDENTITY "=%s", net, idl);
}

/* Whether another live row has r's (network, identity, ifname, pool), as of
 * r's own write (r->version) or later. */
static int identity_taken(struct kube_store *s, const struct gl_resv *r, bool *ret_taken,
			  struct gl_err *err)
{
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
	char sel[256];
	int e;

	identity_selector(r->network, r->identity, sel);
	e = list_rows(s, sel, r->network, r->version, &l, err);
	if (e < 0)
		return e;
	*ret_taken = false;
	for (size_t i = 0; i < l.n; i++) {
		const struct gl_resv *o = &l.v[i];

		if (!gl_ip_equal(&o->ip, &r->ip) && o->state != GL_RESV_CONFLICT && o->pool == r->pool &&
		    strcmp(o->identity, r->identity) == 0 && strcmp(o->ifname, r->ifname) == 0)
			*ret_taken = true;
	}
	return 0;
}

static bool has_key(const struct gl_resv *r)
{
	return r->state != GL_RESV_CONFLICT && r->identity[0];
}

static void kube_close(struct gl_store *gs)
{
	struct kube_store *s = to_kube(gs);

	if (s->in_txn)
		gs->ops->rollback(gs);
	gl_kube_close(s->k);
	gl_store_list_free(&s->seen);
	free(s->j);
	free(s);
}

static int kube_open(const struct gl_store_conf *conf, struct gl_store **ret, struct gl_err *err)
{
	_cleanup_free_ struct kube_store *s = calloc(1, sizeof(*s));
	struct gl_kube_config *cfg = NULL;
	struct gl_kube_opts opts = { .connect_timeout_ms = CONNECT_TIMEOUT_MS,
				     .timeout_ms = REQUEST_TIMEOUT_MS, .max_retries = 3 };
	const char *ns = conf->namespace && *conf->namespace ? conf->namespace : DEFAULT_NAMESPACE;
	int r;

	if (!s)
		return -ENOMEM;
	s->base.ops = &gl_store_kube_ops;
	if (gl_strlcpy(s->ns, ns, sizeof(s->ns)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "kubernetes store: namespace is too long");
	r = gl_kube_config_load(conf->kubeconfig && *conf->kubeconfig ? conf->kubeconfig : NULL, &cfg, err);
	if (r < 0)
		return r;
	r = gl_kube_open(cfg, &opts, &s->k, err);
	gl_kube_config_free(cfg);
	if (r < 0)
		return r;
	*ret = &TAKE_PTR(s)->base;
	return 0;
}

static int kube_begin(struct gl_store *gs, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);

	if (s->in_txn)
		return gl_err_set(err, GL_ERR_INTERNAL, "store: nested transaction");
	s->in_txn = true;
	s->nj = 0;
	gl_store_list_free(&s->seen);
	return 0;
}

static int kube_commit(struct gl_store *gs, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);

	s->in_txn = false;
	s->nj = 0;
	gl_store_list_free(&s->seen);
	return 0;
}

static void kube_rollback(struct gl_store *gs)
{
	struct kube_store *s = to_kube(gs);

	if (!s->in_txn)
		return;
	s->in_txn = false;
	for (size_t i = s->nj; i-- > 0;) {
		struct jentry *e = &s->j[i];
		struct gl_err scratch = {0};
		struct gl_resv row = e->before;
		const char *after = "";
		int r = 0;

		switch (e->op) {
		case J_CREATED:
			r = gl_kube_delete(s->k, &resv_res, s->ns, e->name, NULL, e->version, &scratch);
			break;
		case J_UPDATED:
			gl_strlcpy(row.version, e->version, sizeof(row.version));
			r = put_row(s, &row, &scratch);
			after = row.version;
			break;
		case J_REMOVED:
			r = post_row(s, &row, &scratch);
			after = row.version;
			break;
		}
		/* Somebody else changed the object since: theirs stands. */
		if (r < 0)
			after = "?";
		for (size_t k = i; k-- > 0;)
			if (strcmp(s->j[k].name, e->name) == 0) {
				gl_strlcpy(s->j[k].version, after, sizeof(s->j[k].version));
				break;
			}
	}
	s->nj = 0;
	gl_store_list_free(&s->seen);
}

static int kube_scan(struct gl_store *gs, const char *network, struct gl_resv_list *ret,
		     struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);
	char sel[128];
	size_t n0 = ret->n;
	int r;

	if (network && network_selector(network, sel, sizeof(sel)) < 0)
		return gl_err_set(err, GL_ERR_INTERNAL, "label selector too long");
	/* scan_floor: after this handle wrote (a decision that lost a race is
	 * being made again), the scan must include that write and whatever
	 * made it lose, so it asks for NotOlderThan the write; before, any
	 * version the cache has. */
	r = list_rows(s, network ? sel : NULL, network, s->floor_rv, ret, err);
	if (r < 0)
		return r;
	/* The before-images the journal needs. */
	for (size_t i = n0; s->in_txn && i < ret->n; i++)
		seen_set(s, &ret->v[i]);
	return 0;
}

/* The identity's rows by its label, from the watch cache as a scan reads
 * (scan_floor): the objects read are the identity's, whatever the size of
 * the network. The label is a hash; rows of another identity are dropped. */
static int kube_scan_identity(struct gl_store *gs, const char *network, const char *identity,
			      struct gl_resv_list *ret, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);
	char sel[256];
	size_t n0 = ret->n, k = n0;
	int r;

	identity_selector(network, identity, sel);
	r = list_rows(s, sel, network, s->floor_rv, ret, err);
	if (r < 0)
		return r;
	for (size_t i = n0; i < ret->n; i++) {
		if (strcmp(ret->v[i].identity, identity) != 0)
			continue;
		ret->v[k++] = ret->v[i];
		if (s->in_txn)
			seen_set(s, &ret->v[k - 1]);
	}
	ret->n = k;
	return 0;
}

/* Withdraw a row we just created: best effort, a leftover is GC's (it is
 * Bound with our container) or the next decision's (it is ours). */
static void withdraw(struct kube_store *s, const struct gl_resv *r)
{
	struct gl_err scratch = {0};
	char name[GL_STORE_KUBE_NAME_MAX];

	resv_name(r, name);
	(void)gl_kube_delete(s->k, &resv_res, s->ns, name, NULL, r->version, &scratch);
}

static int kube_insert(struct gl_store *gs, struct gl_resv *r, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);
	struct gl_err e = {0};
	char name[GL_STORE_KUBE_NAME_MAX];
	bool taken = false;
	int ret = journal_room(s, err);

	if (ret < 0)
		return ret;
	ret = post_row(s, r, &e);
	if (ret == -EEXIST)
		return -EADDRINUSE;
	if (ret < 0)
		return api_error(ret, &e, "create IPReservation", err);
	if (has_key(r)) {
		ret = identity_taken(s, r, &taken, err);
		if (ret < 0 || taken) {
			withdraw(s, r);
			return ret < 0 ? ret : -EEXIST;
		}
	}
	resv_name(r, name);
	journal_add(s, J_CREATED, NULL, name, r->version);
	seen_set(s, r);
	return 0;
}

static int kube_update(struct gl_store *gs, struct gl_resv *r, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);
	struct gl_err e = {0};
	char name[GL_STORE_KUBE_NAME_MAX];
	int i = seen_find(s, r->network, &r->ip), ret = journal_room(s, err);
	struct gl_resv before;
	bool taken = false, have_before = i >= 0;

	if (ret < 0)
		return ret;
	if (have_before)
		before = s->seen.v[i];
	ret = put_row(s, r, &e);
	if (ret == -ESTALE || ret == -ENOENT)
		return -ESTALE;
	if (ret < 0)
		return api_error(ret, &e, "update IPReservation", err);
	/* A row that changes hands must not give its new identity a second one. */
	if (has_key(r) && (!have_before || !has_key(&before) || strcmp(before.identity, r->identity) != 0 ||
			   strcmp(before.ifname, r->ifname) != 0 || before.pool != r->pool)) {
		ret = identity_taken(s, r, &taken, err);
		if (ret < 0 || taken) {
			if (have_before) {
				struct gl_err scratch = {0};

				gl_strlcpy(before.version, r->version, sizeof(before.version));
				(void)put_row(s, &before, &scratch);
			}
			return ret < 0 ? ret : -EEXIST;
		}
	}
	resv_name(r, name);
	if (have_before)
		journal_add(s, J_UPDATED, &before, name, r->version);
	seen_set(s, r);
	return 0;
}

static int kube_remove(struct gl_store *gs, const struct gl_resv *r, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);
	struct gl_err e = {0};
	char name[GL_STORE_KUBE_NAME_MAX];
	int ret = journal_room(s, err);

	if (ret < 0)
		return ret;
	resv_name(r, name);
	ret = gl_kube_delete(s->k, &resv_res, s->ns, name, NULL, r->version, &e);
	/* Gone already is a change we did not see: decide again. */
	if (ret == -ESTALE || ret == -ENOENT)
		return -ESTALE;
	if (ret < 0)
		return api_error(ret, &e, "delete IPReservation", err);
	journal_add(s, J_REMOVED, r, name, "");
	seen_drop(s, r);
	return 0;
}

/* One cheap request that needs the same rights as a scan. */
static int kube_status(struct gl_store *gs, struct gl_err *err)
{
	struct kube_store *s = to_kube(gs);
	struct gl_kube_list_opts o = { .limit = 1 };
	_cleanup_json_ json_object *list = NULL;
	struct gl_err e = {0};
	int r = gl_kube_list(s->k, &resv_res, s->ns, &o, &list, &e);

	return r < 0 ? api_error(r, &e, "list IPReservations", err) : 0;
}

/* The holder of a Bound row is gone when the API has no pod of its name,
 * or one with another UID (the pod was deleted and made again, as a
 * StatefulSet does on a reschedule). Any other answer proves nothing. */
static int kube_holder_gone(struct gl_store *gs, const struct gl_resv *r, struct gl_err *err)
{
	static const struct gl_kube_res pods = { "", "v1", "pods", true };
	struct kube_store *s = to_kube(gs);
	_cleanup_json_ json_object *pod = NULL;
	char ns[GL_KUBE_NAME_MAX];
	const char *slash = strchr(r->pod, '/'), *uid;
	json_object *meta, *v;
	struct gl_err e = {0};
	int ret;

	if (!slash || !r->pod_uid[0] || (size_t)(slash - r->pod) >= sizeof(ns) || !slash[1])
		return 0;
	memcpy(ns, r->pod, (size_t)(slash - r->pod));
	ns[slash - r->pod] = '\0';
	ret = gl_kube_get(s->k, &pods, ns, slash + 1, &pod, &e);
	if (ret == -ENOENT)
		return 1;
	if (ret < 0)
		return 0;
	if (!json_object_object_get_ex(pod, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, "uid", &v) || !json_object_is_type(v, json_type_string))
		return 0;
	uid = json_object_get_string(v);
	return strcmp(uid, r->pod_uid) != 0;
}

long gl_store_kube_requests(struct gl_store *s)
{
	/* By an op, not the table: a test may run the store with a copy. */
	if (!s || s->ops->scan != kube_scan)
		return -1;
	return (long)gl_kube_requests(to_kube(s)->k);
}

const struct gl_store_ops gl_store_kube_ops = {
	.type = "kubernetes",
	.spread_start = true,
	.open = kube_open,
	.close = kube_close,
	.begin = kube_begin,
	.commit = kube_commit,
	.rollback = kube_rollback,
	.scan = kube_scan,
	.insert = kube_insert,
	.update = kube_update,
	.remove = kube_remove,
	.status = kube_status,
	.holder_gone = kube_holder_gone,
	.scan_identity = kube_scan_identity,
};
