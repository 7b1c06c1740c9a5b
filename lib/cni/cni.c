/* The CNI protocol for every gamelan plugin: the runtime's request (env and
 * stdin), results and errors in the version the config asks for, and the
 * exec of delegated plugins. */
#include "cni/cni.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base/json.h"
#include "base/log.h"
#include "base/utf8.h"
#include "base/util.h"
#include "base/version.h"

#define CNI_STDIN_MAX (1024 * 1024)
#define DELEGATE_OUT_MAX (1024 * 1024)
#define DELEGATE_TIMEOUT_MS 60000

extern char **environ;

const char *const gl_cni_versions[] = { "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0", NULL };

enum gl_cni_cmd gl_cni_cmd_parse(const char *s)
{
	static const struct { const char *name; enum gl_cni_cmd cmd; } cmds[] = {
		{ "ADD", GL_CNI_ADD }, { "DEL", GL_CNI_DEL }, { "CHECK", GL_CNI_CHECK },
		{ "VERSION", GL_CNI_VERSION }, { "STATUS", GL_CNI_STATUS }, { "GC", GL_CNI_GC },
	};

	for (size_t i = 0; s && i < GL_ARRAY_SIZE(cmds); i++)
		if (strcmp(s, cmds[i].name) == 0)
			return cmds[i].cmd;
	return GL_CNI_NONE;
}

static const char *cmd_name(enum gl_cni_cmd cmd)
{
	static const char *const names[] = { "", "ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC" };
	return names[cmd];
}

bool gl_cni_version_supported(const char *v)
{
	for (int i = 0; gl_cni_versions[i]; i++)
		if (strcmp(v, gl_cni_versions[i]) == 0)
			return true;
	return false;
}

static int parse_version(const char *v, int out[3])
{
	out[0] = out[1] = out[2] = 0;
	return sscanf(v, "%d.%d.%d", &out[0], &out[1], &out[2]) >= 1 ? 0 : -EINVAL;
}

int gl_cni_version_cmp(const char *a, const char *b)
{
	int x[3], y[3];

	parse_version(a, x);
	parse_version(b, y);
	for (int i = 0; i < 3; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* Versions 0.3.x and 0.4.0 carry "version": "4"/"6" in each IP. */
static bool version_has_ip_version(const char *v)
{
	return gl_cni_version_cmp(v, "1.0.0") < 0;
}

bool gl_cni_ifname_valid(const char *s)
{
	size_t n = strlen(s);

	/* The kernel's dev_valid_name(), which the spec points to. */
	if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || isspace((unsigned char)*s) || !isprint((unsigned char)*s))
			return false;
	return true;
}

/* The spec: alphanumerics plus _ . - , starting with an alphanumeric. */
static bool name_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max || !isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

bool gl_cni_container_id_valid(const char *s)
{
	return name_valid(s, GL_CNI_ID_MAX);
}

/* A Kubernetes namespace: a DNS label, read leniently (case, dots) but
 * never "." or "..". */
static bool k8s_namespace_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || !isalnum((unsigned char)s[0]))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-.", *s))
			return false;
	return true;
}

/* CNI_ARGS IP=: addresses ("ip" or "ip/len", the length unused) separated
 * by commas, spaces around each allowed. */
static int parse_args_ips(struct gl_cni_req *req, char *list, struct gl_err *err)
{
	char *item;

	req->n_args_ips = 0;
	while ((item = strsep(&list, ","))) {
		char *end = item + strlen(item);
		struct gl_prefix p;

		while (*item == ' ')
			item++;
		while (end > item && end[-1] == ' ')
			*--end = '\0';
		if (req->n_args_ips >= GL_CNI_MAX_IPS)
			return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_ARGS: IP has more than %d addresses",
					  GL_CNI_MAX_IPS);
		if (gl_ip_parse(item, &req->args_ips[req->n_args_ips]) < 0) {
			if (gl_prefix_parse(item, &p) < 0)
				return gl_err_set(err, GL_ERR_INVALID_ENV,
						  "CNI_ARGS: IP \"%.64s\" is not an IP address", item);
			req->args_ips[req->n_args_ips] = p.ip;
		}
		req->n_args_ips++;
	}
	return 0;
}

