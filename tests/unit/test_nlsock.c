/* lib/net/nlsock.c: the ack parser fed acks built here byte by byte (what
 * the kernel sends, and what it never would: truncated, lying lengths,
 * broken TLVs), each parsed from a heap copy of exactly its length so that
 * ASan sees any read past it; then the transport against the kernel, in a
 * netns of the test's own (needs root: without it those tests fail). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "net/nlsock.h"
#include "unit.h"

#define BUF 1024
#define PID 4242u

/* The request an error answers: a header, a 4-byte payload, one attribute
 * (nlmsg_len 28; unaligned when odd_len, as a request may be). */
static void put_request(struct nlmsghdr *req, bool odd_len)
{
	memset(req, 0, 32);
	req->nlmsg_len = odd_len ? 27 : 28;
	req->nlmsg_type = RTM_NEWLINK;
	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = 77;
	req->nlmsg_pid = PID;
	((uint8_t *)req)[20] = 8;          /* nla_len */
	((uint8_t *)req)[22] = IFLA_MTU;   /* nla_type */
}

struct err_spec {
	int error;
	bool capped;
	bool odd_req;       /* the copied request has an unaligned nlmsg_len */
	bool tlvs;          /* NLM_F_ACK_TLVS and the attributes below */
	const char *msg;    /* NLMSGERR_ATTR_MSG, NULL = none */
	bool offs;
	uint32_t offset;
	uint32_t seq;
};

/* Build an NLMSG_ERROR at buf as netlink_ack() does; returns its length. */
static uint32_t put_err(void *buf, const struct err_spec *s)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nlmsgerr *e;
	struct nlmsghdr req[2];

	put_request(req, s->odd_req);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_seq = s->seq;
	nlh->nlmsg_pid = PID;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = s->error;
	e->msg = req[0];
	if (s->capped) {
		nlh->nlmsg_flags |= NLM_F_CAPPED;
	} else {
		size_t copy = req->nlmsg_len - sizeof(*req);

		memcpy(mnl_nlmsg_put_extra_header(nlh, MNL_ALIGN(copy)), (char *)req + sizeof(*req), copy);
	}
	if (s->tlvs) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		if (s->msg)
			mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, s->msg);
		if (s->offs)
			mnl_attr_put_u32(nlh, NLMSGERR_ATTR_OFFS, s->offset);
	}
	return nlh->nlmsg_len;
}

/* An NLMSG_DONE with its error and, when msg, the TLVs of a strict dump. */
static uint32_t put_done(void *buf, int error, const char *msg, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = NLMSG_DONE;
	nlh->nlmsg_flags = NLM_F_MULTI;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = PID;
	*(int *)mnl_nlmsg_put_extra_header(nlh, sizeof(int)) = error;
	if (msg) {
		nlh->nlmsg_flags |= NLM_F_ACK_TLVS;
		mnl_attr_put_strz(nlh, NLMSGERR_ATTR_MSG, msg);
	}
	return nlh->nlmsg_len;
}

/* Parse len bytes of src from a heap copy of exactly len bytes. */
static int parse_copy(const void *src, size_t len, struct gl_nlsock_ack *ret)
{
	void *p = malloc(len ? len : 1);
	int r;

	assert_non_null(p);
	memcpy(p, src, len);
	r = gl_nlsock_ack_parse(p, len, ret);
	free(p);
	return r;
}

static struct nlmsghdr *hdr(void *buf) { return buf; }
static struct nlmsgerr *errp(void *buf) { return mnl_nlmsg_get_payload(buf); }

/* ---- what the kernel sends ---- */

static void test_ack(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = 0, .capped = true, .seq = 9 });

	assert_int_equal(n, 36);
	assert_int_equal(parse_copy(buf, n, &a), 36);
	assert_false(a.done);
	assert_int_equal(a.error, 0);
	assert_int_equal(a.seq, 9);
	assert_int_equal(a.portid, PID);
	assert_int_equal(a.req_type, RTM_NEWLINK);
	assert_string_equal(a.msg, "");
	assert_false(a.has_offset);
}

