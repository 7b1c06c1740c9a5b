#!/usr/bin/env bash
# What runtimes other than kubelet pass, as podman 4.3 (CNI backend) does:
# CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=<container name> (no namespace), plus MAC= and IP= for
# --mac-address and --ip; and the empty cniVersion that libcni injects. Real binaries, the
# world's namespaces.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db

CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')

# podman NAME [MORE]: CNI_ARGS as podman passes them for container NAME.
podman() {
	printf 'IgnoreUnknown=1;K8S_POD_NAME=%s%s' "$1" "${2:+;$2}"
}

# field IDENTITY FIELD: a field of the identity's row ("none" without a row).
row_field() {
	db_rows | jq -r --arg id "$1" --arg f "$2" \
		'[.[] | select(.identity == $id) | .[$f] | tostring] |
		 if length == 0 then "none" else join(",") end'
}

# add POD CNI_ARGS CONF [NODE]: fresh pod netns (if missing) and an ADD; RES, CID, NSPATH,
# IP (no prefix), MAC are set.
add() {
	local pod=$1 args=$2 conf=$3 node=${4:-node1}
	NSPATH=/run/netns/$(world_ns "pod-$pod")
	if [[ ! -e "$NSPATH" ]]; then
		NSPATH=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	fi
	CID=$(t_container_id)
	assert_ok cni_call "$node" gamelan-macvlan ADD "$NSPATH" eth0 "$CID" "$args" <<<"$conf" || return
	RES=$T_OUT
	IP=$(jq -r '.ips[0].address | split("/")[0]' <<<"$RES")
	MAC=$(jq -r '.interfaces[0].mac' <<<"$RES")
}

# add_fails POD CNI_ARGS CONF CODE: an ADD refused with CODE, leaving no link behind.
add_fails() {
	local path
	path=$(pod_netns "$1") || { t_fail "pod_netns $1"; return 1; }
	assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$(t_container_id)" "$2" <<<"$3" || return
	assert_cni_error "$T_OUT" "$4" || return
	assert_no_link "pod-$1" eth0
}

del() {
	local path=$1 cid=$2 args=$3 conf=$4 node=${5:-node1}
	assert_ok cni_call "$node" gamelan-macvlan DEL "$path" eth0 "$cid" "$args" <<<"$conf"
}

link_mac() {
	ip -n "$(world_ns "pod-$1")" -j link show dev eth0 | jq -r '.[0].address'
}

case_generated_name() {
	local args first_ip first_mac
	# podman run without --name: a generated name with '_', on ADD and on DEL.
	args=$(podman friendly_feynman)
	add g0 "$args" "$CONF" || return
	first_ip=$IP first_mac=$MAC
	assert_eq Bound "$(row_field podman/friendly_feynman state)" "row of podman/friendly_feynman" || return
	del "$NSPATH" "$CID" "$args" "$CONF" || return
	assert_no_link pod-g0 eth0 || return
	assert_eq Held "$(row_field podman/friendly_feynman state)" "after DEL" || return
	# The same name again, another container on the other node: the same IP and MAC.
	add g1 "$args" "$CONF" node2 || return
	assert_eq "$first_ip" "$IP" "address of podman/friendly_feynman after a new run" || return
	assert_eq "$first_mac" "$MAC" "MAC of podman/friendly_feynman after a new run" || return
	assert_eq "$MAC" "$(link_mac g1)" "MAC of the link" || return
	del "$NSPATH" "$CID" "$args" "$CONF" node2 || return
	assert_no_link pod-g1 eth0
}
t_run "podman's K8S_POD_NAME alone (friendly_feynman) is the sticky identity podman/<name>, ADD and DEL" \
	case_generated_name

case_unsafe_names() {
	local name path
	for name in '../x' 'a/b' 'a b' '.' '..'; do
		path=$(pod_netns u0) || return
		assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$(t_container_id)" \
			"$(podman "$name")" <<<"$CONF" || return
		assert_cni_error "$T_OUT" 4 || return
		assert_match 'K8S_POD_NAME' "$(jq -r .msg <<<"$T_OUT")" "message for '$name'" || return
		assert_no_link pod-u0 eth0 || return
		pod_netns_del u0
	done
}
t_run "a K8S_POD_NAME with a separator, a space, '.' or '..' is refused (code 4), nothing made" \
	case_unsafe_names

