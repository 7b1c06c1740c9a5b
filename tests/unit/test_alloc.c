/* The sticky allocator's decisions against the memory store, and the
 * SQLite store on a temp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <unistd.h>
#include "ipam/alloc.h"
#include "ipam/conf.h"
#include "base/json.h"
#include "ipam/store.h"
#include "base/util.h"
#include "unit.h"

#define H (3600LL * 1000)
#define T0 1700000000000LL

/* ---- helpers ---- */

/* The memory store (store_mem.c) behind a race store (unit.h): f stages
 * the races and counts the calls. */
struct env {
	struct race_store *f;
	struct gl_store *s;
	struct gl_ipam_conf conf;
};

static void env_init(struct env *e, const char *ipam_json)
{
	struct gl_store_conf sc = { .type = "memory" };
	struct gl_store *mem = NULL;
	json_object *o = NULL;
	struct gl_err err = {0};

	memset(e, 0, sizeof(*e));
	if (gl_store_open(&sc, &mem, &err) < 0)
		fail_msg("memory store: %s", err.msg);
	e->f = race_store_new(mem);
	e->s = &e->f->base;
	if (gl_json_parse_object(ipam_json, strlen(ipam_json), &o, &err) < 0)
		fail_msg("bad test JSON: %s", err.msg);
	if (gl_ipamconf_parse(o, "lan", &e->conf, &err) < 0)
		fail_msg("bad test config: %s", err.msg);
	json_object_put(o);
}

static void env_done(struct env *e)
{
	gl_ipamconf_free(&e->conf);
	gl_store_close(e->s);
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

	assert_int_equal(gl_alloc_del(e->s, &r, &err), 0);
}

/* The row of ip (a copy, in a ring of four), NULL when none. */
static const struct gl_resv *row_of(struct env *e, const char *ip)
{
	static struct gl_resv rows[4];
	static int k;

	k = (k + 1) % 4;
	return store_row(e->s, NULL, ip, &rows[k]) ? &rows[k] : NULL;
}

static size_t n_rows(struct env *e)
{
	return store_rows(e->s, NULL);
}

static const char *status_of(struct env *e, const char *ip)
{
	const struct gl_resv *r = row_of(e, ip);

	return r ? gl_alloc_status(r) : "none";
}

#define SEED "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\"," \
	     "\"rangeEnd\":\"192.168.1.216\",\"gateway\":\"192.168.1.1\""
#define SMALL "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\"," \
	      "\"rangeEnd\":\"192.168.1.202\",\"hold\":\"1h\""

/* ---- tests ---- */

static void test_sticky(void **state)
{
	struct env e;

	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.200");
	assert_string_equal(add(&e, "games/dst-1", "c2", T0), "192.168.1.201");
	/* Restart: DEL then ADD from a new container. */
	del(&e, "games/dst-0", "c1", T0 + 1000);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	assert_int_equal(row_of(&e, "192.168.1.200")->expires, T0 + 1000 + 24 * H);
	/* A new identity does not take a Held address while others are free. */
	assert_string_equal(add(&e, "games/dst-2", "c3", T0 + 2000), "192.168.1.202");
	assert_string_equal(add(&e, "games/dst-0", "c4", T0 + 3000), "192.168.1.200");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	assert_string_equal(row_of(&e, "192.168.1.200")->container_id, "c4");
	/* Even after the hold: nobody took it, so it is still dst-0's. */
	del(&e, "games/dst-0", "c4", T0 + 4000);
	assert_string_equal(add(&e, "games/dst-0", "c5", T0 + 100 * H), "192.168.1.200");
	/* ADD of the same container again (runtime retry) is idempotent. */
	assert_string_equal(add(&e, "games/dst-0", "c5", T0 + 100 * H), "192.168.1.200");
	assert_int_equal(n_rows(&e), 3);
	env_done(&e);
}

/* What the fake holder checks answer, and how often they were asked. */
static int local_verdict, store_verdict, local_asked, store_asked;

static int fake_local_gone(const struct gl_resv *r)
{
	local_asked++;
	return local_verdict;
}

static int fake_store_gone(struct gl_store *s, const struct gl_resv *r, struct gl_err *err)
{
	store_asked++;
	return store_verdict;
}

static struct gl_alloc_req holder_req(struct env *e, const char *container, const char *node,
				      const char *netns)
{
	struct gl_alloc_req r = req(e, "games/dst-0", container, T0);

	r.node = node;
	r.netns = netns;
	r.pod = "games/dst-0";
	r.pod_uid = container;
	r.local_gone = fake_local_gone;
	return r;
}

static void test_rebind_without_del(void **state)
{
	struct gl_store_ops with_check;
	const struct gl_resv *row;
	struct env e;

	env_init(&e, SEED "}");
	local_verdict = store_verdict = local_asked = store_asked = 0;
	assert_string_equal(add_req(&e, holder_req(&e, "old", "node1", "/run/netns/a")), "192.168.1.200");
	row = row_of(&e, "192.168.1.200");
	assert_string_equal(row->netns, "/run/netns/a");
	assert_string_equal(row->pod, "games/dst-0");
	assert_string_equal(row->pod_uid, "old");
	/* Rescheduled to another node before the old DEL arrived: this store
	 * cannot tell whether the old one still runs. */
	assert_string_equal(add_req(&e, holder_req(&e, "new", "node2", "/run/netns/b")), "E11");
	assert_int_equal(local_asked, 0);
	/* On the holder's node, its netns is looked at; it is still there. */
	assert_string_equal(add_req(&e, holder_req(&e, "new", "node1", "/run/netns/b")), "E11");
	assert_int_equal(local_asked, 1);
	assert_string_equal(row_of(&e, "192.168.1.200")->container_id, "old");
	/* The same container again (a runtime's retry) is no other holder. */
	assert_string_equal(add_req(&e, holder_req(&e, "old", "node2", "/run/netns/a")), "192.168.1.200");
	assert_int_equal(local_asked, 1);
	/* A store that can ask (Kubernetes: the pod's UID) decides for other nodes. */
	with_check = *e.s->ops;
	with_check.holder_gone = fake_store_gone;
	e.f->base.ops = &with_check;
	assert_string_equal(add_req(&e, holder_req(&e, "new", "node1", "/run/netns/b")), "E11");
	assert_int_equal(store_asked, 1);
	store_verdict = 1;
	assert_string_equal(add_req(&e, holder_req(&e, "new", "node1", "/run/netns/b")), "192.168.1.200");
	row = row_of(&e, "192.168.1.200");
	assert_string_equal(row->container_id, "new");
	assert_string_equal(row->node, "node1");
	assert_string_equal(row->netns, "/run/netns/b");
	/* Same node: the netns decides, the store is not asked. */
	store_asked = 0;
	local_verdict = 1;
	assert_string_equal(add_req(&e, holder_req(&e, "newer", "node1", "/run/netns/c")), "192.168.1.200");
	assert_int_equal(store_asked, 0);
	assert_string_equal(row_of(&e, "192.168.1.200")->container_id, "newer");
	/* The late DEL of an old container must not release the new binding. */
	del(&e, "games/dst-0", "old", T0 + 20);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	del(&e, "games/dst-0", "newer", T0 + 30);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	/* Released: anyone of the identity gets it back without a check. */
	local_asked = store_asked = 0;
	local_verdict = store_verdict = 0;
	assert_string_equal(add_req(&e, holder_req(&e, "last", "node2", "/run/netns/d")), "192.168.1.200");
	assert_int_equal(local_asked + store_asked, 0);
	env_done(&e);
}

