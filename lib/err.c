#include "err.h"
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

static int err_vset(struct gl_err *err, int code, const char *fmt, va_list ap)
{
	if (err) {
		err->code = code;
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	}
	return gl_err_errno(code);
}

int gl_err_set(struct gl_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	/* The innermost cause is the most useful one; keep it. */
	if (err && err->code != 0)
		return gl_err_errno(err->code);
	va_start(ap, fmt);
	r = err_vset(err, code, fmt, ap);
	va_end(ap);
	return r;
}

int gl_err_reset(struct gl_err *err, int code, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = err_vset(err, code, fmt, ap);
	va_end(ap);
	return r;
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
