#!/usr/bin/env bash
# gamelan-docker (the Docker NetworkDriver + IpamDriver) with a real dockerd: Debian's docker.io
# 20.10 inside the world's node1 (netns-harness/docker-world.sh), whose eth0 on the LAN bridge is
# the parent. The driver runs in the same network and mount namespaces as dockerd, its socket at
# /run/docker/plugins/gamelan.sock of the world's private /run (where dockerd discovers legacy
# plugins), its store in DW_DIR/docker.db. Containers are busybox from `docker import`; the game
# servers are the host's lanserver run in a container's netns.
#
# The user's commands, as the issue has them:
#   docker network create -d gamelan --ipam-driver gamelan --subnet ... --ip-range ... -o parent=eth0 lan
#   docker run -d --name dst-a --network lan IMAGE      (the same IP and MAC for dst-a every time)
#
# DK_DRIVER=macvlan runs the cases that do not need stickiness with Docker's built-in macvlan
# (and default IPAM) instead: a check of this script itself, not of gamelan; the cases only
# gamelan passes then print SKIP (this mode is for running by hand only).
# e2e-timeout: 900
GAME_JOIN_TIMEOUT_MS=${GAME_JOIN_TIMEOUT_MS:-5000}
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../netns-harness/docker-world.sh
. "$GL_TOP/netns-harness/docker-world.sh"

# A crash or a sanitizer report must not pass for an error exit.
export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

DK_DRIVER=${DK_DRIVER:-gamelan}
case "$DK_DRIVER" in
gamelan) DRV_ARGS=(-d gamelan --ipam-driver gamelan) ;;
macvlan) DRV_ARGS=(-d macvlan) ;;
*) t_bail "DK_DRIVER must be gamelan or macvlan, not '$DK_DRIVER'" ;;
esac
G=0
[[ "$DK_DRIVER" == gamelan ]] && G=1

world_up || t_bail "world_up failed"
# A second port of node1 on the LAN bridge: eth1, a parent no network uses (one per parent).
ip -n "$(world_ns sw)" link add node1b type veth peer name eth1 netns "$(world_ns node1)" &&
	ip -n "$(world_ns sw)" link set node1b master br0 up &&
	ip -n "$(world_ns node1)" link set eth1 up || t_bail "cannot add eth1 to node1"
command -v nft >/dev/null || t_bail "nft is missing (tests/install-deps.sh): tests use it to look"
dw_up "$T_TMP/dw" node1 || t_bail "the docker world did not come up (docker-world.sh): $(dw_dockerd_log | tail -n 5)"
if ((G)); then
	dw_driver_start || t_bail "gamelan-docker did not start: $(tail -n 5 "$DW_DIR/driver.log" 2>/dev/null)"
fi
DB=$DW_DB
NODE=$(world_ns node1)
PORT=10999
WAN=$WORLD_WAN_ADDR
IMG=$DW_IMAGE
# 64 addresses, .128-.191; .130 is an aux address (a printer on the LAN): no container gets it.
SUBNET=(--subnet 192.168.1.0/24 --gateway 192.168.1.1 --ip-range 192.168.1.128/26)
AUX=192.168.1.130
RANGE_RE='^192\.168\.1\.(12[89]|1[3-8][0-9]|19[01])$'

# gamelan_only NAME FUNC: t_run with gamelan; a loud SKIP with the built-in (DK_DRIVER=macvlan).
gamelan_only() {
	if ((G)); then
		t_run "$@"
	else
		t_skip "$1" "DK_DRIVER=macvlan: a gamelan-only case"
	fi
}

# ctr_net CTR NET FIELD: docker's record of CTR on NET (IPAddress, MacAddress, Gateway, ...).
ctr_net() {
	dw_docker inspect -f "{{with index .NetworkSettings.Networks \"$2\"}}{{.$3}}{{end}}" "$1"
}

# row_of IP FILTER: jq FILTER over the store's row holding IP ("rows: N" unless exactly one).
row_of() {
	db_rows | jq -r --arg ip "$1" "[.[] | select(.ip == \$ip)] | if length == 1 then .[0] | $2 else \"rows: \\(length)\" end"
}

# run_ok NAME ARGS...: docker run -d --name NAME ARGS IMAGE sleep 3600, the container running.
CID=
run_ok() {
	local name=$1
	shift
	assert_ok dw_docker run -d --name "$name" "$@" "$IMG" sleep 3600 || return
	CID=$T_OUT
	assert_match '^[0-9a-f]{64}$' "$CID" "the ID docker printed for $name" || return
	assert_eq true "$(dw_docker inspect -f '{{.State.Running}}' "$name" 2>&1)" "$name running"
}

# rm_ok CTR...: docker rm -f, the containers gone.
rm_ok() {
	assert_ok dw_docker rm -f "$@" || return
	local c
	for c in "$@"; do
		assert_rc 1 dw_docker inspect -f '{{.Id}}' "$c" || return
	done
}

