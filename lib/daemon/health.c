#include "daemon/health.h"
#include <errno.h>
#include <string.h>

static int on_healthz(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	return gl_http_reply(resp, 200, NULL, "ok\n", 3);
}

static int on_readyz(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	const struct gl_health *hs = userdata;

	if (hs->ready)
		return gl_http_reply(resp, 200, NULL, "ok\n", 3);
	return gl_http_reply(resp, 503, NULL, "not ready\n", strlen("not ready\n"));
}

static int on_metrics(const struct gl_http_req *req, struct gl_http_resp *resp, void *userdata)
{
	const struct gl_health *hs = userdata;
	int r;

	r = gl_metrics_write(hs->metrics, &resp->body, &resp->body_len);
	if (r < 0)
		return r;
	resp->content_type = GL_METRICS_CONTENT_TYPE;
	return 0;
}

int gl_health_register(struct gl_http *h, struct gl_health *hs)
{
	int r;

	r = gl_http_route(h, "GET", "/healthz", on_healthz, hs);
	if (r >= 0)
		r = gl_http_route(h, "GET", "/readyz", on_readyz, hs);
	if (r >= 0 && hs->metrics)
		r = gl_http_route(h, "GET", "/metrics", on_metrics, hs);
	return r;
}
