/* Helpers shared by the cmocka unit tests. Header-only (static inline): each
 * tests/unit/test_X.c is its own binary linked with libgamelan.a, and inline
 * keeps -Wunused-function quiet in a test that needs only part of it.
 * Include after <cmocka.h>. */
#ifndef GAMELAN_TESTS_UNIT_H
#define GAMELAN_TESTS_UNIT_H

#include <errno.h>
#include <stdbool.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ipam/alloc.h"
#include "base/ip.h"
#include "ipam/store.h"

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

/* ---- looking at a store's rows ---- */

/* The row of ip in network (every network when NULL), copied to ret;
 * false when there is none. */
static inline bool store_row(struct gl_store *s, const char *network, const char *ip,
			     struct gl_resv *ret)
{
	struct gl_resv_list l = { 0 };
	struct gl_err err = { 0 };
	struct gl_ip x = ip_of(ip);
	bool found = false;

	if (s->ops->scan(s, network, &l, &err) < 0)
		fail_msg("scan: %s", err.msg);
	for (size_t i = 0; i < l.n && !found; i++)
		if (gl_ip_equal(&l.v[i].ip, &x)) {
			*ret = l.v[i];
			found = true;
		}
	gl_store_list_free(&l);
	return found;
}

static inline size_t store_rows(struct gl_store *s, const char *network)
{
	struct gl_resv_list l = { 0 };
	struct gl_err err = { 0 };
	size_t n;

	if (s->ops->scan(s, network, &l, &err) < 0)
		fail_msg("scan: %s", err.msg);
	n = l.n;
	gl_store_list_free(&l);
	return n;
}

/* ---- a store in front of another, for the races a test stages ----
 * It counts begins, scans and inserts; the next lose_inserts inserts fail
 * as if another writer had won (-EEXIST), the next take_addrs as if it had
 * taken the address (-EADDRINUSE); the next hide_scans scans do not show
 * the row of hide (another writer added it since). Closing it closes the
 * inner store. */
struct race_store {
	struct gl_store base;
	struct gl_store *inner;
	int begins, scans, inserts;
	int lose_inserts, take_addrs, hide_scans;
	struct gl_ip hide;
};

static inline struct race_store *race_of(struct gl_store *s)
{
	return (struct race_store *)s;
}

static inline int race_begin(struct gl_store *s, struct gl_err *err)
{
	race_of(s)->begins++;
	return race_of(s)->inner->ops->begin(race_of(s)->inner, err);
}

static inline int race_commit(struct gl_store *s, struct gl_err *err)
{
	return race_of(s)->inner->ops->commit(race_of(s)->inner, err);
}

static inline void race_rollback(struct gl_store *s)
{
	race_of(s)->inner->ops->rollback(race_of(s)->inner);
}

static inline int race_scan(struct gl_store *s, const char *network, struct gl_resv_list *ret,
			    struct gl_err *err)
{
	struct race_store *w = race_of(s);
	size_t n0 = ret->n, k = n0;
	int r = w->inner->ops->scan(w->inner, network, ret, err);

	w->scans++;
	if (r < 0 || w->hide_scans <= 0)
		return r;
	w->hide_scans--;
	for (size_t i = n0; i < ret->n; i++)
		if (!gl_ip_equal(&ret->v[i].ip, &w->hide))
			ret->v[k++] = ret->v[i];
	ret->n = k;
	return 0;
}

static inline int race_insert(struct gl_store *s, struct gl_resv *r, struct gl_err *err)
{
	struct race_store *w = race_of(s);

	w->inserts++;
	if (w->take_addrs > 0) {
		w->take_addrs--;
		return -EADDRINUSE;
	}
	if (w->lose_inserts > 0) {
		w->lose_inserts--;
		return -EEXIST;
	}
	return w->inner->ops->insert(w->inner, r, err);
}

static inline int race_update(struct gl_store *s, struct gl_resv *r, struct gl_err *err)
{
	return race_of(s)->inner->ops->update(race_of(s)->inner, r, err);
}

static inline int race_remove(struct gl_store *s, const struct gl_resv *r, struct gl_err *err)
{
	return race_of(s)->inner->ops->remove(race_of(s)->inner, r, err);
}

static inline int race_status(struct gl_store *s, struct gl_err *err)
{
	return race_of(s)->inner->ops->status(race_of(s)->inner, err);
}

static inline void race_close(struct gl_store *s)
{
	gl_store_close(race_of(s)->inner);
	free(s);
}

/* A race store in front of inner, which it now owns. */
static inline struct race_store *race_store_new(struct gl_store *inner)
{
	static const struct gl_store_ops ops = {
		.type = "race", .close = race_close, .begin = race_begin, .commit = race_commit,
		.rollback = race_rollback, .scan = race_scan, .insert = race_insert,
		.update = race_update, .remove = race_remove, .status = race_status,
	};
	struct race_store *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	w->base.ops = &ops;
	w->inner = inner;
	return w;
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

/* A cmocka group setup: the rest of the binary runs in a network namespace
 * of its own, so a kernel test never touches the netns it was started in. */
static inline int unit_own_netns(void **state)
{
	(void)state;
	return unshare(CLONE_NEWNET);
}

#endif