# addr_ok CTR NET: eth0 has docker's address and MAC, from the range, not the aux address, a
# default route via the gateway; with gamelan the store has the address Bound. Sets IP, MAC.
IP='' MAC=''
addr_ok() {
	local got
	got=$(dw_ctr_eth0 "$1") || { t_fail "cannot read eth0 of $1"; return 1; }
	IP=${got% *} MAC=${got#* }
	assert_match '/24$' "$IP" "eth0's prefix in $1" || return
	IP=${IP%/24}
	assert_match "$RANGE_RE" "$IP" "eth0's address in $1 (the --ip-range)" || return
	assert_ne "$AUX" "$IP" "$1's address (the aux address is reserved)" || return
	assert_eq "$IP" "$(ctr_net "$1" "$2" IPAddress 2>&1)" "the address docker recorded for $1" || return
	assert_match '^[0-9a-f]{2}(:[0-9a-f]{2}){5}$' "$MAC" "eth0's MAC in $1" || return
	assert_eq "$MAC" "$(ctr_net "$1" "$2" MacAddress 2>&1)" "the MAC docker recorded for $1" || return
	assert_contains "default via 192.168.1.1" "$(dw_nsenter "$1" ip -4 route show default 2>&1)" \
		"the default route in $1" || return
	if ((G)); then
		assert_eq Bound "$(row_of "$IP" .state)" "the store's row of $IP ($1)" || return
		assert_contains "$1" "$(row_of "$IP" .identity)" "the identity of $IP's row" || return
	fi
}

# serve_ok CTR: lanserver in CTR (at IP), the LAN player accepted as itself.
serve_ok() {
	assert_ok dw_server_start "$1" "$PORT" "$T_TMP/$1.log" || return
	assert_rc 0 game_join lanp "$IP" "$PORT" wilson || return
	assert_match '^accepted wilson from \[LAN\] 192\.168\.1\.77$' "$T_OUT" "the LAN player's reply from $1"
}

# ---- the systemd unit ----

case_unit() {
	local unit=$GL_TOP/conf/docker/gamelan-docker.service exec args
	exec=$(sed -n 's/^ExecStart=//p' "$unit")
	assert_match '^/usr/local/bin/gamelan-docker ' "$exec" "the unit's ExecStart" || return
	read -ra args <<<"${exec#* }"
	# Every option the unit passes is one gamelan-docker takes (parsed in order, before --help).
	assert_ok "$GL_BIN/gamelan-docker" "${args[@]}" --help || return
	assert_contains "Usage: gamelan-docker" "$T_OUT" "--help after the unit's options" || return
	assert_rc 2 "$GL_BIN/gamelan-docker" "${args[@]}" --no-such-option || return
	assert_contains "Before=docker.service" "$(cat "$unit")" "the unit's ordering" || return
	assert_contains "--foreground" "$exec" "the unit runs it in the foreground (Type=simple)"
}
t_run "conf/docker/gamelan-docker.service: its ExecStart options are gamelan-docker's, it starts before docker.service" \
	case_unit

# ---- without --foreground: it detaches once it listens ----

DET_PID=
_det_stop() {
	[[ -n "$DET_PID" ]] && kill "$DET_PID" 2>/dev/null
	return 0
}
world_at_exit _det_stop

case_detach() {
	local dir=$T_TMP/det ns i
	ns=$(world_ns node2)
	mkdir -p "$dir"
	# In node2's netns (it sweeps links of its own netns at start), no dockerd behind it.
	assert_ok timeout 60 ip netns exec "$ns" "$GL_BIN/gamelan-docker" --socket "$dir/gamelan.sock" \
		--db "$dir/docker.db" --docker-host "unix://$dir/no-dockerd.sock" || return
	assert_eq "" "$T_OUT" "what the detaching parent printed" || return
	[[ -S "$dir/gamelan.sock" ]] || { t_fail "no socket at $dir/gamelan.sock once the parent exited"; return 1; }
	DET_PID=$(ip netns exec "$ns" ss -xlpn 2>/dev/null | grep -F "$dir/gamelan.sock" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2)
	assert_match '^[0-9]+$' "$DET_PID" "the daemon's pid (ss)" || return
	assert_ok curl -sS --max-time 10 --unix-socket "$dir/gamelan.sock" -X POST http://plugin/Plugin.Activate || return
	assert_contains '"IpamDriver"' "$T_OUT" "Activate of the detached daemon" || return
	assert_file_mode "$dir/docker.db" 600 || return
	assert_file_mode "$dir/gamelan.sock" 600 || return
	kill "$DET_PID"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$DET_PID" 2>/dev/null || break
		sleep 0.1
	done
	! kill -0 "$DET_PID" 2>/dev/null || { t_fail "the detached daemon survived SIGTERM"; return 1; }
	DET_PID=
	[[ ! -e "$dir/gamelan.sock" ]] || { t_fail "the socket stayed after SIGTERM"; return 1; }
}
gamelan_only "gamelan-docker without --foreground: the parent exits 0 once the socket answers, store and socket 0600, SIGTERM stops it and removes the socket" \
	case_detach

# ---- networks ----

case_networks() {
	local fmt='{{.Driver}} {{.IPAM.Driver}} {{index .Options "parent"}} {{(index .IPAM.Config 0).Subnet}} {{(index .IPAM.Config 0).IPRange}} {{(index .IPAM.Config 0).Gateway}}'
	assert_ok dw_docker network create "${DRV_ARGS[@]}" "${SUBNET[@]}" -o parent=eth0 scratch || return
	assert_ok dw_docker network inspect -f "$fmt" scratch || return
	if ((G)); then
		assert_eq "gamelan gamelan eth0 192.168.1.0/24 192.168.1.128/26 192.168.1.1" "$T_OUT" "docker network inspect scratch" || return
	else
		assert_eq "macvlan default eth0 192.168.1.0/24 192.168.1.128/26 192.168.1.1" "$T_OUT" "docker network inspect scratch" || return
	fi
	assert_ok dw_docker network ls --format '{{.Name}} {{.Driver}}' || return
	assert_contains "scratch $DK_DRIVER" "$T_OUT" "docker network ls" || return
	assert_ok dw_docker network rm scratch || return
	assert_rc 1 dw_docker network inspect scratch || return
	assert_contains "No such network" "$T_ERR" "inspect after rm" || return
	# The network everything below uses.
	assert_ok dw_docker network create "${DRV_ARGS[@]}" "${SUBNET[@]}" --aux-address "printer=$AUX" -o parent=eth0 lan || return
	assert_ok dw_docker network inspect -f '{{json (index .IPAM.Config 0).AuxiliaryAddresses}}' lan || return
	assert_json_field "$T_OUT" .printer "$AUX"
}
t_run "docker network create -d $DK_DRIVER (subnet, --ip-range, gateway, -o parent=eth0): inspect shows it, ls lists it, rm removes it; then 'lan' with --aux-address printer=$AUX" \
	case_networks

# ---- run, stop, start, rm ----

A_IP='' A_MAC=''
case_run() {
	run_ok dst-a --network lan || return
	addr_ok dst-a lan || return
	A_IP=$IP A_MAC=$MAC
	serve_ok dst-a || return
	assert_ok dw_docker exec dst-a ping -c 1 -W 5 192.168.1.77 || return
	assert_ok dw_docker network inspect -f '{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}};{{end}}' lan || return
	assert_contains "dst-a $A_IP/24 $A_MAC;" "$T_OUT" "docker network inspect lan's containers"
}
t_run "docker run --name dst-a --network lan: an address from the range with its MAC, the LAN player reaches its server, it reaches the LAN, network inspect lists it" \
	case_run

case_stop_start() {
	dw_servers_stop
	assert_ok dw_docker stop -t 1 dst-a || return
	assert_eq false "$(dw_docker inspect -f '{{.State.Running}}' dst-a 2>&1)" "dst-a after docker stop" || return
	if ((G)); then
		assert_match '^(Held|Released)$' "$(row_of "$A_IP" .state)" "the store's row of $A_IP after docker stop" || return
	fi
	assert_ok dw_docker start dst-a || return
	addr_ok dst-a lan || return
	if ((G)); then
		assert_eq "$A_IP $A_MAC" "$IP $MAC" "dst-a's address and MAC after docker start" || return
	fi
	serve_ok dst-a
}
t_run "docker stop dst-a, docker start dst-a: the container runs again with a LAN address (gamelan: the same IP and MAC), its server answers" \
	case_stop_start

# ---- sticky by name ----

case_sticky() {
	local n ips=''
	dw_servers_stop
	rm_ok dst-a || return
	assert_match '^(Held|Released)$' "$(row_of "$A_IP" .state)" "the store's row of $A_IP after rm -f dst-a" || return
	# Other names, one at a time, never take dst-a's address while it is held for it.
	for n in dst-b dst-c dst-d; do
		run_ok "$n" --network lan || return
		addr_ok "$n" lan || return
		assert_ne "$A_IP" "$IP" "$n's address (dst-a's is held)" || return
		ips+="$IP "
	done
	rm_ok dst-b dst-c dst-d || return
	run_ok dst-a --network lan || return
	addr_ok dst-a lan || return
	assert_eq "$A_IP" "$IP" "dst-a's address the second time" || return
	assert_eq "$A_MAC" "$MAC" "dst-a's MAC the second time" || return
	# dst-b comes back to its own.
	run_ok dst-b --network lan || return
	addr_ok dst-b lan || return
	assert_eq "${ips%% *}" "$IP" "dst-b's address the second time"
}
gamelan_only "docker rm -f dst-a, dst-b/c/d meanwhile (never dst-a's address), dst-a again: the same IP and MAC; dst-b again: its own" \
	case_sticky

# ---- --ip ----

case_ip() {
	run_ok ipx --network lan --ip 192.168.1.180 || return
	addr_ok ipx lan || return
	assert_eq 192.168.1.180 "$IP" "the address asked for with --ip" || return
	# An address that is in use is refused, and nothing changes.
	assert_rc 125 dw_docker run -d --name ipy --network lan --ip 192.168.1.180 "$IMG" sleep 3600 || return
	assert_contains "Error response from daemon" "$T_ERR" "a second --ip 192.168.1.180" || return
	dw_docker rm -f ipy >/dev/null 2>&1
	# Outside the subnet: docker itself refuses.
	assert_rc 125 dw_docker run -d --name ipz --network lan --ip 10.1.2.3 "$IMG" sleep 3600 || return
	assert_contains "does not belong to any of this network's subnets" "$T_ERR" "--ip 10.1.2.3" || return
	dw_docker rm -f ipz >/dev/null 2>&1
	rm_ok ipx || return
	if ((G)); then
		# The name keeps the address it asked for.
		run_ok ipx --network lan || return
		addr_ok ipx lan || return
		assert_eq 192.168.1.180 "$IP" "ipx's address, run again without --ip" || return
		rm_ok ipx
	fi
}
t_run "docker run --ip 192.168.1.180: that address; the same --ip for another container and one outside the subnet refused (gamelan: ipx again without --ip keeps it)" \
	case_ip

case_mac() {
	run_ok macx --network lan --mac-address 02:42:c0:a8:01:99 || return
	addr_ok macx lan || return
	assert_eq 02:42:c0:a8:01:99 "$MAC" "the MAC asked for with --mac-address" || return
	rm_ok macx
}
t_run "docker run --mac-address 02:42:c0:a8:01:99: that MAC" case_mac

# ---- aux address ----

case_aux() {
	local rc
	dw_docker run -d --name auxy --network lan --ip "$AUX" "$IMG" sleep 3600 >"$T_TMP/.aux" 2>&1
	rc=$?
	dw_docker rm -f auxy >/dev/null 2>&1
	assert_ne 0 "$rc" "docker run --ip $AUX (an aux address): status" || return
	assert_contains "Error response from daemon" "$(cat "$T_TMP/.aux")" "docker's message for --ip $AUX"
}
t_run "docker run --ip $AUX (the network's --aux-address printer): refused" case_aux

# ---- 20 docker runs at once ----

NC=20
case_concurrent() {
	local i n pids=() rc=0 ips=() ip got failed='' seen
	for ((i = 1; i <= NC; i++)); do
		n=$(printf 'conc%02d' "$i")
		# Bounded, generously: 20 starts at once share 2 cores with a sanitizer build.
		DW_TIMEOUT=180 dw_docker run -d --name "$n" --network lan "$IMG" sleep 3600 >"$T_TMP/$n.out" 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || { rc=1; failed+="conc$(printf '%02d' $((i + 1))): $(cat "$T_TMP/conc$(printf '%02d' $((i + 1))).out"); "; }
	done
	((rc == 0)) || { t_fail "docker runs failed: $failed"; return 1; }
	for ((i = 1; i <= NC; i++)); do
		n=$(printf 'conc%02d' "$i")
		assert_eq true "$(dw_docker inspect -f '{{.State.Running}}' "$n" 2>&1)" "$n running" || return
		addr_ok "$n" lan || return
		ips+=("$IP")
		serve_ok "$n" || return
	done
	seen=$(printf '%s\n' "${ips[@]}" | sort | uniq -d)
	assert_eq "" "$seen" "addresses given to two of the $NC containers" || return
	if ((G)); then
		for ip in "${ips[@]}"; do
			[[ "$ip" != "$A_IP" ]] || { t_fail "a concurrent container got dst-a's address"; return 1; }
		done
	fi
	dw_servers_stop
	pids=()
	for ((i = 1; i <= NC; i++)); do
		DW_TIMEOUT=180 dw_docker rm -f "$(printf 'conc%02d' "$i")" >/dev/null 2>&1 &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[i]}" || rc=1
	done
	((rc == 0)) || { t_fail "some of the $NC concurrent docker rm -f failed"; return 1; }
	got=$(dw_docker ps -aq --filter name=conc 2>&1)
	assert_eq "" "$got" "concurrent containers left"
}
t_run "$NC docker runs at once: all running, distinct addresses from the range (never a held one), each one's server answers the LAN player; $NC rm -f at once" \
	case_concurrent

