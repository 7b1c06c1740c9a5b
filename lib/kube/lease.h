/* Leader election on a coordination.k8s.io/v1 Lease: client-go's algorithm
 * (tools/leaderelection) for a single-threaded event loop.
 *
 * Safety rests on one rule: a candidate never compares a time written in the
 * lease with its own clock. It remembers when, on its own monotonic clock, it
 * last saw the record change, and takes the lease over only when the holder
 * is empty or it has seen no change for the record's leaseDurationSeconds.
 * The leader stops acting when it has not renewed for renew_deadline (shorter
 * than the lease duration), so it has stopped before anyone may take over.
 * Every write carries the resourceVersion it was decided on: a 409 loses the
 * round. As client-go, this tolerates any offset between the candidates'
 * clocks but not a large difference in their rates, and it is no fencing:
 * the leader's work must stop when gl_lease_is_leader turns false.
 *
 * Two parts:
 *  - pure: gl_lease_decide / gl_lease_settle on a struct gl_lease_state with
 *    explicit times, no I/O (unit-tested with a fake clock);
 *  - a driver, struct gl_lease_elector: the HTTP through gl_kube, one
 *    gl_lease_tick per retry period. A tick blocks for up to three
 *    requests (within renew_deadline in all): a daemon runs the elector
 *    with gl_lease_run on a thread of its own (a gl_worker) and acts on the
 *    gl_lease_status copies it posts to the loop (see "Off the loop"). */
#pragma once
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"
#include "kube/kube.h"

#define GL_LEASE_IDENTITY_MAX 256  /* holderIdentity bytes, NUL included */
#define GL_LEASE_TIME_MAX 40       /* a MicroTime's text, NUL included */

/* Timings; zero fields take the defaults shown (client-go's core defaults). */
struct gl_lease_config {
	int64_t lease_duration_ms;  /* 15000; whole seconds: it is written as leaseDurationSeconds */
	int64_t renew_deadline_ms;  /* 10000 */
	int64_t retry_period_ms;    /* 2000 */
	bool release_on_stop;       /* gl_lease_stop gives the lease up (client-go ReleaseOnCancel) */
};

/* *in with defaults filled into *ret, checked as client-go checks it:
 * duration > deadline > retry * 1.2, all positive; the duration a whole
 * number of seconds (1 s .. INT32_MAX s). -EINVAL (err says which). */
int gl_lease_config_check(const struct gl_lease_config *in, struct gl_lease_config *ret,
			  struct gl_err *err);

/* The election part of a Lease's spec. Times are kept as the server's text
 * and never interpreted (only compared and copied back). */
struct gl_lease_record {
	char holder[GL_LEASE_IDENTITY_MAX];    /* "" = nobody */
	int32_t duration_s;                    /* leaseDurationSeconds; 0 = absent */
	char acquire_time[GL_LEASE_TIME_MAX];  /* "" = absent */
	char renew_time[GL_LEASE_TIME_MAX];
	int32_t transitions;                   /* leaseTransitions */
};

bool gl_lease_record_equal(const struct gl_lease_record *a, const struct gl_lease_record *b);
/* The record of a Lease object from the API. Hostile until checked: wrong
 * types, negative numbers, too long strings -> -EBADMSG (err says which);
 * absent or null fields are empty. */
int gl_lease_record_from_json(json_object *lease, struct gl_lease_record *ret, struct gl_err *err);
/* Set the record's five fields in spec (a JSON object; other fields are
 * kept); empty times are removed. -ENOMEM. */
int gl_lease_record_to_spec(const struct gl_lease_record *rec, json_object *spec);
/* wall_us (µs since the epoch, UTC) as a MicroTime: "2026-12-04T10:00:00.123456Z",
 * the form the API server writes. */
void gl_lease_time_str(int64_t wall_us, char ret[GL_LEASE_TIME_MAX]);

/* ---- The pure part ------------------------------------------------------- */

/* What a candidate remembers between rounds. Times are the local monotonic
 * clock in ms. */
