/* lib/ip.c: addresses, prefixes and MACs, parsed, formatted and counted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "base/ip.h"
#include "base/mac.h"
#include "unit.h"

/* Computed independently (FNV-1a 64 over the NUL-terminated parts
 * "gamelan-mac-v1", "lan", "games/dst-0", "eth0", then the murmur3 fmix64
 * finalizer, low byte first, bits 0-1 of octet 0 set to 10). */
#define GOLDEN_MAC "d6:0d:c5:ee:0a:f2"

static const char *ip_s(const struct gl_ip *ip)
{
	static char buf[4][GL_IP_STRLEN];
	static int n;

	return gl_ip_str(ip, buf[n++ % 4], GL_IP_STRLEN);
}

static void test_ip_parse_v4(void **state)
{
	struct gl_ip ip;
	static const uint8_t want[4] = { 192, 168, 1, 200 };

	assert_int_equal(gl_ip_parse("192.168.1.200", &ip), 0);
	assert_int_equal(ip.family, AF_INET);
	assert_memory_equal(ip.addr, want, 4);
	assert_int_equal(gl_ip_size(&ip), 4);
	/* The rest of the 16 bytes is zero, so that memcmp-based order holds. */
	for (int i = 4; i < 16; i++)
		assert_int_equal(ip.addr[i], 0);
	assert_string_equal(ip_s(&ip), "192.168.1.200");
}

static void test_ip_parse_v6(void **state)
{
	struct gl_ip ip;
	static const uint8_t want[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05 };

	assert_int_equal(gl_ip_parse("2001:db8::5", &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_memory_equal(ip.addr, want, 16);
	assert_int_equal(gl_ip_size(&ip), 16);
	assert_string_equal(ip_s(&ip), "2001:db8::5");
	/* Formatting is canonical (lower case, zeros compressed). */
	ip = ip_of("2001:0DB8:0000:0000:0000:0000:0000:0005");
	assert_string_equal(ip_s(&ip), "2001:db8::5");
}

static void test_ip_parse_v4_mapped(void **state)
{
	struct gl_ip ip;
	static const uint8_t want[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4 };

	/* An IPv4-mapped IPv6 address stays IPv6: it is not silently turned
	 * into 1.2.3.4 (which would make two spellings of one reservation). */
	assert_int_equal(gl_ip_parse("::ffff:1.2.3.4", &ip), 0);
	assert_int_equal(ip.family, AF_INET6);
	assert_memory_equal(ip.addr, want, 16);
	assert_false(gl_ip_equal(&ip, &(struct gl_ip){ .family = AF_INET, .addr = { 1, 2, 3, 4 } }));
}

static void test_ip_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/24",
		"a.b.c.d", "::g", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "x", "-1.2.3.4",
	};
	struct gl_ip ip = { .family = 77 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad ip \"%s\"\n", bad[i]);
		assert_int_equal(gl_ip_parse(bad[i], &ip), -EINVAL);
	}
	assert_int_equal(gl_ip_parse(NULL, &ip), -EINVAL);
	/* ret_ is written only on success. */
	assert_int_equal(ip.family, 77);
}

static void test_prefix_parse(void **state)
{
	struct gl_prefix p;
	char buf[GL_PREFIX_STRLEN];

	p = prefix_of("192.168.1.5/24");
	assert_int_equal(p.ip.family, AF_INET);
	assert_int_equal(p.len, 24);
	/* Host bits are kept as given. */
	assert_string_equal(ip_s(&p.ip), "192.168.1.5");
	assert_string_equal(gl_prefix_str(&p, buf, sizeof(buf)), "192.168.1.5/24");

	p = prefix_of("0.0.0.0/0");
	assert_int_equal(p.len, 0);
	p = prefix_of("10.0.0.1/32");
	assert_int_equal(p.len, 32);

	p = prefix_of("2001:db8::1/64");
	assert_int_equal(p.ip.family, AF_INET6);
	assert_int_equal(p.len, 64);
	assert_string_equal(gl_prefix_str(&p, buf, sizeof(buf)), "2001:db8::1/64");
	p = prefix_of("::/0");
	assert_int_equal(p.len, 0);
	p = prefix_of("::1/128");
	assert_int_equal(p.len, 128);
	/* A v6 address with a v4 tail is still v6 and may be /128. */
	p = prefix_of("::ffff:1.2.3.4/120");
	assert_int_equal(p.ip.family, AF_INET6);
	assert_int_equal(p.len, 120);
}

