/* lib/daemon/loop.c and worker.c: timers in deadline order, a periodic
 * timer, SIGTERM/SIGINT ending the loop (at once, after a drain, at the
 * drain deadline), and workers delivering messages in order through their
 * bounded queue, stopping and being freed. Every wait is bounded by a guard
 * timer that fails the test; no test asserts speed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/util.h"
#include "daemon/loop.h"
#include "daemon/worker.h"

#define GUARD_MS 10000      /* a test whose loop is still running then fails */
#define GUARD_CODE 99

static void on_guard(struct gl_loop *l, void *userdata)
{
	print_message("# guard timer fired: the loop did not end by itself\n");
	gl_loop_exit(l, GUARD_CODE);
}

static struct gl_loop *loop_with_guard(void)
{
	struct gl_loop *l;

	assert_int_equal(gl_loop_new(&l), 0);
	assert_int_equal(gl_loop_timer_add(l, GUARD_MS, 0, on_guard, NULL, NULL), 0);
	return l;
}

/* ---- timers ---- */

struct order {
	struct gl_loop *loop;
	int fired[16];
	int n;
	int end_after;
};

struct tag {
	struct order *o;
	int id;
};

static void on_tag(struct gl_loop *l, void *userdata)
{
	struct tag *t = userdata;

	t->o->fired[t->o->n++] = t->id;
	if (t->o->n == t->o->end_after)
		gl_loop_exit(l, 0);
}

static struct tag tag_of(struct order *o, int id)
{
	return (struct tag){ o, id };
}

/* Armed from a callback with delay 0: fires after the ones already due. */
static struct tag late_tag;
static void on_tag_and_arm(struct gl_loop *l, void *userdata)
{
	on_tag(l, userdata);
	assert_int_equal(gl_loop_timer_add(l, 0, 0, on_tag, &late_tag, NULL), 0);
}

#define GAP_MS 300          /* between distinct deadlines */

/* One attempt: false when arming took so long (a loaded machine) that the
 * deadlines no longer follow the delays; the caller then tries again. */
static bool timers_in_order_once(void)
{
	struct gl_loop *l = loop_with_guard();
	struct order o = { .end_after = 7 };
	struct tag t[8];
	struct gl_loop_timer *owned, *cancelled;
	int64_t began = gl_now_mono_ms();
	int want[] = { 1, 2, 3, 4, 5, 6 }, k = 0, late_at = -1;

	for (int i = 0; i < 8; i++)
		t[i] = tag_of(&o, i);
	late_tag = tag_of(&o, 100);
	/* Armed out of order; 3 and 4 share a delay, as 1 and 2 do: due in
	 * the same wakeup, they fire in arming order. */
	assert_int_equal(gl_loop_timer_add(l, 3 * GAP_MS, 0, on_tag, &t[5], NULL), 0);
	assert_int_equal(gl_loop_timer_add(l, GAP_MS, 0, on_tag, &t[3], NULL), 0);
	assert_int_equal(gl_loop_timer_add(l, GAP_MS, 0, on_tag, &t[4], NULL), 0);
	assert_int_equal(gl_loop_timer_add(l, 0, 0, on_tag_and_arm, &t[1], NULL), 0);
	assert_int_equal(gl_loop_timer_add(l, 0, 0, on_tag, &t[2], NULL), 0);
	assert_int_equal(gl_loop_timer_add(l, 2 * GAP_MS, 0, on_tag, &t[6], &owned), 0);
	assert_int_equal(gl_loop_timer_add(l, GAP_MS / 2, 0, on_tag, &t[7], &cancelled), 0);
	/* Re-armed later: 6 now comes after 5; 7 never fires. */
	assert_int_equal(gl_loop_timer_arm(owned, 4 * GAP_MS), 0);
	gl_loop_timer_disarm(cancelled);
	assert_false(gl_loop_timer_armed(cancelled));
	assert_true(gl_loop_timer_armed(owned));
	assert_int_equal(gl_loop_timer_add(l, -1, 0, on_tag, &t[0], NULL), -EINVAL);
	if (gl_now_mono_ms() - began >= GAP_MS / 2) {
		gl_loop_timer_free(owned);
		gl_loop_timer_free(cancelled);
		gl_loop_free(l);
		return false;
	}

	assert_int_equal(gl_loop_run(l), 0);
	assert_int_equal(o.n, 7);
	/* 1 and 2 were due when the first dispatch began; the one 1 armed
	 * then waits for the next, so it comes after 2 (and, with the loop
	 * late, possibly after later ones too: that is not asserted). */
	for (int i = 0; i < o.n; i++) {
		if (o.fired[i] == 100) {
			late_at = i;
			continue;
		}
		assert_true(k < 6);
		assert_int_equal(o.fired[i], want[k]);
		k++;
	}
	assert_int_equal(k, 6);
	assert_true(late_at > 1);
	/* The owned timer stays after firing, disarmed, to re-arm or free. */
	assert_false(gl_loop_timer_armed(owned));
	gl_loop_timer_free(cancelled);
	gl_loop_free(l);
	/* Outliving its loop, an owned timer can no longer be armed. */
	assert_int_equal(gl_loop_timer_arm(owned, 0), -ESTALE);
	assert_false(gl_loop_timer_armed(owned));
	gl_loop_timer_free(owned);
	return true;
}

