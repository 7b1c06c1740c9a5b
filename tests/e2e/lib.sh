# shellcheck shell=bash
# The end-to-end test convention. A test script sources this file, then runs cases:
#
#   . "$(dirname "$0")/lib.sh"
#   world_up || t_bail "world_up failed"
#   t_begin "LAN player is accepted"
#   assert_rc 0 game_join lanp 192.168.1.11 10999 wilson || true
#   assert_match '^accepted' "$T_OUT"
#   t_ok
#   t_done
#
# or a case as a function, which ends at its first failed assertion:
#
#   case_lan() { assert_rc 0 game_join lanp 192.168.1.11 10999 w || return; ...; }
#   t_run "LAN player is accepted" case_lan
#
# Each case prints exactly one line on stdout: "ok NAME" or "not ok NAME: why" (later
# failures of the same case are printed as "#   also: ..."), "ok NAME # SKIP why" for a
# skipped one. tests/run-e2e.sh counts those lines. A case still open when the script ends
# is reported as failed; t_done ends the script with status 1 when any case failed.
#
# The runner gives: GL_BIN (built binaries), GLW (namespace prefix, unique per script: a
# script that builds a second world uses "${GLW}X" so the runner's leak check finds it),
# GL_TOP (the source tree). Run by hand: GL_BIN=build/san/bin bash tests/e2e/test_x.sh
#
# Helpers (all assertions print through t_fail and return 1 on failure, 0 otherwise):
#   t_begin NAME | t_ok | t_fail MSG | t_skip NAME WHY | t_run NAME FUNC [ARGS] | t_done
#   t_bail MSG                       fail the script now (world_down still runs)
#   t_note MSG                       a "# MSG" line, ignored by the runner
#   assert_eq EXPECTED ACTUAL [WHAT]        assert_ne A B [WHAT]
#   assert_match ERE STRING [WHAT]          assert_no_match ERE STRING [WHAT]
#   assert_contains NEEDLE HAYSTACK [WHAT]
#   assert_rc RC CMD [ARGS...]      run CMD: stdout in T_OUT, stderr in T_ERR, status in T_RC
#   assert_ok CMD [ARGS...]         assert_rc 0
#   assert_link NS IFNAME           assert_no_link NS IFNAME
#   assert_addr NS IFNAME CIDR      assert_no_addr NS IFNAME CIDR
#   assert_ns NAME                  assert_no_ns NAME     (role or full namespace name)
#   assert_json_field JSON JQ_FILTER EXPECTED  (jq -r output; "null" for a missing field)
#   assert_cni_error JSON CODE      a CNI error object with this code and a non-empty msg
#   assert_file_mode PATH MODE      (octal, as stat %a prints it: 600)
#   assert_no_file PATH
#   wait_until SECS CMD [ARGS...]   poll CMD every 0.1 s, at most SECS; 1 on timeout
#   proc_gone PID                   true when PID no longer runs (a zombie counts as gone)
#   assert_proc_alive PID           assert_proc_gone PID
#   t_container_id                  print a fresh 64-hex container ID
#   T_TMP                           a temporary directory removed when the script ends
#   k8s_args NS POD CID             CNI_ARGS as kubelet's runtime passes them
#   db_rows / db_snap               gamelan-ipam's rows in $DB as JSON ([] without a store);
#                                   db_snap without timestamps, for before/after comparisons
#   pod_links NAME                  the links in pod netns NAME, sorted, space-separated (waits,
#                                   bounded, for links a DEL retired to be deleted)
#
# The fake Kubernetes API server (netns-harness/fakeapi/fakeapi.py), one at a time per script:
#   fakeapi_start DIR [--python PY] [--netns NS] [FAKE_ARGS...]
#                                   stop the previous fake, start a fresh one on 127.0.0.1:0
#                                   (in namespace NS when given), port file and log (fake.log,
#                                   appended) in DIR; waits (bounded, 15 s) for the port. Sets
#                                   FAKE_PID, FAKE_PORT, FAKE_URL (https with --tls-cert),
#                                   FAKE_LOG. 1 when it does not start (then stopped). Python:
#                                   PY, else $FAKEAPI_PY ($GL_PYTHON, else /usr/bin/python3 when
#                                   executable, else python3). Stopped at exit.
#   fakeapi_stop                    stop it (none running is fine)
#   fakeapi_kubeconfig FILE URL [TOKEN [CA_FILE]]
#                                   write a kubeconfig (0600) for URL, namespace gamelan-system
#   fakeapi_crd_json                the IPReservation CRD of conf/k8s as JSON (a minimal one
#                                   when that file or python3-yaml is missing)
#   fakeapi_post_crd URL [CURL_ARGS...]
#                                   POST that CRD to the server at URL; 1 (reason in FAKE_ERR)
#                                   unless it answers 201

