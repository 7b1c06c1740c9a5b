#include "base/ip.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/util.h"

int gl_ip_parse(const char *s, struct gl_ip *ret)
{
	struct gl_ip ip = {0};

	if (!s)
		return -EINVAL;
	if (inet_pton(AF_INET, s, ip.addr) == 1)
		ip.family = AF_INET;
	else if (inet_pton(AF_INET6, s, ip.addr) == 1)
		ip.family = AF_INET6;
	else
		return -EINVAL;
	*ret = ip;
	return 0;
}

int gl_prefix_parse(const char *s, struct gl_prefix *ret)
{
	char buf[GL_PREFIX_STRLEN + 1];
	struct gl_prefix p = {0};
	const char *slash;
	char *end;
	long len;
	size_t alen;

	if (!s)
		return -EINVAL;
	slash = strchr(s, '/');
	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - s);
	if (alen == 0 || alen >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (gl_ip_parse(buf, &p.ip) < 0)
		return -EINVAL;
	if (slash[1] < '0' || slash[1] > '9')
		return -EINVAL;
	errno = 0;
	len = strtol(slash + 1, &end, 10);
	if (errno || *end || len < 0 || len > (p.ip.family == AF_INET ? 32 : 128))
		return -EINVAL;
	p.len = (uint8_t)len;
	*ret = p;
	return 0;
}

const char *gl_ip_str(const struct gl_ip *ip, char *buf, size_t size)
{
	if (!ip->family || !inet_ntop(ip->family, ip->addr, buf, (socklen_t)size))
		snprintf(buf, size, "?");
	return buf;
}

const char *gl_prefix_str(const struct gl_prefix *p, char *buf, size_t size)
{
	char a[GL_IP_STRLEN];

	snprintf(buf, size, "%s/%u", gl_ip_str(&p->ip, a, sizeof(a)), p->len);
	return buf;
}

int gl_ip_cmp(const struct gl_ip *a, const struct gl_ip *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->addr, b->addr, gl_ip_size(a));
}

bool gl_ip_equal(const struct gl_ip *a, const struct gl_ip *b)
{
	return gl_ip_cmp(a, b) == 0;
}

static void mask_bytes(uint8_t *addr, size_t size, unsigned len, bool set_host)
{
	for (size_t i = 0; i < size; i++) {
		unsigned bits = len > i * 8 ? len - (unsigned)i * 8 : 0;
		uint8_t m = bits >= 8 ? 0xff : (uint8_t)(0xff << (8 - bits));

		addr[i] = set_host ? (addr[i] | (uint8_t)~m) : (addr[i] & m);
	}
}

struct gl_prefix gl_prefix_masked(const struct gl_prefix *p)
{
	struct gl_prefix r = *p;

	mask_bytes(r.ip.addr, gl_ip_size(&r.ip), r.len, false);
	return r;
}

struct gl_ip gl_prefix_first(const struct gl_prefix *p)
{
	return gl_prefix_masked(p).ip;
}

struct gl_ip gl_prefix_last(const struct gl_prefix *p)
{
	struct gl_ip ip = p->ip;

	mask_bytes(ip.addr, gl_ip_size(&ip), p->len, true);
	return ip;
}

bool gl_prefix_contains(const struct gl_prefix *p, const struct gl_ip *ip)
{
	struct gl_prefix q = { .ip = *ip, .len = p->len };
	struct gl_prefix net;

	if (ip->family != p->ip.family)
		return false;
	q = gl_prefix_masked(&q);
	net = gl_prefix_masked(p);
	return gl_ip_equal(&q.ip, &net.ip);
}

int gl_ip_add(const struct gl_ip *ip, int64_t delta, struct gl_ip *ret)
{
	struct gl_ip r = *ip;
	size_t size = gl_ip_size(ip);
	/* Add |delta| byte by byte from the low end, in two's complement for
	 * negative deltas, and detect wrap by the final carry. */
	uint64_t mag = delta < 0 ? (uint64_t)(-(delta + 1)) + 1 : (uint64_t)delta;
	int carry = 0;

	if (delta >= 0) {
		for (size_t i = size; i-- > 0;) {
			unsigned v = r.addr[i] + (unsigned)(mag & 0xff) + (unsigned)carry;
			r.addr[i] = (uint8_t)v;
			carry = v > 0xff;
			mag >>= 8;
		}
		if (carry || mag)
			return -ERANGE;
	} else {
		for (size_t i = size; i-- > 0;) {
			int v = (int)r.addr[i] - (int)(mag & 0xff) - carry;
			carry = v < 0;
			r.addr[i] = (uint8_t)(v + (carry ? 256 : 0));
			mag >>= 8;
		}
		if (carry || mag)
			return -ERANGE;
	}
	*ret = r;
	return 0;
}
