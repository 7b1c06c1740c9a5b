#!/usr/bin/env bash
# gamelan-snat in-pod mode, chained after gamelan-macvlan as a runtime runs a conflist (ADD in
# order with prevResult, CHECK with the final result, DEL in reverse order), against the real
# kernel. The router namespace plays the user's consumer router: a plain port-forward (DNAT
# only, made with gamelan-snat's router mode) from WAN 198.51.100.1:PORT to the pod's pinned
# LAN address. The LAN-only game server refuses the WAN player until gamelan-snat rewrites the
# player's source to the LAN gateway inside the pod.
. "$(dirname "$0")/lib.sh"

# A crash or a sanitizer report must not pass for an error exit.
export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

world_up || t_bail "world_up failed"
command -v nft >/dev/null || t_bail "nft is missing (tests/install-deps.sh): tests use it to look"

DB=$T_TMP/ipam.db
PORT=10999
WAN=$WORLD_WAN_ADDR

MV=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{cniVersion: "1.0.0", name: "lan",
	type: "gamelan-macvlan", master: "eth0", stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24", gateway: "192.168.1.1",
		routes: [{dst: "0.0.0.0/0"}], store: {type: "sqlite", path: $db}}}')
# gamelan-snat's entry of the conflist, every field left to its default (from prevResult).
SNAT=$(jq -nc '{cniVersion: "1.0.0", name: "lan", type: "gamelan-snat"}')

with_prev() {
	jq -c --argjson prev "$2" '. + {prevResult: $prev}' <<<"$1"
}

# pod_tables POD: the nftables tables in the pod's netns, one "family name" per line.
pod_tables() {
	ns_nft_tables "pod-$1"
}

# gamelan_tables POD: only the gamelan ones, space-separated.
gamelan_tables() {
	pod_tables "$1" | awk '$2 ~ /^gamelan/ {printf "%s %s;", $1, $2}'
}

# A pod of the conflist's first plugin only: POD_PATH, POD_CID, POD_ARGS, POD_RES, POD_IP.
# mv_add POD [CONF]
mv_add() {
	local pod=$1 conf=${2:-$MV}
	POD_PATH=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	POD_CID=$(t_container_id)
	POD_ARGS=$(k8s_args games "$pod" "$POD_CID")
	assert_ok cni_call node1 gamelan-macvlan ADD "$POD_PATH" eth0 "$POD_CID" "$POD_ARGS" <<<"$conf" || return
	POD_RES=$T_OUT
	POD_IP=$(jq -r '.ips[0].address' <<<"$POD_RES" | cut -d/ -f1)
	assert_match '^192\.168\.1\.2[0-9]+$' "$POD_IP" "the pod's address" || return
}

# snat VERB PATH CID ARGS CONF PREV: gamelan-snat with PREV as prevResult ("" for none).
snat() {
	local conf=$5
	[[ -n "$6" ]] && conf=$(with_prev "$5" "$6")
	cni_call node1 gamelan-snat "$1" "$2" eth0 "$3" "$4" <<<"$conf"
}

# snat_ok VERB PATH CID ARGS CONF PREV: must exit 0 without a sanitizer report.
snat_ok() {
	assert_ok snat "$@" || return
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr of gamelan-snat $1"
}

# snat_add PATH CID ARGS CONF PREV: ADD, whose result must be prevResult unchanged.
snat_add() {
	snat_ok ADD "$@" || return
	assert_eq "$(jq -cS . <<<"$5")" "$(jq -cS . <<<"$T_OUT" 2>&1)" "gamelan-snat's result (prevResult passed through)"
}

# point_forward NAME PORT IP: the router's plain port-forward WAN PORT -> IP:PORT, re-pointed
# from an earlier case's pod. The router's conntrack is flushed: its entries of earlier joins
# (the crowd alone leaves 60, alive 30 s) keep their DNAT to the old pod, and a new join whose
# random source port equals one of theirs would reach the old pod, not IP. The neighbour entry
# of IP is dropped too, so that it is resolved afresh.
point_forward() {
	router_forward_del "$1" >/dev/null 2>&1
	assert_ok router_port_forward "$1" "$2" "$3" || return
	assert_ok ns_conntrack_flush router || return
	if [[ -r /proc/net/nf_conntrack ]]; then
		assert_no_match "dport=$2 " "$(ip netns exec "$(world_ns router)" cat /proc/net/nf_conntrack 2>&1)" \
			"the router's conntrack after the flush" || return
	fi
	ip -n "$(world_ns router)" neigh flush to "$3" 2>/dev/null
	return 0
}

