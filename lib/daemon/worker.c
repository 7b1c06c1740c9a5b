#include "daemon/worker.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include "base/log.h"

/* One object shared by the owner (loop thread) and the job's thread, freed
 * by whichever lets go last. Fields under "shared" are read and written
 * with mu held; the rest belong to the loop thread. */
struct gl_worker {
	/* shared */
	pthread_mutex_t mu;
	pthread_cond_t cond;          /* queue space, stop, sleep */
	void **ring;
	size_t cap, head, count;
	bool done;
	int result;
	int refs;
	bool started;                 /* the thread runs: job is ours to free */
	volatile sig_atomic_t stop;
	/* set once, then read-only */
	int efd;
	struct gl_worker_ops ops;
	void *job;
	void *userdata;
	/* loop thread */
	pthread_t thread;
	sd_event_source *src;
	bool dispatching;
	bool freeing;                 /* gl_worker_free called during a dispatch */
	bool done_reported;
	int64_t join_ms;
};

static void msg_free(struct gl_worker *w, void *msg)
{
	if (w->ops.msg_free)
		w->ops.msg_free(msg);
	else
		free(msg);
}

static void worker_unref(struct gl_worker *w)
{
	bool last;

	pthread_mutex_lock(&w->mu);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->mu);
	if (!last)
		return;
	for (size_t i = 0; i < w->count; i++)
		msg_free(w, w->ring[(w->head + i) % w->cap]);
	if (w->started && w->ops.job_free)
		w->ops.job_free(w->job);
	if (w->efd >= 0)
		close(w->efd);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w->ring);
	free(w);
}

static void wake_loop(struct gl_worker *w)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is saturated: the loop is awake anyway. */
	if (write(w->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		gl_debug("worker: eventfd write: %d", -errno);
}

static void *worker_main(void *arg)
{
	struct gl_worker *w = arg;
	int r = w->ops.run(w, w->job);

	pthread_mutex_lock(&w->mu);
	w->done = true;
	w->result = r;
	pthread_mutex_unlock(&w->mu);
	wake_loop(w);
	worker_unref(w);
	return NULL;
}

/* The time ms from now on clock, as a timespec for the timed waits. */
static struct timespec deadline_ts(clockid_t clock, int64_t ms)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	if (ms > 0) {
		ts.tv_sec += ms / 1000;
		ts.tv_nsec += (ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
	}
	return ts;
}

static int worker_finish_free(struct gl_worker *w)
{
	int64_t ms = w->join_ms > 0 ? w->join_ms : GL_WORKER_JOIN_MS;
	struct timespec until;
	int r;

	w->src = sd_event_source_disable_unref(w->src);
	gl_worker_stop(w);
	/* pthread_timedjoin_np's deadline is on CLOCK_REALTIME. */
	until = deadline_ts(CLOCK_REALTIME, ms);
	r = pthread_timedjoin_np(w->thread, NULL, &until);
	if (r != 0) {
		gl_debug("worker: job did not end within %lld ms (%d), leaving it detached",
			 (long long)ms, -r);
		pthread_detach(w->thread);
	}
	worker_unref(w);
	return r ? -ETIMEDOUT : 0;
}

/* Deliver what is queued, at most one queue's worth per wakeup (a busy job
 * cannot starve the loop's other sources), then the job's end once all its
 * messages are in. */
static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct gl_worker *w = userdata;
	uint64_t n;
	bool more, report;
	int result;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		gl_debug("worker: eventfd read: %d", -errno);
	w->dispatching = true;
	for (size_t i = 0; i < w->cap && !w->freeing; i++) {
		void *msg = NULL;

		pthread_mutex_lock(&w->mu);
		if (w->count) {
			msg = w->ring[w->head];
			w->head = (w->head + 1) % w->cap;
			if (w->count-- == w->cap)
				pthread_cond_broadcast(&w->cond);
		}
		pthread_mutex_unlock(&w->mu);
		if (!msg)
			break;
		w->ops.deliver(msg, w->userdata);
	}
	pthread_mutex_lock(&w->mu);
	more = w->count > 0;
	report = w->done && !more && !w->done_reported;
	result = w->result;
	pthread_mutex_unlock(&w->mu);
	if (more && !w->freeing)
		wake_loop(w);
	if (report && !w->freeing) {
		w->done_reported = true;
		w->src = sd_event_source_disable_unref(w->src);
		if (w->ops.done)
			w->ops.done(result, w->userdata);
	}
	w->dispatching = false;
	if (w->freeing)
		(void)worker_finish_free(w);
	return 0;
}