set -u
GL_TOP=${GL_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# shellcheck source=../../netns-harness/world.sh
. "$GL_TOP/netns-harness/world.sh"

T_FILE=$(basename "${0:-e2e}" .sh)
T_NAME=
T_STATE=           # "" no case open, "open", "failed"
T_PASSED=0
T_FAILED=0
T_SKIPPED=0
T_OUT=''
T_ERR=''
T_RC=0
T_TMP=$(mktemp -d "/tmp/gl-e2e.$GLW.XXXXXX")
chmod 700 "$T_TMP"

_t_at_exit() {
	if [[ "$T_STATE" == open ]]; then
		t_fail "the script ended before the case did"
	fi
	# T_KEEP=DIR keeps the test's files (daemon logs, stores) for a look after a failure.
	if [[ -n "${T_KEEP:-}" ]]; then
		mkdir -p "$T_KEEP" && cp -a "$T_TMP" "$T_KEEP/" 2>/dev/null
	fi
	rm -rf "$T_TMP"
}
world_at_exit _t_at_exit

# Multi-line reasons are folded into one line: the runner reads one line per case.
_t_oneline() {
	printf '%s' "$*" | tr '\n' ' ' | cut -c1-600
}

t_note() {
	printf '# %s\n' "$(_t_oneline "$*")"
}

t_begin() {
	if [[ "$T_STATE" == open ]]; then
		t_ok
	fi
	T_NAME=$1
	T_STATE=open
}

t_ok() {
	if [[ "$T_STATE" == open ]]; then
		printf 'ok %s\n' "$T_NAME"
		T_PASSED=$((T_PASSED + 1))
	fi
	T_STATE=
	return 0
}

t_fail() {
	local msg
	msg=$(_t_oneline "$*")
	case "$T_STATE" in
	open)
		printf 'not ok %s: %s\n' "$T_NAME" "$msg"
		T_STATE=failed
		T_FAILED=$((T_FAILED + 1))
		;;
	failed)
		printf '#   also: %s\n' "$msg"
		;;
	*)
		# A failure outside any case still has to be counted.
		printf 'not ok %s: %s\n' "$T_FILE" "$msg"
		T_FAILED=$((T_FAILED + 1))
		;;
	esac
	return 1
}

t_skip() {
	if [[ "$T_STATE" == open ]]; then
		t_ok
	fi
	printf 'ok %s # SKIP %s\n' "$1" "$(_t_oneline "${2:-}")"
	T_SKIPPED=$((T_SKIPPED + 1))
	T_STATE=
}

t_run() {
	local name=$1 fn=$2 rc
	shift 2
	t_begin "$name"
	"$fn" "$@"
	rc=$?
	if ((rc != 0)) && [[ "$T_STATE" == open ]]; then
		t_fail "$fn returned $rc"
	fi
	t_ok
}

t_done() {
	if [[ "$T_STATE" == open ]]; then
		t_ok
	fi
	T_STATE=
	# The runner prints its own count (with its leak checks); by hand, this is the count.
	if [[ -z "${GL_E2E_RUNNER:-}" ]]; then
		t_note "$T_FILE: $T_PASSED passed, $T_FAILED failed$( ((T_SKIPPED > 0)) && echo ", $T_SKIPPED skipped")"
	fi
	if ((T_FAILED > 0)); then
		exit 1
	fi
	exit 0
}

t_bail() {
	t_fail "bail out: $*"
	T_STATE=
	exit 1
}

assert_eq() {
	if [[ "$1" != "$2" ]]; then
		t_fail "${3:-value}: expected '$1', got '$2'"
		return 1
	fi
}

assert_ne() {
	if [[ "$1" == "$2" ]]; then
		t_fail "${3:-value}: expected something other than '$1'"
		return 1
	fi
}

assert_match() {
	if [[ ! "$2" =~ $1 ]]; then
		t_fail "${3:-value}: '$2' does not match /$1/"
		return 1
	fi
}

assert_no_match() {
	if [[ "$2" =~ $1 ]]; then
		t_fail "${3:-value}: '$2' matches /$1/"
		return 1
	fi
}

assert_contains() {
	if [[ "$2" != *"$1"* ]]; then
		t_fail "${3:-value}: '$(_t_oneline "$2" | cut -c1-300)' does not contain '$1'"
		return 1
	fi
}

assert_rc() {
	local want=$1
	shift
	"$@" >"$T_TMP/.out" 2>"$T_TMP/.err"
	T_RC=$?
	T_OUT=$(cat "$T_TMP/.out")
	T_ERR=$(cat "$T_TMP/.err")
	if [[ "$T_RC" != "$want" ]]; then
		t_fail "'$*' exited $T_RC, expected $want; stdout: $(_t_oneline "$T_OUT" | cut -c1-300); stderr: $(_t_oneline "$T_ERR" | cut -c1-300)"
		return 1
	fi
}