static void test_capped_tlvs(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
						      .msg = "unknown kind", .offs = true, .offset = 20,
						      .seq = 10 });

	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_int_equal(a.error, -EINVAL);
	assert_string_equal(a.msg, "unknown kind");
	assert_true(a.has_offset);
	assert_int_equal(a.offset, 20);
	assert_int_equal(a.seq, 10);
	assert_true(a.flags & NLM_F_CAPPED);
}

static void test_capped_no_tlvs(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = -EEXIST, .capped = true });

	assert_int_equal(parse_copy(buf, n, &a), 36);
	assert_int_equal(a.error, -EEXIST);
	assert_string_equal(a.msg, "");
	assert_false(a.has_offset);
}

static void test_uncapped(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n;

	/* The request copy comes first; the TLVs after it. */
	n = put_err(buf, &(struct err_spec){ .error = -ERANGE, .tlvs = true, .msg = "too big",
					     .offs = true, .offset = 24 });
	assert_int_equal(n, 36 + 12 + 12 + 8);
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_int_equal(a.error, -ERANGE);
	assert_string_equal(a.msg, "too big");
	assert_true(a.has_offset);
	assert_int_equal(a.offset, 24);

	/* A copy of an unaligned request takes its aligned size. */
	memset(buf, 0, sizeof(buf));
	n = put_err(buf, &(struct err_spec){ .error = -ERANGE, .odd_req = true, .tlvs = true,
					     .msg = "odd" });
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_string_equal(a.msg, "odd");

	/* Without TLVs. */
	memset(buf, 0, sizeof(buf));
	n = put_err(buf, &(struct err_spec){ .error = -ENODEV });
	assert_int_equal(n, 48);
	assert_int_equal(parse_copy(buf, n, &a), 48);
	assert_int_equal(a.error, -ENODEV);
	assert_string_equal(a.msg, "");
}

static void test_tlvs_flag_decides(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
						      .msg = "why" });

	/* Bytes after the error without NLM_F_ACK_TLVS are not TLVs. */
	hdr(buf)->nlmsg_flags &= (uint16_t)~NLM_F_ACK_TLVS;
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_int_equal(a.error, -EINVAL);
	assert_string_equal(a.msg, "");
	/* An ack (error 0) may carry a warning in its TLVs. */
	memset(buf, 0, sizeof(buf));
	n = put_err(buf, &(struct err_spec){ .error = 0, .capped = true, .tlvs = true, .msg = "warn" });
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_int_equal(a.error, 0);
	assert_string_equal(a.msg, "warn");
}

static void test_error_sign(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = EPERM, .capped = true });

	/* Netlink subsystems return the errno value with different signs. */
	assert_int_equal(parse_copy(buf, n, &a), 36);
	assert_int_equal(a.error, -EPERM);
	/* Not an errno at all (and -INT_MIN would overflow). */
	errp(buf)->error = INT_MIN;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	errp(buf)->error = 100000;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
}

static void test_done(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_done(buf, 0, NULL, 5);

	assert_int_equal(parse_copy(buf, n, &a), 20);
	assert_true(a.done);
	assert_int_equal(a.error, 0);
	assert_int_equal(a.seq, 5);
	n = put_done(buf, -EMSGSIZE, "dump too big", 6);
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_true(a.done);
	assert_int_equal(a.error, -EMSGSIZE);
	assert_string_equal(a.msg, "dump too big");
	/* The kernel always puts the dump's error in a DONE: one without it
	 * is cut short. */
	hdr(buf)->nlmsg_len = 16;
	hdr(buf)->nlmsg_flags = NLM_F_MULTI;
	assert_int_equal(parse_copy(buf, 16, &a), -EBADMSG);
	/* Its error is never positive (that is a dump's length). */
	n = put_done(buf, 5, NULL, 7);
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
}

/* ---- what it never would ---- */