int gl_cni_parse_args(struct gl_cni_req *req, const char *cni_args, struct gl_err *err)
{
	char buf[4096];
	char *save = NULL, *kv;

	if (!cni_args || !*cni_args)
		return 0;
	if (gl_strlcpy(buf, cni_args, sizeof(buf)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_ARGS is too long");
	for (kv = strtok_r(buf, ";", &save); kv; kv = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(kv, '=');
		char *dst = NULL;
		size_t size = 0;

		if (!eq)
			return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_ARGS: \"%s\" is not KEY=VALUE", kv);
		*eq = '\0';
		if (strcmp(kv, "K8S_POD_NAMESPACE") == 0) {
			dst = req->k8s_namespace;
			size = sizeof(req->k8s_namespace);
		} else if (strcmp(kv, "K8S_POD_NAME") == 0) {
			dst = req->k8s_pod_name;
			size = sizeof(req->k8s_pod_name);
		} else if (strcmp(kv, "K8S_POD_UID") == 0) {
			dst = req->k8s_pod_uid;
			size = sizeof(req->k8s_pod_uid);
		} else if (strcmp(kv, "K8S_POD_INFRA_CONTAINER_ID") == 0) {
			dst = req->k8s_infra_id;
			size = sizeof(req->k8s_infra_id);
		} else if (strcmp(kv, "GAMELAN_IDENTITY") == 0) {
			dst = req->args_identity;
			size = sizeof(req->args_identity);
		} else if (strcmp(kv, "MAC") == 0) {
			dst = req->args_mac;
			size = sizeof(req->args_mac);
		} else if (strcmp(kv, "IP") == 0 && eq[1]) {
			int r = parse_args_ips(req, eq + 1, err);

			if (r < 0)
				return r;
			continue;
		}
		/* Unknown keys are accepted, as kubelet passes IgnoreUnknown=1. */
		if (dst && gl_strlcpy(dst, eq + 1, size) < 0)
			return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_ARGS: %s is too long", kv);
	}
	if (req->args_mac[0]) {
		uint8_t mac[6];

		if (gl_mac_parse(req->args_mac, mac) < 0)
			return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_ARGS: MAC \"%s\" is not a MAC address",
					  req->args_mac);
	}
	if (req->k8s_namespace[0] && !k8s_namespace_valid(req->k8s_namespace))
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_ARGS: K8S_POD_NAMESPACE \"%s\" is not a valid name",
				  req->k8s_namespace);
	/* Runtimes put their container name here (podman's generated names
	 * are like "friendly_feynman"): the spec's name characters, which
	 * leave out separators, control characters, "." and "..". */
	if (req->k8s_pod_name[0] && !name_valid(req->k8s_pod_name, sizeof(req->k8s_pod_name)))
		return gl_err_set(err, GL_ERR_INVALID_ENV,
				  "CNI_ARGS: K8S_POD_NAME \"%.64s\" must be letters, digits, '_', '.', '-', "
				  "starting with a letter or digit", req->k8s_pod_name);
	return 0;
}

static bool identity_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

/* Who the attachment belongs to, in the order of the most explicit source. */
static int compute_identity(struct gl_cni_req *req, struct gl_err *err)
{
	const char *id = NULL;

	if (req->args_cni && gl_json_get_str(req->args_cni, "args.cni", "identity", &id, err) < 0)
		return -EINVAL;
	if (!id && req->args_identity[0])
		id = req->args_identity;
	/* podman passes its container name as K8S_POD_NAME and no namespace:
	 * that name is as stable as a pod's, under a namespace of its own. */
	if (!id && req->k8s_pod_name[0]) {
		snprintf(req->identity, sizeof(req->identity), "%s/%s",
			 req->k8s_namespace[0] ? req->k8s_namespace : GL_CNI_RUNTIME_NAMESPACE,
			 req->k8s_pod_name);
		req->identity_sticky = true;
		return 0;
	}
	if (!id && gl_json_get_str(req->conf, NULL, "identity", &id, err) < 0)
		return -EINVAL;
	if (id) {
		if (!identity_valid(id) || gl_strlcpy(req->identity, id, sizeof(req->identity)) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "identity \"%.64s\" must be 1-%zu printable characters without spaces",
					  id, sizeof(req->identity) - 1);
		req->identity_sticky = true;
		return 0;
	}
	snprintf(req->identity, sizeof(req->identity), "%s", req->container_id);
	req->identity_sticky = false;
	return 0;
}

static int parse_runtime_config(struct gl_cni_req *req, struct gl_err *err)
{
	json_object *rc = NULL, *ips = NULL;
	int r;

	r = gl_json_get_object(req->conf, NULL, "runtimeConfig", &rc, err);
	if (r <= 0)
		return r;
	req->runtime_config = rc;
	r = gl_json_get_array(rc, "runtimeConfig", "ips", &ips, err);
	if (r < 0)
		return r;
	for (size_t i = 0; ips && i < json_object_array_length(ips); i++) {
		json_object *e = json_object_array_get_idx(ips, i);
		const char *s = json_object_get_string(e);

		if (!json_object_is_type(e, json_type_string))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "runtimeConfig.ips[%zu] must be a string", i);
		if (req->n_rc_ips >= GL_CNI_MAX_IPS)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "runtimeConfig.ips: at most %d addresses",
					  GL_CNI_MAX_IPS);
		/* multus passes "ip/len"; a bare address means a host route's length. */
		if (gl_prefix_parse(s, &req->rc_ips[req->n_rc_ips]) < 0) {
			struct gl_ip ip;

			if (gl_ip_parse(s, &ip) < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "runtimeConfig.ips[%zu]: \"%s\" is not an IP address", i, s);
			req->rc_ips[req->n_rc_ips] = (struct gl_prefix){ .ip = ip,
				.len = ip.family == AF_INET ? 32 : 128 };
		}
		req->n_rc_ips++;
	}
	r = gl_json_get_strbuf(rc, "runtimeConfig", "mac", req->rc_mac, sizeof(req->rc_mac), err);
	if (r < 0)
		return r;
	if (r > 0) {
		uint8_t mac[6];

		if (gl_mac_parse(req->rc_mac, mac) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "runtimeConfig.mac \"%s\" is not a MAC address", req->rc_mac);
	}
	return 0;
}