struct gl_lease_state {
	char identity[GL_LEASE_IDENTITY_MAX];
	bool observed_valid;              /* a record has been seen */
	struct gl_lease_record observed;  /* the last record read or written */
	int64_t observed_ms;              /* when `observed` was first seen (or written) */
	bool leading;
	int64_t renewed_ms;               /* start of the round of the last successful write */
};

/* A fresh state for identity (unique per process, e.g. "hostname_<random>":
 * a restarted process with the old identity is the old leader).
 * -EINVAL when empty, -ENAMETOOLONG when too long. */
int gl_lease_state_init(struct gl_lease_state *st, const char *identity);

enum gl_lease_action {
	GL_LEASE_WAIT,      /* another holds it and it has not expired on our clock */
	GL_LEASE_CREATE,    /* there is no lease: create it */
	GL_LEASE_TAKEOVER,  /* free or expired: update it (new acquireTime, transitions + 1) */
	GL_LEASE_RENEW,     /* ours: update it (acquireTime and transitions kept) */
};

/* One decision on cur, the lease as just read (NULL: there is none), at
 * now_ms. A cur that differs from st->observed becomes observed, seen at
 * now_ms. Then: none -> CREATE; ours -> RENEW; held by another and seen
 * unchanged for less than its leaseDurationSeconds -> WAIT; else TAKEOVER.
 * *ret_next (unless WAIT): the record to write, its times now_wall_us. */
enum gl_lease_action gl_lease_decide(const struct gl_lease_config *cfg, struct gl_lease_state *st,
				     const struct gl_lease_record *cur, int64_t now_ms,
				     int64_t now_wall_us, struct gl_lease_record *ret_next);

/* Whether the observed record still binds others at now_ms: seen less than
 * its leaseDurationSeconds ago. */
bool gl_lease_observed_valid(const struct gl_lease_state *st, int64_t now_ms);

enum gl_lease_change {
	GL_LEASE_SAME,
	GL_LEASE_STARTED,  /* call "started leading" */
	GL_LEASE_STOPPED,  /* call "stopped leading" */
};

/* After a round that began at began_ms: written is what the server stored
 * for our write (NULL when nothing was written: a wait, a lost race, an
 * error, or a check between rounds). Our own write makes us leader, renewed
 * (and observed) at began_ms. Without one, a leader stops when the observed
 * lease is not ours (another holder, or none) or now_ms - renewed_ms has
 * reached renew_deadline. */
enum gl_lease_change gl_lease_settle(const struct gl_lease_config *cfg, struct gl_lease_state *st,
				     const struct gl_lease_record *written, int64_t began_ms,
				     int64_t now_ms);

/* Leading at now_ms: st->leading and within renew_deadline of the last
 * renewal (false from the deadline on, even before a settle says so). */
bool gl_lease_state_leading(const struct gl_lease_config *cfg, const struct gl_lease_state *st,
			    int64_t now_ms);

/* The record that gives cur up, as client-go writes it: holder "", duration
 * 1 s, both times now_wall_us, transitions kept. */
void gl_lease_release_record(const struct gl_lease_record *cur, int64_t now_wall_us,
			     struct gl_lease_record *ret);

/* ---- The driver ------------------------------------------------------------ */

/* Called from gl_lease_tick / gl_lease_stop; they must not call
 * gl_lease_tick, gl_lease_stop or gl_lease_free. Any may be NULL. */
struct gl_lease_callbacks {
	void (*started_leading)(void *userdata);
	void (*stopped_leading)(void *userdata);
	void (*new_leader)(const char *identity, void *userdata);  /* "" = nobody */
};

struct gl_lease_elector;

/* Client options for a gl_kube used by an elector: no retries inside a
 * request and timeouts of a third of the renew deadline, so that one tick
 * (at most three requests) ends within it. cfg as for gl_lease_new. */
void gl_lease_kube_opts(const struct gl_lease_config *cfg, struct gl_kube_opts *ret);

/* An elector for the Lease ns/name (ns NULL: gl_kube_namespace(k)) as
 * identity. k is borrowed, used only inside the elector's calls (gl_kube is
 * not thread-safe: one thread, or a client of its own, opened with
 * gl_lease_kube_opts). cfg is checked (gl_lease_config_check) and copied;
 * cb (may be NULL) too. Nothing is sent before the first tick. */
