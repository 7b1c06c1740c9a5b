/* gamelan-docker's model and its pure parts: the records it keeps (pools,
 * networks, endpoints) and their JSON in the store, the network options
 * Docker's built-in macvlan takes (with its error texts), and the reading
 * of dockerd's container list that names the container an address is for.
 * Nothing here touches the kernel, the store or a socket: the unit tests
 * drive all of it (tests/unit/test_docker_wire.c). */
#pragma once
#include <json-c/json.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"
#include "base/ip.h"
#include "cni/cni.h"

#define DK_ID_MAX 65                 /* a Docker network or endpoint ID: 64 hex */
#define DK_POOL_ID_MAX 96            /* "gamelan:" + an IPv4 or IPv6 prefix */
#define DK_AUX_MAX 32
#define DK_NAME_MAX 256              /* a container name: Docker's are shorter */
#define DK_SANDBOX_MAX 256
#define DK_POOL_PREFIX "gamelan:"
#define DK_ANON_PREFIX "anon-"       /* an address whose container was not named */
#define DK_LINK_PREFIX "gl"          /* + 12 hex of the endpoint ID: the link Docker moves */
#define DK_IFNAME "eth0"             /* the rows' ifname: one address per container and network */

/* An address pool (RequestPool): its rows in the store are keyed by the pool
 * ID, which is the subnet's, so that a network removed and made again keeps
 * every name's address. */
struct dk_pool {
	char id[DK_POOL_ID_MAX];
	struct gl_prefix subnet;
	bool has_range;
	struct gl_prefix range;          /* --ip-range */
	bool has_gw;
	struct gl_ip gw;                 /* learned from the gateway's RequestAddress */
	struct gl_ip aux[DK_AUX_MAX];    /* --aux-address: never handed out */
	int n_aux;
	int64_t hold_ms;                 /* how long a removed name's address stays its own */
	char network_id[DK_ID_MAX];      /* the network on it, "" before CreateNetwork */
};

/* A network (CreateNetwork) of this driver. */
struct dk_net {
	char id[DK_ID_MAX];
	char parent[IFNAMSIZ];           /* -o parent as given */
	char master[IFNAMSIZ];           /* the link macvlans hang on (parent's link for a VLAN) */
	uint16_t vlan;                   /* 0: parent is a plain link */
	bool made_parent;                /* the driver created the VLAN link: network rm deletes it */
	uint32_t mode;                   /* MACVLAN_MODE_* */
	bool snat;                       /* -o snat=true */
	struct gl_prefix subnet;
	bool has_gw;
	struct gl_ip gw;
	char pool_id[DK_POOL_ID_MAX];    /* the gamelan pool, "" under another IPAM driver */
	char name[DK_NAME_MAX];          /* Docker's name for it, learned from dockerd; "" until then */
};

/* An endpoint (CreateEndpoint .. DeleteEndpoint). */
struct dk_ep {
	char id[DK_ID_MAX];
	char net[DK_ID_MAX];
	struct gl_prefix addr;
	uint8_t mac[6];
	char sandbox[DK_SANDBOX_MAX];    /* Join's SandboxKey, "" before */
	char ifname[IFNAMSIZ];           /* the name in the sandbox, once SNAT looked it up */
	bool snat;                       /* the in-container SNAT table is installed */
};

/* ---- options (Docker's built-in macvlan's, with its texts) ---- */

/* -o parent: "eth0" or "eth0.10"; *ret_vlan 0 for a plain link. The texts
 * of the built-in for a bad VLAN suffix. */
int dk_parent_parse(const char *parent, char ret_master[IFNAMSIZ], uint16_t *ret_vlan,
		    struct gl_err *err);
/* -o macvlan_mode: bridge (also ""), private, vepa, passthru. */
int dk_mode_parse(const char *s, uint32_t *ret_mode, struct gl_err *err);
const char *dk_mode_str(uint32_t mode);
/* CreateNetwork's request into n (id, options, IPv4Data); the pool it
 * names is not checked here. Bad input: code 7, a message for `docker`. */
int dk_net_parse(json_object *req, struct dk_net *ret, struct gl_err *err);

/* RequestPool's Pool/SubPool/V6 into p (hold from Options "hold"). */
int dk_pool_parse(json_object *req, struct dk_pool *ret, struct gl_err *err);
/* "gamelan:<subnet>" */
void dk_pool_id(const struct gl_prefix *subnet, char buf[DK_POOL_ID_MAX]);

/* ---- records in the store (JSON) ---- */

json_object *dk_pool_to_json(const struct dk_pool *p);
int dk_pool_from_json(json_object *o, struct dk_pool *ret, struct gl_err *err);
json_object *dk_net_to_json(const struct dk_net *n);
int dk_net_from_json(json_object *o, struct dk_net *ret, struct gl_err *err);
json_object *dk_ep_to_json(const struct dk_ep *e);
int dk_ep_from_json(json_object *o, struct dk_ep *ret, struct gl_err *err);

/* ---- naming the container (dockerd 20.10 passes no name to IPAM) ---- */

#define DK_HOLDERS_MAX 256

/* What GET /containers/json?all=1&filters={"network":[ID]} tells. */
struct dk_who {
	int n_candidates;                /* not running, no endpoint on the network yet */
	char name[DK_NAME_MAX];          /* the one candidate's name (no '/'), when exactly one */
	char cid[GL_CNI_ID_MAX];         /* its container ID */
	/* Every container ID the list has: a Bound row whose container is not
	 * among them is provably gone. n_ids < 0: more than DK_HOLDERS_MAX. */
	char ids[DK_HOLDERS_MAX][DK_ID_MAX];
	int n_ids;
};

/* Read the list (a JSON array) of the containers on network_name (a
 * starting container's entry has no NetworkID yet: it is found by the
 * network's name). -EBADMSG for a body that is not Docker's list. */
int dk_who_parse(const char *body, size_t len, const char *network_name, struct dk_who *ret);
/* GET /networks/{id}: its "Name". -EBADMSG when absent or not a name. */
int dk_net_name_parse(const char *body, size_t len, char ret_name[DK_NAME_MAX]);
/* GET /networks/{id}: the name of endpoint ep_id's container ("Containers":
 * {"<cid>": {"Name", "EndpointID"}} or "ep-<id>" keys); -ENOENT when absent. */
int dk_ep_name_parse(const char *body, size_t len, const char *ep_id, char ret_name[DK_NAME_MAX],
		     char ret_cid[GL_CNI_ID_MAX]);
/* GET /containers/json?filters={"id":[...]}: label key of the first
 * container listed, into buf. -ENOENT when it has none, -EBADMSG. */
int dk_label_parse(const char *body, size_t len, const char *key, char *buf, size_t size);
/* A Docker container name is [a-zA-Z0-9][a-zA-Z0-9_.-]*; a leading '/' is dropped. */
bool dk_name_valid(const char *name);
/* The link name for an endpoint: "gl" + its first 12 characters. */
void dk_link_name(const char *ep_id, char buf[IFNAMSIZ]);
/* A Docker ID: 1..64 lowercase hex digits. */
bool dk_id_valid(const char *id);