static void test_holder_unknown_netns(void **state)
{
	struct gl_alloc_req r;
	struct env e;

	env_init(&e, SEED "}");
	local_verdict = 1;
	local_asked = 0;
	/* A row without a netns (made before it was recorded): nothing to look at. */
	assert_string_equal(add_req(&e, holder_req(&e, "old", "node1", NULL)), "192.168.1.200");
	assert_string_equal(add_req(&e, holder_req(&e, "new", "node1", "/run/netns/b")), "E11");
	assert_int_equal(local_asked, 0);
	/* The admin frees it by force: then it is the identity's again. */
	{
		struct gl_err err = {0};
		int n = 0;

		assert_int_equal(gl_alloc_release(e.s, "lan", "games/dst-0", false, &n, &err), -EADDRINUSE);
		assert_int_equal(gl_alloc_release(e.s, "lan", "games/dst-0", true, &n, &err), 0);
	}
	r = holder_req(&e, "new", "node1", "/run/netns/b");
	assert_string_equal(add_req(&e, r), "192.168.1.200");
	env_done(&e);
}

static void test_hold_expiry_and_exhaustion(void **state)
{
	struct env e;

	env_init(&e, SMALL "}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	assert_string_equal(add(&e, "b", "cb", T0), "192.168.1.201");
	assert_string_equal(add(&e, "c", "cc", T0), "192.168.1.202");
	del(&e, "b", "cb", T0 + 10);
	del(&e, "a", "ca", T0 + 20);
	/* Pool full of Bound and unexpired Held: exhausted. */
	assert_string_equal(add(&e, "d", "cd", T0 + 30), "E100");
	/* Both holds over: the one that ended first (b's) goes first. */
	assert_string_equal(add(&e, "d", "cd", T0 + 2 * H), "192.168.1.201");
	assert_string_equal(row_of(&e, "192.168.1.201")->identity, "d");
	assert_string_equal(add(&e, "e", "ce", T0 + 2 * H), "192.168.1.200");
	/* b lost its address to exhaustion; nothing left for it. */
	assert_string_equal(add(&e, "b", "cb2", T0 + 2 * H), "E100");
	/* A failed ADD leaves nothing behind. */
	assert_int_equal(n_rows(&e), 3);
	env_done(&e);
}

static void test_never_bound_or_pinned(void **state)
{
	struct env e;
	struct gl_err err = {0};
	struct gl_ip ip;

	env_init(&e, SMALL "}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	gl_ip_parse("192.168.1.201", &ip);
	assert_int_equal(gl_alloc_pin(e.s, "lan", "b", "eth0", &ip, -1, "node1", T0, &err), 0);
	assert_string_equal(status_of(&e, "192.168.1.201"), "Pinned");
	assert_string_equal(add(&e, "c", "cc", T0), "192.168.1.202");
	del(&e, "c", "cc", T0);
	/* Years later: only c's expired Held address may go, never a or b's. */
	assert_string_equal(add(&e, "d", "cd", T0 + 10000 * H), "192.168.1.202");
	assert_string_equal(add(&e, "x", "cx", T0 + 10000 * H), "E100");
	/* The pinned identity gets its address, and keeps it pinned through DEL. */
	assert_string_equal(add(&e, "b", "cb", T0 + 10000 * H), "192.168.1.201");
	assert_string_equal(status_of(&e, "192.168.1.201"), "Bound,Pinned");
	del(&e, "b", "cb", T0 + 10000 * H);
	assert_string_equal(status_of(&e, "192.168.1.201"), "Pinned");
	assert_int_equal(row_of(&e, "192.168.1.201")->expires, GL_RESV_NEVER);
	assert_string_equal(add(&e, "x", "cx", T0 + 20000 * H), "E100");
	env_done(&e);
}

static void test_hold_forever(void **state)
{
	struct env e;

	env_init(&e, "{\"range\":\"10.0.0.0/30\",\"hold\":\"forever\"}");
	/* /30: .1 and .2 usable, no gateway in whereabouts' dialect. */
	assert_string_equal(add(&e, "a", "ca", T0), "10.0.0.1");
	assert_string_equal(add(&e, "b", "cb", T0), "10.0.0.2");
	del(&e, "a", "ca", T0);
	assert_int_equal(row_of(&e, "10.0.0.1")->expires, GL_RESV_NEVER);
	assert_string_equal(add(&e, "c", "cc", T0 + 100000 * H), "E100");
	env_done(&e);
}

static void test_config_pins(void **state)
{
	struct env e;

	env_init(&e, SEED ",\"pins\":{\"games/dst-5\":\"192.168.1.210\",\"games/legacy\":\"192.168.1.100\","
		 "\"games/dst-0\":\"192.168.1.200\"}}");
	/* The pinned addresses are skipped for everybody else. */
	assert_string_equal(add(&e, "games/x", "c1", T0), "192.168.1.201");
	assert_string_equal(add(&e, "games/dst-5", "c2", T0), "192.168.1.210");
	assert_string_equal(status_of(&e, "192.168.1.210"), "Bound,Pinned");
	/* Outside rangeStart-rangeEnd but inside the subnet: allowed for a pin. */
	assert_string_equal(add(&e, "games/legacy", "c3", T0), "192.168.1.100");
	del(&e, "games/dst-5", "c2", T0);
	assert_string_equal(status_of(&e, "192.168.1.210"), "Pinned");
	assert_string_equal(add(&e, "games/dst-5", "c4", T0 + 1000 * H), "192.168.1.210");
	env_done(&e);
}

static void test_config_pin_conflict(void **state)
{
	struct env e, e2;
	struct gl_err err = {0};
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_alloc_req r;

	/* b holds .200 before the admin pins it for a. */
	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "b", "cb", T0), "192.168.1.200");
	env_init(&e2, SEED ",\"pins\":{\"a\":\"192.168.1.200\"}}");
	gl_store_close(e2.s);
	e2.s = e.s;
	e2.f = e.f;
	r = req(&e2, "a", "ca", T0);
	assert_true(gl_alloc_add(e2.s, &r, ips, &err) < 0);
	assert_int_equal(err.code, GL_ERR_PIN_CONFLICT);
	assert_non_null(strstr(err.msg, "192.168.1.200"));
	assert_non_null(strstr(err.msg, "Bound by b"));
	/* Still b's, and b keeps getting it. */
	assert_string_equal(add(&e2, "b", "cb", T0), "192.168.1.200");
	/* Once b's hold is over, the pin wins. */
	del(&e2, "b", "cb", T0);
	assert_string_equal(add(&e2, "a", "ca", T0 + 10), "E101");
	assert_string_equal(add(&e2, "a", "ca", T0 + 25 * H), "192.168.1.200");
	assert_string_equal(row_of(&e2, "192.168.1.200")->identity, "a");
	/* b's next address skips the pinned one. */
	assert_string_equal(add(&e2, "b", "cb2", T0 + 25 * H), "192.168.1.201");
	gl_ipamconf_free(&e2.conf);
	env_done(&e);
}

