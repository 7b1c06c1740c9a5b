#!/usr/bin/env bash
# gamelan-snat router mode, run in the world's router namespace (the Linux gateway): WAN
# port-forwards to the pod's pinned LAN address, with SNAT of the forwarded WAN sources to the
# router's LAN address. No gamelan-snat in the pod. add / remove / list / apply / flush against
# the real kernel; `nft` is used only to look and to break things on purpose.
. "$(dirname "$0")/lib.sh"

export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

world_up || t_bail "world_up failed"
command -v nft >/dev/null || t_bail "nft is missing (tests/install-deps.sh): tests use it to look"

DB=$T_TMP/ipam.db
WAN=$WORLD_WAN_ADDR
RNS=$(world_ns router)
LOG9=$T_TMP/srv-10999.log
LOG8=$T_TMP/srv-10998.log
NO_ANSWER_MS=1200

MV=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{cniVersion: "1.0.0", name: "lan",
	type: "gamelan-macvlan", master: "eth0", stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24", gateway: "192.168.1.1",
		routes: [{dst: "0.0.0.0/0"}], store: {type: "sqlite", path: $db}}}')

rnft() {
	ip netns exec "$RNS" nft "$@"
}

# The router's whole ruleset with handles: what a refused change must leave as it was.
ruleset() {
	rnft -a list ruleset 2>&1
}

# gamelan's table with handles ("" when there is none).
gtable() {
	rnft -a list table inet gamelan-router 2>/dev/null
}

# The tables that are not gamelan's, as they are now.
others() {
	rnft list table inet someone-else 2>&1
	rnft list table ip nat 2>&1
}

# list_norm: `router list --json` as a sorted array with the defaults made explicit.
list_norm() {
	local out
	out=$(router_snat list --json) || return 1
	jq -c '(if type == "object" then .forwards else . end) // [] | map({name, wanInterface,
		wanAddress: (.wanAddress // null), protocol, port, to, toPort: (.toPort // .port),
		snat: (if .snat == null then true else .snat end),
		lanAddress: (if .snat == false then null else .lanAddress end)}) | sort_by(.name)' <<<"$out"
}

# norm FILE: an apply file, normalized the same way.
norm() {
	jq -c '.forwards | map({name, wanInterface, wanAddress: (.wanAddress // null), protocol, port,
		to, toPort: (.toPort // .port), snat: (if .snat == null then true else .snat end),
		lanAddress: (if .snat == false then null else .lanAddress end)}) | sort_by(.name)' "$1"
}

list_names() {
	list_norm | jq -r 'map(.name) | join(" ")'
}

# Lines of gamelan's table (with handles) that belong to forward NAME.
rules_of() {
	gtable | grep -F "\"gamelan:fwd:$1 "
}

join() {
	assert_rc "$5" game_join "$1" "$2" "$3" "$4" || return
	[[ -z "${6:-}" ]] || assert_match "$6" "$T_OUT" "reply to $4"
}
no_answer() {
	GAME_JOIN_TIMEOUT_MS=$NO_ANSWER_MS join wanp "$WAN" "$1" "$2" 2
}

FROM_GW="^accepted [^ ]+ from \[LAN\] 192\.168\.1\.1\$"
FROM_WAN_REFUSED='^refused: ID_DST_SERVER_IS_LAN_ONLY 198\.51\.100\.56$'

# ---- setup ----

IP='' OTHERS=''
case_setup() {
	local path cid
	path=$(pod_netns dst-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games dst-0 "$cid")" <<<"$MV" || return
	IP=$(jq -r '.ips[0].address' <<<"$T_OUT" | cut -d/ -f1)
	assert_match '^192\.168\.1\.2[0-9]+$' "$IP" "the pod's address" || return
	game_server_start pod-dst-0 10999 "$LOG9" || { t_fail "lanserver :10999"; return 1; }
	game_server_start pod-dst-0 10998 "$LOG8" || { t_fail "lanserver :10998"; return 1; }
	# Somebody else's tables on the router: gamelan must never touch them.
	assert_ok rnft -f - <<'EOF' || return
table inet someone-else {
	chain input {
		type filter hook input priority 0; policy accept;
		udp dport 4242 counter comment "not gamelan's"
	}
}
table ip nat {
	chain postrouting {
		type nat hook postrouting priority 100; policy accept;
		ip daddr 203.0.113.9 counter
	}
}
EOF
	OTHERS=$(others)
	assert_eq "" "$(ns_nft_tables router | grep gamelan)" "gamelan tables before any forward" || return
	assert_eq "" "$(ns_nft_tables pod-dst-0)" "tables in the pod" || return
	no_answer 10999 friend
}
t_run "setup: pod games/dst-0 (no gamelan-snat in it), servers on 10999 and 10998, other tables on the router; no forward yet: no answer" \
	case_setup
