#!/usr/bin/env bash
# 500 pods start at once, on two nodes, into one pool in one store: every ADD answers with a
# result, no address is given twice, the store has exactly 500 Bound rows; then 500 DELs at
# once leave no link behind. No timing is asserted (the machine may be loaded); each plugin
# process is bounded by its own 60 s deadline, and by PROC_TIMEOUT here.
# e2e-timeout: 1500
. "$(dirname "$0")/lib.sh"

N=${GL_CONC_N:-500}
PROC_TIMEOUT=${GL_CONC_PROC_TIMEOUT:-300}
DB=$T_TMP/ipam.db
OUT=$T_TMP/conc
mkdir -p "$OUT"

world_up || t_bail "world_up failed"

# 192.168.0.0/22 around the world's /24 LAN (same segment, gateway .1.1): .2.0-.3.255 leave
# out the router (.1.1), the nodes (.1.11, .1.12) and the LAN player (.1.77); .2.77 is
# excluded the whereabouts way. 511 addresses for 500 pods. The ARP probe stays on (its
# default 200 ms), as in production.
CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd,
	ipam: {type: "gamelan-ipam", range: "192.168.2.0-192.168.3.255/22",
		exclude: ["192.168.2.77/32"], gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')

node_of() {
	if (($1 % 2)); then echo node2; else echo node1; fi
}

setup() {
	local i
	for ((i = 0; i < N; i++)); do
		pod_netns "gs-$i" >/dev/null || return 1
		printf 'c%061d%02d\n' "$i" 0 >"$OUT/cid.$i"
	done
}
setup || t_bail "could not create $N pod namespaces"

# run_all VERB: VERB for every pod at once, each its own process; waits for all of them.
run_all() {
	local verb=$1 i cid pids=() watchdog
	for ((i = 0; i < N; i++)); do
		cid=$(<"$OUT/cid.$i")
		(
			cni_call "$(node_of "$i")" gamelan-macvlan "$verb" "/run/netns/$(world_ns "pod-gs-$i")" eth0 \
				"$cid" "$(k8s_args games "gs-$i" "$cid")" <<<"$CONF" >"$OUT/$verb.out.$i" 2>"$OUT/$verb.err.$i"
			echo $? >"$OUT/$verb.rc.$i"
		) &
		pids+=($!)
	done
	# A process still running after PROC_TIMEOUT is given up on (it then has no rc: a failure).
	# The watchdog holds none of the script's output (the runner reads it through a pipe,
	# which stays open while any writer lives) and takes its sleep with it when stopped.
	(
		sleep "$PROC_TIMEOUT" &
		sp=$!
		trap 'kill "$sp" 2>/dev/null; exit 0' TERM
		wait "$sp"
		kill "${pids[@]}" 2>/dev/null
	) </dev/null >/dev/null 2>&1 &
	watchdog=$!
	wait "${pids[@]}"
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
}

# failures VERB: the pods whose VERB did not answer rc 0 (with its output).
failures() {
	local verb=$1 i rc bad=0
	for ((i = 0; i < N; i++)); do
		rc=$(cat "$OUT/$verb.rc.$i" 2>/dev/null)
		if [[ "$rc" != 0 ]]; then
			bad=$((bad + 1))
			if ((bad <= 3)); then
				printf 'gs-%s rc=%s out=%s err=%s; ' "$i" "${rc:-none}" "$(head -c 200 "$OUT/$verb.out.$i")" \
					"$(head -c 200 "$OUT/$verb.err.$i")"
			fi
		fi
	done
	((bad == 0)) || printf '(%d failed)' "$bad"
}

case_add() {
	local t0 t1 bad
	t0=$(date +%s)
	run_all ADD
	t1=$(date +%s)
	t_note "$N concurrent ADDs took $((t1 - t0)) s"
	bad=$(failures ADD)
	assert_eq "" "$bad" "ADDs that did not answer rc 0" || return
	local i
	for ((i = 0; i < N; i++)); do
		if ! jq -e '.ips[0].address | test("^192\\.168\\.[23]\\.[0-9]+/22$")' "$OUT/ADD.out.$i" >/dev/null 2>&1; then
			t_fail "gs-$i: no result with an address: $(head -c 300 "$OUT/ADD.out.$i")"
			return 1
		fi
	done
}
t_run "$N concurrent ADDs (node1 and node2, one store) all answer rc 0 with a result" case_add

case_distinct() {
	local ips n
	ips=$(for ((i = 0; i < N; i++)); do jq -r '.ips[0].address' "$OUT/ADD.out.$i"; done | sort)
	n=$(sort -u <<<"$ips" | grep -c .)
	assert_eq "$N" "$n" "distinct addresses among $N results (dups: $(uniq -d <<<"$ips" | head -5 | tr '\n' ' '))" || return
	assert_no_match '(192\.168\.[01]\.[0-9]+|192\.168\.2\.77)/' "$ips" "addresses outside the range or excluded"
}
t_run "$N distinct addresses, none outside the range or excluded" case_distinct

case_store() {
	local rows
	rows=$("$GL_BIN/gamelan-ipam" list --db "$DB" --json) || { t_fail "gamelan-ipam list"; return 1; }
	assert_json_field "$rows" '[.[] | select(.network == "lan" and .state == "Bound")] | length' "$N" \
		"Bound rows in the store" || return
	assert_json_field "$rows" 'length' "$N" "rows in the store" || return
	# Each identity's row carries the address its ADD returned.
	local want got
	want=$(for ((i = 0; i < N; i++)); do
		printf 'games/gs-%s %s\n' "$i" "$(jq -r '.ips[0].address | split("/")[0]' "$OUT/ADD.out.$i")"
	done | sort)
	got=$(jq -r '.[] | "\(.identity) \(.ip)"' <<<"$rows" | sort)
	assert_eq "$want" "$got" "identity -> address in the store vs the results"
}
t_run "the store has $N Bound rows, each with the address its ADD returned" case_store

case_kernel() {
	local i ns want have bad=0
	for ((i = 0; i < N; i++)); do
		ns=$(world_ns "pod-gs-$i")
		want=$(jq -r '.ips[0].address' "$OUT/ADD.out.$i")
		have=$(ip -n "$ns" -o -4 addr show dev eth0 2>/dev/null | awk '{print $4}')
		if [[ "$have" != "$want" ]]; then
			bad=$((bad + 1))
			((bad <= 3)) && t_fail "gs-$i: eth0 has '$have', the result says $want"
		fi
	done
	((bad == 0))
}
t_run "every pod has its macvlan eth0 with the address of its result" case_kernel

case_del() {
	local t0 t1 bad i left=
	t0=$(date +%s)
	run_all DEL
	t1=$(date +%s)
	t_note "$N concurrent DELs took $((t1 - t0)) s"
	bad=$(failures DEL)
	assert_eq "" "$bad" "DELs that did not answer rc 0" || return
	for ((i = 0; i < N; i++)); do
		if ip -n "$(world_ns "pod-gs-$i")" link show dev eth0 >/dev/null 2>&1; then
			left+="gs-$i "
		fi
	done
	assert_eq "" "$left" "pods that still have eth0" || return
	assert_json_field "$("$GL_BIN/gamelan-ipam" list --db "$DB" --json)" \
		'[.[] | select(.state == "Held")] | length' "$N" "Held rows after DEL (sticky identities)"
}
t_run "$N concurrent DELs all answer rc 0; no link is left, every row is Held" case_del

case_master_clean() {
	# No macvlan is left on either node's eth0.
	local n
	for n in node1 node2; do
		assert_eq "eth0 lo " "$(ip -n "$(world_ns "$n")" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' |
			sort | tr '\n' ' ')" "links in $n" || return
	done
}
t_run "the nodes have only their own links" case_master_clean

t_done
