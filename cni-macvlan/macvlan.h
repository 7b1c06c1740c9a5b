/* gamelan-macvlan: the plugin's configuration and verbs. */
#pragma once
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "cni/cni.h"

#define MACVLAN_DEFAULT_STATE_DIR "/var/lib/gamelan/macvlan"
#define MACVLAN_DEFAULT_PROBE_MS 200
#define MACVLAN_DEFAULT_RECENT_MS (5 * 60 * 1000)
#define MACVLAN_PROBE_MAX_MS 10000

struct macvlan_conf {
	char master[IFNAMSIZ];      /* "" = the default route's link */
	uint32_t mode;              /* MACVLAN_MODE_* */
	int mtu;                    /* 0 = the master's */
	bool has_mac;
	uint8_t mac[6];
	bool link_in_container;
	char ipam_type[64];         /* "" = no IPAM */
	bool probe;
	int probe_wait_ms;
	int64_t probe_recent_ms;
	int stable_mac;             /* -1 = default (on when the identity is sticky) */
	char state_dir[PATH_MAX];
};

/* Parse and validate the network configuration of req (code 7 on error). */
int macvlan_conf_parse(const struct gl_cni_req *req, struct macvlan_conf *ret, struct gl_err *err);

int macvlan_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err);
int macvlan_del(struct gl_cni_req *req, struct gl_err *err);
int macvlan_check(struct gl_cni_req *req, struct gl_err *err);
int macvlan_status(struct gl_cni_req *req, struct gl_err *err);
int macvlan_gc(struct gl_cni_req *req, struct gl_err *err);
