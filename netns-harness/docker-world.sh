# shellcheck shell=bash
# Real Docker (Debian's docker.io 20.10: /usr/sbin/dockerd, /usr/bin/containerd, runc,
# cgroupfs, overlay2) inside one of the world's nodes. Source after world.sh (tests/e2e/lib.sh
# sources that); it runs nothing by itself.
#
#   host netns        untouched; the host's /run/docker.sock, /var/lib/docker and /etc/docker
#                     are never used (nor a host dockerd: none needs to run)
#   ${GLW}-NODE       dockerd, containerd, the containers' shims and gamelan-docker: its eth0
#                     (on the world's LAN bridge) is the macvlan parent
#   mount namespace   private (a slave of the host's), held open by one process that lives in
#                     the node's netns: a sysfs of that netns on /sys (dockerd reads links
#                     there; `ip netns exec` would remount it per command and lose
#                     /sys/fs/cgroup), the host's cgroup mounts bound back, a tmpfs on /run
#                     (containerd's shim sockets /run/containerd/s, libnetwork's), DW_DIR/plugins
#                     on /run/docker/plugins (where dockerd discovers legacy plugins: a driver
#                     socket DW_DIR/plugins/NAME.sock is /run/docker/plugins/NAME.sock for it),
#                     DW_DIR/etc on /etc/docker (key.json, daemon.json)
#   DW_DIR            docker.sock (-H), containerd.sock, data-root, exec-root, containerd's
#                     root and state, logs, pid files, the image's root file system
#
# dockerd: --iptables=false --ip6tables=false --ip-masq=false --bridge=none
# --userland-proxy=false, native.cgroupdriver=cgroupfs, and every container under the cgroup
# parent /gl-docker-$GLW so that dw_down finds (and kills) what is left of them by cgroup even
# when dockerd is stuck or gone. The CLI is Debian's /usr/bin/docker (this machine's
# /usr/local/bin/docker is a newer one that needs API >= 1.44), with DOCKER_CONFIG in DW_DIR.
#
# Functions (0 on success, non-zero with a message on stderr otherwise):
#   dw_up DIR NODE          the holder of the mount namespace in ${GLW}-NODE, containerd,
#                           dockerd (waits, bounded, for its API), the image $DW_IMAGE made by
#                           `docker import` of a busybox-static root
#   dw_down                 stop the driver, `docker rm -f` of every container (bounded), stop
#                           dockerd and containerd (TERM, then KILL, by pid), kill what is left
#                           in the cgroup parent and the mount namespace (by pid), remove the
#                           cgroup parent; idempotent; world_at_exit runs it (before world_down)
#   dw_docker ARGS...       /usr/bin/docker -H unix://DW_DIR/docker.sock ARGS, bounded by
#                           DW_TIMEOUT s (default 60)
#   dw_exec CMD...          run CMD in the node's netns and the mount namespace (unbounded)
#   dw_dockerd_stop         stop dockerd alone (TERM, 20 s, KILL); containerd, data stay
#   dw_dockerd_start        start dockerd again (same flags), wait for its API (bounded)
#   dw_dockerd_restart      both: daemon restore, restart policies
#   dw_dockerd_log          print dockerd's log
#   dw_driver_start [ARGS]  start $GL_BIN/gamelan-docker --foreground in the world: socket
#                           /run/docker/plugins/gamelan.sock, --db DW_DIR/docker.db (DW_DB),
#                           --docker-host unix://DW_DIR/docker.sock, extra ARGS; waits (bounded)
#                           for the socket; pid in DW_DRIVER_PID, log DW_DIR/driver.log
#   dw_driver_stop [SIG]    stop it (TERM by default; KILL to crash it), wait for it
#   dw_stub_start NAME      a trivial legacy plugin (python3; NetworkDriver + IpamDriver) on
#                           /run/docker/plugins/NAME.sock: addresses 192.168.1.100-127 in turn,
#                           a macvlan on eth0 made at Join, gateway 192.168.1.1, nothing kept;
#                           what the world's plugin discovery and a remote driver's bare cost are
#                           measured with; pid in DW_STUB_PID, log DW_DIR/stub-NAME.log (calls)
#   dw_ctr_pid CTR          print the pid of container CTR's first process
#   dw_nsenter CTR CMD...   run CMD (a host binary) in the network namespace of container CTR
#   dw_ctr_eth0 CTR         "ADDRESS/PREFIX MAC" of eth0 in container CTR, as the kernel has it
#   dw_server_start CTR PORT LOG [ARGS...]
#                           start lanserver (a host binary) in container CTR's network
#                           namespace, wait (bounded) until it listens; pid in DW_SERVER_PID
#   dw_servers_stop         stop every lanserver dw_server_start started
#
# Settings: DW_IMAGE (gl/busybox:latest), DW_TIMEOUT (60), DW_STORAGE (overlay2).

