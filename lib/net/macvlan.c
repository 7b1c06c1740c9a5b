/* The macvlan engine: create the link straight in the container's netns,
 * make sure no other LAN host holds its addresses, configure, announce;
 * undo what it made when the caller's later step fails. */
#include "net/macvlan.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <stdio.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "base/log.h"
#include "base/mac.h"
#include "base/util.h"
#include "net/arp.h"
#include "net/netns.h"
#include "net/nl.h"
#include "net/seen.h"

#define DAD_WAIT_MS 2500           /* the kernel's IPv6 DAD: up to 1 s delay + 1 s */
#define PROBES 2                   /* ARP probes spread over the probe wait */
/* A link's names while it is ours alone. ADD creates it as "gl-add-" + 8
 * hex digits of (container ID, ifname), so that the runtime's DEL of that
 * container finds it after a crash before the rename. DEL empties it and
 * renames it "gl-del-" + its ifindex (unique in the netns) before a
 * detached child deletes it; the next DEL, GC or ADD in that netns removes
 * one left by a crash. */
#define NAME_ADDING "gl-add-"
#define NAME_RETIRED "gl-del-"
#define DEL_WAIT_MS 3000           /* for a retired link's delete to free a MAC */
#define POD_LINKS_MAX 64           /* links looked at in a pod's netns */
#define POD_ADDRS_MAX 16
#define NETNS_SCAN_MAX 4096        /* named netns GC looks into */

struct gl_macvlan {
	const struct gl_macvlan_conf *conf;
	const struct gl_macvlan_att *att;
	int ns_fd;                 /* the container's netns */
	struct gl_nl *pod;         /* a netlink socket inside it */
	int arp_fd;                /* packet socket on the link, -1 until a probe needs it */
	int ifindex;               /* in the container; 0 until the link is found */
	char tmpname[IFNAMSIZ];
	uint8_t mac[6];
};

/* Open, inside the namespace ns_fd, a netlink socket (ret_nl) or else an
 * ARP socket on ifindex (ret_fd): a socket belongs to the namespace it was
 * made in. */
static int open_in(int ns_fd, struct gl_nl **ret_nl, int ifindex, int *ret_fd, struct gl_err *err)
{
	int orig, r, q;

	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = ret_nl ? gl_nl_open(ret_nl) : gl_arp_open(ifindex, ret_fd);
	q = gl_netns_restore(orig);
	if (q < 0) {
		if (r == 0 && ret_nl)
			gl_nl_close(*ret_nl);
		else if (r == 0)
			close(*ret_fd);
		return gl_err_from(err, q, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-q));
	}
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_IO, "%s in the pod's netns: %s",
				   ret_nl ? "netlink socket" : "ARP socket", strerror(-r));
	return 0;
}

/* Open the pod's netns (kept open in *ret_fd: the link is created through
 * it) and a netlink socket inside it. */
static int open_pod(const char *netns, int *ret_fd, struct gl_nl **ret_nl, struct gl_err *err)
{
	_cleanup_close_ int fd = -1;
	int r = gl_netns_open(netns, &fd, err);

	if (r < 0)
		return r;
	r = open_in(fd, ret_nl, 0, NULL, err);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int resolve_master(struct gl_nl *nl, const struct gl_macvlan_conf *c, struct gl_nl_link *ret,
			  struct gl_err *err)
{
	int ifindex = 0, r;

	if (c->master[0]) {
		r = gl_nl_link_get(nl, 0, c->master, ret, err);
		if (r == -ENODEV)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "master link %s does not exist%s", c->master,
					  c->link_in_container ? " in the pod's netns" : "");
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_NETLINK, "looking up master %s: %s", c->master, strerror(-r));
		return 0;
	}
	r = gl_nl_default_link(nl, AF_INET, &ifindex, err);
	if (r == -ENOENT)
		r = gl_nl_default_link(nl, AF_INET6, &ifindex, err);
	if (r < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "master is not set and there is no default route to take it from");
	r = gl_nl_link_get(nl, ifindex, NULL, ret, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "default route link %d: %s", ifindex, strerror(-r));
	return 0;
}

static void pick_mac(const struct gl_macvlan_conf *c, const struct gl_macvlan_att *a, uint8_t mac[6],
		     bool *ret_set)
{
	*ret_set = true;
	if (c->has_mac)
		memcpy(mac, c->mac, 6);
	else if (c->stable_mac == 1 || (c->stable_mac == -1 && a->identity_sticky))
		gl_mac_stable(a->network, a->identity, a->ifname, mac);
	else
		*ret_set = false;
}