static int parse_attachments(struct gl_cni_req *req, struct gl_err *err)
{
	static const char *const keys[] = { "cni.dev/valid-attachments", "cni.dev/attachments" };
	json_object *arr = NULL;
	size_t n;

	for (size_t k = 0; k < GL_ARRAY_SIZE(keys) && !arr; k++)
		if (gl_json_get_array(req->conf, NULL, keys[k], &arr, err) < 0)
			return -EINVAL;
	if (!arr)
		return 0;
	n = json_object_array_length(arr);
	if (n > 1000000)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "too many valid attachments");
	req->valid = calloc(n ? n : 1, sizeof(*req->valid));
	if (!req->valid)
		return -ENOMEM;
	req->has_valid = true;
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(arr, i);
		struct gl_cni_attachment *v = &req->valid[req->n_valid];

		if (!json_object_is_type(a, json_type_object))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "valid-attachments[%zu] must be an object", i);
		if (gl_json_get_strbuf(a, "attachment", "containerID", v->container_id,
				       sizeof(v->container_id), err) <= 0 ||
		    gl_json_get_strbuf(a, "attachment", "ifname", v->ifname, sizeof(v->ifname), err) <= 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "valid-attachments[%zu] needs string containerID and ifname", i);
		req->n_valid++;
	}
	return 0;
}

static int parse_config(struct gl_cni_req *req, struct gl_err *err)
{
	json_object *prev = NULL;
	json_object *args = NULL;
	int r;

	r = gl_json_parse_object(req->raw, req->raw_len, &req->conf, err);
	if (r < 0)
		return r;
	r = gl_json_get_strbuf(req->conf, NULL, "cniVersion", req->cni_version,
			       sizeof(req->cni_version), err);
	if (r < 0)
		return r;
	if (r == 0 || !req->cni_version[0]) {
		_cleanup_free_ char *fixed = NULL;

		/* A NetworkAttachmentDefinition written as in multus' quickstart has
		 * no cniVersion, and libcni (in multus and podman) then injects
		 * "cniVersion": "" on every verb: both mean the default. Hand
		 * delegates the same version so that their results are in a form
		 * we read. */
		strcpy(req->cni_version, GL_CNI_VERSION_DEFAULT);
		json_object_object_add(req->conf, "cniVersion", json_object_new_string(req->cni_version));
		fixed = gl_json_dump(req->conf);
		if (!fixed)
			return -ENOMEM;
		free(req->raw);
		req->raw_len = strlen(fixed);
		req->raw = TAKE_PTR(fixed);
	}
	/* VERSION is how a runtime of any version learns what we speak. */
	if (req->cmd == GL_CNI_VERSION && !gl_cni_version_supported(req->cni_version))
		strcpy(req->cni_version, GL_CNI_VERSION_LATEST);
	if (!gl_cni_version_supported(req->cni_version))
		return gl_err_set(err, GL_ERR_VERSION,
				  "CNI version %s is not supported (supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0)",
				  req->cni_version);
	if (req->cmd == GL_CNI_VERSION)
		return 0;
	r = gl_json_get_strbuf(req->conf, NULL, "name", req->name, sizeof(req->name), err);
	if (r < 0)
		return r;
	if (r == 0 || !name_valid(req->name, sizeof(req->name)))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "network name must be given: letters, digits, '_', '.', '-', starting with a letter or digit");
	r = gl_json_get_strbuf(req->conf, NULL, "type", req->type, sizeof(req->type), err);
	if (r < 0)
		return r;
	if (r == 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "type is missing");
	r = gl_json_get_object(req->conf, NULL, "args", &args, err);
	if (r < 0)
		return r;
	if (args && gl_json_get_object(args, "args", "cni", &req->args_cni, err) < 0)
		return -EINVAL;
	r = gl_json_get_object(req->conf, NULL, "prevResult", &prev, err);
	if (r < 0)
		return r;
	if (prev) {
		struct gl_err ignored = { 0 };

		/* DEL must clean up whatever the runtime cached, even a result
		 * we cannot model: it proceeds without one. */
		req->prev_json = prev;
		r = gl_cni_result_parse(prev, req->cni_version, &req->prev,
					req->cmd == GL_CNI_DEL ? &ignored : err);
		if (r < 0 && req->cmd != GL_CNI_DEL)
			return r;
		req->has_prev = r >= 0;
	}
	r = parse_runtime_config(req, err);
	if (r < 0)
		return r;
	return parse_attachments(req, err);
}

static int env_required(const char *(*get)(const char *), const char *name, char *dst,
			size_t size, bool required, struct gl_err *err)
{
	const char *v = get(name);

	if (!v || !*v) {
		if (required)
			return gl_err_set(err, GL_ERR_INVALID_ENV, "%s is required", name);
		return 0;
	}
	if (gl_strlcpy(dst, v, size) < 0)
		return gl_err_set(err, GL_ERR_INVALID_ENV, "%s is too long", name);
	return 1;
}

