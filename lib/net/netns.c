#include "net/netns.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif
#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

int gl_netns_open(const char *path, int *ret_fd, struct gl_err *err)
{
	struct statfs sfs;
	int fd;

	if (path[0] != '/')
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_NETNS \"%s\" is not an absolute path", path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return gl_err_set(err, GL_ERR_UNKNOWN_CONTAINER, "CNI_NETNS %s does not exist", path);
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_NETNS %s: %s", path, strerror(e));
	}
	/* A bind-mounted namespace lives on nsfs; /proc/PID/ns/net on procfs.
	 * Whether it is a *network* namespace, setns(CLONE_NEWNET) tells. */
	if (fstatfs(fd, &sfs) < 0 || (sfs.f_type != (typeof(sfs.f_type))NSFS_MAGIC &&
				      sfs.f_type != (typeof(sfs.f_type))PROC_SUPER_MAGIC)) {
		close(fd);
		return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_NETNS %s is not a network namespace", path);
	}
	*ret_fd = fd;
	return 0;
}

int gl_netns_enter(int ns_fd, int *ret_orig, struct gl_err *err)
{
	int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (orig < 0)
		return gl_err_set(err, GL_ERR_IO, "open /proc/self/ns/net: %s", strerror(errno));
	if (setns(ns_fd, CLONE_NEWNET) < 0) {
		int e = errno;

		close(orig);
		if (e == EINVAL)
			return gl_err_set(err, GL_ERR_INVALID_ENV, "CNI_NETNS is not a network namespace");
		return gl_err_set(err, GL_ERR_IO, "setns: %s", strerror(e));
	}
	*ret_orig = orig;
	return 0;
}

int gl_netns_restore(int orig)
{
	int r = setns(orig, CLONE_NEWNET) < 0 ? -errno : 0;

	close(orig);
	return r;
}
