/* lanserver: a UDP game server that, like Don't Starve Together in offline mode, only lets in
 * clients whose source address is on one of its own LANs.
 *
 *   lanserver [--port N] [--bind ADDR]
 *
 * A datagram "JOIN <name>" gets "accepted <name> from [LAN] <src>" when <src> lies inside the
 * prefix of one of the host's own (non-loopback) interface addresses, and
 * "refused: ID_DST_SERVER_IS_LAN_ONLY <src>" otherwise. Each decision is logged to stdout, one
 * line, flushed, in DST's words. Anything else gets "error: ..." and a log line; nothing a
 * client sends can make it stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "base/version.h"

#define REQ_MAX 512         /* longest datagram we read; longer ones are junk */
#define NAME_MAX_LEN 64     /* longest player name */
#define PREFIX_MAX 128      /* interface prefixes remembered */
#define REFRESH_MS 1000     /* how stale the prefix list may get */
#define DEFAULT_PORT 10999  /* DST's game port */

/* An address of either family in network byte order; IPv4 uses the first 4 bytes. */
struct addr {
	int family;
	uint8_t b[16];
};

struct prefix {
	struct addr a;
	unsigned plen;
};

struct lan {
	struct prefix p[PREFIX_MAX];
	size_t n;
	int64_t loaded_ms;
	bool loaded;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fill a from a socket address; an IPv4-mapped IPv6 address (what a dual-stack socket
 * reports for an IPv4 client) becomes plain IPv4, so that it matches IPv4 prefixes. */
static int addr_from_sockaddr(const struct sockaddr *sa, struct addr *ret)
{
	struct addr a = { 0 };

	if (!sa)
		return -EINVAL;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		a.family = AF_INET;
		memcpy(a.b, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			a.family = AF_INET;
			memcpy(a.b, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			a.family = AF_INET6;
			memcpy(a.b, &sin6->sin6_addr, 16);
		}
	} else {
		return -EAFNOSUPPORT;
	}
	*ret = a;
	return 0;
}

static const char *addr_str(const struct addr *a, char *buf, size_t size)
{
	if (!inet_ntop(a->family, a->b, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

static bool addr_is_loopback(const struct addr *a)
{
	static const uint8_t v6_loop[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->b[0] == 127;
	return memcmp(a->b, v6_loop, 16) == 0;
}

static unsigned mask_len(const struct sockaddr *mask, int family)
{
	const uint8_t *m;
	size_t len, i;
	unsigned plen = 0;

	if (family == AF_INET) {
		m = (const uint8_t *)&((const struct sockaddr_in *)mask)->sin_addr;
		len = 4;
	} else {
		m = (const uint8_t *)&((const struct sockaddr_in6 *)mask)->sin6_addr;
		len = 16;
	}
	/* Count leading ones; a non-contiguous mask ends the count at its first zero. */
	for (i = 0; i < len; i++) {
		uint8_t byte = m[i];

		while (byte & 0x80) {
			plen++;
			byte = (uint8_t)(byte << 1);
		}
		if (m[i] != 0xff)
			break;
	}
	return plen;
}

static bool prefix_contains(const struct prefix *p, const struct addr *a)
{
	unsigned full = p->plen / 8, rest = p->plen % 8;

	if (p->a.family != a->family)
		return false;
	if (memcmp(p->a.b, a->b, full) != 0)
		return false;
	if (rest) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));

		if ((p->a.b[full] & m) != (a->b[full] & m))
			return false;
	}
	return true;
}

static void prefixes_str(const struct lan *lan, char *buf, size_t size)
{
	size_t used = 0, i;

	buf[0] = '\0';
	for (i = 0; i < lan->n && used < size; i++) {
		char s[INET6_ADDRSTRLEN];
		int w = snprintf(buf + used, size - used, "%s%s/%u", i ? " " : "",
				 addr_str(&lan->p[i].a, s, sizeof(s)), lan->p[i].plen);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	if (lan->n == 0)
		snprintf(buf, size, "(none)");
}

/* The LAN is every prefix of the host's own interface addresses, loopback excluded: a
 * client from 127.0.0.1 is the server's own machine talking through loopback, not a LAN
 * player. Returns true when the list changed. */
static bool lan_load(struct lan *lan)
{
	struct ifaddrs *ifs = NULL, *i;
	struct lan next = { .n = 0 };
	bool changed;

	if (getifaddrs(&ifs) < 0) {
		fprintf(stderr, "lanserver: getifaddrs: %s\n", strerror(errno));
		return false;
	}
	for (i = ifs; i; i = i->ifa_next) {
		struct prefix p;
		size_t k;
		bool dup = false;

		if (!i->ifa_addr || !i->ifa_netmask)
			continue;
		if (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6)
			continue;
		if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP))
			continue;
		if (addr_from_sockaddr(i->ifa_addr, &p.a) < 0 || addr_is_loopback(&p.a))
			continue;
		p.plen = mask_len(i->ifa_netmask, i->ifa_addr->sa_family);
		/* Store the network address, so that the printed list reads as prefixes. */
		for (k = 0; k < 16; k++) {
			unsigned bits = p.plen > k * 8 ? p.plen - (unsigned)k * 8 : 0;

			if (bits < 8)
				p.a.b[k] &= (uint8_t)(bits ? 0xff << (8 - bits) : 0);
		}
		for (k = 0; k < next.n; k++)
			if (next.p[k].plen == p.plen && prefix_contains(&next.p[k], &p.a))
				dup = true;
		if (!dup && next.n < PREFIX_MAX)
			next.p[next.n++] = p;
	}
	freeifaddrs(ifs);

	changed = !lan->loaded || next.n != lan->n ||
		  memcmp(next.p, lan->p, next.n * sizeof(next.p[0])) != 0;
	memcpy(lan->p, next.p, sizeof(next.p));
	lan->n = next.n;
	lan->loaded = true;
	lan->loaded_ms = now_ms();
	return changed;
}

static bool lan_contains(const struct lan *lan, const struct addr *a)
{
	size_t i;

	if (addr_is_loopback(a))
		return false;
	for (i = 0; i < lan->n; i++)
		if (prefix_contains(&lan->p[i], a))
			return true;
	return false;
}

/* A request is "JOIN <name>" with an optional line end; the name is 1..NAME_MAX_LEN
 * printable ASCII characters. Returns the name (inside buf) or NULL. */
static const char *parse_join(char *buf, size_t len)
{
	size_t i;
	char *name;

	if (memchr(buf, '\0', len))
		return NULL;
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (len < 6 || strncmp(buf, "JOIN ", 5) != 0)
		return NULL;
	name = buf + 5;
	len -= 5;
	if (len > NAME_MAX_LEN || name[0] == ' ')
		return NULL;
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return NULL;
	return name;
}

/* Reply from the address the client wrote to, so that a host with several addresses
 * answers from the one the client knows; without packet info, let the kernel choose. */
static void reply(int fd, const struct sockaddr_storage *to, socklen_t tolen,
		  const struct msghdr *in, const char *text)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)text, .iov_len = strlen(text) };
	struct msghdr mh = {
		.msg_name = (void *)to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *c;

	memset(&ctl, 0, sizeof(ctl));
	for (c = CMSG_FIRSTHDR((struct msghdr *)in); c; c = CMSG_NXTHDR((struct msghdr *)in, c)) {
		struct cmsghdr *out = (struct cmsghdr *)ctl.buf;

		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			out->cmsg_level = IPPROTO_IP;
			out->cmsg_type = IP_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(out), &pi, sizeof(pi));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			break;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi6;

			memcpy(&pi6, CMSG_DATA(c), sizeof(pi6));
			out->cmsg_level = IPPROTO_IPV6;
			out->cmsg_type = IPV6_PKTINFO;
			out->cmsg_len = CMSG_LEN(sizeof(pi6));
			memcpy(CMSG_DATA(out), &pi6, sizeof(pi6));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi6));
			break;
		}
	}
	if (sendmsg(fd, &mh, 0) >= 0)
		return;
	/* A broadcast or multicast destination cannot be a source: retry plainly. */
	if (mh.msg_control) {
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		if (sendmsg(fd, &mh, 0) >= 0)
			return;
	}
	fprintf(stderr, "lanserver: reply: %s\n", strerror(errno));
}