static void adding_name(const struct gl_macvlan_att *a, char name[IFNAMSIZ])
{
	const char *parts[] = { a->container_id ? a->container_id : "", a->ifname };

	snprintf(name, IFNAMSIZ, NAME_ADDING "%08x", (unsigned)(gl_hash64(parts, 2) & 0xffffffffu));
}

/* A macvlan under one of our temporary names: prefix and 8 hex digits. */
static bool temp_named(const struct gl_nl_link *l, const char *prefix)
{
	size_t n = strlen(prefix);

	return strcmp(l->kind, "macvlan") == 0 && strncmp(l->name, prefix, n) == 0 &&
	       strlen(l->name) == n + 8 && strspn(l->name + n, "0123456789abcdef") == 8;
}

/* Fork a child that the runtime never waits for: 0 in it (its own
 * session, stdio closed, so the runtime's read of our output ends), 1 in
 * the caller, negative errno when fork failed. The child ends with _exit.
 * It is not waited for: the plugin exits soon, and the child is then
 * reparented (to init, or to the runtime's subreaper, as a grandchild of a
 * double fork would be). Waiting for a middle child would cost a trip
 * through the run queue on a loaded node. */
static int fork_detached(void)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid > 0)
		return 1;
	setsid();
	for (int f = 0; f < 3; f++)
		close(f);
	return 0;
}

/* A link DEL retired up keeps its MAC on the master until its delete
 * ends. Meanwhile the detached child that deletes it holds an abstract unix
 * socket named after that MAC (in the runtime's netns, where ADD runs too;
 * the kernel drops the name when the child ends, however it ends), and an
 * ADD that finds the MAC busy waits while the name is taken. */
