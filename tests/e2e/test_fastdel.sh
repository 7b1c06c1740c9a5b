#!/usr/bin/env bash
# A DEL that does not wait for the kernel, and a light gamelan-macvlan. DEL takes the link's
# addresses and routes off and renames it (gl-del-<ifindex>) before it answers; a detached
# child deletes it. What a crash leaves (a gl-del-* link, or ADD's gl-add-* link before its
# rename) is removed by the next DEL, GC or ADD. A DEL whose store fails still removes the
# link. gamelan-macvlan links no Kubernetes client (it execs gamelan-ipam for that store).
. "$(dirname "$0")/lib.sh"

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db
NODE=$(world_ns node1)

# Dual stack, so that IPv6 routes (which outlive their addresses) are exercised too.
CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam",
		ranges: [[{subnet: "192.168.1.0/24", rangeStart: "192.168.1.200", rangeEnd: "192.168.1.230",
			gateway: "192.168.1.1"}],
			[{subnet: "fd00:1::/64", rangeStart: "fd00:1::200", rangeEnd: "fd00:1::2ff",
			gateway: "fd00:1::1"}]],
		routes: [{dst: "0.0.0.0/0"}, {dst: "::/0"}],
		store: {type: "sqlite", path: $db}}}')

row_state() {
	db_rows | jq -r --arg id "$1" \
		'[.[] | select(.identity == $id) | .state] | if length == 0 then "none" else (unique | join(",")) end'
}

# add NSPATH NAME [CID]: ADD of games/NAME on eth0; result in RES, container ID in CID.
add() {
	CID=${3:-$(t_container_id)}
	assert_ok cni_call node1 gamelan-macvlan ADD "$1" eth0 "$CID" "$(k8s_args games "$2" "$CID")" \
		<<<"$CONF" || return
	RES=$T_OUT
}

del() {
	assert_ok cni_call node1 gamelan-macvlan DEL "$1" eth0 "$2" "$(k8s_args games "$3" "$2")" <<<"$CONF"
}

# A macvlan on node1's eth0 made by hand in pod NAME, as a crash would leave it.
leftover() {
	ip -n "$NODE" link add "$2" link eth0 netns "$(world_ns "pod-$1")" type macvlan mode bridge
}

has_link() {
	ip -n "$(world_ns "pod-$1")" link show dev "$2" >/dev/null 2>&1
}

link_gone() {
	! has_link "$@"
}

# ADD's temporary name for (container ID, ifname): "gl-add-" and the low 32 bits of gl_hash64.
adding_name() {
	python3 - "$1" "$2" <<'EOF'
import sys
M = (1 << 64) - 1
h = 0xcbf29ce484222325
for part in sys.argv[1:]:
    for c in part.encode() + b"\0":
        h = ((h ^ c) * 0x100000001b3) & M
h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & M
h ^= h >> 33; h = (h * 0xc4ceb9fe1a85ec53) & M
h ^= h >> 33
print("gl-add-%08x" % (h & 0xffffffff))
EOF
}

case_light() {
	local deps
	deps=$(ldd "$GL_BIN/gamelan-macvlan") || { t_fail "ldd gamelan-macvlan failed"; return 1; }
	assert_no_match 'libcurl|libyaml|libnftnl|libgnutls|libssl' "$deps" "gamelan-macvlan's shared objects" || return
	# The check sees them where they are.
	assert_match 'libcurl' "$(ldd "$GL_BIN/gamelan-ipam")" "gamelan-ipam's shared objects"
}
t_run "gamelan-macvlan links no libcurl, libyaml or libnftnl (gamelan-ipam does)" case_light

case_del_fast() {
	local path ip6 mac
	path=$(pod_netns quick) || { t_fail "pod_netns"; return 1; }
	add "$path" quick || return
	ip6=$(jq -r '.ips[] | select(.address | test(":")) | .address' <<<"$RES")
	mac=$(jq -r '.interfaces[0].mac' <<<"$RES")
	assert_ne "" "$ip6" "IPv6 address in the result" || return
	del "$path" "$CID" quick || return
	# Right after the answer: eth0's name, addresses and routes are free.
	assert_no_link pod-quick eth0 || return
	assert_eq "" "$(ip -n "$(world_ns pod-quick)" -o addr show scope global)" "global addresses in the pod" || return
	assert_eq "" "$(ip -n "$(world_ns pod-quick)" -6 route show default)" "IPv6 default route in the pod" || return
	assert_eq "" "$(ip -n "$(world_ns pod-quick)" -4 route show)" "IPv4 routes in the pod" || return
	assert_eq "lo " "$(pod_links quick)" "links in the pod once the child is done" || return
	assert_eq Held "$(row_state games/quick)" "games/quick after DEL" || return
	assert_ok pod_netns_del quick
	t_note "games/quick had $ip6, MAC $mac"
}
t_run "DEL answers with eth0's name, addresses and routes free; the link is gone soon after" case_del_fast

