/* UTF-8 as RFC 3629 defines it (no overlong forms, no surrogates, nothing
 * above U+10FFFF): what every message and every JSON document we write must
 * be, whatever bytes the input had. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* The length (1-4) of the valid character at s[0..len), or 0 when s does not
 * start with one. */
size_t gl_utf8_char_len(const char *s, size_t len);
/* true when s[0..len) is valid UTF-8; else false and *ret_bad (may be NULL)
 * is the offset of the first byte that is not. */
bool gl_utf8_valid(const char *s, size_t len, size_t *ret_bad);
/* The longest prefix of s[0..n) that does not end inside a character that
 * continues past n: where to cut s to at most n bytes. */
size_t gl_utf8_cut(const char *s, size_t n);
/* Copy s[0..len) into dst (size > 0 bytes, NUL included) as valid UTF-8: a
 * byte that starts no valid character becomes the text "\xNN"; stops before
 * the first character (or escape) that does not fit. Returns strlen(dst). */
size_t gl_utf8_sanitize(char *dst, size_t size, const char *s, size_t len);
