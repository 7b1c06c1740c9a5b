/* The netlink transport: socket, sequence numbers, bounded receives, the
 * receive loop, and the ack parser (pure). */
#include "net/nlsock.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "base/util.h"

#ifndef SO_RCVBUFFORCE
#define SO_RCVBUFFORCE 33
#endif
#ifndef SO_SNDBUFFORCE
#define SO_SNDBUFFORCE 32
#endif

/* One read of a dump or of acks: the kernel sizes each dump skb after the
 * largest read so far (up to 32 KiB), and a datagram larger than the buffer
 * is an error (MSG_TRUNC), so more room costs nothing and saves trips. */
#define NLSOCK_RECV_BUF (64u << 10)

/* ---- acks (pure) ---- */

/* The kernel's errno values (MAX_ERRNO): anything beyond is no errno. */
#define NLSOCK_ERRNO_MAX 4095

/* The TLVs of an ack, from off to the end of nlh (both aligned). */
static int parse_tlvs(const struct nlmsghdr *nlh, size_t off, struct gl_nlsock_ack *a)
{
	while (off < nlh->nlmsg_len) {
		const struct nlattr *at = (const struct nlattr *)((const char *)nlh + off);
		size_t left = nlh->nlmsg_len - off, plen;
		const void *p;

		if (left < sizeof(*at) || at->nla_len < sizeof(*at) || at->nla_len > left)
			return -EBADMSG;
		p = at + 1;
		plen = at->nla_len - sizeof(*at);
		switch (at->nla_type & NLA_TYPE_MASK) {
		case NLMSGERR_ATTR_MSG:
			if (!memchr(p, '\0', plen))
				return -EBADMSG;
			snprintf(a->msg, sizeof(a->msg), "%s", (const char *)p);
			break;
		case NLMSGERR_ATTR_OFFS:
			if (plen != sizeof(uint32_t))
				return -EBADMSG;
			memcpy(&a->offset, p, sizeof(uint32_t));
			a->has_offset = true;
			break;
		default:
			break;   /* the missing-attribute and policy TLVs: not used */
		}
		off += MNL_ALIGN(at->nla_len);
	}
	return 0;
}

int gl_nlsock_ack_parse(const void *buf, size_t len, struct gl_nlsock_ack *ret)
{
	const struct nlmsghdr *nlh = buf;
	struct gl_nlsock_ack a = { 0 };
	size_t off;                    /* where the TLVs start */
	int error, r;

	/* The kernel ends every message it builds on an aligned length. */
	if (len < sizeof(*nlh) || nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len ||
	    nlh->nlmsg_len > INT_MAX || nlh->nlmsg_len % NLMSG_ALIGNTO)
		return -EBADMSG;
	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		off = MNL_NLMSG_HDRLEN + sizeof(*e);
		if (nlh->nlmsg_len < off)
			return -EBADMSG;
		/* Netlink subsystems return the errno value with different
		 * signs. */
		error = e->error > 0 ? -e->error : e->error;
		a.req_type = e->msg.nlmsg_type;
		/* Uncapped, the request's payload follows (aligned): its
		 * length is the one in the copied header, the kernel's word,
		 * checked like any other. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
			if (e->msg.nlmsg_len < sizeof(e->msg) ||
			    e->msg.nlmsg_len - sizeof(e->msg) > nlh->nlmsg_len - off)
				return -EBADMSG;
			off += MNL_ALIGN(e->msg.nlmsg_len - sizeof(e->msg));
			if (off > nlh->nlmsg_len)
				return -EBADMSG;
		}
	} else if (nlh->nlmsg_type == NLMSG_DONE) {
		/* The dump's end: 0 or its negative errno, always there. */
		off = MNL_NLMSG_HDRLEN + sizeof(int);
		if (nlh->nlmsg_len < off)
			return -EBADMSG;
		memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof(error));
		if (error > 0)
			return -EBADMSG;
		a.done = true;
	} else {
		return -EBADMSG;
	}
	if (error < -NLSOCK_ERRNO_MAX)
		return -EBADMSG;
	a.error = error;
	a.seq = nlh->nlmsg_seq;
	a.portid = nlh->nlmsg_pid;
	a.flags = nlh->nlmsg_flags;
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && (r = parse_tlvs(nlh, off, &a)) < 0)
		return r;
	*ret = a;
	return (int)nlh->nlmsg_len;
}

