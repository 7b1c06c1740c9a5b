# shellcheck shell=bash
# Real podman (Debian's 4.3, CNI backend, runc, cgroupfs) inside one of the world's nodes.
# Source after world.sh (tests/e2e/lib.sh sources that); it runs nothing by itself.
#
#   host netns        untouched
#   ${GLW}-NODE       podman, conmon and the CNI plugins podman execs: its eth0 (on the
#                     world's LAN bridge) is the macvlan master
#   mount namespace   private (a slave of the host's), held open by one process that lives in
#                     the node's netns: a sysfs of that netns on /sys (`ip netns exec` would
#                     remount /sys too, but for each command and without /sys/fs/cgroup), the
#                     host's cgroup mounts bound back, a tmpfs on /run (podman's netns files,
#                     /run/libpod) and on /dev/shm (podman's SHM locks); PW_DIR/varlib-cni on
#                     /var/lib/cni (libcni's result cache) and PW_DIR/varlib-containers on
#                     /var/lib/containers (the image library's blob cache): the host's stay
#                     empty directories, made when missing
#   PW_DIR            containers.conf, storage.conf, registries.conf, the CNI config dir
#                     (net.d), storage (graphroot, runroot), the image's root file system
#
# podman reads only PW_DIR's files (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF,
# CONTAINERS_REGISTRIES_CONF), never /etc/containers. Every container the helpers start is
# put under the cgroup parent /gl-podman-$GLW, so that pw_down can find and kill what is
# left of them by cgroup even when podman itself is stuck or gone.
#
# Functions (0 on success, non-zero with a message on stderr otherwise):
#   pw_up DIR NODE          write the configuration, start the holder of the mount namespace
#                           in ${GLW}-NODE, import the image $PW_IMAGE (busybox-static)
#   pw_down                 podman rm -f of every container (bounded), kill what is left in
#                           the cgroup parent and the mount namespace (by pid), remove the
#                           cgroup parent; idempotent; world_at_exit runs it
#   pw_podman ARGS...       run podman (timeout PW_TIMEOUT s, default 120) in the node's netns
#                           and the mount namespace
#   pw_run ARGS...          `podman run -d --init --cgroup-parent ...` ARGS (catatonit is the
#                           container's init: it passes podman stop's TERM on); prints the ID
#   pw_nsenter CTR CMD...   run CMD (a host binary) in the network namespace of container CTR
#   pw_netconf NAME JSON    write NAME.conflist into the CNI config dir
#   pw_ctr_pid CTR          print the pid of container CTR's first process
#   pw_server_start CTR PORT LOG [ARGS...]
#                           start lanserver (a host binary) in container CTR's network
#                           namespace, wait (bounded) until it listens; pid in PW_SERVER_PID
#   pw_servers_stop         stop every lanserver pw_server_start started
#
# Settings: PW_IMAGE (localhost/gl-busybox:latest), PW_TIMEOUT (120).

PW_DIR=
PW_NODE=
PW_HOLDER=
PW_MNTNS=
PW_IMAGE=${PW_IMAGE:-localhost/gl-busybox:latest}
PW_TIMEOUT=${PW_TIMEOUT:-120}
PW_CGROUP=
PW_SERVER_PID=
_PW_SERVERS=()
_PW_AT_EXIT=

_pw_err() {
	printf 'podman-world: %s\n' "$*" >&2
}

_pw_tools() {
	local t
	for t in podman runc conmon catatonit busybox nsenter unshare timeout; do
		command -v "$t" >/dev/null 2>&1 || {
			_pw_err "$t is missing (tests/install-deps.sh installs podman runc conmon catatonit busybox-static)"
			return 1
		}
	done
	[[ -x /usr/lib/cni/loopback ]] || { _pw_err "no /usr/lib/cni/loopback (containernetworking-plugins)"; return 1; }
}

_pw_write_conf() {
	local d=$PW_DIR
	mkdir -p "$d"/{net.d,storage,runroot,libpod,tmp,varlib-cni,varlib-containers,img/root} || return 1
	cat >"$d/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=1024:20000", "nproc=1024:1024"]
init_path = "$(command -v catatonit)"
log_driver = "k8s-file"

[network]
network_backend = "cni"
cni_plugin_dirs = ["$GL_BIN", "/usr/lib/cni"]
network_config_dir = "$d/net.d"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$d/libpod/events.log"
runtime = "runc"
tmp_dir = "$d/libpod/tmp"
static_dir = "$d/libpod/static"
volume_path = "$d/libpod/volumes"
image_copy_tmp_dir = "$d/tmp"
num_locks = 256
EOF
	cat >"$d/storage.conf" <<EOF
[storage]
driver = "vfs"
graphroot = "$d/storage"
runroot = "$d/runroot"
EOF
	printf 'unqualified-search-registries = []\n' >"$d/registries.conf"
}

