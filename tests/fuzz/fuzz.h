/* Shared by the fuzz harnesses (one per parser of untrusted bytes, each a
 * libFuzzer LLVMFuzzerTestOneInput): built with clang -fsanitize=fuzzer by
 * `make fuzz`, and linked with replay.c by the gcc build so that `make check`
 * replays every corpus file under ASan. Header-only (static inline). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/err.h"
#include "base/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A harness's verdict on one input: a broken property ends the run here,
 * named by file and line, and the replay in `make check` counts it as a
 * failed case (as libFuzzer saves the input as a crash). */
static inline void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "fuzz: %s:%d: %s\n", file, line, what);
	abort();
}
#define FUZZ_FAIL(what) fuzz_fail(__FILE__, __LINE__, (what))
/* FUZZ_SELFTEST (a build for checking that the harnesses can fail) makes
 * every error-message check fail. */
#ifdef FUZZ_SELFTEST
#define FUZZ_SELFTEST_ON 1
#else
#define FUZZ_SELFTEST_ON 0
#endif

/* The input as a NUL-terminated string (the parsers that take C strings). */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		FUZZ_FAIL("out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A failure's message must be terminated and valid UTF-8, whatever the input. */
static inline void fuzz_check_err(const struct gl_err *e)
{
	size_t m = strnlen(e->msg, sizeof(e->msg)), d = strnlen(e->details, sizeof(e->details));

	if (FUZZ_SELFTEST_ON || m == sizeof(e->msg) || d == sizeof(e->details) ||
	    !gl_utf8_valid(e->msg, m, NULL) || !gl_utf8_valid(e->details, d, NULL))
		FUZZ_FAIL("error message not terminated or not valid UTF-8");
}

/* Split the input at the first "\n\n": head (NUL-terminated, may be empty)
 * and the rest. Returns the head's length, or -1 without a separator. */
static inline long fuzz_split(const uint8_t *data, size_t size, const uint8_t **ret_rest,
			      size_t *ret_rest_len)
{
	for (size_t i = 0; i + 1 < size; i++) {
		if (data[i] == '\n' && data[i + 1] == '\n') {
			*ret_rest = data + i + 2;
			*ret_rest_len = size - i - 2;
			return (long)i;
		}
	}
	return -1;
}
