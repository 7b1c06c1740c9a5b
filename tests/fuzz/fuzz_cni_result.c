/* A prevResult or a delegate's result (gl_cni_result_parse), written back
 * in every version (gl_cni_result_to_json) and read again. */
#include "base/json.h"
#include "base/util.h"
#include "base/util.h"
#include "cni/cni.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = { "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
	_cleanup_json_ json_object *o = NULL;
	_cleanup_free_ struct gl_cni_result *res = calloc(1, sizeof(*res));
	struct gl_err err = { 0 };

	if (!res)
		FUZZ_FAIL("a property of the parsed input does not hold");
	if (gl_json_parse_object((const char *)data, size, &o, &err) < 0) {
		fuzz_check_err(&err);
		return 0;
	}
	if (gl_cni_result_parse(o, "1.1.0", res, &err) < 0) {
		fuzz_check_err(&err);
		return 0;
	}
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		_cleanup_json_ json_object *out = gl_cni_result_to_json(res, versions[i]);
		_cleanup_free_ struct gl_cni_result *back = calloc(1, sizeof(*back));
		struct gl_err e2 = { 0 };

		if (!out || !back)
			FUZZ_FAIL("a property of the parsed input does not hold");
		/* What we write, we read. */
		if (gl_cni_result_parse(out, versions[i], back, &e2) < 0)
			FUZZ_FAIL("a property of the parsed input does not hold");
	}
	return 0;
}