int gl_lease_new(struct gl_kube *k, const char *ns, const char *name, const char *identity,
		 const struct gl_lease_config *cfg, const struct gl_lease_callbacks *cb,
		 void *userdata, struct gl_lease_elector **ret, struct gl_err *err);
/* Free (NULL is fine). Sends nothing and calls nothing: gl_lease_stop first. */
void gl_lease_free(struct gl_lease_elector *e);

/* One round of tryAcquireOrRenew, at most three requests: the leader first
 * renews on the resourceVersion it wrote last; otherwise (or when that
 * fails) GET, then create, take over or renew. Callbacks are called from
 * here. Returns 0 when the round was decided (leading or not; a lost race
 * is an ordinary outcome), or the negative errno of a failed request (err
 * filled): the elector has already acted on it. After gl_lease_stop: 0. */
int gl_lease_tick(struct gl_lease_elector *e, struct gl_err *err);
/* When the next tick is due (monotonic ms, as gl_now_mono_ms): a retry
 * period after the last one, plus up to 1.2 of it for a candidate (client-go's
 * jitter, so candidates spread out); now before the first. */
int64_t gl_lease_next_ms(const struct gl_lease_elector *e);
/* Leading now (as gl_lease_state_leading at gl_now_mono_ms()). */
bool gl_lease_is_leader(const struct gl_lease_elector *e);
/* The holder last observed ("" = nobody or not read yet). */
const char *gl_lease_holder(const struct gl_lease_elector *e);
/* The elector's state (for tests and metrics). */
const struct gl_lease_state *gl_lease_state(const struct gl_lease_elector *e);
/* Shutdown: a leader stops ("stopped leading" is called first, so the work
 * it guards ends before the lease is free), then with release_on_stop the
 * lease we hold is given up (gl_lease_release_record, on the last
 * resourceVersion; once more after a fresh GET on 409), so that another
 * candidate takes over at its next tick. Later ticks do nothing. Returns 0
 * or the release's failure (the others then wait the lease duration). */
int gl_lease_stop(struct gl_lease_elector *e, struct gl_err *err);

/* ---- Off the loop -------------------------------------------------------------
 * The loop must not stall for a tick's requests. The elector then lives on
 * a worker thread with a gl_kube client of its own; nothing else touches it
 * (callbacks, if any, run on that thread: leave them NULL or let them only
 * post). After every tick the worker posts a gl_lease_status; the loop
 * keeps the last one and asks gl_lease_status_leading before every act a
 * leader alone may do. That answer turns false at the renew deadline on
 * the loop's own clock, with no message needed, so a worker stuck or
 * behind never leaves the loop leading too long; arm a loop timer at
 * renewed_ms + renew_deadline_ms to stop the leader's work then. */

/* The part of an elector's state another thread needs: a plain copy. */
struct gl_lease_status {
	bool leading;                   /* as of the tick that made this copy */
	int64_t renewed_ms;             /* monotonic: the round of the last renewal began */
	int64_t renew_deadline_ms;
	char holder[GL_LEASE_IDENTITY_MAX];  /* last observed ("" = nobody) */
};

void gl_lease_status_get(const struct gl_lease_elector *e, struct gl_lease_status *ret);
/* Leading at now_ms (gl_now_mono_ms) by s: false from its deadline on. */
bool gl_lease_status_leading(const struct gl_lease_status *s, int64_t now_ms);

/* Between ticks: wait up to ms; a negative return ends gl_lease_run (a
 * gl_worker_sleep that says the worker is stopping). */
typedef int (*gl_lease_wait_fn)(int64_t ms, void *ctx);
/* After every tick, with a copy of the status (post it to the loop). */
typedef void (*gl_lease_report_fn)(const struct gl_lease_status *st, void *ctx);

/* The elector's life on its own thread: tick, report, wait until the next
 * tick is due, until wait says stop; then gl_lease_stop (its "stopped
 * leading" and, with release_on_stop, the release), whose result it
 * returns. A failed tick is not an end (the elector acted on it). */
int gl_lease_run(struct gl_lease_elector *e, gl_lease_wait_fn wait, gl_lease_report_fn report_fn,
		 void *ctx, struct gl_err *err);
