/* Helpers shared by the cmocka unit tests. Header-only (static inline): each
 * tests/unit/test_X.c is its own binary linked with libgamelan.a, and inline
 * keeps -Wunused-function quiet in a test that needs only part of it.
 * Include after <cmocka.h>. */
#ifndef GAMELAN_TESTS_UNIT_H
#define GAMELAN_TESTS_UNIT_H

#include "ip.h"

/* A literal the test knows to be valid, parsed (the test fails otherwise). */
static inline struct gl_ip ip_of(const char *s)
{
	struct gl_ip ip;

	assert_int_equal(gl_ip_parse(s, &ip), 0);
	return ip;
}

static inline struct gl_prefix prefix_of(const char *s)
{
	struct gl_prefix p;

	assert_int_equal(gl_prefix_parse(s, &p), 0);
	return p;
}

#endif