static socklen_t retiring_addr(const uint8_t mac[6], struct sockaddr_un *ret)
{
	int n;

	memset(ret, 0, sizeof(*ret));
	ret->sun_family = AF_UNIX;
	n = snprintf(ret->sun_path + 1, sizeof(ret->sun_path) - 1, "gamelan/retiring/%02x%02x%02x%02x%02x%02x",
		     mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

/* The name for mac, taken: an fd, or -errno (EADDRINUSE: another has it). */
static int retiring_take(const uint8_t mac[6])
{
	struct sockaddr_un sa;
	socklen_t len = retiring_addr(mac, &sa);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, len) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static bool retiring(const uint8_t mac[6])
{
	int fd = retiring_take(mac);

	if (fd >= 0)
		close(fd);
	return fd == -EADDRINUSE;
}

/* Links of a pod to delete off the critical path, and what DEL remembers
 * of the one it retired: its addresses (seen records) and its MAC. */
struct retire_job {
	int ns_fd;
	int ifindex[POD_LINKS_MAX];
	int n;
	const struct gl_macvlan_conf *conf;
	const struct gl_macvlan_att *att;
	char seen[POD_ADDRS_MAX][GL_IP_STRLEN];
	int n_seen;
	int hold_fd;                 /* retiring_take()'s, or -1 */
};

static void retire_add(struct retire_job *j, int ifindex)
{
	if (j->n < POD_LINKS_MAX)
		j->ifindex[j->n++] = ifindex;
}

/* The slow part: each RTM_DELLINK waits for the kernel's RCU grace
 * periods. Seen records go first: an ADD may follow at once. */
static void retire_run(const struct retire_job *j)
{
	_cleanup_nl_ struct gl_nl *nl = NULL;

	for (int i = 0; i < j->n_seen; i++)
		gl_seen_record(j->conf->state_dir, j->att->network, j->seen[i], j->att->identity);
	if (j->n > 0 && open_in(j->ns_fd, &nl, 0, NULL, NULL) == 0)
		for (int i = 0; i < j->n; i++)
			gl_nl_link_del(nl, j->ifindex[i], NULL);
}

/* Run j in a detached child (which keeps j->hold_fd till it ends), or
 * here when fork fails. */
static void retire_detached(struct retire_job *j)
{
	if (j->n > 0 || j->n_seen > 0) {
		switch (fork_detached()) {
		case 0:
			retire_run(j);
			_exit(0);
		case 1:
			break;
		default:
			retire_run(j);
		}
	}
	if (j->hold_fd >= 0)
		close(j->hold_fd);
	j->hold_fd = -1;
}

/* Take l out of the way of the next link: renamed NAME_RETIRED<ifindex>,
 * so that its name is free at once. It stays as it is otherwise: setting a
 * link down, or changing a macvlan's MAC, waits for an RCU grace period,
 * as its delete does. Kernels before 6.2 refuse to rename a link that is
 * up (EBUSY): there it is set down too. */
static int retire_link(struct gl_nl *pod, const struct gl_nl_link *l, struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE], name[IFNAMSIZ];
	bool up = l->flags & IFF_UP;
	int r;

	if (temp_named(l, NAME_RETIRED))
		return 0;
	snprintf(name, sizeof(name), NAME_RETIRED "%08x", (unsigned)l->ifindex);
	r = gl_nl_talk(pod, gl_nl_build_link_set(buf, gl_nl_seq(pod), l->ifindex, name, up, NULL, 0), NULL,
		       NULL, err);
	if (r == -EBUSY && up)
		r = gl_nl_talk(pod, gl_nl_build_link_set(buf, gl_nl_seq(pod), l->ifindex, name, false, NULL, 0),
			       NULL, NULL, err);
	return r;
}

/* List the links of the pod's netns into links[] and queue the leftovers
 * of a crash for j: every retired link, and the link att's ADD made but
 * did not rename (renamed now: its name is wanted again). Returns the
 * number of links listed. */
static int sweep_pod(struct gl_nl *pod, const struct gl_macvlan_att *att, struct gl_nl_link *links,
		     struct retire_job *j, struct gl_err *err)
{
	char adding[IFNAMSIZ];
	int n = gl_nl_link_list(pod, links, POD_LINKS_MAX, err);

	if (n < 0)
		return gl_err_from(err, n, GL_ERR_NETLINK, "listing the pod's links: %s", strerror(-n));
	adding_name(att, adding);
	for (int i = 0; i < n; i++) {
		const struct gl_nl_link *l = &links[i];

		if (temp_named(l, NAME_RETIRED) ||
		    (strcmp(l->name, adding) == 0 && temp_named(l, NAME_ADDING) && retire_link(pod, l, NULL) == 0))
			retire_add(j, l->ifindex);
	}
	return n;
}

void gl_macvlan_free(struct gl_macvlan *m)
{
	if (!m)
		return;
	if (m->arp_fd >= 0)
		close(m->arp_fd);
	if (m->pod)
		gl_nl_close(m->pod);
	if (m->ns_fd >= 0)
		close(m->ns_fd);
	free(m);
}

void gl_macvlan_undo(struct gl_macvlan *m)
{
	struct gl_nl_link link;

	/* Only a link we made: by its index, or by our temporary name. */
	if (m->ifindex <= 0) {
		if (gl_nl_link_get(m->pod, 0, m->tmpname, &link, NULL) < 0)
			return;
		m->ifindex = link.ifindex;
	}
	gl_nl_link_del(m->pod, m->ifindex, NULL);
	m->ifindex = 0;
}

/* Rename m's new link to its ifname and bring it up. While another link
 * holds the MAC on the master (EADDRINUSE), wait for it to go, bounded: one
 * that DEL retired (its child is deleting it), or one whose netns was just
 * deleted (the kernel tears a netns' links down asynchronously, a runtime
 * may ADD again at once). A live duplicate fails after the bound. */
#define GONE_NETNS_WAIT_MS 2000

static int name_and_up(struct gl_macvlan *m, struct gl_err *err)
{
	int64_t end = gl_now_mono_ms() + DEL_WAIT_MS;
	char buf[GL_NL_BUFSIZE];
	useconds_t pause_us = 1000;
	int r;

	for (;;) {
		r = gl_nl_talk(m->pod, gl_nl_build_link_set(buf, gl_nl_seq(m->pod), m->ifindex, m->att->ifname,
							    true, NULL, 0), NULL, NULL, err);
		if (r != -EADDRINUSE || gl_now_mono_ms() > end)
			return r;
		/* Not a retired link: at most GONE_NETNS_WAIT_MS for a netns' teardown. */
		if (!retiring(m->mac) && gl_now_mono_ms() - (end - DEL_WAIT_MS) > GONE_NETNS_WAIT_MS)
			return r;
		usleep(pause_us);
		if (pause_us < 16000)
			pause_us *= 2;
	}
}

/* Make the link under m->tmpname, find it, rename it and bring it up. */
static int make_link(struct gl_macvlan *m, struct gl_nl *mnl, struct gl_err *err)
{
	const struct gl_macvlan_conf *c = m->conf;
	struct gl_nl_link master, link;
	struct gl_nl_link_spec spec;
	char buf[GL_NL_BUFSIZE];
	uint8_t mac[6];
	bool mac_set;
	int r;

	struct gl_nl_link links[POD_LINKS_MAX];
	struct retire_job leftovers = { .ns_fd = m->ns_fd, .conf = c, .att = m->att, .hold_fd = -1 };

	r = sweep_pod(m->pod, m->att, links, &leftovers, err);
	if (r < 0)
		return r;
	retire_detached(&leftovers);
	r = resolve_master(mnl, c, &master, err);
	if (r < 0)
		return r;
	pick_mac(c, m->att, mac, &mac_set);
	/* Created down under a name of our own, then renamed and brought up
	 * inside the pod: kernels before 6.13 look the new name up in the
	 * caller's netns, where the node's own eth0 would clash with it. */
	adding_name(m->att, m->tmpname);
	spec = (struct gl_nl_link_spec){
		.name = m->tmpname, .master = master.ifindex, .macvlan_mode = c->mode,
		.mtu = c->mtu, .mac = mac_set ? mac : NULL,
		.netns_fd = c->link_in_container ? -1 : m->ns_fd, .up = false,
	};
	r = gl_nl_talk(mnl, gl_nl_build_link_new(buf, gl_nl_seq(mnl), &spec), NULL, NULL, err);
	if (r < 0) {
		/* Nothing was made: no temporary name to clean up after. */
		m->tmpname[0] = '\0';
		return gl_err_from(err, r, GL_ERR_NETLINK, "creating macvlan on %s: %s", master.name,
				   strerror(-r));
	}
	r = gl_nl_link_get(m->pod, 0, m->tmpname, &link, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "the new link %s vanished: %s", m->tmpname,
				   strerror(-r));
	m->ifindex = link.ifindex;
	memcpy(m->mac, link.mac, 6);
	r = name_and_up(m, err);
	if (r == -EEXIST)
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_IFNAME %s already exists in %s",
				  m->att->ifname, m->att->netns);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "naming the link %s and bringing it up: %s",
				   m->att->ifname, strerror(-r));
	return 0;
}

