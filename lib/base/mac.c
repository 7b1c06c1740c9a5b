#include "base/mac.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "base/util.h"

int gl_mac_parse(const char *s, uint8_t ret[6])
{
	unsigned int b[6];
	char tail;
	uint8_t mac[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		/* sscanf's %x also takes spaces, signs and "0x": two hex digits only. */
		if (!isxdigit((unsigned char)s[i * 3]) || !isxdigit((unsigned char)s[i * 3 + 1]))
			return -EINVAL;
		if (s[i * 3 + 2] != ':' && i < 5)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	memcpy(ret, mac, 6);
	return 0;
}

const char *gl_mac_str(const uint8_t mac[6], char *buf, size_t size)
{
	snprintf(buf, size, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return buf;
}

void gl_mac_stable(const char *network, const char *identity, const char *ifname, uint8_t ret[6])
{
	const char *parts[] = { "gamelan-mac-v1", network, identity, ifname };
	uint64_t h = gl_hash64(parts, 4);

	for (int i = 0; i < 6; i++)
		ret[i] = (uint8_t)(h >> (8 * i));
	/* Bit 1 of the first octet: locally administered; bit 0 clear: unicast. */
	ret[0] = (uint8_t)((ret[0] & 0xfc) | 0x02);
}
