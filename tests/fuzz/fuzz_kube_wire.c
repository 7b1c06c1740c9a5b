/* What the API server sends back (lib/kube/kube_wire): a Status body with
 * its HTTP code (gl_kube_status_errno), a watch stream cut into chunks
 * (gl_kube_lines_feed + gl_kube_event_parse) and a Retry-After value.
 * Input: the first byte picks the HTTP code and the chunk size, the rest is
 * the body. */
#include <json-c/json.h>
#include "kube/kube.h"
#include "fuzz.h"

static int on_line(char *line, size_t len, void *userdata)
{
	struct gl_kube_event ev;
	struct gl_err err = { 0 };

	if (gl_kube_event_parse(line, len, &ev, &err) == 0) {
		if (!ev.object)
			FUZZ_FAIL("a property of the parsed input does not hold");
		gl_kube_obj_rv(ev.object);
		gl_kube_obj_name(ev.object);
		json_object_put(ev.object);
	} else {
		fuzz_check_err(&err);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long codes[] = { 200, 201, 400, 401, 403, 404, 409, 410, 422, 429, 500, 503 };
	struct gl_kube_lines lines = { .max = 1 << 16 };
	struct gl_err err = { 0 };
	size_t chunk, off;
	char *s;

	if (size < 1)
		return 0;
	chunk = (size_t)(data[0] >> 4) * 7 + 1;
	gl_kube_status_errno(codes[(data[0] & 0x0f) % (sizeof(codes) / sizeof(codes[0]))],
			     (const char *)data + 1, size - 1, &err);
	fuzz_check_err(&err);
	for (off = 1; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (gl_kube_lines_feed(&lines, (const char *)data + off, n, on_line, NULL) < 0)
			break;
	}
	gl_kube_lines_free(&lines);
	s = fuzz_strdup(data + 1, size - 1);
	if (gl_kube_retry_after_ms(s, 5000) > 5000)
		FUZZ_FAIL("a property of the parsed input does not hold");
	free(s);
	return 0;
}
