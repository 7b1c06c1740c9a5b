#!/usr/bin/env bash
# One identity, one live link: an ADD for an identity whose reservation is Bound to another
# container does not bring that address up while the holder may be alive.
#  - SQLite store shared by node1 and node2 (gamelan-macvlan in the world): the other node's
#    holder cannot be checked -> code 11 naming it, no link; the same node's holder is checked
#    by its netns: alive -> 11, netns gone -> rebound with the same IP and MAC; the admin's
#    `gamelan-ipam release --force` frees it; a burst of 10 pairs (each identity from both
#    nodes at once): one link per identity.
#  - Kubernetes store against the fake API server (gamelan-ipam as the runtime calls it): the
#    holder's pod (name + K8S_POD_UID recorded on the reservation) is asked for: same UID ->
#    11; a new pod of that name (another UID) or no pod -> rebound; a burst of 10 pairs.
. "$(dirname "$0")/lib.sh"

DB=$T_TMP/ipam.db
OUT=$T_TMP/holder
mkdir -p "$OUT"

world_up || t_bail "world_up failed"

CONF=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", range: "192.168.1.100-192.168.1.199/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')

row_field() {
	db_rows | jq -r --arg id "$1" --arg f "$2" \
		'[.[] | select(.identity == $id) | .[$f] | tostring] | if length == 0 then "none" else join(",") end'
}

# add POD IDENTITY NODE: an ADD of games/IDENTITY from NODE into pod netns POD (made when
# missing), with a fresh container ID. Sets RC, OUTJ, CID, NSPATH.
add() {
	local pod=$1 name=$2 node=$3
	NSPATH=/run/netns/$(world_ns "pod-$pod")
	if [[ ! -e "$NSPATH" ]]; then
		NSPATH=$(pod_netns "$pod") || { t_fail "pod_netns $pod"; return 1; }
	fi
	CID=$(t_container_id)
	OUTJ=$(cni_call "$node" gamelan-macvlan ADD "$NSPATH" eth0 "$CID" "$(k8s_args games "$name" "$CID")" \
		<<<"$CONF" 2>"$OUT/err")
	RC=$?
}

del() {
	cni_call "$3" gamelan-macvlan DEL "$1" eth0 "$2" "$(k8s_args games "$4" "$2")" <<<"$CONF" >/dev/null
}

IP1='' MAC1='' CID1='' NS1=''
case_other_node() {
	add h1 same node1 || return
	assert_eq 0 "$RC" "first ADD of games/same: $OUTJ" || return
	IP1=$(jq -r '.ips[0].address' <<<"$OUTJ") MAC1=$(jq -r '.interfaces[0].mac' <<<"$OUTJ")
	CID1=$CID NS1=$NSPATH
	add h2 same node2 || return
	assert_eq 1 "$RC" "ADD of games/same from node2 while node1's container runs" || return
	assert_cni_error "$OUTJ" 11 || return
	assert_contains "${CID1:0:64}" "$OUTJ" "the error names the holder's container" || return
	assert_contains "node1" "$OUTJ" "the error names the holder's node" || return
	assert_contains "gamelan-ipam release lan" "$OUTJ" "the error says how an admin frees it" || return
	assert_eq "lo " "$(pod_links h2)" "links in node2's pod" || return
	assert_link pod-h1 eth0 || return
	assert_eq "$CID1" "$(row_field games/same containerID)" "holder of games/same" || return
	assert_eq node1 "$(row_field games/same node)" "node of games/same" || return
	assert_eq "$NS1" "$(row_field games/same netns)" "netns recorded on games/same"
}
t_run "SQLite, another node's holder may be alive: code 11 naming it, no link" case_other_node

case_same_node() {
	local ns3 cid3 code
	add h3 same node1 || return
	assert_eq 1 "$RC" "ADD on node1 while the holder's netns exists" || return
	# On one master the kernel itself refuses a second macvlan with the identity's MAC
	# (104) before IPAM is asked; IPAM's own answer is 11.
	code=$(jq -r '.code' <<<"$OUTJ")
	assert_match '^(11|104)$' "$code" "error code: $OUTJ" || return
	assert_eq "lo " "$(pod_links h3)" "links in the second pod" || return
	ns3=/run/netns/$(world_ns pod-h3) cid3=$(t_container_id)
	assert_rc 1 cni_call node1 gamelan-ipam ADD "$ns3" eth0 "$cid3" "$(k8s_args games same "$cid3")" \
		<<<"$(jq -c '.type = "gamelan-ipam"' <<<"$CONF")" || return
	assert_cni_error "$T_OUT" 11 || return
	assert_contains "$NS1" "$(row_field games/same netns)" "the holder is unchanged" || return
	# The holder's sandbox goes away without a DEL (a crash, a reboot): provably gone.
	pod_netns_del h1 || return
	add h3 same node1 || return
	assert_eq 0 "$RC" "ADD on node1 once the holder's netns is gone: $OUTJ" || return
	assert_eq "$IP1" "$(jq -r '.ips[0].address' <<<"$OUTJ")" "address of games/same" || return
	assert_eq "$MAC1" "$(jq -r '.interfaces[0].mac' <<<"$OUTJ")" "MAC of games/same" || return
	assert_eq "$CID" "$(row_field games/same containerID)" "the new holder" || return
	assert_eq "$NSPATH" "$(row_field games/same netns)" "the new holder's netns"
	CID1=$CID NS1=$NSPATH
}
t_run "SQLite, the same node: holder's netns alive -> 11; netns gone -> same IP and MAC" case_same_node

