/* Address conflict detection (RFC 5227 ARP probe) and announcements
 * (gratuitous ARP, IPv6 unsolicited neighbour advertisement). Frame builders
 * and the parser are pure; the senders are thin. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "base/ip.h"

#define GL_ARP_FRAME_LEN 42   /* Ethernet header + ARP for IPv4 over Ethernet */
#define GL_NA_LEN 32          /* ICMPv6 NA + target link-layer address option */

struct gl_arp {
	uint16_t op;              /* 1 request, 2 reply */
	uint8_t eth_dst[6], eth_src[6];
	uint8_t sha[6], spa[4], tha[6], tpa[4];
};

/* Build an Ethernet frame carrying a; returns its length or -ENOSPC. */
int gl_arp_build(uint8_t *buf, size_t size, const struct gl_arp *a);
/* Parse an Ethernet ARP frame; -EBADMSG unless it is IPv4-over-Ethernet ARP. */
int gl_arp_parse(const uint8_t *frame, size_t len, struct gl_arp *ret);
/* The probe and the announcement of RFC 5227 section 2.1 and 2.3. */
struct gl_arp gl_arp_probe_msg(const uint8_t mac[6], const uint8_t ip[4]);
struct gl_arp gl_arp_announce_msg(const uint8_t mac[6], const uint8_t ip[4]);
/* Does a received ARP frame mean that someone else holds (or is probing
 * for) ip? */
int gl_arp_conflicts(const struct gl_arp *rx, const uint8_t our_mac[6], const uint8_t ip[4]);

/* An ICMPv6 neighbour advertisement payload (unsolicited, override set)
 * for target with our mac; returns its length. */
int gl_na_build(uint8_t *buf, size_t size, const uint8_t mac[6], const struct gl_ip *target);

/* Open a packet socket for ARP on ifindex (in the current netns). */
int gl_arp_open(int ifindex, int *ret_fd);
/* Send `probes` probes spread over wait_ms and listen until wait_ms has
 * passed. Returns 1 and the holder's MAC on conflict, 0 when nobody answered. */
int gl_arp_probe(int fd, int ifindex, const uint8_t mac[6], const struct gl_ip *ip, int probes,
		 int wait_ms, uint8_t ret_mac[6]);
int gl_arp_announce(int fd, int ifindex, const uint8_t mac[6], const struct gl_ip *ip);
/* Send an unsolicited NA for ip out of ifindex to all-nodes. */
int gl_na_send(int ifindex, const uint8_t mac[6], const struct gl_ip *ip);