/* ---- the socket ---- */

struct gl_nlsock {
	struct mnl_socket *sk;
	unsigned portid;
	uint32_t seq;
	int timeout_ms;
	char *buf;                     /* NLSOCK_RECV_BUF bytes */
};

int gl_nlsock_open(int bus, struct gl_nlsock **ret)
{
	struct gl_nlsock *s;
	int one = 1, r;

	if (bus != NETLINK_ROUTE && bus != NETLINK_NETFILTER)
		return -EPROTONOSUPPORT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->buf = malloc(NLSOCK_RECV_BUF);
	if (!s->buf) {
		free(s);
		return -ENOMEM;
	}
	s->sk = mnl_socket_open2(bus, SOCK_CLOEXEC);
	if (!s->sk) {
		r = -errno;
		goto fail;
	}
	/* Extended acks carry the kernel's reason in words; capped acks spare
	 * us a copy of our (possibly big) request. Both are optional. */
	mnl_socket_setsockopt(s->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(s->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	if (mnl_socket_bind(s->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto fail;
	}
	s->portid = mnl_socket_get_portid(s->sk);
	s->seq = (uint32_t)time(NULL);
	s->timeout_ms = GL_NLSOCK_TIMEOUT_MS;
	*ret = s;
	return 0;
fail:
	if (s->sk)
		mnl_socket_close(s->sk);
	free(s->buf);
	free(s);
	return r;
}

void gl_nlsock_close(struct gl_nlsock *s)
{
	if (!s)
		return;
	mnl_socket_close(s->sk);
	free(s->buf);
	free(s);
}

void gl_nlsock_close_detached(struct gl_nlsock *s)
{
	int fd;

	if (!s)
		return;
	/* Our copy is only a reference: the child holds the last one. */
	fd = fcntl(mnl_socket_get_fd(s->sk), F_DUPFD_CLOEXEC, 3);
	gl_nlsock_close(s);
	gl_close_detached(fd);
}

uint32_t gl_nlsock_seq(struct gl_nlsock *s)
{
	return ++s->seq;
}

unsigned gl_nlsock_portid(const struct gl_nlsock *s)
{
	return s->portid;
}

void gl_nlsock_set_timeout(struct gl_nlsock *s, int timeout_ms)
{
	s->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
}

static void set_buf(int fd, int force, int plain, size_t want)
{
	int v = want > INT32_MAX / 2 ? INT32_MAX / 2 : (int)want;

	/* FORCE needs CAP_NET_ADMIN; the plain one is capped by
	 * net.core.[rw]mem_max. */
	if (setsockopt(fd, SOL_SOCKET, force, &v, sizeof(v)) < 0)
		setsockopt(fd, SOL_SOCKET, plain, &v, sizeof(v));
}

void gl_nlsock_set_bufs(struct gl_nlsock *s, size_t snd, size_t rcv)
{
	int fd = mnl_socket_get_fd(s->sk);

	if (snd)
		set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, snd);
	if (rcv)
		set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, rcv);
}

int gl_nlsock_send(struct gl_nlsock *s, const void *buf, size_t len)
{
	ssize_t n = mnl_socket_sendto(s->sk, buf, len);

	if (n < 0)
		return -errno;
	/* A netlink datagram goes whole or not at all. */
	return (size_t)n == len ? 0 : -EIO;
}

/* Wait until the socket is readable: 0, -ETIMEDOUT, or -EAGAIN when
 * wait is false and nothing is queued. */
static int wait_readable(struct gl_nlsock *s, bool wait)
{
	struct pollfd p = { .fd = mnl_socket_get_fd(s->sk), .events = POLLIN };
	int64_t deadline = gl_now_mono_ms() + s->timeout_ms;

	for (;;) {
		int64_t left = wait ? deadline - gl_now_mono_ms() : 0;
		int n = poll(&p, 1, left > 0 ? (int)left : 0);

		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
		if (n == 0 && left <= 0)
			return wait ? -ETIMEDOUT : -EAGAIN;
	}
}

/* Read one datagram from the kernel into s->buf: its length, or a negative
 * errno. Datagrams from anyone but the kernel read as empty. */
static ssize_t read_one(struct gl_nlsock *s, bool wait)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = s->buf, .iov_len = NLSOCK_RECV_BUF };
	struct msghdr m = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
			    .msg_iovlen = 1 };
	ssize_t n;
	int r;

	for (;;) {
		r = wait_readable(s, wait);
		if (r < 0)
			return r;
		n = recvmsg(mnl_socket_get_fd(s->sk), &m, MSG_DONTWAIT);
		if (n >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		/* Readable but nothing to read (or a signal): wait again. */
	}
	if (m.msg_flags & MSG_TRUNC)
		return -ENOSPC;
	if (m.msg_namelen != sizeof(from) || from.nl_pid != 0)
		return 0;
	return n;
}