# shellcheck source=podman-world.sh
. "$GL_TOP/netns-harness/podman-world.sh"

DW_DIR=
DW_NODE=
DW_HOLDER=
DW_MNTNS=
DW_SOCK=
DW_DB=
DW_DOCKERD_PID=
DW_CONTAINERD_PID=
DW_DRIVER_PID=
DW_STUB_PID=
DW_IMAGE=${DW_IMAGE:-gl/busybox:latest}
DW_TIMEOUT=${DW_TIMEOUT:-60}
DW_STORAGE=${DW_STORAGE:-overlay2}
DW_CGROUP=
DW_SERVER_PID=
DW_DOCKER=/usr/bin/docker
DW_DOCKERD=/usr/sbin/dockerd
DW_CONTAINERD=/usr/bin/containerd
_DW_AT_EXIT=

_dw_err() {
	printf 'docker-world: %s\n' "$*" >&2
}

_dw_tools() {
	local t
	for t in "$DW_DOCKER" "$DW_DOCKERD" "$DW_CONTAINERD" runc containerd-shim-runc-v2 busybox \
		nsenter unshare timeout; do
		command -v "$t" >/dev/null 2>&1 || {
			_dw_err "$t is missing (tests/install-deps.sh installs docker.io busybox-static)"
			return 1
		}
	done
}

# _dw_alive PID: runs (a zombie counts as gone).
_dw_alive() {
	local state
	[[ -n "${1:-}" ]] || return 1
	state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)
	[[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# _dw_stop PID WHAT SECS: TERM, SECS of grace, then KILL; waits (bounded) for it to go.
_dw_stop() {
	local pid=$1 what=$2 secs=${3:-20} i
	_dw_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < secs * 10; i++)); do
		_dw_alive "$pid" || break
		sleep 0.1
	done
	if _dw_alive "$pid"; then
		_dw_err "$what ($pid) ignored TERM for ${secs}s: KILL"
		kill -KILL "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			_dw_alive "$pid" || break
			sleep 0.1
		done
	fi
	# Reap it when it is our child; a process started elsewhere is only waited for.
	wait "$pid" 2>/dev/null
	! _dw_alive "$pid" || { _dw_err "$what ($pid) survived KILL"; return 1; }
}

# The environment of everything started in the world.
_dw_env() {
	printf '%s\n' PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		"DOCKER_CONFIG=$DW_DIR/cli" "TMPDIR=$DW_DIR/tmp"
	local v
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS GAMELAN_LOG_LEVEL; do
		[[ -n "${!v:-}" ]] && printf '%s=%s\n' "$v" "${!v}"
	done
	return 0
}

dw_exec() {
	local -a envv
	mapfile -t envv < <(_dw_env)
	if ! _dw_alive "$DW_HOLDER"; then
		_dw_err "the docker world is not up"
		return 1
	fi
	nsenter -t "$DW_HOLDER" -m -n -- env -i "${envv[@]}" "$@"
}

# _dw_spawn LOG CMD...: CMD in the world, in the background, its output appended to LOG; its
# pid (nsenter execs env, which execs CMD: one pid all along) in _DW_PID.
_dw_spawn() {
	local log=$1
	shift
	_dw_alive "$DW_HOLDER" || { _dw_err "the docker world is not up"; return 1; }
	(
		mapfile -t envv < <(_dw_env)
		exec nsenter -t "$DW_HOLDER" -m -n -- env -i "${envv[@]}" "$@"
	) </dev/null >>"$log" 2>&1 &
	_DW_PID=$!
}