static void test_pin_moves_identity(void **state)
{
	struct env e, e2;

	/* dst-0 had a dynamic .200; the admin pins it to .205 in config. */
	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.200");
	del(&e, "games/dst-0", "c1", T0);
	env_init(&e2, SEED ",\"pins\":{\"games/dst-0\":\"192.168.1.205\"}}");
	gl_store_close(e2.s);
	e2.s = e.s;
	e2.f = e.f;
	assert_string_equal(add(&e2, "games/dst-0", "c2", T0), "192.168.1.205");
	assert_string_equal(status_of(&e2, "192.168.1.200"), "none");
	assert_int_equal(n_rows(&e), 1);
	gl_ipamconf_free(&e2.conf);
	env_done(&e);
}

static void test_exclusions_gateway_broadcast(void **state)
{
	struct env e;

	env_init(&e, "{\"range\":\"192.168.1.0/29\",\"gateway\":\"192.168.1.2\","
		 "\"exclude\":[\"192.168.1.4/31\"]}");
	/* .0 network, .2 gateway, .4-.5 excluded, .7 broadcast. */
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.1");
	assert_string_equal(add(&e, "b", "cb", T0), "192.168.1.3");
	assert_string_equal(add(&e, "c", "cc", T0), "192.168.1.6");
	assert_string_equal(add(&e, "d", "cd", T0), "E100");
	env_done(&e);

	/* host-local's default gateway (.1) is never handed out. */
	env_init(&e, "{\"subnet\":\"10.0.0.0/30\"}");
	assert_string_equal(add(&e, "a", "ca", T0), "10.0.0.2");
	assert_string_equal(add(&e, "b", "cb", T0), "E100");
	env_done(&e);
}

static void test_conflicts(void **state)
{
	struct env e;
	struct gl_ip bad;
	struct gl_alloc_req r;

	env_init(&e, SEED ",\"conflictHold\":\"10m\"}");
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.200");
	/* macvlan's probe: someone on the LAN answers for .200. */
	gl_ip_parse("192.168.1.200", &bad);
	r = req(&e, "games/dst-0", "c1", T0 + 10);
	r.conflicts = &bad;
	r.n_conflicts = 1;
	assert_string_equal(add_req(&e, r), "192.168.1.201");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Conflict");
	assert_string_equal(row_of(&e, "192.168.1.200")->identity, "");
	assert_int_equal(row_of(&e, "192.168.1.200")->expires, T0 + 10 + 10 * 60 * 1000);
	/* The identity sticks to its new address. */
	assert_string_equal(add(&e, "games/dst-0", "c1", T0 + 20), "192.168.1.201");
	/* Nobody gets the conflicted address during the hold... */
	assert_string_equal(add(&e, "games/dst-1", "c2", T0 + 30), "192.168.1.202");
	/* ...and after it, it is free again (lowest first). */
	assert_string_equal(add(&e, "games/dst-2", "c3", T0 + 11 * 60 * 1000), "192.168.1.200");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	env_done(&e);
}

static void test_conflict_unknown_address(void **state)
{
	struct env e;
	struct gl_ip bad[2];
	struct gl_alloc_req r;

	/* A conflict on an address nobody reserved is still recorded. */
	env_init(&e, SEED "}");
	gl_ip_parse("192.168.1.200", &bad[0]);
	gl_ip_parse("10.9.9.9", &bad[1]); /* outside the network: ignored */
	r = req(&e, "a", "ca", T0);
	r.conflicts = bad;
	r.n_conflicts = 2;
	assert_string_equal(add_req(&e, r), "192.168.1.201");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Conflict");
	assert_int_equal(n_rows(&e), 2);
	env_done(&e);
}

static void test_conflict_on_pin(void **state)
{
	struct env e;
	struct gl_ip bad, ips[GL_IPAM_MAX_POOLS];
	struct gl_alloc_req r;
	struct gl_err err = {0};

	env_init(&e, SEED ",\"pins\":{\"games/dst-0\":\"192.168.1.210\"}}");
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.210");
	gl_ip_parse("192.168.1.210", &bad);
	r = req(&e, "games/dst-0", "c1", T0);
	r.conflicts = &bad;
	r.n_conflicts = 1;
	assert_true(gl_alloc_add(e.s, &r, ips, &err) < 0);
	assert_int_equal(err.code, GL_ERR_ADDR_IN_USE);
	assert_non_null(strstr(err.msg, "192.168.1.210 is pinned for games/dst-0"));
	/* Nothing changed. */
	assert_string_equal(status_of(&e, "192.168.1.210"), "Bound,Pinned");
	env_done(&e);

	/* A store pin (admin) counts too. */
	env_init(&e, SEED "}");
	gl_ip_parse("192.168.1.207", &bad);
	assert_int_equal(gl_alloc_pin(e.s, "lan", "games/dst-0", "eth0", &bad, -1, "n", T0, &err), 0);
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.207");
	r = req(&e, "games/dst-0", "c1", T0);
	r.conflicts = &bad;
	r.n_conflicts = 1;
	assert_string_equal(add_req(&e, r), "E102");
	env_done(&e);
}

