#!/usr/bin/env bash
# The harness itself: the netns world, the LAN-only game server and its client, cni_call,
# and the teardown (also when the script that built the world is killed).
. "$(dirname "$0")/lib.sh"

PORT=10999

host_links() {
	ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
}

links_before=$(host_links)
world_up || t_bail "world_up failed"

case_world_shape() {
	local role
	for role in sw router node1 node2 lanp wanp; do
		assert_ns "$role" || return
	done
	assert_link sw br0 || return
	assert_addr router eth0 192.168.1.1/24 || return
	assert_addr router wan0 198.51.100.1/24 || return
	assert_addr node1 eth0 192.168.1.11/24 || return
	assert_addr node1 eth0 fd00:1::11/64 || return
	assert_addr node2 eth0 192.168.1.12/24 || return
	assert_addr lanp eth0 192.168.1.77/24 || return
	assert_addr lanp eth0 fd00:1::77/64 || return
	assert_addr wanp eth0 198.51.100.56/24 || return
	assert_ok ip netns exec "$(world_ns router)" sysctl -n net.ipv4.ip_forward || return
	assert_eq 1 "$T_OUT" "router ip_forward" || return
	assert_ok ip netns exec "$(world_ns node1)" sysctl -n net.ipv4.ip_forward || return
	assert_eq 0 "$T_OUT" "node1 ip_forward" || return
	assert_ok ip -n "$(world_ns wanp)" route show default || return
	assert_match 'via 198\.51\.100\.1' "$T_OUT" "WAN player's default route"
}
t_run "world_up builds sw, router, node1, node2, lanp, wanp with the seed's addresses" case_world_shape

case_host_untouched() {
	assert_eq "$links_before" "$(host_links)" "links of the host namespace"
}
t_run "world_up creates no link in the host namespace" case_host_untouched

LOG=$T_TMP/node1.log
game_server_start node1 "$PORT" "$LOG" --bind :: || t_bail "lanserver did not start in node1"
SERVER_PID=$GAME_SERVER_PID

case_lan_accepted() {
	assert_rc 0 game_join lanp 192.168.1.11 "$PORT" wilson || return
	assert_eq "accepted wilson from [LAN] 192.168.1.77" "$T_OUT" "reply" || return
	assert_contains "Client connected from [LAN] 192.168.1.77 (wilson)" "$(cat "$LOG")" "server log"
}
t_run "lanserver on 192.168.1.11 accepts the LAN player 192.168.1.77" case_lan_accepted

case_wan_refused() {
	assert_rc 1 game_join wanp 192.168.1.11 "$PORT" friend || return
	assert_eq "refused: ID_DST_SERVER_IS_LAN_ONLY 198.51.100.56" "$T_OUT" "reply" || return
	assert_contains "LAN server refusing connection from 198.51.100.56 (friend): ID_DST_SERVER_IS_LAN_ONLY" \
		"$(cat "$LOG")" "server log"
}
t_run "lanserver refuses the WAN player 198.51.100.56 coming through the router" case_wan_refused

case_ipv6() {
	assert_rc 0 game_join lanp fd00:1::11 "$PORT" wilson6 || return
	assert_eq "accepted wilson6 from [LAN] fd00:1::77" "$T_OUT" "reply" || return
	assert_rc 1 game_join wanp fd00:1::11 "$PORT" friend6 || return
	assert_eq "refused: ID_DST_SERVER_IS_LAN_ONLY 2001:db8:51::56" "$T_OUT" "reply"
}
t_run "IPv6: fd00:1::77 is accepted, the WAN player's 2001:db8:51::56 refused" case_ipv6

case_loopback() {
	assert_rc 1 game_join node1 127.0.0.1 "$PORT" self || return
	assert_eq "refused: ID_DST_SERVER_IS_LAN_ONLY 127.0.0.1" "$T_OUT" "reply" || return
	assert_rc 1 game_join node1 ::1 "$PORT" self6 || return
	assert_match '^refused: ID_DST_SERVER_IS_LAN_ONLY ::1$' "$T_OUT" "reply"
}
t_run "a loopback source is not LAN" case_loopback

case_junk() {
	local lanp
	lanp=$(world_ns lanp)
	# Bash's /dev/udp sends one datagram per write.
	ip netns exec "$lanp" bash -c '
		printf "\x00\xffJOIN x" >/dev/udp/192.168.1.11/'"$PORT"'
		head -c 4000 /dev/urandom >/dev/udp/192.168.1.11/'"$PORT"'
		printf "JOIN " >/dev/udp/192.168.1.11/'"$PORT"'
		printf "JOIN \x01\x7f" >/dev/udp/192.168.1.11/'"$PORT"'
		printf "JOIN %070d" 0 >/dev/udp/192.168.1.11/'"$PORT"'
		printf "join lower" >/dev/udp/192.168.1.11/'"$PORT"'
		printf "" >/dev/udp/192.168.1.11/'"$PORT"'
	' 2>/dev/null
	assert_rc 0 game_join lanp 192.168.1.11 "$PORT" after-junk || return
	assert_eq "accepted after-junk from [LAN] 192.168.1.77" "$T_OUT" "reply" || return
	assert_proc_alive "$SERVER_PID" || return
	assert_match 'Ignoring bad request from 192\.168\.1\.77 \(512\+ bytes\)' "$(cat "$LOG")" "log of the oversized datagram"
}
t_run "junk datagrams are ignored and lanserver keeps serving" case_junk