int gl_cni_req_parse(struct gl_cni_req *req, const char *(*get)(const char *), const char *buf,
		     size_t len, struct gl_err *err)
{
	bool needs_container;
	int r;

	memset(req, 0, sizeof(*req));
	req->cmd = gl_cni_cmd_parse(get("CNI_COMMAND"));
	if (req->cmd == GL_CNI_NONE)
		return gl_err_set(err, GL_ERR_INVALID_ENV,
				  "CNI_COMMAND must be ADD, DEL, CHECK, VERSION, STATUS or GC");
	req->raw = malloc(len + 1);
	if (!req->raw)
		return -ENOMEM;
	memcpy(req->raw, buf, len);
	req->raw[len] = '\0';
	req->raw_len = len;

	if (req->cmd == GL_CNI_VERSION) {
		/* VERSION may come with an empty stdin from older runtimes. */
		if (len == 0 || strspn(buf, " \t\r\n") == len) {
			strcpy(req->cni_version, GL_CNI_VERSION_LATEST);
			return 0;
		}
		return parse_config(req, err);
	}

	needs_container = req->cmd == GL_CNI_ADD || req->cmd == GL_CNI_DEL || req->cmd == GL_CNI_CHECK;
	if (needs_container) {
		r = env_required(get, "CNI_CONTAINERID", req->container_id, sizeof(req->container_id),
				 true, err);
		if (r < 0)
			return r;
		if (!gl_cni_container_id_valid(req->container_id))
			return gl_err_set(err, GL_ERR_INVALID_ENV,
					  "CNI_CONTAINERID \"%.64s\" must be letters, digits, '_', '.', '-'",
					  req->container_id);
		r = env_required(get, "CNI_IFNAME", req->ifname, sizeof(req->ifname), true, err);
		if (r < 0) {
			const char *v = get("CNI_IFNAME");

			if (v && *v)
				return gl_err_reset(err, GL_ERR_INVALID_ENV,
						    "CNI_IFNAME \"%.32s\" is longer than %d characters", v, IFNAMSIZ - 1);
			return r;
		}
		if (!gl_cni_ifname_valid(req->ifname))
			return gl_err_set(err, GL_ERR_INVALID_ENV,
					  "CNI_IFNAME \"%s\" is not a valid interface name (no '/', ':', spaces)",
					  req->ifname);
		r = env_required(get, "CNI_NETNS", req->netns, sizeof(req->netns), req->cmd != GL_CNI_DEL, err);
		if (r < 0)
			return r;
		if (req->netns[0] && req->netns[0] != '/')
			return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_NETNS \"%s\" must be an absolute path",
					  req->netns);
	}
	r = env_required(get, "CNI_PATH", req->path, sizeof(req->path), false, err);
	if (r < 0)
		return r;
	r = gl_cni_parse_args(req, get("CNI_ARGS"), err);
	if (r < 0)
		return r;
	if (len == 0)
		return gl_err_set(err, GL_ERR_DECODE, "no network configuration on stdin");
	r = parse_config(req, err);
	if (r < 0)
		return r;
	if (req->cmd == GL_CNI_CHECK && gl_cni_version_cmp(req->cni_version, "0.4.0") < 0)
		return gl_err_set(err, GL_ERR_VERSION, "CHECK needs cniVersion 0.4.0 or later, not %s",
				  req->cni_version);
	if ((req->cmd == GL_CNI_STATUS || req->cmd == GL_CNI_GC) &&
	    gl_cni_version_cmp(req->cni_version, "1.1.0") < 0)
		return gl_err_set(err, GL_ERR_VERSION, "%s needs cniVersion 1.1.0 or later, not %s",
				  cmd_name(req->cmd), req->cni_version);
	if (needs_container)
		return compute_identity(req, err);
	return 0;
}

void gl_cni_req_free(struct gl_cni_req *req)
{
	free(req->raw);
	req->raw = NULL;
	if (req->conf)
		json_object_put(req->conf);
	req->conf = NULL;
	free(req->valid);
	req->valid = NULL;
}

/* ---- results ---- */

int gl_cni_result_add_iface(struct gl_cni_result *r, const char *name, const char *mac,
			    const char *sandbox)
{
	struct gl_cni_iface *i;

	if (r->n_ifaces >= GL_CNI_MAX_IFACES)
		return -ENOSPC;
	i = &r->ifaces[r->n_ifaces];
	memset(i, 0, sizeof(*i));
	if (gl_strlcpy(i->name, name, sizeof(i->name)) < 0 ||
	    gl_strlcpy(i->mac, mac ? mac : "", sizeof(i->mac)) < 0 ||
	    gl_strlcpy(i->sandbox, sandbox ? sandbox : "", sizeof(i->sandbox)) < 0)
		return -ENAMETOOLONG;
	return r->n_ifaces++;
}

static int parse_ip_field(json_object *o, const char *what, const char *key, bool prefix,
			  void *ret, bool *present, struct gl_err *err)
{
	const char *s = NULL;
	int r = gl_json_get_str(o, what, key, &s, err);

	if (r < 0)
		return r;
	if (present)
		*present = r > 0;
	if (r == 0)
		return 0;
	r = prefix ? gl_prefix_parse(s, ret) : gl_ip_parse(s, ret);
	if (r < 0)
		return gl_err_set(err, GL_ERR_DECODE, "%s.%s: \"%s\" is not %s", what, key, s,
				  prefix ? "an address with a prefix length" : "an IP address");
	return 1;
}

static int parse_str_list(json_object *o, const char *what, const char *key, char *base,
			  size_t stride, int max, int *count, struct gl_err *err)
{
	json_object *arr = NULL;

	if (gl_json_get_array(o, what, key, &arr, err) < 0)
		return -EINVAL;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_string) || *count >= max ||
		    gl_strlcpy(base + stride * (size_t)*count, json_object_get_string(e), stride) < 0)
			return gl_err_set(err, GL_ERR_DECODE, "%s.%s[%zu] is not a short string", what, key, i);
		(*count)++;
	}
	return 0;
}

int gl_cni_result_parse(json_object *o, const char *version, struct gl_cni_result *ret,
			struct gl_err *err)
{
	_cleanup_free_ struct gl_cni_result *r = calloc(1, sizeof(*r));
	json_object *arr = NULL, *dns = NULL;

	if (!r)
		return -ENOMEM;
	if (!json_object_is_type(o, json_type_object))
		return gl_err_set(err, GL_ERR_DECODE, "result must be an object");
	if (gl_json_get_array(o, "result", "interfaces", &arr, err) < 0)
		return -EINVAL;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct gl_cni_iface *f;
		int64_t mtu = 0;

