#!/usr/bin/env bash
# The Docker world itself (netns-harness/docker-world.sh), checked with Docker's BUILT-IN macvlan
# driver on node1's eth0 (a veth on the world's LAN bridge): Debian's dockerd 20.10 comes up in
# node1's netns with a private /run and /etc/docker, the busybox image is there, a macvlan
# network gives containers LAN addresses the LAN player reaches, dockerd restarts with a
# --restart=always container, and dw_down leaves no process, cgroup or mount behind. This is what
# test_docker.sh (gamelan-docker) builds on, and the reference for the built-in's error texts.
# e2e-timeout: 600
GAME_JOIN_TIMEOUT_MS=${GAME_JOIN_TIMEOUT_MS:-5000}
. "$(dirname "$0")/lib.sh"
# shellcheck source=../../netns-harness/docker-world.sh
. "$GL_TOP/netns-harness/docker-world.sh"

world_up || t_bail "world_up failed"
HOST_MNT=$(readlink /proc/self/ns/mnt)
HOST_RUN_DOCKER=$([[ -e /run/docker ]] && echo present || echo absent)
dw_up "$T_TMP/dw" node1 || t_bail "the docker world did not come up (docker-world.sh): $(dw_dockerd_log | tail -n 5)"
NODE=$(world_ns node1)
PORT=10999

case_up() {
	assert_ok dw_docker version --format '{{.Server.Version}} {{.Server.APIVersion}}' || return
	assert_match '^20\.10\.[0-9]+' "$T_OUT" "dockerd's version (Debian's docker.io)" || return
	assert_eq "$NODE" "$(ip netns identify "$DW_DOCKERD_PID" 2>&1)" "dockerd's network namespace" || return
	assert_ne "$HOST_MNT" "$(readlink "/proc/$DW_DOCKERD_PID/ns/mnt")" "dockerd's mount namespace" || return
	# The world's /run is its own: the host's has no docker directory made by it.
	assert_eq "$HOST_RUN_DOCKER" "$([[ -e /run/docker ]] && echo present || echo absent)" "the host's /run/docker" || return
	assert_ok dw_exec test -d /run/docker/plugins || return
	assert_ok dw_exec grep -q ' /etc/docker ' /proc/self/mountinfo || return
	# Its sysfs is the node's: it shows eth0, not the host's links.
	assert_ok dw_exec test -e /sys/class/net/eth0 || return
	assert_ok dw_exec test -d /sys/fs/cgroup/memory || return
	assert_ok dw_docker image inspect -f '{{.Size}}' "$DW_IMAGE" || return
	assert_ok dw_docker info --format '{{.Driver}} {{.CgroupDriver}}' || return
	assert_eq "$DW_STORAGE cgroupfs" "$T_OUT" "storage and cgroup drivers"
}
t_run "dockerd 20.10 in node1's netns, private mount namespace (/run, /etc/docker, sysfs, cgroups), image $DW_IMAGE imported" case_up

MV_ARGS=(-d macvlan --subnet 192.168.1.0/24 --gateway 192.168.1.1 --ip-range 192.168.1.192/27 -o parent=eth0)

case_network() {
	assert_ok dw_docker network create "${MV_ARGS[@]}" mv || return
	assert_ok dw_docker network inspect -f '{{.Driver}} {{index .Options "parent"}} {{(index .IPAM.Config 0).IPRange}}' mv || return
	assert_eq "macvlan eth0 192.168.1.192/27" "$T_OUT" "docker network inspect mv" || return
	assert_ok dw_docker network ls --format '{{.Name}}' || return
	assert_contains mv "$T_OUT" "docker network ls"
}
t_run "docker network create -d macvlan -o parent=eth0 (built-in): inspect shows driver, parent, range" case_network

