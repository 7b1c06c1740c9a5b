/* The NetworkDriver half: networks on a parent link (Docker's built-in
 * macvlan's options and texts), endpoints with the MAC of their address,
 * the macvlan made in dockerd's netns at Join (Docker moves it into the
 * container, names it and gives it the address), and the in-container SNAT
 * of gamelan-snat for -o snat=true once the link is in place. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/json.h"
#include "base/log.h"
#include "base/mac.h"
#include "base/util.h"
#include "driver.h"
#include "net/netns.h"
#include "net/snat.h"

#define SANDBOX_LINKS_MAX 64

static int link_get(struct dk *d, const char *name, struct gl_nl_link *ret, struct gl_err *err)
{
	int r = gl_nl_link_get(d->nl, 0, name, ret, err);

	if (r == -ENODEV || r == -ENOENT)
		return -ENODEV;
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "looking up %s: %s", name, strerror(-r));
	return 0;
}

static int link_del_by_name(struct dk *d, const char *name, struct gl_err *err)
{
	struct gl_nl_link l;
	int r = link_get(d, name, &l, err);

	if (r == -ENODEV)
		return 0;
	if (r < 0)
		return r;
	r = gl_nl_link_del(d->nl, l.ifindex, err);
	if (r < 0 && r != -ENODEV)
		return gl_err_from(err, r, GL_ERR_NETLINK, "deleting %s: %s", name, strerror(-r));
	return 0;
}

/* ---- networks ---- */

static int make_vlan(struct dk *d, struct dk_net *n, struct gl_err *err)
{
	struct gl_nl_link master;
	struct gl_nl_link_spec spec;
	char buf[GL_NL_BUFSIZE];
	int r;

	r = link_get(d, n->master, &master, err);
	if (r == -ENODEV)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "-o parent interface was not found on the host: %s", n->master);
	if (r < 0)
		return r;
	spec = (struct gl_nl_link_spec){
		.name = n->parent, .master = master.ifindex, .netns_fd = -1, .up = true, .vlan_id = n->vlan,
	};
	r = gl_nl_talk(d->nl, gl_nl_build_link_new(buf, gl_nl_seq(d->nl), &spec), NULL, NULL, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "cannot create the 802.1q link %s on %s: %s%s",
				   n->parent, n->master, strerror(-r),
				   r == -EOPNOTSUPP ? " (this kernel has no 8021q module)" : "");
	n->made_parent = true;
	return 0;
}

static int create_network(struct dk *d, json_object *req, json_object *resp,
			  const struct gl_http_req *hr, struct gl_err *err)
{
	struct gl_nl_link parent;
	struct dk_pool *p;
	struct dk_net n;
	int r;

	r = dk_net_parse(req, &n, err);
	if (r < 0)
		return r;
	if (dk_net_find(d, n.id))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "network %.12s exists already", n.id);
	for (int i = 0; i < d->n_nets; i++)
		if (strcmp(d->nets[i].parent, n.parent) == 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "network %.12s is already using parent interface %s", d->nets[i].id,
					  n.parent);
	if (d->n_nets >= DK_NETS_MAX)
		return gl_err_set(err, GL_ERR_LIMITED, "at most %d gamelan networks", DK_NETS_MAX);
	if (n.snat && !n.has_gw)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "-o snat=true needs the network's --gateway (the address WAN players get)");
	dk_pool_id(&n.subnet, n.pool_id);
	p = dk_pool_find(d, n.pool_id);
	if (!p)
		n.pool_id[0] = '\0';        /* another IPAM driver's addresses */
	else if (p->network_id[0] && strcmp(p->network_id, n.id) != 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "pool %s is network %.12s's", p->id, p->network_id);
	r = link_get(d, n.parent, &parent, err);
	if (r == -ENODEV && n.vlan)
		r = make_vlan(d, &n, err);
	else if (r == -ENODEV)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "-o parent interface was not found on the host: %s", n.parent);
	if (r < 0)
		return r;
	r = dk_save_net(d, &n, err);
	if (r < 0)
		goto undo;
	if (p) {
		gl_strlcpy(p->network_id, n.id, sizeof(p->network_id));
		r = dk_save_pool(d, p, err);
		if (r < 0) {
			p->network_id[0] = '\0';
			dk_state_del(d->meta, "network", n.id, NULL);
			goto undo;
		}
	}
	d->nets[d->n_nets++] = n;
	dk_learn_net_name(d, n.id);
	gl_info("CreateNetwork %.12s: parent %s, %s mode%s%s", n.id, n.parent, dk_mode_str(n.mode),
		n.snat ? ", snat" : "", p ? "" : ", another IPAM driver");
	return 0;
