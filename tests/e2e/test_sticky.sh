#!/usr/bin/env bash
# Sticky addresses: gamelan-macvlan + gamelan-ipam give an identity the same IP and MAC
# after a restart on another node; pins, holds and the admin listing.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db
PORT=10999

CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')

# field IDENTITY FIELD [IFNAME]: a field of the identity's row ("none" without a row).
row_field() {
	db_rows | jq -r --arg id "$1" --arg f "$2" --arg ifn "${3:-eth0}" \
		'[.[] | select(.identity == $id and .ifname == $ifn) | .[$f] | tostring] |
		 if length == 0 then "none" else join(",") end'
}

# add POD CNI_ARGS CONF [NODE] [IFNAME]: fresh pod netns (if missing) and an ADD.
# RES, CID, NSPATH, IP (no prefix), MAC are set.
add() {
	local pod=$1 args=$2 conf=$3 node=${4:-node1} ifname=${5:-eth0}
	NSPATH=/run/netns/$(world_ns "pod-$pod")
	if [[ ! -e "$NSPATH" ]]; then
		NSPATH=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	fi
	CID=$(t_container_id)
	args=${args//@CID@/$CID}
	assert_ok cni_call "$node" gamelan-macvlan ADD "$NSPATH" "$ifname" "$CID" "$args" <<<"$conf" || return
	RES=$T_OUT
	IP=$(jq -r '.ips[0].address | split("/")[0]' <<<"$RES")
	MAC=$(jq -r '.interfaces[0].mac' <<<"$RES")
}

# add_k8s POD NAME CONF [NODE] [IFNAME]: an ADD for games/NAME.
add_k8s() {
	add "$1" "$(k8s_args games "$2" @CID@)" "$3" "${4:-node1}" "${5:-eth0}"
}

del() {
	local path=$1 cid=$2 args=$3 conf=$4 node=${5:-node1} ifname=${6:-eth0}
	assert_ok cni_call "$node" gamelan-macvlan DEL "$path" "$ifname" "$cid" "$args" <<<"$conf"
}

A='' M=''
case_sticky_move() {
	local cid1 path1 link_mac
	add_k8s s0-n1 dst-0 "$CONF" node1 || return
	A=$IP M=$MAC cid1=$CID path1=$NSPATH
	assert_eq 192.168.1.200 "$A" "first address of games/dst-0" || return
	assert_eq Bound "$(row_field games/dst-0 state)" "games/dst-0 after ADD" || return
	assert_eq node1 "$(row_field games/dst-0 node)" "node of games/dst-0" || return
	del "$path1" "$cid1" "$(k8s_args games dst-0 "$cid1")" "$CONF" node1 || return
	assert_no_link s0-n1 eth0 || return
	assert_eq Held "$(row_field games/dst-0 state)" "games/dst-0 after DEL" || return
	pod_netns_del s0-n1
	# The server comes back on node2, in a new sandbox with a new container ID.
	add_k8s s0-n2 dst-0 "$CONF" node2 || return
	assert_eq "$A" "$IP" "address of games/dst-0 on node2" || return
	assert_eq "$M" "$MAC" "MAC of games/dst-0 on node2" || return
	link_mac=$(ip -n "$(world_ns pod-s0-n2)" -j link show dev eth0 | jq -r '.[0].address')
	assert_eq "$M" "$link_mac" "MAC of the link on node2" || return
	assert_addr pod-s0-n2 eth0 "$A/24" || return
	assert_eq Bound "$(row_field games/dst-0 state)" "games/dst-0 on node2" || return
	assert_eq "$CID" "$(row_field games/dst-0 containerID)" "container of games/dst-0's row" || return
	assert_eq node2 "$(row_field games/dst-0 node)" "node of games/dst-0's row" || return
	game_server_start pod-s0-n2 "$PORT" "$T_TMP/s0.log" || { t_fail "lanserver"; return 1; }
	assert_rc 0 game_join lanp "$A" "$PORT" wilson || return
	assert_eq "accepted wilson from [LAN] 192.168.1.77" "$T_OUT" "reply from the moved server"
}
t_run "games/dst-0: node1 -> DEL -> node2 with a new netns and container ID: same IP and MAC" case_sticky_move

case_other_identity() {
	add_k8s s1 dst-1 "$CONF" || return
	assert_ne "$A" "$IP" "address of games/dst-1" || return
	assert_ne "$M" "$MAC" "MAC of games/dst-1" || return
	assert_eq 192.168.1.201 "$IP" "games/dst-1 takes the lowest free address"
}
t_run "a different identity (games/dst-1) gets a different IP and MAC" case_other_identity

case_ifname() {
	add_k8s s1 dst-1 "$CONF" node1 net1 || return
	assert_ne 192.168.1.201 "$IP" "games/dst-1's net1" || return
	assert_eq Bound "$(row_field games/dst-1 state net1)" "row of games/dst-1 net1"
}
t_run "the unit is (network, identity, ifname): a second interface gets its own address" case_ifname

case_config_pin() {
	local conf next cid path
	# Pin the address a new identity would take next: it must skip it.
	next=192.168.1.203
	conf=$(jq -c --arg ip "$next" '.ipam.pins = {"games/dst-5": $ip, "games/dst-6": ["192.168.1.216"]}' <<<"$CONF")
	add_k8s s2 dst-2 "$conf" || return
	assert_ne "$next" "$IP" "a new identity must not get games/dst-5's pinned $next" || return
	add_k8s s5 dst-5 "$conf" || return
	assert_eq "$next" "$IP" "games/dst-5's pinned address" || return
	add_k8s s6 dst-6 "$conf" || return
	assert_eq 192.168.1.216 "$IP" "games/dst-6's pinned address (list form)" || return
	assert_match 'Pinned' "$(row_field games/dst-6 state)" "games/dst-6 state while bound" || return
	cid=$CID path=$NSPATH
	del "$path" "$cid" "$(k8s_args games dst-6 "$cid")" "$conf" || return
	assert_eq Pinned "$(row_field games/dst-6 state)" "games/dst-6 after DEL" || return
	assert_eq null "$(row_field games/dst-6 expires)" "expiry of a pinned row" || return
	# Even with the pin gone from the config, the Pinned row keeps it for dst-6.
	add_k8s s6 dst-6 "$CONF" node2 || return
	assert_eq 192.168.1.216 "$IP" "games/dst-6 after restart"
}
t_run "config pins (address and list form) are honoured and never given to another identity" case_config_pin

case_admin_pin() {
	assert_ok "$GL_BIN/gamelan-ipam" --db "$DB" pin lan games/dst-9 192.168.1.215 || return
	assert_eq Pinned "$(row_field games/dst-9 state)" "games/dst-9 after 'gamelan-ipam pin'" || return
	add_k8s s7 dst-7 "$CONF" || return
	assert_ne 192.168.1.215 "$IP" "a new identity must not get games/dst-9's pinned address" || return
	add_k8s s9 dst-9 "$CONF" || return
	assert_eq 192.168.1.215 "$IP" "games/dst-9's admin-pinned address"
}
t_run "an admin pin ('gamelan-ipam pin') is honoured and kept from others" case_admin_pin

case_hold() {
	local cid path held
	add_k8s h0 hold-0 "$CONF" || return
	held=$IP cid=$CID path=$NSPATH
	del "$path" "$cid" "$(k8s_args games hold-0 "$cid")" "$CONF" || return
	assert_eq Held "$(row_field games/hold-0 state)" "games/hold-0 after DEL" || return
	assert_ne null "$(row_field games/hold-0 expires)" "expiry of a Held row" || return
	add_k8s h1 hold-1 "$CONF" || return
	assert_ne "$held" "$IP" "a new identity must not get games/hold-0's held $held while others are free" || return
	add_k8s h2 hold-0 "$CONF" node2 || return
	assert_eq "$held" "$IP" "games/hold-0 comes back to its held address"
}
t_run "hold: a Held address is not given to a new identity while others are free" case_hold

case_hold_exhaustion() {
	local conf ip_a ip_b cid path
	# A range of two addresses with a 2 s hold, in its own network of the same store.
	conf=$(jq -c '.name = "tiny" | .ipam.range = "192.168.1.230-192.168.1.231/24" | .ipam.hold = "2s"' <<<"$CONF")
	add_k8s x0 ex-a "$conf" || return
	ip_a=$IP cid=$CID path=$NSPATH
	add_k8s x1 ex-b "$conf" || return
	ip_b=$IP
	del "$path" "$cid" "$(k8s_args games ex-a "$cid")" "$conf" || return
	pod_netns_del x0
	path=$(pod_netns x2) || return
	cid=$(t_container_id)
	assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games ex-c "$cid")" \
		<<<"$conf" || return
	assert_cni_error "$T_OUT" 100 || return
	assert_eq "lo " "$(ip -n "$(world_ns pod-x2)" -o link show | awk -F': ' '{printf "%s ", $2}')" \
		"links in the pod after the failed ADD" || return
	sleep 2.2
	add_k8s x2 ex-c "$conf" || return
	assert_eq "$ip_a" "$IP" "games/ex-c takes the expired Held $ip_a under exhaustion" || return
	assert_ne "$ip_b" "$IP" "never the Bound one"
}
t_run "exhaustion: a Held address is taken only after its hold passed (code 100 before)" case_hold_exhaustion

