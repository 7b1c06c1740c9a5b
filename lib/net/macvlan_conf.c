/* The macvlan engine's configuration, in the CNI config's field names
 * (a drop-in for the reference macvlan plugin's, plus gamelan's own). */
#include <errno.h>
#include <linux/if_link.h>
#include <string.h>
#include "base/json.h"
#include "base/mac.h"
#include "base/util.h"
#include "cni/cni.h"
#include "net/macvlan.h"

/* Absolute, and no "." or ".." component anywhere (also not the last). */
static bool path_normalized(const char *p)
{
	if (p[0] != '/')
		return false;
	for (const char *c = p; (c = strchr(c, '/')); c++) {
		size_t n = strcspn(c + 1, "/");

		if ((n == 1 && c[1] == '.') || (n == 2 && c[1] == '.' && c[2] == '.'))
			return false;
	}
	return true;
}

static int parse_mode(const char *s, uint32_t *ret)
{
	static const struct { const char *name; uint32_t mode; } modes[] = {
		{ "bridge", MACVLAN_MODE_BRIDGE }, { "private", MACVLAN_MODE_PRIVATE },
		{ "vepa", MACVLAN_MODE_VEPA }, { "passthru", MACVLAN_MODE_PASSTHRU },
	};

	for (size_t i = 0; i < GL_ARRAY_SIZE(modes); i++) {
		if (strcmp(s, modes[i].name) == 0) {
			*ret = modes[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_wait(const char *s, const char *what, int *ret, struct gl_err *err)
{
	int64_t ms;

	if (gl_duration_parse(s, &ms) < 0 || ms <= 0 || ms > GL_MACVLAN_PROBE_MAX_MS)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "%s \"%s\" must be a duration from 1ms to 10s (e.g. \"200ms\")", what, s);
	*ret = (int)ms;
	return 0;
}

/* "probe": true | false | "300ms" | {"wait": "300ms", "recent": "5m"} */
static int parse_probe(json_object *conf, struct gl_macvlan_conf *c, struct gl_err *err)
{
	json_object *p;
	const char *s = NULL;
	int64_t ms;

	if (!json_object_object_get_ex(conf, "probe", &p) || !p)
		return 0;
	switch (json_object_get_type(p)) {
	case json_type_boolean:
		c->probe = json_object_get_boolean(p);
		return 0;
	case json_type_string:
		return parse_wait(json_object_get_string(p), "probe", &c->probe_wait_ms, err);
	case json_type_object:
		if (gl_json_get_str(p, "probe", "wait", &s, err) < 0)
			return -EINVAL;
		if (s && parse_wait(s, "probe.wait", &c->probe_wait_ms, err) < 0)
			return -EINVAL;
		s = NULL;
		if (gl_json_get_str(p, "probe", "recent", &s, err) < 0)
			return -EINVAL;
		if (s) {
			if (gl_duration_parse(s, &ms) < 0 || ms < 0)
				return gl_err_set(err, GL_ERR_INVALID_CONFIG,
						  "probe.recent \"%s\" must be a duration (e.g. \"5m\")", s);
			c->probe_recent_ms = ms;
		}
		return 0;
	default:
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "probe must be true, false, a duration or {\"wait\", \"recent\"}");
	}
}

/* A MAC the kernel takes for a macvlan: unicast and not all-zero
 * (is_valid_ether_addr; it refuses others with EADDRNOTAVAIL). */
static bool usable_mac(const char *s, uint8_t ret[6])
{
	static const uint8_t zero[6];

	return gl_mac_parse(s, ret) == 0 && !(ret[0] & 1) && memcmp(ret, zero, 6) != 0;
}

int gl_macvlan_conf_parse(json_object *conf, const char *rc_mac, const char *args_mac,
			  struct gl_macvlan_conf *ret, struct gl_err *err)
{
	struct gl_macvlan_conf c = {
		.mode = MACVLAN_MODE_BRIDGE,
		.probe = true,
		.probe_wait_ms = GL_MACVLAN_DEFAULT_PROBE_MS,
		.probe_recent_ms = GL_MACVLAN_DEFAULT_RECENT_MS,
		.stable_mac = -1,
		.state_dir = GL_MACVLAN_DEFAULT_STATE_DIR,
	};
	json_object *ipam = NULL;
	const char *s = NULL;
	int64_t mtu = 0;
	bool b;
	int r;

	r = gl_json_get_strbuf(conf, NULL, "master", c.master, sizeof(c.master), err);
	if (r < 0)
		return r;
	if (r > 0 && !gl_cni_ifname_valid(c.master))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "master \"%s\" is not a valid interface name", c.master);
	r = gl_json_get_str(conf, NULL, "mode", &s, err);
	if (r < 0)
		return r;
	if (r > 0 && parse_mode(s, &c.mode) < 0)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG,
				  "mode \"%s\" is not one of bridge, private, vepa, passthru", s);
	r = gl_json_get_int(conf, NULL, "mtu", 0, 65535, &mtu, err);
	if (r < 0)
		return r;
	if (r > 0 && mtu != 0 && mtu < 68)
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "mtu %lld is below the minimum of 68", (long long)mtu);
	c.mtu = (int)mtu;
	s = NULL;
	r = gl_json_get_str(conf, NULL, "mac", &s, err);
	if (r < 0)
		return r;
	if (r > 0) {
		if (!usable_mac(s, c.mac))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "mac \"%s\" is not a usable unicast MAC address", s);
		c.has_mac = true;
	}
	/* The reference macvlan's order: runtimeConfig.mac over CNI_ARGS MAC=
	 * (podman's --mac-address) over the config's mac. */
	if (rc_mac && rc_mac[0]) {
		if (!usable_mac(rc_mac, c.mac))
			return gl_err_set(err, GL_ERR_INVALID_CONFIG,
					  "runtimeConfig.mac \"%s\" is not a usable unicast MAC address", rc_mac);
		c.has_mac = true;
	} else if (args_mac && args_mac[0]) {
		if (!usable_mac(args_mac, c.mac))
			return gl_err_set(err, GL_ERR_INVALID_ENV,
					  "CNI_ARGS MAC \"%s\" is not a usable unicast MAC address", args_mac);
		c.has_mac = true;
	}
	if (gl_json_get_bool(conf, NULL, "linkInContainer", &c.link_in_container, err) < 0)
		return -EINVAL;
	r = gl_json_get_bool(conf, NULL, "stableMac", &b, err);
	if (r < 0)
		return r;
	if (r > 0)
		c.stable_mac = b;
	if (parse_probe(conf, &c, err) < 0)
		return -EINVAL;
	r = gl_json_get_strbuf(conf, NULL, "stateDir", c.state_dir, sizeof(c.state_dir), err);
	if (r < 0)
		return r;
	if (!path_normalized(c.state_dir))
		return gl_err_set(err, GL_ERR_INVALID_CONFIG, "stateDir \"%s\" must be an absolute, normalized path",
				  c.state_dir);
	r = gl_json_get_object(conf, NULL, "ipam", &ipam, err);
	if (r < 0)
		return r;
	if (ipam && json_object_object_length(ipam) > 0) {
		r = gl_json_get_strbuf(ipam, "ipam", "type", c.ipam_type, sizeof(c.ipam_type), err);
		if (r < 0)
			return r;
		if (r == 0)
			return gl_err_set(err, GL_ERR_INVALID_CONFIG, "ipam.type is missing");
	}
	*ret = c;
	return 0;
}
