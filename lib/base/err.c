#include "base/err.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

static int err_vset(struct gl_err *err, int errnum, int code, const char *fmt, va_list ap)
{
	char msg[GL_ERR_MSG_MAX];

	if (errnum >= 0)
		errnum = gl_err_errno(code);
	if (err) {
		/* fmt's arguments may point into err->msg itself. */
		vsnprintf(msg, sizeof(msg), fmt, ap);
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
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	/* head is shorter than msg: vsnprintf bounded it. */
	size_t n = strlen(head), m = strnlen(err->msg, sizeof(err->msg) - 1);

	if (m > sizeof(msg) - 1 - n)
		m = sizeof(msg) - 1 - n;
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
	vsnprintf(err->details + used, sizeof(err->details) - used, fmt, ap);
	va_end(ap);
}