static void handle(int fd, struct lan *lan, char *buf, size_t len,
		   const struct sockaddr_storage *src, socklen_t srclen,
		   const struct msghdr *mh, bool truncated)
{
	char srcs[INET6_ADDRSTRLEN], out[REQ_MAX + 128], prefixes[2048];
	struct addr a;
	const char *name;

	if (addr_from_sockaddr((const struct sockaddr *)src, &a) < 0)
		return;
	addr_str(&a, srcs, sizeof(srcs));
	name = truncated ? NULL : parse_join(buf, len);
	if (!name) {
		printf("Ignoring bad request from %s (%zu%s bytes)\n", srcs, len,
		       truncated ? "+" : "");
		reply(fd, src, srclen, mh,
		      "error: bad request (want \"JOIN <name>\", name of 1-64 printable characters)");
		return;
	}
	/* Interfaces change under a running server (a CNI ADD after it started): re-read them
	 * when the list is older than REFRESH_MS. */
	if (!lan->loaded || now_ms() - lan->loaded_ms > REFRESH_MS) {
		if (lan_load(lan)) {
			prefixes_str(lan, prefixes, sizeof(prefixes));
			printf("LAN prefixes now: %s\n", prefixes);
		}
	}
	if (lan_contains(lan, &a)) {
		printf("Client connected from [LAN] %s (%s)\n", srcs, name);
		snprintf(out, sizeof(out), "accepted %s from [LAN] %s", name, srcs);
	} else {
		printf("LAN server refusing connection from %s (%s): ID_DST_SERVER_IS_LAN_ONLY\n",
		       srcs, name);
		snprintf(out, sizeof(out), "refused: ID_DST_SERVER_IS_LAN_ONLY %s", srcs);
	}
	reply(fd, src, srclen, mh, out);
}