static void test_prefix_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "1.2.3.4", "1.2.3/24", "1.2.3.4/33", "1.2.3.4/", "1.2.3.4/x", "/24", "/",
		"::/129", "1.2.3.4/-1", "1.2.3.4/+8", "1.2.3.4/ 8", "1.2.3.4/8 ", "1.2.3.4/8x",
		"1.2.3.4/24/24", "1.2.3.4/99999999999999999999", "1.2.3.4//24", "::1/", "x/8",
		"1.2.3.4/256", "1.2.3.4/4294967320",
	};
	struct gl_prefix p = { .len = 99 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad prefix \"%s\"\n", bad[i]);
		assert_int_equal(gl_prefix_parse(bad[i], &p), -EINVAL);
	}
	assert_int_equal(gl_prefix_parse(NULL, &p), -EINVAL);
	assert_int_equal(p.len, 99);
	/* An over-long address part must not overflow the parser's buffer. */
	{
		char big[200];

		memset(big, '1', sizeof(big));
		big[150] = '/';
		big[151] = '8';
		big[152] = '\0';
		assert_int_equal(gl_prefix_parse(big, &p), -EINVAL);
	}
}

static void test_ip_str_unset(void **state)
{
	struct gl_ip ip = {0};
	char buf[GL_IP_STRLEN];

	assert_string_equal(gl_ip_str(&ip, buf, sizeof(buf)), "?");
}

static void test_ip_cmp(void **state)
{
	struct gl_ip a = ip_of("192.168.1.2"), b = ip_of("192.168.1.10"), c = ip_of("10.0.0.1");
	struct gl_ip v6 = ip_of("::1"), a2 = ip_of("192.168.1.2");

	assert_true(gl_ip_cmp(&a, &b) < 0);
	assert_true(gl_ip_cmp(&b, &a) > 0);
	assert_true(gl_ip_cmp(&c, &a) < 0);
	assert_int_equal(gl_ip_cmp(&a, &a2), 0);
	assert_true(gl_ip_equal(&a, &a2));
	assert_false(gl_ip_equal(&a, &b));
	/* Family first: every v4 address sorts before every v6 one. */
	assert_true(gl_ip_cmp(&b, &v6) < 0);
	assert_true(gl_ip_cmp(&v6, &c) > 0);
	assert_true(gl_ip_cmp(&(struct gl_ip){0}, &c) < 0);
	{
		struct gl_ip x = ip_of("2001:db8::1"), y = ip_of("2001:db8::1:0");

		assert_true(gl_ip_cmp(&x, &y) < 0);
	}
}

static void test_prefix_contains(void **state)
{
	struct gl_prefix p = prefix_of("192.168.1.77/24");
	struct gl_prefix any = prefix_of("0.0.0.0/0");
	struct gl_prefix host = prefix_of("192.168.1.200/32");
	struct gl_prefix odd = prefix_of("192.168.1.200/29");
	struct gl_prefix v6 = prefix_of("2001:db8::/32");
	struct gl_ip in = ip_of("192.168.1.200"), out = ip_of("192.168.2.1");

	assert_true(gl_prefix_contains(&p, &in));
	assert_true(gl_prefix_contains(&p, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 0 } }));
	assert_true(gl_prefix_contains(&p, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 255 } }));
	assert_false(gl_prefix_contains(&p, &out));
	assert_true(gl_prefix_contains(&any, &out));
	assert_true(gl_prefix_contains(&host, &in));
	assert_false(gl_prefix_contains(&host, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 201 } }));
	/* A non-octet boundary: /29 of .200 is .200-.207. */
	assert_true(gl_prefix_contains(&odd, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 207 } }));
	assert_false(gl_prefix_contains(&odd, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 208 } }));
	assert_false(gl_prefix_contains(&odd, &(struct gl_ip){ .family = AF_INET, .addr = { 192, 168, 1, 199 } }));
	/* Families never mix, even for 0/0. */
	assert_false(gl_prefix_contains(&any, &(struct gl_ip){ .family = AF_INET6 }));
	assert_false(gl_prefix_contains(&v6, &in));
	assert_true(gl_prefix_contains(&v6, &(struct gl_ip){ .family = AF_INET6, .addr = { 0x20, 0x01, 0x0d, 0xb8, 0xff } }));
	assert_false(gl_prefix_contains(&v6, &(struct gl_ip){ .family = AF_INET6, .addr = { 0x20, 0x01, 0x0d, 0xb9 } }));
}

