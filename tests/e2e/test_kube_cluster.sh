#!/usr/bin/env bash
# The product path across two real nodes with the cluster store: the fake API server
# (netns-harness/fakeapi/fakeapi.py) runs in the router's namespace on 192.168.1.1:6443, with TLS
# (a CA made with the openssl CLI, a server certificate for IP 192.168.1.1) and a bearer
# token; both nodes reach it over the world's LAN with a kubeconfig (CA data + tokenFile, as
# conf/k8s/install-cni.sh writes it). The chain gamelan-macvlan (ipam: gamelan-ipam, store
# kubernetes) -> gamelan-snat is called as a runtime calls it (cni_call NODE ...).
# Cases:
#  - both nodes reach the API server (TLS + token; no token -> 403, as system:anonymous;
#    a wrong token -> 401); STATUS 0 on both;
#  - games/dst-0 ADD on node1: an address of the range, the LAN player joins the LAN-only
#    game server in the pod; the IPReservation object: name, address, Bound, node1;
#  - DEL on node1 (object Held), ADD on node2 (new container ID, new netns): same
#    IP and MAC, the LAN player joins it there; the object says Bound, node2;
#  - 10 ADDs on node1 and 10 on node2 at once: all distinct, one object each;
#  - GC on node1 with valid attachments leaving one of its containers out: that reservation
#    Held, node1's others and all of node2's untouched;
#  - the API server stopped: ADD fails with a CNI error (103 or 11) naming the store, no link
#    left in the pod netns nor on the node; STATUS 50;
#  - the API server restarted (the fake keeps no state across restarts) while 19 servers
#    live: STATUS 0; an ADD retried as kubelet does meets them with the ARP probe (Conflict
#    objects, 102 after a few rounds, no link left) and ends on an address nobody uses.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
FAKE=$GL_TOP/netns-harness/fakeapi/fakeapi.py
K=$T_TMP/kube
mkdir -p "$K"
chmod 700 "$K"
KC_FAKE_PID=
API_IP=192.168.1.1
API_PORT=6443
API=https://$API_IP:$API_PORT
TOKEN=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYW1lbGFuLWNsdXN0ZXIifQ.c2lnLWNsdXN0ZXI
GPORT=10999
PER_NODE=${GL_KUBE_CLUSTER_PER_NODE:-10}
RESV=/apis/gamelan.dev/v1alpha1/namespaces/gamelan-system/ipreservations

for c in openssl curl jq; do
	command -v "$c" >/dev/null || t_bail "$c is required"
done
[[ -f "$FAKE" ]] || t_bail "no $FAKE"

kc_fake_stop() {
	if [[ -n "$KC_FAKE_PID" ]]; then
		kill "$KC_FAKE_PID" 2>/dev/null
		wait_until 5 proc_gone "$KC_FAKE_PID" || kill -KILL "$KC_FAKE_PID" 2>/dev/null
		wait "$KC_FAKE_PID" 2>/dev/null
		KC_FAKE_PID=
	fi
}
world_at_exit kc_fake_stop

kc_certs() {
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gamelan-cluster-test-ca \
		-keyout "$K/ca.key" -out "$K/ca.crt" >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver -keyout "$K/srv.key" \
		-out "$K/srv.csr" >/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:%s\n' "$API_IP" >"$K/ext"
	openssl x509 -req -in "$K/srv.csr" -CA "$K/ca.crt" -CAkey "$K/ca.key" -CAcreateserial -days 2 \
		-extfile "$K/ext" -out "$K/srv.crt" >/dev/null 2>&1 || return 1
	printf '%s' "$TOKEN" >"$K/token"
	chmod 600 "$K/token" "$K/ca.key" "$K/srv.key"
	# What install-cni.sh writes: the CA inline, the token by file.
	cat >"$K/kubeconfig" <<-EOF
	apiVersion: v1
	kind: Config
	clusters:
	- name: cluster
	  cluster:
	    server: $API
	    certificate-authority-data: $(base64 -w0 <"$K/ca.crt")
	users:
	- name: gamelan
	  user:
	    tokenFile: $K/token
	contexts:
	- name: gamelan
	  context: {cluster: cluster, user: gamelan, namespace: gamelan-system}
	current-context: gamelan
	EOF
	chmod 600 "$K/kubeconfig"
}

