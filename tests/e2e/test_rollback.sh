#!/usr/bin/env bash
# A failed ADD undoes everything it did: no link in the pod, the store as it was, no file in
# host-local's dataDir. Failures are made real: a full pool, a kernel that refuses a link or
# a route, an interface name already taken, an address another LAN host answers for.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db

CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')
HLCONF=$(jq -nc --arg sd "$T_TMP/state" '{
	cniVersion: "1.0.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "host-local", dataDir: "@HL@",
		ranges: [[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.200",
			rangeEnd: "192.168.1.216", gateway: "192.168.1.1"}]],
		routes: [{dst: "0.0.0.0/0"}]}}')
# A route whose gateway is on no connected network: the kernel refuses it, after the IPAM
# has given an address and the link is up (the last step of ADD).
BAD_ROUTE='.ipam.routes = [{dst: "0.0.0.0/0"}, {dst: "10.9.0.0/16", gw: "10.1.1.1"}]'

# hl_conf DIR [JQ]: the host-local config with its own dataDir.
hl_conf() {
	jq -c --arg d "$T_TMP/$1" ".ipam.dataDir = \$d | ${2:-.}" <<<"$HLCONF"
}

# Addresses host-local has on record in DIR (its files are named after an address).
hl_reserved() {
	find "$T_TMP/$1" -type f 2>/dev/null | sed 's|.*/||' | grep -E '^[0-9a-f.:]+$' | sort | tr '\n' ' '
}

ok_add() {
	local pod=$1 name=$2 conf=$3 path
	path=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	CID=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$CID" "$(k8s_args games "$name" "$CID")" \
		<<<"$conf" || return
	RES=$T_OUT
	NSPATH=$path
}

# failed_add POD NAME CONF: a fresh pod and an ADD that must fail with a CNI error JSON.
failed_add() {
	local pod=$1 name=$2 conf=$3 path
	if [[ -e "/run/netns/$(world_ns "pod-$pod")" ]]; then
		path=/run/netns/$(world_ns "pod-$pod")
	else
		path=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	fi
	CID=$(t_container_id)
	assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$CID" "$(k8s_args games "$name" "$CID")" \
		<<<"$conf" || return
	assert_json_field "$T_OUT" '.code | type' number "error JSON on stdout" || return
	assert_json_field "$T_OUT" '.msg | length > 0' true "error msg" || return
	ERR=$T_OUT
}

case_pool_exhausted() {
	local conf before
	conf=$(jq -c '.ipam.range = "192.168.1.200-192.168.1.200/24" | .ipam.store.path += "-one"' <<<"$CONF")
	ok_add full-0 own-0 "$conf" || return
	before=$(DB=$DB-one db_snap)
	failed_add full-1 new-0 "$conf" || return
	assert_cni_error "$ERR" 100 || return
	assert_eq "lo " "$(pod_links full-1)" "links in the pod after the failed ADD" || return
	assert_eq "$before" "$(DB=$DB-one db_snap)" "the store after the failed ADD"
}
t_run "IPAM fails (pool of one address, already bound): code 100, no link in the pod, store unchanged" \
	case_pool_exhausted

case_mtu_refused() {
	local before
	before=$(db_snap)
	failed_add mtu-0 mtu-0 "$(jq -c '.mtu = 9000' <<<"$CONF")" || return
	assert_cni_error "$ERR" 104 || return
	assert_eq "lo " "$(pod_links mtu-0)" "links in the pod" || return
	assert_eq "$before" "$(db_snap)" "the store"
}
t_run "the kernel refuses the link (mtu 9000 > master's 1500): code 104, no link, no reservation" \
	case_mtu_refused

case_ifname_taken() {
	local ns before det
	pod_netns taken-0 >/dev/null || { t_fail "pod_netns"; return 1; }
	ns=$(world_ns pod-taken-0)
	ip -n "$ns" link add eth0 type veth peer name peer0 || { t_fail "veth in the pod"; return 1; }
	before=$(db_snap)
	failed_add taken-0 taken-0 "$CONF" || return
	assert_contains eth0 "$(jq -r .msg <<<"$ERR")" "msg names the interface" || return
	# The runtime's own eth0 is not ours to delete.
	det=$(ip -n "$ns" -d -j link show dev eth0) || { t_fail "the pod's own eth0 was deleted"; return 1; }
	assert_json_field "$det" '.[0].linkinfo.info_kind' veth "kind of the pod's eth0" || return
	assert_eq "eth0 lo peer0 " "$(pod_links taken-0)" "links in the pod" || return
	assert_eq "$before" "$(db_snap)" "the store"
}
t_run "ifname already exists in the pod: error, the existing eth0 untouched, no reservation" case_ifname_taken

