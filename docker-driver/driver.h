/* gamelan-docker: one Docker legacy plugin serving both NetworkDriver and
 * IpamDriver on a unix socket. Everything runs on the loop thread (handlers
 * answer from memory, the store and netlink); the one blocking thing, a
 * call to dockerd's API, runs on a worker and the request is answered later
 * (api.h). See ARCHITECTURE.md, "gamelan-docker". */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"
#include "daemon/http.h"
#include "daemon/loop.h"
#include "ipam/store.h"
#include "net/nl.h"
#include "state.h"
#include "wire.h"

#define DK_POOLS_MAX 64
#define DK_NETS_MAX 64
#define DK_EPS_MAX 4096
/* The name lookup at RequestAddress. While dockerd is not known to serve
 * its API (it restores containers at boot before it does, and it asks for
 * their addresses meanwhile, waiting on us) the bound is short; once it has
 * answered, a loaded machine gets longer before a container loses its
 * name's address. */
#define DK_WHO_TIMEOUT_MS 1000
#define DK_WHO_TIMEOUT_SERVING_MS 8000
/* How often dockerd's /_ping is asked while it is not known to serve. */
#define DK_PING_MS 2000
/* The name lookup after Join answered: nobody waits for it. */
#define DK_CONFIRM_TIMEOUT_MS 5000
#define DK_CONFIRM_TRIES 30
#define DK_CONFIRM_RETRY_MS 2000

struct dk {
	struct gl_loop *loop;
	struct gl_http *http;
	struct gl_store *store;
	struct dk_state *meta;
	struct gl_nl *nl;                 /* dockerd's netns: where links are made */
	char db[PATH_MAX];
	char docker_sock[PATH_MAX];
	char node[GL_NODE_MAX];
	struct dk_pool pools[DK_POOLS_MAX];
	int n_pools;
	struct dk_net nets[DK_NETS_MAX];
	int n_nets;
	struct dk_ep *eps;                /* DK_EPS_MAX */
	int n_eps;
	bool serving;                     /* dockerd answered its API since it last (re)started */
	struct gl_loop_timer *ping;
};

/* What a handler does with a request: 0 answered in resp, 1 taken (it
 * answers later through the gl_http_later it deferred), < 0 an error for
 * err's message. */
typedef int (*dk_handler)(struct dk *d, json_object *req, json_object *resp,
			  const struct gl_http_req *hr, struct gl_err *err);

struct dk_route {
	const char *path;
	bool ipam;                        /* errors as {"Error"}, else {"Err"} */
	dk_handler fn;
};

/* driver.c */
int dk_open(struct dk *d, struct gl_err *err);
void dk_close(struct dk *d);
int dk_serve(struct dk *d, const char *socket_path, struct gl_err *err);
/* Answer a deferred request with resp (or err when r < 0). Takes resp. */
void dk_answer_later(struct gl_http_later *later, bool ipam, int r, json_object *resp,
		     const struct gl_err *err);
struct dk_pool *dk_pool_find(struct dk *d, const char *id);
struct dk_net *dk_net_find(struct dk *d, const char *id);
struct dk_ep *dk_ep_find(struct dk *d, const char *id);
int dk_save_pool(struct dk *d, const struct dk_pool *p, struct gl_err *err);
int dk_save_net(struct dk *d, const struct dk_net *n, struct gl_err *err);
int dk_save_ep(struct dk *d, const struct dk_ep *e, struct gl_err *err);

/* The bound of a lookup at RequestAddress (see DK_WHO_TIMEOUT_MS). */
int64_t dk_who_timeout(const struct dk *d);
/* An API call's outcome: a refused connection or a timeout means dockerd
 * is not serving (any more); an answer that it is. */
void dk_api_seen(struct dk *d, int r);
/* Ask dockerd's /_ping now and then while it is not known to serve;
 * dockerd (re)started (it activates the plugin again). */
int dk_ping_start(struct dk *d);
void dk_dockerd_started(struct dk *d);

/* ipam.c */
extern const struct dk_route dk_ipam_routes[];
/* After Join (nobody waits): learn the endpoint's container from dockerd,
 * make an address given to an unnamed container that name's, and honour
 * its label gamelan.snat=true. Retried, bounded. */
void dk_ep_learn(struct dk *d, const struct dk_ep *e);
/* Learn a new network's name from dockerd (soon after CreateNetwork, retried). */
void dk_learn_net_name(struct dk *d, const char *net_id);
/* The MAC an address gets: the same address, the same MAC. */
void dk_mac_of(const struct dk_net *n, const struct gl_prefix *addr, uint8_t ret[6]);

/* net.c */
extern const struct dk_route dk_net_routes[];
/* Install e's in-container SNAT as soon as Docker has put its link there. */
void dk_snat_watch(struct dk *d, const char *ep_id);
/* Links a crash left in dockerd's netns (gl* of no known endpoint). */
void dk_sweep_links(struct dk *d);