static void test_wrong_type(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true });

	hdr(buf)->nlmsg_type = RTM_NEWLINK;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	hdr(buf)->nlmsg_type = NLMSG_NOOP;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
}

static void test_bad_nlmsg_len(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
						      .msg = "x" });
	static const uint32_t bad[] = { 0, 1, 15, 16, 20, 32, 35, 37, 38, 39 };

	/* Too small for a header or for its nlmsgerr, or not aligned. */
	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		hdr(buf)->nlmsg_len = bad[i];
		assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	}
	/* Larger than the buffer, by a little or a lot. */
	hdr(buf)->nlmsg_len = n + 4;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	hdr(buf)->nlmsg_len = UINT32_MAX;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	hdr(buf)->nlmsg_len = UINT32_MAX - 3;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	/* Shorter than the buffer is fine: the rest is the next message. */
	hdr(buf)->nlmsg_len = 36;
	assert_int_equal(parse_copy(buf, n, &a), 36);
	assert_int_equal(a.error, -EINVAL);
	assert_string_equal(a.msg, "");
	/* Less than a header at all; ret untouched on failure. */
	memset(&a, 0x5a, sizeof(a));
	assert_int_equal(parse_copy(buf, 0, &a), -EBADMSG);
	for (size_t i = 0; i < sizeof(a); i++)
		assert_int_equal(((uint8_t *)&a)[i], 0x5a);
	assert_int_equal(parse_copy(buf, 15, &a), -EBADMSG);
	/* A DONE too short for its error. */
	n = put_done(buf, -EINVAL, NULL, 1);
	hdr(buf)->nlmsg_len = 18;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
}

/* The copy of the request in an uncapped error says how long it is; that
 * length is the kernel's, and is checked like any other. */
static void test_uncapped_bad_copy_len(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .tlvs = true, .msg = "real" });
	static const uint32_t bad[] = { 0, 4, 8, 15, 60, 61, 1000, UINT32_MAX - 15, UINT32_MAX };

	for (size_t i = 0; i < GL_ARRAY_SIZE(bad); i++) {
		errp(buf)->msg.nlmsg_len = bad[i];
		assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	}
	/* A copy of only the request's header (16) would put the TLVs where
	 * the copy's payload is, which is no TLV (nla_len 0). */
	errp(buf)->msg.nlmsg_len = 16;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	errp(buf)->msg.nlmsg_len = 28;
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_string_equal(a.msg, "real");
}

/* Below 16 the subtraction in the old parser wrapped: the TLVs were read
 * from inside the nlmsgerr, where a sender can put any "message". */
static void test_uncapped_short_copy_not_tlvs(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	struct nlmsghdr *nlh;
	struct nlmsgerr *e;
	struct nlattr *fake;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = NLMSG_ERROR;
	nlh->nlmsg_flags = NLM_F_ACK_TLVS;
	e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));
	e->error = -EPERM;
	/* msg.nlmsg_len = 8 reads as an 8-byte attribute of type 0 (it and
	 * msg.nlmsg_type/flags); msg.nlmsg_seq/pid then read as a MSG
	 * attribute holding "evil". */
	e->msg.nlmsg_len = 8;
	fake = (struct nlattr *)&e->msg.nlmsg_seq;
	fake->nla_len = 4 + 5;
	fake->nla_type = NLMSGERR_ATTR_MSG;
	memcpy(&e->msg.nlmsg_pid, "evil", 4);
	/* the NUL of "evil" and padding */
	mnl_nlmsg_put_extra_header(nlh, 4);
	assert_int_equal(parse_copy(buf, nlh->nlmsg_len, &a), -EBADMSG);
}

