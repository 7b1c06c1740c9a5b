/* rtnetlink messages (built and parsed here, pure), carried by the netlink
 * transport (nlsock.c). */
#include "net/nl.h"
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"
#include "net/nlsock.h"

struct gl_nl {
	struct gl_nlsock *s;
};

static struct nlmsghdr *put_header(void *buf, uint16_t type, uint16_t flags, uint32_t seq)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, GL_NL_BUFSIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	return nlh;
}

struct nlmsghdr *gl_nl_build_link_new(void *buf, uint32_t seq, const struct gl_nl_link_spec *spec)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK,
					  NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info, *data;

	ifi->ifi_family = AF_UNSPEC;
	if (spec->up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	mnl_attr_put_strz(nlh, IFLA_IFNAME, spec->name);
	mnl_attr_put_u32(nlh, IFLA_LINK, (uint32_t)spec->master);
	if (spec->mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)spec->mtu);
	if (spec->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, spec->mac);
	/* Creating the link straight in the target namespace saves the move
	 * and the rename that a create-then-move needs. */
	if (spec->netns_fd >= 0)
		mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)spec->netns_fd);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, spec->vlan_id ? "vlan" : "macvlan");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	if (spec->vlan_id)
		mnl_attr_put_u16(nlh, IFLA_VLAN_ID, spec->vlan_id);
	else
		mnl_attr_put_u32(nlh, IFLA_MACVLAN_MODE, spec->macvlan_mode);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nlh;
}

struct nlmsghdr *gl_nl_build_link_get(void *buf, uint32_t seq, int ifindex, const char *name)
{
	/* The ACK after the answer is what ends gl_nl_talk's read loop. */
	struct nlmsghdr *nlh = put_header(buf, RTM_GETLINK, NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	/* Ask for the compact answer: no per-VF or stats attributes. */
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nlh;
}

struct nlmsghdr *gl_nl_build_link_del(void *buf, uint32_t seq, int ifindex)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_DELLINK, NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	return nlh;
}

struct nlmsghdr *gl_nl_build_link_set(void *buf, uint32_t seq, int ifindex, const char *name,
				      bool up, const uint8_t *mac, int mtu)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_NEWLINK, NLM_F_ACK, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = ifindex;
	ifi->ifi_flags = up ? IFF_UP : 0;
	ifi->ifi_change = IFF_UP;
	/* The kernel renames before it applies the flags: a down link can be
	 * renamed and brought up by this one message. */
	if (name)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	return nlh;
}

struct nlmsghdr *gl_nl_build_link_dump(void *buf, uint32_t seq)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_GETLINK, NLM_F_DUMP, seq);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	return nlh;
}

struct nlmsghdr *gl_nl_build_addr(void *buf, uint32_t seq, uint16_t type, int ifindex,
				  const struct gl_prefix *p, uint32_t flags)
{
	struct nlmsghdr *nlh = put_header(buf, type,
					  NLM_F_ACK | (type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0), seq);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	size_t size = gl_ip_size(&p->ip);

	ifa->ifa_family = (uint8_t)p->ip.family;
	ifa->ifa_prefixlen = p->len;
	ifa->ifa_index = (uint32_t)ifindex;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	mnl_attr_put(nlh, IFA_LOCAL, size, p->ip.addr);
	mnl_attr_put(nlh, IFA_ADDRESS, size, p->ip.addr);
	if (p->ip.family == AF_INET && type == RTM_NEWADDR && p->len < 31) {
		struct gl_ip bcast = gl_prefix_last(p);

		mnl_attr_put(nlh, IFA_BROADCAST, 4, bcast.addr);
	}
	if (flags)
		mnl_attr_put_u32(nlh, IFA_FLAGS, flags);
	return nlh;
}

struct nlmsghdr *gl_nl_build_addr_dump(void *buf, uint32_t seq, int family)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_GETADDR, NLM_F_DUMP, seq);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));

	ifa->ifa_family = (uint8_t)family;
	return nlh;
}