# ---- the WAN player and the LAN-only server, without SNAT ----

SRV_IP=''
case_wan_refused() {
	run_ok srv --network lan || return
	addr_ok srv lan || return
	SRV_IP=$IP
	serve_ok srv || return
	assert_ok router_port_forward game "$PORT" "$SRV_IP" || return
	assert_ok ns_conntrack_flush router || return
	assert_rc 1 game_join wanp "$WAN" "$PORT" friend || return
	assert_match '^refused: ID_DST_SERVER_IS_LAN_ONLY 198\.51\.100\.56$' "$T_OUT" "the reply without snat" || return
	assert_ok router_forward_del game
}
t_run "network lan (no snat), the router forwarding udp/$PORT to srv: the LAN-only server refuses the WAN player" \
	case_wan_refused

# ---- the label gamelan.snat=true on a network without -o snat ----

case_label_snat() {
	local log=$T_TMP/lbl.log
	run_ok lbl --network lan --label gamelan.snat=true || return
	addr_ok lbl lan || return
	# Installed once Docker has put the link in the container and the label was read: bounded.
	lbl_table() { dw_nsenter lbl nft list ruleset 2>&1 | grep -q 'hook input'; }
	wait_until 30 lbl_table || { t_fail "no SNAT table in lbl: $(dw_nsenter lbl nft list ruleset 2>&1 | head -c 300)"; return 1; }
	assert_ok dw_server_start lbl "$PORT" "$log" || return
	assert_ok router_port_forward game "$PORT" "$IP" || return
	assert_ok ns_conntrack_flush router || return
	assert_rc 0 game_join wanp "$WAN" "$PORT" friend || return
	assert_match '^accepted friend from \[LAN\] 192\.168\.1\.1$' "$T_OUT" "the reply with the label" || return
	assert_ok router_forward_del game || return
	dw_servers_stop
	rm_ok lbl
}
gamelan_only "docker run --label gamelan.snat=true on lan (no -o snat): the WAN player is accepted as 192.168.1.1" \
	case_label_snat

