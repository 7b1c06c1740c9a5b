#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# gamelan-docker against Docker's built-in macvlan and against no network at all, with a real
# dockerd (Debian's docker.io 20.10) inside the netns world's node1 (netns-harness/docker-world.sh:
# nothing on the host's network, nor the host's dockerd).
#
#   bench/dockerbench.sh [BIN_DIR]       (bench/run.sh runs it; BIN_DIR = build/bin)
#
# Measures the wall time of `docker run --rm --name NAME --network X IMAGE true` (the CLI
# process, start to exit: create, start with its network, the container's exit, removal), for
#   gamelan   -d gamelan --ipam-driver gamelan, parent eth0 (the same name each time: a game
#             server restarting, the sticky path)
#   macvlan   the built-in macvlan + default IPAM, parent eth1 (node1's second port on the
#             same LAN bridge: one network per parent)
#   stub      a trivial remote driver + IPAM (docker-world.sh's python3 stub: no state, a
#             macvlan made at Join): what any legacy plugin costs, for context
#   none      --network none
# interleaved in one run: each round runs the four, in an order rotated per round, so that load
# on the machine hits all alike. BENCH_DOCKER_N rounds (default 30) after 2 untimed warm-up ones.
# Prints medians and p95 per network, the ratios, and what each network adds to `none`; goal:
# gamelan within 10% of the built-in macvlan. Never asserts speed. Exits non-zero when a docker
# run failed or gamelan-docker could not run (the macvlan and none figures are printed anyway).
set -u

GL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${1:-$GL_TOP/build/bin}" 2>/dev/null && pwd) || { echo "dockerbench: no directory ${1:-}" >&2; exit 2; }
GLW=${GLW:-glwd$$}
export GL_BIN=$BIN
N=${BENCH_DOCKER_N:-30}
WARM=2
[[ "$N" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "dockerbench: BENCH_DOCKER_N must be 1-9999" >&2; exit 2; }
((EUID == 0)) || { echo "dockerbench: needs root (network namespaces)" >&2; exit 2; }
# shellcheck source=../netns-harness/world.sh
. "$GL_TOP/netns-harness/world.sh"
# shellcheck source=../netns-harness/docker-world.sh
. "$GL_TOP/netns-harness/docker-world.sh"

WORK=$(mktemp -d /tmp/gl-dockerbench.XXXXXX) || exit 2
chmod 700 "$WORK"
world_at_exit "rm -rf '$WORK'"
RESULTS=$WORK/results
: >"$RESULTS"
FAILED=0

world_up || { echo "dockerbench: world_up failed" >&2; exit 2; }
SW=$(world_ns sw) NODE=$(world_ns node1)
if ! { ip -n "$SW" link add node1b type veth peer name eth1 netns "$NODE" &&
	ip -n "$SW" link set node1b master br0 up && ip -n "$NODE" link set eth1 up; }; then
	echo "dockerbench: cannot add eth1 to node1" >&2
	exit 2
fi
dw_up "$WORK/dw" node1 || { echo "dockerbench: the docker world did not come up" >&2; exit 2; }

NETS=()
if dw_driver_start 2>"$WORK/driver.err" &&
	dw_docker network create -d gamelan --ipam-driver gamelan --subnet 192.168.1.0/24 \
		--gateway 192.168.1.1 --ip-range 192.168.1.128/26 -o parent=eth0 lan-g >/dev/null 2>>"$WORK/driver.err"; then
	NETS+=(gamelan)
else
	echo "dockerbench: GAMELAN-DOCKER IS NOT AVAILABLE: no gamelan figures ($(tr '\n' ' ' <"$WORK/driver.err" | cut -c1-300))" >&2
	FAILED=1
fi
if dw_docker network create -d macvlan --subnet 192.168.1.0/24 --gateway 192.168.1.1 \
	--ip-range 192.168.1.192/26 -o parent=eth1 lan-m >/dev/null; then
	NETS+=(macvlan)
else
	echo "dockerbench: the built-in macvlan network could not be created" >&2
	FAILED=1
fi
if dw_stub_start stub && dw_docker network create -d stub --ipam-driver stub --subnet 192.168.1.0/24 \
	--gateway 192.168.1.1 lan-s >/dev/null; then
	NETS+=(stub)
else
	echo "dockerbench: the stub plugin's network could not be created" >&2
	FAILED=1
fi
NETS+=(none)

# one NET ROUND: one timed docker run; "R net=NET round=ROUND ms=MS ok=0|1" into RESULTS.
one() {
	local net=$1 round=$2 arg t0 us ok=1
	case "$net" in
	gamelan) arg=lan-g ;;
	macvlan) arg=lan-m ;;
	stub) arg=lan-s ;;
	*) arg=none ;;
	esac
	t0=$(date +%s%N)
	if ! dw_docker run --rm --name "bench-$net" --network "$arg" "$DW_IMAGE" true >"$WORK/out" 2>&1; then
		ok=0
		echo "dockerbench: FAIL $net round $round: $(tr '\n' ' ' <"$WORK/out" | cut -c1-300)" >&2
		# A failed run may leave its container: the next one needs the name.
		dw_docker rm -f "bench-$net" >/dev/null 2>&1
	fi
	us=$((($(date +%s%N) - t0) / 1000))
	((round > 0)) && printf 'R net=%s round=%d ms=%d.%03d ok=%d\n' "$net" "$round" \
		$((us / 1000)) $((us % 1000)) "$ok" >>"$RESULTS"
	return 0
}