static bool ours(const struct gl_nlsock *s, const struct gl_nlsock_rx *rx,
		 const struct nlmsghdr *nlh)
{
	/* As libmnl: portid 0 is the kernel's own (never an answer of
	 * someone else's). */
	if (nlh->nlmsg_pid != 0 && nlh->nlmsg_pid != s->portid)
		return false;
	return nlh->nlmsg_seq >= rx->seq_lo && nlh->nlmsg_seq <= rx->seq_hi;
}

int gl_nlsock_recv(struct gl_nlsock *s, const struct gl_nlsock_rx *rx, bool wait)
{
	ssize_t n = read_one(s, wait);
	size_t off = 0;

	if (n < 0)
		return (int)n;
	while ((size_t)n - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(s->buf + off);
		size_t left = (size_t)n - off, step;
		int r = 0;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
			return -EBADMSG;
		step = MNL_ALIGN(nlh->nlmsg_len) < left ? MNL_ALIGN(nlh->nlmsg_len) : left;
		if (ours(s, rx, nlh)) {
			if (nlh->nlmsg_type == NLMSG_ERROR || nlh->nlmsg_type == NLMSG_DONE) {
				struct gl_nlsock_ack a;

				r = gl_nlsock_ack_parse(nlh, left, &a);
				if (r < 0)
					return r;
				r = rx->on_ack ? rx->on_ack(&a, rx->data) : 0;
			} else if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
				r = rx->on_data ? rx->on_data(nlh, rx->data) : 0;
			}
			if (r != 0)
				return r;
		}
		off += step;
	}
	return off == (size_t)n ? 0 : -EBADMSG;
}

struct talk_q {
	gl_nlsock_data_cb cb;
	void *data;
	struct gl_nlsock_ack *ack;
	uint16_t intr;                 /* NLM_F_DUMP_INTR seen */
};

static int talk_data(const struct nlmsghdr *nlh, void *data)
{
	struct talk_q *q = data;

	q->intr |= nlh->nlmsg_flags & NLM_F_DUMP_INTR;
	return q->cb ? q->cb(nlh, q->data) : 0;
}

static int talk_ack(const struct gl_nlsock_ack *a, void *data)
{
	struct talk_q *q = data;

	*q->ack = *a;
	q->intr |= a->flags & NLM_F_DUMP_INTR;
	/* An ack ends a request, DONE a dump; an error ends either. */
	return a->error < 0 ? a->error : GL_NLSOCK_STOP;
}

int gl_nlsock_talk(struct gl_nlsock *s, const struct nlmsghdr *nlh, gl_nlsock_data_cb on_data,
		   void *data, struct gl_nlsock_ack *ret_ack)
{
	struct gl_nlsock_ack a = { 0 };
	struct talk_q q = { .cb = on_data, .data = data, .ack = &a };
	struct gl_nlsock_rx rx = { .seq_lo = nlh->nlmsg_seq, .seq_hi = nlh->nlmsg_seq,
				   .on_data = talk_data, .on_ack = talk_ack, .data = &q };
	int r = gl_nlsock_send(s, nlh, nlh->nlmsg_len);

	while (r == 0)
		r = gl_nlsock_recv(s, &rx, true);
	a.flags |= q.intr;
	if (ret_ack)
		*ret_ack = a;
	return r == GL_NLSOCK_STOP ? 0 : r;
}
