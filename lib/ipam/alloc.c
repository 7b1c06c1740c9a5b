/* The sticky allocator (see alloc.h for the rules). Each verb runs as one
 * store transaction: scan the network's rows, decide in memory, write the
 * few rows that change. A store that reports a lost race (-EEXIST, -ESTALE)
 * gets the whole decision made again from a fresh scan.
 *
 * With a store that has a write lock and can tell what changed under it
 * (SQLite: snapshot/refresh), the scan and the decision happen before the
 * lock, the writes are only planned; inside the lock, the plan is written
 * as it is when nothing changed since the snapshot, else the decision is
 * made again on the refreshed rows. The lock then covers the writes and
 * the commit, not the whole decision.
 *
 * With a store that reads one identity's rows cheaply (Kubernetes:
 * ops->scan_identity), an ADD decides from the identity's rows alone (a
 * returning identity, or a new one taking a free address by insert) and
 * from a fresh full scan only when it cannot (want_scan). */
#include "ipam/alloc.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/util.h"

/* Whole decisions made again after a lost race (a store without
 * transactions: Kubernetes). Hundreds of ADDs at once on one network lose
 * a few each; the jittered pause between attempts spreads them out. */
#define MAX_ATTEMPTS 16
#define RETRY_PAUSE_MAX_MS 256
/* Free addresses tried within one decision when another writer takes the
 * one chosen first ("409 = taken, try the next"). */
#define MAX_PROBES 8

/* Writes decided before the lock, in order, with the rows as written. */
enum plan_op { PLAN_INSERT, PLAN_UPDATE, PLAN_REMOVE };

struct plan {
	struct { enum plan_op op; struct gl_resv row; } *v;
	size_t n, cap;
};

/* The last holder check's answer, kept across the decisions of one call
 * (a decision made again inside the lock need not ask again). */
struct holder_memo {
	bool valid;
	struct gl_resv row;
	int gone;
};

struct txn {
	struct gl_store *s;
	struct gl_resv_list rows;   /* the network's rows; written rows kept current */
	struct gl_err *err;
	struct plan *plan;          /* writes are planned, not made (NULL: made at once) */
	struct holder_memo *memo;
	/* rows holds only the identity's own (ops->scan_identity); a decision
	 * that needs the others' sets need_scan and fails, and is made again
	 * on a full scan. */
	bool narrow, need_scan;
};

static const char *ipstr(const struct gl_ip *ip, char buf[GL_IP_STRLEN])
{
	return gl_ip_str(ip, buf, GL_IP_STRLEN);
}

static bool lost_race(int r)
{
	return r == -EEXIST || r == -ESTALE || r == -EADDRINUSE;
}

/* A per-process random sequence (xorshift64*): jitter and random probes.
 * Processes started in the same millisecond differ by their pid; a child
 * forked after its parent drew numbers seeds again, or racers forked from
 * one parent would all probe (and pause) alike. */
static uint64_t rnd64(void)
{
	static uint64_t x;
	static pid_t seeded;

	if (!x || seeded != getpid()) {
		seeded = getpid();
		x = ((uint64_t)seeded << 32) ^ (uint64_t)gl_now_mono_ms() ^ (uint64_t)time(NULL) ^
		    0x9e3779b97f4a7c15ull;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 2685821657736338717ull;
}

/* Before attempt `attempt` (1-based) after a lost race: a random pause up
 * to 8, 16, ... RETRY_PAUSE_MAX_MS ms, so that racers do not meet again. */
static void retry_pause(int attempt)
{
	int64_t cap = 8LL << (attempt < 6 ? attempt - 1 : 5);
	struct timespec ts;
	int64_t us;

	if (cap > RETRY_PAUSE_MAX_MS)
		cap = RETRY_PAUSE_MAX_MS;
	us = 1000 + (int64_t)(rnd64() % (uint64_t)(cap * 1000));
	ts.tv_sec = us / 1000000;
	ts.tv_nsec = (us % 1000000) * 1000;
	nanosleep(&ts, NULL);
}

static void plan_free(struct plan *p)
{
	free(p->v);
	p->v = NULL;
	p->n = p->cap = 0;
}

static int plan_push(struct plan *p, enum plan_op op, const struct gl_resv *row)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 4;
		__typeof__(p->v) v = realloc(p->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n].op = op;
	p->v[p->n].row = *row;
	p->n++;
	return 0;
}

/* The version a planned write leaves on its row, as the store will make
 * it (the stores with a plan count versions from 1), so that a later
 * planned write of the same row carries the right precondition. */
static void plan_bump(struct gl_resv *r, bool fresh)
{
	long long v = fresh ? 0 : strtoll(r->version, NULL, 10);

	snprintf(r->version, sizeof(r->version), "%lld", v + 1);
}

