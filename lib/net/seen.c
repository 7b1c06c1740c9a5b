#include "net/seen.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "base/util.h"

/* Names come from validated config (network) and formatted addresses, but a
 * path is built from them, so refuse anything that could climb out. */
static bool component_ok(const char *s)
{
	return s[0] && s[0] != '.' && !strchr(s, '/') && strlen(s) < 200;
}

static int entry_path(const char *dir, const char *network, const char *ip, char *buf, size_t size)
{
	int n;

	if (dir[0] != '/' || strstr(dir, "..") || !component_ok(network) || !component_ok(ip))
		return -EINVAL;
	n = snprintf(buf, size, "%s/%s/%s", dir, network, ip);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool gl_seen_recent(const char *dir, const char *network, const char *ip, const char *identity,
		    int64_t within_ms)
{
	char path[PATH_MAX], buf[600];
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	size_t idlen = strlen(identity);

	if (entry_path(dir, network, ip, path, sizeof(path)) < 0)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	if (gl_now_wall_ms() - ((int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000) > within_ms)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return (size_t)n == idlen + 1 && memcmp(buf, identity, idlen) == 0 && buf[idlen] == '\n';
}

int gl_seen_record(const char *dir, const char *network, const char *ip, const char *identity)
{
	char path[PATH_MAX], tmp[PATH_MAX + 16];
	_cleanup_close_ int fd = -1;
	int r;

	r = entry_path(dir, network, ip, path, sizeof(path));
	if (r < 0)
		return r;
	/* The network's folder and any missing one above it (the
	 * /var/lib/gamelan default). */
	r = gl_mkdir_parents(path);
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	r = gl_write_all(fd, identity, strlen(identity));
	if (r == 0)
		r = gl_write_all(fd, "\n", 1);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}
