#include "base/err.h"
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <wchar.h>
#include "base/utf8.h"

int gl_err_errno(int code)
{
	switch (code) {
	case GL_ERR_VERSION: return -ENOTSUP;
	case GL_ERR_UNKNOWN_CONTAINER: return -ENOENT;
	case GL_ERR_IO: return -EIO;
	case GL_ERR_DECODE: return -EBADMSG;
	case GL_ERR_TRY_AGAIN: return -EAGAIN;
	case GL_ERR_NOT_AVAILABLE:
	case GL_ERR_LIMITED: return -EBUSY;
	case GL_ERR_POOL_EXHAUSTED: return -ENOSPC;
	case GL_ERR_PIN_CONFLICT:
	case GL_ERR_ADDR_IN_USE: return -EADDRINUSE;
	case GL_ERR_STORE:
	case GL_ERR_NETLINK:
	case GL_ERR_DELEGATE: return -EIO;
	case GL_ERR_INTERNAL: return -EPROTO;
	default: return -EINVAL;
	}
}

/* Copy fmt into buf with each "%.Ns" lowered so that the string argument is
 * cut at a character boundary, not inside a multi-byte character. Walks the
 * arguments as vsnprintf will (the format attribute checked their types).
 * Returns fmt itself when it has nothing to lower or a form not handled here
 * (positional arguments, "%.*s"): err_format's sanitizing still keeps the
 * message valid then. */
__attribute__((format_arg(1)))
static const char *fmt_char_precision(const char *fmt, va_list ap0, char *buf, size_t size)
{
	va_list ap;
	size_t o = 0;
	bool changed = false;

	va_copy(ap, ap0);
	for (const char *p = fmt; *p;) {
		const char *conv = p;
		long prec = -1;
		int lng = 0;
		bool star_prec = false;

		if (*p != '%') {
			if (o + 1 >= size)
				goto original;
			buf[o++] = *p++;
			continue;
		}
		p++;
		if (*p == '%') {
			p++;
			goto copy;
		}
		while (*p && strchr("-+ #0'", *p))
			p++;
		if (*p == '*') {
			(void)va_arg(ap, int);
			p++;
		}
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '$')
			goto original;
		if (*p == '.') {
			p++;
			if (*p == '*') {
				star_prec = true;
				prec = va_arg(ap, int);
				p++;
			} else {
				prec = 0;
				while (*p >= '0' && *p <= '9' && prec < 1000000)
					prec = prec * 10 + (*p++ - '0');
			}
		}
		/* lng: 1 h/hh (promoted to int), 2 l, 3 ll/q, 4 j, 5 z, 6 t, 7 L */
		for (;; p++) {
			if (*p == 'h')
				lng = lng ? lng : 1;
			else if (*p == 'l')
				lng = lng == 2 ? 3 : 2;
			else if (*p == 'q')
				lng = 3;
			else if (*p == 'j')
				lng = 4;
			else if (*p == 'z')
				lng = 5;
			else if (*p == 't')
				lng = 6;
			else if (*p == 'L')
				lng = 7;
			else
				break;
		}
		switch (*p) {
		case 'd': case 'i': case 'o': case 'u': case 'x': case 'X':
			if (lng <= 1)
				(void)va_arg(ap, int);
			else if (lng == 2)
				(void)va_arg(ap, long);
			else if (lng == 3)
				(void)va_arg(ap, long long);
			else if (lng == 4)
				(void)va_arg(ap, intmax_t);
			else if (lng == 5)
				(void)va_arg(ap, size_t);
			else
				(void)va_arg(ap, ptrdiff_t);
			break;
		case 'e': case 'E': case 'f': case 'F': case 'g': case 'G': case 'a': case 'A':
			if (lng == 7)
				(void)va_arg(ap, long double);
			else
				(void)va_arg(ap, double);
			break;
		case 'c':
			if (lng == 2)
				(void)va_arg(ap, wint_t);
			else
				(void)va_arg(ap, int);
			break;
		case 'p': case 'n':
			(void)va_arg(ap, void *);
			break;
		case 'm':
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			size_t n;

			if (lng != 0 || prec < 0 || !s)
				break;
			if (star_prec)
				goto original;
			n = strnlen(s, (size_t)prec);
			if (n < (size_t)prec)
				break;
			n = gl_utf8_cut(s, n);
			if (n == (size_t)prec)
				break;
			p++;
			{
				/* Keep the flags and width; write the lowered precision. */
				const char *dot = strchr(conv, '.');
				int w = snprintf(buf + o, size - o, "%.*s.%zus", (int)(dot - conv), conv, n);

				if (w < 0 || (size_t)w >= size - o)
					goto original;
				o += (size_t)w;
				changed = true;
			}
			continue;
		}
		default:
			goto original;
		}
		p++;
