/* lanclient: a player knocking on lanserver's door.
 *
 *   lanclient [--timeout-ms N] [--count K] IP PORT NAME
 *
 * Sends "JOIN NAME" and prints the server's reply. Exit 0 when accepted, 1 when refused,
 * 2 when no (valid) answer came within the timeout, 64 on bad usage.
 * With --count K it plays K players at once, each from its own socket (so its own source
 * port), named NAME-1 .. NAME-K, and prints "A accepted, R refused, L lost"; exit 0 when all
 * were accepted, 2 when any was lost, 1 otherwise. Unanswered players resend every
 * --interval-ms (default 500) until the timeout, as UDP may drop a first packet. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "base/version.h"

#define NAME_MAX_LEN 64
#define REPLY_MAX 512
#define COUNT_MAX 1000

enum outcome { PENDING, ACCEPTED, REFUSED, BAD };

struct player {
	int fd;
	enum outcome outcome;
	char name[NAME_MAX_LEN + 1];
	char reply[REPLY_MAX + 1];
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool parse_num(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return false;
	*ret = v;
	return true;
}

static bool name_ok(const char *name)
{
	size_t len = strlen(name), i;

	if (len == 0 || len > NAME_MAX_LEN || name[0] == ' ')
		return false;
	for (i = 0; i < len; i++)
		if (name[i] < 0x20 || name[i] > 0x7e)
			return false;
	return true;
}

static void send_join(struct player *p)
{
	char msg[NAME_MAX_LEN + 8];
	int len = snprintf(msg, sizeof(msg), "JOIN %s", p->name);

	/* A refused send (ICMP port unreachable from a previous try) is retried later. */
	if (send(p->fd, msg, (size_t)len, 0) < 0 && errno != ECONNREFUSED)
		fprintf(stderr, "lanclient: %s: send: %s\n", p->name, strerror(errno));
}

/* Read one reply; false when there is nothing usable yet. */
static bool read_reply(struct player *p)
{
	ssize_t n = recv(p->fd, p->reply, REPLY_MAX, 0);

	if (n < 0)
		return false; /* ECONNREFUSED: nobody listens (yet); keep trying until the end */
	p->reply[n] = '\0';
	while (n > 0 && (p->reply[n - 1] == '\n' || p->reply[n - 1] == '\r'))
		p->reply[--n] = '\0';
	if (strncmp(p->reply, "accepted ", 9) == 0)
		p->outcome = ACCEPTED;
	else if (strncmp(p->reply, "refused", 7) == 0)
		p->outcome = REFUSED;
	else
		p->outcome = BAD;
	return true;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lanclient [--timeout-ms N] [--interval-ms N] [--count K] IP PORT NAME\n"
		   "  exit 0 accepted, 1 refused, 2 no answer; --count K: K players at once\n"
		   "  --version: print the version\n"
		   "example: lanclient --timeout-ms 1000 192.168.1.200 10999 wilson\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM,
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
	};
	long timeout = 2000, interval = 500, count = 1;
	bool many = false;
	struct addrinfo *ai = NULL;
	struct player *players;
	struct pollfd *pfds;
	int64_t deadline, next_send;
	long i, pending, accepted = 0, refused = 0, lost = 0;
	int c, r;

	while ((c = getopt_long(argc, argv, "t:i:c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (!parse_num(optarg, 1, 600000, &timeout)) {
				fprintf(stderr, "lanclient: bad --timeout-ms '%s'\n", optarg);
				return 64;
			}
			break;
		case 'i':
			if (!parse_num(optarg, 10, 600000, &interval)) {
				fprintf(stderr, "lanclient: bad --interval-ms '%s'\n", optarg);
				return 64;
			}
			break;
		case 'c':
			if (!parse_num(optarg, 1, COUNT_MAX, &count)) {
				fprintf(stderr, "lanclient: bad --count '%s' (1..%d)\n", optarg,
					COUNT_MAX);
				return 64;
			}
			many = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("lanclient %s\n", GL_VERSION);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (argc - optind != 3) {
		usage(stderr);
		return 64;
	}
	if (!name_ok(argv[optind + 2]) ||
	    (many && strlen(argv[optind + 2]) + 5 > NAME_MAX_LEN)) {
		fprintf(stderr, "lanclient: bad name (1-%d printable characters%s)\n", NAME_MAX_LEN,
			many ? ", 5 fewer with --count" : "");
		return 64;
	}
	r = getaddrinfo(argv[optind], argv[optind + 1], &hints, &ai);
	if (r != 0) {
		fprintf(stderr, "lanclient: %s port %s: %s\n", argv[optind], argv[optind + 1],
			gai_strerror(r));
		return 64;
	}

	players = calloc((size_t)count, sizeof(*players));
	pfds = calloc((size_t)count, sizeof(*pfds));
	if (!players || !pfds) {
		fprintf(stderr, "lanclient: out of memory\n");
		return 2;
	}
	for (i = 0; i < count; i++) {
		struct player *p = &players[i];

		if (many)
			snprintf(p->name, sizeof(p->name), "%s-%ld", argv[optind + 2], i + 1);
		else
			snprintf(p->name, sizeof(p->name), "%s", argv[optind + 2]);
		/* Connected, so that only the server's replies reach this socket. */
		p->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (p->fd < 0 || connect(p->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			fprintf(stderr, "lanclient: socket/connect: %s\n", strerror(errno));
			return 2;
		}
		pfds[i].fd = p->fd;
		pfds[i].events = POLLIN;
	}
	freeaddrinfo(ai);

	deadline = now_ms() + timeout;
	next_send = 0;
	pending = count;
	while (pending > 0) {
		int64_t now = now_ms(), wait;

		if (now >= deadline)
			break;
		if (now >= next_send) {
			for (i = 0; i < count; i++)
				if (players[i].outcome == PENDING)
					send_join(&players[i]);
			next_send = now + interval;
		}
		wait = (next_send < deadline ? next_send : deadline) - now;
		r = poll(pfds, (nfds_t)count, (int)(wait > 0 ? wait : 0));
		if (r < 0 && errno != EINTR) {
			fprintf(stderr, "lanclient: poll: %s\n", strerror(errno));
			break;
		}
		for (i = 0; r > 0 && i < count; i++) {
			if (!(pfds[i].revents & (POLLIN | POLLERR)) || players[i].outcome != PENDING)
				continue;
			if (read_reply(&players[i])) {
				pending--;
				pfds[i].fd = -1; /* answered: poll ignores it from now on */
			}
		}
	}

	for (i = 0; i < count; i++) {
		switch (players[i].outcome) {
		case ACCEPTED:
			accepted++;
			break;
		case REFUSED:
			refused++;
			break;
		case BAD:
			fprintf(stderr, "lanclient: %s: unexpected reply '%s'\n", players[i].name,
				players[i].reply);
			lost++;
			break;
		case PENDING:
			lost++;
			break;
		}
		close(players[i].fd);
	}

	if (!many) {
		if (players[0].outcome == PENDING)
			printf("no answer from %s port %s within %ld ms\n", argv[optind],
			       argv[optind + 1], timeout);
		else
			printf("%s\n", players[0].reply);
	} else {
		printf("%ld accepted, %ld refused, %ld lost\n", accepted, refused, lost);
	}
	free(players);
	free(pfds);
	if (lost)
		return 2;
	return refused ? 1 : 0;
}
