/* One suite of store-level and allocator-level cases, run against every
 * store: SQLite in a temp dir, the memory store (store_mem.c), and the
 * Kubernetes store against the fake
 * API server (netns-harness/fakeapi/fakeapi.py, started here as a child on
 * 127.0.0.1, the IPReservation CRD posted first). The same behaviour is the
 * contract (store.h). Then the Kubernetes store's own cases: its pure
 * object format, round trips per ADD, malformed objects, STATUS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ipam/alloc.h"
#include "ipam/conf.h"
#include "base/json.h"
#include "kube/kube.h"
#include "ipam/store.h"
#include "ipam/store_kube.h"
#include "base/util.h"
#include "unit.h"
#include "fakeapi/fakeapi_child.h"

#define H (3600LL * 1000)
#define T0 1700000000000LL

/* ---- the fake API server (netns-harness/fakeapi/fakeapi_child.h) ---- */

static struct fakeapi fake;
static char fake_dir[64];
static char kubeconfig[PATH_MAX];

static int fake_start(void)
{
	static const char *const args[] = { "--namespace", "gamelan-system", NULL };
	const char *python = fakeapi_python();
	char script[PATH_MAX], *crd;
	struct gl_err err = {0};
	int r;

	if (!fakeapi_find(script)) {
		fprintf(stderr, "netns-harness/fakeapi/fakeapi.py not found (set GL_TOP)\n");
		return -1;
	}
	snprintf(fake_dir, sizeof(fake_dir), "/tmp/gl-store-suite.XXXXXX");
	if (!mkdtemp(fake_dir)) {
		fake_dir[0] = '\0';
		return -1;
	}
	snprintf(fake.dir, sizeof(fake.dir), "%s", fake_dir);
	r = fakeapi_start(&fake, python, script, false, args);
	if (r < 0) {
		fprintf(stderr, "the fake API server did not start: %s\n", strerror(-r));
		return -1;
	}
	snprintf(kubeconfig, sizeof(kubeconfig), "%s/kubeconfig", fake_dir);
	if (fakeapi_kubeconfig(kubeconfig, fake.url, NULL, NULL) < 0)
		return -1;
	crd = fakeapi_crd_json(python, script);
	r = crd ? fakeapi_post_crd(kubeconfig, crd, &err) : -ENOMEM;
	free(crd);
	if (r < 0) {
		fprintf(stderr, "posting the CRD failed: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static void fake_stop(void)
{
	char cmd[128];

	fakeapi_stop(&fake);
	if (fake_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", fake_dir);
	}
}

/* ---- backends ---- */

enum backend { SQLITE, KUBE, MEMORY };

struct env {
	enum backend be;
	char dir[64];
	char db[128];
	char net[32];
	struct gl_store *s;
	struct gl_ipam_conf conf;
};

static int seq;
/* The Kubernetes store with spread_start off: the allocator-level cases
 * below check its decisions address by address, as for SQLite's lowest
 * free one; test_kube_spread_start checks the store as it ships. */
static struct gl_store_ops kube_lowest_ops;
static bool kube_spread;

static struct gl_store *open_store(struct env *e)
{
	static const char *const types[] = { [SQLITE] = "sqlite", [KUBE] = "kubernetes", [MEMORY] = "memory" };
	struct gl_store_conf sc = { .type = types[e->be], .path = e->db, .create = true,
				    .kubeconfig = kubeconfig, .namespace = "gamelan-system" };
	struct gl_store *s = NULL;
	struct gl_err err = {0};

	if (gl_store_open(&sc, &s, &err) < 0)
		fail_msg("open %s store: %s", sc.type, err.msg);
	if (e->be == KUBE && !kube_spread) {
		kube_lowest_ops = *s->ops;
		kube_lowest_ops.spread_start = false;
		s->ops = &kube_lowest_ops;
	}
	return s;
}

/* A fresh store (SQLite; memory: a name of its own, that a second handle
 * shares) or a fresh network (Kubernetes: the fake lives for the whole
 * run, each case names its own network). */
static void env_init(struct env *e, enum backend be, const char *ipam_json)
{
	json_object *o = NULL;
	struct gl_err err = {0};

	memset(e, 0, sizeof(*e));
	e->be = be;
	snprintf(e->net, sizeof(e->net), "lan-%d", ++seq);
	if (be == SQLITE) {
		snprintf(e->dir, sizeof(e->dir), "/tmp/gl-suite-sq.XXXXXX");
		assert_non_null(mkdtemp(e->dir));
		snprintf(e->db, sizeof(e->db), "%s/ipam.db", e->dir);
	} else if (be == MEMORY) {
		snprintf(e->db, sizeof(e->db), "suite-%d", seq);
	}
	e->s = open_store(e);
	if (gl_json_parse_object(ipam_json, strlen(ipam_json), &o, &err) < 0)
		fail_msg("bad test JSON: %s", err.msg);
	if (gl_ipamconf_parse(o, e->net, &e->conf, &err) < 0)
		fail_msg("bad test config: %s", err.msg);
	json_object_put(o);
}

static void env_done(struct env *e)
{
	char p[160];

	gl_ipamconf_free(&e->conf);
	gl_store_close(e->s);
	if (e->be == SQLITE) {
		static const char *const sfx[] = { "", "-wal", "-shm" };

		for (size_t i = 0; i < GL_ARRAY_SIZE(sfx); i++) {
			snprintf(p, sizeof(p), "%s%s", e->db, sfx[i]);
			unlink(p);
		}
		rmdir(e->dir);
	}
}

static enum backend be_of(void **state)
{
	return (enum backend)(intptr_t)*state;
}

static struct gl_alloc_req req(struct env *e, const char *identity, const char *container,
			       int64_t now)
{
	return alloc_req_of(&e->conf, identity, container, now);
}

static const char *add_req(struct env *e, struct gl_alloc_req r)
{
	return alloc_add_str(e->s, r);
}

static const char *add(struct env *e, const char *identity, const char *container, int64_t now)
{
	return add_req(e, req(e, identity, container, now));
}

static void del(struct env *e, const char *identity, const char *container, int64_t now)
{
	struct gl_alloc_req r = req(e, identity, container, now);
	struct gl_err err = {0};

	if (gl_alloc_del(e->s, &r, &err) < 0)
		fail_msg("DEL: %s", err.msg);
}

static void scan(struct env *e, const char *network, struct gl_resv_list *l)
{
	struct gl_err err = {0};

	if (e->s->ops->scan(e->s, network, l, &err) < 0)
		fail_msg("scan: %s", err.msg);
}

/* The row of ip in the case's network (a copy), found = false when none. */
static struct gl_resv row_of(struct env *e, const char *ip, bool *found)
{
	struct gl_resv r = {0};

	*found = store_row(e->s, e->net, ip, &r);
	return r;
}

static const char *status_of(struct env *e, const char *ip)
{
	bool found;
	struct gl_resv r = row_of(e, ip, &found);

	return found ? gl_alloc_status(&r) : "none";
}

static size_t n_rows(struct env *e)
{
	return store_rows(e->s, e->net);
}

static struct gl_resv mkrow(struct env *e, const char *ip, const char *identity, int pool)
{
	struct gl_resv r = {0};

	snprintf(r.network, sizeof(r.network), "%s", e->net);
	assert_int_equal(gl_ip_parse(ip, &r.ip), 0);
	snprintf(r.identity, sizeof(r.identity), "%s", identity ? identity : "");
	snprintf(r.ifname, sizeof(r.ifname), "%s", identity ? "eth0" : "");
	snprintf(r.container_id, sizeof(r.container_id), "%s", identity ? "cid-1" : "");
	r.pool = pool;
	r.state = identity ? GL_RESV_BOUND : GL_RESV_CONFLICT;
	r.expires = identity ? GL_RESV_NEVER : T0 + H;
	snprintf(r.node, sizeof(r.node), "node1");
	r.updated = T0;
	return r;
}

static int w_insert(struct env *e, struct gl_resv *r)
{
	struct gl_err err = {0};
	int ret = e->s->ops->begin(e->s, &err);

	assert_int_equal(ret, 0);
	ret = e->s->ops->insert(e->s, r, &err);
	if (ret < 0)
		e->s->ops->rollback(e->s);
	else
		assert_int_equal(e->s->ops->commit(e->s, &err), 0);
	return ret;
}

static int w_update(struct env *e, struct gl_resv *r)
{
	struct gl_err err = {0};
	int ret = e->s->ops->begin(e->s, &err);

	assert_int_equal(ret, 0);
	ret = e->s->ops->update(e->s, r, &err);
	if (ret < 0)
		e->s->ops->rollback(e->s);
	else
		assert_int_equal(e->s->ops->commit(e->s, &err), 0);
	return ret;
}

static int w_remove(struct env *e, const struct gl_resv *r)
{
	struct gl_err err = {0};
	int ret = e->s->ops->begin(e->s, &err);

	assert_int_equal(ret, 0);
	ret = e->s->ops->remove(e->s, r, &err);
	if (ret < 0)
		e->s->ops->rollback(e->s);
	else
		assert_int_equal(e->s->ops->commit(e->s, &err), 0);
	return ret;
}

#define SEED "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\"," \
	     "\"rangeEnd\":\"192.168.1.216\",\"gateway\":\"192.168.1.1\""
#define SMALL "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\"," \
	      "\"rangeEnd\":\"192.168.1.202\",\"hold\":\"1h\""

/* ---- store-level cases ---- */

static void test_insert_exists(void **state)
{
	struct env e;
	struct gl_resv a, b, c, x1, x2;
	int r;

	env_init(&e, be_of(state), SEED "}");
	a = mkrow(&e, "192.168.1.10", "games/a", 0);
	assert_int_equal(w_insert(&e, &a), 0);
	assert_true(a.version[0] != '\0');
	/* The address is taken: SQLite cannot tell which key, Kubernetes can. */
	b = mkrow(&e, "192.168.1.10", "games/b", 0);
	r = w_insert(&e, &b);
	assert_true(r == -EEXIST || r == -EADDRINUSE);
	if (e.be == KUBE)
		assert_int_equal(r, -EADDRINUSE);
	/* The identity key is taken: -EEXIST, and nothing of it is left. */
	c = mkrow(&e, "192.168.1.11", "games/a", 0);
	assert_int_equal(w_insert(&e, &c), -EEXIST);
	assert_string_equal(status_of(&e, "192.168.1.11"), "none");
	/* Same identity in another pool or on another interface is another key. */
	c = mkrow(&e, "192.168.1.12", "games/a", 1);
	assert_int_equal(w_insert(&e, &c), 0);
	c = mkrow(&e, "192.168.1.13", "games/a", 0);
	snprintf(c.ifname, sizeof(c.ifname), "net1");
	assert_int_equal(w_insert(&e, &c), 0);
	/* Conflict rows have no identity: any number of them. */
	x1 = mkrow(&e, "192.168.1.20", NULL, 0);
	x2 = mkrow(&e, "192.168.1.21", NULL, 0);
	assert_int_equal(w_insert(&e, &x1), 0);
	assert_int_equal(w_insert(&e, &x2), 0);
	assert_int_equal(n_rows(&e), 5);
	env_done(&e);
}

/* Two writers (two processes on two nodes) insert the same identity at two
 * addresses: exactly one keeps it. */
static void test_identity_race_two_handles(void **state)
{
	struct env e;
	struct gl_store *s2;
	struct gl_resv a, b;
	struct gl_err err = {0};

	env_init(&e, be_of(state), SEED "}");
	s2 = open_store(&e);
	a = mkrow(&e, "192.168.1.30", "games/x", 0);
	b = mkrow(&e, "192.168.1.31", "games/x", 0);
	assert_int_equal(w_insert(&e, &a), 0);
	assert_int_equal(s2->ops->begin(s2, &err), 0);
	assert_int_equal(s2->ops->insert(s2, &b, &err), -EEXIST);
	s2->ops->rollback(s2);
	gl_store_close(s2);
	assert_int_equal(n_rows(&e), 1);
	assert_string_equal(status_of(&e, "192.168.1.30"), "Bound");
	env_done(&e);
}

static void test_update_remove_versions(void **state)
{
	struct env e;
	struct gl_resv a, old;
	bool found;

	env_init(&e, be_of(state), SEED "}");
	a = mkrow(&e, "192.168.1.40", "games/a", 0);
	assert_int_equal(w_insert(&e, &a), 0);
	old = a;
	a.state = GL_RESV_RELEASED;
	a.expires = T0 + 24 * H;
	assert_int_equal(w_update(&e, &a), 0);
	assert_string_not_equal(a.version, old.version);
	/* A writer that read before that write lost. */
	old.pinned = true;
	assert_int_equal(w_update(&e, &old), -ESTALE);
	assert_int_equal(w_remove(&e, &old), -ESTALE);
	assert_string_equal(status_of(&e, "192.168.1.40"), "Held");
	assert_int_equal(row_of(&e, "192.168.1.40", &found).expires, T0 + 24 * H);
	assert_int_equal(w_remove(&e, &a), 0);
	assert_string_equal(status_of(&e, "192.168.1.40"), "none");
	/* Gone: both are stale, the allocator decides again. */
	assert_int_equal(w_remove(&e, &a), -ESTALE);
	assert_int_equal(w_update(&e, &a), -ESTALE);
	env_done(&e);
}

/* Every field survives the store (and for Kubernetes the object format). */
static void test_roundtrip_and_scan_filter(void **state)
{
	struct env e, other;
	struct gl_resv a, x, got;
	bool found;

	env_init(&e, be_of(state), SEED "}");
	env_init(&other, be_of(state), SEED "}");
	if (e.be != KUBE) {
		/* One database for both networks. */
		gl_store_close(other.s);
		snprintf(other.db, sizeof(other.db), "%s", e.db);
		other.s = open_store(&other);
	}
	a = mkrow(&e, "fd00::c8", "games/dst-0", 3);
	a.state = GL_RESV_RELEASED;
	a.pinned = true;
	a.expires = T0 + 1234;
	a.updated = T0 + 99;
	snprintf(a.node, sizeof(a.node), "worker-7.example");
	snprintf(a.container_id, sizeof(a.container_id), "%064d", 7);
	assert_int_equal(w_insert(&e, &a), 0);
	got = row_of(&e, "fd00::c8", &found);
	assert_true(found);
	assert_string_equal(got.network, e.net);
	assert_int_equal(got.pool, 3);
	assert_string_equal(got.identity, "games/dst-0");
	assert_string_equal(got.ifname, "eth0");
	assert_string_equal(got.container_id, a.container_id);
	assert_int_equal(got.state, GL_RESV_RELEASED);
	assert_true(got.pinned);
	assert_int_equal(got.expires, T0 + 1234);
	assert_int_equal(got.updated, T0 + 99);
	assert_string_equal(got.node, "worker-7.example");
	assert_string_equal(got.version, a.version);
	x = mkrow(&other, "192.168.1.50", NULL, 0);
	assert_int_equal(w_insert(&other, &x), 0);
	got = row_of(&other, "192.168.1.50", &found);
	assert_true(found);
	assert_int_equal(got.state, GL_RESV_CONFLICT);
	assert_string_equal(got.identity, "");
	assert_int_equal(got.expires, T0 + H);
	/* scan(network) sees its own rows only; scan(NULL) all. */
	assert_int_equal(n_rows(&e), 1);
	assert_int_equal(n_rows(&other), 1);
	{
		_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
		int mine = 0;

		scan(&e, NULL, &l);
		for (size_t i = 0; i < l.n; i++)
			mine += strcmp(l.v[i].network, e.net) == 0 || strcmp(l.v[i].network, other.net) == 0;
		assert_int_equal(mine, 2);
	}
	env_done(&other);
	env_done(&e);
}

/* A decision abandoned half way leaves the rows as they were. */
static void test_rollback(void **state)
{
	struct env e;
	struct gl_resv a, b, c, upd;
	struct gl_err err = {0};
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
	bool found;

	env_init(&e, be_of(state), SEED "}");
	a = mkrow(&e, "192.168.1.60", "games/a", 0);
	b = mkrow(&e, "192.168.1.61", "games/b", 0);
	assert_int_equal(w_insert(&e, &a), 0);
	assert_int_equal(w_insert(&e, &b), 0);
	assert_int_equal(e.s->ops->begin(e.s, &err), 0);
	assert_int_equal(e.s->ops->scan(e.s, e.net, &l, &err), 0);
	c = mkrow(&e, "192.168.1.62", "games/c", 0);
	assert_int_equal(e.s->ops->insert(e.s, &c, &err), 0);
	upd = a;
	upd.state = GL_RESV_RELEASED;
	upd.expires = T0 + 5;
	assert_int_equal(e.s->ops->update(e.s, &upd, &err), 0);
	upd.pinned = true;
	assert_int_equal(e.s->ops->update(e.s, &upd, &err), 0);
	assert_int_equal(e.s->ops->remove(e.s, &b, &err), 0);
	e.s->ops->rollback(e.s);
	assert_int_equal(n_rows(&e), 2);
	assert_string_equal(status_of(&e, "192.168.1.60"), "Bound");
	assert_false(row_of(&e, "192.168.1.60", &found).pinned);
	assert_string_equal(status_of(&e, "192.168.1.61"), "Bound");
	assert_string_equal(row_of(&e, "192.168.1.61", &found).identity, "games/b");
	assert_string_equal(status_of(&e, "192.168.1.62"), "none");
	env_done(&e);
}

/* ---- allocator-level cases ---- */

static void test_sticky(void **state)
{
	struct env e;
	bool found;

	env_init(&e, be_of(state), SEED "}");
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.200");
	assert_string_equal(add(&e, "games/dst-1", "c2", T0), "192.168.1.201");
	del(&e, "games/dst-0", "c1", T0 + 1000);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	assert_int_equal(row_of(&e, "192.168.1.200", &found).expires, T0 + 1000 + 24 * H);
	assert_string_equal(add(&e, "games/dst-2", "c3", T0 + 2000), "192.168.1.202");
	assert_string_equal(add(&e, "games/dst-0", "c4", T0 + 3000), "192.168.1.200");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	assert_string_equal(row_of(&e, "192.168.1.200", &found).container_id, "c4");
	/* The runtime retries the same ADD: same answer, no new row. */
	assert_string_equal(add(&e, "games/dst-0", "c4", T0 + 3000), "192.168.1.200");
	assert_int_equal(n_rows(&e), 3);
	env_done(&e);
}

static void test_hold_and_exhaustion(void **state)
{
	struct env e;

	env_init(&e, be_of(state), SMALL "}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	assert_string_equal(add(&e, "b", "cb", T0), "192.168.1.201");
	assert_string_equal(add(&e, "c", "cc", T0), "192.168.1.202");
	assert_string_equal(add(&e, "d", "cd", T0), "E100");
	del(&e, "b", "cb", T0);
	/* Held for b for an hour: d still gets nothing. */
	assert_string_equal(add(&e, "d", "cd", T0 + H - 1), "E100");
	/* After the hold, under exhaustion, the oldest expired Held one. */
	assert_string_equal(add(&e, "d", "cd", T0 + H + 1), "192.168.1.201");
	assert_string_equal(add(&e, "b", "cb2", T0 + H + 2), "E100");
	assert_int_equal(n_rows(&e), 3);
	env_done(&e);
}

static void test_pins(void **state)
{
	struct env e;
	struct gl_err err = {0};
	struct gl_ip ip;

	env_init(&e, be_of(state), SEED ",\"pins\":{\"games/boss\":\"192.168.1.210\"}}");
	assert_string_equal(add(&e, "games/boss", "c1", T0), "192.168.1.210");
	assert_string_equal(add(&e, "games/x", "c2", T0), "192.168.1.200");
	del(&e, "games/boss", "c1", T0);
	assert_string_equal(status_of(&e, "192.168.1.210"), "Pinned");
	/* An admin pin through the store. */
	assert_int_equal(gl_ip_parse("192.168.1.205", &ip), 0);
	assert_int_equal(gl_alloc_pin(e.s, e.net, "games/y", "eth0", &ip, 0, "node1", T0, &err), 0);
	assert_string_equal(status_of(&e, "192.168.1.205"), "Pinned");
	assert_string_equal(add(&e, "games/y", "c3", T0), "192.168.1.205");
	assert_string_equal(status_of(&e, "192.168.1.205"), "Bound,Pinned");
	/* Another identity may not pin a bound address. */
	memset(&err, 0, sizeof(err));
	assert_true(gl_alloc_pin(e.s, e.net, "games/z", "eth0", &ip, 0, "node1", T0, &err) < 0);
	assert_int_equal(err.code, GL_ERR_PIN_CONFLICT);
	env_done(&e);
}

static void test_conflict_rows(void **state)
{
	struct env e;
	struct gl_ip conflict;
	struct gl_alloc_req r;

	env_init(&e, be_of(state), SEED "}");
	assert_string_equal(add(&e, "games/a", "c1", T0), "192.168.1.200");
	/* The macvlan probe found .200 answered for: record it, give another. */
	assert_int_equal(gl_ip_parse("192.168.1.200", &conflict), 0);
	r = req(&e, "games/a", "c1", T0 + 10);
	r.conflicts = &conflict;
	r.n_conflicts = 1;
	assert_string_equal(add_req(&e, r), "192.168.1.201");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Conflict");
	/* Nobody gets it during conflictHold (10m), then it is free again. */
	assert_string_equal(add(&e, "games/b", "c2", T0 + 20), "192.168.1.202");
	assert_string_equal(add(&e, "games/c", "c3", T0 + 11 * 60 * 1000), "192.168.1.200");
	env_done(&e);
}

static void test_gc(void **state)
{
	struct env e;
	struct gl_cni_attachment valid[1];
	struct gl_err err = {0};
	struct gl_alloc_req r;
	int released = -1;

	env_init(&e, be_of(state), SEED "}");
	assert_string_equal(add(&e, "games/a", "c1", T0), "192.168.1.200");
	assert_string_equal(add(&e, "games/b", "c2", T0), "192.168.1.201");
	r = req(&e, "games/other-node", "c3", T0);
	r.node = "node2";
	assert_string_equal(add_req(&e, r), "192.168.1.202");
	memset(valid, 0, sizeof(valid));
	snprintf(valid[0].container_id, sizeof(valid[0].container_id), "c1");
	snprintf(valid[0].ifname, sizeof(valid[0].ifname), "eth0");
	assert_int_equal(gl_alloc_gc(e.s, &e.conf, "node1", T0 + 5, valid, 1, &released, &err), 0);
	assert_int_equal(released, 1);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	assert_string_equal(status_of(&e, "192.168.1.201"), "Held");
	assert_string_equal(status_of(&e, "192.168.1.202"), "Bound");
	env_done(&e);
}

/* The allocator's first scan does not show a row: its view is stale, as
 * when another node took the address between its scan and its write. */
static void test_taken_under_us(void **state)
{
	struct env e;
	struct race_store *w;
	const char *got;

	env_init(&e, be_of(state), SEED "}");
	assert_string_equal(add(&e, "games/first", "c1", T0), "192.168.1.200");
	w = race_store_new(e.s);
	e.s = &w->base;
	w->hide = ip_of("192.168.1.200");
	w->hide_scans = 1;
	got = add(&e, "games/second", "c2", T0);
	/* Never the taken address; Kubernetes knows it was the address and
	 * tries another at once, SQLite decides again. */
	assert_true(strncmp(got, "192.168.1.2", 11) == 0);
	assert_string_not_equal(got, "192.168.1.200");
	assert_string_equal(status_of(&e, got), "Bound");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	assert_int_equal(n_rows(&e), 2);
	env_done(&e);
}

static void test_networks_and_ipv6(void **state)
{
	struct env e;

	env_init(&e, be_of(state), "{\"ranges\":[[{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\","
		 "\"rangeEnd\":\"192.168.1.201\"}],[{\"subnet\":\"fd00::/64\",\"rangeStart\":\"fd00::c8\","
		 "\"rangeEnd\":\"fd00::c9\"}]]}");
	{
		struct gl_alloc_req r = req(&e, "games/ds", "c1", T0);
		struct gl_ip ips[GL_IPAM_MAX_POOLS];
		struct gl_err err = {0};

		assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
		assert_string_equal(ip_str(&ips[0]), "192.168.1.200");
		assert_string_equal(ip_str(&ips[1]), "fd00::c8");
		del(&e, "games/ds", "c1", T0);
		r.container_id = "c2";
		assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
		assert_string_equal(ip_str(&ips[1]), "fd00::c8");
	}
	assert_int_equal(n_rows(&e), 2);
	env_done(&e);
}

/* ---- the Kubernetes store's own cases ---- */

static void test_kube_names(void **state)
{
	char net[GL_STORE_KUBE_NET_MAX], name[GL_STORE_KUBE_NAME_MAX], idl[17];
	struct gl_ip ip;

	gl_store_kube_net_label("lan", net);
	assert_string_equal(net, "lan");
	gl_store_kube_net_label("gamelan-conf", net);
	assert_string_equal(net, "gamelan-conf");
	/* Changed: lowercased, '_' and '.' replaced, then a hash. */
	gl_store_kube_net_label("My_Net.1", net);
	assert_int_equal(strncmp(net, "my-net-1-", 9), 0);
	assert_int_equal(strlen(net), 17);
	/* Cut to 40, then a hash. */
	gl_store_kube_net_label("abcdefghijabcdefghijabcdefghijabcdefghijKLM", net);
	assert_int_equal(strlen(net), 49);
	assert_int_equal(strncmp(net, "abcdefghijabcdefghijabcdefghijabcdefghij-", 41), 0);
	{
		char net2[GL_STORE_KUBE_NET_MAX];

		gl_store_kube_net_label("abcdefghijabcdefghijabcdefghijabcdefghijKLN", net2);
		assert_string_not_equal(net, net2);
	}
	assert_int_equal(gl_ip_parse("192.168.1.200", &ip), 0);
	gl_store_kube_name("lan", &ip, name);
	assert_string_equal(name, "lan-192-168-1-200");
	assert_int_equal(gl_ip_parse("fd00::1:c8", &ip), 0);
	gl_store_kube_name("lan", &ip, name);
	assert_string_equal(name, "lan-fd00--1-c8");
	/* Names and label values start and end alphanumeric. */
	assert_int_equal(gl_ip_parse("fd00::", &ip), 0);
	gl_store_kube_name("lan", &ip, name);
	assert_string_equal(name, "lan-fd00--0");
	gl_store_kube_net_label("-lan-", net);
	assert_int_equal(strncmp(net, "nlan--", 6), 0);
	assert_int_equal(strlen(net), 14);
	gl_store_kube_net_label("lan-", net);
	assert_int_equal(strncmp(net, "lan--", 5), 0);
	assert_true(isxdigit((unsigned char)net[strlen(net) - 1]));
	gl_store_kube_identity_label("games/dst-0", idl);
	assert_int_equal(strlen(idl), 16);
	assert_int_equal(strspn(idl, "0123456789abcdef"), 16);
}

static void test_kube_time(void **state)
{
	char t[32];
	int64_t ms;

	gl_store_kube_time_str(T0 + 42, t);
	assert_string_equal(t, "2023-11-14T22:13:20.042Z");
	assert_int_equal(gl_store_kube_time_parse(t, &ms), 0);
	assert_int_equal(ms, T0 + 42);
	assert_int_equal(gl_store_kube_time_parse("2023-11-14T22:13:20Z", &ms), 0);
	assert_int_equal(ms, T0);
	assert_int_equal(gl_store_kube_time_parse("2023-11-14T22:13:20.5+00:00", &ms), 0);
	assert_int_equal(ms, T0 + 500);
	assert_int_equal(gl_store_kube_time_parse("2023-11-14T22:13:20+02:00", &ms), -EINVAL);
	assert_int_equal(gl_store_kube_time_parse("2023-13-14T22:13:20Z", &ms), -EINVAL);
	assert_int_equal(gl_store_kube_time_parse("yesterday", &ms), -EINVAL);
	assert_int_equal(gl_store_kube_time_parse("2023-11-14T22:13:20.Z", &ms), -EINVAL);
}

static void test_kube_json(void **state)
{
	struct gl_resv r = {0}, back;
	json_object *o, *spec, *meta, *labels, *v;
	char why[256];

	snprintf(r.network, sizeof(r.network), "Lan");
	assert_int_equal(gl_ip_parse("192.168.1.200", &r.ip), 0);
	snprintf(r.identity, sizeof(r.identity), "games/dst-0");
	snprintf(r.ifname, sizeof(r.ifname), "eth0");
	snprintf(r.container_id, sizeof(r.container_id), "abc");
	snprintf(r.node, sizeof(r.node), "node1");
	snprintf(r.version, sizeof(r.version), "17");
	r.pool = 1;
	r.state = GL_RESV_BOUND;
	r.expires = GL_RESV_NEVER;
	r.updated = T0;
	o = gl_store_kube_to_json(&r, "gamelan-system", true);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "spec", &spec));
	assert_true(json_object_object_get_ex(o, "metadata", &meta));
	assert_true(json_object_object_get_ex(meta, "labels", &labels));
	assert_true(json_object_object_get_ex(o, "apiVersion", &v));
	assert_string_equal(json_object_get_string(v), "gamelan.dev/v1alpha1");
	assert_true(json_object_object_get_ex(o, "kind", &v));
	assert_string_equal(json_object_get_string(v), "IPReservation");
	assert_true(json_object_object_get_ex(meta, "resourceVersion", &v));
	assert_string_equal(json_object_get_string(v), "17");
	assert_true(json_object_object_get_ex(spec, "state", &v));
	assert_string_equal(json_object_get_string(v), "Bound");
	assert_false(json_object_object_get_ex(spec, "expires", &v));
	assert_true(json_object_object_get_ex(labels, "gamelan.dev/node", &v));
	assert_true(json_object_object_get_ex(labels, "gamelan.dev/identity", &v));
	assert_true(json_object_object_get_ex(labels, "gamelan.dev/network", &v));
	assert_int_equal(strncmp(json_object_get_string(v), "lan-", 4), 0);
	assert_true(json_object_object_get_ex(meta, "name", &v));
	assert_int_equal(strncmp(json_object_get_string(v), "lan-", 4), 0);
	assert_int_equal(gl_store_kube_from_json(o, &back, why, sizeof(why)), 0);
	assert_string_equal(back.network, "Lan");
	assert_int_equal(back.pool, 1);
	assert_string_equal(back.identity, "games/dst-0");
	assert_string_equal(back.version, "17");
	assert_int_equal(back.expires, GL_RESV_NEVER);
	assert_int_equal(back.updated, T0);
	/* Hostile objects: a wrong type, a bad state, a name that does not
	 * lock its address. */
	json_object_object_add(spec, "pool", json_object_new_string("1"));
	assert_int_equal(gl_store_kube_from_json(o, &back, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "pool"));
	json_object_object_add(spec, "pool", json_object_new_int(1));
	json_object_object_add(spec, "state", json_object_new_string("Taken"));
	assert_int_equal(gl_store_kube_from_json(o, &back, why, sizeof(why)), -EBADMSG);
	/* Held is written "Held"; "Released", what earlier versions wrote
	 * for it, is still read as Held. */
	for (int i = 0; i < 2; i++) {
		json_object *o2, *spec2;

		json_object_object_add(spec, "state", json_object_new_string(i ? "Released" : "Held"));
		assert_int_equal(gl_store_kube_from_json(o, &back, why, sizeof(why)), 0);
		assert_int_equal(back.state, GL_RESV_RELEASED);
		o2 = gl_store_kube_to_json(&back, "gamelan-system", true);
		assert_non_null(o2);
		assert_true(json_object_object_get_ex(o2, "spec", &spec2));
		assert_true(json_object_object_get_ex(spec2, "state", &v));
		assert_string_equal(json_object_get_string(v), "Held");
		json_object_put(o2);
	}
	json_object_object_add(meta, "name", json_object_new_string("lan-x"));
	assert_int_equal(gl_store_kube_from_json(o, &back, why, sizeof(why)), -EBADMSG);
	assert_non_null(strstr(why, "named"));
	json_object_put(o);
	/* A conflict row: no identity label; a node that is no label value. */
	memset(&r, 0, sizeof(r));
	snprintf(r.network, sizeof(r.network), "lan");
	assert_int_equal(gl_ip_parse("192.168.1.9", &r.ip), 0);
	r.state = GL_RESV_CONFLICT;
	r.expires = T0 + H;
	snprintf(r.node, sizeof(r.node), "bad node/");
	o = gl_store_kube_to_json(&r, "ns", false);
	assert_true(json_object_object_get_ex(o, "metadata", &meta));
	assert_true(json_object_object_get_ex(meta, "labels", &labels));
	assert_false(json_object_object_get_ex(labels, "gamelan.dev/identity", &v));
	assert_false(json_object_object_get_ex(labels, "gamelan.dev/node", &v));
	assert_false(json_object_object_get_ex(meta, "resourceVersion", &v));
	json_object_put(o);
}

/* An ADD costs a constant number of requests, as the store ships: the
 * identity's rows + POST + identity check for a new address, the
 * identity's rows + PUT to get a reservation back. */
static void test_kube_round_trips(void **state)
{
	struct env e;
	char b[GL_IP_STRLEN];
	long before;

	kube_spread = true;
	env_init(&e, KUBE, "{\"range\":\"10.9.0.0/16\"}");
	assert_true(strncmp(add(&e, "games/a", "c1", T0), "10.9.", 5) == 0);
	before = gl_store_kube_requests(e.s);
	snprintf(b, sizeof(b), "%s", add(&e, "games/b", "c2", T0));
	assert_true(strncmp(b, "10.9.", 5) == 0);
	assert_int_equal(gl_store_kube_requests(e.s) - before, 3);
	del(&e, "games/b", "c2", T0);
	before = gl_store_kube_requests(e.s);
	assert_string_equal(add(&e, "games/b", "c3", T0), b);
	assert_int_equal(gl_store_kube_requests(e.s) - before, 2);
	env_done(&e);
	kube_spread = false;
}

/* The fake's counters (GET /fake/stats). */
static json_object *fake_stats(void)
{
	char cmd[160], buf[8192];
	json_object *o = NULL;
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "curl -s -m 10 '%s/fake/stats'", fake.url);
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	pclose(f);
	buf[n] = '\0';
	assert_int_equal(gl_json_parse_object(buf, n, &o, NULL), 0);
	return o;
}

static int64_t stat_of(json_object *st, const char *a, const char *b)
{
	json_object *x, *y;

	if (!json_object_object_get_ex(st, a, &x) || !json_object_object_get_ex(x, b, &y))
		return 0;
	return json_object_get_int64(y);
}

/* The cost an ADD puts on the API server: no LIST goes to etcd (they are
 * all served from the watch cache), and the objects read do not grow with
 * reservations of other networks in the namespace. */
static void test_kube_cost(void **state)
{
	struct env e, other;
	json_object *st;
	int64_t etcd_lists, cache0, cache1;
	char id[32], cid[32], a[GL_IP_STRLEN], b[GL_IP_STRLEN];

	kube_spread = true;
	env_init(&other, KUBE, "{\"range\":\"10.8.0.0/16\"}");
	env_init(&e, KUBE, "{\"range\":\"10.7.0.0/16\"}");
	st = fake_stats();
	etcd_lists = stat_of(st, "listsFrom", "etcd");
	cache0 = stat_of(st, "objectsRead", "cache");
	json_object_put(st);
	snprintf(a, sizeof(a), "%s", add(&e, "games/a", "c1", T0));
	assert_true(strncmp(a, "10.7.", 5) == 0);
	del(&e, "games/a", "c1", T0);
	assert_string_equal(add(&e, "games/a", "c2", T0), a);
	st = fake_stats();
	cache1 = stat_of(st, "objectsRead", "cache") - cache0;
	assert_int_equal(stat_of(st, "listsFrom", "etcd"), etcd_lists);
	json_object_put(st);
	/* 40 reservations elsewhere in the namespace change nothing. */
	for (int i = 0; i < 40; i++) {
		snprintf(id, sizeof(id), "games/o-%d", i);
		snprintf(cid, sizeof(cid), "o-%d", i);
		assert_string_not_equal(add(&other, id, cid, T0), "E100");
	}
	st = fake_stats();
	cache0 = stat_of(st, "objectsRead", "cache");
	etcd_lists = stat_of(st, "listsFrom", "etcd");
	json_object_put(st);
	snprintf(b, sizeof(b), "%s", add(&e, "games/b", "c3", T0));
	assert_true(strncmp(b, "10.7.", 5) == 0);
	del(&e, "games/b", "c3", T0);
	assert_string_equal(add(&e, "games/b", "c4", T0), b);
	st = fake_stats();
	/* One more row in e's own network (games/a's) is read by the DEL's
	 * scan (the ADDs read their identity's rows only); nothing of the
	 * other network's 40. */
	assert_int_equal(stat_of(st, "objectsRead", "cache") - cache0, cache1 + 1);
	assert_int_equal(stat_of(st, "listsFrom", "etcd"), etcd_lists);
	json_object_put(st);
	env_done(&other);
	env_done(&e);
	kube_spread = false;
}

/* Objects the server reads (etcd + watch cache) since the last call. */
static int64_t objects_read_since(int64_t *last)
{
	json_object *st = fake_stats();
	int64_t now = stat_of(st, "objectsRead", "cache") + stat_of(st, "objectsRead", "etcd"), d;

	json_object_put(st);
	d = now - *last;
	*last = now;
	return d;
}

/* n Bound reservations of other identities in e's network from first on,
 * written straight to the API (one request each). */
static void fill_rows(struct env *e, const char *first, int n)
{
	static const struct gl_kube_res res = { "gamelan.dev", "v1alpha1", "ipreservations", true };
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	struct gl_err err = {0};
	struct gl_ip ip;

	assert_int_equal(gl_ip_parse(first, &ip), 0);
	assert_int_equal(gl_kube_config_load(kubeconfig, &cfg, &err), 0);
	assert_int_equal(gl_kube_open(cfg, NULL, &k, &err), 0);
	for (int i = 0; i < n; i++) {
		char id[32];
		struct gl_resv r;
		json_object *o;

		snprintf(id, sizeof(id), "fill/%d", i);
		r = mkrow(e, first, id, 0);
		assert_int_equal(gl_ip_add(&ip, i, &r.ip), 0);
		o = gl_store_kube_to_json(&r, "gamelan-system", false);
		assert_non_null(o);
		if (gl_kube_create(k, &res, "gamelan-system", o, NULL, &err) < 0)
			fail_msg("fill: %s", err.msg);
		json_object_put(o);
	}
	gl_kube_close(k);
	gl_kube_config_free(cfg);
}

/* An ADD reads a bounded number of objects whatever the size of its own
 * network: a returning identity reads its own rows (by label) and gets its
 * address back; a new one takes a free address by create, a 409 sending it
 * to another. Neither scans the network. */
static void test_kube_own_network_flat(void **state)
{
	struct env e;
	char id[32], ip[GL_IP_STRLEN];
	int64_t last = 0, d;

	kube_spread = true;
	/* 4094 addresses: with 500 taken a new identity's tries rarely meet
	 * them, and never 8 times in a row. */
	env_init(&e, KUBE, "{\"range\":\"10.5.0.0/20\"}");
	objects_read_since(&last);
	for (int round = 0; round < 2; round++) {
		if (round == 1) {
			fill_rows(&e, "10.5.0.1", 500);
			assert_int_equal(n_rows(&e), 501);
			objects_read_since(&last);
		}
		snprintf(id, sizeof(id), "games/flat-%d", round);
		snprintf(ip, sizeof(ip), "%s", add(&e, id, "c-new", T0));
		assert_true(strncmp(ip, "10.5.", 5) == 0);
		d = objects_read_since(&last);
		if (d > 20)
			fail_msg("a new identity's ADD read %lld objects (round %d)", (long long)d, round);
		/* The DEL still scans the network; not measured here. */
		del(&e, id, "c-new", T0);
		objects_read_since(&last);
		assert_string_equal(add(&e, id, "c-back", T0), ip);
		d = objects_read_since(&last);
		if (d > 20)
			fail_msg("a returning identity's ADD read %lld objects (round %d)", (long long)d, round);
		assert_string_equal(row_of(&e, ip, &(bool){false}).container_id, "c-back");
	}
	env_done(&e);
	kube_spread = false;
}

/* As shipped, the Kubernetes store starts a new identity's search at a
 * point derived from it: racers spread over the range, and one identity's
 * first choice is the same in any fresh network. SQLite keeps the lowest
 * free address (test_sticky). */
static void test_kube_spread_start(void **state)
{
	static const char *const ids[] = { "games/s-0", "games/s-1", "games/s-2", "games/s-3",
					   "games/s-4", "games/s-5", "games/s-6", "games/s-7" };
	char first[GL_ARRAY_SIZE(ids)][GL_IP_STRLEN];
	struct env e;
	int at_start = 0, distinct = 0;

	kube_spread = true;
	env_init(&e, KUBE, "{\"range\":\"10.6.0.0/16\"}");
	assert_true(e.s->ops->spread_start);
	for (size_t i = 0; i < GL_ARRAY_SIZE(ids); i++) {
		snprintf(first[i], sizeof(first[i]), "%s", add(&e, ids[i], ids[i], T0));
		assert_true(strncmp(first[i], "10.6.", 5) == 0);
		at_start += strcmp(first[i], "10.6.0.1") == 0;
	}
	for (size_t i = 0; i < GL_ARRAY_SIZE(ids); i++) {
		bool dup = false;

		for (size_t k = 0; k < i; k++)
			dup = dup || strcmp(first[i], first[k]) == 0;
		distinct += !dup;
	}
	assert_int_equal(distinct, (int)GL_ARRAY_SIZE(ids));
	assert_true(at_start <= 1);
	/* Sticky as ever. */
	del(&e, ids[0], ids[0], T0);
	assert_string_equal(add(&e, ids[0], "again", T0), first[0]);
	env_done(&e);
	kube_spread = false;
}

static void test_kube_malformed_and_status(void **state)
{
	static const struct gl_kube_res res = { "gamelan.dev", "v1alpha1", "ipreservations", true };
	struct env e;
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	struct gl_err err = {0};
	json_object *bad = NULL;
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
	char text[512];

	env_init(&e, KUBE, SEED "}");
	assert_int_equal(e.s->ops->status(e.s, &err), 0);
	/* An object that claims an address under another name. */
	snprintf(text, sizeof(text), "{\"apiVersion\":\"gamelan.dev/v1alpha1\",\"kind\":\"IPReservation\","
		 "\"metadata\":{\"name\":\"stray\",\"labels\":{\"gamelan.dev/network\":\"%s\"}},"
		 "\"spec\":{\"network\":\"%s\",\"address\":\"192.168.1.200\",\"state\":\"Bound\","
		 "\"identity\":\"x\"}}", e.net, e.net);
	assert_int_equal(gl_json_parse_object(text, strlen(text), &bad, &err), 0);
	assert_int_equal(gl_kube_config_load(kubeconfig, &cfg, &err), 0);
	assert_int_equal(gl_kube_open(cfg, NULL, &k, &err), 0);
	assert_int_equal(gl_kube_create(k, &res, "gamelan-system", bad, NULL, &err), 0);
	memset(&err, 0, sizeof(err));
	assert_true(e.s->ops->scan(e.s, e.net, &l, &err) < 0);
	assert_int_equal(err.code, GL_ERR_STORE);
	assert_non_null(strstr(err.msg, "stray"));
	assert_string_equal(add(&e, "games/a", "c1", T0), "E103");
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_kube_delete(k, &res, "gamelan-system", "stray", NULL, NULL, &err), 0);
	assert_string_equal(add(&e, "games/a", "c1", T0), "192.168.1.200");
	gl_kube_close(k);
	gl_kube_config_free(cfg);
	json_object_put(bad);
	env_done(&e);
}

