/* lib/daemon/metrics.c against the text exposition format 0.0.4: exact
 * outputs, escaping, histogram buckets, names refused, no duplicate series,
 * and a line-by-line check of the format's syntax over a mixed registry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/metrics.h"

static char *dump(struct gl_metrics *m)
{
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(gl_metrics_write(m, &text, &len), 0);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	return text;
}

static void assert_dump(struct gl_metrics *m, const char *want)
{
	char *got = dump(m);

	if (strcmp(got, want) != 0)
		print_message("# got:\n%s# want:\n%s", got, want);
	assert_string_equal(got, want);
	free(got);
}

static void test_counter_gauge_exact(void **state)
{
	struct gl_metrics *m;
	struct gl_metric *c, *g, *lab;
	double v;

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_dump(m, "");
	assert_int_equal(gl_metrics_counter(m, "gamelan_requests_total", "Requests served.", NULL, &c),
			 0);
	assert_int_equal(gl_metrics_gauge(m, "gamelan_leader", NULL, NULL, &g), 0);
	assert_int_equal(gl_metrics_gauge(m, "gamelan_pool_free", "Free addresses per network.",
					  (const char *[]){ "network", "family", NULL }, &lab), 0);
	/* The labelled family has no series yet: it is left out. */
	assert_dump(m, "# HELP gamelan_requests_total Requests served.\n"
		       "# TYPE gamelan_requests_total counter\n"
		       "gamelan_requests_total 0\n"
		       "# TYPE gamelan_leader gauge\n"
		       "gamelan_leader 0\n");

	assert_int_equal(gl_metrics_add(c, NULL, 1), 0);
	assert_int_equal(gl_metrics_add(c, NULL, 2.5), 0);
	assert_int_equal(gl_metrics_add(c, NULL, -1), -EINVAL);
	assert_int_equal(gl_metrics_add(c, NULL, NAN), -EINVAL);
	assert_int_equal(gl_metrics_set(c, NULL, 7), -EINVAL);
	assert_int_equal(gl_metrics_set(g, NULL, 1), 0);
	assert_int_equal(gl_metrics_set(lab, (const char *[]){ "lan", "ipv4" }, 250), 0);
	assert_int_equal(gl_metrics_set(lab, (const char *[]){ "lan", "ipv6" }, 1e21), 0);
	assert_int_equal(gl_metrics_add(lab, (const char *[]){ "lan", "ipv4" }, -0.5), 0);
	assert_int_equal(gl_metrics_set(lab, (const char *[]){ "dmz", "ipv4" }, -INFINITY), 0);
	assert_int_equal(gl_metrics_get(lab, (const char *[]){ "lan", "ipv4" }, &v), 0);
	assert_true(v == 249.5);
	assert_int_equal(gl_metrics_get(lab, (const char *[]){ "x", "y" }, &v), -ENOENT);
	/* A value set missing a label is refused. */
	assert_int_equal(gl_metrics_set(lab, NULL, 1), -EINVAL);
	assert_int_equal(gl_metrics_set(lab, (const char *[]){ "lan", NULL }, 1), -EINVAL);

	assert_dump(m, "# HELP gamelan_requests_total Requests served.\n"
		       "# TYPE gamelan_requests_total counter\n"
		       "gamelan_requests_total 3.5\n"
		       "# TYPE gamelan_leader gauge\n"
		       "gamelan_leader 1\n"
		       "# HELP gamelan_pool_free Free addresses per network.\n"
		       "# TYPE gamelan_pool_free gauge\n"
		       "gamelan_pool_free{network=\"lan\",family=\"ipv4\"} 249.5\n"
		       "gamelan_pool_free{network=\"lan\",family=\"ipv6\"} 1e+21\n"
		       "gamelan_pool_free{network=\"dmz\",family=\"ipv4\"} -Inf\n");

	assert_int_equal(gl_metrics_remove(lab, (const char *[]){ "lan", "ipv6" }), 0);
	assert_int_equal(gl_metrics_remove(lab, (const char *[]){ "lan", "ipv6" }), -ENOENT);
	assert_int_equal(gl_metrics_remove(g, NULL), -EINVAL);
	assert_int_equal(gl_metrics_set(lab, (const char *[]){ "new", "ipv4" }, 0.1), 0);
	assert_dump(m, "# HELP gamelan_requests_total Requests served.\n"
		       "# TYPE gamelan_requests_total counter\n"
		       "gamelan_requests_total 3.5\n"
		       "# TYPE gamelan_leader gauge\n"
		       "gamelan_leader 1\n"
		       "# HELP gamelan_pool_free Free addresses per network.\n"
		       "# TYPE gamelan_pool_free gauge\n"
		       "gamelan_pool_free{network=\"lan\",family=\"ipv4\"} 249.5\n"
		       "gamelan_pool_free{network=\"dmz\",family=\"ipv4\"} -Inf\n"
		       "gamelan_pool_free{network=\"new\",family=\"ipv4\"} 0.1\n");
	gl_metrics_free(m);
}

