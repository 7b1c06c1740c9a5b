#!/usr/bin/env bash
# Every binary run by hand behaves like the tools people know: --help prints a usage with an
# example on stdout and exits 0, --version prints the name and lib/base/version.h's version.
# A CNI plugin without CNI_COMMAND says what it is and which spec versions it speaks, on
# stderr, exit 0 (the reference plugins' skeleton, containernetworking/cni pkg/skel, does the
# same); gamelan-ipam without CNI_COMMAND is its admin tool. With CNI_COMMAND set but wrong,
# the answer is still the CNI error JSON. Each run is in a network namespace of its own, with
# a clean environment.
. "$(dirname "$0")/lib.sh"

export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

VERSION=$(sed -n 's/^#define GL_VERSION "\(.*\)"$/\1/p' "$GL_TOP/lib/base/version.h")
[[ -n "$VERSION" ]] || t_bail "no GL_VERSION in lib/base/version.h"
SPEC="0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"
PLUGINS=(gamelan-macvlan gamelan-ipam gamelan-snat)
ALL=("${PLUGINS[@]}" lanserver lanclient)
CONF='{"cniVersion":"1.0.0","name":"lan","type":"x"}'

# run [VAR=VALUE...] BIN [ARGS...]: BIN from GL_BIN with only PATH, the sanitizer settings and
# the given variables in its environment, stdin from $IN (empty by default).
IN=/dev/null
run() {
	local -a envv=(PATH=/usr/sbin:/usr/bin:/sbin:/bin "ASAN_OPTIONS=$ASAN_OPTIONS"
		"UBSAN_OPTIONS=$UBSAN_OPTIONS" "LSAN_OPTIONS=$LSAN_OPTIONS")
	while [[ "$1" == *=* ]]; do
		envv+=("$1")
		shift
	done
	local bin=$1
	shift
	unshare --net env -i "${envv[@]}" "$GL_BIN/$bin" "$@" <"$IN"
}

no_sanitizer() {
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr"
}

case_help() {
	local b=$1 arg
	for arg in --help -h; do
		assert_rc 0 run "$b" "$arg" || return
		assert_match '^[Uu]sage: '"$b"' ' "$T_OUT" "$b $arg: first line" || return
		assert_match '[Ee]xample' "$T_OUT" "$b $arg: an example" || return
		assert_eq "" "$T_ERR" "$b $arg: stderr" || return
	done
}

case_version() {
	local b=$1
	assert_rc 0 run "$b" --version || return
	assert_eq "$b $VERSION" "$(head -n 1 <<<"$T_OUT")" "$b --version: first line" || return
	assert_eq "" "$T_ERR" "$b --version: stderr" || return
	if [[ " ${PLUGINS[*]} " == *" $b "* ]]; then
		assert_eq "CNI protocol versions supported: $SPEC" "$(sed -n 2p <<<"$T_OUT")" \
			"$b --version: second line"
	fi
}

# A plugin run by hand: what it is on stderr, nothing on stdout, exit 0; the same with an
# empty CNI_COMMAND (the reference skeleton reads both as unset).
case_about() {
	local b=$1 want
	want=$(printf 'CNI %s plugin v%s\nCNI protocol versions supported: %s' "$b" "$VERSION" "$SPEC")
	assert_rc 0 run "$b" || return
	assert_eq "" "$T_OUT" "$b: stdout" || return
	assert_eq "$want" "$T_ERR" "$b: stderr" || return
	assert_rc 0 run CNI_COMMAND= "$b" || return
	assert_eq "$want" "$T_ERR" "$b with CNI_COMMAND empty: stderr" || return
	# Its spec versions are those VERSION reports.
	IN=$T_TMP/conf
	printf '%s' "$CONF" >"$IN"
	assert_rc 0 run CNI_COMMAND=VERSION "$b"
	IN=/dev/null
	((T_RC == 0)) || return
	assert_json_field "$T_OUT" '.supportedVersions | join(", ")' "$SPEC" "$b VERSION"
}

case_unknown_arg() {
	local b=$1 rc=$2
	assert_rc "$rc" run "$b" --no-such-option || return
	assert_eq "" "$T_OUT" "$b --no-such-option: stdout" || return
	assert_match . "$T_ERR" "$b --no-such-option: a reason on stderr" || return
	no_sanitizer
}

# CNI_COMMAND set but not a verb: the spec's error JSON, code 4, naming the variable.
case_bad_command() {
	local b=$1 cmd
	IN=$T_TMP/conf
	printf '%s' "$CONF" >"$IN"
	for cmd in FOO add; do
		assert_rc 1 run CNI_COMMAND=$cmd CNI_CONTAINERID=c1 CNI_IFNAME=eth0 CNI_NETNS=/run/netns/x \
			CNI_PATH=/usr/lib/cni "$b" --help || break
		assert_cni_error "$T_OUT" 4 || break
		assert_contains CNI_COMMAND "$(jq -r .msg <<<"$T_OUT")" "$b CNI_COMMAND=$cmd: msg" || break
		no_sanitizer || break
	done
	IN=/dev/null
	((T_RC == 1))
}

case_ipam_admin() {
	local sub
	# No argument: the admin tool's usage on stderr, exit 2 (usage), as before.
	assert_rc 2 run gamelan-ipam || return
	assert_match '^Usage: gamelan-ipam' "$T_ERR" "gamelan-ipam: stderr" || return
	assert_rc 0 run gamelan-ipam --help || return
	for sub in list pin unpin release; do
		assert_match "  $sub " "$T_OUT" "gamelan-ipam --help: the $sub command" || return
	done
	assert_rc 1 run gamelan-ipam --db "$T_TMP/admin.db" list || return
	assert_contains 'no database' "$T_ERR" "gamelan-ipam list without a database" || return
	assert_rc 2 run gamelan-ipam frobnicate || return
	assert_contains 'unknown command' "$T_ERR" "gamelan-ipam frobnicate"
}

case_snat_router() {
	assert_rc 0 run gamelan-snat router --help || return
	assert_match 'gamelan-snat router add ' "$T_OUT" "gamelan-snat router --help" || return
	assert_rc 2 run gamelan-snat router || return
	assert_match 'gamelan-snat router add ' "$T_ERR" "gamelan-snat router: usage on stderr"
}

for b in "${ALL[@]}"; do
	t_run "$b --help: usage with an example on stdout, exit 0" case_help "$b"
	t_run "$b --version: name and version, exit 0" case_version "$b"
done
for b in gamelan-macvlan gamelan-snat; do
	t_run "$b without CNI_COMMAND: the about line and spec versions on stderr, exit 0" case_about "$b"
	t_run "$b: an unknown argument is a usage error (2)" case_unknown_arg "$b" 2
done
for b in lanserver lanclient; do
	t_run "$b: an unknown option is a usage error (64)" case_unknown_arg "$b" 64
done
for b in "${PLUGINS[@]}"; do
	t_run "$b: CNI_COMMAND set but wrong is still the CNI error JSON (code 4)" case_bad_command "$b"
done
t_run "gamelan-ipam without CNI_COMMAND is its admin tool" case_ipam_admin
t_run "gamelan-snat router keeps its subcommands and usage" case_snat_router
t_done