int gl_macvlan_create(const struct gl_macvlan_conf *conf, const struct gl_macvlan_att *att,
		      struct gl_macvlan **ret, struct gl_err *err)
{
	_cleanup_macvlan_ struct gl_macvlan *m = calloc(1, sizeof(*m));
	_cleanup_nl_ struct gl_nl *host = NULL;
	int r;

	if (!m)
		return -ENOMEM;
	m->conf = conf;
	m->att = att;
	m->ns_fd = -1;
	m->arp_fd = -1;
	r = open_pod(att->netns, &m->ns_fd, &m->pod, err);
	if (r < 0)
		return r;
	if (!conf->link_in_container) {
		r = gl_nl_open(&host);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_IO, "netlink socket: %s", strerror(-r));
	}
	r = make_link(m, conf->link_in_container ? m->pod : host, err);
	if (r < 0) {
		if (m->tmpname[0])
			gl_macvlan_undo(m);
		return r;
	}
	*ret = TAKE_PTR(m);
	return 0;
}

/* Probe every IPv4 address of res that this identity has not used on this
 * node lately. Returns the number of conflicting addresses put in bad[]. */
static int probe_addresses(struct gl_macvlan *m, const struct gl_cni_result *res, struct gl_ip *bad,
			   struct gl_err *err)
{
	const struct gl_macvlan_conf *c = m->conf;
	int n_bad = 0, r;