# join NS IP PORT NAME RC [REPLY-ERE]: a player joins, with the status and reply expected.
join() {
	assert_rc "$5" game_join "$1" "$2" "$3" "$4" || return
	[[ -z "${6:-}" ]] || assert_match "$6" "$T_OUT" "reply to $4"
}

# Expected replies.
FROM_GW="^accepted [^ ]+ from \[LAN\] 192\.168\.1\.1\$"
FROM_WAN_REFUSED='^refused: ID_DST_SERVER_IS_LAN_ONLY 198\.51\.100\.56$'

# ---- one pod, its server, the consumer router's port-forward ----

P0_PATH='' P0_CID='' P0_ARGS='' P0_RES='' P0_IP='' P0_LOG=$T_TMP/dst-0.log
case_setup() {
	mv_add dst-0 || return
	P0_PATH=$POD_PATH P0_CID=$POD_CID P0_ARGS=$POD_ARGS P0_RES=$POD_RES P0_IP=$POD_IP
	game_server_start pod-dst-0 "$PORT" "$P0_LOG" || { t_fail "lanserver in dst-0"; return 1; }
	assert_ok router_port_forward game "$PORT" "$P0_IP" || return
	# DNAT only: nothing rewrites the source on the router.
	assert_no_match 'snat (ip |ip6 )?to' "$(ip netns exec "$(world_ns router)" nft list table inet gamelan-router 2>&1)" \
		"the router's table after a --no-snat forward"
}
t_run "setup: games/dst-0 by gamelan-macvlan + gamelan-ipam, LAN-only server, router port-forward WAN :$PORT -> pod (DNAT only)" \
	case_setup
[[ -n "$P0_IP" ]] || t_bail "no pod to test with"

case_without() {
	join wanp "$WAN" "$PORT" friend 1 "$FROM_WAN_REFUSED" || return
	assert_contains "refusing connection from 198.51.100.56 (friend)" "$(cat "$P0_LOG")" "the server's log" || return
	join lanp "$P0_IP" "$PORT" wilson 0 '^accepted wilson from \[LAN\] 192\.168\.1\.77$' || return
	assert_eq "" "$(gamelan_tables dst-0)" "gamelan tables in the pod"
}
t_run "without gamelan-snat: the WAN player is refused through the port-forward, the LAN player accepted" case_without

case_add() {
	snat_add "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_eq "inet gamelan-snat-eth0;" "$(gamelan_tables dst-0)" "gamelan tables in the pod" || return
	local dump
	dump=$(ip netns exec "$(world_ns pod-dst-0)" nft list table inet gamelan-snat-eth0 2>&1)
	assert_match 'hook input' "$dump" "the chain's hook" || return
	assert_match 'type nat' "$dump" "the chain's type" || return
	assert_contains "comment \"gamelan:$P0_CID:eth0\"" "$dump" "the rules' owner comment" || return
	assert_contains "192.168.1.1" "$dump" "the gateway in the rules" || return
	assert_contains "192.168.1.0/24" "$dump" "the LAN prefix in the rules"
}
t_run "gamelan-snat ADD chained after gamelan-macvlan (defaults from prevResult): result = prevResult, table inet gamelan-snat-eth0 on the input hook, rules tagged with their owner" \
	case_add

case_with() {
	: >"$P0_LOG.mark"
	join wanp "$WAN" "$PORT" friend 0 "$FROM_GW" || return
	# The client's socket is connected to 198.51.100.1:PORT: the reply only got there because
	# conntrack reversed both the pod's SNAT and the router's DNAT.
	assert_contains "Client connected from [LAN] 192.168.1.1 (friend)" "$(cat "$P0_LOG")" "the server's log"
}
t_run "with gamelan-snat: the WAN player is accepted, the server's log shows the gateway 192.168.1.1, the reply reaches the player (conntrack)" \
	case_with

