/* lib/arp.c: RFC 5227 probe/announce frames, the conflict rule and the
 * IPv6 neighbour advertisement, built and parsed without a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "net/arp.h"

static const uint8_t our_mac[6] = { 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30 };
static const uint8_t other_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t zero6[6];
static const uint8_t zero4[4];
static const uint8_t cand[4] = { 192, 168, 1, 200 };
static const uint8_t gw[4] = { 192, 168, 1, 1 };
static const uint8_t lanp[4] = { 192, 168, 1, 77 };

static void test_build_layout(void **state)
{
	struct gl_arp a = { .op = 2 };
	uint8_t f[64];
	static const uint8_t want[GL_ARP_FRAME_LEN] = {
		/* Ethernet: dst, src, type 0x0806 */
		0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 0x08, 0x06,
		/* htype 1, ptype 0x0800, hlen 6, plen 4, op 2 */
		0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
		/* sha, spa */
		0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, 192, 168, 1, 200,
		/* tha, tpa */
		0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc, 192, 168, 1, 77,
	};

	memcpy(a.eth_dst, other_mac, 6);
	memcpy(a.eth_src, our_mac, 6);
	memcpy(a.sha, our_mac, 6);
	memcpy(a.spa, cand, 4);
	memcpy(a.tha, other_mac, 6);
	memcpy(a.tpa, lanp, 4);
	memset(f, 0xee, sizeof(f));
	assert_int_equal(gl_arp_build(f, sizeof(f), &a), GL_ARP_FRAME_LEN);
	assert_memory_equal(f, want, GL_ARP_FRAME_LEN);
	/* Nothing written past the frame. */
	for (size_t i = GL_ARP_FRAME_LEN; i < sizeof(f); i++)
		assert_int_equal(f[i], 0xee);
	/* Too small a buffer: refused, untouched. */
	memset(f, 0xee, sizeof(f));
	assert_int_equal(gl_arp_build(f, GL_ARP_FRAME_LEN - 1, &a), -ENOSPC);
	assert_int_equal(f[0], 0xee);
}

static void test_round_trip(void **state)
{
	struct gl_arp a = { .op = 1 }, b;
	uint8_t f[GL_ARP_FRAME_LEN + 18];

	for (int i = 0; i < 6; i++) {
		a.eth_dst[i] = (uint8_t)(0x10 + i);
		a.eth_src[i] = (uint8_t)(0x20 + i);
		a.sha[i] = (uint8_t)(0x30 + i);
		a.tha[i] = (uint8_t)(0x40 + i);
	}
	for (int i = 0; i < 4; i++) {
		a.spa[i] = (uint8_t)(0x50 + i);
		a.tpa[i] = (uint8_t)(0x60 + i);
	}
	assert_int_equal(gl_arp_build(f, sizeof(f), &a), GL_ARP_FRAME_LEN);
	memset(&b, 0, sizeof(b));
	assert_int_equal(gl_arp_parse(f, GL_ARP_FRAME_LEN, &b), 0);
	assert_int_equal(b.op, 1);
	assert_memory_equal(b.eth_dst, a.eth_dst, 6);
	assert_memory_equal(b.eth_src, a.eth_src, 6);
	assert_memory_equal(b.sha, a.sha, 6);
	assert_memory_equal(b.spa, a.spa, 4);
	assert_memory_equal(b.tha, a.tha, 6);
	assert_memory_equal(b.tpa, a.tpa, 4);
	/* Ethernet pads short frames to 60 bytes: trailing bytes are fine. */
	memset(f + GL_ARP_FRAME_LEN, 0, 18);
	assert_int_equal(gl_arp_parse(f, sizeof(f), &b), 0);
	assert_int_equal(b.op, 1);

	/* A high opcode byte survives too (op is 16 bits on the wire). */
	a.op = 0x0102;
	assert_int_equal(gl_arp_build(f, sizeof(f), &a), GL_ARP_FRAME_LEN);
	assert_int_equal(gl_arp_parse(f, GL_ARP_FRAME_LEN, &b), 0);
	assert_int_equal(b.op, 0x0102);
}