static void test_bad_tlvs(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	struct nlattr *at;
	uint32_t n;

	/* A text without its NUL. */
	n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
					     .msg = "abc" });
	at = (struct nlattr *)(buf + 36);
	assert_int_equal(at->nla_len, 8);
	((char *)(at + 1))[3] = 'd';
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	/* ... of its full length, with the padding taken away. */
	memset(buf, 0, sizeof(buf));
	n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
					     .msg = "abcdefg" });
	at = (struct nlattr *)(buf + 36);
	((char *)(at + 1))[7] = 'h';
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	/* An empty text (no NUL either). */
	memset(buf, 0, sizeof(buf));
	n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
					     .msg = "abc" });
	at = (struct nlattr *)(buf + 36);
	at->nla_len = 4;
	hdr(buf)->nlmsg_len = 40;
	assert_int_equal(parse_copy(buf, 40, &a), -EBADMSG);
	/* An offset that is not a u32. */
	memset(buf, 0, sizeof(buf));
	n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = true, .tlvs = true,
					     .offs = true, .offset = 1 });
	at = (struct nlattr *)(buf + 36);
	at->nla_len = 6;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	/* Attribute lengths below a header or past the message. */
	for (uint16_t len = 0; len < 4; len++) {
		at->nla_len = len;
		assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	}
	at->nla_len = 12;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	at->nla_len = 0xffff;
	assert_int_equal(parse_copy(buf, n, &a), -EBADMSG);
	/* An empty attribute header at the end. */
	at->nla_len = 8;
	hdr(buf)->nlmsg_len = n + 4;
	assert_int_equal(parse_copy(buf, n + 4, &a), -EBADMSG);
	/* Attributes we do not know are skipped. */
	at->nla_type = 200;
	hdr(buf)->nlmsg_len = n;
	assert_int_equal(parse_copy(buf, n, &a), (int)n);
	assert_false(a.has_offset);
}

/* Cut every message we build at every byte, two ways: the buffer ends
 * early (always refused), or nlmsg_len itself says less (refused unless it
 * lands on a boundary where a shorter message is whole). */
static void test_truncated_every_byte(void **state)
{
	const struct err_spec specs[] = {
		{ .error = 0, .capped = true },
		{ .error = -EINVAL, .capped = true, .tlvs = true, .msg = "reason here", .offs = true,
		  .offset = 20 },
		{ .error = -EINVAL, .tlvs = true, .msg = "reason", .offs = true, .offset = 24 },
		{ .error = -EINVAL, .odd_req = true, .tlvs = true, .msg = "r" },
		{ .error = -ENOENT },
	};
	int accepted = 0, total = 0;

	for (size_t i = 0; i <= GL_ARRAY_SIZE(specs); i++) {
		char buf[BUF] = { 0 };
		struct gl_nlsock_ack a;
		uint32_t n = i < GL_ARRAY_SIZE(specs) ? put_err(buf, &specs[i])
						      : put_done(buf, -EIO, "dump failed", 3);

		for (uint32_t len = 0; len < n; len++)
			assert_int_equal(parse_copy(buf, len, &a), -EBADMSG);
		for (uint32_t len = 0; len < n; len++) {
			int r;

			hdr(buf)->nlmsg_len = len;
			r = parse_copy(buf, n, &a);
			total++;
			if (r < 0) {
				assert_int_equal(r, -EBADMSG);
				continue;
			}
			/* Only whole, aligned shorter messages; their error is the
			 * real one and their text whole or absent. */
			accepted++;
			assert_int_equal(r, len);
			assert_int_equal(len % 4, 0);
			assert_int_equal(a.error, i < GL_ARRAY_SIZE(specs) ? specs[i].error : -EIO);
			assert_true(a.msg[0] == 0 || strcmp(a.msg, i < GL_ARRAY_SIZE(specs) && specs[i].msg
							     ? specs[i].msg : "dump failed") == 0);
		}
		hdr(buf)->nlmsg_len = n;
		assert_int_equal(parse_copy(buf, n, &a), (int)n);
	}
	print_message("truncated nlmsg_len: %d of %d accepted\n", accepted, total);
	assert_true(accepted > 0);
}