# ---- bad requests straight to the plugin socket ----

# plug PATH BODY: POST BODY to the driver's socket; T_OUT the answer, T_RC curl's status.
plug() {
	assert_ok curl -sS --max-time 10 --unix-socket "$DW_DIR/plugins/gamelan.sock" -X POST \
		--data-binary "$2" "http://plugin$1"
}

case_bad_requests() {
	local rows
	rows=$(db_snap)
	plug /IpamDriver.RequestAddress '{"PoolID": 7' || return
	assert_contains '"Error":"gamelan: malformed JSON' "$T_OUT" "RequestAddress with broken JSON" || return
	plug /IpamDriver.RequestAddress '{"PoolID":"gamelan:10.99.0.0/16"}' || return
	assert_contains '"Error":"gamelan: unknown pool gamelan:10.99.0.0/16"' "$T_OUT" "RequestAddress of an unknown pool" || return
	plug /IpamDriver.RequestPool '{"Pool":"300.1.2.0/24"}' || return
	assert_contains '"Error":"gamelan: --subnet 300.1.2.0/24 is not an IPv4 prefix"' "$T_OUT" "RequestPool of a bad prefix" || return
	plug /IpamDriver.RequestPool '{"Pool":"192.168.1.0/25"}' || return
	assert_contains '"Error":"gamelan: Pool overlaps' "$T_OUT" "RequestPool overlapping lan's" || return
	plug /NetworkDriver.CreateEndpoint '{"NetworkID":"../../etc","EndpointID":"x"}' || return
	assert_contains '"Err":"gamelan: NetworkID and EndpointID must be Docker IDs"' "$T_OUT" "CreateEndpoint with bad IDs" || return
	plug /NetworkDriver.Join '{"NetworkID":"abc","EndpointID":"def","SandboxKey":"relative"}' || return
	assert_contains '"Err":"gamelan: SandboxKey must be an absolute path"' "$T_OUT" "Join with a relative SandboxKey" || return
	plug /NetworkDriver.CreateNetwork '{"NetworkID":"abc","Options":{"com.docker.network.generic":{"parent":"eth0","colour":"red"}},"IPv4Data":[{"Pool":"10.98.0.0/24"}]}' || return
	assert_contains '"Err":"gamelan: unknown option -o colour' "$T_OUT" "CreateNetwork with an unknown option" || return
	head -c 1100000 /dev/zero | tr '\0' 'a' >"$T_TMP/big"
	assert_ok curl -sS --max-time 10 -o /dev/null -w '%{http_code}' --unix-socket "$DW_DIR/plugins/gamelan.sock" \
		-X POST --data-binary "@$T_TMP/big" http://plugin/IpamDriver.RequestAddress || return
	assert_eq 413 "$T_OUT" "a body over 1 MiB" || return
	plug /Plugin.Activate '' || return
	assert_eq '{"Implements":["NetworkDriver","IpamDriver"]}' "$T_OUT" "Activate after the bad requests" || return
	assert_eq "$rows" "$(db_snap)" "the store after the bad requests" || return
	assert_ok dw_docker network ls
}
gamelan_only "bad requests to the plugin socket (broken JSON, unknown pool, bad prefix, overlap, bad IDs, relative sandbox, unknown option, 1.1 MB): Docker's error shape with a message, the daemon answers on, the store unchanged" \
	case_bad_requests

