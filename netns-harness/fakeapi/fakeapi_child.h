/* The fake Kubernetes API server (netns-harness/fakeapi/fakeapi.py) as a child
 * process of a C test or bench: found, started on 127.0.0.1 port 0 (its
 * --port-file read back, bounded), a kubeconfig written for it, the
 * IPReservation CRD posted, stopped.
 *
 * Header-only (static inline): each tests/unit/test_X.c and bench/X.c is
 * linked alone with libgamelan.a, so a shared .c would have no home; inline
 * keeps -Wunused-function quiet in a user that needs only part of it.
 * The shell side of the same is tests/e2e/lib.sh (fakeapi_start, ...). */
#ifndef GAMELAN_FAKEAPI_CHILD_H
#define GAMELAN_FAKEAPI_CHILD_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "base/json.h"
#include "kube/kube.h"

struct fakeapi {
	pid_t pid;
	int port;
	char url[64];		/* http[s]://127.0.0.1:PORT */
	char dir[PATH_MAX];	/* the caller's: port file and fake.log go there */
};

/* A minimal IPReservation CRD: what the Kubernetes store needs to find. */
#define FAKEAPI_MINIMAL_CRD                                                                              \
	"{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"CustomResourceDefinition\","            \
	"\"metadata\":{\"name\":\"ipreservations.gamelan.dev\"},\"spec\":{\"group\":\"gamelan.dev\","   \
	"\"scope\":\"Namespaced\",\"names\":{\"kind\":\"IPReservation\",\"listKind\":\"IPReservationList\"," \
	"\"plural\":\"ipreservations\",\"singular\":\"ipreservation\",\"shortNames\":[\"ipr\"]},"       \
	"\"versions\":[{\"name\":\"v1alpha1\",\"served\":true,\"storage\":true,\"schema\":"               \
	"{\"openAPIV3Schema\":{\"type\":\"object\",\"x-kubernetes-preserve-unknown-fields\":true}}}]}}"

/* $GL_PYTHON, else /usr/bin/python3 (Debian's, with python3-yaml) when it is
 * there, else python3 from PATH. */
static inline const char *fakeapi_python(void)
{
	const char *env = getenv("GL_PYTHON");

	if (env && env[0])
		return env;
	if (access("/usr/bin/python3", X_OK) == 0)
		return "/usr/bin/python3";
	return "python3";
}

static inline bool fakeapi_try_(char path[PATH_MAX], const char *dir)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/netns-harness/fakeapi/fakeapi.py", dir);
	if (access(p, R_OK) != 0)
		return false;
	return realpath(p, path) != NULL;
}

/* netns-harness/fakeapi/fakeapi.py: $GL_FAKEAPI, $GL_TOP's, the current directory's,
 * or the tree above this binary (BUILD/tests/test_x, BUILD/bin/x). */
static inline bool fakeapi_find(char path[PATH_MAX])
{
	const char *env = getenv("GL_FAKEAPI");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && access(env, R_OK) == 0)
		return realpath(env, path) != NULL;
	if (getenv("GL_TOP") && fakeapi_try_(path, getenv("GL_TOP")))
		return true;
	if (fakeapi_try_(path, "."))
		return true;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	for (int up = 0; up < 6; up++) {
		char *slash = strrchr(exe, '/');

		if (!slash)
			break;
		*slash = '\0';
		if (fakeapi_try_(path, exe[0] ? exe : "/"))
			return true;
	}
	return false;
}

/* TERM, then KILL after 5 s; reaped. Nothing running is fine. */
static inline void fakeapi_stop(struct fakeapi *f)
{
	if (f->pid <= 0)
		return;
	kill(f->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
			f->pid = 0;
			return;
		}
		usleep(100 * 1000);
	}
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	f->pid = 0;
}

/* Stop f's fake if one runs, start a fresh one:
 *   PYTHON SCRIPT --listen 127.0.0.1:0 --port-file DIR/port ARGS...
 * (ARGS NULL-terminated, may be NULL), its output appended to DIR/fake.log;
 * wait (at most 15 s) for the port. f->dir must be set. 0 with f->port and
 * f->url (https when tls), or a negative errno (-ETIMEDOUT; -ECHILD when it
 * exited first), nothing left running. */