case_ip() {
	local args
	# podman run --ip 192.168.1.214: CNI_ARGS IP=.
	args=$(podman dst-ip IP=192.168.1.214)
	add i0 "$args" "$CONF" || return
	assert_eq 192.168.1.214 "$IP" "the asked address" || return
	assert_addr pod-i0 eth0 192.168.1.214/24 || return
	assert_eq 192.168.1.214 "$(row_field podman/dst-ip ip)" "row of podman/dst-ip" || return
	# Another container asking for it while it is bound: refused, nothing left.
	add_fails i1 "$(podman dst-other IP=192.168.1.214)" "$CONF" 101 || return
	# Not in the range, not in the network: refused (code 7), nothing left.
	add_fails i2 "$(podman dst-other IP=192.168.1.230)" "$CONF" 7 || return
	add_fails i3 "$(podman dst-other IP=10.9.9.9)" "$CONF" 7 || return
	add_fails i4 "$(podman dst-other IP=nope)" "$CONF" 4 || return
	del "$NSPATH" "$CID" "$args" "$CONF"
}
t_run "CNI_ARGS IP= (podman --ip) gets that address; taken (101), out of range (7) or bad (4) is refused" \
	case_ip

case_ip_ipam_alone() {
	local conf path cid
	# gamelan-ipam exec'd on its own (as under the reference macvlan) reads IP= too.
	path=$(pod_netns p0) || return
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-ipam ADD "$path" eth0 "$cid" "$(podman dst-ipam IP=192.168.1.215)" \
		<<<"$CONF" || return
	assert_eq 192.168.1.215/24 "$(jq -r '.ips[0].address' <<<"$T_OUT")" "gamelan-ipam's answer" || return
	assert_ok cni_call node1 gamelan-ipam DEL "$path" eth0 "$cid" "$(podman dst-ipam IP=192.168.1.215)" \
		<<<"$CONF" || return
	assert_eq Held "$(row_field podman/dst-ipam state)" "after DEL"
}
t_run "gamelan-ipam alone honours CNI_ARGS IP=" case_ip_ipam_alone

case_mac() {
	local args conf
	# podman run --mac-address: CNI_ARGS MAC= sets the link's MAC, over the config's mac.
	conf=$(jq -c '.mac = "02:aa:00:00:00:01"' <<<"$CONF")
	args=$(podman dst-mac MAC=02:42:c0:a8:01:99)
	add m0 "$args" "$conf" || return
	assert_eq 02:42:c0:a8:01:99 "$MAC" "MAC in the result" || return
	assert_eq 02:42:c0:a8:01:99 "$(link_mac m0)" "MAC of the link" || return
	del "$NSPATH" "$CID" "$args" "$conf" || return
	# runtimeConfig.mac (the "mac" capability) wins over MAC=, as in the reference macvlan.
	conf=$(jq -c '.runtimeConfig = {mac: "02:aa:00:00:00:02"}' <<<"$conf")
	add m1 "$args" "$conf" || return
	assert_eq 02:aa:00:00:00:02 "$(link_mac m1)" "MAC of the link with runtimeConfig.mac" || return
	del "$NSPATH" "$CID" "$args" "$conf" || return
	# A multicast MAC is refused before anything is made.
	add_fails m2 "$(podman dst-mac2 MAC=01:00:5e:00:00:01)" "$CONF" 4
}
t_run "CNI_ARGS MAC= (podman --mac-address) sets the MAC; runtimeConfig.mac wins over it" case_mac

case_empty_version() {
	local conf
	# libcni puts "cniVersion": "" in a config that has none: ADD, CHECK and DEL answer.
	conf=$(jq -c '.cniVersion = ""' <<<"$CONF")
	add e0 "$(podman dst-ver)" "$conf" || return
	assert_eq 1.0.0 "$(jq -r .cniVersion <<<"$RES")" "version of the answer" || return
	assert_ok cni_call node1 gamelan-macvlan CHECK "$NSPATH" eth0 "$CID" "$(podman dst-ver)" \
		<<<"$(jq -c --argjson p "$RES" '.prevResult = $p' <<<"$conf")" || return
	del "$NSPATH" "$CID" "$(podman dst-ver)" "$conf" || return
	assert_no_link pod-e0 eth0 || return
	# A DEL after the netns is gone, as a runtime retries it.
	assert_ok cni_call node1 gamelan-macvlan DEL "" eth0 "$CID" "$(podman dst-ver)" <<<"$conf"
}
t_run "an empty cniVersion (libcni's) works as 1.0.0 on ADD, CHECK and DEL" case_empty_version

t_done
