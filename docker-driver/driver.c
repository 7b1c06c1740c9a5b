#include "driver.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/json.h"
#include "base/log.h"
#include "api.h"
#include "base/util.h"

#define CT_PLUGIN "application/vnd.docker.plugins.v1+json"

struct dk_pool *dk_pool_find(struct dk *d, const char *id)
{
	for (int i = 0; i < d->n_pools; i++)
		if (strcmp(d->pools[i].id, id) == 0)
			return &d->pools[i];
	return NULL;
}

struct dk_net *dk_net_find(struct dk *d, const char *id)
{
	for (int i = 0; i < d->n_nets; i++)
		if (strcmp(d->nets[i].id, id) == 0)
			return &d->nets[i];
	return NULL;
}

struct dk_ep *dk_ep_find(struct dk *d, const char *id)
{
	for (int i = 0; i < d->n_eps; i++)
		if (strcmp(d->eps[i].id, id) == 0)
			return &d->eps[i];
	return NULL;
}

int dk_save_pool(struct dk *d, const struct dk_pool *p, struct gl_err *err)
{
	_cleanup_json_ json_object *o = dk_pool_to_json(p);

	return dk_state_put(d->meta, "pool", p->id, o, err);
}

int dk_save_net(struct dk *d, const struct dk_net *n, struct gl_err *err)
{
	_cleanup_json_ json_object *o = dk_net_to_json(n);

	return dk_state_put(d->meta, "network", n->id, o, err);
}

int dk_save_ep(struct dk *d, const struct dk_ep *e, struct gl_err *err)
{
	_cleanup_json_ json_object *o = dk_ep_to_json(e);

	return dk_state_put(d->meta, "endpoint", e->id, o, err);
}

static int load_pool(json_object *o, void *userdata)
{
	struct dk *d = userdata;
	struct gl_err err = { 0 };

	if (d->n_pools >= DK_POOLS_MAX || dk_pool_from_json(o, &d->pools[d->n_pools], &err) < 0) {
		gl_warn("a pool record is unreadable or one too many, left alone: %s", err.msg);
		return 0;
	}
	d->n_pools++;
	return 0;
}

static int load_net(json_object *o, void *userdata)
{
	struct dk *d = userdata;
	struct gl_err err = { 0 };

	if (d->n_nets >= DK_NETS_MAX || dk_net_from_json(o, &d->nets[d->n_nets], &err) < 0) {
		gl_warn("a network record is unreadable or one too many, left alone: %s", err.msg);
		return 0;
	}
	d->n_nets++;
	return 0;
}

static int load_ep(json_object *o, void *userdata)
{
	struct dk *d = userdata;
	struct gl_err err = { 0 };

	if (d->n_eps >= DK_EPS_MAX || dk_ep_from_json(o, &d->eps[d->n_eps], &err) < 0) {
		gl_warn("an endpoint record is unreadable or one too many, left alone: %s", err.msg);
		return 0;
	}
	d->n_eps++;
	return 0;
}

int dk_open(struct dk *d, struct gl_err *err)
{
	struct gl_store_conf sc = { .type = "sqlite", .path = d->db, .create = true };
	int r;

	d->eps = calloc(DK_EPS_MAX, sizeof(*d->eps));
	if (!d->eps)
		return -ENOMEM;
	r = gl_store_open(&sc, &d->store, err);
	if (r < 0)
		return r;
	r = dk_state_open(d->db, &d->meta, err);
	if (r < 0)
		return r;
	r = dk_state_each(d->meta, "pool", load_pool, d, err);
	if (r >= 0)
		r = dk_state_each(d->meta, "network", load_net, d, err);
	if (r >= 0)
		r = dk_state_each(d->meta, "endpoint", load_ep, d, err);
	if (r < 0)
		return r;
	r = gl_nl_open(&d->nl);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "opening rtnetlink: %s", strerror(-r));
	if (gethostname(d->node, sizeof(d->node)) < 0 || !d->node[0])
		gl_strlcpy(d->node, "docker", sizeof(d->node));
	d->node[sizeof(d->node) - 1] = '\0';
	gl_info("state: %d pools, %d networks, %d endpoints from %s", d->n_pools, d->n_nets, d->n_eps,
		d->db);
	dk_sweep_links(d);
	return 0;
}

void dk_close(struct dk *d)
{
	gl_http_free(d->http);
	d->http = NULL;
	gl_loop_timer_free(d->ping);
	d->ping = NULL;
	gl_nl_close(d->nl);
	d->nl = NULL;
	dk_state_close(d->meta);
	d->meta = NULL;
	gl_store_close(d->store);
	d->store = NULL;
	free(d->eps);
	d->eps = NULL;
}

/* ---- HTTP ---- */

static int reply(struct gl_http_resp *resp, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *body;

	len = strlen(s);
	body = malloc(len + 2);
	if (!body)
		return -ENOMEM;
	memcpy(body, s, len);
	body[len] = '\n';
	body[len + 1] = '\0';
	resp->status = 200;
	resp->content_type = CT_PLUGIN;
	free(resp->body);
	resp->body = body;
	resp->body_len = len + 1;
	return 0;
}

static json_object *error_body(bool ipam, const struct gl_err *err, int r)
{
	json_object *o = json_object_new_object();
	char msg[GL_ERR_MSG_MAX + 32];

	snprintf(msg, sizeof(msg), "gamelan: %s", err->msg[0] ? err->msg : strerror(-r));
	json_object_object_add(o, ipam ? "Error" : "Err", json_object_new_string(msg));
	return o;
}

