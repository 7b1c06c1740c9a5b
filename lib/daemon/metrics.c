#include "daemon/metrics.h"
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"

struct series {
	struct series *next;
	char **values;                /* one per label name */
	double value;                 /* counter, gauge */
	double sum;                   /* histogram */
	uint64_t *buckets;            /* histogram: per bucket (not cumulative), +Inf last */
};

struct gl_metric {
	struct gl_metric *next;
	struct gl_metrics *registry;
	enum gl_metrics_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *bounds;
	size_t nbounds;
	struct series *series, *series_tail;
	size_t nseries;
};

struct gl_metrics {
	struct gl_metric *families, *tail;
	gl_metrics_collect_fn collect;
	void *collect_userdata;
};

static const char *const type_names[] = { "counter", "gauge", "histogram" };
static const char *const hist_suffixes[] = { "_bucket", "_sum", "_count" };

/* ---- validation ---- */

static bool name_ok(const char *s, bool colon)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > GL_METRICS_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     (colon && c == ':');

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

/* Well-formed UTF-8 (no overlongs, no surrogates, at most U+10FFFF), as the
 * format requires of label values and HELP text. */
static bool utf8_ok(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	if (n > max)
		return false;
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

/* The names a family's samples use. */
static size_t sample_names(const char *name, enum gl_metrics_type type,
			   char out[3][GL_METRICS_NAME_MAX + 16])
{
	if (type != GL_METRICS_HISTOGRAM) {
		snprintf(out[0], sizeof(out[0]), "%s", name);
		return 1;
	}
	for (size_t i = 0; i < 3; i++)
		snprintf(out[i], sizeof(out[i]), "%s%s", name, hist_suffixes[i]);
	return 3;
}

/* Two families clash when they share a name, or a sample of one has the
 * other's name or sample name: the scraper could not tell them apart. */
static bool clashes(const struct gl_metrics *m, const char *name, enum gl_metrics_type type)
{
	char mine[3][GL_METRICS_NAME_MAX + 16], theirs[3][GL_METRICS_NAME_MAX + 16];
	size_t nm = sample_names(name, type, mine);

	for (const struct gl_metric *f = m->families; f; f = f->next) {
		size_t nt = sample_names(f->name, f->type, theirs);

		if (strcmp(f->name, name) == 0)
			return true;
		for (size_t i = 0; i < nm; i++) {
			if (strcmp(mine[i], f->name) == 0)
				return true;
			for (size_t k = 0; k < nt; k++)
				if (strcmp(mine[i], theirs[k]) == 0 || strcmp(theirs[k], name) == 0)
					return true;
		}
	}
	return false;
}

/* ---- families and series ---- */

static void strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void series_free(struct series *s, size_t nlabels)
{
	strv_free(s->values, nlabels);
	free(s->buckets);
	free(s);
}

static void family_free(struct gl_metric *f)
{
	struct series *s = f->series;

	while (s) {
		struct series *next = s->next;

		series_free(s, f->nlabels);
		s = next;
	}
	strv_free(f->labels, f->nlabels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

static struct series *series_find(struct gl_metric *f, const char *const *values,
				  struct series **ret_prev)
{
	struct series *prev = NULL;

	for (struct series *s = f->series; s; prev = s, s = s->next) {
		size_t i = 0;

		while (i < f->nlabels && strcmp(s->values[i], values[i]) == 0)
			i++;
		if (i == f->nlabels) {
			if (ret_prev)
				*ret_prev = prev;
			return s;
		}
	}
	return NULL;
}

static int values_ok(const struct gl_metric *f, const char *const *values)
{
	if (f->nlabels && !values)
		return -EINVAL;
	for (size_t i = 0; i < f->nlabels; i++)
		if (!values[i] || !utf8_ok(values[i], GL_METRICS_VALUE_MAX))
			return -EINVAL;
	return 0;
}

/* The series for values, created (at zero) when new. */
static int series_get(struct gl_metric *f, const char *const *values, struct series **ret)
{
	struct series *s;
	int r = values_ok(f, values);

	if (r < 0)
		return r;
	s = series_find(f, values, NULL);
	if (s) {
		*ret = s;
		return 0;
	}
	if (f->nseries >= GL_METRICS_SERIES_MAX)
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	if (f->nlabels) {
		s->values = calloc(f->nlabels, sizeof(*s->values));
		if (!s->values)
			goto oom;
		for (size_t i = 0; i < f->nlabels; i++)
			if (!(s->values[i] = strdup(values[i])))
				goto oom;
	}
	if (f->type == GL_METRICS_HISTOGRAM) {
		s->buckets = calloc(f->nbounds + 1, sizeof(*s->buckets));
		if (!s->buckets)
			goto oom;
	}
	if (f->series_tail)
		f->series_tail->next = s;
	else
		f->series = s;
	f->series_tail = s;
	f->nseries++;
	*ret = s;
	return 0;
oom:
	series_free(s, f->nlabels);
	return -ENOMEM;
}

static int family_add(struct gl_metrics *m, enum gl_metrics_type type, const char *name,
		      const char *help, const char *const *labels, const double *bounds,
		      size_t nbounds, struct gl_metric **ret)
{
	struct gl_metric *f;
	struct series *s;
	size_t n = 0;
	int r;

	if (!name_ok(name, true) || (help && !utf8_ok(help, GL_METRICS_VALUE_MAX)))
		return -EINVAL;
	for (; labels && labels[n]; n++) {
		if (n == GL_METRICS_LABELS_MAX || !name_ok(labels[n], false) ||
		    strncmp(labels[n], "__", 2) == 0 ||
		    (type == GL_METRICS_HISTOGRAM && strcmp(labels[n], "le") == 0))
			return -EINVAL;
		for (size_t k = 0; k < n; k++)
			if (strcmp(labels[k], labels[n]) == 0)
				return -EINVAL;
	}
	if (nbounds && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
		nbounds--;
	if (nbounds > GL_METRICS_BUCKETS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < nbounds; i++)
		if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
			return -EINVAL;
	if (clashes(m, name, type))
		return -EEXIST;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->registry = m;
	f->type = type;
	f->name = strdup(name);
	f->help = help ? strdup(help) : NULL;
	f->labels = n ? calloc(n, sizeof(*f->labels)) : NULL;
	f->nlabels = n;
	f->bounds = nbounds ? malloc(nbounds * sizeof(*f->bounds)) : NULL;
	f->nbounds = nbounds;
	if (!f->name || (help && !f->help) || (n && !f->labels) || (nbounds && !f->bounds))
		goto oom;
	for (size_t i = 0; i < n; i++)
		if (!(f->labels[i] = strdup(labels[i])))
			goto oom;
	if (nbounds)
		memcpy(f->bounds, bounds, nbounds * sizeof(*bounds));
	/* Without labels the one series exists from the start, so a scrape
	 * shows 0 before the first event (rate() needs the starting point). */
	if (n == 0) {
		r = series_get(f, NULL, &s);
		if (r < 0) {
			family_free(f);
			return r;
		}
	}
	if (m->tail)
		m->tail->next = f;
	else
		m->families = f;
	m->tail = f;
	if (ret)
		*ret = f;
	return 0;
oom:
	family_free(f);
	return -ENOMEM;
}

int gl_metrics_new(struct gl_metrics **ret)
{
	struct gl_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	*ret = m;
	return 0;
}

void gl_metrics_free(struct gl_metrics *m)
{
	struct gl_metric *f;

	if (!m)
		return;
	f = m->families;
	while (f) {
		struct gl_metric *next = f->next;

		family_free(f);
		f = next;
	}
	free(m);
}

int gl_metrics_counter(struct gl_metrics *m, const char *name, const char *help,
		       const char *const *labels, struct gl_metric **ret)
{
	return family_add(m, GL_METRICS_COUNTER, name, help, labels, NULL, 0, ret);
}

int gl_metrics_gauge(struct gl_metrics *m, const char *name, const char *help,
		     const char *const *labels, struct gl_metric **ret)
{
	return family_add(m, GL_METRICS_GAUGE, name, help, labels, NULL, 0, ret);
}

int gl_metrics_histogram(struct gl_metrics *m, const char *name, const char *help,
			 const char *const *labels, const double *bounds, size_t n,
			 struct gl_metric **ret)
{
	if (n && !bounds)
		return -EINVAL;
	return family_add(m, GL_METRICS_HISTOGRAM, name, help, labels, bounds, n, ret);
}

int gl_metrics_add(struct gl_metric *f, const char *const *values, double v)
{
	struct series *s;
	int r;

	if (f->type == GL_METRICS_HISTOGRAM || (f->type == GL_METRICS_COUNTER && !(v >= 0)))
		return -EINVAL;
	r = series_get(f, values, &s);
	if (r < 0)
		return r;
	s->value += v;
	return 0;
}

int gl_metrics_set(struct gl_metric *f, const char *const *values, double v)
{
	struct series *s;
	int r;

	if (f->type != GL_METRICS_GAUGE)
		return -EINVAL;
	r = series_get(f, values, &s);
	if (r < 0)
		return r;
	s->value = v;
	return 0;
}

int gl_metrics_observe(struct gl_metric *f, const char *const *values, double v)
{
	struct series *s;
	size_t b = 0;
	int r;

	if (f->type != GL_METRICS_HISTOGRAM || isnan(v))
		return -EINVAL;
	r = series_get(f, values, &s);
	if (r < 0)
		return r;
	while (b < f->nbounds && v > f->bounds[b])
		b++;
	s->buckets[b]++;
	s->sum += v;
	return 0;
}

int gl_metrics_remove(struct gl_metric *f, const char *const *values)
{
	struct series *s, *prev = NULL;
	int r = values_ok(f, values);

	if (r < 0)
		return r;
	if (f->nlabels == 0)
		return -EINVAL;
	s = series_find(f, values, &prev);
	if (!s)
		return -ENOENT;
	if (prev)
		prev->next = s->next;
	else
		f->series = s->next;
	if (f->series_tail == s)
		f->series_tail = prev;
	f->nseries--;
	series_free(s, f->nlabels);
	return 0;
}

int gl_metrics_get(struct gl_metric *f, const char *const *values, double *ret)
{
	struct series *s;
	int r = values_ok(f, values);

	if (r < 0)
		return r;
	if (f->type == GL_METRICS_HISTOGRAM)
		return -EINVAL;
	s = series_find(f, values, NULL);
	if (!s)
		return -ENOENT;
	*ret = s->value;
	return 0;
}

void gl_metrics_on_collect(struct gl_metrics *m, gl_metrics_collect_fn fn, void *userdata)
{
	m->collect = fn;
	m->collect_userdata = userdata;
}

/* ---- exposition ---- */

struct out {
	char *buf;
	size_t len, cap;
	int r;                        /* first failure; later appends do nothing */
};

static void out_mem(struct out *o, const char *s, size_t n)
{
	if (o->r == 0)
		o->r = gl_buf_append(&o->buf, &o->len, &o->cap, s, n);
}

static void out_str(struct out *o, const char *s)
{
	out_mem(o, s, strlen(s));
}

/* s with the escapes the format wants: backslash and newline always, the
 * double quote inside label values. */
static void out_escaped(struct out *o, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" :
				  (quote && *s == '"') ? "\\\"" : NULL;

		if (!esc)
			continue;
		out_mem(o, run, (size_t)(s - run));
		out_str(o, esc);
		run = s + 1;
	}
	out_str(o, run);
}

/* A sample value: integers as integers, others in the shortest form that
 * reads back as the same double, and the format's +Inf, -Inf, NaN. */
static void out_double(struct out *o, double v)
{
	char buf[40];

	if (isnan(v)) {
		out_str(o, "NaN");
		return;
	}
	if (isinf(v)) {
		out_str(o, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* Below 2^53 every integer is exact; the cast is then in range. */
	if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
		snprintf(buf, sizeof(buf), "%.0f", v);
	} else {
		for (int prec = 1; prec <= 17; prec++) {
			snprintf(buf, sizeof(buf), "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
	out_str(o, buf);
}

static void out_u64(struct out *o, uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	out_str(o, buf);
}

/* name{a="x",b="y"[,le="bound"]} with the value still to come. */
static void out_sample_head(struct out *o, const struct gl_metric *f, const struct series *s,
			    const char *suffix, const double *le)
{
	bool any = f->nlabels > 0 || le;

	out_str(o, f->name);
	out_str(o, suffix);
	if (any)
		out_str(o, "{");
	for (size_t i = 0; i < f->nlabels; i++) {
		if (i)
			out_str(o, ",");
		out_str(o, f->labels[i]);
		out_str(o, "=\"");
		out_escaped(o, s->values[i], true);
		out_str(o, "\"");
	}
	if (le) {
		out_str(o, f->nlabels ? ",le=\"" : "le=\"");
		out_double(o, *le);
		out_str(o, "\"");
	}
	out_str(o, any ? "} " : " ");
}

static void out_family(struct out *o, const struct gl_metric *f)
{
	if (!f->series)
		return;
	if (f->help) {
		out_str(o, "# HELP ");
		out_str(o, f->name);
		out_str(o, " ");
		out_escaped(o, f->help, false);
		out_str(o, "\n");
	}
	out_str(o, "# TYPE ");
	out_str(o, f->name);
	out_str(o, " ");
	out_str(o, type_names[f->type]);
	out_str(o, "\n");
	for (const struct series *s = f->series; s; s = s->next) {
		uint64_t cum = 0;

		if (f->type != GL_METRICS_HISTOGRAM) {
			out_sample_head(o, f, s, "", NULL);
			out_double(o, s->value);
			out_str(o, "\n");
			continue;
		}
		for (size_t b = 0; b <= f->nbounds; b++) {
			double le = b < f->nbounds ? f->bounds[b] : INFINITY;

			cum += s->buckets[b];
			out_sample_head(o, f, s, "_bucket", &le);
			out_u64(o, cum);
			out_str(o, "\n");
		}
		out_sample_head(o, f, s, "_sum", NULL);
		out_double(o, s->sum);
		out_str(o, "\n");
		out_sample_head(o, f, s, "_count", NULL);
		out_u64(o, cum);
		out_str(o, "\n");
	}
}

int gl_metrics_write(struct gl_metrics *m, char **ret_text, size_t *ret_len)
{
	struct out o = { 0 };

	if (m->collect)
		m->collect(m, m->collect_userdata);
	out_mem(&o, "", 0);
	for (const struct gl_metric *f = m->families; f; f = f->next)
		out_family(&o, f);
	if (o.r < 0) {
		free(o.buf);
		return o.r;
	}
	*ret_text = o.buf;
	if (ret_len)
		*ret_len = o.len;
	return 0;
}