	for (int i = 0; i < res->n_ips; i++) {
		const struct gl_ip *ip = &res->ips[i].address.ip;
		char s[GL_IP_STRLEN], hs[GL_MAC_STRLEN];
		uint8_t holder[6];

		if (ip->family != AF_INET)
			continue;
		gl_ip_str(ip, s, sizeof(s));
		if (gl_seen_recent(c->state_dir, m->att->network, s, m->att->identity, c->probe_recent_ms))
			continue;
		if (m->arp_fd < 0) {
			r = open_in(m->ns_fd, NULL, m->ifindex, &m->arp_fd, err);
			if (r < 0)
				return r;
		}
		r = gl_arp_probe(m->arp_fd, m->ifindex, m->mac, ip, PROBES, c->probe_wait_ms, holder);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_IO, "ARP probe for %s: %s", s, strerror(-r));
		if (r > 0) {
			gl_mac_str(holder, hs, sizeof(hs));
			gl_err_details(err, "%s is answered by %s", s, hs);
			gl_debug("macvlan %s: %s is in use on the LAN by %s", m->att->identity, s, hs);
			bad[n_bad++] = *ip;
		}
	}
	return n_bad;
}

/* Wait until no IPv6 address on ifindex is tentative; -EADDRINUSE if DAD
 * failed for one of them. */
static int wait_dad(struct gl_nl *nl, int ifindex, int wait_ms, struct gl_ip *ret_bad,
		    struct gl_err *err)
{
	int64_t end = gl_now_mono_ms() + wait_ms;

	for (;;) {
		struct gl_nl_addr addrs[32];
		bool tentative = false;
		int n = gl_nl_addr_list(nl, ifindex, addrs, (int)GL_ARRAY_SIZE(addrs), err);

		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			if (addrs[i].prefix.ip.family != AF_INET6)
				continue;
			if (addrs[i].flags & IFA_F_DADFAILED) {
				*ret_bad = addrs[i].prefix.ip;
				return -EADDRINUSE;
			}
			if ((addrs[i].flags & IFA_F_TENTATIVE) && addrs[i].prefix.ip.addr[0] != 0xfe)
				tentative = true;
		}
		if (!tentative || gl_now_mono_ms() > end)
			return 0;
		usleep(20 * 1000);
	}
}

/* Add res's addresses and routes; *dad tells whether an IPv6 address was
 * added with DAD on. */
static int add_addresses(struct gl_macvlan *m, struct gl_cni_result *res, bool *dad,
			 struct gl_err *err)
{
	const struct gl_macvlan_conf *c = m->conf;
	struct gl_nl *nl = m->pod;
	char buf[GL_NL_BUFSIZE], s[GL_PREFIX_STRLEN];
	int r;

	*dad = false;
	for (int i = 0; i < res->n_ips; i++) {
		const struct gl_prefix *p = &res->ips[i].address;
		uint32_t flags = 0;

		if (p->ip.family == AF_INET6) {
			gl_ip_str(&p->ip, s, sizeof(s));
			if (!c->probe || gl_seen_recent(c->state_dir, m->att->network, s, m->att->identity,
							c->probe_recent_ms))
				flags = IFA_F_NODAD;
			else
				*dad = true;
		}
		r = gl_nl_talk(nl, gl_nl_build_addr(buf, gl_nl_seq(nl), RTM_NEWADDR, m->ifindex, p, flags),
			       NULL, NULL, err);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_NETLINK, "adding address %s: %s",
					   gl_prefix_str(p, s, sizeof(s)), strerror(-r));
		res->ips[i].interface = 0;
	}
	for (int i = 0; i < res->n_routes; i++) {
		struct gl_nl_route rt = { .dst = res->routes[i].dst, .has_gw = res->routes[i].has_gw,
					  .gw = res->routes[i].gw, .priority = (uint32_t)res->routes[i].priority };

		/* As the reference plugins do: a route without a gateway goes via
		 * the gateway of its family, if the IPAM gave one. */
		for (int k = 0; !rt.has_gw && k < res->n_ips; k++) {
			if (res->ips[k].has_gateway && res->ips[k].gateway.family == rt.dst.ip.family) {
				rt.gw = res->ips[k].gateway;
				rt.has_gw = true;
			}
		}
		r = gl_nl_talk(nl, gl_nl_build_route(buf, gl_nl_seq(nl), RTM_NEWROUTE, m->ifindex, &rt),
			       NULL, NULL, err);
		if (r < 0 && r != -EEXIST)
			return gl_err_from(err, r, GL_ERR_NETLINK, "adding route %s: %s",
					   gl_prefix_str(&rt.dst, s, sizeof(s)), strerror(-r));
	}
	return 0;
}