# The project's CRD (conf/k8s/gamelan-crds.yaml) as JSON.
kc_crd() {
	"$PY" -c 'import yaml,json,sys
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "CustomResourceDefinition" and d["spec"]["names"]["plural"] == "ipreservations":
        print(json.dumps(d))' "$GL_TOP/conf/k8s/gamelan-crds.yaml"
}

# api [CURL ARGS...] PATH: a request to the fake from the router's namespace, with CA and token.
api() {
	local path=${*: -1}
	ip netns exec "$(world_ns router)" curl -sS -m 10 --cacert "$K/ca.crt" \
		-H "Authorization: Bearer $TOKEN" "${@:1:$#-1}" "$API$path"
}

# kc_fake_start: the fake in the router's namespace on the LAN address, the CRD posted.
kc_fake_start() {
	rm -f "$K/port"
	ip netns exec "$(world_ns router)" "$PY" "$FAKE" --listen "$API_IP:$API_PORT" --port-file "$K/port" \
		--tls-cert "$K/srv.crt" --tls-key "$K/srv.key" --token "$TOKEN" --namespace gamelan-system \
		</dev/null >>"$K/fake.log" 2>&1 &
	KC_FAKE_PID=$!
	wait_until 15 test -s "$K/port" || { t_note "fake log: $(tail -c 400 "$K/fake.log")"; return 1; }
	local code
	code=$(api -o "$K/crd.out" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
		--data @"$K/crd.json" /apis/apiextensions.k8s.io/v1/customresourcedefinitions)
	[[ "$code" == 201 ]] || { t_note "posting the CRD: HTTP $code $(head -c 300 "$K/crd.out")"; return 1; }
	wait_until 10 api -f "$RESV" || { t_note "the CRD's resource is not served"; return 1; }
}

objects() {
	api -f "$RESV"
}

# obj_of IDENTITY: that identity's objects, as a JSON array.
obj_of() {
	objects | jq -c --arg id "$1" '[.items[] | select(.spec.identity == $id)]'
}

# The object's name as the store derives it for network "lan".
obj_name() {
	printf 'lan-%s\n' "${1//./-}"
}

world_up || t_bail "world_up failed"
kc_certs || t_bail "openssl could not make the CA and the server certificate"
{ kc_crd >"$K/crd.json" && [[ -s "$K/crd.json" ]]; } || t_bail "no CRD in conf/k8s/gamelan-crds.yaml"
kc_fake_start || t_bail "the fake API server did not start on $API in the router's namespace"

CONF=$(jq -nc --arg kc "$K/kubeconfig" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	ipam: {type: "gamelan-ipam", range: "192.168.1.200-192.168.1.250/24",
		gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "kubernetes", kubeconfig: $kc, namespace: "gamelan-system"}}}')
SNAT=$(jq -nc '{cniVersion: "1.1.0", name: "lan", type: "gamelan-snat"}')

# Each node has its own disk: its own macvlan state directory. The NAD is the same.
conf_for() {
	jq -c --arg sd "$T_TMP/$1/macvlan" '.stateDir = $sd' <<<"$CONF"
}

with_prev() {
	jq -c --argjson p "$2" '. + {prevResult: $p}' <<<"$1"
}

