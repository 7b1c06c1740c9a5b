/* The verbs of gamelan-macvlan. ADD: create the macvlan link straight in the
 * pod's netns, get addresses from the IPAM delegate, make sure no other LAN
 * host holds them, configure, announce. Everything it did is undone in
 * reverse order when a later step fails. */
#include <errno.h>
#include <linux/if_addr.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "net/arp.h"
#include "ipam/plugin.h"
#include "base/json.h"
#include "base/log.h"
#include "macvlan.h"
#include "net/netns.h"
#include "net/nl.h"
#include "net/seen.h"
#include "base/util.h"

#define CONFLICT_ROUNDS 3          /* fresh addresses tried after conflicts */
#define DAD_WAIT_MS 2500           /* the kernel's IPv6 DAD: up to 1 s delay + 1 s */

static const char *env_lookup(const char *name)
{
	return getenv(name);
}

/* Run the IPAM verb. gamelan-ipam's verbs are linked in, so they run here:
 * the same code and store as the binary, without a fork, an exec and a
 * second parse per pod start. Any other IPAM is exec'd as the spec says.
 * conf is the config the IPAM sees (req->raw, or a copy with conflicts). */
static int ipam_run(struct gl_cni_req *req, const char *type, enum gl_cni_cmd cmd,
		    const char *conf, size_t conf_len, struct gl_cni_result *ret,
		    struct gl_ipam_undo *undo, struct gl_err *err)
{
	struct gl_cni_req sub;
	int r;

	if (strcmp(type, GL_IPAM_TYPE) != 0)
		return gl_cni_delegate(req, type, cmd, conf, conf_len, ret, err);
	if (conf == req->raw) {
		sub = *req;
	} else {
		/* A changed config (conflicts added) is read as the binary would. */
		r = gl_cni_req_parse(&sub, env_lookup, conf, conf_len, err);
		if (r < 0) {
			gl_cni_req_free(&sub);
			return r;
		}
	}
	switch (cmd) {
	case GL_CNI_ADD: {
		struct gl_cni_result tmp;

		r = gl_ipam_add(&sub, ret ? ret : &tmp, undo, err);
		break;
	}
	case GL_CNI_DEL: r = gl_ipam_ops.del(&sub, err); break;
	case GL_CNI_CHECK: r = gl_ipam_ops.check(&sub, err); break;
	case GL_CNI_STATUS: r = gl_ipam_ops.status(&sub, err); break;
	case GL_CNI_GC: r = gl_ipam_ops.gc(&sub, err); break;
	default: r = gl_err_set(err, GL_ERR_INTERNAL, "unexpected IPAM verb");
	}
	if (conf != req->raw)
		gl_cni_req_free(&sub);
	return r;
}

/* Open a netlink socket inside the namespace ns_fd. */
static int nl_open_in(int ns_fd, struct gl_nl **ret, struct gl_err *err)
{
	int orig, r, q;

	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = gl_nl_open(ret);
	q = gl_netns_restore(orig);
	if (q < 0) {
		if (r == 0)
			gl_nl_close(*ret);
		return gl_err_from(err, q, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-q));
	}
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_IO, "netlink socket in the pod's netns: %s", strerror(-r));
	return 0;
}

/* Open the pod's netns (kept open in *ret_fd: the link is created through
 * it) and a netlink socket inside it. */
static int open_pod(const struct gl_cni_req *req, int *ret_fd, struct gl_nl **ret_nl,
		    struct gl_err *err)
{
	_cleanup_close_ int fd = -1;
	int r = gl_netns_open(req->netns, &fd, err);

