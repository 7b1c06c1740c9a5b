#!/usr/bin/env bash
# gamelan-snat router mode against Debian's nftables (`nft -f`): the same 1000 port-forwards,
# loaded and changed in a network namespace this script makes (never the host's).
#
#   bench/snatbench.sh [BIN_DIR]        (bench/run.sh runs it last; BIN_DIR = build/bin)
#
# Measures, each as the median (and min) of BENCH_SNAT_RUNS runs (default 5), wall time of the
# whole command (process start to exit, as an operator or a script would run it):
#   (a) 1000 forwards in one batch into an empty namespace:
#       `gamelan-snat router apply set.json`   vs   `nft -f full.nft` (the same 2000 rules)
#   (b) one forward changed in a set of 1000:
#       `gamelan-snat router apply` of the set with one entry different; `router remove` +
#       `router add` of that one; `router add` of a 1001st
#       vs (d) the nft way: `nft -f` of a file that flushes the table and loads all 1000 again
#   plus re-applying the unchanged set, and listing the 1000 (`router list --json` vs
#   `nft -j list table`).
# The nft file holds the rules router mode makes (checked: same rule count, and a sample
# rule of each kind compared with what gamelan-snat made, as `nft list` prints them).
# Prints figures; never asserts speed. Exits non-zero when a command failed.
set -u

GL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${1:-$GL_TOP/build/bin}" 2>/dev/null && pwd) || { echo "snatbench: no directory ${1:-}" >&2; exit 2; }
GLW=${GLW:-glws$$}
RUNS=${BENCH_SNAT_RUNS:-5}
N=${BENCH_SNAT_N:-1000}
[[ "$RUNS" =~ ^[1-9][0-9]?$ ]] || { echo "snatbench: BENCH_SNAT_RUNS must be 1-99" >&2; exit 2; }
if [[ ! "$N" =~ ^[1-9][0-9]{0,3}$ ]] || ((N > 5000)); then
	echo "snatbench: BENCH_SNAT_N must be 1-5000" >&2
	exit 2
fi
[[ "$GLW" =~ ^[A-Za-z0-9_]{1,40}$ ]] || { echo "snatbench: bad GLW '$GLW'" >&2; exit 2; }
SNAT=$BIN/gamelan-snat
[[ -x "$SNAT" ]] || { echo "snatbench: $SNAT is missing (run make)" >&2; exit 2; }
NFT=$(command -v nft) || { echo "snatbench: nft is missing (apt install nftables)" >&2; exit 2; }
((EUID == 0)) || { echo "snatbench: needs root (network namespaces)" >&2; exit 2; }