# chain_add NODE NETNS CID ARGS: gamelan-macvlan, then gamelan-snat with its result; prints
# the chain's result (or the failing plugin's error), returns the failing plugin's status.
chain_add() {
	local node=$1 path=$2 cid=$3 args=$4 r1 rc
	r1=$(cni_call "$node" gamelan-macvlan ADD "$path" eth0 "$cid" "$args" <<<"$(conf_for "$node")")
	rc=$?
	if ((rc != 0)); then
		printf '%s\n' "$r1"
		return $rc
	fi
	cni_call "$node" gamelan-snat ADD "$path" eth0 "$cid" "$args" <<<"$(with_prev "$SNAT" "$r1")"
}

# chain_del NODE NETNS CID ARGS PREVRESULT: in reverse order, with the cached result.
chain_del() {
	local node=$1 path=$2 cid=$3 args=$4 prev=$5 rc
	cni_call "$node" gamelan-snat DEL "$path" eth0 "$cid" "$args" <<<"$(with_prev "$SNAT" "$prev")"
	rc=$?
	((rc == 0)) || return $rc
	cni_call "$node" gamelan-macvlan DEL "$path" eth0 "$cid" "$args" <<<"$(with_prev "$(conf_for "$node")" "$prev")"
}

status_of() {
	cni_call "$1" gamelan-macvlan STATUS "" "" "" "" <<<"$(conf_for "$1")"
}

# ---- the API server on the LAN ----
case_reach() {
	local n
	for n in node1 node2; do
		assert_ok ip netns exec "$(world_ns "$n")" curl -sS -f -m 10 --cacert "$K/ca.crt" \
			-H "Authorization: Bearer $TOKEN" "$API/api/v1/namespaces/gamelan-system" || return
		assert_json_field "$T_OUT" '.metadata.name' gamelan-system "namespace read from $n" || return
		# The token is required: without it the request is system:anonymous, whom RBAC
		# refuses (403); a wrong token fails authentication (401).
		assert_ok ip netns exec "$(world_ns "$n")" curl -sS -m 10 --cacert "$K/ca.crt" -o /dev/null \
			-w '%{http_code}' "$API/api/v1/namespaces" || return
		assert_eq 403 "$T_OUT" "HTTP status without the token from $n" || return
		assert_ok ip netns exec "$(world_ns "$n")" curl -sS -m 10 --cacert "$K/ca.crt" -o /dev/null \
			-H "Authorization: Bearer not-$TOKEN" -w '%{http_code}' "$API/api/v1/namespaces" || return
		assert_eq 401 "$T_OUT" "HTTP status with a wrong token from $n" || return
		assert_ok status_of "$n" || return
	done
	# The plugin checks the server's certificate and sends the token: a kubeconfig with
	# another CA, or with a wrong token, makes the store unusable (STATUS 50).
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca \
		-keyout "$K/other.key" -out "$K/other.crt" >/dev/null 2>&1 || { t_fail "openssl"; return 1; }
	sed "s#certificate-authority-data: .*#certificate-authority-data: $(base64 -w0 <"$K/other.crt")#" \
		"$K/kubeconfig" >"$K/other-ca.kubeconfig"
	printf 'wrong-token' >"$K/wrong-token"
	sed "s#tokenFile: .*#tokenFile: $K/wrong-token#" "$K/kubeconfig" >"$K/wrong-token.kubeconfig"
	chmod 600 "$K/other-ca.kubeconfig" "$K/wrong-token.kubeconfig" "$K/wrong-token"
	local kcf
	for kcf in other-ca wrong-token; do
		assert_rc 1 cni_call node1 gamelan-macvlan STATUS "" "" "" "" \
			<<<"$(conf_for node1 | jq -c --arg k "$K/$kcf.kubeconfig" '.ipam.store.kubeconfig = $k')" || return
		assert_cni_error "$T_OUT" 50 || return
		t_note "STATUS with $kcf: $(jq -r .msg <<<"$T_OUT" | cut -c1-250)"
	done
}
t_run "the API server on $API_IP:$API_PORT: both nodes reach it over the LAN (TLS, token); STATUS 0" case_reach