/* Remove the addresses of res from the link again (after DAD failed). */
static void remove_addresses(struct gl_macvlan *m, const struct gl_cni_result *res)
{
	char buf[GL_NL_BUFSIZE];

	for (int i = 0; i < res->n_ips; i++)
		gl_nl_talk(m->pod, gl_nl_build_addr(buf, gl_nl_seq(m->pod), RTM_DELADDR, m->ifindex,
						    &res->ips[i].address, 0), NULL, NULL, NULL);
}

int gl_macvlan_configure(struct gl_macvlan *m, struct gl_cni_result *res,
			 struct gl_ip ret_conflicts[GL_CNI_MAX_IPS], struct gl_err *err)
{
	char s[GL_IP_STRLEN];
	bool dad;
	int n, r;

	/* Probe IPv4 before use; the kernel's DAD checks IPv6 once added. */
	if (m->conf->probe) {
		n = probe_addresses(m, res, ret_conflicts, err);
		if (n != 0)
			return n;
	}
	r = add_addresses(m, res, &dad, err);
	if (r < 0)
		return r;
	r = dad ? wait_dad(m->pod, m->ifindex, DAD_WAIT_MS, &ret_conflicts[0], err) : 0;
	if (r == -EADDRINUSE) {
		gl_err_details(err, "IPv6 duplicate address detection failed for %s",
			       gl_ip_str(&ret_conflicts[0], s, sizeof(s)));
		remove_addresses(m, res);
		return 1;
	}
	return r;
}

static void announce_once(int ifindex, const uint8_t mac[6], const struct gl_cni_result *res, int fd)
{
	for (int i = 0; i < res->n_ips; i++) {
		if (res->ips[i].address.ip.family == AF_INET && fd >= 0)
			gl_arp_announce(fd, ifindex, mac, &res->ips[i].address.ip);
		else if (res->ips[i].address.ip.family == AF_INET6)
			gl_na_send(ifindex, mac, &res->ips[i].address.ip);
	}
}

/* Remember res's addresses as m's identity's (seen.h): the next ADD
 * within the recent window skips the probe. */
static void record_seen(const struct gl_macvlan *m, const struct gl_cni_result *res)
{
	char s[GL_IP_STRLEN];

	for (int i = 0; i < res->n_ips; i++)
		gl_seen_record(m->conf->state_dir, m->att->network,
			       gl_ip_str(&res->ips[i].address.ip, s, sizeof(s)), m->att->identity);
}

/* Announce the new addresses now and twice more from a detached child, so
 * that ADD does not wait for the repeats. The child only has our packet
 * socket and sleeps; it closes stdio so the runtime's read ends. The last
 * close of a packet socket waits for synchronize_net(), so it is left to
 * the child: ADD's own close of fd only drops a reference. The child also
 * writes the seen records (a file replaced by rename, which ext4 may make
 * wait for the disk). Runs in the container's netns. */
static void announce(const struct gl_macvlan *m, const struct gl_cni_result *res, int fd)
{
	static const int delays_ms[] = { 0, 60, 500 };
	int r;

	if (fd < 0 && gl_arp_open(m->ifindex, &fd) < 0)
		fd = -1;
	announce_once(m->ifindex, m->mac, res, fd);
	r = fork_detached();
	if (r != 0) {
		if (r < 0)
			record_seen(m, res);
		if (fd >= 0)
			close(fd);
		return;
	}
	record_seen(m, res);
	for (size_t k = 1; k < GL_ARRAY_SIZE(delays_ms); k++) {
		usleep((useconds_t)(delays_ms[k] - delays_ms[k - 1]) * 1000);
		announce_once(m->ifindex, m->mac, res, fd);
	}
	_exit(0);
}

int gl_macvlan_announce(struct gl_macvlan *m, struct gl_cni_result *res, struct gl_err *err)
{
	char macs[GL_MAC_STRLEN];
	int orig, r;

	r = gl_netns_enter(m->ns_fd, &orig, err);
	if (r < 0)
		return r;
	announce(m, res, TAKE_FD(m->arp_fd));
	r = gl_netns_restore(orig);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-r));
	res->n_ifaces = 0;
	gl_cni_result_add_iface(res, m->att->ifname, gl_mac_str(m->mac, macs, sizeof(macs)), m->att->netns);
	if (m->conf->mtu > 0)
		res->ifaces[0].mtu = m->conf->mtu;
	return 0;
}