static int open_socket(const char *bind_addr, unsigned port, char *desc, size_t desc_size)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1, zero = 0;
	struct in_addr a4;
	struct in6_addr a6;
	bool v4;

	memset(&ss, 0, sizeof(ss));
	if (bind_addr && inet_pton(AF_INET, bind_addr, &a4) == 1) {
		v4 = true;
	} else if (!bind_addr || inet_pton(AF_INET6, bind_addr, &a6) == 1) {
		if (!bind_addr)
			a6 = in6addr_any;
		v4 = false;
	} else {
		fprintf(stderr, "lanserver: --bind %s: not an IPv4 or IPv6 address\n", bind_addr);
		return -1;
	}

	fd = v4 ? -1 : socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && !v4 && bind_addr) {
		fprintf(stderr, "lanserver: socket: %s\n", strerror(errno));
		return -1;
	}
	if (fd < 0) {
		/* No IPv6 in this namespace (or an IPv4 address asked for): plain IPv4. */
		if (!bind_addr)
			a4.s_addr = htonl(INADDR_ANY);
		v4 = true;
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			fprintf(stderr, "lanserver: socket: %s\n", strerror(errno));
			return -1;
		}
	}

	if (v4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		sin->sin_addr = a4;
		sslen = sizeof(*sin);
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		sin6->sin6_addr = a6;
		sslen = sizeof(*sin6);
		/* One socket for both families: IPv4 clients arrive as ::ffff:a.b.c.d. */
		if (IN6_IS_ADDR_UNSPECIFIED(&a6))
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	}
	if (bind(fd, (struct sockaddr *)&ss, sslen) < 0) {
		fprintf(stderr, "lanserver: bind port %u: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	if (v4) {
		char s[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &a4, s, sizeof(s));
		snprintf(desc, desc_size, "%s:%u", s, port);
	} else {
		char s[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, &a6, s, sizeof(s));
		snprintf(desc, desc_size, "[%s]:%u", s, port);
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lanserver [--port N] [--bind ADDR]\n"
		   "  A LAN-only UDP game server: \"JOIN <name>\" is accepted only from a source\n"
		   "  inside a prefix of this host's own interface addresses (loopback excluded).\n"
		   "  --port N     UDP port (default %d)\n"
		   "  --bind ADDR  listen on one IPv4 or IPv6 address (default: all, both families)\n"
		   "  --version    print the version\n"
		   "example: lanserver --port 10999 --bind 192.168.1.200\n",
		DEFAULT_PORT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct lan lan;
	const char *bind_addr = NULL;
	unsigned port = DEFAULT_PORT;
	char desc[INET6_ADDRSTRLEN + 16], prefixes[2048];
	int fd, c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt_long(argc, argv, "p:b:hV", opts, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 'p':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 65535) {
				fprintf(stderr, "lanserver: bad --port '%s'\n", optarg);
				return 64;
			}
			port = (unsigned)v;
			break;
		case 'b':
			bind_addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("lanserver %s\n", GL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 64;
	}

	fd = open_socket(bind_addr, port, desc, sizeof(desc));
	if (fd < 0)
		return 1;
	lan_load(&lan);
	prefixes_str(&lan, prefixes, sizeof(prefixes));
	printf("lanserver listening on udp %s; LAN prefixes: %s\n", desc, prefixes);

	for (;;) {
		char buf[REQ_MAX + 1];
		union {
			char buf[256];
			struct cmsghdr align;
		} ctl;
		struct sockaddr_storage src;
		struct iovec iov = { .iov_base = buf, .iov_len = REQ_MAX };
		struct msghdr mh = {
			.msg_name = &src, .msg_namelen = sizeof(src), .msg_iov = &iov,
			.msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
		};
		ssize_t n;

		n = recvmsg(fd, &mh, 0);
		if (n < 0) {
			switch (errno) {
			case EINTR:
			case EAGAIN:
			case ENOMEM:
			case ENOBUFS:
			case ECONNREFUSED:
			case EHOSTUNREACH:
			case ENETUNREACH:
				continue;
			default:
				fprintf(stderr, "lanserver: recvmsg: %s\n", strerror(errno));
				return 1;
			}
		}
		handle(fd, &lan, buf, (size_t)n, &src, mh.msg_namelen, &mh,
		       (mh.msg_flags & MSG_TRUNC) != 0);
	}
}
