/* kubeconfig text, YAML or JSON (gl_kube_config_parse). */
#include "kube/kube.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gl_kube_config *c = NULL;
	struct gl_err err = { 0 };

	if (gl_kube_config_parse((const char *)data, size, "/etc/gamelan", &c, &err) == 0) {
		if (!c || !c->server)
			FUZZ_FAIL("a property of the parsed input does not hold");
		gl_kube_config_free(c);
	} else {
		fuzz_check_err(&err);
	}
	return 0;
}
