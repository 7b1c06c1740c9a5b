#!/usr/bin/env bash
# gamelan's plugins with the reference plugins, the way a runtime chains them:
#  (a) tuning after gamelan-macvlan in a conflist (ADD in order with prevResult, CHECK, DEL
#      in reverse order);
#  (b) gamelan-ipam under the reference macvlan (CNI 1.0.0): sticky across nodes;
#  (c) host-local and static under gamelan-macvlan.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db
for p in macvlan tuning host-local static; do
	[[ -x /usr/lib/cni/$p ]] || t_bail "reference plugin /usr/lib/cni/$p missing (tests/install-deps.sh)"
done

GIPAM=$(jq -nc --arg db "$DB" '{type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24",
	gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}], store: {type: "sqlite", path: $db}}')

with_prev() {
	jq -c --argjson prev "$2" '. + {prevResult: $prev}' <<<"$1"
}

# ---- (a) tuning after gamelan-macvlan ----

MV=$(jq -nc --argjson ipam "$GIPAM" --arg sd "$T_TMP/state" '{cniVersion: "1.0.0", name: "lan",
	type: "gamelan-macvlan", master: "eth0", stateDir: $sd, probe: false, ipam: $ipam}')
TUNING=$(jq -nc --arg d "$T_TMP/tuning" '{cniVersion: "1.0.0", name: "lan", type: "tuning",
	dataDir: $d, mtu: 1400, promisc: true, mac: "02:11:22:33:44:55",
	sysctl: {"net.ipv4.conf.eth0.arp_ignore": "1", "net.ipv4.conf.eth0.arp_announce": "2"}}')

T_PATH='' T_CID='' T_ARGS='' R1='' R2=''
case_tuning_add() {
	local ns det
	T_PATH=$(pod_netns tun-0) || { t_fail "pod_netns"; return 1; }
	T_CID=$(t_container_id)
	T_ARGS=$(k8s_args games tun-0 "$T_CID")
	ns=$(world_ns pod-tun-0)
	assert_ok cni_call node1 gamelan-macvlan ADD "$T_PATH" eth0 "$T_CID" "$T_ARGS" <<<"$MV" || return
	R1=$T_OUT
	assert_ok cni_call node1 tuning ADD "$T_PATH" eth0 "$T_CID" "$T_ARGS" <<<"$(with_prev "$TUNING" "$R1")" || return
	R2=$T_OUT
	assert_json_field "$R2" '.ips[0].address' "$(jq -r '.ips[0].address' <<<"$R1")" "tuning passes the address on" || return
	assert_json_field "$R2" '.interfaces[0].mac' 02:11:22:33:44:55 "tuning's result MAC" || return
	det=$(ip -n "$ns" -d -j link show dev eth0)
	assert_json_field "$det" '.[0].linkinfo.info_kind' macvlan || return
	assert_json_field "$det" '.[0].mtu' 1400 "mtu set by tuning" || return
	assert_json_field "$det" '.[0].promiscuity > 0' true "promiscuous mode set by tuning" || return
	assert_json_field "$det" '.[0].address' 02:11:22:33:44:55 "MAC set by tuning" || return
	assert_eq 1 "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.eth0.arp_ignore)" "arp_ignore in the pod" || return
	assert_eq 2 "$(ip netns exec "$ns" sysctl -n net.ipv4.conf.eth0.arp_announce)" "arp_announce in the pod" || return
	assert_addr pod-tun-0 eth0 "$(jq -r '.ips[0].address' <<<"$R1")"
}
t_run "(a) conflist gamelan-macvlan -> tuning: tuning gets the result as prevResult and applies mtu, promisc, mac, sysctls" \
	case_tuning_add

case_tuning_check() {
	[[ -n "$R2" ]] || { t_fail "no chain result from the previous case"; return 1; }
	# CHECK runs every plugin in order with the chain's final result.
	assert_ok cni_call node1 gamelan-macvlan CHECK "$T_PATH" eth0 "$T_CID" "$T_ARGS" <<<"$(with_prev "$MV" "$R2")" || return
	assert_ok cni_call node1 tuning CHECK "$T_PATH" eth0 "$T_CID" "$T_ARGS" <<<"$(with_prev "$TUNING" "$R2")"
}
t_run "(a) CHECK of the chain (final result as prevResult) passes in both plugins" case_tuning_check

case_tuning_del() {
	[[ -n "$R2" ]] || { t_fail "no chain result from a previous case"; return 1; }
	# DEL runs the chain in reverse order.
	assert_ok cni_call node1 tuning DEL "$T_PATH" eth0 "$T_CID" "$T_ARGS" <<<"$(with_prev "$TUNING" "$R2")" || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$T_PATH" eth0 "$T_CID" "$T_ARGS" <<<"$(with_prev "$MV" "$R2")" || return
	assert_eq "lo " "$(pod_links tun-0)" "links in the pod after the chain's DEL" || return
	assert_json_field "$("$GL_BIN/gamelan-ipam" list --db "$DB" --json)" \
		'[.[] | select(.identity == "games/tun-0")][0].state' Held "games/tun-0 after DEL"
}
t_run "(a) DEL in reverse order (tuning, then gamelan-macvlan): rc 0, no link left" case_tuning_del

# ---- (b) gamelan-ipam under the reference macvlan ----

REF=$(jq -nc --argjson ipam "$GIPAM" '{cniVersion: "1.0.0", name: "ref", type: "macvlan",
	master: "eth0", mode: "bridge", ipam: $ipam}')

