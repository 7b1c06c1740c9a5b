/* lib/kube/lease.c's driver against the fake API server (netns-harness/fakeapi)
 * over real HTTP on 127.0.0.1, with short timings (4 s lease, 3 s renew
 * deadline, 0.6 s retry: each request may take 1 s, room for a loaded
 * machine) and real clocks. Candidates are separate clients,
 * ticked from one loop when gl_lease_next_ms says; after every tick the test
 * checks that no two candidates think they lead. Waits are bounded and
 * generous; what is asserted is order, never speed. The fake must start:
 * when it cannot (no python3, no fakeapi.py), every test fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/util.h"
#include "kube/kube.h"
#include "kube/lease.h"
#include "daemon/loop.h"
#include "daemon/worker.h"
#include "fakeapi/fakeapi_child.h"

#define NCAND 2
#define BOUND_MS 30000  /* the longest any step may take before the test fails */

static const struct gl_kube_res R_LEASE = { "coordination.k8s.io", "v1", "leases", true };
static const struct gl_lease_config CFG = { .lease_duration_ms = 4000, .renew_deadline_ms = 3000,
					    .retry_period_ms = 600 };

static char tmpdir[] = "/tmp/gl-leasehttp.XXXXXX";
static char kubeconfig[PATH_MAX + 16];
static char fake_path[PATH_MAX];
static struct fakeapi fake;

struct cand {
	char id[32];
	struct gl_kube *k;
	struct gl_lease_elector *e;
	bool crashed;          /* no longer ticked */
	int started, stopped;
	int64_t started_ms;    /* in the callback */
	int64_t tick_began;    /* the current (or last) tick's start */
	int64_t stopped_tick;  /* tick_began of the tick that said "stopped leading" */
	int ticks, failed;
	char leader[GL_LEASE_IDENTITY_MAX];  /* last new_leader */
};

static struct cand cands[NCAND];

static void on_started(void *ud)
{
	struct cand *c = ud;

	c->started++;
	c->started_ms = gl_now_mono_ms();
}

static void on_stopped(void *ud)
{
	struct cand *c = ud;

	c->stopped++;
	c->stopped_tick = c->tick_began;
}

static void on_new_leader(const char *id, void *ud)
{
	struct cand *c = ud;

	snprintf(c->leader, sizeof(c->leader), "%s", id);
}

static const struct gl_lease_callbacks CB = { on_started, on_stopped, on_new_leader };

static struct gl_kube *open_client(const struct gl_kube_opts *o)
{
	struct gl_kube_config *cfg = NULL;
	struct gl_err err = { 0 };
	struct gl_kube *k = NULL;
	int r = gl_kube_config_load(kubeconfig, &cfg, &err);

	if (r >= 0)
		r = gl_kube_open(cfg, o, &k, &err);
	gl_kube_config_free(cfg);
	if (r < 0)
		print_message("client: %s\n", err.msg);
	assert_int_equal(r, 0);
	return k;
}

static void cand_open(struct cand *c, const char *id, const struct gl_lease_config *cfg)
{
	struct gl_kube_opts o;
	struct gl_err err = { 0 };
	int r;

	*c = (struct cand){ .stopped_tick = -1 };
	snprintf(c->id, sizeof(c->id), "%s", id);
	gl_lease_kube_opts(cfg, &o);
	c->k = open_client(&o);
	r = gl_lease_new(c->k, NULL, "gamelan-operator", id, cfg, &CB, c, &c->e, &err);
	if (r < 0)
		print_message("elector: %s\n", err.msg);
	assert_int_equal(r, 0);
}

static void cand_close(struct cand *c)
{
	gl_lease_free(c->e);
	gl_kube_close(c->k);
	c->e = NULL;
	c->k = NULL;
}

static void step(struct cand *c)
{
	struct gl_err err = { 0 };

	c->tick_began = gl_now_mono_ms();
	c->ticks++;
	if (gl_lease_tick(c->e, &err) < 0)
		c->failed++;
}

/* No two candidates lead at the same instant, whatever the load. */
static void check_safety(void)
{
	int leaders = 0;

	for (int i = 0; i < NCAND; i++)
		if (cands[i].e && gl_lease_is_leader(cands[i].e))
			leaders++;
	assert_in_range(leaders, 0, 1);
}

static int leader_index(void)
{
	for (int i = 0; i < NCAND; i++)
		if (cands[i].e && !cands[i].crashed && gl_lease_is_leader(cands[i].e))
			return i;
	return -1;
}

