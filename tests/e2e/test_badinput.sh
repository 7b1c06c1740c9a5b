#!/usr/bin/env bash
# Bad input, as a runtime (or an attacker who controls a config) could give it: each one is
# answered with exit status 1 and a CNI error object on stdout with the right code (SPEC.md,
# "Well-known Error Codes"), no sanitizer report, and nothing left behind: no link in the
# pod's namespace, no row in the store.
. "$(dirname "$0")/lib.sh"

# A crash or a sanitizer report must not pass for an error exit.
export ASAN_OPTIONS=exitcode=86 UBSAN_OPTIONS=exitcode=87:print_stacktrace=1 LSAN_OPTIONS=exitcode=88

world_up || t_bail "world_up failed"

DB=$T_TMP/ipam.db
POD=$(pod_netns bad) || t_bail "pod_netns failed"
ARGS='IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=bad-0;K8S_POD_INFRA_CONTAINER_ID=x'

BASE=$(jq -nc --arg db "$DB" --arg sd "$T_TMP/state" '{
	cniVersion: "1.1.0", name: "lan", type: "gamelan-macvlan", master: "eth0",
	stateDir: $sd, probe: false,
	ipam: {type: "gamelan-ipam", subnet: "192.168.1.0/24", rangeStart: "192.168.1.200",
		rangeEnd: "192.168.1.216", gateway: "192.168.1.1", routes: [{dst: "0.0.0.0/0"}],
		store: {type: "sqlite", path: $db}}}')

# bad_run CODES [key=value...]: one call that must fail with one of CODES (comma-separated).
# Keys: cmd netns ifname cid args (the environment; an empty value leaves it unset),
# jq (a filter applied to BASE), raw (stdin as given), file (stdin from a file),
# plugin (default gamelan-macvlan), ver (the cniVersion the error must carry), var (for code
# 4: the variable the msg must name, as the spec asks), msg (text the msg must contain).
# Every answer must be strict UTF-8 JSON (RFC 8259), whatever bytes the input had.
bad_run() {
	local codes=$1 cmd=ADD netns=$POD ifname=eth0 cid args=$ARGS jqf=. raw='' file='' plugin=gamelan-macvlan
	local ver='' var='' msg='' kv code in=$T_TMP/stdin has_raw=0
	cid=$(t_container_id)
	shift
	for kv in "$@"; do
		case $kv in
		cmd=*) cmd=${kv#*=} ;;
		netns=*) netns=${kv#*=} ;;
		ifname=*) ifname=${kv#*=} ;;
		cid=*) cid=${kv#*=} ;;
		args=*) args=${kv#*=} ;;
		jq=*) jqf=${kv#*=} ;;
		raw=*) raw=${kv#*=} has_raw=1 ;;
		file=*) file=${kv#*=} ;;
		plugin=*) plugin=${kv#*=} ;;
		ver=*) ver=${kv#*=} ;;
		var=*) var=${kv#*=} ;;
		msg=*) msg=${kv#*=} ;;
		*) t_fail "unknown option $kv"; return 1 ;;
		esac
	done
	if [[ -n "$file" ]]; then
		in=$file
	elif ((has_raw)); then
		printf '%s' "$raw" >"$in"
	else
		jq -c "$jqf" <<<"$BASE" >"$in" || { t_fail "jq '$jqf' failed"; return 1; }
	fi
	assert_rc 1 cni_call node1 "$plugin" "$cmd" "$netns" "$ifname" "$cid" "$args" <"$in" || return
	assert_no_match 'Sanitizer|runtime error' "$T_ERR" "stderr" || return
	# jq would quietly replace bytes that are not UTF-8; Python's strict decoder does not.
	if ! printf '%s' "$T_OUT" | python3 -c 'import json, sys; json.loads(sys.stdin.buffer.read().decode("utf-8", "strict"))' 2>"$T_TMP/py.err"; then
		t_fail "stdout is not strict UTF-8 JSON ($(tail -n 1 "$T_TMP/py.err")): $(head -c 300 <<<"$T_OUT" | od -An -c | head -n 3 | tr -s ' \n' ' ')"
		return 1
	fi
	if ! jq -e 'type == "object"' <<<"$T_OUT" >/dev/null 2>&1; then
		t_fail "stdout is not one JSON object: $(head -c 300 <<<"$T_OUT")"
		return 1
	fi
	code=$(jq -r '.code' <<<"$T_OUT")
	[[ -n "${GL_E2E_VERBOSE:-}" ]] && t_note "$T_OUT"
	if [[ ",$codes," != *",$code,"* ]]; then
		t_fail "code $code, expected $codes: $(head -c 300 <<<"$T_OUT")"
		return 1
	fi
	assert_json_field "$T_OUT" '.msg | type == "string" and length > 0' true "msg" || return
	assert_json_field "$T_OUT" '.cniVersion | type' string "cniVersion of the error" || return
	if [[ -n "$var" ]]; then
		assert_contains "$var" "$(jq -r .msg <<<"$T_OUT")" "msg of a code 4 error (must name the variable)" || return
	fi
	if [[ -n "$ver" ]]; then
		assert_json_field "$T_OUT" '.cniVersion' "$ver" "cniVersion of the error" || return
	fi
	if [[ -n "$msg" ]]; then
		assert_contains "$msg" "$(jq -r .msg <<<"$T_OUT")" "msg" || return
	fi
	assert_eq "lo " "$(pod_links bad)" "links in the pod" || return
	assert_eq "[]" "$(db_rows | jq -c .)" "rows in the store"
}

