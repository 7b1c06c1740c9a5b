#!/usr/bin/env bash
# Real podman (Debian's 4.3: CNI backend, runc, cgroupfs, an image made by `podman import` of a
# busybox-static root) running inside the world's node1, whose eth0 on the LAN bridge is the
# macvlan master (netns-harness/podman-world.sh). The networks are the shipped conflists:
# conf/40-gamelan-podman.conflist as is, and conf/30-gamelan-snat.conflist (gamelan-snat
# chained) with a range of its own and podman's CNI version; only their state paths point
# into the test's directory. podman passes CNI_ARGS "IgnoreUnknown=1;K8S_POD_NAME=<name>"
# (";IP=...;MAC=..." for --ip and --mac-address): the identity is podman/<name>.
# podman and its conmons share the machine with the players: a generous wait for a reply.
GAME_JOIN_TIMEOUT_MS=${GAME_JOIN_TIMEOUT_MS:-5000}
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../netns-harness/podman-world.sh
. "$GL_TOP/netns-harness/podman-world.sh"

# A crash or a sanitizer report must not pass for an error exit (podman passes its environment
# on to the plugins it runs).
export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

world_up || t_bail "world_up failed"
command -v nft >/dev/null || t_bail "nft is missing (tests/install-deps.sh): tests use it to look"
pw_up "$T_TMP/pw" node1 || t_bail "the podman world did not come up (podman-world.sh)"

DB=$T_TMP/ipam.db
PORT=10999
WAN=$WORLD_WAN_ADDR
NODE=$(world_ns node1)

# The shipped conflists, with their state under T_TMP. podman 4.3's libcni (1.1) cannot read a
# 1.1.0 result: the snat network is taken at 1.0.0, as conf/40's is shipped.
LAN_CONF=$(jq -c --arg db "$DB" --arg sd "$T_TMP/state" \
	'.plugins[0].stateDir = $sd | .plugins[0].ipam.store.path = $db' \
	"$GL_TOP/conf/40-gamelan-podman.conflist") || t_bail "cannot read conf/40-gamelan-podman.conflist"