static int plan_write(struct gl_store *s, const struct plan *p, struct gl_err *err)
{
	for (size_t i = 0; i < p->n; i++) {
		struct gl_resv row = p->v[i].row;
		int r;

		switch (p->v[i].op) {
		case PLAN_INSERT: r = s->ops->insert(s, &row, err); break;
		case PLAN_UPDATE: r = s->ops->update(s, &row, err); break;
		default: r = s->ops->remove(s, &row, err); break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

static int copy_rows(const struct gl_resv_list *from, struct gl_resv_list *to)
{
	to->n = 0;
	for (size_t i = 0; i < from->n; i++) {
		int r = gl_store_list_push(to, &from->v[i]);

		if (r < 0)
			return r;
	}
	return 0;
}

/* One attempt of a planned run (see the top of the file). */
static int run_planned_once(struct gl_store *s, const char *network,
			    int (*fn)(struct txn *t, void *arg), void *arg, struct holder_memo *memo,
			    struct gl_err *err)
{
	_cleanup_(gl_store_list_freep) struct gl_resv_list snap = {0};
	_cleanup_(plan_free) struct plan plan = {0};
	struct txn t = { .s = s, .err = err, .plan = &plan, .memo = memo };
	struct gl_err early = {0};
	uint64_t token = 0;
	bool changed = true;
	int r, decided;

	r = s->ops->snapshot(s, network, &snap, &token, err);
	if (r < 0)
		return r;
	r = copy_rows(&snap, &t.rows);
	if (r < 0) {
		gl_store_list_free(&t.rows);
		return gl_err_set(err, GL_ERR_INTERNAL, "out of memory");
	}
	/* The decision's own message is kept aside until it is known to hold. */
	t.err = &early;
	decided = fn(&t, arg);
	gl_store_list_free(&t.rows);
	if (decided >= 0 && plan.n == 0)
		return decided;
	r = s->ops->begin(s, err);
	if (r < 0)
		return r;
	r = s->ops->refresh(s, network, token, &snap, &changed, err);
	if (r >= 0 && !changed) {
		if (decided < 0) {
			s->ops->rollback(s);
			if (err && !err->code)
				*err = early;
			return decided;
		}
		r = plan_write(s, &plan, err);
	} else if (r >= 0) {
		/* Somebody wrote since the snapshot: decide again, on rows that
		 * nobody can change until the commit. */
		struct txn again = { .s = s, .rows = snap, .err = err, .memo = memo };

		snap = (struct gl_resv_list){0};
		r = fn(&again, arg);
		gl_store_list_free(&again.rows);
	}
	if (r >= 0)
		return s->ops->commit(s, err);
	s->ops->rollback(s);
	return r;
}

/* A narrow decision (txn.narrow) that cannot be made from the identity's
 * rows alone. */
static int want_scan(struct txn *t)
{
	t->need_scan = true;
	return -EAGAIN;
}

/* One transaction around fn, retried while the store says another writer
 * won a race (with SQLite only when a planned write finds it lost one).
 * With identity and a store that reads one identity's rows cheaply
 * (ops->scan_identity), fn first decides from those rows alone, and from a
 * full scan only when it says it must (want_scan). */
static int run(struct gl_store *s, const char *network, const char *identity,
	       int (*fn)(struct txn *t, void *arg), void *arg, struct gl_err *err)
{
	struct holder_memo memo = {0};
	bool planned = network && s->ops->snapshot && s->ops->refresh;
	bool narrow = network && identity && s->ops->scan_identity, paused = true;

	for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
		struct txn t = { .s = s, .err = err, .memo = &memo, .narrow = narrow };
		int r;

		if (planned) {
			r = run_planned_once(s, network, fn, arg, &memo, err);
			if (!lost_race(r))
				return r;
			continue;
		}

		if (!paused)
			retry_pause(attempt);
		paused = false;
		r = s->ops->begin(s, err);
		if (r < 0)
			return r;
		r = narrow ? s->ops->scan_identity(s, network, identity, &t.rows, err)
			   : s->ops->scan(s, network, &t.rows, err);
		if (r >= 0)
			r = fn(&t, arg);
		if (r >= 0)
			r = s->ops->commit(s, err);
		else
			s->ops->rollback(s);
		gl_store_list_free(&t.rows);
		if (t.need_scan) {
			narrow = false;
			paused = true; /* nobody to avoid: no pause before the scan */
			continue;
		}
		if (!lost_race(r))
			return r;
	}
	return gl_err_set(err, GL_ERR_TRY_AGAIN,
			  "store: other writers kept changing the reservations (%d attempts); try again",
			  MAX_ATTEMPTS);
}

/* Rows removed in this transaction stay in the list with no address. */
static bool dead(const struct gl_resv *r)
{
	return r->ip.family == 0;
}

bool gl_alloc_expired(const struct gl_resv *r, int64_t now)
{
	return r->expires != GL_RESV_NEVER && r->expires <= now;
}

static int64_t add_sat(int64_t now, int64_t d)
{
	if (d == INT64_MAX || now > INT64_MAX - d)
		return GL_RESV_NEVER;
	return now + d;
}

/* Blocks a new identity from taking the address in the first pass. */
static bool occupies(const struct gl_resv *r, int64_t now)
{
	if (dead(r))
		return false;
	if (r->state == GL_RESV_CONFLICT)
		return !gl_alloc_expired(r, now);
	return true;
}

/* May go to a new identity when the pool is otherwise exhausted. */
static bool reusable_held(const struct gl_resv *r, int64_t now)
{
	return !dead(r) && r->state == GL_RESV_RELEASED && !r->pinned && gl_alloc_expired(r, now);
}

static int find_ip(struct txn *t, const struct gl_ip *ip)
{
	for (size_t i = 0; i < t->rows.n; i++)
		if (!dead(&t->rows.v[i]) && gl_ip_equal(&t->rows.v[i].ip, ip))
			return (int)i;
	return -1;
}

static int find_mine(struct txn *t, const char *identity, const char *ifname, int pool)
{
	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];

		if (!dead(r) && r->state != GL_RESV_CONFLICT && r->pool == pool &&
		    strcmp(r->identity, identity) == 0 && strcmp(r->ifname, ifname) == 0)
			return (int)i;
	}
	return -1;
}

static int t_insert(struct txn *t, struct gl_resv *r)
{
	int ret;

	if (t->plan) {
		plan_bump(r, true);
		ret = plan_push(t->plan, PLAN_INSERT, r);
	} else {
		ret = t->s->ops->insert(t->s, r, t->err);
	}
	if (ret == -ENOMEM)
		return gl_err_set(t->err, GL_ERR_INTERNAL, "out of memory");
	if (ret < 0)
		return ret;
	ret = gl_store_list_push(&t->rows, r);
	if (ret < 0)
		return gl_err_set(t->err, GL_ERR_STORE, "too many reservations");
	return 0;
}

static int t_update(struct txn *t, int idx)
{
	struct gl_resv *row = &t->rows.v[idx];

	if (t->plan) {
		if (plan_push(t->plan, PLAN_UPDATE, row) < 0)
			return gl_err_set(t->err, GL_ERR_INTERNAL, "out of memory");
		plan_bump(row, false);
		return 0;
	}
	return t->s->ops->update(t->s, row, t->err);
}

static int t_remove(struct txn *t, int idx)
{
	int r = t->plan ? plan_push(t->plan, PLAN_REMOVE, &t->rows.v[idx])
			: t->s->ops->remove(t->s, &t->rows.v[idx], t->err);

	if (r == -ENOMEM)
		return gl_err_set(t->err, GL_ERR_INTERNAL, "out of memory");

	if (r < 0)
		return r;
	t->rows.v[idx].ip.family = 0;
	return 0;
}

static int set_str(char *dst, size_t size, const char *src, const char *what, struct gl_err *err)
{
	if (gl_strlcpy(dst, src ? src : "", size) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s is longer than %zu bytes", what,
				  size - 1);
	return 0;
}

/* ---- config lookups ---- */

static const struct gl_ip *pin_for(const struct gl_ipam_conf *c, const char *identity, int pool)
{
	const struct gl_ipam_pin *pin = gl_ipamconf_pin_of(c, identity);

	for (int i = 0; pin && i < pin->n_ips; i++)
		if (pin->pool[i] == pool)
			return &pin->ips[i];
	return NULL;
}

