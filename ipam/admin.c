/* gamelan-ipam's admin face: list, pin, unpin and release reservations in
 * the SQLite store. Exit codes: 0 done, 1 the operation failed, 2 usage. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ipam/alloc.h"
#include "cni/cni.h"
#include "admin.h"
#include "ipam/conf.h"
#include "base/json.h"
#include "ipam/store.h"
#include "base/util.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define MAX_POS 4

static const char usage_text[] =
	"Usage: gamelan-ipam [--db PATH | --store kubernetes [--kubeconfig PATH] [--namespace NS]]\n"
	"                    COMMAND [ARGS]\n"
	"\n"
	"Without CNI_COMMAND in the environment gamelan-ipam manages its reservations.\n"
	"\n"
	"Commands:\n"
	"  list [--network NAME] [--json]        show reservations\n"
	"  pin NETWORK IDENTITY IP [--ifname IF] [--pool N]\n"
	"                                        keep IP for IDENTITY (\"namespace/pod\") until unpinned\n"
	"  unpin NETWORK IDENTITY [--hold DUR]   end the pins of IDENTITY; released addresses\n"
	"                                        stay Held for DUR (default 24h)\n"
	"  release NETWORK IDENTITY|IP [--force] forget a reservation; the address becomes free\n"
	"                                        (--force: even if a container still uses it)\n"
	"\n"
	"Options:\n"
	"  --db PATH   the database (default $GAMELAN_IPAM_DB or " GL_IPAM_DEFAULT_DB ")\n"
	"  --store TYPE        sqlite (default) or kubernetes (IPReservation objects)\n"
	"  --kubeconfig PATH   kubernetes: the kubeconfig (default $KUBECONFIG, else in-cluster);\n"
	"                      implies --store kubernetes\n"
	"  --namespace NS      kubernetes: the namespace of the reservations (default " GL_IPAM_DEFAULT_KUBE_NAMESPACE ")\n"
	"  -h, --help  this text\n"
	"  --version   the version and the CNI spec versions\n"
	"\n"
	"States: Bound (in use), Held (kept for its identity until EXPIRES), Pinned (kept\n"
	"until unpinned), Conflict (another LAN host answers for it; unused until EXPIRES).\n"
	"\n"
	"Examples:\n"
	"  gamelan-ipam list --network lan\n"
	"  gamelan-ipam pin lan games/dst-0 192.168.1.200\n"
	"  gamelan-ipam --store kubernetes release lan games/dst-1\n"
	"\n"
	"With CNI_COMMAND set, gamelan-ipam is the CNI IPAM plugin a runtime (or\n"
	"gamelan-macvlan's \"ipam\") calls.\n";

struct opts {
	const char *db;
	const char *store;
	const char *kubeconfig;
	const char *namespace;
	const char *network;
	const char *ifname;
	const char *hold;
	const char *pool;
	bool json, force, help;
	const char *pos[MAX_POS];
	int n_pos;
};

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "gamelan-ipam: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'gamelan-ipam --help'.\n");
	return EXIT_USAGE;
}

static int fail(const struct gl_err *err)
{
	fprintf(stderr, "gamelan-ipam: %s\n", err->msg[0] ? err->msg : "failed");
	return EXIT_FAIL;
}

/* Options may come before or after the command and its arguments. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct { const char *name; size_t off; } with_value[] = {
		{ "--db", offsetof(struct opts, db) },
		{ "--store", offsetof(struct opts, store) },
		{ "--kubeconfig", offsetof(struct opts, kubeconfig) },
		{ "--namespace", offsetof(struct opts, namespace) },
		{ "--network", offsetof(struct opts, network) },
		{ "--ifname", offsetof(struct opts, ifname) },
		{ "--hold", offsetof(struct opts, hold) },
		{ "--pool", offsetof(struct opts, pool) },
	};

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool matched = false;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
			continue;
		}
		if (strcmp(a, "--json") == 0) {
			o->json = true;
			continue;
		}
		if (strcmp(a, "--force") == 0) {
			o->force = true;
			continue;
		}
		for (size_t k = 0; k < GL_ARRAY_SIZE(with_value) && !matched; k++) {
			size_t n = strlen(with_value[k].name);
			const char **dst = (const char **)((char *)o + with_value[k].off);

			if (strncmp(a, with_value[k].name, n) != 0 || (a[n] != '\0' && a[n] != '='))
				continue;
			matched = true;
			if (a[n] == '=') {
				*dst = a + n + 1;
			} else if (i + 1 < argc) {
				*dst = argv[++i];
			} else {
				return usage_error("option %s needs a value", with_value[k].name);
			}
		}
		if (matched)
			continue;
		if (a[0] == '-' && a[1] != '\0')
			return usage_error("unknown option %s", a);
		if (o->n_pos >= MAX_POS)
			return usage_error("too many arguments (\"%s\")", a);
		o->pos[o->n_pos++] = a;
	}
	return 0;
}

static bool printable_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s))
			return false;
	return true;
}

/* The Kubernetes store: --store kubernetes or --kubeconfig. */
static int open_kube(const struct opts *o, struct gl_store **ret, struct gl_err *err)
{
	const char *ns = o->namespace ? o->namespace : GL_IPAM_DEFAULT_KUBE_NAMESPACE;
	struct gl_store_conf sc = { .type = "kubernetes", .kubeconfig = o->kubeconfig, .namespace = ns };

	if (o->kubeconfig && o->kubeconfig[0] != '/')
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--kubeconfig must be an absolute path");
	if (!gl_ipamconf_dns_label_valid(ns))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--namespace \"%.64s\" is not a namespace name", ns);
	return gl_store_open(&sc, ret, err);
}