IP=''
case_run() {
	local got mac log=$T_TMP/srv.log
	assert_ok dw_docker run -d --name srv --network mv "$DW_IMAGE" sleep 3600 || return
	got=$(dw_ctr_eth0 srv) || { t_fail "no eth0 in srv"; return 1; }
	IP=${got% *} mac=${got#* }
	assert_match '^192\.168\.1\.(19[2-9]|2[01][0-9]|22[0-3])/24$' "$IP" "srv's address (the range)" || return
	IP=${IP%/24}
	assert_eq "$IP" "$(dw_docker inspect -f '{{.NetworkSettings.Networks.mv.IPAddress}}' srv 2>&1)" "docker's record" || return
	assert_match '^02:42:' "$mac" "the built-in's MAC (derived from the IP)" || return
	assert_ok dw_server_start srv "$PORT" "$log" || return
	assert_rc 0 game_join lanp "$IP" "$PORT" wilson || return
	assert_match '^accepted wilson from \[LAN\] 192\.168\.1\.77$' "$T_OUT" "the LAN player's reply" || return
	assert_ok dw_docker exec srv ping -c 1 -W 5 192.168.1.77
}
t_run "docker run --network mv: an address from the range, the LAN player reaches its server, it reaches the LAN" case_run

# bad_ok PARENT_AND_OPTS TEXT: network create with -o parent=PARENT_AND_OPTS is refused with TEXT.
bad_ok() {
	local -a o
	read -r -a o <<<"$1"
	assert_rc 1 dw_docker network create -d macvlan --subnet 10.9.0.0/24 -o "parent=${o[0]}" "${o[@]:1}" mvbad ||
		return
	assert_contains "Error response from daemon: $2" "$T_ERR" "-o parent=$1"
}

case_bad() {
	# The built-in's texts, which gamelan-docker matches (test_docker.sh).
	# Another subnet, else the default IPAM refuses the gateway first.
	assert_rc 1 dw_docker network create -d macvlan --subnet 10.9.1.0/24 -o parent=eth0 mv2 || return
	# It names the other network by its link name, dm-<12 hex of the network ID>.
	assert_match "network dm-[0-9a-f]{12} is already using parent interface eth0" "$T_ERR" "a second network on eth0" || return
	bad_ok eth0.x "unable to parse a valid vlan id from: x (ex. eth0.10 for vlan 10)" || return
	bad_ok nosuch "invalid subinterface vlan name nosuch, example formatting is eth0.10" || return
	bad_ok eth0.5000 "vlan id must be between 1-4094, received: 5000" || return
	bad_ok "eth0 -o macvlan_mode=bogus" "requested macvlan mode 'bogus' is not valid" || return
	assert_ok dw_docker network ls -q --filter name=mv || return
	assert_eq 1 "$(wc -l <<<"$T_OUT")" "networks named mv* after the refusals"
}
t_run "built-in macvlan refuses a second network on eth0, a bad VLAN id, a parent without a VLAN part that does not exist, a VLAN id over 4094, a bad mode (its texts)" case_bad

# 802.1q: a scratch link in a namespace of our own tells whether this kernel has it.
pod_netns vlanprobe >/dev/null || t_bail "no scratch namespace"
ip -n "$(world_ns pod-vlanprobe)" link add p0 type veth peer name p1 2>/dev/null
if ip -n "$(world_ns pod-vlanprobe)" link add link p0 name p0.10 type vlan id 10 2>/dev/null; then
	HAVE_VLAN=1
else
	HAVE_VLAN=0
fi
pod_netns_del vlanprobe

case_vlan() {
	assert_ok dw_docker network create -d macvlan --subnet 10.10.0.0/24 -o parent=eth0.10 mvv || return
	assert_link node1 eth0.10 || return
	assert_ok dw_docker network rm mvv || return
	assert_no_link node1 eth0.10
}
if ((HAVE_VLAN)); then
	t_run "built-in macvlan -o parent=eth0.10 creates the 802.1q link, network rm removes it" case_vlan
else
	t_skip "built-in macvlan -o parent=eth0.10 (802.1q link)" "NO 802.1q IN THIS KERNEL: the VLAN parent path is not tested here"
fi

case_plugin() {
	local log
	assert_ok dw_stub_start stub || return
	assert_ok test -S "$DW_DIR/plugins/stub.sock" || return
	# dockerd finds it as /run/docker/plugins/stub.sock of the world (legacy plugin discovery).
	assert_ok dw_docker network create -d stub --ipam-driver stub --subnet 192.168.1.0/24 \
		--gateway 192.168.1.1 -o parent=eth0 st || return
	assert_ok dw_docker network inspect -f '{{.Driver}} {{.IPAM.Driver}}' st || return
	assert_eq "stub stub" "$T_OUT" "docker network inspect st" || return
	assert_ok dw_docker run --rm --network st "$DW_IMAGE" ip -4 -o addr show dev eth0 || return
	assert_contains "inet 192.168.1.10" "$T_OUT" "the container's address from the stub" || return
	log=$(cat "$DW_DIR/stub-stub.log")
	assert_contains '/Plugin.Activate' "$log" "the stub's calls" || return
	assert_contains '"RequestAddressType": "com.docker.network.gateway"' "$log" "the gateway's RequestAddress" || return
	assert_contains '/NetworkDriver.Join' "$log" "the stub's calls" || return
	assert_contains '/IpamDriver.ReleaseAddress' "$log" "the stub's calls" || return
	assert_ok dw_docker network rm st || return
	assert_eq "" "$(ip -n "$NODE" -o link show type macvlan 2>&1)" "macvlan links left in node1"
}
t_run "a legacy plugin on DW_DIR/plugins/stub.sock is discovered by dockerd (network create, docker run, the calls in order)" case_plugin

case_restart() {
	local pid1 pid2
	assert_ok dw_docker run -d --name always --restart=always --network mv "$DW_IMAGE" sleep 3600 || return
	pid1=$(dw_ctr_pid always) || { t_fail "no pid for always"; return 1; }
	dw_servers_stop
	assert_ok dw_dockerd_restart || return
	# Restart policies run just after the API answers: bounded wait for the container.
	wait_until 60 test "$(dw_docker inspect -f '{{.State.Running}}' always 2>/dev/null)" = true ||
		{ t_fail "always did not come back: $(dw_docker ps -a 2>&1)"; return 1; }
	pid2=$(dw_ctr_pid always) || { t_fail "no pid for always"; return 1; }
	assert_ne "$pid1" "$pid2" "always's pid after the restart" || return
	assert_match '^192\.168\.1\.' "$(dw_ctr_eth0 always 2>&1)" "always's eth0 after the restart" || return
	assert_eq false "$(dw_docker inspect -f '{{.State.Running}}' srv 2>&1)" "srv (no restart policy) after the restart"
}
t_run "dockerd restarted (bounded): the --restart=always container runs again with a LAN address, the other stays stopped" case_restart

case_rm() {
	assert_ok dw_docker rm -f srv always || return
	assert_ok dw_docker network rm mv || return
	assert_eq "" "$(ip -n "$NODE" -o link show type macvlan 2>&1)" "macvlan links left in node1" || return
	assert_ok dw_docker run --rm --network none "$DW_IMAGE" true
}
t_run "docker rm -f, network rm: no macvlan left in node1; docker run --rm --network none works" case_rm

case_down() {
	local mnt=$DW_MNTNS dir=$DW_DIR cg=$DW_CGROUP holder=$DW_HOLDER p left=''
	assert_ok dw_docker run -d --name last --network none "$DW_IMAGE" sleep 3600 || return
	assert_ok dw_down || return
	for p in /proc/[0-9]*; do
		[[ "$(readlink "$p/ns/mnt" 2>/dev/null)" == "$mnt" ]] && left+="${p#/proc/} "
	done
	assert_eq "" "$left" "processes left in the world's mount namespace" || return
	assert_proc_gone "$holder" || return
	assert_eq "" "$(find /sys/fs/cgroup -maxdepth 2 -name "${cg#/}" 2>&1)" "the containers' cgroup parent" || return
	assert_eq "" "$(awk -v d="$dir/" 'index($5, d) == 1' /proc/self/mountinfo)" "mounts under the world's directory" || return
	assert_ok dw_down
}
t_run "dw_down with a container running: no process in the mount namespace, no cgroup parent, no mount left; idempotent" case_down

t_done