static void test_multi(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	size_t len = 0;
	int r;

	len += put_err(buf + len, &(struct err_spec){ .error = 0, .capped = true, .seq = 1 });
	len += put_err(buf + len, &(struct err_spec){ .error = -EBUSY, .capped = true, .tlvs = true,
						      .msg = "second", .seq = 2 });
	len += put_err(buf + len, &(struct err_spec){ .error = -EEXIST, .tlvs = true,
						      .msg = "third", .seq = 3 });
	len += put_done(buf + len, 0, NULL, 4);

	struct { uint32_t seq; int error; const char *msg; bool done; } want[] = {
		{ 1, 0, "", false }, { 2, -EBUSY, "second", false },
		{ 3, -EEXIST, "third", false }, { 4, 0, "", true },
	};
	size_t off = 0;

	for (size_t i = 0; i < GL_ARRAY_SIZE(want); i++) {
		r = parse_copy(buf + off, len - off, &a);
		assert_true(r > 0);
		assert_int_equal(a.seq, want[i].seq);
		assert_int_equal(a.error, want[i].error);
		assert_string_equal(a.msg, want[i].msg);
		assert_int_equal(a.done, want[i].done);
		off += (size_t)r;
	}
	assert_int_equal(off, len);

	/* A message whose nlmsg_len takes in the next one's header reads that
	 * header as TLVs (nla_len 60 of 8 bytes left): refused. */
	hdr(buf + 36)->nlmsg_len = 48 + 8;
	assert_int_equal(parse_copy(buf + 36, len - 36, &a), -EBADMSG);
}

static void test_multi_second_truncated(void **state)
{
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	uint32_t n1 = put_err(buf, &(struct err_spec){ .error = 0, .capped = true, .seq = 1 });
	uint32_t n2 = put_err(buf + n1, &(struct err_spec){ .error = -EINVAL, .capped = true,
							    .tlvs = true, .msg = "m", .seq = 2 });

	for (uint32_t cut = 0; cut < n2; cut++) {
		assert_int_equal(parse_copy(buf, n1 + cut, &a), (int)n1);
		assert_int_equal(a.seq, 1);
		assert_int_equal(parse_copy(buf + n1, cut, &a), -EBADMSG);
	}
}

static uint32_t rnd_state;

static uint32_t rnd(void)
{
	/* xorshift32: the same sequence on every libc. */
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static void test_mutated(void **state)
{
	int accepted = 0;

	rnd_state = 0xac4ed;
	for (int i = 0; i < 20000; i++) {
		char buf[BUF] = { 0 };
		struct gl_nlsock_ack a;
		uint32_t n = put_err(buf, &(struct err_spec){ .error = -EINVAL, .capped = rnd() % 2,
							      .tlvs = true, .msg = "some text",
							      .offs = true, .offset = 3 });
		int flips = 1 + (int)(rnd() % 4), r;

		for (int k = 0; k < flips; k++)
			buf[rnd() % n] = (char)rnd();
		r = parse_copy(buf, n, &a);
		if (r < 0) {
			assert_int_equal(r, -EBADMSG);
			continue;
		}
		accepted++;
		assert_true(r >= 20 && (uint32_t)r <= n);
		assert_true(a.error <= 0 && a.error > -4096);
		assert_non_null(memchr(a.msg, 0, sizeof(a.msg)));
	}
	print_message("mutated: %d of 20000 accepted\n", accepted);
	assert_true(accepted > 1000);
	assert_true(accepted < 19000);
}

/* ---- the transport, against this netns's kernel ---- */

static void test_talk_kernel(void **state)
{
	_cleanup_nlsock_ struct gl_nlsock *s = NULL;
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	assert_int_equal(gl_nlsock_open(NETLINK_ROUTE, &s), 0);
	/* Deleting a link that does not exist: the kernel's own -ENODEV. */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = gl_nlsock_seq(s);
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_index = 999999;
	assert_int_equal(gl_nlsock_talk(s, nlh, NULL, NULL, &a), -ENODEV);
	assert_int_equal(a.error, -ENODEV);
	assert_int_equal(a.seq, nlh->nlmsg_seq);
	assert_int_equal(a.portid, gl_nlsock_portid(s));
	/* An over-long name fails the attribute policy: the extended ack says
	 * so and points at the attribute (after the header and ifinfomsg). */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = gl_nlsock_seq(s);
	mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "a-name-far-too-long-for-ifnamsiz");
	assert_int_equal(gl_nlsock_talk(s, nlh, NULL, NULL, &a), -ERANGE);
	print_message("kernel: \"%s\" at %u\n", a.msg, a.offset);
	assert_true(a.msg[0] != 0);
	assert_true(a.has_offset);
	assert_int_equal(a.offset, sizeof(*nlh) + sizeof(*ifi));
	/* An unknown link kind: a text, no attribute. */
	memset(buf, 0, sizeof(buf));
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
	nlh->nlmsg_seq = gl_nlsock_seq(s);
	mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, "gltest0");
	{
		struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);

		mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "no-such-kind");
		mnl_attr_nest_end(nlh, li);
	}
	assert_int_equal(gl_nlsock_talk(s, nlh, NULL, NULL, &a), -EOPNOTSUPP);
	print_message("kernel: \"%s\"\n", a.msg);
	assert_true(a.msg[0] != 0);
}