# ---- Docker >= 29 names the container to IPAM ----

# What dockerd 29 sends (com.docker.network.endpoint.name in RequestAddress's Options), straight
# to the plugin socket: the name's address without a lookup, the same one after its release.
case_endpoint_name() {
	local req a1 a2
	req='{"PoolID":"gamelan:192.168.1.0/24","Address":"","Options":{"com.docker.network.endpoint.name":"dst-29"}}'
	plug /IpamDriver.RequestAddress "$req" || return
	a1=$(jq -r .Address <<<"$T_OUT")
	assert_match '^192\.168\.1\.[0-9]+/24$' "$a1" "RequestAddress for dst-29 ($T_OUT)" || return
	assert_eq dst-29 "$(row_of "${a1%/24}" .identity)" "the identity of ${a1%/24}'s row" || return
	plug /IpamDriver.ReleaseAddress "{\"PoolID\":\"gamelan:192.168.1.0/24\",\"Address\":\"$a1\"}" || return
	assert_eq '{}' "$T_OUT" "ReleaseAddress" || return
	assert_match '^(Held|Released)$' "$(row_of "${a1%/24}" .state)" "${a1%/24}'s row after the release" || return
	plug /IpamDriver.RequestAddress '{"PoolID":"gamelan:192.168.1.0/24","Options":{"com.docker.network.endpoint.name":"dst-30"}}' || return
	a2=$(jq -r .Address <<<"$T_OUT")
	assert_ne "$a1" "$a2" "dst-30's address (dst-29's is held)" || return
	plug /IpamDriver.RequestAddress "$req" || return
	assert_eq "$a1" "$(jq -r .Address <<<"$T_OUT")" "dst-29's address the second time" || return
	for a1 in "$a1" "$a2"; do
		plug /IpamDriver.ReleaseAddress "{\"PoolID\":\"gamelan:192.168.1.0/24\",\"Address\":\"$a1\"}" || return
	done
}
gamelan_only "RequestAddress with com.docker.network.endpoint.name (Docker >= 29) on the plugin socket: that name's address, held after its release, the same again; another name never gets it" \
	case_endpoint_name