/* Tick every live candidate when due, until done() or ms have passed.
 * Returns whether done() became true. */
static bool run(int64_t ms, bool (*done)(void))
{
	int64_t end = gl_now_mono_ms() + ms;

	while (gl_now_mono_ms() < end) {
		for (int i = 0; i < NCAND; i++) {
			struct cand *c = &cands[i];

			if (!c->e || c->crashed || gl_now_mono_ms() < gl_lease_next_ms(c->e))
				continue;
			step(c);
			check_safety();
		}
		if (done && done())
			return true;
		usleep(10 * 1000);
	}
	return done ? done() : true;
}

static bool one_leads(void)
{
	return leader_index() >= 0;
}

/* The lease as the server has it. */
static struct gl_lease_record server_lease(void)
{
	struct gl_kube *k = open_client(NULL);
	struct gl_lease_record rec;
	struct gl_err err = { 0 };
	json_object *o = NULL;
	int r = gl_kube_get(k, &R_LEASE, NULL, "gamelan-operator", &o, &err);

	if (r < 0)
		print_message("GET lease: %s\n", err.msg);
	assert_int_equal(r, 0);
	assert_int_equal(gl_lease_record_from_json(o, &rec, &err), 0);
	json_object_put(o);
	gl_kube_close(k);
	return rec;
}

/* ---- fixtures ---- */