case_route_refused() {
	local before
	before=$(db_snap)
	failed_add route-0 route-0 "$(jq -c "$BAD_ROUTE" <<<"$CONF")" || return
	assert_cni_error "$ERR" 104 || return
	assert_contains 10.9.0.0/16 "$(jq -r .msg <<<"$ERR")" "msg names the route" || return
	assert_eq "lo " "$(pod_links route-0)" "links in the pod" || return
	# A failed ADD must not be remembered as a verified address (that would skip the probe).
	assert_eq "" "$(grep -rl 'games/route-0' "$T_TMP/state" 2>/dev/null)" "stateDir records of games/route-0" || return
	assert_eq "$before" "$(db_snap)" "the store (a first-time identity must not keep a reservation)"
}
t_run "a route the kernel refuses (after IPAM): code 104, no link, no reservation for the new identity" \
	case_route_refused

case_route_refused_returning() {
	local ip before
	ok_add back-0 back-0 "$CONF" || return
	ip=$(jq -r '.ips[0].address | split("/")[0]' <<<"$RES")
	assert_ok cni_call node1 gamelan-macvlan DEL "$NSPATH" eth0 "$CID" "$(k8s_args games back-0 "$CID")" \
		<<<"$CONF" || return
	before=$(db_snap)
	assert_contains "\"ip\":\"$ip\",\"identity\":\"games/back-0\",\"ifname\":\"eth0\",\"state\":\"Held\"" \
		"$before" "games/back-0 Held before" || return
	failed_add back-1 back-0 "$(jq -c "$BAD_ROUTE" <<<"$CONF")" || return
	assert_eq "lo " "$(pod_links back-1)" "links in the pod" || return
	# Its expiry and last container may change; it keeps its address, Held.
	assert_eq "$(jq -c 'map(del(.containerID))' <<<"$before")" "$(db_snap | jq -c 'map(del(.containerID))')" \
		"the store (the identity keeps its Held address)" || return
	ok_add back-2 back-0 "$CONF" || return
	assert_json_field "$RES" '.ips[0].address' "$ip/24" "games/back-0 after the failed ADD"
}
t_run "a failed ADD of a returning identity keeps its Held address for it" case_route_refused_returning

case_hostlocal_route() {
	failed_add hl-0 hl-0 "$(hl_conf hl-route "$BAD_ROUTE")" || return
	assert_cni_error "$ERR" 104 || return
	assert_eq "lo " "$(pod_links hl-0)" "links in the pod" || return
	assert_ne "" "$(ls -A "$T_TMP/hl-route" 2>/dev/null)" "host-local's dataDir (it did run)" || return
	assert_eq "" "$(hl_reserved hl-route)" "addresses on record in host-local's dataDir"
}
t_run "host-local: a refused route rolls back the link and host-local's reservation file" case_hostlocal_route

case_hostlocal_conflict() {
	local lanp ns
	lanp=$(world_ns lanp)
	# A LAN host holds the first address of the range: the ARP probe finds it, and with an
	# IPAM that cannot set it aside, ADD ends with 102.
	ip -n "$lanp" addr add 192.168.1.200/24 dev eth0 || { t_fail "address on the LAN player"; return 1; }
	failed_add hl-1 hl-1 "$(hl_conf hl-conflict '.probe = "200ms"')"
	local rc=$?
	ip -n "$lanp" addr del 192.168.1.200/24 dev eth0
	((rc == 0)) || return
	assert_cni_error "$ERR" 102 || return
	assert_contains 192.168.1.200 "$(jq -r .msg <<<"$ERR")" "msg names the address" || return
	assert_eq "lo " "$(pod_links hl-1)" "links in the pod" || return
	assert_eq "" "$(hl_reserved hl-conflict)" "addresses on record in host-local's dataDir"
}
t_run "host-local: an address in use on the LAN (code 102) is released in host-local's dataDir" \
	case_hostlocal_conflict

case_hostlocal_exhausted() {
	local conf cid path
	conf=$(hl_conf hl-full '.ipam.ranges[0][0].rangeEnd = "192.168.1.200"')
	ok_add hl-2 hl-2 "$conf" || return
	cid=$CID path=$NSPATH
	assert_eq "192.168.1.200 " "$(hl_reserved hl-full)" "host-local's record of the first pod" || return
	failed_add hl-3 hl-3 "$conf" || return
	assert_eq "lo " "$(pod_links hl-3)" "links in the pod" || return
	assert_eq "192.168.1.200 " "$(hl_reserved hl-full)" "host-local's records" || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "" <<<"$conf" || return
	assert_eq "" "$(hl_reserved hl-full)" "host-local's records after DEL"
}
t_run "host-local exhausted: its error is passed on, no link; DEL frees host-local's record" \
	case_hostlocal_exhausted

t_done
