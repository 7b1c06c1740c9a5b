#!/usr/bin/env python3
"""Write the seed inputs of the fuzz corpora (tests/fuzz/corpus/NAME/seed-*).

The seeds are valid inputs taken from the tests and the shipped configs;
`FUZZ_MERGE=1 make fuzz` then adds what a fuzzing run found. The netlink
seeds are real kernel replies, captured in a network namespace of their own
(run as root: the script re-executes itself under `unshare --net`).

    tests/fuzz/seeds.py
"""
import json
import os
import socket
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
TOP = os.path.dirname(os.path.dirname(HERE))


def put(name, i, data):
    d = os.path.join(CORPUS, name)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-%02d" % i), "wb") as f:
        f.write(data)


def js(o):
    return json.dumps(o, separators=(",", ":"))


PREV = {"cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "mac": "02:42:c0:a8:01:c8", "sandbox": "/run/netns/p"}],
        "ips": [{"address": "192.168.1.200/24", "gateway": "192.168.1.1", "interface": 0},
                {"address": "fd00:1::c8/64", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "192.168.1.1", "priority": 10}],
        "dns": {"nameservers": ["192.168.1.1"], "domain": "lan", "search": ["lan"],
                "options": ["ndots:2"]}}

IPAMS = [
    {"type": "gamelan-ipam", "subnet": "192.168.1.0/24", "rangeStart": "192.168.1.200",
     "rangeEnd": "192.168.1.216", "gateway": "192.168.1.1", "routes": [{"dst": "0.0.0.0/0"}],
     "store": {"type": "sqlite", "path": "/var/lib/gamelan/ipam.db"}},
    {"type": "gamelan-ipam", "range": "192.168.1.13-192.168.1.250/24",
     "exclude": ["192.168.1.77/32"], "hold": "7d", "conflictHold": "10m", "probe": False,
     "pins": {"games/dst-0": "192.168.1.20", "games/dst-1": ["192.168.1.21", "fd00:1::21"]},
     "store": {"type": "memory"}},
    {"type": "gamelan-ipam", "ranges": [[{"subnet": "192.168.1.0/24", "rangeStart": "192.168.1.100"}],
                                        [{"subnet": "fd00:1::/64", "gateway": "fd00:1::1"}]],
     "dns": {"nameservers": ["192.168.1.1", "fd00:1::1"], "domain": "lan", "search": ["lan"]},
     "store": {"type": "kubernetes", "kubeconfig": "/etc/cni/net.d/gamelan.kubeconfig",
               "namespace": "gamelan-system"}},
]


def confs():
    out = []
    for name in sorted(os.listdir(os.path.join(TOP, "conf"))):
        if name.endswith(".conflist"):
            with open(os.path.join(TOP, "conf", name)) as f:
                cl = json.load(f)
            for p in cl.get("plugins", []):
                c = dict(p)
                c["cniVersion"] = cl.get("cniVersion", "1.0.0")
                c["name"] = cl.get("name", "lan")
                out.append(c)
    return out


