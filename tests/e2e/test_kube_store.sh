#!/usr/bin/env bash
# gamelan-ipam with the Kubernetes store against the fake API server (netns-harness/fakeapi/fakeapi.py
# on 127.0.0.1, the IPReservation CRD from conf/k8s posted first). IPAM needs no network
# namespace, so the plugin is called as a runtime would, from this namespace; GAMELAN_NODE
# plays the node. Cases: 8 nodes x 50 ADDs at once -> 400 distinct addresses (checked in the
# API objects), no LIST read from etcd (the fake's cost model: every list from the watch
# cache), at most 0.3 409s per allocation; DEL of them all at once, no LIST from etcd either; stickiness across nodes; kill -9 in the middle of an
# ADD -> GC (valid attachments) recovers the address; `gamelan-ipam list` on the store;
# STATUS (0 when reachable, 50 when not).
. "$(dirname "$0")/lib.sh"

NODES=${GL_KUBE_NODES:-8}
PER_NODE=${GL_KUBE_PER_NODE:-50}
OUT=$T_TMP/kube
mkdir -p "$OUT"

api() {
	curl -sS --max-time 20 "$@"
}

fakeapi_start "$OUT" --namespace gamelan-system ||
	t_bail "the fake API server did not start: $(head -c 400 "$FAKE_LOG")"
API=$FAKE_URL
fakeapi_kubeconfig "$OUT/kubeconfig" "$API" || t_bail "writing the kubeconfig"
fakeapi_post_crd "$API" || t_bail "$FAKE_ERR"
RESV=$API/apis/gamelan.dev/v1alpha1/namespaces/gamelan-system/ipreservations

# A /22 gives 1022 addresses for 400 pods: each new identity starts at a point of its own
# (a hash into the range), so few of them collide.
CONF=$(jq -nc --arg kc "$OUT/kubeconfig" '{cniVersion: "1.1.0", name: "lan", type: "gamelan-ipam",
	ipam: {type: "gamelan-ipam", range: "10.20.0.0/22", gateway: "10.20.0.1",
		store: {type: "kubernetes", kubeconfig: $kc}}}')

# ipam NODE COMMAND CONTAINERID CNI_ARGS (stdin: config): the plugin as a runtime calls it.
ipam() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin GAMELAN_NODE="$1" CNI_COMMAND="$2" CNI_CONTAINERID="$3" \
		CNI_NETNS=/run/netns/none CNI_IFNAME=eth0 CNI_PATH="$GL_BIN" CNI_ARGS="$4" \
		"$GL_BIN/gamelan-ipam"
}

objects() {
	api "$RESV"
}

# run_all VERB [FIRST LAST]: every pod's VERB at once (of nodes FIRST..LAST), each its own
# process, PER_NODE per node.
run_all() {
	local verb=$1 first=${2:-1} last=${3:-$NODES} n i cid pids=()
	for ((n = first; n <= last; n++)); do
		for ((i = 0; i < PER_NODE; i++)); do
			cid=$(printf 'k%031d%032d' "$n" "$i")
			(
				ipam "node$n" "$verb" "$cid" "$(k8s_args games "gs-$n-$i" "$cid")" <<<"$CONF" \
					>"$OUT/$verb.$n.$i.out" 2>"$OUT/$verb.$n.$i.err"
				echo $? >"$OUT/$verb.$n.$i.rc"
			) &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
}

failures() {
	local verb=$1 n i rc bad=0
	for ((n = 1; n <= NODES; n++)); do
		for ((i = 0; i < PER_NODE; i++)); do
			rc=$(cat "$OUT/$verb.$n.$i.rc" 2>/dev/null)
			if [[ "$rc" != 0 ]]; then
				bad=$((bad + 1))
				((bad <= 3)) && printf 'gs-%s-%s rc=%s %s; ' "$n" "$i" "${rc:-none}" \
					"$(head -c 200 "$OUT/$verb.$n.$i.out")"
			fi
		done
	done
	((bad)) && echo "($bad failed)"
}

