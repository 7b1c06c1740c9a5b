/* The CNI request as a runtime gives it: the environment and stdin
 * (gl_cni_req_parse), then the error JSON a plugin would print for it.
 * Input: "KEY=VALUE" lines, an empty line, then stdin; without an empty line
 * the whole input is stdin of an ADD with a valid environment. */
#include <stdio.h>
#include "base/json.h"
#include "base/util.h"
#include "cni/cni.h"
#include "fuzz.h"

#define FUZZ_ENV_MAX 16

static struct { char *key, *val; } env[FUZZ_ENV_MAX];
static int n_env;

static const char *fuzz_getenv(const char *name)
{
	for (int i = 0; i < n_env; i++)
		if (strcmp(env[i].key, name) == 0)
			return env[i].val;
	return NULL;
}

static void env_parse(char *head)
{
	char *save = NULL;

	n_env = 0;
	for (char *l = strtok_r(head, "\n", &save); l && n_env < FUZZ_ENV_MAX;
	     l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');

		if (!eq)
			continue;
		*eq = '\0';
		env[n_env].key = l;
		env[n_env].val = eq + 1;
		n_env++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char defaults[] = "CNI_COMMAND=ADD\nCNI_CONTAINERID=c0ffee\nCNI_IFNAME=eth0\n"
				 "CNI_NETNS=/run/netns/x\nCNI_PATH=/opt/cni/bin\n"
				 "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0";
	char dflt[sizeof(defaults)];
	_cleanup_free_ char *head = NULL;
	const uint8_t *in = data;
	size_t in_len = size;
	long n = fuzz_split(data, size, &in, &in_len);
	struct gl_cni_req req;
	struct gl_err err = { 0 };
	int r;

	if (n >= 0) {
		head = fuzz_strdup(data, (size_t)n);
		env_parse(head);
	} else {
		memcpy(dflt, defaults, sizeof(defaults));
		env_parse(dflt);
	}
	r = gl_cni_req_parse(&req, fuzz_getenv, (const char *)in, in_len, &err);
	if (r < 0) {
		_cleanup_json_ json_object *o = NULL;
		_cleanup_free_ char *s = NULL;

		fuzz_check_err(&err);
		o = gl_cni_error_to_json(&err, req.cni_version[0] ? req.cni_version : NULL);
		s = o ? gl_json_dump(o) : NULL;
		if (s && !gl_utf8_valid(s, strlen(s), NULL))
			FUZZ_FAIL("a property of the parsed input does not hold");
	} else if (req.has_prev) {
		_cleanup_json_ json_object *o = gl_cni_result_to_json(&req.prev, req.cni_version);
		_cleanup_free_ char *s = o ? gl_json_dump(o) : NULL;

		(void)s;
	}
	gl_cni_req_free(&req);
	return 0;
}