undo:
	if (n.made_parent)
		link_del_by_name(d, n.parent, NULL);
	return r;
}

static int delete_network(struct dk *d, json_object *req, json_object *resp,
			  const struct gl_http_req *hr, struct gl_err *err)
{
	const char *id = NULL;
	struct dk_net *n;
	struct dk_pool *p;
	int r;

	if (gl_json_get_str(req, NULL, "NetworkID", &id, err) < 0)
		return -EINVAL;
	n = id ? dk_net_find(d, id) : NULL;
	if (!n)
		return 0;
	if (n->made_parent) {
		r = link_del_by_name(d, n->parent, err);
		if (r < 0)
			return r;
	}
	p = n->pool_id[0] ? dk_pool_find(d, n->pool_id) : NULL;
	if (p && strcmp(p->network_id, n->id) == 0) {
		p->network_id[0] = '\0';
		dk_save_pool(d, p, NULL);
	}
	r = dk_state_del(d->meta, "network", n->id, err);
	if (r < 0)
		return r;
	gl_info("DeleteNetwork %.12s", n->id);
	*n = d->nets[--d->n_nets];
	return 0;
}

/* ---- endpoints ---- */

static int ep_ids(json_object *req, const char **ret_net, const char **ret_ep, struct gl_err *err)
{
	const char *net = NULL, *ep = NULL;

	if (gl_json_get_str(req, NULL, "NetworkID", &net, err) < 0 ||
	    gl_json_get_str(req, NULL, "EndpointID", &ep, err) < 0)
		return -EINVAL;
	if (!net || !dk_id_valid(net) || !ep || !dk_id_valid(ep))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "NetworkID and EndpointID must be Docker IDs");
	*ret_net = net;
	*ret_ep = ep;
	return 0;
}

static int create_endpoint(struct dk *d, json_object *req, json_object *resp,
			   const struct gl_http_req *hr, struct gl_err *err)
{
	const char *net_id, *ep_id, *addr = NULL, *mac = NULL, *addr6 = NULL;
	json_object *iface = NULL;
	struct dk_ep e = { 0 };
	struct dk_net *n;
	char m[GL_MAC_STRLEN];
	int r;

	r = ep_ids(req, &net_id, &ep_id, err);
	if (r < 0)
		return r;
	n = dk_net_find(d, net_id);
	if (!n)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "network %.12s is not gamelan's", net_id);
	if (gl_json_get_object(req, NULL, "Interface", &iface, err) < 0 ||
	    gl_json_get_str(iface, "Interface", "Address", &addr, err) < 0 ||
	    gl_json_get_str(iface, "Interface", "AddressIPv6", &addr6, err) < 0 ||
	    gl_json_get_str(iface, "Interface", "MacAddress", &mac, err) < 0)
		return -EINVAL;
	if (!addr || gl_prefix_parse(addr, &e.addr) < 0 || e.addr.ip.family != AF_INET)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "the endpoint has no IPv4 address");
	if (dk_ep_find(d, ep_id))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "endpoint %.12s exists already", ep_id);
	if (d->n_eps >= DK_EPS_MAX)
		return gl_err_set(err, GL_ERR_LIMITED, "at most %d endpoints", DK_EPS_MAX);
	gl_strlcpy(e.id, ep_id, sizeof(e.id));
	gl_strlcpy(e.net, net_id, sizeof(e.net));
	if (mac && *mac) {
		if (gl_mac_parse(mac, e.mac) < 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "MacAddress %.40s is not a MAC", mac);
	} else {
		json_object *out = json_object_new_object();

		/* Only what came in empty may be set: the MAC of the address. */
		dk_mac_of(n, &e.addr, e.mac);
		json_object_object_add(out, "MacAddress", json_object_new_string(gl_mac_str(e.mac, m, sizeof(m))));
		json_object_object_add(resp, "Interface", out);
	}
	r = dk_save_ep(d, &e, err);
	if (r < 0)
		return r;
	d->eps[d->n_eps++] = e;
	return 0;
}

