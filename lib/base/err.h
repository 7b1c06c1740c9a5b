/* Errors that reach a human: a CNI error code, a message and details. */
#pragma once
#include <stddef.h>

/* The CNI specification's error codes; 100 and above are gamelan's own. */
enum gl_code {
	GL_ERR_VERSION = 1,          /* incompatible CNI version */
	GL_ERR_UNSUPPORTED_FIELD = 2,
	GL_ERR_UNKNOWN_CONTAINER = 3,
	GL_ERR_INVALID_ENV = 4,
	GL_ERR_IO = 5,
	GL_ERR_DECODE = 6,
	GL_ERR_INVALID_CONFIG = 7,
	GL_ERR_TRY_AGAIN = 11,
	GL_ERR_NOT_AVAILABLE = 50,
	GL_ERR_LIMITED = 51,
	GL_ERR_POOL_EXHAUSTED = 100, /* no free address in the range */
	GL_ERR_PIN_CONFLICT = 101,   /* a pinned address belongs to someone else */
	GL_ERR_ADDR_IN_USE = 102,    /* the LAN answered an ARP probe / DAD failed */
	GL_ERR_STORE = 103,          /* the reservation store failed */
	GL_ERR_NETLINK = 104,        /* the kernel refused a link/address/route change */
	GL_ERR_DELEGATE = 105,       /* a delegated plugin failed without its own code */
	GL_ERR_INTERNAL = 999,
};

#define GL_ERR_MSG_MAX 512
#define GL_ERR_DETAILS_MAX 1024

struct gl_err {
	int code;
	int errnum;                  /* the negative errno of the first cause; 0 = none */
	char msg[GL_ERR_MSG_MAX];
	char details[GL_ERR_DETAILS_MAX];
};

/* Fill err (if not NULL and still empty: the first, innermost cause wins) and
 * return the negative errno that matches code, or the errno of the cause
 * already recorded in err. For failures that have no errno of their own
 * (a bad config, a refused request). */
int gl_err_set(struct gl_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like gl_err_set but always overwrite. */
int gl_err_reset(struct gl_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Record a failure caused by the negative errno r (kept through every layer:
 * a daemon maps it to a status or a retry) with a CNI code and a message.
 * Like gl_err_set, the first cause wins; returns that cause's errno (r when
 * err was empty; -EIO when r is not negative). */
int gl_err_from(struct gl_err *err, int r, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Put context in front of err's message ("master link unusable: " + msg),
 * keeping code and errno. Safe when the new text includes the old. */
void gl_err_prefix(struct gl_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append a details string (human, may be long). */
void gl_err_details(struct gl_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Negative errno for a CNI code. */
int gl_err_errno(int code);