[[ -n "$IP" ]] || t_bail "no pod to test with"

# ---- add / list / remove ----

case_add_snat() {
	assert_ok router_snat_forward dst0 10999 "$IP" || return
	join wanp "$WAN" 10999 friend 0 "$FROM_GW" || return
	assert_contains "Client connected from [LAN] 192.168.1.1 (friend)" "$(cat "$LOG9")" "the server's log" || return
	join lanp "$IP" 10999 wilson 0 '^accepted wilson from \[LAN\] 192\.168\.1\.77$' || return
	local t
	t=$(gtable)
	assert_match 'chain prerouting' "$t" "prerouting chain" || return
	assert_match 'type nat hook prerouting priority (dstnat|-100)' "$t" "prerouting hook" || return
	assert_match 'type nat hook postrouting priority (srcnat|100)' "$t" "postrouting hook" || return
	assert_match 'dnat (ip )?to 192\.168\.1\.2[0-9]+' "$t" "the DNAT rule" || return
	assert_match 'snat (ip )?to 192\.168\.1\.1' "$t" "the SNAT rule" || return
	assert_eq 2 "$(rules_of dst0 | wc -l)" "rules tagged gamelan:fwd:dst0 (DNAT + SNAT)" || return
	assert_eq "$OTHERS" "$(others)" "the other tables"
}
t_run "add with SNAT (--lan-addr 192.168.1.1): the WAN player is accepted, the server's log shows 192.168.1.1; rules tagged gamelan:fwd:dst0" \
	case_add_snat

case_list() {
	assert_ok router_snat list || return
	assert_contains dst0 "$T_OUT" "router list" || return
	assert_contains "$IP" "$T_OUT" "router list" || return
	local l
	l=$(list_norm) || { t_fail "list --json failed or is not JSON: $(router_snat list --json 2>&1 | head -c 300)"; return 1; }
	assert_json_field "$l" 'length' 1 || return
	assert_json_field "$l" '.[0] | [.name, .wanInterface, .protocol, .port, .to, .toPort, .snat, .lanAddress] | join(" ")' \
		"dst0 wan0 udp 10999 $IP 10999 true 192.168.1.1"
}
t_run "list and list --json show the forward as added" case_list

case_plain() {
	assert_ok router_port_forward plain 10998 "$IP" || return
	join wanp "$WAN" 10998 friend 1 "$FROM_WAN_REFUSED" || return
	assert_eq 1 "$(rules_of plain | wc -l)" "rules tagged gamelan:fwd:plain (DNAT only)" || return
	assert_eq "dst0 plain" "$(list_names)" "forwards listed" || return
	assert_json_field "$(list_norm)" '.[] | select(.name == "plain") | .snat' false "plain's snat" || return
	join wanp "$WAN" 10999 friend 0 "$FROM_GW"
}
t_run "add --no-snat next to it: DNAT only, the WAN player is refused through that one (a plain consumer-router forward)" case_plain

case_opt_eq() {
	assert_ok router_snat add alt --wan-if=wan0 --wan-addr=198.51.100.1 --proto=udp --port=12000 \
		"--to=$IP:10999" --lan-addr=192.168.1.1 || return
	join wanp "$WAN" 12000 friend 0 "$FROM_GW" || return
	assert_json_field "$(list_norm)" '.[] | select(.name == "alt") | [.port, .toPort, .wanAddress] | join(" ")' \
		"12000 10999 198.51.100.1" "alt as listed"
}
t_run "--opt=value options, --wan-addr and --to IP:PORT: WAN 12000 -> pod 10999 works" case_opt_eq