	if (r < 0)
		return r;
	r = nl_open_in(fd, ret_nl, err);
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int resolve_master(struct gl_nl *nl, const struct macvlan_conf *c, struct gl_nl_link *ret,
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

/* The config handed to the IPAM delegate again, with the addresses that the
 * LAN answered for listed so that gamelan-ipam sets them aside. */
static char *conf_with_conflicts(json_object *conf, const struct gl_ip *bad, int n_bad)
{
	json_object *copy = NULL, *args, *cni, *list;
	char buf[GL_IP_STRLEN];
	char *out;

	if (json_object_deep_copy(conf, &copy, NULL) < 0)
		return NULL;
	if (!json_object_object_get_ex(copy, "args", &args) || !json_object_is_type(args, json_type_object)) {
		args = json_object_new_object();
		json_object_object_add(copy, "args", args);
	}
	if (!json_object_object_get_ex(args, "cni", &cni) || !json_object_is_type(cni, json_type_object)) {
		cni = json_object_new_object();
		json_object_object_add(args, "cni", cni);
	}
	list = json_object_new_array();
	for (int i = 0; i < n_bad; i++)
		json_object_array_add(list, json_object_new_string(gl_ip_str(&bad[i], buf, sizeof(buf))));
	json_object_object_add(cni, "gamelanConflicts", list);
	out = gl_json_dump(copy);
	json_object_put(copy);
	return out;
}

/* Probe every IPv4 address that this identity has not used on this node
 * lately. Returns the number of conflicting addresses put in bad[]. */
static int arp_open_in(int ns_fd, int ifindex, int *ret_fd, struct gl_err *err);

static int probe_addresses(const struct gl_cni_req *req, const struct macvlan_conf *c, int ns_fd,
			   int ifindex, const uint8_t mac[6], const struct gl_cni_result *res,
			   int *arp_fd, struct gl_ip *bad, struct gl_err *err)
{
	int n_bad = 0, r;

	for (int i = 0; i < res->n_ips; i++) {
		const struct gl_ip *ip = &res->ips[i].address.ip;
		char s[GL_IP_STRLEN];
		uint8_t holder[6];

		if (ip->family != AF_INET)
			continue;
		gl_ip_str(ip, s, sizeof(s));
		if (gl_seen_recent(c->state_dir, req->name, s, req->identity, c->probe_recent_ms))
			continue;
		if (*arp_fd < 0) {
			r = arp_open_in(ns_fd, ifindex, arp_fd, err);
			if (r < 0)
				return r;
		}
		r = gl_arp_probe(*arp_fd, ifindex, mac, ip, 2, c->probe_wait_ms, holder);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_IO, "ARP probe for %s: %s", s, strerror(-r));
		if (r > 0) {
			char m[GL_MAC_STRLEN];

			gl_err_details(err, "%s is answered by %s", s, gl_mac_str(holder, m, sizeof(m)));
			gl_info("ADD %s: %s is in use on the LAN by %s", req->identity, s, m);
			bad[n_bad++] = *ip;
		}
	}
	return n_bad;
}

/* Announce the new addresses now and twice more from a detached child, so
 * that ADD does not wait for the repeats. The child only has our packet
 * socket and sleeps; it closes stdio so the runtime's read ends. The last
 * close of a packet socket waits for synchronize_net(), so it is left to
 * the child: ADD's own close of fd only drops a reference. */
static void announce(int ifindex, const uint8_t mac[6], const struct gl_cni_result *res, int fd)
{
	static const int delays_ms[] = { 0, 60, 500 };
	pid_t pid;

	if (fd < 0 && gl_arp_open(ifindex, &fd) < 0)
		fd = -1;
	for (int i = 0; i < res->n_ips; i++) {
		if (res->ips[i].address.ip.family == AF_INET && fd >= 0)
			gl_arp_announce(fd, ifindex, mac, &res->ips[i].address.ip);
		else if (res->ips[i].address.ip.family == AF_INET6)
			gl_na_send(ifindex, mac, &res->ips[i].address.ip);
	}
	pid = fork();
	if (pid != 0) {
		if (pid > 0)
			waitpid(pid, NULL, 0);
		if (fd >= 0)
			close(fd);
		return;
	}
	/* First child: fork again and leave, so the grandchild is reparented
	 * and never becomes a zombie of the runtime. */
	if (fork() != 0)
		_exit(0);
	setsid();
	for (int f = 0; f < 3; f++)
		close(f);
	for (size_t k = 1; k < GL_ARRAY_SIZE(delays_ms); k++) {
		usleep((useconds_t)(delays_ms[k] - delays_ms[k - 1]) * 1000);
		for (int i = 0; i < res->n_ips; i++) {
			if (res->ips[i].address.ip.family == AF_INET && fd >= 0)
				gl_arp_announce(fd, ifindex, mac, &res->ips[i].address.ip);
			else if (res->ips[i].address.ip.family == AF_INET6)
				gl_na_send(ifindex, mac, &res->ips[i].address.ip);
		}
	}
	_exit(0);
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

static int configure(struct gl_nl *nl, const struct gl_cni_req *req, const struct macvlan_conf *c,
		     int ifindex, struct gl_cni_result *res, bool *dad, struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE], s[GL_PREFIX_STRLEN];
	int r;

	*dad = false;
	for (int i = 0; i < res->n_ips; i++) {
		const struct gl_prefix *p = &res->ips[i].address;
		uint32_t flags = 0;

		if (p->ip.family == AF_INET6) {
			gl_ip_str(&p->ip, s, sizeof(s));
			if (!c->probe || gl_seen_recent(c->state_dir, req->name, s, req->identity,
							c->probe_recent_ms))
				flags = IFA_F_NODAD;
			else
				*dad = true;
		}
		r = gl_nl_talk(nl, gl_nl_build_addr(buf, gl_nl_seq(nl), RTM_NEWADDR, ifindex, p, flags),
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
		r = gl_nl_talk(nl, gl_nl_build_route(buf, gl_nl_seq(nl), RTM_NEWROUTE, ifindex, &rt),
			       NULL, NULL, err);
		if (r < 0 && r != -EEXIST)
			return gl_err_from(err, r, GL_ERR_NETLINK, "adding route %s: %s",
					  gl_prefix_str(&rt.dst, s, sizeof(s)), strerror(-r));
	}
	return 0;
}

static void pick_mac(const struct gl_cni_req *req, const struct macvlan_conf *c, uint8_t mac[6],
		     bool *ret_set)
{
	*ret_set = true;
	if (c->has_mac)
		memcpy(mac, c->mac, 6);
	else if (c->stable_mac == 1 || (c->stable_mac == -1 && req->identity_sticky))
		gl_mac_stable(req->name, req->identity, req->ifname, mac);
	else
		*ret_set = false;
}

/* Take back the IPAM's part of a failed ADD. In-process, exactly: a new
 * reservation goes away. A delegate only has DEL, which may keep the
 * address held for the identity, as it would after any DEL. */
static void ipam_undo(struct gl_cni_req *req, const struct macvlan_conf *c,
		      const struct gl_ipam_undo *undo)
{
	struct gl_err e = {0};
	int r;

	if (!c->ipam_type[0])
		return;
	if (strcmp(c->ipam_type, GL_IPAM_TYPE) == 0)
		r = gl_ipam_undo(req, undo, &e);
	else
		r = gl_cni_delegate(req, c->ipam_type, GL_CNI_DEL, req->raw, req->raw_len, NULL, &e);
	if (r < 0)
		gl_warn("rollback: IPAM undo failed: %s", e.msg);
}

/* Remove the addresses of res from the link again (after DAD failed). */
static void unconfigure(struct gl_nl *nl, int ifindex, const struct gl_cni_result *res)
{
	char buf[GL_NL_BUFSIZE];

	for (int i = 0; i < res->n_ips; i++)
		gl_nl_talk(nl, gl_nl_build_addr(buf, gl_nl_seq(nl), RTM_DELADDR, ifindex,
						&res->ips[i].address, 0), NULL, NULL, NULL);
}

/* The ARP socket lives in the pod's netns, on the new link. */
static int arp_open_in(int ns_fd, int ifindex, int *ret_fd, struct gl_err *err)
{
	int orig, r, q;

	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = gl_arp_open(ifindex, ret_fd);
	q = gl_netns_restore(orig);
	if (q < 0) {
		if (r == 0)
			close(*ret_fd);
		return gl_err_from(err, q, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-q));
	}
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_IO, "ARP socket: %s", strerror(-r));
	return 0;
}