assert_ok() {
	assert_rc 0 "$@"
}

_t_ns() {
	world_ns "$1" 2>/dev/null || printf '%s\n' "$1"
}

assert_link() {
	if ! ip -n "$(_t_ns "$1")" link show dev "$2" >/dev/null 2>&1; then
		t_fail "no link $2 in $1"
		return 1
	fi
}

assert_no_link() {
	if ip -n "$(_t_ns "$1")" link show dev "$2" >/dev/null 2>&1; then
		t_fail "link $2 is still in $1"
		return 1
	fi
}

_t_has_addr() {
	local a
	for a in $(ip -n "$(_t_ns "$1")" -o addr show dev "$2" 2>/dev/null | awk '{print $4}'); do
		[[ "$a" == "$3" ]] && return 0
	done
	return 1
}

assert_addr() {
	if ! _t_has_addr "$1" "$2" "$3"; then
		t_fail "$2 in $1 does not have $3 (has: $(ip -n "$(_t_ns "$1")" -o addr show dev "$2" 2>/dev/null | awk '{printf "%s ", $4}'))"
		return 1
	fi
}

assert_no_addr() {
	if _t_has_addr "$1" "$2" "$3"; then
		t_fail "$2 in $1 still has $3"
		return 1
	fi
}

assert_ns() {
	if [[ ! -e "/run/netns/$(_t_ns "$1")" ]]; then
		t_fail "namespace $(_t_ns "$1") does not exist"
		return 1
	fi
}

assert_no_ns() {
	if [[ -e "/run/netns/$(_t_ns "$1")" ]]; then
		t_fail "namespace $(_t_ns "$1") still exists"
		return 1
	fi
}

assert_json_field() {
	local got
	if ! got=$(printf '%s' "$1" | jq -r "$2" 2>&1); then
		t_fail "not JSON, or jq '$2' failed: $(_t_oneline "$got") in: $(_t_oneline "$1" | cut -c1-300)"
		return 1
	fi
	assert_eq "$3" "$got" "json $2"
}

assert_cni_error() {
	local code msg
	code=$(printf '%s' "$1" | jq -r '.code' 2>/dev/null)
	msg=$(printf '%s' "$1" | jq -r '.msg // empty' 2>/dev/null)
	if [[ "$code" != "$2" || -z "$msg" ]]; then
		t_fail "expected a CNI error with code $2 and a msg, got: $(_t_oneline "$1" | cut -c1-300)"
		return 1
	fi
}

assert_file_mode() {
	local got
	got=$(stat -c %a "$1" 2>/dev/null) || { t_fail "no file $1"; return 1; }
	assert_eq "$2" "$got" "mode of $1"
}

assert_no_file() {
	if [[ -e "$1" ]]; then
		t_fail "$1 still exists"
		return 1
	fi
}

wait_until() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 10; i++)); do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

proc_gone() {
	local state
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[[ -z "$state" || "$state" == Z || "$state" == X ]]
}

assert_proc_alive() {
	if proc_gone "$1"; then
		t_fail "process $1 is gone"
		return 1
	fi
}

assert_proc_gone() {
	if ! proc_gone "$1"; then
		t_fail "process $1 ($(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)) still runs"
		return 1
	fi
}

t_container_id() {
	od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
	printf '\n'
}

k8s_args() {
	printf 'IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s' "$1" "$2" "$3"
}

db_rows() {
	if [[ ! -e "${DB:?DB names the store}" ]]; then
		echo '[]'
		return 0
	fi
	"$GL_BIN/gamelan-ipam" list --db "$DB" --json
}

# What the store holds, without timestamps: a failed ADD must leave it as it found it.
db_snap() {
	db_rows | jq -c '[.[] | {network, ip, identity, ifname, state, containerID}] | sort_by(.network, .ip)'
}

# A link gamelan-macvlan's DEL retired (gl-del-*) is deleted by a detached child just after
# DEL answered: pod_links waits for it (bounded, 5 s) and shows it if it stays.
pod_links() {
	local i out
	for ((i = 0; i < 50; i++)); do
		out=$(ip -n "$(world_ns "pod-$1")" -o link show 2>/dev/null | awk -F': ' '{print $2}' |
			sed 's/@.*//' | sort | tr '\n' ' ')
		[[ " $out" != *" gl-del-"* ]] && break
		sleep 0.1
	done
	printf '%s' "$out"
}

FAKEAPI=$GL_TOP/netns-harness/fakeapi/fakeapi.py
if [[ -n "${GL_PYTHON:-}" ]]; then
	FAKEAPI_PY=$GL_PYTHON