# ---- dockerd restarted with --restart=always containers ----

all_running() {
	[[ "$(dw_docker inspect -f '{{.State.Running}}' alw1 alw2 alw3 2>/dev/null | tr -d '\n')" == truetruetrue ]]
}

# dockerd's restore at boot starts the --restart=always containers before it serves its API,
# and 20.10 tells a driver nothing of the container: the driver cannot name them then. Those
# started with --ip (alw1, alw2: the documented way) keep their address and MAC; alw3 (no --ip)
# gets an address nobody else holds, and its own back at its next start with the API up.
case_dockerd_restart() {
	local ip1 mac1 ip2 mac2 ip3 mac3 n
	# Of case_sticky's containers dst-a stays (it has no restart policy): dst-b goes.
	rm_ok dst-b || return
	run_ok alw1 --network lan --restart=always --ip 192.168.1.170 || return
	addr_ok alw1 lan || return
	ip1=$IP mac1=$MAC
	run_ok alw2 --network lan --restart=always --ip 192.168.1.171 || return
	addr_ok alw2 lan || return
	ip2=$IP mac2=$MAC
	run_ok alw3 --network lan --restart=always || return
	addr_ok alw3 lan || return
	ip3=$IP mac3=$MAC
	dw_servers_stop
	# Bounded: dw_dockerd_restart waits at most 20 s for the stop and 60 s for the API.
	assert_ok dw_dockerd_restart || return
	wait_until 60 all_running || {
		t_fail "the --restart=always containers did not come back: $(dw_docker ps -a 2>&1 | tail -n 5)"
		return 1
	}
	for n in alw1 alw2 alw3; do
		wait_until 60 dw_ctr_eth0 "$n" || { t_fail "$n has no eth0 address after the restart"; return 1; }
	done
	addr_ok alw1 lan || return
	assert_eq "$ip1 $mac1" "$IP $MAC" "alw1's address and MAC after the dockerd restart (--ip)" || return
	serve_ok alw1 || return
	addr_ok alw2 lan || return
	assert_eq "$ip2 $mac2" "$IP $MAC" "alw2's address and MAC after the dockerd restart (--ip)" || return
	serve_ok alw2 || return
	if ((G)); then
		local got
		got=$(dw_ctr_eth0 alw3) && IP=${got% *} && IP=${IP%/24}
		assert_match "$RANGE_RE" "$IP" "alw3's address after the restart" || return
		assert_match "^(alw3|anon-[0-9a-f]+)\$" "$(row_of "$IP" .identity)" \
			"the identity of alw3's address after the restart (its own, or unnamed: never another name's)" || return
	fi
	assert_eq false "$(dw_docker inspect -f '{{.State.Running}}' srv 2>&1)" "srv (no restart policy) after the restart" || return
	assert_eq false "$(dw_docker inspect -f '{{.State.Running}}' dst-a 2>&1)" "dst-a (no restart policy) after the restart" || return
	# The API and the driver answer after the restore. srv and dst-a are both stopped, so
	# `docker start srv` is ambiguous for 20.10's driver (two stopped containers on lan): an
	# address nobody else holds; dst-a then starts alone: its own; srv's next start: its own.
	assert_ok dw_docker start srv || return
	if ((G)); then
		local got
		got=$(dw_ctr_eth0 srv) && IP=${got% *} && IP=${IP%/24}
		assert_match "$RANGE_RE" "$IP" "srv's address, started beside the stopped dst-a" || return
		assert_match "^(srv|anon-[0-9a-f]+)\$" "$(row_of "$IP" .identity)" \
			"the identity of srv's address, started beside the stopped dst-a (never another name's)" || return
		assert_ne "$A_IP" "$IP" "srv's address (dst-a's is held)" || return
	fi
	assert_ok dw_docker start dst-a || return
	addr_ok dst-a lan || return
	((G)) && { assert_eq "$A_IP $A_MAC" "$IP $MAC" "dst-a's address and MAC, started alone" || return; }
	assert_ok dw_docker restart -t 1 srv || return
	wait_until 30 dw_ctr_eth0 srv || { t_fail "srv has no eth0 address after docker restart"; return 1; }
	addr_ok srv lan || return
	((G)) && { assert_eq "$SRV_IP" "$IP" "srv's address, restarted alone" || return; }
	assert_ok dw_docker network inspect -f '{{.Name}}' lan || return
	# alw3's next start, with the API up: its own address and MAC again.
	assert_ok dw_docker restart -t 1 alw3 || return
	wait_until 30 dw_ctr_eth0 alw3 || { t_fail "alw3 has no eth0 address after docker restart"; return 1; }
	addr_ok alw3 lan || return
	((G)) && { assert_eq "$ip3 $mac3" "$IP $MAC" "alw3's address and MAC at its next start" || return; }
	return 0
}
t_run "dockerd restarted (bounded) with three --restart=always containers: all back; alw1, alw2 (--ip) with the same IP and MAC, alw3 (no --ip) with one nobody else holds and its own at its next start; servers answer; srv starts again" \
	case_dockerd_restart