dw_docker() {
	[[ -n "$DW_SOCK" ]] || { _dw_err "the docker world is not up"; return 1; }
	DOCKER_CONFIG=$DW_DIR/cli timeout -k 5 "$DW_TIMEOUT" "$DW_DOCKER" -H "unix://$DW_SOCK" "$@"
}

_dw_write_conf() {
	local d=$DW_DIR
	mkdir -p "$d"/{data,exec,etc,plugins,cli,tmp,img/root,containerd/root,containerd/state} || return 1
	chmod 700 "$d" || return 1
	cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
EOF
	printf '{}\n' >"$d/etc/daemon.json"
	printf '{}\n' >"$d/cli/config.json"
}

# The holder: nsenter (net) -> unshare (mount) -> sh -> exec sleep, one pid all along.
_dw_start_holder() {
	local ns i
	ns=$(world_ns "$DW_NODE") || return 1
	rm -f "$DW_DIR/ready"
	# shellcheck disable=SC2016 # the inner shell expands DW_DIR
	DW_DIR=$DW_DIR nsenter --net="/run/netns/$ns" unshare --mount --propagation slave -- /bin/sh -c '
		set -e
		mkdir -p "$DW_DIR/cg"
		mount --rbind /sys/fs/cgroup "$DW_DIR/cg"
		mount -t sysfs sysfs /sys
		mount --rbind "$DW_DIR/cg" /sys/fs/cgroup
		umount -l "$DW_DIR/cg"
		mount -t tmpfs -o mode=755 gl-docker-run /run
		mkdir -p /run/docker/plugins /run/netns
		mount --bind "$DW_DIR/plugins" /run/docker/plugins
		mkdir -p /etc/docker
		mount --bind "$DW_DIR/etc" /etc/docker
		: >"$DW_DIR/ready"
		exec sleep 86400
	' </dev/null >"$DW_DIR/holder.log" 2>&1 &
	DW_HOLDER=$!
	for ((i = 0; i < 300; i++)); do
		[[ -e "$DW_DIR/ready" ]] && break
		_dw_alive "$DW_HOLDER" || break
		sleep 0.1
	done
	if [[ ! -e "$DW_DIR/ready" ]]; then
		_dw_err "the mount namespace did not come up: $(cat "$DW_DIR/holder.log" 2>/dev/null)"
		return 1
	fi
	# Give sleep a moment to be exec'd: until then the pid is still the shell's.
	for ((i = 0; i < 50; i++)); do
		[[ "$(cat "/proc/$DW_HOLDER/comm" 2>/dev/null)" == sleep ]] && break
		sleep 0.1
	done
	DW_MNTNS=$(readlink "/proc/$DW_HOLDER/ns/mnt") || return 1
	[[ "$DW_MNTNS" != "$(readlink /proc/self/ns/mnt)" ]] || { _dw_err "no private mount namespace"; return 1; }
}

_dw_start_containerd() {
	local i
	_dw_spawn "$DW_DIR/containerd.log" "$DW_CONTAINERD" --config "$DW_DIR/containerd.toml" || return 1
	DW_CONTAINERD_PID=$_DW_PID
	for ((i = 0; i < 300; i++)); do
		[[ -S "$DW_DIR/containerd.sock" ]] && return 0
		_dw_alive "$DW_CONTAINERD_PID" || break
		sleep 0.1
	done
	_dw_err "containerd did not start; its log: $(tail -n 20 "$DW_DIR/containerd.log" 2>/dev/null)"
	return 1
}

dw_dockerd_log() {
	cat "$DW_DIR/dockerd.log" 2>/dev/null
}

