/* rtnetlink through libmnl: message builders (pure, unit-tested by parsing
 * the bytes back) and a thin socket over the netlink transport (nlsock.h)
 * that sends them and reads the answers. */
#pragma once
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>
#include "base/err.h"
#include "base/ip.h"

/* Large enough for any message we build (the biggest is a link with nests). */
#define GL_NL_BUFSIZE 1024

struct gl_nl_link_spec {
	const char *name;            /* required */
	int master;                  /* IFLA_LINK ifindex, required for macvlan */
	uint32_t macvlan_mode;       /* MACVLAN_MODE_* */
	int mtu;                     /* 0 = inherit */
	const uint8_t *mac;          /* NULL = kernel picks */
	int netns_fd;                /* -1 = create where the socket lives */
	bool up;
	uint16_t vlan_id;            /* non-zero: an 802.1q link on master, not a macvlan */
};

struct gl_nl_link {
	int ifindex;
	char name[IFNAMSIZ];
	unsigned flags;              /* IFF_* */
	int mtu;
	bool has_mac;
	uint8_t mac[6];
	int link;                    /* IFLA_LINK, 0 when absent */
	char kind[16];               /* IFLA_INFO_KIND, "" when absent */
	uint32_t macvlan_mode;       /* when kind is macvlan */
};

struct gl_nl_addr {
	int ifindex;
	struct gl_prefix prefix;
	uint32_t flags;              /* IFA_F_* (from IFA_FLAGS when present) */
};

struct gl_nl_route {
	int family;
	struct gl_prefix dst;
	bool has_gw;
	struct gl_ip gw;
	int oif;
	uint32_t table;
	uint32_t priority;
};

/* Builders: write one request into buf (GL_NL_BUFSIZE bytes) and return it. */
struct nlmsghdr *gl_nl_build_link_new(void *buf, uint32_t seq, const struct gl_nl_link_spec *spec);
struct nlmsghdr *gl_nl_build_link_get(void *buf, uint32_t seq, int ifindex, const char *name);
struct nlmsghdr *gl_nl_build_link_del(void *buf, uint32_t seq, int ifindex);
/* A dump of every link of the socket's netns (compact: no stats). */
struct nlmsghdr *gl_nl_build_link_dump(void *buf, uint32_t seq);
/* Rename an existing link and set its flags/MAC/MTU; name and mac NULL and
 * mtu 0 leave them. */
struct nlmsghdr *gl_nl_build_link_set(void *buf, uint32_t seq, int ifindex, const char *name,
				      bool up, const uint8_t *mac, int mtu);
struct nlmsghdr *gl_nl_build_addr(void *buf, uint32_t seq, uint16_t type, int ifindex,
				  const struct gl_prefix *p, uint32_t flags);
struct nlmsghdr *gl_nl_build_addr_dump(void *buf, uint32_t seq, int family);
struct nlmsghdr *gl_nl_build_route(void *buf, uint32_t seq, uint16_t type, int oif,
				   const struct gl_nl_route *rt);
struct nlmsghdr *gl_nl_build_route_dump(void *buf, uint32_t seq, int family);
struct nlmsghdr *gl_nl_build_neigh(void *buf, uint32_t seq, uint16_t type, int ifindex,
				   const struct gl_ip *ip, const uint8_t *mac, uint16_t state);

/* Parsers: check every attribute's size before use; -EBADMSG on bad input
 * (-EAFNOSUPPORT for a route or address of a family other than IPv4/IPv6). */
int gl_nl_parse_link(const struct nlmsghdr *nlh, struct gl_nl_link *ret);
int gl_nl_parse_addr(const struct nlmsghdr *nlh, struct gl_nl_addr *ret);
int gl_nl_parse_route(const struct nlmsghdr *nlh, struct gl_nl_route *ret);
/* A neighbour message: ifindex, address and lladdr. */
int gl_nl_parse_neigh(const struct nlmsghdr *nlh, int *ret_ifindex, struct gl_ip *ret_ip,
		      uint8_t ret_mac[6]);

/* The socket: bound to the netns it was opened in. */
struct gl_nl;
int gl_nl_open(struct gl_nl **ret);
void gl_nl_close(struct gl_nl *nl);
static inline void gl_nl_closep(struct gl_nl **nl) { if (*nl) gl_nl_close(*nl); }
#define _cleanup_nl_ __attribute__((cleanup(gl_nl_closep)))
uint32_t gl_nl_seq(struct gl_nl *nl);
/* Send nlh and read until the ACK or the dump's end (each wait bounded);
 * cb (may be NULL) sees each answer message. Returns 0, the kernel's
 * negative errno, -EINTR for a dump the kernel flagged inconsistent, or the
 * transport's (-ETIMEDOUT, -EBADMSG, ...); the kernel's extended-ack text,
 * if any, goes to err's details (the caller sets the message). */
int gl_nl_talk(struct gl_nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data,
	       struct gl_err *err);

/* Operations (build + talk). */
int gl_nl_link_get(struct gl_nl *nl, int ifindex, const char *name, struct gl_nl_link *ret,
		   struct gl_err *err);
int gl_nl_link_del(struct gl_nl *nl, int ifindex, struct gl_err *err);
/* Every link of the socket's netns, at most max; returns how many. */
int gl_nl_link_list(struct gl_nl *nl, struct gl_nl_link *ret, int max, struct gl_err *err);
/* The ifindex of the link of the default route of family (main table). */
int gl_nl_default_link(struct gl_nl *nl, int family, int *ret_ifindex, struct gl_err *err);
/* Every address of ifindex (0 = all), at most max. */
int gl_nl_addr_list(struct gl_nl *nl, int ifindex, struct gl_nl_addr *ret, int max,
		    struct gl_err *err);
int gl_nl_route_list(struct gl_nl *nl, int family, struct gl_nl_route *ret, int max,
		     struct gl_err *err);
