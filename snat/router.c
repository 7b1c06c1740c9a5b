/* gamelan-snat router mode: the command line. Arguments, messages and exit
 * codes are here; the forwards, their checks, the plan and the batches are
 * lib/net/forward.c. */
#include "router.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/err.h"
#include "base/ip.h"
#include "base/util.h"
#include "net/forward.h"

/* An apply file: bounded, as any input. */
#define FWD_FILE_MAX (16u << 20)

static void usage(FILE *f)
{
	fputs("usage: gamelan-snat router add NAME --wan-if IF [--wan-addr IP] --proto udp|tcp --port N\n"
	      "                             --to LANIP[:PORT] [--lan-addr GWIP] [--no-snat]\n"
	      "       gamelan-snat router remove NAME\n"
	      "       gamelan-snat router list [--json]\n"
	      "       gamelan-snat router apply FILE|-\n"
	      "       gamelan-snat router flush\n"
	      "Options may also be written --opt=value. Rules live in table inet " GL_FWD_TABLE ".\n",
	      f);
}

static int report_err(const struct gl_err *err, int e)
{
	fprintf(stderr, "gamelan-snat router: %s\n",
		err->msg[0] ? err->msg : strerror(e < 0 ? -e : e));
	if (err->details[0])
		fprintf(stderr, "  %s\n", err->details);
	return 1;
}

static void print_result(const struct gl_fwd_stats *st)
{
	size_t n_fwd = st->forwards;

	if (st->added == 0 && st->deleted == 0)
		printf("no change (%zu forward%s)\n", n_fwd, n_fwd == 1 ? "" : "s");
	else
		printf("applied: %zu rule%s added, %zu deleted (%zu forward%s)\n", st->added,
		       st->added == 1 ? "" : "s", st->deleted, n_fwd, n_fwd == 1 ? "" : "s");
}

static int cmd_apply(const char *path)
{
	struct gl_err err = { 0 };
	_cleanup_free_ char *buf = NULL;
	struct gl_fwd_set s = { 0 };
	struct gl_fwd_stats st;
	size_t len;
	int fd, e;

	if (!strcmp(path, "-")) {
		e = gl_read_all(STDIN_FILENO, FWD_FILE_MAX, &buf, &len);
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0) {
			e = -errno;
			gl_err_from(&err, e, GL_ERR_IO, "%s: %s", path, strerror(-e));
			return report_err(&err, e);
		}
		e = gl_read_all(fd, FWD_FILE_MAX, &buf, &len);
		close(fd);
	}
	if (e < 0) {
		gl_err_from(&err, e, GL_ERR_IO, "%s: %s", path, e == -EFBIG ? "file too large" : strerror(-e));
		return report_err(&err, e);
	}
	if ((e = gl_fwd_set_parse(buf, len, &s, &err)) < 0) {
		fprintf(stderr, "gamelan-snat router: %s: %s; nothing changed\n", path,
			err.msg[0] ? err.msg : strerror(-e));
		gl_fwd_set_free(&s);
		return 1;
	}
	e = gl_fwd_apply(&s, &st, &err);
	gl_fwd_set_free(&s);
	if (e < 0)
		return report_err(&err, e);
	print_result(&st);
	return 0;
}

static int cmd_add(int argc, char **argv)
{
	struct gl_err err = { 0 };
	struct gl_fwd_stats st;
	struct gl_fwd f;
	bool is_usage;
	int e;

	if ((e = gl_fwd_from_args(argc, argv, &f, &is_usage, &err)) < 0) {
		if (is_usage) {
			fprintf(stderr, "gamelan-snat router: %s\n", err.msg);
			usage(stderr);
			return 2;
		}
		return report_err(&err, e);
	}
	if ((e = gl_fwd_add(&f, &st, &err)) < 0)
		return report_err(&err, e);
	print_result(&st);
	return 0;
}

static int cmd_remove(const char *name)
{
	struct gl_err err = { 0 };
	size_t found;
	int e;

	if ((e = gl_fwd_remove(name, &found, &err)) < 0)
		return report_err(&err, e);
	printf("removed %s (%zu rule%s)\n", name, found, found == 1 ? "" : "s");
	return 0;
}

static void print_table(const struct gl_fwd_set *s)
{
	printf("%-20s %-10s %-16s %-5s %-6s %-22s %s\n", "NAME", "WAN-IF", "WAN-ADDR", "PROTO", "PORT",
	       "TO", "SNAT-TO");
	for (size_t i = 0; i < s->n; i++) {
		const struct gl_fwd *f = &s->v[i];
		char wan[GL_IP_STRLEN] = "*", to[GL_IP_STRLEN], lan[GL_IP_STRLEN] = "-", dst[GL_IP_STRLEN + 10];

		if (f->has_wan_addr)
			gl_ip_str(&f->wan_addr, wan, sizeof(wan));
		gl_ip_str(&f->to, to, sizeof(to));
		if (f->snat && f->has_lan_addr)
			gl_ip_str(&f->lan_addr, lan, sizeof(lan));
		snprintf(dst, sizeof(dst), f->to.family == AF_INET6 ? "[%s]:%u" : "%s:%u", to, f->to_port);
		printf("%-20s %-10s %-16s %-5s %-6u %-22s %s\n", f->name, f->wan_if, wan,
		       gl_fwd_proto_str(f->proto), f->port, dst, lan);
	}
}

static int cmd_list(bool json)
{
	struct gl_err err = { 0 };
	struct gl_fwd_set s = { 0 };
	int e;

	if ((e = gl_fwd_list(&s, &err)) < 0)
		return report_err(&err, e);
	if (json) {
		_cleanup_free_ char *out = gl_fwd_set_json(&s);

		if (!out) {
			gl_fwd_set_free(&s);
			return report_err(&err, -ENOMEM);
		}
		printf("%s\n", out);
	} else {
		print_table(&s);
	}
	gl_fwd_set_free(&s);
	return 0;
}

static int cmd_flush(void)
{
	struct gl_err err = { 0 };
	int e;

	if ((e = gl_fwd_flush(&err)) < 0)
		return report_err(&err, e);
	printf("flushed table inet %s\n", GL_FWD_TABLE);
	return 0;
}

int gl_snat_router_main(int argc, char **argv)
{
	const char *cmd;

	/* Accept argv as main got it ("prog router CMD") or from "router". */
	if (argc >= 2 && !strcmp(argv[1], "router")) {
		argc -= 2;
		argv += 2;
	} else if (argc >= 1 && !strcmp(argv[0], "router")) {
		argc -= 1;
		argv += 1;
	}
	if (argc < 1) {
		usage(stderr);
		return 2;
	}
	cmd = argv[0];
	argc--;
	argv++;
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "add"))
		return cmd_add(argc, argv);
	if (!strcmp(cmd, "remove") && argc == 1)
		return cmd_remove(argv[0]);
	if (!strcmp(cmd, "list") && (argc == 0 || (argc == 1 && !strcmp(argv[0], "--json"))))
		return cmd_list(argc == 1);
	if (!strcmp(cmd, "apply") && argc == 1)
		return cmd_apply(argv[0]);
	if (!strcmp(cmd, "flush") && argc == 0)
		return cmd_flush();
	fprintf(stderr, "gamelan-snat router: bad command or arguments: %s\n", cmd);
	usage(stderr);
	return 2;
}
