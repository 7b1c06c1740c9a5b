/* Netlink acks and dump ends (gl_nlsock_ack_parse) as the kernel sends them:
 * a buffer of messages parsed one after the other, as the receive loop does. */
#include "net/nlsock.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The receive buffer is aligned; give the parser the same. */
	uint32_t *buf = malloc(size + 4);
	size_t off = 0;

	if (!buf)
		FUZZ_FAIL("a property of the parsed input does not hold");
	memcpy(buf, data, size);
	while (off < size) {
		struct gl_nlsock_ack a;
		int n = gl_nlsock_ack_parse((const uint8_t *)buf + off, size - off, &a);

		if (n < 0)
			break;
		if (n == 0 || (size_t)n > size - off || strnlen(a.msg, sizeof(a.msg)) == sizeof(a.msg))
			FUZZ_FAIL("a property of the parsed input does not hold");
		off += (size_t)n;
	}
	free(buf);
	return 0;
}