# ---- games/dst-0 on node1, then on node2 ----
D_IP='' D_MAC='' D_CID='' D_PATH='' D_RES=''
case_dst0_node1() {
	local o link_mac
	D_PATH=$(pod_netns dst0-n1) || { t_fail "pod_netns"; return 1; }
	D_CID=$(t_container_id)
	assert_ok chain_add node1 "$D_PATH" "$D_CID" "$(k8s_args games dst-0 "$D_CID")" || return
	D_RES=$T_OUT
	D_IP=$(jq -r '.ips[0].address | split("/")[0]' <<<"$D_RES")
	D_MAC=$(jq -r '.interfaces[] | select(.sandbox != null) | .mac' <<<"$D_RES" | head -n 1)
	assert_match '^192\.168\.1\.(2[0-4][0-9]|250)$' "$D_IP" "address of games/dst-0" || return
	assert_match '^([0-9a-f]{2}:){5}[0-9a-f]{2}$' "$D_MAC" "MAC in the result" || return
	assert_addr pod-dst0-n1 eth0 "$D_IP/24" || return
	link_mac=$(ip -n "$(world_ns pod-dst0-n1)" -j link show dev eth0 | jq -r '.[0].address')
	assert_eq "$D_MAC" "$link_mac" "MAC of the link on node1" || return
	assert_contains "inet gamelan-snat-eth0" "$(ns_nft_tables pod-dst0-n1)" "gamelan-snat's table in the pod" || return
	game_server_start pod-dst0-n1 "$GPORT" "$T_TMP/dst0-n1.log" || { t_fail "lanserver in the pod"; return 1; }
	assert_rc 0 game_join lanp "$D_IP" "$GPORT" wilson || return
	assert_eq "accepted wilson from [LAN] 192.168.1.77" "$T_OUT" "LAN player's join on node1" || return
	# The reservation, read from the API server.
	assert_ok obj_of games/dst-0 || return
	o=$T_OUT
	assert_json_field "$o" 'length' 1 "objects of games/dst-0" || return
	assert_json_field "$o" '.[0].metadata.name' "$(obj_name "$D_IP")" "object name" || return
	assert_json_field "$o" '.[0].spec.address' "$D_IP" "spec.address" || return
	assert_json_field "$o" '.[0].spec.state' Bound "spec.state" || return
	assert_json_field "$o" '.[0].spec.node' node1 "spec.node" || return
	assert_json_field "$o" '.[0].spec.containerID' "$D_CID" "spec.containerID" || return
	assert_json_field "$o" '.[0].spec.network' lan "spec.network" || return
	assert_json_field "$o" '.[0].metadata.labels["gamelan.dev/node"]' node1 "node label" || return
}
t_run "games/dst-0 ADD on node1 (macvlan+ipam+snat): range address, LAN player accepted, object Bound on node1" case_dst0_node1