/* A plugin whose later step failed takes its ADD back: a reservation the
 * ADD made disappears; one the identity had before is only released. */
static void test_undo(void **state)
{
	struct env e;
	struct gl_ip ips[GL_IPAM_MAX_POOLS], pin;
	struct gl_alloc_req r;
	struct gl_err err = {0};
	bool fresh[GL_IPAM_MAX_POOLS] = { false };

	env_init(&e, SEED "}");
	r = req(&e, "games/new-0", "c1", T0);
	r.ret_fresh = fresh;
	assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
	assert_true(fresh[0]);
	assert_int_equal(gl_alloc_undo(e.s, &r, fresh, &err), 0);
	assert_string_equal(status_of(&e, ip_str(&ips[0])), "none");
	assert_int_equal(n_rows(&e), 0);

	/* A returning identity keeps its address, Held again. */
	assert_string_equal(add(&e, "games/dst-0", "c2", T0), "192.168.1.200");
	del(&e, "games/dst-0", "c2", T0 + 1000);
	r = req(&e, "games/dst-0", "c3", T0 + 2000);
	r.ret_fresh = fresh;
	assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
	assert_false(fresh[0]);
	assert_int_equal(gl_alloc_undo(e.s, &r, fresh, &err), 0);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	/* Undo touches only this container's Bound rows. */
	assert_string_equal(add(&e, "games/dst-1", "c4", T0), "192.168.1.201");
	r = req(&e, "games/dst-1", "other", T0);
	fresh[0] = true;
	assert_int_equal(gl_alloc_undo(e.s, &r, fresh, &err), 0);
	assert_string_equal(status_of(&e, "192.168.1.201"), "Bound");
	env_done(&e);

	/* A pin onto an address in an active LAN conflict: 102, nothing taken. */
	env_init(&e, SEED "}");
	gl_ip_parse("192.168.1.205", &pin);
	r = req(&e, "games/x-0", "c5", T0);
	assert_string_equal(add_req(&e, r), "192.168.1.200");
	r.conflicts = &(struct gl_ip){ 0 };
	gl_ip_parse("192.168.1.200", (struct gl_ip *)r.conflicts);
	r.n_conflicts = 1;
	assert_string_equal(add_req(&e, r), "192.168.1.201");
	/* Now .200 is a conflict row; pin games/p-0 to it through admin. */
	assert_string_equal(status_of(&e, "192.168.1.200"), "Conflict");
	r = req(&e, "games/q-0", "c6", T0);
	r.requested = (struct gl_ip[]){ { 0 } };
	gl_ip_parse("192.168.1.200", (struct gl_ip *)r.requested);
	r.n_requested = 1;
	assert_string_equal(add_req(&e, r), "E102");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Conflict");
	/* The admin pins .200 in the config while the conflict lasts. */
	{
		const char *pinned = SEED ",\"pins\":{\"games/p-0\":\"192.168.1.200\"}}";
		json_object *o = NULL;

		gl_ipamconf_free(&e.conf);
		assert_int_equal(gl_json_parse_object(pinned, strlen(pinned), &o, &err), 0);
		assert_int_equal(gl_ipamconf_parse(o, "lan", &e.conf, &err), 0);
		json_object_put(o);
	}
	assert_string_equal(add(&e, "games/p-0", "c7", T0), "E102");
	assert_string_equal(status_of(&e, "192.168.1.200"), "Conflict");
	/* Once the conflict hold has passed, the pin gets its address. */
	assert_string_equal(add(&e, "games/p-0", "c7", T0 + 11 * 60 * 1000), "192.168.1.200");
	(void)pin;
	env_done(&e);
}

