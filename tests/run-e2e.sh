#!/usr/bin/env bash
# Run the end-to-end tests, one script at a time.
#
#   tests/run-e2e.sh BUILD_DIR [NAME...]
#
# Runs every tests/e2e/test_*.sh (or only those whose name contains one of NAME) with
# GL_BIN=BUILD_DIR/bin, its own namespace prefix GLW and a timeout (GL_E2E_TIMEOUT, default
# 300 s; a script's own "# e2e-timeout: SECONDS" line when longer). Counts the "ok NAME" /
# "not ok NAME: why" lines each script prints (see
# tests/e2e/lib.sh). After each script it checks that no namespace with the script's prefix
# and no new link in the host's namespace was left behind, and counts a failure if so
# (the namespaces are then removed; host links are only reported, never touched).
# Prints "e2e: N passed, M failed[, K skipped]" last ("ok NAME # SKIP why" lines are skipped
# cases, not passed ones); GL_RESULT_FILE, when set, receives "N M K".
set -u

if (($# < 1)); then
	echo "usage: $0 BUILD_DIR [NAME...]" >&2
	exit 64
fi
top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" 2>/dev/null && pwd) || { echo "run-e2e: no directory $1" >&2; exit 64; }
shift
bin=$build/bin
timeout_s=${GL_E2E_TIMEOUT:-300}
passed=0
failed=0
skipped=0
tmp=$(mktemp -d /tmp/gl-e2e-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if [[ "$(id -u)" != 0 ]]; then
	echo "not ok e2e: must run as root (network namespaces)"
	echo "e2e: 0 passed, 1 failed"
	[[ -n "${GL_RESULT_FILE:-}" ]] && echo "0 1 0" >"$GL_RESULT_FILE"
	exit 1
fi

host_links() {
	ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | sort
}

# The namespaces of one script: its GLW, and any GLW it derived by appending to it.
leftovers() {
	ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$1[A-Za-z0-9_]*-" || true
}

selected() {
	local base=$1 want
	((${#names[@]} == 0)) && return 0
	for want in "${names[@]}"; do
		[[ "$base" == *"$want"* ]] && return 0
	done
	return 1
}

names=("$@")
i=0
for t in "$top"/tests/e2e/test_*.sh; do
	[[ -e "$t" ]] || continue
	base=$(basename "$t" .sh)
	selected "$base" || continue
	i=$((i + 1))
	# Ends in a letter, so that one script's prefix is never the prefix of another's.
	glw="e2e$$t${i}x"
	echo "# $base (GLW=$glw)"
	links_before=$(host_links)
	start=$(date +%s)
	# A script may need longer than the default: "# e2e-timeout: SECONDS" in it.
	t_s=$(sed -n 's/^# e2e-timeout: *\([0-9][0-9]*\)$/\1/p' "$t" | head -n 1)
	((${t_s:-0} > timeout_s)) || t_s=$timeout_s
	GL_E2E_RUNNER=1 GL_BIN=$bin GLW=$glw GL_TOP=$top timeout -k 10 "$t_s" bash "$t" </dev/null \
		| tee "$tmp/out"
	rc=${PIPESTATUS[0]}
	p=$(grep -E -c '^ok ' "$tmp/out" | head -n 1)
	s=$(grep -E -c '^ok .*# SKIP' "$tmp/out" | head -n 1)
	f=$(grep -E -c '^not ok ' "$tmp/out" | head -n 1)
	p=$((p - s))
	if ((rc == 124 || rc == 137)); then
		echo "not ok $base: timed out after ${t_s}s"
		f=$((f + 1))
	elif ((rc != 0 && f == 0)); then
		echo "not ok $base: exit status $rc with no failed case reported"
		f=$((f + 1))
	elif ((p + f + s == 0)); then
		echo "not ok $base: reported no case"
		f=$((f + 1))
	fi
	left=$(leftovers "$glw")
	if [[ -n "$left" ]]; then
		echo "not ok $base: left namespaces behind: $(tr '\n' ' ' <<<"$left")"
		f=$((f + 1))
		for ns in $left; do
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
			done
			ip netns del "$ns" 2>/dev/null
		done
	fi
	new_links=$(comm -13 <(echo "$links_before") <(host_links))
	if [[ -n "$new_links" ]]; then
		echo "not ok $base: created links in the host namespace: $(tr '\n' ' ' <<<"$new_links")"
		f=$((f + 1))
	fi
	echo "# $base: $p passed, $f failed$( ((s > 0)) && echo ", $s skipped") in $(($(date +%s) - start))s"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
done

if ((i == 0)); then
	echo "not ok e2e: no test script matched"
	failed=$((failed + 1))
fi
echo "e2e: $passed passed, $failed failed$( ((skipped > 0)) && echo ", $skipped skipped")"
if [[ -n "${GL_RESULT_FILE:-}" ]]; then
	echo "$passed $failed $skipped" >"$GL_RESULT_FILE"
fi
((failed == 0))