# bad CODES NAME [key=value...]
bad() {
	local codes=$1 name=$2
	shift 2
	t_run "$name -> code ${codes//,/ or }" bad_run "$codes" "$@"
}

# ---- stdin that is not a config ----
bad 6 "malformed JSON" raw='{"cniVersion": "1.1.0", "name": '
bad 6 "empty stdin" raw=''
bad 6 "a JSON array instead of an object" raw='[{"cniVersion": "1.1.0", "name": "lan", "type": "gamelan-macvlan"}]'
bad 6 "a JSON string instead of an object" raw='"hello"'
bad 6 "two objects" raw="$BASE $BASE"
bad 6 "100000 nested arrays" raw="$(printf '[%.0s' {1..100000})"
head -c 4096 /dev/urandom >"$T_TMP/garbage"
bad 6 "4 KiB of random bytes" file="$T_TMP/garbage"
{
	printf '{"cniVersion": "1.1.0", "name": "lan", "type": "gamelan-macvlan", "pad": "'
	head -c 1100000 /dev/zero | tr '\0' a
	printf '"}'
} >"$T_TMP/big"
bad 5,6 "stdin larger than 1 MiB" file="$T_TMP/big"

# ---- versions ----
bad 1 "unknown cniVersion 9.9.9" jq='.cniVersion = "9.9.9"'
bad 1 "cniVersion 0.1.0 (not supported)" jq='.cniVersion = "0.1.0"'
bad 1 "CHECK with cniVersion 0.3.1 (CHECK is 0.4.0+)" cmd=CHECK jq='.cniVersion = "0.3.1"'
bad 1 "STATUS with cniVersion 0.4.0 (STATUS is 1.1.0+)" cmd=STATUS netns= ifname= cid= jq='.cniVersion = "0.4.0"'
bad 1 "GC with cniVersion 1.0.0 (GC is 1.1.0+)" cmd=GC netns= ifname= cid= jq='.cniVersion = "1.0.0"'

# ---- required fields and types ----
bad 7 "cniVersion is a number" jq='.cniVersion = 1'
bad 7 "missing name" jq='del(.name)'
bad 7 "missing type" jq='del(.type)'
bad 7 "network name a/b" jq='.name = "a/b"'
bad 7 "network name empty" jq='.name = ""'
bad 7 "network name with a NUL byte" jq='.name = "a\u0000b"'
bad 7 "mtu \"abc\"" jq='.mtu = "abc"' ver=1.1.0
bad 7 "master 5" jq='.master = 5'
bad 7 "ipam \"x\"" jq='.ipam = "x"'
bad 7 "linkInContainer \"yes\"" jq='.linkInContainer = "yes"'
bad 7 "probe 5" jq='.probe = 5'
bad 7 "runtimeConfig is an array" jq='.runtimeConfig = []'
bad 7 "network name of 300 characters" jq='.name = ("n" * 300)'
bad 7 "master empty" jq='.master = ""'

