/* gamelan-snat, in-pod mode: a chained CNI plugin that makes WAN clients
 * arriving on the pod's LAN interface look like LAN clients (their source
 * becomes the LAN gateway), or keeps them out when disabled. */
#pragma once
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "cni/cni.h"
#include "base/ip.h"

#define SNAT_TABLE_PREFIX "gamelan-snat-"
#define SNAT_CHAIN_NAT "input"      /* type nat hook input: source rewrite */
#define SNAT_CHAIN_DROP "drop"      /* type filter hook input: disabled mode */
#define SNAT_PRIO_NAT 100           /* NF_IP_PRI_NAT_SRC, nft's "srcnat" */
#define SNAT_PRIO_DROP 0            /* nft's "filter" */
#define SNAT_MAX_LAN 32
#define SNAT_MAX_PORTS 64
/* nft(8) reads comments of at most this many bytes (NUL included). */
#define SNAT_COMMENT_MAX 128
#define SNAT_TABLE_MAX (sizeof(SNAT_TABLE_PREFIX) + IFNAMSIZ)

/* One "ports" entry: a protocol, and a port or a range of them. */
struct snat_port {
	uint8_t proto;   /* IPPROTO_UDP, IPPROTO_TCP or IPPROTO_SCTP */
	uint16_t first;  /* 0: every port of proto */
	uint16_t last;   /* == first for a single port */
};

struct snat_conf {
	char table[SNAT_TABLE_MAX];          /* "gamelan-snat-<CNI_IFNAME>" */
	char comment[SNAT_COMMENT_MAX];      /* "gamelan:<containerID>:<CNI_IFNAME>" */
	char ifname[IFNAMSIZ];               /* where WAN packets arrive (iifname) */
	struct gl_prefix lan[SNAT_MAX_LAN];  /* masked; both families may appear */
	int n_lan;
	/* Per family (0 IPv4, 1 IPv6): the address WAN sources become. */
	bool has_gw[2];
	struct gl_ip gw[2];
	struct snat_port ports[SNAT_MAX_PORTS];
	int n_ports;                         /* 0: every port, one rule per family */
	bool disabled;                       /* drop WAN traffic instead */
};

static inline int snat_family_index(int family)
{
	return family == AF_INET6 ? 1 : 0;
}

/* The table and comment of an attachment: what DEL needs, with no config. */
int snat_names(const struct gl_cni_req *req, struct snat_conf *ret, struct gl_err *err);
/* Parse and validate the config of an ADD or CHECK, with the defaults taken
 * from prevResult (code 7 on error). */
int snat_conf_parse(const struct gl_cni_req *req, struct snat_conf *ret, struct gl_err *err);
/* True when the family has at least one lan prefix. */
bool snat_conf_has_family(const struct snat_conf *c, int family);
/* The number of rules ADD installs: one per family and port entry. */
int snat_conf_rule_count(const struct snat_conf *c);

int snat_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err);
int snat_del(struct gl_cni_req *req, struct gl_err *err);
int snat_check(struct gl_cni_req *req, struct gl_err *err);
int snat_status(struct gl_cni_req *req, struct gl_err *err);
int snat_gc(struct gl_cni_req *req, struct gl_err *err);
