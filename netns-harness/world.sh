# shellcheck shell=bash
# The seed's world in network namespaces. Source this file; it runs nothing by itself.
#
#   LAN 192.168.1.0/24 + fd00:1::/64 on a bridge (br0) in ${GLW}-sw:
#     ${GLW}-router  eth0 192.168.1.1    fd00:1::1     (LAN gateway, forwarding on)
#                    wan0 198.51.100.1   2001:db8:51::1 (WAN side, straight to the WAN player)
#     ${GLW}-node1   eth0 192.168.1.11   fd00:1::11    (macvlan master, default via .1)
#     ${GLW}-node2   eth0 192.168.1.12   fd00:1::12
#     ${GLW}-lanp    eth0 192.168.1.77   fd00:1::77    (LAN player)
#   WAN:
#     ${GLW}-wanp    eth0 198.51.100.56  2001:db8:51::56 (WAN player, default via the router)
#   pods: ${GLW}-pod-NAME, made empty by pod_netns, filled by a CNI plugin.
#
# Every link is created inside a namespace this file made; the host's own network is never
# touched. world_down removes everything with the ${GLW}- prefix and kills what runs there;
# world_up registers it on EXIT, INT and TERM.
#
# Functions (all return 0 on success, non-zero with a message on stderr otherwise):
#   world_up                       build the world (tears down a previous one of the same GLW)
#   world_down                     idempotent teardown of every ${GLW}-* namespace
#   world_ns ROLE                  full namespace name of a role (sw router node1 node2 lanp wanp
#                                  pod-NAME), or of a full name already prefixed with ${GLW}-
#   world_namespaces               list the ${GLW}-* namespaces that exist now
#   world_at_exit CMD              run CMD (eval'd) on exit, before world_down; scripts use this
#                                  rather than their own EXIT trap, which would replace ours
#   pod_netns NAME                 create ${GLW}-pod-NAME, print /run/netns/${GLW}-pod-NAME
#   pod_netns_del NAME             kill what runs in it, delete it (missing is fine)
#   ns_kill_all NS                 TERM (then KILL) every process in namespace NS
#   cni_call NODE PLUGIN COMMAND NETNS_PATH IFNAME CONTAINERID CNI_ARGS
#                                  run a CNI plugin in the node's namespace, config on stdin;
#                                  empty arguments leave their variable unset
#   game_server_start NS PORT LOGFILE [ARGS...]  start lanserver in NS, wait until it listens;
#                                  its pid is left in GAME_SERVER_PID
#   game_join NS IP PORT NAME      run lanclient from NS; prints the reply; rc 0/1/2
#   world_wait_udp NS PORT [SECS]  wait (bounded, default 5s) for a UDP socket on PORT in NS
#
# The router's port-forwards, made with gamelan-snat's router mode (product code, netlink; no nft
# CLI) run inside ${GLW}-router. Each prints what gamelan-snat prints and returns its status:
#   router_snat ARGS...            `gamelan-snat router ARGS...` in the router namespace
#   router_port_forward NAME PORT TO[:TOPORT] [PROTO]
#                                  the user's consumer router: WAN wan0 PORT -> TO, DNAT only
#                                  (--no-snat); the LAN host sees the WAN player's own address
#   router_snat_forward NAME PORT TO[:TOPORT] [PROTO]
#                                  router mode: the same forward plus SNAT of the forwarded WAN
#                                  sources to the router's LAN address (WORLD_LAN_GW)
#   router_forward_del NAME        remove a forward of either kind
#   ns_nft_tables NS               the nftables tables in NS, "family name" per line, sorted
#                                  (NS: a role or a full name; reading only, for tests)
#   ns_conntrack_flush NS          delete every conntrack entry in NS (a role or a full name),
#                                  through ctnetlink (python3; no conntrack CLI needed): a
#                                  re-pointed DNAT forward must not keep sending an old flow's
#                                  5-tuple to its old target
#
# Settings: GLW (default glw$$), GL_BIN (default <top>/build/san/bin),
# GAME_JOIN_TIMEOUT_MS (default 2000).

