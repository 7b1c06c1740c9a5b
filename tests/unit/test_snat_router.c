/* lib/net/forward.c: forwards from the command line and from an apply file,
 * the canonical comment both ways, and the diff between a desired set and
 * what a dump returned; and the usage exits of `gamelan-snat router`, the
 * binary of this build run as it is. Nothing here opens a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netfilter/nf_tables.h>
#include "base/json.h"
#include "base/util.h"
#include "net/forward.h"

#define F0 "{\"name\":\"dst-0\",\"wanInterface\":\"wan0\",\"wanAddress\":\"198.51.100.1\"," \
	   "\"protocol\":\"udp\",\"port\":10999,\"to\":\"192.168.1.200\",\"toPort\":10999," \
	   "\"lanAddress\":\"192.168.1.1\",\"snat\":true}"
#define F1 "{\"name\":\"dst-1\",\"wanInterface\":\"wan0\",\"protocol\":\"tcp\",\"port\":2000," \
	   "\"to\":\"192.168.1.201\",\"snat\":false}"
#define F2 "{\"name\":\"v6.game_2\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":3000," \
	   "\"to\":\"fd00::5\",\"toPort\":3001,\"lanAddress\":\"fd00::1\"}"

static int parse(const char *doc, struct gl_fwd_set *s, struct gl_err *err)
{
	memset(err, 0, sizeof(*err));
	memset(s, 0, sizeof(*s));
	return gl_fwd_set_parse(doc, strlen(doc), s, err);
}

static void test_parse_ok(void **state)
{
	struct gl_fwd_set s;
	struct gl_err err;
	char buf[GL_IP_STRLEN];

	assert_int_equal(parse("{\"forwards\":[" F0 "," F1 "," F2 "]}", &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].name, "dst-0");
	assert_true(s.v[0].has_wan_addr);
	assert_int_equal(s.v[0].proto, IPPROTO_UDP);
	assert_true(s.v[0].snat);
	/* Defaults: toPort = port, no lan address without snat. */
	assert_int_equal(s.v[1].to_port, 2000);
	assert_false(s.v[1].snat);
	assert_false(s.v[1].has_wan_addr);
	assert_int_equal(s.v[1].proto, IPPROTO_TCP);
	/* snat defaults to true. */
	assert_true(s.v[2].snat);
	assert_int_equal(s.v[2].to_port, 3001);
	assert_string_equal(gl_ip_str(&s.v[2].lan_addr, buf, sizeof(buf)), "fd00::1");
	gl_fwd_set_free(&s);
	/* An empty set, and no key at all, are both "no forwards". */
	assert_int_equal(parse("{\"forwards\":[]}", &s, &err), 0);
	assert_int_equal(s.n, 0);
	gl_fwd_set_free(&s);
	assert_int_equal(parse("{}", &s, &err), 0);
	assert_int_equal(s.n, 0);
	gl_fwd_set_free(&s);
}