SNAT_CONF=$(jq -c --arg db "$DB" --arg sd "$T_TMP/state" '.cniVersion = "1.0.0"
	| .plugins[0].stateDir = $sd
	| .plugins[0].ipam += {rangeStart: "192.168.1.220", rangeEnd: "192.168.1.230",
		store: {type: "sqlite", path: $db}}
	| del(.plugins[0].ipam.pins)' \
	"$GL_TOP/conf/30-gamelan-snat.conflist") || t_bail "cannot read conf/30-gamelan-snat.conflist"
pw_netconf lan "$LAN_CONF" || t_bail "cannot write the lan network"
pw_netconf lan-snat "$SNAT_CONF" || t_bail "cannot write the lan-snat network"

# ctr_ip CTR NET: the address podman recorded for CTR on network NET.
ctr_ip() {
	pw_podman inspect -f "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"
}

# ctr_eth0 CTR: "ADDRESS/PREFIX MAC" of eth0 in the container, as the kernel has it.
ctr_eth0() {
	local a m
	a=$(pw_nsenter "$1" ip -4 -o addr show dev eth0 | awk '{print $4}') || return 1
	# Not /sys/class/net: the host's sysfs shows the host's links, whatever the netns.
	m=$(pw_nsenter "$1" ip -o link show dev eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p') || return 1
	printf '%s %s\n' "$a" "$m"
}

# row IDENTITY FILTER: jq FILTER over the store's row of IDENTITY ("null" without one).
row() {
	db_rows | jq -r --arg id "$1" "[.[] | select(.identity == \$id)] | if length == 1 then .[0] | $2 else \"rows: \\(length)\" end"
}

# run_ok NAME ARGS...: podman run -d ARGS, the container up; CID is its ID.
CID=
run_ok() {
	local what=$1
	shift
	assert_ok pw_run "$@" || return
	CID=$T_OUT
	assert_match '^[0-9a-f]{64}$' "$CID" "the ID podman printed for $what" || return
	assert_eq running "$(pw_podman inspect -f '{{.State.Status}}' "$CID" 2>&1)" "$what's state"
}

# rm_ok CTR: podman rm -f, and the container gone.
rm_ok() {
	assert_ok pw_podman rm -f "$1" || return
	assert_rc 1 pw_podman container exists "$1" || return
}

# addr_ok CTR NET IDENTITY: the kernel's address is podman's and the store's, from the range.
# Sets IP and MAC.
IP='' MAC=''
addr_ok() {
	local got
	got=$(ctr_eth0 "$1") || { t_fail "cannot read eth0 of $1"; return 1; }
	IP=${got% *} MAC=${got#* }
	assert_match '^192\.168\.1\.2[0-3][0-9]/24$' "$IP" "eth0's address in $1" || return
	IP=${IP%/24}
	assert_eq "$IP" "$(ctr_ip "$1" "$2" 2>&1)" "the address podman recorded for $1" || return
	assert_match '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' "$MAC" "eth0's MAC in $1" || return
	assert_match "^$IP Bound" "$(row "$3" '"\(.ip) \(.state)"')" "the store's row of $3" || return
	assert_eq default "$(pw_nsenter "$1" ip -4 route show default | awk '{print $1}')" \
		"a default route in $1" || return
	assert_contains "via 192.168.1.1" "$(pw_nsenter "$1" ip -4 route show default)" "the default route"
}

# ---- a container without a name ----

ANON='' ANON_IP=''
case_anon() {
	local name log=$T_TMP/anon.log
	run_ok "a container without --name" --network lan "$PW_IMAGE" sleep 3600 || return
	ANON=$CID
	name=$(pw_podman inspect -f '{{.Name}}' "$ANON") || { t_fail "no name for $ANON"; return 1; }
	# podman's generated names have an underscore (friendly_feynman).
	assert_match '^[a-z]+_[a-z]+$' "$name" "podman's generated name" || return
	addr_ok "$ANON" lan "podman/$name" || return
	ANON_IP=$IP
	assert_eq "${ANON:0:12}" "$(row "podman/$name" '.containerID[0:12]')" "the row's container" || return
	# Traffic: the LAN player reaches a server in the container, the container reaches the LAN.
	pw_server_start "$ANON" "$PORT" "$log" || { t_fail "lanserver in $name"; return 1; }
	assert_rc 0 game_join lanp "$IP" "$PORT" wilson || return
	assert_match '^accepted wilson from \[LAN\] 192\.168\.1\.77$' "$T_OUT" "the reply" || return
	assert_ok pw_podman exec "$ANON" ping -c 1 -W 5 192.168.1.77 || return
	assert_ok pw_podman exec "$ANON" ping -c 1 -W 5 192.168.1.1
}
t_run "podman run --network lan without --name: an address from the range (identity podman/<generated name>, with its '_'), the LAN player reaches its server, it reaches the LAN" \
	case_anon

# ---- a pin by podman name ----

case_pin() {
	run_ok "dst-0" --network lan --name dst-0 "$PW_IMAGE" sleep 3600 || return
	addr_ok dst-0 lan podman/dst-0 || return
	assert_eq 192.168.1.200 "$IP" "dst-0's pinned address"
}
t_run "podman run --name dst-0: the conflist's pin \"podman/dst-0\" gives it 192.168.1.200" case_pin

# ---- sticky by name ----

case_sticky() {
	local ip1 mac1 cid1 other_ip
	run_ok dst-a --network lan --name dst-a "$PW_IMAGE" sleep 3600 || return
	cid1=$CID
	addr_ok dst-a lan podman/dst-a || return
	ip1=$IP mac1=$MAC
	rm_ok dst-a || return
	assert_eq "$ip1 Held" "$(row podman/dst-a '"\(.ip) \(.state)"')" "podman/dst-a after rm -f" || return
	# Another container meanwhile must not get the held address.
	run_ok "a container without --name" --network lan "$PW_IMAGE" sleep 3600 || return
	other_ip=$(ctr_ip "$CID" lan)
	assert_match '^192\.168\.1\.2[0-9]+$' "$other_ip" "the other container's address" || return
	assert_ne "$ip1" "$other_ip" "the other container's address (dst-a's is held)" || return
	rm_ok "$CID" || return
	run_ok "dst-a again" --network lan --name dst-a "$PW_IMAGE" sleep 3600 || return
	assert_ne "$cid1" "$CID" "the second dst-a's container ID" || return
	addr_ok dst-a lan podman/dst-a || return
	assert_eq "$ip1" "$IP" "dst-a's address the second time" || return
	assert_eq "$mac1" "$MAC" "dst-a's MAC the second time" || return
	assert_eq "${CID:0:12}" "$(row podman/dst-a '.containerID[0:12]')" "the row's container"
}
t_run "podman run --name dst-a twice (rm -f between, another container meanwhile): the same IP and MAC (identity podman/dst-a)" \
	case_sticky

case_stop_start() {
	local ip1 mac1
	addr_ok dst-a lan podman/dst-a || return
	ip1=$IP mac1=$MAC
	assert_ok pw_podman stop dst-a || return
	assert_eq "$ip1 Held" "$(row podman/dst-a '"\(.ip) \(.state)"')" "podman/dst-a after podman stop" || return
	assert_ok pw_podman start dst-a || return
	addr_ok dst-a lan podman/dst-a || return
	assert_eq "$ip1 $mac1" "$IP $MAC" "dst-a's address and MAC after podman start"
}
t_run "podman stop dst-a (DEL: Held), podman start dst-a: the same IP and MAC" case_stop_start

# ---- --ip, --mac-address, --network lan:ip=...,mac=... ----

case_ip() {
	run_ok ipx --network lan --name ipx --ip 192.168.1.210 "$PW_IMAGE" sleep 3600 || return
	addr_ok ipx lan podman/ipx || return
	assert_eq 192.168.1.210 "$IP" "the address asked for with --ip" || return
	# The identity keeps the address it asked for.
	rm_ok ipx || return
	run_ok "ipx again" --network lan --name ipx "$PW_IMAGE" sleep 3600 || return
	addr_ok ipx lan podman/ipx || return
	assert_eq 192.168.1.210 "$IP" "ipx's address, run again without --ip"
}
t_run "podman run --ip 192.168.1.210: that address (CNI_ARGS IP=), and again after rm -f without --ip" case_ip

case_mac() {
	run_ok macx --network lan --name macx --mac-address 02:42:c0:a8:01:99 "$PW_IMAGE" sleep 3600 || return
	addr_ok macx lan podman/macx || return
	assert_eq 02:42:c0:a8:01:99 "$MAC" "the MAC asked for with --mac-address"
}
t_run "podman run --mac-address 02:42:c0:a8:01:99: that MAC (CNI_ARGS MAC=)" case_mac

case_net_opts() {
	run_ok both --network lan:ip=192.168.1.211,mac=02:42:c0:a8:01:98 --name both "$PW_IMAGE" sleep 3600 || return
	addr_ok both lan podman/both || return
	assert_eq "192.168.1.211 02:42:c0:a8:01:98" "$IP $MAC" "the address and MAC asked for"
}
t_run "podman run --network lan:ip=192.168.1.211,mac=02:42:c0:a8:01:98: both" case_net_opts

# ---- gamelan-snat chained: the WAN player through the consumer router's port-forward ----

case_snat() {
	local log=$T_TMP/snat.log dump
	[[ -n "$ANON_IP" ]] || { t_fail "no container from the first case"; return 1; }
	# Without gamelan-snat (the lan network): the LAN-only server refuses the WAN player.
	assert_ok router_port_forward game "$PORT" "$ANON_IP" || return
	assert_rc 1 game_join wanp "$WAN" "$PORT" friend || return
	assert_match '^refused: ID_DST_SERVER_IS_LAN_ONLY 198\.51\.100\.56$' "$T_OUT" "the reply without gamelan-snat" || return
	run_ok dst-snat --network lan-snat --name dst-snat "$PW_IMAGE" sleep 3600 || return
	addr_ok dst-snat lan-snat podman/dst-snat || return
	assert_match '^192\.168\.1\.2(2[0-9]|30)$' "$IP" "dst-snat's address (lan-snat's range)" || return
	dump=$(pw_nsenter dst-snat nft list table inet gamelan-snat-eth0 2>&1)
	assert_match 'hook input' "$dump" "gamelan-snat's table in dst-snat" || return
	assert_contains "gamelan:$CID:eth0" "$dump" "the rules' owner comment" || return
	pw_server_start dst-snat "$PORT" "$log" || { t_fail "lanserver in dst-snat"; return 1; }
	router_forward_del game >/dev/null 2>&1
	assert_ok router_port_forward game "$PORT" "$IP" || return
	assert_ok ns_conntrack_flush router || return
	assert_rc 0 game_join wanp "$WAN" "$PORT" friend || return
	assert_match '^accepted friend from \[LAN\] 192\.168\.1\.1$' "$T_OUT" "the reply with gamelan-snat" || return
	assert_contains "Client connected from [LAN] 192.168.1.1 (friend)" "$(cat "$log")" "the server's log" || return
	assert_rc 0 game_join lanp "$IP" "$PORT" wilson || return
	assert_match '^accepted wilson from \[LAN\] 192\.168\.1\.77$' "$T_OUT" "the LAN player's reply" || return
	assert_ok router_forward_del game
}
t_run "network lan-snat (gamelan-snat chained, conf/30 style): the WAN player, refused by the LAN-only server on lan, is accepted as 192.168.1.1" \
	case_snat

# ---- podman rm -f leaves nothing ----

case_rm_all() {
	local names n links
	names=$(pw_podman ps -a --format '{{.Names}}') || { t_fail "podman ps"; return 1; }
	assert_ne "" "$names" "the containers to remove" || return
	# The servers keep their container's netns open: they go first.
	pw_servers_stop
	for n in $names; do
		rm_ok "$n" || return
	done
	assert_eq "" "$(pw_podman ps -a -q 2>&1)" "podman ps -a after rm -f" || return
	# A pinned row goes from "Bound,Pinned" back to "Pinned".
	assert_eq "podman/dst-0=Pinned" "$(db_rows | jq -r '.[] | select(.state != "Held") | "\(.identity)=\(.state)"')" \
		"rows of the store that are not Held" || return
	assert_eq 8 "$(db_rows | jq length)" "rows in the store (one per named container, two anonymous)" || return
	assert_eq "" "$(ip -n "$NODE" -o link show type macvlan 2>&1)" "macvlan links in node1" || return
	links=$(ip -n "$NODE" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
	assert_eq "eth0 lo " "$links" "links in node1" || return
	assert_eq "" "$(ns_nft_tables node1)" "nftables tables in node1" || return
	# podman's netns files (in the mount namespace's /run/netns) and libcni's cached results.
	assert_eq "" "$(nsenter -t "$PW_HOLDER" -m -- ls -A /run/netns 2>&1)" "podman's netns files" || return
	assert_eq "" "$(find "$PW_DIR/varlib-cni" -type f 2>&1)" "libcni's cached results" || return
	assert_eq "" "$(_pw_cgroup_pids)" "processes under the containers' cgroup parent"
}
t_run "podman rm -f of every container: none left, no macvlan link or nft table in node1, no netns file, no cached result, every reservation Held" \
	case_rm_all

t_done
