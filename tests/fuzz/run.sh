#!/usr/bin/env bash
# Run each libFuzzer harness for FUZZ_SECONDS (default 30) over its corpus,
# tests/fuzz/corpus/NAME (read only: new inputs go to a scratch directory).
# A crash, a leak, a sanitizer report or a timeout fails the harness; the
# input that did it is kept in BUILD_DIR/fuzz/artifacts/ and its path printed
# (replay it: BUILD_DIR/fuzz/fuzz_NAME FILE, or build/san/fuzz/replay_NAME FILE).
# FUZZ_MERGE=1 then rewrites the tree's corpus as the smallest set of inputs
# that covers every edge the old corpus and the run reached (libFuzzer's
# -merge=1 -use_counters=0; inputs of at most 4096 bytes), keeping seed-*.
# Prints "ok fuzz NAME ..." or "not ok fuzz NAME: why", then "fuzz: N passed, M failed".
#
#   tests/fuzz/run.sh BUILD_DIR NAME...
set -u

if (($# < 2)); then
	echo "usage: $0 BUILD_DIR NAME..." >&2
	exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$1
shift
secs=${FUZZ_SECONDS:-30}
art=$build/fuzz/artifacts
mkdir -p "$art"
tmp=$(mktemp -d /tmp/gl-fuzz.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

for name in "$@"; do
	bin=$build/fuzz/fuzz_$name
	corpus=$here/corpus/$name
	if [[ ! -x "$bin" ]]; then
		echo "not ok fuzz $name: not built ($bin)"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$corpus" "$tmp/$name"
	# -timeout: one input taking over 10 s is a hang; -rss_limit_mb bounds memory.
	timeout -k 10 $((secs + 120)) "$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/$name-" \
		"$tmp/$name" "$corpus" >"$tmp/$name.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tmp/$name.log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$tmp/$name.log" | tail -n 1)
	if ((rc == 0)); then
		echo "ok fuzz $name (${secs} s, ${runs:-?} runs, ${cov:-cov: ?})"
		passed=$((passed + 1))
	else
		why=$(grep -m 1 -E 'ERROR: |runtime error|SUMMARY' "$tmp/$name.log")
		echo "not ok fuzz $name: exit status $rc: ${why:-see the log}"
		grep -E '^(==|    #|SUMMARY|artifact_prefix|Test unit written|.*runtime error)' "$tmp/$name.log" |
			head -n 40 | sed 's/^/    /'
		failed=$((failed + 1))
	fi
	if [[ -n "${FUZZ_MERGE:-}" ]]; then
		mkdir -p "$tmp/$name.min"
		if "$bin" -merge=1 -use_counters=0 -max_len=4096 "$tmp/$name.min" "$corpus" "$tmp/$name" \
			>"$tmp/$name.merge" 2>&1; then
			find "$corpus" -type f ! -name 'seed-*' -delete
			cp "$tmp/$name.min"/* "$corpus"/ 2>/dev/null
			echo "# $name: corpus now $(find "$corpus" -type f | wc -l) files"
		else
			echo "# merge into $corpus failed: $(tail -n 1 "$tmp/$name.merge")"
		fi
	fi
done

echo "fuzz: $passed passed, $failed failed"
((failed == 0))