/* Each bad document is refused whole, with a message naming the entry. */
static void test_parse_bad(void **state)
{
	static const struct {
		const char *doc, *msg;
	} bad[] = {
		{ "{\"forwards\":[", "malformed" },
		{ "[]", "object" },
		{ "{\"forward\":[]}", "unknown field" },
		{ "{\"forwards\":{}}", "array" },
		{ "{\"forwards\":[1]}", "forwards[0]" },
		{ "{\"forwards\":[{\"wanInterface\":\"wan0\"}]}", "name is required" },
		{ "{\"forwards\":[" F0 ",{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"icmp\",\"port\":1,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "forward \"x\": unknown protocol" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":0,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "port must be between 1 and 65535" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":65536,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "port must be between" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":5,\"toPort\":0,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "toPort" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\"}]}",
		  "lanAddress is required" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"lanAddress\":\"fd00::1\"}]}",
		  "same family" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"wanAddress\":\"fd00::9\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "same family" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.300\",\"snat\":false}]}",
		  "not an IP address" },
		{ "{\"forwards\":[{\"name\":\"x y\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "name must be" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan/0\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "not an interface name" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"snat\":false,\"toport\":5}]}",
		  "unknown field \"toport\"" },
		{ "{\"forwards\":[{\"name\":\"x\",\"wanInterface\":\"wan0\",\"protocol\":\"udp\",\"port\":\"5\",\"to\":\"192.168.1.2\",\"snat\":false}]}",
		  "an integer" },
		{ "{\"forwards\":[" F0 "," F0 "]}", "given twice" },
		{ "{\"forwards\":[" F1 ",{\"name\":\"other\",\"wanInterface\":\"wan0\",\"wanAddress\":\"198.51.100.1\",\"protocol\":\"tcp\",\"port\":2000,\"to\":\"192.168.1.9\",\"snat\":false}]}",
		  "catch the same tcp port 2000" },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		struct gl_fwd_set s;
		struct gl_err err;

		if (parse(bad[i].doc, &s, &err) == 0)
			fail_msg("accepted: %s", bad[i].doc);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("doc %zu: message '%s' lacks '%s'", i, err.msg, bad[i].msg);
		assert_null(s.v);
	}
	/* A name of 64 characters. */
	{
		char doc[512], name[65];
		struct gl_fwd_set s;
		struct gl_err err;

		memset(name, 'n', 64);
		name[64] = 0;
		snprintf(doc, sizeof(doc), "{\"forwards\":[{\"name\":\"%s\",\"wanInterface\":\"wan0\","
			 "\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"snat\":false}]}", name);
		assert_true(parse(doc, &s, &err) < 0);
		name[63] = 0;
		snprintf(doc, sizeof(doc), "{\"forwards\":[{\"name\":\"%s\",\"wanInterface\":\"wan0\","
			 "\"protocol\":\"udp\",\"port\":5,\"to\":\"192.168.1.2\",\"snat\":false}]}", name);
		assert_int_equal(parse(doc, &s, &err), 0);
		gl_fwd_set_free(&s);
	}
}

static void test_comment_roundtrip(void **state)
{
	struct gl_fwd_set s;
	struct gl_err err;
	char c[GL_NFT_COMMENT_MAX + 1];
	struct gl_fwd f;

	assert_int_equal(parse("{\"forwards\":[" F0 "," F1 "," F2 "]}", &s, &err), 0);
	assert_int_equal(gl_fwd_comment(&s.v[0], c, sizeof(c)), 0);
	assert_string_equal(c, "gamelan:fwd:dst-0 wan0 198.51.100.1 udp 10999 192.168.1.200 10999 192.168.1.1 snat");
	assert_int_equal(gl_fwd_comment(&s.v[1], c, sizeof(c)), 0);
	assert_string_equal(c, "gamelan:fwd:dst-1 wan0 * tcp 2000 192.168.1.201 2000 - nosnat");
	for (size_t i = 0; i < s.n; i++) {
		assert_int_equal(gl_fwd_comment(&s.v[i], c, sizeof(c)), 0);
		assert_int_equal(gl_fwd_from_comment(c, &f), 0);
		assert_true(gl_fwd_equal(&f, &s.v[i]));
		assert_string_equal(f.name, s.v[i].name);
	}
	gl_fwd_set_free(&s);
	/* Not ours, not canonical, or broken: never taken for a forward. */
	static const char *const bad[] = {
		"",
		"gamelan:abc:eth0",
		"gamelan:fwd:",
		"gamelan:fwd:dst-1 wan0 * tcp 2000 192.168.1.201 2000 - nosnat extra",
		"gamelan:fwd:dst-1  wan0 * tcp 2000 192.168.1.201 2000 - nosnat",
		"gamelan:fwd:dst-1 wan0 * tcp 02000 192.168.1.201 2000 - nosnat",
		"gamelan:fwd:dst-1 wan0 * tcp 0 192.168.1.201 2000 - nosnat",
		"gamelan:fwd:dst-1 wan0 * icmp 2000 192.168.1.201 2000 - nosnat",
		"gamelan:fwd:dst-1 wan0 * tcp 2000 192.168.1.201 2000 - maybe",
		"gamelan:fwd:dst-1 wan0 * tcp 2000 192.168.1.201 2000 - snat",      /* snat needs lan */
		"gamelan:fwd:dst-1 wan0 * tcp 2000 fd00:0::1 2000 - nosnat",        /* not canonical */
		"gamelan:fwd:d$t wan0 * tcp 2000 192.168.1.201 2000 - nosnat",
		"gamelan:fwd:dst-1 wan0 * tcp 70000 192.168.1.201 2000 - nosnat",
	};
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++)
		if (gl_fwd_from_comment(bad[i], &f) == 0)
			fail_msg("accepted comment '%s'", bad[i]);
}

