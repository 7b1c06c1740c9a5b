/* The `ipam` object of a network config for gamelan-ipam: host-local's and
 * whereabouts' field names, plus gamelan's holds, pins, store and DNS. */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "cni/cni.h"
#include "base/err.h"
#include "base/ip.h"

#define GL_IPAM_MAX_POOLS 8          /* range sets: one address each */
#define GL_IPAM_MAX_RANGES 16        /* ranges in one range set */
#define GL_IPAM_MAX_EXCLUDES 64
#define GL_IPAM_MAX_PINS 4096
#define GL_IPAM_DEFAULT_DB "/var/lib/gamelan/ipam.db"
#define GL_IPAM_DEFAULT_HOLD_MS (24LL * 3600 * 1000)
#define GL_IPAM_DEFAULT_CONFLICT_HOLD_MS (10LL * 60 * 1000)

/* One contiguous range inside a subnet. */
struct gl_ipam_range {
	struct gl_prefix subnet;     /* host bits cleared */
	struct gl_ip start;          /* first address handed out */
	struct gl_ip end;            /* last address handed out */
	bool has_gateway;
	struct gl_ip gateway;
};

/* A range set ("pool"): the allocator gives one address from it per
 * attachment; its ranges share one address family. */
struct gl_ipam_pool {
	struct gl_ipam_range ranges[GL_IPAM_MAX_RANGES];
	int n_ranges;
	int family;
};

/* An admin pin from the config: identity -> one address per pool. */
struct gl_ipam_pin {
	char *identity;              /* owned */
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	int pool[GL_IPAM_MAX_POOLS]; /* the pool each of ips lies in */
	int n_ips;
};

#define GL_IPAM_DEFAULT_KUBE_NAMESPACE "gamelan-system"
#define GL_IPAM_NAMESPACE_MAX 64     /* a DNS-1123 label and its NUL */

struct gl_ipam_store_conf {
	char type[16];               /* "sqlite" | "kubernetes" */
	char path[PATH_MAX];         /* sqlite: the database file */
	char kubeconfig[PATH_MAX];   /* kubernetes: "" = in-cluster (or $KUBECONFIG) */
	char namespace[GL_IPAM_NAMESPACE_MAX]; /* kubernetes: where the IPReservations live */
};

struct gl_ipam_conf {
	char network[GL_CNI_NAME_MAX];     /* network_name, else the config's name */
	struct gl_ipam_pool pools[GL_IPAM_MAX_POOLS];
	int n_pools;
	struct gl_prefix excludes[GL_IPAM_MAX_EXCLUDES];
	int n_excludes;
	int64_t hold_ms;             /* INT64_MAX: forever */
	int64_t conflict_hold_ms;
	struct gl_ipam_pin *pins;    /* owned */
	int n_pins;
	struct gl_ipam_store_conf store;
	struct gl_cni_route routes[GL_CNI_MAX_ROUTES];
	int n_routes;
	struct gl_cni_dns dns;
};

/* Parse `ipam` (the object itself) of the network called `net_name`.
 * Every error is GL_ERR_INVALID_CONFIG naming the field; unknown fields are
 * ignored, as the reference plugins do. ret is filled only on success and
 * must be freed with gl_ipamconf_free. */
int gl_ipamconf_parse(json_object *ipam, const char *net_name, struct gl_ipam_conf *ret,
		      struct gl_err *err);
/* Parse a whole network config (the `ipam` key inside it). */
int gl_ipamconf_parse_netconf(json_object *netconf, struct gl_ipam_conf *ret, struct gl_err *err);
void gl_ipamconf_free(struct gl_ipam_conf *c);

/* The pool whose ranges' subnets contain ip, or -1. */
int gl_ipamconf_pool_of(const struct gl_ipam_conf *c, const struct gl_ip *ip);
/* The range of pool `pool` whose subnet contains ip, or NULL. */
const struct gl_ipam_range *gl_ipamconf_range_of(const struct gl_ipam_conf *c, int pool,
						 const struct gl_ip *ip);
/* The config pin of identity, or NULL. */
const struct gl_ipam_pin *gl_ipamconf_pin_of(const struct gl_ipam_conf *c, const char *identity);
/* Whether ip is inside an `exclude` prefix. */
bool gl_ipamconf_excluded(const struct gl_ipam_conf *c, const struct gl_ip *ip);
/* Whether ip may never be handed out in its subnet: the IPv4 network or
 * broadcast address, the IPv6 subnet-router anycast address, a gateway. */
bool gl_ipamconf_reserved(const struct gl_ipam_conf *c, int pool, const struct gl_ip *ip);
/* Whether s is a DNS-1123 label (a Kubernetes namespace name). */
bool gl_ipamconf_dns_label_valid(const char *s);
