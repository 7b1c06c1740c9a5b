#!/usr/bin/env bash
# Address conflict detection: a LAN host (the LAN player's namespace) holds an address of the
# pod range. gamelan-macvlan's ARP probe (RFC 5227) finds it, gamelan-ipam sets it aside and
# gives another; a pinned address in use fails with 102; without the probe the duplicate is
# not seen; a restart of the same identity within the recent window skips the probe.
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db
LANP=$(world_ns lanp)

CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')

# The state of the row of an address in network lan ("none" without one).
ip_state() {
	db_rows | jq -r --arg ip "$1" --arg n "${2:-lan}" \
		'[.[] | select(.ip == $ip and .network == $n) | .state] | if length == 0 then "none" else join(",") end'
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# add POD NAME CONF [NODE]: ADD for games/NAME in a fresh pod; RES, IP, CID, NSPATH, MS (time).
add() {
	local pod=$1 name=$2 conf=$3 node=${4:-node1} t0
	NSPATH=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	CID=$(t_container_id)
	t0=$(now_ms)
	assert_ok cni_call "$node" gamelan-macvlan ADD "$NSPATH" eth0 "$CID" "$(k8s_args games "$name" "$CID")" \
		<<<"$conf" || return
	MS=$(($(now_ms) - t0))
	RES=$T_OUT
	IP=$(jq -r '.ips[0].address | split("/")[0]' <<<"$RES")
}

del() {
	assert_ok cni_call "${5:-node1}" gamelan-macvlan DEL "$1" eth0 "$2" "$(k8s_args games "$3" "$2")" <<<"$4"
}

ip -n "$LANP" addr add 192.168.1.200/24 dev eth0 || t_bail "cannot add 192.168.1.200 to the LAN player"

case_conflict_skipped() {
	add c0 c-0 "$CONF" || return
	assert_eq 192.168.1.201 "$IP" "address of games/c-0 while the LAN player holds .200" || return
	assert_addr pod-c0 eth0 192.168.1.201/24 || return
	assert_no_addr pod-c0 eth0 192.168.1.200/24 || return
	assert_eq Conflict "$(ip_state 192.168.1.200)" "state of 192.168.1.200 in the store" || return
	assert_json_field "$(db_rows)" '[.[] | select(.ip == "192.168.1.200")][0].identity' null \
		"the conflict row belongs to nobody" || return
	# The LAN player still owns its address: the pod never answered for it.
	assert_ok ip -n "$LANP" addr show dev eth0 to 192.168.1.200/32 || return
	assert_ne "" "$T_OUT" "192.168.1.200 on the LAN player"
}
t_run "the LAN player holds 192.168.1.200: a new identity gets .201, the store lists .200 as Conflict" \
	case_conflict_skipped

case_conflict_remembered() {
	# Without probing, the remembered conflict still keeps .200 from the next identity.
	add c1 c-1 "$(jq -c '.probe = false' <<<"$CONF")" || return
	assert_ne 192.168.1.200 "$IP" "games/c-1 (probe off) while .200 is a remembered conflict" || return
	assert_eq 192.168.1.202 "$IP" "games/c-1 takes the next free address"
}
t_run "a remembered conflict is not handed out (even by an ADD that does not probe)" case_conflict_remembered

case_two_conflicts() {
	ip -n "$LANP" addr add 192.168.1.203/24 dev eth0 || { t_fail "second LAN address"; return 1; }
	add c2 c-2 "$CONF" || return
	assert_eq 192.168.1.204 "$IP" "games/c-2 while .203 is held on the LAN too" || return
	assert_eq Conflict "$(ip_state 192.168.1.203)" "state of 192.168.1.203"
}
t_run "a second conflicting address (.203) is skipped too: the next identity gets .204" case_two_conflicts

case_pin_conflict() {
	local conf before path cid
	conf=$(jq -c '.ipam.pins = {"games/c-pin": "192.168.1.200"}' <<<"$CONF")
	before=$(db_snap)
	path=$(pod_netns cpin) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games c-pin "$cid")" \
		<<<"$conf" || return
	assert_cni_error "$T_OUT" 102 || return
	assert_contains 192.168.1.200 "$(jq -r .msg <<<"$T_OUT")" "msg names the address" || return
	assert_eq "lo " "$(pod_links cpin)" "links in the pod" || return
	assert_eq "" "$(grep -rl 'games/c-pin' "$T_TMP/state" 2>/dev/null)" "stateDir records of games/c-pin" || return
	assert_eq "[]" "$(db_rows | jq -c --arg c "$cid" '[.[] | select(.containerID == $c) | {ip, identity, state}]')" \
		"rows naming the failed container" || return
	assert_eq "$before" "$(db_snap)" "the store after the failed ADD"
}
t_run "a config pin of 192.168.1.200 (in use on the LAN): ADD fails with 102 and leaves nothing behind" \
	case_pin_conflict