case_add_after_del() {
	local path i ip mac first_ip first_mac bad=
	path=$(pod_netns again) || { t_fail "pod_netns"; return 1; }
	for ((i = 0; i < 100; i++)); do
		add "$path" again || { t_fail "ADD #$i"; return 1; }
		ip=$(jq -r '[.ips[].address] | join(",")' <<<"$RES")
		mac=$(jq -r '.interfaces[0].mac' <<<"$RES")
		if ((i == 0)); then
			first_ip=$ip first_mac=$mac
		fi
		[[ "$ip" == "$first_ip" && "$mac" == "$first_mac" ]] || bad+="#$i:$ip/$mac "
		# The link is up with the sticky addresses and both default routes.
		if [[ "$(ip -n "$(world_ns pod-again)" -j link show dev eth0 | jq -r '.[0].operstate')" == DOWN ]] ||
			[[ -z "$(ip -n "$(world_ns pod-again)" -6 route show default dev eth0)" ]] ||
			[[ -z "$(ip -n "$(world_ns pod-again)" -4 route show default dev eth0)" ]]; then
			bad+="#$i:not-configured "
		fi
		del "$path" "$CID" again || { t_fail "DEL #$i"; return 1; }
	done
	assert_eq "" "$bad" "iterations that differed from the first ($first_ip, $first_mac)" || return
	assert_eq "lo " "$(pod_links again)" "links in the pod after the last DEL" || return
	assert_ok pod_netns_del again
}
t_run "ADD right after DEL into the same netns and ifname, 100 times: same address and MAC, all up" \
	case_add_after_del

# A retired link keeps its MAC on the master until the child's delete ends, and says so with
# an abstract socket name (held by the child) in the runtime's netns. Both made by hand here:
# an ADD waits for such a link to go, and fails at once when no DEL retires the holder.
case_mac_wait() {
	local path mac hold ns t0 t1 pid
	path=$(pod_netns mw-0) || { t_fail "pod_netns"; return 1; }
	add "$path" mac-wait || return
	mac=$(jq -r '.interfaces[0].mac' <<<"$RES")
	del "$path" "$CID" mac-wait || return
	pod_netns mw-hold >/dev/null || { t_fail "pod_netns"; return 1; }
	ns=$(world_ns pod-mw-hold)
	hold=gl-del-0000d00d
	ip -n "$NODE" link add "$hold" link eth0 address "$mac" netns "$ns" type macvlan mode bridge &&
		ip -n "$ns" link set dev "$hold" up || { t_fail "making the holder"; return 1; }
	# Nobody retires it: the MAC is a live link's, the ADD fails now.
	t0=$(date +%s%N)
	assert_rc 1 cni_call node1 gamelan-macvlan ADD "$path" eth0 "$CID" "$(k8s_args games mac-wait "$CID")" \
		<<<"$CONF" || return
	t1=$(date +%s%N)
	assert_contains "in use" "$(jq -r .msg <<<"$T_OUT")" "msg" || return
	assert_match '^[0-9]$' "$(((t1 - t0) / 1000000000))" "seconds the failing ADD took" || return
	assert_eq "lo " "$(pod_links mw-0)" "links in the pod after the failed ADD" || return
	# A DEL's child is deleting it: the ADD waits, then succeeds.
	ip netns exec "$NODE" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0gamelan/retiring/" + sys.argv[1].replace(":", ""))
open(sys.argv[2], "w").close()
time.sleep(3)' "$mac" "$T_TMP/held" &
	pid=$!
	wait_until 5 test -e "$T_TMP/held" || { t_fail "the name holder did not start"; kill "$pid"; return 1; }
	CID=$(t_container_id)
	cni_call node1 gamelan-macvlan ADD "$path" eth0 "$CID" "$(k8s_args games mac-wait "$CID")" \
		<<<"$CONF" >"$T_TMP/mw.out" 2>"$T_TMP/mw.err" &
	t0=$!
	sleep 0.5
	ip -n "$ns" link del "$hold"
	wait "$t0"
	t1=$?
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	assert_eq 0 "$t1" "rc of the ADD that waited ($(cat "$T_TMP/mw.out" "$T_TMP/mw.err"))" || return
	assert_json_field "$(cat "$T_TMP/mw.out")" '.interfaces[0].mac' "$mac" "MAC of the ADD that waited" || return
	del "$path" "$CID" mac-wait || return
	assert_ok pod_netns_del mw-0 || return
	assert_ok pod_netns_del mw-hold
}
t_run "ADD waits (bounded) for a retiring link that holds its MAC; fails at once for a live one" case_mac_wait

