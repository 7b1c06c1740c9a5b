#!/usr/bin/env bash
# lib/ is layered, lowest first: base cni net kube ipam daemon. A file in lib/<layer>/ may
# include headers only from its own layer and the layers before it; a binary's folder may
# include from lib/ but no other binary's folder; no test, bench or binary includes a .c
# file. Prints one TAP-style line per rule and "layers: N passed, M failed"; exit 1 when a
# rule is broken.
#
#   tests/check-layers.sh [TOP]
set -u

top=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$top" || exit 1
layers=(base cni net kube ipam daemon)
rank() {
	local i
	for i in "${!layers[@]}"; do
		[[ ${layers[$i]} == "$1" ]] && { echo "$i"; return; }
	done
	echo -1
}

passed=0
failed=0
report() { # OK? NAME [WHY...]
	local ok=$1 name=$2
	shift 2
	if ((ok)); then
		echo "ok $name"
		passed=$((passed + 1))
	else
		echo "not ok $name: $*"
		failed=$((failed + 1))
	fi
}

# Every folder of lib/ is a known layer (a new one must be placed in the order above).
bad=()
for d in lib/*/; do
	d=${d%/}
	[[ $(rank "${d#lib/}") -ge 0 ]] || bad+=("$d")
done
report $((${#bad[@]} == 0)) "every lib/ folder is a layer" "unknown: ${bad[*]:-}"

# No file in lib/ includes from a layer above its own, or by a relative path.
bad=()
while IFS= read -r f; do
	own=${f#lib/}
	own=${own%%/*}
	own_rank=$(rank "$own")
	while IFS= read -r inc; do
		case $inc in
		*/*) ;;
		*) [[ -f lib/$own/$inc ]] && { bad+=("$f: \"$inc\" (name its folder)"); continue; } ;;
		esac
		dir=${inc%%/*}
		[[ $inc == */* ]] || continue
		r=$(rank "$dir")
		if ((r < 0)); then
			bad+=("$f: \"$inc\" (not a lib/ layer)")
		elif ((r > own_rank)); then
			bad+=("$f: \"$inc\" ($dir is above $own)")
		fi
	done < <(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(git ls-files 'lib/*.c' 'lib/*.h')
report $((${#bad[@]} == 0)) "lib/ includes only its own and lower layers" "${bad[*]:-}"

# Each lib/ folder says what it owns and what it may use.
bad=()
for d in lib/*/; do
	[[ -s ${d}README.md ]] || bad+=("${d%/}")
done
report $((${#bad[@]} == 0)) "every lib/ folder has a README" "missing: ${bad[*]:-}"

# Binaries, tests, bench and the harness include headers, never sources, and never
# another binary's folder.
bad=()
while IFS= read -r f; do
	while IFS= read -r inc; do
		case $inc in
		*.c) bad+=("$f: \"$inc\" (a source file)") ;;
		../*) bad+=("$f: \"$inc\" (a relative path out of its folder)") ;;
		esac
	done < <(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
done < <(git ls-files '*.c' '*.h' | grep -v '^lib/')
report $((${#bad[@]} == 0)) "no file includes a .c file or reaches out of its folder" "${bad[*]:-}"

echo "layers: $passed passed, $failed failed"
((failed == 0))