/* The identity (other than `identity`) the config pins ip for, or NULL. */
static const char *pinned_for_other(const struct gl_ipam_conf *c, const struct gl_ip *ip,
				    const char *identity)
{
	for (int k = 0; k < c->n_pins; k++)
		for (int i = 0; i < c->pins[k].n_ips; i++)
			if (gl_ip_equal(&c->pins[k].ips[i], ip) &&
			    (!identity || strcmp(c->pins[k].identity, identity) != 0))
				return c->pins[k].identity;
	return NULL;
}

static bool in_ranges(const struct gl_ipam_conf *c, int pool, const struct gl_ip *ip)
{
	const struct gl_ipam_pool *p = &c->pools[pool];

	for (int i = 0; i < p->n_ranges; i++)
		if (gl_prefix_contains(&p->ranges[i].subnet, ip) &&
		    gl_ip_cmp(&p->ranges[i].start, ip) <= 0 && gl_ip_cmp(ip, &p->ranges[i].end) <= 0)
			return true;
	return false;
}

/* May a new identity be handed ip from this pool at all. */
static bool assignable(const struct gl_ipam_conf *c, int pool, const struct gl_ip *ip)
{
	return in_ranges(c, pool, ip) && !gl_ipamconf_excluded(c, ip) &&
	       !gl_ipamconf_reserved(c, pool, ip);
}

/* May the holder of a reservation keep ip under the current config: pinned
 * rows anywhere usable in the subnet, others inside the ranges. */
static bool still_valid(const struct gl_ipam_conf *c, int pool, const struct gl_resv *r)
{
	if (!gl_ipamconf_range_of(c, pool, &r->ip) || gl_ipamconf_reserved(c, pool, &r->ip))
		return false;
	return r->pinned || (in_ranges(c, pool, &r->ip) && !gl_ipamconf_excluded(c, &r->ip));
}

static bool in_list(const struct gl_ip *list, int n, const struct gl_ip *ip)
{
	for (int i = 0; i < n; i++)
		if (gl_ip_equal(&list[i], ip))
			return true;
	return false;
}

/* ---- ADD ---- */

struct add_arg {
	const struct gl_alloc_req *req;
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	bool fresh[GL_IPAM_MAX_POOLS];
};

/* Too long to record is recorded as unknown ("" ): its holder then
 * cannot be checked, which only makes a later ADD wait for it. */
static void set_fact(char *dst, size_t size, const char *src)
{
	if (gl_strlcpy(dst, src ? src : "", size) < 0)
		dst[0] = '\0';
}

static void fill_bound(struct gl_resv *r, const struct gl_alloc_req *req, int pool)
{
	r->pool = pool;
	r->state = GL_RESV_BOUND;
	r->expires = GL_RESV_NEVER;
	r->updated = req->now;
	gl_strlcpy(r->node, req->node ? req->node : "", sizeof(r->node));
	set_fact(r->netns, sizeof(r->netns), req->netns);
	set_fact(r->pod, sizeof(r->pod), req->pod);
	set_fact(r->pod_uid, sizeof(r->pod_uid), req->pod_uid);
}

/* Give ip to the caller: the existing row idx (an expired conflict or Held
 * row, or a row of the same identity) is taken over, else a row is made. */
static int claim(struct txn *t, const struct gl_alloc_req *req, int pool,
		 const struct gl_ip *ip, int idx, bool pinned)
{
	struct gl_resv *r, fresh;
	int ret;

	if (idx >= 0) {
		r = &t->rows.v[idx];
	} else {
		memset(&fresh, 0, sizeof(fresh));
		r = &fresh;
		r->ip = *ip;
		gl_strlcpy(r->network, req->conf->network, sizeof(r->network));
	}
	ret = set_str(r->identity, sizeof(r->identity), req->identity, "identity", t->err);
	if (ret >= 0)
		ret = set_str(r->ifname, sizeof(r->ifname), req->ifname, "ifname", t->err);
	if (ret >= 0)
		ret = set_str(r->container_id, sizeof(r->container_id), req->container_id,
			      "container ID", t->err);
	if (ret < 0)
		return ret;
	r->pinned = pinned;
	fill_bound(r, req, pool);
	return idx >= 0 ? t_update(t, idx) : t_insert(t, r);
}

static int rebind(struct txn *t, const struct gl_alloc_req *req, int idx, bool pin)
{
	struct gl_resv *r = &t->rows.v[idx];
	int ret = set_str(r->container_id, sizeof(r->container_id), req->container_id,
			  "container ID", t->err);

	if (ret < 0)
		return ret;
	r->pinned = r->pinned || pin;
	fill_bound(r, req, r->pool);
	return t_update(t, idx);
}

/* The macvlan plugin's probe found these addresses answered for by another
 * LAN host: nobody gets them until conflictHold passes. */