static void test_timers_in_order(void **state)
{
	for (int i = 0; i < 20; i++) {
		if (timers_in_order_once())
			return;
		print_message("# arming took over %d ms: again\n", GAP_MS / 2);
	}
	fail_msg("arming seven timers took over %d ms twenty times in a row", GAP_MS / 2);
}

struct periodic {
	struct gl_loop_timer *t;
	int64_t start, at[8];
	int n;
};

static void on_tick(struct gl_loop *l, void *userdata)
{
	struct periodic *p = userdata;

	p->at[p->n++] = gl_now_mono_ms();
	if (p->n == 5) {
		/* A timer may free itself from its own callback. */
		gl_loop_timer_free(p->t);
		p->t = NULL;
		assert_int_equal(gl_loop_timer_add(l, 50, 0, on_tag, &late_tag, NULL), 0);
	}
}

static void test_periodic(void **state)
{
	struct gl_loop *l = loop_with_guard();
	struct order o = { .end_after = 1 };
	struct periodic p = { 0 };

	late_tag = tag_of(&o, 1);
	p.start = gl_now_mono_ms();
	assert_int_equal(gl_loop_timer_add(l, 20, 20, on_tick, &p, &p.t), 0);
	assert_int_equal(gl_loop_run(l), 0);
	/* Five ticks, then none after it freed itself (the 50 ms one-shot
	 * ended the loop, leaving room for two more ticks had it run on). */
	assert_int_equal(p.n, 5);
	for (int i = 0; i < 5; i++)
		assert_true(p.at[i] >= p.start + 20 * (i + 1) - 1);
	gl_loop_free(l);
}

/* ---- signals ---- */

static void send_term(struct gl_loop *l, void *userdata)
{
	int sig = userdata ? *(int *)userdata : SIGTERM;

	assert_int_equal(kill(getpid(), sig), 0);
}

static void test_sigterm_ends_loop(void **state)
{
	struct gl_loop *l = loop_with_guard();
	int sig = SIGINT;

	assert_int_equal(gl_loop_timer_add(l, 10, 0, send_term, NULL, NULL), 0);
	assert_int_equal(gl_loop_run(l), 0);
	assert_true(gl_loop_stopping(l));
	gl_loop_free(l);

	l = loop_with_guard();
	assert_int_equal(gl_loop_timer_add(l, 10, 0, send_term, &sig, NULL), 0);
	assert_int_equal(gl_loop_run(l), 0);
	gl_loop_free(l);
}

struct drain {
	int signo;
	int calls;
	bool finish;                  /* end the drain by itself after 30 ms */
	bool second;                  /* send a second signal once the first came */
	bool was_stopping;
};

static void on_drained(struct gl_loop *l, void *userdata)
{
	gl_loop_exit(l, 7);
}

static int on_stop(struct gl_loop *l, int signo, void *userdata)
{
	struct drain *d = userdata;

	d->signo = signo;
	d->calls++;
	d->was_stopping = gl_loop_stopping(l);
	if (d->finish)
		assert_int_equal(gl_loop_timer_add(l, 30, 0, on_drained, NULL, NULL), 0);
	/* Only once the first was read: two SIGTERMs pending at once are one. */
	if (d->second)
		assert_int_equal(gl_loop_timer_add(l, 10, 0, send_term, NULL, NULL), 0);
	return 1;
}