struct nlmsghdr *gl_nl_build_route(void *buf, uint32_t seq, uint16_t type, int oif,
				   const struct gl_nl_route *rt)
{
	struct nlmsghdr *nlh = put_header(buf, type,
					  NLM_F_ACK | (type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0), seq);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)rt->dst.ip.family;
	rtm->rtm_dst_len = rt->dst.len;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_type = RTN_UNICAST;
	/* A route without a gateway is a link route. */
	rtm->rtm_scope = rt->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK;
	if (rt->dst.len > 0) {
		struct gl_prefix net = gl_prefix_masked(&rt->dst);

		mnl_attr_put(nlh, RTA_DST, gl_ip_size(&net.ip), net.ip.addr);
	}
	if (rt->has_gw)
		mnl_attr_put(nlh, RTA_GATEWAY, gl_ip_size(&rt->gw), rt->gw.addr);
	if (oif > 0)
		mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)oif);
	if (rt->priority)
		mnl_attr_put_u32(nlh, RTA_PRIORITY, rt->priority);
	return nlh;
}

struct nlmsghdr *gl_nl_build_route_dump(void *buf, uint32_t seq, int family)
{
	struct nlmsghdr *nlh = put_header(buf, RTM_GETROUTE, NLM_F_DUMP, seq);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = (uint8_t)family;
	return nlh;
}

struct nlmsghdr *gl_nl_build_neigh(void *buf, uint32_t seq, uint16_t type, int ifindex,
				   const struct gl_ip *ip, const uint8_t *mac, uint16_t state)
{
	struct nlmsghdr *nlh = put_header(buf, type,
					  NLM_F_ACK | (type == RTM_NEWNEIGH ? NLM_F_CREATE | NLM_F_REPLACE : 0), seq);
	struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof(*nd));

	nd->ndm_family = (uint8_t)ip->family;
	nd->ndm_ifindex = ifindex;
	nd->ndm_state = state;
	mnl_attr_put(nlh, NDA_DST, gl_ip_size(ip), ip->addr);
	if (mac)
		mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
	return nlh;
}

/* ---- parsers ---- */

struct attrs {
	const struct nlattr *tb[64];
	int max;
};

/* mnl_attr_parse() stops quietly at the first malformed attribute; a
 * message cut inside one (or a nest holding junk) must be refused, so walk
 * the block ourselves and insist that the attributes fill it. */
static int walk_attrs(const void *start, size_t len, struct attrs *t)
{
	const struct nlattr *a = start;
	int left = (int)len;

	while (left > 0) {
		int type;

		if (!mnl_attr_ok(a, left))
			return -EBADMSG;
		type = mnl_attr_get_type(a);
		if (type <= t->max)
			t->tb[type] = a;
		left -= (int)MNL_ALIGN(a->nla_len);
		a = mnl_attr_next(a);
	}
	return 0;
}

static int parse_attrs(const struct nlmsghdr *nlh, size_t hdrlen, int max, struct attrs *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->max = max < 63 ? max : 63;
	if (nlh->nlmsg_len < mnl_nlmsg_size(hdrlen))
		return -EBADMSG;
	return walk_attrs((const char *)mnl_nlmsg_get_payload(nlh) + MNL_ALIGN(hdrlen),
			  nlh->nlmsg_len - mnl_nlmsg_size(MNL_ALIGN(hdrlen)), ret);
}

static int nested_attrs(const struct nlattr *nest, int max, struct attrs *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->max = max < 63 ? max : 63;
	return walk_attrs(mnl_attr_get_payload(nest), mnl_attr_get_payload_len(nest), ret);
}

static int get_u32(const struct nlattr *a, uint32_t *ret)
{
	if (mnl_attr_validate((struct nlattr *)a, MNL_TYPE_U32) < 0)
		return -EBADMSG;
	*ret = mnl_attr_get_u32(a);
	return 0;
}

static int get_ip(const struct nlattr *a, int family, struct gl_ip *ret)
{
	size_t size = family == AF_INET6 ? 16 : 4;

	if (family != AF_INET && family != AF_INET6)
		return -EAFNOSUPPORT;
	if (mnl_attr_get_payload_len(a) != size)
		return -EBADMSG;
	memset(ret, 0, sizeof(*ret));
	ret->family = family;
	memcpy(ret->addr, mnl_attr_get_payload(a), size);
	return 0;
}