def cni_seeds():
    base = {"cniVersion": "1.1.0", "name": "lan", "type": "gamelan-macvlan", "master": "eth0",
            "mode": "bridge", "mtu": 1500, "ipam": IPAMS[0]}
    env = ("CNI_COMMAND=ADD\nCNI_CONTAINERID=c0ffee\nCNI_IFNAME=eth0\nCNI_NETNS=/run/netns/p\n"
           "CNI_PATH=/opt/cni/bin\nCNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=games;"
           "K8S_POD_NAME=dst-0;K8S_POD_INFRA_CONTAINER_ID=c0ffee\n\n")
    i = 0
    for c in confs() + [base]:
        put("cni_req", i, js(c)); i += 1
    put("cni_req", i, env + js(dict(base, prevResult=PREV, runtimeConfig={
        "ips": ["192.168.1.9/24"], "mac": "02:00:00:00:00:09"},
        args={"cni": {"identity": "games/dst-0"}}))); i += 1
    put("cni_req", i, env.replace("ADD", "DEL") + js(dict(base, prevResult=PREV))); i += 1
    put("cni_req", i, "CNI_COMMAND=VERSION\n\n" + js({"cniVersion": "1.1.0"})); i += 1
    put("cni_req", i, "CNI_COMMAND=GC\nCNI_PATH=/opt/cni/bin\n\n" + js(dict(base, **{
        "cni.dev/valid-attachments": [{"containerID": "c0ffee", "ifname": "eth0"}]}))); i += 1
    put("cni_req", i, "CNI_COMMAND=CHECK\nCNI_CONTAINERID=c\xff\nCNI_IFNAME=\xe2\x82\xac\n"
        "CNI_NETNS=/x\n\n" + js(dict(base, cniVersion="0.4.0", prevResult=PREV))); i += 1
    put("cni_req", i, js(dict(base, name="l\u00e9an \u20ac"))); i += 1

    for i, ipam in enumerate(IPAMS):
        put("ipam_conf", i, js(dict(base, ipam=ipam)))

    snat = [c for c in confs() if c.get("type") == "gamelan-snat"]
    snat += [
        {"cniVersion": "1.0.0", "name": "lan", "type": "gamelan-snat", "prevResult": PREV},
        {"cniVersion": "1.1.0", "name": "lan", "type": "gamelan-snat", "gateway": "192.168.1.1",
         "lan": ["192.168.1.0/24"], "ports": [{"protocol": "udp", "port": 10999},
                                              {"protocol": "tcp", "port": 27015, "endPort": 27030},
                                              {"protocol": "sctp"}], "prevResult": PREV},
        {"cniVersion": "0.4.0", "name": "lan", "type": "gamelan-snat",
         "gateway": ["192.168.1.1", "fd00:1::1"], "lan": ["192.168.1.0/24", "fd00:1::/64"],
         "runtimeConfig": {"disabled": True}, "args": {"cni": {"disabled": False}},
         "prevResult": PREV},
    ]
    for i, c in enumerate(snat):
        c = dict(c)
        c.setdefault("prevResult", PREV)
        put("snat_conf", i, js(c))

    put("cni_result", 0, js(PREV))
    p3 = json.loads(js(PREV))
    p3["cniVersion"] = "0.3.1"
    for ip in p3["ips"]:
        ip["version"] = "6" if ":" in ip["address"] else "4"
    put("cni_result", 1, js(p3))
    put("cni_result", 2, js({"cniVersion": "1.0.0", "ips": [{"address": "10.0.0.2/8"}]}))


KC_HEAD = ("current-context: ctx\n"
           "contexts:\n- name: ctx\n  context: {cluster: c1, user: u1}\n"
           "clusters:\n- name: c1\n  cluster: {server: \"https://10.0.0.1:6443\"}\n")