static int open_db(const struct opts *o, bool create, struct gl_store **ret, struct gl_err *err)
{
	char path[PATH_MAX];
	const char *p = o->db ? o->db : getenv("GAMELAN_IPAM_DB");
	struct gl_store_conf sc = { .type = "sqlite", .path = path, .create = create };

	if (o->store && strcmp(o->store, "kubernetes") != 0 && strcmp(o->store, "sqlite") != 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--store must be sqlite or kubernetes");
	if ((o->store && strcmp(o->store, "kubernetes") == 0) || o->kubeconfig) {
		if (o->db)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "--db is for the sqlite store only");
		return open_kube(o, ret, err);
	}
	if (!p || !*p)
		p = GL_IPAM_DEFAULT_DB;
	if (p[0] == '/') {
		if (gl_strlcpy(path, p, sizeof(path)) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "database path is too long");
	} else {
		char cwd[PATH_MAX];
		int n;

		if (!getcwd(cwd, sizeof(cwd)))
			return gl_err_set(err, GL_ERR_IO, "getcwd: %s", strerror(errno));
		n = snprintf(path, sizeof(path), "%s/%s", cwd, p);
		if (n < 0 || (size_t)n >= sizeof(path))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "database path is too long");
	}
	if (!create && access(path, F_OK) < 0)
		return gl_err_set(err, GL_ERR_STORE, "no database at %s (nothing allocated yet, or see --db)",
				  path);
	return gl_store_open(&sc, ret, err);
}