START=$(date +%s)
echo "docker bench: $(nproc) CPUs, kernel $(uname -r), dockerd $(dw_docker version -f '{{.Server.Version}}' 2>/dev/null)" \
	"($DW_STORAGE, cgroupfs) in netns $NODE; gamelan-docker from $BIN"
echo "running: docker run --rm --network X $DW_IMAGE true, X in: ${NETS[*]}; $N rounds (+$WARM warm-up), order rotated per round ..."
k=${#NETS[@]}
for ((r = 1 - WARM; r <= N; r++)); do
	for ((j = 0; j < k; j++)); do
		# Round r starts with network (r mod k): each goes first, middle and last alike.
		one "${NETS[(((r % k) + k) % k + j) % k]}" "$r"
	done
done

echo
awk -v N="$N" -v secs="$(($(date +%s) - START))" '
function median(a, n,   i, j, t) {  # sorts a[1..n] in place (n is small)
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j > 0 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function pct(a, n, p,   i) { i = int(n * p + 0.999999); if (i < 1) i = 1; return a[i] }
$1 == "R" {
	delete kv
	for (i = 2; i <= NF; i++) { split($i, x, "="); kv[x[1]] = x[2] }
	net = kv["net"]; nets[net] = 1
	if (kv["ok"] == 1) { cnt[net]++; v[net, cnt[net]] = kv["ms"] + 0 } else fail[net]++
}
END {
	for (net in nets) {
		n = cnt[net] + 0
		delete a
		for (i = 1; i <= n; i++) a[i] = v[net, i]
		if (n > 0) { med[net] = median(a, n); p95[net] = pct(a, n, 0.95); mn[net] = a[1] }
	}
	printf "%-46s %9s %9s %9s %6s %6s\n", "times in ms (the docker CLI, start to exit)", "median", "p95", "min", "runs", "fail"
	split("gamelan macvlan stub none", order, " ")
	for (o = 1; o <= 4; o++) {
		net = order[o]
		if (!(net in nets)) { printf "  %-44s %9s\n", net, "not run"; continue }
		printf "  %-44s %9.1f %9.1f %9.1f %6d %6d\n", net, med[net], p95[net], mn[net], cnt[net], fail[net]
	}
	if (("macvlan" in med) && ("none" in med))
		printf "built-in macvlan adds %.1f ms to none (median)\n", med["macvlan"] - med["none"]
	if (("stub" in med) && ("macvlan" in med))
		printf "a trivial remote driver + IPAM (stub) adds %.1f ms to the built-in macvlan (median)\n", med["stub"] - med["macvlan"]
	if (("gamelan" in med) && ("none" in med))
		printf "gamelan adds %.1f ms to none (median)\n", med["gamelan"] - med["none"]
	if (("gamelan" in med) && ("macvlan" in med) && med["macvlan"] > 0) {
		printf "gamelan / built-in macvlan: median %.2fx, p95 %.2fx; gamelan adds %.1f ms to the built-in (median)\n",
			med["gamelan"] / med["macvlan"], p95["gamelan"] / p95["macvlan"], med["gamelan"] - med["macvlan"]
		printf "goal: gamelan within 10%% of the built-in macvlan (median): now %+.1f%% -> %s\n",
			100 * (med["gamelan"] / med["macvlan"] - 1), (med["gamelan"] <= 1.1 * med["macvlan"] ? "met" : "not met")
	} else
		printf "goal: gamelan within 10%% of the built-in macvlan: no figure (gamelan or macvlan did not run)\n"
	printf "docker bench took %ds\n", secs
}' "$RESULTS"

if grep -q ' ok=0' "$RESULTS"; then
	echo "dockerbench: some docker runs failed (FAIL lines above)" >&2
	FAILED=1
fi
exit $FAILED