case_probe_off() {
	local conf
	# A fresh store: nothing remembered, and no probe: the duplicate goes unnoticed.
	conf=$(jq -c --arg db "$T_TMP/noprobe.db" '.probe = false | .ipam.store.path = $db' <<<"$CONF")
	add off0 off-0 "$conf" || return
	assert_eq 192.168.1.200 "$IP" "address with the probe off" || return
	del "$NSPATH" "$CID" off-0 "$conf"
}
t_run "probe off (fresh store): the same ADD gets .200, so the probe is what detects it" case_probe_off

case_restart_no_probe() {
	local conf conf2 first restart other
	# A range away from the LAN player's addresses, a long probe to make the cost visible.
	conf=$(jq -c --arg db "$T_TMP/restart.db" \
		'.probe = "1s" | .ipam.range = "192.168.1.210-192.168.1.216/24" | .ipam.store.path = $db' <<<"$CONF")
	add r0 r-0 "$conf" || return
	first=$MS
	del "$NSPATH" "$CID" r-0 "$conf" || return
	pod_netns_del r0
	add r1 r-0 "$conf" || return
	restart=$MS
	t_note "first ADD ${first} ms, restart ADD ${restart} ms (probe wait 1000 ms)"
	if ((first < 1000)); then
		t_fail "the first ADD took ${first} ms: it cannot have waited for a 1 s probe"
		return 1
	fi
	if ((restart >= 700)); then
		t_fail "the restart ADD took ${restart} ms: it probed again (first ADD ${first} ms)"
		return 1
	fi
	del "$NSPATH" "$CID" r-0 "$conf" || return
	# Another node has its own memory (stateDir): there the same restart probes.
	conf2=$(jq -c --arg sd "$T_TMP/state-node2" '.stateDir = $sd' <<<"$conf")
	add r2 r-0 "$conf2" node2 || return
	other=$MS
	t_note "restart on node2 (its own stateDir) ${other} ms"
	if ((other < 1000)); then
		t_fail "the ADD on node2 took ${other} ms: it skipped the probe without having seen the address"
		return 1
	fi
}
t_run "a restart of the same identity within the recent window does not probe (probe 1s)" \
	case_restart_no_probe

case_dad() {
	local conf path cid before
	# IPv6: the LAN player holds fd00:1::77; a range of just that address. Kernel DAD in the
	# pod finds the duplicate.
	conf=$(jq -c --arg db "$T_TMP/dad.db" '.ipam = (.ipam | del(.range, .gateway) | .store.path = $db | .ranges = [
		[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.212", rangeEnd: "192.168.1.216"}],
		[{subnet: "fd00:1::/64", rangeStart: "fd00:1::77", rangeEnd: "fd00:1::77"}]] | .routes = [])' <<<"$CONF")
	path=$(pod_netns dad0) || { t_fail "pod_netns"; return 1; }
	ip netns exec "$(world_ns pod-dad0)" sysctl -qw net.ipv6.conf.default.accept_dad=1 \
		net.ipv6.conf.all.accept_dad=1 || { t_fail "sysctl accept_dad"; return 1; }
	before=$(DB=$T_TMP/dad.db db_snap)
	cid=$(t_container_id)
	assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games dad-0 "$cid")" \
		<<<"$conf" || return
	assert_cni_error "$T_OUT" 102 || return
	assert_contains fd00:1::77 "$(jq -r .msg <<<"$T_OUT")" "msg names the address" || return
	assert_eq "lo " "$(pod_links dad0)" "links in the pod" || return
	assert_eq "$before" "$(DB=$T_TMP/dad.db db_snap)" "the store after the failed ADD"
}
t_run "IPv6: DAD finds fd00:1::77 in use: code 102, no link, nothing reserved" case_dad

case_dad_retry() {
	local conf path cid i v6=
	# Three IPv6 addresses, the first held by the LAN player. The runtime retries a failed
	# ADD; the identity must not be stuck with the duplicate while others are free.
	conf=$(jq -c --arg db "$T_TMP/dad2.db" '.ipam = (.ipam | del(.range, .gateway) | .store.path = $db | .ranges = [
		[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.212", rangeEnd: "192.168.1.216"}],
		[{subnet: "fd00:1::/64", rangeStart: "fd00:1::77", rangeEnd: "fd00:1::79"}]] | .routes = [])' <<<"$CONF")
	for i in 1 2; do
		path=$(pod_netns "dadr$i") || { t_fail "pod_netns"; return 1; }
		ip netns exec "$(world_ns "pod-dadr$i")" sysctl -qw net.ipv6.conf.default.accept_dad=1 \
			net.ipv6.conf.all.accept_dad=1 || { t_fail "sysctl accept_dad"; return 1; }
		cid=$(t_container_id)
		if cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games dad-r "$cid")" \
			<<<"$conf" >"$T_TMP/dadr.out" 2>"$T_TMP/dadr.err"; then
			v6=$(jq -r '.ips[] | select(.address | contains(":")) | .address' "$T_TMP/dadr.out")
			break
		fi
		t_note "attempt $i: $(cat "$T_TMP/dadr.out")"
	done
	assert_ne "" "$v6" "an IPv6 address for games/dad-r after 2 attempts" || return
	assert_ne fd00:1::77/64 "$v6" "IPv6 address of games/dad-r"
}
t_run "IPv6: after a DAD failure, a retry of the same identity is not stuck on the duplicate" case_dad_retry