# ---- the driver killed and restarted mid-run ----

case_driver_restart() {
	local ip1 mac1 out rc
	addr_ok alw1 lan || return
	ip1=$IP mac1=$MAC
	assert_ok dw_driver_stop KILL || return
	# The containers keep their links: the LAN player still reaches alw1.
	assert_rc 0 game_join lanp "$ip1" "$PORT" wilson || return
	# A docker run while the driver is gone fails (or waits for it), but is bounded.
	DW_TIMEOUT=90 dw_docker run -d --name during --network lan "$IMG" sleep 3600 >"$T_TMP/during.out" 2>&1
	rc=$?
	t_note "docker run with the driver killed: status $rc: $(head -c 300 "$T_TMP/during.out")"
	assert_ne 124 "$rc" "docker run while the driver is gone (timed out: a hang)" || return
	dw_docker rm -f during >/dev/null 2>&1
	assert_ok dw_driver_start || return
	# Its state came from the store: alw1's endpoint leaves cleanly, alw1 comes back the same.
	assert_ok dw_docker restart -t 1 alw1 || return
	wait_until 30 dw_ctr_eth0 alw1 || { t_fail "alw1 has no eth0 address after its restart"; return 1; }
	addr_ok alw1 lan || return
	assert_eq "$ip1 $mac1" "$IP $MAC" "alw1's address and MAC after the driver's restart" || return
	run_ok after --network lan || return
	addr_ok after lan || return
	out=$IP
	assert_ne "$ip1" "$out" "the new container's address" || return
	rm_ok dst-a || return
	run_ok dst-a --network lan || return
	addr_ok dst-a lan || return
	assert_eq "$A_IP $A_MAC" "$IP $MAC" "dst-a's address and MAC after the driver's restart" || return
	dw_servers_stop
	rm_ok after
}
gamelan_only "gamelan-docker killed (SIGKILL) with containers running, a docker run meanwhile (bounded), restarted: alw1 restarts with the same IP and MAC, dst-a too, a new container gets a new one" \
	case_driver_restart

# ---- bad options ----

# bad_net_ok TEXT ARGS...: network create ARGS... is refused, docker shows TEXT, nothing changes.
bad_net_ok() {
	local text=$1 before rows
	shift
	before=$(dw_docker network ls -q | sort)
	rows=$(db_snap)
	assert_rc 1 dw_docker network create "$@" || {
		dw_docker network rm bad >/dev/null 2>&1
		return 1
	}
	assert_contains "Error response from daemon:" "$T_ERR" "docker's message for: $*" || return
	assert_contains "$text" "$T_ERR" "docker's message for: $*" || return
	assert_eq "$before" "$(dw_docker network ls -q | sort)" "networks after: $*" || return
	((G)) && { assert_eq "$rows" "$(db_snap)" "the store after: $*" || return; }
	assert_eq "" "$(ip -n "$NODE" -o link show type vlan 2>&1)" "vlan links in node1"
}

case_bad() {
	bad_net_ok "already using parent interface eth0" \
		"${DRV_ARGS[@]}" --subnet 10.9.1.0/24 -o parent=eth0 bad || return
	bad_net_ok "unable to parse a valid vlan id from: x" \
		"${DRV_ARGS[@]}" --subnet 10.9.1.0/24 -o parent=eth0.x bad || return
	bad_net_ok "vlan id must be between 1-4094" \
		"${DRV_ARGS[@]}" --subnet 10.9.1.0/24 -o parent=eth0.5000 bad || return
	bad_net_ok "requested macvlan mode 'bogus' is not valid" \
		"${DRV_ARGS[@]}" --subnet 10.9.1.0/24 -o parent=eth1 -o macvlan_mode=bogus bad || return
	if ((G)); then
		bad_net_ok "snat" "${DRV_ARGS[@]}" --subnet 10.9.1.0/24 -o parent=eth1 -o snat=maybe bad || return
		bad_net_ok "parent" "${DRV_ARGS[@]}" --subnet 10.9.1.0/24 -o parent=nosuch0 bad || return
	fi
	# A bad container option: docker's own check, before the driver.
	assert_rc 125 dw_docker run -d --name badmac --network lan --mac-address zz "$IMG" true || return
	assert_contains "zz is not a valid mac address" "$T_ERR" "--mac-address zz"
}
t_run "bad options refused with the message shown by docker (a second network on eth0, -o parent=eth0.x, eth0.5000, macvlan_mode=bogus; gamelan: snat=maybe, a missing parent), nothing changed" \
	case_bad

