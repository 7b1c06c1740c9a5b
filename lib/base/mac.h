/* Ethernet MAC addresses: parsing, formatting, and the stable MAC of an identity. Pure. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define GL_MAC_STRLEN 18

/* MAC addresses "aa:bb:cc:dd:ee:ff". -EINVAL when s is not one. */
int gl_mac_parse(const char *s, uint8_t ret[6]);
const char *gl_mac_str(const uint8_t mac[6], char *buf, size_t size);

/* A locally administered unicast MAC derived from network, identity and
 * interface name: the same server gets the same MAC on any node. */
void gl_mac_stable(const char *network, const char *identity, const char *ifname, uint8_t ret[6]);
