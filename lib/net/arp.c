#include "net/arp.h"
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "base/util.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

int gl_arp_build(uint8_t *buf, size_t size, const struct gl_arp *a)
{
	uint8_t *p = buf;

	if (size < GL_ARP_FRAME_LEN)
		return -ENOSPC;
	memcpy(p, a->eth_dst, 6);
	memcpy(p + 6, a->eth_src, 6);
	p[12] = ETH_P_ARP >> 8;
	p[13] = ETH_P_ARP & 0xff;
	p += 14;
	p[0] = 0; p[1] = 1;                 /* hardware: Ethernet */
	p[2] = ETH_P_IP >> 8; p[3] = ETH_P_IP & 0xff;
	p[4] = 6; p[5] = 4;
	p[6] = (uint8_t)(a->op >> 8); p[7] = (uint8_t)a->op;
	memcpy(p + 8, a->sha, 6);
	memcpy(p + 14, a->spa, 4);
	memcpy(p + 18, a->tha, 6);
	memcpy(p + 24, a->tpa, 4);
	return GL_ARP_FRAME_LEN;
}

int gl_arp_parse(const uint8_t *f, size_t len, struct gl_arp *ret)
{
	struct gl_arp a;
	const uint8_t *p = f + 14;

	if (len < GL_ARP_FRAME_LEN)
		return -EBADMSG;
	if (f[12] != (ETH_P_ARP >> 8) || f[13] != (ETH_P_ARP & 0xff))
		return -EBADMSG;
	if (p[0] != 0 || p[1] != 1 || p[2] != (ETH_P_IP >> 8) || p[3] != (ETH_P_IP & 0xff) ||
	    p[4] != 6 || p[5] != 4)
		return -EBADMSG;
	memcpy(a.eth_dst, f, 6);
	memcpy(a.eth_src, f + 6, 6);
	a.op = (uint16_t)(p[6] << 8 | p[7]);
	memcpy(a.sha, p + 8, 6);
	memcpy(a.spa, p + 14, 4);
	memcpy(a.tha, p + 18, 6);
	memcpy(a.tpa, p + 24, 4);
	*ret = a;
	return 0;
}

struct gl_arp gl_arp_probe_msg(const uint8_t mac[6], const uint8_t ip[4])
{
	struct gl_arp a = { .op = 1 };

	memcpy(a.eth_dst, bcast, 6);
	memcpy(a.eth_src, mac, 6);
	memcpy(a.sha, mac, 6);
	/* Sender address zero: a probe must not pollute others' ARP caches. */
	memcpy(a.tpa, ip, 4);
	return a;
}

struct gl_arp gl_arp_announce_msg(const uint8_t mac[6], const uint8_t ip[4])
{
	struct gl_arp a = gl_arp_probe_msg(mac, ip);

	memcpy(a.spa, ip, 4);
	return a;
}

int gl_arp_conflicts(const struct gl_arp *rx, const uint8_t our_mac[6], const uint8_t ip[4])
{
	static const uint8_t zero[4];

	if (memcmp(rx->sha, our_mac, 6) == 0)
		return 0;
	/* Someone uses the address (any ARP from it)... */
	if (memcmp(rx->spa, ip, 4) == 0)
		return 1;
	/* ...or is probing for it at the same time as we are. */
	return rx->op == 1 && memcmp(rx->spa, zero, 4) == 0 && memcmp(rx->tpa, ip, 4) == 0;
}

int gl_na_build(uint8_t *buf, size_t size, const uint8_t mac[6], const struct gl_ip *target)
{
	if (size < GL_NA_LEN || target->family != AF_INET6)
		return -ENOSPC;
	memset(buf, 0, GL_NA_LEN);
	buf[0] = ND_NEIGHBOR_ADVERT;
	/* Override: replace what neighbours cached; not solicited; not a router.
	 * The checksum (bytes 2-3) is the kernel's job on raw ICMPv6 sockets. */
	buf[4] = 0x20;
	memcpy(buf + 8, target->addr, 16);
	buf[24] = ND_OPT_TARGET_LINKADDR;
	buf[25] = 1;                       /* length in units of 8 bytes */
	memcpy(buf + 26, mac, 6);
	return GL_NA_LEN;
}

int gl_arp_open(int ifindex, int *ret_fd)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				   .sll_ifindex = ifindex };
	/* Protocol 0 at socket() and the real one at bind(): a socket opened
	 * with a protocol hooks every device at once, and narrowing it by bind()
	 * unhooks it through synchronize_net(), a few ms of RCU wait. */
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int arp_send(int fd, int ifindex, const struct gl_arp *a)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ARP),
				   .sll_ifindex = ifindex, .sll_halen = 6 };
	uint8_t frame[GL_ARP_FRAME_LEN];
	int n = gl_arp_build(frame, sizeof(frame), a);

	memcpy(sll.sll_addr, a->eth_dst, 6);
	if (sendto(fd, frame, (size_t)n, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
		return -errno;
	return 0;
}

int gl_arp_probe(int fd, int ifindex, const uint8_t mac[6], const struct gl_ip *ip, int probes,
		 int wait_ms, uint8_t ret_mac[6])
{
	struct gl_arp probe = gl_arp_probe_msg(mac, ip->addr);
	int64_t start = gl_now_mono_ms(), end = start + wait_ms;
	int sent = 0, r;

	if (ip->family != AF_INET)
		return -EAFNOSUPPORT;
	if (probes < 1)
		probes = 1;
	for (;;) {
		int64_t now = gl_now_mono_ms(), next;
		struct pollfd p = { .fd = fd, .events = POLLIN };

		/* Probes go out evenly over the first half of the wait; the rest
		 * is time for the slowest host to answer the last one. */
		next = sent < probes ? start + (int64_t)sent * wait_ms / (2 * probes) : end;
		if (sent < probes && now >= next) {
			r = arp_send(fd, ifindex, &probe);
			if (r < 0)
				return r;
			sent++;
			continue;
		}
		if (now >= end)
			return 0;
		if (next > end)
			next = end;
		r = poll(&p, 1, (int)(next - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		while (r > 0) {
			uint8_t frame[128];
			struct sockaddr_ll from;
			socklen_t fl = sizeof(from);
			struct gl_arp rx;
			ssize_t n = recvfrom(fd, frame, sizeof(frame), 0, (struct sockaddr *)&from, &fl);

			if (n < 0)
				break;
			if (from.sll_pkttype == PACKET_OUTGOING || gl_arp_parse(frame, (size_t)n, &rx) < 0)
				continue;
			if (gl_arp_conflicts(&rx, mac, ip->addr)) {
				memcpy(ret_mac, rx.sha, 6);
				return 1;
			}
		}
	}
}

int gl_arp_announce(int fd, int ifindex, const uint8_t mac[6], const struct gl_ip *ip)
{
	struct gl_arp a = gl_arp_announce_msg(mac, ip->addr);

	return arp_send(fd, ifindex, &a);
}

int gl_na_send(int ifindex, const uint8_t mac[6], const struct gl_ip *ip)
{
	struct sockaddr_in6 dst = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)ifindex };
	uint8_t buf[GL_NA_LEN];
	int hops = 255, n, r = 0;
	_cleanup_close_ int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6);

	if (fd < 0)
		return -errno;
	n = gl_na_build(buf, sizeof(buf), mac, ip);
	if (n < 0)
		return n;
	inet_pton(AF_INET6, "ff02::1", &dst.sin6_addr);
	/* Neighbour discovery messages must carry hop limit 255 (RFC 4861). */
	if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof(ifindex)) < 0)
		return -errno;
	if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
		r = -errno;
	return r;
}
