/* Small shared helpers: cleanup attributes, durations, bounded strings. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define GL_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void gl_freep(void *p) { free(*(void **)p); }
static inline void gl_closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void gl_fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(gl_freep)
#define _cleanup_close_ _cleanup_(gl_closep)
#define _cleanup_fclose_ _cleanup_(gl_fclosep)

/* Take ownership out of a _cleanup_ variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
#define TAKE_FD(fd) ({ int _fd = (fd); (fd) = -1; _fd; })

/* Copy with truncation check: -ENAMETOOLONG if src does not fit. */
int gl_strlcpy(char *dst, const char *src, size_t size);

/* Parse "300ms", "5s", "10m", "24h", "7d" (or combinations "1h30m") into
 * milliseconds; "forever" gives INT64_MAX. -EINVAL when malformed. */
int gl_duration_parse(const char *s, int64_t *ret_ms);
/* Format ms as the shortest of the forms above. */
const char *gl_duration_str(int64_t ms, char *buf, size_t size);

/* Monotonic and wall clocks in milliseconds. */
int64_t gl_now_mono_ms(void);
int64_t gl_now_wall_ms(void);

/* Read all of fd into a NUL-terminated malloc'd buffer, at most max bytes:
 * -EFBIG past it. */
int gl_read_all(int fd, size_t max, char **ret_buf, size_t *ret_len);
/* Append n bytes of data to the malloc'd buffer *buf (len bytes used, cap
 * allocated), growing it by doubling and keeping a NUL after the data.
 * -ENOMEM leaves the buffer as it was. */
int gl_buf_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n);
/* Write all of buf to fd (retrying short writes and EINTR). */
int gl_write_all(int fd, const void *buf, size_t len);

/* FNV-1a 64 over a sequence of strings, each terminated by a zero byte. */
uint64_t gl_hash64(const char *const *parts, size_t n);

/* Create each missing folder above path (not path itself) with mode 0700;
 * folders that exist are left as the admin made them. -ENAMETOOLONG, or
 * the errno of the mkdir that failed. */
int gl_mkdir_parents(const char *path);

/* Close fd in a detached grandchild and return at once. For a socket whose
 * last close waits for the kernel (an RCU grace period after an nftables
 * commit, synchronize_net for packet sockets): the work is done and acked,
 * only the release is left, and the caller (a plugin the runtime waits
 * for) need not sit through it. The child holds nothing else the caller's
 * reader waits on (its stdio is closed). Falls back to close() when fork
 * fails. fd is the caller's no longer either way. */
void gl_close_detached(int fd);
