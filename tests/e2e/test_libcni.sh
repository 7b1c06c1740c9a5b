#!/usr/bin/env bash
# Every file in conf/ and every NAD in conf/k8s/, exactly as shipped, through libcni itself (the
# library multus, podman, containerd and CRI-O embed; Debian's golang-github-appc-cni-dev built
# with Debian's Go by tests/libcni/): ADD, CHECK, DEL and GC on node1, whose eth0 is the master
# the configs name. The paths the configs name (/var/lib/gamelan, /var/lib/cni, the kubeconfig
# under /etc/cni/net.d/gamelan.d) are the test's own: the driver runs in a mount namespace where
# /var/lib is a directory of the test and /etc an overlay whose writes land in the test's.
. "$(dirname "$0")/lib.sh"

NODE_NS=

# Build the driver once into the build directory (again only when its source is newer).
DRIVER=$(cd "$GL_BIN/.." && pwd)/libcni/gl-libcni
build_driver() {
	local src=$GL_TOP/tests/libcni dir
	dir=$(dirname "$DRIVER")
	if [[ -x "$DRIVER" && -z "$(find "$src" -newer "$DRIVER" -name '*.go')" ]]; then
		return 0
	fi
	mkdir -p "$dir" || return 1
	(cd "$src" && env GOENV=off GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= \
		CGO_ENABLED=0 GOCACHE="$dir/gocache" go build -o "$DRIVER.tmp" .) >"$T_TMP/go-build.log" 2>&1 &&
		mv "$DRIVER.tmp" "$DRIVER"
}
command -v go >/dev/null || t_bail "no go (tests/install-deps.sh installs golang-go)"
[[ -d /usr/share/gocode/src/github.com/containernetworking/cni/libcni ]] ||
	t_bail "no libcni source (tests/install-deps.sh installs golang-github-appc-cni-dev)"
build_driver || t_bail "building tests/libcni: $(tail -n 5 "$T_TMP/go-build.log")"

world_up || t_bail "world_up failed"
NODE_NS=$(world_ns node1)

# A fake API server in node1's namespace for the Kubernetes store of the conf/k8s NADs, and the
# kubeconfig where the DaemonSet writes it.
TOKEN=gl-libcni-token
fakeapi_start "$T_TMP/fake" --netns "$NODE_NS" --token "$TOKEN" --namespace gamelan-system ||
	t_bail "the fake API server does not start"
ip netns exec "$NODE_NS" curl -sS --max-time 20 -o /dev/null -w '%{http_code}' -X POST \
	-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	--data-binary "$(fakeapi_crd_json)" "$FAKE_URL/apis/apiextensions.k8s.io/v1/customresourcedefinitions" \
	>"$T_TMP/crd.code" 2>&1
[[ "$(<"$T_TMP/crd.code")" == 201 ]] || t_bail "posting the CRD: $(<"$T_TMP/crd.code")"

# root NAME: a fresh private /var/lib and /etc upper layer for one file, the kubeconfig in it.
root() {
	ROOT=$T_TMP/root-$1
	rm -rf "$ROOT"
	mkdir -p "$ROOT/varlib" "$ROOT/etc/cni/net.d/gamelan.d" "$ROOT/etcwork" || return 1
	fakeapi_kubeconfig "$ROOT/etc/cni/net.d/gamelan.d/gamelan.kubeconfig" "$FAKE_URL" "$TOKEN"
}

# drv VERB FILE [FLAGS...]: the driver in node1's netns and a mount namespace over ROOT.
drv() {
	local verb=$1 file=$2
	shift 2
	# shellcheck disable=SC2016 # expanded by the inner bash
	ip netns exec "$NODE_NS" unshare --mount --propagation private \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin GAMELAN_NODE=node1 \
		ASAN_OPTIONS="${ASAN_OPTIONS:-}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
		LSAN_OPTIONS="${LSAN_OPTIONS:-}" \
		bash -c 'set -e
			mount --bind "$1/varlib" /var/lib
			mount -t overlay gl-libcni -o "lowerdir=/etc,upperdir=$1/etc,workdir=$1/etcwork" /etc
			shift
			exec "$@"' drv "$ROOT" "$DRIVER" -path "$GL_BIN:/usr/lib/cni" "$@" "$verb" "$file"
}

# The config a runtime holds for FILE: a conflist as it is; a NAD's spec.config string as it is.
config_of() {
	local file=$1 out=$2
	if [[ "$file" == *.conflist ]]; then
		cp "$file" "$out"
	else
		python3 -c 'import sys, yaml
o = next(d for d in yaml.safe_load_all(open(sys.argv[1])) if d)
assert o["kind"] == "NetworkAttachmentDefinition"
print(o["metadata"]["name"])
open(sys.argv[2], "w").write(o["spec"]["config"])' "$file" "$out"
	fi
}

