#!/usr/bin/env bash
# gamelan-snat given bad input. In CNI mode: exit status 1, one CNI error object on stdout with
# the right code (7 for a config that parses but is wrong), no sanitizer report, and nothing
# installed in the pod's netns. In router mode: exit status 1 (2 for a usage error), a message
# on stderr, and the router's ruleset as it was.
. "$(dirname "$0")/lib.sh"

export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

world_up || t_bail "world_up failed"
command -v nft >/dev/null || t_bail "nft is missing (tests/install-deps.sh): tests use it to look"

DB=$T_TMP/ipam.db
RNS=$(world_ns router)
MV=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{cniVersion: "1.0.0", name: "lan",
	type: "gamelan-macvlan", master: "eth0", stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.216/24", gateway: "192.168.1.1",
		routes: [{dst: "0.0.0.0/0"}], store: {type: "sqlite", path: $db}}}')

# A real attachment, so that prevResult is what gamelan-macvlan really returns.
POD=$(pod_netns bad) || t_bail "pod_netns failed"
CID=$(t_container_id)
ARGS=$(k8s_args games bad-0 "$CID")
PREV=$(cni_call node1 gamelan-macvlan ADD "$POD" eth0 "$CID" "$ARGS" <<<"$MV") || t_bail "gamelan-macvlan ADD failed: $PREV"
BASE=$(jq -nc --argjson prev "$PREV" '{cniVersion: "1.0.0", name: "lan", type: "gamelan-snat",
	gateway: "192.168.1.1", lan: ["192.168.1.0/24"], ports: [{protocol: "udp", port: 10999}],
	prevResult: $prev}')

pod_tables() {
	ns_nft_tables pod-bad
}

# The base config must work, or every refusal below would prove nothing.
case_base() {
	assert_ok cni_call node1 gamelan-snat ADD "$POD" eth0 "$CID" "$ARGS" <<<"$BASE" || return
	assert_eq "inet gamelan-snat-eth0" "$(pod_tables)" "tables after a good ADD" || return
	assert_ok cni_call node1 gamelan-snat DEL "$POD" eth0 "$CID" "$ARGS" <<<"$BASE" || return
	assert_eq "" "$(pod_tables)" "tables after DEL"
}
t_run "the base config is accepted (ADD, then DEL leaves nothing)" case_base

# bad CODES WHY [key=value...]: keys jq (a filter on BASE), raw (stdin as given), cmd, ifname.
bad() {
	local codes=$1 why=$2 jqf=. raw='' has_raw=0 cmd=ADD ifname=eth0 kv code in=$T_TMP/stdin
	shift 2
	for kv in "$@"; do
		case $kv in
		jq=*) jqf=${kv#*=} ;;
		raw=*) raw=${kv#*=} has_raw=1 ;;
		cmd=*) cmd=${kv#*=} ;;
		ifname=*) ifname=${kv#*=} ;;
		*) t_fail "unknown option $kv"; return 1 ;;
		esac
	done
	t_begin "CNI $cmd: $why -> code ${codes//,/ or }, nothing installed"
	if ((has_raw)); then
		printf '%s' "$raw" >"$in"
	else
		jq -c "$jqf" <<<"$BASE" >"$in" || { t_fail "jq '$jqf' failed"; return 1; }
	fi
	assert_rc 1 cni_call node1 gamelan-snat "$cmd" "$POD" "$ifname" "$CID" "$ARGS" <"$in" || return
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr" || return
	if ! jq -e 'type == "object"' <<<"$T_OUT" >/dev/null 2>&1; then
		t_fail "stdout is not one JSON object: $(head -c 300 <<<"$T_OUT")"
		return 1
	fi
	code=$(jq -r '.code' <<<"$T_OUT")
	if [[ ",$codes," != *",$code,"* ]]; then
		t_fail "code $code, expected $codes: $(head -c 300 <<<"$T_OUT")"
		return 1
	fi
	assert_json_field "$T_OUT" '.msg | type == "string" and length > 0' true "msg" || return
	assert_eq "" "$(pod_tables)" "nftables tables in the pod" || return
	t_ok
}

