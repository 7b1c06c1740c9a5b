/* IPReservation objects as the API server returns them
 * (gl_store_kube_from_json); what parses is written back and read again. */
#include "base/json.h"
#include "base/util.h"
#include "ipam/store.h"
#include "ipam/store_kube.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_json_ json_object *o = NULL;
	struct gl_resv r, back;
	struct gl_err err = { 0 };
	char why[256];

	if (gl_json_parse_object((const char *)data, size, &o, &err) < 0)
		return 0;
	if (gl_store_kube_from_json(o, &r, why, sizeof(why)) < 0) {
		if (strnlen(why, sizeof(why)) == sizeof(why))
			FUZZ_FAIL("a property of the parsed input does not hold");
		return 0;
	}
	{
		_cleanup_json_ json_object *out = gl_store_kube_to_json(&r, "games", true);

		if (!out || gl_store_kube_from_json(out, &back, why, sizeof(why)) < 0)
			FUZZ_FAIL("a property of the parsed input does not hold");
	}
	return 0;
}