static void test_prefix_masked_first_last(void **state)
{
	struct {
		const char *in, *masked, *first, *last;
	} cases[] = {
		{ "192.168.1.77/24", "192.168.1.0/24", "192.168.1.0", "192.168.1.255" },
		{ "192.168.1.205/29", "192.168.1.200/29", "192.168.1.200", "192.168.1.207" },
		{ "10.1.2.3/8", "10.0.0.0/8", "10.0.0.0", "10.255.255.255" },
		{ "10.1.2.3/32", "10.1.2.3/32", "10.1.2.3", "10.1.2.3" },
		{ "10.1.2.3/31", "10.1.2.2/31", "10.1.2.2", "10.1.2.3" },
		{ "10.1.2.3/0", "0.0.0.0/0", "0.0.0.0", "255.255.255.255" },
		{ "172.16.200.9/12", "172.16.0.0/12", "172.16.0.0", "172.31.255.255" },
		{ "2001:db8:1:2:3:4:5:6/64", "2001:db8:1:2::/64", "2001:db8:1:2::", "2001:db8:1:2:ffff:ffff:ffff:ffff" },
		{ "2001:db8::1/127", "2001:db8::/127", "2001:db8::", "2001:db8::1" },
		{ "2001:db8::abcd/125", "2001:db8::abc8/125", "2001:db8::abc8", "2001:db8::abcf" },
		{ "::1/0", "::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" },
	};
	char buf[GL_PREFIX_STRLEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gl_prefix p = prefix_of(cases[i].in), m = gl_prefix_masked(&p);
		struct gl_ip first = gl_prefix_first(&p), last = gl_prefix_last(&p);

		print_message("%s\n", cases[i].in);
		assert_string_equal(gl_prefix_str(&m, buf, sizeof(buf)), cases[i].masked);
		assert_string_equal(ip_s(&first), cases[i].first);
		assert_string_equal(ip_s(&last), cases[i].last);
		assert_int_equal(m.len, p.len);
		/* The input is not modified. */
		assert_string_equal(gl_prefix_str(&p, buf, sizeof(buf)), cases[i].in);
	}
}

static void test_ip_add(void **state)
{
	struct {
		const char *ip;
		int64_t delta;
		const char *want;   /* NULL: -ERANGE */
	} cases[] = {
		{ "192.168.1.200", 1, "192.168.1.201" },
		{ "192.168.1.200", 0, "192.168.1.200" },
		{ "192.168.1.255", 1, "192.168.2.0" },          /* carry */
		{ "192.168.255.255", 1, "192.169.0.0" },        /* carry twice */
		{ "10.0.0.0", 65536 + 256 + 1, "10.1.1.1" },
		{ "192.168.2.0", -1, "192.168.1.255" },         /* borrow */
		{ "192.169.0.0", -1, "192.168.255.255" },
		{ "10.1.1.1", -(65536 + 256 + 1), "10.0.0.0" },
		{ "0.0.0.0", 0xffffffffLL, "255.255.255.255" },
		{ "255.255.255.255", -0xffffffffLL, "0.0.0.0" },
		{ "255.255.255.255", 1, NULL },                  /* wrap */
		{ "0.0.0.0", -1, NULL },
		{ "0.0.0.1", 0xffffffffLL, NULL },
		{ "0.0.0.0", 0x100000000LL, NULL },
		{ "10.0.0.0", INT64_MAX, NULL },
		{ "10.0.0.0", INT64_MIN, NULL },
		{ "2001:db8::ffff", 1, "2001:db8::1:0" },
		{ "2001:db8::1:0", -1, "2001:db8::ffff" },
		{ "2001:db8::", INT64_MAX, "2001:db8::7fff:ffff:ffff:ffff" },
		{ "2001:db8::7fff:ffff:ffff:ffff", INT64_MIN + 1, "2001:db8::" },
		{ "::ffff:ffff:ffff:ffff", 1, "0:0:0:1::" },  /* carry across 64 bits */
		{ "0:0:0:1::", -1, "::ffff:ffff:ffff:ffff" },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 1, NULL },
		{ "::", -1, NULL },
		{ "::", INT64_MIN, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gl_ip a = ip_of(cases[i].ip), r = { .family = 99 };
		int rc = gl_ip_add(&a, cases[i].delta, &r);

		print_message("%s + %lld\n", cases[i].ip, (long long)cases[i].delta);
		if (!cases[i].want) {
			assert_int_equal(rc, -ERANGE);
			assert_int_equal(r.family, 99);   /* untouched on failure */
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(r.family, a.family);
			assert_string_equal(ip_s(&r), cases[i].want);
		}
	}
}