case_concurrent() {
	local total=$((NODES * PER_NODE)) t0 t1 bad answered objs st
	api -X DELETE "$API/fake/stats" >/dev/null
	t0=$(date +%s%N)
	run_all ADD
	t1=$(date +%s%N)
	st=$(api "$API/fake/stats") || return
	bad=$(failures ADD)
	assert_eq "" "$bad" "ADDs that failed" || return
	answered=$(cat "$OUT"/ADD.*.out | jq -r '.ips[0].address' | sort)
	assert_eq "$total" "$(wc -l <<<"$answered")" "answers" || return
	assert_eq "$total" "$(sort -u <<<"$answered" | wc -l)" "distinct addresses in the answers" || return
	objs=$(objects) || return
	assert_eq "$total" "$(jq '[.items[] | select(.spec.network == "lan")] | length' <<<"$objs")" \
		"IPReservation objects" || return
	assert_eq "$total" "$(jq '[.items[] | select(.spec.network == "lan") | .spec.address] | unique | length' \
		<<<"$objs")" "distinct addresses in the objects" || return
	assert_eq "$total" "$(jq '[.items[] | select(.spec.state == "Bound")] | length' <<<"$objs")" \
		"Bound objects" || return
	# Each answer is the object of that pod.
	assert_eq "" "$(jq -r '.items[] | "\(.spec.address)/22"' <<<"$objs" | sort | comm -3 - <(printf '%s\n' "$answered"))" \
		"answers match the objects" || return
	assert_eq "$NODES" "$(jq '[.items[].metadata.labels["gamelan.dev/node"]] | unique | length' <<<"$objs")" \
		"node labels" || return
	t_note "$total concurrent ADDs on $NODES nodes: $(((t1 - t0) / 1000000)) ms;" \
		"API requests: $(jq -c '.byVerb' <<<"$st"); objects read: $(jq -c '.objectsRead' <<<"$st");" \
		"409s: $(jq '.byStatus["409"] // 0' <<<"$st")"
	assert_eq 0 "$(jq '.listsFrom.etcd // 0' <<<"$st")" "LISTs read from etcd (consistent reads)" || return
	assert_eq ok "$(jq -r --argjson n "$total" 'if (.byStatus["409"] // 0) <= 0.3 * $n then "ok" else "\(.byStatus["409"]) 409s" end' <<<"$st")" \
		"409s per allocation <= 0.3" || return
}

case_concurrent_del() {
	local bad objs t0 t1 n st
	api -X DELETE "$API/fake/stats" >/dev/null
	t0=$(date +%s%N)
	# Two nodes' pods at a time: each DEL lists the whole network, and the fake (one Python
	# process) would otherwise queue 400 lists of 400 objects past the client's timeout.
	for ((n = 1; n <= NODES; n += 2)); do
		run_all DEL "$n" "$((n + 1 <= NODES ? n + 1 : NODES))"
	done
	t1=$(date +%s%N)
	st=$(api "$API/fake/stats") || return
	t_note "$((NODES * PER_NODE)) concurrent DELs: $(((t1 - t0) / 1000000)) ms;" \
		"API requests: $(jq -c '.byVerb' <<<"$st")"
	assert_eq 0 "$(jq '.listsFrom.etcd // 0' <<<"$st")" "LISTs of the DELs read from etcd" || return
	bad=$(failures DEL)
	assert_eq "" "$bad" "DELs that failed" || return
	objs=$(objects) || return
	assert_eq "$((NODES * PER_NODE))" "$(jq '[.items[] | select(.spec.state == "Held" and .spec.expires != null)] | length' \
		<<<"$objs")" "Held objects (with expires) after DEL" || return
	# Stickiness after the storm: a pod comes back on another node and gets its address.
	local cid ip_before ip_after
	ip_before=$(jq -r '.ips[0].address' "$OUT/ADD.3.7.out")
	cid=$(t_container_id)
	assert_ok ipam node5 ADD "$cid" "$(k8s_args games gs-3-7 "$cid")" <<<"$CONF" || return
	ip_after=$(jq -r '.ips[0].address' <<<"$T_OUT")
	assert_eq "$ip_before" "$ip_after" "gs-3-7 back on node5" || return
}

case_sticky_across_nodes() {
	local c1 c2 ip1 ip2 st
	c1=$(t_container_id)
	c2=$(t_container_id)
	assert_ok ipam node1 ADD "$c1" "$(k8s_args games dst-0 "$c1")" <<<"$CONF" || return
	ip1=$(jq -r '.ips[0].address' <<<"$T_OUT")
	assert_ok ipam node1 DEL "$c1" "$(k8s_args games dst-0 "$c1")" <<<"$CONF" || return
	st=$(objects | jq -r --arg a "${ip1%/*}" '.items[] | select(.spec.address == $a) | .spec.state')
	assert_eq Held "$st" "state after DEL on node1" || return
	assert_ok ipam node2 ADD "$c2" "$(k8s_args games dst-0 "$c2")" <<<"$CONF" || return
	ip2=$(jq -r '.ips[0].address' <<<"$T_OUT")
	assert_eq "$ip1" "$ip2" "games/dst-0 on node2 after node1" || return
	st=$(objects | jq -r --arg a "${ip1%/*}" '.items[] | select(.spec.address == $a) | "\(.spec.state) \(.spec.node) \(.spec.containerID)"')
	assert_eq "Bound node2 $c2" "$st" "the object after the move" || return
	# CHECK on node2 agrees.
	assert_ok ipam node2 CHECK "$c2" "$(k8s_args games dst-0 "$c2")" <<<"$CONF" || return
}