int macvlan_add(struct gl_cni_req *req, struct gl_cni_result *ret, struct gl_err *err)
{
	struct macvlan_conf c;
	_cleanup_close_ int ns_fd = -1;
	_cleanup_nl_ struct gl_nl *host = NULL;
	_cleanup_nl_ struct gl_nl *pod = NULL;
	_cleanup_free_ struct gl_cni_result *res = calloc(1, sizeof(*res));
	struct gl_nl_link master, link = { .ifindex = 0 };
	char tmpname[IFNAMSIZ];
	struct gl_nl *mnl;
	struct gl_nl_link_spec spec;
	_cleanup_close_ int arp_fd = -1;
	char buf[GL_NL_BUFSIZE], macs[GL_MAC_STRLEN];
	uint8_t mac[6];
	struct gl_ipam_undo undo = {0};
	bool mac_set, dad = false;
	int r, orig = -1;

	if (!res)
		return -ENOMEM;
	r = macvlan_conf_parse(req, &c, err);
	if (r < 0)
		return r;
	r = open_pod(req, &ns_fd, &pod, err);
	if (r < 0)
		return r;
	if (!c.link_in_container) {
		r = gl_nl_open(&host);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_IO, "netlink socket: %s", strerror(-r));
	}
	mnl = c.link_in_container ? pod : host;
	r = resolve_master(mnl, &c, &master, err);
	if (r < 0)
		return r;
	pick_mac(req, &c, mac, &mac_set);
	/* Created down under a name of our own, then renamed and brought up
	 * inside the pod: kernels before 6.13 look the new name up in the
	 * caller's netns, where the node's own eth0 would clash with it. */
	snprintf(tmpname, sizeof(tmpname), "gl%08x", (unsigned)(getpid() ^ gl_now_mono_ms()) & 0xfffffffu);
	spec = (struct gl_nl_link_spec){
		.name = tmpname, .master = master.ifindex, .macvlan_mode = c.mode,
		.mtu = c.mtu, .mac = mac_set ? mac : NULL,
		.netns_fd = c.link_in_container ? -1 : ns_fd, .up = false,
	};
	r = gl_nl_talk(mnl, gl_nl_build_link_new(buf, gl_nl_seq(mnl), &spec), NULL, NULL, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "creating macvlan on %s: %s", master.name,
				  strerror(-r));
	r = gl_nl_link_get(pod, 0, tmpname, &link, err);
	if (r < 0) {
		gl_err_from(err, r, GL_ERR_NETLINK, "the new link %s vanished: %s", tmpname, strerror(-r));
		goto undo_link;
	}
	memcpy(mac, link.mac, 6);
	r = gl_nl_talk(pod, gl_nl_build_link_set(buf, gl_nl_seq(pod), link.ifindex, req->ifname, true,
						 NULL, 0), NULL, NULL, err);
	if (r == -EEXIST) {
		gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_IFNAME %s already exists in %s", req->ifname,
			   req->netns);
		goto undo_link;
	}
	if (r < 0) {
		gl_err_from(err, r, GL_ERR_NETLINK, "naming the link %s and bringing it up: %s", req->ifname,
			   strerror(-r));
		goto undo_link;
	}

	if (c.ipam_type[0]) {
		r = ipam_run(req, c.ipam_type, GL_CNI_ADD, req->raw, req->raw_len, res, &undo, err);
		if (r < 0)
			goto undo_link;
	}

	/* Probe IPv4 before use, let the kernel's DAD check IPv6 once added;
	 * an address the LAN answers for goes back to gamelan-ipam, which sets
	 * it aside and hands out another. */
	for (int round = 0;; round++) {
		struct gl_ip bad[GL_CNI_MAX_IPS];
		_cleanup_free_ char *again = NULL;
		char s[GL_IP_STRLEN];
		int n_bad = 0;

		if (c.probe) {
			n_bad = probe_addresses(req, &c, ns_fd, link.ifindex, mac, res, &arp_fd, bad, err);
			if (n_bad < 0) {
				r = n_bad;
				goto undo_ipam;
			}
		}
		if (n_bad == 0) {
			r = configure(pod, req, &c, link.ifindex, res, &dad, err);
			if (r < 0)
				goto undo_ipam;
			r = dad ? wait_dad(pod, link.ifindex, DAD_WAIT_MS, &bad[0], err) : 0;
			if (r == -EADDRINUSE) {
				gl_err_details(err, "IPv6 duplicate address detection failed for %s",
					       gl_ip_str(&bad[0], s, sizeof(s)));
				unconfigure(pod, link.ifindex, res);
				n_bad = 1;
			} else if (r < 0) {
				goto undo_ipam;
			}
		}
		if (n_bad == 0)
			break;
		/* Only gamelan-ipam knows how to set an address aside; with any
		 * other IPAM a conflict ends the ADD. */
		if (strcmp(c.ipam_type, GL_IPAM_TYPE) != 0 || round >= CONFLICT_ROUNDS) {
			r = gl_err_set(err, GL_ERR_ADDR_IN_USE, "address %s is already in use on the LAN",
				       gl_ip_str(&bad[0], s, sizeof(s)));
			goto undo_ipam;
		}
		again = conf_with_conflicts(req->conf, bad, n_bad);
		if (!again) {
			r = -ENOMEM;
			goto undo_ipam;
		}
		memset(res, 0, sizeof(*res));
		err->details[0] = '\0';
		r = ipam_run(req, c.ipam_type, GL_CNI_ADD, again, strlen(again), res, &undo, err);
		if (r < 0 && err->code == GL_ERR_POOL_EXHAUSTED) {
			char why[GL_ERR_MSG_MAX];

			/* The cause a human must fix is the conflict, not the pool. */
			memcpy(why, err->msg, sizeof(why));
			gl_err_reset(err, GL_ERR_ADDR_IN_USE,
				     "address %s is already in use on the LAN, and no other address is free (%s)",
				     gl_ip_str(&bad[0], s, sizeof(s)), why);
		}
		if (r < 0)
			goto undo_ipam;
	}
	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		goto undo_ipam;
	announce(link.ifindex, mac, res, TAKE_FD(arp_fd));
	r = gl_netns_restore(orig);
	if (r < 0) {
		gl_err_from(err, r, GL_ERR_IO, "cannot return to the runtime's netns: %s", strerror(-r));
		goto undo_ipam;
	}

	for (int i = 0; i < res->n_ips; i++) {
		char s[GL_IP_STRLEN];

		gl_seen_record(c.state_dir, req->name, gl_ip_str(&res->ips[i].address.ip, s, sizeof(s)),
			       req->identity);
	}
	res->n_ifaces = 0;
	gl_cni_result_add_iface(res, req->ifname, gl_mac_str(mac, macs, sizeof(macs)), req->netns);
	if (c.mtu > 0)
		res->ifaces[0].mtu = c.mtu;
	*ret = *res;
	return 0;