static int delete_endpoint(struct dk *d, json_object *req, json_object *resp,
			   const struct gl_http_req *hr, struct gl_err *err)
{
	const char *net_id, *ep_id;
	char name[IFNAMSIZ];
	struct dk_ep *e;
	int r;

	r = ep_ids(req, &net_id, &ep_id, err);
	if (r < 0)
		return r;
	/* Docker moved the link back under its first name when the container
	 * went: it is ours to delete. */
	dk_link_name(ep_id, name);
	r = link_del_by_name(d, name, err);
	if (r < 0)
		return r;
	e = dk_ep_find(d, ep_id);
	if (!e)
		return 0;
	r = dk_state_del(d->meta, "endpoint", ep_id, err);
	if (r < 0)
		return r;
	*e = d->eps[--d->n_eps];
	return 0;
}

static int oper_info(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		     struct gl_err *err)
{
	json_object_object_add(resp, "Value", json_object_new_object());
	return 0;
}

static int join(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		struct gl_err *err)
{
	const char *net_id, *ep_id, *sandbox = NULL;
	struct gl_nl_link parent;
	struct gl_nl_link_spec spec;
	char name[IFNAMSIZ], buf[GL_NL_BUFSIZE], gw[64];
	json_object *iface;
	struct dk_net *n;
	struct dk_ep *e;
	int r;

	r = ep_ids(req, &net_id, &ep_id, err);
	if (r < 0)
		return r;
	if (gl_json_get_str(req, NULL, "SandboxKey", &sandbox, err) < 0)
		return -EINVAL;
	if (!sandbox || sandbox[0] != '/' || strlen(sandbox) >= DK_SANDBOX_MAX)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "SandboxKey must be an absolute path");
	n = dk_net_find(d, net_id);
	e = dk_ep_find(d, ep_id);
	if (!n || !e)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "endpoint %.12s of network %.12s is unknown",
				  ep_id, net_id);
	r = link_get(d, n->parent, &parent, err);
	if (r == -ENODEV)
		return gl_err_set(err, GL_ERR_NOT_AVAILABLE, "the parent interface %s is gone", n->parent);
	if (r < 0)
		return r;
	dk_link_name(ep_id, name);
	/* A link a crash left under this name goes first. */
	r = link_del_by_name(d, name, err);
	if (r < 0)
		return r;
	spec = (struct gl_nl_link_spec){
		.name = name, .master = parent.ifindex, .macvlan_mode = n->mode,
		.mac = n->mode == MACVLAN_MODE_PASSTHRU ? NULL : e->mac, .netns_fd = -1,
	};
	r = gl_nl_talk(d->nl, gl_nl_build_link_new(buf, gl_nl_seq(d->nl), &spec), NULL, NULL, err);
	if (r < 0)
		return gl_err_from(err, r, GL_ERR_NETLINK, "creating a macvlan on %s: %s", n->parent,
				   strerror(-r));
	gl_strlcpy(e->sandbox, sandbox, sizeof(e->sandbox));
	r = dk_save_ep(d, e, err);
	if (r < 0) {
		link_del_by_name(d, name, NULL);
		return r;
	}
	iface = json_object_new_object();
	json_object_object_add(iface, "SrcName", json_object_new_string(name));
	json_object_object_add(iface, "DstPrefix", json_object_new_string("eth"));
	json_object_object_add(resp, "InterfaceName", iface);
	json_object_object_add(resp, "StaticRoutes", json_object_new_array());
	if (n->has_gw)
		json_object_object_add(resp, "Gateway", json_object_new_string(gl_ip_str(&n->gw, gw, sizeof(gw))));
	else
		json_object_object_add(resp, "DisableGatewayService", json_object_new_boolean(true));
	dk_ep_learn(d, e);
	return 0;
}

static int leave(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		 struct gl_err *err)
{
	const char *net_id, *ep_id;

	return ep_ids(req, &net_id, &ep_id, err);
}

/* The name Docker gave e's link in the sandbox: the link with e's MAC, renamed
 * from ours and up (the last of Docker's steps). -EAGAIN while it is not. */