static int group_setup(void **state)
{
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(fake.dir, sizeof(fake.dir), "%s", tmpdir);
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", tmpdir);
	if (!fakeapi_find(fake_path))
		fake_path[0] = '\0';
	unsetenv("KUBECONFIG");
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[PATH_MAX + 16];

	fakeapi_stop(&fake);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A fresh fake and two candidates "a" and "b" on cfg; a fake that does not
 * start fails the test (never a skip). */
static void start(const struct gl_lease_config *cfg)
{
	static const char *const args[] = { "--namespace", "gamelan-system", NULL };
	int r;

	if (!fake_path[0])
		fail_msg("netns-harness/fakeapi/fakeapi.py not found (set GL_TOP or GL_FAKEAPI)");
	r = fakeapi_start(&fake, fakeapi_python(), fake_path, false, args);
	if (r < 0)
		fail_msg("the fake did not start with %s: %s (see %s/fake.log)", fakeapi_python(),
			 strerror(-r), fake.dir);
	assert_int_equal(fakeapi_kubeconfig(kubeconfig, fake.url, NULL, NULL), 0);
	cand_open(&cands[0], "a", cfg);
	cand_open(&cands[1], "b", cfg);
}

static int test_teardown(void **state)
{
	for (int i = 0; i < NCAND; i++)
		cand_close(&cands[i]);
	fakeapi_stop(&fake);
	return 0;
}

/* ---- tests ---- */

/* Two candidates: one leads, the other knows it; the leader renews with one
 * PUT per tick (no GET: client-go's optimistic path). */
static void test_two_candidates(void **state)
{
	struct gl_lease_record rec;
	struct cand *l, *o;
	uint64_t before;
	int li, failed;

	start(&CFG);
	assert_true(run(BOUND_MS, one_leads));
	/* A while longer: about ten retry periods, leadership checked throughout. */
	run(6000, NULL);
	assert_true(run(BOUND_MS, one_leads));
	li = leader_index();
	l = &cands[li];
	o = &cands[1 - li];
	rec = server_lease();
	assert_string_equal(rec.holder, l->id);
	assert_int_equal(rec.duration_s, 4);
	assert_true(l->started >= 1);
	assert_string_equal(gl_lease_holder(o->e), l->id);
	assert_string_equal(o->leader, l->id);
	assert_false(gl_lease_is_leader(o->e));

	before = gl_kube_requests(l->k);
	failed = l->failed;
	for (int i = 0; i < 5; i++) {
		step(l);
		check_safety();
	}
	assert_true(gl_lease_is_leader(l->e));
	assert_int_equal(l->failed, failed);
	assert_int_equal(gl_kube_requests(l->k) - before, 5);
	assert_string_equal(server_lease().acquire_time, rec.acquire_time);
}

/* The leader stops renewing (a crash: never ticked again, nothing
 * released). The other takes over only once it has seen the record
 * unchanged for the lease duration: no earlier than 4 s after the start of
 * the crashed leader's last renewal. leaseTransitions counts one. */
static void test_crash_takeover(void **state)
{
	struct gl_lease_record before, after;
	struct cand *l, *o;
	int64_t last_renew;
	int li;

	start(&CFG);
	assert_true(run(BOUND_MS, one_leads));
	run(1000, NULL);
	assert_true(run(BOUND_MS, one_leads));
	li = leader_index();
	l = &cands[li];
	o = &cands[1 - li];
	/* Crash right after a renewal that worked. */
	for (int i = 0; i < 20; i++) {
		step(l);
		if (gl_lease_state(l->e)->renewed_ms == l->tick_began)
			break;
	}
	assert_int_equal(gl_lease_state(l->e)->renewed_ms, l->tick_began);
	last_renew = gl_lease_state(l->e)->renewed_ms;
	l->crashed = true;
	before = server_lease();
	assert_string_equal(before.holder, l->id);

	assert_true(run(BOUND_MS, one_leads));
	assert_int_equal(leader_index(), 1 - li);
	assert_true(o->started >= 1);
	if (o->started_ms - last_renew < CFG.lease_duration_ms)
		fail_msg("%s took over %lld ms after %s's last renewal, before the lease duration",
			 o->id, (long long)(o->started_ms - last_renew), l->id);
	print_message("# %s took over %lld ms after %s's last renewal\n", o->id,
		      (long long)(o->started_ms - last_renew), l->id);
	after = server_lease();
	assert_string_equal(after.holder, o->id);
	assert_int_equal(after.transitions, before.transitions + 1);
	assert_string_not_equal(after.acquire_time, before.acquire_time);
	/* The crashed one, never ticked, no longer believes it leads: its
	 * deadline has passed. */
	assert_false(gl_lease_is_leader(l->e));
}

/* A leader cut off from the server: its ticks fail, and the first tick
 * that starts once the renew deadline has passed since its last renewal
 * reports "stopped leading"; no tick before. */
static void test_unreachable_stops(void **state)
{
	struct cand *a = &cands[0];
	int64_t renewed, last_ok_tick = -1;

	start(&CFG);
	cand_close(&cands[1]);
	assert_true(run(BOUND_MS, one_leads));
	assert_int_equal(leader_index(), 0);
	run(600, NULL);
	fakeapi_stop(&fake);
	renewed = gl_lease_state(a->e)->renewed_ms;
	a->failed = 0;
	while (!a->stopped && gl_now_mono_ms() - renewed < BOUND_MS) {
		if (gl_now_mono_ms() >= gl_lease_next_ms(a->e)) {
			step(a);
			if (!a->stopped)
				last_ok_tick = a->tick_began;
		}
		if (gl_now_mono_ms() - renewed >= CFG.renew_deadline_ms)
			assert_false(gl_lease_is_leader(a->e));
		usleep(5 * 1000);
	}
	print_message("# stopped at the tick %lld ms after the last renewal (%d failed ticks)\n",
		      (long long)(a->stopped_tick - renewed), a->failed);
	assert_int_equal(gl_lease_state(a->e)->renewed_ms, renewed);
	assert_int_equal(a->stopped, 1);
	assert_true(a->failed >= 1);
	assert_false(gl_lease_is_leader(a->e));
	if (a->stopped_tick - renewed < CFG.renew_deadline_ms)
		fail_msg("stopped %lld ms after the last renewal, before the deadline",
			 (long long)(a->stopped_tick - renewed));
	if (last_ok_tick >= 0 && last_ok_tick - renewed >= CFG.renew_deadline_ms)
		fail_msg("a tick %lld ms after the last renewal did not stop it",
			 (long long)(last_ok_tick - renewed));
}

/* Release on shutdown: the leader stops, gives the lease up (holder "",
 * 1 s), and the other takes it over at its very next tick instead of after
 * the lease duration. */
static void test_release_on_stop(void **state)
{
	struct gl_lease_config cfg = CFG;
	struct gl_lease_record held, rel, taken;
	struct gl_err err = { 0 };
	struct cand *l, *o;
	int li, r;

	cfg.release_on_stop = true;
	start(&cfg);
	assert_true(run(BOUND_MS, one_leads));
	run(900, NULL);
	assert_true(run(BOUND_MS, one_leads));
	li = leader_index();
	l = &cands[li];
	o = &cands[1 - li];
	held = server_lease();
	assert_string_equal(held.holder, l->id);
	r = gl_lease_stop(l->e, &err);
	if (r < 0)
		print_message("release: %s\n", err.msg);
	assert_int_equal(r, 0);
	assert_int_equal(l->stopped, 1);
	assert_false(gl_lease_is_leader(l->e));
	l->crashed = true;
	rel = server_lease();
	assert_string_equal(rel.holder, "");
	assert_int_equal(rel.duration_s, 1);
	assert_int_equal(rel.transitions, held.transitions);

	/* The next tick that reaches the server takes it. */
	for (int i = 0; i < 20 && !gl_lease_is_leader(o->e); i++) {
		int failed = o->failed;

		step(o);
		check_safety();
		if (o->failed == failed) {
			assert_true(gl_lease_is_leader(o->e));
			break;
		}
		usleep(100 * 1000);
	}
	assert_true(gl_lease_is_leader(o->e));
	taken = server_lease();
	assert_string_equal(taken.holder, o->id);
	assert_int_equal(taken.transitions, held.transitions + 1);
	/* A stopped elector ticks no more. */
	r = gl_lease_tick(l->e, &err);
	assert_int_equal(r, 0);
	assert_string_equal(server_lease().holder, o->id);
}

/* Arguments the driver refuses before sending anything. */
static void test_new_checks(void **state)
{
	struct gl_lease_config bad = { .lease_duration_ms = 1000, .renew_deadline_ms = 1500,
				       .retry_period_ms = 300 };
	struct gl_lease_elector *e = NULL;
	struct gl_err err = { 0 };
	struct gl_kube_opts o;

	start(&CFG);
	assert_int_equal(gl_lease_new(cands[0].k, NULL, "x", "a", &bad, NULL, NULL, &e, &err), -EINVAL);
	assert_int_equal(gl_lease_new(cands[0].k, NULL, "a/b", "a", &CFG, NULL, NULL, &e, NULL), -EINVAL);
	assert_int_equal(gl_lease_new(cands[0].k, NULL, "x", "", &CFG, NULL, NULL, &e, NULL), -EINVAL);
	assert_null(e);
	gl_lease_kube_opts(&CFG, &o);
	assert_int_equal(o.timeout_ms, 1000);
	assert_int_equal(o.max_retries, -1);
	gl_lease_kube_opts(NULL, &o);
	assert_int_equal(o.timeout_ms, 3333);
	/* The first tick is due at once; a candidate's next within 1 to 2.2
	 * retry periods. */
	assert_true(gl_lease_next_ms(cands[1].e) <= gl_now_mono_ms());
	step(&cands[0]);
	step(&cands[1]);
	{
		int64_t d = gl_lease_next_ms(cands[1].e) - cands[1].tick_began;

		assert_in_range(d, CFG.retry_period_ms, CFG.retry_period_ms * 22 / 10);
		d = gl_lease_next_ms(cands[0].e) - cands[0].tick_began;
		assert_int_equal(d, CFG.retry_period_ms);
	}
}

/* ---- the elector on a worker, the loop acting on its statuses ---- */

struct on_worker {
	struct gl_loop *loop;
	struct gl_worker *w;
	struct gl_lease_status last;  /* the loop's copy */
	struct gl_loop_timer *deadline;
	int phase;                    /* 0: until leading; 1: fake gone, until not leading */
	bool release;                 /* stop the worker as soon as it leads (release path) */
	int statuses;
	int deadline_fired;
	bool leading_at_deadline;     /* the loop's view when its deadline timer fired */
	bool stale_leading;           /* a renewal begun after the outage began */
	int64_t outage_ms;            /* the fake was gone from then on */
	int64_t armed_for;            /* the renewal the deadline timer is for */
	int result;
	bool done;
};

static int job_wait(int64_t ms, void *ctx)
{
	return gl_worker_sleep(ctx, ms);
}

static void job_report(const struct gl_lease_status *st, void *ctx)
{
	struct gl_lease_status *copy = malloc(sizeof(*copy));

	if (copy) {
		*copy = *st;
		gl_worker_post(ctx, copy);
	}
}

static int lease_job(struct gl_worker *w, void *job)
{
	return gl_lease_run(job, job_wait, job_report, w, NULL);
}

/* The loop's own clock ends the leadership: no message needed. */
static void on_lease_deadline(struct gl_loop *l, void *userdata)
{
	struct on_worker *ow = userdata;

	ow->deadline_fired++;
	if (gl_lease_status_leading(&ow->last, gl_now_mono_ms()))
		ow->leading_at_deadline = true;
}

static void on_status(void *msg, void *userdata)
{
	struct on_worker *ow = userdata;
	struct gl_lease_status *st = msg;

	ow->last = *st;
	ow->statuses++;
	free(st);
	if (ow->phase == 0 && gl_lease_status_leading(&ow->last, gl_now_mono_ms())) {
		if (ow->release) {
			/* Shutdown: gl_lease_run stops and releases. */
			gl_worker_stop(ow->w);
			ow->phase = 2;
			return;
		}
		/* An outage: no renewal begun from here on can succeed (one
		 * in flight may still have). */
		ow->outage_ms = gl_now_mono_ms();
		fakeapi_stop(&fake);
		ow->phase = 1;
	}
	if (ow->phase == 1) {
		int64_t left = ow->last.renewed_ms + ow->last.renew_deadline_ms - gl_now_mono_ms();

		if (ow->last.renewed_ms >= ow->outage_ms)
			ow->stale_leading = true;
		if (ow->last.leading && ow->last.renewed_ms > ow->armed_for) {
			ow->armed_for = ow->last.renewed_ms;
			assert_int_equal(gl_loop_timer_arm(ow->deadline, left > 0 ? left : 0), 0);
		}
		if (!ow->last.leading && ow->deadline_fired && !gl_loop_timer_armed(ow->deadline)) {
			gl_worker_stop(ow->w);
			ow->phase = 2;
		}
	}
}

static void on_lease_done(int result, void *userdata)
{
	struct on_worker *ow = userdata;

	ow->result = result;
	ow->done = true;
	gl_loop_exit(ow->loop, 0);
}

static void on_loop_guard(struct gl_loop *l, void *userdata)
{
	print_message("# guard timer fired\n");
	gl_loop_exit(l, 99);
}

static void run_on_worker(struct on_worker *ow, struct cand *c)
{
	static const struct gl_worker_ops ops = { .run = lease_job, .deliver = on_status,
						  .done = on_lease_done };

	assert_int_equal(gl_loop_new(&ow->loop), 0);
	assert_int_equal(gl_loop_timer_add(ow->loop, 4 * BOUND_MS, 0, on_loop_guard, NULL, NULL), 0);
	assert_int_equal(gl_loop_timer_add(ow->loop, 0, 0, on_lease_deadline, ow, &ow->deadline), 0);
	gl_loop_timer_disarm(ow->deadline);
	/* The worker alone touches the elector and its client from here on. */
	assert_int_equal(gl_worker_start(ow->loop, &ops, c->e, ow, 0, &ow->w), 0);
	assert_int_equal(gl_loop_run(ow->loop), 0);
	assert_int_equal(gl_worker_free(ow->w, BOUND_MS), 0);
	gl_loop_timer_free(ow->deadline);
	gl_loop_free(ow->loop);
}

/* The daemon's way: the elector ticks on a worker (a tick blocks for its
 * requests), the loop keeps the last status. The API server goes away
 * while a's leading: the loop's view ends at the renew deadline by its own
 * clock; the worker then reports it too, and no renewal after the outage. */
static void test_on_worker_outage(void **state)
{
	struct on_worker ow = { 0 };

	start(&CFG);
	cand_close(&cands[1]);
	run_on_worker(&ow, &cands[0]);
	assert_true(ow.done);
	assert_int_equal(ow.phase, 2);
	assert_true(ow.deadline_fired >= 1);
	assert_false(ow.leading_at_deadline);
	assert_false(ow.stale_leading);
	assert_false(ow.last.leading);
	assert_false(gl_lease_is_leader(cands[0].e));
}

/* Stopped while leading: gl_lease_run ends with the release, and the lease
 * is free on the server. */
static void test_on_worker_release(void **state)
{
	struct gl_lease_config cfg = CFG;
	struct on_worker ow = { .release = true };

	cfg.release_on_stop = true;
	start(&cfg);
	cand_close(&cands[1]);
	run_on_worker(&ow, &cands[0]);
	assert_true(ow.done);
	assert_int_equal(ow.result, 0);
	assert_int_equal(cands[0].stopped, 1);
	assert_string_equal(server_lease().holder, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_candidates, test_teardown),
		cmocka_unit_test_teardown(test_crash_takeover, test_teardown),
		cmocka_unit_test_teardown(test_unreachable_stops, test_teardown),
		cmocka_unit_test_teardown(test_release_on_stop, test_teardown),
		cmocka_unit_test_teardown(test_new_checks, test_teardown),
		cmocka_unit_test_teardown(test_on_worker_outage, test_teardown),
		cmocka_unit_test_teardown(test_on_worker_release, test_teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
