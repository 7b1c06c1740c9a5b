/* The one netlink transport (prefix gl_nlsock_), shared by rtnetlink (nl.c)
 * and nfnetlink (nft.c): a libmnl socket with extended acks, sequence
 * numbers, bounded receives, the receive loop that hands dump messages to a
 * callback and collects acks, and the pure parser of acks (NLMSG_ERROR with
 * its extended-ack TLVs, and NLMSG_DONE), unit-tested on built bytes. */
#pragma once
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long one receive waits for the kernel unless gl_nlsock_set_timeout
 * says otherwise (a big nftables batch is processed before its first ack). */
#define GL_NLSOCK_TIMEOUT_MS 10000
/* The kernel's extended-ack text we keep (it writes short literals). */
#define GL_NLSOCK_MSG_MAX 256

/* ---- acks (pure) ---- */

/* One NLMSG_ERROR (an ack when error is 0) or NLMSG_DONE (the end of a
 * dump, which may carry the dump's error and TLVs too). */
struct gl_nlsock_ack {
	bool done;                     /* NLMSG_DONE; else NLMSG_ERROR */
	int error;                     /* 0 or the kernel's negative errno */
	uint32_t seq, portid;          /* of the request it answers (its header's) */
	uint16_t flags;                /* the header's NLM_F_* */
	uint16_t req_type;             /* NLMSG_ERROR: the request's nlmsg_type */
	char msg[GL_NLSOCK_MSG_MAX];   /* NLMSGERR_ATTR_MSG, "" when absent */
	bool has_offset;
	uint32_t offset;               /* NLMSGERR_ATTR_OFFS: the offending attribute's
					* byte offset in the request */
};

/* Parse the message at the start of buf (len bytes, possibly followed by
 * more messages), which must be an NLMSG_ERROR or NLMSG_DONE. Returns the
 * bytes it takes (NLMSG_ALIGN'ed, at most len: where the next message
 * starts) and fills *ret; -EBADMSG on anything malformed: a header or
 * nlmsg_len that is short, unaligned or past len, another type, a request
 * copy that does not fit, a broken TLV, a text without its NUL. */
int gl_nlsock_ack_parse(const void *buf, size_t len, struct gl_nlsock_ack *ret);

/* ---- the socket ---- */

/* Bound to the netns it was opened in. */
struct gl_nlsock;

/* Open and bind a NETLINK_ROUTE or NETLINK_NETFILTER (bus) socket with
 * extended and capped acks (optional: older kernels lack them). */
int gl_nlsock_open(int bus, struct gl_nlsock **ret);
void gl_nlsock_close(struct gl_nlsock *s);
/* Close, leaving the last close (which waits for the kernel's cleanup of a
 * committed nftables transaction, ~10 ms) to a detached child. */
void gl_nlsock_close_detached(struct gl_nlsock *s);
static inline void gl_nlsock_closep(struct gl_nlsock **s) { if (*s) gl_nlsock_close(*s); }
#define _cleanup_nlsock_ __attribute__((cleanup(gl_nlsock_closep)))

/* The next sequence number (the first is taken from the clock). */
uint32_t gl_nlsock_seq(struct gl_nlsock *s);
unsigned gl_nlsock_portid(const struct gl_nlsock *s);
/* The bound of every later wait of one receive, in ms (> 0). */
void gl_nlsock_set_timeout(struct gl_nlsock *s, int timeout_ms);
/* Ask for socket buffers of snd and rcv bytes (0 = leave), forcing past the
 * sysctl limits when we may (CAP_NET_ADMIN); best effort. */
void gl_nlsock_set_bufs(struct gl_nlsock *s, size_t snd, size_t rcv);

/* Send len bytes (one message or a batch). 0 or a negative errno. */
int gl_nlsock_send(struct gl_nlsock *s, const void *buf, size_t len);

/* What the receive loop does with each message from the kernel whose seq is
 * in [seq_lo, seq_hi] and whose portid is ours (others are dropped: stale
 * answers, foreign senders). Either callback may be NULL. Each returns a
 * negative errno to stop the loop with it, 0 for more, GL_NLSOCK_STOP to end
 * the loop with success. */
#define GL_NLSOCK_STOP 1
typedef int (*gl_nlsock_data_cb)(const struct nlmsghdr *nlh, void *data);
typedef int (*gl_nlsock_ack_cb)(const struct gl_nlsock_ack *ack, void *data);
struct gl_nlsock_rx {
	uint32_t seq_lo, seq_hi;
	gl_nlsock_data_cb on_data;     /* messages of type >= NLMSG_MIN_TYPE */
	gl_nlsock_ack_cb on_ack;       /* NLMSG_ERROR and NLMSG_DONE, parsed */
	void *data;
};

/* One read: wait (at most the socket's timeout; not at all when wait is
 * false) for what the kernel queued and run rx over it. 0 = rx wants more,
 * GL_NLSOCK_STOP, or a negative errno: -ETIMEDOUT (-EAGAIN when not
 * waiting) if nothing came, -EBADMSG for a malformed message, -ENOSPC for a
 * datagram larger than the buffer, or rx's own. */
int gl_nlsock_recv(struct gl_nlsock *s, const struct gl_nlsock_rx *rx, bool wait);

/* Send one request and read until its ack or its dump's end; on_data (may
 * be NULL) sees each answer. Returns 0, the kernel's negative errno, a
 * callback's, or the transport's (-ETIMEDOUT, -EBADMSG, the send's). ret_ack
 * (may be NULL) is always written: the last ack ("" msg if none came), its
 * flags with NLM_F_DUMP_INTR added if any message of the dump had it. */
int gl_nlsock_talk(struct gl_nlsock *s, const struct nlmsghdr *nlh, gl_nlsock_data_cb on_data,
		   void *data, struct gl_nlsock_ack *ret_ack);
