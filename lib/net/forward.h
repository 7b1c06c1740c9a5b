/* Router port-forwards (gamelan-snat's router mode; an operator's router
 * agent): WAN DNAT to a pinned LAN address, and SNAT of those forwarded
 * sources to the gateway's LAN address, in the table `inet gamelan-router`.
 * The kernel is the only state: every rule's comment carries its forward's
 * whole canonical spec, so a set is read back from one dump.
 *
 * The codec (JSON, rule comment, command-line options), the checks and the
 * plan (desired set vs. dump: delete by handle, add) are pure; the rest is
 * one dump and at most one batch, in the netns the process is in. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "base/ip.h"
#include "net/nft.h"

#define GL_FWD_TABLE "gamelan-router"
#define GL_FWD_CHAIN_DNAT "prerouting"   /* nat, hook prerouting, prio -100 */
#define GL_FWD_CHAIN_SNAT "postrouting"  /* nat, hook postrouting, prio 100 */
#define GL_FWD_PRIO_DNAT -100            /* NF_IP_PRI_NAT_DST, nft's "dstnat" */
#define GL_FWD_PRIO_SNAT 100             /* NF_IP_PRI_NAT_SRC, nft's "srcnat" */
#define GL_FWD_COMMENT_PREFIX "gamelan:fwd:"
#define GL_FWD_NAME_MAX 63
#define GL_FWD_SET_MAX 10000

/* The two rules of a forward; SNAT only when snat is set. */
enum gl_fwd_kind { GL_FWD_DNAT, GL_FWD_SNAT };

struct gl_fwd {
	char name[GL_FWD_NAME_MAX + 1];
	char wan_if[IFNAMSIZ];
	bool has_wan_addr;
	struct gl_ip wan_addr;
	uint8_t proto;          /* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t port;
	struct gl_ip to;
	uint16_t to_port;
	bool snat;
	bool has_lan_addr;
	struct gl_ip lan_addr;
};

/* A set of forwards: v owned, freed by gl_fwd_set_free. */
struct gl_fwd_set {
	struct gl_fwd *v;
	size_t n, cap;
};

void gl_fwd_set_free(struct gl_fwd_set *s);
/* Append a copy of f; -E2BIG beyond GL_FWD_SET_MAX. */
int gl_fwd_set_push(struct gl_fwd_set *s, const struct gl_fwd *f);

/* ---- one forward ---- */

/* 1..GL_FWD_NAME_MAX of A-Z a-z 0-9 . _ - */
bool gl_fwd_name_valid(const char *s);
/* "udp" / "tcp". */
const char *gl_fwd_proto_str(uint8_t proto);
/* A whole forward makes sense on its own; `what` names it in messages. */
int gl_fwd_validate(const struct gl_fwd *f, const char *what, struct gl_err *err);
/* The canonical comment, every field positional:
 * "gamelan:fwd:NAME WANIF WANADDR|* PROTO PORT TO TOPORT LANADDR|- snat|nosnat".
 * -ENAMETOOLONG when it does not fit size or a rule comment. */
int gl_fwd_comment(const struct gl_fwd *f, char *buf, size_t size);
/* The forward a comment of ours describes; -EINVAL when it is not one (or
 * not in canonical form, so a hand-edited rule never passes for ours). */
int gl_fwd_from_comment(const char *c, struct gl_fwd *ret);
/* Equal forwards have equal canonical comments. */
bool gl_fwd_equal(const struct gl_fwd *a, const struct gl_fwd *b);
/* `NAME --wan-if IF [--wan-addr IP] --proto udp|tcp --port N --to
 * LANIP[:PORT] [--lan-addr GWIP] [--no-snat]` (also --opt=value), as
 * `gamelan-snat router add` takes it. On error *ret_usage tells a usage
 * error (missing or unknown argument) from a bad value. */
int gl_fwd_from_args(int argc, char **argv, struct gl_fwd *ret, bool *ret_usage, struct gl_err *err);

/* ---- a set ---- */

/* Names unique, no two forwards catching the same packets; the earliest
 * conflict in the set is reported. */
int gl_fwd_set_check(const struct gl_fwd_set *s, struct gl_err *err);
/* Parse and check a whole {"forwards": [...]} document; nothing partial on
 * error (*ret untouched). */
int gl_fwd_set_parse(const char *buf, size_t len, struct gl_fwd_set *ret, struct gl_err *err);
/* The set in the document form gl_fwd_set_parse reads (malloc'd; NULL on
 * ENOMEM). */
char *gl_fwd_set_json(const struct gl_fwd_set *s);
/* The forwards the rules of our table describe, unique by name (the first
 * rule seen wins), in rule order; foreign rules are skipped. */
int gl_fwd_set_from_rules(const struct gl_nft_rule_info *rules, size_t n, struct gl_fwd_set *ret);

/* ---- the plan: a desired set vs. a dump ---- */

struct gl_fwd_want {
	const char *chain;
	const char *comment;     /* into plan.comments */
	size_t fwd;              /* index into the desired set */
	enum gl_fwd_kind kind;
	bool present;            /* a kernel rule matched it */
};

struct gl_fwd_plan {
	struct gl_fwd_want *want;  /* every desired rule, sorted by (chain, comment) */
	size_t n_want;
	char (*comments)[GL_NFT_COMMENT_MAX + 1];  /* one per desired forward */
	size_t *del;             /* indexes into the dump: rules to delete */
	size_t n_del;
	size_t n_add;            /* wants not present */
};

/* A kernel rule stays when it is a desired (chain, comment) not matched yet;
 * every other rule of the table goes; desired rules with no match are
 * added. O(n log n). */
int gl_fwd_plan_make(const struct gl_fwd_set *desired, const struct gl_nft_rule_info *rules,
		     size_t n_rules, struct gl_fwd_plan *ret);
void gl_fwd_plan_free(struct gl_fwd_plan *p);
/* The batch of a plan against the dump it was made from (checked against
 * generation genid, 0 = none); no message between begin and end when the
 * plan changes nothing. */
int gl_fwd_plan_batch(const struct gl_fwd_set *desired, const struct gl_nft_rule_info *rules,
		      const struct gl_fwd_plan *p, uint32_t genid, struct gl_nft_batch *b,
		      struct gl_err *err);

/* ---- the kernel ---- */

struct gl_fwd_stats {
	size_t added, deleted;   /* rules */
	size_t forwards;         /* forwards in the table afterwards */
};

/* Our table's rules (free() *ret); a missing table is an empty one. */
int gl_fwd_dump(struct gl_nft_rule_info **ret, size_t *ret_n, uint32_t *ret_genid, struct gl_err *err);
/* The forwards the kernel has. */
int gl_fwd_list(struct gl_fwd_set *ret, struct gl_err *err);
/* Make the kernel's forwards equal desired with one batch (none when
 * equal), retried when the ruleset changes between dump and batch. */
int gl_fwd_apply(const struct gl_fwd_set *desired, struct gl_fwd_stats *ret, struct gl_err *err);
/* Add f to the kernel's set; the same forward again is no change, another
 * one of its name -EEXIST, one catching the same packets -EINVAL. */
int gl_fwd_add(const struct gl_fwd *f, struct gl_fwd_stats *ret, struct gl_err *err);
/* Delete the rules of the forward `name`; *ret_rules gets their number.
 * -ENOENT when there is none. */
int gl_fwd_remove(const char *name, size_t *ret_rules, struct gl_err *err);
/* Delete the whole table, whether or not it exists. */
int gl_fwd_flush(struct gl_err *err);
