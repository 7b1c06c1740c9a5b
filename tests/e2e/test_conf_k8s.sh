#!/usr/bin/env bash
# conf/k8s, the cluster install, as its consumers take it:
#  - every YAML parses, and has the kinds and fields the code expects: the CRD is
#    the IPReservation contract lib/store_kube.c writes (group, names, spec fields
#    and types, printer columns); the Role covers the store's verbs and is bound to
#    the DaemonSet's ServiceAccount; the DaemonSet mounts the host's /opt/cni/bin
#    and /etc/cni/net.d where install-cni.sh writes; the NADs are the seed's
#    examples with only the types and the Kubernetes store block changed; the
#    example IPReservation is named and labelled as the store derives it;
#  - install-cni.sh installs the binaries atomically and writes a kubeconfig
#    (0600) that kubectl can use, and refreshes the token when it rotates;
#  - each NAD's config goes through gamelan-macvlan/gamelan-ipam: ADD, CHECK,
#    DEL in the netns world (store swapped for a temporary SQLite file: the
#    Kubernetes store needs an API server), and, when the fake API server
#    (netns-harness/fakeapi/fakeapi.py) and kubectl exist, against the fake with the
#    kubeconfig install-cni.sh wrote, the reservation then seen with kubectl.
# Python: /usr/bin/python3 with Debian's python3-yaml (a pyenv python3 lacks it).
. "$(dirname "$0")/lib.sh"

K8S=$GL_TOP/conf/k8s
PY=/usr/bin/python3
CHECK=$T_TMP/check.py
FAKE=$FAKEAPI

cat >"$CHECK" <<'PYEOF'
# Checks of conf/k8s: python3 check.py WHAT DIR [ARGS]; prints why and exits 1 on failure.
import base64, glob, json, os, sys
import yaml

what, d = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
fails = []

def need(cond, msg):
    if not cond:
        fails.append(msg)
    return cond

def docs(name):
    with open(os.path.join(d, name)) as f:
        return [x for x in yaml.safe_load_all(f) if x is not None]

def all_objs():
    out = []
    for p in sorted(glob.glob(os.path.join(d, "*.yaml"))):
        if os.path.basename(p) == "kustomization.yaml":
            continue
        for o in docs(os.path.basename(p)):
            out.append((os.path.basename(p), o))
    return out