static int record_conflicts(struct txn *t, const struct gl_alloc_req *req, int pool)
{
	const struct gl_ipam_conf *c = req->conf;
	const struct gl_ip *pin = pin_for(c, req->identity, pool);
	int64_t until = add_sat(req->now, c->conflict_hold_ms);
	char a[GL_IP_STRLEN];

	for (int i = 0; i < req->n_conflicts; i++) {
		const struct gl_ip *x = &req->conflicts[i];
		struct gl_resv *r, fresh;
		int idx, ret;

		if (gl_ipamconf_pool_of(c, x) != pool)
			continue;
		idx = find_ip(t, x);
		if ((pin && gl_ip_equal(pin, x)) ||
		    (idx >= 0 && t->rows.v[idx].pinned && strcmp(t->rows.v[idx].identity, req->identity) == 0))
			return gl_err_set(t->err, GL_ERR_ADDR_IN_USE,
					  "address %s is pinned for %s, but another host on the LAN answers for it; "
					  "free it on the LAN or change the pin", ipstr(x, a), req->identity);
		if (idx >= 0) {
			r = &t->rows.v[idx];
			/* Another attachment's address: its own probe decides. */
			if (r->state != GL_RESV_CONFLICT && (strcmp(r->identity, req->identity) != 0 ||
							     strcmp(r->ifname, req->ifname) != 0))
				continue;
			r->identity[0] = r->ifname[0] = r->container_id[0] = '\0';
			r->state = GL_RESV_CONFLICT;
			r->pinned = false;
			if (r->expires == GL_RESV_NEVER || r->expires < until)
				r->expires = until;
			r->updated = req->now;
			gl_strlcpy(r->node, req->node ? req->node : "", sizeof(r->node));
			ret = t_update(t, idx);
		} else {
			if (pinned_for_other(c, x, req->identity))
				continue;
			memset(&fresh, 0, sizeof(fresh));
			gl_strlcpy(fresh.network, c->network, sizeof(fresh.network));
			fresh.pool = pool;
			fresh.ip = *x;
			fresh.state = GL_RESV_CONFLICT;
			fresh.expires = until;
			fresh.updated = req->now;
			gl_strlcpy(fresh.node, req->node ? req->node : "", sizeof(fresh.node));
			ret = t_insert(t, &fresh);
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int release_row(struct txn *t, const struct gl_ipam_conf *c, int idx, int64_t now);

static int ip_cmp_qsort(const void *a, const void *b)
{
	return gl_ip_cmp(a, b);
}

/* The addresses a new identity may not take from a pool, sorted: what the
 * rows occupy, config pins, the conflicts of this request, and what other
 * writers took while this decision was being made. */
struct taken {
	struct gl_ip *v;
	size_t n, cap;
};

static void taken_freep(struct taken *tk)
{
	free(tk->v);
}

static int taken_init(struct taken *tk, struct txn *t, const struct gl_alloc_req *req)
{
	const struct gl_ipam_conf *c = req->conf;

	tk->cap = t->rows.n + (size_t)req->n_conflicts + MAX_PROBES + 1;
	for (int k = 0; k < c->n_pins; k++)
		tk->cap += (size_t)c->pins[k].n_ips;
	tk->v = calloc(tk->cap, sizeof(*tk->v));
	if (!tk->v)
		return -ENOMEM;
	for (size_t i = 0; i < t->rows.n; i++)
		if (occupies(&t->rows.v[i], req->now))
			tk->v[tk->n++] = t->rows.v[i].ip;
	for (int k = 0; k < c->n_pins; k++)
		for (int i = 0; i < c->pins[k].n_ips; i++)
			tk->v[tk->n++] = c->pins[k].ips[i];
	for (int i = 0; i < req->n_conflicts; i++)
		tk->v[tk->n++] = req->conflicts[i];
	qsort(tk->v, tk->n, sizeof(*tk->v), ip_cmp_qsort);
	return 0;
}

/* Room for MAX_PROBES additions was made by taken_init. */
static void taken_add(struct taken *tk, const struct gl_ip *ip)
{
	size_t i = tk->n;

	if (tk->n >= tk->cap)
		return;
	while (i > 0 && gl_ip_cmp(&tk->v[i - 1], ip) > 0) {
		tk->v[i] = tk->v[i - 1];
		i--;
	}
	tk->v[i] = *ip;
	tk->n++;
}

/* The first address of [from, to] in range rg of pool that nobody may
 * object to. Each step passes a taken address, a reserved one or an
 * excluded prefix, so the walk is bounded by what is in use, not by the
 * size of the range. */
static int free_between(const struct gl_ipam_conf *c, int pool, const struct taken *tk,
			struct gl_ip from, const struct gl_ip *to, struct gl_ip *ret)
{
	struct gl_ip cur = from;

	while (gl_ip_cmp(&cur, to) <= 0) {
		bool skip = gl_ipamconf_reserved(c, pool, &cur) ||
			    bsearch(&cur, tk->v, tk->n, sizeof(*tk->v), ip_cmp_qsort);

		for (int e = 0; !skip && e < c->n_excludes; e++)
			if (gl_prefix_contains(&c->excludes[e], &cur)) {
				cur = gl_prefix_last(&c->excludes[e]);
				skip = true;
			}
		if (!skip) {
			*ret = cur;
			return 1;
		}
		if (gl_ip_add(&cur, 1, &cur) < 0)
			break;
	}
	return 0;
}

/* The lowest free address of the pool's ranges. */
static int lowest_free(const struct gl_ipam_conf *c, int pool, const struct taken *tk,
		       struct gl_ip *ret)
{
	const struct gl_ipam_pool *p = &c->pools[pool];

	for (int i = 0; i < p->n_ranges; i++)
		if (free_between(c, pool, tk, p->ranges[i].start, &p->ranges[i].end, ret))
			return 1;
	return 0;
}

static unsigned __int128 ip_u128(const struct gl_ip *ip)
{
	unsigned __int128 v = 0;

	for (size_t i = 0; i < gl_ip_size(ip); i++)
		v = v << 8 | ip->addr[i];
	return v;
}

/* Addresses in a range, capped where an int64 offset stops. */
static uint64_t range_span(const struct gl_ipam_range *rg)
{
	unsigned __int128 d = ip_u128(&rg->end) - ip_u128(&rg->start);

	return d >= INT64_MAX ? INT64_MAX : (uint64_t)d + 1;
}

/* A free address from point `seed` (modulo the pool's size) of the pool's
 * ranges on, wrapping around. */
static int free_from(const struct gl_ipam_conf *c, int pool, const struct taken *tk,
		     uint64_t seed, struct gl_ip *ret)
{
	const struct gl_ipam_pool *p = &c->pools[pool];
	uint64_t total = 0, pick;
	int i0 = 0;
	struct gl_ip start, before;

	for (int i = 0; i < p->n_ranges; i++) {
		uint64_t span = range_span(&p->ranges[i]);

		total = total > UINT64_MAX - span ? UINT64_MAX : total + span;
	}
	if (total == 0)
		return lowest_free(c, pool, tk, ret);
	pick = seed % total;
	for (i0 = 0; i0 < p->n_ranges - 1; i0++) {
		uint64_t span = range_span(&p->ranges[i0]);

		if (pick < span)
			break;
		pick -= span;
	}
	pick %= range_span(&p->ranges[i0]);
	if (gl_ip_add(&p->ranges[i0].start, (int64_t)pick, &start) < 0)
		return lowest_free(c, pool, tk, ret);
	if (free_between(c, pool, tk, start, &p->ranges[i0].end, ret))
		return 1;
	for (int k = 1; k < p->n_ranges; k++) {
		const struct gl_ipam_range *rg = &p->ranges[(i0 + k) % p->n_ranges];

		if (free_between(c, pool, tk, rg->start, &rg->end, ret))
			return 1;
	}
	if (gl_ip_cmp(&start, &p->ranges[i0].start) > 0 && gl_ip_add(&start, -1, &before) == 0)
		return free_between(c, pool, tk, p->ranges[i0].start, &before, ret);
	return 0;
}

/* From a random point: writers that just collided on one address spread
 * out instead of colliding again on the next lowest one. */
static int random_free(const struct gl_ipam_conf *c, int pool, const struct taken *tk,
		       struct gl_ip *ret)
{
	return free_from(c, pool, tk, rnd64(), ret);
}

/* A new identity's first choice. Serialized stores: the lowest free address
 * (one writer: a predictable order, the first server gets rangeStart).
 * Stores whose writers race (ops->spread_start): a point derived from the
 * identity, so concurrent new identities start apart instead of all
 * colliding on the lowest free address, and one identity's retries come
 * back to the same point. */
static int first_free(const struct gl_store *s, const struct gl_alloc_req *req, int pool,
		      const struct taken *tk, struct gl_ip *ret)
{
	const char *parts[3] = { req->conf->network, req->identity, req->ifname };

	if (!s->ops->spread_start)
		return lowest_free(req->conf, pool, tk, ret);
	return free_from(req->conf, pool, tk, gl_hash64(parts, 3), ret);
}

/* Under exhaustion only: the Held row whose hold ended first. */
static int oldest_expired_held(struct txn *t, const struct gl_alloc_req *req, int pool)
{
	int best = -1;

	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];

		if (!reusable_held(r, req->now) || !assignable(req->conf, pool, &r->ip) ||
		    pinned_for_other(req->conf, &r->ip, NULL) ||
		    in_list(req->conflicts, req->n_conflicts, &r->ip))
			continue;
		if (best < 0 || r->expires < t->rows.v[best].expires ||
		    (r->expires == t->rows.v[best].expires && gl_ip_cmp(&r->ip, &t->rows.v[best].ip) < 0))
			best = (int)i;
	}
	return best;
}

static const char *holder_desc(const struct gl_resv *r, char *buf, size_t size)
{
	snprintf(buf, size, "%s by %s%s%s", gl_alloc_status(r), r->identity,
		 r->state == GL_RESV_BOUND ? ", container " : "",
		 r->state == GL_RESV_BOUND ? r->container_id : "");
	return buf;
}

/* The caller must get exactly `target` (config pin or requested address). */
static int take_target(struct txn *t, const struct gl_alloc_req *req, int pool,
		       const struct gl_ip *target, bool pin, int mine)
{
	const char *kind = pin ? "pinned" : "requested";
	char a[GL_IP_STRLEN], who[GL_CNI_IDENTITY_MAX + GL_CNI_ID_MAX + 64];
	int idx = find_ip(t, target), ret;
	bool keep_pin = pin;

	if (idx >= 0 && idx == mine)
		return rebind(t, req, idx, pin);
	if (idx >= 0) {
		const struct gl_resv *r = &t->rows.v[idx];

		if (r->state == GL_RESV_CONFLICT) {
			/* Nobody gets an address while the LAN conflict lasts, not even
			 * the identity it is pinned for: that is an error to fix on the
			 * LAN, and taking the row would lose the conflict record. */
			if (!gl_alloc_expired(r, req->now))
				return gl_err_set(t->err, GL_ERR_ADDR_IN_USE,
						  "%s address %s was answered for by another host on the LAN; it is "
						  "kept out of use until the conflict hold passes (or `gamelan-ipam "
						  "release %s %s` once the LAN is fixed)", kind, ipstr(target, a),
						  req->conf->network, a);
		} else if (strcmp(r->identity, req->identity) == 0) {
			if (r->state == GL_RESV_BOUND)
				return gl_err_set(t->err, GL_ERR_PIN_CONFLICT,
						  "%s address %s is already bound to %s on interface %s",
						  kind, ipstr(target, a), req->identity, r->ifname);
			keep_pin = keep_pin || r->pinned;
		} else if (!reusable_held(r, req->now)) {
			return gl_err_set(t->err, GL_ERR_PIN_CONFLICT,
					  "%s address %s for %s is %s; free it with `gamelan-ipam release %s %s`",
					  kind, ipstr(target, a), req->identity,
					  holder_desc(r, who, sizeof(who)), req->conf->network, a);
		}
	}
	/* The identity's old address gives way to the one it must have. */
	if (mine >= 0) {
		ret = t_remove(t, mine);
		if (ret < 0)
			return ret;
	}
	return claim(t, req, pool, target, idx, keep_pin);
}

static int requested_for(const struct gl_alloc_req *req, int pool, const struct gl_ip **ret,
			 struct gl_err *err)
{
	const struct gl_ipam_conf *c = req->conf;
	char a[GL_IP_STRLEN];

	for (int i = 0; i < req->n_requested; i++) {
		const struct gl_ip *ip = &req->requested[i];
		const char *other;

		if (gl_ipamconf_pool_of(c, ip) != pool)
			continue;
		if (!assignable(c, pool, ip))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "requested address %s is not available in the ranges of network %s "
					  "(outside rangeStart-rangeEnd, excluded, or a gateway)",
					  ipstr(ip, a), c->network);
		other = pinned_for_other(c, ip, req->identity);
		if (other)
			return gl_err_set(err, GL_ERR_PIN_CONFLICT,
					  "requested address %s is pinned for %s", ipstr(ip, a), other);
		*ret = ip;
		return 1;
	}
	return 0;
}

