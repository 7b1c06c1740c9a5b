#include "base/util.h"
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int gl_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

int gl_duration_parse(const char *s, int64_t *ret_ms)
{
	int64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	if (strcmp(s, "forever") == 0) {
		*ret_ms = INT64_MAX;
		return 0;
	}
	while (*p) {
		int64_t v = 0, unit;
		int digits = 0;

		while (*p >= '0' && *p <= '9') {
			if (v > INT64_MAX / 10 - 10)
				return -ERANGE;
			v = v * 10 + (*p++ - '0');
			digits++;
		}
		if (!digits)
			return -EINVAL;
		if (strncmp(p, "ms", 2) == 0) {
			unit = 1;
			p += 2;
		} else if (*p == 's') {
			unit = 1000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * 1000;
			p++;
		} else {
			return -EINVAL;
		}
		if (v > (INT64_MAX - total) / unit)
			return -ERANGE;
		total += v * unit;
	}
	*ret_ms = total;
	return 0;
}

const char *gl_duration_str(int64_t ms, char *buf, size_t size)
{
	if (ms == INT64_MAX)
		snprintf(buf, size, "forever");
	else if (ms % 86400000 == 0 && ms)
		snprintf(buf, size, "%lldd", (long long)(ms / 86400000));
	else if (ms % 3600000 == 0 && ms)
		snprintf(buf, size, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms)
		snprintf(buf, size, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0 && ms)
		snprintf(buf, size, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, size, "%lldms", (long long)ms);
	return buf;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gl_now_mono_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t gl_now_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

int gl_buf_append(char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
	if (n > SIZE_MAX / 2 - *len)
		return -ENOMEM;
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		char *p;

		while (c < *len + n + 1)
			c *= 2;
		p = realloc(*buf, c);
		if (!p)
			return -ENOMEM;
		*buf = p;
		*cap = c;
	}
	memcpy(*buf + *len, data, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

int gl_read_all(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	size_t cap = max < 4096 ? max : 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap + 1);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == cap && cap < max) {
			char *nb;

			cap = cap * 2 > max ? max : cap * 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		/* Full at max: one more byte (into the NUL's place) tells
		 * "exactly max" from "more than max". */
		n = read(fd, buf + len, len < cap ? cap - len : 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		if (len == cap)
			return -EFBIG;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int gl_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint64_t gl_hash64(const char *const *parts, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		for (const unsigned char *c = (const unsigned char *)parts[i]; ; c++) {
			h ^= *c;
			h *= 0x100000001b3ULL;
			if (!*c)
				break;
		}
	}
	/* FNV's low bits mix poorly for short inputs; finish with a
	 * murmur-style avalanche so nearby identities get unrelated MACs. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

void gl_close_detached(int fd)
{
	pid_t pid;

	if (fd < 0)
		return;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return;
	}
	if (pid > 0) {
		/* The child's copy keeps the socket alive: ours is just a
		 * reference, dropped at no cost. */
		close(fd);
		waitpid(pid, NULL, 0);
		return;
	}
	/* First child: fork again and leave, so that the grandchild is
	 * reparented and never a zombie of the caller. */
	if (fork() != 0)
		_exit(0);
	for (int f = 0; f < 3; f++)
		close(f);
	close(fd);
	_exit(0);
}

int gl_mkdir_parents(const char *path)
{
	char buf[PATH_MAX];
	int r = gl_strlcpy(buf, path, sizeof(buf));

	if (r < 0)
		return r;
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}