# ---- gamelan-macvlan values ----
bad 7 "mode fancy (error in the config's version 1.0.0)" jq='.cniVersion = "1.0.0" | .mode = "fancy"' ver=1.0.0
bad 7 "mtu 10" jq='.mtu = 10'
bad 7 "mtu 70000" jq='.mtu = 70000'
bad 7 "mac zz:zz:zz:zz:zz:zz" jq='.mac = "zz:zz:zz:zz:zz:zz"'
bad 7 "multicast mac 01:00:5e:00:00:01" jq='.mac = "01:00:5e:00:00:01"'
bad 7 "runtimeConfig.mac \"nope\"" jq='.runtimeConfig = {mac: "nope"}'
bad 7 "master that does not exist" jq='.master = "nosuch0"'
bad 7 "master name longer than 15" jq='.master = "abcdefghijklmnopq"'
bad 7 "probe \"abc\"" jq='.probe = "abc"'
bad 7 "stateDir relative" jq='.stateDir = "var/lib/gamelan"'
bad 7 "stateDir with .." jq='.stateDir = "/tmp/../etc"'

# ---- IPAM config (through gamelan-macvlan) ----
bad 7 "ipam type not on CNI_PATH" jq='.ipam.type = "gl-nosuch-ipam"'
bad 7 "ipam type ../../bin/sh" jq='.ipam.type = "../../bin/sh"'
bad 7 "ipam without type" jq='.ipam |= del(.type)'
bad 7 "subnet 192.168.1.0/33" jq='.ipam.subnet = "192.168.1.0/33"'
bad 7 "subnet 300.1.1.0/24" jq='.ipam.subnet = "300.1.1.0/24"'
bad 7 "range \"not-a-cidr\" (whereabouts)" jq='.ipam |= (del(.subnet, .rangeStart, .rangeEnd, .gateway) | .range = "not-a-cidr")'
bad 7 "rangeStart outside the subnet" jq='.ipam.rangeStart = "10.0.0.5"'
bad 7 "rangeEnd < rangeStart" jq='.ipam.rangeStart = "192.168.1.216" | .ipam.rangeEnd = "192.168.1.200"'
bad 7 "gateway outside the subnet" jq='.ipam.gateway = "10.0.0.1"'
bad 7 "pins with a bad IP" jq='.ipam.pins = {"games/dst-0": "192.168.1.999"}'
bad 7 "pin outside every range's subnet" jq='.ipam.pins = {"games/dst-0": "10.1.2.3"}'
bad 7 "store path relative" jq='.ipam.store.path = "ipam.db"'
bad 7 "store path with .." jq='.ipam.store.path = "/tmp/../tmp/ipam.db"'
bad 7 "store type etcd" jq='.ipam.store.type = "etcd"'
bad 7 "hold \"abc\"" jq='.ipam.hold = "abc"'
bad 7 "conflictHold \"-5m\"" jq='.ipam.conflictHold = "-5m"'
bad 7 "exclude [\"x\"]" jq='.ipam.exclude = ["x"]'
bad 7 "routes [{dst: \"bad\"}]" jq='.ipam.routes = [{dst: "bad"}]'
bad 7 "dns nameservers [\"x\"]" jq='.ipam.dns = {nameservers: ["x"]}'
bad 7 "runtimeConfig.ips with a non-IP" jq='.runtimeConfig = {ips: ["not-an-ip"]}'
bad 7 "args.cni.identity with a space" jq='.args = {cni: {identity: "has space"}}'