static void test_json_roundtrip(void **state)
{
	struct gl_fwd_set s, t;
	struct gl_err err;
	char *out;

	assert_int_equal(parse("{\"forwards\":[" F0 "," F1 "," F2 "]}", &s, &err), 0);
	out = gl_fwd_set_json(&s);
	assert_non_null(out);
	assert_int_equal(parse(out, &t, &err), 0);
	assert_int_equal(t.n, s.n);
	for (size_t i = 0; i < s.n; i++)
		assert_true(gl_fwd_equal(&s.v[i], &t.v[i]));
	free(out);
	gl_fwd_set_free(&s);
	gl_fwd_set_free(&t);
}

/* Rules as a dump of a table made from set s would list them. */
static size_t rules_of(const struct gl_fwd_set *s, struct gl_nft_rule_info *r, uint64_t handle0)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		for (int k = GL_FWD_DNAT; k <= GL_FWD_SNAT; k++) {
			if (k == GL_FWD_SNAT && !s->v[i].snat)
				continue;
			memset(&r[n], 0, sizeof(r[n]));
			strcpy(r[n].chain, k == GL_FWD_DNAT ? GL_FWD_CHAIN_DNAT : GL_FWD_CHAIN_SNAT);
			assert_int_equal(gl_fwd_comment(&s->v[i], r[n].comment, sizeof(r[n].comment)), 0);
			r[n].handle = handle0 + n;
			n++;
		}
	}
	return n;
}

static void test_plan(void **state)
{
	struct gl_fwd_set s, t;
	struct gl_err err;
	struct gl_nft_rule_info rules[16];
	struct gl_fwd_plan p;
	size_t n;

	assert_int_equal(parse("{\"forwards\":[" F0 "," F1 "," F2 "]}", &s, &err), 0);
	/* Fresh table: everything to add (5 rules: dst-1 has no SNAT). */
	assert_int_equal(gl_fwd_plan_make(&s, rules, 0, &p), 0);
	assert_int_equal(p.n_add, 5);
	assert_int_equal(p.n_del, 0);
	gl_fwd_plan_free(&p);
	/* The same set again: nothing. */
	n = rules_of(&s, rules, 10);
	assert_int_equal(n, 5);
	assert_int_equal(gl_fwd_plan_make(&s, rules, n, &p), 0);
	assert_int_equal(p.n_add, 0);
	assert_int_equal(p.n_del, 0);
	gl_fwd_plan_free(&p);
	/* A duplicate rule and a foreign one in our table: both go. */
	rules[n] = rules[0];
	rules[n].handle = 99;
	memset(&rules[n + 1], 0, sizeof(rules[0]));
	strcpy(rules[n + 1].chain, "prerouting");
	rules[n + 1].handle = 100;
	assert_int_equal(gl_fwd_plan_make(&s, rules, n + 2, &p), 0);
	assert_int_equal(p.n_add, 0);
	assert_int_equal(p.n_del, 2);
	assert_int_equal(rules[p.del[0]].handle, 99);
	assert_int_equal(rules[p.del[1]].handle, 100);
	gl_fwd_plan_free(&p);
	/* One forward changed (dst-0 to another port): its 2 rules go, 2 come. */
	t = s;
	t.v = malloc(s.n * sizeof(*t.v));
	memcpy(t.v, s.v, s.n * sizeof(*t.v));
	t.v[0].to_port = 11000;
	assert_int_equal(gl_fwd_plan_make(&t, rules, n, &p), 0);
	assert_int_equal(p.n_add, 2);
	assert_int_equal(p.n_del, 2);
	assert_int_equal(rules[p.del[0]].handle, 10);
	assert_int_equal(rules[p.del[1]].handle, 11);
	/* The batch: table, 2 chains, 2 deletes, 2 adds, framed. */
	{
		struct gl_nft_batch b = { 0 };
		const char *d;
		size_t off = 0, count = 0;
		uint16_t types[16];

		assert_int_equal(gl_fwd_plan_batch(&t, rules, &p, 0, &b, &err), 0);
		assert_int_equal(gl_nft_batch_count(&b), 7);
		d = gl_nft_batch_data(&b);
		while (off < gl_nft_batch_len(&b)) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)(d + off);

			assert_true(count < 16);
			types[count++] = nlh->nlmsg_type & 0xff;
			off += NLMSG_ALIGN(nlh->nlmsg_len);
		}
		assert_int_equal(count, 9);
		assert_int_equal(types[1], NFT_MSG_NEWTABLE);
		assert_int_equal(types[2], NFT_MSG_NEWCHAIN);
		assert_int_equal(types[3], NFT_MSG_NEWCHAIN);
		assert_int_equal(types[4], NFT_MSG_DELRULE);
		assert_int_equal(types[5], NFT_MSG_DELRULE);
		assert_int_equal(types[6], NFT_MSG_NEWRULE);
		assert_int_equal(types[7], NFT_MSG_NEWRULE);
		gl_nft_batch_done(&b);
	}
	gl_fwd_plan_free(&p);
	/* Only deletes: no table or chain messages. */
	t.n = 1;
	assert_int_equal(gl_fwd_plan_make(&t, rules, n, &p), 0);
	assert_int_equal(p.n_del, 5);
	assert_int_equal(p.n_add, 2);
	gl_fwd_plan_free(&p);
	t.n = 0;
	assert_int_equal(gl_fwd_plan_make(&t, rules, n, &p), 0);
	assert_int_equal(p.n_del, 5);
	assert_int_equal(p.n_add, 0);
	{
		struct gl_nft_batch b = { 0 };

		assert_int_equal(gl_fwd_plan_batch(&t, rules, &p, 0, &b, &err), 0);
		assert_int_equal(gl_nft_batch_count(&b), 5);
		gl_nft_batch_done(&b);
	}
	gl_fwd_plan_free(&p);
	free(t.v);
	/* The current set read back from rules: unique names, in order. */
	assert_int_equal(gl_fwd_set_from_rules(rules, n, &t), 0);
	assert_int_equal(t.n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_true(gl_fwd_equal(&t.v[i], &s.v[i]));
	gl_fwd_set_free(&t);
	gl_fwd_set_free(&s);
}

