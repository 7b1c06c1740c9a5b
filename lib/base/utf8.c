#include "base/utf8.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t gl_utf8_char_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t n;

	if (len == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp > 0x10ffff)
		return 0;
	return n;
}

bool gl_utf8_valid(const char *s, size_t len, size_t *ret_bad)
{
	size_t i = 0;

	while (i < len) {
		size_t n = gl_utf8_char_len(s + i, len - i);

		if (n == 0) {
			if (ret_bad)
				*ret_bad = i;
			return false;
		}
		i += n;
	}
	return true;
}

size_t gl_utf8_cut(const char *s, size_t n)
{
	size_t i = n;

	/* Back over at most three continuation bytes to the lead byte of the
	 * last character that starts before n; drop it if it runs past n. */
	while (i > 0 && n - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xc0) {
		size_t need = (unsigned char)s[i - 1] >= 0xf0 ? 4 : (unsigned char)s[i - 1] >= 0xe0 ? 3 : 2;

		if (n - (i - 1) < need)
			return i - 1;
	}
	return n;
}

size_t gl_utf8_sanitize(char *dst, size_t size, const char *s, size_t len)
{
	size_t i = 0, o = 0;

	while (i < len) {
		size_t n = gl_utf8_char_len(s + i, len - i);

		if (n == 0) {
			if (o + 4 >= size)
				break;
			snprintf(dst + o, 5, "\\x%02x", (unsigned char)s[i]);
			o += 4;
			i++;
			continue;
		}
		if (o + n >= size)
			break;
		memcpy(dst + o, s + i, n);
		o += n;
		i += n;
	}
	dst[o] = '\0';
	return o;
}
