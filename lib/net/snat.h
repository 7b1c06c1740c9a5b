/* In-pod source NAT (gamelan-snat's in-pod mode; a Docker driver's snat
 * option): in a container's netns, one table of its own
 * (`inet gamelan-snat-<ifname>`) whose chain rewrites the source of packets
 * arriving on the LAN interface from outside the LAN prefixes to the LAN
 * gateway (conntrack reverses it on replies), or drops them when disabled.
 *
 * The config model, its checks and the batches are pure; install, remove
 * and verify are one batch or one dump inside a netns the caller opened.
 * A config is made by gl_snat_names, gl_snat_conf_parse_json, defaults
 * (gl_snat_conf_add_lan, gl_snat_conf_default_gw), then
 * gl_snat_conf_finish; gl_snat_cni_conf_parse does all of that for a CNI
 * request, with the defaults from prevResult. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"
#include "base/ip.h"
#include "base/json.h"
#include "cni/cni.h"
#include "net/nft.h"

#define GL_SNAT_TABLE_PREFIX "gamelan-snat-"
#define GL_SNAT_CHAIN_NAT "input"      /* type nat hook input: source rewrite */
#define GL_SNAT_CHAIN_DROP "drop"      /* type filter hook input: disabled mode */
#define GL_SNAT_PRIO_NAT 100           /* NF_IP_PRI_NAT_SRC, nft's "srcnat" */
#define GL_SNAT_PRIO_DROP 0            /* nft's "filter" */
#define GL_SNAT_MAX_LAN 32
#define GL_SNAT_MAX_PORTS 64
/* nft(8) reads comments of at most this many bytes (NUL included). */
#define GL_SNAT_COMMENT_MAX 128
#define GL_SNAT_TABLE_MAX (sizeof(GL_SNAT_TABLE_PREFIX) + IFNAMSIZ)

/* One "ports" entry: a protocol, and a port or a range of them. */
struct gl_snat_port {
	uint8_t proto;   /* IPPROTO_UDP, IPPROTO_TCP or IPPROTO_SCTP */
	uint16_t first;  /* 0: every port of proto */
	uint16_t last;   /* == first for a single port */
};

struct gl_snat_conf {
	char table[GL_SNAT_TABLE_MAX];          /* "gamelan-snat-<ifname>" */
	char comment[GL_SNAT_COMMENT_MAX];      /* "gamelan:<owner>:<ifname>" */
	char ifname[IFNAMSIZ];                  /* where WAN packets arrive (iifname) */
	struct gl_prefix lan[GL_SNAT_MAX_LAN];  /* masked; both families may appear */
	int n_lan;
	/* Per family (0 IPv4, 1 IPv6): the address WAN sources become. has_gw
	 * is what the config gave until gl_snat_conf_finish, which also sets
	 * it for a gateway taken from the defaults (gw_default). */
	bool has_gw[2];
	bool gw_default[2];
	struct gl_ip gw[2];
	struct gl_snat_port ports[GL_SNAT_MAX_PORTS];
	int n_ports;                            /* 0: every port, one rule per family */
	bool disabled;                          /* drop WAN traffic instead */
};

static inline int gl_snat_family_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

/* ---- the config (pure) ---- */

/* Table and comment of an attachment: owner (a container or endpoint ID,
 * cut to fit the comment) and the interface name the table is named after. */
int gl_snat_names(const char *owner, const char *ifname, struct gl_snat_conf *c, struct gl_err *err);
/* The "lan", "gateway" and "ports" fields of o (code 7 on error). Returns 1
 * when o gives lan, 0 when the defaults must. */
int gl_snat_conf_parse_json(json_object *o, struct gl_snat_conf *c, struct gl_err *err);
/* Add a lan prefix (masked; a duplicate is ignored). */
int gl_snat_conf_add_lan(struct gl_snat_conf *c, const struct gl_prefix *p, struct gl_err *err);
/* Offer a default gateway: kept for its family unless the config or an
 * earlier default gave one. */
void gl_snat_conf_default_gw(struct gl_snat_conf *c, const struct gl_ip *gw);
/* The checks once the defaults are in: a lan prefix at least, and per
 * family of lan a gateway inside it (none needed when disabled). from names
 * where the defaults came from in messages ("prevResult"). */
int gl_snat_conf_finish(struct gl_snat_conf *c, const char *from, struct gl_err *err);
/* True when the family has at least one lan prefix. */
bool gl_snat_conf_has_family(const struct gl_snat_conf *c, int family);
/* The number of rules an install makes: one per family and port entry. */
int gl_snat_conf_rule_count(const struct gl_snat_conf *c);
/* The chain the rules live in: GL_SNAT_CHAIN_DROP when disabled, else _NAT. */
const char *gl_snat_chain(const struct gl_snat_conf *c);

/* gl_snat_names for a CNI request: CNI_CONTAINERID and CNI_IFNAME (code 4
 * when they are not valid). What DEL needs, with no config. */
int gl_snat_cni_names(const struct gl_cni_req *req, struct gl_snat_conf *ret, struct gl_err *err);
/* The config of an ADD or CHECK: the network config's fields, disabled from
 * runtimeConfig or args.cni, the interface and the defaults from
 * prevResult (code 7 on error). ret is written only on success. */
int gl_snat_cni_conf_parse(const struct gl_cni_req *req, struct gl_snat_conf *ret, struct gl_err *err);

/* ---- the batches (pure) and the kernel ---- */

/* The install transaction: the table replaced whole, so a failure leaves
 * nothing half-made and a retry no duplicate. */
int gl_snat_build_add(const struct gl_snat_conf *c, struct gl_nft_batch *b, struct gl_err *err);
/* The removal: table inet `table` gone, whether or not it was there. */
int gl_snat_build_del(const char *table, struct gl_nft_batch *b, struct gl_err *err);
/* Compare the rules a dump of c's table gave with the ones c asks for. */
int gl_snat_check_rules(const struct gl_snat_conf *c, const struct gl_nft_rule_info *rules, size_t n,
			struct gl_err *err);
/* Install c's table inside the netns ns_fd. */
int gl_snat_install(int ns_fd, const struct gl_snat_conf *c, struct gl_err *err);
/* Remove table inside the netns ns_fd; a missing table is no error. */
int gl_snat_remove(int ns_fd, const char *table, struct gl_err *err);
/* Read c's table back from the netns ns_fd (ns_name, its path, for
 * messages) and check it (code 7 when it differs or is missing). */
int gl_snat_verify(int ns_fd, const char *ns_name, const struct gl_snat_conf *c, struct gl_err *err);