static void test_ipv6(void **state)
{
	struct env e;

	env_init(&e, "{\"subnet\":\"fd00:10::/64\",\"rangeStart\":\"fd00:10::ffff\",\"rangeEnd\":\"fd00:10::1:1\"}");
	assert_string_equal(add(&e, "a", "ca", T0), "fd00:10::ffff");
	assert_string_equal(add(&e, "b", "cb", T0), "fd00:10::1:0");
	assert_string_equal(add(&e, "c", "cc", T0), "fd00:10::1:1");
	assert_string_equal(add(&e, "d", "cd", T0), "E100");
	del(&e, "b", "cb", T0);
	assert_string_equal(add(&e, "b", "cb2", T0 + 1), "fd00:10::1:0");
	env_done(&e);

	/* The top of the address space does not wrap around. */
	env_init(&e, "{\"range\":\"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/64\"}");
	assert_string_equal(add(&e, "a", "ca", T0), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe");
	assert_string_equal(add(&e, "b", "cb", T0), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	assert_string_equal(add(&e, "c", "cc", T0), "E100");
	env_done(&e);
}

static void test_dual_stack(void **state)
{
	struct env e;
	struct gl_ip ips[GL_IPAM_MAX_POOLS];
	struct gl_err err = {0};
	struct gl_alloc_req r;

	env_init(&e, "{\"ranges\":[[{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.200\",\"rangeEnd\":\"192.168.1.216\"}],"
		 "[{\"subnet\":\"fd00::/64\",\"rangeStart\":\"fd00::200\",\"rangeEnd\":\"fd00::216\"}]],"
		 "\"pins\":{\"games/dst-1\":[\"192.168.1.210\",\"fd00::210\"]}}");
	r = req(&e, "games/dst-0", "c1", T0);
	assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
	assert_string_equal(ip_str(&ips[0]), "192.168.1.200");
	assert_string_equal(ip_str(&ips[1]), "fd00::200");
	assert_int_equal(row_of(&e, "fd00::200")->pool, 1);
	r = req(&e, "games/dst-1", "c2", T0);
	assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
	assert_string_equal(ip_str(&ips[0]), "192.168.1.210");
	assert_string_equal(ip_str(&ips[1]), "fd00::210");
	del(&e, "games/dst-0", "c1", T0);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	assert_string_equal(status_of(&e, "fd00::200"), "Held");
	r = req(&e, "games/dst-0", "c3", T0 + 1);
	assert_int_equal(gl_alloc_add(e.s, &r, ips, &err), 0);
	assert_string_equal(ip_str(&ips[0]), "192.168.1.200");
	assert_string_equal(ip_str(&ips[1]), "fd00::200");
	assert_int_equal(gl_alloc_check(e.s, &r, ips, &err), 0);
	assert_string_equal(ip_str(&ips[1]), "fd00::200");
	env_done(&e);
}

static void test_del_by_container(void **state)
{
	struct env e;

	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.200");
	/* DEL without the pod's CNI_ARGS: the identity is the container ID. */
	del(&e, "c1", "c1", T0 + 5);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	/* DEL of something never added, twice: success. */
	del(&e, "nobody", "c9", T0);
	del(&e, "nobody", "c9", T0);
	env_done(&e);
}

static void test_non_sticky_freed(void **state)
{
	struct env e;

	env_init(&e, SEED "}");
	/* No identity from the runtime: the container ID is the identity. */
	assert_string_equal(add(&e, "abc123", "abc123", T0), "192.168.1.200");
	del(&e, "abc123", "abc123", T0);
	assert_string_equal(status_of(&e, "192.168.1.200"), "none");
	assert_string_equal(add(&e, "def456", "def456", T0), "192.168.1.200");
	env_done(&e);
}

static void test_gc(void **state)
{
	struct env e;
	struct gl_alloc_req r;
	struct gl_err err = {0};
	struct gl_cni_attachment valid[] = { { "c2", "eth0" } };
	struct gl_ip bad;
	int released = -1;

	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "a", "c1", T0), "192.168.1.200");
	assert_string_equal(add(&e, "b", "c2", T0), "192.168.1.201");
	r = req(&e, "z", "c3", T0);
	r.node = "node2";
	assert_string_equal(add_req(&e, r), "192.168.1.202");
	gl_ip_parse("192.168.1.203", &bad);
	r = req(&e, "y", "c4", T0);
	r.conflicts = &bad;
	r.n_conflicts = 1;
	assert_string_equal(add_req(&e, r), "192.168.1.204");
	assert_int_equal(gl_alloc_gc(e.s, &e.conf, "node1", T0 + H, valid, 1, &released, &err), 0);
	/* a and y (node1, not listed) released; b listed; z on another node; the
	 * conflict's 10 minutes are over. */
	assert_int_equal(released, 2);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	assert_string_equal(status_of(&e, "192.168.1.201"), "Bound");
	assert_string_equal(status_of(&e, "192.168.1.202"), "Bound");
	assert_string_equal(status_of(&e, "192.168.1.203"), "none");
	assert_string_equal(status_of(&e, "192.168.1.204"), "Held");
	env_done(&e);
}

static void test_requested(void **state)
{
	struct env e;
	struct gl_ip want;
	struct gl_alloc_req r;

	env_init(&e, SEED ",\"pins\":{\"p\":\"192.168.1.215\"}}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	gl_ip_parse("192.168.1.205", &want);
	r = req(&e, "b", "cb", T0);
	r.requested = &want;
	r.n_requested = 1;
	assert_string_equal(add_req(&e, r), "192.168.1.205");
	/* Taken by b: not for c. */
	r = req(&e, "c", "cc", T0);
	r.requested = &want;
	r.n_requested = 1;
	assert_string_equal(add_req(&e, r), "E101");
	/* Outside the range, or pinned for somebody else. */
	gl_ip_parse("192.168.1.50", &want);
	assert_string_equal(add_req(&e, r), "E7");
	gl_ip_parse("192.168.1.215", &want);
	assert_string_equal(add_req(&e, r), "E101");
	env_done(&e);
}

static void test_range_change(void **state)
{
	struct env e, e2;

	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	del(&e, "a", "ca", T0);
	/* The admin narrows the range: a's old address is no longer handed out. */
	env_init(&e2, "{\"subnet\":\"192.168.1.0/24\",\"rangeStart\":\"192.168.1.210\",\"rangeEnd\":\"192.168.1.216\"}");
	gl_store_close(e2.s);
	e2.s = e.s;
	e2.f = e.f;
	assert_string_equal(add(&e2, "a", "ca2", T0), "192.168.1.210");
	assert_int_equal(n_rows(&e), 1);
	gl_ipamconf_free(&e2.conf);
	env_done(&e);
}

static void test_lost_race_retried(void **state)
{
	struct env e;

	env_init(&e, SEED "}");
	/* A store without transactions says another writer won twice. */
	e.f->lose_inserts = 2;
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	assert_int_equal(e.f->begins, 3);
	assert_int_equal(n_rows(&e), 1);
	/* Forever losing: a clear "try again", nothing left behind. */
	e.f->lose_inserts = 1000;
	assert_string_equal(add(&e, "b", "cb", T0), "E11");
	assert_int_equal(n_rows(&e), 1);
	env_done(&e);
}

/* A store that knows the address was taken (Kubernetes: 409 on POST)
 * gets other free addresses tried within the same decision, the first one
 * lowest-free, then random ones; bounded, then a whole new decision. */
static void test_address_taken_probes(void **state)
{
	struct env e;
	const char *got;

	env_init(&e, "{\"subnet\":\"10.0.0.0/16\"}");
	e.f->take_addrs = 3;
	got = add(&e, "a", "ca", T0);
	assert_int_equal(strncmp(got, "10.0.", 5), 0);
	assert_string_not_equal(got, "10.0.0.2"); /* .1: the default gateway */
	assert_int_equal(e.f->begins, 1);
	assert_int_equal(e.f->inserts, 4);
	assert_int_equal(n_rows(&e), 1);
	/* Losing every probe: decided again, then "try again"; nothing left. */
	e.f->take_addrs = 100000;
	e.f->begins = 0;
	assert_string_equal(add(&e, "b", "cb", T0), "E11");
	assert_int_equal(n_rows(&e), 1);
	assert_true(e.f->begins > 1);
	e.f->take_addrs = 0;
	/* Uncontended: still the lowest free (.1 is the default gateway). */
	assert_string_equal(add(&e, "c", "cc", T0), "10.0.0.2");
	env_done(&e);
}

/* The free-address search does not walk the pool: a /8 with rows is as
 * quick as a /24. */
static void test_big_pool_cheap(void **state)
{
	struct env e;
	int64_t t0;
	char id[32];

	env_init(&e, "{\"subnet\":\"10.0.0.0/8\"}");
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "p%d", i);
		assert_int_equal(strncmp(add(&e, id, id, T0), "10.0.", 5), 0);
	}
	t0 = gl_now_mono_ms();
	e.f->take_addrs = 7;
	assert_int_equal(strncmp(add(&e, "late", "late", T0), "10.", 3), 0);
	assert_true(gl_now_mono_ms() - t0 < 2000);
	env_done(&e);
}