static void test_sigterm_drain(void **state)
{
	struct gl_loop *l;
	struct drain d = { .finish = true };

	/* The daemon finishes its drain and ends the loop itself. */
	l = loop_with_guard();
	gl_loop_on_stop(l, 5000, on_stop, &d);
	assert_int_equal(gl_loop_timer_add(l, 10, 0, send_term, NULL, NULL), 0);
	assert_int_equal(gl_loop_run(l), 7);
	assert_int_equal(d.calls, 1);
	assert_int_equal(d.signo, SIGTERM);
	assert_true(d.was_stopping);
	gl_loop_free(l);

	/* A drain that never ends is cut at the deadline. */
	memset(&d, 0, sizeof(d));
	l = loop_with_guard();
	gl_loop_on_stop(l, 100, on_stop, &d);
	assert_int_equal(gl_loop_timer_add(l, 10, 0, send_term, NULL, NULL), 0);
	assert_int_equal(gl_loop_run(l), -ETIMEDOUT);
	assert_int_equal(d.calls, 1);
	gl_loop_free(l);

	/* A second signal during the drain ends it at once. */
	memset(&d, 0, sizeof(d));
	d.second = true;
	l = loop_with_guard();
	gl_loop_on_stop(l, GUARD_MS * 2, on_stop, &d);
	assert_int_equal(gl_loop_timer_add(l, 10, 0, send_term, NULL, NULL), 0);
	assert_int_equal(gl_loop_run(l), -ETIMEDOUT);
	assert_int_equal(d.calls, 1);
	gl_loop_free(l);
}

static void exit_with(struct gl_loop *l, void *userdata)
{
	gl_loop_exit(l, *(int *)userdata);
}

/* Two ends in one dispatch: the first one's code is the loop's. */
static void test_first_exit_wins(void **state)
{
	struct gl_loop *l = loop_with_guard();
	struct sigaction sa;
	int a = 3, b = 4;

	/* And a loop's process does not die of a write to a closed peer. */
	assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_IGN);

	assert_int_equal(gl_loop_timer_add(l, 0, 0, exit_with, &a, NULL), 0);
	assert_int_equal(gl_loop_timer_add(l, 0, 0, exit_with, &b, NULL), 0);
	assert_int_equal(gl_loop_run(l), 3);
	gl_loop_free(l);
}

/* ---- workers ---- */

#define N_MSGS 5000

struct counting {
	struct gl_loop *loop;
	struct gl_worker *w;
	int next;                     /* the sequence number expected next */
	int out_of_order;
	int done_calls;
	int result;
	bool on_loop_thread;
	pthread_t loop_thread;
};

static int job_count(struct gl_worker *w, void *job)
{
	for (int i = 0; i < N_MSGS; i++) {
		int *m = malloc(sizeof(*m));

		if (!m)
			return -ENOMEM;
		*m = i;
		if (gl_worker_post(w, m) < 0)
			return -ECANCELED;
	}
	return 42;
}

static void deliver_count(void *msg, void *userdata)
{
	struct counting *c = userdata;
	int *m = msg;

	if (*m != c->next)
		c->out_of_order++;
	c->next = *m + 1;
	c->on_loop_thread &= pthread_equal(pthread_self(), c->loop_thread);
	free(m);
}

static void done_count(int result, void *userdata)
{
	struct counting *c = userdata;

	c->done_calls++;
	c->result = result;
	/* Freeing the worker from its own done callback is allowed. */
	gl_worker_free(c->w, 0);
	c->w = NULL;
	gl_loop_exit(c->loop, 0);
}

static void test_worker_delivers_in_order(void **state)
{
	static const struct gl_worker_ops ops = { .run = job_count, .deliver = deliver_count,
						  .done = done_count };
	struct counting c = { .on_loop_thread = true, .loop_thread = pthread_self() };

	c.loop = loop_with_guard();
	/* A queue much smaller than the message count: the job waits on it. */
	assert_int_equal(gl_worker_start(c.loop, &ops, NULL, &c, 16, &c.w), 0);
	assert_int_equal(gl_loop_run(c.loop), 0);
	assert_int_equal(c.next, N_MSGS);
	assert_int_equal(c.out_of_order, 0);
	assert_int_equal(c.done_calls, 1);
	assert_int_equal(c.result, 42);
	assert_true(c.on_loop_thread);
	assert_null(c.w);
	gl_loop_free(c.loop);
}

struct sleeper {
	int slept_out;                /* sleeps that ran their full length */
	int cancelled;
	int post_after_stop;
};

/* Sleep in steps until asked to stop, then check that a post is refused. */
static int job_sleep(struct gl_worker *w, void *job)
{
	struct sleeper *s = job;
	int r;

	while ((r = gl_worker_sleep(w, 20)) == 0)
		__atomic_add_fetch(&s->slept_out, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->cancelled, r == -ECANCELED && gl_worker_stopping(w) &&
			 *gl_worker_stop_flag(w), __ATOMIC_SEQ_CST);
	__atomic_store_n(&s->post_after_stop, gl_worker_post(w, malloc(8)), __ATOMIC_SEQ_CST);
	return 0;
}