case_dst0_move() {
	local o link_mac cid2 path2 name
	[[ -n "$D_IP" ]] || { t_fail "no games/dst-0 from the previous case"; return 1; }
	name=$(obj_name "$D_IP")
	assert_ok chain_del node1 "$D_PATH" "$D_CID" "$(k8s_args games dst-0 "$D_CID")" "$D_RES" || return
	assert_no_link pod-dst0-n1 eth0 || return
	o=$(api -f "$RESV/$name") || { t_fail "GET $name after DEL"; return 1; }
	assert_json_field "$o" '.spec.state' Held "state after DEL on node1" || return
	assert_json_field "$o" '.spec.expires != null' true "held (expires set) after DEL" || return
	assert_json_field "$o" '.spec.identity' games/dst-0 "identity kept while held" || return
	pod_netns_del dst0-n1
	# The pod comes back on node2: a new sandbox, a new container ID.
	path2=$(pod_netns dst0-n2) || { t_fail "pod_netns"; return 1; }
	cid2=$(t_container_id)
	assert_ok chain_add node2 "$path2" "$cid2" "$(k8s_args games dst-0 "$cid2")" || return
	D_RES=$T_OUT D_CID=$cid2 D_PATH=$path2
	assert_json_field "$D_RES" '.ips[0].address' "$D_IP/24" "address of games/dst-0 on node2" || return
	assert_json_field "$D_RES" '[.interfaces[] | select(.sandbox != null) | .mac][0]' "$D_MAC" \
		"MAC of games/dst-0 on node2" || return
	link_mac=$(ip -n "$(world_ns pod-dst0-n2)" -j link show dev eth0 | jq -r '.[0].address')
	assert_eq "$D_MAC" "$link_mac" "MAC of the link on node2" || return
	assert_addr pod-dst0-n2 eth0 "$D_IP/24" || return
	assert_ok cni_call node2 gamelan-macvlan CHECK "$path2" eth0 "$cid2" "$(k8s_args games dst-0 "$cid2")" \
		<<<"$(with_prev "$(conf_for node2)" "$D_RES")" || return
	game_server_start pod-dst0-n2 "$GPORT" "$T_TMP/dst0-n2.log" || { t_fail "lanserver in the pod"; return 1; }
	assert_rc 0 game_join lanp "$D_IP" "$GPORT" wilson || return
	assert_eq "accepted wilson from [LAN] 192.168.1.77" "$T_OUT" "LAN player's join on node2" || return
	assert_ok obj_of games/dst-0 || return
	o=$T_OUT
	assert_json_field "$o" 'length' 1 "objects of games/dst-0 after the move" || return
	assert_json_field "$o" '.[0].metadata.name' "$name" "the same object" || return
	assert_json_field "$o" '.[0].spec.state' Bound "state on node2" || return
	assert_json_field "$o" '.[0].spec.node' node2 "node after the move" || return
	assert_json_field "$o" '.[0].spec.containerID' "$cid2" "container after the move" || return
	assert_json_field "$o" '.[0].metadata.labels["gamelan.dev/node"]' node2 "node label after the move" || return
}
t_run "games/dst-0: DEL on node1 (Held), ADD on node2 (new netns, container): same IP and MAC, LAN player accepted, object Bound on node2" case_dst0_move

