#!/usr/bin/env bash
# Run cmocka test binaries and count their individual tests.
#
#   tests/run-unit.sh BUILD/tests/test_a BUILD/tests/test_b ...
#
# Each binary runs with TAP output, in a fresh network namespace of its own (loopback up) so
# that no unit test can touch the host's network, under a timeout (GL_UNIT_TIMEOUT, default
# 120 s). Prints "ok BINARY: TEST" / "not ok BINARY: TEST" per test ("ok ... (skipped)" for
# a cmocka skip()), then "unit: N passed, M failed[, K skipped]"; a skipped test is not a
# passed one. A test that a crash kept from running counts as failed.
# GL_RESULT_FILE, when set, receives "N M K". Exit 1 when anything failed.
set -u

timeout_s=${GL_UNIT_TIMEOUT:-120}
passed=0
failed=0
skipped=0
tmp=$(mktemp -d /tmp/gl-unit.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Isolation needs root and unshare; without them the binary runs as it is.
isolate=()
if [[ "$(id -u)" == 0 && -z "${GL_UNIT_NO_UNSHARE:-}" ]] && command -v unshare >/dev/null; then
	isolate=(unshare --net sh -c 'ip link set lo up 2>/dev/null; exec "$@"' unit)
fi

for bin in "$@"; do
	name=$(basename "$bin")
	if [[ ! -x "$bin" ]]; then
		echo "not ok $name: not built ($bin)"
		failed=$((failed + 1))
		continue
	fi
	CMOCKA_MESSAGE_OUTPUT=tap timeout -k 5 "$timeout_s" "${isolate[@]}" "$bin" \
		</dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	plan=0 ok=0 bad=0
	while IFS= read -r line; do
		case "$line" in
		[0-9]*..[0-9]*)
			plan=$((plan + ${line#*..}))
			;;
		# cmocka's skip() prints "not ok N # SKIP name": a TAP directive, not a failure.
		"ok "*"# SKIP"* | "ok "*"# skip"* | "not ok "*"# SKIP"* | "not ok "*"# skip"*)
			echo "ok $name: ${line#*ok } (skipped)"
			skipped=$((skipped + 1))
			ok=$((ok + 1))
			;;
		"ok "*)
			echo "ok $name: ${line#ok }"
			passed=$((passed + 1))
			ok=$((ok + 1))
			;;
		"not ok "*)
			echo "not ok $name: ${line#not ok }"
			failed=$((failed + 1))
			bad=$((bad + 1))
			;;
		esac
	done <"$tmp/out"
	missing=$((plan - ok - bad))
	if ((missing > 0)); then
		echo "not ok $name: $missing test(s) did not run (exit status $rc)"
		failed=$((failed + missing))
		bad=$((bad + missing))
	elif ((rc != 0 && bad == 0)); then
		echo "not ok $name: exit status $rc with no failed test reported"
		failed=$((failed + 1))
		bad=$((bad + 1))
	fi
	if ((bad > 0)); then
		# The failure's details (assertion, sanitizer report) are on stdout as TAP comments
		# and on stderr.
		grep '^#' "$tmp/out" | sed 's/^/    /' | head -n 60
		sed 's/^/    /' "$tmp/err" | head -n 80
	fi
done

echo "unit: $passed passed, $failed failed$( ((skipped > 0)) && echo ", $skipped skipped")"
if [[ -n "${GL_RESULT_FILE:-}" ]]; then
	echo "$passed $failed $skipped" >"$GL_RESULT_FILE"
fi
((failed == 0))
