/* The IPAM config of a network config (lib/ipam/conf:
 * gl_ipamconf_parse_netconf): ranges, pins, store, hold, routes, dns. */
#include "base/json.h"
#include "base/util.h"
#include "ipam/conf.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_json_ json_object *o = NULL;
	struct gl_ipam_conf c;
	struct gl_err err = { 0 };

	if (gl_json_parse_object((const char *)data, size, &o, &err) < 0) {
		fuzz_check_err(&err);
		return 0;
	}
	if (gl_ipamconf_parse_netconf(o, &c, &err) < 0) {
		fuzz_check_err(&err);
		return 0;
	}
	gl_ipamconf_free(&c);
	return 0;
}