		if (!json_object_is_type(e, json_type_object) || r->n_ifaces >= GL_CNI_MAX_IFACES)
			return gl_err_set(err, GL_ERR_DECODE, "result.interfaces[%zu] is not an object", i);
		f = &r->ifaces[r->n_ifaces++];
		if (gl_json_get_strbuf(e, "interface", "name", f->name, sizeof(f->name), err) < 0 ||
		    gl_json_get_strbuf(e, "interface", "mac", f->mac, sizeof(f->mac), err) < 0 ||
		    gl_json_get_strbuf(e, "interface", "sandbox", f->sandbox, sizeof(f->sandbox), err) < 0 ||
		    gl_json_get_int(e, "interface", "mtu", 0, 65535, &mtu, err) < 0) {
			char why[GL_ERR_MSG_MAX] = "";

			if (err)
				memcpy(why, err->msg, sizeof(why));
			return gl_err_reset(err, GL_ERR_DECODE, "result.interfaces[%zu]: %s", i, why);
		}
		f->mtu = (int)mtu;
	}
	arr = NULL;
	if (gl_json_get_array(o, "result", "ips", &arr, err) < 0)
		return -EINVAL;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct gl_cni_ipconf *c;
		bool has_addr = false;
		int64_t idx = -1;

		if (!json_object_is_type(e, json_type_object) || r->n_ips >= GL_CNI_MAX_IPS)
			return gl_err_set(err, GL_ERR_DECODE, "result.ips[%zu] is not an object", i);
		c = &r->ips[r->n_ips++];
		if (parse_ip_field(e, "ips", "address", true, &c->address, &has_addr, err) < 0 ||
		    parse_ip_field(e, "ips", "gateway", false, &c->gateway, &c->has_gateway, err) < 0)
			return -EINVAL;
		if (!has_addr)
			return gl_err_set(err, GL_ERR_DECODE, "result.ips[%zu] has no address", i);
		if (gl_json_get_int(e, "ips", "interface", 0, r->n_ifaces - 1, &idx, err) < 0)
			return gl_err_reset(err, GL_ERR_DECODE, "result.ips[%zu].interface is not an index of interfaces", i);
		c->interface = (int)idx;
		if (c->has_gateway && c->gateway.family != c->address.ip.family)
			return gl_err_set(err, GL_ERR_DECODE, "result.ips[%zu]: gateway family differs", i);
	}
	arr = NULL;
	if (gl_json_get_array(o, "result", "routes", &arr, err) < 0)
		return -EINVAL;
	for (size_t i = 0; arr && i < json_object_array_length(arr); i++) {
		json_object *e = json_object_array_get_idx(arr, i);
		struct gl_cni_route *rt;
		bool has_dst = false;
		int64_t prio = 0;

		if (!json_object_is_type(e, json_type_object) || r->n_routes >= GL_CNI_MAX_ROUTES)
			return gl_err_set(err, GL_ERR_DECODE, "result.routes[%zu] is not an object", i);
		rt = &r->routes[r->n_routes++];
		if (parse_ip_field(e, "routes", "dst", true, &rt->dst, &has_dst, err) < 0 ||
		    parse_ip_field(e, "routes", "gw", false, &rt->gw, &rt->has_gw, err) < 0 ||
		    gl_json_get_int(e, "routes", "priority", 0, INT32_MAX, &prio, err) < 0)
			return -EINVAL;
		if (!has_dst)
			return gl_err_set(err, GL_ERR_DECODE, "result.routes[%zu] has no dst", i);
		rt->priority = (int)prio;
	}
	if (gl_json_get_object(o, "result", "dns", &dns, err) < 0)
		return -EINVAL;
	if (dns) {
		struct gl_cni_dns *d = &r->dns;

		if (parse_str_list(dns, "dns", "nameservers", &d->nameservers[0][0],
				   sizeof(d->nameservers[0]), GL_CNI_MAX_DNS, &d->n_nameservers, err) < 0 ||
		    parse_str_list(dns, "dns", "search", &d->search[0][0], sizeof(d->search[0]),
				   GL_CNI_MAX_DNS, &d->n_search, err) < 0 ||
		    parse_str_list(dns, "dns", "options", &d->options[0][0], sizeof(d->options[0]),
				   GL_CNI_MAX_DNS, &d->n_options, err) < 0 ||
		    gl_json_get_strbuf(dns, "dns", "domain", d->domain, sizeof(d->domain), err) < 0)
			return -EINVAL;
	}
	/* 0.3.x/0.4.0 "version" fields are implied by the address: not needed. */
	(void)version;
	*ret = *r;
	return 0;
}

static json_object *str_array(const char *base, size_t stride, int n)
{
	json_object *a = json_object_new_array();

	for (int i = 0; a && i < n; i++)
		json_object_array_add(a, json_object_new_string(base + stride * (size_t)i));
	return a;
}

