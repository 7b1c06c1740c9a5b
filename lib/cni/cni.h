/* The CNI protocol: the request a runtime makes (env + stdin), results in
 * every supported spec version, error JSON, and the skeleton a plugin's main
 * hands its verbs to. */
#pragma once
#include <json-c/json.h>
#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include "base/err.h"
#include "base/ip.h"
#include "base/mac.h"

/* Versions we speak, oldest first; "1.1.0" is the newest. */
extern const char *const gl_cni_versions[];
#define GL_CNI_VERSION_LATEST "1.1.0"
/* What a config without cniVersion, or with the "" that libcni injects then
 * (multus NAD quickstart style), gets. */
#define GL_CNI_VERSION_DEFAULT "1.0.0"

enum gl_cni_cmd { GL_CNI_NONE, GL_CNI_ADD, GL_CNI_DEL, GL_CNI_CHECK, GL_CNI_VERSION,
		  GL_CNI_STATUS, GL_CNI_GC };

#define GL_CNI_MAX_IFACES 8
#define GL_CNI_MAX_IPS 8
#define GL_CNI_MAX_ROUTES 32
#define GL_CNI_MAX_DNS 8
#define GL_CNI_ID_MAX 256        /* container ID */
#define GL_CNI_NAME_MAX 254      /* network name, k8s names */
#define GL_CNI_IDENTITY_MAX 512
/* The identity of a K8S_POD_NAME without K8S_POD_NAMESPACE (podman's
 * container name) is "podman/<name>". */
#define GL_CNI_RUNTIME_NAMESPACE "podman"

struct gl_cni_iface {
	char name[IFNAMSIZ];
	char mac[GL_MAC_STRLEN];    /* "" when unknown */
	char sandbox[PATH_MAX];     /* "" for host-side interfaces */
	int mtu;                    /* 0: not reported (1.1.0 only) */
};

struct gl_cni_ipconf {
	struct gl_prefix address;
	bool has_gateway;
	struct gl_ip gateway;
	int interface;              /* index into ifaces, -1 when none */
};

struct gl_cni_route {
	struct gl_prefix dst;
	bool has_gw;
	struct gl_ip gw;
	int priority;               /* 0: not set (1.1.0 only) */
};

struct gl_cni_dns {
	char nameservers[GL_CNI_MAX_DNS][GL_IP_STRLEN];
	int n_nameservers;
	char domain[256];
	char search[GL_CNI_MAX_DNS][256];
	int n_search;
	char options[GL_CNI_MAX_DNS][128];
	int n_options;
};

struct gl_cni_result {
	struct gl_cni_iface ifaces[GL_CNI_MAX_IFACES];
	int n_ifaces;
	struct gl_cni_ipconf ips[GL_CNI_MAX_IPS];
	int n_ips;
	struct gl_cni_route routes[GL_CNI_MAX_ROUTES];
	int n_routes;
	struct gl_cni_dns dns;
};

/* One attachment of cni.dev/valid-attachments (GC). */
struct gl_cni_attachment {
	char container_id[GL_CNI_ID_MAX];
	char ifname[IFNAMSIZ];
};

/* Everything the runtime said. Strings are "" when not given. */
struct gl_cni_req {
	enum gl_cni_cmd cmd;
	char container_id[GL_CNI_ID_MAX];
	char netns[PATH_MAX];
	char ifname[IFNAMSIZ];
	char path[4096];                 /* CNI_PATH */

	/* CNI_ARGS, as kubelet's runtime and multus pass them. */
	char k8s_namespace[GL_CNI_NAME_MAX];
	char k8s_pod_name[GL_CNI_NAME_MAX];
	char k8s_pod_uid[64];
	char k8s_infra_id[GL_CNI_ID_MAX];
	char args_identity[GL_CNI_IDENTITY_MAX]; /* GAMELAN_IDENTITY= in CNI_ARGS */
	/* IP= (podman's --ip; "ip" or "ip/len", comma-separated) and MAC=
	 * (--mac-address), as the reference host-local/static and macvlan
	 * read them. */
	struct gl_ip args_ips[GL_CNI_MAX_IPS];
	int n_args_ips;
	char args_mac[GL_MAC_STRLEN];

