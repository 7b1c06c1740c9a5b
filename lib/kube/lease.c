/* Lease leader election: the pure decision (decide, settle) and the driver
 * that reads and writes the Lease through gl_kube. See lease.h. */
#include "kube/lease.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"

#define DEFAULT_DURATION_MS 15000
#define DEFAULT_DEADLINE_MS 10000
#define DEFAULT_RETRY_MS 2000

static const struct gl_kube_res R_LEASE = { "coordination.k8s.io", "v1", "leases", true };

int gl_lease_config_check(const struct gl_lease_config *in, struct gl_lease_config *ret,
			  struct gl_err *err)
{
	struct gl_lease_config c = in ? *in : (struct gl_lease_config){ 0 };

	if (c.lease_duration_ms == 0)
		c.lease_duration_ms = DEFAULT_DURATION_MS;
	if (c.renew_deadline_ms == 0)
		c.renew_deadline_ms = DEFAULT_DEADLINE_MS;
	if (c.retry_period_ms == 0)
		c.retry_period_ms = DEFAULT_RETRY_MS;
	if (c.lease_duration_ms < 0 || c.renew_deadline_ms < 0 || c.retry_period_ms < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lease: durations must be greater than zero");
	/* Others wait the duration written in the lease, in whole seconds: a
	 * fraction dropped there would shorten their wait below what our
	 * renew deadline was checked against. */
	if (c.lease_duration_ms % 1000 || c.lease_duration_ms / 1000 > INT32_MAX)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lease: the lease duration (%lld ms) must be a whole number of seconds",
				  (long long)c.lease_duration_ms);
	if (c.lease_duration_ms <= c.renew_deadline_ms)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lease: the lease duration (%lld ms) must be greater than the renew deadline (%lld ms)",
				  (long long)c.lease_duration_ms, (long long)c.renew_deadline_ms);
	/* client-go: renewDeadline > retryPeriod * JitterFactor (1.2). The
	 * first test bounds retry (by the deadline, itself below the
	 * duration's INT32_MAX s) before it is multiplied. */
	if (c.retry_period_ms >= c.renew_deadline_ms ||
	    c.renew_deadline_ms * 5 <= c.retry_period_ms * 6)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "lease: the renew deadline (%lld ms) must be greater than 1.2 times the retry period (%lld ms)",
				  (long long)c.renew_deadline_ms, (long long)c.retry_period_ms);
	*ret = c;
	return 0;
}

/* ---- records ---------------------------------------------------------------- */

bool gl_lease_record_equal(const struct gl_lease_record *a, const struct gl_lease_record *b)
{
	return !strcmp(a->holder, b->holder) && a->duration_s == b->duration_s &&
	       !strcmp(a->acquire_time, b->acquire_time) && !strcmp(a->renew_time, b->renew_time) &&
	       a->transitions == b->transitions;
}

int gl_lease_record_from_json(json_object *lease, struct gl_lease_record *ret, struct gl_err *err)
{
	struct gl_lease_record rec = { .duration_s = 0 };
	struct gl_err why = { 0 };
	json_object *spec = NULL;
	const char *name = lease ? gl_kube_obj_name(lease) : NULL;
	int64_t n;
	int r;

	if (!lease || !json_object_is_type(lease, json_type_object))
		return gl_err_set(err, GL_ERR_DECODE, "lease: the answer is not an object");
	r = gl_json_get_object(lease, NULL, "spec", &spec, &why);
	if (r > 0)
		r = gl_json_get_strbuf(spec, "spec", "holderIdentity", rec.holder, sizeof(rec.holder), &why);
	if (r >= 0 && spec)
		r = gl_json_get_strbuf(spec, "spec", "acquireTime", rec.acquire_time,
				       sizeof(rec.acquire_time), &why);
	if (r >= 0 && spec)
		r = gl_json_get_strbuf(spec, "spec", "renewTime", rec.renew_time, sizeof(rec.renew_time),
				       &why);
	if (r >= 0 && spec) {
		n = 0;
		r = gl_json_get_int(spec, "spec", "leaseDurationSeconds", 0, INT32_MAX, &n, &why);
		rec.duration_s = (int32_t)n;
	}
	if (r >= 0 && spec) {
		n = 0;
		r = gl_json_get_int(spec, "spec", "leaseTransitions", 0, INT32_MAX, &n, &why);
		rec.transitions = (int32_t)n;
	}
	if (r < 0)
		return gl_err_set(err, GL_ERR_DECODE, "lease \"%.64s\": %s", name ? name : "?", why.msg);
	*ret = rec;
	return 0;
}