/* Take the addresses and the IPv6 routes off link l, which stays up for a
 * while: the next link in this netns gets them at once. The addresses but
 * link-local ones are remembered in j for the seen records. (IPv4 routes
 * go with the link's last IPv4 address; IPv6 routes stay.) */
static void empty_link(struct gl_nl *pod, const struct gl_nl_link *l, struct retire_job *j)
{
	struct gl_nl_addr addrs[POD_ADDRS_MAX];
	struct gl_nl_route routes[POD_LINKS_MAX];
	char buf[GL_NL_BUFSIZE];
	int n = gl_nl_addr_list(pod, l->ifindex, addrs, (int)GL_ARRAY_SIZE(addrs), NULL);

	for (int i = 0; i < n; i++) {
		const struct gl_prefix *p = &addrs[i].prefix;

		if (p->ip.family == AF_INET || p->ip.addr[0] != 0xfe)
			gl_ip_str(&p->ip, j->seen[j->n_seen++], GL_IP_STRLEN);
		gl_nl_talk(pod, gl_nl_build_addr(buf, gl_nl_seq(pod), RTM_DELADDR, l->ifindex, p, 0), NULL,
			   NULL, NULL);
	}
	n = gl_nl_route_list(pod, AF_INET6, routes, (int)GL_ARRAY_SIZE(routes), NULL);
	for (int i = 0; i < n; i++) {
		const struct gl_nl_route *rt = &routes[i];

		/* The kernel's own fe80::/64 is not ours to delete. */
		if (rt->oif != l->ifindex || rt->table != RT_TABLE_MAIN ||
		    (rt->dst.len == 64 && rt->dst.ip.addr[0] == 0xfe && rt->dst.ip.addr[1] == 0x80))
			continue;
		gl_nl_talk(pod, gl_nl_build_route(buf, gl_nl_seq(pod), RTM_DELROUTE, l->ifindex, rt), NULL,
			   NULL, NULL);
	}
}

int gl_macvlan_del(const struct gl_macvlan_conf *conf, const struct gl_macvlan_att *att,
		   struct gl_err *err)
{
	_cleanup_close_ int ns_fd = -1;
	_cleanup_nl_ struct gl_nl *pod = NULL;
	struct gl_nl_link links[POD_LINKS_MAX];
	struct retire_job j = { .conf = conf, .att = att, .hold_fd = -1 };
	const struct gl_nl_link *l = NULL;
	int r, n;

	/* A netns that is already gone took the link with it. */
	if (!att->netns[0])
		return 0;
	if (gl_netns_open(att->netns, &ns_fd, NULL) < 0)
		return 0;
	r = open_in(ns_fd, &pod, 0, NULL, err);
	if (r < 0)
		return r;
	j.ns_fd = ns_fd;
	n = sweep_pod(pod, att, links, &j, err);
	if (n < 0)
		return n;
	for (int i = 0; i < n && !l; i++)
		if (strcmp(links[i].name, att->ifname) == 0)
			l = &links[i];
	if (l) {
		empty_link(pod, l, &j);
		/* The answer need not wait for the kernel's delete: the link is
		 * emptied, down and out of the way now, and a detached child
		 * deletes it. A passthru macvlan is the master's only one: the
		 * next cannot be made before it is gone. */
		r = conf->mode == MACVLAN_MODE_PASSTHRU ? -EOPNOTSUPP : retire_link(pod, l, NULL);
		if (r == 0) {
			retire_add(&j, l->ifindex);
			if ((l->flags & IFF_UP) && l->has_mac)
				j.hold_fd = retiring_take(l->mac);
		} else {
			r = gl_nl_link_del(pod, l->ifindex, err);
			if (r < 0 && r != -ENODEV)
				return gl_err_from(err, r, GL_ERR_NETLINK, "deleting %s: %s", att->ifname,
						   strerror(-r));
		}
	}
	retire_detached(&j);
	return 0;
}

static int gc_netns(int dir_fd, const char *name)
{
	_cleanup_close_ int ns_fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	_cleanup_nl_ struct gl_nl *nl = NULL;
	struct gl_nl_link links[POD_LINKS_MAX];
	struct retire_job j = { .ns_fd = ns_fd, .hold_fd = -1 };
	int n;

	if (ns_fd < 0 || open_in(ns_fd, &nl, 0, NULL, NULL) < 0)
		return 0;
	n = gl_nl_link_list(nl, links, POD_LINKS_MAX, NULL);
	for (int i = 0; i < n; i++)
		if (temp_named(&links[i], NAME_RETIRED))
			retire_add(&j, links[i].ifindex);
	retire_detached(&j);
	return j.n;
}