# 802.1q: a scratch link in a namespace of our own tells whether this kernel has it.
pod_netns vlanprobe >/dev/null || t_bail "no scratch namespace"
ip -n "$(world_ns pod-vlanprobe)" link add p0 type veth peer name p1 2>/dev/null
HAVE_VLAN=0
ip -n "$(world_ns pod-vlanprobe)" link add link p0 name p0.10 type vlan id 10 2>/dev/null && HAVE_VLAN=1
pod_netns_del vlanprobe

case_vlan() {
	assert_ok dw_docker network create "${DRV_ARGS[@]}" --subnet 10.10.0.0/24 -o parent=eth0.10 lanv || return
	assert_link node1 eth0.10 || return
	assert_ok dw_docker network rm lanv || return
	assert_no_link node1 eth0.10
}
if ((HAVE_VLAN)); then
	t_run "-o parent=eth0.10: the 802.1q link is created, network rm removes it" case_vlan
else
	t_skip "-o parent=eth0.10: the 802.1q link is created, network rm removes it" \
		"NO 802.1q IN THIS KERNEL (ip link add type vlan fails): the VLAN parent path is not tested here"
fi

# ---- the WAN player accepted with -o snat=true ----

case_snat() {
	local log=$T_TMP/snat.log dump n
	dw_servers_stop
	for n in $(dw_docker ps -aq); do
		dw_docker rm -f "$n" >/dev/null || { t_fail "docker rm -f $n"; return 1; }
	done
	assert_ok dw_docker network rm lan || return
	assert_ok dw_docker network create "${DRV_ARGS[@]}" "${SUBNET[@]}" --aux-address "printer=$AUX" \
		-o parent=eth0 -o snat=true lansnat || return
	run_ok dsnat --network lansnat || return
	addr_ok dsnat lansnat || return
	# The driver installs the table once Docker has put the link in the container (after
	# Join answered): bounded, generously.
	snat_table() { dw_nsenter dsnat nft list ruleset 2>&1 | grep -q 'hook input'; }
	wait_until 30 snat_table || { t_fail "no SNAT table in dsnat: $(dw_nsenter dsnat nft list ruleset 2>&1 | head -c 300)"; return 1; }
	dump=$(dw_nsenter dsnat nft list ruleset 2>&1)
	assert_match 'hook input' "$dump" "gamelan-snat's table in dsnat" || return
	assert_ok dw_server_start dsnat "$PORT" "$log" || return
	assert_ok router_port_forward game "$PORT" "$IP" || return
	assert_ok ns_conntrack_flush router || return
	assert_rc 0 game_join wanp "$WAN" "$PORT" friend || return
	assert_match '^accepted friend from \[LAN\] 192\.168\.1\.1$' "$T_OUT" "the reply with snat" || return
	assert_contains "Client connected from [LAN] 192.168.1.1 (friend)" "$(cat "$log")" "the server's log" || return
	assert_rc 0 game_join lanp "$IP" "$PORT" wilson || return
	assert_match '^accepted wilson from \[LAN\] 192\.168\.1\.77$' "$T_OUT" "the LAN player's reply" || return
	assert_ok router_forward_del game
}
gamelan_only "network lansnat (-o snat=true; lan removed first: one network per parent): the WAN player, through the same port-forward, is accepted as 192.168.1.1; the LAN player as itself" \
	case_snat

# ---- everything removed ----

case_rm_all() {
	local n
	dw_servers_stop
	for n in $(dw_docker ps -aq); do
		dw_docker rm -f "$n" >/dev/null || { t_fail "docker rm -f $n"; return 1; }
	done
	assert_eq "" "$(dw_docker ps -aq 2>&1)" "containers left" || return
	for n in $(dw_docker network ls --filter "driver=$DK_DRIVER" -q); do
		assert_ok dw_docker network rm "$n" || return
	done
	assert_eq "" "$(dw_docker network ls --filter "driver=$DK_DRIVER" -q 2>&1)" "$DK_DRIVER networks left" || return
	assert_eq "" "$(ip -n "$NODE" -o link show type macvlan 2>&1)" "macvlan links in node1" || return
	assert_eq "eth0 eth1 lo " "$(ip -n "$NODE" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')" \
		"links in node1" || return
	assert_eq "" "$(_dw_cgroup_pids)" "processes under the containers' cgroup parent" || return
	if ((G)); then
		assert_eq "" "$(db_rows | jq -r '.[] | select(.state == "Bound") | .ip')" "Bound rows left in the store" || return
		assert_file_mode "$DB" 600
	fi
}
t_run "every container and network removed: no macvlan link left in node1 (only eth0, eth1, lo), no process in the cgroup parent (gamelan: no Bound row; the store 0600)" \
	case_rm_all

t_done