static void test_escaping(void **state)
{
	struct gl_metrics *m;
	struct gl_metric *g;

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_int_equal(gl_metrics_gauge(m, "x", "A \\ back\nslash \"quoted\"",
					  (const char *[]){ "path", NULL }, &g), 0);
	assert_int_equal(gl_metrics_set(g, (const char *[]){ "C:\\dir\n\"a\" é" }, 1), 0);
	/* HELP escapes backslash and newline only; label values also '"'. */
	assert_dump(m, "# HELP x A \\\\ back\\nslash \"quoted\"\n"
		       "# TYPE x gauge\n"
		       "x{path=\"C:\\\\dir\\n\\\"a\\\" é\"} 1\n");
	/* Invalid UTF-8 in a label value or HELP is refused. */
	assert_int_equal(gl_metrics_set(g, (const char *[]){ "\xff" }, 1), -EINVAL);
	assert_int_equal(gl_metrics_set(g, (const char *[]){ "\xc0\x80" }, 1), -EINVAL);
	assert_int_equal(gl_metrics_set(g, (const char *[]){ "\xed\xa0\x80" }, 1), -EINVAL);
	assert_int_equal(gl_metrics_gauge(m, "y", "\xe2\x82", NULL, NULL), -EINVAL);
	gl_metrics_free(m);
}

static void test_histogram_exact(void **state)
{
	static const double bounds[] = { 0.005, 0.1, 1, 10 };
	struct gl_metrics *m;
	struct gl_metric *h, *hl;

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_int_equal(gl_metrics_histogram(m, "gamelan_add_seconds", "ADD latency.", NULL, bounds,
					      4, &h), 0);
	assert_int_equal(gl_metrics_histogram(m, "gamelan_call_seconds", "Calls.",
					      (const char *[]){ "verb", NULL },
					      (const double[]){ 1, 2, INFINITY }, 3, &hl), 0);
	assert_int_equal(gl_metrics_observe(h, NULL, 0.001), 0);
	assert_int_equal(gl_metrics_observe(h, NULL, 0.1), 0);   /* le is inclusive */
	assert_int_equal(gl_metrics_observe(h, NULL, 0.5), 0);
	assert_int_equal(gl_metrics_observe(h, NULL, 20), 0);
	assert_int_equal(gl_metrics_observe(h, NULL, NAN), -EINVAL);
	assert_int_equal(gl_metrics_add(h, NULL, 1), -EINVAL);
	assert_int_equal(gl_metrics_observe(hl, (const char *[]){ "get" }, 1.5), 0);
	assert_int_equal(gl_metrics_observe(hl, (const char *[]){ "get" }, 3), 0);
	assert_dump(m, "# HELP gamelan_add_seconds ADD latency.\n"
		       "# TYPE gamelan_add_seconds histogram\n"
		       "gamelan_add_seconds_bucket{le=\"0.005\"} 1\n"
		       "gamelan_add_seconds_bucket{le=\"0.1\"} 2\n"
		       "gamelan_add_seconds_bucket{le=\"1\"} 3\n"
		       "gamelan_add_seconds_bucket{le=\"10\"} 3\n"
		       "gamelan_add_seconds_bucket{le=\"+Inf\"} 4\n"
		       "gamelan_add_seconds_sum 20.601\n"
		       "gamelan_add_seconds_count 4\n"
		       "# HELP gamelan_call_seconds Calls.\n"
		       "# TYPE gamelan_call_seconds histogram\n"
		       "gamelan_call_seconds_bucket{verb=\"get\",le=\"1\"} 0\n"
		       "gamelan_call_seconds_bucket{verb=\"get\",le=\"2\"} 1\n"
		       "gamelan_call_seconds_bucket{verb=\"get\",le=\"+Inf\"} 2\n"
		       "gamelan_call_seconds_sum{verb=\"get\"} 4.5\n"
		       "gamelan_call_seconds_count{verb=\"get\"} 2\n");
	gl_metrics_free(m);
}