/* 1000 forwards: the plan of a one-forward change is 2 deletes, 2 adds. */
static void test_plan_large(void **state)
{
	struct gl_fwd_set s = { 0 };
	struct gl_nft_rule_info *rules = calloc(2000, sizeof(*rules));
	struct gl_fwd_plan p;
	size_t n;

	assert_non_null(rules);
	for (int i = 0; i < 1000; i++) {
		struct gl_fwd f = { .proto = IPPROTO_UDP, .port = (uint16_t)(20000 + i), .snat = true };

		snprintf(f.name, sizeof(f.name), "f%d", i);
		strcpy(f.wan_if, "wan0");
		assert_int_equal(gl_ip_parse("192.168.1.200", &f.to), 0);
		f.to_port = f.port;
		assert_int_equal(gl_ip_parse("192.168.1.1", &f.lan_addr), 0);
		f.has_lan_addr = true;
		assert_int_equal(gl_fwd_set_push(&s, &f), 0);
	}
	assert_int_equal(gl_fwd_set_check(&s, NULL), 0);
	n = rules_of(&s, rules, 1);
	s.v[500].to_port = 1;
	assert_int_equal(gl_fwd_plan_make(&s, rules, n, &p), 0);
	assert_int_equal(p.n_add, 2);
	assert_int_equal(p.n_del, 2);
	gl_fwd_plan_free(&p);
	gl_fwd_set_free(&s);
	free(rules);
}