# ---- many servers on both nodes at once ----
declare -A G_CID G_IP
case_concurrent() {
	local n i pod cid pids=() bad=0 objs ips t0 t1
	for n in 1 2; do
		for ((i = 0; i < PER_NODE; i++)); do
			pod=gs-$n-$i
			pod_netns "$pod" >/dev/null || { t_fail "pod_netns $pod"; return 1; }
			G_CID[$pod]=$(t_container_id)
		done
	done
	t0=$(date +%s%N)
	for n in 1 2; do
		for ((i = 0; i < PER_NODE; i++)); do
			pod=gs-$n-$i cid=${G_CID[gs-$n-$i]}
			(
				chain_add "node$n" "/run/netns/$(world_ns "pod-$pod")" "$cid" "$(k8s_args games "$pod" "$cid")" \
					>"$K/add.$pod.out" 2>"$K/add.$pod.err"
				echo $? >"$K/add.$pod.rc"
			) &
			pids+=($!)
		done
	done
	wait "${pids[@]}"
	t1=$(date +%s%N)
	t_note "$((2 * PER_NODE)) concurrent chain ADDs on two nodes: $(((t1 - t0) / 1000000)) ms"
	for n in 1 2; do
		for ((i = 0; i < PER_NODE; i++)); do
			pod=gs-$n-$i
			if [[ "$(cat "$K/add.$pod.rc" 2>/dev/null)" != 0 ]]; then
				bad=$((bad + 1))
				((bad <= 3)) && t_fail "ADD of $pod on node$n: rc $(cat "$K/add.$pod.rc" 2>/dev/null)" \
					"$(head -c 300 "$K/add.$pod.out") $(tail -c 300 "$K/add.$pod.err")"
				continue
			fi
			G_IP[$pod]=$(jq -r '.ips[0].address | split("/")[0]' "$K/add.$pod.out")
			assert_addr "pod-$pod" eth0 "${G_IP[$pod]}/24" || bad=$((bad + 1))
		done
	done
	((bad == 0)) || { t_fail "$bad of $((2 * PER_NODE)) ADDs failed"; return 1; }
	ips=$(printf '%s\n' "${G_IP[@]}" "$D_IP" | sort)
	assert_eq $((2 * PER_NODE + 1)) "$(sort -u <<<"$ips" | wc -l)" \
		"distinct addresses (games/dst-0 and the $((2 * PER_NODE)) new ones): $(tr '\n' ' ' <<<"$ips")" || return
	objs=$(objects) || { t_fail "listing the objects"; return 1; }
	assert_eq $((2 * PER_NODE)) "$(jq '[.items[] | select(.spec.identity | startswith("games/gs-"))] | length' <<<"$objs")" \
		"objects of the new servers" || return
	assert_eq $((2 * PER_NODE + 1)) "$(jq '[.items[] | select(.spec.state == "Bound") | .spec.address] | unique | length' <<<"$objs")" \
		"distinct Bound addresses in the objects" || return
	for n in 1 2; do
		for ((i = 0; i < PER_NODE; i++)); do
			pod=gs-$n-$i
			assert_eq "1 ${G_IP[$pod]} Bound node$n ${G_CID[$pod]} $(obj_name "${G_IP[$pod]}")" \
				"$(jq -r --arg id "games/$pod" '[.items[] | select(.spec.identity == $id)] |
					"\(length) \(.[0].spec.address) \(.[0].spec.state) \(.[0].spec.node) \(.[0].spec.containerID) \(.[0].metadata.name)"' \
					<<<"$objs")" "the object of games/$pod" || return
		done
	done
	# One server on each node answers the LAN player.
	for n in 1 2; do
		pod=gs-$n-0
		game_server_start "pod-$pod" "$GPORT" "$T_TMP/$pod.log" || { t_fail "lanserver in $pod"; return 1; }
		assert_rc 0 game_join lanp "${G_IP[$pod]}" "$GPORT" "p$n" || return
	done
}
t_run "$PER_NODE ADDs on node1 and $PER_NODE on node2 at once: all distinct addresses, one Bound object each" case_concurrent

# ---- GC on node1 ----
case_gc() {
	local n i pod gone=gs-1-3 valid gc objs st
	[[ -n "${G_IP[$gone]:-}" ]] || { t_fail "no $gone from the previous case"; return 1; }
	# node1's runtime knows its attachments: all of node1's servers but gs-1-3.
	valid=$(for ((i = 0; i < PER_NODE; i++)); do
		pod=gs-1-$i
		[[ "$pod" == "$gone" ]] || jq -nc --arg c "${G_CID[$pod]}" '{containerID: $c, ifname: "eth0"}'
	done | jq -sc .)
	gc=$(jq -c --argjson v "$valid" '. + {"cni.dev/valid-attachments": $v}' <<<"$(conf_for node1)")
	assert_ok cni_call node1 gamelan-macvlan GC "" "" "" "" <<<"$gc" || return
	assert_ok cni_call node1 gamelan-snat GC "" "" "" "" \
		<<<"$(jq -c --argjson v "$valid" '. + {"cni.dev/valid-attachments": $v}' <<<"$SNAT")" || return
	objs=$(objects) || { t_fail "listing the objects"; return 1; }
	st=$(jq -r --arg a "${G_IP[$gone]}" '.items[] | select(.spec.address == $a) | "\(.spec.state) \(.spec.expires != null)"' <<<"$objs")
	assert_eq "Held true" "$st" "games/$gone's reservation after GC on node1 (state, held)" || return
	for n in 1 2; do
		for ((i = 0; i < PER_NODE; i++)); do
			pod=gs-$n-$i
			[[ "$pod" == "$gone" ]] && continue
			assert_eq "Bound node$n" "$(jq -r --arg id "games/$pod" '.items[] | select(.spec.identity == $id) | "\(.spec.state) \(.spec.node)"' <<<"$objs")" \
				"games/$pod after GC on node1" || return
		done
	done
	assert_eq "Bound node2" "$(jq -r '.items[] | select(.spec.identity == "games/dst-0") | "\(.spec.state) \(.spec.node)"' <<<"$objs")" \
		"games/dst-0 (node2, not in node1's list) after GC on node1" || return
	# The runtime's DEL of the collected attachment still succeeds, and changes nothing.
	assert_ok chain_del node1 "/run/netns/$(world_ns "pod-$gone")" "${G_CID[$gone]}" \
		"$(k8s_args games "$gone" "${G_CID[$gone]}")" "$(cat "$K/add.$gone.out")" || return
	assert_no_link "pod-$gone" eth0 || return
	assert_eq Held "$(objects | jq -r --arg a "${G_IP[$gone]}" '.items[] | select(.spec.address == $a) | .spec.state')" \
		"games/$gone after its DEL" || return
	pod_netns_del "$gone"
}
t_run "GC on node1 without gs-1-3 among the valid attachments: its reservation Held, node1's others and node2's untouched" case_gc