# What each file is expected to hand out to the test's pod (asked for through the ips and mac
# capabilities, which libcni passes only when the config declares them).
want_ip() {
	case "$1" in
	*dualstack*) echo 192.168.1.225 ;;
	*) echo 192.168.1.210 ;;
	esac
}
# A MAC of its own per file: a link another case left would clash with a shared one.
N_FILE=0

# state_of FILE IP: the state of IP's reservation where FILE's store keeps it (the fake API
# server for conf/k8s, network $name, the SQLite file at the config's path in the test's /var/lib, host-local's
# files): Bound, Held, or none.
state_of() {
	local file=$1 ip=$2
	if [[ "$file" == */k8s/* ]]; then
		ip netns exec "$NODE_NS" curl -sS --max-time 10 -H "Authorization: Bearer $TOKEN" \
			"$FAKE_URL/apis/gamelan.dev/v1alpha1/namespaces/gamelan-system/ipreservations" |
			jq -r --arg a "$ip" --arg n "$name" \
				'[.items[] | select(.spec.address == $a and .spec.network == $n) | .spec.state] |
				if length == 0 then "none" else join(",") end'
	elif [[ "$file" == *nad-macvlan-conf* ]]; then
		if [[ -e "$ROOT/varlib/cni/networks/macvlan-conf/$ip" ]]; then echo Bound; else echo none; fi
	else
		DB=$ROOT/varlib/gamelan/ipam.db db_rows |
			jq -r --arg a "$ip" '[.[] | select(.ip == $a) | .state] |
				if length == 0 then "none" else join(",") end'
	fi
}
want_after_del() {
	case "$1" in
	*/k8s/*) echo Held ;;
	*/nad-macvlan-conf*) echo none ;;
	*) echo Held ;;
	esac
}

# check_file FILE: ADD, CHECK, DEL, GC through libcni; the result, the link, the MAC; nothing
# left behind (link, libcni's cache, the pod's nft tables).
check_file() {
	local file=$1 base conf name nad=() netns id args caps res ip ver mac
	base=$(basename "$file")
	root "${base%.*}" || return 1
	conf=$T_TMP/${base%.*}.json
	name=$(config_of "$file" "$conf") || { t_fail "cannot read $file"; return 1; }
	[[ -n "$name" ]] && nad=(-name "$name")
	pod=lc$RANDOM
	netns=$(pod_netns "$pod") || return 1
	id=$(t_container_id)
	ip=$(want_ip "$file")
	N_FILE=$((N_FILE + 1))
	WANT_MAC=$(printf '02:42:c0:a8:01:%02x' "$N_FILE")
	# multus' (and kubelet's) CNI_ARGS; multus's capability arguments from the annotation.
	args="IgnoreUnknown=true;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-1;K8S_POD_INFRA_CONTAINER_ID=$id"
	caps=$(jq -nc --arg ip "$ip/24" --arg mac "$WANT_MAC" '{ips: [$ip], mac: $mac}')
	assert_ok drv add "$conf" "${nad[@]}" -netns "$netns" -ifname net1 -id "$id" -args "$args" \
		-caps "$caps" || return 1
	res=$T_OUT
	assert_eq "$ip/24" "$(jq -r '.ips[0].address' <<<"$res")" "address (the ips capability)" || return 1
	assert_addr "pod-$pod" net1 "$ip/24" || return 1
	mac=$(ip -n "$(world_ns "pod-$pod")" -j link show dev net1 | jq -r '.[0].address')
	assert_eq "$WANT_MAC" "$mac" "MAC of the link (the mac capability)" || return 1
	if [[ "$file" == *dualstack* ]]; then
		assert_match '^fd00:1::1[0-9a-f]{2}/64$' "$(jq -r '.ips[1].address' <<<"$res")" "IPv6 address" || return 1
	fi
	assert_eq Bound "$(state_of "$file" "$ip")" "the reservation after ADD" || return 1
	if [[ "$file" == *snat* ]]; then
		assert_match 'gamelan-snat-net1' "$(ns_nft_tables "pod-$pod")" "the snat table after ADD" || return 1
	fi
	ver=$(jq -r '.cniVersion // ""' "$conf")
	if [[ -z "$ver" ]]; then
		# libcni reads no cniVersion as 0.1.0 and refuses CHECK itself (multus never calls it).
		assert_rc 1 drv check "$conf" "${nad[@]}" -netns "$netns" -ifname net1 -id "$id" -args "$args" \
			-caps "$caps" || return 1
		assert_match 'does not support the CHECK command' "$T_ERR" "libcni on CHECK" || return 1
	else
		assert_ok drv check "$conf" "${nad[@]}" -netns "$netns" -ifname net1 -id "$id" -args "$args" \
			-caps "$caps" || return 1
	fi
	assert_ok drv del "$conf" "${nad[@]}" -netns "$netns" -ifname net1 -id "$id" -args "$args" \
		-caps "$caps" || return 1
	assert_no_link "pod-$pod" net1 || return 1
	assert_eq "$(want_after_del "$file")" "$(state_of "$file" "$ip")" "the reservation after DEL" || return 1
	assert_eq "" "$(ns_nft_tables "pod-$pod")" "nft tables left in the pod" || return 1
	assert_eq "" "$(find "$ROOT/varlib/cni" -path '*/results/*' -type f 2>/dev/null)" \
		"libcni's cached results after DEL" || return 1
	if [[ -d "$ROOT/varlib/cni/networks" ]]; then
		assert_eq "" "$(find "$ROOT/varlib/cni/networks" -type f -name '192.168.*')" \
			"host-local's address files after DEL" || return 1
	fi
	# A second DEL (a runtime retrying) is fine.
	assert_ok drv del "$conf" "${nad[@]}" -netns "$netns" -ifname net1 -id "$id" -args "$args" || return 1
	assert_ok drv gc "$conf" "${nad[@]}" -valid '[]' || return 1
	if [[ "$(printf '%s\n' "$ver" 1.1.0 | sort -V | head -n 1)" == 1.1.0 ]]; then
		assert_eq "" "$T_OUT" "GC issued (version $ver)" || return 1
	else
		assert_eq skipped "$T_OUT" "GC not issued for version '$ver', as libcni 1.2 does" || return 1
	fi
}

