#!/bin/sh
# gamelan-cni installer: the entrypoint of the gamelan-cni DaemonSet's container
# (as multus' and whereabouts' install scripts). On the node it
#   1. copies the CNI binaries (gamelan-macvlan, gamelan-ipam, gamelan-snat) into
#      the host's /opt/cni/bin, each under a temporary name then renamed, so a
#      runtime executing the plugin at that moment sees the old or the new
#      binary, never half of one;
#   2. writes /etc/cni/net.d/gamelan.d/gamelan.kubeconfig (mode 0600) for
#      gamelan-ipam's Kubernetes store: server from KUBERNETES_SERVICE_HOST/PORT,
#      the service account's CA as certificate-authority-data, and its token as a
#      tokenFile (/etc/cni/net.d/gamelan.d/token, 0600) or inline;
#   3. then (unless SLEEP=false) stays and re-checks the token and CA every
#      GAMELAN_REFRESH_SECONDS: kubelet rotates the projected token (about every
#      hour), and the plugin, which runs on the host, can only see the copy.
# Every file is written to a temporary name in the same directory and renamed:
# the plugin never reads a half-written kubeconfig or token.
#
# Environment (defaults are the DaemonSet's mounts):
#   GAMELAN_SRC_DIR       where the image keeps the binaries  (/opt/gamelan/bin)
#   GAMELAN_BINARIES      which to install  ("gamelan-macvlan gamelan-ipam gamelan-snat")
#   CNI_BIN_DIR           the host's /opt/cni/bin, as mounted  (/host/opt/cni/bin)
#   CNI_CONF_DIR          the host's /etc/cni/net.d, as mounted  (/host/etc/cni/net.d)
#   HOST_CNI_CONF_DIR     the same directory as the host sees it  (/etc/cni/net.d)
#   GAMELAN_SA_DIR        the service account files  (/var/run/secrets/kubernetes.io/serviceaccount)
#   POD_NAMESPACE         the kubeconfig context's namespace  (the service account's)
#   GAMELAN_TOKEN_MODE    file (tokenFile, default) | inline (token: in the kubeconfig)
#   SKIP_TLS_VERIFY       true: insecure-skip-tls-verify instead of the CA (never in production)
#   KUBERNETES_SERVICE_PROTOCOL  https
#   GAMELAN_REFRESH_SECONDS      60
#   SLEEP                 false: install once and exit
set -eu

SRC_DIR=${GAMELAN_SRC_DIR:-/opt/gamelan/bin}
BINARIES=${GAMELAN_BINARIES:-gamelan-macvlan gamelan-ipam gamelan-snat}
CNI_BIN_DIR=${CNI_BIN_DIR:-/host/opt/cni/bin}
CNI_CONF_DIR=${CNI_CONF_DIR:-/host/etc/cni/net.d}
HOST_CNI_CONF_DIR=${HOST_CNI_CONF_DIR:-/etc/cni/net.d}
SA_DIR=${GAMELAN_SA_DIR:-/var/run/secrets/kubernetes.io/serviceaccount}
TOKEN_MODE=${GAMELAN_TOKEN_MODE:-file}
SKIP_TLS_VERIFY=${SKIP_TLS_VERIFY:-false}
PROTOCOL=${KUBERNETES_SERVICE_PROTOCOL:-https}
REFRESH=${GAMELAN_REFRESH_SECONDS:-60}
SLEEP=${SLEEP:-true}

CONF_SUBDIR=gamelan.d
KUBECONFIG_NAME=gamelan.kubeconfig
TOKEN_NAME=token
TMP_FILES=