static int sandbox_ifname(const struct dk_ep *e, int ns_fd, char ret[IFNAMSIZ], struct gl_err *err)
{
	struct gl_nl_link links[SANDBOX_LINKS_MAX];
	struct gl_nl *nl = NULL;
	char src[IFNAMSIZ];
	int orig, n, r;

	r = gl_netns_enter(ns_fd, &orig, err);
	if (r < 0)
		return r;
	r = gl_nl_open(&nl);
	n = r < 0 ? r : gl_nl_link_list(nl, links, SANDBOX_LINKS_MAX, err);
	gl_nl_close(nl);
	if (gl_netns_restore(orig) < 0) {
		gl_error("cannot return to dockerd's netns: stopping");
		abort();
	}
	if (n < 0)
		return gl_err_from(err, n, GL_ERR_NETLINK, "listing the container's links: %s", strerror(-n));
	dk_link_name(e->id, src);
	for (int i = 0; i < n; i++) {
		if (!links[i].has_mac || memcmp(links[i].mac, e->mac, 6) != 0 || strcmp(links[i].kind, "macvlan") != 0)
			continue;
		if (strcmp(links[i].name, src) == 0 || !(links[i].flags & IFF_UP))
			return -EAGAIN;
		gl_strlcpy(ret, links[i].name, IFNAMSIZ);
		return 0;
	}
	return -EAGAIN;
}

/* Install e's SNAT table; -EAGAIN while the container's netns or link is not in place. */
static int snat_install(struct dk *d, struct dk_net *n, struct dk_ep *e, struct gl_err *err)
{
	struct gl_snat_conf c;
	char ifname[IFNAMSIZ];
	int fd = -1, r;

	if (access(e->sandbox, F_OK) < 0)
		return -EAGAIN;
	r = gl_netns_open(e->sandbox, &fd, err);
	if (r < 0)
		return r;
	memset(&c, 0, sizeof(c));
	r = sandbox_ifname(e, fd, ifname, err);
	if (r >= 0)
		r = gl_snat_names(e->id, ifname, &c, err);
	if (r >= 0)
		r = gl_strlcpy(c.ifname, ifname, sizeof(c.ifname));
	if (r >= 0)
		r = gl_snat_conf_add_lan(&c, &n->subnet, err);
	if (r >= 0) {
		gl_snat_conf_default_gw(&c, &n->gw);
		r = gl_snat_conf_finish(&c, "the network", err);
	}
	if (r >= 0)
		r = gl_snat_install(fd, &c, err);
	close(fd);
	if (r < 0)
		return r;
	gl_strlcpy(e->ifname, ifname, sizeof(e->ifname));
	e->snat = true;
	dk_save_ep(d, e, NULL);
	gl_info("endpoint %.12s: WAN sources become the gateway on %s (table %s)", e->id, e->ifname, c.table);
	return 0;
}

/* Docker puts the link into the container's netns only when the runtime
 * made it (the prestart hook), after Join and ProgramExternalConnectivity
 * have answered: the table goes in as soon as the link is there. */
#define SNAT_POLL_MS 20
#define SNAT_POLL_TRIES 3000       /* 60 s */

struct snat_wait {
	struct dk *d;
	char ep[DK_ID_MAX];
	int tries;
};

static void snat_poll(struct gl_loop *l, void *userdata)
{
	struct snat_wait *w = userdata;
	struct dk_ep *e = dk_ep_find(w->d, w->ep);
	struct dk_net *n = e ? dk_net_find(w->d, e->net) : NULL;
	struct gl_err err = { 0 };
	int r;

	if (!n || e->snat) {
		free(w);
		return;
	}
	r = snat_install(w->d, n, e, &err);
	if (r == -EAGAIN && ++w->tries < SNAT_POLL_TRIES &&
	    gl_loop_timer_add(l, SNAT_POLL_MS, 0, snat_poll, w, NULL) >= 0)
		return;
	if (r < 0)
		gl_error("endpoint %.12s: no in-container SNAT: %s", w->ep,
			 r == -EAGAIN ? "its link never showed up in the container" : err.msg);
	free(w);
}

static int program_conn(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
			struct gl_err *err)
{
	const char *net_id, *ep_id;
	struct dk_net *n;
	struct dk_ep *e;
	int r;

