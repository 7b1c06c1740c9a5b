#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# gamelan benchmark: gamelan-macvlan + gamelan-ipam against the reference macvlan + host-local,
# side by side in one netns world, through bench/cnibench; then gamelan-snat's router mode
# against `nft -f` (bench/snatbench.sh, in a namespace of its own); then the Kubernetes store
# against the fake API server's cost model: objects read per ADD (etcd, watch cache) with 0,
# 500 and 5000 reservations, 409s per allocation at 96 concurrent (bench/kubebench.c). See
# bench/README.md.
#
#   bench/run.sh [BIN_DIR]        (make bench: BIN_DIR = build/bin, the optimized build)
#
# Settings (environment): BENCH_N (default 200) iterations of the common path;
# BENCH_N_FIRST (default min(BENCH_N, 150): the pool has 155 addresses) first allocations;
# BENCH_N_PROBE (default min(BENCH_N_FIRST, 50)) first allocations with the default probe,
# each of which waits for the probe by design; BENCH_NC (default "50 200 500") the numbers of
# concurrent calls (each at most 1000: that part has a pool of 1022 addresses);
# BENCH_CONC=0 skips the concurrency section (the serial figures only);
# BENCH_SNAT=0 skips the snat section (BENCH_SNAT_RUNS, BENCH_SNAT_N: see bench/snatbench.sh);
# BENCH_KUBE=0 skips the Kubernetes store section (bench/kubebench.c);
# BENCH_DOCKER=0 skips the Docker section (BENCH_DOCKER_N: see bench/dockerbench.sh).
# Prints figures; never asserts speed. Exits non-zero only when a plugin call failed or the
# benchmark could not run.
set -u

GL_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$(cd "${1:-$GL_TOP/build/bin}" 2>/dev/null && pwd) || { echo "bench: no directory ${1:-}" >&2; exit 2; }
GLW=${GLW:-glwb$$}
export GL_BIN=$BIN
# shellcheck source=../netns-harness/world.sh
. "$GL_TOP/netns-harness/world.sh"