int gl_nl_parse_link(const struct nlmsghdr *nlh, struct gl_nl_link *ret)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct gl_nl_link l = {0};
	struct attrs tb, info, data;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWLINK || parse_attrs(nlh, sizeof(*ifi), IFLA_MAX, &tb) < 0)
		return -EBADMSG;
	l.ifindex = ifi->ifi_index;
	l.flags = ifi->ifi_flags;
	if (tb.tb[IFLA_IFNAME]) {
		if (mnl_attr_validate((struct nlattr *)tb.tb[IFLA_IFNAME], MNL_TYPE_NUL_STRING) < 0 ||
		    mnl_attr_get_payload_len(tb.tb[IFLA_IFNAME]) > IFNAMSIZ)
			return -EBADMSG;
		strcpy(l.name, mnl_attr_get_str(tb.tb[IFLA_IFNAME]));
	}
	if (tb.tb[IFLA_MTU]) {
		if (get_u32(tb.tb[IFLA_MTU], &v) < 0)
			return -EBADMSG;
		l.mtu = (int)v;
	}
	if (tb.tb[IFLA_LINK]) {
		if (get_u32(tb.tb[IFLA_LINK], &v) < 0)
			return -EBADMSG;
		l.link = (int)v;
	}
	if (tb.tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(tb.tb[IFLA_ADDRESS]) == 6) {
		memcpy(l.mac, mnl_attr_get_payload(tb.tb[IFLA_ADDRESS]), 6);
		l.has_mac = true;
	}
	if (tb.tb[IFLA_LINKINFO]) {
		if (nested_attrs(tb.tb[IFLA_LINKINFO], IFLA_INFO_MAX, &info) < 0)
			return -EBADMSG;
		if (info.tb[IFLA_INFO_KIND]) {
			size_t n = mnl_attr_get_payload_len(info.tb[IFLA_INFO_KIND]);
			const char *k = mnl_attr_get_payload(info.tb[IFLA_INFO_KIND]);

			if (n >= sizeof(l.kind))
				return -EBADMSG;
			memcpy(l.kind, k, n);
			l.kind[n] = '\0';
		}
		if (strcmp(l.kind, "macvlan") == 0 && info.tb[IFLA_INFO_DATA]) {
			if (nested_attrs(info.tb[IFLA_INFO_DATA], IFLA_MACVLAN_MAX, &data) < 0)
				return -EBADMSG;
			if (data.tb[IFLA_MACVLAN_MODE] && get_u32(data.tb[IFLA_MACVLAN_MODE], &l.macvlan_mode) < 0)
				return -EBADMSG;
		}
	}
	*ret = l;
	return 0;
}

int gl_nl_parse_addr(const struct nlmsghdr *nlh, struct gl_nl_addr *ret)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct gl_nl_addr a = {0};
	struct attrs tb;
	const struct nlattr *addr;

	if (nlh->nlmsg_type != RTM_NEWADDR || parse_attrs(nlh, sizeof(*ifa), IFA_MAX, &tb) < 0)
		return -EBADMSG;
	addr = tb.tb[IFA_LOCAL] ? tb.tb[IFA_LOCAL] : tb.tb[IFA_ADDRESS];
	if (!addr || get_ip(addr, ifa->ifa_family, &a.prefix.ip) < 0)
		return -EBADMSG;
	if (ifa->ifa_prefixlen > (ifa->ifa_family == AF_INET ? 32 : 128))
		return -EBADMSG;
	a.prefix.len = ifa->ifa_prefixlen;
	a.ifindex = (int)ifa->ifa_index;
	a.flags = ifa->ifa_flags;
	if (tb.tb[IFA_FLAGS] && get_u32(tb.tb[IFA_FLAGS], &a.flags) < 0)
		return -EBADMSG;
	*ret = a;
	return 0;
}