void dk_answer_later(struct gl_http_later *later, bool ipam, int r, json_object *resp,
		     const struct gl_err *err)
{
	json_object *o = r < 0 ? error_body(ipam, err, r) : resp;
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int ar;

	if (r < 0)
		gl_warn("answered late with an error: %s", err->msg);
	ar = gl_http_answer(later, 200, CT_PLUGIN, s, strlen(s));
	if (ar < 0)
		gl_warn("a late answer was lost: %s", strerror(-ar));
	json_object_put(o);
	if (r < 0)
		json_object_put(resp);
}

struct bound {
	struct dk *d;
	const struct dk_route *route;
};

static int dispatch(const struct gl_http_req *hr, struct gl_http_resp *resp, void *userdata)
{
	const struct bound *b = userdata;
	_cleanup_json_ json_object *req = NULL;
	_cleanup_json_ json_object *out = json_object_new_object();
	struct gl_err err = { 0 };
	size_t n = hr->body_len;
	int r;

	gl_debug("%s %.*s", b->route->path, (int)(hr->body_len < 2000 ? hr->body_len : 2000), hr->body);
	/* Docker sends "null" (or nothing) for calls without arguments. */
	while (n > 0 && strchr(" \t\r\n", hr->body[n - 1]))
		n--;
	if (n == 0 || (n == 4 && memcmp(hr->body, "null", 4) == 0)) {
		req = json_object_new_object();
		r = 0;
	} else {
		r = gl_json_parse_object(hr->body, hr->body_len, &req, &err);
	}
	if (r >= 0)
		r = b->route->fn(b->d, req, out, hr, &err);
	if (r == 1)
		return 0;
	if (r < 0) {
		_cleanup_json_ json_object *e = error_body(b->route->ipam, &err, r);

		gl_warn("%s: %s", b->route->path, err.msg[0] ? err.msg : strerror(-r));
		return reply(resp, e);
	}
	return reply(resp, out);
}

static int activate(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		    struct gl_err *err)
{
	dk_dockerd_started(d);
	json_object *impl = json_object_new_array();

	json_object_array_add(impl, json_object_new_string("NetworkDriver"));
	json_object_array_add(impl, json_object_new_string("IpamDriver"));
	json_object_object_add(resp, "Implements", impl);
	return 0;
}

static const struct dk_route plugin_routes[] = {
	{ "/Plugin.Activate", false, activate },
	{ NULL, false, NULL },
};

int dk_serve(struct dk *d, const char *socket_path, struct gl_err *err)
{
	static const struct dk_route *const tables[] = { plugin_routes, dk_ipam_routes, dk_net_routes };
	/* Docker's plugin client has no timeout of its own: past this bound the
	 * server answers 503 itself rather than letting docker run hang. */
	struct gl_http_opts ho = { .answer_ms = 20000, .conns_max = 256, .body_max = 1u << 20 };
	static struct bound bound[96];
	size_t nb = 0;
	int r;

	r = gl_http_new(d->loop, &ho, &d->http);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_INTERNAL, "starting the HTTP server: %s", strerror(-r));
	for (size_t t = 0; t < GL_ARRAY_SIZE(tables); t++) {
		for (const struct dk_route *rt = tables[t]; rt->path; rt++) {
			if (nb >= GL_ARRAY_SIZE(bound))
				return gl_err_set(err, GL_ERR_INTERNAL, "too many routes");
			bound[nb] = (struct bound){ .d = d, .route = rt };
			r = gl_http_route(d->http, "POST", rt->path, dispatch, &bound[nb]);
			if (r < 0)
				return gl_err_from(err, r, GL_ERR_INTERNAL, "route %s: %s", rt->path, strerror(-r));
			nb++;
		}
	}
	return gl_http_listen_unix(d->http, socket_path, 0600, err);
}

/* ---- is dockerd serving its API? ---- */

int64_t dk_who_timeout(const struct dk *d)
{
	return d->serving ? DK_WHO_TIMEOUT_SERVING_MS : DK_WHO_TIMEOUT_MS;
}

void dk_api_seen(struct dk *d, int r)
{
	bool was = d->serving;

	if (r == 0)
		d->serving = true;
	else if (r == -ETIMEDOUT || r == -ECONNREFUSED)
		d->serving = false;
	if (was != d->serving)
		gl_info("dockerd %s", d->serving ? "serves its API" : "does not answer its API: short lookups");
}

static void ping_answered(int r, long status, const char *body, size_t len, void *userdata)
{
	dk_api_seen(userdata, r == 0 && status != 200 ? -EIO : r);
}

static void ping_tick(struct gl_loop *l, void *userdata)
{
	struct dk *d = userdata;

	if (!d->serving)
		dk_api_get(d->loop, d->docker_sock, "/_ping", DK_PING_MS, ping_answered, d);
}

int dk_ping_start(struct dk *d)
{
	return gl_loop_timer_add(d->loop, 0, DK_PING_MS, ping_tick, d, &d->ping);
}

void dk_dockerd_started(struct dk *d)
{
	if (d->serving)
		gl_info("dockerd activated the plugin: it (re)started, short lookups until it serves its API");
	d->serving = false;
	/* Ask at once: dockerd also activates a plugin it already knows, and
	 * then answers its API as before. */
	dk_api_get(d->loop, d->docker_sock, "/_ping", DK_PING_MS, ping_answered, d);
}