int gl_macvlan_gc(const char *netns_dir, int *ret_removed, struct gl_err *err)
{
	DIR *d = opendir(netns_dir);
	struct dirent *e;
	int removed = 0, seen = 0;

	if (!d) {
		if (errno == ENOENT) {
			*ret_removed = 0;
			return 0;
		}
		return gl_err_set(err, GL_ERR_IO, "%s: %s", netns_dir, strerror(errno));
	}
	while ((e = readdir(d)) && seen++ < NETNS_SCAN_MAX)
		if (e->d_name[0] != '.')
			removed += gc_netns(dirfd(d), e->d_name);
	closedir(d);
	*ret_removed = removed;
	return 0;
}

int gl_macvlan_check(const struct gl_macvlan_conf *conf, const struct gl_macvlan_att *att,
		     const struct gl_cni_result *prev, struct gl_err *err)
{
	_cleanup_close_ int ns_fd = -1;
	_cleanup_nl_ struct gl_nl *pod = NULL;
	struct gl_nl_addr addrs[32];
	struct gl_nl_link link;
	char s[GL_PREFIX_STRLEN];
	int r, n, idx = -1;

	r = open_pod(att->netns, &ns_fd, &pod, err);
	if (r < 0)
		return r;
	r = gl_nl_link_get(pod, 0, att->ifname, &link, err);
	if (r < 0)
		return gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "interface %s is missing from %s",
				  att->ifname, att->netns);
	if (strcmp(link.kind, "macvlan") != 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s is a %s link, not macvlan", att->ifname,
				  link.kind[0] ? link.kind : "plain");
	if (link.macvlan_mode != conf->mode)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s has macvlan mode %u, the config asks for %u",
				  att->ifname, link.macvlan_mode, conf->mode);
	if (!(link.flags & IFF_UP))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s is down", att->ifname);
	for (int i = 0; i < prev->n_ifaces; i++)
		if (strcmp(prev->ifaces[i].name, att->ifname) == 0 &&
		    strcmp(prev->ifaces[i].sandbox, att->netns) == 0)
			idx = i;
	if (idx < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "prevResult has no interface %s in %s",
				  att->ifname, att->netns);
	if (prev->ifaces[idx].mac[0]) {
		char mac[GL_MAC_STRLEN];

		gl_mac_str(link.mac, mac, sizeof(mac));
		if (strcasecmp(mac, prev->ifaces[idx].mac) != 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s has MAC %s, prevResult says %s",
					  att->ifname, mac, prev->ifaces[idx].mac);
	}
	n = gl_nl_addr_list(pod, link.ifindex, addrs, (int)GL_ARRAY_SIZE(addrs), err);
	if (n < 0)
		return gl_err_from(err, n, GL_ERR_NETLINK, "listing addresses: %s", strerror(-n));
	for (int i = 0; i < prev->n_ips; i++) {
		bool found = false;

		if (prev->ips[i].interface != idx)
			continue;
		for (int k = 0; k < n && !found; k++)
			found = gl_ip_equal(&addrs[k].prefix.ip, &prev->ips[i].address.ip) &&
				addrs[k].prefix.len == prev->ips[i].address.len;
		if (!found)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "address %s is missing from %s",
					  gl_prefix_str(&prev->ips[i].address, s, sizeof(s)), att->ifname);
	}
	return 0;
}

int gl_macvlan_status(const struct gl_macvlan_conf *conf, struct gl_err *err)
{
	_cleanup_nl_ struct gl_nl *host = NULL;
	struct gl_nl_link master;
	int r;

	if (conf->link_in_container)
		return 0;
	r = gl_nl_open(&host);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NOT_AVAILABLE, "netlink: %s", strerror(-r));
	r = resolve_master(host, conf, &master, err);
	if (r < 0) {
		/* The cause keeps its words; STATUS's answer is "not available". */
		gl_err_prefix(err, "master link unusable: ");
		if (err)
			err->code = GL_ERR_NOT_AVAILABLE;
		return r;
	}
	if (!(master.flags & IFF_UP))
		return gl_err_set(err, GL_ERR_NOT_AVAILABLE, "master link %s is down", master.name);
	return 0;
}