static bool same_row(const struct gl_resv *a, const struct gl_resv *b)
{
	return gl_ip_equal(&a->ip, &b->ip) && strcmp(a->version, b->version) == 0 &&
	       strcmp(a->container_id, b->container_id) == 0;
}

/* 1 when the container holding r is provably gone, 0 when it may run. */
static int holder_gone(struct txn *t, const struct gl_alloc_req *req, const struct gl_resv *r)
{
	struct gl_err scratch = {0};
	int gone = 0;

	if (t->memo && t->memo->valid && same_row(&t->memo->row, r))
		return t->memo->gone;
	if (req->node && *req->node && strcmp(r->node, req->node) == 0) {
		/* This node can look: its answer is the only one that counts. */
		if (r->netns[0] && req->local_gone)
			gone = req->local_gone(r) > 0;
	} else if (t->s->ops->holder_gone) {
		gone = t->s->ops->holder_gone(t->s, r, &scratch) > 0;
	}
	if (t->memo) {
		t->memo->valid = true;
		t->memo->row = *r;
		t->memo->gone = gone;
	}
	return gone;
}

/* The identity's row idx may be taken over by this container: it is not
 * Bound, or Bound to this container, or its holder is gone. Two live links
 * with one address and one MAC would break both servers on the LAN. */
static int holder_check(struct txn *t, const struct gl_alloc_req *req, int idx)
{
	const struct gl_resv *r = &t->rows.v[idx];
	char a[GL_IP_STRLEN];

	if (r->state != GL_RESV_BOUND || strcmp(r->container_id, req->container_id) == 0 ||
	    holder_gone(t, req, r))
		return 0;
	return gl_err_set(t->err, GL_ERR_TRY_AGAIN,
			  "%s (%s) is bound to container %.64s on node %s%s%s, which may still be running: "
			  "%s is not brought up twice. Try again after that container's DEL or a GC; if "
			  "it is gone for good: gamelan-ipam release %s %s --force",
			  r->identity, r->ifname, r->container_id, r->node[0] ? r->node : "(unknown)",
			  r->pod_uid[0] ? ", pod UID " : "", r->pod_uid, ipstr(&r->ip, a),
			  req->conf->network, a);
}