case_leftover_del() {
	local path cid
	path=$(pod_netns lo-del) || { t_fail "pod_netns"; return 1; }
	leftover lo-del gl-del-0000beef || { t_fail "making the leftover"; return 1; }
	cid=$(t_container_id)
	del "$path" "$cid" lo-del || return
	wait_until 5 link_gone lo-del gl-del-0000beef || { t_fail "gl-del-0000beef is still there after DEL"; return 1; }
	# ADD's own leftover: the runtime's DEL of that container removes it.
	cid=$(t_container_id)
	leftover lo-del "$(adding_name "$cid" eth0)" || { t_fail "making ADD's leftover"; return 1; }
	del "$path" "$cid" lo-del || return
	wait_until 5 link_gone lo-del "$(adding_name "$cid" eth0)" ||
		{ t_fail "$(adding_name "$cid" eth0) is still there after the DEL of $cid"; return 1; }
	assert_eq "lo " "$(pod_links lo-del)" "links in the pod" || return
	assert_ok pod_netns_del lo-del
}
t_run "leftovers of a crash (gl-del-*, and ADD's gl-add-* of the container) are removed by DEL" \
	case_leftover_del

case_leftover_add() {
	local path cid
	path=$(pod_netns lo-add) || { t_fail "pod_netns"; return 1; }
	leftover lo-add gl-del-0000f00d || { t_fail "making the leftover"; return 1; }
	# An ADD retried with the container ID of one that crashed before its rename.
	cid=$(t_container_id)
	leftover lo-add "$(adding_name "$cid" eth0)" || { t_fail "making ADD's leftover"; return 1; }
	add "$path" lo-add "$cid" || return
	wait_until 5 link_gone lo-add gl-del-0000f00d || { t_fail "gl-del-0000f00d is still there after ADD"; return 1; }
	assert_eq "eth0 lo " "$(pod_links lo-add)" "links in the pod after ADD" || return
	del "$path" "$CID" lo-add || return
	assert_eq "lo " "$(pod_links lo-add)" "links in the pod after DEL" || return
	assert_ok pod_netns_del lo-add
}
t_run "leftovers of a crash are removed by the next ADD in that netns (one with ADD's own name too)" \
	case_leftover_add

case_leftover_gc() {
	local gc ns
	pod_netns lo-gc >/dev/null || { t_fail "pod_netns"; return 1; }
	ns=$(world_ns pod-lo-gc)
	leftover lo-gc gl-del-0000cafe || { t_fail "making the leftover"; return 1; }
	# Not ours: another kind of link under that name, and a macvlan with another name.
	ip -n "$ns" link add gl-del-0000babe type veth peer name peer0 || { t_fail "veth"; return 1; }
	leftover lo-gc keepme || { t_fail "making keepme"; return 1; }
	gc=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$CONF")
	assert_ok cni_call node1 gamelan-macvlan GC "" "" "" "" <<<"$gc" || return
	wait_until 5 link_gone lo-gc gl-del-0000cafe || { t_fail "gl-del-0000cafe is still there after GC"; return 1; }
	assert_eq "gl-del-0000babe keepme lo peer0 " "$(ip -n "$ns" -o link show | awk -F': ' '{print $2}' |
		sed 's/@.*//' | sort | tr '\n' ' ')" "links in the pod after GC" || return
	assert_ok pod_netns_del lo-gc
}
t_run "GC removes a leftover gl-del-* macvlan from a named netns, and nothing else" case_leftover_gc

case_del_store_broken() {
	local path out
	path=$(pod_netns broken) || { t_fail "pod_netns"; return 1; }
	add "$path" broken || return
	assert_eq Bound "$(row_state games/broken)" "games/broken after ADD" || return
	# The store becomes unusable: its file is not a database any more.
	mkdir -p "$T_TMP/saved" && mv "$DB"* "$T_TMP/saved/" || { t_fail "moving the store aside"; return 1; }
	printf 'this is not a database, it is %0400d\n' 0 >"$DB"
	assert_rc 1 cni_call node1 gamelan-macvlan DEL "$path" eth0 "$CID" "$(k8s_args games broken "$CID")" \
		<<<"$CONF" || return
	out=$T_OUT
	assert_json_field "$out" '.code | . == 103 or . == 11' true "error code (store failed / try again)" || return
	assert_contains "$DB" "$(jq -r .msg <<<"$out")" "msg names the store" || return
	# The pod left the LAN all the same.
	assert_no_link pod-broken eth0 || return
	assert_eq "lo " "$(pod_links broken)" "links in the pod after the failed DEL" || return
	# The runtime retries: the link part is done, the store's part now succeeds.
	rm -f "$DB" && mv "$T_TMP/saved/"* "$T_TMP/" || { t_fail "restoring the store"; return 1; }
	assert_eq Bound "$(row_state games/broken)" "games/broken before the retry" || return
	del "$path" "$CID" broken || return
	assert_eq Held "$(row_state games/broken)" "games/broken after the retried DEL" || return
	assert_ok pod_netns_del broken
}
t_run "DEL with an unusable store: the link goes, an error names the store; the retried DEL succeeds" \
	case_del_store_broken

case_nothing_left() {
	local n
	for n in node1 node2; do
		assert_eq "eth0 lo " "$(ip -n "$(world_ns "$n")" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
			sort | tr '\n' ' ')" "links in $n" || return
	done
	assert_eq "" "$(world_namespaces | grep -- '-pod-')" "pod namespaces left"
}
t_run "nothing is left: the nodes have their own links only, no pod netns" case_nothing_left

t_done
