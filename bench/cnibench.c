/* cnibench: time CNI plugin calls exactly as a runtime makes them.
 *
 * Each call is a fresh process (posix_spawn) with a clean environment (PATH
 * and the CNI_* variables only) and the network config on stdin; it is timed
 * with CLOCK_MONOTONIC from just before the spawn until the plugin has exited
 * and its stdout and stderr are closed (what a runtime waits for). A call
 * fails when it does not exit 0, or, for ADD, when it does not print a result
 * with "ips"; failures are counted, the first few are printed on stderr, and
 * the exit status is 1 when any call failed.
 *
 *   cnibench --mode seq|conc --n N [--warmup W] [--ifname IF] [--cni-path P]
 *            [--timeout-ms MS] [--settle-ms MS] [--env NAME=VALUE ...]
 *            --netns TEMPLATE --args TEMPLATE
 *            --target NAME=PLUGIN:CONFFILE [--target ...]
 *
 * seq:  for each iteration i, for each target in turn: ADD(i) then DEL(i).
 *       The first W iterations are warm-up and are not counted.
 * conc: for each target in turn: N ADDs at once, then their N DELs at once;
 *       the figure is the wall time of each batch.
 * Templates: {t} is the target's index, {i} the iteration, {cid} the call's
 * container ID. Netns paths must exist (the caller creates them untimed).
 * --env adds a variable to the plugin's environment, for profiling
 * experiments (e.g. LD_PRELOAD); bench/run.sh never uses it.
 * --settle-ms MS (seq): after each DEL, untimed, wait until the pod netns has
 * no link but lo (at most MS), so that work a plugin left to a detached
 * child (gamelan-macvlan's delete of the link) never overlaps the next
 * timed call; how long that took is reported as op=SETTLE.
 *
 * Output, one line per target and figure, for bench/run.sh:
 *   R mode=seq target=NAME op=ADD n=200 fail=0 median=1.234 p95=2.345 ...
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/util.h"
#include "net/netns.h"
#include "net/nl.h"

#define MAX_TARGETS 8
#define MAX_N 5000
#define MAX_CONF (60 * 1024)     /* below a pipe's capacity: written in one go */
#define MAX_OUT (64 * 1024)      /* kept of each stream; the rest is drained */
#define MAX_STR 512
#define FAILS_SHOWN 5
#define MAX_ENV 8

extern char **environ;

struct target {
	char name[64];
	char plugin[MAX_STR];
	char *conf;
	size_t conf_len;
};

struct opts {
	bool conc;
	int n, warmup, timeout_ms, settle_ms;
	char ifname[16];
	char cni_path[MAX_STR];
	const char *netns_tpl, *args_tpl;
	char *extra_env[MAX_ENV];
	int n_env;
	struct target targets[MAX_TARGETS];
	int n_targets;
};

/* One plugin process. */
struct call {
	const struct target *t;
	const char *cmd;
	char netns[MAX_STR], args[MAX_STR], cid[80];
	pid_t pid;
	int pidfd, out_fd, err_fd;
	bool exited;
	int status;
	int64_t start_ns, end_ns;
	char out[MAX_OUT], err[MAX_OUT];
	size_t out_len, err_len;
	char why[MAX_STR + 128];     /* "" = success */
};

struct series {
	double *ms;
	int n, fail, shown;
};

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *msg)
{
	fprintf(stderr, "cnibench: %s\n", msg);
	exit(2);
}

/* Replace {t}, {i} and {cid} in tpl; -ENAMETOOLONG when it does not fit. */
static int expand(const char *tpl, int t, int i, const char *cid, char *out, size_t size)
{
	size_t o = 0;

	for (const char *p = tpl; *p;) {
		char num[24];
		const char *add = NULL;
		size_t skip = 1, len;

		if (strncmp(p, "{t}", 3) == 0) {
			snprintf(num, sizeof(num), "%d", t);
			add = num;
			skip = 3;
		} else if (strncmp(p, "{i}", 3) == 0) {
			snprintf(num, sizeof(num), "%d", i);
			add = num;
			skip = 3;
		} else if (strncmp(p, "{cid}", 5) == 0) {
			add = cid;
			skip = 5;
		}
		len = add ? strlen(add) : 1;
		if (o + len >= size)
			return -ENAMETOOLONG;
		memcpy(out + o, add ? add : p, len);
		o += len;
		p += skip;
	}
	out[o] = '\0';
	return 0;
}

