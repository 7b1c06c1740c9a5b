#!/usr/bin/env bash
# The seed's story, played in network namespaces and told step by step.
#
#   netns-harness/demo.sh BIN_DIR        (make demo)
#
# Two LAN-only game servers get real LAN addresses from gamelan-macvlan + gamelan-ipam; a LAN
# player gets in, a WAN friend is refused; one server is deleted and recreated on another
# node with the same IP and MAC. Last act: the WAN friend, refused even through the home
# router's port-forward, gets in once gamelan-snat is chained in the pod (in-pod mode), and
# again with gamelan-snat's router mode instead. Exits non-zero as soon as a step does not
# behave as told.
# Everything (namespaces, the IPAM store) lives in temporary places and is removed at exit.
#
# For checking the script's mechanics against other plugins: GL_DEMO_MACVLAN=macvlan and/or
# GL_DEMO_IPAM=host-local (the "same IP after recreate" step then fails, as in the seed).
set -u

if (($# != 1)) || [[ ! -d "$1" ]]; then
	echo "usage: $0 BIN_DIR (e.g. build/bin)" >&2
	exit 64
fi
if [[ "$(id -u)" != 0 ]]; then
	echo "demo: must run as root (it builds network namespaces)" >&2
	exit 1
fi
GL_BIN=$(cd "$1" && pwd)
GLW=${GLW:-demo$$}
. "$(dirname "${BASH_SOURCE[0]}")/world.sh"

MACVLAN=${GL_DEMO_MACVLAN:-gamelan-macvlan}
IPAM=${GL_DEMO_IPAM:-gamelan-ipam}
PORT=10999
export GAME_JOIN_TIMEOUT_MS=2000

step_no=0
step() {
	step_no=$((step_no + 1))
	printf '\n%d. %s\n' "$step_no" "$*"
}
say() {
	printf '   %s\n' "$@"
}
fail() {
	if ((step_no == 0)); then
		printf 'DEMO FAILED before it began: %s\n' "$*" >&2
	else
		printf '\n   DEMO FAILED at step %d: %s\n' "$step_no" "$*" >&2
	fi
	exit 1
}
container_id() {
	od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

for tool in jq od; do
	command -v "$tool" >/dev/null || fail "$tool is missing (make deps)"
done
for p in "$MACVLAN" "$IPAM" gamelan-snat lanserver lanclient; do
	[[ -x "$GL_BIN/$p" || -x "/usr/lib/cni/$p" ]] || fail "$p is not built in $GL_BIN"
done

TMP=$(mktemp -d /tmp/gamelan-demo.XXXXXX)
chmod 700 "$TMP"
world_at_exit "rm -rf '$TMP'"

# ---------------------------------------------------------------------------------------------
step "Build the seed's world in network namespaces (prefix $GLW)."
world_up || fail "world_up failed"
say "LAN 192.168.1.0/24 on a switch: router 192.168.1.1 (the gateway), node1 192.168.1.11 and" \
	"node2 192.168.1.12 (Kubernetes nodes; their eth0 is the macvlan master), and the LAN" \
	"player 192.168.1.77. Behind the router's WAN side: a friend at 198.51.100.56."

# ---------------------------------------------------------------------------------------------
step "The network config: the seed's macvlan NetworkAttachmentDefinition, with only the types changed."
case "$IPAM" in
host-local)
	ipam=$(jq -nc --arg d "$TMP/host-local" '{type:"host-local", dataDir:$d,
		ranges:[[{subnet:"192.168.1.0/24", rangeStart:"192.168.1.200",
		rangeEnd:"192.168.1.216", gateway:"192.168.1.1"}]], routes:[{dst:"0.0.0.0/0"}]}')
	;;
*)
	ipam=$(jq -nc --arg t "$IPAM" --arg db "$TMP/ipam.db" '{type:$t,
		range:"192.168.1.200-192.168.1.216/24", gateway:"192.168.1.1",
		routes:[{dst:"0.0.0.0/0"}], store:{type:"sqlite", path:$db}}')
	;;
esac
CONF=$(jq -n --arg t "$MACVLAN" --arg sd "$TMP/macvlan-state" --argjson ipam "$ipam" \
	'{cniVersion:"1.0.0", name:"lan", type:$t, master:"eth0", mode:"bridge",
	  stateDir:$sd, ipam:$ipam}') || fail "cannot build the config"
printf '%s\n' "$CONF" | sed 's/^/   /'
say "(stateDir and store.path point into $TMP only so that the demo leaves nothing behind.)"

# pod_add NODE NAME NETNS_NAME: ADD as kubelet's runtime would; sets CID, IP, MAC and RES
# (the result, which a chained plugin gets as prevResult).
pod_add() {
	local node=$1 name=$2 nsname=$3 path res rc
	path=$(pod_netns "$nsname") || fail "cannot create the pod's netns"
	CID=$(container_id)
	res=$(cni_call "$node" "$MACVLAN" ADD "$path" eth0 "$CID" \
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=$name;K8S_POD_INFRA_CONTAINER_ID=$CID" \
		<<<"$CONF")
	rc=$?
	if ((rc != 0)); then
		printf '%s\n' "$res" | sed 's/^/   /' >&2
		fail "CNI ADD of games/$name on $node exited $rc"
	fi
	RES=$res
	IP=$(jq -r '.ips[0].address // empty' <<<"$res" | cut -d/ -f1)
	MAC=$(jq -r '(.ips[0].interface // 0) as $i | .interfaces[$i].mac // empty' <<<"$res")
	[[ -n "$IP" && -n "$MAC" ]] || fail "the ADD result has no address or MAC: $res"
	say "games/$name on $node: IP $IP, MAC $MAC  (netns $path, container ${CID:0:12}...)"
}

# pod_del NODE NAME NETNS_NAME CID
pod_del() {
	local rc
	cni_call "$1" "$MACVLAN" DEL "/run/netns/$(world_ns "pod-$3")" eth0 "$4" \
		"IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=$2;K8S_POD_INFRA_CONTAINER_ID=$4" \
		<<<"$CONF" >/dev/null
	rc=$?
	((rc == 0)) || fail "CNI DEL of games/$2 exited $rc"
	pod_netns_del "$3" || fail "cannot remove the netns of games/$2"
}

in_range() {
	local last=${1##*.}
	[[ "$1" == 192.168.1.* ]] && ((last >= 200 && last <= 216))
}

# ---------------------------------------------------------------------------------------------
step "Kubernetes starts two LAN-only game servers, games/dst-0 and games/dst-1, on node1 (CNI ADD)."
pod_add node1 dst-0 dst-0
IP0=$IP MAC0=$MAC CID0=$CID
pod_add node1 dst-1 dst-1
IP1=$IP CID1=$CID
if ! in_range "$IP0" || ! in_range "$IP1"; then
	fail "addresses outside 192.168.1.200-216: $IP0, $IP1"
fi
[[ "$IP0" != "$IP1" ]] || fail "both servers got $IP0"
say "Each has its own real address on the LAN: no Docker bridge, no host network."

# ---------------------------------------------------------------------------------------------
step "Each pod runs the LAN-only game server on the same port $PORT/udp (offline DST cannot change it)."
game_server_start pod-dst-0 "$PORT" "$TMP/dst-0.log" || fail "lanserver did not start in dst-0"
game_server_start pod-dst-1 "$PORT" "$TMP/dst-1.log" || fail "lanserver did not start in dst-1"
say "$(head -n 1 "$TMP/dst-0.log")"

# ---------------------------------------------------------------------------------------------
step "The LAN player 192.168.1.77 joins dst-0 at $IP0 and dst-1 at $IP1."
out=$(game_join lanp "$IP0" "$PORT" wilson) || fail "dst-0 did not accept the LAN player: $out"
say "dst-0 answers: $out"
out=$(game_join lanp "$IP1" "$PORT" wendy) || fail "dst-1 did not accept the LAN player: $out"
say "dst-1 answers: $out"
say "dst-0 logs:    $(grep -m1 'Client connected' "$TMP/dst-0.log")"

# ---------------------------------------------------------------------------------------------
step "The WAN friend 198.51.100.56 tries dst-0 through the router."
out=$(game_join wanp "$IP0" "$PORT" friend)
rc=$?
((rc == 1)) || fail "expected a refusal, got status $rc: $out"
say "dst-0 answers: $out"
say "dst-0 logs:    $(grep -m1 'refusing' "$TMP/dst-0.log")"
say "The server is LAN-only: the friend's source address is not on its LAN (the seed's step 3)."

# ---------------------------------------------------------------------------------------------
step "games/dst-0 is deleted: CNI DEL, and its network namespace goes away."
pod_del node1 dst-0 dst-0 "$CID0"
out=$(GAME_JOIN_TIMEOUT_MS=500 game_join lanp "$IP0" "$PORT" wilson)
rc=$?
((rc == 2)) || fail "something still answers at $IP0 (status $rc): $out"
say "Nobody answers at $IP0 any more."

# ---------------------------------------------------------------------------------------------
step "The StatefulSet recreates games/dst-0, this time on node2: new netns, new container ID."
pod_add node2 dst-0 dst-0-again
IP0B=$IP MAC0B=$MAC CID0B=$CID RES0B=$RES
[[ "$CID0B" != "$CID0" ]] || fail "the container ID did not change"
[[ "$IP0B" == "$IP0" ]] || fail "dst-0 came back with $IP0B instead of $IP0: a port-forward to $IP0 would break (the seed's step 6)"
[[ "$MAC0B" == "$MAC0" ]] || fail "dst-0 came back with MAC $MAC0B instead of $MAC0"
say "Same IP $IP0 and same MAC $MAC0 as before:" \
	"the router's port-forward and its ARP cache stay valid."
game_server_start pod-dst-0-again "$PORT" "$TMP/dst-0b.log" || fail "lanserver did not start in the new dst-0"
out=$(game_join lanp "$IP0" "$PORT" wilson) || fail "the new dst-0 did not accept the LAN player: $out"
say "The LAN player joins again: $out"

# ---------------------------------------------------------------------------------------------
step "The reservations, as gamelan-ipam sees them."
if [[ "$IPAM" == gamelan-ipam ]]; then
	list=$("$GL_BIN/gamelan-ipam" --db "$TMP/ipam.db" list --network lan 2>&1) ||
		fail "gamelan-ipam list failed: $list"
	printf '%s\n' "$list" | sed 's/^/   /'
	if ! grep -q "games/dst-0.*$IP0\|$IP0.*games/dst-0" <<<"$list"; then
		fail "the list does not show games/dst-0 with $IP0"
	fi
else
	say "(IPAM is $IPAM here: no gamelan-ipam store to list.)"
fi

# ---------------------------------------------------------------------------------------------
# The last act: the WAN friend gets in.
WAN=$WORLD_WAN_ADDR
GW=$WORLD_LAN_GW
ARGS0B="IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0;K8S_POD_INFRA_CONTAINER_ID=$CID0B"

# snat_call COMMAND: gamelan-snat on dst-0's attachment, as the conflist's second plugin.
snat_call() {
	cni_call node2 gamelan-snat "$1" "/run/netns/$(world_ns pod-dst-0-again)" eth0 "$CID0B" "$ARGS0B" \
		<<<"$(jq -c --argjson prev "$RES0B" '. + {prevResult: $prev}' <<<"$SNAT")"
}

# last_client LOG: the server's last "Client connected" line.
last_client() {
	grep 'Client connected' "$1" | tail -n 1
}

step "The friend asks the user to forward port $PORT on the home router to dst-0's pinned $IP0."
out=$(router_port_forward dst-0 "$PORT" "$IP0" 2>&1) || fail "the router's port-forward failed: $out"
say "On the router: gamelan-snat router add dst-0 --wan-if wan0 --proto udp --port $PORT" \
	"  --to $IP0 --no-snat    (DNAT only: what any consumer router's port-forward does)"
out=$(game_join wanp "$WAN" "$PORT" friend)
rc=$?
((rc == 1)) || fail "expected a refusal through the port-forward, got status $rc: $out"
say "The friend joins $WAN:$PORT; dst-0 answers: $out"
say "The forward works, but the server still sees a WAN address and stays LAN-only."

# ---------------------------------------------------------------------------------------------
step "In-pod mode: gamelan-snat is chained after gamelan-macvlan in dst-0's network config."
SNAT=$(jq -nc '{cniVersion: "1.0.0", name: "lan", type: "gamelan-snat", gateway: "192.168.1.1",
	lan: ["192.168.1.0/24"], ports: [{protocol: "udp", port: 10999}]}')
say "The conflist's second entry:"
jq -c 'del(.cniVersion, .name)' <<<"$SNAT" | sed 's/^/     /'
out=$(snat_call ADD) || fail "gamelan-snat ADD failed: $out"
[[ "$(jq -cS . <<<"$out")" == "$(jq -cS . <<<"$RES0B")" ]] ||
	fail "gamelan-snat changed the result it should pass on: $out"
say "CNI ADD of gamelan-snat with gamelan-macvlan's result as prevResult: it passes the result on" \
	"and installs, inside the pod only, table inet gamelan-snat-eth0: packets from outside" \
	"192.168.1.0/24 to udp $PORT get the gateway $GW as their source."
out=$(game_join wanp "$WAN" "$PORT" friend) || fail "dst-0 did not accept the WAN friend: $out"
say "The friend joins $WAN:$PORT again; dst-0 answers: $out"
line=$(last_client "$TMP/dst-0b.log")
[[ "$line" == *"[LAN] $GW (friend)"* ]] || fail "dst-0's log does not show $GW as the client: $line"
say "dst-0 logs:    $line"
out=$(game_join lanp "$IP0" "$PORT" wilson) || fail "dst-0 did not accept the LAN player: $out"
[[ "$out" == *"from [LAN] 192.168.1.77" ]] || fail "the LAN player was rewritten: $out"
say "The LAN player keeps its own address: $out"
say "Nothing changed on the router but a plain port-forward; conntrack carries the replies back."

# ---------------------------------------------------------------------------------------------
step "Router mode instead: no gamelan-snat in the pod, the Linux gateway does the SNAT."
out=$(snat_call DEL) || fail "gamelan-snat DEL failed: $out"
[[ -z "$(ip netns exec "$(world_ns pod-dst-0-again)" nft list tables 2>/dev/null | grep gamelan)" ]] ||
	fail "gamelan-snat DEL left a table in the pod"
out=$(game_join wanp "$WAN" "$PORT" friend)
rc=$?
((rc == 1)) || fail "expected a refusal once the in-pod snat was gone, got status $rc: $out"
say "CNI DEL of gamelan-snat: its table is gone, and the friend is refused again."
out=$(router_forward_del dst-0 2>&1) || fail "gamelan-snat router remove failed: $out"
out=$(router_snat_forward dst-0 "$PORT" "$IP0" 2>&1) || fail "gamelan-snat router add failed: $out"
say "On the router: gamelan-snat router add dst-0 --wan-if wan0 --proto udp --port $PORT" \
	"  --to $IP0 --lan-addr $GW    (DNAT, and SNAT of the forwarded WAN sources to $GW)"
router_snat list 2>&1 | sed 's/^/     /'
out=$(game_join wanp "$WAN" "$PORT" friend) || fail "dst-0 did not accept the WAN friend in router mode: $out"
say "The friend joins $WAN:$PORT; dst-0 answers: $out"
line=$(last_client "$TMP/dst-0b.log")
[[ "$line" == *"[LAN] $GW (friend)"* ]] || fail "dst-0's log does not show $GW as the client: $line"
say "dst-0 logs:    $line"
out=$(router_snat flush 2>&1) || fail "gamelan-snat router flush failed: $out"
say "gamelan-snat router flush: the router's forwards are gone, its other tables untouched."

# ---------------------------------------------------------------------------------------------
step "Clean up: CNI DEL of both servers, then the world goes away."
pod_del node2 dst-0 dst-0-again "$CID0B"
pod_del node1 dst-1 dst-1 "$CID1"
world_down || fail "world_down failed"
[[ -z "$(world_namespaces)" ]] || fail "namespaces left behind: $(world_namespaces)"
say "Nothing left behind."

printf '\nThe WAN friend plays on the LAN-only server: to it, they look like a LAN player.\n'
printf 'next: an operator makes the router-mode forwards follow the game servers.\n'