static void test_mac_parse(void **state)
{
	uint8_t mac[6];
	char buf[GL_MAC_STRLEN];
	static const uint8_t want[6] = { 0x02, 0x42, 0xac, 0x11, 0x00, 0xff };

	assert_int_equal(gl_mac_parse("02:42:ac:11:00:ff", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_string_equal(gl_mac_str(mac, buf, sizeof(buf)), "02:42:ac:11:00:ff");
	assert_int_equal(strlen(buf), GL_MAC_STRLEN - 1);
	/* Upper case in, lower case out. */
	assert_int_equal(gl_mac_parse("02:42:AC:11:00:FF", mac), 0);
	assert_memory_equal(mac, want, 6);
	assert_int_equal(gl_mac_parse("ff:ff:ff:ff:ff:ff", mac), 0);
	assert_string_equal(gl_mac_str(mac, buf, sizeof(buf)), "ff:ff:ff:ff:ff:ff");
}

static void test_mac_parse_bad(void **state)
{
	static const char *const bad[] = {
		"", "02:42:ac:11:00", "02:42:ac:11:00:f", "02:42:ac:11:00:ff:", "02:42:ac:11:00:ff:00",
		"02-42-ac-11-00-ff", "02.42.ac.11.00.ff", "0242.ac11.00ff", "02:42:ac:11:00-ff",
		"024:2a:c1:10:0f:f0", "02:42:ac:11:00:fg", "zz:42:ac:11:00:ff", "02:42:ac:11:00:f ",
		/* Things sscanf("%2x") would take but that are not hex digits. */
		" 2:42:ac:11:00:ff", "+2:42:ac:11:00:ff", "-1:42:ac:11:00:ff", "02: 2:ac:11:00:ff",
		"02:42:ac:11:00:+f", "0x:42:ac:11:00:ff", "02:42:ac:11:00:ff\n",
	};
	uint8_t mac[6] = { 9, 9, 9, 9, 9, 9 };
	static const uint8_t untouched[6] = { 9, 9, 9, 9, 9, 9 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("bad mac \"%s\"\n", bad[i]);
		assert_int_equal(gl_mac_parse(bad[i], mac), -EINVAL);
		assert_memory_equal(mac, untouched, 6);
	}
	assert_int_equal(gl_mac_parse(NULL, mac), -EINVAL);
}

static void test_mac_stable(void **state)
{
	uint8_t a[6], b[6], c[6];
	char buf[GL_MAC_STRLEN];

	gl_mac_stable("lan", "games/dst-0", "eth0", a);
	gl_mac_stable("lan", "games/dst-0", "eth0", b);
	assert_memory_equal(a, b, 6);
	/* Locally administered (bit 1 set), unicast (bit 0 clear). */
	assert_int_equal(a[0] & 0x03, 0x02);

	gl_mac_stable("lan", "games/dst-1", "eth0", c);
	assert_memory_not_equal(a, c, 6);
	gl_mac_stable("lan2", "games/dst-0", "eth0", c);
	assert_memory_not_equal(a, c, 6);
	gl_mac_stable("lan", "games/dst-0", "eth1", c);
	assert_memory_not_equal(a, c, 6);
	/* Parts are separated: moving a character across a boundary changes it. */
	gl_mac_stable("la", "ngames/dst-0", "eth0", c);
	assert_memory_not_equal(a, c, 6);

	/* The pattern holds for many identities, and they do not collide. */
	{
		uint8_t seen[200][6];

		for (int i = 0; i < 200; i++) {
			char id[32];

			snprintf(id, sizeof(id), "games/srv-%d", i);
			gl_mac_stable("lan", id, "eth0", seen[i]);
			assert_int_equal(seen[i][0] & 0x03, 0x02);
			for (int j = 0; j < i; j++)
				assert_memory_not_equal(seen[i], seen[j], 6);
		}
	}
	/* Pinned: a MAC is state on other hosts' ARP caches and DHCP-less
	 * routers; a change of hash would move every server's MAC on upgrade. */
	gl_mac_stable("lan", "games/dst-0", "eth0", a);
	print_message("stable mac: %s\n", gl_mac_str(a, buf, sizeof(buf)));
	assert_string_equal(gl_mac_str(a, buf, sizeof(buf)), GOLDEN_MAC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ip_parse_v4),
		cmocka_unit_test(test_ip_parse_v6),
		cmocka_unit_test(test_ip_parse_v4_mapped),
		cmocka_unit_test(test_ip_parse_bad),
		cmocka_unit_test(test_prefix_parse),
		cmocka_unit_test(test_prefix_parse_bad),
		cmocka_unit_test(test_ip_str_unset),
		cmocka_unit_test(test_ip_cmp),
		cmocka_unit_test(test_prefix_contains),
		cmocka_unit_test(test_prefix_masked_first_last),
		cmocka_unit_test(test_ip_add),
		cmocka_unit_test(test_mac_parse),
		cmocka_unit_test(test_mac_parse_bad),
		cmocka_unit_test(test_mac_stable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