case_crowd() {
	local gl=$GL_BIN/lanclient
	assert_rc 0 ip netns exec "$(world_ns lanp)" "$gl" --count 50 192.168.1.11 "$PORT" lan || return
	assert_eq "50 accepted, 0 refused, 0 lost" "$T_OUT" "50 LAN players" || return
	assert_rc 1 ip netns exec "$(world_ns wanp)" "$gl" --count 50 192.168.1.11 "$PORT" wan || return
	assert_eq "0 accepted, 50 refused, 0 lost" "$T_OUT" "50 WAN players" || return
	assert_eq 50 "$(grep -c 'LAN server refusing connection from 198.51.100.56 (wan-' "$LOG")" \
		"refusals logged"
}
t_run "50 concurrent players: all LAN ones accepted, all WAN ones refused" case_crowd

case_no_answer() {
	local t0 t1
	t0=$(date +%s%N)
	GAME_JOIN_TIMEOUT_MS=300 assert_rc 2 game_join lanp 192.168.1.12 "$PORT" nobody || return
	t1=$(date +%s%N)
	assert_match '^no answer' "$T_OUT" "output" || return
	if (((t1 - t0) / 1000000 > 5000)); then
		t_fail "no-answer took $(((t1 - t0) / 1000000)) ms for a 300 ms timeout"
	fi
}
t_run "no server: lanclient gives up within its timeout with status 2" case_no_answer

case_bind_and_usage() {
	local log2=$T_TMP/node2.log
	game_server_start node2 11000 "$log2" --bind 192.168.1.12 || { t_fail "lanserver --bind"; return 1; }
	assert_rc 0 game_join lanp 192.168.1.12 11000 b4 || return
	assert_rc 1 game_join wanp 192.168.1.12 11000 b4w || return
	assert_rc 64 "$GL_BIN/lanserver" --port 0 || return
	assert_rc 64 "$GL_BIN/lanserver" --port 99999 || return
	assert_rc 1 "$GL_BIN/lanserver" --bind nonsense || return
	assert_rc 64 "$GL_BIN/lanclient" 192.168.1.12 11000 || return
	assert_rc 64 "$GL_BIN/lanclient" --count 0 192.168.1.12 11000 x || return
	assert_rc 64 "$GL_BIN/lanclient" 192.168.1.12 11000 "$(printf 'a\tb')" || return
	assert_rc 64 "$GL_BIN/lanclient" not-an-ip 11000 x
}
t_run "lanserver --bind ADDR, and both tools reject bad arguments" case_bind_and_usage

case_cni_call_env() {
	local fake=$T_TMP/fake-plugin node_ino
	cat >"$fake" <<-'EOF'
	#!/bin/sh
	echo "stdin=$(cat)"
	env | sort
	echo "netns=$(readlink /proc/self/ns/net)"
	[ "${CNI_COMMAND:-}" = DEL ] && exit 7
	exit 0
	EOF
	chmod 755 "$fake"
	node_ino=$(ip netns exec "$(world_ns node1)" readlink /proc/self/ns/net)
	LEAKY=1 assert_rc 0 cni_call node1 "$fake" ADD /run/netns/x eth9 cid1 "A=1;B=2" \
		<<<'{"cniVersion":"1.0.0"}' || return
	assert_contains 'stdin={"cniVersion":"1.0.0"}' "$T_OUT" "config on stdin" || return
	assert_contains "CNI_COMMAND=ADD" "$T_OUT" || return
	assert_contains "CNI_NETNS=/run/netns/x" "$T_OUT" || return
	assert_contains "CNI_IFNAME=eth9" "$T_OUT" || return
	assert_contains "CNI_CONTAINERID=cid1" "$T_OUT" || return
	assert_contains "CNI_ARGS=A=1;B=2" "$T_OUT" || return
	assert_contains "CNI_PATH=$GL_BIN:/usr/lib/cni" "$T_OUT" || return
	assert_contains "netns=$node_ino" "$T_OUT" "namespace the plugin ran in" || return
	assert_no_match 'LEAKY|GLW=' "$T_OUT" "environment" || return
	assert_rc 7 cni_call node1 "$fake" DEL "" "" cid1 "" </dev/null || return
	assert_no_match 'CNI_NETNS|CNI_IFNAME|CNI_ARGS' "$T_OUT" "unset variables"
}
t_run "cni_call runs the plugin in the node's namespace, clean env, returns its status" case_cni_call_env