case_lan_kept() {
	join lanp "$P0_IP" "$PORT" wilson 0 '^accepted wilson from \[LAN\] 192\.168\.1\.77$' || return
	assert_contains "Client connected from [LAN] 192.168.1.77 (wilson)" "$(cat "$P0_LOG")" "the server's log"
}
t_run "with gamelan-snat: the LAN player is accepted with its own address (not rewritten)" case_lan_kept

case_crowd() {
	local n=60
	assert_rc 0 ip netns exec "$(world_ns wanp)" "$GL_BIN/lanclient" --timeout-ms 6000 --count "$n" \
		"$WAN" "$PORT" crowd || return
	assert_eq "$n accepted, 0 refused, 0 lost" "$T_OUT" "lanclient --count $n" || return
	assert_eq "$n" "$(grep -c 'Client connected from \[LAN\] 192\.168\.1\.1 (crowd-' "$P0_LOG")" \
		"crowd players the server saw as 192.168.1.1"
}
t_run "60 WAN players at once through the port-forward: all accepted as 192.168.1.1, no reply lost" case_crowd

case_check() {
	snat_ok CHECK "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_eq "" "$T_OUT" "CHECK's stdout"
}
t_run "CHECK after ADD passes" case_check

case_check_broken() {
	assert_ok ip netns exec "$(world_ns pod-dst-0)" nft delete table inet gamelan-snat-eth0 || return
	assert_rc 1 snat CHECK "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_json_field "$T_OUT" '(.code | type == "number") and (.msg | length > 0)' true "CHECK's error" || return
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr" || return
	join wanp "$WAN" "$PORT" friend 1 "$FROM_WAN_REFUSED"
}
t_run "CHECK fails once the table was removed by hand (and the WAN player is refused again)" case_check_broken

case_del() {
	# Another table in the pod's netns, somebody else's: DEL must leave it alone.
	local pns other
	pns=$(world_ns pod-dst-0)
	assert_ok ip netns exec "$pns" nft add table inet someone-else || return
	assert_ok ip netns exec "$pns" nft add chain inet someone-else c '{ type filter hook input priority 0; }' || return
	other=$(ip netns exec "$pns" nft list table inet someone-else)
	snat_add "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	join wanp "$WAN" "$PORT" friend 0 "$FROM_GW" || return
	snat_ok DEL "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_eq "" "$(gamelan_tables dst-0)" "gamelan tables after DEL" || return
	assert_eq "$other" "$(ip netns exec "$pns" nft list table inet someone-else 2>&1)" "the other table" || return
	join wanp "$WAN" "$PORT" friend 1 "$FROM_WAN_REFUSED" || return
	snat_ok DEL "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	# A runtime that lost its cached result calls DEL without prevResult.
	snat_ok DEL "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "" || return
	assert_eq "" "$(gamelan_tables dst-0)" "gamelan tables after the second DEL" || return
	assert_ok ip netns exec "$pns" nft delete table inet someone-else
}
t_run "DEL removes its table and nothing else (no gamelan table left), the WAN player is refused again; DEL twice (and without prevResult) succeeds" \
	case_del