dw_dockerd_start() {
	local i
	if _dw_alive "$DW_DOCKERD_PID"; then
		_dw_err "dockerd runs already ($DW_DOCKERD_PID)"
		return 1
	fi
	_dw_alive "$DW_CONTAINERD_PID" || { _dw_err "containerd is not running"; return 1; }
	_dw_spawn "$DW_DIR/dockerd.log" "$DW_DOCKERD" --data-root "$DW_DIR/data" --exec-root "$DW_DIR/exec" \
		--pidfile "$DW_DIR/dockerd.pid" -H "unix://$DW_SOCK" --containerd "$DW_DIR/containerd.sock" \
		--config-file "$DW_DIR/etc/daemon.json" --storage-driver "$DW_STORAGE" \
		--iptables=false --ip6tables=false --ip-masq=false --bridge=none --userland-proxy=false \
		--exec-opt native.cgroupdriver=cgroupfs --cgroup-parent "$DW_CGROUP" || return 1
	DW_DOCKERD_PID=$_DW_PID
	# Bounded: 60 s for the API (a restore of many containers takes a while).
	for ((i = 0; i < 600; i++)); do
		DW_TIMEOUT=5 dw_docker version >/dev/null 2>&1 && return 0
		_dw_alive "$DW_DOCKERD_PID" || break
		sleep 0.1
	done
	_dw_err "dockerd does not answer; its log: $(tail -n 20 "$DW_DIR/dockerd.log" 2>/dev/null)"
	return 1
}

dw_dockerd_stop() {
	_dw_stop "$DW_DOCKERD_PID" dockerd 20 || return 1
	DW_DOCKERD_PID=
}

dw_dockerd_restart() {
	dw_dockerd_stop && dw_dockerd_start
}

_dw_image() {
	local r=$DW_DIR/img/root a bb
	bb=$(command -v busybox)
	mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev,root} || return 1
	cp "$bb" "$r/bin/busybox" || return 1
	for a in $("$r/bin/busybox" --list); do
		[[ -e "$r/bin/$a" ]] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
	tar -C "$r" -cf "$DW_DIR/img/root.tar" . || return 1
	dw_docker import -c 'CMD ["/bin/sh"]' "$DW_DIR/img/root.tar" "$DW_IMAGE" >/dev/null
}