case_crowd() {
	assert_rc 0 ip netns exec "$(world_ns wanp)" "$GL_BIN/lanclient" --timeout-ms 6000 --count 50 \
		"$WAN" 12000 crowd || return
	assert_eq "50 accepted, 0 refused, 0 lost" "$T_OUT" "lanclient --count 50"
}
t_run "50 WAN players at once through a router-mode forward: all accepted, none lost" case_crowd

case_remove() {
	assert_ok router_forward_del dst0 || return
	no_answer 10999 friend || return
	assert_eq "" "$(rules_of dst0)" "rules of dst0 after remove" || return
	assert_eq "alt plain" "$(list_names)" "forwards listed" || return
	join wanp "$WAN" 12000 friend 0 "$FROM_GW" || return
	join wanp "$WAN" 10998 friend 1 "$FROM_WAN_REFUSED" || return
	assert_eq "$OTHERS" "$(others)" "the other tables"
}
t_run "remove: the removed forward stops working, the others keep working" case_remove

case_list_kernel() {
	assert_ok rnft flush table inet gamelan-router || return
	assert_eq "[]" "$(list_norm)" "list --json after the table was flushed by hand" || return
	assert_ok router_snat list || return
	assert_no_match 'alt|plain' "$T_OUT" "router list after the flush" || return
	no_answer 12000 friend
}
t_run "list reads the kernel: after 'nft flush table' by hand it shows nothing (and nothing is forwarded)" case_list_kernel

case_ipv6() {
	local conf path cid res ip6 log=$T_TMP/v6.log
	conf=$(jq -c '.ipam = (.ipam | del(.range, .gateway) | .ranges = [
		[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.220", rangeEnd: "192.168.1.230", gateway: "192.168.1.1"}],
		[{subnet: "fd00:1::/64", rangeStart: "fd00:1::220", rangeEnd: "fd00:1::230", gateway: "fd00:1::1"}]]
		| .routes = [{dst: "0.0.0.0/0"}, {dst: "::/0"}] | .store.path += "-v6")' <<<"$MV")
	path=$(pod_netns v6-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$path" eth0 "$cid" "$(k8s_args games v6-0 "$cid")" <<<"$conf" || return
	res=$T_OUT
	ip6=$(jq -r '.ips[] | select(.address | contains(":")) | .address' <<<"$res" | cut -d/ -f1)
	assert_eq fd00:1::220 "$ip6" "the pod's IPv6 address" || return
	game_server_start pod-v6-0 10999 "$log" || { t_fail "lanserver in v6-0"; return 1; }
	assert_ok router_snat add v6 --wan-if wan0 --wan-addr 2001:db8:51::1 --proto udp --port 10997 \
		--to "[$ip6]:10999" --lan-addr fd00:1::1 || return
	join wanp 2001:db8:51::1 10997 friend6 0 '^accepted friend6 from \[LAN\] fd00:1::1$' || return
	assert_contains "Client connected from [LAN] fd00:1::1 (friend6)" "$(cat "$log")" "the server's log" || return
	assert_json_field "$(list_norm)" '.[] | select(.name == "v6") | [.to, .toPort, .lanAddress, .wanAddress] | join(" ")' \
		"fd00:1::220 10999 fd00:1::1 2001:db8:51::1" "v6 as listed" || return
	assert_ok router_forward_del v6 || return
	GAME_JOIN_TIMEOUT_MS=$NO_ANSWER_MS join wanp 2001:db8:51::1 10997 friend6 2 || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$path" eth0 "$cid" "$(k8s_args games v6-0 "$cid")" <<<"$conf" || return
	pod_netns_del v6-0
}
t_run "IPv6: a forward from [2001:db8:51::1]:10997 to the pod's fd00:1::220 with SNAT to fd00:1::1 (server sees fd00:1::1); removed, it stops" \
	case_ipv6

# ---- apply ----

SET1=$T_TMP/set1.json
case_apply() {
	jq -n --arg ip "$IP" '{forwards: [
		{name: "dst0", wanInterface: "wan0", wanAddress: "198.51.100.1", protocol: "udp", port: 10999,
		 to: $ip, toPort: 10999, lanAddress: "192.168.1.1", snat: true},
		{name: "plain", wanInterface: "wan0", protocol: "udp", port: 10998, to: $ip, snat: false},
		{name: "web", wanInterface: "wan0", protocol: "tcp", port: 8080, to: $ip, toPort: 80,
		 lanAddress: "192.168.1.1"}]}' >"$SET1"
	assert_ok router_snat apply "$SET1" || return
	assert_eq "$(norm "$SET1")" "$(list_norm)" "list --json after apply" || return
	join wanp "$WAN" 10999 friend 0 "$FROM_GW" || return
	join wanp "$WAN" 10998 friend 1 "$FROM_WAN_REFUSED" || return
	assert_match 'tcp dport 8080' "$(gtable)" "the tcp forward's rule" || return
	assert_eq "$OTHERS" "$(others)" "the other tables"
}
t_run "apply FILE (3 forwards, udp and tcp, with and without SNAT): list shows exactly that set, traffic follows it" case_apply