REF_DIR=/usr/lib/cni
N=${BENCH_N:-200}
NC=${BENCH_NC:-50 200 500}
[[ "${BENCH_CONC:-1}" == 0 ]] && NC=""
[[ "$N" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "bench: BENCH_N must be 1-9999" >&2; exit 2; }
for nc in $NC; do
	[[ "$nc" =~ ^[1-9][0-9]{0,2}$|^1000$ ]] || { echo "bench: each BENCH_NC must be 1-1000" >&2; exit 2; }
done
N_FIRST=${BENCH_N_FIRST:-$((N < 150 ? N : 150))}
N_PROBE=${BENCH_N_PROBE:-$((N_FIRST < 50 ? N_FIRST : 50))}
for v in N_FIRST N_PROBE; do
	[[ "${!v}" =~ ^[1-9][0-9]{0,3}$ ]] || { echo "bench: BENCH_$v must be 1-9999" >&2; exit 2; }
done
if ((N_FIRST > 150)); then
	echo "bench: BENCH_N_FIRST is at most 150 (the pool has 155 addresses)" >&2
	exit 2
fi

for f in "$BIN/gamelan-macvlan" "$BIN/gamelan-ipam" "$BIN/cnibench" "$REF_DIR/macvlan" \
	"$REF_DIR/host-local"; do
	[[ -x "$f" ]] || { echo "bench: $f is missing (run make; apt install containernetworking-plugins)" >&2; exit 2; }
done
if ((EUID != 0)); then
	echo "bench: needs root (network namespaces)" >&2
	exit 2
fi

WORK=$(mktemp -d /tmp/gl-bench.XXXXXX) || exit 2
chmod 700 "$WORK"
world_at_exit "rm -rf '$WORK'"
RESULTS=$WORK/results
: >"$RESULTS"
FAILED=0
NODE=$(world_ns node1)

# conf_gamelan FILE STATEDIR PROBE: PROBE is "" (the default) or a JSON value for "probe".
conf_gamelan() {
	local probe=""
	[[ -n "$3" ]] && probe="\"probe\": $3,"
	mkdir -p "$2"
	cat >"$1" <<EOF
{"cniVersion": "1.0.0", "name": "lan", "type": "gamelan-macvlan", "master": "eth0", $probe
 "stateDir": "$2/macvlan",
 "ipam": {"type": "gamelan-ipam", "subnet": "192.168.1.0/24", "rangeStart": "192.168.1.100",
          "rangeEnd": "192.168.1.254", "gateway": "192.168.1.1",
          "store": {"type": "sqlite", "path": "$2/ipam.db"}}}
EOF
}

# conf_ref FILE STATEDIR
conf_ref() {
	mkdir -p "$2"
	cat >"$1" <<EOF
{"cniVersion": "1.0.0", "name": "lan", "type": "macvlan", "master": "eth0",
 "ipam": {"type": "host-local", "subnet": "192.168.1.0/24", "rangeStart": "192.168.1.100",
          "rangeEnd": "192.168.1.254", "gateway": "192.168.1.1", "dataDir": "$2/host-local"}}
EOF
}

# conf_conc FILE STATEDIR gamelan|reference: the concurrency part's configs, a /22 around the
# world's /24 (same segment and gateway) so that 1000 pods fit.
conf_conc() {
	mkdir -p "$2"
	if [[ "$3" == gamelan ]]; then
		cat >"$1" <<EOF
{"cniVersion": "1.0.0", "name": "lan", "type": "gamelan-macvlan", "master": "eth0", "probe": false,
 "stateDir": "$2/macvlan",
 "ipam": {"type": "gamelan-ipam", "subnet": "192.168.0.0/22", "rangeStart": "192.168.2.0",
          "rangeEnd": "192.168.3.254", "gateway": "192.168.1.1",
          "store": {"type": "sqlite", "path": "$2/ipam.db"}}}
EOF
	else
		cat >"$1" <<EOF
{"cniVersion": "1.0.0", "name": "lan", "type": "macvlan", "master": "eth0",
 "ipam": {"type": "host-local", "subnet": "192.168.0.0/22", "rangeStart": "192.168.2.0",
          "rangeEnd": "192.168.3.254", "gateway": "192.168.1.1", "dataDir": "$2/host-local"}}
EOF
	fi
}

# netns_batch add|del SERIES NTARGETS COUNT: the pod namespaces of a series, untimed.
netns_batch() {
	local verb=$1 s=$2 nt=$3 count=$4 t i
	for ((t = 0; t < nt; t++)); do
		for ((i = 0; i < count; i++)); do
			printf 'netns %s %s-pod-%s-%d-%d\n' "$verb" "$GLW" "$s" "$t" "$i"
		done
	done | ip -batch - >/dev/null 2>&1
}

# series NAME MODE COUNT WARMUP ARGS_TEMPLATE TARGET...: one cnibench run in the node's netns.
# SERIES_TIMEOUT_MS (optional): each call's bound (cnibench's default otherwise).
series() {
	local name=$1 mode=$2 count=$3 warmup=$4 args=$5 total rc
	local -a tmo=()
	[[ -n "${SERIES_TIMEOUT_MS:-}" ]] && tmo=(--timeout-ms "$SERIES_TIMEOUT_MS")
	shift 5
	local -a targets=()
	local t
	for t in "$@"; do
		targets+=(--target "$t")
	done
	total=$((count + warmup))
	# Serial: a DEL's detached work (gamelan's link delete) ends, untimed, before the next call.
	local -a settle=()
	[[ "$mode" == seq ]] && settle=(--settle-ms 2000)
	if ! netns_batch add "$name" "$#" "$total"; then
		echo "bench: cannot create the pod namespaces of $name" >&2
		netns_batch del "$name" "$#" "$total"
		FAILED=1
		return
	fi
	ip netns exec "$NODE" "$BIN/cnibench" --mode "$mode" --n "$count" --warmup "$warmup" "${tmo[@]}" \
		--ifname net1 --cni-path "$BIN:$REF_DIR" "${settle[@]}" \
		--netns "/run/netns/$GLW-pod-$name-{t}-{i}" --args "$args" "${targets[@]}" \
		| sed "s/^R /R series=$name /" >>"$RESULTS"
	rc=${PIPESTATUS[0]}
	if ((rc != 0)); then
		echo "bench: series $name: cnibench exited $rc (failed calls above)" >&2
		FAILED=1
	fi
	netns_batch del "$name" "$#" "$total"
}

ARGS_SAME="IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0;K8S_POD_INFRA_CONTAINER_ID={cid}"
ARGS_NEW="IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=gs-{i};K8S_POD_INFRA_CONTAINER_ID={cid}"

world_up || { echo "bench: world_up failed" >&2; exit 2; }
START=$(date +%s)
echo "gamelan bench: $(nproc) CPUs, kernel $(uname -r); gamelan from $BIN;" \
	"reference $REF_DIR/{macvlan,host-local} $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null)"
echo "running: common path N=$N, first allocation N=$N_FIRST (probe on: N=$N_PROBE), concurrent: $NC ..."

# 1. Common path: the same identity restarts, new container ID and new netns each time. One
#    untimed warm-up round first (gamelan's first allocation, and its probe, happen there).
conf_gamelan "$WORK/c-g.json" "$WORK/c-g" ""
conf_ref "$WORK/c-r.json" "$WORK/c-r"
series common seq "$N" 1 "$ARGS_SAME" \
	"gamelan=$BIN/gamelan-macvlan:$WORK/c-g.json" "reference=$REF_DIR/macvlan:$WORK/c-r.json"

# 2. First allocation: a new identity each time (games/gs-N), probe off and reference
#    interleaved; then gamelan as configured by default (probe "200ms") on its own.
conf_gamelan "$WORK/f-g.json" "$WORK/f-g" false
conf_ref "$WORK/f-r.json" "$WORK/f-r"
series first seq "$N_FIRST" 1 "$ARGS_NEW" \
	"gamelan_noprobe=$BIN/gamelan-macvlan:$WORK/f-g.json" "reference=$REF_DIR/macvlan:$WORK/f-r.json"
conf_gamelan "$WORK/p-g.json" "$WORK/p-g" ""
series firstp seq "$N_PROBE" 1 "$ARGS_NEW" "gamelan_probe=$BIN/gamelan-macvlan:$WORK/p-g.json"

# 3. Concurrency: for each count in NC, that many ADDs at once (each its own netns and
#    identity, one fresh store), then their DELs; gamelan with "probe": false, as the reference
#    does no probe. Each call is bounded by 5 minutes (gamelan's own deadline is 60 s).
for nc in $NC; do
	conf_conc "$WORK/k$nc-g.json" "$WORK/k$nc-g" gamelan
	conf_conc "$WORK/k$nc-r.json" "$WORK/k$nc-r" reference
	SERIES_TIMEOUT_MS=300000 series "conc$nc" conc "$nc" 0 "$ARGS_NEW" \
		"gamelan=$BIN/gamelan-macvlan:$WORK/k$nc-g.json" "reference=$REF_DIR/macvlan:$WORK/k$nc-r.json"
done

echo
awk -v N="$N" -v NF1="$N_FIRST" -v NP="$N_PROBE" -v NC="$NC" -v secs="$(($(date +%s) - START))" '
$1 == "R" {
	delete kv
	for (i = 2; i <= NF; i++) { split($i, a, "="); kv[a[1]] = a[2] }
	k = kv["series"] "/" kv["target"] "/" kv["op"]
	med[k] = kv["median"]; p95[k] = kv["p95"]; wall[k] = kv["wall"]; fail[k] = kv["fail"]
	p99[k] = kv["p99"]; mx[k] = kv["max"]
	n[k] = kv["n"]; addrs[k] = kv["addrs"]; have[k] = 1
	if (kv["fail"] > 0) anyfail = 1
}
function cell(k, v) { return (have[k] && (n[k] > 0 || wall[k] > 0)) ? sprintf("%9.2f", v) : sprintf("%9s", "-") }
# No ratio from a figure that has failed calls in it.
function bad(k) { return !have[k] || fail[k] > 0 }
function ratio(r, g) {
	if (r <= 0 || g <= 0) return sprintf("%8s", "-")
	return sprintf(r / g < 1 ? "%7.2fx" : "%7.1fx", r / g)
}
function fl(k) { return (have[k] && fail[k] > 0) ? sprintf("  FAILED %d", fail[k]) : "" }
# row LABEL GAMELAN_KEY REFERENCE_KEY: medians and p95 of both, ratios reference/gamelan.
function row(label, g, r) {
	printf "  %-34s %s %s   %s %s  %s %s%s%s\n", label, cell(g, med[g]), cell(g, p95[g]),
		cell(r, med[r]), cell(r, p95[r]), ratio(bad(g) || bad(r) ? 0 : med[r], med[g]),
		ratio(bad(g) || bad(r) ? 0 : p95[r], p95[g]), fl(g), fl(r)
}
# crow LABEL KEY: one concurrency figure: wall time, then p50/p99/max of the calls.
function crow(label, k) {
	printf "  %-24s %s %s %s %s%s\n", label, cell(k, wall[k]), cell(k, med[k]), cell(k, p99[k]),
		cell(k, mx[k]), fl(k)
}
# goal LABEL FACTOR GAMELAN_KEY REFERENCE_KEY: the serial goals, on medians.
function goal(label, x, g, r) {
	if (bad(g) || bad(r) || med[g] <= 0 || med[r] <= 0) {
		printf "goal: %s at least %dx faster than the reference: no figure (calls failed)\n", label, x
		return
	}
	printf "goal: %s at least %dx faster than the reference: now %.1fx (median; p95 %.1fx) -> %s\n",
		label, x, med[r] / med[g], p95[r] / p95[g], (med[r] / med[g] >= x ? "met" : "not met")
}
END {
	printf "%-36s %19s   %19s  %17s\n", "times in ms (CLOCK_MONOTONIC)", "gamelan", "reference", "reference/gamelan"
	printf "%-36s %9s %9s   %9s %9s  %8s %8s\n", "", "median", "p95", "median", "p95", "median", "p95"
	printf "1. common path: games/dst-0 restarts, new container + netns, N=%d\n", N
	row("ADD", "common/gamelan/ADD", "common/reference/ADD")
	row("DEL", "common/gamelan/DEL", "common/reference/DEL")
	row("ADD+DEL (per iteration)", "common/gamelan/ADD+DEL", "common/reference/ADD+DEL")
	printf "2. first allocation: new identity games/gs-N each time, N=%d (probe on: N=%d)\n", NF1, NP
	row("ADD, gamelan \"probe\": false", "first/gamelan_noprobe/ADD", "first/reference/ADD")
	row("ADD, gamelan default probe 200ms", "firstp/gamelan_probe/ADD", "first/reference/ADD")
	row("DEL, gamelan \"probe\": false", "first/gamelan_noprobe/DEL", "first/reference/DEL")
	row("DEL, gamelan default probe 200ms", "firstp/gamelan_probe/DEL", "first/reference/DEL")
	row("ADD+DEL, gamelan \"probe\": false", "first/gamelan_noprobe/ADD+DEL", "first/reference/ADD+DEL")
	row("ADD+DEL, gamelan default probe", "firstp/gamelan_probe/ADD+DEL", "first/reference/ADD+DEL")
	printf "3. concurrency: N ADDs at once (own netns + identity each), then their N DELs; gamelan \"probe\": false\n"
	printf "  %-24s %9s %9s %9s %9s   (per-process latency of the N calls; wall = first spawn to last answer)\n",
		"", "wall", "p50", "p99", "max"
	nn = split(NC, ncs, " ")
	for (i = 1; i <= nn; i++) {
		c = "conc" ncs[i]
		for (j = 1; j <= 2; j++) {
			op = j == 1 ? "ADD" : "DEL"
			g = c "/gamelan/" op; r = c "/reference/" op
			crow(sprintf("N=%d %s gamelan", ncs[i], op), g)
			crow(sprintf("N=%d %s reference", ncs[i], op), r)
			printf "  %-24s reference/gamelan: wall %s, p50 %s, p99 %s\n", "",
				ratio(bad(g) || bad(r) ? 0 : wall[r], wall[g]), ratio(bad(g) || bad(r) ? 0 : med[r], med[g]),
				ratio(bad(g) || bad(r) ? 0 : p99[r], p99[g])
		}
	}
	printf "\naddresses handed out on the common path: gamelan %s distinct in %d ADDs, reference %s\n",
		addrs["common/gamelan/ADD"], N, addrs["common/reference/ADD"]
	k = "common/gamelan/SETTLE"
	if (have[k] && n[k] > 0)
		printf "the detached link delete of gamelan ended %.2f ms (median; p95 %.2f) after DEL answered (untimed, waited for before the next call)\n",
			med[k], p95[k]
	goal("common path ADD+DEL", 5, "common/gamelan/ADD+DEL", "common/reference/ADD+DEL")
	goal("common path DEL", 8, "common/gamelan/DEL", "common/reference/DEL")
	goal("first allocation ADD+DEL, \"probe\": false", 2, "first/gamelan_noprobe/ADD+DEL", "first/reference/ADD+DEL")
	goal("first allocation ADD, \"probe\": false", 2, "first/gamelan_noprobe/ADD", "first/reference/ADD")
	printf "benchmark took %ds\n", secs
	if (anyfail) printf "SOME PLUGIN CALLS FAILED: the figures above are incomplete (see FAIL lines)\n"
}' "$RESULTS"

# 4. gamelan-snat router mode against nft -f: 1000 forwards, and one of them changed.
SNAT_FAILED=0
if [[ "${BENCH_SNAT:-1}" != 0 ]]; then
	echo
	if [[ ! -x "$BIN/gamelan-snat" ]] || ! command -v nft >/dev/null; then
		echo "bench: snat section skipped: $BIN/gamelan-snat or nft is missing (make; make deps)" >&2
		SNAT_FAILED=1
	elif ! GLW=${GLW}s "$GL_TOP/bench/snatbench.sh" "$BIN"; then
		echo "bench: the snat benchmark failed (see FAIL lines)" >&2
		SNAT_FAILED=1
	fi
fi

# 5. gamelan-ipam's Kubernetes store against the fake API server (loopback only): objects the
#    server reads per ADD, from etcd and from the watch cache, with 0, 500 and 5000 reservations
#    elsewhere in the namespace and in the ADD's own network (goal: flat); 96 concurrent ADDs
#    from 8 nodes, 409s per allocation (goal: <= 0.3). A goal missed prints MISSED.
KUBE_FAILED=0
if [[ "${BENCH_KUBE:-1}" != 0 ]]; then
	echo
	if [[ ! -x "$BIN/kubebench" ]]; then
		echo "bench: kube section skipped: $BIN/kubebench is missing (make)" >&2
		KUBE_FAILED=1
	elif ! "$BIN/kubebench" --fake "$GL_TOP/netns-harness/fakeapi/fakeapi.py"; then
		echo "bench: the Kubernetes store benchmark failed" >&2
		KUBE_FAILED=1
	fi
fi

# 6. docker run --rm --network X IMAGE true: gamelan-docker vs the built-in macvlan vs none, a
#    real dockerd in node1 of a world of its own (bench/dockerbench.sh; BENCH_DOCKER=0 skips).
DOCKER_FAILED=0
if [[ "${BENCH_DOCKER:-1}" != 0 ]]; then
	echo
	GLW=${GLW}d "$GL_TOP/bench/dockerbench.sh" "$BIN" || { echo "bench: the docker benchmark failed" >&2; DOCKER_FAILED=1; }
fi

if ((FAILED)) || grep -q ' fail=[1-9]' "$RESULTS"; then
	echo "bench: some plugin calls failed" >&2
	exit 1
fi
((SNAT_FAILED == 0 && KUBE_FAILED == 0 && DOCKER_FAILED == 0)) || exit 1
exit 0