/* Add v (NULL: out of memory) to o under key; o owns v either way. */
static int obj_set(json_object *o, const char *key, json_object *v)
{
	if (!v)
		return -ENOMEM;
	if (json_object_object_add(o, key, v) < 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

/* A time, or no key at all: a zero MicroTime is null, which the server drops. */
static int time_set(json_object *spec, const char *key, const char *t)
{
	if (t[0])
		return obj_set(spec, key, json_object_new_string(t));
	json_object_object_del(spec, key);
	return 0;
}

int gl_lease_record_to_spec(const struct gl_lease_record *rec, json_object *spec)
{
	int r = obj_set(spec, "holderIdentity", json_object_new_string(rec->holder));

	if (r >= 0)
		r = obj_set(spec, "leaseDurationSeconds", json_object_new_int(rec->duration_s));
	if (r >= 0)
		r = time_set(spec, "acquireTime", rec->acquire_time);
	if (r >= 0)
		r = time_set(spec, "renewTime", rec->renew_time);
	if (r >= 0)
		r = obj_set(spec, "leaseTransitions", json_object_new_int(rec->transitions));
	return r;
}

void gl_lease_time_str(int64_t wall_us, char ret[GL_LEASE_TIME_MAX])
{
	struct tm tm;
	size_t n;
	time_t t;

	/* The API server refuses years past 9999 and before 0; the clock
	 * never gives those, but a wrong one must not make a lease unwritable. */
	if (wall_us < 0)
		wall_us = 0;
	if (wall_us > INT64_C(253402300799999999))
		wall_us = INT64_C(253402300799999999);
	t = (time_t)(wall_us / 1000000);
	n = gmtime_r(&t, &tm) ? strftime(ret, GL_LEASE_TIME_MAX, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
	if (n != 19) {
		snprintf(ret, GL_LEASE_TIME_MAX, "1970-01-01T00:00:00.000000Z");
		return;
	}
	snprintf(ret + n, GL_LEASE_TIME_MAX - n, ".%06dZ", (int)(wall_us % 1000000));
}

/* ---- the pure part ---------------------------------------------------------- */

int gl_lease_state_init(struct gl_lease_state *st, const char *identity)
{
	if (!identity || !identity[0])
		return -EINVAL;
	*st = (struct gl_lease_state){ .observed_valid = false };
	return gl_strlcpy(st->identity, identity, sizeof(st->identity));
}

static bool is_mine(const struct gl_lease_state *st, const struct gl_lease_record *rec)
{
	return !strcmp(rec->holder, st->identity);
}

bool gl_lease_observed_valid(const struct gl_lease_state *st, int64_t now_ms)
{
	return st->observed_valid &&
	       now_ms - st->observed_ms < (int64_t)st->observed.duration_s * 1000;
}

enum gl_lease_action gl_lease_decide(const struct gl_lease_config *cfg, struct gl_lease_state *st,
				     const struct gl_lease_record *cur, int64_t now_ms,
				     int64_t now_wall_us, struct gl_lease_record *ret_next)
{
	struct gl_lease_record next = { .duration_s = 0 };

	memcpy(next.holder, st->identity, sizeof(next.holder));
	next.duration_s = (int32_t)(cfg->lease_duration_ms / 1000);
	gl_lease_time_str(now_wall_us, next.renew_time);
	memcpy(next.acquire_time, next.renew_time, sizeof(next.acquire_time));
	if (!cur) {
		st->observed_valid = false;
		*ret_next = next;
		return GL_LEASE_CREATE;
	}
	/* The only clock read is ours: when did we first see this record? */
	if (!st->observed_valid || !gl_lease_record_equal(&st->observed, cur)) {
		st->observed = *cur;
		st->observed_valid = true;
		st->observed_ms = now_ms;
	}
	if (is_mine(st, cur)) {
		memcpy(next.acquire_time, cur->acquire_time, sizeof(next.acquire_time));
		next.transitions = cur->transitions;
		*ret_next = next;
		return GL_LEASE_RENEW;
	}
	if (cur->holder[0] && gl_lease_observed_valid(st, now_ms))
		return GL_LEASE_WAIT;
	/* Saturate: a negative count would be refused (422) and block every
	 * takeover for good. */
	next.transitions = cur->transitions < INT32_MAX ? cur->transitions + 1 : INT32_MAX;
	*ret_next = next;
	return GL_LEASE_TAKEOVER;
}

enum gl_lease_change gl_lease_settle(const struct gl_lease_config *cfg, struct gl_lease_state *st,
				     const struct gl_lease_record *written, int64_t began_ms,
				     int64_t now_ms)
{
	bool was = st->leading;

	if (written) {
		/* The server stored it no earlier than began_ms: counting from
		 * there errs towards stopping early, never late. */
		st->observed = *written;
		st->observed_valid = true;
		st->observed_ms = began_ms;
		if (is_mine(st, written)) {
			st->renewed_ms = began_ms;
			st->leading = true;
			return was ? GL_LEASE_SAME : GL_LEASE_STARTED;
		}
	}
	if (!was)
		return GL_LEASE_SAME;
	if (written || !st->observed_valid || !is_mine(st, &st->observed) ||
	    now_ms - st->renewed_ms >= cfg->renew_deadline_ms) {
		st->leading = false;
		return GL_LEASE_STOPPED;
	}
	return GL_LEASE_SAME;
}

bool gl_lease_state_leading(const struct gl_lease_config *cfg, const struct gl_lease_state *st,
			    int64_t now_ms)
{
	return st->leading && now_ms - st->renewed_ms < cfg->renew_deadline_ms;
}

void gl_lease_release_record(const struct gl_lease_record *cur, int64_t now_wall_us,
			     struct gl_lease_record *ret)
{
	struct gl_lease_record rec = { .duration_s = 0 };

	rec.duration_s = 1;
	gl_lease_time_str(now_wall_us, rec.renew_time);
	memcpy(rec.acquire_time, rec.renew_time, sizeof(rec.acquire_time));
	rec.transitions = cur->transitions;
	*ret = rec;
}

/* ---- the driver --------------------------------------------------------------- */

struct gl_lease_elector {
	struct gl_kube *k;
	char ns[GL_KUBE_NAME_MAX];
	char name[GL_KUBE_NAME_MAX];
	struct gl_lease_config cfg;
	struct gl_lease_callbacks cb;
	void *userdata;
	struct gl_lease_state st;
	json_object *obj;        /* the Lease as last read or written (its resourceVersion) */
	char reported[GL_LEASE_IDENTITY_MAX];
	int64_t last_tick_ms;    /* -1 before the first */
	uint64_t rnd;
	bool stopped;
};

void gl_lease_kube_opts(const struct gl_lease_config *cfg, struct gl_kube_opts *ret)
{
	struct gl_lease_config c;
	int64_t t;

	if (gl_lease_config_check(cfg, &c, NULL) < 0)
		gl_lease_config_check(NULL, &c, NULL);
	t = c.renew_deadline_ms / 3;
	if (t > 30000)
		t = 30000;
	if (t < 1)
		t = 1;
	*ret = (struct gl_kube_opts){ .connect_timeout_ms = (int)t, .timeout_ms = (int)t,
				      .max_retries = -1 };
}

int gl_lease_new(struct gl_kube *k, const char *ns, const char *name, const char *identity,
		 const struct gl_lease_config *cfg, const struct gl_lease_callbacks *cb,
		 void *userdata, struct gl_lease_elector **ret, struct gl_err *err)
{
	struct gl_lease_elector *e;
	char path[GL_KUBE_NAME_MAX * 3];
	int r;

	if (!k || !ret)
		return -EINVAL;
	if (!ns)
		ns = gl_kube_namespace(k);
	if (!name || gl_kube_path(&R_LEASE, ns, name, NULL, path, sizeof(path)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "lease: invalid name \"%.64s/%.64s\"", ns,
				  name ? name : "");
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	r = gl_lease_config_check(cfg, &e->cfg, err);
	if (r >= 0) {
		r = gl_lease_state_init(&e->st, identity);
		if (r < 0)
			gl_err_from(err, r, GL_ERR_INVALID_CONFIG,
				    "lease: the identity must be 1 to %d bytes", GL_LEASE_IDENTITY_MAX - 1);
	}
	if (r < 0) {
		free(e);
		return r;
	}
	e->k = k;
	snprintf(e->ns, sizeof(e->ns), "%s", ns);
	snprintf(e->name, sizeof(e->name), "%s", name);
	if (cb)
		e->cb = *cb;
	e->userdata = userdata;
	e->last_tick_ms = -1;
	e->rnd = (uint64_t)gl_now_mono_ms() * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^
		 (uint64_t)(uintptr_t)e;
	*ret = e;
	return 0;
}

void gl_lease_free(struct gl_lease_elector *e)
{
	if (!e)
		return;
	json_object_put(e->obj);
	free(e);
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Tell the caller what changed: a lost leadership first, then who leads. */
static void report(struct gl_lease_elector *e, enum gl_lease_change ch)
{
	const char *holder = e->st.observed_valid ? e->st.observed.holder : "";

	if (ch == GL_LEASE_STOPPED) {
		gl_debug("lease %s/%s: %s stopped leading", e->ns, e->name, e->st.identity);
		if (e->cb.stopped_leading)
			e->cb.stopped_leading(e->userdata);
	}
	if (strcmp(holder, e->reported)) {
		memcpy(e->reported, holder, sizeof(e->reported));
		if (e->cb.new_leader)
			e->cb.new_leader(e->reported, e->userdata);
	}
	if (ch == GL_LEASE_STARTED) {
		gl_debug("lease %s/%s: %s started leading", e->ns, e->name, e->st.identity);
		if (e->cb.started_leading)
			e->cb.started_leading(e->userdata);
	}
}

/* Write next: POST a new Lease (create) or PUT the last one read with next
 * in its spec (its resourceVersion makes it conditional). On success the
 * answer becomes e->obj and *ret_written what the server stored. */
static int write_lease(struct gl_lease_elector *e, bool create, const struct gl_lease_record *next,
		       struct gl_lease_record *ret_written, struct gl_err *err)
{
	_cleanup_json_ json_object *o = NULL;
	json_object *out = NULL, *spec = NULL;
	int r;

	if (create) {
		json_object *md = json_object_new_object();

		o = json_object_new_object();
		r = o && md ? 0 : -ENOMEM;
		if (r >= 0)
			r = obj_set(o, "apiVersion", json_object_new_string("coordination.k8s.io/v1"));
		if (r >= 0)
			r = obj_set(o, "kind", json_object_new_string("Lease"));
		if (r >= 0)
			r = obj_set(md, "name", json_object_new_string(e->name));
		if (r >= 0)
			r = obj_set(md, "namespace", json_object_new_string(e->ns));
		if (r >= 0)
			r = obj_set(o, "metadata", TAKE_PTR(md));
		json_object_put(md);
		if (r < 0)
			return r;
	} else if (e->obj) {
		if (json_object_deep_copy(e->obj, &o, NULL) < 0)
			return -ENOMEM;
	} else {
		return -EINVAL;
	}
	if (!json_object_object_get_ex(o, "spec", &spec) || !json_object_is_type(spec, json_type_object)) {
		spec = json_object_new_object();
		r = obj_set(o, "spec", spec);
		if (r < 0)
			return r;
	}
	r = gl_lease_record_to_spec(next, spec);
	if (r < 0)
		return r;
	r = create ? gl_kube_create(e->k, &R_LEASE, e->ns, o, &out, err)
		   : gl_kube_update(e->k, &R_LEASE, e->ns, o, &out, err);
	if (r < 0)
		return r;
	r = gl_lease_record_from_json(out, ret_written, err);
	if (r < 0) {
		json_object_put(out);
		return r;
	}
	json_object_put(e->obj);
	e->obj = out;
	return 0;
}

/* GET the Lease: 0 with *ret_rec (e->obj replaced), 1 when there is none
 * (e->obj dropped), or a negative errno. */
static int read_lease(struct gl_lease_elector *e, struct gl_lease_record *ret_rec, struct gl_err *err)
{
	struct gl_err scratch = { 0 };
	json_object *o = NULL;
	int r = gl_kube_get(e->k, &R_LEASE, e->ns, e->name, &o, &scratch);

	if (r == -ENOENT) {
		json_object_put(e->obj);
		e->obj = NULL;
		return 1;
	}
	if (r < 0)
		return gl_err_from(err, r, scratch.code, "%s", scratch.msg);
	r = gl_lease_record_from_json(o, ret_rec, err);
	if (r < 0) {
		json_object_put(o);
		return r;
	}
	json_object_put(e->obj);
	e->obj = o;
	return 0;
}

static bool lost_race(int r)
{
	/* 409 on create: another candidate created it first. 409 on update:
	 * someone wrote since our read. 404 on update: deleted since. */
	return r == -EEXIST || r == -ESTALE || r == -ENOENT;
}

int gl_lease_tick(struct gl_lease_elector *e, struct gl_err *err)
{
	struct gl_lease_record cur, next, written;
	struct gl_err scratch = { 0 };
	enum gl_lease_action act;
	int64_t began;
	int r;

	if (!e)
		return -EINVAL;
	if (e->stopped)
		return 0;
	began = gl_now_mono_ms();
	e->last_tick_ms = began;
	report(e, gl_lease_settle(&e->cfg, &e->st, NULL, began, began));

	/* The leader's fast path: renew on what it wrote last, no GET. */
	if (gl_lease_state_leading(&e->cfg, &e->st, began) && e->obj &&
	    gl_lease_observed_valid(&e->st, began) &&
	    gl_lease_decide(&e->cfg, &e->st, &e->st.observed, began, wall_us(), &next) == GL_LEASE_RENEW) {
		r = write_lease(e, false, &next, &written, &scratch);
		if (r >= 0) {
			report(e, gl_lease_settle(&e->cfg, &e->st, &written, began, gl_now_mono_ms()));
			return 0;
		}
		gl_debug("lease %s/%s: renewing on the last version failed (%s): reading it", e->ns,
			 e->name, scratch.msg);
	}

	r = read_lease(e, &cur, err);
	if (r < 0) {
		report(e, gl_lease_settle(&e->cfg, &e->st, NULL, began, gl_now_mono_ms()));
		return r;
	}
	act = gl_lease_decide(&e->cfg, &e->st, r == 1 ? NULL : &cur, gl_now_mono_ms(), wall_us(), &next);
	/* A read that shows the lease is not ours ends a leadership now, before
	 * any takeover of our own starts a new one. */
	if (act != GL_LEASE_RENEW)
		report(e, gl_lease_settle(&e->cfg, &e->st, NULL, began, gl_now_mono_ms()));
	if (act == GL_LEASE_WAIT)
		return 0;
	scratch = (struct gl_err){ 0 };
	r = write_lease(e, act == GL_LEASE_CREATE, &next, &written, &scratch);
	if (r >= 0) {
		report(e, gl_lease_settle(&e->cfg, &e->st, &written, began, gl_now_mono_ms()));
		return 0;
	}
	report(e, gl_lease_settle(&e->cfg, &e->st, NULL, began, gl_now_mono_ms()));
	if (lost_race(r)) {
		gl_debug("lease %s/%s: lost the race (%s)", e->ns, e->name, scratch.msg);
		return 0;
	}
	return gl_err_from(err, r, scratch.code ? scratch.code : GL_ERR_IO, "%s",
			   scratch.msg[0] ? scratch.msg : "lease: write failed");
}

int64_t gl_lease_next_ms(const struct gl_lease_elector *e)
{
	uint64_t x;
	int64_t period;

	if (e->last_tick_ms < 0)
		return gl_now_mono_ms();
	period = e->cfg.retry_period_ms;
	if (e->st.leading)
		return e->last_tick_ms + period;
	/* A jitter fixed per tick: derived from the tick's time, so that this
	 * stays a pure query. */
	x = e->rnd ^ (uint64_t)e->last_tick_ms;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return e->last_tick_ms + period + (int64_t)(x % (uint64_t)(period * 6 / 5 + 1));
}

bool gl_lease_is_leader(const struct gl_lease_elector *e)
{
	return e && !e->stopped && gl_lease_state_leading(&e->cfg, &e->st, gl_now_mono_ms());
}

const char *gl_lease_holder(const struct gl_lease_elector *e)
{
	return e->st.observed_valid ? e->st.observed.holder : "";
}

const struct gl_lease_state *gl_lease_state(const struct gl_lease_elector *e)
{
	return &e->st;
}

int gl_lease_stop(struct gl_lease_elector *e, struct gl_err *err)
{
	struct gl_lease_record rel, written, cur;
	struct gl_err scratch = { 0 };
	int r = 0;

	if (!e || e->stopped)
		return 0;
	e->stopped = true;
	if (e->st.leading) {
		e->st.leading = false;
		report(e, GL_LEASE_STOPPED);
	}
	/* As client-go: release what we last saw as ours, even past the
	 * deadline; the resourceVersion keeps it from undoing a takeover. */
	if (!e->cfg.release_on_stop || !e->obj || !e->st.observed_valid ||
	    !is_mine(&e->st, &e->st.observed))
		return 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		gl_lease_release_record(&e->st.observed, wall_us(), &rel);
		scratch = (struct gl_err){ 0 };
		r = write_lease(e, false, &rel, &written, &scratch);
		if (r >= 0) {
			e->st.observed = written;
			e->st.observed_ms = gl_now_mono_ms();
			gl_debug("lease %s/%s: %s released it", e->ns, e->name, e->st.identity);
			return 0;
		}
		if (r != -ESTALE || attempt > 0)
			break;
		r = read_lease(e, &cur, err);
		if (r != 0)
			return r > 0 ? 0 : r;
		e->st.observed = cur;
		if (!is_mine(&e->st, &cur))
			return 0;
	}
	return gl_err_from(err, r, scratch.code ? scratch.code : GL_ERR_IO, "lease: release: %s",
			   scratch.msg);
}

void gl_lease_status_get(const struct gl_lease_elector *e, struct gl_lease_status *ret)
{
	struct gl_lease_status s = { .leading = e->st.leading && !e->stopped };

	s.renewed_ms = e->st.renewed_ms;
	s.renew_deadline_ms = e->cfg.renew_deadline_ms;
	snprintf(s.holder, sizeof(s.holder), "%s", gl_lease_holder(e));
	*ret = s;
}

bool gl_lease_status_leading(const struct gl_lease_status *s, int64_t now_ms)
{
	return s->leading && now_ms - s->renewed_ms < s->renew_deadline_ms;
}

int gl_lease_run(struct gl_lease_elector *e, gl_lease_wait_fn wait, gl_lease_report_fn report_fn,
		 void *ctx, struct gl_err *err)
{
	struct gl_lease_status st;

	if (!e || !wait || !report_fn)
		return -EINVAL;
	for (;;) {
		struct gl_err scratch = { 0 };
		int64_t left;

		if (gl_lease_tick(e, &scratch) < 0)
			gl_debug("lease %s/%s: %s", e->ns, e->name, scratch.msg);
		gl_lease_status_get(e, &st);
		report_fn(&st, ctx);
		left = gl_lease_next_ms(e) - gl_now_mono_ms();
		if (wait(left > 0 ? left : 0, ctx) < 0)
			break;
	}
	return gl_lease_stop(e, err);
}