dw_up() {
	if (($# != 2)); then
		_dw_err "usage: dw_up DIR NODE"
		return 1
	fi
	if _dw_alive "$DW_HOLDER"; then
		_dw_err "a docker world is up already (holder $DW_HOLDER)"
		return 1
	fi
	DW_DIR=$1 DW_NODE=$2
	DW_SOCK=$DW_DIR/docker.sock
	DW_DB=$DW_DIR/docker.db
	DW_CGROUP=/gl-docker-$GLW
	_dw_tools || return 1
	world_ns "$DW_NODE" >/dev/null || return 1
	# A unix socket path is at most 107 bytes: containerd.sock.ttrpc is the longest one here.
	if ((${#DW_DIR} > 80)); then
		_dw_err "DIR '$DW_DIR' is too long for the sockets under it (at most 80 characters)"
		return 1
	fi
	if [[ -z "$_DW_AT_EXIT" ]]; then
		# First of the exit hooks: dockerd's state lives in files the others remove (T_TMP).
		world_at_exit :
		_GL_WORLD_AT_EXIT=(dw_down "${_GL_WORLD_AT_EXIT[@]:0:${#_GL_WORLD_AT_EXIT[@]}-1}")
		_DW_AT_EXIT=1
	fi
	_dw_write_conf || { _dw_err "cannot write the configuration under $DW_DIR"; return 1; }
	_dw_start_holder || return 1
	_dw_start_containerd || return 1
	dw_dockerd_start || return 1
	_dw_image || { _dw_err "docker import failed"; return 1; }
}

dw_driver_start() {
	local bin=$GL_BIN/gamelan-docker i
	[[ -x "$bin" ]] || { _dw_err "$bin is not built"; return 1; }
	if _dw_alive "$DW_DRIVER_PID"; then
		_dw_err "gamelan-docker runs already ($DW_DRIVER_PID)"
		return 1
	fi
	rm -f "$DW_DIR/plugins/gamelan.sock"
	_dw_spawn "$DW_DIR/driver.log" "$bin" --foreground --socket /run/docker/plugins/gamelan.sock \
		--db "$DW_DB" --docker-host "unix://$DW_SOCK" "$@" || return 1
	DW_DRIVER_PID=$_DW_PID
	for ((i = 0; i < 200; i++)); do
		[[ -S "$DW_DIR/plugins/gamelan.sock" ]] && return 0
		_dw_alive "$DW_DRIVER_PID" || break
		sleep 0.1
	done
	_dw_err "gamelan-docker does not listen; its log: $(tail -n 20 "$DW_DIR/driver.log" 2>/dev/null)"
	return 1
}

dw_driver_stop() {
	local sig=${1:-TERM} i
	_dw_alive "$DW_DRIVER_PID" || { DW_DRIVER_PID=; return 0; }
	if [[ "$sig" == TERM ]]; then
		_dw_stop "$DW_DRIVER_PID" gamelan-docker 10 || return 1
	else
		kill "-$sig" "$DW_DRIVER_PID" 2>/dev/null
		for ((i = 0; i < 100; i++)); do
			_dw_alive "$DW_DRIVER_PID" || break
			sleep 0.1
		done
		wait "$DW_DRIVER_PID" 2>/dev/null
		! _dw_alive "$DW_DRIVER_PID" || { _dw_err "gamelan-docker survived $sig"; return 1; }
	fi
	DW_DRIVER_PID=
}

# The stub plugin: the calls and answers of moby's legacy remote driver and IPAM (20.10).
_dw_stub_py() {
	cat <<'EOF'
import json, os, socketserver, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler
SOCK = sys.argv[1]
count = [0]
lock = threading.Lock()
def address(req):
    if req.get("Address"):
        return req["Address"] + "/24"
    with lock:
        count[0] += 1
        return "192.168.1.%d/24" % (100 + (count[0] - 1) % 28)
def answer(path, req):
    if path == "/Plugin.Activate":
        return {"Implements": ["NetworkDriver", "IpamDriver"]}
    if path == "/NetworkDriver.GetCapabilities":
        return {"Scope": "local"}
    if path == "/IpamDriver.GetDefaultAddressSpaces":
        return {"LocalDefaultAddressSpace": "stub-local", "GlobalDefaultAddressSpace": "stub-global"}
    if path == "/IpamDriver.RequestPool":
        return {"PoolID": "stub", "Pool": req.get("Pool") or "192.168.1.0/24", "Data": {}}
    if path == "/IpamDriver.RequestAddress":
        return {"Address": address(req), "Data": {}}
    if path == "/NetworkDriver.CreateEndpoint":
        return {"Interface": {}}
    if path == "/NetworkDriver.Join":
        name = "stb" + req["EndpointID"][:12]
        subprocess.run(["ip", "link", "add", name, "link", "eth0", "type", "macvlan", "mode", "bridge"], check=True)
        return {"InterfaceName": {"SrcName": name, "DstPrefix": "eth"}, "Gateway": "192.168.1.1"}
    if path == "/NetworkDriver.DeleteEndpoint":
        subprocess.run(["ip", "link", "del", "stb" + req["EndpointID"][:12]], stderr=subprocess.DEVNULL)
    if path == "/NetworkDriver.EndpointOperInfo":
        return {"Value": {}}
    return {}
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            req = json.loads(body or b"{}") or {}
        except ValueError:
            req = {}
        try:
            out, code = answer(self.path, req), 200
        except Exception as e:
            out, code = {"Err": str(e), "Error": str(e)}, 500
        sys.stderr.write("%s %s -> %s\n" % (self.path, json.dumps(req), json.dumps(out)))
        sys.stderr.flush()
        data = json.dumps(out).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
if os.path.exists(SOCK):
    os.unlink(SOCK)
Server(SOCK, Handler).serve_forever()
EOF
}

dw_stub_start() {
	local name=${1:-} i
	[[ "$name" =~ ^[a-z][a-z0-9]{0,15}$ ]] || { _dw_err "bad plugin name '$name'"; return 1; }
	command -v python3 >/dev/null || { _dw_err "python3 is missing (tests/install-deps.sh)"; return 1; }
	_dw_stub_py >"$DW_DIR/stub.py" || return 1
	rm -f "$DW_DIR/plugins/$name.sock"
	_dw_spawn "$DW_DIR/stub-$name.log" python3 "$DW_DIR/stub.py" "/run/docker/plugins/$name.sock" || return 1
	DW_STUB_PID=$_DW_PID
	for ((i = 0; i < 100; i++)); do
		[[ -S "$DW_DIR/plugins/$name.sock" ]] && return 0
		_dw_alive "$DW_STUB_PID" || break
		sleep 0.1
	done
	_dw_err "the stub plugin does not listen: $(tail -n 5 "$DW_DIR/stub-$name.log" 2>/dev/null)"
	return 1
}

dw_ctr_pid() {
	local pid
	pid=$(dw_docker inspect -f '{{.State.Pid}}' "$1") || return 1
	[[ "$pid" =~ ^[1-9][0-9]*$ ]] || { _dw_err "no pid for container $1: '$pid'"; return 1; }
	printf '%s\n' "$pid"
}

dw_nsenter() {
	local pid
	pid=$(dw_ctr_pid "$1") || return 1
	shift
	nsenter -t "$pid" -n -- "$@"
}

dw_ctr_eth0() {
	local a m
	a=$(dw_nsenter "$1" ip -4 -o addr show dev eth0 | awk '{print $4}') || return 1
	# Not /sys/class/net: the host's sysfs shows the host's links, whatever the netns.
	m=$(dw_nsenter "$1" ip -o link show dev eth0 | sed -n 's/.*link\/ether \([0-9a-f:]*\).*/\1/p') || return 1
	[[ -n "$a" && -n "$m" ]] || { _dw_err "no eth0 address in $1"; return 1; }
	printf '%s %s\n' "$a" "$m"
}

dw_server_start() {
	local ctr=$1 pid
	[[ "$2" =~ ^[0-9]{1,5}$ ]] || { _dw_err "bad port '$2'"; return 1; }
	pid=$(dw_ctr_pid "$ctr") || return 1
	shift
	_pw_lanserver "$pid" "$ctr" "$@" || return 1
	DW_SERVER_PID=$PW_SERVER_PID
}

dw_servers_stop() {
	pw_servers_stop
}

# The cgroup and mount-namespace listers and the bounded killer are podman-world.sh's, run on
# this world's cgroup parent, namespace and holder.
_dw_cgroup_dirs() {
	PW_CGROUP=$DW_CGROUP _pw_cgroup_dirs
}

_dw_cgroup_pids() {
	PW_CGROUP=$DW_CGROUP _pw_cgroup_pids
}

_dw_mntns_pids() {
	PW_MNTNS=$DW_MNTNS PW_HOLDER=$DW_HOLDER _pw_mntns_pids
}

dw_down() {
	local rc=0 d ids m
	[[ -n "$DW_DIR" ]] || return 0
	dw_servers_stop
	if _dw_alive "$DW_DOCKERD_PID"; then
		ids=$(DW_TIMEOUT=20 dw_docker ps -aq 2>/dev/null)
		# shellcheck disable=SC2086 # container IDs
		[[ -z "$ids" ]] || DW_TIMEOUT=60 dw_docker rm -f $ids >/dev/null 2>&1 || rc=1
	fi
	dw_driver_stop KILL || rc=1
	_dw_stop "$DW_STUB_PID" "the stub plugin" 5 || rc=1
	DW_STUB_PID=
	dw_dockerd_stop || rc=1
	_dw_stop "$DW_CONTAINERD_PID" containerd 10 || rc=1
	DW_CONTAINERD_PID=
	_pw_kill "docker world: container processes" _dw_cgroup_pids || rc=1
	_pw_kill "docker world: processes in the mount namespace" _dw_mntns_pids || rc=1
	if [[ -n "$DW_HOLDER" ]]; then
		kill -KILL "$DW_HOLDER" 2>/dev/null
		wait "$DW_HOLDER" 2>/dev/null
		DW_HOLDER=
	fi
	# Every mount was made in the private namespace, gone with its last process; one that
	# reached the host's namespace anyway (it never should) is unmounted here.
	while read -r m; do
		umount -l "$m" 2>/dev/null || { _dw_err "cannot unmount $m"; rc=1; }
	done < <(awk -v d="$DW_DIR/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo | sort -r)
	# Docker removes each container's cgroup; the parent is ours.
	for d in $(_dw_cgroup_dirs); do
		rmdir "$d" 2>/dev/null || { _dw_err "cannot remove cgroup $d"; rc=1; }
	done
	DW_DIR="" DW_SOCK=""
	return $rc
}