case_kill9() {
	local cid pid creates before ip st gc
	cid=$(t_container_id)
	before=$(api "$API/fake/stats" | jq '.byVerb.create // 0')
	# The next create of a reservation waits 3 s in the server (then is applied).
	api -X POST -H 'Content-Type: application/json' "$API/fake/faults" \
		--data '{"match": "POST /apis/gamelan.dev/", "delayMs": 3000, "count": 1}' >/dev/null || return
	ipam node3 ADD "$cid" "$(k8s_args games killed "$cid")" <<<"$CONF" >"$OUT/killed.out" 2>&1 &
	pid=$!
	created() { (($(api "$API/fake/stats" | jq '.byVerb.create // 0') > before)); }
	if ! wait_until 20 created; then
		kill -9 "$pid" 2>/dev/null
		t_fail "the plugin never sent its create"
		return 1
	fi
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	# The server applies the create it had accepted: a Bound object nobody got an answer for.
	bound() { objects | jq -e --arg c "$cid" '[.items[] | select(.spec.containerID == $c and .spec.state == "Bound")] | length == 1' >/dev/null; }
	wait_until 10 bound || { t_fail "no Bound object of the killed ADD"; return 1; }
	ip=$(objects | jq -r --arg c "$cid" '.items[] | select(.spec.containerID == $c) | .spec.address')
	# node3's runtime knows its real attachments: the killed one is not among them.
	gc=$(jq -c '. + {"cni.dev/valid-attachments": []}' <<<"$CONF")
	assert_ok ipam node3 GC "" "" <<<"$gc" || return
	st=$(objects | jq -r --arg a "$ip" '.items[] | select(.spec.address == $a) | .spec.state')
	assert_eq Held "$st" "the killed ADD's address after GC" || return
	# GC on node3 did not touch the Bound reservations of the other nodes.
	assert_eq 2 "$(objects | jq '[.items[] | select(.spec.state == "Bound")] | length')" \
		"Bound objects left (games/dst-0 on node2, gs-3-7 on node5)" || return
}

case_admin_list() {
	local rows
	assert_ok "$GL_BIN/gamelan-ipam" list --kubeconfig "$OUT/kubeconfig" --network lan --json || return
	rows=$T_OUT
	assert_eq "$(objects | jq '[.items[] | select(.spec.network == "lan")] | length')" "$(jq length <<<"$rows")" \
		"rows in gamelan-ipam list" || return
	assert_eq Bound "$(jq -r '.[] | select(.identity == "games/dst-0") | .state' <<<"$rows")" \
		"games/dst-0 in the list" || return
	assert_ok "$GL_BIN/gamelan-ipam" --store kubernetes --kubeconfig "$OUT/kubeconfig" list --network lan || return
	assert_match 'games/dst-0' "$T_OUT" || return
	assert_rc 1 "$GL_BIN/gamelan-ipam" --kubeconfig "$OUT/kubeconfig" --namespace Bad_NS list || return
}

case_status() {
	local dead
	assert_ok ipam node1 STATUS "" "" <<<"$CONF" || return
	sed "s#server: .*#server: http://127.0.0.1:1#" "$OUT/kubeconfig" >"$OUT/dead.kubeconfig"
	dead=$(jq -c --arg kc "$OUT/dead.kubeconfig" '.ipam.store.kubeconfig = $kc' <<<"$CONF")
	assert_rc 1 ipam node1 STATUS "" "" <<<"$dead" || return
	assert_cni_error "$T_OUT" 50 || return
	# ADD against an unreachable API server: a CNI error, not a hang or a crash.
	assert_rc 1 ipam node1 ADD "$(t_container_id)" "$(k8s_args games nowhere x)" <<<"$dead" || return
	assert_match '"code"' "$T_OUT" || return
}

t_run "$((NODES * PER_NODE)) ADDs at once on $NODES nodes: all answered, no address twice" case_concurrent
t_run "$((NODES * PER_NODE)) DELs (two nodes at a time): all Held; a pod back on another node keeps its address" case_concurrent_del
t_run "stickiness across nodes: DEL on node1, ADD on node2 -> same address" case_sticky_across_nodes
t_run "kill -9 in the middle of an ADD: GC with valid attachments releases the address" case_kill9
t_run "gamelan-ipam list against the Kubernetes store" case_admin_list
t_run "STATUS: 0 when the API server answers, 50 when it does not" case_status
t_done