elif [[ -x /usr/bin/python3 ]]; then
	FAKEAPI_PY=/usr/bin/python3
else
	FAKEAPI_PY=python3
fi
# FAKE_* are set here for the scripts that source this file.
# shellcheck disable=SC2034
FAKE_PID=
FAKE_PORT=
FAKE_URL=
FAKE_LOG=
FAKE_ERR=

fakeapi_stop() {
	if [[ -n "$FAKE_PID" ]]; then
		kill "$FAKE_PID" 2>/dev/null
		wait "$FAKE_PID" 2>/dev/null
		FAKE_PID=
	fi
	return 0
}

_FAKEAPI_AT_EXIT=
# shellcheck disable=SC2034 # FAKE_URL is for the caller
fakeapi_start() {
	local dir=$1 py=$FAKEAPI_PY scheme=http
	local netns=()
	shift
	while (($# > 0)); do
		case "$1" in
		--python) py=$2; shift 2 ;;
		--netns) netns=(ip netns exec "$2"); shift 2 ;;
		*) break ;;
		esac
	done
	[[ " $* " == *" --tls-cert "* ]] && scheme=https
	if [[ -z "$_FAKEAPI_AT_EXIT" ]]; then
		world_at_exit fakeapi_stop
		_FAKEAPI_AT_EXIT=1
	fi
	fakeapi_stop
	mkdir -p "$dir" || return 1
	rm -f "$dir/port"
	FAKE_LOG=$dir/fake.log
	FAKE_PORT=
	FAKE_URL=
	# ip netns exec execs: FAKE_PID is the fake's own.
	"${netns[@]}" "$py" "$FAKEAPI" --listen 127.0.0.1:0 --port-file "$dir/port" "$@" >>"$FAKE_LOG" 2>&1 &
	FAKE_PID=$!
	if ! wait_until 15 test -s "$dir/port"; then
		fakeapi_stop
		return 1
	fi
	FAKE_PORT=$(<"$dir/port")
	FAKE_URL=$scheme://127.0.0.1:$FAKE_PORT
}

fakeapi_kubeconfig() {
	local file=$1 url=$2 token=${3:-} ca=${4:-}
	(
		umask 077
		printf 'apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: %s\n' "$url"
		[[ -n "$ca" ]] && printf '    certificate-authority: %s\n' "$ca"
		printf 'users:\n- name: plugin\n'
		if [[ -n "$token" ]]; then
			printf '  user:\n    token: %s\n' "$token"
		else
			printf '  user: {}\n'
		fi
		printf 'contexts:\n- name: fake\n  context: {cluster: fake, user: plugin, namespace: gamelan-system}\n'
		printf 'current-context: fake\n'
	) >"$file" && chmod 600 "$file"
}

_fakeapi_crd_yaml() {
	local f=$GL_TOP/conf/k8s/gamelan-crds.yaml
	[[ -f "$f" ]] && "$FAKEAPI_PY" -c 'import yaml' 2>/dev/null
}

fakeapi_crd_json() {
	if _fakeapi_crd_yaml; then
		"$FAKEAPI_PY" -c 'import yaml,json,sys
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "CustomResourceDefinition" and d["spec"]["names"]["plural"] == "ipreservations":
        print(json.dumps(d))' "$GL_TOP/conf/k8s/gamelan-crds.yaml"
		return
	fi
	jq -nc '{apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition",
		metadata: {name: "ipreservations.gamelan.dev"}, spec: {group: "gamelan.dev", scope: "Namespaced",
		names: {kind: "IPReservation", listKind: "IPReservationList", plural: "ipreservations",
			singular: "ipreservation", shortNames: ["ipr"]},
		versions: [{name: "v1alpha1", served: true, storage: true,
			schema: {openAPIV3Schema: {type: "object", "x-kubernetes-preserve-unknown-fields": true}}}]}}'
}

# shellcheck disable=SC2034 # FAKE_ERR is for the caller
fakeapi_post_crd() {
	local url=$1 crd code
	shift
	FAKE_ERR=
	_fakeapi_crd_yaml || t_note "conf/k8s/gamelan-crds.yaml not usable: posting a minimal CRD"
	crd=$(fakeapi_crd_json) || { FAKE_ERR="no CRD"; return 1; }
	code=$(curl -sS --max-time 20 -o "$T_TMP/.crd.out" -w '%{http_code}' -X POST \
		-H 'Content-Type: application/json' --data-binary "$crd" "$@" \
		"$url/apis/apiextensions.k8s.io/v1/customresourcedefinitions" 2>&1)
	if [[ "$code" != 201 ]]; then
		FAKE_ERR="posting the CRD: HTTP $code $(head -c 300 "$T_TMP/.crd.out" 2>/dev/null)"
		return 1
	fi
}