case_reference_macvlan_pod() {
	local conf path res ip
	if [[ ! -x /usr/lib/cni/macvlan || ! -x /usr/lib/cni/host-local ]]; then
		t_fail "reference plugins missing in /usr/lib/cni (tests/install-deps.sh)"
		return 1
	fi
	conf=$(jq -nc --arg d "$T_TMP/hl" '{cniVersion:"1.0.0", name:"lan", type:"macvlan",
		master:"eth0", mode:"bridge", ipam:{type:"host-local", dataDir:$d,
		ranges:[[{subnet:"192.168.1.0/24", rangeStart:"192.168.1.200",
		rangeEnd:"192.168.1.216", gateway:"192.168.1.1"}]], routes:[{dst:"0.0.0.0/0"}]}}')
	path=$(pod_netns ref-0) || { t_fail "pod_netns"; return 1; }
	assert_eq "/run/netns/$GLW-pod-ref-0" "$path" "pod netns path" || return
	assert_rc 0 cni_call node1 macvlan ADD "$path" eth0 refcid0 \
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=ref-0" <<<"$conf" || return
	res=$T_OUT
	ip=$(jq -r '.ips[0].address' <<<"$res")
	assert_eq 192.168.1.200/24 "$ip" "address from host-local" || return
	game_server_start pod-ref-0 "$PORT" "$T_TMP/ref.log" || { t_fail "lanserver in the pod"; return 1; }
	assert_rc 0 game_join lanp 192.168.1.200 "$PORT" wilson || return
	assert_rc 0 game_join node2 192.168.1.200 "$PORT" node2 || return
	assert_rc 1 game_join wanp 192.168.1.200 "$PORT" friend || return
	assert_rc 0 cni_call node1 macvlan DEL "$path" eth0 refcid0 "" <<<"$conf" || return
	assert_no_link pod-ref-0 eth0 || return
	assert_ok pod_netns_del ref-0 || return
	assert_no_ns pod-ref-0 || return
	assert_ok pod_netns_del ref-0
}
t_run "a pod on the reference macvlan is a LAN host: LAN accepted, WAN refused; DEL cleans" \
	case_reference_macvlan_pod

case_world_down() {
	local left
	pod_netns extra >/dev/null || { t_fail "pod_netns"; return 1; }
	assert_ok world_down || return
	left=$(world_namespaces)
	assert_eq "" "$left" "namespaces left" || return
	assert_proc_gone "$SERVER_PID" || return
	assert_ok world_down || return
	assert_eq "$links_before" "$(host_links)" "links of the host namespace"
}
t_run "world_down removes every namespace incl. pods, kills their processes; idempotent" case_world_down

# A child script that builds its own world (prefix ${GLW}<suffix>), starts a server in it and
# sleeps; the tests kill it in different ways.
CHILD=$T_TMP/child.sh
cat >"$CHILD" <<'EOF'
. "$GL_TOP/netns-harness/world.sh"
world_up || exit 1
pod_netns extra >/dev/null || exit 1
game_server_start node1 10999 "$1/server.log" || exit 1
echo "$GAME_SERVER_PID" >"$1/ready.tmp" && mv "$1/ready.tmp" "$1/ready"
sleep 60
EOF

child_namespaces() {
	ip netns list | awk '{print $1}' | grep -E "^$1-" || true
}

case_killed() {
	local how=$1 sfx=$2 dir=$T_TMP/kill-$2 pid spid
	mkdir -p "$dir"
	# A script's background job starts with SIGINT ignored, and bash cannot trap a signal
	# ignored on entry: env restores the default, as a terminal's foreground job has it.
	GLW=$GLW$sfx setsid env --default-signal=INT bash "$CHILD" "$dir" >/dev/null 2>&1 &
	pid=$!
	disown "$pid" # proc_gone watches it; no "Killed" notice from the job table
	if ! wait_until 15 test -s "$dir/ready"; then
		t_fail "the child world did not come up"
		kill -KILL -- -"$pid" 2>/dev/null
		return 1
	fi
	spid=$(cat "$dir/ready")
	assert_ne "" "$(child_namespaces "$GLW$sfx")" "child namespaces before the kill" || return
	kill -"$how" -- -"$pid"
	if ! wait_until 20 proc_gone "$pid"; then
		t_fail "the child did not exit after SIG$how"
		return 1
	fi
	if [[ "$how" == KILL ]]; then
		# Nothing runs after SIGKILL: the namespaces stay until a world_down with the same
		# prefix, which is what world_up (and the e2e runner) do first.
		assert_ne "" "$(child_namespaces "$GLW$sfx")" "namespaces right after SIGKILL" || return
		assert_ok env GLW="$GLW$sfx" bash -c '. "$GL_TOP/netns-harness/world.sh"; world_down' || return
	fi
	assert_eq "" "$(child_namespaces "$GLW$sfx")" "namespaces left after SIG$how" || return
	assert_proc_gone "$spid"
}
export GL_TOP GL_BIN
t_run "a world whose script gets SIGTERM mid-way leaves no namespace behind" case_killed TERM t
t_run "a world whose script gets SIGINT mid-way leaves no namespace behind" case_killed INT i
t_run "after SIGKILL, world_down with the same GLW removes the leftovers" case_killed KILL k

t_done
