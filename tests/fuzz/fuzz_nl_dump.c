/* The messages of rtnetlink and nftables dumps as the kernel sends them:
 * each message of the buffer (walked and bounded as gl_nlsock_recv does; not
 * with mnl_nlmsg_ok, which takes an nlmsg_len of 2^31 or more for a
 * negative one and walks off the buffer) through
 * every parser that takes one: links, addresses, routes, neighbours
 * (lib/net/nl) and rules (gl_nft_rule_info_parse). */
#include <libmnl/libmnl.h>
#include "net/nft.h"
#include "net/nl.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t *buf = malloc(size + 4);
	size_t off = 0;

	if (!buf)
		FUZZ_FAIL("a property of the parsed input does not hold");
	memcpy(buf, data, size);
	while (size - off >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)((const uint8_t *)buf + off);
		size_t left = size - off;
		struct gl_nl_link link;
		struct gl_nl_addr addr;
		struct gl_nl_route route;
		struct gl_nft_rule_info rule;
		struct gl_ip ip;
		uint8_t mac[6];
		int ifindex;

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > left)
			break;
		off += MNL_ALIGN(nlh->nlmsg_len) < left ? MNL_ALIGN(nlh->nlmsg_len) : left;
		gl_nl_parse_link(nlh, &link);
		gl_nl_parse_addr(nlh, &addr);
		gl_nl_parse_route(nlh, &route);
		gl_nl_parse_neigh(nlh, &ifindex, &ip, mac);
		if (gl_nft_rule_info_parse(nlh, &rule) == 0 &&
		    (strnlen(rule.chain, sizeof(rule.chain)) == sizeof(rule.chain) ||
		     strnlen(rule.comment, sizeof(rule.comment)) == sizeof(rule.comment)))
			FUZZ_FAIL("a property of the parsed input does not hold");
	}
	free(buf);
	return 0;
}