def kube_seeds():
    kcs = [
        KC_HEAD + "users:\n- name: u1\n  user: {token: abc.def}\n",
        "apiVersion: v1\nkind: Config\ncurrent-context: ctx\n"
        "contexts:\n- name: ctx\n  context:\n    cluster: c1\n    user: u1\n    namespace: games\n"
        "clusters:\n- name: c1\n  cluster:\n    server: https://api.example:6443/\n"
        "    certificate-authority-data: Q0E=\n    insecure-skip-tls-verify: false\n"
        "users:\n- name: u1\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZ\n",
        js({"apiVersion": "v1", "kind": "Config", "current-context": "ctx",
            "contexts": [{"name": "ctx", "context": {"cluster": "c1", "user": "u1"}}],
            "clusters": [{"name": "c1", "cluster": {"server": "http://127.0.0.1:8080",
                                                    "certificate-authority": "pki/ca.crt"}}],
            "users": [{"name": "u1", "user": {"tokenFile": "tok", "client-certificate": "c.crt",
                                              "client-key": "c.key"}}]}),
        "current-context: ctx\ncontexts:\n- name: ctx\n  context: &ctx {cluster: c1}\n"
        "- name: two\n  context: *ctx\nclusters:\n- name: c1\n  cluster: {server: https://h}\n",
        KC_HEAD + "users:\n- name: u1\n  user:\n    exec: {command: aws}\n",
    ]
    for i, k in enumerate(kcs):
        put("kube_config", i, k)

    # kube_wire: the first byte picks the HTTP code (low nibble) and the chunk size.
    wire = [
        b"\x42" + b'{"type":"ADDED","object":{"kind":"IPReservation","metadata":{"name":"a",'
        b'"resourceVersion":"12"}}}\n{"type":"BOOKMARK","object":{"metadata":'
        b'{"resourceVersion":"13"}}}\n',
        b"\x17" + b'{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired"}}\r\n\n',
        b"\x06" + b'{"kind":"Status","apiVersion":"v1","status":"Failure","message":"ipreservations '
        b'\\"x\\" already exists","reason":"AlreadyExists","code":409}',
        b"\x06" + b'{"kind":"Status","status":"Failure","reason":"Conflict","code":409,'
        b'"details":{"name":"x","causes":[{"message":"m"}]}}',
        b"\x0a" + b"<html><body>502 Bad Gateway</body></html>",
        b"\x09" + b"120",
        b"\xf3" + b'{"type":"MODIFIED","object":{"metadata":{"name":7}}}\n'
        b'{"type":"DELETED","object":{}}\n{"type":"NOPE","object":{}}\n',
    ]
    for i, w in enumerate(wire):
        put("kube_wire", i, w)

    # What gl_store_kube_to_json writes for test_fuzz_wire.c's seed_row(0..2).
    rows = [
        '{"metadata":{"labels":{"gamelan.dev/network":"lan","gamelan.dev/identity":"65690d93f9ebacc1","gamelan.dev/node":"node-1"},"name":"lan-192-168-1-200","namespace":"gamelan-system","resourceVersion":"1000"},"spec":{"network":"lan","pool":0,"address":"192.168.1.200","identity":"games/dst-0","ifname":"net1","containerID":"c0ffee","state":"Bound","pinned":false,"node":"node-1","updated":"2026-05-28T20:26:40.000Z"},"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation"}',
        '{"metadata":{"labels":{"gamelan.dev/network":"lan","gamelan.dev/identity":"65690d93f9ebacc1","gamelan.dev/node":"node-1"},"name":"lan-192-168-1-216","namespace":"gamelan-system","resourceVersion":"1001"},"spec":{"network":"lan","pool":1,"address":"192.168.1.216","identity":"games/dst-0","ifname":"net1","containerID":"c0ffee","state":"Released","pinned":true,"expires":"2026-09-21T14:13:20.123Z","node":"node-1","updated":"2026-05-28T20:26:40.000Z"},"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation"}',
        '{"metadata":{"labels":{"gamelan.dev/network":"game-lan-v6-d621977b","gamelan.dev/node":"node-1"},"name":"game-lan-v6-d621977b-fd00--0","namespace":"gamelan-system","resourceVersion":"1002"},"spec":{"network":"Game LAN.v6","pool":2,"address":"fd00::","containerID":"c0ffee","state":"Conflict","pinned":false,"expires":"2026-09-21T14:13:20.123Z","node":"node-1","updated":"2026-05-28T20:26:40.000Z"},"apiVersion":"gamelan.dev/v1alpha1","kind":"IPReservation"}',
    ]
    for i, r in enumerate(rows):
        put("store_kube", i, r)

    fwd = {"forwards": [
        {"name": "mc", "wanInterface": "eth0", "protocol": "tcp", "port": 25565,
         "to": "192.168.1.200", "toPort": 25565},
        {"name": "cs.2", "wanInterface": "eth0", "protocol": "udp", "port": 27015,
         "to": "fd00:1::c8"}]}
    put("forward", 0, js(fwd))
    put("forward", 1, js({"forwards": []}))
    put("forward", 2, "gamelan:fwd:mc eth0 tcp 25565 192.168.1.200 25565")


# ---- netlink: real replies of the kernel ----

NETLINK_NETFILTER = 12
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 1, 4, 0x300
RTM_NEWLINK, RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH = 16, 18, 22, 26, 30
NFT_MSG_GETRULE = 7
NETLINK_EXT_ACK = 11


