/* The endpoints every daemon serves: /healthz (alive: the loop answers),
 * /readyz (the flag the daemon sets once it can do its work) and /metrics
 * (the registry's exposition). */
#pragma once
#include <stdbool.h>
#include "daemon/http.h"
#include "daemon/metrics.h"

struct gl_health {
	bool ready;                   /* set by the daemon; /readyz is 503 until then */
	struct gl_metrics *metrics;   /* NULL: no /metrics route */
};

/* Route GET /healthz, /readyz and (with hs->metrics) /metrics on h to hs,
 * which must outlive h. */
int gl_health_register(struct gl_http *h, struct gl_health *hs);