	r = ep_ids(req, &net_id, &ep_id, err);
	if (r < 0)
		return r;
	n = dk_net_find(d, net_id);
	e = dk_ep_find(d, ep_id);
	if (!n || !e)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "endpoint %.12s is unknown", ep_id);
	if (n->snat)
		dk_snat_watch(d, ep_id);
	return 0;
}

void dk_snat_watch(struct dk *d, const char *ep_id)
{
	struct snat_wait *w = calloc(1, sizeof(*w));

	if (!w)
		return;
	w->d = d;
	gl_strlcpy(w->ep, ep_id, sizeof(w->ep));
	if (gl_loop_timer_add(d->loop, 0, 0, snat_poll, w, NULL) < 0) {
		gl_error("endpoint %.12s: no in-container SNAT: cannot arm a timer", ep_id);
		free(w);
	}
}

static int revoke_conn(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		  struct gl_err *err)
{
	const char *net_id, *ep_id;
	struct gl_err scratch = { 0 };
	struct gl_snat_conf c;
	struct dk_ep *e;
	int fd = -1, r;

	r = ep_ids(req, &net_id, &ep_id, err);
	if (r < 0)
		return r;
	e = dk_ep_find(d, ep_id);
	if (!e || !e->snat)
		return 0;
	/* The table goes with the container's netns anyway: this is for a
	 * container that stays (docker network disconnect). */
	memset(&c, 0, sizeof(c));
	if (gl_snat_names(e->id, e->ifname, &c, &scratch) >= 0 && gl_netns_open(e->sandbox, &fd, &scratch) >= 0) {
		gl_snat_remove(fd, c.table, &scratch);
		close(fd);
	}
	e->snat = false;
	dk_save_ep(d, e, NULL);
	return 0;
}

static int net_caps(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		    struct gl_err *err)
{
	json_object_object_add(resp, "Scope", json_object_new_string("local"));
	json_object_object_add(resp, "ConnectivityScope", json_object_new_string("local"));
	return 0;
}

static int nothing(struct dk *d, json_object *req, json_object *resp, const struct gl_http_req *hr,
		   struct gl_err *err)
{
	return 0;
}

const struct dk_route dk_net_routes[] = {
	{ "/NetworkDriver.GetCapabilities", false, net_caps },
	{ "/NetworkDriver.CreateNetwork", false, create_network },
	{ "/NetworkDriver.DeleteNetwork", false, delete_network },
	{ "/NetworkDriver.CreateEndpoint", false, create_endpoint },
	{ "/NetworkDriver.DeleteEndpoint", false, delete_endpoint },
	{ "/NetworkDriver.EndpointOperInfo", false, oper_info },
	{ "/NetworkDriver.Join", false, join },
	{ "/NetworkDriver.Leave", false, leave },
	{ "/NetworkDriver.ProgramExternalConnectivity", false, program_conn },
	{ "/NetworkDriver.RevokeExternalConnectivity", false, revoke_conn },
	{ "/NetworkDriver.DiscoverNew", false, nothing },
	{ "/NetworkDriver.DiscoverDelete", false, nothing },
	{ "/NetworkDriver.AllocateNetwork", false, nothing },
	{ "/NetworkDriver.FreeNetwork", false, nothing },
	{ NULL, false, NULL },
};

void dk_sweep_links(struct dk *d)
{
	struct gl_nl_link *links = calloc(512, sizeof(*links));
	struct gl_err err = { 0 };
	int n;

	if (!links)
		return;
	n = gl_nl_link_list(d->nl, links, 512, &err);
	for (int i = 0; i < n; i++) {
		const char *name = links[i].name;
		bool known = false;
		char mine[IFNAMSIZ];

		if (strcmp(links[i].kind, "macvlan") != 0 || strlen(name) != strlen(DK_LINK_PREFIX) + 12 ||
		    strncmp(name, DK_LINK_PREFIX, strlen(DK_LINK_PREFIX)) != 0 ||
		    !dk_id_valid(name + strlen(DK_LINK_PREFIX)))
			continue;
		for (int j = 0; j < d->n_eps && !known; j++) {
			dk_link_name(d->eps[j].id, mine);
			known = strcmp(mine, name) == 0;
		}
		if (!known && gl_nl_link_del(d->nl, links[i].ifindex, &err) == 0)
			gl_info("removed %s, a link of no endpoint (left by a crash)", name);
	}
	free(links);
}