NS=$GLW-snatbench
WORK=$(mktemp -d /tmp/gl-snatbench.XXXXXX) || exit 2
chmod 700 "$WORK"
cleanup() {
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The namespace: a WAN link (veth wan0, its peer lan0 holds the LAN side), nothing else.
ip netns del "$NS" 2>/dev/null # left by a run that was killed
ip netns add "$NS" || { echo "snatbench: ip netns add $NS failed" >&2; exit 2; }
if ! { ip -n "$NS" link set lo up &&
	ip -n "$NS" link add wan0 type veth peer name lan0 &&
	ip -n "$NS" addr add 198.51.100.1/24 dev wan0 &&
	ip -n "$NS" addr add 192.168.1.1/24 dev lan0 &&
	ip -n "$NS" link set wan0 up && ip -n "$NS" link set lan0 up; }; then
	echo "snatbench: cannot set up $NS" >&2
	exit 2
fi

nsx() {
	ip netns exec "$NS" "$@"
}

# ---- the data: N forwards, WAN port 20000+i -> 192.168.1.(2 + i%250):(10000+i), SNAT on ----
# set.json, set-b.json (forward N/2 on another WAN port), full.nft and reload*.nft.
MID=$((N / 2))
gen() {
	local i ip port to_port name sep c mid_port=$1 json=$2 nftf=$3 flush=$4
	local -a pre=() post=() js=()
	# What router mode makes: DNAT in prerouting (nat, -100), SNAT of the forwarded WAN
	# sources in postrouting (nat, 100); one comment per rule naming the forward.
	for ((i = 0; i < N; i++)); do
		ip=192.168.1.$((2 + i % 250)) port=$((20000 + i)) to_port=$((10000 + i))
		((i == MID)) && port=$mid_port
		printf -v name 'f%04d' "$i"
		sep=,
		((i == 0)) && sep=' '
		js+=("$sep{\"name\": \"$name\", \"wanInterface\": \"wan0\", \"wanAddress\": \"198.51.100.1\", \"protocol\": \"udp\", \"port\": $port, \"to\": \"$ip\", \"toPort\": $to_port, \"lanAddress\": \"192.168.1.1\", \"snat\": true}")
		c="gamelan:fwd:$name wan0 198.51.100.1 udp $port $ip $to_port 192.168.1.1 snat"
		pre+=("iifname \"wan0\" ip daddr 198.51.100.1 udp dport $port counter dnat ip to $ip:$to_port comment \"$c\"")
		post+=("ip daddr $ip udp dport $to_port ct status dnat counter snat ip to 192.168.1.1 comment \"$c\"")
	done
	{
		printf '{"forwards": [\n'
		printf '%s\n' "${js[@]}"
		printf ']}\n'
	} >"$json"
	{
		if ((flush)); then
			printf 'table inet gamelan-router\nflush table inet gamelan-router\n'
		fi
		printf 'table inet gamelan-router {\n\tchain prerouting {\n\t\ttype nat hook prerouting priority -100; policy accept;\n'
		printf '\t\t%s\n' "${pre[@]}"
		printf '\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority 100; policy accept;\n'
		printf '\t\t%s\n' "${post[@]}"
		printf '\t}\n}\n'
	} >"$nftf"
}
gen $((20000 + MID)) "$WORK/set.json" "$WORK/full.nft" 0
gen 30000 "$WORK/set-b.json" "$WORK/reload-b.nft" 1
gen $((20000 + MID)) "$WORK/set.json" "$WORK/reload-a.nft" 1
MIDNAME=$(printf f%04d "$MID")

FAILED=0
# run LABEL CMD...: one timed run (ms) appended to $WORK/t.LABEL; a failure is reported.
run() {
	local label=$1 t0 t1
	shift
	t0=$EPOCHREALTIME
	if ! "$@" >"$WORK/out" 2>&1; then
		echo "snatbench: FAIL $label: $*: $(head -c 400 "$WORK/out")" >&2
		FAILED=1
		: >"$WORK/f.$label"
	fi
	t1=$EPOCHREALTIME
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$WORK/t.$label"
}
# untimed CMD...: preparation between runs; must work.
untimed() {
	if ! "$@" >"$WORK/out" 2>&1; then
		echo "snatbench: FAIL (setup) $*: $(head -c 400 "$WORK/out")" >&2
		FAILED=1
	fi
}
gl_count() {
	nsx "$SNAT" router list --json 2>/dev/null |
		jq '(if type == "object" then .forwards else . end) | length' 2>/dev/null
}
nft_rules() {
	nsx "$NFT" -a list table inet gamelan-router 2>/dev/null | grep -c 'comment "gamelan:fwd:'
}

echo "gamelan-snat router mode vs nft -f ($("$NFT" --version 2>/dev/null)): $N forwards, $RUNS runs each, netns $NS ..."
START=$(date +%s)

# (a) + (b): gamelan-snat.
for ((r = 0; r < RUNS; r++)); do
	untimed nsx "$SNAT" router flush
	run gl_apply nsx "$SNAT" router apply "$WORK/set.json"
done
n=$(gl_count)
[[ "$n" == "$N" ]] || { echo "snatbench: gamelan-snat lists $n forwards after apply, not $N" >&2; FAILED=1; }
GL_RULES=$(nft_rules)
GL_SAMPLE=$(nsx "$NFT" list table inet gamelan-router 2>/dev/null | grep -F "gamelan:fwd:f0001 " | sed 's/^[[:space:]]*//')
for ((r = 0; r < RUNS; r++)); do
	run gl_same nsx "$SNAT" router apply "$WORK/set.json"
	run gl_one nsx "$SNAT" router apply "$WORK/set-b.json"
	run gl_one nsx "$SNAT" router apply "$WORK/set.json"
done
[[ "$(gl_count)" == "$N" ]] || { echo "snatbench: gamelan-snat does not list $N forwards after the changes" >&2; FAILED=1; }
rmadd() {
	nsx "$SNAT" router remove "$MIDNAME" &&
		nsx "$SNAT" router add "$MIDNAME" --wan-if wan0 --wan-addr 198.51.100.1 --proto udp \
			--port "$1" --to "192.168.1.$((2 + MID % 250)):$((10000 + MID))" --lan-addr 192.168.1.1
}
for ((r = 0; r < RUNS; r++)); do
	run gl_rmadd rmadd 30000
	run gl_rmadd rmadd $((20000 + MID))
	run gl_add1 nsx "$SNAT" router add extra --wan-if wan0 --proto udp --port 40000 \
		--to 192.168.1.2:10999 --lan-addr 192.168.1.1
	run gl_rm1 nsx "$SNAT" router remove extra
	run gl_list nsx "$SNAT" router list --json
done
untimed nsx "$SNAT" router flush

# (c) + (d): nft -f of the same rules.
for ((r = 0; r < RUNS; r++)); do
	nsx "$NFT" delete table inet gamelan-router >/dev/null 2>&1
	run nft_load nsx "$NFT" -f "$WORK/full.nft"
done
NFT_RULES=$(nft_rules)
NFT_SAMPLE=$(nsx "$NFT" list table inet gamelan-router 2>/dev/null | grep -F "gamelan:fwd:f0001 " | sed 's/^[[:space:]]*//')
for ((r = 0; r < RUNS; r++)); do
	run nft_same nsx "$NFT" -f "$WORK/reload-a.nft"
	run nft_one nsx "$NFT" -f "$WORK/reload-b.nft"
	run nft_one nsx "$NFT" -f "$WORK/reload-a.nft"
	run nft_list nsx "$NFT" -j list table inet gamelan-router
done
untimed nsx "$NFT" delete table inet gamelan-router

[[ "$NFT_RULES" == $((2 * N)) ]] || { echo "snatbench: nft loaded $NFT_RULES rules, not $((2 * N))" >&2; FAILED=1; }
SAME_SHAPE=yes
if [[ "$GL_RULES" != "$NFT_RULES" ]]; then
	SAME_SHAPE="no: gamelan-snat made $GL_RULES rules, the nft file $NFT_RULES"
else
	# Compare the rules' shapes (statements), not the comment text, which is gamelan's own.
	a=$(sed 's/ comment ".*"//' <<<"$GL_SAMPLE")
	b=$(sed 's/ comment ".*"//' <<<"$NFT_SAMPLE")
	[[ "$a" == "$b" ]] || SAME_SHAPE="not exactly: gamelan-snat: $(tr '\n' '|' <<<"$a") nft file: $(tr '\n' '|' <<<"$b")"
fi

# med LABEL / min LABEL (ms) and the table.
stat() {
	[[ -s "$WORK/t.$2" ]] || { echo -1; return; }
	sort -n "$WORK/t.$2" | awk -v w="$1" '{ v[NR] = $1 } END {
		if (w == "min") { print v[1]; exit }
		print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# No ratio from a figure with failed runs in it.
row() {
	local label=$1 g=$2 n=$3 fl=''
	[[ -e "$WORK/f.$g" ]] && fl+="  FAILED $g"
	[[ -e "$WORK/f.$n" ]] && fl+="  FAILED $n"
	awk -v l="$label" -v gm="$(stat med "$g")" -v gn="$(stat min "$g")" -v nm="$(stat med "$n")" \
		-v nn="$(stat min "$n")" -v fl="$fl" 'function c(v) { return v < 0 ? sprintf("%9s", "-") : sprintf("%9.2f", v) }
		function r(a, b) { return (fl != "" || a <= 0 || b <= 0) ? sprintf("%8s", "-") : sprintf(b / a < 1 ? "%7.2fx" : "%7.1fx", b / a) }
		BEGIN { printf "  %-40s %s %s   %s %s  %s%s\n", l, c(gm), c(gn), c(nm), c(nn), r(gm, nm), fl }'
}
echo
printf '%-42s %19s   %19s  %8s\n' "times in ms (wall, whole command)" "gamelan-snat" "nft -f" "nft/gamelan"
printf '%-42s %9s %9s   %9s %9s  %8s\n' "" median min median min median
printf '(a) %d forwards (%d rules) in one batch, empty table\n' "$N" $((2 * N))
row "apply set / nft -f full file" gl_apply nft_load
printf '(b) one forward changed in a set of %d, vs (d) nft -f flush table + all %d\n' "$N" "$N"
row "apply set with one entry different" gl_one nft_one
row "remove + add of that forward" gl_rmadd nft_one
row "add one more forward / nft reload" gl_add1 nft_one
row "remove one forward / nft reload" gl_rm1 nft_one
printf 'other\n'
row "re-apply the same set (no change)" gl_same nft_same
row "list the $N (list --json / nft -j list)" gl_list nft_list
echo
echo "rules: gamelan-snat made $GL_RULES, the nft file $NFT_RULES; same statements as router mode: $SAME_SHAPE"
g=$(stat med gl_one) gr=$(stat med gl_rmadd) n=$(stat med nft_one)
[[ -e "$WORK/f.gl_one" || -e "$WORK/f.gl_rmadd" || -e "$WORK/f.nft_one" ]] && g=-1
awk -v g="$g" -v gr="$gr" -v n="$n" 'BEGIN {
	if (g > 0 && gr > 0 && n > 0)
		printf "goal: changing one forward of %d costs far less than re-loading the set: apply %.1fx, remove+add %.1fx cheaper than nft -f (median)\n",
			'"$N"', n / g, n / gr
	else
		printf "goal: changing one forward costs far less than re-loading the set: no figure (commands failed)\n" }'
echo "snat benchmark took $(($(date +%s) - START))s"
if ((FAILED)); then
	echo "SOME COMMANDS FAILED: the figures above are incomplete (see FAIL lines)"
	exit 1
fi
exit 0
