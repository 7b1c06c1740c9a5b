/* The macvlan engine: give a container a macvlan interface on a host NIC
 * with a stable MAC, RFC 5227 conflict detection (IPv6: DAD) and
 * announcements. It knows nothing of IPAM: it is handed the addresses and
 * routes to configure and reports the ones the LAN answered for. Used by
 * gamelan-macvlan (CNI) and, later, the Docker driver. */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"
#include "base/ip.h"
#include "cni/cni.h"

#define GL_MACVLAN_DEFAULT_STATE_DIR "/var/lib/gamelan/macvlan"
#define GL_MACVLAN_DEFAULT_PROBE_MS 200
#define GL_MACVLAN_DEFAULT_RECENT_MS (5 * 60 * 1000)
#define GL_MACVLAN_PROBE_MAX_MS 10000
/* Where runtimes (ip netns, podman, containerd, CRI-O) name their netns. */
#define GL_MACVLAN_NETNS_DIR "/run/netns"

struct gl_macvlan_conf {
	char master[IFNAMSIZ];      /* "" = the default route's link */
	uint32_t mode;              /* MACVLAN_MODE_* */
	int mtu;                    /* 0 = the master's */
	bool has_mac;
	uint8_t mac[6];
	bool link_in_container;     /* the master is looked up in the container's netns */
	char ipam_type[64];         /* the config's ipam.type, "" = none; the engine ignores it */
	bool probe;
	int probe_wait_ms;
	int64_t probe_recent_ms;
	int stable_mac;             /* -1 = default (on when the identity is sticky) */
	char state_dir[PATH_MAX];
};

/* Parse and validate a network configuration object (the CNI config's
 * fields: master, mode, mtu, mac, linkInContainer, ipam.type, stableMac,
 * probe, stateDir); rc_mac (may be NULL or "") is the runtime's "mac"
 * capability and wins over args_mac (CNI_ARGS MAC=, may be NULL or ""),
 * which wins over "mac". Code 7 on error (4 for a bad args_mac); ret
 * written on success. */
int gl_macvlan_conf_parse(json_object *conf, const char *rc_mac, const char *args_mac,
			  struct gl_macvlan_conf *ret, struct gl_err *err);

/* Whom an interface is for. */
struct gl_macvlan_att {
	const char *netns;          /* path of the container's netns */
	const char *ifname;         /* its name there */
	const char *container_id;   /* names the link until it is renamed ifname (may be NULL) */
	const char *network;        /* network name (stable MAC, probe memory) */
	const char *identity;
	bool identity_sticky;       /* the identity outlives the container */
};

/* An interface being attached: made by gl_macvlan_create, freed by
 * gl_macvlan_free (which leaves the link; gl_macvlan_undo removes it). */
struct gl_macvlan;

/* Resolve the master, create the macvlan straight in the container's netns
 * under a temporary name derived from (container ID, ifname), which the
 * runtime's DEL also removes, rename it to att->ifname and bring it up.
 * Links a crash left in that netns (see gl_macvlan_del) are removed first.
 * conf and att (with their strings) must outlive *ret. Nothing is left
 * behind on failure. */
int gl_macvlan_create(const struct gl_macvlan_conf *conf, const struct gl_macvlan_att *att,
		      struct gl_macvlan **ret, struct gl_err *err);
/* Probe res's IPv4 addresses that this identity has not used here lately
 * (when the config probes), then add res's addresses and routes and wait
 * for IPv6 DAD. Returns 0 when configured (res's ips get interface 0), or
 * the number of addresses the LAN holds, put in ret_conflicts, with no
 * address left on the link; a negative errno on failure. */
int gl_macvlan_configure(struct gl_macvlan *m, struct gl_cni_result *res,
			 struct gl_ip ret_conflicts[GL_CNI_MAX_IPS], struct gl_err *err);
/* Announce res's addresses (gratuitous ARP / unsolicited NA, repeated from
 * a detached child), remember them as the identity's, and make the
 * interface res's only one. */
int gl_macvlan_announce(struct gl_macvlan *m, struct gl_cni_result *res, struct gl_err *err);
/* Delete the link that gl_macvlan_create made (its addresses go with it). */
void gl_macvlan_undo(struct gl_macvlan *m);
void gl_macvlan_free(struct gl_macvlan *m);
static inline void gl_macvlan_freep(struct gl_macvlan **m) { if (*m) gl_macvlan_free(*m); }
#define _cleanup_macvlan_ __attribute__((cleanup(gl_macvlan_freep)))

/* Remove att's interface without waiting for the kernel's delete: take its
 * addresses off, set it down and rename it to a retired name (so that an
 * ADD of the same netns and ifname may follow at once), then delete it from
 * a detached child, which also remembers the addresses as the identity's.
 * A passthru link is deleted before returning (the master holds one). Also
 * removes what a crash left in that netns: retired links, and the link an
 * ADD of this container made but did not rename. A netns or link that is
 * already gone is success. */
int gl_macvlan_del(const struct gl_macvlan_conf *conf, const struct gl_macvlan_att *att,
		   struct gl_err *err);
/* Delete the retired links a crash left (between DEL's rename and delete)
 * in every netns named under netns_dir (GL_MACVLAN_NETNS_DIR), from
 * detached children; *ret_removed gets their number. A missing directory
 * is success. */
int gl_macvlan_gc(const char *netns_dir, int *ret_removed, struct gl_err *err);
/* Is att's interface a macvlan as conf asks, up, with prev's MAC and
 * addresses? Code 3 when it is missing, 7 when it differs. */
int gl_macvlan_check(const struct gl_macvlan_conf *conf, const struct gl_macvlan_att *att,
		     const struct gl_cni_result *prev, struct gl_err *err);
/* Is the master usable (exists, up) from the current netns? Code 50 when
 * not. A master in the container (linkInContainer) is not checked: there
 * is no container to look in. */
int gl_macvlan_status(const struct gl_macvlan_conf *conf, struct gl_err *err);