json_object *gl_cni_result_to_json(const struct gl_cni_result *r, const char *version)
{
	json_object *o = json_object_new_object();
	char buf[GL_PREFIX_STRLEN];
	bool v1_1 = gl_cni_version_cmp(version, "1.1.0") >= 0;

	if (!o)
		return NULL;
	json_object_object_add(o, "cniVersion", json_object_new_string(version));
	if (r->n_ifaces > 0) {
		json_object *a = json_object_new_array();

		for (int i = 0; i < r->n_ifaces; i++) {
			const struct gl_cni_iface *f = &r->ifaces[i];
			json_object *e = json_object_new_object();

			json_object_object_add(e, "name", json_object_new_string(f->name));
			if (f->mac[0])
				json_object_object_add(e, "mac", json_object_new_string(f->mac));
			if (v1_1 && f->mtu > 0)
				json_object_object_add(e, "mtu", json_object_new_int(f->mtu));
			if (f->sandbox[0])
				json_object_object_add(e, "sandbox", json_object_new_string(f->sandbox));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "interfaces", a);
	}
	if (r->n_ips > 0) {
		json_object *a = json_object_new_array();

		for (int i = 0; i < r->n_ips; i++) {
			const struct gl_cni_ipconf *c = &r->ips[i];
			json_object *e = json_object_new_object();

			if (version_has_ip_version(version))
				json_object_object_add(e, "version", json_object_new_string(
					c->address.ip.family == AF_INET6 ? "6" : "4"));
			json_object_object_add(e, "address", json_object_new_string(
				gl_prefix_str(&c->address, buf, sizeof(buf))));
			if (c->has_gateway)
				json_object_object_add(e, "gateway", json_object_new_string(
					gl_ip_str(&c->gateway, buf, sizeof(buf))));
			if (c->interface >= 0)
				json_object_object_add(e, "interface", json_object_new_int(c->interface));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "ips", a);
	}
	if (r->n_routes > 0) {
		json_object *a = json_object_new_array();

		for (int i = 0; i < r->n_routes; i++) {
			const struct gl_cni_route *rt = &r->routes[i];
			json_object *e = json_object_new_object();

			json_object_object_add(e, "dst", json_object_new_string(
				gl_prefix_str(&rt->dst, buf, sizeof(buf))));
			if (rt->has_gw)
				json_object_object_add(e, "gw", json_object_new_string(
					gl_ip_str(&rt->gw, buf, sizeof(buf))));
			if (v1_1 && rt->priority > 0)
				json_object_object_add(e, "priority", json_object_new_int(rt->priority));
			json_object_array_add(a, e);
		}
		json_object_object_add(o, "routes", a);
	}
	{
		const struct gl_cni_dns *d = &r->dns;
		json_object *e = json_object_new_object();

		if (d->n_nameservers)
			json_object_object_add(e, "nameservers", str_array(&d->nameservers[0][0],
					       sizeof(d->nameservers[0]), d->n_nameservers));
		if (d->domain[0])
			json_object_object_add(e, "domain", json_object_new_string(d->domain));
		if (d->n_search)
			json_object_object_add(e, "search", str_array(&d->search[0][0],
					       sizeof(d->search[0]), d->n_search));
		if (d->n_options)
			json_object_object_add(e, "options", str_array(&d->options[0][0],
					       sizeof(d->options[0]), d->n_options));
		json_object_object_add(o, "dns", e);
	}
	return o;
}

json_object *gl_cni_error_to_json(const struct gl_err *err, const char *version)
{
	json_object *o = json_object_new_object();
	char msg[GL_ERR_MSG_MAX], details[GL_ERR_DETAILS_MAX];

	if (!o)
		return NULL;
	/* gl_err_* keep both valid UTF-8; a message written by hand may not be. */
	gl_utf8_sanitize(msg, sizeof(msg), err->msg, strnlen(err->msg, sizeof(err->msg)));
	gl_utf8_sanitize(details, sizeof(details), err->details,
			 strnlen(err->details, sizeof(err->details)));
	json_object_object_add(o, "cniVersion", json_object_new_string(
		version && *version ? version : GL_CNI_VERSION_LATEST));
	json_object_object_add(o, "code", json_object_new_int(err->code ? err->code : GL_ERR_INTERNAL));
	json_object_object_add(o, "msg", json_object_new_string(msg[0] ? msg : "unknown error"));
	if (details[0])
		json_object_object_add(o, "details", json_object_new_string(details));
	return o;
}

/* ---- delegation ---- */

static bool plugin_type_valid(const char *t)
{
	return name_valid(t, 64);
}