# ---- the API server unreachable, then back ----
node_links() {
	ip -n "$(world_ns "$1")" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' '
}

case_unreachable() {
	local path cid before1 t0 t1 code msg
	kc_fake_stop
	wait_until 5 bash -c "! ip netns exec $(world_ns router) ss -Htln 'sport = :$API_PORT' | grep -q ." ||
		{ t_fail "the fake still listens"; return 1; }
	path=$(pod_netns down-0) || { t_fail "pod_netns"; return 1; }
	cid=$(t_container_id)
	before1=$(node_links node1)
	t0=$(date +%s%N)
	assert_rc 1 chain_add node1 "$path" "$cid" "$(k8s_args games down-0 "$cid")" || return
	t1=$(date +%s%N)
	t_note "ADD with the API server down failed in $(((t1 - t0) / 1000000)) ms: $(head -c 300 <<<"$T_OUT")"
	code=$(jq -r .code <<<"$T_OUT" 2>/dev/null)
	msg=$(jq -r '.msg // empty' <<<"$T_OUT" 2>/dev/null)
	assert_match '^(103|11)$' "$code" "CNI error code (store or try again): $T_OUT" || return
	assert_match '[Kk]ubernetes' "$msg" "the error names the store" || return
	(((t1 - t0) / 1000000 < 30000)) || { t_fail "the failed ADD took $(((t1 - t0) / 1000000)) ms"; return 1; }
	assert_eq "lo " "$(pod_links down-0)" "links in the pod after the failed ADD" || return
	assert_eq "$before1" "$(node_links node1)" "links on node1 after the failed ADD" || return
	assert_rc 1 status_of node1 || return
	assert_cni_error "$T_OUT" 50 || return
	assert_rc 1 status_of node2 || return
	assert_cni_error "$T_OUT" 50 || return
	pod_netns_del down-0
	# What a DEL does meanwhile (kubelet retries a failed DEL): reported, not asserted.
	local cid9=${G_CID[gs-2-9]:-}
	if [[ -n "$cid9" ]]; then
		cni_call node2 gamelan-macvlan DEL "/run/netns/$(world_ns pod-gs-2-9)" eth0 "$cid9" \
			"$(k8s_args games gs-2-9 "$cid9")" <<<"$(with_prev "$(conf_for node2)" "$(cat "$K/add.gs-2-9.out")")" \
			>"$K/del9.out" 2>&1
		t_note "DEL of gs-2-9 on node2 with the API server down: rc $?, $(head -c 250 "$K/del9.out");" \
			"links left in its pod: $(pod_links gs-2-9)"
		# Either way the runtime would tear the sandbox down: gs-2-9 leaves the LAN.
		pod_netns_del gs-2-9
	fi
}
t_run "API server stopped: ADD fails with code 103/11 naming the store, nothing left in pod or node; STATUS 50" case_unreachable

