#!/usr/bin/env bash
# Install what building gamelan and running its tests need, through apt. Quiet and quick when
# everything is there already (dpkg-query only); apt-get update runs only before an install.
# Extra package names as arguments are installed too (`make fuzz` asks for clang this way).
set -eu

PKGS=(build-essential pkg-config libjson-c-dev libmnl-dev libnftnl-dev libsqlite3-dev
	libcurl4-openssl-dev libyaml-dev libcmocka-dev libsystemd-dev libmicrohttpd-dev iproute2 nftables containernetworking-plugins
	podman runc conmon catatonit busybox-static docker.io
	sqlite3 jq procps python3 python3-yaml openssl curl shellcheck
	golang-go golang-github-appc-cni-dev "$@")

missing=()
for p in "${PKGS[@]}"; do
	status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	if [[ "$status" != installed ]]; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} == 0)); then
	exit 0
fi

if [[ "$(id -u)" != 0 ]]; then
	echo "install-deps: missing packages: ${missing[*]}" >&2
	echo "install-deps: run as root (sudo $0), or install them with apt-get yourself" >&2
	exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: no apt-get here; install by hand: ${missing[*]}" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# docker.io's maintainer scripts would start a dockerd (and containerd) on the host's network.
# The tests start their own inside namespaces (netns-harness/docker-world.sh) and never use the
# host's /run/docker.sock: a policy-rc.d that denies every start keeps the install from
# starting any service (only while apt runs, and only when there was none already).
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
	printf '#!/bin/sh\n# install-deps.sh: no service starts while it installs\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