/* A free address for a new identity: the first choice (first_free) on the
 * first probe, a random one after another writer took the one chosen. */
static int pick_free(const struct gl_store *s, const struct gl_alloc_req *req, int pool,
		     const struct taken *tk, int probe, struct gl_ip *ret)
{
	return probe == 0 ? first_free(s, req, pool, tk, ret) : random_free(req->conf, pool, tk, ret);
}

static int add_pool(struct txn *t, const struct gl_alloc_req *req, int pool, struct gl_ip *ret,
		    bool *ret_fresh)
{
	const struct gl_ipam_conf *c = req->conf;
	const struct gl_ip *target = pin_for(c, req->identity, pool);
	bool pin = target != NULL;
	_cleanup_(taken_freep) struct taken tk = {0};
	struct gl_ip ip;
	int mine, idx, r;

	/* Narrow (only the identity's rows known): what another identity holds
	 * is learnt from a refused insert, never guessed. Conflicts change the
	 * rows of others, and the expired-Held rule needs them all. */
	if (t->narrow && req->n_conflicts > 0)
		return want_scan(t);
	r = record_conflicts(t, req, pool);
	if (r < 0)
		return r;
	/* A config pin wins over an address the runtime asks for. */
	if (!target) {
		r = requested_for(req, pool, &target, t->err);
		if (r < 0)
			return r;
	}
	mine = find_mine(t, req->identity, req->ifname, pool);
	*ret_fresh = mine < 0;
	if (mine >= 0) {
		r = holder_check(t, req, mine);
		if (r < 0)
			return r;
	}
	if (target) {
		r = take_target(t, req, pool, target, pin, mine);
		if (t->narrow && r == -EADDRINUSE)
			return want_scan(t); /* who holds it decides */
		if (r >= 0)
			*ret = *target;
		return r;
	}
	if (mine >= 0) {
		if (still_valid(c, pool, &t->rows.v[mine])) {
			*ret = t->rows.v[mine].ip;
			return rebind(t, req, mine, false);
		}
		/* The config no longer covers its address. */
		r = t_remove(t, mine);
		if (r < 0)
			return r;
	}
	/* The lowest free address is a fact about every row. */
	if (t->narrow && !t->s->ops->spread_start)
		return want_scan(t);
	r = taken_init(&tk, t, req);
	if (r < 0)
		return gl_err_set(t->err, GL_ERR_INTERNAL, "out of memory");
	for (int probe = 0; probe < MAX_PROBES; probe++) {
		if (!pick_free(t->s, req, pool, &tk, probe, &ip))
			break;
		idx = find_ip(t, &ip); /* an expired conflict row, if any */
		r = claim(t, req, pool, &ip, idx, false);
		if (r != -EADDRINUSE || idx >= 0) {
			if (r >= 0)
				*ret = ip;
			return r;
		}
		taken_add(&tk, &ip);
		if (probe == MAX_PROBES - 1)
			return t->narrow ? want_scan(t) : r;
	}
	if (t->narrow)
		return want_scan(t);
	idx = oldest_expired_held(t, req, pool);
	if (idx >= 0) {
		ip = t->rows.v[idx].ip;
		*ret = ip;
		return claim(t, req, pool, &ip, idx, false);
	}
	return gl_err_set(t->err, GL_ERR_POOL_EXHAUSTED,
			  "no free address in range set %d of network %s: every address is bound, "
			  "pinned, held (hold not expired) or in conflict", pool, c->network);
}

static int add_fn(struct txn *t, void *arg)
{
	struct add_arg *a = arg;

	for (int p = 0; p < a->req->conf->n_pools; p++) {
		int r = add_pool(t, a->req, p, &a->ips[p], &a->fresh[p]);

		if (r < 0)
			return r;
	}
	return 0;
}

static int req_check(const struct gl_alloc_req *req, struct gl_err *err)
{
	if (!req->conf || !req->identity || !*req->identity || !req->ifname || !*req->ifname ||
	    !req->container_id || !*req->container_id)
		return gl_err_set(err, GL_ERR_INVALID_ENV, "identity, ifname and container ID are required");
	if (req->n_conflicts > GL_ALLOC_MAX_CONFLICTS)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "at most %d conflicting addresses",
				  GL_ALLOC_MAX_CONFLICTS);
	return 0;
}

int gl_alloc_add(struct gl_store *s, const struct gl_alloc_req *req,
		 struct gl_ip ret_ips[GL_IPAM_MAX_POOLS], struct gl_err *err)
{
	struct add_arg a = { .req = req };
	int r = req_check(req, err);

	if (r < 0)
		return r;
	r = run(s, req->conf->network, req->identity, add_fn, &a, err);
	if (r < 0)
		return r;
	memcpy(ret_ips, a.ips, sizeof(a.ips[0]) * (size_t)req->conf->n_pools);
	if (req->ret_fresh)
		memcpy(req->ret_fresh, a.fresh, sizeof(a.fresh[0]) * (size_t)req->conf->n_pools);
	return 0;
}

struct undo_arg {
	const struct gl_alloc_req *req;
	const bool *fresh;
};

/* Take back what an ADD of this container did: a reservation the ADD made
 * goes away, one the identity already had is released as DEL would. */
static int undo_fn(struct txn *t, void *arg)
{
	const struct undo_arg *a = arg;
	const struct gl_alloc_req *req = a->req;

	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];
		int ret;

		if (dead(r) || r->state != GL_RESV_BOUND || strcmp(r->identity, req->identity) != 0 ||
		    strcmp(r->ifname, req->ifname) != 0 || strcmp(r->container_id, req->container_id) != 0 ||
		    r->pool < 0 || r->pool >= req->conf->n_pools)
			continue;
		ret = a->fresh[r->pool] ? t_remove(t, (int)i) : release_row(t, req->conf, (int)i, req->now);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int gl_alloc_undo(struct gl_store *s, const struct gl_alloc_req *req,
		  const bool fresh[GL_IPAM_MAX_POOLS], struct gl_err *err)
{
	struct undo_arg a = { .req = req, .fresh = fresh };
	int r = req_check(req, err);

	if (r < 0)
		return r;
	return run(s, req->conf->network, NULL, undo_fn, &a, err);
}

/* ---- DEL, GC ---- */

/* A Bound row stops being used: Pinned rows stay the identity's forever,
 * Held ones until the hold passes; a container ID is nobody's identity
 * after its container is gone, so its address is free at once. */
