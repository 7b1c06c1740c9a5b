/* IPv4/IPv6 addresses and prefixes: parsing, formatting and arithmetic. Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>

#define GL_IP_STRLEN 46     /* INET6_ADDRSTRLEN */
#define GL_PREFIX_STRLEN 50 /* address + "/128" */

struct gl_ip {
	int family;          /* AF_INET or AF_INET6; 0 = unset */
	uint8_t addr[16];    /* network order; IPv4 uses the first 4 bytes */
};

struct gl_prefix {
	struct gl_ip ip;     /* host bits kept as given ("192.168.1.5/24") */
	uint8_t len;
};

static inline size_t gl_ip_size(const struct gl_ip *ip)
{
	return ip->family == AF_INET6 ? 16 : 4;
}

/* Parse a literal address. -EINVAL when it is not one. */
int gl_ip_parse(const char *s, struct gl_ip *ret);
/* Parse "addr/len"; host bits allowed. -EINVAL when malformed or len too large. */
int gl_prefix_parse(const char *s, struct gl_prefix *ret);
/* Format into buf (at least GL_IP_STRLEN / GL_PREFIX_STRLEN); returns buf. */
const char *gl_ip_str(const struct gl_ip *ip, char *buf, size_t size);
const char *gl_prefix_str(const struct gl_prefix *p, char *buf, size_t size);

/* Total order: family first, then address bytes. */
int gl_ip_cmp(const struct gl_ip *a, const struct gl_ip *b);
bool gl_ip_equal(const struct gl_ip *a, const struct gl_ip *b);
bool gl_prefix_contains(const struct gl_prefix *p, const struct gl_ip *ip);
/* The prefix with host bits cleared. */
struct gl_prefix gl_prefix_masked(const struct gl_prefix *p);
/* First and last address of the prefix. */
struct gl_ip gl_prefix_first(const struct gl_prefix *p);
struct gl_ip gl_prefix_last(const struct gl_prefix *p);
/* ip + delta (may be negative); -ERANGE on wrap past the family's space. */
int gl_ip_add(const struct gl_ip *ip, int64_t delta, struct gl_ip *ret);