/* Raised by a thread's own fault, never sent to the process by others. */
static const int sync_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS };

int gl_worker_start(struct gl_loop *l, const struct gl_worker_ops *ops, void *job, void *userdata,
		    size_t queue_max, struct gl_worker **ret)
{
	struct gl_worker *w;
	pthread_condattr_t ca;
	sigset_t all, old;
	int r;

	if (!ops || !ops->run || !ops->deliver)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->efd = -1;
	w->cap = queue_max ? queue_max : GL_WORKER_QUEUE_MAX;
	w->ring = calloc(w->cap, sizeof(*w->ring));
	if (!w->ring) {
		free(w);
		return -ENOMEM;
	}
	w->ops = *ops;
	w->job = job;
	w->userdata = userdata;
	w->refs = 1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->efd < 0) {
		r = -errno;
		goto fail;
	}
	r = gl_loop_io_add(l, w->efd, EPOLLIN, on_wake, w, &w->src);
	if (r < 0)
		goto fail;

	w->refs = 2;
	w->started = true;
	/* The new thread inherits this mask. Faults stay deliverable: a
	 * blocked SIGSEGV raised by the thread itself kills the process
	 * without its handler (a sanitizer's report, a core's context). */
	sigfillset(&all);
	for (size_t i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]); i++)
		sigdelset(&all, sync_signals[i]);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0) {
		w->refs = 1;
		w->started = false;
		goto fail;
	}
	*ret = w;
	return 0;
fail:
	w->src = sd_event_source_disable_unref(w->src);
	worker_unref(w);
	return r;
}

void gl_worker_stop(struct gl_worker *w)
{
	pthread_mutex_lock(&w->mu);
	w->stop = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

int gl_worker_free(struct gl_worker *w, int64_t join_ms)
{
	if (!w)
		return 0;
	w->join_ms = join_ms;
	if (w->dispatching) {
		/* on_wake finishes the job once the callback returns. */
		w->freeing = true;
		gl_worker_stop(w);
		return 0;
	}
	return worker_finish_free(w);
}

int gl_worker_post(struct gl_worker *w, void *msg)
{
	bool was_empty;

	pthread_mutex_lock(&w->mu);
	while (w->count == w->cap && !w->stop)
		pthread_cond_wait(&w->cond, &w->mu);
	if (w->stop) {
		pthread_mutex_unlock(&w->mu);
		msg_free(w, msg);
		return -ECANCELED;
	}
	w->ring[(w->head + w->count) % w->cap] = msg;
	was_empty = w->count++ == 0;
	pthread_mutex_unlock(&w->mu);
	if (was_empty)
		wake_loop(w);
	return 0;
}

bool gl_worker_stopping(struct gl_worker *w)
{
	bool stop;

	pthread_mutex_lock(&w->mu);
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	return stop;
}

volatile sig_atomic_t *gl_worker_stop_flag(struct gl_worker *w)
{
	return &w->stop;
}

int gl_worker_sleep(struct gl_worker *w, int64_t ms)
{
	struct timespec until = deadline_ts(CLOCK_MONOTONIC, ms);
	int r = 0;

	pthread_mutex_lock(&w->mu);
	while (!w->stop && r == 0)
		r = pthread_cond_timedwait(&w->cond, &w->mu, &until);
	r = w->stop ? -ECANCELED : 0;
	pthread_mutex_unlock(&w->mu);
	return r;
}