copy:
		if (o + (size_t)(p - conv) >= size)
			goto original;
		memcpy(buf + o, conv, (size_t)(p - conv));
		o += (size_t)(p - conv);
	}
	va_end(ap);
	if (!changed)
		return fmt;
	buf[o] = '\0';
	return buf;
original:
	va_end(ap);
	return fmt;
}

/* Format into dst (size bytes) as valid UTF-8: string arguments cut by a
 * precision end on a character boundary, output longer than dst is cut on
 * one too, and bytes that are not UTF-8 (raw input) are escaped. */
__attribute__((format(printf, 3, 0)))
static void err_format(char *dst, size_t size, const char *fmt, va_list ap)
{
	char f[256], tmp[GL_ERR_DETAILS_MAX];
	size_t len, room = size < sizeof(tmp) ? size : sizeof(tmp);
	int n;

	n = vsnprintf(tmp, room, fmt_char_precision(fmt, ap, f, sizeof(f)), ap);
	if (n < 0)
		n = 0;
	len = (size_t)n;
	if (len >= room)
		len = gl_utf8_cut(tmp, room - 1);
	gl_utf8_sanitize(dst, size, tmp, len);
}

__attribute__((format(printf, 4, 0)))
static int err_vset(struct gl_err *err, int errnum, int code, const char *fmt, va_list ap)
{
	char msg[GL_ERR_MSG_MAX];

	if (errnum >= 0)
		errnum = gl_err_errno(code);
	if (err) {
		/* fmt's arguments may point into err->msg itself. */
		err_format(msg, sizeof(msg), fmt, ap);
		memcpy(err->msg, msg, sizeof(msg));
		err->code = code;
		err->errnum = errnum;
	}
	return errnum;
}

/* The errno that err's recorded cause stands for. */
static int err_recorded(const struct gl_err *err)
{
	return err->errnum < 0 ? err->errnum : gl_err_errno(err->code);
}

int gl_err_set(struct gl_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	/* The innermost cause is the most useful one; keep it. */
	if (err && err->code != 0)
		return err_recorded(err);
	va_start(ap, fmt);
	r = err_vset(err, 0, code, fmt, ap);
	va_end(ap);
	return r;
}

int gl_err_from(struct gl_err *err, int r, int code, const char *fmt, ...)
{
	va_list ap;

	if (r >= 0)
		r = -EIO;
	if (err && err->code != 0)
		return err_recorded(err);
	va_start(ap, fmt);
	r = err_vset(err, r, code, fmt, ap);
	va_end(ap);
	return r;
}

int gl_err_reset(struct gl_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(err, 0, code, fmt, ap);
	va_end(ap);
	return r;
}

void gl_err_prefix(struct gl_err *err, const char *fmt, ...)
{
	char head[GL_ERR_MSG_MAX], msg[GL_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	err_format(head, sizeof(head), fmt, ap);
	va_end(ap);
	/* head is shorter than msg: err_format bounded it. */
	size_t n = strlen(head), m = strnlen(err->msg, sizeof(err->msg) - 1);

	if (m > sizeof(msg) - 1 - n)
		m = gl_utf8_cut(err->msg, sizeof(msg) - 1 - n);
	memcpy(msg, head, n);
	memcpy(msg + n, err->msg, m);
	msg[n + m] = '\0';
	memcpy(err->msg, msg, sizeof(msg));
}

void gl_err_details(struct gl_err *err, const char *fmt, ...)
{
	va_list ap;
	size_t used;

	if (!err)
		return;
	used = strlen(err->details);
	if (used + 3 >= sizeof(err->details))
		return;
	if (used > 0) {
		strcpy(err->details + used, "; ");
		used += 2;
	}
	va_start(ap, fmt);
	err_format(err->details + used, sizeof(err->details) - used, fmt, ap);
	va_end(ap);
}