undo_ipam:
	ipam_undo(req, &c, &undo);
undo_link:
	/* Only a link we made: by its index, or by our temporary name. */
	if (link.ifindex <= 0 && gl_nl_link_get(pod, 0, tmpname, &link, NULL) < 0)
		return r < 0 ? r : -EIO;
	gl_nl_link_del(pod, link.ifindex, NULL);
	return r < 0 ? r : -EIO;
}

int macvlan_del(struct gl_cni_req *req, struct gl_err *err)
{
	struct macvlan_conf c;
	_cleanup_close_ int ns_fd = -1;
	_cleanup_nl_ struct gl_nl *pod = NULL;
	struct gl_nl_addr addrs[16];
	struct gl_nl_link link;
	int r, n;

	r = macvlan_conf_parse(req, &c, err);
	if (r < 0)
		return r;
	if (c.ipam_type[0]) {
		r = ipam_run(req, c.ipam_type, GL_CNI_DEL, req->raw, req->raw_len, NULL, NULL, err);
		if (r < 0)
			return r;
	}
	/* A netns that is already gone took the link with it. */
	if (!req->netns[0])
		return 0;
	if (gl_netns_open(req->netns, &ns_fd, NULL) < 0)
		return 0;
	r = nl_open_in(ns_fd, &pod, err);
	if (r < 0)
		return r;
	if (gl_nl_link_get(pod, 0, req->ifname, &link, NULL) < 0)
		return 0;
	/* Remember when this identity last used its addresses: a restart
	 * within the recent window skips the probe. */
	n = gl_nl_addr_list(pod, link.ifindex, addrs, (int)GL_ARRAY_SIZE(addrs), NULL);
	for (int i = 0; i < n; i++) {
		char s[GL_IP_STRLEN];

		if (addrs[i].prefix.ip.family == AF_INET6 && addrs[i].prefix.ip.addr[0] == 0xfe)
			continue;
		gl_seen_record(c.state_dir, req->name, gl_ip_str(&addrs[i].prefix.ip, s, sizeof(s)),
			       req->identity);
	}
	r = gl_nl_link_del(pod, link.ifindex, err);
	if (r < 0 && r != -ENODEV)
		return gl_err_from(err, r, GL_ERR_NETLINK, "deleting %s: %s", req->ifname, strerror(-r));
	return 0;
}