static int find_plugin(const char *cni_path, const char *type, char *ret, size_t size)
{
	char buf[sizeof(((struct gl_cni_req *)0)->path)];
	char *save = NULL, *dir;

	if (gl_strlcpy(buf, cni_path, sizeof(buf)) < 0)
		return -ENAMETOOLONG;
	for (dir = strtok_r(buf, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;
		int n;

		if (dir[0] != '/')
			continue;
		n = snprintf(ret, size, "%s/%s", dir, type);
		if (n < 0 || (size_t)n >= size)
			continue;
		if (stat(ret, &st) == 0 && S_ISREG(st.st_mode) && access(ret, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
}

/* The child's environment: ours with CNI_COMMAND replaced by cmd_var
 * (which the caller keeps alive). */
static char **delegate_env(const char *cmd_var)
{
	size_t n = 0, j = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "CNI_COMMAND=", 12) != 0)
			env[j++] = environ[i];
	env[j] = (char *)cmd_var;
	return env;
}

/* Feed stdin and drain stdout at once, so that neither side can block the
 * other; give up at the deadline. */
static int delegate_io(int in_fd, int out_fd, const char *conf, size_t conf_len, char *out,
		       size_t out_max, size_t *ret_len, int64_t deadline)
{
	size_t written = 0, got = 0;

	while (out_fd >= 0) {
		struct pollfd p[2];
		int n = 0, timeout = (int)(deadline - gl_now_mono_ms());

		if (timeout <= 0)
			return -ETIMEDOUT;
		p[n++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
		if (in_fd >= 0)
			p[n++] = (struct pollfd){ .fd = in_fd, .events = POLLOUT };
		if (poll(p, (nfds_t)n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 2 && p[1].revents) {
			ssize_t w = write(in_fd, conf + written, conf_len - written);

			if (w > 0)
				written += (size_t)w;
			if (w < 0 || written == conf_len) {
				close(in_fd);
				in_fd = -1;
			}
		}
		if (p[0].revents) {
			ssize_t rd;

			if (got >= out_max)
				return -EFBIG;
			rd = read(out_fd, out + got, out_max - got);
			if (rd < 0 && errno == EINTR)
				continue;
			if (rd <= 0)
				break;
			got += (size_t)rd;
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	out[got] = '\0';
	*ret_len = got;
	return 0;
}

static int delegate_wait(pid_t pid, int64_t deadline, int *ret_status)
{
	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			*ret_status = st;
			return 0;
		}
		if (w < 0 && errno != EINTR)
			return -errno;
		if (gl_now_mono_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -ETIMEDOUT;
		}
		usleep(1000);
	}
}

int gl_cni_delegate(const struct gl_cni_req *req, const char *type, enum gl_cni_cmd cmd,
		    const char *conf, size_t conf_len, struct gl_cni_result *ret, struct gl_err *err)
{
	char path[PATH_MAX], cmd_var[32];
	_cleanup_free_ char **env = NULL;
	_cleanup_free_ char *out = NULL;
	int in_pipe[2], out_pipe[2], status = 0, r;
	int64_t deadline = gl_now_mono_ms() + DELEGATE_TIMEOUT_MS;
	size_t out_len = 0;
	pid_t pid;

	if (!plugin_type_valid(type))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "plugin type \"%.64s\" is not a valid name", type);
	if (!req->path[0])
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_PATH is required to run the %s plugin", type);
	if (find_plugin(req->path, type, path, sizeof(path)) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "plugin \"%s\" not found in CNI_PATH %s",
				  type, req->path);
	snprintf(cmd_var, sizeof(cmd_var), "CNI_COMMAND=%s", cmd_name(cmd));
	env = delegate_env(cmd_var);
	out = malloc(DELEGATE_OUT_MAX + 1);
	if (!env || !out)
		return -ENOMEM;
	if (pipe2(in_pipe, O_CLOEXEC) < 0)
		return gl_err_set(err, GL_ERR_IO, "pipe: %s", strerror(errno));
	if (pipe2(out_pipe, O_CLOEXEC) < 0) {
		close(in_pipe[0]);
		close(in_pipe[1]);
		return gl_err_set(err, GL_ERR_IO, "pipe: %s", strerror(errno));
	}
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(in_pipe[0]); close(in_pipe[1]); close(out_pipe[0]); close(out_pipe[1]);
		return gl_err_from(err, r, GL_ERR_IO, "fork: %s", strerror(-r));
	}
	if (pid == 0) {
		char *argv[] = { path, NULL };

		dup2(in_pipe[0], STDIN_FILENO);
		dup2(out_pipe[1], STDOUT_FILENO);
		execve(path, argv, env);
		_exit(127);
	}
	close(in_pipe[0]);
	close(out_pipe[1]);
	signal(SIGPIPE, SIG_IGN);
	r = delegate_io(in_pipe[1], out_pipe[0], conf, conf_len, out, DELEGATE_OUT_MAX, &out_len, deadline);
	close(out_pipe[0]);
	if (r < 0) {
		int st;

		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return gl_err_from(err, r, GL_ERR_DELEGATE, "%s %s: %s", type, cmd_name(cmd),
				  r == -ETIMEDOUT ? "timed out" : strerror(-r));
	}
	r = delegate_wait(pid, deadline, &status);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_DELEGATE, "%s %s: %s", type, cmd_name(cmd), strerror(-r));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_json_ json_object *e = NULL;
		struct gl_err perr = {0};
		int64_t code = GL_ERR_DELEGATE;
		const char *msg = NULL, *details = NULL;

		/* The delegate's own error is the one a human needs. */
		if (gl_json_parse_object(out, out_len, &e, &perr) == 0) {
			gl_json_get_int(e, NULL, "code", 1, INT32_MAX, &code, NULL);
			gl_json_get_str(e, NULL, "msg", &msg, NULL);
			gl_json_get_str(e, NULL, "details", &details, NULL);
		}
		if (WIFSIGNALED(status))
			r = gl_err_set(err, GL_ERR_DELEGATE, "%s %s: killed by signal %d", type,
				       cmd_name(cmd), WTERMSIG(status));
		else
			r = gl_err_set(err, (int)code, "%s%s%s", msg ? msg : type,
				       msg ? "" : " failed with exit code ",
				       msg ? "" : (WEXITSTATUS(status) == 127 ? "127 (could not exec)" : "non-zero"));
		if (details && err)
			gl_err_details(err, "%s", details);
		return r;
	}
	if (cmd == GL_CNI_ADD && ret) {
		_cleanup_json_ json_object *o = NULL;

		r = gl_json_parse_object(out, out_len, &o, err);
		if (r < 0)
			return gl_err_reset(err, GL_ERR_DECODE, "%s ADD returned an unreadable result: %s",
					    type, err ? err->msg : "");
		return gl_cni_result_parse(o, req->cni_version, ret, err);
	}
	return 0;
}

/* ---- the skeleton ---- */

static const char *real_getenv(const char *name)
{
	return getenv(name);
}

static void print_json(json_object *o)
{
	_cleanup_free_ char *s = o ? gl_json_dump(o) : NULL;

	if (s) {
		gl_write_all(STDOUT_FILENO, s, strlen(s));
		gl_write_all(STDOUT_FILENO, "\n", 1);
	}
}

