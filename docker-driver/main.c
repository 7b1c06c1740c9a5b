/* gamelan-docker: the Docker network and IPAM driver (a legacy plugin on a
 * unix socket). Exit codes: 0 stopped by a signal, 1 failed, 2 usage. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/log.h"
#include "base/util.h"
#include "base/version.h"
#include "daemon/health.h"
#include "driver.h"

#define DEFAULT_SOCKET "/run/docker/plugins/gamelan.sock"
#define DEFAULT_DB "/var/lib/gamelan/docker.db"
#define DEFAULT_DOCKER "unix:///var/run/docker.sock"
#define READY_WAIT_MS 30000

static const char usage[] =
	"Usage: gamelan-docker [--foreground] [--socket PATH] [--db PATH] [--docker-host URL]\n"
	"                      [--listen HOST:PORT]\n"
	"\n"
	"The Docker network driver and IPAM driver \"gamelan\": sticky LAN addresses (the same\n"
	"IP and MAC for a container name every time) on a macvlan of the host's LAN link.\n"
	"Start it before dockerd (systemd: Before=docker.service), in dockerd's network namespace.\n"
	"\n"
	"  docker network create -d gamelan --ipam-driver gamelan \\\n"
	"    --subnet 192.168.1.0/24 --gateway 192.168.1.1 --ip-range 192.168.1.200/29 \\\n"
	"    -o parent=eth0 [-o macvlan_mode=bridge|private|vepa|passthru] [-o snat=true] \\\n"
	"    [--aux-address NAME=IP] [--ipam-opt hold=24h] lan\n"
	"\n"
	"Options:\n"
	"  --foreground        stay in the foreground (systemd, tests); without it the daemon\n"
	"                      detaches once its socket listens\n"
	"  --socket PATH       the plugin socket (default " DEFAULT_SOCKET ")\n"
	"  --db PATH           the reservation store, SQLite, 0600 (default " DEFAULT_DB ");\n"
	"                      `gamelan-ipam --db PATH list` shows it\n"
	"  --docker-host URL   dockerd's API, unix:// only (default " DEFAULT_DOCKER ")\n"
	"  --listen HOST:PORT  serve /healthz, /readyz and /metrics over TCP (default: nowhere)\n"
	"  -h, --help          this text\n"
	"  --version           the version\n"
	"\n"
	"Environment: GAMELAN_LOG (a log file instead of stderr), GAMELAN_LOG_LEVEL.\n";

struct opts {
	bool foreground;
	const char *socket, *db, *docker, *listen;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "foreground", no_argument, NULL, 'f' }, { "socket", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'd' },   { "docker-host", required_argument, NULL, 'H' },
		{ "listen", required_argument, NULL, 'l' }, { "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },    { NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .socket = DEFAULT_SOCKET, .db = DEFAULT_DB, .docker = DEFAULT_DOCKER };
	while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
		switch (c) {
		case 'f': o->foreground = true; break;
		case 's': o->socket = optarg; break;
		case 'd': o->db = optarg; break;
		case 'H': o->docker = optarg; break;
		case 'l': o->listen = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		case 'V': printf("gamelan-docker %s\n", GL_VERSION); exit(0);
		default: fputs(usage, stderr); return -EINVAL;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "gamelan-docker: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (o->socket[0] != '/' || o->db[0] != '/') {
		fputs("gamelan-docker: --socket and --db must be absolute paths\n", stderr);
		return -EINVAL;
	}
	if (strncmp(o->docker, "unix://", 7) != 0 || o->docker[7] != '/') {
		fputs("gamelan-docker: --docker-host must be unix:///PATH\n", stderr);
		return -EINVAL;
	}
	return 0;
}

static int split_listen(const char *s, char host[64], uint16_t *ret_port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= 64)
		return -EINVAL;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*ret_port = (uint16_t)port;
	return 0;
}

/* Without --foreground: the parent waits (bounded) for the child to listen,
 * then exits with the child's word for it. Returns the fd the child writes
 * "ready" to, or -1 in the foreground. */
static int detach(void)
{
	int p[2];
	pid_t pid;
	char c = 0;
	struct pollfd pfd;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0) {
		close(p[1]);
		pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
		if (poll(&pfd, 1, READY_WAIT_MS) == 1 && read(p[0], &c, 1) == 1 && c == 'R')
			_exit(0);
		fputs("gamelan-docker: the daemon did not come up (see its log)\n", stderr);
		_exit(1);
	}
	close(p[0]);
	setsid();
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		close(null);
	}
	return p[1];
}

int main(int argc, char **argv)
{
	static struct dk d;
	struct gl_http *admin = NULL;
	struct gl_health health = { 0 };
	struct gl_err err = { 0 };
	struct opts o;
	int ready_fd = -1, r;

	if (parse(argc, argv, &o) < 0)
		return 2;
	gl_log_init("gamelan-docker");
	if (!o.foreground)
		ready_fd = detach();
	if (gl_strlcpy(d.db, o.db, sizeof(d.db)) < 0 ||
	    gl_strlcpy(d.docker_sock, o.docker + 7, sizeof(d.docker_sock)) < 0) {
		gl_error("a path is too long");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = gl_loop_new(&d.loop);
	if (r < 0) {
		gl_error("cannot make the event loop: %s", strerror(-r));
		return 1;
	}
	r = dk_open(&d, &err);
	if (r >= 0)
		r = dk_serve(&d, o.socket, &err);
	if (r >= 0)
		r = dk_ping_start(&d);
	if (r >= 0 && o.listen) {
		char host[64];
		uint16_t port;

		if (split_listen(o.listen, host, &port) < 0) {
			r = gl_err_set(&err, GL_ERR_INVALID_CONFIG, "--listen %s is not HOST:PORT", o.listen);
		} else {
			r = gl_http_new(d.loop, NULL, &admin);
			if (r >= 0)
				r = gl_health_register(admin, &health);
			if (r >= 0)
				r = gl_http_listen_tcp(admin, host, port, NULL, &err);
		}
	}
	if (r < 0) {
		gl_error("%s", err.msg[0] ? err.msg : strerror(-r));
		gl_http_free(admin);
		dk_close(&d);
		gl_loop_free(d.loop);
		return 1;
	}
	health.ready = true;
	gl_info("serving NetworkDriver and IpamDriver on %s (store %s, dockerd %s)", o.socket, o.db, o.docker);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "R", 1);
		close(ready_fd);
	}
	r = gl_loop_run(d.loop);
	gl_info("stopping");
	gl_http_free(admin);
	dk_close(&d);
	gl_loop_free(d.loop);
	curl_global_cleanup();
	return r < 0 ? 1 : 0;
}