static int add_of(const char *line, struct gl_fwd *f, bool *is_usage, struct gl_err *err)
{
	char buf[512], *argv[32];
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (char *save = NULL, *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	memset(err, 0, sizeof(*err));
	return gl_fwd_from_args(argc, argv, f, is_usage, err);
}

static void test_add_args(void **state)
{
	struct gl_fwd f;
	struct gl_err err;
	bool u;
	char c[GL_NFT_COMMENT_MAX + 1];

	assert_int_equal(add_of("dst-0 --wan-if wan0 --wan-addr=198.51.100.1 --proto udp --port=10999 "
				"--to 192.168.1.200 --lan-addr 192.168.1.1", &f, &u, &err), 0);
	assert_int_equal(gl_fwd_comment(&f, c, sizeof(c)), 0);
	assert_string_equal(c, "gamelan:fwd:dst-0 wan0 198.51.100.1 udp 10999 192.168.1.200 10999 192.168.1.1 snat");
	assert_int_equal(add_of("x --wan-if=wan0 --proto=tcp --port=80 --to=192.168.1.5:8080 --no-snat",
				&f, &u, &err), 0);
	assert_int_equal(f.to_port, 8080);
	assert_false(f.snat);
	assert_int_equal(add_of("x --wan-if wan0 --proto udp --port 80 --to [fd00::5]:81 --lan-addr fd00::1",
				&f, &u, &err), 0);
	assert_int_equal(f.to_port, 81);
	assert_int_equal(f.to.family, AF_INET6);
	assert_int_equal(add_of("x --wan-if wan0 --proto udp --port 80 --to fd00::5 --no-snat", &f, &u, &err), 0);
	assert_int_equal(f.to_port, 80);

	/* Usage errors (exit 2). */
	static const char *const usage_lines[] = {
		"",
		"--wan-if wan0",
		"x --wan-if wan0 --proto udp --port 80",
		"x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5 --bogus 1",
		"x --wan-if wan0 --proto udp --port 80 --to",
		"x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5 stray",
		"x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5 --no-snat=yes",
	};
	for (size_t i = 0; i < GL_ARRAY_SIZE(usage_lines); i++) {
		if (add_of(usage_lines[i], &f, &u, &err) == 0)
			fail_msg("accepted '%s'", usage_lines[i]);
		if (!u)
			fail_msg("'%s' not a usage error: %s", usage_lines[i], err.msg);
	}
	/* Bad values (exit 1), each with its own message. */
	static const struct {
		const char *line, *msg;
	} bad[] = {
		{ "x --wan-if wan0 --proto icmp --port 80 --to 192.168.1.5 --no-snat", "unknown protocol" },
		{ "x --wan-if wan0 --proto udp --port 0 --to 192.168.1.5 --no-snat", "--port '0'" },
		{ "x --wan-if wan0 --proto udp --port 65536 --to 192.168.1.5 --no-snat", "--port '65536'" },
		{ "x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5:0 --no-snat", "--to" },
		{ "x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5", "lanAddress is required" },
		{ "x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5 --lan-addr fd00::1", "same family" },
		{ "x --wan-if averyveryverylongname --proto udp --port 80 --to 192.168.1.5 --no-snat", "--wan-if" },
		{ "b@d --wan-if wan0 --proto udp --port 80 --to 192.168.1.5 --no-snat", "forward name" },
		{ "x --wan-if wan0 --proto udp --port 80 --to 192.168.1.5 --wan-addr nope --no-snat", "--wan-addr" },
	};
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		if (add_of(bad[i].line, &f, &u, &err) == 0)
			fail_msg("accepted '%s'", bad[i].line);
		if (u)
			fail_msg("'%s' taken as a usage error", bad[i].line);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].line, err.msg, bad[i].msg);
	}
}

/* The command line lives in the gamelan-snat binary, not the library: the
 * one of this build (tests in BUILD/tests, binaries in BUILD/bin). */
static void snat_bin(char *buf, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;

	assert_true(n > 0);
	self[n] = 0;
	slash = strrchr(self, '/');
	assert_non_null(slash);
	*slash = 0;
	snprintf(buf, size, "%s/../bin/gamelan-snat", self);
	if (access(buf, X_OK) < 0)
		fail_msg("%s is missing: build the binaries (make all) before this test", buf);
}

/* Run bin with args (argv[0] included), stdin and stdout on /dev/null;
 * its exit status, and its stderr in err. Bounded by 10 s. */
static int run(const char *bin, char **argv, char *err, size_t size)
{
	char path[] = "/tmp/gl-test-snat-router.XXXXXX";
	int fd = mkstemp(path), st = 0;
	ssize_t n;
	pid_t pid;

	assert_true(fd >= 0);
	unlink(path);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execv(bin, argv);
		_exit(127);
	}
	for (int i = 0; waitpid(pid, &st, WNOHANG) == 0; i++) {
		if (i == 1000) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(fd);
			fail_msg("%s %s did not exit within 10 s", bin, argv[1]);
		}
		usleep(10000);
	}
	n = pread(fd, err, size - 1, 0);
	close(fd);
	err[n > 0 ? n : 0] = 0;
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Usage paths exit 2, with the usage on stderr, before touching any kernel
 * state. */