case_del_gone_netns() {
	# kubelet may DEL after the sandbox's netns is gone: that is a success too.
	local path cid args res
	path=$(pod_netns gone-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	args=$(k8s_args games gone-0 "$cid")
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$args" <<<"$MV" || return
	res=$T_OUT
	snat_add "$path" "$cid" "$args" "$SNAT" "$res" || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "$args" <<<"$(with_prev "$MV" "$res")" || return
	pod_netns_del gone-0 || return
	snat_ok DEL "$path" "$cid" "$args" "$SNAT" "$res"
}
t_run "DEL when the pod's netns is already gone succeeds" case_del_gone_netns

case_passthrough_verbatim() {
	# A chained plugin hands on what it was given, including what it has no
	# model for: fields of other plugins, more interfaces than it keeps.
	local path cid args res prev v
	path=$(pod_netns pass-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	args=$(k8s_args games pass-0 "$cid")
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$args" <<<"$MV" || return
	res=$T_OUT
	prev=$(jq -c '.interfaces += [range(5) | {name: "veth\(.)", mac: "02:00:00:00:00:0\(.)",
		socketPath: "/run/x.sock"}] | .["x-vendor"] = {keep: [1, 2, 3]}' <<<"$res")
	for v in 1.0.0 1.1.0; do
		snat_add "$path" "$cid" "$args" "$(jq -c --arg v "$v" '.cniVersion = $v' <<<"$SNAT")" \
			"$(jq -c --arg v "$v" '.cniVersion = $v' <<<"$prev")" || return
	done
	assert_match 'gamelan-snat-eth0' "$(gamelan_tables pass-0)" "the table" || return
	# More interfaces than a result is modelled with (8): ADD refuses it
	# clearly, DEL still cleans up.
	prev=$(jq -c '.interfaces += [range(12) | {name: "veth\(.)"}]' <<<"$prev")
	assert_rc 1 snat ADD "$path" "$cid" "$args" "$SNAT" "$prev" || return
	assert_cni_error "$T_OUT" 6 || return
	snat_ok DEL "$path" "$cid" "$args" "$SNAT" "$prev" || return
	assert_eq "" "$(gamelan_tables pass-0)" "gamelan tables after DEL" || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "$args" <<<"$(with_prev "$MV" "$res")" || return
	pod_netns_del pass-0
}
t_run "the result is prevResult verbatim: unknown fields and 6 interfaces pass through ADD (1.0.0, 1.1.0); 18 interfaces: ADD refused (6), DEL cleans up" \
	case_passthrough_verbatim

case_add_twice() {
	local pns before
	pns=$(world_ns pod-dst-0)
	snat_add "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	before=$(ip netns exec "$pns" nft list table inet gamelan-snat-eth0 2>&1)
	# A runtime may retry an ADD: the same rules once, not twice.
	snat_add "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_eq "$before" "$(ip netns exec "$pns" nft list table inet gamelan-snat-eth0 2>&1)" "the table after a second ADD" || return
	join wanp "$WAN" "$PORT" friend 0 "$FROM_GW" || return
	snat_ok DEL "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_eq "" "$(gamelan_tables dst-0)" "gamelan tables after DEL"
}
t_run "ADD twice (a runtime's retry) leaves the same table, not doubled rules; one DEL removes it" case_add_twice

case_two_attachments() {
	# A second network (multus: net1) on the same pod, each attachment with its own table.
	local conf2 res2 pns eth0_table
	pns=$(world_ns pod-dst-0)
	# lan2 is another pool (its own store): a range disjoint from lan's, or it hands out
	# dst-0's own address again.
	conf2=$(jq -c '.name = "lan2" | .ipam.store.path += "-2" | .ipam.range = "192.168.1.230-192.168.1.240/24"' <<<"$MV")
	assert_ok cni_call node1 gamelan-macvlan ADD "$P0_PATH" net1 "$P0_CID" "$P0_ARGS" <<<"$conf2" || return
	res2=$T_OUT
	assert_ne "$P0_IP" "$(jq -r '.ips[0].address' <<<"$res2" | cut -d/ -f1)" "net1's address (lan2's pool)" || return
	snat_add "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_ok cni_call node1 gamelan-snat ADD "$P0_PATH" net1 "$P0_CID" "$P0_ARGS" \
		<<<"$(with_prev "$(jq -c '.name = "lan2"' <<<"$SNAT")" "$res2")" || return
	assert_eq "inet gamelan-snat-eth0;inet gamelan-snat-net1;" "$(gamelan_tables dst-0)" "gamelan tables with two attachments" || return
	eth0_table=$(ip netns exec "$pns" nft list table inet gamelan-snat-eth0 2>&1)
	assert_contains "gamelan:$P0_CID:net1" "$(ip netns exec "$pns" nft list table inet gamelan-snat-net1 2>&1)" \
		"net1's owner comment" || return
	assert_ok cni_call node1 gamelan-snat DEL "$P0_PATH" net1 "$P0_CID" "$P0_ARGS" \
		<<<"$(with_prev "$(jq -c '.name = "lan2"' <<<"$SNAT")" "$res2")" || return
	assert_eq "inet gamelan-snat-eth0;" "$(gamelan_tables dst-0)" "gamelan tables after net1's DEL" || return
	# (No traffic check here: two interfaces on one LAN answer ARP for each other's address,
	# so where the router's packets arrive is up to the kernel, not to gamelan-snat.)
	assert_eq "$eth0_table" "$(ip netns exec "$pns" nft list table inet gamelan-snat-eth0 2>&1)" \
		"eth0's table after net1's DEL" || return
	snat_ok DEL "$P0_PATH" "$P0_CID" "$P0_ARGS" "$SNAT" "$P0_RES" || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$P0_PATH" net1 "$P0_CID" "$P0_ARGS" <<<"$(with_prev "$conf2" "$res2")" || return
	assert_eq "" "$(gamelan_tables dst-0)" "gamelan tables after both DELs" || return
	assert_eq "eth0 lo " "$(pod_links dst-0)" "links in the pod after net1's DEL" || return
	ip -n "$(world_ns router)" neigh flush to "$P0_IP" 2>/dev/null
	join wanp "$WAN" "$PORT" friend 1 "$FROM_WAN_REFUSED"
}
t_run "two attachments (eth0, net1) in one pod: one table each; DEL of net1's leaves eth0's table as it was" case_two_attachments

# ---- the port filter ----

case_ports() {
	local conf log9=$T_TMP/pf-9.log log8=$T_TMP/pf-8.log
	conf=$(jq -c '. + {gateway: "192.168.1.1", lan: ["192.168.1.0/24"],
		ports: [{protocol: "udp", port: 10999}]}' <<<"$SNAT")
	mv_add pf-0 || return
	game_server_start pod-pf-0 10999 "$log9" || { t_fail "lanserver :10999 in pf-0"; return 1; }
	game_server_start pod-pf-0 10998 "$log8" || { t_fail "lanserver :10998 in pf-0"; return 1; }
	point_forward game 10999 "$POD_IP" || return
	point_forward other 10998 "$POD_IP" || return
	snat_add "$POD_PATH" "$POD_CID" "$POD_ARGS" "$conf" "$POD_RES" || return
	assert_contains "10999" "$(ip netns exec "$(world_ns pod-pf-0)" nft list table inet gamelan-snat-eth0 2>&1)" \
		"the port in the rules" || return
	join wanp "$WAN" 10999 friend 0 "$FROM_GW" || return
	join wanp "$WAN" 10998 friend 1 "$FROM_WAN_REFUSED" || return
	assert_contains "refusing connection from 198.51.100.56 (friend)" "$(cat "$log8")" "the log of the server on 10998" || return
	join lanp "$POD_IP" 10998 wilson 0 '^accepted wilson from \[LAN\] 192\.168\.1\.77$' || return
	snat_ok CHECK "$POD_PATH" "$POD_CID" "$POD_ARGS" "$conf" "$POD_RES" || return
	snat_ok DEL "$POD_PATH" "$POD_CID" "$POD_ARGS" "$conf" "$POD_RES" || return
	assert_eq "" "$(gamelan_tables pf-0)" "gamelan tables after DEL" || return
	router_forward_del other >/dev/null || { t_fail "router remove other"; return 1; }
	pod_netns_del pf-0
}
t_run "port filter ports [{udp,10999}] (explicit gateway and lan): 10999 is rewritten and accepted, 10998 (forwarded too) still refuses the WAN player" \
	case_ports

# ---- disabled (maintenance) ----

# disabled_case POD CONF: WAN dropped (no answer), LAN accepted, DEL leaves nothing.
disabled_case() {
	local pod=$1 conf=$2 log=$T_TMP/$1.log
	mv_add "$pod" || return
	game_server_start "pod-$pod" "$PORT" "$log" || { t_fail "lanserver in $pod"; return 1; }
	point_forward game "$PORT" "$POD_IP" || return
	join wanp "$WAN" "$PORT" friend 1 "$FROM_WAN_REFUSED" || return
	snat_add "$POD_PATH" "$POD_CID" "$POD_ARGS" "$conf" "$POD_RES" || return
	GAME_JOIN_TIMEOUT_MS=1200 join wanp "$WAN" "$PORT" friend 2 || return
	join lanp "$POD_IP" "$PORT" wilson 0 '^accepted wilson from \[LAN\] 192\.168\.1\.77$' || return
	assert_no_match 'friend' "$(sed 1d "$log" | grep -v 'refusing connection from 198.51.100.56 (friend)')" \
		"the server's log (the dropped player must not reach it)" || return
	snat_ok CHECK "$POD_PATH" "$POD_CID" "$POD_ARGS" "$conf" "$POD_RES" || return
	snat_ok DEL "$POD_PATH" "$POD_CID" "$POD_ARGS" "$conf" "$POD_RES" || return
	assert_eq "" "$(gamelan_tables "$pod")" "gamelan tables after DEL" || return
	join wanp "$WAN" "$PORT" friend 1 "$FROM_WAN_REFUSED" || return
	pod_netns_del "$pod"
}

case_disabled_rc() {
	disabled_case dis-0 "$(jq -c '. + {capabilities: {disabled: true}, runtimeConfig: {disabled: true}}' <<<"$SNAT")"
}
t_run "disabled via runtimeConfig (capability \"disabled\"): the WAN player gets no answer, the LAN player is accepted" \
	case_disabled_rc

case_disabled_args() {
	disabled_case dis-1 "$(jq -c '. + {args: {cni: {disabled: true}}}' <<<"$SNAT")"
}
t_run "disabled via args.cni.disabled: the WAN player gets no answer, the LAN player is accepted" case_disabled_args

# ---- IPv6 ----

case_dual_stack() {
	local conf log=$T_TMP/ds.log ip6 dump
	conf=$(jq -c '.ipam = (.ipam | del(.range, .gateway) | .ranges = [
		[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.200", rangeEnd: "192.168.1.216", gateway: "192.168.1.1"}],
		[{subnet: "fd00:1::/64", rangeStart: "fd00:1::200", rangeEnd: "fd00:1::216", gateway: "fd00:1::1"}]]
		| .routes = [{dst: "0.0.0.0/0"}, {dst: "::/0"}])' <<<"$MV")
	mv_add ds-0 "$conf" || return
	ip6=$(jq -r '.ips[] | select(.address | contains(":")) | .address' <<<"$POD_RES" | cut -d/ -f1)
	assert_match '^fd00:1::2[0-9a-f]+$' "$ip6" "the pod's IPv6 address" || return
	game_server_start pod-ds-0 "$PORT" "$log" || { t_fail "lanserver in ds-0"; return 1; }
	point_forward game "$PORT" "$POD_IP" || return
	# IPv6 needs no port-forward: the WAN player reaches the pod's address through the router.
	join wanp "$ip6" "$PORT" friend6 1 '^refused: ID_DST_SERVER_IS_LAN_ONLY 2001:db8:51::56$' || return
	snat_add "$POD_PATH" "$POD_CID" "$POD_ARGS" "$SNAT" "$POD_RES" || return
	dump=$(ip netns exec "$(world_ns pod-ds-0)" nft list table inet gamelan-snat-eth0 2>&1)
	assert_contains "fd00:1::/64" "$dump" "the IPv6 LAN prefix in the rules" || return
	assert_contains "fd00:1::1" "$dump" "the IPv6 gateway in the rules" || return
	join wanp "$ip6" "$PORT" friend6 0 '^accepted friend6 from \[LAN\] fd00:1::1$' || return
	assert_contains "Client connected from [LAN] fd00:1::1 (friend6)" "$(cat "$log")" "the server's log" || return
	join wanp "$WAN" "$PORT" friend 0 "$FROM_GW" || return
	join lanp "$ip6" "$PORT" wilson6 0 '^accepted wilson6 from \[LAN\] fd00:1::77$' || return
	snat_ok CHECK "$POD_PATH" "$POD_CID" "$POD_ARGS" "$SNAT" "$POD_RES" || return
	snat_ok DEL "$POD_PATH" "$POD_CID" "$POD_ARGS" "$SNAT" "$POD_RES" || return
	assert_eq "" "$(gamelan_tables ds-0)" "gamelan tables after DEL" || return
	join wanp "$ip6" "$PORT" friend6 1 '^refused: ID_DST_SERVER_IS_LAN_ONLY 2001:db8:51::56$' || return
	pod_netns_del ds-0
}
t_run "dual stack: with gamelan-snat the WAN player is accepted over IPv6 as fd00:1::1 and over IPv4 as 192.168.1.1; DEL undoes both" \
	case_dual_stack

case_cleanup() {
	assert_ok cni_call node1 gamelan-macvlan DEL "$P0_PATH" eth0 "$P0_CID" "$P0_ARGS" <<<"$(with_prev "$MV" "$P0_RES")" || return
	assert_ok router_forward_del game
}
t_run "cleanup: gamelan-macvlan DEL of dst-0, the router's forward removed" case_cleanup

t_done
