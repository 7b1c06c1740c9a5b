/* nftables through libnftnl + libmnl: rule composition and batch building
 * (pure: bytes into a buffer, unit-tested by parsing them back) and a thin
 * NETLINK_NETFILTER sender. Everything works on the netns the process is in.
 *
 * Typical use:
 *	_cleanup_nft_batch_ struct gl_nft_batch b = {0};
 *	gl_nft_batch_begin(&b, 0, 0, err);
 *	gl_nft_batch_add_table(&b, NFPROTO_INET, "t", err);
 *	gl_nft_batch_add_chain(&b, NFPROTO_INET, "t", "pre", "nat", NF_INET_PRE_ROUTING, -100, err);
 *	r = gl_nft_rule_new(NFPROTO_INET, "t", "pre", "gamelan:x", &rule, err);
 *	gl_nft_rule_match_iifname(rule, "wan0"); ... gl_nft_rule_dnat(rule, &ip, 10999);
 *	gl_nft_batch_add_rule(&b, rule, err);
 *	gl_nft_batch_end(&b, err);                   (closes the batch)
 *	gl_nft_send(&b, err);                        (one atomic transaction)
 *	gl_nft_batch_done(&b);
 */
#pragma once
#include <libmnl/libmnl.h>
#include <netinet/in.h>      /* before linux/netfilter.h: glibc first */
#include <linux/netfilter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "base/ip.h"

/* Table, chain names: the kernel's NFT_NAME_MAXLEN (256) counts the NUL. */
#define GL_NFT_NAME_MAX 255
/* A rule comment: the kernel keeps at most 256 bytes of user data; the
 * comment TLV costs 2 bytes and the NUL one. nft itself refuses to *write*
 * comments over 128 characters but lists longer ones. */
#define GL_NFT_COMMENT_MAX 253
/* Upper bound of one message we build (a rule is limited to
 * GL_NFT_RULE_EXPRS_MAX expressions, each well under 200 bytes). */
#define GL_NFT_MSG_MAX 8192
#define GL_NFT_RULE_EXPRS_MAX 32

/* ---- rules ---- */

/* A rule being composed: wraps a struct nftnl_rule. Every helper below adds
 * expressions and returns 0 or a negative errno; the first failure is also
 * remembered in the rule and makes gl_nft_batch_add_rule fail, so callers
 * may chain helpers and check once. */
struct gl_nft_rule;

/* New empty rule for family (NFPROTO_INET, NFPROTO_IPV4, ...), table and
 * chain, with an optional comment (NULL = none). -EINVAL / -ENAMETOOLONG on
 * bad names or an over-long comment (err says which). */
int gl_nft_rule_new(int family, const char *table, const char *chain, const char *comment,
		    struct gl_nft_rule **ret, struct gl_err *err);
void gl_nft_rule_free(struct gl_nft_rule *r);
static inline void gl_nft_rule_freep(struct gl_nft_rule **r) { if (*r) gl_nft_rule_free(*r); }
#define _cleanup_nft_rule_ __attribute__((cleanup(gl_nft_rule_freep)))

/* `iifname NAME` / `oifname NAME` (meta load, 16 bytes zero padded, cmp eq). */
int gl_nft_rule_match_iifname(struct gl_nft_rule *r, const char *ifname);
int gl_nft_rule_match_oifname(struct gl_nft_rule *r, const char *ifname);
/* `meta nfproto ipv4|ipv6` for AF_INET / AF_INET6. The address and NAT
 * helpers add this themselves (once per rule) when the rule's family is
 * inet, as nft does. */
int gl_nft_rule_match_nfproto(struct gl_nft_rule *r, int af);
/* `ip|ip6 saddr|daddr [!=] PREFIX`: a full-length prefix is an address
 * compare; a shorter one loads, masks (bitwise) and compares. */
int gl_nft_rule_match_saddr(struct gl_nft_rule *r, const struct gl_prefix *p, bool negate);
int gl_nft_rule_match_daddr(struct gl_nft_rule *r, const struct gl_prefix *p, bool negate);
/* Source not in any of n prefixes (all of one family): n negated matches. */
int gl_nft_rule_match_saddr_not_in(struct gl_nft_rule *r, const struct gl_prefix *p, size_t n);
/* `meta l4proto P` (IPPROTO_UDP, IPPROTO_TCP, ...). */
int gl_nft_rule_match_l4proto(struct gl_nft_rule *r, uint8_t proto);
/* `meta l4proto P th dport PORT` (transport header offset 2, 2 bytes). */
int gl_nft_rule_match_dport(struct gl_nft_rule *r, uint8_t proto, uint16_t port);
/* `ct status dnat` (ct status & IPS_DST_NAT != 0). */
int gl_nft_rule_match_ct_dnat(struct gl_nft_rule *r);
/* `counter`. */
int gl_nft_rule_counter(struct gl_nft_rule *r);
/* `snat ip|ip6 to ADDR`. */
int gl_nft_rule_snat(struct gl_nft_rule *r, const struct gl_ip *to);
/* `dnat ip|ip6 to ADDR[:PORT]` (port 0 = keep the port). */
int gl_nft_rule_dnat(struct gl_nft_rule *r, const struct gl_ip *to, uint16_t port);
/* `drop` / `accept`. */
int gl_nft_rule_drop(struct gl_nft_rule *r);
int gl_nft_rule_accept(struct gl_nft_rule *r);
/* The underlying libnftnl rule (owned by r), for tests and extensions. */
struct nftnl_rule *gl_nft_rule_nftnl(struct gl_nft_rule *r);

