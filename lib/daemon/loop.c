#include "daemon/loop.h"
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include "base/log.h"

struct gl_loop_timer {
	struct gl_loop *loop;                /* NULL once the loop is gone */
	struct gl_loop_timer *prev, *next;   /* in the loop's queue while armed */
	struct gl_loop_timer *oprev, *onext; /* owned ones: in the loop's list of them */
	bool armed;
	bool floating;                       /* the loop's: freed with it or after firing */
	uint64_t deadline_us;                /* CLOCK_MONOTONIC */
	uint64_t seq;                        /* order of arming, for equal deadlines */
	int64_t period_ms;
	gl_loop_timer_fn fn;
	void *userdata;
};

struct gl_loop {
	sd_event *ev;
	sd_event_source *sig_term, *sig_int;
	sd_event_source *time_src;           /* fires at the queue head's deadline */
	struct gl_loop_timer *head, *tail;
	struct gl_loop_timer *owned;         /* every caller-owned timer, armed or not */
	uint64_t seq;
	struct gl_loop_timer *drain;
	int64_t drain_ms;
	gl_loop_stop_fn stop_fn;
	void *stop_userdata;
	bool stopping;
	bool ended;                          /* loop_end was called: its result stands */
	int result;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Point the one sd-event time source at the queue head (or turn it off). */
static void timers_resched(struct gl_loop *l)
{
	int r;

	if (!l->time_src)
		return;
	if (!l->head) {
		sd_event_source_set_enabled(l->time_src, SD_EVENT_OFF);
		return;
	}
	r = sd_event_source_set_time(l->time_src, l->head->deadline_us);
	if (r >= 0)
		r = sd_event_source_set_enabled(l->time_src, SD_EVENT_ONESHOT);
	if (r < 0)
		gl_debug("loop: cannot arm the timer source: %d", r);
}

static void timer_unlink(struct gl_loop_timer *t)
{
	struct gl_loop *l = t->loop;

	if (!t->armed)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		l->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		l->tail = t->prev;
	t->prev = t->next = NULL;
	t->armed = false;
}

/* Insert in (deadline, seq) order; a new seq is always the largest, so the
 * walk from the tail stops early in the common case of later deadlines. */
static void timer_link(struct gl_loop_timer *t, uint64_t deadline_us)
{
	struct gl_loop *l = t->loop;
	struct gl_loop_timer *p = l->tail;

	t->deadline_us = deadline_us;
	t->seq = l->seq++;
	while (p && p->deadline_us > deadline_us)
		p = p->prev;
	t->prev = p;
	t->next = p ? p->next : l->head;
	if (t->next)
		t->next->prev = t;
	else
		l->tail = t;
	if (p)
		p->next = t;
	else
		l->head = t;
	t->armed = true;
}

static uint64_t ms_to_us(int64_t ms)
{
	if (ms <= 0)
		return 0;
	if ((uint64_t)ms > UINT64_MAX / 4000u)
		return UINT64_MAX / 4;
	return (uint64_t)ms * 1000u;
}

/* Fire the timers that were due when the dispatch began; ones armed during
 * it (seq past the start) wait for the next iteration, so a timer re-armed
 * with delay 0 cannot starve io. */
static int on_time(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct gl_loop *l = userdata;
	uint64_t now = now_us(), seq_end = l->seq;

	while (l->head && l->head->deadline_us <= now && l->head->seq < seq_end) {
		struct gl_loop_timer *t = l->head;

		timer_unlink(t);
		if (t->period_ms > 0) {
			uint64_t next = t->deadline_us + ms_to_us(t->period_ms);

			if (next <= now)
				next = now + ms_to_us(t->period_ms);
			timer_link(t, next);
		}
		/* After fn, t may be gone: fn may free an owned timer. */
		if (t->floating && t->period_ms <= 0) {
			t->fn(l, t->userdata);
			free(t);
		} else {
			t->fn(l, t->userdata);
		}
	}
	timers_resched(l);
	return 0;
}

/* The first end wins: a drain deadline or a second signal that fires in
 * the same dispatch as the daemon's own gl_loop_exit must not replace the
 * daemon's code (nor the other way round). */
static void loop_end(struct gl_loop *l, int result)
{
	if (l->ended)
		return;
	l->ended = true;
	l->result = result;
	sd_event_exit(l->ev, 0);
}

static void on_drain_deadline(struct gl_loop *l, void *userdata)
{
	gl_debug("loop: drain deadline passed, stopping anyway");
	loop_end(l, -ETIMEDOUT);
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct gl_loop *l = userdata;
	int r;

	if (l->stopping) {
		gl_debug("loop: signal %u while draining, stopping now", si->ssi_signo);
		loop_end(l, -ETIMEDOUT);
		return 0;
	}
	l->stopping = true;
	if (!l->stop_fn) {
		loop_end(l, 0);
		return 0;
	}
	r = gl_loop_timer_arm(l->drain, l->drain_ms);
	if (r < 0) {
		loop_end(l, r);
		return 0;
	}
	if (l->stop_fn(l, (int)si->ssi_signo, l->stop_userdata) == 0)
		loop_end(l, 0);
	return 0;
}

int gl_loop_new(struct gl_loop **ret)
{
	struct gl_loop *l = calloc(1, sizeof(*l));
	struct sigaction old_pipe;
	int r;

	if (!l)
		return -ENOMEM;
	l->drain_ms = GL_LOOP_DRAIN_MS;
	/* A peer that closes while we write to it (a client gone before its
	 * answer, dockerd restarting) must cost an EPIPE, not the daemon:
	 * ignore SIGPIPE unless the program chose a handler of its own. */
	if (sigaction(SIGPIPE, NULL, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	r = sd_event_new(&l->ev);
	if (r < 0)
		goto fail;
	/* SD_EVENT_SIGNAL_PROCMASK blocks the signal in this thread first, as
	 * a signalfd needs; the old mask comes back when the source goes. */
	r = sd_event_add_signal(l->ev, &l->sig_term, SIGTERM | SD_EVENT_SIGNAL_PROCMASK, on_signal, l);
	if (r < 0)
		goto fail;
	r = sd_event_add_signal(l->ev, &l->sig_int, SIGINT | SD_EVENT_SIGNAL_PROCMASK, on_signal, l);
	if (r < 0)
		goto fail;
	r = sd_event_add_time(l->ev, &l->time_src, CLOCK_MONOTONIC, 0, 1, on_time, l);
	if (r < 0)
		goto fail;
	sd_event_source_set_enabled(l->time_src, SD_EVENT_OFF);
	r = gl_loop_timer_add(l, 0, 0, on_drain_deadline, NULL, &l->drain);
	if (r < 0)
		goto fail;
	gl_loop_timer_disarm(l->drain);
	*ret = l;
	return 0;
fail:
	gl_loop_free(l);
	return r;
}

void gl_loop_free(struct gl_loop *l)
{
	if (!l)
		return;
	gl_loop_timer_free(l->drain);
	while (l->head) {
		struct gl_loop_timer *t = l->head;

		timer_unlink(t);
		if (t->floating)
			free(t);
	}
	/* Owned timers outlive the loop (their owners free them later); armed
	 * or not, they must not point at it any more: arming one then is
	 * -ESTALE, not a write into freed memory. */
	for (struct gl_loop_timer *t = l->owned; t; t = t->onext)
		t->loop = NULL;
	sd_event_source_disable_unref(l->time_src);
	sd_event_source_disable_unref(l->sig_term);
	sd_event_source_disable_unref(l->sig_int);
	sd_event_unref(l->ev);
	free(l);
}

sd_event *gl_loop_event(struct gl_loop *l)
{
	return l->ev;
}

int gl_loop_run(struct gl_loop *l)
{
	int r;

	timers_resched(l);
	r = sd_event_loop(l->ev);
	if (r < 0)
		return r;
	return l->result;
}

void gl_loop_exit(struct gl_loop *l, int code)
{
	loop_end(l, code);
}

void gl_loop_on_stop(struct gl_loop *l, int64_t drain_ms, gl_loop_stop_fn fn, void *userdata)
{
	l->drain_ms = drain_ms > 0 ? drain_ms : GL_LOOP_DRAIN_MS;
	l->stop_fn = fn;
	l->stop_userdata = userdata;
}

bool gl_loop_stopping(const struct gl_loop *l)
{
	return l->stopping;
}

int gl_loop_timer_add(struct gl_loop *l, int64_t delay_ms, int64_t period_ms,
		      gl_loop_timer_fn fn, void *userdata, struct gl_loop_timer **ret)
{
	struct gl_loop_timer *t;

	if (!fn || delay_ms < 0)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->loop = l;
	t->period_ms = period_ms;
	t->fn = fn;
	t->userdata = userdata;
	t->floating = !ret;
	if (ret) {
		t->onext = l->owned;
		if (l->owned)
			l->owned->oprev = t;
		l->owned = t;
	}
	timer_link(t, now_us() + ms_to_us(delay_ms));
	timers_resched(l);
	if (ret)
		*ret = t;
	return 0;
}

int gl_loop_timer_arm(struct gl_loop_timer *t, int64_t delay_ms)
{
	if (!t->loop)
		return -ESTALE;
	if (delay_ms < 0)
		return -EINVAL;
	timer_unlink(t);
	timer_link(t, now_us() + ms_to_us(delay_ms));
	timers_resched(t->loop);
	return 0;
}

void gl_loop_timer_disarm(struct gl_loop_timer *t)
{
	/* An armed timer's loop is alive (gl_loop_free unlinks them all), so
	 * freeing an owned timer after its loop is safe. */
	if (!t || !t->armed)
		return;
	timer_unlink(t);
	timers_resched(t->loop);
}

bool gl_loop_timer_armed(const struct gl_loop_timer *t)
{
	return t->armed;
}

void gl_loop_timer_free(struct gl_loop_timer *t)
{
	if (!t)
		return;
	gl_loop_timer_disarm(t);
	if (t->loop) {
		if (t->oprev)
			t->oprev->onext = t->onext;
		else
			t->loop->owned = t->onext;
		if (t->onext)
			t->onext->oprev = t->oprev;
	}
	free(t);
}

int gl_loop_io_add(struct gl_loop *l, int fd, uint32_t events, sd_event_io_handler_t fn,
		   void *userdata, sd_event_source **ret)
{
	return sd_event_add_io(l->ev, ret, fd, events, fn, userdata);
}