static void test_bad_names(void **state)
{
	static const char *const bad_metric[] = { "", "1abc", "a-b", "a b", "é", "a.b", "a{" };
	static const char *const bad_label[] = { "", "1a", "a:b", "__reserved", "a-b" };
	struct gl_metrics *m;
	char longname[GL_METRICS_NAME_MAX + 2];

	assert_int_equal(gl_metrics_new(&m), 0);
	for (size_t i = 0; i < sizeof(bad_metric) / sizeof(*bad_metric); i++)
		assert_int_equal(gl_metrics_counter(m, bad_metric[i], "h", NULL, NULL), -EINVAL);
	assert_int_equal(gl_metrics_counter(m, NULL, "h", NULL, NULL), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_label) / sizeof(*bad_label); i++)
		assert_int_equal(gl_metrics_gauge(m, "ok", "h", (const char *[]){ bad_label[i], NULL },
						  NULL), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(gl_metrics_counter(m, longname, NULL, NULL, NULL), -EINVAL);
	/* Colons are fine in metric names (recording rules), not in labels. */
	assert_int_equal(gl_metrics_counter(m, "job:ok_total", NULL, NULL, NULL), 0);
	assert_int_equal(gl_metrics_counter(m, "_x", NULL, (const char *[]){ "_a", "b1", NULL },
					    NULL), 0);
	/* Duplicate labels, "le" on a histogram, too many labels. */
	assert_int_equal(gl_metrics_gauge(m, "d", NULL, (const char *[]){ "a", "a", NULL }, NULL),
			 -EINVAL);
	assert_int_equal(gl_metrics_histogram(m, "h", NULL, (const char *[]){ "le", NULL },
					      (const double[]){ 1 }, 1, NULL), -EINVAL);
	assert_int_equal(gl_metrics_gauge(m, "le_ok", NULL, (const char *[]){ "le", NULL }, NULL), 0);
	assert_int_equal(gl_metrics_gauge(m, "many", NULL,
					  (const char *[]){ "a", "b", "c", "d", "e", "f", "g", "h",
							    "i", NULL }, NULL), -EINVAL);
	/* Bounds: increasing, finite (but a last +Inf), not too many. */
	assert_int_equal(gl_metrics_histogram(m, "h1", NULL, NULL, (const double[]){ 2, 1 }, 2,
					      NULL), -EINVAL);
	assert_int_equal(gl_metrics_histogram(m, "h2", NULL, NULL, (const double[]){ 1, 1 }, 2,
					      NULL), -EINVAL);
	assert_int_equal(gl_metrics_histogram(m, "h3", NULL, NULL, (const double[]){ NAN }, 1,
					      NULL), -EINVAL);
	assert_int_equal(gl_metrics_histogram(m, "h4", NULL, NULL,
					      (const double[]){ -INFINITY, 1 }, 2, NULL), -EINVAL);
	gl_metrics_free(m);
}

static void test_no_duplicates(void **state)
{
	struct gl_metrics *m;
	struct gl_metric *g;
	char *text;

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_int_equal(gl_metrics_gauge(m, "a", NULL, (const char *[]){ "k", NULL }, &g), 0);
	assert_int_equal(gl_metrics_gauge(m, "a", NULL, NULL, NULL), -EEXIST);
	assert_int_equal(gl_metrics_counter(m, "a", NULL, NULL, NULL), -EEXIST);
	assert_int_equal(gl_metrics_histogram(m, "lat", NULL, NULL, NULL, 0, NULL), 0);
	/* Each would share a sample name with histogram "lat" (or the reverse). */
	assert_int_equal(gl_metrics_counter(m, "lat_count", NULL, NULL, NULL), -EEXIST);
	assert_int_equal(gl_metrics_gauge(m, "lat_sum", NULL, NULL, NULL), -EEXIST);
	assert_int_equal(gl_metrics_gauge(m, "lat_bucket", NULL, NULL, NULL), -EEXIST);
	assert_int_equal(gl_metrics_counter(m, "b_count", NULL, NULL, NULL), 0);
	assert_int_equal(gl_metrics_histogram(m, "b", NULL, NULL, NULL, 0, NULL), -EEXIST);
	/* The same label values twice are one series. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(gl_metrics_add(g, (const char *[]){ "v" }, 1), 0);
	text = dump(m);
	assert_non_null(strstr(text, "a{k=\"v\"} 3\n"));
	assert_null(strstr(strstr(text, "a{k=\"v\"}") + 1, "a{k=\"v\"}"));
	free(text);
	gl_metrics_free(m);
}

static void test_series_bound(void **state)
{
	struct gl_metrics *m;
	struct gl_metric *g;
	char v[16];

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_int_equal(gl_metrics_gauge(m, "card", NULL, (const char *[]){ "i", NULL }, &g), 0);
	for (int i = 0; i < GL_METRICS_SERIES_MAX; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_int_equal(gl_metrics_set(g, (const char *[]){ v }, i), 0);
	}
	assert_int_equal(gl_metrics_set(g, (const char *[]){ "one-more" }, 1), -ENOSPC);
	/* An existing series still takes updates. */
	assert_int_equal(gl_metrics_set(g, (const char *[]){ "7" }, 1), 0);
	gl_metrics_free(m);
}

