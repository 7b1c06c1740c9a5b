/* The router's forward set (lib/net/forward): the {"forwards": [...]}
 * document (gl_fwd_set_parse), written back and read again, and a rule
 * comment as the kernel's dump returns it (gl_fwd_from_comment). */
#include "net/forward.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gl_fwd_set s = { 0 }, back = { 0 };
	struct gl_fwd f;
	struct gl_err err = { 0 };
	char *c;

	if (gl_fwd_set_parse((const char *)data, size, &s, &err) == 0) {
		char *j = gl_fwd_set_json(&s);
		struct gl_err e2 = { 0 };

		if (!j || gl_fwd_set_parse(j, strlen(j), &back, &e2) < 0 || back.n != s.n)
			FUZZ_FAIL("a property of the parsed input does not hold");
		free(j);
		gl_fwd_set_free(&back);
		gl_fwd_set_free(&s);
	} else {
		fuzz_check_err(&err);
	}
	c = fuzz_strdup(data, size);
	if (gl_fwd_from_comment(c, &f) == 0) {
		char buf[256];

		if (gl_fwd_comment(&f, buf, sizeof(buf)) < 0)
			FUZZ_FAIL("a property of the parsed input does not hold");
	}
	free(c);
	return 0;
}