static int count_cb(const struct nlmsghdr *nlh, void *data)
{
	(*(int *)data)++;
	return 0;
}

static void test_dump_kernel(void **state)
{
	_cleanup_nlsock_ struct gl_nlsock *s = NULL;
	char buf[BUF] = { 0 };
	struct gl_nlsock_ack a;
	struct nlmsghdr *nlh;
	int n = 0;

	assert_int_equal(gl_nlsock_open(NETLINK_ROUTE, &s), 0);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = gl_nlsock_seq(s);
	mnl_nlmsg_put_extra_header(nlh, sizeof(struct ifinfomsg));
	assert_int_equal(gl_nlsock_talk(s, nlh, count_cb, &n, &a), 0);
	assert_true(a.done);
	assert_true(n >= 1);   /* lo at least */
}

static void test_recv_timeout(void **state)
{
	_cleanup_nlsock_ struct gl_nlsock *s = NULL;
	struct gl_nlsock_rx rx = { 0 };

	assert_int_equal(gl_nlsock_open(NETLINK_ROUTE, &s), 0);
	/* Nothing asked, nothing comes: the wait ends. */
	gl_nlsock_set_timeout(s, 50);
	assert_int_equal(gl_nlsock_recv(s, &rx, true), -ETIMEDOUT);
	assert_int_equal(gl_nlsock_recv(s, &rx, false), -EAGAIN);
	assert_int_equal(gl_nlsock_open(NETLINK_GENERIC + 1000, &s), -EPROTONOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_capped_tlvs),
		cmocka_unit_test(test_capped_no_tlvs),
		cmocka_unit_test(test_uncapped),
		cmocka_unit_test(test_tlvs_flag_decides),
		cmocka_unit_test(test_error_sign),
		cmocka_unit_test(test_done),
		cmocka_unit_test(test_wrong_type),
		cmocka_unit_test(test_bad_nlmsg_len),
		cmocka_unit_test(test_uncapped_bad_copy_len),
		cmocka_unit_test(test_uncapped_short_copy_not_tlvs),
		cmocka_unit_test(test_bad_tlvs),
		cmocka_unit_test(test_truncated_every_byte),
		cmocka_unit_test(test_multi),
		cmocka_unit_test(test_multi_second_truncated),
		cmocka_unit_test(test_mutated),
	};
	const struct CMUnitTest kernel[] = {
		cmocka_unit_test(test_talk_kernel),
		cmocka_unit_test(test_dump_kernel),
		cmocka_unit_test(test_recv_timeout),
	};
	int failed = cmocka_run_group_tests_name("pure", pure, NULL, NULL);

	return failed + cmocka_run_group_tests_name("kernel", kernel, unit_own_netns, NULL);
}