static int print_error(const struct gl_err *err, const char *version)
{
	_cleanup_json_ json_object *o = gl_cni_error_to_json(err, version);

	print_json(o);
	return 1;
}

static int print_version(const char *version)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *a = json_object_new_array();

	for (int i = 0; gl_cni_versions[i]; i++)
		json_object_array_add(a, json_object_new_string(gl_cni_versions[i]));
	json_object_object_add(o, "cniVersion", json_object_new_string(version));
	json_object_object_add(o, "supportedVersions", a);
	print_json(o);
	return 0;
}

static void print_versions_line(FILE *f)
{
	fputs("CNI protocol versions supported: ", f);
	for (int i = 0; gl_cni_versions[i]; i++)
		fprintf(f, "%s%s", i ? ", " : "", gl_cni_versions[i]);
	fputc('\n', f);
}

/* Run by hand, without CNI_COMMAND. The about line has the shape of the
 * reference plugins' ("CNI macvlan plugin v1.1.1", containernetworking/cni
 * pkg/skel: stderr, then the versions, exit 0). */
static int by_hand(const struct gl_cni_ops *ops, int (*admin)(int argc, char **argv), int argc,
		   char **argv)
{
	const char *a = argc > 1 ? argv[1] : NULL;

	if (a && (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)) {
		printf("%s %s\n", ops->name, GL_VERSION);
		print_versions_line(stdout);
		return 0;
	}
	if (admin)
		return admin(argc, argv);
	if (a && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
		if (ops->usage)
			fputs(ops->usage, stdout);
		printf("\nA container runtime runs %s with CNI_COMMAND (ADD, DEL, CHECK, VERSION,\n"
		       "STATUS or GC), CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_PATH in the\n"
		       "environment and the network configuration on stdin; the result or the error\n"
		       "comes as JSON on stdout. Without CNI_COMMAND and arguments it prints its\n"
		       "version on stderr, as the reference plugins do.\n",
		       ops->name);
		print_versions_line(stdout);
		return 0;
	}
	if (a) {
		fprintf(stderr, "%s: unknown argument \"%.64s\" (a runtime passes none)\n"
			"Try '%s --help'.\n", ops->name, a, ops->name);
		return 2;
	}
	fprintf(stderr, "CNI %s plugin v%s\n", ops->name, GL_VERSION);
	print_versions_line(stderr);
	return 0;
}

int gl_cni_main(const struct gl_cni_ops *ops, int (*admin)(int argc, char **argv), int argc,
		char **argv)
{
	struct gl_cni_req req;
	struct gl_err err = {0};
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ struct gl_cni_result *result = NULL;
	int64_t start = gl_now_mono_ms();
	size_t len = 0;
	int r = 0;

	gl_log_init(ops->name);
	if (!getenv("CNI_COMMAND") || !*getenv("CNI_COMMAND"))
		return by_hand(ops, admin, argc, argv);
	memset(&req, 0, sizeof(req));
	if (gl_cni_cmd_parse(getenv("CNI_COMMAND")) == GL_CNI_VERSION && isatty(STDIN_FILENO))
		return print_version(GL_CNI_VERSION_LATEST);
	r = gl_read_all(STDIN_FILENO, CNI_STDIN_MAX, &buf, &len);
	if (r < 0) {
		gl_err_from(&err, r, GL_ERR_IO, "reading stdin: %s", r == -EFBIG ?
			   "the configuration is larger than 1 MiB" : strerror(-r));
		return print_error(&err, NULL);
	}
	r = gl_cni_req_parse(&req, real_getenv, buf, len, &err);
	if (r < 0)
		goto fail;
	req.deadline = start + GL_CNI_CALL_BUDGET_MS;

	switch (req.cmd) {
	case GL_CNI_VERSION:
		print_version(req.cni_version);
		break;
	case GL_CNI_ADD: {
		_cleanup_json_ json_object *o = NULL;

		result = calloc(1, sizeof(*result));
		if (!result) {
			r = gl_err_set(&err, GL_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		r = ops->add(&req, result, &err);
		if (r < 0)
			goto fail;
		if (ops->passthrough && req.prev_json) {
			json_object_object_add(req.prev_json, "cniVersion",
					       json_object_new_string(req.cni_version));
			print_json(req.prev_json);
			break;
		}
		o = gl_cni_result_to_json(result, req.cni_version);
		print_json(o);
		break;
	}
	case GL_CNI_DEL:
		r = ops->del(&req, &err);
		break;
	case GL_CNI_CHECK:
		r = ops->check ? ops->check(&req, &err) : 0;
		break;
	case GL_CNI_STATUS:
		r = ops->status ? ops->status(&req, &err) : 0;
		break;
	case GL_CNI_GC:
		r = ops->gc ? ops->gc(&req, &err) : 0;
		break;
	default:
		r = gl_err_set(&err, GL_ERR_INVALID_ENV, "unknown CNI_COMMAND");
	}
	if (r < 0)
		goto fail;
	gl_cni_req_free(&req);
	return 0;
fail:
	if (!err.code)
		gl_err_from(&err, r, GL_ERR_INTERNAL, "%s failed: %s", cmd_name(req.cmd), strerror(-r));
	gl_log(GL_LOG_DEBUG, "%s %s: code %d: %s", cmd_name(req.cmd), req.container_id, err.code, err.msg);
	print_error(&err, req.cni_version[0] ? req.cni_version : NULL);
	gl_cni_req_free(&req);
	return 1;
}