# check_file, and the pod's namespace removed whatever happened (libcni does not undo a
# plugin's ADD when it cannot read the result).
check_file_clean() {
	local rc=0
	check_file "$1" || rc=1
	pod_netns_del "$pod"
	return $rc
}

for f in "$GL_TOP"/conf/*.conflist "$GL_TOP"/conf/nad-*.yaml "$GL_TOP"/conf/k8s/nad-*.yaml; do
	t_run "${f#"$GL_TOP"/} through libcni: ADD (ips, mac capabilities), CHECK, DEL, GC; nothing left" \
		check_file_clean "$f"
done

# GC as a libcni that speaks 1.1.0 (1.2 and later) issues it, on conf/10-gamelan.conflist with
# cniVersion 1.1.0 (Debian 12's libcni cannot read a 1.1.0 result, so the files ship 1.0.0): an
# attachment among the valid ones keeps its reservation, one left out is released (Held).
case_gc() {
	local conf11 netns id args
	root gc || return 1
	# shellcheck disable=SC2034 # db_rows reads it
	DB=$ROOT/varlib/gamelan/ipam.db
	pod=lcgc
	netns=$(pod_netns "$pod") || return 1
	id=$(t_container_id)
	args="IgnoreUnknown=true;K8S_POD_NAMESPACE=games;K8S_POD_NAME=dst-0;K8S_POD_INFRA_CONTAINER_ID=$id"
	assert_ok drv add "$GL_TOP/conf/10-gamelan.conflist" -netns "$netns" -ifname net1 -id "$id" \
		-args "$args" || return 1
	assert_eq 192.168.1.200/24 "$(jq -r '.ips[0].address' <<<"$T_OUT")" "the pin of games/dst-0" || return 1
	conf11=$T_TMP/10-gamelan-1.1.0.conflist
	jq '.cniVersion = "1.1.0"' "$GL_TOP/conf/10-gamelan.conflist" >"$conf11" || return 1
	assert_ok drv gc "$conf11" -valid "$(jq -nc --arg c "$id" '[{containerID: $c, ifname: "net1"}]')" || return 1
	assert_eq Bound,Pinned "$(db_rows | jq -r '.[] | select(.identity == "games/dst-0") | .state')" \
		"games/dst-0 after a GC that lists it" || return 1
	assert_ok drv gc "$conf11" -valid '[]' || return 1
	assert_eq Pinned "$(db_rows | jq -r '.[] | select(.identity == "games/dst-0") | .state')" \
		"games/dst-0 after a GC without it" || return 1
	assert_ok drv del "$GL_TOP/conf/10-gamelan.conflist" -netns "$netns" -ifname net1 -id "$id" \
		-args "$args" || return 1
	assert_no_link "pod-$pod" net1
}
case_gc_clean() {
	local rc=0
	case_gc || rc=1
	pod_netns_del lcgc
	return $rc
}
t_run "GC through libcni's exec (1.1.0): a listed attachment is kept, an unlisted one released" case_gc_clean

t_done