log() {
	printf '%s gamelan-install-cni: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

cleanup() {
	# A temporary file left by an interrupted copy would never be renamed.
	for f in $TMP_FILES; do
		rm -f "$f"
	done
}
trap cleanup EXIT
trap 'exit 0' TERM INT

# Copy SRC to DEST (a file in an existing directory) with MODE, atomically.
install_file() {
	src=$1 dest=$2 mode=$3
	tmp="$(dirname "$dest")/.$(basename "$dest").gamelan-tmp.$$"
	TMP_FILES="$TMP_FILES $tmp"
	rm -f "$tmp"
	(umask 077 && cp "$src" "$tmp") || die "cannot copy $src to $tmp"
	chmod "$mode" "$tmp" || die "cannot chmod $tmp"
	mv -f "$tmp" "$dest" || die "cannot rename $tmp to $dest"
}

# Write stdin to DEST with MODE, atomically: 0 when written, 1 when DEST already
# held it. Every step is checked by hand: the refresh loop runs this where
# "set -e" does not apply.
write_file() {
	dest=$1 mode=$2
	tmp="$(dirname "$dest")/.$(basename "$dest").gamelan-tmp.$$"
	TMP_FILES="$TMP_FILES $tmp"
	rm -f "$tmp"
	# umask first: the token is never readable by others, not even for a moment.
	(umask 077 && cat >"$tmp") || die "cannot write $tmp"
	if [ -f "$dest" ] && cmp -s "$tmp" "$dest" 2>/dev/null; then
		rm -f "$tmp"
		chmod "$mode" "$dest" || die "cannot chmod $dest"
		return 1
	fi
	chmod "$mode" "$tmp" || die "cannot chmod $tmp"
	mv -f "$tmp" "$dest" || die "cannot rename $tmp to $dest"
	return 0
}

install_binaries() {
	[ -d "$CNI_BIN_DIR" ] || die "no directory $CNI_BIN_DIR (mount the host's /opt/cni/bin there)"
	for b in $BINARIES; do
		case "$b" in
		*/* | .* | '') die "bad binary name '$b'" ;;
		esac
		if [ ! -f "$SRC_DIR/$b" ] || [ ! -x "$SRC_DIR/$b" ]; then
			die "no executable $SRC_DIR/$b"
		fi
		install_file "$SRC_DIR/$b" "$CNI_BIN_DIR/$b" 0755
		log "installed $CNI_BIN_DIR/$b"
	done
}

server_url() {
	host=${KUBERNETES_SERVICE_HOST:-}
	port=${KUBERNETES_SERVICE_PORT:-}
	[ -n "$host" ] || die "KUBERNETES_SERVICE_HOST is not set"
	[ -n "$port" ] || die "KUBERNETES_SERVICE_PORT is not set"
	# These go into a YAML file: only what a host name, an address or a port holds.
	case "$host" in
	*[!0-9A-Za-z.:-]*) die "KUBERNETES_SERVICE_HOST '$host' is not a host name or address" ;;
	esac
	case "$port" in
	*[!0-9]*) die "KUBERNETES_SERVICE_PORT '$port' is not a port" ;;
	esac
	case "$PROTOCOL" in
	http | https) ;;
	*) die "KUBERNETES_SERVICE_PROTOCOL '$PROTOCOL' is not http or https" ;;
	esac
	case "$host" in
	*:*) host="[$host]" ;; # IPv6: the URL wraps it
	esac
	printf '%s://%s:%s\n' "$PROTOCOL" "$host" "$port"
}

read_token() {
	tok=$(cat "$SA_DIR/token") || die "cannot read $SA_DIR/token"
	[ -n "$tok" ] || die "$SA_DIR/token is empty"
	# A JWT: base64url segments and dots. Anything else is not written anywhere.
	case "$tok" in
	*[!A-Za-z0-9._-]*) die "$SA_DIR/token does not look like a service account token" ;;
	esac
	printf '%s' "$tok"
}

namespace() {
	ns=${POD_NAMESPACE:-}
	if [ -z "$ns" ] && [ -r "$SA_DIR/namespace" ]; then
		ns=$(cat "$SA_DIR/namespace")
	fi
	ns=${ns:-gamelan-system}
	case "$ns" in
	*[!a-z0-9-]* | -* | *-) die "namespace '$ns' is not a DNS label" ;;
	esac
	printf '%s' "$ns"
}

kubeconfig() {
	server=$(server_url) || exit 1
	ns=$(namespace) || exit 1
	if [ "$SKIP_TLS_VERIFY" = true ]; then
		tls="insecure-skip-tls-verify: true"
	elif [ -s "$SA_DIR/ca.crt" ]; then
		ca=$(base64 <"$SA_DIR/ca.crt" | tr -d '\n')
		[ -n "$ca" ] || die "cannot encode $SA_DIR/ca.crt"
		tls="certificate-authority-data: $ca"
	else
		die "no CA at $SA_DIR/ca.crt (SKIP_TLS_VERIFY=true to go without, never in production)"
	fi
	case "$TOKEN_MODE" in
	file) cred="tokenFile: $HOST_CNI_CONF_DIR/$CONF_SUBDIR/$TOKEN_NAME" ;;
	inline)
		tok=$(read_token) || exit 1
		cred="token: \"$tok\""
		;;
	*) die "GAMELAN_TOKEN_MODE '$TOKEN_MODE' is not file or inline" ;;
	esac
	cat <<KUBECONFIG
# Written by the gamelan-cni DaemonSet (install-cni.sh) for gamelan-ipam's
# Kubernetes store; rewritten when the service account's token or CA changes.
apiVersion: v1
kind: Config
clusters:
  - name: gamelan
    cluster:
      server: $server
      $tls
users:
  - name: gamelan-cni
    user:
      $cred
contexts:
  - name: gamelan
    context:
      cluster: gamelan
      user: gamelan-cni
      namespace: $ns
current-context: gamelan
KUBECONFIG
}

# Bring the token copy and the kubeconfig up to date; log what changed.
sync_credentials() {
	dir=$CNI_CONF_DIR/$CONF_SUBDIR
	mkdir -p "$dir" || die "cannot create $dir"
	chmod 0700 "$dir" || die "cannot chmod $dir"
	if [ "$TOKEN_MODE" = file ]; then
		tok=$(read_token) || exit 1
		if printf '%s\n' "$tok" | write_file "$dir/$TOKEN_NAME" 0600; then
			log "wrote $dir/$TOKEN_NAME"
		fi
	else
		rm -f "$dir/$TOKEN_NAME"
	fi
	conf=$(kubeconfig) || exit 1
	if printf '%s\n' "$conf" | write_file "$dir/$KUBECONFIG_NAME" 0600; then
		log "wrote $dir/$KUBECONFIG_NAME"
	fi
}

case "$REFRESH" in
'' | *[!0-9]* | 0) die "GAMELAN_REFRESH_SECONDS '$REFRESH' is not a positive number" ;;
esac

install_binaries
if [ -f "$SA_DIR/token" ]; then
	sync_credentials
else
	# Without a service account (automountServiceAccountToken: false), only the
	# binaries: fine for a SQLite store, and the Kubernetes store has no kubeconfig.
	log "warning: no $SA_DIR/token: not writing a kubeconfig"
fi
log "done"

[ "$SLEEP" = false ] && exit 0
while :; do
	# In the background so that TERM ends the wait at once.
	sleep "$REFRESH" &
	wait $! || true
	if [ -f "$SA_DIR/token" ]; then
		# A failure here (a token mid-rotation) is retried at the next round.
		(trap cleanup EXIT && sync_credentials) || log "refresh failed; retrying in ${REFRESH}s"
	fi
done