# The environment podman runs with: the test's configuration files only.
_pw_env() {
	printf '%s\n' PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		"CONTAINERS_CONF=$PW_DIR/containers.conf" "CONTAINERS_STORAGE_CONF=$PW_DIR/storage.conf" \
		"CONTAINERS_REGISTRIES_CONF=$PW_DIR/registries.conf" "TMPDIR=$PW_DIR/tmp"
	local v
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[[ -n "${!v:-}" ]] && printf '%s=%s\n' "$v" "${!v}"
	done
	return 0
}

# The holder: nsenter (net) -> unshare (mount) -> sh -> exec sleep, one pid all along.
_pw_start_holder() {
	local ns i
	ns=$(world_ns "$PW_NODE") || return 1
	rm -f "$PW_DIR/ready"
	# Paths podman does not let us change: libcni's result cache (/var/lib/cni) and the image
	# library's blob cache (/var/lib/containers/cache). Each is an empty directory on the host
	# (made when missing, as podman would make it), with a private one bound on it.
	mkdir -p /var/lib/cni /var/lib/containers || return 1
	# shellcheck disable=SC2016 # the inner shell expands PW_DIR
	PW_DIR=$PW_DIR nsenter --net="/run/netns/$ns" unshare --mount --propagation slave -- /bin/sh -c '
		set -e
		mkdir -p "$PW_DIR/cg"
		mount --rbind /sys/fs/cgroup "$PW_DIR/cg"
		mount -t sysfs sysfs /sys
		mount --rbind "$PW_DIR/cg" /sys/fs/cgroup
		umount -l "$PW_DIR/cg"
		mount -t tmpfs -o mode=755 gl-podman-run /run
		mkdir -p /run/netns
		mount -t tmpfs -o mode=1777 gl-podman-shm /dev/shm
		mount --bind "$PW_DIR/varlib-cni" /var/lib/cni
		mount --bind "$PW_DIR/varlib-containers" /var/lib/containers
		: >"$PW_DIR/ready"
		exec sleep 86400
	' </dev/null >"$PW_DIR/holder.log" 2>&1 &
	PW_HOLDER=$!
	for ((i = 0; i < 300; i++)); do
		[[ -e "$PW_DIR/ready" ]] && break
		proc_gone "$PW_HOLDER" && break
		sleep 0.1
	done
	if [[ ! -e "$PW_DIR/ready" ]]; then
		_pw_err "the mount namespace did not come up: $(cat "$PW_DIR/holder.log" 2>/dev/null)"
		return 1
	fi
	# Give sleep a moment to be exec'd: until then the pid is still the shell's.
	for ((i = 0; i < 50; i++)); do
		[[ "$(cat "/proc/$PW_HOLDER/comm" 2>/dev/null)" == sleep ]] && break
		sleep 0.1
	done
	PW_MNTNS=$(readlink "/proc/$PW_HOLDER/ns/mnt") || return 1
	[[ "$PW_MNTNS" != "$(readlink /proc/self/ns/mnt)" ]] || { _pw_err "no private mount namespace"; return 1; }
}

pw_podman() {
	local -a envv
	mapfile -t envv < <(_pw_env)
	if [[ -z "$PW_HOLDER" ]] || proc_gone "$PW_HOLDER"; then
		_pw_err "the podman world is not up"
		return 1
	fi
	timeout -k 10 "$PW_TIMEOUT" nsenter -t "$PW_HOLDER" -m -n -- env -i "${envv[@]}" podman "$@"
}

pw_run() {
	pw_podman run -d --init --cgroup-parent "$PW_CGROUP" "$@"
}

pw_netconf() {
	printf '%s\n' "$2" >"$PW_DIR/net.d/$1.conflist"
}

pw_ctr_pid() {
	local pid
	pid=$(pw_podman inspect -f '{{.State.Pid}}' "$1") || return 1
	[[ "$pid" =~ ^[1-9][0-9]*$ ]] || { _pw_err "no pid for container $1: '$pid'"; return 1; }
	printf '%s\n' "$pid"
}

pw_nsenter() {
	local pid
	pid=$(pw_ctr_pid "$1") || return 1
	shift
	nsenter -t "$pid" -n -- "$@"
}

pw_server_start() {
	local ctr=$1 pid
	[[ "$2" =~ ^[0-9]{1,5}$ ]] || { _pw_err "bad port '$2'"; return 1; }
	pid=$(pw_ctr_pid "$ctr") || return 1
	shift
	_pw_lanserver "$pid" "$ctr" "$@"
}