static void test_main_usage(void **state)
{
	char *a0[] = { "gamelan-snat", "router", NULL };
	char *a1[] = { "gamelan-snat", "router", "bogus", NULL };
	char *a2[] = { "gamelan-snat", "router", "remove", NULL };
	char *a3[] = { "gamelan-snat", "router", "list", "--yaml", NULL };
	char *a4[] = { "gamelan-snat", "router", "apply", NULL };
	char *a5[] = { "gamelan-snat", "router", "flush", "now", NULL };
	char *a6[] = { "gamelan-snat", "router", "add", "x", "--port", NULL };
	char **argvs[] = { a0, a1, a2, a3, a4, a5, a6 };
	char bin[PATH_MAX + 32], err[4096];

	snat_bin(bin, sizeof(bin));
	for (size_t i = 0; i < GL_ARRAY_SIZE(argvs); i++) {
		int rc = run(bin, argvs[i], err, sizeof(err));

		if (rc != 2)
			fail_msg("case %zu: exit %d, not 2; stderr: %.300s", i, rc, err);
		if (!strstr(err, "usage: gamelan-snat router add NAME"))
			fail_msg("case %zu: no usage on stderr: %.300s", i, err);
	}
}

/* The old, obviously right forms: the comment by snprintf, the checks
 * pairwise. The fast ones must agree with them on random sets. */
static void ref_comment(const struct gl_fwd *f, char *buf, size_t size)
{
	char wan[GL_IP_STRLEN] = "*", to[GL_IP_STRLEN], lan[GL_IP_STRLEN] = "-";

	if (f->has_wan_addr)
		gl_ip_str(&f->wan_addr, wan, sizeof(wan));
	gl_ip_str(&f->to, to, sizeof(to));
	if (f->has_lan_addr)
		gl_ip_str(&f->lan_addr, lan, sizeof(lan));
	snprintf(buf, size, GL_FWD_COMMENT_PREFIX "%s %s %s %s %u %s %u %s %s", f->name, f->wan_if,
		 wan, gl_fwd_proto_str(f->proto), f->port, to, f->to_port, lan, f->snat ? "snat" : "nosnat");
}

static bool ref_overlap(const struct gl_fwd *a, const struct gl_fwd *b)
{
	if (strcmp(a->wan_if, b->wan_if) || a->proto != b->proto || a->port != b->port ||
	    a->to.family != b->to.family)
		return false;
	return !a->has_wan_addr || !b->has_wan_addr || gl_ip_equal(&a->wan_addr, &b->wan_addr);
}

static bool ref_conflict(const struct gl_fwd_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++)
			if (!strcmp(s->v[i].name, s->v[j].name) || ref_overlap(&s->v[i], &s->v[j]))
				return true;
	return false;
}

static struct gl_fwd rand_fwd(unsigned *seed, int names)
{
	struct gl_fwd f = { .snat = rand_r(seed) % 2 };
	bool v6 = rand_r(seed) % 4 == 0;
	char a[64];

	snprintf(f.name, sizeof(f.name), "n%d", rand_r(seed) % names);
	snprintf(f.wan_if, sizeof(f.wan_if), "wan%d", rand_r(seed) % 2);
	f.proto = rand_r(seed) % 2 ? IPPROTO_UDP : IPPROTO_TCP;
	f.port = (uint16_t)(1 + rand_r(seed) % 4);
	f.to_port = (uint16_t)(rand_r(seed) % 3 ? f.port : 1 + rand_r(seed) % 65535);
	snprintf(a, sizeof(a), v6 ? "fd00::%x" : "10.%d.%d.%d", rand_r(seed) % 256, rand_r(seed) % 256,
		 rand_r(seed) % 256);
	assert_int_equal(gl_ip_parse(a, &f.to), 0);
	if ((f.has_wan_addr = rand_r(seed) % 3 != 0)) {
		snprintf(a, sizeof(a), v6 ? "2001:db8::%d" : "198.51.100.%d", rand_r(seed) % 3);
		assert_int_equal(gl_ip_parse(a, &f.wan_addr), 0);
	}
	if ((f.has_lan_addr = f.snat || rand_r(seed) % 2)) {
		snprintf(a, sizeof(a), v6 ? "fd00::%d:0:1" : "192.168.%d.1", rand_r(seed) % 256);
		assert_int_equal(gl_ip_parse(a, &f.lan_addr), 0);
	}
	return f;
}