# The source guard lets tests source both lib.sh and this file in any order.
if [[ -n "${_GL_WORLD_SOURCED:-}" ]]; then
	return 0
fi
_GL_WORLD_SOURCED=1

GL_TOP=${GL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
GLW=${GLW:-glw$$}
GL_BIN=${GL_BIN:-$GL_TOP/build/san/bin}
# CNI_PATH entries must be absolute (plugins skip relative ones, as they should).
if [[ "$GL_BIN" != /* && -d "$GL_BIN" ]]; then
	GL_BIN=$(cd "$GL_BIN" && pwd)
fi
GAME_JOIN_TIMEOUT_MS=${GAME_JOIN_TIMEOUT_MS:-2000}
# The router's addresses, as the world builds them.
WORLD_LAN_GW=192.168.1.1
WORLD_WAN_ADDR=198.51.100.1
GAME_SERVER_PID=
_GL_WORLD_ROLES=(sw router node1 node2 lanp wanp)
_GL_WORLD_AT_EXIT=()
_GL_WORLD_TRAPPED=

_world_err() {
	printf 'world: %s\n' "$*" >&2
}

# GLW ends up in namespace names and in paths under /run/netns: keep it to a safe alphabet.
_world_check_glw() {
	if [[ ! "$GLW" =~ ^[A-Za-z0-9_]{1,40}$ ]]; then
		_world_err "GLW='$GLW' must be 1-40 characters of [A-Za-z0-9_]"
		return 1
	fi
}

_world_check_name() {
	if [[ ! "$1" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$ ]]; then
		_world_err "bad name '$1' (want [A-Za-z0-9][A-Za-z0-9_.-]{0,62})"
		return 1
	fi
}

world_ns() {
	local role=${1:-}
	_world_check_glw || return 1
	if [[ "$role" == "$GLW"-* ]]; then
		_world_check_name "${role#"$GLW"-}" || return 1
		printf '%s\n' "$role"
		return 0
	fi
	_world_check_name "$role" || return 1
	printf '%s-%s\n' "$GLW" "$role"
}

world_namespaces() {
	_world_check_glw || return 1
	local name rest
	while read -r name rest; do
		if [[ "$name" == "$GLW"-* ]]; then
			printf '%s\n' "$name"
		fi
	done < <(ip netns list 2>/dev/null)
	return 0
}

# Every pid in namespace $1 but this shell's own (a script may run inside the world).
_world_pids() {
	local pid
	while read -r pid; do
		if [[ "$pid" != "$$" && "$pid" != "$BASHPID" ]]; then
			printf '%s\n' "$pid"
		fi
	done < <(ip netns pids "$1" 2>/dev/null)
	return 0
}

ns_kill_all() {
	local ns=$1 pids i
	pids=$(_world_pids "$ns")
	[[ -z "$pids" ]] && return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	# Bounded: 2 s of grace, then KILL whatever ignored TERM.
	for ((i = 0; i < 20; i++)); do
		pids=$(_world_pids "$ns")
		[[ -z "$pids" ]] && return 0
		sleep 0.1
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		[[ -z "$(_world_pids "$ns")" ]] && return 0
		sleep 0.1
	done
	_world_err "processes still in $ns: $(_world_pids "$ns" | tr '\n' ' ')"
	return 1
}

world_down() {
	_world_check_glw || return 1
	local ns rc=0
	for ns in $(world_namespaces); do
		ns_kill_all "$ns" || rc=1
	done
	for ns in $(world_namespaces); do
		ip netns del "$ns" 2>/dev/null || { _world_err "cannot delete $ns"; rc=1; }
	done
	return $rc
}

world_at_exit() {
	_GL_WORLD_AT_EXIT+=("$1")
	_world_trap
}

_world_on_exit() {
	local rc=$? cmd
	# A second Ctrl-C must not cut the teardown short: it is bounded anyway.
	trap '' INT TERM HUP
	trap - EXIT
	for cmd in "${_GL_WORLD_AT_EXIT[@]}"; do
		eval "$cmd" || true
	done
	world_down || true
	exit "$rc"
}

_world_on_signal() {
	# Leave through the EXIT trap with the conventional 128+signal status.
	exit "$1"
}

# Register the teardown once, and only in the script's own shell: a trap set inside
# $(pod_netns ...) would tear the world down as soon as that subshell ends.
_world_trap() {
	if [[ -n "$_GL_WORLD_TRAPPED" || "$BASHPID" != "$$" ]]; then
		return 0
	fi
	_GL_WORLD_TRAPPED=1
	trap _world_on_exit EXIT
	trap '_world_on_signal 130' INT
	trap '_world_on_signal 143' TERM
	trap '_world_on_signal 129' HUP
}

# _world_nsx NS CMD...: run CMD in NS, fail loudly.
_world_nsx() {
	local ns=$1
	shift
	if ! ip netns exec "$ns" "$@"; then
		_world_err "in $ns: $* failed"
		return 1
	fi
}

# _world_addns ROLE: a fresh namespace with loopback up and no IPv6 DAD delay on new links.
_world_addns() {
	local ns
	ns=$(world_ns "$1") || return 1
	ip netns add "$ns" || { _world_err "ip netns add $ns failed"; return 1; }
	ip -n "$ns" link set lo up || return 1
	# Static test addresses need no duplicate detection, and a link-local address that is
	# still tentative would delay neighbour discovery.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 2>/dev/null || true
}

# _world_lan_port ROLE: veth eth0 in ROLE, its peer (named ROLE) enslaved to br0 in the switch.
_world_lan_port() {
	local role=$1 sw ns
	sw=$(world_ns sw) && ns=$(world_ns "$role") || return 1
	ip -n "$sw" link add "$role" type veth peer name eth0 netns "$ns" || return 1
	ip -n "$sw" link set "$role" master br0 up || return 1
	ip -n "$ns" link set eth0 up
}

# _world_addr ROLE IFNAME ADDR...: static addresses (IPv6 with nodad).
_world_addr() {
	local ns ifname=$2 a
	ns=$(world_ns "$1") || return 1
	shift 2
	for a in "$@"; do
		if [[ "$a" == *:* ]]; then
			ip -n "$ns" -6 addr add "$a" dev "$ifname" nodad || return 1
		else
			ip -n "$ns" addr add "$a" dev "$ifname" || return 1
		fi
	done
}

_world_build() {
	local role sw router wanp
	for role in "${_GL_WORLD_ROLES[@]}"; do
		_world_addns "$role" || return 1
	done
	sw=$(world_ns sw) router=$(world_ns router) wanp=$(world_ns wanp)

	# The switch: a plain bridge, no STP (ports forward at once), no IPv6 of its own.
	ip netns exec "$sw" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 || true
	ip -n "$sw" link add br0 type bridge stp_state 0 || return 1
	ip -n "$sw" link set br0 up || return 1

	for role in router node1 node2 lanp; do
		_world_lan_port "$role" || return 1
	done
	_world_addr router eth0 192.168.1.1/24 fd00:1::1/64 || return 1
	_world_addr node1 eth0 192.168.1.11/24 fd00:1::11/64 || return 1
	_world_addr node2 eth0 192.168.1.12/24 fd00:1::12/64 || return 1
	_world_addr lanp eth0 192.168.1.77/24 fd00:1::77/64 || return 1
	for role in node1 node2 lanp; do
		ip -n "$(world_ns "$role")" route add default via 192.168.1.1 || return 1
		ip -n "$(world_ns "$role")" -6 route add default via fd00:1::1 || return 1
	done

	# WAN: one veth from the router's wan0 to the WAN player.
	ip -n "$router" link add wan0 type veth peer name eth0 netns "$wanp" || return 1
	ip -n "$router" link set wan0 up || return 1
	ip -n "$wanp" link set eth0 up || return 1
	_world_addr router wan0 198.51.100.1/24 2001:db8:51::1/64 || return 1
	_world_addr wanp eth0 198.51.100.56/24 2001:db8:51::56/64 || return 1
	ip -n "$wanp" route add default via 198.51.100.1 || return 1
	ip -n "$wanp" -6 route add default via 2001:db8:51::1 || return 1

	# Forwarding only in the router's namespace.
	_world_nsx "$router" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv6.conf.all.forwarding=1 >/dev/null || return 1
}

world_up() {
	_world_check_glw || return 1
	_world_trap
	# A previous run with the same prefix (killed with SIGKILL) may have left namespaces.
	world_down || return 1
	if ! _world_build; then
		_world_err "world_up failed; tearing down"
		world_down
		return 1
	fi
}

pod_netns() {
	local name=${1:-} ns
	_world_check_name "$name" || return 1
	ns=$(world_ns "pod-$name") || return 1
	_world_trap
	ip netns add "$ns" || { _world_err "ip netns add $ns failed"; return 1; }
	ip -n "$ns" link set lo up || return 1
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_dad=0 2>/dev/null || true
	printf '/run/netns/%s\n' "$ns"
}

pod_netns_del() {
	local name=${1:-} ns
	_world_check_name "$name" || return 1
	ns=$(world_ns "pod-$name") || return 1
	[[ -e "/run/netns/$ns" ]] || return 0
	ns_kill_all "$ns"
	ip netns del "$ns" 2>/dev/null || [[ ! -e "/run/netns/$ns" ]]
}

# Resolve PLUGIN the way a runtime walks CNI_PATH; an absolute path is taken as is.
_world_plugin_path() {
	local p=$1 dir
	if [[ "$p" == /* ]]; then
		printf '%s\n' "$p"
		return 0
	fi
	[[ "$p" =~ ^[A-Za-z0-9_.-]+$ ]] || { _world_err "bad plugin name '$p'"; return 1; }
	for dir in "$GL_BIN" /usr/lib/cni; do
		if [[ -x "$dir/$p" ]]; then
			printf '%s\n' "$dir/$p"
			return 0
		fi
	done
	_world_err "plugin '$p' not found in $GL_BIN:/usr/lib/cni"
	return 1
}

cni_call() {
	if (($# != 7)); then
		_world_err "usage: cni_call NODE PLUGIN COMMAND NETNS_PATH IFNAME CONTAINERID CNI_ARGS"
		return 1
	fi
	local node plugin
	node=$(world_ns "$1") || return 1
	plugin=$(_world_plugin_path "$2") || return 1
	local -a envv=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		"CNI_PATH=$GL_BIN:/usr/lib/cni"
		# The world's nodes share one host name; the store tells them apart by this.
		"GAMELAN_NODE=$1")
	local -a names=(CNI_COMMAND CNI_NETNS CNI_IFNAME CNI_CONTAINERID CNI_ARGS)
	local -a vals=("$3" "$4" "$5" "$6" "$7")
	local i
	for i in 0 1 2 3 4; do
		if [[ -n "${vals[i]}" ]]; then
			envv+=("${names[i]}=${vals[i]}")
		fi
	done
	# Sanitizer settings are the only thing let through: they change reports, not behaviour.
	local v
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		if [[ -n "${!v:-}" ]]; then
			envv+=("$v=${!v}")
		fi
	done
	# A test may add NAME=VALUE words of its own (what a runtime's environment would carry).
	local -a extra=()
	[[ -n "${CNI_CALL_ENV:-}" ]] && read -r -a extra <<<"$CNI_CALL_ENV"
	ip netns exec "$node" env -i "${envv[@]}" "${extra[@]}" "$plugin"
}

world_wait_udp() {
	local ns port=${2:-} secs=${3:-5} i
	ns=$(world_ns "${1:-}") || return 1
	[[ "$port" =~ ^[0-9]{1,5}$ ]] || { _world_err "bad port '$port'"; return 1; }
	for ((i = 0; i < secs * 20; i++)); do
		if [[ -n "$(ip netns exec "$ns" ss -Huln "sport = :$port" 2>/dev/null)" ]]; then
			return 0
		fi
		sleep 0.05
	done
	_world_err "nothing listens on udp port $port in $ns after ${secs}s"
	return 1
}

game_server_start() {
	local ns port=${2:-} log=${3:-}
	if (($# < 3)); then
		_world_err "usage: game_server_start NS PORT LOGFILE [lanserver args...]"
		return 1
	fi
	ns=$(world_ns "$1") || return 1
	shift 3
	[[ -x "$GL_BIN/lanserver" ]] || { _world_err "$GL_BIN/lanserver not built"; return 1; }
	_world_trap
	ip netns exec "$ns" "$GL_BIN/lanserver" --port "$port" "$@" </dev/null >"$log" 2>&1 &
	GAME_SERVER_PID=$!
	if ! world_wait_udp "$ns" "$port" 10; then
		kill "$GAME_SERVER_PID" 2>/dev/null || true
		_world_err "lanserver in $ns did not start; its log:"
		cat "$log" >&2
		return 1
	fi
}

game_join() {
	local ns
	if (($# != 4)); then
		_world_err "usage: game_join NS IP PORT NAME"
		return 64
	fi
	ns=$(world_ns "$1") || return 64
	ip netns exec "$ns" "$GL_BIN/lanclient" --timeout-ms "$GAME_JOIN_TIMEOUT_MS" "$2" "$3" "$4"
}

router_snat() {
	local ns
	ns=$(world_ns router) || return 1
	[[ -x "$GL_BIN/gamelan-snat" ]] || { _world_err "$GL_BIN/gamelan-snat not built"; return 1; }
	ip netns exec "$ns" "$GL_BIN/gamelan-snat" router "$@"
}

# _world_forward NAME PORT TO PROTO EXTRA...: the common part of the two kinds of forward.
_world_forward() {
	local name=${1:-} port=${2:-} to=${3:-} proto=${4:-udp}
	shift 4
	[[ "$port" =~ ^[0-9]{1,5}$ ]] || { _world_err "bad port '$port'"; return 1; }
	[[ "$proto" == udp || "$proto" == tcp ]] || { _world_err "bad protocol '$proto'"; return 1; }
	router_snat add "$name" --wan-if wan0 --proto "$proto" --port "$port" --to "$to" "$@"
}

router_port_forward() {
	if (($# < 3 || $# > 4)); then
		_world_err "usage: router_port_forward NAME PORT TO[:TOPORT] [udp|tcp]"
		return 1
	fi
	_world_forward "$1" "$2" "$3" "${4:-udp}" --no-snat
}

router_snat_forward() {
	if (($# < 3 || $# > 4)); then
		_world_err "usage: router_snat_forward NAME PORT TO[:TOPORT] [udp|tcp]"
		return 1
	fi
	_world_forward "$1" "$2" "$3" "${4:-udp}" --lan-addr "$WORLD_LAN_GW"
}

router_forward_del() {
	if (($# != 1)); then
		_world_err "usage: router_forward_del NAME"
		return 1
	fi
	router_snat remove "$1"
}

ns_nft_tables() {
	local ns
	ns=$(world_ns "${1:-}") || return 1
	ip netns exec "$ns" nft list tables 2>/dev/null | awk '$1 == "table" {print $2, $3}' | sort
}

ns_conntrack_flush() {
	local ns
	ns=$(world_ns "${1:-}") || return 1
	command -v python3 >/dev/null || { _world_err "python3 is missing (tests/install-deps.sh)"; return 1; }
	# IPCTNL_MSG_CT_DELETE without a tuple flushes the table; nfgenmsg family AF_UNSPEC = all.
	ip netns exec "$ns" python3 -c '
import os, socket, struct, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.settimeout(5)
s.bind((0, 0))
# nlmsghdr (type NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE, NLM_F_REQUEST | NLM_F_ACK)
# + nfgenmsg (family 0, version 0, res_id 0)
s.send(struct.pack("=IHHIIBBH", 20, (1 << 8) | 2, 0x1 | 0x4, 1, 0, 0, 0, 0))
reply = s.recv(4096)
if len(reply) < 20 or struct.unpack_from("=H", reply, 4)[0] != 2:  # NLMSG_ERROR is the ack
    sys.exit("conntrack flush: unexpected netlink reply")
err = struct.unpack_from("=i", reply, 16)[0]
if err:
    sys.exit("conntrack flush: " + os.strerror(-err))
'
}