int gl_nl_parse_route(const struct nlmsghdr *nlh, struct gl_nl_route *ret)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct gl_nl_route rt = {0};
	struct attrs tb;
	uint32_t v;

	if (nlh->nlmsg_type != RTM_NEWROUTE || parse_attrs(nlh, sizeof(*rtm), RTA_MAX, &tb) < 0)
		return -EBADMSG;
	if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
		return -EAFNOSUPPORT;
	rt.family = rtm->rtm_family;
	rt.dst.ip.family = rtm->rtm_family;
	if (rtm->rtm_dst_len > (rtm->rtm_family == AF_INET ? 32 : 128))
		return -EBADMSG;
	rt.dst.len = rtm->rtm_dst_len;
	if (tb.tb[RTA_DST] && get_ip(tb.tb[RTA_DST], rt.family, &rt.dst.ip) < 0)
		return -EBADMSG;
	if (tb.tb[RTA_GATEWAY]) {
		if (get_ip(tb.tb[RTA_GATEWAY], rt.family, &rt.gw) < 0)
			return -EBADMSG;
		rt.has_gw = true;
	}
	if (tb.tb[RTA_OIF]) {
		if (get_u32(tb.tb[RTA_OIF], &v) < 0)
			return -EBADMSG;
		rt.oif = (int)v;
	}
	rt.table = rtm->rtm_table;
	if (tb.tb[RTA_TABLE] && get_u32(tb.tb[RTA_TABLE], &rt.table) < 0)
		return -EBADMSG;
	if (tb.tb[RTA_PRIORITY] && get_u32(tb.tb[RTA_PRIORITY], &rt.priority) < 0)
		return -EBADMSG;
	*ret = rt;
	return 0;
}

int gl_nl_parse_neigh(const struct nlmsghdr *nlh, int *ret_ifindex, struct gl_ip *ret_ip,
		      uint8_t ret_mac[6])
{
	const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
	struct attrs tb;
	struct gl_ip ip;

	if (nlh->nlmsg_type != RTM_NEWNEIGH || parse_attrs(nlh, sizeof(*nd), NDA_MAX, &tb) < 0)
		return -EBADMSG;
	if (!tb.tb[NDA_DST] || get_ip(tb.tb[NDA_DST], nd->ndm_family, &ip) < 0)
		return -EBADMSG;
	if (!tb.tb[NDA_LLADDR] || mnl_attr_get_payload_len(tb.tb[NDA_LLADDR]) != 6)
		return -EBADMSG;
	memcpy(ret_mac, mnl_attr_get_payload(tb.tb[NDA_LLADDR]), 6);
	*ret_ip = ip;
	*ret_ifindex = nd->ndm_ifindex;
	return 0;
}

/* ---- the socket ---- */

int gl_nl_open(struct gl_nl **ret)
{
	struct gl_nl *nl = calloc(1, sizeof(*nl));
	int r;

	if (!nl)
		return -ENOMEM;
	r = gl_nlsock_open(NETLINK_ROUTE, &nl->s);
	if (r < 0) {
		free(nl);
		return r;
	}
	*ret = nl;
	return 0;
}

void gl_nl_close(struct gl_nl *nl)
{
	if (!nl)
		return;
	gl_nlsock_close(nl->s);
	free(nl);
}

uint32_t gl_nl_seq(struct gl_nl *nl)
{
	return gl_nlsock_seq(nl->s);
}

struct mnl_q {
	mnl_cb_t cb;
	void *data;
};

/* The public callback is libmnl's (MNL_CB_OK goes on, MNL_CB_STOP ends,
 * MNL_CB_ERROR fails with errno); the transport's speaks errno. */
static int mnl_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct mnl_q *q = data;
	int r;

	errno = 0;
	r = q->cb(nlh, q->data);
	if (r == MNL_CB_OK)
		return 0;
	if (r == MNL_CB_STOP)
		return GL_NLSOCK_STOP;
	return errno > 0 ? -errno : -EPROTO;
}

int gl_nl_talk(struct gl_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, struct gl_err *err)
{
	struct mnl_q q = { .cb = cb, .data = data };
	struct gl_nlsock_ack ack;
	int r = gl_nlsock_talk(nl->s, nlh, cb ? mnl_data_cb : NULL, &q, &ack);

	/* A dump the kernel saw change under it is not a list to trust. */
	if (r == 0 && (ack.flags & NLM_F_DUMP_INTR))
		r = -EINTR;
	if (r < 0 && err && ack.msg[0])
		gl_err_details(err, "kernel: %s", ack.msg);
	return r;
}