static int release_row(struct txn *t, const struct gl_ipam_conf *c, int idx, int64_t now)
{
	struct gl_resv *r = &t->rows.v[idx];
	const struct gl_ip *pin = pin_for(c, r->identity, r->pool);

	if (pin && gl_ip_equal(pin, &r->ip))
		r->pinned = true;
	if (!r->pinned && strcmp(r->identity, r->container_id) == 0)
		return t_remove(t, idx);
	r->state = GL_RESV_RELEASED;
	r->expires = r->pinned ? GL_RESV_NEVER : add_sat(now, c->hold_ms);
	r->updated = now;
	return t_update(t, idx);
}

static int del_fn(struct txn *t, void *arg)
{
	const struct gl_alloc_req *req = arg;
	int n = 0;

	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];

		if (!dead(r) && r->state == GL_RESV_BOUND && strcmp(r->identity, req->identity) == 0 &&
		    strcmp(r->ifname, req->ifname) == 0 && strcmp(r->container_id, req->container_id) == 0) {
			int ret = release_row(t, req->conf, (int)i, req->now);

			if (ret < 0)
				return ret;
			n++;
		}
	}
	/* DEL may come without the pod's CNI_ARGS: the container is enough. */
	for (size_t i = 0; n == 0 && i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];

		if (!dead(r) && r->state == GL_RESV_BOUND && strcmp(r->ifname, req->ifname) == 0 &&
		    strcmp(r->container_id, req->container_id) == 0) {
			int ret = release_row(t, req->conf, (int)i, req->now);

			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

int gl_alloc_del(struct gl_store *s, const struct gl_alloc_req *req, struct gl_err *err)
{
	int r = req_check(req, err);

	if (r < 0)
		return r;
	return run(s, req->conf->network, NULL, del_fn, (void *)req, err);
}

struct gc_arg {
	const struct gl_ipam_conf *conf;
	const char *node;
	int64_t now;
	const struct gl_cni_attachment *valid;
	int n_valid;
	int released;
};

static bool attachment_valid(const struct gc_arg *a, const struct gl_resv *r)
{
	for (int i = 0; i < a->n_valid; i++)
		if (strcmp(a->valid[i].container_id, r->container_id) == 0 &&
		    strcmp(a->valid[i].ifname, r->ifname) == 0)
			return true;
	return false;
}

static int gc_fn(struct txn *t, void *arg)
{
	struct gc_arg *a = arg;

	a->released = 0;
	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];
		int ret = 0;

		if (dead(r))
			continue;
		if (r->state == GL_RESV_CONFLICT && gl_alloc_expired(r, a->now)) {
			ret = t_remove(t, (int)i);
		} else if (r->state == GL_RESV_BOUND && strcmp(r->node, a->node) == 0 &&
			   !attachment_valid(a, r)) {
			/* Another node's attachments are not in this node's list. */
			ret = release_row(t, a->conf, (int)i, a->now);
			a->released++;
		}
		if (ret < 0)
			return ret;
	}
	return 0;
}

int gl_alloc_gc(struct gl_store *s, const struct gl_ipam_conf *conf, const char *node,
		int64_t now, const struct gl_cni_attachment *valid, int n_valid,
		int *ret_released, struct gl_err *err)
{
	struct gc_arg a = { .conf = conf, .node = node ? node : "", .now = now, .valid = valid,
			    .n_valid = n_valid };
	int r = run(s, conf->network, NULL, gc_fn, &a, err);

	if (r < 0)
		return r;
	if (ret_released)
		*ret_released = a.released;
	return 0;
}

/* ---- CHECK, list ---- */

/* Reads need no write lock. */
static int scan_only(struct gl_store *s, const char *network, struct gl_resv_list *ret,
		     struct gl_err *err)
{
	struct gl_resv_list l = {0};
	int r = s->ops->scan(s, network, &l, err);

	if (r < 0) {
		gl_store_list_free(&l);
		return r;
	}
	*ret = l;
	return 0;
}

int gl_alloc_check(struct gl_store *s, const struct gl_alloc_req *req,
		   struct gl_ip ret_ips[GL_IPAM_MAX_POOLS], struct gl_err *err)
{
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	int r = req_check(req, err);

	if (r < 0)
		return r;
	r = scan_only(s, req->conf->network, &l, err);
	if (r < 0)
		return r;
	for (int p = 0; p < req->conf->n_pools; p++) {
		bool found = false;

		for (size_t i = 0; i < l.n && !found; i++) {
			const struct gl_resv *row = &l.v[i];

			if (row->state == GL_RESV_BOUND && row->pool == p &&
			    strcmp(row->container_id, req->container_id) == 0 &&
			    strcmp(row->ifname, req->ifname) == 0) {
				ips[p] = row->ip;
				found = true;
			}
		}
		if (!found)
			return gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER,
					  "no address of range set %d of network %s is bound to container %s (%s)",
					  p, req->conf->network, req->container_id, req->ifname);
	}
	memcpy(ret_ips, ips, sizeof(ips[0]) * (size_t)req->conf->n_pools);
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct gl_resv *x = a, *y = b;
	int c = strcmp(x->network, y->network);

	return c ? c : gl_ip_cmp(&x->ip, &y->ip);
}

int gl_alloc_list(struct gl_store *s, const char *network, struct gl_resv_list *ret,
		  struct gl_err *err)
{
	struct gl_resv_list l = {0};
	int r = scan_only(s, network, &l, err);

	if (r < 0)
		return r;
	if (l.n)
		qsort(l.v, l.n, sizeof(l.v[0]), row_cmp);
	*ret = l;
	return 0;
}

const char *gl_alloc_status(const struct gl_resv *r)
{
	switch (r->state) {
	case GL_RESV_BOUND: return r->pinned ? "Bound,Pinned" : "Bound";
	case GL_RESV_RELEASED: return r->pinned ? "Pinned" : "Held";
	case GL_RESV_CONFLICT: return "Conflict";
	}
	return "?";
}

/* ---- admin ---- */

struct pin_arg {
	const char *network, *identity, *ifname, *node;
	const struct gl_ip *ip;
	int pool;
	int64_t now;
};

static int infer_pool(struct txn *t, const struct pin_arg *a)
{
	int fallback = -1;

	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];

		if (dead(r) || r->ip.family != a->ip->family)
			continue;
		if (gl_ip_equal(&r->ip, a->ip) ||
		    (strcmp(r->identity, a->identity) == 0 && strcmp(r->ifname, a->ifname) == 0))
			return r->pool;
		if (fallback < 0)
			fallback = r->pool;
	}
	return fallback < 0 ? 0 : fallback;
}