static void test_fast_equals_reference(void **state)
{
	unsigned seed = 4242;

	for (int round = 0; round < 3000; round++) {
		struct gl_fwd_set s = { 0 };
		struct gl_err err = { 0 };
		size_t n = 1 + (size_t)(rand_r(&seed) % 12);
		int names = 4 + rand_r(&seed) % 40;
		bool bad;
		int rc;

		for (size_t i = 0; i < n; i++) {
			struct gl_fwd f = rand_fwd(&seed, names);
			char fast[GL_NFT_COMMENT_MAX + 1], ref[GL_NFT_COMMENT_MAX + 1];
			struct gl_fwd back;

			assert_int_equal(gl_fwd_comment(&f, fast, sizeof(fast)), 0);
			ref_comment(&f, ref, sizeof(ref));
			assert_string_equal(fast, ref);
			assert_int_equal(gl_fwd_from_comment(fast, &back), 0);
			assert_true(gl_fwd_equal(&back, &f));
			assert_int_equal(gl_fwd_set_push(&s, &f), 0);
		}
		bad = ref_conflict(&s);
		rc = gl_fwd_set_check(&s, &err);
		assert_int_equal(rc < 0, bad);
		if (bad)
			assert_true(strstr(err.msg, "given twice") || strstr(err.msg, "catch the same"));
		gl_fwd_set_free(&s);
	}
}

/* The messages name the entries at fault, the earliest conflict first. */
static void test_check_messages(void **state)
{
	struct gl_fwd_set s;
	struct gl_err err;

	assert_int_equal(parse("{\"forwards\":[" F1 "," F0 ",{\"name\":\"zz\",\"wanInterface\":\"wan0\","
			       "\"protocol\":\"udp\",\"port\":10999,\"to\":\"192.168.1.9\",\"snat\":false}]}",
			       &s, &err), -EINVAL);
	assert_string_equal(err.msg, "forwards \"dst-0\" and \"zz\" catch the same udp port 10999 on wan0");
	assert_int_equal(parse("{\"forwards\":[" F0 "," F1 "," F1 "]}", &s, &err), -EINVAL);
	assert_string_equal(err.msg, "forward \"dst-1\" is given twice");
}

/* Read back: the first valid rule of a name wins, in rule order; foreign
 * and hand-edited comments are skipped. */
static void test_from_rules_order(void **state)
{
	struct gl_nft_rule_info rules[6] = { 0 };
	struct gl_fwd_set t;
	struct gl_fwd a = { .proto = IPPROTO_UDP, .port = 5, .to_port = 5 }, b;

	strcpy(a.name, "b-first");
	strcpy(a.wan_if, "wan0");
	assert_int_equal(gl_ip_parse("10.0.0.5", &a.to), 0);
	b = a;
	strcpy(b.name, "a-second");
	b.port = b.to_port = 6;
	strcpy(rules[0].comment, "foreign");
	strcpy(rules[1].comment, "gamelan:fwd:b-first wan0 * udp 05 10.0.0.5 5 - nosnat"); /* not canonical */
	assert_int_equal(gl_fwd_comment(&a, rules[2].comment, sizeof(rules[2].comment)), 0);
	assert_int_equal(gl_fwd_comment(&b, rules[3].comment, sizeof(rules[3].comment)), 0);
	a.port = a.to_port = 7;  /* the same name again, other settings: ignored */
	assert_int_equal(gl_fwd_comment(&a, rules[4].comment, sizeof(rules[4].comment)), 0);
	memcpy(rules[5].comment, rules[2].comment, sizeof(rules[5].comment));
	assert_int_equal(gl_fwd_set_from_rules(rules, 6, &t), 0);
	assert_int_equal(t.n, 2);
	assert_string_equal(t.v[0].name, "b-first");
	assert_int_equal(t.v[0].port, 5);
	assert_string_equal(t.v[1].name, "a-second");
	gl_fwd_set_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_comment_roundtrip),
		cmocka_unit_test(test_json_roundtrip),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_plan_large),
		cmocka_unit_test(test_add_args),
		cmocka_unit_test(test_main_usage),
		cmocka_unit_test(test_fast_equals_reference),
		cmocka_unit_test(test_check_messages),
		cmocka_unit_test(test_from_rules_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