	/* stdin */
	char *raw;                       /* the config as received (owned) */
	size_t raw_len;
	json_object *conf;               /* parsed (owned) */
	char cni_version[16];
	char name[GL_CNI_NAME_MAX];      /* network name */
	char type[64];
	bool has_prev;
	struct gl_cni_result prev;
	json_object *prev_json;          /* conf.prevResult, borrowed; NULL if absent */
	json_object *args_cni;           /* conf.args.cni, borrowed; NULL if absent */
	json_object *runtime_config;     /* conf.runtimeConfig, borrowed; NULL if absent */

	/* runtimeConfig capabilities. */
	struct gl_prefix rc_ips[GL_CNI_MAX_IPS];
	int n_rc_ips;
	char rc_mac[GL_MAC_STRLEN];

	/* GC */
	struct gl_cni_attachment *valid; /* owned */
	int n_valid;
	bool has_valid;

	/* Who this attachment is for: "namespace/pod" when the runtime gave a
	 * Kubernetes identity, "podman/<name>" for a pod name without a
	 * namespace, the identity named in args or config (all sticky), or
	 * the container ID (not sticky). */
	char identity[GL_CNI_IDENTITY_MAX];
	bool identity_sticky;

	/* Monotonic ms by which the whole call must be answered: the skeleton
	 * sets it to its start + GL_CNI_CALL_BUDGET_MS; 0 for other callers
	 * (each bounded wait then uses its own default). */
	int64_t deadline;
};

/* The whole CNI call, however long the store makes it wait. */
#define GL_CNI_CALL_BUDGET_MS 60000

struct gl_cni_ops {
	const char *name;                /* for VERSION's about and logs */
	/* --help's text: "Usage: ..." lines, what the plugin does, an example;
	 * the skeleton adds how a runtime calls it and the spec versions. */
	const char *usage;
	/* A chained plugin that changes nothing in the result: ADD prints
	 * prevResult exactly as it came (fields we do not model included). */
	bool passthrough;
	/* Each returns 0 or a negative errno with err filled. */
	int (*add)(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err);
	int (*del)(struct gl_cni_req *req, struct gl_err *err);
	int (*check)(struct gl_cni_req *req, struct gl_err *err);
	int (*status)(struct gl_cni_req *req, struct gl_err *err);
	int (*gc)(struct gl_cni_req *req, struct gl_err *err);
};

/* The skeleton: read env and stdin, validate, dispatch, print the result or
 * error JSON in the config's version; returns the process exit code.
 * Without CNI_COMMAND (unset or empty: run by hand) it answers --version;
 * then `admin`, if set, gets argc/argv; otherwise --help prints the usage
 * and no argument prints what the reference plugins' skeleton does (the
 * "about" line and the spec versions, on stderr, exit 0). */
int gl_cni_main(const struct gl_cni_ops *ops, int (*admin)(int argc, char **argv),
		int argc, char **argv);

/* Parsing pieces, public for tests and for the Docker driver. */
enum gl_cni_cmd gl_cni_cmd_parse(const char *s);
bool gl_cni_version_supported(const char *v);
/* Compare "a.b.c" versions: <0, 0, >0. */
int gl_cni_version_cmp(const char *a, const char *b);
/* Fill req from an environment (envp-style lookup) and a config buffer. */
int gl_cni_req_parse(struct gl_cni_req *req, const char *(*getenv_fn)(const char *),
		     const char *buf, size_t len, struct gl_err *err);
void gl_cni_req_free(struct gl_cni_req *req);
int gl_cni_parse_args(struct gl_cni_req *req, const char *cni_args, struct gl_err *err);
bool gl_cni_ifname_valid(const char *s);
bool gl_cni_container_id_valid(const char *s);

/* Result <-> JSON for a spec version. */
int gl_cni_result_parse(json_object *o, const char *version, struct gl_cni_result *ret,
			struct gl_err *err);
json_object *gl_cni_result_to_json(const struct gl_cni_result *r, const char *version);
json_object *gl_cni_error_to_json(const struct gl_err *err, const char *version);
/* Append an interface; returns its index or -ENOSPC. */
int gl_cni_result_add_iface(struct gl_cni_result *r, const char *name, const char *mac,
			    const char *sandbox);

/* Exec a delegated plugin (`type`, found on req->path) with `cmd` and the
 * config `conf` on stdin, as the spec says. On ADD the parsed result goes to
 * ret (may be NULL). A failing plugin's own error code/msg land in err.
 * Bounded: stdout at most 1 MiB, 60 s at most. */
int gl_cni_delegate(const struct gl_cni_req *req, const char *type, enum gl_cni_cmd cmd,
		    const char *conf, size_t conf_len, struct gl_cni_result *ret,
		    struct gl_err *err);