/* ---- operations ---- */

struct link_q {
	struct gl_nl_link *link;
	int found;
};

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_q *q = data;

	if (gl_nl_parse_link(nlh, q->link) == 0)
		q->found = 1;
	return MNL_CB_OK;
}

int gl_nl_link_get(struct gl_nl *nl, int ifindex, const char *name, struct gl_nl_link *ret,
		   struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE];
	struct gl_nl_link l;
	struct link_q q = { .link = &l };
	int r;

	r = gl_nl_talk(nl, gl_nl_build_link_get(buf, gl_nl_seq(nl), ifindex, name), link_cb, &q, err);
	if (r < 0)
		return r;
	if (!q.found)
		return -ENODEV;
	*ret = l;
	return 0;
}

int gl_nl_link_del(struct gl_nl *nl, int ifindex, struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE];

	return gl_nl_talk(nl, gl_nl_build_link_del(buf, gl_nl_seq(nl), ifindex), NULL, NULL, err);
}

struct list_q {
	void *items;
	size_t item_size;
	int n, max, ifindex;
	int (*parse)(const struct nlmsghdr *nlh, void *ret);
};

static int parse_addr_any(const struct nlmsghdr *nlh, void *ret)
{
	return gl_nl_parse_addr(nlh, ret);
}

static int parse_link_any(const struct nlmsghdr *nlh, void *ret)
{
	return gl_nl_parse_link(nlh, ret);
}

static int parse_route_any(const struct nlmsghdr *nlh, void *ret)
{
	return gl_nl_parse_route(nlh, ret);
}

static int list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct list_q *q = data;
	void *slot;

	if (q->n >= q->max)
		return MNL_CB_OK;
	slot = (char *)q->items + q->item_size * (size_t)q->n;
	if (q->parse(nlh, slot) < 0)
		return MNL_CB_OK;
	if (q->ifindex && q->parse == parse_addr_any && ((struct gl_nl_addr *)slot)->ifindex != q->ifindex)
		return MNL_CB_OK;
	q->n++;
	return MNL_CB_OK;
}

int gl_nl_addr_list(struct gl_nl *nl, int ifindex, struct gl_nl_addr *ret, int max,
		    struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE];
	struct list_q q = { ret, sizeof(*ret), 0, max, ifindex, parse_addr_any };
	int r;

	r = gl_nl_talk(nl, gl_nl_build_addr_dump(buf, gl_nl_seq(nl), AF_UNSPEC), list_cb, &q, err);
	return r < 0 ? r : q.n;
}

int gl_nl_link_list(struct gl_nl *nl, struct gl_nl_link *ret, int max, struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE];
	struct list_q q = { ret, sizeof(*ret), 0, max, 0, parse_link_any };
	int r;

	r = gl_nl_talk(nl, gl_nl_build_link_dump(buf, gl_nl_seq(nl)), list_cb, &q, err);
	return r < 0 ? r : q.n;
}

int gl_nl_route_list(struct gl_nl *nl, int family, struct gl_nl_route *ret, int max,
		     struct gl_err *err)
{
	char buf[GL_NL_BUFSIZE];
	struct list_q q = { ret, sizeof(*ret), 0, max, 0, parse_route_any };
	int r;

	r = gl_nl_talk(nl, gl_nl_build_route_dump(buf, gl_nl_seq(nl), family), list_cb, &q, err);
	return r < 0 ? r : q.n;
}

int gl_nl_default_link(struct gl_nl *nl, int family, int *ret_ifindex, struct gl_err *err)
{
	struct gl_nl_route routes[256];
	int n = gl_nl_route_list(nl, family, routes, (int)GL_ARRAY_SIZE(routes), err);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (routes[i].dst.len == 0 && routes[i].table == RT_TABLE_MAIN && routes[i].oif > 0) {
			*ret_ifindex = routes[i].oif;
			return 0;
		}
	}
	return -ENOENT;
}