static int pin_fn(struct txn *t, void *arg)
{
	const struct pin_arg *a = arg;
	char ip[GL_IP_STRLEN], who[GL_CNI_IDENTITY_MAX + GL_CNI_ID_MAX + 64];
	int pool = a->pool >= 0 ? a->pool : infer_pool(t, a);
	int idx = find_ip(t, a->ip), mine = find_mine(t, a->identity, a->ifname, pool), r;
	struct gl_resv fresh, *row;

	ipstr(a->ip, ip);
	if (idx >= 0 && idx == mine) {
		row = &t->rows.v[idx];
		row->pinned = true;
		if (row->state == GL_RESV_RELEASED)
			row->expires = GL_RESV_NEVER;
		row->updated = a->now;
		return t_update(t, idx);
	}
	if (idx >= 0) {
		row = &t->rows.v[idx];
		/* An admin may overrule a conflict mark; the probe checks the LAN again. */
		if (row->state != GL_RESV_CONFLICT &&
		    (strcmp(row->identity, a->identity) != 0 || row->state == GL_RESV_BOUND))
			return gl_err_set(t->err, GL_ERR_PIN_CONFLICT,
					  "%s is %s; release it first (gamelan-ipam release %s %s)", ip,
					  holder_desc(row, who, sizeof(who)), a->network, ip);
	}
	if (mine >= 0) {
		char old[GL_IP_STRLEN];

		row = &t->rows.v[mine];
		if (row->state == GL_RESV_BOUND)
			return gl_err_set(t->err, GL_ERR_PIN_CONFLICT,
					  "%s (%s) is using %s now (container %s); pinning %s would change its "
					  "address under it: stop it first, or pin %s",
					  a->identity, a->ifname, ipstr(&row->ip, old), row->container_id, ip, old);
		r = t_remove(t, mine);
		if (r < 0)
			return r;
	}
	if (idx >= 0) {
		row = &t->rows.v[idx];
	} else {
		memset(&fresh, 0, sizeof(fresh));
		row = &fresh;
		row->ip = *a->ip;
		r = set_str(row->network, sizeof(row->network), a->network, "network", t->err);
		if (r < 0)
			return r;
	}
	r = set_str(row->identity, sizeof(row->identity), a->identity, "identity", t->err);
	if (r >= 0)
		r = set_str(row->ifname, sizeof(row->ifname), a->ifname, "ifname", t->err);
	if (r >= 0)
		r = set_str(row->node, sizeof(row->node), a->node, "node", t->err);
	if (r < 0)
		return r;
	row->container_id[0] = '\0';
	row->pool = pool;
	row->state = GL_RESV_RELEASED;
	row->pinned = true;
	row->expires = GL_RESV_NEVER;
	row->updated = a->now;
	return idx >= 0 ? t_update(t, idx) : t_insert(t, row);
}

int gl_alloc_pin(struct gl_store *s, const char *network, const char *identity,
		 const char *ifname, const struct gl_ip *ip, int pool, const char *node,
		 int64_t now, struct gl_err *err)
{
	struct pin_arg a = { .network = network, .identity = identity, .ifname = ifname,
			     .node = node ? node : "", .ip = ip, .pool = pool, .now = now };

	if (!network || !*network || !identity || !*identity || !ifname || !*ifname)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "network, identity and ifname are required");
	if (pool >= GL_IPAM_MAX_POOLS)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "pool must be below %d", GL_IPAM_MAX_POOLS);
	return run(s, network, NULL, pin_fn, &a, err);
}

struct unpin_arg {
	const char *identity;
	int64_t now, hold_ms;
	int n, seen;
};

static int unpin_fn(struct txn *t, void *arg)
{
	struct unpin_arg *a = arg;

	a->n = a->seen = 0;
	for (size_t i = 0; i < t->rows.n; i++) {
		struct gl_resv *r = &t->rows.v[i];
		int ret;

		if (dead(r) || r->state == GL_RESV_CONFLICT || strcmp(r->identity, a->identity) != 0)
			continue;
		a->seen++;
		if (!r->pinned)
			continue;
		r->pinned = false;
		if (r->state == GL_RESV_RELEASED)
			r->expires = add_sat(a->now, a->hold_ms);
		r->updated = a->now;
		ret = t_update(t, (int)i);
		if (ret < 0)
			return ret;
		a->n++;
	}
	return 0;
}

int gl_alloc_unpin(struct gl_store *s, const char *network, const char *identity,
		   int64_t now, int64_t hold_ms, int *ret_n, struct gl_err *err)
{
	struct unpin_arg a = { .identity = identity, .now = now, .hold_ms = hold_ms };
	int r = run(s, network, NULL, unpin_fn, &a, err);

	if (r < 0)
		return r;
	if (a.n == 0)
		return gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "%s has %s in network %s", identity,
				  a.seen ? "no pinned reservation" : "no reservation", network);
	if (ret_n)
		*ret_n = a.n;
	return 0;
}

struct release_arg {
	const char *who;
	bool is_ip;
	struct gl_ip ip;
	bool force;
	int n;
};

static int release_fn(struct txn *t, void *arg)
{
	struct release_arg *a = arg;
	char ip[GL_IP_STRLEN];

	a->n = 0;
	for (size_t i = 0; i < t->rows.n; i++) {
		const struct gl_resv *r = &t->rows.v[i];
		int ret;

		if (dead(r) || (a->is_ip ? !gl_ip_equal(&r->ip, &a->ip) : strcmp(r->identity, a->who) != 0))
			continue;
		if (r->state == GL_RESV_BOUND && !a->force)
			return gl_err_set(t->err, GL_ERR_ADDR_IN_USE,
					  "%s is bound to container %s of %s right now; freeing it could hand "
					  "it to a second server (use --force if that container is gone)",
					  ipstr(&r->ip, ip), r->container_id, r->identity);
		ret = t_remove(t, (int)i);
		if (ret < 0)
			return ret;
		a->n++;
	}
	return 0;
}

int gl_alloc_release(struct gl_store *s, const char *network, const char *identity_or_ip,
		     bool force, int *ret_n, struct gl_err *err)
{
	struct release_arg a = { .who = identity_or_ip, .force = force };
	int r;

	a.is_ip = gl_ip_parse(identity_or_ip, &a.ip) == 0;
	r = run(s, network, NULL, release_fn, &a, err);
	if (r < 0)
		return r;
	if (a.n == 0)
		return gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "no reservation of %s in network %s",
				  identity_or_ip, network);
	if (ret_n)
		*ret_n = a.n;
	return 0;
}