# ---- the environment ----
# Without CNI_COMMAND a plugin was run by hand, not by a runtime: tests/e2e/test_cli.sh.
bad 4 "unknown CNI_COMMAND FOO" cmd=FOO var=CNI_COMMAND
bad 4 "CNI_COMMAND add (lower case)" cmd=add var=CNI_COMMAND
bad 4 "missing CNI_CONTAINERID" cid= var=CNI_CONTAINERID
bad 4 "CNI_CONTAINERID ../x" cid=../x var=CNI_CONTAINERID
bad 4 "missing CNI_NETNS on ADD" netns= var=CNI_NETNS
bad 4 "missing CNI_IFNAME on ADD" ifname= var=CNI_IFNAME
bad 3 "CNI_NETNS that does not exist" netns=/run/netns/gl-no-such-netns-$$
bad 4 "CNI_NETNS /etc/hostname (not a netns)" netns=/etc/hostname var=CNI_NETNS
bad 4 "CNI_NETNS /proc/self/ns/uts (a namespace, not a network one)" netns=/proc/self/ns/uts var=CNI_NETNS
bad 4 "CNI_NETNS relative" netns=run/netns/x var=CNI_NETNS
bad 4 "CNI_IFNAME longer than 15" ifname=abcdefghijklmnop var=CNI_IFNAME
bad 4 "CNI_IFNAME a/b" ifname=a/b var=CNI_IFNAME
bad 4 "CNI_IFNAME ." ifname=. var=CNI_IFNAME
bad 4 "CNI_IFNAME .." ifname=.. var=CNI_IFNAME
bad 4 "CNI_IFNAME with a space" ifname="a b" var=CNI_IFNAME
bad 4 "CNI_IFNAME with a colon" ifname=a:b var=CNI_IFNAME
bad 4 "CNI_ARGS K8S_POD_NAME without =" args='IgnoreUnknown=1;K8S_POD_NAME' var=CNI_ARGS
bad 4 "CNI_ARGS K8S_POD_NAME with a space" args='IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=bad name' var=CNI_ARGS
bad 4 "CNI_ARGS K8S_POD_NAME of 300 characters" args="IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=$(head -c 300 /dev/zero | tr '\0' p)" var=CNI_ARGS
bad 4 "CNI_ARGS of 5000 bytes" args="IgnoreUnknown=1;X=$(head -c 5000 /dev/zero | tr '\0' x)" var=CNI_ARGS

# ---- bytes that are not UTF-8, and multi-byte text cut by a message's bounds ----
EURO=$'\xe2\x82\xac'
SMILE=$'\xf0\x9f\x98\x80'
euros() { local i out=; for ((i = 0; i < $1; i++)); do out+=$EURO; done; printf '%s' "$out"; }
smiles() { local i out=; for ((i = 0; i < $1; i++)); do out+=$SMILE; done; printf '%s' "$out"; }
bad 6 "stdin with a byte 0xff in a string" raw=$'{"cniVersion": "1.1.0", "name": "l\xffan", "type": "gamelan-macvlan"}' msg=UTF-8
bad 6 "stdin with an overlong '/' (0xc0 0xaf)" raw=$'{"cniVersion": "1.1.0", "name": "lan", "type": "gamelan-macvlan", "x": "\xc0\xaf"}' msg=UTF-8
bad 6 "stdin with a UTF-8-encoded surrogate" raw=$'{"cniVersion": "1.1.0", "name": "lan", "type": "gamelan-macvlan", "x": "\xed\xa0\x80"}' msg=UTF-8
bad 6 "stdin with a truncated character at the end of a string" raw=$'{"cniVersion": "1.1.0", "name": "lan\xe2\x82", "type": "gamelan-macvlan"}' msg=UTF-8
bad 6 "DEL with invalid UTF-8 on stdin" cmd=DEL raw=$'{"cniVersion": "1.1.0", "name": "\xfe", "type": "gamelan-macvlan"}' msg=UTF-8
bad 6 "gamelan-ipam: invalid UTF-8 on stdin" plugin=gamelan-ipam raw=$'{"cniVersion": "1.1.0", "name": "\xfe", "ipam": {}}' msg=UTF-8
bad 6 "gamelan-snat: invalid UTF-8 on stdin" plugin=gamelan-snat raw=$'{"cniVersion": "1.1.0", "name": "\xfe", "type": "gamelan-snat"}' msg=UTF-8
bad 4 "CNI_CONTAINERID with bytes 0xff 0xfe" cid=$'ab\xff\xfecd' var=CNI_CONTAINERID
bad 4 "CNI_CONTAINERID of 70 euro signs (cut inside a character at 64 bytes)" cid="$(euros 70)" var=CNI_CONTAINERID
bad 4 "CNI_IFNAME with a lone 0xc3" ifname=$'e\xc3' var=CNI_IFNAME
bad 4 "CNI_IFNAME of 20 euro signs (cut inside a character at 32 bytes)" ifname="$(euros 20)" var=CNI_IFNAME
bad 4 "CNI_ARGS K8S_POD_NAME with a byte 0xff" args=$'IgnoreUnknown=1;K8S_POD_NAMESPACE=games;K8S_POD_NAME=a\xffb' var=CNI_ARGS
bad 4 "CNI_ARGS K8S_POD_NAMESPACE of 100 smileys" args="IgnoreUnknown=1;K8S_POD_NAMESPACE=$(smiles 100);K8S_POD_NAME=a" var=CNI_ARGS
bad 3,4 "CNI_NETNS with a byte 0xff" netns=$'/run/netns/gl-\xff-nosuch'
bad 7 "args.cni.identity of 'a' and 30 smileys (cut inside a character at 64 bytes)" \
	jq=".args = {cni: {identity: (\"a\" + (\"$SMILE\" * 30) + \" x\")}}"
