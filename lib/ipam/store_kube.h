/* The Kubernetes store (store_kube.c): one IPReservation (gamelan.dev/v1alpha1)
 * per reserved address, named from network and address. Its ops table is
 * gl_store_kube_ops (store.h); these are its pure parts, for tests and the
 * admin tool. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/ip.h"
#include "ipam/store.h"

struct json_object;
#define GL_STORE_KUBE_NET_MAX 50    /* "<net>" part: 40 + '-' + 8 hex + NUL */
#define GL_STORE_KUBE_NAME_MAX 100  /* "<net>-<ip>" */
/* The network's label value: lowercased, [a-z0-9-] only, cut to 40, and a
 * hash suffix when it had to be changed or cut. */
void gl_store_kube_net_label(const char *network, char ret[GL_STORE_KUBE_NET_MAX]);
/* metadata.name of the row (network, ip). */
void gl_store_kube_name(const char *network, const struct gl_ip *ip, char ret[GL_STORE_KUBE_NAME_MAX]);
/* The identity's label value: 16 hex digits of its hash. */
void gl_store_kube_identity_label(const char *identity, char ret[17]);
/* The object for r in namespace ns (metadata.resourceVersion when
 * with_version); NULL when out of memory. */
struct json_object *gl_store_kube_to_json(const struct gl_resv *r, const char *ns, bool with_version);
/* An object from the API back into a row; -EBADMSG naming what is wrong in
 * err (plain message, no code) when it is not a well-formed IPReservation. */
int gl_store_kube_from_json(struct json_object *o, struct gl_resv *ret, char *why, size_t why_size);
/* RFC 3339 UTC with milliseconds, and back (-EINVAL). */
void gl_store_kube_time_str(int64_t ms, char ret[32]);
int gl_store_kube_time_parse(const char *s, int64_t *ret_ms);
/* Requests the Kubernetes store made through its client so far (bench). */
long gl_store_kube_requests(struct gl_store *s);
