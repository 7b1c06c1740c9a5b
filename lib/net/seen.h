/* Which address was in use by which identity, and when, on this node: lets
 * a restarting server skip the conflict probe that a new address needs. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

/* True if ip was recorded for identity on network within the last within_ms. */
bool gl_seen_recent(const char *dir, const char *network, const char *ip, const char *identity,
		    int64_t within_ms);
/* Record (or refresh) ip -> identity now. Creates dir 0700 and the file 0600. */
int gl_seen_record(const char *dir, const char *network, const char *ip, const char *identity);