static void test_probe_shape(void **state)
{
	struct gl_arp p = gl_arp_probe_msg(our_mac, cand), back;
	uint8_t f[GL_ARP_FRAME_LEN];

	/* RFC 5227 2.1.1: request, sender hardware = ours, sender IP all
	 * zeroes, target hardware zeroes, target IP the candidate; broadcast. */
	assert_int_equal(p.op, 1);
	assert_memory_equal(p.eth_dst, bcast, 6);
	assert_memory_equal(p.eth_src, our_mac, 6);
	assert_memory_equal(p.sha, our_mac, 6);
	assert_memory_equal(p.spa, zero4, 4);
	assert_memory_equal(p.tha, zero6, 6);
	assert_memory_equal(p.tpa, cand, 4);
	/* The same on the wire. */
	assert_int_equal(gl_arp_build(f, sizeof(f), &p), GL_ARP_FRAME_LEN);
	assert_memory_equal(f, bcast, 6);
	assert_int_equal(f[20], 0);
	assert_int_equal(f[21], 1);
	assert_memory_equal(f + 28, zero4, 4);
	assert_memory_equal(f + 32, zero6, 6);
	assert_memory_equal(f + 38, cand, 4);
	assert_int_equal(gl_arp_parse(f, sizeof(f), &back), 0);
	assert_memory_equal(&back.tpa, cand, 4);
}

static void test_announce_shape(void **state)
{
	struct gl_arp a = gl_arp_announce_msg(our_mac, cand);

	/* RFC 5227 2.3: like a probe, but sender and target IP both ours. */
	assert_int_equal(a.op, 1);
	assert_memory_equal(a.eth_dst, bcast, 6);
	assert_memory_equal(a.eth_src, our_mac, 6);
	assert_memory_equal(a.sha, our_mac, 6);
	assert_memory_equal(a.spa, cand, 4);
	assert_memory_equal(a.tpa, cand, 4);
	assert_memory_equal(a.tha, zero6, 6);
}

static struct gl_arp frame(uint16_t op, const uint8_t sha[6], const uint8_t spa[4],
			   const uint8_t tha[6], const uint8_t tpa[4])
{
	struct gl_arp a = { .op = op };

	memcpy(a.eth_dst, bcast, 6);
	memcpy(a.eth_src, sha, 6);
	memcpy(a.sha, sha, 6);
	memcpy(a.spa, spa, 4);
	memcpy(a.tha, tha, 6);
	memcpy(a.tpa, tpa, 4);
	return a;
}

static void test_conflicts(void **state)
{
	struct gl_arp rx;

	/* The holder answers our probe. */
	rx = frame(2, other_mac, cand, our_mac, zero4);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 1);
	/* The holder's own request (e.g. for the gateway) shows it uses the IP. */
	rx = frame(1, other_mac, cand, zero6, gw);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 1);
	/* Its gratuitous announcement too. */
	rx = gl_arp_announce_msg(other_mac, cand);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 1);
	/* Someone else probing for the same address at the same time. */
	rx = gl_arp_probe_msg(other_mac, cand);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 1);

	/* Our own probe and announcement, looped back: not a conflict. */
	rx = gl_arp_probe_msg(our_mac, cand);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);
	rx = gl_arp_announce_msg(our_mac, cand);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);

	/* Unrelated traffic. */
	rx = frame(1, other_mac, lanp, zero6, gw);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);
	rx = frame(2, other_mac, gw, our_mac, lanp);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);
	rx = gl_arp_probe_msg(other_mac, lanp);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);
	/* A host asking who has the candidate (with its own sender IP) is not
	 * using it: no conflict (RFC 5227 only counts probes for the target). */
	rx = frame(1, other_mac, lanp, zero6, cand);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);
	/* A reply with sender 0.0.0.0 and target the candidate is not a probe. */
	rx = frame(2, other_mac, zero4, zero6, cand);
	assert_int_equal(gl_arp_conflicts(&rx, our_mac, cand), 0);
}