static void collect(struct gl_metrics *m, void *userdata)
{
	struct gl_metric *g = userdata;

	gl_metrics_set(g, NULL, 42);
}

static void test_collect_hook(void **state)
{
	struct gl_metrics *m;
	struct gl_metric *g;

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_int_equal(gl_metrics_gauge(m, "bound", NULL, NULL, &g), 0);
	gl_metrics_on_collect(m, collect, g);
	assert_dump(m, "# TYPE bound gauge\nbound 42\n");
	gl_metrics_free(m);
}

/* ---- a small checker of the text format's rules ---- */

static bool is_name(const char *s, size_t n, bool colon)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
		      (colon && c == ':') || (i > 0 && c >= '0' && c <= '9')))
			return false;
	}
	return true;
}

static bool is_value(const char *s)
{
	char *end;

	if (!strcmp(s, "+Inf") || !strcmp(s, "-Inf") || !strcmp(s, "NaN"))
		return true;
	strtod(s, &end);
	return *s && *end == '\0';
}

/* Check each line: comments are "# HELP name text" or "# TYPE name type",
 * TYPE once per family and before its samples; a sample is name{labels}
 * value with quoted, escaped label values, of the current family; no series
 * twice; histogram buckets cumulative with le increasing, the last +Inf and
 * equal to _count. Returns the first rule broken, or NULL. */
#define CHECK(cond, why) do { if (!(cond)) return why; } while (0)
static const char *check_format(const char *text)
{
	static char types[64][GL_METRICS_NAME_MAX + 1], series[256][512];
	size_t ntypes = 0, nseries = 0;
	char family[GL_METRICS_NAME_MAX + 1] = "", ftype[16] = "";
	double last_le = NAN, last_bucket = 0;

	for (const char *line = text, *nl; *line; line = nl + 1) {
		char buf[1024], le[64] = "", *p = buf, *value;
		bool hist, bucket, count;
		size_t n;

		nl = strchr(line, '\n');
		CHECK(nl, "last line not ended");
		n = (size_t)(nl - line);
		CHECK(n < sizeof(buf), "line too long for the checker");
		memcpy(buf, line, n);
		buf[n] = '\0';
		if (buf[0] == '#') {
			char *name = buf + 7, *sp = strchr(name, ' ');

			CHECK(!strncmp(buf, "# HELP ", 7) || !strncmp(buf, "# TYPE ", 7), "bad comment");
			CHECK(sp && is_name(name, (size_t)(sp - name), true), "bad name in comment");
			*sp = '\0';
			if (!strncmp(buf, "# HELP ", 7))
				continue;
			for (size_t i = 0; i < ntypes; i++)
				CHECK(strcmp(types[i], name) != 0, "TYPE twice");
			CHECK(ntypes < 64, "too many families for the checker");
			strcpy(types[ntypes++], name);
			strcpy(family, name);
			snprintf(ftype, sizeof(ftype), "%s", sp + 1);
			CHECK(!strcmp(ftype, "counter") || !strcmp(ftype, "gauge") ||
			      !strcmp(ftype, "histogram"), "unknown type");
			continue;
		}
		/* A sample: name, optional labels, one space, a value. */
		n = strcspn(p, "{ ");
		CHECK(is_name(p, n, true), "bad sample name");
		CHECK(family[0] && !strncmp(p, family, strlen(family)), "sample outside its family");
		hist = !strcmp(ftype, "histogram");
		bucket = hist && n == strlen(family) + 7 && !strncmp(p + strlen(family), "_bucket", 7);
		count = hist && n == strlen(family) + 6 && !strncmp(p + n - 6, "_count", 6);
		if (!hist)
			CHECK(n == strlen(family), "sample name is not the family's");
		else
			CHECK(bucket || count || (n == strlen(family) + 4 && !strncmp(p + n - 4, "_sum", 4)),
			      "histogram sample name");
		p += n;
		if (*p == '{') {
			for (p++; *p != '}';) {
				size_t klen = strcspn(p, "=");
				char *v;

				CHECK(is_name(p, klen, false), "bad label name");
				CHECK(p[klen] == '=' && p[klen + 1] == '"', "label value not quoted");
				v = p + klen + 2;
				for (p = v; *p && *p != '"'; p++)
					if (*p == '\\')
						CHECK(*++p == '\\' || *p == '"' || *p == 'n', "bad escape");
				CHECK(*p == '"', "label value not closed");
				if (klen == 2 && !strncmp(v - 4, "le", 2))
					snprintf(le, sizeof(le), "%.*s", (int)(p - v), v);
				p++;
				CHECK(*p == ',' || *p == '}', "labels not separated");
				if (*p == ',')
					p++;
			}
			p++;
		}
		CHECK(*p == ' ', "no space before the value");
		value = p + 1;
		CHECK(is_value(value), "bad value");
		*p = '\0';
		for (size_t i = 0; i < nseries; i++)
			CHECK(strcmp(series[i], buf) != 0, "series twice");
		CHECK(nseries < 256 && strlen(buf) < 512, "too many series for the checker");
		strcpy(series[nseries++], buf);
		if (bucket) {
			double b = !strcmp(le, "+Inf") ? INFINITY : strtod(le, NULL);

			CHECK(le[0], "bucket without le");
			if (!isnan(last_le)) {
				CHECK(b > last_le, "le not increasing");
				CHECK(strtod(value, NULL) >= last_bucket, "buckets not cumulative");
			}
			last_le = b;
			last_bucket = strtod(value, NULL);
		} else if (count) {
			CHECK(last_le == INFINITY, "no +Inf bucket last");
			CHECK(strtod(value, NULL) == last_bucket, "_count is not the +Inf bucket");
			last_le = NAN;
		}
	}
	return NULL;
}