case_list_json() {
	local rows
	rows=$(db_rows) || { t_fail "gamelan-ipam list --json failed"; return 1; }
	assert_json_field "$rows" 'type' array || return
	assert_json_field "$rows" '[.[] | select(.identity == "games/dst-0")][0] | [.network, .ip, .ifname, .state] | join(" ")' \
		"lan 192.168.1.200 eth0 Bound" || return
	assert_json_field "$rows" '[.[] | select(.identity == "games/hold-1")][0].state' Bound || return
	assert_json_field "$rows" '[.[] | select(.identity == "games/dst-9")][0].state' Bound,Pinned || return
	assert_json_field "$rows" '[.[] | select(.identity == "games/dst-9")][0].pinned' true || return
	assert_json_field "$rows" '[.[] | select(.network == "tiny" and .identity == "games/ex-b")][0].state' Bound || return
	assert_json_field "$rows" 'all(.[]; .state | IN("Held", "Bound", "Pinned", "Bound,Pinned", "Conflict"))' \
		true "every state is a known one" || return
	assert_json_field "$rows" '[.[] | .network + " " + .ip] | length == (unique | length)' true \
		"no address twice in one network" || return
	# The human listing has the same rows.
	assert_ok "$GL_BIN/gamelan-ipam" --db "$DB" list || return
	assert_match 'games/dst-0' "$T_OUT" "human listing" || return
	assert_match 'Bound' "$T_OUT" "human listing"
}
t_run "'gamelan-ipam list --json' shows each reservation with its state" case_list_json