case_admin_force() {
	local cid_old=$CID1 ns_old=$NS1
	add h4 same node2 || return
	assert_eq 1 "$RC" "ADD from node2 before the admin acts" || return
	assert_rc 1 "$GL_BIN/gamelan-ipam" --db "$DB" release lan games/same || return
	assert_contains "--force" "$T_OUT$T_ERR" "release without --force refuses a Bound row" || return
	assert_ok "$GL_BIN/gamelan-ipam" --db "$DB" release lan games/same --force || return
	# The old pod is gone for good here (the admin said so): take its link down with it.
	pod_netns_del h3 || return
	add h4 same node2 || return
	assert_eq 0 "$RC" "ADD from node2 after the forced release: $OUTJ" || return
	assert_eq "$IP1" "$(jq -r '.ips[0].address' <<<"$OUTJ")" "address of games/same" || return
	assert_eq "$MAC1" "$(jq -r '.interfaces[0].mac' <<<"$OUTJ")" "MAC of games/same (derived from the identity)" || return
	# The old container's late DEL does not release the new binding.
	assert_ok del "$ns_old" "$cid_old" node1 same || return
	assert_eq Bound "$(row_field games/same state)" "games/same after the old container's DEL" || return
	assert_eq "$CID" "$(row_field games/same containerID)" "holder after the old DEL"
}
t_run "SQLite, 'gamelan-ipam release --force' frees a Bound identity for another node" case_admin_force

# Each of 10 identities from node1 and node2 at the same moment: one of the two wins.
case_burst_pairs() {
	local i side node pids=() wins ips links
	for ((i = 0; i < 10; i++)); do
		for side in a b; do
			pod_netns "bp$i$side" >/dev/null || { t_fail "pod_netns"; return 1; }
			t_container_id >"$OUT/cid.$i$side"
		done
	done
	for ((i = 0; i < 10; i++)); do
		for side in a b; do
			if [[ $side == a ]]; then node=node1; else node=node2; fi
			(
				cid=$(<"$OUT/cid.$i$side")
				cni_call "$node" gamelan-macvlan ADD "/run/netns/$(world_ns "pod-bp$i$side")" eth0 "$cid" \
					"$(k8s_args games "pair-$i" "$cid")" <<<"$CONF" >"$OUT/bp.$i$side.out" 2>/dev/null
				echo $? >"$OUT/bp.$i$side.rc"
			) &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	for ((i = 0; i < 10; i++)); do
		wins=$(cat "$OUT/bp.${i}a.rc" "$OUT/bp.${i}b.rc" | grep -c '^0$')
		assert_eq 1 "$wins" "ADDs of games/pair-$i that answered rc 0 ($(cat "$OUT/bp.${i}a.out" "$OUT/bp.${i}b.out" | head -c 300))" || return
		for side in a b; do
			if [[ "$(<"$OUT/bp.$i$side.rc")" != 0 ]]; then
				assert_cni_error "$(<"$OUT/bp.$i$side.out")" 11 || return
				assert_eq "lo " "$(pod_links "bp$i$side")" "links in the losing pod of games/pair-$i" || return
			else
				assert_link "pod-bp$i$side" eth0 || return
			fi
		done
	done
	ips=$(cat "$OUT"/bp.*.out | jq -r 'select(.ips) | .ips[0].address' | sort)
	assert_eq 10 "$(sort -u <<<"$ips" | grep -c .)" "distinct addresses of the 10 winners" || return
	links=0
	for ((i = 0; i < 10; i++)); do
		for side in a b; do
			ip -n "$(world_ns "pod-bp$i$side")" link show dev eth0 >/dev/null 2>&1 && links=$((links + 1))
		done
	done
	assert_eq 10 "$links" "eth0 links among the 20 pods"
}
t_run "SQLite, a burst of 10 pairs from two nodes: one link per identity, the others 11" case_burst_pairs

# ---- the Kubernetes store ----

KDIR=$T_TMP/kube
mkdir -p "$KDIR"
fakeapi_start "$KDIR" --namespace gamelan-system --namespace games ||
	t_bail "the fake API server did not start: $(head -c 400 "$FAKE_LOG")"
fakeapi_kubeconfig "$KDIR/kubeconfig" "$FAKE_URL" || t_bail "writing the kubeconfig"
fakeapi_post_crd "$FAKE_URL" || t_bail "$FAKE_ERR"
PODS=$FAKE_URL/api/v1/namespaces/games/pods
KCONF=$(jq -nc --arg kc "$KDIR/kubeconfig" '{cniVersion: "1.1.0", name: "klan", type: "gamelan-ipam",
	ipam: {type: "gamelan-ipam", range: "10.30.0.0/24", store: {type: "kubernetes", kubeconfig: $kc}}}')

