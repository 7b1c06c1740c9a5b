#!/usr/bin/env bash
# gamelan-macvlan called exactly as a runtime calls it (env + stdin, in the node's namespace),
# against the real kernel: every verb, every result version, the config fields.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db
STATE=$T_TMP/state
PORT=10999

# The base config: gamelan-ipam on the seed's pod range, state in this test's temp dir.
CONF=$(jq -nc --arg db "$DB" --arg sd "$STATE" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.250/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')
# Most cases need no ARP probe (test_conflict.sh covers it); it only costs time.
FAST=$(jq -c '.probe = false' <<<"$CONF")

# The state of the row of IDENTITY (IFNAME eth0), "none" when there is none.
row_state() {
	db_rows | jq -r --arg id "$1" --arg ifn "${2:-eth0}" \
		'[.[] | select(.identity == $id and .ifname == $ifn) | .state] | if length == 0 then "none" else join(",") end'
}

# Links of a namespace except lo, space-separated.
ns_links() {
	ip -n "$(world_ns "$1")" -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' |
		grep -vx lo | sort | tr '\n' ' '
}

ifindex_of() {
	ip -n "$(world_ns "$1")" -j link show dev "$2" | jq -r '.[0].ifindex'
}

# add POD IDENTITY_NAME CONF [NODE]: a fresh pod netns and an ADD for games/IDENTITY_NAME.
# Result in RES, container ID in CID, netns path in NSPATH.
add() {
	local pod=$1 name=$2 conf=$3 node=${4:-node1}
	NSPATH=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	CID=$(t_container_id)
	assert_ok cni_call "$node" gamelan-macvlan ADD "$NSPATH" eth0 "$CID" "$(k8s_args games "$name" "$CID")" \
		<<<"$conf" || return
	RES=$T_OUT
}

del() {
	local path=$1 cid=$2 name=$3 conf=$4 node=${5:-node1}
	assert_ok cni_call "$node" gamelan-macvlan DEL "$path" eth0 "$cid" "$(k8s_args games "$name" "$cid")" \
		<<<"$conf"
}

# ---- VERSION ----

case_version() {
	local want='["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' v
	for v in 1.1.0 0.4.0; do
		assert_ok cni_call node1 gamelan-macvlan VERSION "" "" "" "" <<<"{\"cniVersion\":\"$v\"}" || return
		assert_json_field "$T_OUT" '.cniVersion' "$v" || return
		assert_json_field "$T_OUT" '.supportedVersions | tojson' "$want" || return
	done
	# Older runtimes send nothing at all.
	assert_ok cni_call node1 gamelan-macvlan VERSION "" "" "" "" </dev/null || return
	assert_json_field "$T_OUT" '.supportedVersions | tojson' "$want"
}
t_run "VERSION lists 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0 and echoes the asked cniVersion" case_version

# ---- ADD ----

MAIN_MAC=
MAIN_CID=
MAIN_PATH=
MAIN_RES=
case_add_result() {
	local mac o
	add dst-0 dst-0 "$CONF" || return
	MAIN_CID=$CID MAIN_PATH=$NSPATH MAIN_RES=$RES
	assert_json_field "$RES" '.cniVersion' 1.1.0 || return
	assert_json_field "$RES" '.interfaces | length' 1 || return
	assert_json_field "$RES" '.interfaces[0].name' eth0 || return
	assert_json_field "$RES" '.interfaces[0].sandbox' "$NSPATH" || return
	mac=$(jq -r '.interfaces[0].mac' <<<"$RES")
	assert_match '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' "$mac" "interfaces[0].mac" || return
	# A stable MAC (sticky identity): locally administered, unicast.
	o=$((16#${mac:0:2}))
	assert_eq 2 $((o & 3)) "low bits of the first octet of $mac (locally administered, unicast)" || return
	MAIN_MAC=$mac
	assert_json_field "$RES" '.ips | length' 1 || return
	assert_json_field "$RES" '.ips[0].address' 192.168.1.200/24 || return
	assert_json_field "$RES" '.ips[0].gateway' 192.168.1.1 || return
	assert_json_field "$RES" '.ips[0].interface' 0 || return
	assert_json_field "$RES" '.ips[0] | has("version")' false || return
	assert_json_field "$RES" '[.routes[] | select(.dst == "0.0.0.0/0")] | length' 1 "default route in the result"
}
t_run "ADD (1.1.0): result has interface eth0 with MAC and sandbox, ips[0] on interface 0, routes" \
	case_add_result

case_add_kernel() {
	local det
	[[ -n "$MAIN_MAC" ]] || { t_fail "no ADD result from the previous case"; return 1; }
	det=$(ip -n "$(world_ns pod-dst-0)" -d -j link show dev eth0) || { t_fail "no eth0 in the pod"; return 1; }
	assert_json_field "$det" '.[0].linkinfo.info_kind' macvlan || return
	assert_json_field "$det" '.[0].linkinfo.info_data.mode' bridge || return
	assert_json_field "$det" '.[0].address' "$MAIN_MAC" "link MAC = result MAC" || return
	assert_json_field "$det" '.[0].flags | index("UP") != null' true "UP flag" || return
	assert_json_field "$det" '.[0].link_index' "$(ifindex_of node1 eth0)" "ifindex of the master (node1's eth0)" || return
	assert_contains "link-netns $(world_ns node1)" "$(ip -n "$(world_ns pod-dst-0)" -d link show dev eth0)" \
		"the master's namespace" || return
	assert_addr pod-dst-0 eth0 192.168.1.200/24 || return
	assert_match 'default via 192\.168\.1\.1 dev eth0' "$(ip -n "$(world_ns pod-dst-0)" route show default)" \
		"default route in the pod" || return
	assert_eq "eth0 " "$(ns_links pod-dst-0)" "links in the pod" || return
	assert_eq "Bound" "$(row_state games/dst-0)" "reservation of games/dst-0"
}
t_run "ADD: the pod has a macvlan (bridge) on node1's eth0, UP, with the MAC and the address" case_add_kernel

case_add_lan_host() {
	game_server_start pod-dst-0 "$PORT" "$T_TMP/dst-0.log" || { t_fail "lanserver in the pod"; return 1; }
	assert_rc 0 game_join lanp 192.168.1.200 "$PORT" wilson || return
	assert_eq "accepted wilson from [LAN] 192.168.1.77" "$T_OUT" "reply to the LAN player" || return
	assert_rc 0 game_join node2 192.168.1.200 "$PORT" n2 || return
	assert_rc 1 game_join wanp 192.168.1.200 "$PORT" friend || return
	kill "$GAME_SERVER_PID" 2>/dev/null
	wait "$GAME_SERVER_PID" 2>/dev/null
	return 0
}
t_run "ADD: the pod is a LAN host (LAN player and node2 reach it, the WAN player is refused)" case_add_lan_host

# ---- CHECK ----

case_check() {
	local conf ns
	[[ -n "$MAIN_RES" ]] || { t_fail "no ADD result from a previous case"; return 1; }
	ns=$(world_ns pod-dst-0)
	conf=$(jq -c --argjson prev "$MAIN_RES" '. + {prevResult: $prev}' <<<"$CONF")
	assert_ok cni_call node1 gamelan-macvlan CHECK "$MAIN_PATH" eth0 "$MAIN_CID" \
		"$(k8s_args games dst-0 "$MAIN_CID")" <<<"$conf" || return
	assert_eq "" "$T_OUT" "CHECK's stdout on success" || return
	# Someone removes the address: CHECK must notice.
	ip -n "$ns" addr del 192.168.1.200/24 dev eth0 || { t_fail "ip addr del"; return 1; }
	assert_rc 1 cni_call node1 gamelan-macvlan CHECK "$MAIN_PATH" eth0 "$MAIN_CID" \
		"$(k8s_args games dst-0 "$MAIN_CID")" <<<"$conf"
	local rc=$?
	ip -n "$ns" addr add 192.168.1.200/24 dev eth0
	ip -n "$ns" route replace default via 192.168.1.1 dev eth0
	((rc == 0)) || return
	assert_json_field "$T_OUT" '.code | type' number "error code" || return
	assert_contains 192.168.1.200 "$(jq -r .msg <<<"$T_OUT")" "CHECK's msg" || return
	# Put back: CHECK passes again.
	assert_ok cni_call node1 gamelan-macvlan CHECK "$MAIN_PATH" eth0 "$MAIN_CID" \
		"$(k8s_args games dst-0 "$MAIN_CID")" <<<"$conf"
}
t_run "CHECK with prevResult passes; fails (error JSON naming the address) after the address is deleted" \
	case_check

case_check_mode() {
	local conf
	[[ -n "$MAIN_RES" ]] || { t_fail "no ADD result from a previous case"; return 1; }
	conf=$(jq -c --argjson prev "$MAIN_RES" '. + {prevResult: $prev} | .mode = "vepa"' <<<"$CONF")
	assert_rc 1 cni_call node1 gamelan-macvlan CHECK "$MAIN_PATH" eth0 "$MAIN_CID" \
		"$(k8s_args games dst-0 "$MAIN_CID")" <<<"$conf" || return
	assert_json_field "$T_OUT" '.code | type' number "error code (mode differs)"
}
t_run "CHECK fails when the link's mode differs from the config's" case_check_mode

# ---- STATUS ----

case_status() {
	local conf
	assert_ok cni_call node1 gamelan-macvlan STATUS "" "" "" "" <<<"$CONF" || return
	assert_eq "" "$T_OUT" "STATUS's stdout on success" || return
	conf=$(jq -c '.master = "nosuch0"' <<<"$CONF")
	assert_rc 1 cni_call node1 gamelan-macvlan STATUS "" "" "" "" <<<"$conf" || return
	assert_cni_error "$T_OUT" 50 || return
	# A master that exists but is down.
	ip -n "$(world_ns node1)" link add st0 type veth peer name st1 || { t_fail "veth in node1"; return 1; }
	conf=$(jq -c '.master = "st0"' <<<"$CONF")
	assert_rc 1 cni_call node1 gamelan-macvlan STATUS "" "" "" "" <<<"$conf"
	local rc=$?
	ip -n "$(world_ns node1)" link del st0
	((rc == 0)) || return
	assert_cni_error "$T_OUT" 50
}
t_run "STATUS (1.1.0): ok with eth0; code 50 when the master is missing or down" case_status

# status_msg MASTER MSG N: STATUS with master MASTER fails with code 50 and exactly MSG; the
# error says "master link unusable" N times (a message formatted into itself repeated it).
status_msg() {
	local conf
	conf=$(jq -c --arg m "$1" '.master = $m' <<<"$CONF")
	assert_rc 1 cni_call node1 gamelan-macvlan STATUS "" "" "" "" <<<"$conf" || return
	assert_json_field "$T_OUT" .code 50 "code (master $1)" || return
	assert_json_field "$T_OUT" .msg "$2" "msg (master $1)" || return
	assert_eq "$3" "$(grep -o "master link unusable" <<<"$T_OUT" | wc -l)" \
		"times the error says \"master link unusable\""
}

case_status_msg() {
	local rc
	status_msg nosuch0 "master link unusable: master link nosuch0 does not exist" 1 || return
	ip -n "$(world_ns node1)" link add st0 type veth peer name st1 || { t_fail "veth in node1"; return 1; }
	status_msg st0 "master link st0 is down" 0
	rc=$?
	ip -n "$(world_ns node1)" link del st0
	return "$rc"
}
t_run "STATUS: a missing master (prefixed once) and a down one, each code 50 with an exact msg" case_status_msg

case_status_ipam() {
	local conf
	: >"$T_TMP/not-a-dir"
	conf=$(jq -c --arg p "$T_TMP/not-a-dir/ipam.db" '.ipam.store.path = $p' <<<"$CONF")
	assert_rc 1 cni_call node1 gamelan-macvlan STATUS "" "" "" "" <<<"$conf" || return
	assert_cni_error "$T_OUT" 50
}
t_run "STATUS is forwarded to the IPAM: an unusable store gives code 50" case_status_ipam

# ---- GC ----

case_gc() {
	local a b c pa pb pc gc
	add gc-a gc-a "$FAST" || return
	a=$CID pa=$NSPATH
	add gc-b gc-b "$FAST" || return
	b=$CID pb=$NSPATH
	add gc-c gc-c "$FAST" || return
	c=$CID pc=$NSPATH
	gc=$(jq -c --arg a "$a" --arg c "$c" \
		'. + {"cni.dev/valid-attachments": [{containerID: $a, ifname: "eth0"}, {containerID: $c, ifname: "eth0"}]}' \
		<<<"$FAST")
	assert_ok cni_call node1 gamelan-macvlan GC "" "" "" "" <<<"$gc" || return
	assert_eq Bound "$(row_state games/gc-a)" "games/gc-a (valid)" || return
	assert_eq Bound "$(row_state games/gc-c)" "games/gc-c (valid)" || return
	assert_ne Bound "$(row_state games/gc-b)" "games/gc-b (not in valid-attachments)" || return
	# The older key is accepted too.
	gc=$(jq -c --arg a "$a" '. + {"cni.dev/attachments": [{containerID: $a, ifname: "eth0"}]}' <<<"$FAST")
	assert_ok cni_call node1 gamelan-macvlan GC "" "" "" "" <<<"$gc" || return
	assert_eq Bound "$(row_state games/gc-a)" "games/gc-a (valid, older key)" || return
	assert_ne Bound "$(row_state games/gc-c)" "games/gc-c (not in cni.dev/attachments)" || return
	# Another node's GC never releases node1's reservations (the store records the node).
	gc=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$FAST")
	assert_ok cni_call node2 gamelan-macvlan GC "" "" "" "" <<<"$gc" || return
	assert_eq Bound "$(row_state games/gc-a)" "games/gc-a after node2's GC with an empty list" || return
	# GC without a list releases nothing.
	assert_ok cni_call node1 gamelan-macvlan GC "" "" "" "" <<<"$FAST" || return
	assert_eq Bound "$(row_state games/gc-a)" "games/gc-a after a GC without a list" || return
	del "$pa" "$a" gc-a "$FAST" || return
	del "$pb" "$b" gc-b "$FAST" || return
	del "$pc" "$c" gc-c "$FAST"
}
t_run "GC (1.1.0) is forwarded to IPAM: frees what valid-attachments omits (old key too)" case_gc

# ---- DEL ----

case_del_twice() {
	add del-0 del-0 "$FAST" || return
	del "$NSPATH" "$CID" del-0 "$FAST" || return
	assert_eq "" "$T_OUT" "DEL's stdout" || return
	assert_no_link pod-del-0 eth0 || return
	assert_eq Held "$(row_state games/del-0)" "games/del-0 after DEL" || return
	del "$NSPATH" "$CID" del-0 "$FAST" || return
	assert_eq Held "$(row_state games/del-0)" "games/del-0 after the second DEL" || return
	assert_ok pod_netns_del del-0
}
t_run "DEL twice: both rc 0; the link is gone, the reservation Held" case_del_twice

case_del_netns_gone() {
	local path cid
	add gone-0 gone-0 "$FAST" || return
	assert_ok pod_netns_del gone-0 || return
	del "$NSPATH" "$CID" gone-0 "$FAST" || return
	assert_eq Held "$(row_state games/gone-0)" "games/gone-0 after DEL" || return
	# Without CNI_NETNS at all (a runtime that lost it), DEL is still fine.
	assert_ok cni_call node1 gamelan-macvlan DEL "" eth0 "$CID" "$(k8s_args games gone-0 "$CID")" <<<"$FAST" || return
	# Not sticky (no identity from the runtime): the address is free at once.
	path=$(pod_netns gone-1) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "" <<<"$FAST" || return
	assert_eq Bound "$(row_state "$cid")" "row of container $cid" || return
	assert_ok pod_netns_del gone-1 || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "" <<<"$FAST" || return
	assert_eq none "$(row_state "$cid")" "row of container $cid after DEL"
}
t_run "DEL after the netns was deleted: rc 0, reservation released (Held if sticky, gone if not)" \
	case_del_netns_gone

# ---- result versions ----

case_versions() {
	local v n=0 conf has
	for v in 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0; do
		n=$((n + 1))
		conf=$(jq -c --arg v "$v" '.cniVersion = $v' <<<"$FAST")
		add "ver-$n" "ver-$n" "$conf" || return
		assert_json_field "$RES" '.cniVersion' "$v" || return
		assert_json_field "$RES" '.interfaces[0].name' eth0 "($v) interfaces[0].name" || return
		assert_json_field "$RES" '.ips[0].interface' 0 "($v) ips[0].interface" || return
		assert_match '^192\.168\.1\.2(0[0-9]|1[0-6])/24$' "$(jq -r '.ips[0].address' <<<"$RES")" \
			"($v) ips[0].address" || return
		if [[ "$v" == 0.* ]]; then
			assert_json_field "$RES" '.ips[0].version' 4 "($v) ips[0].version" || return
		else
			assert_json_field "$RES" '.ips[0] | has("version")' false "($v) ips[0] has no version" || return
		fi
		has=$(jq -r '.interfaces[0] | has("mtu")' <<<"$RES")
		assert_eq false "$has" "($v) interfaces[0].mtu without mtu in the config" || return
		del "$NSPATH" "$CID" "ver-$n" "$conf" || return
		assert_no_link "pod-ver-$n" eth0 || return
		pod_netns_del "ver-$n"
	done
}
t_run "results in 0.3.0, 0.3.1 and 0.4.0 (ips carry version \"4\"), 1.0.0 and 1.1.0 (they do not)" case_versions

# ---- config fields ----

link_mode() {
	ip -n "$(world_ns "$1")" -d -j link show dev eth0 | jq -r '.[0].linkinfo.info_data.mode'
}

case_modes() {
	local m
	for m in private vepa bridge; do
		add "mode-$m" "mode-$m" "$(jq -c --arg m "$m" '.mode = $m' <<<"$FAST")" || return
		assert_eq "$m" "$(link_mode "pod-mode-$m")" "macvlan mode" || return
		del "$NSPATH" "$CID" "mode-$m" "$FAST" || return
		pod_netns_del "mode-$m"
	done
}
t_run "mode private/vepa/bridge reach the kernel" case_modes

case_passthru() {
	local before conf
	before=$(ip -n "$(world_ns node2)" -j link show dev eth0 | jq -r '.[0].address')
	conf=$(jq -c '.mode = "passthru"' <<<"$FAST")
	add pt-0 pt-0 "$conf" node2 || return
	assert_eq passthru "$(link_mode pod-pt-0)" "macvlan mode" || return
	assert_addr pod-pt-0 eth0 "$(jq -r '.ips[0].address' <<<"$RES")" || return
	del "$NSPATH" "$CID" pt-0 "$conf" node2 || return
	assert_no_link pod-pt-0 eth0 || return
	assert_eq "$before" "$(ip -n "$(world_ns node2)" -j link show dev eth0 | jq -r '.[0].address')" \
		"node2's eth0 MAC after the passthru pod is gone"
	pod_netns_del pt-0
}
t_run "mode passthru (on node2): the link is made; after DEL node2's NIC has its own MAC back" case_passthru

case_mtu() {
	add mtu-0 mtu-0 "$(jq -c '.mtu = 1400' <<<"$FAST")" || return
	assert_json_field "$(ip -n "$(world_ns pod-mtu-0)" -j link show dev eth0)" '.[0].mtu' 1400 "link mtu" || return
	assert_json_field "$RES" '.interfaces[0].mtu' 1400 "result interfaces[0].mtu (1.1.0)" || return
	del "$NSPATH" "$CID" mtu-0 "$FAST"
}
t_run "mtu 1400: on the link and in the 1.1.0 result" case_mtu

case_mac() {
	add mac-0 mac-0 "$(jq -c '.mac = "02:aa:bb:cc:dd:01"' <<<"$FAST")" || return
	assert_json_field "$RES" '.interfaces[0].mac' 02:aa:bb:cc:dd:01 "result mac" || return
	assert_json_field "$(ip -n "$(world_ns pod-mac-0)" -j link show dev eth0)" '.[0].address' \
		02:aa:bb:cc:dd:01 "link mac" || return
	del "$NSPATH" "$CID" mac-0 "$FAST" || return
	# runtimeConfig.mac (the "mac" capability, as multus passes it) wins over the config's.
	add mac-1 mac-1 "$(jq -c '.mac = "02:aa:bb:cc:dd:01" | .runtimeConfig = {mac: "02:aa:bb:cc:dd:02"}' \
		<<<"$FAST")" || return
	assert_json_field "$RES" '.interfaces[0].mac' 02:aa:bb:cc:dd:02 "result mac" || return
	assert_json_field "$(ip -n "$(world_ns pod-mac-1)" -j link show dev eth0)" '.[0].address' \
		02:aa:bb:cc:dd:02 "link mac" || return
	del "$NSPATH" "$CID" mac-1 "$FAST"
}
t_run "mac in the config, and runtimeConfig.mac over it, reach the link and the result" case_mac

case_stable_mac_off() {
	local m1 conf
	conf=$(jq -c '.stableMac = false' <<<"$FAST")
	add smac-0 smac-0 "$conf" || return
	m1=$(jq -r '.interfaces[0].mac' <<<"$RES")
	del "$NSPATH" "$CID" smac-0 "$conf" || return
	add smac-1 smac-0 "$conf" || return
	assert_ne "$m1" "$(jq -r '.interfaces[0].mac' <<<"$RES")" "MAC of a re-created games/smac-0 with stableMac false" || return
	del "$NSPATH" "$CID" smac-0 "$conf"
}
t_run "stableMac false: the same identity gets a new (kernel-chosen) MAC each time" case_stable_mac_off

case_link_in_container() {
	local path ns conf det
	path=$(pod_netns lic-0) || { t_fail "pod_netns"; return 1; }
	ns=$(world_ns pod-lic-0)
	# The master lives in the pod's namespace: a veth pair made there.
	ip -n "$ns" link add vm0 type veth peer name vm1 || { t_fail "veth in the pod"; return 1; }
	ip -n "$ns" link set vm0 up && ip -n "$ns" link set vm1 up
	conf=$(jq -c '.master = "vm0" | .linkInContainer = true' <<<"$FAST")
	CID=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$CID" "$(k8s_args games lic-0 "$CID")" \
		<<<"$conf" || return
	det=$(ip -n "$ns" -d -j link show dev eth0)
	assert_json_field "$det" '.[0].linkinfo.info_kind' macvlan || return
	# ip names a parent in the same namespace ("link"); one elsewhere by index + netnsid.
	assert_json_field "$det" '.[0].link' vm0 "master (vm0, in the pod)" || return
	assert_json_field "$det" '.[0] | has("link_netnsid")' false "master in the same namespace" || return
	assert_addr pod-lic-0 eth0 "$(jq -r '.ips[0].address' <<<"$T_OUT")" || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$CID" "$(k8s_args games lic-0 "$CID")" \
		<<<"$conf" || return
	assert_no_link pod-lic-0 eth0 || return
	assert_link pod-lic-0 vm0
}
t_run "linkInContainer: the master (a veth) is looked up and used inside the pod's netns" \
	case_link_in_container

case_dual_stack() {
	local conf
	conf=$(jq -c '.ipam = (.ipam | del(.range, .gateway) | .ranges = [
		[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.200", rangeEnd: "192.168.1.216", gateway: "192.168.1.1"}],
		[{subnet: "fd00:1::/64", rangeStart: "fd00:1::200", rangeEnd: "fd00:1::216", gateway: "fd00:1::1"}]]
		| .routes = [{dst: "0.0.0.0/0"}, {dst: "::/0"}]
		| .store.path = (.store.path + "-ds"))' <<<"$FAST")
	add ds-0 ds-0 "$conf" || return
	assert_json_field "$RES" '.ips | length' 2 || return
	assert_json_field "$RES" '[.ips[].interface] | tojson' '[0,0]' || return
	assert_json_field "$RES" '.ips[1].address' fd00:1::200/64 || return
	assert_addr pod-ds-0 eth0 192.168.1.200/24 || return
	assert_addr pod-ds-0 eth0 fd00:1::200/64 || return
	assert_match 'default via fd00:1::1 dev eth0' "$(ip -n "$(world_ns pod-ds-0)" -6 route show default)" \
		"IPv6 default route" || return
	game_server_start pod-ds-0 "$PORT" "$T_TMP/ds.log" --bind :: || { t_fail "lanserver"; return 1; }
	assert_rc 0 game_join lanp fd00:1::200 "$PORT" w6 || return
	kill "$GAME_SERVER_PID" 2>/dev/null
	wait "$GAME_SERVER_PID" 2>/dev/null
	del "$NSPATH" "$CID" ds-0 "$conf"
}
t_run "dual stack (two range sets): both addresses on eth0, both routes, reachable over IPv6" case_dual_stack

case_cleanup_main() {
	[[ -n "$MAIN_CID" ]] || return 0
	del "$MAIN_PATH" "$MAIN_CID" dst-0 "$CONF" || return
	assert_no_link pod-dst-0 eth0
}
t_run "DEL of the first pod removes its link" case_cleanup_main

t_done