# The fake keeps no state across a restart (fakeapi.py has no persistence option): the
# cluster's truth is gone while 19 servers still hold their addresses on the LAN. An ADD
# then meets them with gamelan-macvlan's ARP probe: each round sets the live address aside
# (a Conflict object) and, after a few rounds, fails with 102; retried as kubelet retries
# (a new sandbox ID each time), it must end with an address nobody on the LAN uses.
case_restart() {
	local path cid o ip attempt live objs conflicts
	kc_fake_start || { t_fail "the fake did not restart: $(tail -c 300 "$K/fake.log")"; return 1; }
	assert_ok status_of node1 || return
	assert_ok status_of node2 || return
	assert_eq 0 "$(objects | jq '.items | length')" "objects after the restart (the fake keeps none)" || return
	# The addresses the LAN uses now: those on the pods' links.
	live=$(for ns in $(world_namespaces); do
		[[ "$ns" == *-pod-* ]] && ip -n "$ns" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1
	done)
	assert_eq $((2 * PER_NODE - 1)) "$(wc -l <<<"$live")" "live servers on the LAN (dst-0, gs-* but gs-1-3 and gs-2-9)" || return
	path=$(pod_netns back-0) || { t_fail "pod_netns"; return 1; }
	for ((attempt = 1; attempt <= 10; attempt++)); do
		cid=$(t_container_id)
		chain_add node2 "$path" "$cid" "$(k8s_args games back-0 "$cid")" >"$K/back.out" 2>"$K/back.err" && break
		assert_json_field "$(cat "$K/back.out")" .code 102 "code of failed attempt $attempt" || return
		assert_eq "lo " "$(pod_links back-0)" "links in the pod after failed attempt $attempt" || return
	done
	((attempt <= 10)) || { t_fail "no address after 10 attempts: $(head -c 300 "$K/back.out")"; return 1; }
	ip=$(jq -r '.ips[0].address | split("/")[0]' "$K/back.out")
	t_note "games/back-0 got $ip at attempt $attempt (gs-1-3 had ${G_IP[gs-1-3]}; Conflict objects: $(objects | jq -r "[.items[] | select(.spec.state == \"Conflict\") | .spec.address] | join(\" \")"))"
	grep -qx "$ip" <<<"$live" && { t_fail "$ip is a live server's address"; return 1; }
	assert_addr pod-back-0 eth0 "$ip/24" || return
	objs=$(objects) || { t_fail "listing the objects"; return 1; }
	assert_eq "$ip Bound node2" "$(jq -r '[.items[] | select(.spec.identity == "games/back-0") | "\(.spec.address) \(.spec.state) \(.spec.node)"] | join(",")' <<<"$objs")" \
		"games/back-0's object after the restart" || return
	conflicts=$(jq -r '.items[] | select(.spec.state == "Conflict") | .spec.address' <<<"$objs")
	[[ -n "$conflicts" || "$attempt" == 1 ]] || { t_fail "failed attempts but no Conflict object"; return 1; }
	for o in $conflicts; do
		grep -qx "$o" <<<"$live" || { t_fail "Conflict object for $o, which no live server uses"; return 1; }
	done
	game_server_start pod-back-0 "$GPORT" "$T_TMP/back-0.log" || { t_fail "lanserver in back-0"; return 1; }
	assert_rc 0 game_join lanp "$ip" "$GPORT" wilson || return
}
t_run "API server restarted with no state, 19 servers live: STATUS 0; ADD retried as kubelet does never takes a live address" case_restart

kc_fake_stop
t_done
