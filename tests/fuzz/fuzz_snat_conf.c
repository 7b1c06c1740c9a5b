/* gamelan-snat's config (gl_snat_cni_conf_parse) as its ADD reads it: stdin
 * through the CNI request parser with a valid environment. */
#include "cni/cni.h"
#include "net/snat.h"
#include "fuzz.h"

static const char *fuzz_getenv(const char *name)
{
	static const char *const env[][2] = {
		{ "CNI_COMMAND", "ADD" }, { "CNI_CONTAINERID", "c0ffee" }, { "CNI_IFNAME", "eth0" },
		{ "CNI_NETNS", "/run/netns/x" }, { "CNI_PATH", "/opt/cni/bin" },
	};

	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++)
		if (strcmp(env[i][0], name) == 0)
			return env[i][1];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gl_cni_req req;
	struct gl_snat_conf c;
	struct gl_err err = { 0 };

	if (gl_cni_req_parse(&req, fuzz_getenv, (const char *)data, size, &err) == 0 &&
	    gl_snat_cni_conf_parse(&req, &c, &err) == 0) {
		if (gl_snat_conf_rule_count(&c) < 0)
			FUZZ_FAIL("a property of the parsed input does not hold");
	} else {
		fuzz_check_err(&err);
	}
	gl_cni_req_free(&req);
	return 0;
}
