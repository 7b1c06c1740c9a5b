/* Work off the loop: a blocking job (a Kubernetes watch on lib/kube's
 * blocking client, a call to dockerd) on a thread of its own, whose results
 * come into the loop as messages through a bounded queue and an eventfd.
 * The job owns its own client handles and touches no daemon state; the
 * loop thread alone receives the messages and acts on them. */
#pragma once
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "daemon/loop.h"

#define GL_WORKER_QUEUE_MAX 256     /* default queue bound */
#define GL_WORKER_JOIN_MS 2000      /* default wait for the thread on free */

struct gl_worker;

struct gl_worker_ops {
	/* On the worker thread: the job. It posts with gl_worker_post and
	 * returns when done or soon after gl_worker_stopping becomes true. */
	int (*run)(struct gl_worker *w, void *job);
	/* On the loop thread, one call per message in post order; takes msg. */
	void (*deliver)(void *msg, void *userdata);
	/* On the loop thread, once, after the last message: run's result.
	 * Optional. It may gl_worker_free the worker. */
	void (*done)(int result, void *userdata);
	/* Any thread: free a message that will not be delivered (NULL: free). */
	void (*msg_free)(void *msg);
	/* Optional: free job, once run has returned and the owner has let go
	 * (gl_worker_free), on whichever thread is last. Without it the owner
	 * may free job only after a gl_worker_free that returned 0: a job left
	 * detached may still be using it. */
	void (*job_free)(void *job);
};

/* Start ops->run(w, job) on a new thread (with every asynchronous signal
 * blocked: they are the loop's). userdata goes to deliver and done.
 * queue_max 0 = GL_WORKER_QUEUE_MAX. ops is copied. On failure job stays
 * the caller's (job_free is not called). */
int gl_worker_start(struct gl_loop *l, const struct gl_worker_ops *ops, void *job, void *userdata,
		    size_t queue_max, struct gl_worker **ret);
/* Ask the job to end: gl_worker_stopping turns true, the stop flag is set,
 * a gl_worker_post or gl_worker_sleep blocked in the job returns. */
void gl_worker_stop(struct gl_worker *w);
/* Stop, wait for the thread at most join_ms (0 = GL_WORKER_JOIN_MS; the
 * loop thread waits, so keep jobs prompt to stop), free what was not
 * delivered (NULL is fine). Returns 0 when the job has ended, -ETIMEDOUT
 * when it was still running past the wait: it is left to end on its own,
 * detached, and then frees the shared part (and job, with job_free). No
 * deliver or done call follows. Safe from the worker's own deliver/done:
 * it then returns 0 at once and waits once the callback has returned,
 * without telling how that ended (give job to the worker with job_free). */
int gl_worker_free(struct gl_worker *w, int64_t join_ms);

/* ---- For the job, on the worker thread ---- */

/* Queue msg for the loop, waiting while the queue is full (backpressure).
 * Takes msg in every case: -ECANCELED (msg freed) once stopping. */
int gl_worker_post(struct gl_worker *w, void *msg);
/* True once the worker was asked to stop. */
bool gl_worker_stopping(struct gl_worker *w);
/* The stop flag, for APIs that poll one (gl_kube_watch_opts.stop). */
volatile sig_atomic_t *gl_worker_stop_flag(struct gl_worker *w);
/* Sleep up to ms (a backoff): 0 after the full wait, -ECANCELED as soon as
 * the worker is asked to stop. */
int gl_worker_sleep(struct gl_worker *w, int64_t ms);
