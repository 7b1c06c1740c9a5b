/* Prometheus metrics: a registry of counter, gauge and histogram families
 * with label sets, written in the text exposition format 0.0.4. Families
 * come out in registration order, series in creation order, each family's
 * HELP and TYPE once. Loop thread only (no locking). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define GL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define GL_METRICS_NAME_MAX 200       /* metric and label names, bytes */
#define GL_METRICS_VALUE_MAX 1024     /* one label value, bytes */
#define GL_METRICS_LABELS_MAX 8       /* label names per family */
#define GL_METRICS_BUCKETS_MAX 64     /* histogram bounds, +Inf not counted */
#define GL_METRICS_SERIES_MAX 10000   /* label sets per family */

enum gl_metrics_type { GL_METRICS_COUNTER, GL_METRICS_GAUGE, GL_METRICS_HISTOGRAM };

struct gl_metrics;
struct gl_metric;                     /* one family, owned by its registry */

int gl_metrics_new(struct gl_metrics **ret);
/* Free the registry and its families (NULL is fine). */
void gl_metrics_free(struct gl_metrics *m);

/* Register a family. name matches [a-zA-Z_:][a-zA-Z0-9_:]*; labels is a
 * NULL-terminated list of names matching [a-zA-Z_][a-zA-Z0-9_]*, not
 * starting with "__", distinct, and not "le" for a histogram (NULL = no
 * labels). help may be NULL (no HELP line). A name any of whose samples
 * would clash with another family's (x_count against histogram x) is
 * -EEXIST; a bad name -EINVAL. A family without labels starts with its one
 * series at 0. */
int gl_metrics_counter(struct gl_metrics *m, const char *name, const char *help,
		       const char *const *labels, struct gl_metric **ret);
int gl_metrics_gauge(struct gl_metrics *m, const char *name, const char *help,
		     const char *const *labels, struct gl_metric **ret);
/* bounds: n upper bounds, strictly increasing, finite (a last +Inf is
 * accepted and ignored: the +Inf bucket is always there). */
int gl_metrics_histogram(struct gl_metrics *m, const char *name, const char *help,
			 const char *const *labels, const double *bounds, size_t n,
			 struct gl_metric **ret);

/* In the calls below, values holds one UTF-8 string per label name of the
 * family, in registration order (NULL for a family without labels); the
 * series is created on first use. -EINVAL for the wrong family type or a bad
 * value, -ENOSPC past GL_METRICS_SERIES_MAX. */

/* Counter: add v >= 0. Gauge: add any v. */
int gl_metrics_add(struct gl_metric *f, const char *const *values, double v);
/* Gauge: set to v. */
int gl_metrics_set(struct gl_metric *f, const char *const *values, double v);
/* Histogram: count v (not NaN) in its bucket, add it to _sum. */
int gl_metrics_observe(struct gl_metric *f, const char *const *values, double v);
/* Drop a labelled series (a gauge of an object that is gone); -ENOENT. */
int gl_metrics_remove(struct gl_metric *f, const char *const *values);
/* The value of a counter or gauge series, for tests and for the daemon. */
int gl_metrics_get(struct gl_metric *f, const char *const *values, double *ret);

/* Called at the start of every gl_metrics_write, to set gauges that are read
 * from state rather than kept up to date. */
typedef void (*gl_metrics_collect_fn)(struct gl_metrics *m, void *userdata);
void gl_metrics_on_collect(struct gl_metrics *m, gl_metrics_collect_fn fn, void *userdata);

/* The whole exposition as malloc'd NUL-terminated text. */
int gl_metrics_write(struct gl_metrics *m, char **ret_text, size_t *ret_len);