def one(kind, name=None):
    got = [o for _, o in all_objs() if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    need(len(got) == 1, "expected one %s %s, found %d" % (kind, name or "", len(got)))
    return got[0] if got else {}

# The IPReservation contract (.notes/CONTEXT.md), which lib/store_kube.c writes.
SPEC = {"network": "string", "pool": "integer", "address": "string", "identity": "string",
        "ifname": "string", "containerID": "string", "state": "string", "pinned": "boolean",
        "expires": "string", "node": "string", "updated": "string",
        "netns": "string", "pod": "string", "podUID": "string"}
COLUMNS = {"Address": ".spec.address", "Identity": ".spec.identity", "State": ".spec.state",
           "Pinned": ".spec.pinned", "Node": ".spec.node", "Age": ".metadata.creationTimestamp"}
STORE = {"type": "kubernetes", "kubeconfig": "/etc/cni/net.d/gamelan.d/gamelan.kubeconfig",
         "namespace": "gamelan-system"}
VERBS = {"get", "list", "watch", "create", "update", "patch", "delete"}
BINARIES = {"gamelan-macvlan", "gamelan-ipam", "gamelan-snat"}

def hash64(s):
    m = (1 << 64) - 1
    h = 0xcbf29ce484222325
    for c in s.encode() + b"\0":
        h = ((h ^ c) * 0x100000001b3) & m
    h ^= h >> 33; h = (h * 0xff51afd7ed558ccd) & m
    h ^= h >> 33; h = (h * 0xc4ceb9fe1a85ec53) & m
    h ^= h >> 33
    return h

def net_label(net):
    out, changed = "", False
    for ch in net:
        if len(out) == 40:
            changed = True
            break
        c = ch.lower()
        if not (c.isascii() and (c.isalnum() or c == "-")):
            c = "-"
        changed = changed or c != ch
        out += c
    if changed:
        out += "-%08x" % (hash64(net) & 0xffffffff)
    return out

def structural(schema, path):
    # Every node has a type (or x-kubernetes-preserve-unknown-fields); properties typed.
    if not need("type" in schema or schema.get("x-kubernetes-preserve-unknown-fields"),
                "schema %s has no type (not structural)" % path):
        return
    for k, v in (schema.get("properties") or {}).items():
        structural(v, path + "." + k)
    if "items" in schema:
        structural(schema["items"], path + "[]")

def validate(schema, v, path):
    t = schema.get("type")
    pyt = {"object": dict, "string": str, "integer": int, "boolean": bool, "array": list}.get(t)
    if t == "integer" and isinstance(v, bool):
        return need(False, "%s: %r is not an integer" % (path, v))
    if pyt and not need(isinstance(v, pyt), "%s: %r is not a %s" % (path, v, t)):
        return
    if "enum" in schema:
        need(v in schema["enum"], "%s: %r not in %s" % (path, v, schema["enum"]))
    if t == "object":
        for r in schema.get("required", []):
            need(r in v, "%s: required %s missing" % (path, r))
        props = schema.get("properties")
        for k, x in v.items():
            if props is not None and k in props:
                validate(props[k], x, path + "." + k)
            elif props is not None and path != "":
                need(False, "%s: unknown field %s (the API server would prune it)" % (path, k))
    if t == "string":
        if "maxLength" in schema:
            need(len(v) <= schema["maxLength"], "%s: longer than %d" % (path, schema["maxLength"]))
        if "minLength" in schema:
            need(len(v) >= schema["minLength"], "%s: shorter than %d" % (path, schema["minLength"]))

def crd_version():
    crd = one("CustomResourceDefinition")
    vs = [v for v in crd.get("spec", {}).get("versions", []) if v.get("name") == "v1alpha1"]
    need(len(vs) == 1, "no version v1alpha1")
    return crd, (vs[0] if vs else {})

def nad_conf(o):
    return json.loads(o["spec"]["config"])

if what == "parse":
    n = 0
    for p in sorted(glob.glob(os.path.join(d, "**", "*.yaml"), recursive=True)):
        try:
            ds = [x for x in yaml.safe_load_all(open(p)) if x is not None]
        except yaml.YAMLError as e:
            need(False, "%s: %s" % (p, e))
            continue
        need(ds, "%s: no document" % p)
        for o in ds:
            n += 1
            if not need(isinstance(o, dict), "%s: a document is not a mapping" % p):
                continue
            need("apiVersion" in o and "kind" in o, "%s: a document without apiVersion/kind" % p)
            if o.get("kind") != "Kustomization":
                need(o.get("metadata", {}).get("name"), "%s: %s without metadata.name" % (p, o.get("kind")))
    need(n >= 8, "only %d documents" % n)
    print(n)

elif what == "crd":
    crd, v = crd_version()
    s = crd.get("spec", {})
    need(crd.get("apiVersion") == "apiextensions.k8s.io/v1", "apiVersion %s" % crd.get("apiVersion"))
    need(crd["metadata"]["name"] == "ipreservations.gamelan.dev", "name %s" % crd["metadata"]["name"])
    need(s.get("group") == "gamelan.dev", "group %s" % s.get("group"))
    need(s.get("scope") == "Namespaced", "scope %s" % s.get("scope"))
    nm = s.get("names", {})
    for k, want in (("kind", "IPReservation"), ("plural", "ipreservations"), ("singular", "ipreservation")):
        need(nm.get(k) == want, "names.%s %s, want %s" % (k, nm.get(k), want))
    need("ipr" in (nm.get("shortNames") or []), "shortNames lacks ipr")
    need(v.get("served") is True and v.get("storage") is True, "v1alpha1 not served+storage")
    need(sum(1 for x in s.get("versions", []) if x.get("storage")) == 1, "not exactly one storage version")
    schema = v.get("schema", {}).get("openAPIV3Schema", {})
    structural(schema, "")
    spec = schema.get("properties", {}).get("spec", {})
    props = spec.get("properties", {})
    need(set(props) == set(SPEC), "spec fields %s, contract %s" % (sorted(props), sorted(SPEC)))
    for k, t in SPEC.items():
        need(props.get(k, {}).get("type") == t, "spec.%s type %s, want %s" % (k, props.get(k, {}).get("type"), t))
    need(props.get("state", {}).get("enum") == ["Bound", "Held", "Conflict", "Released"], "state enum %s" % props.get("state", {}).get("enum"))
    for k in ("network", "address", "state"):
        need(k in spec.get("required", []), "spec.%s not required" % k)
    cols = {c["name"]: c for c in v.get("additionalPrinterColumns", [])}
    for name, jp in COLUMNS.items():
        c = cols.get(name)
        if need(c, "no printer column %s" % name):
            need(c.get("jsonPath") == jp, "column %s jsonPath %s, want %s" % (name, c.get("jsonPath"), jp))
            need(c.get("priority", 0) == 0, "column %s is hidden (priority %s)" % (name, c.get("priority")))
    need(cols.get("Age", {}).get("type") == "date", "Age is not a date column")
    need(cols.get("Pinned", {}).get("type") == "boolean", "Pinned is not a boolean column")
    order = [c["name"] for c in v.get("additionalPrinterColumns", []) if c.get("priority", 0) == 0]
    need(order == list(COLUMNS), "column order %s" % order)

elif what == "rbac":
    ns = one("Namespace", "gamelan-system")
    need(ns.get("metadata", {}).get("labels", {}).get("pod-security.kubernetes.io/enforce") == "privileged",
         "namespace gamelan-system does not allow the DaemonSet's hostPath/hostNetwork (pod-security)")
    sa = one("ServiceAccount", "gamelan-cni")
    need(sa.get("metadata", {}).get("namespace") == "gamelan-system", "ServiceAccount not in gamelan-system")
    role = one("Role", "gamelan-cni")
    need(role.get("metadata", {}).get("namespace") == "gamelan-system", "Role not in gamelan-system")
    covered = set()
    for r in role.get("rules", []):
        if "gamelan.dev" in r.get("apiGroups", []) and "ipreservations" in r.get("resources", []):
            covered |= set(r.get("verbs", []))
        need("*" not in r.get("verbs", []) and "*" not in r.get("resources", []), "a wildcard rule: %s" % r)
    need(VERBS <= covered, "ipreservations verbs missing: %s" % sorted(VERBS - covered))
    rb = one("RoleBinding", "gamelan-cni")
    need(rb.get("metadata", {}).get("namespace") == "gamelan-system", "RoleBinding not in gamelan-system")
    need(rb.get("roleRef") == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gamelan-cni"},
         "roleRef %s" % rb.get("roleRef"))
    need({"kind": "ServiceAccount", "name": "gamelan-cni", "namespace": "gamelan-system"} in rb.get("subjects", []),
         "RoleBinding does not bind the ServiceAccount gamelan-cni")
    # Cluster-wide: only "get pods" (the holder check of an identity's ADD).
    for _, o in all_objs():
        if o.get("kind") == "ClusterRole":
            need(o.get("rules") == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
                 "cluster-wide rules beyond get pods: %s" % o.get("rules"))
        if o.get("kind") == "ClusterRoleBinding":
            need(o.get("subjects") == [{"kind": "ServiceAccount", "name": "gamelan-cni", "namespace": "gamelan-system"}],
                 "ClusterRoleBinding subjects %s" % o.get("subjects"))

elif what == "daemonset":
    ds = one("DaemonSet", "gamelan-cni")
    need(ds.get("apiVersion") == "apps/v1", "apiVersion %s" % ds.get("apiVersion"))
    need(ds["metadata"].get("namespace") == "gamelan-system", "not in gamelan-system")
    sel = ds["spec"]["selector"]["matchLabels"]
    tpl = ds["spec"]["template"]
    need(all(tpl["metadata"]["labels"].get(k) == v for k, v in sel.items()), "selector does not match the template's labels")
    ps = tpl["spec"]
    rb = one("RoleBinding", "gamelan-cni")
    bound = [s["name"] for s in rb.get("subjects", []) if s.get("kind") == "ServiceAccount" and s.get("namespace") == "gamelan-system"]
    need(ps.get("serviceAccountName") in bound, "serviceAccountName %s is not bound by the RoleBinding" % ps.get("serviceAccountName"))
    need(ps.get("automountServiceAccountToken", True) is True, "no service account token mounted")
    need(ps.get("hostNetwork") is True, "not hostNetwork")
    need(ps.get("priorityClassName") == "system-node-critical", "priorityClassName %s" % ps.get("priorityClassName"))
    need({"operator": "Exists"} in ps.get("tolerations", []), "does not tolerate every taint")
    vols = {v["name"]: v.get("hostPath", {}).get("path") for v in ps.get("volumes", [])}
    need("/opt/cni/bin" in vols.values() and "/etc/cni/net.d" in vols.values(), "hostPath volumes %s" % vols)
    cs = ps.get("containers", []) + ps.get("initContainers", [])
    need(cs, "no container")
    mounts = {}
    for c in cs:
        need(c.get("image", "").startswith("ghcr.io/gamelan/gamelan:"), "image %s" % c.get("image"))
        need(c.get("resources", {}).get("requests"), "container %s has no resource requests" % c.get("name"))
        need(c.get("securityContext", {}).get("privileged") is not True, "container %s is privileged" % c.get("name"))
        for m in c.get("volumeMounts", []):
            mounts[vols.get(m["name"])] = m["mountPath"]
    need("/opt/cni/bin" in mounts and "/etc/cni/net.d" in mounts, "mounts %s" % mounts)
    main = ps.get("containers", [{}])[0]
    need(any("install-cni.sh" in x for x in main.get("command", []) + main.get("args", [])), "does not run install-cni.sh")
    env = {e["name"]: e.get("value") for e in main.get("env", [])}
    need(env.get("CNI_BIN_DIR") == mounts.get("/opt/cni/bin"), "CNI_BIN_DIR %s, mounted at %s" % (env.get("CNI_BIN_DIR"), mounts.get("/opt/cni/bin")))
    need(env.get("CNI_CONF_DIR") == mounts.get("/etc/cni/net.d"), "CNI_CONF_DIR %s, mounted at %s" % (env.get("CNI_CONF_DIR"), mounts.get("/etc/cni/net.d")))
    need(env.get("HOST_CNI_CONF_DIR") == "/etc/cni/net.d", "HOST_CNI_CONF_DIR %s" % env.get("HOST_CNI_CONF_DIR"))
    need(STORE["kubeconfig"] == env.get("HOST_CNI_CONF_DIR", "") + "/gamelan.d/gamelan.kubeconfig",
         "the NADs' kubeconfig is not where the DaemonSet writes it")

elif what == "nad":
    # args: the single-host examples (conf/nad-*.yaml) the cluster ones must equal but for the store.
    seeds = {}
    for p in args:
        for o in yaml.safe_load_all(open(p)):
            if o:
                seeds[o["metadata"]["name"]] = nad_conf(o)
    nads = [(f, o) for f, o in all_objs() if o.get("kind") == "NetworkAttachmentDefinition"]
    need(len(nads) >= 2, "only %d NetworkAttachmentDefinitions" % len(nads))
    for f, o in nads:
        need(o.get("apiVersion") == "k8s.cni.cncf.io/v1", "%s: apiVersion %s" % (f, o.get("apiVersion")))
        try:
            c = nad_conf(o)
        except (KeyError, ValueError) as e:
            need(False, "%s: spec.config is not JSON: %s" % (f, e))
            continue
        need(c.get("type") in BINARIES, "%s: type %s" % (f, c.get("type")))
        # multus passes the annotation's ips/mac only to a config that declares them.
        need(c.get("capabilities") == {"ips": True, "mac": True}, "%s: capabilities %s" % (f, c.get("capabilities")))
        ipam = c.get("ipam", {})
        need(ipam.get("type") in BINARIES, "%s: ipam.type %s" % (f, ipam.get("type")))
        need(ipam.get("store") == STORE, "%s: ipam.store %s" % (f, ipam.get("store")))
        seed = seeds.get(o["metadata"]["name"])
        if need(seed is not None, "%s: no single-host example named %s" % (f, o["metadata"]["name"])):
            mine = json.loads(json.dumps(c))
            del mine["ipam"]["store"]
            mine["ipam"]["type"] = seed["ipam"]["type"]
            need(mine == seed, "%s: differs from the seed's example by more than the store and types: %s vs %s" % (f, mine, seed))

elif what == "nadconf":
    # Print the config multus would pass for NAD file args[0] (name injected).
    o = docs(args[0])[0]
    c = nad_conf(o)
    c.setdefault("name", o["metadata"]["name"])
    print(json.dumps(c))

elif what == "example":
    crd, v = crd_version()
    schema = v.get("schema", {}).get("openAPIV3Schema", {})
    exs = [(f, o) for f, o in all_objs() if o.get("kind") == "IPReservation"]
    need(exs, "no example IPReservation")
    for f, o in exs:
        need(o.get("apiVersion") == "gamelan.dev/v1alpha1", "%s: apiVersion %s" % (f, o.get("apiVersion")))
        validate(schema, o, "")
        # Released is only read, for objects older versions wrote: examples say Held.
        need(o.get("spec", {}).get("state") != "Released", "%s: state Released is the old word for Held" % f)
        s, m = o.get("spec", {}), o.get("metadata", {})
        need(m.get("namespace") == "gamelan-system", "%s: namespace %s" % (f, m.get("namespace")))
        net = net_label(s.get("network", ""))
        want = net + "-" + s.get("address", "").replace(".", "-").replace(":", "-")
        need(m.get("name") == want, "%s: named %s, the store would look for %s" % (f, m.get("name"), want))
        lab = m.get("labels", {})
        need(lab.get("gamelan.dev/network") == net, "%s: network label %s, want %s" % (f, lab.get("gamelan.dev/network"), net))
        if s.get("state") != "Conflict":
            want = "%016x" % hash64(s.get("identity", ""))
            need(lab.get("gamelan.dev/identity") == want, "%s: identity label %s, want %s" % (f, lab.get("gamelan.dev/identity"), want))

elif what == "kustomization":
    k = docs("kustomization.yaml")[0]
    need(k.get("kind") == "Kustomization", "kind %s" % k.get("kind"))
    res = k.get("resources", [])
    for r in res:
        need(os.path.exists(os.path.join(d, r)), "resource %s does not exist" % r)
    kinds = set()
    for r in res:
        for o in docs(r):
            kinds.add(o["kind"])
    for want in ("Namespace", "CustomResourceDefinition", "ServiceAccount", "Role", "RoleBinding", "DaemonSet"):
        need(want in kinds, "kustomization does not install a %s" % want)

elif what == "kubeconfig":
    # args: file server ca_file token_mode(file|inline) token namespace
    path, server, ca, mode, token, ns = args
    k = yaml.safe_load(open(path))
    need(k.get("kind") == "Config", "kind %s" % k.get("kind"))
    ctx = {c["name"]: c["context"] for c in k.get("contexts", [])}.get(k.get("current-context"), {})
    cl = {c["name"]: c["cluster"] for c in k.get("clusters", [])}.get(ctx.get("cluster"), {})
    us = {u["name"]: u["user"] for u in k.get("users", [])}.get(ctx.get("user"), {})
    need(cl.get("server") == server, "server %s, want %s" % (cl.get("server"), server))
    need(base64.b64decode(cl.get("certificate-authority-data", "")) == open(ca, "rb").read(), "certificate-authority-data is not the CA")
    need(ctx.get("namespace") == ns, "namespace %s" % ctx.get("namespace"))
    if mode == "file":
        need("token" not in us, "an inline token as well")
        tf = us.get("tokenFile", "")
        need(os.path.isfile(tf) and open(tf).read().strip() == token, "tokenFile %s does not hold the token" % tf)
    else:
        need(us.get("token") == token and "tokenFile" not in us, "user %s" % sorted(us))

else:
    need(False, "unknown check %s" % what)

if fails:
    print("; ".join(fails))
    sys.exit(1)
PYEOF

check() {
	assert_ok "$PY" "$CHECK" "$@" "$K8S" || return 1
}

if ! "$PY" -c 'import yaml' 2>/dev/null; then
	t_bail "$PY has no yaml module (apt-get install python3-yaml)"
fi

# ---- the YAML ----
t_run "every YAML under conf/k8s parses, each object has apiVersion, kind, name" check parse
t_run "CRD ipreservations.gamelan.dev is the store's contract (names, spec, columns)" check crd
t_run "RBAC: a Role in gamelan-system for ipreservations, bound to gamelan-cni; nothing cluster-wide" check rbac
t_run "DaemonSet gamelan-cni: hostNetwork, every node, SA bound, mounts /opt/cni/bin and /etc/cni/net.d" check daemonset
t_run "kustomization installs namespace, CRD, RBAC and DaemonSet" check kustomization
nad_static() {
	assert_ok "$PY" "$CHECK" nad "$K8S" "$GL_TOP"/conf/nad-*.yaml || return 1
}
t_run "NADs: JSON config, gamelan types, the Kubernetes store, the seed's fields unchanged" nad_static
t_run "example IPReservation validates against the CRD, named and labelled as the store does" check example

# Negative controls: the checks must be able to fail.
mutated() {
	local sub=$1 file=$2 sed_expr=$3 dir=$T_TMP/mut
	rm -rf "$dir"
	cp -r "$K8S" "$dir"
	sed -i "$sed_expr" "$dir/$file"
	assert_rc 1 "$PY" "$CHECK" "$sub" "$dir" "$GL_TOP"/conf/nad-*.yaml || return 1
}
neg_checks() {
	mutated crd gamelan-crds.yaml 's/jsonPath: .spec.identity/jsonPath: .spec.ident/' || return 1
	mutated crd gamelan-crds.yaml 's/containerID:/containerId:/' || return 1
	mutated rbac gamelan-rbac.yaml 's/verbs: \[get, list, watch, create, update, patch, delete\]/verbs: [get, list, create]/' || return 1
	mutated daemonset gamelan-daemonset.yaml 's|path: /etc/cni/net.d|path: /etc/cni/net.x|' || return 1
	mutated nad nad-gamelan-conf.yaml 's/"range_end": "192.168.1.216"/"range_end": "192.168.1.215"/' || return 1
	mutated nad nad-macvlan-conf.yaml 's/"namespace": "gamelan-system"/"namespace": "default"/' || return 1
	mutated nad nad-gamelan-conf.yaml 's/"mac": true/"mac": false/' || return 1
	mutated example ipreservation-example.yaml 's/state: Held/state: Kept/' || return 1
	mutated example ipreservation-example.yaml 's/state: Held/state: Released/' || return 1
	mutated example ipreservation-example.yaml 's/name: gamelan-conf-192-168-1-200/name: dst-0/' || return 1
	mutated parse gamelan-rbac.yaml 's/^kind: Role$/kind: [Role/' || return 1
}
t_run "the checks fail on a broken copy (column, field, verb, mount, seed, store, capabilities, state, name, syntax)" neg_checks

# ---- install-cni.sh ----
INSTALL=$K8S/install-cni.sh
syntax() {
	assert_ok sh -n "$INSTALL" || return 1
	assert_ok bash -n "$INSTALL" || return 1
	[[ -x "$INSTALL" ]] || { t_fail "$INSTALL is not executable"; return 1; }
}
t_run "install-cni.sh: sh -n, bash -n, executable" syntax
if command -v shellcheck >/dev/null; then
	t_run "install-cni.sh: shellcheck" assert_ok shellcheck -s sh "$INSTALL"
else
	t_begin "install-cni.sh: shellcheck"
	t_fail "no shellcheck (tests/install-deps.sh installs it)"
fi

# A node and a pod, as the DaemonSet's container sees them: SRC = the image's
# binaries, HOST = the node's root, SA = the service account mount.
make_node() {
	local n=$1
	NODE=$T_TMP/$n
	rm -rf "$NODE"
	mkdir -p "$NODE/src" "$NODE/host/opt/cni/bin" "$NODE/host/etc/cni/net.d" "$NODE/sa"
	local b
	for b in gamelan-macvlan gamelan-ipam gamelan-snat; do
		if [[ -x "$GL_BIN/$b" ]]; then
			cp "$GL_BIN/$b" "$NODE/src/$b"
		else
			printf '#!/bin/sh\necho %s\n' "$b" >"$NODE/src/$b"
			chmod 755 "$NODE/src/$b"
		fi
	done
	printf 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJnYW1lbGFuIn0.c2lnLTE' >"$NODE/sa/token"
	printf -- '-----BEGIN CERTIFICATE-----\nTUlJQ2FrZQ==\n-----END CERTIFICATE-----\n' >"$NODE/sa/ca.crt"
	printf 'gamelan-system' >"$NODE/sa/namespace"
	# An old plugin in place: the installer must replace it.
	printf 'old' >"$NODE/host/opt/cni/bin/gamelan-ipam"
}

run_install() {
	env -i PATH="$PATH" GAMELAN_SRC_DIR="$NODE/src" CNI_BIN_DIR="$NODE/host/opt/cni/bin" \
		CNI_CONF_DIR="$NODE/host/etc/cni/net.d" HOST_CNI_CONF_DIR="$NODE/host/etc/cni/net.d" \
		GAMELAN_SA_DIR="$NODE/sa" KUBERNETES_SERVICE_HOST="${KHOST:-10.96.0.1}" \
		KUBERNETES_SERVICE_PORT="${KPORT:-443}" SLEEP="${SLEEP:-false}" "$@" sh "$INSTALL"
}

no_temp_left() {
	local left
	left=$(find "$NODE/host" -name '*gamelan-tmp*')
	[[ -z "$left" ]] || { t_fail "temporary files left: $left"; return 1; }
}

install_once() {
	make_node n1
	assert_ok run_install || return 1
	local b conf=$NODE/host/etc/cni/net.d/gamelan.d
	for b in gamelan-macvlan gamelan-ipam gamelan-snat; do
		cmp -s "$NODE/src/$b" "$NODE/host/opt/cni/bin/$b" || { t_fail "$b not installed"; return 1; }
		assert_file_mode "$NODE/host/opt/cni/bin/$b" 755 || return 1
	done
	assert_file_mode "$conf" 700 || return 1
	assert_file_mode "$conf/gamelan.kubeconfig" 600 || return 1
	assert_file_mode "$conf/token" 600 || return 1
	assert_ok "$PY" "$CHECK" kubeconfig "$K8S" "$conf/gamelan.kubeconfig" https://10.96.0.1:443 \
		"$NODE/sa/ca.crt" file "$(cat "$NODE/sa/token")" gamelan-system || return 1
	no_temp_left || return 1
	# Idempotent: a second run (a restarted pod) changes nothing and succeeds.
	local before
	before=$(stat -c %i "$conf/gamelan.kubeconfig")
	assert_ok run_install || return 1
	assert_eq "$before" "$(stat -c %i "$conf/gamelan.kubeconfig")" "kubeconfig rewritten although unchanged" || return 1
}
t_run "install-cni.sh copies the binaries (0755) and writes kubeconfig and token (0600)" install_once

install_variants() {
	make_node n2
	KHOST=fd00::1 KPORT=6443 assert_ok run_install GAMELAN_TOKEN_MODE=inline POD_NAMESPACE=games || return 1
	local conf=$NODE/host/etc/cni/net.d/gamelan.d
	assert_ok "$PY" "$CHECK" kubeconfig "$K8S" "$conf/gamelan.kubeconfig" 'https://[fd00::1]:6443' \
		"$NODE/sa/ca.crt" inline "$(cat "$NODE/sa/token")" games || return 1
	assert_no_file "$conf/token" || return 1
}
t_run "install-cni.sh: IPv6 server address in brackets, inline token, POD_NAMESPACE" install_variants

install_refuses() {
	local conf
	make_node n3
	conf=$NODE/host/etc/cni/net.d/gamelan.d
	printf 'abc\n  evil: yes' >"$NODE/sa/token"
	assert_rc 1 run_install || return 1
	assert_contains "does not look like a service account token" "$T_ERR" || return 1
	assert_no_file "$conf/gamelan.kubeconfig" || return 1
	make_node n3
	KHOST='10.0.0.1\nx: y' assert_rc 1 run_install || return 1
	assert_no_file "$conf/gamelan.kubeconfig" || return 1
	make_node n3
	rm "$NODE/src/gamelan-snat"
	assert_rc 1 run_install || return 1
	assert_contains "no executable" "$T_ERR" || return 1
	make_node n3
	rm "$NODE/sa/ca.crt"
	assert_rc 1 run_install || return 1
	assert_no_file "$conf/gamelan.kubeconfig" || return 1
	no_temp_left || return 1
}
t_run "install-cni.sh refuses a bad token, host, missing binary or CA, writing no kubeconfig" install_refuses

install_refresh() {
	local pid conf tok2
	make_node n4
	conf=$NODE/host/etc/cni/net.d/gamelan.d
	SLEEP=true run_install GAMELAN_REFRESH_SECONDS=1 >"$T_TMP/n4.log" 2>&1 &
	pid=$!
	wait_until 10 test -s "$conf/gamelan.kubeconfig" || { t_fail "no kubeconfig after 10s"; kill "$pid"; return 1; }
	tok2=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyb3RhdGVkIn0.c2lnLTI
	# Kubelet replaces the projected token by renaming a new file into place.
	printf '%s' "$tok2" >"$NODE/sa/.token.new" && mv "$NODE/sa/.token.new" "$NODE/sa/token"
	if ! wait_until 10 grep -qx "$tok2" "$conf/token"; then
		t_fail "token not refreshed after 10s: $(cat "$T_TMP/n4.log")"
		kill "$pid"
		return 1
	fi
	assert_file_mode "$conf/token" 600 || { kill "$pid"; return 1; }
	assert_proc_alive "$pid" || return 1
	kill -TERM "$pid"
	wait_until 5 proc_gone "$pid" || { t_fail "install-cni.sh still runs 5s after TERM"; kill -KILL "$pid"; return 1; }
	wait "$pid" 2>/dev/null
	no_temp_left || return 1
}
t_run "install-cni.sh stays, refreshes a rotated token, ends on TERM" install_refresh

# ---- the NADs through the plugins ----
# SQLite in place of the Kubernetes store: the rest of the config is exactly the
# cluster's, so the plugins' own parsing of it is what is tested here.
nad_conf() {
	"$PY" "$CHECK" nadconf "$K8S" "$1"
}

nad_roundtrip() {
	local file=$1 store=$2 conf netns pod id res args
	conf=$(nad_conf "$file") || { t_fail "cannot read $file"; return 1; }
	conf=$(jq -c --arg s "$T_TMP/$file" --argjson st "$store" \
		'.stateDir = $s + "/macvlan" | .ipam.store = $st' <<<"$conf") || return 1
	pod=k8s$RANDOM
	netns=$(pod_netns "$pod") || return 1
	id=$(t_container_id)
	args=$(k8s_args games dst-0 "$id")
	assert_ok cni_call node1 gamelan-macvlan ADD "$netns" net1 "$id" "$args" <<<"$conf" || return 1
	res=$T_OUT
	NAD_ADDR=$(jq -r '.ips[0].address' <<<"$res")
	assert_match '^192\.168\.1\.(20[0-9]|21[0-6])/24$' "$NAD_ADDR" "address from the seed's range" || return 1
	assert_addr "pod-$pod" net1 "$NAD_ADDR" || return 1
	assert_ok cni_call node1 gamelan-macvlan CHECK "$netns" net1 "$id" "$args" \
		<<<"$(jq -c --argjson p "$res" '. + {prevResult: $p}' <<<"$conf")" || return 1
	if [[ -n "${NAD_BETWEEN:-}" ]]; then
		"$NAD_BETWEEN" "$file" || return 1
	fi
	assert_ok cni_call node1 gamelan-macvlan DEL "$netns" net1 "$id" "$args" <<<"$conf" || return 1
	assert_no_link "pod-$pod" net1 || return 1
	pod_netns_del "$pod"
}

nad_sqlite() {
	local file=$1
	nad_roundtrip "$file" "$(jq -cn --arg p "$T_TMP/$file.db" '{type: "sqlite", path: $p}')"
}

world_up || t_bail "world_up failed"
for f in "$K8S"/nad-*.yaml; do
	t_run "conf/k8s/$(basename "$f"): ADD, CHECK, DEL (SQLite in place of the Kubernetes store)" \
		nad_sqlite "$(basename "$f")"
done

# ---- against the fake API server, with kubectl ----
NODE_NS=$(world_ns node1)
HAVE_KUBECTL=1
# GL_NO_KUBECTL=1: run as on a machine without kubectl (CI).
if ! command -v kubectl >/dev/null || [[ -n "${GL_NO_KUBECTL:-}" ]]; then
	HAVE_KUBECTL=
fi
why_skip=
if [[ ! -f "$FAKE" ]]; then
	why_skip="skipped: no netns-harness/fakeapi/fakeapi.py"
elif ! command -v openssl >/dev/null; then
	why_skip="skipped: no openssl (tests/install-deps.sh installs it; the fake serves TLS, as an API server does)"
fi

# TLS and a token, as in a cluster: the kubeconfig install-cni.sh writes must
# carry both (a CA that does not match, or no token, fails).
start_fake() {
	local d=$T_TMP/fake port
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=gamelan-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || return 1
	openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$d/srv.key" -out "$d/srv.csr" \
		>/dev/null 2>&1 || return 1
	printf 'subjectAltName=IP:127.0.0.1\n' >"$d/ext"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
		-extfile "$d/ext" -out "$d/srv.crt" >/dev/null 2>&1 || return 1
	FAKE_TOKEN=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJmYWtlIn0.c2lnLWZha2U
	# In node1's namespace, where gamelan-ipam runs (its loopback, not the host's);
	# kubectl goes there too.
	fakeapi_start "$d" --python "$PY" --netns "$NODE_NS" --tls-cert "$d/srv.crt" --tls-key "$d/srv.key" \
		--token "$FAKE_TOKEN" || return 1
	port=$FAKE_PORT
	# The node: install-cni.sh writes the kubeconfig the plugin and kubectl use.
	make_node fake-node
	cp "$d/ca.crt" "$NODE/sa/ca.crt"
	printf '%s' "$FAKE_TOKEN" >"$NODE/sa/token"
	KHOST=127.0.0.1 KPORT=$port run_install >/dev/null 2>&1 || return 1
	KCONF=$NODE/host/etc/cni/net.d/gamelan.d/gamelan.kubeconfig
}

kc() {
	ip netns exec "$NODE_NS" kubectl --kubeconfig "$KCONF" --request-timeout=10s "$@"
}

# Without kubectl: curl with what the kubeconfig holds (server, CA data, tokenFile).
kc_curl() {
	local server tokfile
	"$PY" -c 'import base64, sys, yaml
k = yaml.safe_load(open(sys.argv[1]))
open(sys.argv[2], "wb").write(base64.b64decode(k["clusters"][0]["cluster"]["certificate-authority-data"]))
print(k["clusters"][0]["cluster"]["server"], k["users"][0]["user"]["tokenFile"])' "$KCONF" "$T_TMP/kc-ca.crt" \
		>"$T_TMP/kc-curl" || return 1
	read -r server tokfile <"$T_TMP/kc-curl"
	ip netns exec "$NODE_NS" curl -sS -f -m 10 --cacert "$T_TMP/kc-ca.crt" \
		-H "Authorization: Bearer $(cat "$tokfile")" "$server$1"
}

fake_reachable() {
	if [[ -z "$HAVE_KUBECTL" ]]; then
		assert_ok kc_curl /api/v1/namespaces || return 1
		assert_contains '"kind":"NamespaceList"' "$(tr -d ' \n' <<<"$T_OUT")" || return 1
		return 0
	fi
	assert_ok kc get namespaces || return 1
	# The token is really used: without it the fake says 401.
	sed 's/^\( *\)tokenFile: .*/\1token: wrong/' "$KCONF" >"$T_TMP/bad.kubeconfig"
	assert_rc 1 ip netns exec "$NODE_NS" kubectl --kubeconfig "$T_TMP/bad.kubeconfig" --request-timeout=10s get namespaces || return 1
}

# multus' NetworkAttachmentDefinition CRD, as multus installs it (trimmed).
NAD_CRD='apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: network-attachment-definitions.k8s.cni.cncf.io
spec:
  group: k8s.cni.cncf.io
  scope: Namespaced
  names:
    plural: network-attachment-definitions
    singular: network-attachment-definition
    kind: NetworkAttachmentDefinition
    shortNames: [net-attach-def]
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                config:
                  type: string'

fake_apply() {
	local o
	# The whole install, as the README says (the fake serves no OpenAPI: --validate=false).
	assert_ok kc apply --validate=false -k "$K8S" || return 1
	for o in namespace/gamelan-system customresourcedefinition.apiextensions.k8s.io/ipreservations.gamelan.dev \
		serviceaccount/gamelan-cni role.rbac.authorization.k8s.io/gamelan-cni \
		rolebinding.rbac.authorization.k8s.io/gamelan-cni daemonset.apps/gamelan-cni; do
		assert_contains "$o created" "$T_OUT" || return 1
	done
	assert_ok kc get daemonset gamelan-cni -n gamelan-system -o jsonpath='{.spec.template.spec.serviceAccountName}' || return 1
	assert_eq gamelan-cni "$T_OUT" "the DaemonSet's ServiceAccount, read back" || return 1
	# Again: nothing changes (an upgrade re-applies the same files).
	assert_ok kc apply --validate=false -k "$K8S" || return 1
	assert_no_match 'created|configured' "$T_OUT" "second apply" || return 1
	# The NADs, once multus' CRD is there.
	assert_ok kc apply --validate=false -f - <<<"$NAD_CRD" || return 1
	wait_until 10 kc get net-attach-def || { t_fail "multus' CRD not served"; return 1; }
	assert_ok kc apply --validate=false -f "$K8S/nad-gamelan-conf.yaml" -f "$K8S/nad-macvlan-conf.yaml" || return 1
	assert_ok kc get net-attach-def gamelan-conf -o jsonpath='{.spec.config}' || return 1
	assert_eq kubernetes "$(jq -r .ipam.store.type <<<"$T_OUT")" "the NAD's store, read back" || return 1
	# Discovery caches of kubectl: the CRD's resource must be known by now.
	wait_until 10 kc get ipreservations.gamelan.dev -n gamelan-system || { t_fail "CRD not served"; return 1; }
	assert_ok kc apply --validate=false -f "$K8S/ipreservation-example.yaml" || return 1
	assert_contains "ipreservation.gamelan.dev/gamelan-conf-192-168-1-200" "$T_OUT" || return 1
}

fake_get() {
	local hdr row
	assert_ok kc get ipr -n gamelan-system || return 1
	hdr=$(head -n 1 <<<"$T_OUT")
	assert_match '^NAME +ADDRESS +IDENTITY +STATE +PINNED +NODE +AGE$' "$hdr" "kubectl get ipr header" || return 1
	row=$(grep '^gamelan-conf-192-168-1-200 ' <<<"$T_OUT")
	assert_match '^gamelan-conf-192-168-1-200 +192\.168\.1\.200 +games/dst-0 +Held +true +' "$row" "the example's row" || return 1
	assert_ok kc get ipr -n gamelan-system -o wide || return 1
	assert_match 'NETWORK' "$(head -n 1 <<<"$T_OUT")" "-o wide header" || return 1
	assert_ok kc get ipr -n gamelan-system gamelan-conf-192-168-1-200 -o jsonpath='{.spec.address} {.metadata.labels.gamelan\.dev/network}' || return 1
	assert_eq "192.168.1.200 gamelan-conf" "$T_OUT" || return 1
}

# The cluster NAD verbatim but for the kubeconfig's path (the one install-cni.sh
# wrote for this fake): ADD takes an address, kubectl shows the reservation Bound
# for games/dst-0, DEL leaves it Held.
nad_name() {
	local n=${1#nad-}
	printf '%s\n' "${n%.yaml}"
}
seen_bound() {
	assert_ok kc get ipr -n gamelan-system -l gamelan.dev/network="$(nad_name "$1")" --no-headers || return 1
	assert_match "${NAD_ADDR%/*} +games/dst-0 +Bound" "$T_OUT" "kubectl get ipr during the pod's life" || return 1
}
nad_kube() {
	local file=$1
	NAD_BETWEEN=seen_bound nad_roundtrip "$file" \
		"$(jq -cn --arg k "$KCONF" '{type: "kubernetes", kubeconfig: $k, namespace: "gamelan-system"}')" || return 1
	assert_ok kc get ipr -n gamelan-system -l gamelan.dev/network="$(nad_name "$file")" --no-headers || return 1
	assert_match "${NAD_ADDR%/*} +games/dst-0 +Held" "$T_OUT" "after DEL" || return 1
	if [[ "$file" == nad-gamelan-conf.yaml ]]; then
		# The pin made with kubectl (ipreservation-example.yaml) is honoured.
		assert_eq 192.168.1.200/24 "$NAD_ADDR" "address of games/dst-0 on gamelan-conf" || return 1
		assert_match "^gamelan-conf-192-168-1-200 +192\.168\.1\.200 +games/dst-0 +Held +true " "$T_OUT" \
			"the pinned reservation after DEL" || return 1
	fi
}

kube_store_built() {
	# gamelan-ipam's config parser names the store types it knows.
	local out
	out=$(jq -cn '{cniVersion:"1.0.0",name:"x",type:"gamelan-macvlan",ipam:{type:"gamelan-ipam",range:"10.0.0.0/24",store:{type:"kubernetes",kubeconfig:"/nonexistent/k"}}}' |
		env -i CNI_COMMAND=ADD CNI_CONTAINERID=x CNI_NETNS=/nonexistent CNI_IFNAME=net1 CNI_PATH=/nonexistent \
			"$GL_BIN/gamelan-ipam" 2>&1)
	[[ "$out" != *'is not supported'* && "$out" != *'not implemented'* ]]
}

if [[ -n "$why_skip" ]]; then
	# What the fake needs ships with the tree or comes from tests/install-deps.sh: a failure.
	t_begin "fake API server: kubeconfig from install-cni.sh works (TLS, token)"
	t_fail "${why_skip#skipped: }"
elif ! start_fake; then
	t_begin "fake API server starts with TLS and a token"
	t_fail "the fake did not start: $(tail -n 5 "$T_TMP/fake/fake.log" 2>/dev/null)"
	why_skip="skipped: the fake did not start"
else
	t_run "fake API server: kubeconfig from install-cni.sh works (TLS, token)" fake_reachable
fi
if [[ -n "$why_skip" ]]; then
	:
elif [[ -z "$HAVE_KUBECTL" ]]; then
	why_skip="skipped: no kubectl"
fi
if [[ -n "$why_skip" ]]; then
	t_skip "kubectl apply -k conf/k8s, the NADs and the example IPReservation to the fake" "$why_skip"
	t_skip "kubectl get ipr shows Address, Identity, State, Pinned, Node, Age" "$why_skip"
	t_skip "conf/k8s NADs through the plugins against the fake, seen with kubectl" "$why_skip"
else
	t_run "kubectl apply -k conf/k8s, the NADs and the example IPReservation to the fake" fake_apply
	t_run "kubectl get ipr shows Address, Identity, State, Pinned, Node, Age" fake_get
	if ! kube_store_built; then
		t_skip "conf/k8s NADs through the plugins against the fake, seen with kubectl" \
			"skipped: this gamelan-ipam has no Kubernetes store yet"
	else
		for f in "$K8S"/nad-*.yaml; do
			t_run "conf/k8s/$(basename "$f"): ADD, CHECK, DEL with the Kubernetes store on the fake, seen with kubectl" \
				nad_kube "$(basename "$f")"
		done
	fi
fi
fakeapi_stop
t_done