/* ---- batches ---- */

/* One NFNL_MSG_BATCH_BEGIN .. END transaction; the buffer grows as needed.
 * Each message carries NLM_F_ACK and its own seq; seq_what remembers what
 * each message was, so an error names the failing message. */
struct gl_nft_batch_msg {
	uint32_t seq;
	char what[168];            /* "add rule inet t c \"comment\"", for errors */
};

struct gl_nft_batch {
	char *buf;                 /* the framed messages, grown as needed */
	size_t len, size;          /* used and allocated bytes of buf */
	uint32_t seq0;             /* seq of BATCH_BEGIN */
	uint32_t seq;              /* next seq */
	uint32_t genid;            /* optional NFNL_BATCH_GENID (0 = none) */
	struct gl_nft_batch_msg *msgs;   /* the messages between begin and end */
	size_t n, cap;
	bool ended;
	int error;                 /* first build error (sticky), 0 if none */
};

/* Start a batch (writes BATCH_BEGIN). seq0 = 0 picks one from the clock.
 * genid != 0 makes the kernel refuse the batch with -ERESTART when the
 * ruleset changed since that generation (gl_nft_genid). */
int gl_nft_batch_begin(struct gl_nft_batch *b, uint32_t seq0, uint32_t genid, struct gl_err *err);
/* Write BATCH_END; afterwards nothing can be added. */
int gl_nft_batch_end(struct gl_nft_batch *b, struct gl_err *err);
/* Free the buffers (b may be zeroed, begun or ended). */
void gl_nft_batch_done(struct gl_nft_batch *b);
static inline void gl_nft_batch_donep(struct gl_nft_batch *b) { gl_nft_batch_done(b); }
#define _cleanup_nft_batch_ __attribute__((cleanup(gl_nft_batch_donep)))
/* Messages between begin and end (0 = the batch changes nothing). */
static inline size_t gl_nft_batch_count(const struct gl_nft_batch *b) { return b->n; }
/* The bytes to send (after end). */
const void *gl_nft_batch_data(const struct gl_nft_batch *b);
size_t gl_nft_batch_len(const struct gl_nft_batch *b);

/* add table (no EXCL: an existing table is fine). */
int gl_nft_batch_add_table(struct gl_nft_batch *b, int family, const char *table,
			   struct gl_err *err);
/* delete table (-ENOENT from the kernel if it is missing). */
int gl_nft_batch_del_table(struct gl_nft_batch *b, int family, const char *table,
			   struct gl_err *err);
/* delete table if it exists: add then delete in the same batch (nft's idiom
 * before `destroy`), so a missing table is not an error. */
int gl_nft_batch_destroy_table(struct gl_nft_batch *b, int family, const char *table,
			       struct gl_err *err);
/* add base chain: type "nat" | "filter" | "route", hook NF_INET_*, priority;
 * policy accept. An existing identical chain is fine. */
int gl_nft_batch_add_chain(struct gl_nft_batch *b, int family, const char *table,
			   const char *chain, const char *type, int hook, int prio,
			   struct gl_err *err);
/* append rule r (r stays the caller's). -EINVAL if r had a build error. */
int gl_nft_batch_add_rule(struct gl_nft_batch *b, const struct gl_nft_rule *r,
			  struct gl_err *err);
/* delete rule by handle. */
int gl_nft_batch_del_rule(struct gl_nft_batch *b, int family, const char *table,
			  const char *chain, uint64_t handle, struct gl_err *err);

/* ---- the kernel (thin) ---- */

/* Send an ended batch over a fresh NETLINK_NETFILTER socket and read every
 * ack (bounded by a receive timeout). 0 when the kernel committed it; else
 * the kernel's negative errno, with err (GL_ERR_NETLINK) naming the failing
 * message and the kernel's extack text. A batch with no message between
 * begin and end is not sent (returns 0). */
int gl_nft_send(const struct gl_nft_batch *b, struct gl_err *err);

/* One rule of a dump. */
struct gl_nft_rule_info {
	char chain[GL_NFT_NAME_MAX + 1];
	uint64_t handle;                       /* 0 when absent (a batch message; a dump has it) */
	char comment[GL_NFT_COMMENT_MAX + 1];  /* "" when the rule has none */
	uint32_t position;                     /* 0 when absent */
};

/* Every rule of family/table: a malloc'd array (free() it) in *ret, count in
 * *ret_n. A missing table -> -ENOENT. genid (may be NULL) receives the
 * ruleset generation the dump saw, for gl_nft_batch_begin. */
int gl_nft_rules_dump(int family, const char *table, struct gl_nft_rule_info **ret,
		      size_t *ret_n, uint32_t *ret_genid, struct gl_err *err);
/* 1 if family/table exists, 0 if not, negative errno on failure. */
int gl_nft_table_exists(int family, const char *table, struct gl_err *err);
/* The ruleset generation id now. */
int gl_nft_genid(uint32_t *ret, struct gl_err *err);

/* Parse a rule message (from a dump, or of our own batch: no handle there,
 * handle 0) into info: chain (required), handle, position and the comment,
 * read straight from the top-level attributes (expressions are skipped, not
 * parsed). Every length is checked; a malformed message -> -EBADMSG. */
int gl_nft_rule_info_parse(const struct nlmsghdr *nlh, struct gl_nft_rule_info *ret);