static void test_check(void **state)
{
	struct env e;
	struct gl_alloc_req r;
	struct gl_err err = {0};
	struct gl_ip ips[GL_IPAM_MAX_POOLS];

	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	r = req(&e, "a", "ca", T0);
	assert_int_equal(gl_alloc_check(e.s, &r, ips, &err), 0);
	assert_string_equal(ip_str(&ips[0]), "192.168.1.200");
	del(&e, "a", "ca", T0);
	assert_true(gl_alloc_check(e.s, &r, ips, &err) < 0);
	assert_int_equal(err.code, GL_ERR_UNKNOWN_CONTAINER);
	env_done(&e);
}

static void test_admin(void **state)
{
	struct env e;
	struct gl_err err = {0};
	struct gl_ip ip;
	struct gl_resv_list l = {0};
	int n = 0;

	env_init(&e, SEED "}");
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	assert_string_equal(add(&e, "b", "cb", T0), "192.168.1.201");
	/* Pin a's current address. */
	gl_ip_parse("192.168.1.200", &ip);
	assert_int_equal(gl_alloc_pin(e.s, "lan", "a", "eth0", &ip, -1, "n", T0, &err), 0);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound,Pinned");
	/* Pinning b's address for c is refused. */
	gl_ip_parse("192.168.1.201", &ip);
	memset(&err, 0, sizeof(err));
	assert_true(gl_alloc_pin(e.s, "lan", "c", "eth0", &ip, -1, "n", T0, &err) < 0);
	assert_int_equal(err.code, GL_ERR_PIN_CONFLICT);
	assert_non_null(strstr(err.msg, "release it first"));
	/* Moving bound a to another address is refused too. */
	gl_ip_parse("192.168.1.209", &ip);
	memset(&err, 0, sizeof(err));
	assert_true(gl_alloc_pin(e.s, "lan", "a", "eth0", &ip, -1, "n", T0, &err) < 0);
	assert_non_null(strstr(err.msg, "is using 192.168.1.200 now"));
	/* Unpin: a Bound row stays Bound, then is Held for the given hold. */
	assert_int_equal(gl_alloc_unpin(e.s, "lan", "a", T0, H, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(status_of(&e, "192.168.1.200"), "Bound");
	memset(&err, 0, sizeof(err));
	assert_true(gl_alloc_unpin(e.s, "lan", "a", T0, H, &n, &err) < 0);
	assert_non_null(strstr(err.msg, "no pinned reservation"));
	/* Release: refused while bound, unless forced. */
	memset(&err, 0, sizeof(err));
	assert_true(gl_alloc_release(e.s, "lan", "b", false, &n, &err) < 0);
	assert_non_null(strstr(err.msg, "--force"));
	assert_int_equal(gl_alloc_release(e.s, "lan", "192.168.1.201", true, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(status_of(&e, "192.168.1.201"), "none");
	memset(&err, 0, sizeof(err));
	assert_true(gl_alloc_release(e.s, "lan", "nobody", false, &n, &err) < 0);
	assert_int_equal(err.code, GL_ERR_UNKNOWN_CONTAINER);
	/* Pin a free address for a new identity: Pinned, waiting for it. */
	gl_ip_parse("192.168.1.201", &ip);
	assert_int_equal(gl_alloc_pin(e.s, "lan", "games/new", "eth0", &ip, -1, "n", T0, &err), 0);
	assert_string_equal(status_of(&e, "192.168.1.201"), "Pinned");
	assert_string_equal(add(&e, "games/new", "cn", T0), "192.168.1.201");
	/* list is sorted by address. */
	assert_int_equal(gl_alloc_list(e.s, "lan", &l, &err), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(ip_str(&l.v[0].ip), "192.168.1.200");
	assert_string_equal(ip_str(&l.v[1].ip), "192.168.1.201");
	gl_store_list_free(&l);
	assert_int_equal(gl_alloc_list(e.s, "other", &l, &err), 0);
	assert_int_equal(l.n, 0);
	gl_store_list_free(&l);
	env_done(&e);
}

static void test_networks_separate(void **state)
{
	struct env e, e2;

	env_init(&e, SEED "}");
	env_init(&e2, SEED ",\"network_name\":\"other\"}");
	gl_store_close(e2.s);
	e2.s = e.s;
	e2.f = e.f;
	/* Same range in two networks: independent. */
	assert_string_equal(add(&e, "a", "ca", T0), "192.168.1.200");
	assert_string_equal(add(&e2, "b", "cb", T0), "192.168.1.200");
	gl_ipamconf_free(&e2.conf);
	env_done(&e);
}

/* ---- SQLite ---- */

static char tmpdir[64];

static int sqlite_setup(void **state)
{
	strcpy(tmpdir, "/tmp/gl-test-alloc-XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	return 0;
}

static int sqlite_teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static void mode_is(const char *path, mode_t want)
{
	struct stat st;

	if (stat(path, &st) < 0)
		fail_msg("%s: %s", path, strerror(errno));
	if ((st.st_mode & 07777) != want)
		fail_msg("%s has mode %o, want %o", path, st.st_mode & 07777, want);
}

static void test_sqlite_roundtrip(void **state)
{
	char path[128], p2[160];
	struct gl_store_conf sc = { .type = "sqlite", .path = path, .create = true };
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	struct gl_resv r, r2;
	struct gl_resv_list l = {0};

	snprintf(path, sizeof(path), "%s/new/dir/ipam.db", tmpdir);
	/* Not created when not asked to. */
	sc.create = false;
	assert_true(gl_store_open(&sc, &s, &err) < 0);
	assert_int_equal(err.code, GL_ERR_STORE);
	sc.create = true;
	memset(&err, 0, sizeof(err));
	assert_int_equal(gl_store_open(&sc, &s, &err), 0);
	mode_is(path, 0600);
	snprintf(p2, sizeof(p2), "%s/new/dir", tmpdir);
	mode_is(p2, 0700);
	snprintf(p2, sizeof(p2), "%s/new", tmpdir);
	mode_is(p2, 0700);

	memset(&r, 0, sizeof(r));
	strcpy(r.network, "lan");
	r.pool = 1;
	gl_ip_parse("fd00::1", &r.ip);
	strcpy(r.identity, "games/dst-0");
	strcpy(r.ifname, "eth0");
	strcpy(r.container_id, "c1");
	r.state = GL_RESV_BOUND;
	r.expires = GL_RESV_NEVER;
	strcpy(r.node, "node1");
	r.updated = T0;
	assert_int_equal(s->ops->begin(s, &err), 0);
	assert_int_equal(s->ops->insert(s, &r, &err), 0);
	/* Both uniqueness rules hold in the schema. */
	r2 = r;
	assert_int_equal(s->ops->insert(s, &r2, &err), -EEXIST);
	gl_ip_parse("fd00::2", &r2.ip);
	assert_int_equal(s->ops->insert(s, &r2, &err), -EEXIST);
	/* Conflict rows (no identity) do not collide with each other. */
	r2.identity[0] = r2.ifname[0] = '\0';
	r2.state = GL_RESV_CONFLICT;
	r2.expires = T0 + 5;
	assert_int_equal(s->ops->insert(s, &r2, &err), 0);
	gl_ip_parse("fd00::3", &r2.ip);
	assert_int_equal(s->ops->insert(s, &r2, &err), 0);
	assert_int_equal(s->ops->commit(s, &err), 0);
	snprintf(p2, sizeof(p2), "%s-wal", path);
	mode_is(p2, 0600);
	snprintf(p2, sizeof(p2), "%s-shm", path);
	mode_is(p2, 0600);

	/* A rolled back write is gone. */
	assert_int_equal(s->ops->begin(s, &err), 0);
	gl_ip_parse("fd00::4", &r2.ip);
	assert_int_equal(s->ops->insert(s, &r2, &err), 0);
	s->ops->rollback(s);

	assert_int_equal(s->ops->scan(s, "lan", &l, &err), 0);
	assert_int_equal(l.n, 3);
	for (size_t i = 0; i < l.n; i++) {
		if (strcmp(ip_str(&l.v[i].ip), "fd00::1") != 0)
			continue;
		assert_int_equal(l.v[i].pool, 1);
		assert_string_equal(l.v[i].identity, "games/dst-0");
		assert_string_equal(l.v[i].ifname, "eth0");
		assert_string_equal(l.v[i].container_id, "c1");
		assert_int_equal(l.v[i].state, GL_RESV_BOUND);
		assert_int_equal(l.v[i].expires, GL_RESV_NEVER);
		assert_string_equal(l.v[i].node, "node1");
		assert_int_equal(l.v[i].updated, T0);
		r = l.v[i];
	}
	gl_store_list_free(&l);
	assert_int_equal(s->ops->scan(s, "other", &l, &err), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(s->ops->scan(s, NULL, &l, &err), 0);
	assert_int_equal(l.n, 3);
	gl_store_list_free(&l);

	/* Update with the version read; a stale version is refused. */
	assert_int_equal(s->ops->begin(s, &err), 0);
	r2 = r;
	r.state = GL_RESV_RELEASED;
	r.pinned = true;
	r.expires = T0 + 99;
	assert_int_equal(s->ops->update(s, &r, &err), 0);
	assert_int_equal(s->ops->update(s, &r2, &err), -ESTALE);
	assert_int_equal(s->ops->remove(s, &r2, &err), -ESTALE);
	assert_int_equal(s->ops->commit(s, &err), 0);
	assert_int_equal(s->ops->status(s, &err), 0);
	gl_store_close(s);

	/* Reopen: the rows persisted. */
	s = NULL;
	assert_int_equal(gl_store_open(&sc, &s, &err), 0);
	assert_int_equal(s->ops->scan(s, "lan", &l, &err), 0);
	for (size_t i = 0; i < l.n; i++)
		if (strcmp(ip_str(&l.v[i].ip), "fd00::1") == 0) {
			assert_int_equal(l.v[i].state, GL_RESV_RELEASED);
			assert_true(l.v[i].pinned);
			assert_int_equal(l.v[i].expires, T0 + 99);
			assert_int_equal(s->ops->begin(s, &err), 0);
			assert_int_equal(s->ops->remove(s, &l.v[i], &err), 0);
			assert_int_equal(s->ops->commit(s, &err), 0);
		}
	gl_store_list_free(&l);
	assert_int_equal(s->ops->scan(s, "lan", &l, &err), 0);
	assert_int_equal(l.n, 2);
	gl_store_list_free(&l);
	gl_store_close(s);
}

static void test_sqlite_allocator(void **state)
{
	char path[128], json[512];
	struct gl_store_conf sc = { .type = "sqlite", .path = path, .create = true };
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	struct env e;

	snprintf(path, sizeof(path), "%s/alloc.db", tmpdir);
	/* A file someone made world-readable is tightened. */
	close(open(path, O_CREAT | O_WRONLY, 0644));
	chmod(path, 0644);
	assert_int_equal(gl_store_open(&sc, &s, &err), 0);
	mode_is(path, 0600);
	snprintf(json, sizeof(json), SEED ",\"hold\":\"1h\",\"store\":{\"path\":\"%s\"}}", path);
	env_init(&e, json);
	gl_store_close(e.s);
	e.s = s;
	e.f = NULL;
	assert_string_equal(add(&e, "games/dst-0", "c1", T0), "192.168.1.200");
	assert_string_equal(add(&e, "games/dst-1", "c2", T0), "192.168.1.201");
	del(&e, "games/dst-0", "c1", T0);
	assert_string_equal(add(&e, "games/dst-2", "c3", T0), "192.168.1.202");
	assert_string_equal(add(&e, "games/dst-0", "c4", T0 + 2 * H), "192.168.1.200");
	env_done(&e);
}

/* Another process's write between a decision's snapshot and its lock. */
static struct gl_store *meddler;
static const char *meddle_identity;
static bool meddle_release;
static struct env *meddle_env;

static int meddling_snapshot(struct gl_store *s, const char *network, struct gl_resv_list *ret,
			     uint64_t *ret_token, struct gl_err *err)
{
	int r = gl_store_sqlite_ops.snapshot(s, network, ret, ret_token, err);
	struct gl_err e2 = {0};
	int n = 0;

	if (meddle_identity) {
		struct gl_alloc_req q = req(meddle_env, meddle_identity, "meddler", T0);
		struct gl_ip ips[GL_IPAM_MAX_POOLS];

		if (meddle_release)
			assert_int_equal(gl_alloc_release(meddler, "lan", meddle_identity, true, &n, &e2), 0);
		else
			assert_int_equal(gl_alloc_add(meddler, &q, ips, &e2), 0);
		meddle_identity = NULL;
	}
	return r;
}

static void test_sqlite_decided_outside_the_lock(void **state)
{
	char path[128], json[512];
	struct gl_store_conf sc = { .type = "sqlite", .path = path, .create = true };
	struct gl_store_ops meddled = gl_store_sqlite_ops;
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	struct env e;

	snprintf(path, sizeof(path), "%s/plan.db", tmpdir);
	assert_int_equal(gl_store_open(&sc, &s, &err), 0);
	assert_int_equal(gl_store_open(&sc, &meddler, &err), 0);
	snprintf(json, sizeof(json), SEED ",\"store\":{\"path\":\"%s\"}}", path);
	env_init(&e, json);
	gl_store_close(e.s);
	e.s = s;
	e.f = NULL;
	meddle_env = &e;
	meddled.snapshot = meddling_snapshot;
	s->ops = &meddled;
	/* Nobody in between: the planned write stands (and made the schema). */
	assert_string_equal(add(&e, "games/dst-0", "c0", T0), "192.168.1.200");
	/* Another writer takes the address this decision picked: inside the
	 * lock the change is seen, and the decision is made again. */
	meddle_identity = "games/dst-1";
	assert_string_equal(add(&e, "games/dst-2", "c2", T0), "192.168.1.202");
	assert_string_equal(row_of(&e, "192.168.1.201")->identity, "games/dst-1");
	/* A row removed in between (seen by the count): read again in full. */
	meddle_identity = "games/dst-1";
	meddle_release = true;
	assert_string_equal(add(&e, "games/dst-3", "c3", T0), "192.168.1.201");
	meddle_release = false;
	/* The identity's own row changed under the decision (its holder was
	 * freed by an admin and taken by another): the fresh rows decide. */
	meddle_identity = "games/dst-0";
	meddle_release = true;
	assert_string_equal(add(&e, "games/dst-0", "c9", T0), "192.168.1.200");
	meddle_release = false;
	assert_int_equal(n_rows(&e), 3);
	gl_store_close(meddler);
	env_done(&e);
}

/* A database made by the first schema version is read, then upgraded by
 * the first write. */
static void test_sqlite_v1_upgrade(void **state)
{
	char path[128], json[512];
	struct gl_store_conf sc = { .type = "sqlite", .path = path, .create = false };
	struct gl_store *s = NULL;
	struct gl_err err = {0};
	struct env e;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/v1.db", tmpdir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
		"PRAGMA journal_mode=WAL;"
		"CREATE TABLE reservations (network TEXT NOT NULL, pool INTEGER NOT NULL, ip TEXT NOT NULL,"
		" identity TEXT, ifname TEXT, container_id TEXT NOT NULL DEFAULT '',"
		" state TEXT NOT NULL CHECK (state IN ('bound','released','conflict')),"
		" pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0,1)), expires INTEGER,"
		" node TEXT NOT NULL DEFAULT '', updated INTEGER NOT NULL, version INTEGER NOT NULL DEFAULT 1,"
		" UNIQUE (network, ip), UNIQUE (network, identity, ifname, pool));"
		"INSERT INTO reservations (network, pool, ip, identity, ifname, container_id, state, updated)"
		" VALUES ('lan', 0, '192.168.1.200', 'games/dst-0', 'eth0', 'c1', 'released', 1);"
		"PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(gl_store_open(&sc, &s, &err), 0);
	snprintf(json, sizeof(json), SEED ",\"store\":{\"path\":\"%s\"}}", path);
	env_init(&e, json);
	gl_store_close(e.s);
	e.s = s;
	e.f = NULL;
	assert_string_equal(status_of(&e, "192.168.1.200"), "Held");
	assert_string_equal(add(&e, "games/dst-1", "c2", T0), "192.168.1.201");
	assert_string_equal(add(&e, "games/dst-0", "c3", T0), "192.168.1.200");
	assert_int_equal(n_rows(&e), 2);
	env_done(&e);
}

static void test_sqlite_refuses_symlink(void **state)
{
	char path[128], target[128];
	struct gl_store_conf sc = { .type = "sqlite", .path = path, .create = true };
	struct gl_store *s = NULL;
	struct gl_err err = {0};

	snprintf(target, sizeof(target), "%s/target.db", tmpdir);
	snprintf(path, sizeof(path), "%s/link.db", tmpdir);
	assert_int_equal(symlink(target, path), 0);
	assert_true(gl_store_open(&sc, &s, &err) < 0);
	assert_int_equal(err.code, GL_ERR_STORE);
	assert_int_equal(access(target, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_rebind_without_del),
		cmocka_unit_test(test_holder_unknown_netns),
		cmocka_unit_test(test_hold_expiry_and_exhaustion),
		cmocka_unit_test(test_never_bound_or_pinned),
		cmocka_unit_test(test_hold_forever),
		cmocka_unit_test(test_config_pins),
		cmocka_unit_test(test_config_pin_conflict),
		cmocka_unit_test(test_pin_moves_identity),
		cmocka_unit_test(test_exclusions_gateway_broadcast),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_conflict_unknown_address),
		cmocka_unit_test(test_conflict_on_pin),
		cmocka_unit_test(test_undo),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_dual_stack),
		cmocka_unit_test(test_del_by_container),
		cmocka_unit_test(test_non_sticky_freed),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_requested),
		cmocka_unit_test(test_range_change),
		cmocka_unit_test(test_lost_race_retried),
		cmocka_unit_test(test_address_taken_probes),
		cmocka_unit_test(test_big_pool_cheap),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_admin),
		cmocka_unit_test(test_networks_separate),
		cmocka_unit_test(test_sqlite_roundtrip),
		cmocka_unit_test(test_sqlite_allocator),
		cmocka_unit_test(test_sqlite_decided_outside_the_lock),
		cmocka_unit_test(test_sqlite_v1_upgrade),
		cmocka_unit_test(test_sqlite_refuses_symlink),
	};

	return cmocka_run_group_tests(tests, sqlite_setup, sqlite_teardown);
}