case_apply_twice() {
	local before
	before=$(gtable)
	[[ -n "$before" ]] || { t_fail "no gamelan table after apply"; return 1; }
	assert_ok router_snat apply "$SET1" || return
	assert_eq "$before" "$(gtable)" "nft -a list table inet gamelan-router after applying the same set again" || return
	assert_ok router_snat apply - <"$SET1" || return
	assert_eq "$before" "$(gtable)" "... and again from stdin" || return
	# What list prints is a set apply takes back, unchanged.
	router_snat list --json >"$T_TMP/listed.json" || { t_fail "list --json"; return 1; }
	if jq -e 'type == "array"' "$T_TMP/listed.json" >/dev/null 2>&1; then
		jq '{forwards: .}' "$T_TMP/listed.json" >"$T_TMP/listed2.json"
		mv "$T_TMP/listed2.json" "$T_TMP/listed.json"
	fi
	assert_ok router_snat apply "$T_TMP/listed.json" || return
	assert_eq "$before" "$(gtable)" "after applying what list --json printed"
}
t_run "apply of the same set twice (and of list --json's output) changes nothing: same rules, same handles" case_apply_twice

case_apply_one() {
	local d0 pl set2=$T_TMP/set2.json
	d0=$(rules_of dst0) pl=$(rules_of plain)
	jq '(.forwards[] | select(.name == "web")) |= (.port = 8081)' "$SET1" >"$set2"
	assert_ok router_snat apply "$set2" || return
	assert_eq "$(norm "$set2")" "$(list_norm)" "list --json after the change" || return
	assert_match 'tcp dport 8081' "$(rules_of web)" "web's new rule" || return
	assert_no_match 'tcp dport 8080' "$(gtable)" "web's old rule" || return
	assert_eq "$d0" "$(rules_of dst0)" "dst0's rules and handles (unchanged forward)" || return
	assert_eq "$pl" "$(rules_of plain)" "plain's rules and handles (unchanged forward)" || return
	join wanp "$WAN" 10999 friend 0 "$FROM_GW"
}
t_run "apply with one forward changed: only that forward's rules change, the others keep their handles" case_apply_one

# bad_set NAME JQ: the current set plus a change made by JQ must be refused, the ruleset intact.
bad_set() {
	local why=$1 f=$T_TMP/bad.json before
	before=$(ruleset)
	router_snat list --json >"$T_TMP/cur.json" || { t_fail "list --json"; return 1; }
	jq --arg ip "$IP" "(if type == \"array\" then {forwards: .} else . end) | $2" "$T_TMP/cur.json" >"$f" ||
		{ t_fail "jq for $why"; return 1; }
	assert_rc 1 router_snat apply "$f" || return
	assert_ne "" "$T_ERR" "the error message on stderr ($why)" || return
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr ($why)" || return
	assert_eq "$before" "$(ruleset)" "the router's ruleset after the refused set ($why)"
}

