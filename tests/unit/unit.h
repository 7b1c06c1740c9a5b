/* Helpers shared by the cmocka unit tests. Header-only (static inline): each
 * tests/unit/test_X.c is its own binary linked with libgamelan.a, and inline
 * keeps -Wunused-function quiet in a test that needs only part of it.
 * Include after <cmocka.h>. */
#ifndef GAMELAN_TESTS_UNIT_H
#define GAMELAN_TESTS_UNIT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "ipam/alloc.h"
#include "base/ip.h"

/* A literal the test knows to be valid, parsed (the test fails otherwise). */
static inline struct gl_ip ip_of(const char *s)
{
	struct gl_ip ip;

	assert_int_equal(gl_ip_parse(s, &ip), 0);
	return ip;
}

static inline struct gl_prefix prefix_of(const char *s)
{
	struct gl_prefix p;

	assert_int_equal(gl_prefix_parse(s, &p), 0);
	return p;
}

/* An address as text, from a ring of four buffers (several per assert). */
static inline const char *ip_str(const struct gl_ip *ip)
{
	static char buf[4][GL_IP_STRLEN];
	static int k;

	k = (k + 1) % 4;
	return gl_ip_str(ip, buf[k], sizeof(buf[k]));
}

/* An ADD request for interface eth0 on node1. */
static inline struct gl_alloc_req alloc_req_of(const struct gl_ipam_conf *conf,
					       const char *identity, const char *container,
					       int64_t now)
{
	return (struct gl_alloc_req){ .conf = conf, .identity = identity, .ifname = "eth0",
				      .container_id = container, .node = "node1", .now = now };
}

/* ADD for a one-range-set config: the address, or the error code as
 * "E<code>" (ring of four buffers). An error the allocator should not give
 * is printed, to explain the failing assert. */
static inline const char *alloc_add_str(struct gl_store *s, struct gl_alloc_req r)
{
	static char out[4][64];
	static int k;
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_err err = { 0 };

	k = (k + 1) % 4;
	if (gl_alloc_add(s, &r, ips, &err) < 0) {
		snprintf(out[k], sizeof(out[k]), "E%d", err.code);
		if (err.code != GL_ERR_POOL_EXHAUSTED && err.code != GL_ERR_PIN_CONFLICT &&
		    err.code != GL_ERR_ADDR_IN_USE)
			print_message("# ADD failed: %s\n", err.msg);
		return out[k];
	}
	snprintf(out[k], sizeof(out[k]), "%s", ip_str(&ips[0]));
	return out[k];
}

/* ---- a fake environment, the getenv gl_cni_req_parse reads ----
 * It starts as what kubelet's runtime passes on ADD; fake_env_set changes
 * one variable, fake_env_runtime starts over (with another verb). */

#define FAKE_ENV_MAX 16
#define FAKE_K8S_ARGS "IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0;" \
		      "K8S_POD_INFRA_CONTAINER_ID=c0ffee01"

struct fake_env_var {
	const char *k, *v;
};

static inline void fake_env_fill(struct fake_env_var *env, const char *cmd)
{
	const struct fake_env_var runtime[] = {
		{ "CNI_COMMAND", cmd },
		{ "CNI_CONTAINERID", "c0ffee01" },
		{ "CNI_NETNS", "/run/netns/pod1" },
		{ "CNI_IFNAME", "eth0" },
		{ "CNI_PATH", "/opt/cni/bin:/usr/lib/cni" },
		{ "CNI_ARGS", FAKE_K8S_ARGS },
	};

	memset(env, 0, FAKE_ENV_MAX * sizeof(*env));
	memcpy(env, runtime, sizeof(runtime));
}

static inline struct fake_env_var *fake_env(void)
{
	static struct fake_env_var env[FAKE_ENV_MAX];
	static bool ready;

	if (!ready) {
		fake_env_fill(env, "ADD");
		ready = true;
	}
	return env;
}

/* The runtime's variables for verb cmd, and nothing else. */
static inline void fake_env_runtime(const char *cmd)
{
	fake_env_fill(fake_env(), cmd);
}

static inline void fake_env_clear(void)
{
	memset(fake_env(), 0, FAKE_ENV_MAX * sizeof(struct fake_env_var));
}

/* Set (v non-NULL) or remove (v NULL) a variable; k and v must outlive
 * their use (literals, or the test's own buffers). */
static inline void fake_env_set(const char *k, const char *v)
{
	struct fake_env_var *env = fake_env();

	for (int i = 0; i < FAKE_ENV_MAX; i++) {
		if (env[i].k && strcmp(env[i].k, k) == 0) {
			env[i].v = v;
			if (!v)
				env[i].k = NULL;
			return;
		}
	}
	if (!v)
		return;
	for (int i = 0; i < FAKE_ENV_MAX; i++) {
		if (!env[i].k) {
			env[i].k = k;
			env[i].v = v;
			return;
		}
	}
	fail_msg("fake environment full");
}

static inline const char *fake_getenv(const char *name)
{
	const struct fake_env_var *env = fake_env();

	for (int i = 0; i < FAKE_ENV_MAX; i++)
		if (env[i].k && strcmp(env[i].k, name) == 0)
			return env[i].v;
	return NULL;
}

#endif
