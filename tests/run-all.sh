#!/usr/bin/env bash
# Run every unit test (BUILD_DIR/tests/test_*), the fuzz corpora's replay (one case per
# harness: tests/fuzz/replay.sh) and every end-to-end test, then print one
# line "N passed, M failed[, K skipped]" counting individual cmocka tests and e2e cases.
# Exit 1 when anything failed (or a runner could not report).
#
#   tests/run-all.sh BUILD_DIR
set -u

if (($# != 1)); then
	echo "usage: $0 BUILD_DIR" >&2
	exit 64
fi
here=$(cd "$(dirname "$0")" && pwd)
build=$1
tmp=$(mktemp -d /tmp/gl-all.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

units=()
for u in "$build"/tests/test_*; do
	[[ -f "$u" && -x "$u" ]] && units+=("$u")
done

# A runner that died before writing its counts is one failure.
read_result() {
	local p f s
	if read -r p f s <"$1" 2>/dev/null && [[ "$p" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ ]]; then
		[[ "$s" =~ ^[0-9]+$ ]] || s=0
		echo "$p $f $s"
	else
		echo "0 1 0"
	fi
}

total_p=0
total_f=0
total_s=0
if ((${#units[@]} > 0)); then
	echo "# unit tests (${#units[@]} binaries)"
	GL_RESULT_FILE=$tmp/unit "$here/run-unit.sh" "${units[@]}"
	read -r p f s < <(read_result "$tmp/unit")
	total_p=$((total_p + p))
	total_f=$((total_f + f))
	total_s=$((total_s + s))
else
	echo "# no unit test binaries in $build/tests"
fi

# Every fuzz corpus through its harness, under the sanitizers of this build.
echo "# fuzz corpora"
GL_RESULT_FILE=$tmp/fuzz "$here/fuzz/replay.sh" "$build"
read -r p f s < <(read_result "$tmp/fuzz")
total_p=$((total_p + p))
total_f=$((total_f + f))

# The layering rules of ARCHITECTURE.md, one case each.
echo "# layers"
"$here/check-layers.sh" >"$tmp/layers.out" 2>&1
cat "$tmp/layers.out"
if read -r _ p _ f _ < <(grep '^layers: ' "$tmp/layers.out" | tr -d ,) &&
	[[ "$p" =~ ^[0-9]+$ && "$f" =~ ^[0-9]+$ ]]; then
	total_p=$((total_p + p))
	total_f=$((total_f + f))
else
	total_f=$((total_f + 1))
fi

echo "# end-to-end tests"
GL_RESULT_FILE=$tmp/e2e "$here/run-e2e.sh" "$build"
read -r p f s < <(read_result "$tmp/e2e")
total_p=$((total_p + p))
total_f=$((total_f + f))
total_s=$((total_s + s))

echo "$total_p passed, $total_f failed$( ((total_s > 0)) && echo ", $total_s skipped")"
((total_f == 0))