static void test_format_rules(void **state)
{
	struct gl_metrics *m;
	struct gl_metric *c, *g, *h;
	const char *why;
	char *text;

	assert_int_equal(gl_metrics_new(&m), 0);
	assert_int_equal(gl_metrics_counter(m, "ops_total", "Ops\\n with \"odd\"\nhelp",
					    (const char *[]){ "op", "result", NULL }, &c), 0);
	assert_int_equal(gl_metrics_gauge(m, "temp", "T.", NULL, &g), 0);
	assert_int_equal(gl_metrics_histogram(m, "lat_seconds", "L.",
					      (const char *[]){ "route", NULL },
					      (const double[]){ 0.01, 0.1, 1 }, 3, &h), 0);
	for (int i = 0; i < 50; i++) {
		const char *op = i % 3 ? "add" : "del\n\"x\"\\";

		assert_int_equal(gl_metrics_add(c, (const char *[]){ op, i % 2 ? "ok" : "err" }, 1),
				 0);
		assert_int_equal(gl_metrics_observe(h, (const char *[]){ i % 2 ? "/a" : "/b" },
						    i * 0.013), 0);
	}
	assert_int_equal(gl_metrics_set(g, NULL, NAN), 0);
	text = dump(m);
	why = check_format(text);
	if (why)
		print_message("# %s in:\n%s", why, text);
	assert_null(why);
	free(text);
	gl_metrics_free(m);

	/* The checker itself refuses what breaks the rules. */
	assert_null(check_format("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 2\n"));
	assert_non_null(check_format("# TYPE a gauge\na{x=\"1\"} 1\na{x=\"1\"} 2\n"));
	assert_non_null(check_format("# TYPE a gauge\n# TYPE a gauge\na 1\n"));
	assert_non_null(check_format("# TYPE a gauge\na{x=\"\\q\"} 1\n"));
	assert_non_null(check_format("# TYPE a gauge\na{x=1} 1\n"));
	assert_non_null(check_format("# TYPE a gauge\na 1x\n"));
	assert_non_null(check_format("# TYPE h histogram\nh_bucket{le=\"1\"} 2\n"
				     "h_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
	assert_non_null(check_format("# TYPE h histogram\nh_bucket{le=\"2\"} 1\n"
				     "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
	assert_non_null(check_format("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n"));
	assert_non_null(check_format("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_gauge_exact),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_histogram_exact),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_no_duplicates),
		cmocka_unit_test(test_series_bound),
		cmocka_unit_test(test_collect_hook),
		cmocka_unit_test(test_format_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