/* A 64-hex container ID, unique per run, target and iteration, like a
 * runtime's. */
static void make_cid(int t, int i, char out[80])
{
	char a[24], b[24], c[24];
	const char *parts[4] = { a, b, c, "" };
	uint64_t h[4];

	snprintf(a, sizeof(a), "%ld", (long)getpid());
	snprintf(b, sizeof(b), "%d", t);
	snprintf(c, sizeof(c), "%d", i);
	for (int k = 0; k < 4; k++) {
		parts[3] = k == 0 ? "w" : k == 1 ? "x" : k == 2 ? "y" : "z";
		h[k] = gl_hash64(parts, 4);
	}
	snprintf(out, 80, "%016llx%016llx%016llx%016llx", (unsigned long long)h[0],
		 (unsigned long long)h[1], (unsigned long long)h[2], (unsigned long long)h[3]);
}

static int call_init(struct call *c, const struct opts *o, int t, int i, const char *cmd)
{
	memset(c, 0, sizeof(*c));
	c->t = &o->targets[t];
	c->cmd = cmd;
	c->pid = -1;
	c->pidfd = c->out_fd = c->err_fd = -1;
	make_cid(t, i, c->cid);
	if (expand(o->netns_tpl, t, i, c->cid, c->netns, sizeof(c->netns)) < 0 ||
	    expand(o->args_tpl, t, i, c->cid, c->args, sizeof(c->args)) < 0)
		return -ENAMETOOLONG;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Start the plugin; on failure the call is marked failed and not started. */
static void call_spawn(struct call *c, const struct opts *o)
{
	char e_cmd[32], e_cid[96], e_netns[MAX_STR + 16], e_if[32], e_args[MAX_STR + 16],
	     e_path[MAX_STR + 16];
	char *envp[8 + MAX_ENV] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				    e_cmd, e_cid, e_netns, e_if, e_args, e_path };
	char *argv[] = { (char *)c->t->plugin, NULL };
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	int r;

	snprintf(e_cmd, sizeof(e_cmd), "CNI_COMMAND=%s", c->cmd);
	snprintf(e_cid, sizeof(e_cid), "CNI_CONTAINERID=%s", c->cid);
	snprintf(e_netns, sizeof(e_netns), "CNI_NETNS=%s", c->netns);
	snprintf(e_if, sizeof(e_if), "CNI_IFNAME=%s", o->ifname);
	snprintf(e_args, sizeof(e_args), "CNI_ARGS=%s", c->args);
	snprintf(e_path, sizeof(e_path), "CNI_PATH=%s", o->cni_path);
	for (int k = 0; k < o->n_env; k++)
		envp[7 + k] = o->extra_env[k];

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		snprintf(c->why, sizeof(c->why), "pipe: %s", strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawn_file_actions_adddup2(&fa, err[1], 2);
	/* Its own process group, so that a timeout kills what it started too. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
	posix_spawnattr_setpgroup(&attr, 0);
	c->start_ns = now_ns();
	r = posix_spawn(&c->pid, c->t->plugin, &fa, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0) {
		c->pid = -1;
		snprintf(c->why, sizeof(c->why), "spawn %s: %s", c->t->plugin, strerror(r));
		goto fail;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&err[1]);
	/* The config fits in the pipe, so the write cannot block on the plugin.
	 * One that exits without reading it (EPIPE) is judged by its exit
	 * status and output instead. */
	r = gl_write_all(in[1], c->t->conf, c->t->conf_len);
	if (r < 0 && r != -EPIPE)
		snprintf(c->why, sizeof(c->why), "writing the config: %s", strerror(-r));
	close_fd(&in[1]);
	c->pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	c->out_fd = out[0];
	c->err_fd = err[0];
	fcntl(c->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(c->err_fd, F_SETFL, O_NONBLOCK);
	return;
fail:
	for (int k = 0; k < 2; k++) {
		close_fd(&in[k]);
		close_fd(&out[k]);
		close_fd(&err[k]);
	}
}

static void drain(int *fd, char *buf, size_t *len)
{
	char scratch[4096];

	for (;;) {
		size_t room = MAX_OUT - 1 - *len;
		char *dst = room ? buf + *len : scratch;
		ssize_t n = read(*fd, dst, room ? room : sizeof(scratch));

		if (n > 0) {
			if (room)
				*len += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close_fd(fd);   /* EOF or a real error */
		return;
	}
}

static bool call_done(const struct call *c)
{
	return c->pid < 0 || (c->exited && c->out_fd < 0 && c->err_fd < 0);
}

static void reap(struct call *c)
{
	if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid) {
		c->exited = true;
		close_fd(&c->pidfd);
	}
}

/* Wait for every started call in calls[0..n) to finish (bounded by
 * timeout_ms from its start: then it is killed and failed). */
static void wait_all(struct call *calls, int n, int timeout_ms)
{
	struct pollfd *pfd = calloc((size_t)n * 3, sizeof(*pfd));
	struct call **owner = calloc((size_t)n * 3, sizeof(*owner));

	if (!pfd || !owner)
		die("out of memory");
	for (;;) {
		int np = 0, wait_ms = -1;
		int64_t now = now_ns();

		for (int k = 0; k < n; k++) {
			struct call *c = &calls[k];
			int64_t left;

			if (call_done(c))
				continue;
			left = c->start_ns + (int64_t)timeout_ms * 1000000 - now;
			if (left <= 0) {
				kill(-c->pid, SIGKILL);
				kill(c->pid, SIGKILL);
				waitpid(c->pid, &c->status, 0);
				c->exited = true;
				close_fd(&c->pidfd);
				close_fd(&c->out_fd);
				close_fd(&c->err_fd);
				snprintf(c->why, sizeof(c->why), "no answer within %d ms: killed", timeout_ms);
				c->end_ns = now_ns();
				continue;
			}
			if (wait_ms < 0 || left / 1000000 + 1 < wait_ms)
				wait_ms = (int)(left / 1000000 + 1);
			if (c->out_fd >= 0) {
				pfd[np] = (struct pollfd){ .fd = c->out_fd, .events = POLLIN };
				owner[np++] = c;
			}
			if (c->err_fd >= 0) {
				pfd[np] = (struct pollfd){ .fd = c->err_fd, .events = POLLIN };
				owner[np++] = c;
			}
			if (!c->exited) {
				if (c->pidfd >= 0) {
					pfd[np] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };
					owner[np++] = c;
				} else if (wait_ms > 1) {
					wait_ms = 1;    /* no pidfd: poll for the exit */
				}
			}
		}
		if (np == 0 && wait_ms < 0)
			break;
		if (poll(pfd, (nfds_t)np, wait_ms) < 0 && errno != EINTR)
			die("poll failed");
		for (int k = 0; k < np; k++) {
			struct call *c = owner[k];

			if (!pfd[k].revents)
				continue;
			if (pfd[k].fd == c->out_fd)
				drain(&c->out_fd, c->out, &c->out_len);
			else if (pfd[k].fd == c->err_fd)
				drain(&c->err_fd, c->err, &c->err_len);
			else
				reap(c);
		}
		for (int k = 0; k < n; k++) {
			struct call *c = &calls[k];

			if (c->pid >= 0 && !c->end_ns) {
				if (c->pidfd < 0)
					reap(c);
				if (call_done(c))
					c->end_ns = now_ns();
			}
		}
	}
	free(pfd);
	free(owner);
}

/* Judge a finished call: exit status, and for ADD a result with "ips". */
static void call_judge(struct call *c)
{
	c->out[c->out_len] = '\0';
	c->err[c->err_len] = '\0';
	if (c->why[0])
		return;
	if (!WIFEXITED(c->status)) {
		snprintf(c->why, sizeof(c->why), "killed by signal %d",
			 WIFSIGNALED(c->status) ? WTERMSIG(c->status) : -1);
		return;
	}
	if (WEXITSTATUS(c->status) != 0) {
		snprintf(c->why, sizeof(c->why), "exit status %d", WEXITSTATUS(c->status));
		return;
	}
	if (strcmp(c->cmd, "ADD") == 0) {
		const char *p = c->out + strspn(c->out, " \t\r\n");

		if (*p != '{' || !strstr(p, "\"ips\""))
			snprintf(c->why, sizeof(c->why), "ADD printed no result with \"ips\"");
	}
}

static double call_ms(const struct call *c)
{
	return (double)(c->end_ns - c->start_ns) / 1e6;
}

/* Print a short excerpt of s on one line. */
static void excerpt(const char *label, const char *s)
{
	int shown = 0;

	if (!*s)
		return;
	fprintf(stderr, "    %s: ", label);
	for (; *s && shown < 400; s++, shown++)
		fputc(*s == '\n' || *s == '\r' ? ' ' : *s, stderr);
	fputs(*s ? "...\n" : "\n", stderr);
}

/* Count a judged call into s (failed ones are reported, not timed). */
static bool record(struct series *s, const struct call *c, int i)
{
	if (c->why[0]) {
		s->fail++;
		if (s->shown++ < FAILS_SHOWN) {
			fprintf(stderr, "cnibench: FAIL %s %s #%d (netns %s): %s\n", c->t->name, c->cmd, i,
				c->netns, c->why);
			excerpt("stdout", c->out);
			excerpt("stderr", c->err);
		}
		return false;
	}
	s->ms[s->n++] = call_ms(c);
	return true;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void report(const char *mode, const char *target, const char *op, struct series *s,
		   double wall_ms, const char *extra)
{
	double med = 0, p95 = 0, p99 = 0, mean = 0, lo = 0, hi = 0;

	if (s->n > 0) {
		qsort(s->ms, (size_t)s->n, sizeof(double), cmp_double);
		med = s->n % 2 ? s->ms[s->n / 2] : (s->ms[s->n / 2 - 1] + s->ms[s->n / 2]) / 2;
		/* Nearest rank: the smallest value with at least 95% at or below it. */
		p95 = s->ms[(s->n * 95 + 99) / 100 - 1];
		p99 = s->ms[(s->n * 99 + 99) / 100 - 1];
		for (int k = 0; k < s->n; k++)
			mean += s->ms[k];
		mean /= s->n;
		lo = s->ms[0];
		hi = s->ms[s->n - 1];
	}
	printf("R mode=%s target=%s op=%s n=%d fail=%d median=%.3f p95=%.3f p99=%.3f mean=%.3f min=%.3f "
	       "max=%.3f wall=%.3f%s\n", mode, target, op, s->n, s->fail, med, p95, p99, mean, lo, hi,
	       wall_ms, extra ? extra : "");
	fflush(stdout);
}

/* The first address of an ADD result, to count distinct ones. */
static void first_address(const char *out, char *buf, size_t size)
{
	const char *p = strstr(out, "\"address\"");
	size_t n = 0;

	buf[0] = '\0';
	if (!p || !(p = strchr(p + 9, '"')))
		return;
	for (p++; *p && *p != '"' && n + 1 < size; p++)
		buf[n++] = *p;
	buf[n] = '\0';
}

static int count_distinct(char (*addrs)[64], int n)
{
	int d = 0;

	for (int k = 0; k < n; k++) {
		bool seen = false;

		for (int j = 0; j < k && !seen; j++)
			seen = strcmp(addrs[j], addrs[k]) == 0;
		d += !seen && addrs[k][0];
	}
	return d;
}

static struct series series_new(int n)
{
	struct series s = { .ms = calloc((size_t)n + 1, sizeof(double)) };

	if (!s.ms)
		die("out of memory");
	return s;
}

static int run_one(struct call *c, const struct opts *o, int t, int i, const char *cmd)
{
	if (call_init(c, o, t, i, cmd) < 0)
		die("a template expands past 512 bytes");
	call_spawn(c, o);
	wait_all(c, 1, o->timeout_ms);
	call_judge(c);
	return c->why[0] ? -1 : 0;
}

/* Wait (at most max_ms) until the netns at path has no link but lo; the
 * milliseconds that took, or -1 when it did not happen in time. */
static double settle(const char *path, int max_ms)
{
	_cleanup_close_ int fd = -1;
	_cleanup_nl_ struct gl_nl *nl = NULL;
	int64_t start = now_ns(), end = start + (int64_t)max_ms * 1000000;
	int orig, r;

	if (gl_netns_open(path, &fd, NULL) < 0 || gl_netns_enter(fd, &orig, NULL) < 0)
		return -1;
	r = gl_nl_open(&nl);
	if (gl_netns_restore(orig) < 0)
		die("cannot return to the node's netns");
	if (r < 0)
		return -1;
	for (;;) {
		struct gl_nl_link links[16];
		int n = gl_nl_link_list(nl, links, (int)GL_ARRAY_SIZE(links), NULL), others = 0;

		for (int i = 0; i < n; i++)
			others += strcmp(links[i].name, "lo") != 0;
		if (n >= 0 && others == 0)
			return (double)(now_ns() - start) / 1e6;
		if (now_ns() > end)
			return -1;
		usleep(500);
	}
}

static int run_seq(const struct opts *o)
{
	struct series add[MAX_TARGETS], del[MAX_TARGETS], both[MAX_TARGETS], settled[MAX_TARGETS];
	char (*addrs)[MAX_TARGETS][64] = calloc((size_t)o->n, sizeof(*addrs));
	struct call *c = malloc(sizeof(*c));
	int fails = 0;

	if (!addrs || !c)
		die("out of memory");
	for (int t = 0; t < o->n_targets; t++) {
		add[t] = series_new(o->n);
		del[t] = series_new(o->n);
		both[t] = series_new(o->n);
		settled[t] = series_new(o->n);
	}
	for (int i = 0; i < o->warmup + o->n; i++) {
		bool timed = i >= o->warmup;

		for (int t = 0; t < o->n_targets; t++) {
			struct series warm = series_new(1);
			double a_ms;
			bool ok;

			/* A warm-up failure is a failure too: it is counted and
			 * shown, never silently dropped. */
			run_one(c, o, t, i, "ADD");
			ok = record(timed ? &add[t] : &warm, c, i);
			a_ms = call_ms(c);
			if (ok && timed)
				first_address(c->out, addrs[i - o->warmup][t], 64);
			if (!timed && !ok)
				add[t].fail++;
			run_one(c, o, t, i, "DEL");
			warm.n = 0;
			if (record(timed ? &del[t] : &warm, c, i) && ok && timed)
				both[t].ms[both[t].n++] = a_ms + call_ms(c);
			else if (!timed && c->why[0])
				del[t].fail++;
			if (o->settle_ms > 0) {
				double ms = settle(c->netns, o->settle_ms);

				if (ms < 0)
					settled[t].fail++;
				else if (timed)
					settled[t].ms[settled[t].n++] = ms;
			}
			free(warm.ms);
		}
	}
	for (int t = 0; t < o->n_targets; t++) {
		char (*list)[64] = malloc((size_t)o->n * 64);
		char extra[64];

		if (!list)
			die("out of memory");
		for (int i = 0; i < o->n; i++)
			memcpy(list[i], addrs[i][t], 64);
		snprintf(extra, sizeof(extra), " addrs=%d warmup=%d", count_distinct(list, o->n), o->warmup);
		free(list);
		report("seq", o->targets[t].name, "ADD", &add[t], 0, extra);
		report("seq", o->targets[t].name, "DEL", &del[t], 0, NULL);
		both[t].fail = add[t].fail + del[t].fail;
		report("seq", o->targets[t].name, "ADD+DEL", &both[t], 0, NULL);
		if (o->settle_ms > 0)
			report("seq", o->targets[t].name, "SETTLE", &settled[t], 0, NULL);
		fails += add[t].fail + del[t].fail + settled[t].fail;
		if (settled[t].fail)
			fprintf(stderr, "cnibench: %s: %d pod netns kept a link %d ms after DEL\n",
				o->targets[t].name, settled[t].fail, o->settle_ms);
		free(add[t].ms);
		free(del[t].ms);
		free(both[t].ms);
		free(settled[t].ms);
	}
	free(addrs);
	free(c);
	return fails;
}

/* N calls of one verb at once; the figure is the wall time from the first
 * spawn to the last call's end. */
static int run_batch(const struct opts *o, int t, const char *cmd)
{
	struct call *calls = calloc((size_t)o->n, sizeof(*calls));
	struct series s = series_new(o->n);
	int64_t first, last = 0;
	int fails;

	if (!calls)
		die("out of memory");
	for (int i = 0; i < o->n; i++)
		if (call_init(&calls[i], o, t, i, cmd) < 0)
			die("a template expands past 512 bytes");
	first = now_ns();
	for (int i = 0; i < o->n; i++)
		call_spawn(&calls[i], o);
	wait_all(calls, o->n, o->timeout_ms);
	for (int i = 0; i < o->n; i++) {
		call_judge(&calls[i]);
		record(&s, &calls[i], i);
		if (calls[i].end_ns > last)
			last = calls[i].end_ns;
	}
	report("conc", o->targets[t].name, cmd, &s, last > first ? (double)(last - first) / 1e6 : 0, NULL);
	fails = s.fail;
	free(s.ms);
	free(calls);
	return fails;
}

static int run_conc(const struct opts *o)
{
	int fails = 0;

	for (int t = 0; t < o->n_targets; t++) {
		fails += run_batch(o, t, "ADD");
		fails += run_batch(o, t, "DEL");
	}
	return fails;
}

/* NAME=PLUGIN:CONFFILE */
static void parse_target(struct opts *o, const char *arg)
{
	struct target *t;
	const char *eq = strchr(arg, '='), *colon;
	_cleanup_close_ int fd = -1;
	size_t len;

	if (o->n_targets >= MAX_TARGETS)
		die("too many --target");
	t = &o->targets[o->n_targets++];
	colon = eq ? strchr(eq + 1, ':') : NULL;
	if (!eq || !colon || eq == arg || (size_t)(eq - arg) >= sizeof(t->name) ||
	    (size_t)(colon - eq - 1) >= sizeof(t->plugin) || colon == eq + 1)
		die("--target wants NAME=PLUGIN:CONFFILE");
	memcpy(t->name, arg, (size_t)(eq - arg));
	memcpy(t->plugin, eq + 1, (size_t)(colon - eq - 1));
	fd = open(colon + 1, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || gl_read_all(fd, MAX_CONF, &t->conf, &len) < 0)
		die("cannot read a --target config (missing, or over 60 KiB)");
	t->conf_len = len;
	if (access(t->plugin, X_OK) < 0)
		die("a --target plugin is not executable");
}

static void usage(void)
{
	fputs("usage: cnibench --mode seq|conc --n N [--warmup W] [--ifname IF] [--cni-path P]\n"
	      "                [--timeout-ms MS] [--settle-ms MS] [--env NAME=VALUE ...]\n"
	      "                --netns TEMPLATE --args TEMPLATE\n"
	      "                --target NAME=PLUGIN:CONFFILE [--target ...]\n"
	      "templates: {t} target index, {i} iteration, {cid} container ID\n", stderr);
	exit(2);
}

static int parse_int(const char *s, int lo, int hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi)
		usage();
	return (int)v;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "mode", required_argument, NULL, 'm' }, { "n", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' }, { "ifname", required_argument, NULL, 'i' },
		{ "cni-path", required_argument, NULL, 'p' }, { "timeout-ms", required_argument, NULL, 'T' },
		{ "netns", required_argument, NULL, 'N' }, { "args", required_argument, NULL, 'a' },
		{ "target", required_argument, NULL, 't' }, { "env", required_argument, NULL, 'e' },
		{ "settle-ms", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts *o = calloc(1, sizeof(*o));
	int ch, fails;

	if (!o)
		die("out of memory");
	o->n = 200;
	o->timeout_ms = 30000;
	strcpy(o->ifname, "net1");
	strcpy(o->cni_path, "/opt/cni/bin");
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'm':
			if (strcmp(optarg, "seq") && strcmp(optarg, "conc"))
				usage();
			o->conc = strcmp(optarg, "conc") == 0;
			break;
		case 'n': o->n = parse_int(optarg, 1, MAX_N); break;
		case 'w': o->warmup = parse_int(optarg, 0, MAX_N); break;
		case 'T': o->timeout_ms = parse_int(optarg, 100, 600000); break;
		case 'S': o->settle_ms = parse_int(optarg, 0, 60000); break;
		case 'i':
			if (gl_strlcpy(o->ifname, optarg, sizeof(o->ifname)) < 0)
				usage();
			break;
		case 'p':
			if (gl_strlcpy(o->cni_path, optarg, sizeof(o->cni_path)) < 0)
				usage();
			break;
		case 'N': o->netns_tpl = optarg; break;
		case 'a': o->args_tpl = optarg; break;
		case 't': parse_target(o, optarg); break;
		case 'e':
			if (o->n_env >= MAX_ENV || !strchr(optarg, '=') || *optarg == '=')
				usage();
			o->extra_env[o->n_env++] = optarg;
			break;
		default: usage();
		}
	}
	if (optind != argc || !o->netns_tpl || !o->args_tpl || o->n_targets == 0)
		usage();
	/* A plugin that dies must not take the driver with it through a
	 * write to a closed pipe. */
	signal(SIGPIPE, SIG_IGN);
	fails = o->conc ? run_conc(o) : run_seq(o);
	if (fails)
		fprintf(stderr, "cnibench: %d call(s) failed\n", fails);
	for (int t = 0; t < o->n_targets; t++)
		free(o->targets[t].conf);
	free(o);
	return fails ? 1 : 0;
}