# _pw_lanserver PID CTR PORT LOG [ARGS...]: lanserver in the netns of process PID (container
# CTR, for messages), waited for (bounded) until it listens; the docker world's too.
_pw_lanserver() {
	local pid=$1 ctr=$2 port=$3 log=$4 i
	shift 4
	nsenter -t "$pid" -n -- "$GL_BIN/lanserver" --port "$port" "$@" </dev/null >"$log" 2>&1 &
	PW_SERVER_PID=$!
	_PW_SERVERS+=("$PW_SERVER_PID")
	for ((i = 0; i < 200; i++)); do
		[[ -n "$(nsenter -t "$pid" -n -- ss -Huln "sport = :$port" 2>/dev/null)" ]] && return 0
		proc_gone "$PW_SERVER_PID" && break
		sleep 0.1
	done
	_pw_err "lanserver in $ctr does not listen on $port; its log: $(cat "$log")"
	return 1
}

pw_servers_stop() {
	local p
	for p in "${_PW_SERVERS[@]}"; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	_PW_SERVERS=()
	return 0
}

_pw_image() {
	local r=$PW_DIR/img/root a bb
	bb=$(command -v busybox)
	mkdir -p "$r"/{bin,etc,tmp,proc,sys,dev,root} || return 1
	cp "$bb" "$r/bin/busybox" || return 1
	for a in $("$r/bin/busybox" --list); do
		[[ -e "$r/bin/$a" ]] || ln -s busybox "$r/bin/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\n' >"$r/etc/group"
	tar -C "$r" -cf "$PW_DIR/img/root.tar" . || return 1
	pw_podman import -q -c 'CMD ["/bin/sh"]' "$PW_DIR/img/root.tar" "$PW_IMAGE" >/dev/null
}

pw_up() {
	PW_DIR=$1 PW_NODE=$2
	PW_CGROUP=/gl-podman-$GLW
	_pw_tools || return 1
	world_ns "$PW_NODE" >/dev/null || return 1
	if [[ -z "$_PW_AT_EXIT" ]]; then
		# First of the exit hooks: podman's state lives in files the others remove (T_TMP).
		world_at_exit :
		_GL_WORLD_AT_EXIT=(pw_down "${_GL_WORLD_AT_EXIT[@]:0:${#_GL_WORLD_AT_EXIT[@]}-1}")
		_PW_AT_EXIT=1
	fi
	_pw_write_conf || { _pw_err "cannot write the configuration under $PW_DIR"; return 1; }
	_pw_start_holder || return 1
	_pw_image || { _pw_err "podman import failed"; return 1; }
}

# The cgroup parent's directories in every hierarchy (cgroup v1 or v2), deepest first.
_pw_cgroup_dirs() {
	local top
	[[ -n "$PW_CGROUP" ]] || return 0
	while read -r top; do
		find "$top" -depth -type d 2>/dev/null
	done < <(find /sys/fs/cgroup -maxdepth 2 -type d -name "${PW_CGROUP#/}" 2>/dev/null)
	return 0
}

# The pids in the cgroup parent, any hierarchy.
_pw_cgroup_pids() {
	local d
	for d in $(_pw_cgroup_dirs); do
		cat "$d/cgroup.procs" 2>/dev/null
	done | sort -u
	return 0
}

# The pids in the mount namespace, but the holder.
_pw_mntns_pids() {
	local p
	[[ -n "$PW_MNTNS" ]] || return 0
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[[ "$p" != "$PW_HOLDER" && "$(readlink "/proc/$p/ns/mnt" 2>/dev/null)" == "$PW_MNTNS" ]] && printf '%s\n' "$p"
	done
	return 0
}

# _pw_kill WHAT LISTER: TERM what LISTER prints, 3 s of grace, then KILL; bounded.
_pw_kill() {
	local what=$1 lister=$2 pids i
	for ((i = 0; i < 60; i++)); do
		pids=$("$lister")
		[[ -z "$pids" ]] && return 0
		# shellcheck disable=SC2086
		if ((i < 30)); then kill -TERM $pids 2>/dev/null; else kill -KILL $pids 2>/dev/null; fi
		sleep 0.1
	done
	_pw_err "$what still running: $("$lister" | tr '\n' ' ')"
	return 1
}

pw_down() {
	local rc=0 d
	[[ -n "$PW_DIR" ]] || return 0
	pw_servers_stop
	if [[ -n "$PW_HOLDER" ]] && ! proc_gone "$PW_HOLDER"; then
		PW_TIMEOUT=60 pw_podman rm -a -f -t 0 >/dev/null 2>&1 || rc=1
	fi
	_pw_kill "container processes" _pw_cgroup_pids || rc=1
	_pw_kill "processes in the mount namespace" _pw_mntns_pids || rc=1
	if [[ -n "$PW_HOLDER" ]]; then
		kill -KILL "$PW_HOLDER" 2>/dev/null
		wait "$PW_HOLDER" 2>/dev/null
		PW_HOLDER=
	fi
	# podman removes each container's cgroup; the parent is ours.
	for d in $(_pw_cgroup_dirs); do
		rmdir "$d" 2>/dev/null || { _pw_err "cannot remove cgroup $d"; rc=1; }
	done
	PW_DIR=
	return $rc
}