# pod_make NAME: create the pod object; prints its UID.
pod_make() {
	curl -sS --max-time 20 -X POST -H 'Content-Type: application/json' "$PODS" --data-binary \
		"$(jq -nc --arg n "$1" '{apiVersion: "v1", kind: "Pod", metadata: {name: $n},
			spec: {containers: [{name: "server", image: "dst"}]}}')" | jq -r '.metadata.uid // empty'
}

pod_gone() {
	curl -sS --max-time 20 -o /dev/null -X DELETE "$PODS/$1?gracePeriodSeconds=0"
}

# kipam NODE POD UID CONTAINERID [OUTFILE]: ADD from NODE as kubelet's runtime calls it.
kipam() {
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin GAMELAN_NODE="$1" CNI_COMMAND=ADD CNI_CONTAINERID="$4" \
		CNI_NETNS=/run/netns/none-$4 CNI_IFNAME=eth0 CNI_PATH="$GL_BIN" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=$2;K8S_POD_UID=$3;K8S_POD_INFRA_CONTAINER_ID=$4" \
		"$GL_BIN/gamelan-ipam" <<<"$KCONF"
}

case_kube_uid() {
	local uid1 uid2 ip
	uid1=$(pod_make kp-0)
	assert_ne "" "$uid1" "UID of the new pod games/kp-0" || return
	assert_ok kipam node1 kp-0 "$uid1" kc1 || return
	ip=$(jq -r '.ips[0].address' <<<"$T_OUT")
	assert_json_field "$(curl -sS --max-time 20 "$FAKE_URL/apis/gamelan.dev/v1alpha1/namespaces/gamelan-system/ipreservations")" \
		"[.items[] | select(.spec.identity == \"games/kp-0\")][0].spec | [.podUID, .pod] | join(\" \")" \
		"$uid1 games/kp-0" "the reservation records the pod and its UID" || return
	# Another container on another node while the pod (same UID) exists: may be alive.
	assert_rc 1 kipam node2 kp-0 "$uid1" kc2 || return
	assert_cni_error "$T_OUT" 11 || return
	assert_contains "kc1" "$T_OUT" "the error names the holder" || return
	assert_contains "$uid1" "$T_OUT" "the error names the holder's pod UID" || return
	# Force-deleted and made again by its StatefulSet: a new UID, the old holder is gone.
	pod_gone kp-0
	uid2=$(pod_make kp-0)
	assert_ne "$uid1" "$uid2" "UID of the recreated pod" || return
	assert_ok kipam node2 kp-0 "$uid2" kc2 || return
	assert_eq "$ip" "$(jq -r '.ips[0].address' <<<"$T_OUT")" "address of games/kp-0 after the recreation" || return
	# No pod of that name at all: gone too.
	pod_gone kp-0
	assert_ok kipam node1 kp-0 "uid-3" kc3 || return
	assert_eq "$ip" "$(jq -r '.ips[0].address' <<<"$T_OUT")" "address of games/kp-0 once its pod is gone"
}
t_run "Kubernetes store: the holder's pod UID decides (same UID -> 11; new UID or no pod -> rebound)" case_kube_uid

case_kube_burst_pairs() {
	local i uid pids=() wins ips
	for ((i = 0; i < 10; i++)); do
		uid=$(pod_make "kb-$i")
		[[ -n "$uid" ]] || { t_fail "pod kb-$i not created"; return 1; }
		echo "$uid" >"$OUT/kuid.$i"
	done
	for ((i = 0; i < 10; i++)); do
		uid=$(<"$OUT/kuid.$i")
		(kipam node1 "kb-$i" "$uid" "kba$i" >"$OUT/kb.${i}a.out" 2>/dev/null; echo $? >"$OUT/kb.${i}a.rc") &
		pids+=($!)
		(kipam node2 "kb-$i" "$uid" "kbb$i" >"$OUT/kb.${i}b.out" 2>/dev/null; echo $? >"$OUT/kb.${i}b.rc") &
		pids+=($!)
	done
	wait "${pids[@]}"
	for ((i = 0; i < 10; i++)); do
		wins=$(cat "$OUT/kb.${i}a.rc" "$OUT/kb.${i}b.rc" | grep -c '^0$')
		assert_eq 1 "$wins" "ADDs of games/kb-$i that answered rc 0 ($(cat "$OUT/kb.${i}a.out" "$OUT/kb.${i}b.out" | head -c 300))" || return
		for side in a b; do
			if [[ "$(<"$OUT/kb.$i$side.rc")" != 0 ]]; then
				assert_cni_error "$(<"$OUT/kb.$i$side.out")" 11 || return
			fi
		done
	done
	ips=$(cat "$OUT"/kb.*.out | jq -r 'select(.ips) | .ips[0].address' | sort)
	assert_eq 10 "$(sort -u <<<"$ips" | grep -c .)" "distinct addresses of the 10 winners"
}
t_run "Kubernetes store, a burst of 10 pairs from two nodes: one winner per identity, the others 11" \
	case_kube_burst_pairs

t_done