# A good new forward first and the bad one last, one good forward changed: a half-applied
# set would show.
GOOD_PLUS='.forwards |= (map(if .name == "web" then .port = 9090 else . end)
	+ [{name: "new", wanInterface: "wan0", protocol: "udp", port: 13000, to: $ip, lanAddress: "192.168.1.1"}])'
case_apply_bad() {
	bad_set "bad IP" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 13001, to: \"192.168.1.300\", lanAddress: \"192.168.1.1\"}]" || return
	bad_set "port 0" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 0, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "port 65536" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 65536, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "toPort 0" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 13001, toPort: 0, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "unknown protocol" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"icmp\", port: 13001, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "duplicate name" "$GOOD_PLUS | .forwards += [{name: \"dst0\", wanInterface: \"wan0\", protocol: \"udp\", port: 13001, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "snat without lanAddress" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 13001, to: \$ip, snat: true}]" || return
	bad_set "port as a string" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: \"13001\", to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "IPv6 target with an IPv4 lanAddress" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 13001, to: \"fd00:1::200\", lanAddress: \"192.168.1.1\"}]" || return
	bad_set "name with a space" "$GOOD_PLUS | .forwards += [{name: \"b c\", wanInterface: \"wan0\", protocol: \"udp\", port: 13001, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "missing wanInterface" "$GOOD_PLUS | .forwards += [{name: \"b\", protocol: \"udp\", port: 13001, to: \$ip, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "two forwards catch the same WAN port" "$GOOD_PLUS | .forwards += [{name: \"b\", wanInterface: \"wan0\", protocol: \"udp\", port: 10999, to: \$ip, toPort: 10998, lanAddress: \"192.168.1.1\"}]" || return
	bad_set "forwards not an array" '.forwards = {}' || return
	local before
	before=$(ruleset)
	printf '{"forwards": [' >"$T_TMP/trunc.json"
	assert_rc 1 router_snat apply "$T_TMP/trunc.json" || return
	assert_ne "" "$T_ERR" "the error message for malformed JSON" || return
	assert_eq "$before" "$(ruleset)" "the ruleset after malformed JSON" || return
	assert_rc 1 router_snat apply "$T_TMP/no-such-file.json" || return
	assert_eq "$before" "$(ruleset)" "the ruleset after a missing file" || return
	join wanp "$WAN" 10999 friend 0 "$FROM_GW" || return
	no_answer 13000 friend
}
t_run "a bad set (one bad entry among good ones: bad IP, port 0/65536, unknown protocol, duplicate name, ...) is refused whole: ruleset unchanged" \
	case_apply_bad

case_apply_empty() {
	assert_ok router_snat apply "$SET1" || return
	printf '{"forwards": []}\n' >"$T_TMP/empty.json"
	assert_ok router_snat apply "$T_TMP/empty.json" || return
	assert_eq "[]" "$(list_norm)" "list after applying the empty set" || return
	assert_eq "" "$(gtable | grep -F 'gamelan:fwd:')" "gamelan rules left" || return
	no_answer 10999 friend || return
	assert_eq "$OTHERS" "$(others)" "the other tables"
}
t_run "apply of an empty set removes every forward" case_apply_empty

case_flush() {
	assert_ok router_snat apply "$SET1" || return
	assert_ok router_snat flush || return
	assert_eq "[]" "$(list_norm)" "list after flush" || return
	assert_eq "" "$(gtable | grep -F 'gamelan:fwd:')" "gamelan rules left" || return
	no_answer 10999 friend || return
	assert_ok router_snat flush || return
	assert_eq "$OTHERS" "$(others)" "the other tables" || return
	# The others still work: the counter of someone-else's rule counts a datagram to 4242.
	ip netns exec "$(world_ns wanp)" "$GL_BIN/lanclient" --timeout-ms 300 "$WAN" 4242 x >/dev/null 2>&1
	assert_no_match 'packets 0 bytes' "$(rnft list table inet someone-else)" "someone-else's counter"
}
t_run "flush removes every forward (twice is fine); other tables are untouched throughout" case_flush

t_done