bad 6 "malformed JSON" raw='{"cniVersion": "1.0.0", "name": "lan", "type": '
bad 7 "gateway outside lan" jq='.gateway = "10.0.0.1"'
bad 7 "gateway outside the prevResult's prefixes (lan left to its default)" jq='del(.lan) | .gateway = "172.16.0.1"'
bad 7 "gateway not an address" jq='.gateway = "not-an-ip"'
bad 7 "gateway not a string" jq='.gateway = 17'
bad 7 "an IPv6 gateway with only IPv4 prefixes" jq='.gateway = "fd00:1::1"'
bad 7 "lan prefix not a CIDR" jq='.lan = ["192.168.1.0/33"]'
bad 7 "lan prefix is nonsense" jq='.lan = ["nonsense"]'
bad 7 "lan not an array" jq='.lan = "192.168.1.0/24"'
bad 7 "unknown protocol" jq='.ports = [{protocol: "icmp", port: 10999}]'
bad 7 "protocol missing" jq='.ports = [{port: 10999}]'
bad 7 "port 0" jq='.ports = [{protocol: "udp", port: 0}]'
bad 7 "port 65536" jq='.ports = [{protocol: "udp", port: 65536}]'
bad 7 "port -1" jq='.ports = [{protocol: "udp", port: -1}]'
bad 7 "port 1e10" raw="$(jq -c '.ports = [{protocol: "udp", port: 10000000000}]' <<<"$BASE")"
bad 7 "port 10999.5" jq='.ports = [{protocol: "udp", port: 10999.5}]'
bad 7 "port as a string" jq='.ports = [{protocol: "udp", port: "10999"}]'
bad 7 "a good port, then port 0 (nothing half-installed)" jq='.ports = [{protocol: "udp", port: 10999}, {protocol: "udp", port: 0}]'
bad 7 "ports not an array" jq='.ports = {protocol: "udp", port: 10999}'
bad 7 "disabled not a boolean" jq='.runtimeConfig = {disabled: "yes"}'
bad 7 "missing prevResult" jq='del(.prevResult)'
bad 7 "prevResult without addresses and no gateway" jq='del(.gateway, .lan) | .prevResult.ips = []'
bad 7 "CHECK without prevResult" cmd=CHECK jq='del(.prevResult)'
bad 1 "unsupported cniVersion" jq='.cniVersion = "9.9.9"'
bad 4,7 "CNI_IFNAME with a slash" ifname='eth0/../x'

case_no_crash_del() {
	# DEL with a bad config still must not crash nor install anything; it may fail.
	jq -c '.ports = [{protocol: "udp", port: 0}]' <<<"$BASE" >"$T_TMP/del.json"
	cni_call node1 gamelan-snat DEL "$POD" eth0 "$CID" "$ARGS" <"$T_TMP/del.json" >"$T_TMP/del.out" 2>"$T_TMP/del.err"
	local rc=$?
	[[ "$rc" == 0 || "$rc" == 1 ]] || { t_fail "DEL exited $rc: $(head -c 300 "$T_TMP/del.err")"; return 1; }
	assert_no_match 'Sanitizer|runtime error' "$(cat "$T_TMP/del.err")" "stderr" || return
	assert_eq "" "$(pod_tables)" "tables in the pod"
}
t_run "DEL with a bad config: no crash, nothing installed" case_no_crash_del

# ---- router mode ----

ruleset() {
	ip netns exec "$RNS" nft -a list ruleset 2>&1
}

IP=192.168.1.200
# rbad RCS WHY ARGS...: `gamelan-snat router ARGS` must exit with one of RCS, say why on stderr,
# and leave the router's ruleset as it was.
rbad() {
	local rcs=$1 why=$2 before
	shift 2
	t_begin "router CLI: $why -> exit ${rcs//,/ or }, message on stderr, nothing installed"
	before=$(ruleset)
	router_snat "$@" >"$T_TMP/r.out" 2>"$T_TMP/r.err"
	T_RC=$?
	T_ERR=$(cat "$T_TMP/r.err")
	if [[ ",$rcs," != *",$T_RC,"* ]]; then
		t_fail "'gamelan-snat router $*' exited $T_RC; stderr: $(head -c 300 <<<"$T_ERR")"
		return 1
	fi
	assert_ne "" "$T_ERR" "stderr" || return
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr" || return
	assert_eq "$before" "$(ruleset)" "the router's ruleset" || return
	t_ok
}

GOOD=(--wan-if wan0 --proto udp --port 10999 --lan-addr 192.168.1.1)
case_router_base() {
	local before
	before=$(ruleset)
	assert_ok router_snat add good "${GOOD[@]}" --to "$IP" || return
	assert_ok router_snat remove good || return
	assert_no_match 'gamelan:fwd:' "$(ruleset)" "rules after remove"
}
t_run "router CLI: the base command works (add, then remove)" case_router_base