int macvlan_check(struct gl_cni_req *req, struct gl_err *err)
{
	struct macvlan_conf c;
	_cleanup_close_ int ns_fd = -1;
	_cleanup_nl_ struct gl_nl *pod = NULL;
	struct gl_nl_addr addrs[32];
	struct gl_nl_link link;
	char s[GL_PREFIX_STRLEN];
	int r, n, idx = -1;

	r = macvlan_conf_parse(req, &c, err);
	if (r < 0)
		return r;
	if (!req->has_prev)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "CHECK needs prevResult");
	if (c.ipam_type[0]) {
		r = ipam_run(req, c.ipam_type, GL_CNI_CHECK, req->raw, req->raw_len, NULL, NULL, err);
		if (r < 0)
			return r;
	}
	r = open_pod(req, &ns_fd, &pod, err);
	if (r < 0)
		return r;
	r = gl_nl_link_get(pod, 0, req->ifname, &link, err);
	if (r < 0)
		return gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "interface %s is missing from %s",
				  req->ifname, req->netns);
	if (strcmp(link.kind, "macvlan") != 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s is a %s link, not macvlan", req->ifname,
				  link.kind[0] ? link.kind : "plain");
	if (link.macvlan_mode != c.mode)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s has macvlan mode %u, the config asks for %u",
				  req->ifname, link.macvlan_mode, c.mode);
	if (!(link.flags & IFF_UP))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s is down", req->ifname);
	for (int i = 0; i < req->prev.n_ifaces; i++)
		if (strcmp(req->prev.ifaces[i].name, req->ifname) == 0 &&
		    strcmp(req->prev.ifaces[i].sandbox, req->netns) == 0)
			idx = i;
	if (idx < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "prevResult has no interface %s in %s",
				  req->ifname, req->netns);
	if (req->prev.ifaces[idx].mac[0]) {
		char m[GL_MAC_STRLEN];

		gl_mac_str(link.mac, m, sizeof(m));
		if (strcasecmp(m, req->prev.ifaces[idx].mac) != 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "%s has MAC %s, prevResult says %s",
					  req->ifname, m, req->prev.ifaces[idx].mac);
	}
	n = gl_nl_addr_list(pod, link.ifindex, addrs, (int)GL_ARRAY_SIZE(addrs), err);
	if (n < 0)
		return gl_err_from(err, n, GL_ERR_NETLINK, "listing addresses: %s", strerror(-n));
	for (int i = 0; i < req->prev.n_ips; i++) {
		bool found = false;

		if (req->prev.ips[i].interface != idx)
			continue;
		for (int k = 0; k < n && !found; k++)
			found = gl_ip_equal(&addrs[k].prefix.ip, &req->prev.ips[i].address.ip) &&
				addrs[k].prefix.len == req->prev.ips[i].address.len;
		if (!found)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "address %s is missing from %s",
					  gl_prefix_str(&req->prev.ips[i].address, s, sizeof(s)), req->ifname);
	}
	return 0;
}