static void deliver_none(void *msg, void *userdata)
{
	fail_msg("nothing should be delivered");
}

struct stopper {
	struct gl_worker *w;
	struct sleeper *s;
};

static void stop_worker(struct gl_loop *l, void *userdata)
{
	struct stopper *st = userdata;

	/* Wait (bounded) until the job slept at least twice, then free it. */
	if (__atomic_load_n(&st->s->slept_out, __ATOMIC_SEQ_CST) < 2) {
		assert_int_equal(gl_loop_timer_add(l, 20, 0, stop_worker, st, NULL), 0);
		return;
	}
	assert_int_equal(gl_worker_free(st->w, 5000), 0);
	st->w = NULL;
	gl_loop_exit(l, 0);
}

static void test_worker_stop(void **state)
{
	static const struct gl_worker_ops ops = { .run = job_sleep, .deliver = deliver_none };
	struct gl_loop *l = loop_with_guard();
	struct sleeper s = { 0 };
	struct stopper st = { .s = &s };

	assert_int_equal(gl_worker_start(l, &ops, &s, NULL, 0, &st.w), 0);
	assert_int_equal(gl_loop_timer_add(l, 20, 0, stop_worker, &st, NULL), 0);
	assert_int_equal(gl_loop_run(l), 0);
	/* gl_worker_free joined the thread: its results are all in. */
	assert_true(s.slept_out >= 2);
	assert_int_equal(s.cancelled, 1);
	assert_int_equal(s.post_after_stop, -ECANCELED);
	gl_loop_free(l);
}

struct stubborn {
	int go;                       /* set by the test once the join gave up */
	int post;                     /* what the post after it returned */
};

static int stubborn_freed, stubborn_post;

/* Ignores the stop (a blocking call without a stop flag) until the test
 * says, so that the join surely gives up first. */
static int job_stubborn(struct gl_worker *w, void *job)
{
	struct stubborn *s = job;
	int64_t until = gl_now_mono_ms() + GUARD_MS;

	while (!__atomic_load_n(&s->go, __ATOMIC_SEQ_CST) && gl_now_mono_ms() < until)
		usleep(5 * 1000);
	/* Refused: the owner let go. */
	__atomic_store_n(&s->post, gl_worker_post(w, malloc(8)), __ATOMIC_SEQ_CST);
	return 0;
}

/* The job is the worker's: freed on the detached thread, after run. */
static void stubborn_free(void *job)
{
	struct stubborn *s = job;

	/* No cmocka assert off the test's thread: record, the test checks. */
	__atomic_store_n(&stubborn_post, __atomic_load_n(&s->post, __ATOMIC_SEQ_CST),
			 __ATOMIC_SEQ_CST);
	free(s);
	__atomic_store_n(&stubborn_freed, 1, __ATOMIC_SEQ_CST);
}

static void test_worker_detached(void **state)
{
	static const struct gl_worker_ops ops = { .run = job_stubborn, .deliver = deliver_none,
						  .job_free = stubborn_free };
	struct gl_loop *l;
	struct gl_worker *w;
	struct stubborn *s = calloc(1, sizeof(*s));
	int64_t until;

	assert_non_null(s);
	assert_int_equal(gl_loop_new(&l), 0);
	assert_int_equal(gl_worker_start(l, &ops, s, NULL, 0, &w), 0);
	/* The join gives up; the thread frees the shared part and the job
	 * when it ends. */
	assert_int_equal(gl_worker_free(w, 20), -ETIMEDOUT);
	gl_loop_free(l);
	assert_int_equal(__atomic_load_n(&stubborn_freed, __ATOMIC_SEQ_CST), 0);
	__atomic_store_n(&s->go, 1, __ATOMIC_SEQ_CST);
	until = gl_now_mono_ms() + GUARD_MS;
	while (!__atomic_load_n(&stubborn_freed, __ATOMIC_SEQ_CST) && gl_now_mono_ms() < until)
		usleep(10 * 1000);
	assert_int_equal(stubborn_freed, 1);
	assert_int_equal(stubborn_post, -ECANCELED);
	/* LeakSanitizer scans the stacks of threads still running, so the
	 * few instructions between job_free and the thread's end hide
	 * nothing; give them a moment all the same. */
	usleep(50 * 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timers_in_order),
		cmocka_unit_test(test_periodic),
		cmocka_unit_test(test_sigterm_ends_loop),
		cmocka_unit_test(test_sigterm_drain),
		cmocka_unit_test(test_first_exit_wins),
		cmocka_unit_test(test_worker_delivers_in_order),
		cmocka_unit_test(test_worker_stop),
		cmocka_unit_test(test_worker_detached),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