rbad 2 "no subcommand"
rbad 2 "unknown subcommand" frobnicate
rbad 2 "unknown option" add x "${GOOD[@]}" --to "$IP" --bogus 1
rbad 1,2 "add without a name" add
rbad 1,2 "missing --to" add x "${GOOD[@]}"
rbad 1,2 "missing --wan-if" add x --proto udp --port 10999 --to "$IP" --lan-addr 192.168.1.1
rbad 1,2 "missing --port" add x --wan-if wan0 --proto udp --to "$IP" --lan-addr 192.168.1.1
rbad 1,2 "SNAT without --lan-addr" add x --wan-if wan0 --proto udp --port 10999 --to "$IP"
rbad 1 "bad --to address" add x "${GOOD[@]}" --to 192.168.1.300
rbad 1 "bad --to port" add x "${GOOD[@]}" --to "$IP:0"
rbad 1 "--to port 65536" add x "${GOOD[@]}" --to "$IP:65536"
rbad 1 "port 0" add x --wan-if wan0 --proto udp --port 0 --to "$IP" --lan-addr 192.168.1.1
rbad 1 "port 65536" add x --wan-if wan0 --proto udp --port 65536 --to "$IP" --lan-addr 192.168.1.1
rbad 1 "port abc" add x --wan-if wan0 --proto udp --port abc --to "$IP" --lan-addr 192.168.1.1
rbad 1 "port 10999x" add x --wan-if wan0 --proto udp --port 10999x --to "$IP" --lan-addr 192.168.1.1
rbad 1 "unknown protocol" add x --wan-if wan0 --proto icmp --port 10999 --to "$IP" --lan-addr 192.168.1.1
rbad 1 "bad --lan-addr" add x --wan-if wan0 --proto udp --port 10999 --to "$IP" --lan-addr 192.168.1
rbad 1 "bad --wan-addr" add x "${GOOD[@]}" --to "$IP" --wan-addr 198.51.100.999
rbad 1 "interface name too long" add x --wan-if abcdefghijklmnopq --proto udp --port 10999 --to "$IP" --lan-addr 192.168.1.1
rbad 1 "interface name with a slash" add x --wan-if wan0/x --proto udp --port 10999 --to "$IP" --lan-addr 192.168.1.1
rbad 1 "name with a space" add "a b" "${GOOD[@]}" --to "$IP"
rbad 1 "empty name" add "" "${GOOD[@]}" --to "$IP"
rbad 1 "name of 300 characters" add "$(printf 'n%.0s' {1..300})" "${GOOD[@]}" --to "$IP"
rbad 1 "apply of a missing file" apply "$T_TMP/nope.json"
rbad 1 "apply of a directory" apply "$T_TMP"
rbad 1 "apply of an empty file" apply /dev/null
rbad 1 "apply of 100000 nested arrays" apply "$(printf '[%.0s' {1..100000} >"$T_TMP/deep.json"; echo "$T_TMP/deep.json")"
rbad 1 "apply of a set with a bad entry" apply "$(jq -n --arg ip "$IP" '{forwards: [
	{name: "ok", wanInterface: "wan0", protocol: "udp", port: 10999, to: $ip, lanAddress: "192.168.1.1"},
	{name: "bad", wanInterface: "wan0", protocol: "udp", port: 0, to: $ip, lanAddress: "192.168.1.1"}]}' \
	>"$T_TMP/badset.json"; echo "$T_TMP/badset.json")"

case_router_dup() {
	local before
	assert_ok router_snat add dup "${GOOD[@]}" --to "$IP" || return
	before=$(ruleset)
	router_snat add dup --wan-if wan0 --proto udp --port 11000 --to "$IP" --lan-addr 192.168.1.1 >/dev/null 2>"$T_TMP/dup.err"
	local rc=$?
	# Adding a name that exists either fails or replaces the forward; never two of one name.
	if ((rc == 0)); then
		assert_eq 1 "$(router_snat list --json | jq '[(if type == "object" then .forwards else . end)[] | select(.name == "dup")] | length')" \
			"forwards named dup" || return
	else
		assert_eq "$before" "$(ruleset)" "the ruleset after a refused duplicate add" || return
		assert_ne "" "$(cat "$T_TMP/dup.err")" "stderr" || return
	fi
	assert_ok router_snat remove dup || return
	assert_no_match 'gamelan:fwd:' "$(ruleset)" "rules after remove"
}
t_run "router CLI: add of an existing name fails cleanly or replaces it (never two forwards of one name)" case_router_dup

case_router_remove_unknown() {
	local before rc
	before=$(ruleset)
	router_snat remove no-such-forward >/dev/null 2>"$T_TMP/rm.err"
	rc=$?
	[[ "$rc" == 0 || "$rc" == 1 ]] || { t_fail "remove exited $rc"; return 1; }
	assert_no_match 'Sanitizer|runtime error' "$(cat "$T_TMP/rm.err")" "stderr" || return
	assert_eq "$before" "$(ruleset)" "the ruleset"
}
t_run "router CLI: remove of an unknown name: no crash, nothing changes" case_router_remove_unknown

t_done