case_identity_sources() {
	local cid path first conf
	# GAMELAN_IDENTITY in CNI_ARGS (podman, plain runtimes).
	add i0 "IgnoreUnknown=1;GAMELAN_IDENTITY=srv/alpha" "$CONF" || return
	first=$IP cid=$CID path=$NSPATH
	del "$path" "$cid" "IgnoreUnknown=1;GAMELAN_IDENTITY=srv/alpha" "$CONF" || return
	assert_eq Held "$(row_field srv/alpha state)" "srv/alpha after DEL" || return
	add i1 "IgnoreUnknown=1;GAMELAN_IDENTITY=srv/alpha" "$CONF" node2 || return
	assert_eq "$first" "$IP" "srv/alpha (GAMELAN_IDENTITY) after restart" || return
	# args.cni.identity wins over the Kubernetes names.
	conf=$(jq -c '.args = {cni: {identity: "srv/beta"}}' <<<"$CONF")
	add i2 "$(k8s_args games dst-0 @CID@)" "$conf" || return
	assert_ne "$A" "$IP" "args.cni.identity srv/beta must not get games/dst-0's address" || return
	assert_eq Bound "$(row_field srv/beta state)" "row of srv/beta" || return
	# Container ID only: not sticky, the row goes with the container.
	add i3 "" "$CONF" || return
	cid=$CID path=$NSPATH
	assert_eq Bound "$(row_field "$cid" state)" "row of the container" || return
	del "$path" "$cid" "" "$CONF" || return
	assert_eq none "$(row_field "$cid" state)" "row of the container after DEL"
}
t_run "identity from GAMELAN_IDENTITY and args.cni.identity is sticky; a bare container ID is not" \
	case_identity_sources

case_del_without_args() {
	local ip
	# A runtime that lost the pod's CNI_ARGS still sends the container ID and ifname.
	add d0 "$(k8s_args games noargs-0 @CID@)" "$CONF" || return
	ip=$IP
	del "$NSPATH" "$CID" "" "$CONF" || return
	assert_no_link pod-d0 eth0 || return
	assert_eq Held "$(row_field games/noargs-0 state)" "games/noargs-0 after a DEL without CNI_ARGS" || return
	add d1 "$(k8s_args games noargs-0 @CID@)" "$CONF" node2 || return
	assert_eq "$ip" "$IP" "games/noargs-0 after restart"
}
t_run "DEL without CNI_ARGS (container ID only) still releases the sticky reservation as Held" \
	case_del_without_args

case_requested_ip() {
	local conf
	conf=$(jq -c '.runtimeConfig = {ips: ["192.168.1.212/24"]}' <<<"$CONF")
	add r0 "$(k8s_args games req-0 @CID@)" "$conf" || return
	assert_eq 192.168.1.212 "$IP" "runtimeConfig.ips" || return
	assert_addr pod-r0 eth0 192.168.1.212/24
}
t_run "runtimeConfig.ips (multus' ips capability) gets the asked address" case_requested_ip

t_done