case_conflicts_not_an_input() {
	local db=$T_TMP/smuggle.db conf where i=0 cid want
	# Conflicts reach gamelan-ipam only from gamelan-macvlan's own probe, as addresses. A
	# config that names "conflicts" (args.cni.gamelanConflicts, the old in-process channel,
	# or the same key anywhere else in stdin) must not create Conflict rows: unknown
	# args.cni keys are ignored, as the CNI conventions ask. Without the LAN player's
	# addresses in range, each identity gets the lowest free address as if the key were absent.
	conf=$(jq -c --arg db "$db" '.probe = false | .ipam.range = "192.168.1.205-192.168.1.220/24" |
		.ipam.store.path = $db' <<<"$CONF")
	for where in '.args = {cni: {gamelanConflicts: ["192.168.1.205", "192.168.1.206"]}}' \
		'.args = {cni: {gamelanConflicts: ["nope", 5]}}' \
		'.args = {gamelanConflicts: ["192.168.1.205"]}' \
		'.gamelanConflicts = ["192.168.1.205"]' \
		'.runtimeConfig = {gamelanConflicts: ["192.168.1.205"]}' \
		'.ipam.gamelanConflicts = ["192.168.1.205"]' \
		'.ipam.args = {cni: {gamelanConflicts: ["192.168.1.205"]}}' \
		'.args = {cni: {"gamelan.dev/conflicts": ["192.168.1.205"]}}' \
		'.args = {cni: {GAMELAN_IPAM_CONFLICTS: "192.168.1.205"}}'; do
		want=192.168.1.$((205 + i))
		add "smug$i" "smug-$i" "$(jq -c "$where" <<<"$conf")" || return
		assert_eq "$want" "$IP" "address of games/smug-$i with $where" || return
		assert_eq 0 "$(DB=$db db_rows | jq '[.[] | select(.state == "Conflict")] | length')" \
			"Conflict rows after an ADD with $where" || return
		i=$((i + 1))
	done
	# gamelan-ipam called directly, as a runtime would with any main plugin.
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-ipam ADD "$NSPATH" net1 "$cid" "$(k8s_args games smug-ipam "$cid")" \
		<<<"$(jq -c '.args = {cni: {gamelanConflicts: ["192.168.1.214"]}}' <<<"$conf")" || return
	assert_json_field "$T_OUT" '.ips[0].address' 192.168.1.214/24 "gamelan-ipam's address" || return
	assert_eq '[]' "$(DB=$db db_rows | jq -c '[.[] | select(.state == "Conflict") | .ip]')" \
		"Conflict rows after gamelan-ipam's ADD"
}
t_run "args.cni.gamelanConflicts (or that key anywhere in stdin) is ignored: no Conflict row, lowest address" \
	case_conflicts_not_an_input

case_conflicts_env() {
	local db=$T_TMP/env.db conf cid
	# The one way in for conflicts outside the process: the environment gamelan-macvlan gives
	# the gamelan-ipam it execs (Kubernetes store). A malformed value changes nothing.
	conf=$(jq -c --arg db "$db" '.probe = false | .ipam.range = "192.168.1.205-192.168.1.212/24" |
		.ipam.store.path = $db' <<<"$CONF")
	cid=$(t_container_id)
	CNI_CALL_ENV="GAMELAN_IPAM_CONFLICTS=192.168.1.205,nope" assert_rc 1 cni_call node1 gamelan-ipam ADD \
		"$NSPATH" net1 "$cid" "$(k8s_args games env-0 "$cid")" <<<"$conf" || return
	assert_cni_error "$T_OUT" 4 || return
	assert_eq 0 "$(DB=$db db_rows | jq 'length')" "rows after the refused ADD" || return
	CNI_CALL_ENV="GAMELAN_IPAM_CONFLICTS=192.168.1.205,192.168.1.206" assert_ok cni_call node1 gamelan-ipam \
		ADD "$NSPATH" net1 "$cid" "$(k8s_args games env-0 "$cid")" <<<"$conf" || return
	assert_json_field "$T_OUT" '.ips[0].address' 192.168.1.207/24 "address past the two conflicts" || return
	assert_eq '["192.168.1.205","192.168.1.206"]' \
		"$(DB=$db db_rows | jq -c '[.[] | select(.state == "Conflict") | .ip] | sort')" \
		"Conflict rows from the environment"
}
t_run "GAMELAN_IPAM_CONFLICTS, from gamelan-macvlan to the gamelan-ipam it execs: set aside; malformed -> 4" \
	case_conflicts_env

t_done