static void test_kube_unreachable(void **state)
{
	char path[PATH_MAX];
	struct gl_store_conf sc = { .type = "kubernetes", .kubeconfig = path };
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	int r;

	snprintf(path, sizeof(path), "%s/kubeconfig-dead", fake_dir);
	/* Port 1 on loopback: nothing listens, the connection is refused. */
	assert_int_equal(fakeapi_kubeconfig(path, "http://127.0.0.1:1", NULL, NULL), 0);
	r = gl_store_open(&sc, &s, &err);
	if (r >= 0) {
		r = s->ops->status(s, &err);
		gl_store_close(s);
	}
	assert_true(r < 0);
	assert_true(err.msg[0] != '\0');
}

/* ---- main ---- */

#define ALL(fn) \
	{ .name = #fn "/sqlite", .test_func = fn, .initial_state = (void *)(intptr_t)SQLITE }, \
	{ .name = #fn "/kubernetes", .test_func = fn, .initial_state = (void *)(intptr_t)KUBE }, \
	{ .name = #fn "/memory", .test_func = fn, .initial_state = (void *)(intptr_t)MEMORY }

int main(void)
{
	const struct CMUnitTest suite[] = {
		ALL(test_insert_exists),
		ALL(test_identity_race_two_handles),
		ALL(test_update_remove_versions),
		ALL(test_roundtrip_and_scan_filter),
		ALL(test_rollback),
		ALL(test_sticky),
		ALL(test_hold_and_exhaustion),
		ALL(test_pins),
		ALL(test_conflict_rows),
		ALL(test_gc),
		ALL(test_taken_under_us),
		ALL(test_networks_and_ipv6),
		cmocka_unit_test(test_kube_names),
		cmocka_unit_test(test_kube_time),
		cmocka_unit_test(test_kube_json),
		cmocka_unit_test(test_kube_round_trips),
		cmocka_unit_test(test_kube_malformed_and_status),
		cmocka_unit_test(test_kube_cost),
		cmocka_unit_test(test_kube_own_network_flat),
		cmocka_unit_test(test_kube_spread_start),
		cmocka_unit_test(test_kube_unreachable),
	};
	int r;

	if (fake_start() < 0) {
		fake_stop();
		fprintf(stderr, "test_store_suite: cannot run the Kubernetes half without the fake API server\n");
		return 1;
	}
	r = cmocka_run_group_tests(suite, NULL, NULL);
	fake_stop();
	return r;
}
