#!/usr/bin/env bash
# The fake Kubernetes API server (netns-harness/fakeapi/fakeapi.py) on the wire: what the client and
# the Kubernetes store rely on, checked with curl and jq against the real server's behaviour.
# All on 127.0.0.1; no namespaces. kubectl parts skip when kubectl is absent.
. "$(dirname "$0")/lib.sh"

CODE=

# fake_start [--python PY] [fake args...]: a fresh fake (lib.sh's fakeapi_start); FAKE_URL set.
fake_start() {
	fakeapi_start "$T_TMP" "$@" --bookmark-interval 0.3 && return 0
	t_fail "the fake did not start: $(tail -n 3 "$FAKE_LOG")"
	return 1
}

# api METHOD PATH [BODY [CONTENT-TYPE]] [-- curl args]: T_OUT = body, CODE = HTTP status.
api() {
	local method=$1 path=$2 body=${3:-} ctype=${4:-application/json}
	local args=(-s -m 10 -o "$T_TMP/.body" -D "$T_TMP/.hdr" -w '%{http_code}' -X "$method")
	shift 2
	(($# > 0)) && shift
	(($# > 0)) && shift
	[[ "${1:-}" == -- ]] && shift
	if [[ -n "$body" ]]; then
		args+=(-H "Content-Type: $ctype" --data-binary "$body")
	fi
	CODE=$(curl "${args[@]}" "$@" "$FAKE_URL$path")
	T_OUT=$(cat "$T_TMP/.body" 2>/dev/null)
}

# hdr NAME: a header of the last answer (api), "" when absent.
hdr() {
	tr -d '\r' <"$T_TMP/.hdr" | sed -n "s/^$1: //Ip" | tail -n 1
}

assert_code() {
	assert_eq "$1" "$CODE" "HTTP status of ${2:-the request} (body: $(_t_oneline "$T_OUT" | cut -c1-200))"
}

# assert_status CODE REASON: a Status object shaped as the real server's.
assert_status() {
	assert_code "$1" || return 1
	assert_json_field "$T_OUT" '[.kind, .apiVersion, .status, .code, .reason, (.metadata|type)] | join(",")' \
		"Status,v1,Failure,$1,$2,object" || return 1
	assert_ne "" "$(jq -r '.message // empty' <<<"$T_OUT")" "Status.message"
}

CM=/api/v1/namespaces/default/configmaps
IPR=/apis/gamelan.dev/v1alpha1/namespaces/gamelan-system/ipreservations
CRD_JSON='{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
 "metadata":{"name":"ipreservations.gamelan.dev"},
 "spec":{"group":"gamelan.dev","scope":"Namespaced",
  "names":{"plural":"ipreservations","singular":"ipreservation","kind":"IPReservation","shortNames":["ipr"]},
  "versions":[{"name":"v1alpha1","served":true,"storage":true,"subresources":{"status":{}},
   "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}},
   "additionalPrinterColumns":[{"name":"Address","type":"string","jsonPath":".spec.address"},
    {"name":"State","type":"string","jsonPath":".spec.state"},
    {"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}]}]}}'

ipr() { # ipr NAME ADDRESS [LABELS-JSON]
	printf '{"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation","metadata":{"name":"%s","labels":%s},"spec":{"address":"%s","state":"Bound"}}' \
		"$1" "${3:-{\}}" "$2"
}

setup_crd() {
	api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$CRD_JSON"
	assert_code 201 "CRD create" || return 1
	api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gamelan-system"}}'
	assert_code 201 "namespace create"
}

# ---- cases

case_start_system_python() {
	[[ -x /usr/bin/python3 ]] || { t_note "no /usr/bin/python3"; return 0; }
	fake_start --python /usr/bin/python3 || return 1
	api GET /version
	assert_code 200 "/version" || return 1
	assert_json_field "$T_OUT" .major 1
}

case_create_twice() {
	fake_start || return 1
	api POST $CM '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k":"v"}}'
	assert_code 201 "first create" || return 1
	assert_json_field "$T_OUT" '[.kind,.apiVersion,.metadata.namespace,(.metadata.uid|length>10),(.metadata.creationTimestamp|test("Z$")),(.metadata.resourceVersion|type)]|join(",")' \
		"ConfigMap,v1,default,true,true,string" || return 1
	api POST $CM '{"metadata":{"name":"a"}}'
	assert_status 409 AlreadyExists || return 1
	assert_json_field "$T_OUT" '.details|[.name,.kind]|join(",")' "a,configmaps" || return 1
	assert_json_field "$T_OUT" .message 'configmaps "a" already exists'
}

case_rv_monotonic() {
	local r1 r2 r3
	api POST $CM '{"metadata":{"name":"rv1"}}'
	r1=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api POST $CM '{"metadata":{"name":"rv2"}}'
	r2=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PATCH $CM/rv1 '{"data":{"x":"y"}}' application/merge-patch+json
	r3=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	assert_match '^[0-9]+$' "$r1" "rv" || return 1
	((r1 < r2 && r2 < r3)) || { t_fail "resourceVersions not increasing: $r1 $r2 $r3"; return 1; }
	api GET $CM
	assert_json_field "$T_OUT" '.metadata.resourceVersion' "$r3"
}

case_stale_update() {
	local rv
	api GET $CM/a
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PUT $CM/a "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"$rv\"},\"data\":{\"k\":\"v2\"}}"
	assert_code 200 "update with the current rv" || return 1
	assert_ne "$rv" "$(jq -r .metadata.resourceVersion <<<"$T_OUT")" "rv after update" || return 1
	api PUT $CM/a "{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"$rv\"},\"data\":{\"k\":\"v3\"}}"
	assert_status 409 Conflict || return 1
	assert_contains "the object has been modified; please apply your changes to the latest version and try again" "$T_OUT" || return 1
	api GET $CM/a
	assert_json_field "$T_OUT" .data.k v2
}

case_errors() {
	api GET $CM/nope
	assert_status 404 NotFound || return 1
	assert_json_field "$T_OUT" .message 'configmaps "nope" not found' || return 1
	api POST $CM '{"metadata":{}}'
	assert_status 422 Invalid || return 1
	api POST $CM '{"metadata":{"name":"Bad_Name"}}'
	assert_status 422 Invalid || return 1
	assert_json_field "$T_OUT" '.details.causes[0].field' metadata.name || return 1
	api POST $CM '{"metadata":{"name":"x","labels":{"a":"not valid!"}}}'
	assert_status 422 Invalid || return 1
	api POST $CM '{"metadata":'
	assert_status 400 BadRequest || return 1
	api POST $CM '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"x"}}'
	assert_status 400 BadRequest || return 1
	api PUT $CM/a '{"metadata":{"name":"b"}}'
	assert_status 400 BadRequest || return 1
	api POST /api/v1/namespaces/nosuchns/configmaps '{"metadata":{"name":"x"}}'
	assert_status 404 NotFound || return 1
	api GET /apis/nosuch.dev/v1/things
	assert_status 404 NotFound || return 1
	api POST $CM '{"metadata":{"generateName":"gen-"}}'
	assert_code 201 generateName || return 1
	assert_match '^gen-[a-z0-9]{5}$' "$(jq -r .metadata.name <<<"$T_OUT")" "generated name"
}

case_delete() {
	local rv
	api POST $CM '{"metadata":{"name":"d"}}'
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api DELETE $CM/d '{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":"1"}}'
	assert_status 409 Conflict || return 1
	api DELETE $CM/d "{\"preconditions\":{\"resourceVersion\":\"$rv\"}}"
	assert_code 200 "delete" || return 1
	assert_json_field "$T_OUT" '.metadata.name' d || return 1
	api DELETE $CM/d
	assert_status 404 NotFound || return 1
	# A finalizer holds the object (202, deletionTimestamp) until an update removes it.
	api POST $CM '{"metadata":{"name":"fin","finalizers":["gamelan.dev/release"]}}'
	api DELETE $CM/fin
	assert_code 202 "delete with a finalizer" || return 1
	assert_ne null "$(jq -r .metadata.deletionTimestamp <<<"$T_OUT")" "deletionTimestamp" || return 1
	api PATCH $CM/fin '{"metadata":{"finalizers":null}}' application/merge-patch+json
	assert_code 200 "finalizer removal" || return 1
	api GET $CM/fin
	assert_status 404 NotFound
}

case_crd_discovery() {
	setup_crd || return 1
	api GET /apis
	assert_json_field "$T_OUT" '[.groups[]|select(.name=="gamelan.dev")|.preferredVersion.groupVersion][0]' gamelan.dev/v1alpha1 || return 1
	api GET /apis/gamelan.dev/v1alpha1
	assert_json_field "$T_OUT" '[.kind, (.resources[]|select(.name=="ipreservations")|.kind, .namespaced, .shortNames[0])]|join(",")' \
		"APIResourceList,IPReservation,true,ipr" || return 1
	assert_json_field "$T_OUT" '[.resources[].name]|index("ipreservations/status") != null' true || return 1
	api GET /api/v1
	assert_json_field "$T_OUT" '[.resources[]|select(.name=="pods")|.kind][0]' Pod || return 1
	api GET /api
	assert_json_field "$T_OUT" '.versions[0]' v1 || return 1
	api POST $IPR "$(ipr lan-192-168-1-200 192.168.1.200)"
	assert_code 201 "CR create" || return 1
	assert_json_field "$T_OUT" '[.apiVersion,.kind,.metadata.generation,(.status==null)]|join(",")' \
		"gamelan.dev/v1alpha1,IPReservation,1,true" || return 1
	api POST $IPR "$(ipr lan-192-168-1-200 192.168.1.200)"
	assert_status 409 AlreadyExists || return 1
	assert_json_field "$T_OUT" '.details|[.name,.group,.kind]|join(",")' "lan-192-168-1-200,gamelan.dev,ipreservations" || return 1
	assert_json_field "$T_OUT" .message 'ipreservations.gamelan.dev "lan-192-168-1-200" already exists' || return 1
	api POST $IPR '{"metadata":{"name":"nokind"}}'
	assert_status 400 BadRequest
}

case_status_subresource() {
	local rv gen
	api GET $IPR/lan-192-168-1-200
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PUT $IPR/lan-192-168-1-200/status "{\"apiVersion\":\"gamelan.dev/v1alpha1\",\"kind\":\"IPReservation\",\"metadata\":{\"name\":\"lan-192-168-1-200\",\"resourceVersion\":\"$rv\"},\"spec\":{\"address\":\"10.0.0.1\"},\"status\":{\"phase\":\"Ready\"}}"
	assert_code 200 "PUT status" || return 1
	assert_json_field "$T_OUT" '[.status.phase,.spec.address,.metadata.generation]|join(",")' "Ready,192.168.1.200,1" || return 1
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PUT $IPR/lan-192-168-1-200 "{\"apiVersion\":\"gamelan.dev/v1alpha1\",\"kind\":\"IPReservation\",\"metadata\":{\"name\":\"lan-192-168-1-200\",\"resourceVersion\":\"$rv\"},\"spec\":{\"address\":\"192.168.1.200\",\"state\":\"Released\"},\"status\":{\"phase\":\"Gone\"}}"
	assert_code 200 "PUT main" || return 1
	assert_json_field "$T_OUT" '[.status.phase,.spec.state,.metadata.generation]|join(",")' "Ready,Released,2" || return 1
	api PATCH $IPR/lan-192-168-1-200/status '{"status":{"phase":"Patched"},"spec":{"state":"Ignored"}}' application/merge-patch+json
	assert_code 200 "PATCH status" || return 1
	assert_json_field "$T_OUT" '[.status.phase,.spec.state]|join(",")' "Patched,Released" || return 1
	api PATCH $CM/a/status '{"status":{}}' application/merge-patch+json
	assert_status 404 NotFound
}

case_merge_patch() {
	local rv
	api PATCH $IPR/lan-192-168-1-200 '{"metadata":{"labels":{"l":"1"}},"spec":{"state":null,"pinned":true,"extra":{"a":1}}}' application/merge-patch+json
	assert_code 200 "merge patch" || return 1
	assert_json_field "$T_OUT" '[.metadata.labels.l,(.spec.state==null),.spec.pinned,.spec.extra.a,.spec.address]|join(",")' \
		"1,true,true,1,192.168.1.200" || return 1
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PATCH $IPR/lan-192-168-1-200 '{"metadata":{"resourceVersion":"1"},"spec":{"pinned":false}}' application/merge-patch+json
	assert_status 409 Conflict || return 1
	api PATCH $IPR/lan-192-168-1-200 "{\"metadata\":{\"resourceVersion\":\"$rv\"},\"spec\":{\"pinned\":false}}" application/merge-patch+json
	assert_code 200 "merge patch with the current rv" || return 1
	api PATCH $IPR/lan-192-168-1-200 '{"spec":{"pinned":false}}' application/strategic-merge-patch+json
	assert_status 415 UnsupportedMediaType || return 1
	api PATCH $IPR/lan-192-168-1-200 '[{"op":"replace","path":"/spec/address","value":"192.168.1.201"}]' application/json-patch+json
	assert_code 200 "JSON patch" || return 1
	assert_json_field "$T_OUT" .spec.address 192.168.1.201 || return 1
	api PATCH $CM/a '{"data":{"$patch":"x","n":"1"}}' application/strategic-merge-patch+json
	assert_code 200 "strategic merge patch on a core kind" || return 1
	assert_json_field "$T_OUT" .data.n 1 || return 1
	# A no-op patch writes nothing: same resourceVersion.
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PATCH $CM/a '{"data":{"n":"1"}}' application/merge-patch+json
	assert_json_field "$T_OUT" .metadata.resourceVersion "$rv"
}

case_label_selectors() {
	local sel n want
	api POST $IPR "$(ipr s1 10.0.0.1 '{"net":"lan","tier":"a"}')"
	api POST $IPR "$(ipr s2 10.0.0.2 '{"net":"lan","tier":"b"}')"
	api POST $IPR "$(ipr s3 10.0.0.3 '{"net":"wan"}')"
	for sel in 'net=lan:s1 s2' 'net==lan:s1 s2' 'net!=lan:lan-192-168-1-200 s3' 'tier in (a,c):s1' \
		'tier notin (a):lan-192-168-1-200 s2 s3' 'tier:s1 s2' '!tier:lan-192-168-1-200 s3' \
		'net=lan,tier!=a:s2' 'net in (lan, wan),!tier:s3'; do
		want=${sel#*:}
		api GET "$IPR" '' '' -- -G --data-urlencode "labelSelector=${sel%%:*}"
		n=$(jq -r '[.items[].metadata.name]|join(" ")' <<<"$T_OUT")
		assert_eq "$want" "$n" "names for labelSelector '${sel%%:*}'" || return 1
	done
	api GET "$IPR?fieldSelector=metadata.name%3Ds2"
	assert_json_field "$T_OUT" '[.items[].metadata.name]|join(" ")' s2 || return 1
	api GET "$IPR?fieldSelector=spec.address%3Dx"
	assert_status 400 BadRequest || return 1
	api GET "$IPR?labelSelector=a%3D%3D%3Db"
	assert_status 400 BadRequest || return 1
	api GET /apis/gamelan.dev/v1alpha1/ipreservations
	assert_json_field "$T_OUT" '[.kind,(.items|length),.items[0].kind]|join(",")' "IPReservationList,4,IPReservation" || return 1
	api GET $CM
	assert_json_field "$T_OUT" '[.kind, (.items[0]|has("kind"))]|join(",")' "ConfigMapList,false"
}

case_pagination() {
	local i cont names='' page rv
	for i in 01 02 03 04 05 06 07; do
		api POST $CM "{\"metadata\":{\"name\":\"p$i\",\"labels\":{\"page\":\"y\"}}}"
	done
	api GET "$CM?labelSelector=page%3Dy&limit=3"
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	for page in 1 2 3; do
		names+="$(jq -r '[.items[].metadata.name]|join(" ")' <<<"$T_OUT") "
		cont=$(jq -r '.metadata.continue // empty' <<<"$T_OUT")
		assert_json_field "$T_OUT" .metadata.resourceVersion "$rv" || return 1
		[[ -z "$cont" ]] && break
		api GET "$CM" '' '' -- -G --data-urlencode "labelSelector=page=y" --data-urlencode limit=3 --data-urlencode "continue=$cont"
		assert_code 200 "page $((page + 1))" || return 1
	done
	assert_eq "p01 p02 p03 p04 p05 p06 p07 " "$names" "names over pages" || return 1
	assert_eq "" "$cont" "continue on the last page" || return 1
	api GET "$CM?limit=2"
	assert_json_field "$T_OUT" '(.metadata.remainingItemCount > 0)' true || return 1
	cont=$(jq -r .metadata.continue <<<"$T_OUT")
	api GET "$CM?limit=2&continue=garbage"
	assert_status 400 BadRequest || return 1
	api GET "$CM" '' '' -- -G --data-urlencode limit=2 --data-urlencode "continue=$cont"
	assert_code 200 "continue before compaction" || return 1
	# etcd keeps the compaction revision itself readable: write once, then compact.
	api POST $CM '{"metadata":{"name":"p99"}}'
	api POST /fake/compact
	api GET "$CM" '' '' -- -G --data-urlencode limit=2 --data-urlencode "continue=$cont"
	assert_status 410 Expired
}

# watch_to FILE QUERY: a watch of the IPReservations in the background, output to FILE.
watch_bg() {
	curl -sN -m 10 "$FAKE_URL$IPR?watch=1&$2" >"$1" 2>/dev/null &
	WATCH_PID=$!
}

case_watch() {
	local rv out=$T_TMP/watch1
	api GET $IPR
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	watch_bg "$out" "resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=2"
	sleep 0.3
	api POST $IPR "$(ipr w1 10.0.1.1 '{"net":"lan"}')"
	api PATCH $IPR/w1 '{"spec":{"state":"Released"}}' application/merge-patch+json
	api DELETE $IPR/w1
	wait "$WATCH_PID"
	assert_eq 0 "$?" "curl exit status (a clean end of the chunked stream)" || return 1
	assert_eq "ADDED MODIFIED DELETED" "$(jq -r 'select(.type!="BOOKMARK")|.type' "$out" | tr '\n' ' ' | sed 's/ $//')" \
		"event types" || return 1
	assert_ne 0 "$(jq -r 'select(.type=="BOOKMARK")|.type' "$out" | wc -l)" "bookmark count" || return 1
	assert_eq "IPReservation gamelan.dev/v1alpha1 true" \
		"$(jq -r 'select(.type=="BOOKMARK")|"\(.object.kind) \(.object.apiVersion) \(.object.metadata|keys==["resourceVersion"])"' "$out" | tail -n 1)" \
		"bookmark object" || return 1
	# A watch from "" starts with the current objects as ADDED, then the new events.
	watch_bg "$out" "labelSelector=net%3Dlan&timeoutSeconds=1"
	sleep 0.3
	api PATCH $IPR/s1 '{"metadata":{"labels":{"net":"moved"}}}' application/merge-patch+json
	wait "$WATCH_PID"
	assert_eq "ADDED:s1 ADDED:s2 DELETED:s1" "$(jq -r '"\(.type):\(.object.metadata.name)"' "$out" | tr '\n' ' ' | sed 's/ $//')" \
		"events of a selector watch (an object that stops matching is DELETED)"
}

case_watch_410() {
	local rv out=$T_TMP/watch2
	api GET $IPR
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api PATCH $IPR/s2 '{"spec":{"n":1}}' application/merge-patch+json
	api POST /fake/compact
	assert_code 200 compact || return 1
	api GET "$IPR?watch=1&resourceVersion=$rv"
	assert_code 200 "a watch from a compacted version (200, then an ERROR event)" || return 1
	assert_json_field "$T_OUT" '[.type,.object.kind,.object.code,.object.reason]|join(",")' "ERROR,Status,410,Expired" || return 1
	assert_contains "too old resource version" "$T_OUT" || return 1
	# From the current version it works.
	api GET $IPR
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	watch_bg "$out" "resourceVersion=$rv&timeoutSeconds=1"
	sleep 0.3
	api PATCH $IPR/s2 '{"spec":{"n":2}}' application/merge-patch+json
	wait "$WATCH_PID"
	assert_eq MODIFIED "$(jq -r .type "$out" | tr '\n' ' ' | sed 's/ $//')" "events after compaction"
}

case_faults() {
	local t0 t1 rc
	api POST /fake/faults '{"match":"GET /api/v1/namespaces/default/configmaps/a$","status":500,"count":2}'
	assert_code 201 "add fault" || return 1
	api GET $CM/a
	assert_status 500 InternalError || return 1
	api GET $CM/a
	assert_code 500 "second" || return 1
	api GET $CM/a
	assert_code 200 "after count" || return 1
	api POST /fake/faults '{"match":"POST .*/configmaps$","status":429,"retryAfter":3}'
	curl -s -D "$T_TMP/hdr" -o /dev/null -X POST -H 'Content-Type: application/json' --data '{"metadata":{"name":"r"}}' "$FAKE_URL$CM"
	assert_match 'Retry-After: 3' "$(tr -d '\r' <"$T_TMP/hdr")" "Retry-After header" || return 1
	api POST /fake/faults '{"match":"* /configmaps/a$","delayMs":700}'
	t0=$(date +%s%N)
	api GET $CM/a
	t1=$(date +%s%N)
	assert_code 200 "delayed" || return 1
	(((t1 - t0) / 1000000 >= 650)) || { t_fail "delay was $(((t1 - t0) / 1000000)) ms"; return 1; }
	api POST /fake/faults '{"match":"GET /api/v1/namespaces/default/configmaps$","dropWatchAfter":1}'
	curl -sN -m 5 "$FAKE_URL$CM?watch=1" >"$T_TMP/drop" 2>/dev/null
	rc=$?
	assert_eq 1 "$(wc -l <"$T_TMP/drop")" "events before the drop" || return 1
	assert_eq 18 "$rc" "curl: transfer closed with outstanding data (a dropped stream)" || return 1
	api POST /fake/faults '{"match":"GET /api/v1/namespaces/default/configmaps$","splitEvents":7,"chunkDelayMs":5}'
	curl -sN -m 5 "$FAKE_URL$CM?watch=1&timeoutSeconds=1" >"$T_TMP/split" 2>/dev/null
	assert_ne 0 "$(wc -l <"$T_TMP/split")" "events in small chunks" || return 1
	jq -e . "$T_TMP/split" >/dev/null || { t_fail "split events do not reassemble into JSON lines"; return 1; }
	api GET /fake/faults
	assert_json_field "$T_OUT" '[.[]|.hits]|join(",")' "2,1,1,1,1" || return 1
	api GET /fake/stats
	assert_json_field "$T_OUT" '(.byVerb.get > 0) and (.byVerb.watch > 0) and (.byPath["GET /api/v1/namespaces/default/configmaps/a"] >= 4)' true || return 1
	api DELETE /fake/faults
	api GET /fake/faults
	assert_json_field "$T_OUT" 'length' 0
}

case_concurrent() {
	local n ok
	seq -w 1 300 | xargs -P 60 -I{} curl -s -m 20 -o /dev/null -w '%{http_code}\n' -X POST \
		-H 'Content-Type: application/json' --data '{"metadata":{"name":"c{}"}}' "$FAKE_URL$CM" >"$T_TMP/codes"
	ok=$(grep -c '^201$' "$T_TMP/codes")
	assert_eq 300 "$ok" "201s of 300 concurrent creates" || return 1
	# Racing creates of one name: exactly one wins.
	seq 1 40 | xargs -P 40 -I{} curl -s -m 20 -o /dev/null -w '%{http_code}\n' -X POST \
		-H 'Content-Type: application/json' --data '{"metadata":{"name":"race"}}' "$FAKE_URL$CM" >"$T_TMP/codes"
	assert_eq "1 39" "$(grep -c '^201$' "$T_TMP/codes") $(grep -c '^409$' "$T_TMP/codes")" "201s and 409s of one name" || return 1
	api GET "$CM?labelSelector="
	n=$(jq -r '[.items[].metadata.resourceVersion]|unique|length' <<<"$T_OUT")
	assert_eq "$(jq -r '.items|length' <<<"$T_OUT")" "$n" "distinct resourceVersions"
}

case_token() {
	fake_start --token s3cret || return 1
	# No credentials: system:anonymous (kube-apiserver's --anonymous-auth=true), whom RBAC
	# refuses (403) everything but the public-info paths.
	api GET /api/v1/namespaces
	assert_status 403 Forbidden || return 1
	assert_json_field "$T_OUT" .message 'namespaces is forbidden: User "system:anonymous" cannot list resource "namespaces" in API group "" at the cluster scope' || return 1
	api GET $IPR/x
	assert_status 403 Forbidden || return 1
	assert_json_field "$T_OUT" .message 'ipreservations.gamelan.dev "x" is forbidden: User "system:anonymous" cannot get resource "ipreservations" in API group "gamelan.dev" in the namespace "gamelan-system"' || return 1
	assert_json_field "$T_OUT" '.details|[.name,.group,.kind]|join(",")' "x,gamelan.dev,ipreservations" || return 1
	api PUT $IPR/x/status '{}'
	assert_contains 'cannot update resource \"ipreservations/status\"' "$T_OUT" || return 1
	api GET /apis
	assert_status 403 Forbidden || return 1
	assert_json_field "$T_OUT" .message 'forbidden: User "system:anonymous" cannot get path "/apis"' || return 1
	api GET /version
	assert_code 200 "/version anonymously" || return 1
	api GET /healthz
	assert_code 200 "/healthz anonymously" || return 1
	# Credentials that fail are 401 even so.
	api GET /api/v1/namespaces '' '' -- -H 'Authorization: Bearer wrong'
	assert_status 401 Unauthorized || return 1
	api GET /api/v1/namespaces '' '' -- -H 'Authorization: Bearer s3cret'
	assert_code 200 "right token" || return 1
	api POST /fake/token '{"token":"n3w"}'
	api GET /api/v1/namespaces '' '' -- -H 'Authorization: Bearer s3cret'
	assert_status 401 Unauthorized || return 1
	api GET /api/v1/namespaces '' '' -- -H 'Authorization: Bearer n3w'
	assert_code 200 "new token" || return 1
	fake_start --token s3cret --anonymous-auth false || return 1
	api GET /api/v1/namespaces
	assert_status 401 Unauthorized || return 1
	api GET /version
	assert_status 401 Unauthorized
}

make_certs() {
	local d=$T_TMP/pki
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=fake-ca
		openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=127.0.0.1
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >srv.ext
		openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile srv.ext
		openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj "/CN=gamelan/O=system:nodes"
		openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2
		openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.crt -days 2 -subj /CN=stranger
	) >/dev/null 2>&1
}

case_tls() {
	local d=$T_TMP/pki
	make_certs || return 1
	[[ -s $d/cli.crt ]] || { t_fail "openssl could not make the test certificates"; return 1; }
	fake_start --tls-cert "$d/srv.crt" --tls-key "$d/srv.key" --client-ca "$d/ca.crt" --token tok || return 1
	api GET /version '' '' -- --cacert "$d/ca.crt" -H 'Authorization: Bearer tok'
	assert_code 200 "TLS with a token" || return 1
	api GET /api/v1/namespaces '' '' -- --cacert "$d/ca.crt" --cert "$d/cli.crt" --key "$d/cli.key"
	assert_code 200 "TLS with a client certificate" || return 1
	api GET /api/v1/namespaces '' '' -- --cacert "$d/ca.crt"
	assert_status 403 Forbidden || return 1
	api GET /version '' '' -- --cacert "$d/ca.crt" --cert "$d/other.crt" --key "$d/other.key"
	assert_eq 000 "$CODE" "a certificate from another CA is refused in the handshake" || return 1
	api GET /version
	assert_eq 000 "$CODE" "the server's certificate is not trusted without its CA" || return 1
	fake_start --tls-cert "$d/srv.crt" --tls-key "$d/srv.key" --client-ca "$d/ca.crt" --require-client-cert || return 1
	api GET /version '' '' -- --cacert "$d/ca.crt"
	assert_eq 000 "$CODE" "no client certificate with --require-client-cert" || return 1
	api GET /version '' '' -- --cacert "$d/ca.crt" --cert "$d/cli.crt" --key "$d/cli.key"
	assert_code 200 "client certificate with --require-client-cert"
}

case_table() {
	fake_start || return 1
	setup_crd || return 1
	api POST $IPR "$(ipr t1 192.168.1.210)"
	api GET $IPR '' '' -- -H 'Accept: application/json;as=Table;v=v1;g=meta.k8s.io,application/json'
	assert_code 200 Table || return 1
	assert_json_field "$T_OUT" '[.kind, ([.columnDefinitions[].name]|join(" ")), .rows[0].cells[0], .rows[0].cells[1], .rows[0].object.kind]|join(",")' \
		"Table,Name Address State Age,t1,192.168.1.210,PartialObjectMetadata"
}

case_kubectl() {
	local kc=$T_TMP/kubeconfig out
	fakeapi_kubeconfig "$kc" "$FAKE_URL"
	printf '%s' "$CRD_JSON" | jq '.metadata.name="things.example.dev" | .spec.group="example.dev" | .spec.names={plural:"things",singular:"thing",kind:"Thing",shortNames:["th"]}' >"$T_TMP/crd.json"
	printf '{"apiVersion":"example.dev/v1alpha1","kind":"Thing","metadata":{"name":"one"},"spec":{"address":"192.168.1.250","state":"Bound"}}' >"$T_TMP/cr.json"
	local k=(kubectl --kubeconfig "$kc" --cache-dir "$T_TMP/kcache" --request-timeout 10s)
	assert_ok "${k[@]}" get namespaces || return 1
	assert_contains gamelan-system "$T_OUT" || return 1
	assert_ok "${k[@]}" apply -f "$T_TMP/crd.json" || return 1
	assert_ok "${k[@]}" apply -f "$T_TMP/cr.json" || return 1
	assert_ok "${k[@]}" get th || return 1
	out=$(tr -s ' ' <<<"$T_OUT")
	assert_contains "NAME ADDRESS STATE AGE" "$out" || return 1
	assert_contains "one 192.168.1.250 Bound" "$out" || return 1
	sed -i 's/Bound/Released/' "$T_TMP/cr.json"
	assert_ok "${k[@]}" apply -f "$T_TMP/cr.json" || return 1
	assert_ok "${k[@]}" get thing one -o jsonpath='{.spec.state}' || return 1
	assert_eq Released "$T_OUT" "state after a second apply" || return 1
	assert_ok "${k[@]}" delete -f "$T_TMP/cr.json"
}

# Leases as the real server types them: create 409s, every write needs the current
# resourceVersion (AllowUnconditionalUpdate false), a PUT to a missing name creates
# (AllowCreateOnUpdate), MicroTimes exactly RFC3339Micro in and UTC out.
LEASES=/apis/coordination.k8s.io/v1/namespaces/default/leases

lease() { # lease NAME SPEC-JSON [RESOURCE-VERSION]
	printf '{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"%s"%s},"spec":%s}' \
		"$1" "${3:+,\"resourceVersion\":\"$3\"}" "$2"
}

case_lease_writes() {
	local rv rv2
	fake_start || return 1
	api POST $LEASES "$(lease op '{"holderIdentity":"a","leaseDurationSeconds":15,"acquireTime":"2026-12-04T10:00:00.123456Z","renewTime":"2026-12-04T10:00:00.123456Z","leaseTransitions":0}')"
	assert_code 201 "lease create" || return 1
	assert_json_field "$T_OUT" '[.kind,.apiVersion,.spec.holderIdentity,.spec.leaseDurationSeconds,.spec.renewTime]|join(",")' \
		"Lease,coordination.k8s.io/v1,a,15,2026-12-04T10:00:00.123456Z" || return 1
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api POST $LEASES "$(lease op '{"holderIdentity":"b"}')"
	assert_status 409 AlreadyExists || return 1
	assert_json_field "$T_OUT" '.details|[.name,.group,.kind]|join(",")' "op,coordination.k8s.io,leases" || return 1
	# No resourceVersion: refused for a lease (422), unlike a ConfigMap.
	api PUT $LEASES/op "$(lease op '{"holderIdentity":"b","leaseDurationSeconds":15}')"
	assert_status 422 Invalid || return 1
	assert_json_field "$T_OUT" .message 'leases.coordination.k8s.io "op" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update' || return 1
	api PUT $LEASES/op "$(lease op '{"holderIdentity":"b","leaseDurationSeconds":15,"leaseTransitions":1}' "$rv")"
	assert_code 200 "update on the current rv" || return 1
	rv2=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	assert_ne "$rv" "$rv2" "rv after the update" || return 1
	api PUT $LEASES/op "$(lease op '{"holderIdentity":"c","leaseDurationSeconds":15}' "$rv")"
	assert_status 409 Conflict || return 1
	api GET $LEASES/op
	assert_json_field "$T_OUT" '[.spec.holderIdentity,.spec.leaseTransitions,(.spec.acquireTime//"none")]|join(",")' "b,1,none" || return 1
	# PUT to a missing lease creates it; a resourceVersion there is no precondition.
	api PUT $LEASES/fresh "$(lease fresh '{"holderIdentity":"x","leaseDurationSeconds":5}' 12345)"
	assert_code 201 "create on update" || return 1
	assert_json_field "$T_OUT" '[.metadata.name,.spec.holderIdentity,(.metadata.uid|length>10),(.metadata.resourceVersion!="12345")]|join(",")' \
		"fresh,x,true,true" || return 1
	# A merge patch carries its resourceVersion as a precondition, as before.
	api PATCH $LEASES/op "{\"metadata\":{\"resourceVersion\":\"$rv\"},\"spec\":{\"holderIdentity\":\"z\"}}" application/merge-patch+json
	assert_status 409 Conflict
}

case_lease_types() {
	fake_start || return 1
	# MicroTime: normalized to UTC with six digits; nulls and unknown fields dropped.
	api POST $LEASES "$(lease t '{"holderIdentity":"a","leaseDurationSeconds":15,"acquireTime":"2026-12-04T12:30:00.000001+02:30","renewTime":null,"bogus":1}')"
	assert_code 201 "lease with an offset time" || return 1
	assert_json_field "$T_OUT" '[.spec.acquireTime,(.spec|has("renewTime")),(.spec|has("bogus"))]|join(",")' \
		"2026-12-04T10:00:00.000001Z,false,false" || return 1
	local t
	for t in 2026-12-04T10:00:00Z 2026-12-04T10:00:00.123Z 2026-12-04T10:00:00.123456789Z \
		2026-02-30T10:00:00.000000Z 2026-12-04T24:00:00.000000Z 2026-12-04t10:00:00.000000Z '' 5; do
		if [[ "$t" == 5 ]]; then
			api POST $LEASES "$(lease bad '{"renewTime":5}')"
		else
			api POST $LEASES "$(lease bad "{\"renewTime\":\"$t\"}")"
		fi
		assert_status 400 BadRequest || { t_note "renewTime $t"; return 1; }
		assert_contains 'Lease in version \"v1\" cannot be handled as a Lease' "$T_OUT" || return 1
	done
	for t in '"15"' 15.0 true 4294967296; do
		api POST $LEASES "$(lease bad "{\"leaseDurationSeconds\":$t}")"
		assert_status 400 BadRequest || { t_note "leaseDurationSeconds $t"; return 1; }
	done
	api POST $LEASES "$(lease bad '{"holderIdentity":7}')"
	assert_status 400 BadRequest || return 1
	api POST $LEASES "$(lease bad '[]')"
	assert_status 400 BadRequest || return 1
	# Validation: 422 with causes.
	api POST $LEASES "$(lease bad '{"leaseDurationSeconds":0,"leaseTransitions":-1}')"
	assert_status 422 Invalid || return 1
	assert_json_field "$T_OUT" '[.details.causes[].field]|join(",")' "spec.leaseDurationSeconds,spec.leaseTransitions" || return 1
	api POST $LEASES "$(lease bad '{"preferredHolder":"x"}')"
	assert_status 422 Invalid || return 1
	api GET $LEASES
	assert_json_field "$T_OUT" '[.kind,(.items|length)]|join(",")' "LeaseList,1"
}

# The shipped CRD (conf/k8s/gamelan-crds.yaml) as JSON.
shipped_crd() {
	"$FAKEAPI_PY" -c 'import yaml, json, sys
for d in yaml.safe_load_all(open(sys.argv[1])):
    if d and d.get("kind") == "CustomResourceDefinition" and d["spec"]["names"]["plural"] == "ipreservations":
        print(json.dumps(d))' "$GL_TOP/conf/k8s/gamelan-crds.yaml"
}

# resv NAME SPEC-JSON [EXTRA-TOP-LEVEL-JSON-MEMBERS]
resv() {
	printf '{"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation","metadata":{"name":"%s"},"spec":%s%s}' "$1" "$2" "${3:+,$3}"
}

# assert_cause FIELD REASON MESSAGE-SUBSTRING: T_OUT is a 422 with that cause.
assert_cause() {
	assert_status 422 Invalid || return 1
	assert_eq "$2" "$(jq -r --arg f "$1" '[.details.causes[]|select(.field==$f)|.reason][0] // "none"' <<<"$T_OUT")" \
		"reason of the cause on $1 (body: $(_t_oneline "$T_OUT" | cut -c1-300))" || return 1
	assert_contains "$3" "$(jq -r --arg f "$1" '[.details.causes[]|select(.field==$f)|.message][0]' <<<"$T_OUT")"
}

case_schema() {
	local crd ok='{"network":"lan","address":"10.0.0.1","state":"Bound","pool":0,"ifname":"eth0","updated":"2026-01-02T03:04:05.678Z"}'
	fake_start || return 1
	crd=$(shipped_crd)
	assert_ne "" "$crd" "the CRD from conf/k8s/gamelan-crds.yaml (python3-yaml)" || return 1
	api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$crd"
	assert_code 201 "CRD create" || return 1
	api POST /api/v1/namespaces '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"gamelan-system"}}'
	api POST $IPR "$(resv ok "$ok")"
	assert_code 201 "a valid reservation" || return 1
	api POST $IPR "$(resv t1 '{"network":"lan","address":"10.0.0.2","state":"Bound","pool":"zero"}')"
	assert_cause spec.pool FieldValueTypeInvalid 'Invalid value: "string": spec.pool in body must be of type integer: "string"' || return 1
	assert_json_field "$T_OUT" '[.details.kind,.details.group,.details.name]|join(",")' "IPReservation,gamelan.dev,t1" || return 1
	assert_contains 'IPReservation.gamelan.dev "t1" is invalid: spec.pool' "$(jq -r .message <<<"$T_OUT")" || return 1
	api POST $IPR "$(resv t2 '{"network":"lan","address":"10.0.0.2","state":"Bogus"}')"
	assert_cause spec.state FieldValueNotSupported 'Unsupported value: "Bogus": supported values: "Bound"' || return 1
	api POST $IPR "$(resv t3 '{"network":"lan","address":"10.0.0.2","state":"Bound","pool":-1}')"
	assert_cause spec.pool FieldValueInvalid 'Invalid value: -1: spec.pool in body should be greater than or equal to 0' || return 1
	api POST $IPR "$(resv t4 '{"address":"10.0.0.2","state":"Bound"}')"
	assert_cause spec.network FieldValueRequired 'Required value' || return 1
	api POST $IPR "$(resv t5 '{"network":"lan","address":"10.0.0.2","state":"Bound","expires":"tomorrow"}')"
	assert_cause spec.expires FieldValueInvalid 'spec.expires in body must be of type date-time: "tomorrow"' || return 1
	api POST $IPR "$(resv t6 '{"network":"lan","address":"10.0.0.2","state":"Bound","ifname":"a-very-long-name"}')"
	assert_cause spec.ifname FieldValueTooLong 'Too long: may not be longer than 15' || return 1
	api POST $IPR "$(resv t7 '{"network":"lan","address":"10.0.0.2","state":"Bound","pinned":"yes","pool":1.5}')"
	assert_eq 2 "$(jq '.details.causes|length' <<<"$T_OUT")" "two causes in one answer" || return 1
	assert_match '^IPReservation.gamelan.dev "t7" is invalid: \[' "$(jq -r .message <<<"$T_OUT")" "message of several causes" || return 1
	# Undeclared fields are pruned, at every level, on create and on update.
	api POST $IPR "$(resv p1 '{"network":"lan","address":"10.0.0.3","state":"Bound","extra":{"a":1}}' '"status":{"x":1},"junk":true')"
	assert_code 201 "create with undeclared fields" || return 1
	assert_json_field "$T_OUT" '[(.spec|has("extra")),has("status"),has("junk"),.spec.network]|map(tostring)|join(",")' "false,false,false,lan" || return 1
	api GET $IPR/p1
	assert_json_field "$T_OUT" '.spec|keys|join(",")' "address,network,state" || return 1
	api PATCH $IPR/p1 '{"spec":{"extra2":"x","node":"n1"}}' application/merge-patch+json
	assert_code 200 "patch" || return 1
	assert_json_field "$T_OUT" '.spec|keys|join(",")' "address,network,node,state" || return 1
	api PATCH $IPR/p1 '{"spec":{"state":"Nope"}}' application/merge-patch+json
	assert_cause spec.state FieldValueNotSupported 'Unsupported value: "Nope"' || return 1
	# x-kubernetes-preserve-unknown-fields keeps them (the tests' own CRD).
	api DELETE /apis/apiextensions.k8s.io/v1/customresourcedefinitions/ipreservations.gamelan.dev
	api POST /apis/apiextensions.k8s.io/v1/customresourcedefinitions "$CRD_JSON"
	assert_code 201 "CRD create" || return 1
	api POST $IPR "$(resv p2 '{"extra":1,"state":42}')"
	assert_code 201 "preserve-unknown-fields: nothing pruned or validated" || return 1
	assert_json_field "$T_OUT" '[.spec.extra,.spec.state]|map(tostring)|join(",")' "1,42"
}

case_version_rules() {
	local rv
	fake_start || return 1
	setup_crd || return 1
	# A create that carries a resourceVersion: the etcd3 storage's plain error, a 500 with no
	# reason. "0" passes (it parses as 0).
	api POST $IPR '{"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation","metadata":{"name":"v1","resourceVersion":"12"},"spec":{}}'
	assert_code 500 "create with a resourceVersion" || return 1
	assert_json_field "$T_OUT" '[.kind,.status,.code,(.reason//"none"),.message]|map(tostring)|join(",")' \
		"Status,Failure,500,none,resourceVersion should not be set on objects to be created" || return 1
	api GET $IPR/v1
	assert_status 404 NotFound || return 1
	api POST $IPR '{"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation","metadata":{"name":"v1","resourceVersion":"0"},"spec":{}}'
	assert_code 201 "create with resourceVersion 0" || return 1
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api POST $CM '{"metadata":{"name":"rvc","resourceVersion":"7"}}'
	assert_code 500 "a ConfigMap too" || return 1
	# A PUT of a custom resource without resourceVersion: 422 (AllowUnconditionalUpdate false);
	# a ConfigMap may.
	api PUT $IPR/v1 '{"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation","metadata":{"name":"v1"},"spec":{"a":1}}'
	assert_status 422 Invalid || return 1
	assert_json_field "$T_OUT" .message 'ipreservations.gamelan.dev "v1" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update' || return 1
	api PUT $IPR/v1 "{\"apiVersion\":\"gamelan.dev/v1alpha1\",\"kind\":\"IPReservation\",\"metadata\":{\"name\":\"v1\",\"resourceVersion\":\"$rv\"},\"spec\":{\"a\":1}}"
	assert_code 200 "PUT with the resourceVersion" || return 1
	api POST $CM '{"metadata":{"name":"rvc"},"data":{"a":"1"}}'
	api PUT $CM/rvc '{"metadata":{"name":"rvc"},"data":{"a":"2"}}'
	assert_code 200 "unconditional PUT of a ConfigMap"
}

# list_cost QUERY SOURCE READ [ITEMS]: a LIST of $IPR?QUERY is served from SOURCE, read READ objects.
list_cost() {
	api GET "$IPR?$1"
	assert_code 200 "list ?$1" || return 1
	assert_eq "$2 $3" "$(hdr X-Fake-Served-From) $(hdr X-Fake-Objects-Read)" "source and objects read of ?$1" || return 1
	[[ -z "${4:-}" ]] || assert_eq "$4" "$(jq '.items|length' <<<"$T_OUT")" "items of ?$1"
}

case_cost() {
	local i rv st
	fake_start || return 1
	setup_crd || return 1
	for i in $(seq 10 39); do
		api POST $IPR "$(ipr "c$i" "10.9.0.$i" "$( ((i % 3 == 0)) && echo '{"net":"a"}' || echo '{"net":"b"}')")"
	done
	assert_code 201 "the last of 30 creates" || return 1
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	api POST /fake/stats
	# A consistent LIST reads the whole namespace from etcd, whatever the selector.
	list_cost "labelSelector=net%3Da" etcd 30 10 || return 1
	list_cost "labelSelector=net%3Dnope" etcd 30 0 || return 1
	# Paged from etcd: read until the page is full (c12 c15 c18: 9 keys from c10).
	list_cost "labelSelector=net%3Da&limit=3" etcd 9 3 || return 1
	# From the watch cache: only the matches; a limit with "0" is ignored (one page).
	list_cost "labelSelector=net%3Da&resourceVersion=0" cache 10 10 || return 1
	list_cost "labelSelector=net%3Da&resourceVersion=0&limit=3" cache 10 10 || return 1
	assert_eq "" "$(jq -r '.metadata.continue // empty' <<<"$T_OUT")" "no continue token from the cache" || return 1
	list_cost "labelSelector=net%3Da&resourceVersion=$rv&resourceVersionMatch=NotOlderThan" cache 10 10 || return 1
	list_cost "resourceVersion=$rv" cache 30 30 || return 1
	# 1.24-1.30: a limit with a version other than "0" goes to etcd, NotOlderThan or not;
	# Exact is always etcd.
	list_cost "labelSelector=net%3Da&resourceVersion=$rv&resourceVersionMatch=NotOlderThan&limit=3" etcd 9 3 || return 1
	list_cost "labelSelector=net%3Da&resourceVersion=$rv&resourceVersionMatch=Exact" etcd 30 10 || return 1
	# GET: a quorum read from etcd, or the cache with a resourceVersion.
	api GET $IPR/c10
	assert_eq "etcd 1" "$(hdr X-Fake-Served-From) $(hdr X-Fake-Objects-Read)" "GET" || return 1
	api GET "$IPR/c10?resourceVersion=0"
	assert_eq "cache 1" "$(hdr X-Fake-Served-From) $(hdr X-Fake-Objects-Read)" "GET from the cache" || return 1
	api GET /fake/stats
	st=$(jq -c '[.objectsRead.etcd,.objectsRead.cache,.objectsRead.total,.listsFrom.etcd,.listsFrom.cache]' <<<"$T_OUT")
	assert_eq "[109,61,170,5,4]" "$st" "the stats' sums (etcd, cache, total, lists from each)" || return 1
	# ListOptions the real server refuses.
	api GET "$IPR?resourceVersionMatch=NotOlderThan"
	assert_status 422 Invalid || return 1
	assert_contains "resourceVersionMatch is forbidden unless resourceVersion is provided" "$T_OUT" || return 1
	api GET "$IPR?resourceVersion=0&resourceVersionMatch=Exact"
	assert_status 422 Invalid || return 1
	api GET "$IPR?resourceVersion=1&resourceVersionMatch=Sometimes"
	assert_status 422 Invalid || return 1
	api GET "$IPR?resourceVersion=$((rv + 1000))&resourceVersionMatch=NotOlderThan"
	assert_status 504 Timeout || return 1
	assert_json_field "$T_OUT" '[.message,(.details.retryAfterSeconds|tostring)]|join(",")' \
		"Too large resource version: $((rv + 1000)), current: $rv,1"
}

case_bookmark_rules() {
	local rv out=$T_TMP/watch3
	fake_start || return 1
	setup_crd || return 1
	api POST $IPR "$(ipr b1 10.0.0.1)"
	rv=$(jq -r .metadata.resourceVersion <<<"$T_OUT")
	# Not asked for: none.
	api GET "$IPR?watch=1&resourceVersion=$rv&timeoutSeconds=1"
	assert_eq "" "$T_OUT" "a watch without allowWatchBookmarks" || return 1
	# Asked for, but the watch ends within 2 s of its start: the real cacher's last bookmark
	# is 2 s before the deadline, so a 1 s watch gets none, a 3 s one some, none late.
	api GET "$IPR?watch=1&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=1"
	assert_eq "" "$T_OUT" "a 1 s watch" || return 1
	curl -sN -m 10 "$FAKE_URL$IPR?watch=1&resourceVersion=$rv&allowWatchBookmarks=true&timeoutSeconds=3" |
		while read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$out"
	assert_ne 0 "$(grep -c BOOKMARK "$out")" "bookmarks in a 3 s watch" || return 1
	# sendInitialEvents (WatchList): the state as ADDED, then the initial-events-end bookmark;
	# it needs resourceVersionMatch=NotOlderThan and allowWatchBookmarks.
	api GET "$IPR?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=$rv&timeoutSeconds=1"
	assert_code 200 "watch list" || return 1
	assert_eq "ADDED:b1 BOOKMARK:true" "$(jq -r '"\(.type):\(.object.metadata.name // .object.metadata.annotations["k8s.io/initial-events-end"])"' <<<"$T_OUT" | tr '\n' ' ' | sed 's/ $//')" \
		"initial events, then their end" || return 1
	api GET "$IPR?watch=1&sendInitialEvents=true&resourceVersion=$rv"
	assert_status 422 Invalid || return 1
	assert_contains "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan" "$T_OUT" || return 1
	assert_contains "sendInitialEvents requires setting allowWatchBookmarks to true" "$T_OUT" || return 1
	api GET "$IPR?watch=1&resourceVersionMatch=NotOlderThan&resourceVersion=$rv"
	assert_status 422 Invalid || return 1
	# sendInitialEvents=false: from the version on, no initial events.
	api GET "$IPR?watch=1&sendInitialEvents=false&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&resourceVersion=0&timeoutSeconds=1"
	assert_eq "" "$T_OUT" "sendInitialEvents=false"
}

case_sigterm() {
	local pid=$FAKE_PID
	kill -TERM "$pid"
	if ! wait_until 5 proc_gone "$pid"; then
		t_fail "the fake did not end on SIGTERM"
		return 1
	fi
	wait "$pid"
	assert_eq 0 "$?" "exit status after SIGTERM" || return 1
	FAKE_PID=
}

command -v curl >/dev/null || t_bail "curl is needed"
command -v jq >/dev/null || t_bail "jq is needed"

t_run "the fake runs on /usr/bin/python3" case_start_system_python
t_run "create twice -> 409 AlreadyExists" case_create_twice
t_run "resourceVersion increases on every write" case_rv_monotonic
t_run "update with a stale resourceVersion -> 409 Conflict" case_stale_update
t_run "404 / 422 / 400 Status objects, generateName" case_errors
t_run "delete: preconditions, finalizers" case_delete
t_run "a posted CRD registers its resource; discovery" case_crd_discovery
t_run "status subresource" case_status_subresource
t_run "merge patch, JSON patch, no-op writes" case_merge_patch
t_run "label and field selectors" case_label_selectors
t_run "pagination with limit/continue, 410 after compaction" case_pagination
t_run "watch: events, bookmarks, selector" case_watch
t_run "watch from a compacted resourceVersion -> ERROR 410" case_watch_410
t_run "faults: 500, 429 Retry-After, delay, dropped and split watches" case_faults
t_run "concurrent clients" case_concurrent
t_run "leases: 409 on create, resourceVersion required, create on update" case_lease_writes
t_run "leases: typed spec, MicroTime in and out, validation" case_lease_types
t_run "SIGTERM ends the fake cleanly" case_sigterm
t_run "custom resources: structural schema validation (422 causes), pruning" case_schema
t_run "create with a resourceVersion -> 500, CR PUT without one -> 422" case_version_rules
t_run "cost model: objects read from etcd or the watch cache; ListOptions rules" case_cost
t_run "bookmarks only as the real server sends them; sendInitialEvents" case_bookmark_rules
t_run "bearer token, changed at runtime" case_token
if command -v openssl >/dev/null; then
	t_run "TLS, client certificates" case_tls
else
	t_begin "TLS, client certificates"
	t_fail "no openssl CLI (tests/install-deps.sh installs it)"
fi
t_run "Table output with printer columns" case_table
if command -v kubectl >/dev/null; then
	t_run "kubectl get/apply/delete against the fake" case_kubectl
else
	t_skip "kubectl get/apply/delete against the fake" "kubectl is not installed"
fi
fakeapi_stop
t_done