static void test_parse_rejects(void **state)
{
	struct gl_arp a = gl_arp_probe_msg(our_mac, cand), r;
	uint8_t good[GL_ARP_FRAME_LEN], f[GL_ARP_FRAME_LEN];
	static const struct {
		int off;
		uint8_t val;
		const char *what;
	} mut[] = {
		{ 13, 0x00, "ethertype IPv4 (0x0800)" }, { 13, 0x35, "ethertype RARP (0x8035)" },
		{ 12, 0x86, "ethertype high byte (0x8606)" },
		{ 14, 0x01, "htype high byte" }, { 15, 0x06, "htype IEEE 802 (6)" },
		{ 16, 0x86, "ptype IPv6" }, { 17, 0x01, "ptype low byte" },
		{ 18, 8, "hlen 8" }, { 19, 16, "plen 16" },
	};

	assert_int_equal(gl_arp_build(good, sizeof(good), &a), GL_ARP_FRAME_LEN);
	/* Every length short of the full frame. */
	for (size_t len = 0; len < GL_ARP_FRAME_LEN; len++) {
		uint8_t *h = malloc(len ? len : 1);

		memcpy(h, good, len);
		assert_int_equal(gl_arp_parse(h, len, &r), -EBADMSG);
		free(h);
	}
	for (size_t i = 0; i < sizeof(mut) / sizeof(mut[0]); i++) {
		print_message("%s\n", mut[i].what);
		memcpy(f, good, sizeof(f));
		f[mut[i].off] = mut[i].val;
		assert_int_equal(gl_arp_parse(f, sizeof(f), &r), -EBADMSG);
	}
	/* A VLAN-tagged frame (0x8100) is not ours to read either. */
	memcpy(f, good, sizeof(f));
	f[12] = 0x81;
	f[13] = 0x00;
	assert_int_equal(gl_arp_parse(f, sizeof(f), &r), -EBADMSG);
}

static void test_parse_random(void **state)
{
	/* Random frames never crash the parser and, when accepted, always had
	 * the ARP header. */
	uint8_t f[64];
	struct gl_arp r;

	srand(5227);
	for (int n = 0; n < 5000; n++) {
		size_t len = (size_t)rand() % sizeof(f);

		for (size_t i = 0; i < len; i++)
			f[i] = (uint8_t)rand();
		if (n % 2 && len >= 22) {
			/* Half of them get a valid header, to reach the copying. */
			static const uint8_t hdr[8] = { 0, 1, 8, 0, 6, 4 };

			f[12] = 0x08;
			f[13] = 0x06;
			memcpy(f + 14, hdr, 6);
		}
		if (gl_arp_parse(f, len, &r) == 0) {
			assert_true(len >= GL_ARP_FRAME_LEN);
			assert_int_equal(f[12], 0x08);
			assert_int_equal(f[13], 0x06);
			assert_memory_equal(r.sha, f + 22, 6);
			assert_memory_equal(r.tpa, f + 38, 4);
		}
	}
}

static void test_na_layout(void **state)
{
	struct gl_ip t;
	uint8_t buf[64];

	assert_int_equal(gl_ip_parse("2001:db8::c8", &t), 0);
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(gl_na_build(buf, sizeof(buf), our_mac, &t), GL_NA_LEN);
	assert_int_equal(GL_NA_LEN, 32);
	assert_int_equal(buf[0], 136);          /* neighbour advertisement */
	assert_int_equal(buf[1], 0);            /* code */
	assert_int_equal(buf[2], 0);            /* checksum: the kernel's */
	assert_int_equal(buf[3], 0);
	/* R=0x80 S=0x40 O=0x20: unsolicited, override, not a router. */
	assert_int_equal(buf[4], 0x20);
	assert_int_equal(buf[5], 0);
	assert_int_equal(buf[6], 0);
	assert_int_equal(buf[7], 0);
	assert_memory_equal(buf + 8, t.addr, 16);
	assert_int_equal(buf[24], 2);           /* target link-layer address */
	assert_int_equal(buf[25], 1);           /* 8 bytes */
	assert_memory_equal(buf + 26, our_mac, 6);
	for (size_t i = GL_NA_LEN; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);

	/* Too small, or not IPv6: refused. */
	assert_true(gl_na_build(buf, GL_NA_LEN - 1, our_mac, &t) < 0);
	assert_int_equal(gl_ip_parse("192.168.1.200", &t), 0);
	memset(buf, 0xee, sizeof(buf));
	assert_true(gl_na_build(buf, sizeof(buf), our_mac, &t) < 0);
	assert_int_equal(buf[0], 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_layout),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_probe_shape),
		cmocka_unit_test(test_announce_shape),
		cmocka_unit_test(test_conflicts),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_parse_random),
		cmocka_unit_test(test_na_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