case_ref_sticky() {
	local p1 p2 c1 c2 ip1 ip2 ip3 res
	p1=$(pod_netns ref-a) || { t_fail "pod_netns"; return 1; }
	c1=$(t_container_id)
	assert_ok cni_call node1 macvlan ADD "$p1" eth0 "$c1" "$(k8s_args games dst-0 "$c1")" <<<"$REF" || return
	res=$T_OUT
	ip1=$(jq -r '.ips[0].address' <<<"$res")
	assert_eq 192.168.1.200/24 "$ip1" "games/dst-0's address via the reference macvlan" || return
	assert_addr pod-ref-a eth0 "$ip1" || return
	assert_ok cni_call node1 macvlan CHECK "$p1" eth0 "$c1" "$(k8s_args games dst-0 "$c1")" \
		<<<"$(with_prev "$REF" "$res")" || return
	assert_ok cni_call node1 macvlan DEL "$p1" eth0 "$c1" "$(k8s_args games dst-0 "$c1")" <<<"$REF" || return
	assert_eq "lo " "$(pod_links ref-a)" "links after DEL" || return
	# Restarted on node2, new sandbox, new container ID.
	p2=$(pod_netns ref-b) || { t_fail "pod_netns"; return 1; }
	c2=$(t_container_id)
	assert_ok cni_call node2 macvlan ADD "$p2" eth0 "$c2" "$(k8s_args games dst-0 "$c2")" <<<"$REF" || return
	ip2=$(jq -r '.ips[0].address' <<<"$T_OUT")
	assert_eq "$ip1" "$ip2" "games/dst-0's address after the move to node2" || return
	assert_addr pod-ref-b eth0 "$ip2" || return
	# Another identity gets another address.
	assert_ok cni_call node1 macvlan ADD "$p1" eth0 "$c1" "$(k8s_args games dst-1 "$c1")" <<<"$REF" || return
	ip3=$(jq -r '.ips[0].address' <<<"$T_OUT")
	assert_ne "$ip1" "$ip3" "games/dst-1's address" || return
	assert_ok cni_call node2 macvlan DEL "$p2" eth0 "$c2" "$(k8s_args games dst-0 "$c2")" <<<"$REF" || return
	assert_ok cni_call node1 macvlan DEL "$p1" eth0 "$c1" "$(k8s_args games dst-1 "$c1")" <<<"$REF"
}
t_run "(b) gamelan-ipam under the reference macvlan (1.0.0): games/dst-0 keeps its IP from node1 to node2" \
	case_ref_sticky

# ---- (c) other IPAMs under gamelan-macvlan ----

case_host_local() {
	local conf path cid res hl=$T_TMP/host-local
	conf=$(jq -nc --arg d "$hl" --arg sd "$T_TMP/state" '{cniVersion: "1.0.0", name: "hl",
		type: "gamelan-macvlan", master: "eth0", stateDir: $sd, probe: false,
		ipam: {type: "host-local", dataDir: $d, ranges: [[{subnet: "192.168.1.0/24",
			rangeStart: "192.168.1.220", rangeEnd: "192.168.1.225", gateway: "192.168.1.1"}]],
			routes: [{dst: "0.0.0.0/0"}]}}')
	path=$(pod_netns hl-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games hl-0 "$cid")" <<<"$conf" || return
	res=$T_OUT
	assert_json_field "$res" '.ips[0].address' 192.168.1.220/24 "address from host-local" || return
	assert_json_field "$res" '.ips[0].interface' 0 "ips[0].interface" || return
	assert_addr pod-hl-0 eth0 192.168.1.220/24 || return
	assert_match 'default via 192\.168\.1\.1' "$(ip -n "$(world_ns pod-hl-0)" route show default)" "default route" || return
	assert_contains "$cid" "$(cat "$hl/hl/192.168.1.220" 2>/dev/null)" "host-local's record" || return
	assert_ok cni_call node1 gamelan-macvlan CHECK "$path" eth0 "$cid" "$(k8s_args games hl-0 "$cid")" \
		<<<"$(with_prev "$conf" "$res")" || return
	game_server_start pod-hl-0 10999 "$T_TMP/hl.log" || { t_fail "lanserver in the pod"; return 1; }
	assert_rc 0 game_join lanp 192.168.1.220 10999 wilson || return
	kill "$GAME_SERVER_PID" 2>/dev/null
	wait "$GAME_SERVER_PID" 2>/dev/null
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "$(k8s_args games hl-0 "$cid")" <<<"$conf" || return
	assert_no_file "$hl/hl/192.168.1.220" || return
	assert_eq "lo " "$(pod_links hl-0)" "links after DEL"
}
t_run "(c) host-local under gamelan-macvlan: address, route, CHECK, a LAN host; DEL frees host-local's record" \
	case_host_local

case_static() {
	local conf path cid
	conf=$(jq -nc --arg sd "$T_TMP/state" '{cniVersion: "1.0.0", name: "st",
		type: "gamelan-macvlan", master: "eth0", stateDir: $sd, probe: false,
		ipam: {type: "static", addresses: [{address: "192.168.1.230/24", gateway: "192.168.1.1"}],
			routes: [{dst: "0.0.0.0/0"}]}}')
	path=$(pod_netns st-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "" <<<"$conf" || return
	assert_json_field "$T_OUT" '.ips[0].address' 192.168.1.230/24 || return
	assert_addr pod-st-0 eth0 192.168.1.230/24 || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "" <<<"$conf" || return
	assert_eq "lo " "$(pod_links st-0)" "links after DEL"
}
t_run "(c) static under gamelan-macvlan: the given address is set" case_static

t_done