bad 7 "ipam.pins identity of 40 euro signs with a bad IP" jq=".ipam.pins = {\"$(euros 40)\": \"not-an-ip\"}"
bad 7 "master of 200 euro signs" jq=".master = \"$(euros 200)\""
bad 7 "ipam.subnet of 100 smileys" jq=".ipam.subnet = \"$(smiles 100)\""

# ---- other verbs ----
bad 7 "CHECK without prevResult" cmd=CHECK
bad 6,7 "CHECK with a prevResult whose ips is a string" cmd=CHECK jq='.prevResult = {cniVersion: "1.1.0", ips: "x"}'
bad 6,7 "CHECK with a prevResult whose interface index is out of range" cmd=CHECK \
	jq='.prevResult = {cniVersion: "1.1.0", interfaces: [], ips: [{address: "192.168.1.200/24", interface: 5}]}'
bad 6 "DEL with malformed JSON" cmd=DEL raw='{"cniVersion":'
bad 4 "DEL with CNI_IFNAME a/b" cmd=DEL ifname=a/b var=CNI_IFNAME

# ---- gamelan-ipam called directly, as any runtime or main plugin would ----
bad 6 "gamelan-ipam: malformed JSON" plugin=gamelan-ipam raw='{"cniVersion": "1.1.0", "ipam": '
bad 1 "gamelan-ipam: cniVersion 9.9.9" plugin=gamelan-ipam jq='.cniVersion = "9.9.9"'
bad 4 "gamelan-ipam: unknown CNI_COMMAND" plugin=gamelan-ipam cmd=FOO var=CNI_COMMAND
bad 7 "gamelan-ipam: no ipam object" plugin=gamelan-ipam jq='del(.ipam)'
bad 7 "gamelan-ipam: pins with a bad IP" plugin=gamelan-ipam jq='.ipam.pins = {"games/dst-0": "not-an-ip"}'
bad 7 "gamelan-ipam: store path relative" plugin=gamelan-ipam jq='.ipam.store.path = "ipam.db"'
bad 7 "gamelan-ipam: hold \"abc\"" plugin=gamelan-ipam jq='.ipam.hold = "abc"'
bad 7 "gamelan-ipam: runtimeConfig.ips with a non-IP" plugin=gamelan-ipam jq='.runtimeConfig = {ips: ["x"]}'

case_still_works() {
	local cid
	cid=$(t_container_id)
	assert_ok cni_call node1 gamelan-macvlan ADD "$POD" eth0 "$cid" "$ARGS" <<<"$BASE" || return
	assert_json_field "$T_OUT" '.ips[0].address' 192.168.1.200/24 || return
	assert_ok cni_call node1 gamelan-macvlan DEL "$POD" eth0 "$cid" "$ARGS" <<<"$BASE" || return
	assert_eq "lo " "$(pod_links bad)" "links in the pod"
}
t_run "after all that, the base config works in the same pod" case_still_works

t_done
