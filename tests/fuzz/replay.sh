#!/usr/bin/env bash
# Replay every fuzz corpus (tests/fuzz/corpus/NAME) through its harness as the
# gcc build links it (BUILD_DIR/fuzz/replay_NAME, under ASan+UBSan with SAN=1):
# one case per harness; a crash, a sanitizer report, a leak or an unreadable
# input fails it. No clang needed. Prints "ok fuzz replay NAME (N inputs)" or
# "not ok ...", then "fuzz replay: N passed, M failed"; GL_RESULT_FILE, when
# set, receives "N M 0". Exit 1 when anything failed.
#
#   tests/fuzz/replay.sh BUILD_DIR
set -u

if (($# != 1)); then
	echo "usage: $0 BUILD_DIR" >&2
	exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$1
tmp=$(mktemp -d /tmp/gl-replay.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

for src in "$here"/fuzz_*.c; do
	name=$(basename "$src" .c)
	name=${name#fuzz_}
	bin=$build/fuzz/replay_$name
	corpus=$here/corpus/$name
	if [[ ! -x "$bin" ]]; then
		echo "not ok fuzz replay $name: not built ($bin)"
		failed=$((failed + 1))
		continue
	fi
	n=$(find "$corpus" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l)
	if ((n == 0)); then
		echo "not ok fuzz replay $name: no corpus in $corpus"
		failed=$((failed + 1))
		continue
	fi
	# A sanitizer report (leaks included) must not pass for a clean exit.
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86} \
		UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87} \
		timeout -k 5 120 "$bin" "$corpus" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if ((rc == 0)) && grep -q "^replayed $n inputs, 0 unreadable" "$tmp/out" &&
		! grep -qE 'Sanitizer|runtime error' "$tmp/err"; then
		echo "ok fuzz replay $name ($n inputs)"
		passed=$((passed + 1))
	else
		echo "not ok fuzz replay $name: exit status $rc after $(grep '^replay: ' "$tmp/err" | tail -n 1)"
		grep -vE '^replay: ' "$tmp/err" | head -n 40 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

echo "fuzz replay: $passed passed, $failed failed"
if [[ -n "${GL_RESULT_FILE:-}" ]]; then
	echo "$passed $failed 0" >"$GL_RESULT_FILE"
fi
((failed == 0))