int macvlan_status(struct gl_cni_req *req, struct gl_err *err)
{
	struct macvlan_conf c;
	_cleanup_nl_ struct gl_nl *host = NULL;
	struct gl_nl_link master;
	int r;

	r = macvlan_conf_parse(req, &c, err);
	if (r < 0)
		return r;
	if (!c.link_in_container) {
		r = gl_nl_open(&host);
		if (r < 0)
			return gl_err_from(err, r, GL_ERR_NOT_AVAILABLE, "netlink: %s", strerror(-r));
		r = resolve_master(host, &c, &master, err);
		if (r < 0)
			return gl_err_reset(err, GL_ERR_NOT_AVAILABLE, "master link unusable: %s", err->msg);
		if (!(master.flags & IFF_UP))
			return gl_err_set(err, GL_ERR_NOT_AVAILABLE, "master link %s is down", master.name);
	}
	if (c.ipam_type[0])
		return ipam_run(req, c.ipam_type, GL_CNI_STATUS, req->raw, req->raw_len, NULL, NULL, err);
	return 0;
}

int macvlan_gc(struct gl_cni_req *req, struct gl_err *err)
{
	struct macvlan_conf c;
	int r = macvlan_conf_parse(req, &c, err);

	if (r < 0)
		return r;
	/* Links die with their netns; what outlives a pod is its reservation. */
	if (c.ipam_type[0])
		return ipam_run(req, c.ipam_type, GL_CNI_GC, req->raw, req->raw_len, NULL, NULL, err);
	return 0;
}