static inline int fakeapi_start(struct fakeapi *f, const char *python, const char *script, bool tls,
				const char *const *args)
{
	char portfile[PATH_MAX + 16], logfile[PATH_MAX + 16];
	const char *argv[40];
	int argc = 0, port = 0;

	fakeapi_stop(f);
	f->port = 0;
	f->url[0] = '\0';
	snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
	snprintf(logfile, sizeof(logfile), "%s/fake.log", f->dir);
	unlink(portfile);
	argv[argc++] = python;
	argv[argc++] = script;
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--port-file";
	argv[argc++] = portfile;
	for (int i = 0; args && args[i]; i++) {
		if (argc >= (int)(sizeof(argv) / sizeof(argv[0])) - 1)
			return -E2BIG;
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	f->pid = fork();
	if (f->pid < 0) {
		f->pid = 0;
		return -errno;
	}
	if (f->pid == 0) {
		int fd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		/* A crashed test leaves no server behind. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 300 && port <= 0; i++) {
		FILE *pf = fopen(portfile, "r");

		if (pf) {
			if (fscanf(pf, "%d", &port) != 1)
				port = 0;
			fclose(pf);
		}
		if (port > 0)
			break;
		if (waitpid(f->pid, NULL, WNOHANG) == f->pid) {
			f->pid = 0;
			return -ECHILD;
		}
		usleep(50 * 1000);
	}
	if (port <= 0 || port > 65535) {
		fakeapi_stop(f);
		return -ETIMEDOUT;
	}
	f->port = port;
	snprintf(f->url, sizeof(f->url), "%s://127.0.0.1:%d", tls ? "https" : "http", port);
	return 0;
}

/* A kubeconfig (0600) for URL: cluster "fake" (CLUSTER_EXTRA: more lines of
 * its cluster mapping, indented by 4, may be NULL), user "u" with USER (the
 * body of a YAML flow mapping, may be NULL), namespace gamelan-system. */
static inline int fakeapi_kubeconfig(const char *path, const char *url, const char *cluster_extra,
				     const char *user)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	int r;

	if (!f) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		return r;
	}
	fprintf(f,
		"apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		"clusters:\n- name: fake\n  cluster:\n    server: %s\n%s"
		"users:\n- name: u\n  user: {%s}\n"
		"contexts:\n- name: c\n  context: {cluster: fake, user: u, namespace: gamelan-system}\n",
		url, cluster_extra ? cluster_extra : "", user ? user : "");
	return fclose(f) == 0 ? 0 : -errno;
}

/* The project's CRD (conf/k8s/gamelan-crds.yaml of the tree that holds
 * SCRIPT) as JSON, through python's yaml; FAKEAPI_MINIMAL_CRD when that file
 * or module is missing. Returns a malloc'd string, NULL on ENOMEM. */
static inline char *fakeapi_crd_json(const char *python, const char *script)
{
	enum { CRD_MAX = 1 << 16 };
	char top[PATH_MAX], cmd[2 * PATH_MAX + 512], *buf = calloc(1, CRD_MAX);
	FILE *f = NULL;
	size_t n = 0;

	if (!buf)
		return NULL;
	snprintf(top, sizeof(top), "%s", script);
	/* TOP/netns-harness/fakeapi/fakeapi.py -> TOP */
	for (int i = 0; i < 3; i++) {
		char *slash = strrchr(top, '/');

		if (slash)
			*slash = '\0';
	}
	if (!strchr(python, '\'') && !strchr(top, '\'')) {
		snprintf(cmd, sizeof(cmd),
			 "'%s' -c 'import yaml,json,sys\n"
			 "for d in yaml.safe_load_all(open(sys.argv[1])):\n"
			 "  if d and d.get(\"kind\")==\"CustomResourceDefinition\" and "
			 "d[\"spec\"][\"names\"][\"plural\"]==\"ipreservations\": print(json.dumps(d))' "
			 "'%s/conf/k8s/gamelan-crds.yaml' 2>/dev/null",
			 python, top);
		f = popen(cmd, "r"); /* a test helper may run python */
	}
	if (f) {
		n = fread(buf, 1, CRD_MAX - 1, f);
		pclose(f);
	}
	if (n < 10) {
		fprintf(stderr, "# conf/k8s/gamelan-crds.yaml not usable: posting a minimal CRD\n");
		snprintf(buf, CRD_MAX, "%s", FAKEAPI_MINIMAL_CRD);
	}
	return buf;
}

/* POST the CRD (JSON text) with the client, as the kubeconfig says. */
static inline int fakeapi_post_crd(const char *kubeconfig, const char *crd, struct gl_err *err)
{
	static const struct gl_kube_res crds = { "apiextensions.k8s.io", "v1", "customresourcedefinitions",
						 false };
	struct gl_kube_config *cfg = NULL;
	struct gl_kube *k = NULL;
	json_object *o = NULL;
	int r = gl_json_parse_object(crd, strlen(crd), &o, err);

	if (r >= 0)
		r = gl_kube_config_load(kubeconfig, &cfg, err);
	if (r >= 0)
		r = gl_kube_open(cfg, NULL, &k, err);
	if (r >= 0)
		r = gl_kube_create(k, &crds, NULL, o, NULL, err);
	gl_kube_close(k);
	gl_kube_config_free(cfg);
	json_object_put(o);
	return r;
}

#endif