def nl_talk(proto, msgs, ext_ack=False):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    if ext_ack:
        s.setsockopt(270, NETLINK_EXT_ACK, 1)
    s.bind((0, 0))
    replies = []
    for seq, (typ, flags, payload) in enumerate(msgs, 1):
        s.send(struct.pack("=IHHII", 16 + len(payload), typ, flags, seq, 0) + payload)
        while True:
            data = s.recv(65536)
            replies.append(data)
            # Stop at the dump's end or the ack.
            off, end = 0, False
            while off + 16 <= len(data):
                ln, t = struct.unpack_from("=IH", data, off)
                if t in (2, 3):
                    end = True
                off += (ln + 3) & ~3
                if ln < 16:
                    break
            if end:
                break
    s.close()
    return replies


def sh(*cmd):
    subprocess.run(cmd, check=True)


def netlink_seeds():
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
    sh("ip", "link", "set", "eth0", "up")
    sh("ip", "link", "set", "eth1", "up")
    sh("ip", "link", "add", "link", "eth0", "name", "mv0", "address", "02:42:c0:a8:01:c8",
       "type", "macvlan", "mode", "bridge")
    sh("ip", "addr", "add", "192.168.1.11/24", "dev", "eth0")
    sh("ip", "addr", "add", "fd00:1::b/64", "dev", "eth0", "nodad")
    sh("ip", "route", "add", "default", "via", "192.168.1.1")
    sh("ip", "neigh", "add", "192.168.1.1", "lladdr", "02:00:00:00:00:01", "dev", "eth0")
    subprocess.run(["nft", "-f", "-"], check=True, input=(
        "table inet gamelan-snat-eth0 {\n chain input { type nat hook input priority 100;\n"
        "  iifname \"eth0\" ip saddr != 192.168.1.0/24 udp dport 10999 counter snat ip to "
        "192.168.1.1 comment \"gamelan:c0ffee:eth0\"\n }\n}\n").encode())
    rtgen = struct.pack("=B3x", 0)
    ifinfo = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
    dumps = [(RTM_GETLINK, ifinfo), (RTM_GETADDR, rtgen), (RTM_GETROUTE, rtgen),
             (RTM_GETNEIGH, struct.pack("=BxxxiHBB", 0, 0, 0, 0, 0))]
    i = 0
    for typ, payload in dumps:
        for data in nl_talk(socket.NETLINK_ROUTE, [(typ, NLM_F_REQUEST | NLM_F_DUMP, payload)]):
            if len(data) <= 4096:
                put("nl_dump", i, data); i += 1
    nfgen = struct.pack("=BBH", 1, 0, 0)  # NFPROTO_INET
    for data in nl_talk(NETLINK_NETFILTER, [((10 << 8) | NFT_MSG_GETRULE,
                                             NLM_F_REQUEST | NLM_F_DUMP, nfgen)]):
        put("nl_dump", i, data[:4096]); i += 1
    # Acks: a success, and refusals with the kernel's extended-ack text.
    kind = b"nosuchkind"
    linkinfo = struct.pack("=HH", 4 + 4 + len(kind) + 1, 18) + \
        struct.pack("=HH", 4 + len(kind) + 1, 1) + kind + b"\0"
    linkinfo += b"\0" * (-len(linkinfo) % 4)
    name = b"bad0\0"
    ifname = struct.pack("=HH", 4 + len(name), 3) + name + b"\0" * (-len(name) % 4)
    acks = [
        (RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | 0x400, ifinfo + ifname + linkinfo),
        (RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, ifinfo + ifname),
        (RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, struct.pack("=BxHiII", 0, 0, 1, 0, 0)),
        (RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK, struct.pack("=BxHiII", 0, 0, 999, 0, 0)),
    ]
    j = 0
    for a in acks:
        for data in nl_talk(socket.NETLINK_ROUTE, [a], ext_ack=True):
            put("nlsock_ack", j, data[:4096]); j += 1
    for data in nl_talk(socket.NETLINK_ROUTE, [(RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, rtgen)]):
        put("nlsock_ack", j, data[-20:]); j += 1


if __name__ == "__main__":
    if sys.argv[1:] == ["--netlink"]:
        netlink_seeds()
        sys.exit(0)
    cni_seeds()
    kube_seeds()
    subprocess.run(["unshare", "--net", sys.executable, os.path.abspath(__file__), "--netlink"],
                   check=True)
