#!/usr/bin/env bash
# Every example in conf/ is a real configuration: each one is taken the way its
# consumer takes it (a conflist's first plugin with the list's cniVersion and
# name, as libcni does; a NetworkAttachmentDefinition's spec.config with the
# object's name injected, as multus does), pointed at temporary state, and run
# through ADD, CHECK and DEL in the netns world.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

# Print the network config a runtime would hand the first plugin of FILE.
conf_of() {
	python3 - "$1" "$T_TMP/$(basename "$1")" <<'PY'
import json, re, sys
path, state = sys.argv[1], sys.argv[2]
text = open(path).read()
if path.endswith(".yaml"):
    kind = re.search(r"^kind:\s*(\S+)", text, re.M).group(1)
    assert kind == "NetworkAttachmentDefinition", kind
    name = re.search(r"^\s+name:\s*(\S+)", text, re.M).group(1)
    conf = json.loads(re.search(r"config:\s*'(.*)'", text, re.S).group(1))
    conf.setdefault("name", name)
else:
    lst = json.loads(text)
    conf = dict(lst["plugins"][0])
    conf["cniVersion"] = lst["cniVersion"]
    conf["name"] = lst["name"]
# Temporary state only: never the host's /var/lib.
conf["stateDir"] = state + "/macvlan"
ipam = conf["ipam"]
if ipam["type"] == "host-local":
    ipam["dataDir"] = state + "/host-local"
else:
    ipam["store"] = {"type": "sqlite", "path": state + "/ipam.db"}
print(json.dumps(conf))
PY
}

check_example() {
	local file=$1 conf netns pod id res ver
	conf=$(conf_of "$file") || { t_fail "cannot read $file"; return 1; }
	assert_match '"type": "gamelan-macvlan"' "$conf" "plugin type" || return 1
	pod=conf$RANDOM
	netns=$(pod_netns "$pod") || return 1
	id=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$netns" eth0 "$id" \
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0" <<<"$conf" || return 1
	res=$T_OUT
	assert_match '^192\.168\.1\.2[0-3][0-9]/24$' "$(jq -r '.ips[0].address' <<<"$res")" "IPv4 address" || return 1
	assert_addr "pod-$pod" eth0 "$(jq -r '.ips[0].address' <<<"$res")" || return 1
	if [[ "$file" == *dualstack* ]]; then
		assert_match '^fd00:1::1[0-9a-f]{2}/64$' "$(jq -r '.ips[1].address' <<<"$res")" "IPv6 address" || return 1
	fi
	ver=$(jq -r .cniVersion <<<"$conf")
	if [[ "$ver" != 0.3.* ]]; then
		assert_ok cni_call node1 gamelan-macvlan CHECK "$netns" eth0 "$id" \
			"IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0" \
			<<<"$(jq -c --argjson p "$res" '. + {prevResult: $p}' <<<"$conf")" || return 1
	fi
	assert_ok cni_call node1 gamelan-macvlan DEL "$netns" eth0 "$id" \
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0" <<<"$conf" || return 1
	assert_no_link "pod-$pod" eth0 || return 1
}

# Print the config a runtime hands plugin number IDX of conflist FILE (libcni: the list's
# cniVersion and name; the interface plugin pointed at temporary state as above).
plugin_conf_of() {
	python3 - "$1" "$2" "$T_TMP/$(basename "$1")" <<'PY'
import json, sys
path, idx, state = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lst = json.load(open(path))
conf = dict(lst["plugins"][idx])
conf["cniVersion"] = lst["cniVersion"]
conf["name"] = lst["name"]
if "ipam" in conf:
    conf["stateDir"] = state + "/macvlan"
    conf["ipam"]["store"] = {"type": "sqlite", "path": state + "/ipam.db"}
print(json.dumps(conf))
PY
}

# A conflist with a chained gamelan-snat: ADD in order (each plugin gets the previous result
# as prevResult, and gamelan-snat passes it on unchanged), CHECK every plugin with the final
# result, DEL in reverse order; the pod's table comes and goes with it.
check_chain() {
	local file=$1 c0 c1 netns pod id args res0 res1 rules
	c0=$(plugin_conf_of "$file" 0) || { t_fail "cannot read $file"; return 1; }
	c1=$(plugin_conf_of "$file" 1) || return 1
	assert_match '"type": "gamelan-snat"' "$c1" "second plugin type" || return 1
	pod=chain$RANDOM
	netns=$(pod_netns "$pod") || return 1
	id=$(t_container_id)
	args="IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0"
	assert_ok cni_call node1 gamelan-macvlan ADD "$netns" eth0 "$id" "$args" <<<"$c0" || return 1
	res0=$T_OUT
	assert_ok cni_call node1 gamelan-snat ADD "$netns" eth0 "$id" "$args" \
		<<<"$(jq -c --argjson p "$res0" '. + {prevResult: $p}' <<<"$c1")" || return 1
	res1=$T_OUT
	assert_eq "$(jq -S . <<<"$res0")" "$(jq -S . <<<"$res1")" "gamelan-snat's result" || return 1
	rules=$(ip netns exec "$(world_ns "pod-$pod")" nft list table inet gamelan-snat-eth0) || {
		t_fail "no table inet gamelan-snat-eth0 in the pod"
		return 1
	}
	assert_match 'iifname "eth0" ip saddr != 192\.168\.1\.0/24 udp dport 10999 .*snat ip to 192\.168\.1\.1 comment "gamelan:'"$id"':eth0"' \
		"$rules" "the pod's rule" || return 1
	assert_ok cni_call node1 gamelan-macvlan CHECK "$netns" eth0 "$id" "$args" \
		<<<"$(jq -c --argjson p "$res1" '. + {prevResult: $p}' <<<"$c0")" || return 1
	assert_ok cni_call node1 gamelan-snat CHECK "$netns" eth0 "$id" "$args" \
		<<<"$(jq -c --argjson p "$res1" '. + {prevResult: $p}' <<<"$c1")" || return 1
	assert_ok cni_call node1 gamelan-snat DEL "$netns" eth0 "$id" "$args" \
		<<<"$(jq -c --argjson p "$res1" '. + {prevResult: $p}' <<<"$c1")" || return 1
	assert_eq "" "$(ns_nft_tables "pod-$pod")" "tables left in the pod" || return 1
	assert_ok cni_call node1 gamelan-macvlan DEL "$netns" eth0 "$id" "$args" <<<"$c0" || return 1
	assert_no_link "pod-$pod" eth0 || return 1
}

for f in "$GL_TOP"/conf/*.conflist "$GL_TOP"/conf/nad-*.yaml; do
	t_run "conf/$(basename "$f") works as its consumer passes it" check_example "$f"
done
for f in "$GL_TOP"/conf/*.conflist; do
	if [[ $(jq '.plugins | length' "$f") -gt 1 ]]; then
		t_run "conf/$(basename "$f") chains its plugins as libcni does" check_chain "$f"
	fi
done
t_done
