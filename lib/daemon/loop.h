/* A daemon's event loop: sd-event underneath, with the stop on SIGTERM/SIGINT
 * bounded by a drain deadline, timers that fire in deadline order, and io
 * sources. Everything here runs on the one thread that calls gl_loop_run
 * (see README.md: one loop thread owns all state). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#define GL_LOOP_DRAIN_MS 5000       /* default drain deadline after SIGTERM */

struct gl_loop;
struct gl_loop_timer;

/* A new loop with SIGTERM and SIGINT handled by it: the signals are blocked
 * in the calling thread (threads started later inherit that; start the loop
 * before any thread) and read through a signalfd. SIGPIPE, if still at its
 * default, is ignored from then on (process-wide): a write to a closed peer
 * is an EPIPE. */
int gl_loop_new(struct gl_loop **ret);
/* Free the loop, its own timers and its signal sources (NULL is fine). Free
 * what was built on it (servers, workers) first; owned timers may still be
 * freed after it (arming one then is -ESTALE). Sources a caller added with
 * gl_loop_io_add and still holds are the caller's to unref. */
void gl_loop_free(struct gl_loop *l);
/* The sd_event underneath, for sources this wrapper does not cover. */
sd_event *gl_loop_event(struct gl_loop *l);

/* Run (once per loop) until gl_loop_exit or a stop signal. Returns the code given to
 * gl_loop_exit, -ETIMEDOUT when the drain deadline ended the loop, or a
 * negative errno when the loop itself failed. */
int gl_loop_run(struct gl_loop *l);
/* End the loop after the current dispatch with code (>= 0). The first end
 * wins: a later gl_loop_exit, drain deadline or second signal in the same
 * dispatch does not change the code gl_loop_run returns. */
void gl_loop_exit(struct gl_loop *l, int code);

/* Called once, on the loop thread, when the first SIGTERM/SIGINT arrives.
 * Return 0 when nothing is left to finish (the loop ends with code 0 at once)
 * or 1 when the daemon is draining and will call gl_loop_exit itself. */
typedef int (*gl_loop_stop_fn)(struct gl_loop *l, int signo, void *userdata);
/* Install the stop hook and the drain deadline (0 = GL_LOOP_DRAIN_MS): past
 * it, or on a second signal, the loop ends anyway. Without a hook a signal
 * ends the loop with code 0 at once. */
void gl_loop_on_stop(struct gl_loop *l, int64_t drain_ms, gl_loop_stop_fn fn, void *userdata);
/* True once a stop signal arrived (the daemon should refuse new work). */
bool gl_loop_stopping(const struct gl_loop *l);

/* ---- Timers (CLOCK_MONOTONIC, millisecond resolution) ----------------------
 * The loop keeps its own queue ordered by (deadline, order of arming) on one
 * sd-event time source: timers fire in deadline order, equal deadlines in the
 * order they were armed, each at or after its deadline. A callback may arm,
 * re-arm or free any timer, its own included. */

typedef void (*gl_loop_timer_fn)(struct gl_loop *l, void *userdata);

/* Fire fn after delay_ms, then every period_ms when period_ms > 0 (the next
 * deadline is the previous one plus the period; a late loop skips the missed
 * periods rather than firing them in a burst). With ret NULL the timer
 * belongs to the loop (a one-shot one is freed after firing); with ret the
 * caller owns it: it stays after firing, to re-arm or free. */
int gl_loop_timer_add(struct gl_loop *l, int64_t delay_ms, int64_t period_ms,
		      gl_loop_timer_fn fn, void *userdata, struct gl_loop_timer **ret);
/* (Re-)arm t to fire after delay_ms (it keeps its period). -ESTALE once its
 * loop is freed. */
int gl_loop_timer_arm(struct gl_loop_timer *t, int64_t delay_ms);
/* Disarm t (it stays owned; arm it again later). */
void gl_loop_timer_disarm(struct gl_loop_timer *t);
/* True while t waits to fire. */
bool gl_loop_timer_armed(const struct gl_loop_timer *t);
/* Disarm and free an owned timer (NULL is fine). */
void gl_loop_timer_free(struct gl_loop_timer *t);

/* ---- io ------------------------------------------------------------------- */

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...) with sd-event's own handler
 * type. ret NULL: the source belongs to the loop; else the caller owns it
 * (sd_event_source_unref). The caller keeps fd. */
int gl_loop_io_add(struct gl_loop *l, int fd, uint32_t events, sd_event_io_handler_t fn,
		   void *userdata, sd_event_source **ret);