static void fmt_time_left(const struct gl_resv *r, int64_t now, char *buf, size_t size)
{
	int64_t s;

	if (r->state == GL_RESV_BOUND) {
		snprintf(buf, size, "-");
		return;
	}
	if (r->expires == GL_RESV_NEVER) {
		snprintf(buf, size, "never");
		return;
	}
	if (r->expires <= now) {
		snprintf(buf, size, "expired");
		return;
	}
	s = (r->expires - now + 999) / 1000;
	/* Two units at most, the smaller one left out when zero: "1d", "23h59m". */
	{
		static const struct { int64_t secs; char unit; } units[] = {
			{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
		};
		size_t u = 0;
		int n;

		while (u + 1 < GL_ARRAY_SIZE(units) && s < units[u].secs)
			u++;
		n = snprintf(buf, size, "%lld%c", (long long)(s / units[u].secs), units[u].unit);
		if (u + 1 < GL_ARRAY_SIZE(units) && s % units[u].secs / units[u + 1].secs && n > 0 &&
		    (size_t)n < size)
			snprintf(buf + n, size - (size_t)n, "%lld%c",
				 (long long)(s % units[u].secs / units[u + 1].secs), units[u + 1].unit);
	}
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* A container ID is long; its first 12 characters name it, as docker does. */
static void short_id(const char *id, char buf[16])
{
	snprintf(buf, 16, "%.12s", or_dash(id));
}

enum { C_NET, C_IP, C_ID, C_IF, C_STATE, C_NODE, C_CTR, C_EXP, N_COLS };

static void row_cells(const struct gl_resv *r, int64_t now, char ip[GL_IP_STRLEN], char ctr[16],
		      char exp[32], const char *cells[N_COLS])
{
	gl_ip_str(&r->ip, ip, GL_IP_STRLEN);
	short_id(r->container_id, ctr);
	fmt_time_left(r, now, exp, 32);
	cells[C_NET] = r->network;
	cells[C_IP] = ip;
	cells[C_ID] = or_dash(r->identity);
	cells[C_IF] = or_dash(r->ifname);
	cells[C_STATE] = gl_alloc_status(r);
	cells[C_NODE] = or_dash(r->node);
	cells[C_CTR] = r->state == GL_RESV_CONFLICT ? "-" : ctr;
	cells[C_EXP] = exp;
}

static void print_table(const struct gl_resv_list *l, int64_t now)
{
	static const char *const heads[N_COLS] = { "NETWORK", "IP", "IDENTITY", "IFNAME", "STATE",
						   "NODE", "CONTAINER", "EXPIRES" };
	size_t w[N_COLS];
	char ip[GL_IP_STRLEN], ctr[16], exp[32];
	const char *cells[N_COLS];

	for (int c = 0; c < N_COLS; c++)
		w[c] = strlen(heads[c]);
	for (size_t i = 0; i < l->n; i++) {
		row_cells(&l->v[i], now, ip, ctr, exp, cells);
		for (int c = 0; c < N_COLS; c++)
			if (strlen(cells[c]) > w[c])
				w[c] = strlen(cells[c]);
	}
	for (int c = 0; c < N_COLS; c++)
		printf("%-*s%s", c == N_COLS - 1 ? 0 : (int)w[c], heads[c], c == N_COLS - 1 ? "\n" : "  ");
	for (size_t i = 0; i < l->n; i++) {
		row_cells(&l->v[i], now, ip, ctr, exp, cells);
		for (int c = 0; c < N_COLS; c++)
			printf("%-*s%s", c == N_COLS - 1 ? 0 : (int)w[c], cells[c],
			       c == N_COLS - 1 ? "\n" : "  ");
	}
}

static json_object *row_json(const struct gl_resv *r, int64_t now)
{
	json_object *o = json_object_new_object();
	char ip[GL_IP_STRLEN];

	if (!o)
		return NULL;
	json_object_object_add(o, "network", json_object_new_string(r->network));
	json_object_object_add(o, "pool", json_object_new_int(r->pool));
	json_object_object_add(o, "ip", json_object_new_string(gl_ip_str(&r->ip, ip, sizeof(ip))));
	json_object_object_add(o, "identity", r->identity[0] ? json_object_new_string(r->identity) : NULL);
	json_object_object_add(o, "ifname", r->ifname[0] ? json_object_new_string(r->ifname) : NULL);
	json_object_object_add(o, "state", json_object_new_string(gl_alloc_status(r)));
	json_object_object_add(o, "pinned", json_object_new_boolean(r->pinned));
	json_object_object_add(o, "node", json_object_new_string(r->node));
	json_object_object_add(o, "containerID", r->container_id[0] ?
			       json_object_new_string(r->container_id) : NULL);
	json_object_object_add(o, "expires", r->expires == GL_RESV_NEVER ? NULL :
			       json_object_new_int64(r->expires));
	json_object_object_add(o, "expired", json_object_new_boolean(
		r->state != GL_RESV_BOUND && gl_alloc_expired(r, now)));
	json_object_object_add(o, "updated", json_object_new_int64(r->updated));
	/* Who holds it, as an ADD of the identity from elsewhere checks it. */
	json_object_object_add(o, "netns", r->netns[0] ? json_object_new_string(r->netns) : NULL);
	json_object_object_add(o, "pod", r->pod[0] ? json_object_new_string(r->pod) : NULL);
	json_object_object_add(o, "podUID", r->pod_uid[0] ? json_object_new_string(r->pod_uid) : NULL);
	return o;
}

static int cmd_list(const struct opts *o)
{
	_cleanup_store_ struct gl_store *s = NULL;
	_cleanup_(gl_store_list_freep) struct gl_resv_list l = {0};
	struct gl_err err = {0};
	int64_t now = gl_now_wall_ms();

	if (o->n_pos != 1)
		return usage_error("list takes no arguments (use --network NAME)");
	if (open_db(o, false, &s, &err) < 0 || gl_alloc_list(s, o->network, &l, &err) < 0)
		return fail(&err);
	if (o->json) {
		_cleanup_json_ json_object *a = json_object_new_array();
		_cleanup_free_ char *out = NULL;

		for (size_t i = 0; a && i < l.n; i++)
			json_object_array_add(a, row_json(&l.v[i], now));
		out = a ? gl_json_dump(a) : NULL;
		if (!out) {
			fprintf(stderr, "gamelan-ipam: out of memory\n");
			return EXIT_FAIL;
		}
		printf("%s\n", out);
	} else {
		print_table(&l, now);
	}
	return fflush(stdout) == 0 ? 0 : EXIT_FAIL;
}

static int check_network_identity(const char *network, const char *identity)
{
	if (!printable_token(network, GL_CNI_NAME_MAX))
		return usage_error("network \"%.64s\" must be 1-253 printable characters without spaces",
				   network);
	if (identity && !printable_token(identity, GL_CNI_IDENTITY_MAX))
		return usage_error("identity \"%.64s\" must be 1-511 printable characters without spaces",
				   identity);
	return 0;
}

static int cmd_pin(const struct opts *o)
{
	_cleanup_store_ struct gl_store *s = NULL;
	struct gl_err err = {0};
	const char *ifname = o->ifname ? o->ifname : "eth0";
	char node[GL_NODE_MAX] = "";
	struct gl_ip ip;
	long pool = -1;
	int r;

	if (o->n_pos != 4)
		return usage_error("%s", "usage: pin NETWORK IDENTITY IP [--ifname IF] [--pool N]");
	r = check_network_identity(o->pos[1], o->pos[2]);
	if (r)
		return r;
	if (gl_ip_parse(o->pos[3], &ip) < 0)
		return usage_error("\"%.64s\" is not an IP address", o->pos[3]);
	if (!gl_cni_ifname_valid(ifname))
		return usage_error("\"%.32s\" is not a valid interface name", ifname);
	if (o->pool) {
		char *end;

		errno = 0;
		pool = strtol(o->pool, &end, 10);
		if (errno || *end || end == o->pool || pool < 0 || pool >= GL_IPAM_MAX_POOLS)
			return usage_error("--pool must be a range-set index 0-7, not \"%.16s\"", o->pool);
	}
	if (gethostname(node, sizeof(node) - 1) < 0)
		node[0] = '\0';
	if (getenv("GAMELAN_NODE") && strlen(getenv("GAMELAN_NODE")) < sizeof(node))
		strcpy(node, getenv("GAMELAN_NODE"));
	if (open_db(o, true, &s, &err) < 0 ||
	    gl_alloc_pin(s, o->pos[1], o->pos[2], ifname, &ip, (int)pool, node, gl_now_wall_ms(),
			 &err) < 0)
		return fail(&err);
	printf("pinned %s to %s (%s) in %s\n", o->pos[3], o->pos[2], ifname, o->pos[1]);
	return 0;
}

static int cmd_unpin(const struct opts *o)
{
	_cleanup_store_ struct gl_store *s = NULL;
	struct gl_err err = {0};
	int64_t hold = GL_IPAM_DEFAULT_HOLD_MS;
	int r, n = 0;

	if (o->n_pos != 3)
		return usage_error("%s", "usage: unpin NETWORK IDENTITY [--hold DURATION]");
	r = check_network_identity(o->pos[1], o->pos[2]);
	if (r)
		return r;
	if (o->hold && gl_duration_parse(o->hold, &hold) < 0)
		return usage_error("--hold \"%.32s\" is not a duration (like 10m, 24h, forever)", o->hold);
	if (open_db(o, false, &s, &err) < 0 ||
	    gl_alloc_unpin(s, o->pos[1], o->pos[2], gl_now_wall_ms(), hold, &n, &err) < 0)
		return fail(&err);
	printf("unpinned %d reservation(s) of %s in %s\n", n, o->pos[2], o->pos[1]);
	return 0;
}

static int cmd_release(const struct opts *o)
{
	_cleanup_store_ struct gl_store *s = NULL;
	struct gl_err err = {0};
	int r, n = 0;

	if (o->n_pos != 3)
		return usage_error("%s", "usage: release NETWORK IDENTITY|IP [--force]");
	r = check_network_identity(o->pos[1], o->pos[2]);
	if (r)
		return r;
	if (open_db(o, false, &s, &err) < 0 ||
	    gl_alloc_release(s, o->pos[1], o->pos[2], o->force, &n, &err) < 0)
		return fail(&err);
	printf("released %d reservation(s) of %s in %s\n", n, o->pos[2], o->pos[1]);
	return 0;
}

int ipam_admin_main(int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(const struct opts *o); } cmds[] = {
		{ "list", cmd_list }, { "pin", cmd_pin }, { "unpin", cmd_unpin },
		{ "release", cmd_release },
	};
	struct opts o = {0};
	int r = parse_opts(argc, argv, &o);

	if (r)
		return r;
	if (o.help) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (o.n_pos == 0) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < GL_ARRAY_SIZE(cmds); i++)
		if (strcmp(o.pos[0], cmds[i].name) == 0)
			return cmds[i].fn(&o);
	return usage_error("unknown command \"%.32s\"", o.pos[0]);
}
