#!/usr/bin/env python3
"""A fake Kubernetes API server for gamelan's tests (python3 standard library only).

No real kube-apiserver can run on the test machines. This one is faithful on the points a
client relies on (see README.md next to it): resourceVersion on every write, 409
AlreadyExists / Conflict, Status objects shaped like the real ones, list with label and field
selectors and limit/continue, watch as a chunked stream of JSON lines with BOOKMARK events and
410 Expired after a simulated compaction, the status subresource, merge-patch, namespaces,
custom resources registered by posting a CRD, discovery and Table output for kubectl, bearer
tokens and TLS (client certificates too), anonymous requests refused as RBAC refuses
system:anonymous, structural-schema validation and pruning of custom resources, a cost model
(objects each request makes the server read, from etcd or from the watch cache) and fault
injection under /fake/.

    python3 netns-harness/fakeapi/fakeapi.py --listen 127.0.0.1:0 --port-file F \
        [--tls-cert C --tls-key K [--client-ca CA]] [--token T] [--anonymous-auth true|false] \
        [--namespace NS]... [--bookmark-interval S] [--verbose]
"""

import argparse
import base64
import datetime
import binascii
import json
import os
import random
import re
import signal
import socket
import socketserver
import ssl
import string
import sys
import threading
import time
import traceback
import uuid
from bisect import bisect_right
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 4 << 20
HISTORY_MAX = 200000
K8S_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-gamelan-fake",
               "gitCommit": "0000000000000000000000000000000000000000",
               "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
               "goVersion": "go1.23.0", "compiler": "gc", "platform": "linux/amd64"}
# What the system:public-info-viewer ClusterRole lets system:unauthenticated read.
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
CONTINUE_TOO_OLD = ("The provided continue parameter is too old to display a consistent list "
                    "result. You can start a new list without the continue parameter, or use "
                    "the continue token in this response to retrieve the remainder of the "
                    "results. Continuing with the provided token results in an inconsistent "
                    "list - objects that were created, modified, or deleted between the time "
                    "the first chunk was returned and now may show up in the list.")
DNS1123_SUB = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
SUB_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
           "'-' or '.', and must start and end with an alphanumeric character (e.g. "
           "'example.com', regex used for validation is "
           "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or "
             "'-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
             "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
LVAL_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', "
            "'_' or '.', and must start and end with an alphanumeric character (e.g. "
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def parse_rfc3339(s):
    try:
        return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    except (ValueError, TypeError):
        return None


def human_duration(secs):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration, as kubectl shows Age."""
    secs = int(max(secs, 0))
    if secs < 120:
        return "%ds" % secs
    mins = secs // 60
    if mins < 10:
        s = secs % 60
        return "%dm%ds" % (mins, s) if s else "%dm" % mins
    if mins < 180:
        return "%dm" % mins
    hours = secs // 3600
    if hours < 8:
        m = (secs % 3600) // 60
        return "%dh%dm" % (hours, m) if m else "%dh" % hours
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd%dh" % (hours // 24, h) if h else "%dd" % (hours // 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    return "%dy" % (hours // 24 // 365)


class ApiError(Exception):
    """An error answered with a Status object."""

    def __init__(self, code, reason, message, details=None, headers=None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self):
        return status_obj(self.code, self.reason, self.message, self.details)


def typed(obj, kind, av):
    """obj with kind and apiVersion first, as the real server writes them."""
    out = {"kind": kind, "apiVersion": av}
    for k, v in obj.items():
        if k not in ("kind", "apiVersion"):
            out[k] = v
    return out


def status_obj(code, reason, message, details=None):
    st = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
          "message": message}
    if reason:      # StatusReasonUnknown ("") is omitted, as Go's omitempty does
        st["reason"] = reason
    if details:
        st["details"] = details
    st["code"] = code
    return st


REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           405: "MethodNotAllowed", 406: "NotAcceptable", 409: "Conflict", 410: "Expired",
           413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
           429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
           504: "Timeout"}


# ---------------------------------------------------------------- resource types

class ResType:
    def __init__(self, group, versions, plural, singular, kind, namespaced, short=(),
                 status=False, generation=False, columns=None, categories=(), crd=None,
                 fields=(), create_on_update=False, unconditional_update=True):
        self.group = group
        self.versions = list(versions)
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.list_kind = kind + "List"
        self.namespaced = namespaced
        self.short = list(short)
        self.status = status            # has a status subresource
        self.generation = generation    # maintains metadata.generation
        self.columns = columns          # {version: [column]} or None: Age only
        self.categories = list(categories)
        self.crd = crd                  # name of the CRD that registered it
        self.fields = set(fields)       # extra field selectors
        # The registry strategy's AllowCreateOnUpdate / AllowUnconditionalUpdate.
        self.create_on_update = create_on_update
        self.unconditional_update = unconditional_update
        self.schemas = {}               # CRDs: {version: openAPIV3Schema}

    @property
    def key(self):
        return (self.group, self.plural)

    def api_version(self, version):
        return "%s/%s" % (self.group, version) if self.group else version

    def qualified(self):
        return "%s.%s" % (self.plural, self.group) if self.group else self.plural

    def kind_qualified(self):
        return "%s.%s" % (self.kind, self.group) if self.group else self.kind

    def details(self, name):
        d = {"name": name}
        if self.group:
            d["group"] = self.group
        d["kind"] = self.plural
        return d


def builtin_types():
    c = lambda *a, **k: ResType("", ["v1"], *a, **k)  # noqa: E731
    date = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    return [
        c("namespaces", "namespace", "Namespace", False, ["ns"], status=True,
          columns={"v1": [{"name": "Status", "type": "string", "jsonPath": ".status.phase"}, date]},
          fields=["status.phase"]),
        c("pods", "pod", "Pod", True, ["po"], status=True, categories=["all"],
          columns={"v1": [{"name": "Status", "type": "string", "jsonPath": ".status.phase"},
                          {"name": "IP", "type": "string", "jsonPath": ".status.podIP",
                           "priority": 1},
                          {"name": "Node", "type": "string", "jsonPath": ".spec.nodeName",
                           "priority": 1}, date]},
          fields=["spec.nodeName", "status.phase", "status.podIP"]),
        c("configmaps", "configmap", "ConfigMap", True, ["cm"]),
        c("secrets", "secret", "Secret", True, fields=["type"]),
        c("serviceaccounts", "serviceaccount", "ServiceAccount", True, ["sa"]),
        c("services", "service", "Service", True, ["svc"], status=True, categories=["all"]),
        c("events", "event", "Event", True, ["ev"]),
        c("nodes", "node", "Node", False, ["no"], status=True),
        ResType("coordination.k8s.io", ["v1"], "leases", "lease", "Lease", True,
                columns={"v1": [{"name": "Holder", "type": "string",
                                 "jsonPath": ".spec.holderIdentity"}, date]},
                create_on_update=True, unconditional_update=False),
        ResType("apps", ["v1"], "statefulsets", "statefulset", "StatefulSet", True, ["sts"],
                status=True, generation=True, categories=["all"]),
        ResType("apps", ["v1"], "deployments", "deployment", "Deployment", True, ["deploy"],
                status=True, generation=True, categories=["all"]),
        ResType("apps", ["v1"], "daemonsets", "daemonset", "DaemonSet", True, ["ds"],
                status=True, generation=True, categories=["all"]),
        ResType("rbac.authorization.k8s.io", ["v1"], "clusterroles", "clusterrole",
                "ClusterRole", False),
        ResType("rbac.authorization.k8s.io", ["v1"], "clusterrolebindings",
                "clusterrolebinding", "ClusterRoleBinding", False),
        ResType("rbac.authorization.k8s.io", ["v1"], "roles", "role", "Role", True),
        ResType("rbac.authorization.k8s.io", ["v1"], "rolebindings", "rolebinding",
                "RoleBinding", True),
        ResType("apiextensions.k8s.io", ["v1"], "customresourcedefinitions",
                "customresourcedefinition", "CustomResourceDefinition", False, ["crd", "crds"],
                status=True, generation=True,
                columns={"v1": [{"name": "Created At", "type": "date",
                                 "jsonPath": ".metadata.creationTimestamp"}]}),
    ]


# ---------------------------------------------------------------- selectors

class Selector:
    """A label selector: =, ==, !=, in (...), notin (...), key, !key."""

    def __init__(self, text):
        self.reqs = []
        text = (text or "").strip()
        if not text:
            return
        for part in split_selector(text):
            part = part.strip()
            m = re.match(r"^(!?)\s*([A-Za-z0-9][-A-Za-z0-9_./]*)\s*$", part)
            if m:
                self.reqs.append(("!" if m.group(1) else "exists", m.group(2), None))
                continue
            m = re.match(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)\s+(in|notin)\s*\((.*)\)\s*$", part)
            if m:
                vals = set(v.strip() for v in m.group(3).split(",") if v.strip() != "")
                self.reqs.append((m.group(2), m.group(1), vals))
                continue
            m = re.match(r"^([A-Za-z0-9][-A-Za-z0-9_./]*)\s*(==|!=|=)\s*([-A-Za-z0-9_.]*)\s*$",
                         part)
            if m:
                op = "!=" if m.group(2) == "!=" else "="
                self.reqs.append((op, m.group(1), m.group(3)))
                continue
            raise ApiError(400, "BadRequest",
                           "unable to parse requirement: invalid label selector: %r" % part)

    def matches(self, labels):
        labels = labels or {}
        for op, key, val in self.reqs:
            have = key in labels
            v = labels.get(key)
            if op == "exists" and not have:
                return False
            if op == "!" and have:
                return False
            if op == "=" and v != val:
                return False
            if op == "!=" and v == val:
                return False
            if op == "in" and (not have or v not in val):
                return False
            if op == "notin" and have and v in val:
                return False
        return True


def split_selector(text):
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def jsonpath_get(obj, path):
    """The dotted subset of JSONPath printer columns and field selectors use."""
    cur = obj
    for tok in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", path or ""):
        if tok[0]:
            if not isinstance(cur, dict) or tok[0] not in cur:
                return None
            cur = cur[tok[0]]
        else:
            i = int(tok[1])
            if not isinstance(cur, list) or i >= len(cur):
                return None
            cur = cur[i]
    return cur


class FieldSelector:
    def __init__(self, text, rt):
        self.reqs = []
        text = (text or "").strip()
        if not text:
            return
        allowed = {"metadata.name", "metadata.namespace"} | rt.fields
        for part in text.split(","):
            m = re.match(r"^\s*([A-Za-z.]+)\s*(==|!=|=)\s*(.*?)\s*$", part)
            if not m:
                raise ApiError(400, "BadRequest", "invalid selector: '%s'; can't understand '%s'"
                               % (text, part))
            if m.group(1) not in allowed:
                raise ApiError(400, "BadRequest", "field label not supported: %s" % m.group(1))
            self.reqs.append((m.group(1), m.group(2) != "!=", m.group(3)))

    def matches(self, obj):
        for field, eq, val in self.reqs:
            v = jsonpath_get(obj, "." + field)
            v = "" if v is None else str(v)
            if (v == val) != eq:
                return False
        return True


# ---------------------------------------------------------------- patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def strip_directives(patch):
    """Strategic merge patch is treated as merge patch; its $directives are dropped."""
    if isinstance(patch, dict):
        return {k: strip_directives(v) for k, v in patch.items() if not k.startswith("$")}
    if isinstance(patch, list):
        return [strip_directives(v) for v in patch if not (isinstance(v, dict) and "$patch" in v)]
    return patch


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise ValueError("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def json_patch(doc, ops):
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    doc = json.loads(json.dumps(doc))
    if not isinstance(ops, list):
        raise ValueError("a JSON patch must be a list of operations")

    def parent(d, toks):
        for t in toks[:-1]:
            d = d[int(t)] if isinstance(d, list) else d[t]
        return d

    def get(d, toks):
        for t in toks:
            d = d[int(t)] if isinstance(d, list) else d[t]
        return d

    def add(d, toks, val):
        if not toks:
            return val
        p, last = parent(d, toks), toks[-1]
        if isinstance(p, list):
            p.insert(len(p) if last == "-" else int(last), val)
        else:
            p[last] = val
        return d

    def remove(d, toks):
        p, last = parent(d, toks), toks[-1]
        if isinstance(p, list):
            return p.pop(int(last))
        return p.pop(last)

    for op in ops:
        kind, toks = op.get("op"), _ptr(op.get("path", ""))
        try:
            if kind == "add":
                doc = add(doc, toks, op["value"])
            elif kind == "remove":
                remove(doc, toks)
            elif kind == "replace":
                get(doc, toks)
                if toks:
                    remove(doc, toks)
                doc = add(doc, toks, op["value"])
            elif kind in ("move", "copy"):
                src = _ptr(op["from"])
                val = get(doc, src)
                if kind == "move":
                    remove(doc, src)
                else:
                    val = json.loads(json.dumps(val))
                doc = add(doc, toks, val)
            elif kind == "test":
                if get(doc, toks) != op.get("value"):
                    raise ValueError("testing value %s failed" % op.get("path"))
            else:
                raise ValueError("unexpected kind of operation %r" % kind)
        except (KeyError, IndexError, TypeError) as e:
            raise ValueError("the server rejected our request: %s %s: %r" % (kind, op.get("path"), e))
    return doc


# ---------------------------------------------------------------- typed kinds

RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"
MICRO_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})"
                      r"(Z|([+-])(\d{2}):(\d{2}))$")
LEASE_STRATEGIES = ("OldestEmulationVersion",)


def micro_time(s):
    """A metav1.MicroTime as the real server reads and writes it: exactly RFC3339Micro in
    (six fractional digits, Z or an offset), UTC with six digits out. None when unparsable."""
    m = MICRO_RE.match(s)
    if not m:
        return None
    try:
        t = datetime.datetime(int(m.group(1)), int(m.group(2)), int(m.group(3)),
                              int(m.group(4)), int(m.group(5)), int(m.group(6)),
                              int(m.group(7)))
        if m.group(9):
            hh, mm = int(m.group(10)), int(m.group(11))
            if hh > 24 or mm > 60:
                return None
            off = datetime.timedelta(hours=hh, minutes=mm)
            t = t - off if m.group(9) == "+" else t + off
    except (ValueError, OverflowError):
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%06dZ" % t.microsecond


def decode_lease(obj):
    """A Lease decoded into its Go type and encoded back, as the real server does before
    anything else: wrong JSON types and malformed MicroTimes are 400 BadRequest, unknown
    fields dropped, nulls absent, times normalized to UTC."""
    def bad(what):
        raise ApiError(400, "BadRequest", "Lease in version \"v1\" cannot be handled as a "
                       "Lease: " + what)

    def go_type(v):
        return {str: "string", bool: "bool", list: "array", dict: "object"}.get(
            type(v), "number")

    for k in [k for k in obj if k not in ("apiVersion", "kind", "metadata", "spec")]:
        del obj[k]
    spec = obj.get("spec")
    if spec is None:
        obj.pop("spec", None)
        return
    if not isinstance(spec, dict):
        bad("json: cannot unmarshal %s into Go struct field Lease.spec of type v1.LeaseSpec"
            % go_type(spec))
    out = {}
    for k, v in spec.items():
        if v is None:
            continue
        if k in ("holderIdentity", "strategy", "preferredHolder"):
            if not isinstance(v, str):
                bad("json: cannot unmarshal %s into Go struct field LeaseSpec.spec.%s of type "
                    "string" % (go_type(v), k))
            out[k] = v
        elif k in ("leaseDurationSeconds", "leaseTransitions"):
            if isinstance(v, bool) or not isinstance(v, int) or not -2**31 <= v < 2**31:
                bad("json: cannot unmarshal %s into Go struct field LeaseSpec.spec.%s of type "
                    "int32" % (go_type(v) if not isinstance(v, int) or isinstance(v, bool)
                               else "number %d" % v, k))
            out[k] = v
        elif k in ("acquireTime", "renewTime"):
            if not isinstance(v, str):
                bad("json: cannot unmarshal %s into Go value of type string" % go_type(v))
            t = micro_time(v)
            if t is None:
                bad("parsing time %s as \"%s\": cannot parse it as RFC3339Micro"
                    % (json.dumps(v), RFC3339_MICRO))
            out[k] = t
    obj["spec"] = out


def lease_problems(obj):
    """pkg/apis/coordination/validation ValidateLeaseSpec: 422 causes."""
    spec, causes = obj.get("spec") or {}, []

    def bad(reason, field, msg):
        causes.append({"reason": reason, "message": msg, "field": "spec." + field})

    d, t = spec.get("leaseDurationSeconds"), spec.get("leaseTransitions")
    if d is not None and d <= 0:
        bad("FieldValueInvalid", "leaseDurationSeconds",
            "Invalid value: %d: must be greater than 0" % d)
    if t is not None and t < 0:
        bad("FieldValueInvalid", "leaseTransitions",
            "Invalid value: %d: must be greater than or equal to 0" % t)
    st = spec.get("strategy")
    if st is not None and not ("/" in st and QUALIFIED_NAME.match(st.split("/", 1)[1] or "")
                               or st in LEASE_STRATEGIES):
        bad("FieldValueNotSupported", "strategy", "Unsupported value: \"%s\": supported values: "
            "\"OldestEmulationVersion\"" % st)
    if spec.get("preferredHolder") and not st:
        bad("FieldValueForbidden", "preferredHolder",
            "Forbidden: may only be specified if `strategy` is defined")
    return causes


# ---------------------------------------------------------------- custom resource schemas

DATE_TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$")


def json_type(v):
    """The OpenAPI type name of a decoded JSON value, as kube-openapi's validator names it
    (a float with an integral value counts as an integer, as Go's JSON decoding gives it)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer()):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    return "object"


def go_value(v):
    """A value as field.Error prints it: strings quoted, numbers bare."""
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return "%d" % v
    return json.dumps(v) if isinstance(v, (list, dict)) else str(v)


def date_time_ok(s):
    """strfmt.DateTime as the structural schema's format date-time parses it."""
    if not DATE_TIME_RE.match(s):
        return False
    try:
        datetime.datetime.strptime(s[:19].replace("t", "T"), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return False
    return True


def schema_prune(v, s, path, pruned):
    """Drop the fields the structural schema s does not declare (apiextensions' pruning),
    unless x-kubernetes-preserve-unknown-fields keeps them; pruned gets their paths."""
    if not isinstance(s, dict):
        return
    if isinstance(v, dict):
        props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
        addl = s.get("additionalProperties")
        keep = s.get("x-kubernetes-preserve-unknown-fields") is True or addl is True
        for k in list(v):
            sub = path + "." + k if path else k
            if k in props:
                schema_prune(v[k], props[k], sub, pruned)
            elif isinstance(addl, dict):
                schema_prune(v[k], addl, sub, pruned)
            elif not keep:
                del v[k]
                pruned.append(sub)
    elif isinstance(v, list) and isinstance(s.get("items"), dict):
        for i, x in enumerate(v):
            schema_prune(x, s["items"], "%s[%d]" % (path, i), pruned)


def schema_validate(v, s, path, causes):
    """The subset of OpenAPI v3 validation a CRD's structural schema uses (type, nullable,
    enum, required, properties, additionalProperties, items, min/maxLength, pattern, format
    date-time, minimum/maximum, min/maxItems), with the causes the real server reports."""
    if not isinstance(s, dict):
        return

    def bad(reason, msg):
        causes.append({"reason": reason, "message": msg, "field": path})

    t = s.get("type")
    if v is None:
        if t and not s.get("nullable"):
            bad("FieldValueTypeInvalid", "Invalid value: \"null\": %s in body must be of type %s: "
                "\"null\"" % (path, t))
        return
    have = json_type(v)
    if t and not (have == t or (t == "number" and have == "integer")):
        bad("FieldValueTypeInvalid", "Invalid value: \"%s\": %s in body must be of type %s: \"%s\""
            % (have, path, t, have))
        return
    if isinstance(s.get("enum"), list) and not any(
            json_type(e) == have and e == v for e in s["enum"]):
        bad("FieldValueNotSupported", "Unsupported value: %s: supported values: %s"
            % (go_value(v), ", ".join(go_value(e) for e in s["enum"])))
    if isinstance(v, str):
        if isinstance(s.get("maxLength"), int) and len(v) > s["maxLength"]:
            bad("FieldValueTooLong", "Too long: may not be longer than %d" % s["maxLength"])
        if isinstance(s.get("minLength"), int) and len(v) < s["minLength"]:
            bad("FieldValueInvalid", "Invalid value: %s: %s in body should be at least %d chars long"
                % (go_value(v), path, s["minLength"]))
        if isinstance(s.get("pattern"), str) and not re.search(s["pattern"], v):
            bad("FieldValueInvalid", "Invalid value: %s: %s in body should match '%s'"
                % (go_value(v), path, s["pattern"]))
        if s.get("format") == "date-time" and not date_time_ok(v):
            bad("FieldValueInvalid", "Invalid value: %s: %s in body must be of type date-time: %s"
                % (go_value(v), path, go_value(v)))
    if have in ("integer", "number"):
        lo, hi = s.get("minimum"), s.get("maximum")
        if isinstance(lo, (int, float)) and (v < lo or (s.get("exclusiveMinimum") and v == lo)):
            bad("FieldValueInvalid", "Invalid value: %s: %s in body should be greater than %s%s"
                % (go_value(v), path, "" if s.get("exclusiveMinimum") else "or equal to ",
                   go_value(lo)))
        if isinstance(hi, (int, float)) and (v > hi or (s.get("exclusiveMaximum") and v == hi)):
            bad("FieldValueInvalid", "Invalid value: %s: %s in body should be less than %s%s"
                % (go_value(v), path, "" if s.get("exclusiveMaximum") else "or equal to ",
                   go_value(hi)))
    if isinstance(v, dict):
        props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
        for k in s.get("required") or []:
            if k not in v:
                causes.append({"reason": "FieldValueRequired", "message": "Required value",
                               "field": path + "." + k if path else k})
        for k, x in v.items():
            sub = path + "." + k if path else k
            if k in props:
                schema_validate(x, props[k], sub, causes)
            elif isinstance(s.get("additionalProperties"), dict):
                schema_validate(x, s["additionalProperties"], sub, causes)
    if isinstance(v, list):
        if isinstance(s.get("maxItems"), int) and len(v) > s["maxItems"]:
            bad("FieldValueTooMany", "Too many: %d: must have at most %d items" % (len(v), s["maxItems"]))
        if isinstance(s.get("minItems"), int) and len(v) < s["minItems"]:
            bad("FieldValueInvalid", "Invalid value: %d: %s in body should have at least %d items"
                % (len(v), path, s["minItems"]))
        if isinstance(s.get("items"), dict):
            for i, x in enumerate(v):
                schema_validate(x, s["items"], "%s[%d]" % (path, i), causes)


def custom_resource_problems(obj, schema):
    """Prune obj in place by its CRD version's openAPIV3Schema, then validate it: the causes
    of a 422. apiVersion, kind and metadata are the server's (never pruned here)."""
    if not isinstance(schema, dict):
        return []
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    pruned = []
    schema_prune(body, schema, "", pruned)
    for k in [k for k in obj if k not in ("apiVersion", "kind", "metadata") and k not in body]:
        del obj[k]
    for k, v in body.items():
        obj[k] = v
    causes = []
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for k in schema.get("required") or []:
        if k not in obj and k not in ("apiVersion", "kind", "metadata"):
            causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": k})
    for k, v in body.items():
        if k in props:
            schema_validate(v, props[k], k, causes)
    return causes


# ---------------------------------------------------------------- the store

class Store:
    def __init__(self, bookmark_interval, namespaces):
        self.cond = threading.Condition(threading.RLock())
        self.rv = 0
        self.compacted = 0
        self.bookmark_interval = bookmark_interval
        self.types = {}     # (group, version, plural) -> ResType
        self.by_key = {}    # (group, plural) -> ResType
        self.objects = {}   # (group, plural) -> {(ns, name): obj}
        self.hist = []      # [(rv, (group, plural), type, obj, prev)]
        self.hist_rv = []
        self.stopping = False
        self.initial_ns = list(namespaces)
        self.reset_store()

    # ---- registry
    def register(self, rt):
        for (g, v, p), old in list(self.types.items()):
            if (g, p) == rt.key:
                del self.types[(g, v, p)]
        for v in rt.versions:
            self.types[(rt.group, v, rt.plural)] = rt
        self.by_key[rt.key] = rt
        self.objects.setdefault(rt.key, {})

    def unregister(self, key):
        for k in [k for k, t in self.types.items() if t.key == key]:
            del self.types[k]
        self.by_key.pop(key, None)
        self.objects.pop(key, None)

    def reset_store(self):
        with self.cond:
            self.types, self.by_key, self.objects = {}, {}, {}
            self.hist, self.hist_rv = [], []
            for rt in builtin_types():
                self.register(rt)
            ns_rt = self.by_key[("", "namespaces")]
            for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] + self.initial_ns:
                if ("", ns) not in self.objects[ns_rt.key]:
                    self.create(ns_rt, "v1", None, {"metadata": {"name": ns}})
            self.cond.notify_all()

    def next_rv(self):
        self.rv += 1
        return self.rv

    def record(self, rt, etype, obj, prev):
        rv = int(obj["metadata"]["resourceVersion"])
        self.hist.append((rv, rt.key, etype, obj, prev))
        self.hist_rv.append(rv)
        if len(self.hist) > HISTORY_MAX:
            cut = len(self.hist) - HISTORY_MAX // 2
            self.compacted = max(self.compacted, self.hist_rv[cut - 1])
            del self.hist[:cut]
            del self.hist_rv[:cut]
        self.cond.notify_all()

    def compact(self, upto=None):
        with self.cond:
            upto = self.rv if upto is None else min(int(upto), self.rv)
            self.compacted = max(self.compacted, upto)
            cut = bisect_right(self.hist_rv, self.compacted)
            del self.hist[:cut]
            del self.hist_rv[:cut]
            self.cond.notify_all()
            return self.compacted

    # ---- validation and defaults
    def _check_body(self, rt, version, ns, obj, name=None, creating=False):
        if not isinstance(obj, dict):
            raise ApiError(400, "BadRequest", "the object provided is unrecognized (must be a JSON object)")
        want_av = rt.api_version(version)
        av, kind = obj.get("apiVersion"), obj.get("kind")
        if rt.crd and (not kind or not av):
            raise ApiError(400, "BadRequest", "Object 'Kind' is missing in '%s'" %
                           json.dumps(obj)[:200] if not kind else
                           "Object 'apiVersion' is missing in '%s'" % json.dumps(obj)[:200])
        if kind and kind != rt.kind:
            raise ApiError(400, "BadRequest", "%s in version \"%s\" cannot be handled as a %s: "
                           "no kind \"%s\" is registered for version \"%s\"" %
                           (kind, (av or "").split("/")[-1], rt.kind, kind, av))
        if av and av != want_av:
            avg = av.split("/")[0] if "/" in av else ""
            if avg != rt.group or av.split("/")[-1] not in rt.versions:
                raise ApiError(400, "BadRequest", "the API version in the data (%s) does not match "
                               "the expected API version (%s)" % (av, want_av))
        md = obj.get("metadata")
        if md is None:
            md = obj["metadata"] = {}
        if not isinstance(md, dict):
            raise ApiError(400, "BadRequest", "metadata must be an object")
        if rt.namespaced:
            bns = md.get("namespace")
            if bns and bns != ns:
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not "
                               "match the namespace sent on the request")
            md["namespace"] = ns
        else:
            md.pop("namespace", None)
        if name is not None and md.get("name") and md["name"] != name:
            raise ApiError(400, "BadRequest", "the name of the object (%s) does not match the "
                           "name on the URL (%s)" % (md["name"], name))
        if name is not None and not md.get("name"):
            md["name"] = name
        if creating and not md.get("name") and md.get("generateName"):
            alphabet = "bcdfghjklmnpqrstvwxz2456789"
            md["name"] = md["generateName"][:58] + "".join(random.choice(alphabet) for _ in range(5))
        obj["apiVersion"] = want_av
        obj["kind"] = rt.kind
        if rt.key == ("coordination.k8s.io", "leases"):
            decode_lease(obj)
        extra = []
        if rt.crd:
            # As apiextensions-apiserver: undeclared fields are pruned when the object is
            # decoded, then the structural schema validates what is left (422 with causes).
            extra = custom_resource_problems(obj, rt.schemas.get(version))
        self._validate(rt, obj, extra)
        return md

    def _invalid(self, rt, name, causes):
        msg = "%s \"%s\" is invalid: %s" % (rt.kind_qualified(), name,
                                            "; ".join("%s: %s" % (c["field"], c["message"]) for c in causes))
        if len(causes) > 1:
            msg = "%s \"%s\" is invalid: [%s]" % (rt.kind_qualified(), name, ", ".join(
                "%s: %s" % (c["field"], c["message"]) for c in causes))
        det = {"name": name}
        if rt.group:
            det["group"] = rt.group
        det["kind"] = rt.kind
        det["causes"] = causes
        raise ApiError(422, "Invalid", msg, det)

    def _validate(self, rt, obj, extra=()):
        md, causes = obj["metadata"], list(extra)
        name = md.get("name")
        if not name:
            causes.append({"reason": "FieldValueRequired", "message":
                           "Required value: name or generateName is required", "field": "metadata.name"})
        elif not isinstance(name, str):
            causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: name must be a string",
                           "field": "metadata.name"})
        elif rt.plural == "namespaces":
            if len(name) > 63 or not DNS1123_LABEL.match(name):
                causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: \"%s\": %s"
                               % (name, LABEL_MSG), "field": "metadata.name"})
        elif rt.plural == "customresourcedefinitions":
            pass
        elif len(name) > 253 or not DNS1123_SUB.match(name):
            causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: \"%s\": %s"
                           % (name, SUB_MSG), "field": "metadata.name"})
        labels = md.get("labels")
        if labels is not None and not isinstance(labels, dict):
            causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: labels must be a map",
                           "field": "metadata.labels"})
        for k, v in (labels or {}).items():
            prefix, _, nm = k.rpartition("/")
            if (prefix and (len(prefix) > 253 or not DNS1123_SUB.match(prefix))) or \
                    len(nm) > 63 or not QUALIFIED_NAME.match(nm):
                causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: \"%s\": "
                               "name part must consist of alphanumeric characters, '-', '_' or '.'" % k,
                               "field": "metadata.labels"})
            if not isinstance(v, str) or len(v) > 63 or not LABEL_VALUE.match(v):
                causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: \"%s\": %s"
                               % (v, LVAL_MSG if isinstance(v, str) and len(v) <= 63 else
                                  "must be no more than 63 characters"),
                               "field": "metadata.labels"})
        ann = md.get("annotations")
        if ann is not None and (not isinstance(ann, dict) or
                                any(not isinstance(v, str) for v in ann.values())):
            causes.append({"reason": "FieldValueInvalid", "message": "Invalid value: annotations "
                           "must be a map of strings", "field": "metadata.annotations"})
        if rt.plural == "customresourcedefinitions" and not causes:
            causes.extend(crd_problems(obj))
        if rt.key == ("coordination.k8s.io", "leases"):
            causes.extend(lease_problems(obj))
        if causes:
            self._invalid(rt, name if isinstance(name, str) else "", causes)

    def _objs(self, rt):
        if self.by_key.get(rt.key) is not rt:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return self.objects[rt.key]

    def _require_ns(self, rt, ns):
        if rt.namespaced and ("", ns) not in self.objects[("", "namespaces")]:
            raise ApiError(404, "NotFound", "namespaces \"%s\" not found" % ns,
                           {"name": ns, "kind": "namespaces"})

    # ---- verbs (callers hold no lock)
    def get(self, rt, ns, name):
        with self.cond:
            obj = self._objs(rt).get((ns or "", name))
            if obj is None:
                raise ApiError(404, "NotFound", "%s \"%s\" not found" % (rt.qualified(), name),
                               rt.details(name))
            return obj

    def create(self, rt, version, ns, obj, dry=False, on_update=False):
        with self.cond:
            md = self._check_body(rt, version, ns, obj, creating=True)
            self._require_ns(rt, ns)
            key = (ns or "", md["name"])
            # The etcd3 storage refuses a create that carries a resourceVersion with a plain
            # error, which the handler answers as 500 with no reason (k8s.io/apiserver
            # storage/etcd3 store.Create). "0" and unparsable values pass and are cleared. A PUT
            # that creates (AllowCreateOnUpdate) goes through GuaranteedUpdate instead.
            rvs = md.get("resourceVersion")
            if not on_update and isinstance(rvs, str) and rvs.isdigit() and int(rvs) != 0:
                raise ApiError(500, "", "resourceVersion should not be set on objects to be created")
            if key in self._objs(rt):
                raise ApiError(409, "AlreadyExists", "%s \"%s\" already exists" %
                               (rt.qualified(), md["name"]), rt.details(md["name"]))
            for f in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "selfLink", "managedFields"):
                md.pop(f, None)
            md["uid"] = str(uuid.uuid4())
            md["creationTimestamp"] = now_rfc3339()
            if rt.generation or rt.crd:
                md["generation"] = 1
            else:
                md.pop("generation", None)
            if rt.status:
                obj.pop("status", None)
            if rt.plural == "namespaces":
                obj.setdefault("spec", {"finalizers": ["kubernetes"]})
                obj["status"] = {"phase": "Active"}
            elif rt.plural == "pods":
                obj["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
            elif rt.plural == "customresourcedefinitions":
                obj["status"] = crd_status(obj)
            if dry:
                md["resourceVersion"] = str(self.rv)
                return obj
            md["resourceVersion"] = str(self.next_rv())
            self.objects[rt.key][key] = obj
            self.record(rt, "ADDED", obj, None)
            if rt.plural == "customresourcedefinitions":
                self.register_crd(obj)
            return obj

    def update(self, rt, version, ns, name, obj, sub=None, dry=False):
        """Returns (object, created)."""
        with self.cond:
            old = self._objs(rt).get((ns or "", name))
            if old is None and rt.create_on_update and sub is None:
                # AllowCreateOnUpdate (leases): a PUT to a missing name creates it;
                # a resourceVersion in the body is no precondition then.
                self._check_body(rt, version, ns, obj, name=name)
                return self.create(rt, version, ns, obj, dry, on_update=True), True
            if old is None:
                raise ApiError(404, "NotFound", "%s \"%s\" not found" % (rt.qualified(), name),
                               rt.details(name))
            md = self._check_body(rt, version, ns, obj, name=name)
            want = md.get("resourceVersion")
            if not want and not rt.unconditional_update:
                det = {"name": name, "kind": rt.plural,
                       "causes": [{"reason": "FieldValueInvalid", "message":
                                   "Invalid value: 0x0: must be specified for an update",
                                   "field": "metadata.resourceVersion"}]}
                if rt.group:
                    det["group"] = rt.group
                raise ApiError(422, "Invalid", "%s \"%s\" is invalid: metadata.resourceVersion: "
                               "Invalid value: 0x0: must be specified for an update"
                               % (rt.qualified(), name), det)
            if want and want != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": the "
                               "object has been modified; please apply your changes to the latest "
                               "version and try again" % (rt.qualified(), name), rt.details(name))
            return self._commit(rt, ns, name, old, obj, sub, dry), False

    def patch(self, rt, version, ns, name, ctype, patch, sub=None, dry=False):
        with self.cond:
            old = self._objs(rt).get((ns or "", name))
            if old is None:
                raise ApiError(404, "NotFound", "%s \"%s\" not found" % (rt.qualified(), name),
                               rt.details(name))
            cur = json.loads(json.dumps(old))
            cur["apiVersion"] = rt.api_version(version)
            try:
                if ctype == "application/json-patch+json":
                    new = json_patch(cur, patch)
                elif ctype == "application/strategic-merge-patch+json":
                    if rt.crd:
                        raise ApiError(415, "UnsupportedMediaType", "the body of the request was in "
                                       "an unknown format - accepted media types include: "
                                       "application/json-patch+json, application/merge-patch+json, "
                                       "application/apply-patch+yaml")
                    if not isinstance(patch, dict):
                        raise ValueError("a strategic merge patch must be a JSON object")
                    new = merge_patch(cur, strip_directives(patch))
                else:
                    if not isinstance(patch, dict):
                        raise ValueError("a merge patch must be a JSON object")
                    new = merge_patch(cur, patch)
            except ValueError as e:
                raise ApiError(422 if ctype == "application/json-patch+json" else 400,
                               "Invalid" if ctype == "application/json-patch+json" else "BadRequest",
                               str(e))
            if not isinstance(new, dict):
                raise ApiError(400, "BadRequest", "the patch did not produce an object")
            md = self._check_body(rt, version, ns, new, name=name)
            want = md.get("resourceVersion")
            if want and want != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": the "
                               "object has been modified; please apply your changes to the latest "
                               "version and try again" % (rt.qualified(), name), rt.details(name))
            return self._commit(rt, ns, name, old, new, sub, dry)

    def _commit(self, rt, ns, name, old, new, sub, dry):
        omd, md = old["metadata"], new["metadata"]
        if sub == "status":
            # Only status changes through the status subresource.
            res = dict(old)
            if "status" in new:
                res["status"] = new["status"]
            else:
                res.pop("status", None)
            res["metadata"] = dict(omd)
        else:
            res = new
            if rt.status:
                if "status" in old:
                    res["status"] = old["status"]
                else:
                    res.pop("status", None)
            md = dict(md)
            for f in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                      "generation", "namespace"):
                if f in omd:
                    md[f] = omd[f]
                else:
                    md.pop(f, None)
            md.pop("selfLink", None)
            res["metadata"] = md
        res["metadata"]["resourceVersion"] = omd["resourceVersion"]
        res["apiVersion"] = old["apiVersion"]
        if res == old:
            return old      # a no-op update writes nothing, as the real server
        if sub != "status" and (rt.generation or rt.crd):
            strip = lambda o: {k: v for k, v in o.items()  # noqa: E731
                               if k not in ("metadata", "status", "apiVersion", "kind")}
            if strip(res) != strip(old):
                res["metadata"]["generation"] = omd.get("generation", 1) + 1
        if rt.plural == "customresourcedefinitions":
            res["status"] = crd_status(res)
            self._validate(rt, res)
        if dry:
            return res
        res["metadata"]["resourceVersion"] = str(self.next_rv())
        key = (ns or "", name)
        if res["metadata"].get("deletionTimestamp") and not res["metadata"].get("finalizers"):
            del self.objects[rt.key][key]
            self.record(rt, "DELETED", res, old)
            self._after_delete(rt, res)
            return res
        self.objects[rt.key][key] = res
        self.record(rt, "MODIFIED", res, old)
        if rt.plural == "customresourcedefinitions":
            self.register_crd(res)
        return res

    def delete(self, rt, ns, name, opts, dry=False):
        """Returns (http status, object)."""
        with self.cond:
            key = (ns or "", name)
            old = self._objs(rt).get(key)
            if old is None:
                raise ApiError(404, "NotFound", "%s \"%s\" not found" % (rt.qualified(), name),
                               rt.details(name))
            pre = (opts or {}).get("preconditions") or {}
            omd = old["metadata"]
            if pre.get("uid") and pre["uid"] != omd["uid"]:
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": "
                               "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                               % (rt.qualified(), name, pre["uid"], omd["uid"]), rt.details(name))
            if pre.get("resourceVersion") and pre["resourceVersion"] != omd["resourceVersion"]:
                raise ApiError(409, "Conflict", "Operation cannot be fulfilled on %s \"%s\": "
                               "Precondition failed: ResourceVersion in precondition: %s, "
                               "ResourceVersion in object meta: %s" % (rt.qualified(), name,
                               pre["resourceVersion"], omd["resourceVersion"]), rt.details(name))
            if dry:
                return 200, old
            if omd.get("finalizers"):
                if omd.get("deletionTimestamp"):
                    return 202, old
                res = dict(old, metadata=dict(omd, deletionTimestamp=now_rfc3339(),
                                              deletionGracePeriodSeconds=0))
                res["metadata"]["resourceVersion"] = str(self.next_rv())
                self.objects[rt.key][key] = res
                self.record(rt, "MODIFIED", res, old)
                return 202, res
            return 200, self._delete_one(rt, key, old)

    def _delete_one(self, rt, key, old):
        res = dict(old, metadata=dict(old["metadata"]))
        res["metadata"]["resourceVersion"] = str(self.next_rv())
        del self.objects[rt.key][key]
        self.record(rt, "DELETED", res, old)
        self._after_delete(rt, res)
        return res

    def _after_delete(self, rt, obj):
        if rt.plural == "namespaces":
            # The namespace controller's work, done at once.
            ns = obj["metadata"]["name"]
            for k, objs in list(self.objects.items()):
                t = self.by_key.get(k)
                if t and t.namespaced:
                    for okey in [okey for okey in objs if okey[0] == ns]:
                        self._delete_one(t, okey, objs[okey])
        elif rt.plural == "customresourcedefinitions":
            spec = obj.get("spec", {})
            key = (spec.get("group"), (spec.get("names") or {}).get("plural"))
            t = self.by_key.get(key)
            if t and t.crd:
                for okey, o in list(self.objects.get(key, {}).items()):
                    self._delete_one(t, okey, o)
                self.unregister(key)

    def register_crd(self, crd):
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        served = [v for v in spec.get("versions", []) if v.get("served", True)]
        if not served:
            self.unregister((spec.get("group"), names.get("plural")))
            return
        rt = ResType(spec["group"], [v["name"] for v in served], names["plural"],
                     names.get("singular") or names["plural"], names["kind"],
                     spec.get("scope", "Namespaced") == "Namespaced", names.get("shortNames", ()),
                     status=any("status" in (v.get("subresources") or {}) for v in served),
                     columns={v["name"]: v.get("additionalPrinterColumns") or
                              [{"name": "Age", "type": "date",
                                "jsonPath": ".metadata.creationTimestamp"}] for v in served},
                     categories=names.get("categories", ()), crd=crd["metadata"]["name"],
                     unconditional_update=False)
        # The custom resource strategy: AllowUnconditionalUpdate is false, so a PUT without
        # metadata.resourceVersion is 422; each served version validates by its own schema.
        rt.schemas = {v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") for v in served}
        if names.get("listKind"):
            rt.list_kind = names["listKind"]
        self.register(rt)

    # ---- list
    def list_source(self, q):
        """Where kube-apiserver 1.24-1.30 serves a LIST from (the cacher's shouldDelegateList):
        "etcd" for a consistent read (no resourceVersion), a continue token, a limit with a
        resourceVersion other than "0", or resourceVersionMatch=Exact; else "cache" (the watch
        cache: resourceVersion "0", or N with NotOlderThan or legacy any-version semantics).
        Validates the combination as ValidateListOptions does (422)."""
        rv, match, cont = q.get("resourceVersion", ""), q.get("resourceVersionMatch", ""), \
            q.get("continue", "")
        causes = []
        if match not in ("", "NotOlderThan", "Exact"):
            causes.append(("resourceVersionMatch", "Unsupported value: \"%s\": supported values: "
                           "\"Exact\", \"NotOlderThan\"" % match))
        elif match and rv == "":
            causes.append(("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden "
                           "unless resourceVersion is provided"))
        elif match and cont:
            causes.append(("resourceVersionMatch", "Forbidden: resourceVersionMatch is forbidden "
                           "when continue is provided"))
        elif match == "Exact" and rv == "0":
            causes.append(("resourceVersionMatch", "Forbidden: resourceVersionMatch \"exact\" is "
                           "forbidden for resourceVersion \"0\""))
        if causes:
            raise ApiError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: " + "; ".join(
                "%s: %s" % c for c in causes), {"group": "meta.k8s.io", "kind": "ListOptions",
                "causes": [{"reason": "FieldValueForbidden", "message": m, "field": f}
                           for f, m in causes]})
        if rv not in ("", "0") and not rv.isdigit():
            raise ApiError(400, "BadRequest", "invalid resource version: %s" % rv)
        if cont and rv not in ("", "0"):
            raise ApiError(400, "BadRequest", "specifying resource version is not allowed when "
                           "using continue")
        try:
            limit = int(q.get("limit") or 0)
        except ValueError:
            raise ApiError(400, "BadRequest", "invalid limit %r" % q.get("limit"))
        if rv == "" or cont or (limit > 0 and rv != "0") or match == "Exact":
            return "etcd"
        return "cache"

    def list(self, rt, ns, q):
        """(list metadata, items, cost): cost is (source, objects read). From etcd the
        apiserver reads and decodes every object of the range (the resource in ns) from the
        start key until `limit` items matched, filtering afterwards; from the watch cache it
        filters decoded objects in memory and reads (serializes) only what matches."""
        lsel = Selector(q.get("labelSelector"))
        fsel = FieldSelector(q.get("fieldSelector"), rt)
        source = self.list_source(q)
        limit = int(q.get("limit") or 0)
        rvq = q.get("resourceVersion", "")
        if source == "cache":
            limit = 0       # "limits are ignored when resource version is zero" (cacher.go)
        cont = q.get("continue")
        with self.cond:
            start, list_rv = None, self.rv
            if rvq not in ("", "0") and int(rvq) > self.rv:
                raise ApiError(504, "Timeout", "Too large resource version: %s, current: %d"
                               % (rvq, self.rv), {"causes": [{"reason": "ResourceVersionTooLarge",
                                                   "message": "Too large resource version"}],
                                                   "retryAfterSeconds": 1})
            if source == "etcd" and rvq not in ("", "0") and int(rvq) < self.compacted:
                raise ApiError(410, "Expired", "The resourceVersion for the provided list is too old.")
            if cont:
                try:
                    tok = json.loads(base64.b64decode(cont, validate=False) or b"{}")
                    start, list_rv = tok["start"], int(tok["rv"])
                    if tok.get("v") != "meta.k8s.io/v1" or not isinstance(start, str):
                        raise ValueError
                except (ValueError, KeyError, TypeError, binascii.Error):
                    raise ApiError(400, "BadRequest", "continue key is not valid: incorrect "
                                   "encoded start resourceVersion (version meta.k8s.io/v1)")
                if list_rv < self.compacted:
                    raise ApiError(410, "Expired", CONTINUE_TOO_OLD)
            objs = self._objs(rt)
            # Ordered as etcd orders its keys: by the string "namespace/name".
            keys = sorted((("%s/%s" % k if rt.namespaced else k[1]), k) for k in objs
                          if ns is None or k[0] == ns)
            items, more, remaining, examined = [], False, 0, 0
            for skey, k in keys:
                if start is not None and skey + "\0" <= start:
                    continue
                if not (limit and len(items) >= limit):
                    examined += 1       # etcd stops reading once the page is full
                o = objs[k]
                if not (lsel.matches(o["metadata"].get("labels")) and fsel.matches(o)):
                    continue
                if limit and len(items) >= limit:
                    more = True
                    remaining += 1
                    continue
                items.append(o)
                last = skey
            md = {"resourceVersion": str(list_rv)}
            if more:
                md["continue"] = base64.b64encode(json.dumps(
                    {"v": "meta.k8s.io/v1", "rv": list_rv, "start": last + "\0"},
                    separators=(",", ":")).encode()).decode()
                if not lsel.reqs and not fsel.reqs:
                    md["remainingItemCount"] = remaining
            return md, items, (source, examined if source == "etcd" else len(items))

    def delete_collection(self, rt, ns, q):
        md, items, _ = self.list(rt, ns, q)
        out = []
        for o in items:
            try:
                _, d = self.delete(rt, ns if ns is not None else o["metadata"].get("namespace"),
                                   o["metadata"]["name"], None)
                out.append(d)
            except ApiError:
                pass
        return out


def crd_problems(crd):
    spec = crd.get("spec") if isinstance(crd.get("spec"), dict) else {}
    names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
    causes = []

    def bad(field, msg):
        causes.append({"reason": "FieldValueInvalid", "message": msg, "field": field})
    if not spec.get("group"):
        bad("spec.group", "Required value")
    if not names.get("plural"):
        bad("spec.names.plural", "Required value")
    if not names.get("kind"):
        bad("spec.names.kind", "Required value")
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        bad("spec.scope", "Unsupported value: %s: supported values: \"Cluster\", \"Namespaced\""
            % json.dumps(spec.get("scope")))
    vers = spec.get("versions")
    if not isinstance(vers, list) or not vers:
        bad("spec.versions", "Invalid value: must have exactly one version marked as storage version")
    else:
        if sum(1 for v in vers if isinstance(v, dict) and v.get("storage")) != 1:
            bad("spec.versions", "Invalid value: must have exactly one version marked as storage version")
        for i, v in enumerate(vers):
            if not isinstance(v, dict) or not v.get("name"):
                bad("spec.versions[%d].name" % i, "Required value")
    if spec.get("group") and names.get("plural"):
        want = "%s.%s" % (names["plural"], spec["group"])
        if crd["metadata"].get("name") != want:
            bad("metadata.name", "Invalid value: \"%s\": must be spec.names.plural+\".\"+spec.group"
                % crd["metadata"].get("name"))
    return causes


def crd_status(crd):
    spec = crd.get("spec", {})
    names = dict(spec.get("names", {}))
    names.setdefault("singular", (names.get("plural") or "").lower())
    names.setdefault("listKind", (names.get("kind") or "") + "List")
    t = now_rfc3339()
    return {"conditions": [
        {"type": "NamesAccepted", "status": "True", "lastTransitionTime": t,
         "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "lastTransitionTime": t,
         "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}],
        "acceptedNames": names,
        "storedVersions": [v.get("name") for v in spec.get("versions", [])
                           if isinstance(v, dict) and v.get("storage")]}


# ---------------------------------------------------------------- faults and stats

class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.items = []

    def add(self, spec):
        if not isinstance(spec, dict) or not isinstance(spec.get("match", ""), str):
            raise ApiError(400, "BadRequest", "a fault is an object with a \"match\" string")
        m = spec.get("match", "* .*").strip()
        method, _, path = m.partition(" ")
        try:
            rx = re.compile(path or ".*")
        except re.error as e:
            raise ApiError(400, "BadRequest", "bad regex: %s" % e)
        f = dict(spec)
        try:
            f["_qrx"] = re.compile(spec["query"]) if spec.get("query") else None
        except re.error as e:
            raise ApiError(400, "BadRequest", "bad query regex: %s" % e)
        f["_methods"] = set(x.upper() for x in method.split("|"))
        f["_rx"] = rx
        f.setdefault("count", 1)
        f["skip"] = int(f.get("skip", 0))
        f["hits"] = 0
        with self.lock:
            self.items.append(f)

    def take(self, method, path, query=""):
        with self.lock:
            for f in self.items:
                if f["count"] == 0:
                    continue
                if "*" not in f["_methods"] and method not in f["_methods"]:
                    continue
                if not f["_rx"].search(path):
                    continue
                if f["_qrx"] is not None and not f["_qrx"].search(query):
                    continue
                if f["skip"] > 0:
                    f["skip"] -= 1
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                f["hits"] += 1
                return f
        return None

    def dump(self):
        with self.lock:
            return [{k: v for k, v in f.items() if not k.startswith("_")} for f in self.items]

    def clear(self):
        with self.lock:
            self.items = []


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.clear()

    def clear(self):
        self.total, self.by_method, self.by_verb, self.by_path = 0, {}, {}, {}
        self.watches = 0
        self.status = {}
        self.connections = 0
        self.reads = {"etcd": 0, "cache": 0}
        self.lists = {"etcd": 0, "cache": 0}

    def add_read(self, source, n, is_list):
        with self.lock:
            self.reads[source] = self.reads.get(source, 0) + n
            if is_list:
                self.lists[source] = self.lists.get(source, 0) + 1

    def add(self, method, verb, path):
        with self.lock:
            self.total += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1
            if verb:
                self.by_verb[verb] = self.by_verb.get(verb, 0) + 1
            k = "%s %s" % (method, path)
            self.by_path[k] = self.by_path.get(k, 0) + 1

    def add_verb(self, verb):
        with self.lock:
            self.by_verb[verb] = self.by_verb.get(verb, 0) + 1

    def code(self, code):
        with self.lock:
            self.status[str(code)] = self.status.get(str(code), 0) + 1

    def dump(self):
        with self.lock:
            return {"total": self.total, "byMethod": dict(self.by_method),
                    "byVerb": dict(self.by_verb), "byPath": dict(self.by_path),
                    "byStatus": dict(self.status), "activeWatches": self.watches,
                    "objectsRead": dict(self.reads, total=sum(self.reads.values())),
                    "listsFrom": dict(self.lists), "connections": self.connections}


# ---------------------------------------------------------------- HTTP

class DropConnection(Exception):
    pass


def wants_table(accept):
    for part in (accept or "").split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and \
                params.get("v") in ("v1", "v1beta1"):
            return params["v"]
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "gamelan-fakeapi"
    sys_version = ""
    timeout = 300   # idle keep-alive connections

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fakeapi: %s %s\n" % (self.address_string(), fmt % args))

    # ---- plumbing
    def _send(self, code, body, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":")).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.server.stats.code(code)
        lines = ["HTTP/1.1 %d %s" % (code, self.responses.get(code, ("",))[0]),
                 "Content-Type: %s" % ctype, "Content-Length: %d" % len(body),
                 "Date: %s" % self.date_time_string(), "Cache-Control: no-cache, private",
                 "Audit-Id: %s" % uuid.uuid4()]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if self.cost is not None:
            lines.append("X-Fake-Served-From: %s" % self.cost[0])
            lines.append("X-Fake-Objects-Read: %d" % self.cost[1])
        if self.close_connection:
            lines.append("Connection: close")
        self.log_request(code, len(body))
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def _error(self, e):
        self._send(e.code, e.status(), headers=e.headers)

    cost = None

    def _read(self, source, n, lists=False):
        """The cost model: this request read n objects from etcd or from the watch cache."""
        self.cost = (source, n)
        self.server.stats.add_read(source, n, lists)

    def _read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if te == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(100)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                if len(data) + size > MAX_BODY:
                    self.close_connection = True
                    raise ApiError(413, "RequestEntityTooLarge",
                                   "Request entity too large: limit is %d" % MAX_BODY)
                data += self.rfile.read(size)
                self.rfile.readline(10)
        n = self.headers.get("Content-Length")
        if n is None:
            return b""
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "BadRequest", "bad Content-Length")
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            raise ApiError(413, "RequestEntityTooLarge",
                           "Request entity too large: limit is %d" % MAX_BODY)
        return self.rfile.read(n)

    def _json_body(self, raw):
        try:
            return json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ApiError(400, "BadRequest", "the object provided is unrecognized: "
                           "couldn't get version/kind; json parse error: %s" % e)

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_PATCH(self):
        self._dispatch("PATCH")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def _dispatch(self, method):
        srv = self.server
        self.cost = None
        url = urlsplit(self.path)
        path = re.sub(r"/+$", "", url.path) or "/"
        q = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        try:
            if path == "/fake" or path.startswith("/fake/"):
                raw = self._read_body()
                return self._fake(method, path, raw)
            raw = self._read_body()
            who = self._authenticate()
            if who == "bad" or (who == "anonymous" and not srv.anonymous):
                srv.stats.add(method, None, path)
                return self._send(401, status_obj(401, "Unauthorized", "Unauthorized"))
            if who == "anonymous" and path not in PUBLIC_PATHS:
                # --anonymous-auth (kube-apiserver's default): a request without credentials is
                # system:anonymous, whom RBAC lets read only the public-info paths: 403.
                srv.stats.add(method, None, path)
                return self._send(403, self._forbidden(method, path, q))
            verb = self._verb(method, path, q)
            srv.stats.add(method, verb, path)
            f = srv.faults.take(method, path, url.query)
            if f:
                if f.get("delayMs"):
                    time.sleep(float(f["delayMs"]) / 1000.0)
                if f.get("closeConnection"):
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if f.get("status"):
                    code = int(f["status"])
                    hdr = {}
                    if f.get("retryAfter") is not None:
                        hdr["Retry-After"] = str(f["retryAfter"])
                    if f.get("body") is not None:
                        return self._send(code, f["body"], ctype="text/plain", headers=hdr)
                    reason = f.get("reason") or REASONS.get(code, "InternalError")
                    msg = f.get("message") or ("Too many requests, please try again later."
                                               if code == 429 else "injected fault (%d)" % code)
                    det = {"retryAfterSeconds": int(f["retryAfter"])} \
                        if f.get("retryAfter") is not None else None
                    return self._send(code, status_obj(code, reason, msg, det), headers=hdr)
            self._api(method, path, q, raw, f)
        except ApiError as e:
            self._error(e)
        except DropConnection:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError, socket.timeout, ssl.SSLError, OSError):
            self.close_connection = True
        except Exception as e:  # the fake must never die of one request
            traceback.print_exc()
            try:
                self._send(500, status_obj(500, "InternalError",
                                           "Internal error occurred: %s" % e))
            except OSError:
                self.close_connection = True

    def _authenticate(self):
        """"ok" (no auth configured, a verified client certificate or a known token), "bad"
        (credentials that fail: 401 even with anonymous auth on) or "anonymous" (none)."""
        srv = self.server
        if srv.tokens is None and not srv.client_ca:
            return "ok"
        if srv.client_ca and isinstance(self.connection, ssl.SSLSocket):
            try:
                if self.connection.getpeercert():
                    return "ok"
            except ValueError:
                pass
        auth = self.headers.get("Authorization")
        if auth is None:
            return "anonymous"
        if srv.tokens and auth.startswith("Bearer ") and auth[7:].strip() in srv.tokens:
            return "ok"
        return "bad"

    def _forbidden(self, method, path, q):
        """The RBAC denial of system:anonymous, worded as the real authorizer's."""
        user = "User \"system:anonymous\""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, rest = parts[1], parts[3:]
        else:
            rest = None
        watch = bool(rest) and rest[0] == "watch"
        if watch:
            rest = rest[1:]
        ns = None
        if rest and len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest:
            return status_obj(403, "Forbidden", "forbidden: %s cannot %s path \"%s\""
                              % (user, method.lower(), path))
        plural, name = rest[0], rest[1] if len(rest) > 1 else None
        res = plural + ("/" + rest[2] if len(rest) > 2 else "")
        if watch or q.get("watch") in ("1", "true"):
            verb = "watch"
        elif method == "GET":
            verb = "get" if name else "list"
        elif method == "DELETE" and not name:
            verb = "deletecollection"
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]
        scope = "in the namespace \"%s\"" % ns if ns else "at the cluster scope"
        qual = plural + "." + group if group else plural
        what = "%s \"%s\"" % (qual, name) if name else qual
        det = {"name": name} if name else {}
        if group:
            det["group"] = group
        det["kind"] = plural
        return status_obj(403, "Forbidden", "%s is forbidden: %s cannot %s resource \"%s\" in API "
                          "group \"%s\" %s" % (what, user, verb, res, group, scope), det)

    @staticmethod
    def _verb(method, path, q):
        if method == "GET":
            if q.get("watch") in ("1", "true") or "/watch/" in path:
                return "watch"
            return None     # get or list, decided later
        return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[method]

    # ---- /fake/
    def _fake(self, method, path, raw):
        srv = self.server
        body = self._json_body(raw) if raw.strip() else {}
        if path == "/fake/faults":
            if method == "GET":
                return self._send(200, srv.faults.dump())
            if method == "DELETE":
                srv.faults.clear()
                return self._send(200, {"faults": 0})
            if method == "POST":
                for spec in body if isinstance(body, list) else [body]:
                    srv.faults.add(spec)
                return self._send(201, srv.faults.dump())
        elif path == "/fake/compact" and method == "POST":
            rv = srv.store.compact(body.get("resourceVersion") if isinstance(body, dict) else None)
            return self._send(200, {"compacted": str(rv)})
        elif path == "/fake/stats":
            if method == "GET":
                return self._send(200, srv.stats.dump())
            if method in ("DELETE", "POST"):
                with srv.stats.lock:
                    w = srv.stats.watches
                    srv.stats.clear()
                    srv.stats.watches = w
                return self._send(200, srv.stats.dump())
        elif path == "/fake/reset" and method == "POST":
            srv.faults.clear()
            with srv.stats.lock:
                w = srv.stats.watches
                srv.stats.clear()
                srv.stats.watches = w
            srv.store.reset_store()
            return self._send(200, {"resourceVersion": str(srv.store.rv)})
        elif path == "/fake/token" and method == "POST":
            if not isinstance(body, dict):
                raise ApiError(400, "BadRequest", "want {\"token\": T}")
            if "tokens" in body:
                srv.tokens = set(body["tokens"]) if body["tokens"] is not None else None
            else:
                srv.tokens = {body.get("token")} if body.get("token") else None
            return self._send(200, {"tokens": len(srv.tokens or ())})
        elif path == "/fake/config":
            if method == "POST" and isinstance(body, dict):
                if "bookmarkInterval" in body:
                    srv.store.bookmark_interval = float(body["bookmarkInterval"])
                if "watchTimeout" in body:
                    srv.watch_timeout = float(body["watchTimeout"])
            return self._send(200, {"bookmarkInterval": srv.store.bookmark_interval,
                                    "watchTimeout": srv.watch_timeout,
                                    "resourceVersion": str(srv.store.rv),
                                    "compacted": str(srv.store.compacted)})
        elif path == "/fake/healthz":
            return self._send(200, {"ok": True, "resourceVersion": str(srv.store.rv)})
        raise ApiError(404, "NotFound", "no such fake endpoint: %s %s" % (method, path))

    # ---- the API
    def _api(self, method, path, q, raw, fault):
        srv = self.server
        store = srv.store
        if method == "GET":
            if path == "/version":
                return self._send(200, K8S_VERSION)
            if path in ("/healthz", "/livez", "/readyz"):
                return self._send(200, "ok", ctype="text/plain; charset=utf-8")
            if path == "/openapi/v2":
                return self._openapi_v2()
            if path == "/api":
                host = "%s:%d" % self.server.server_address[:2]
                return self._send(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": [
                                            {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
            if path == "/apis":
                return self._send(200, self._groups())
            if path == "/api/v1":
                return self._send(200, self._resources("", "v1"))
            m = re.match(r"^/apis/([^/]+)$", path)
            if m:
                for g in self._groups()["groups"]:
                    if g["name"] == m.group(1):
                        return self._send(200, dict(g, kind="APIGroup", apiVersion="v1"))
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            m = re.match(r"^/apis/([^/]+)/([^/]+)$", path)
            if m:
                with store.cond:
                    if not any(g == m.group(1) and v == m.group(2) for g, v, _ in store.types):
                        raise ApiError(404, "NotFound",
                                       "the server could not find the requested resource")
                return self._send(200, self._resources(m.group(1), m.group(2)))
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "api" and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        watch_path = False
        if rest and rest[0] == "watch":
            watch_path, rest = True, rest[1:]
        ns = None
        if len(rest) >= 3 and rest[0] == "namespaces" and not (
                group == "" and len(rest) == 3 and rest[2] in ("status", "finalize")):
            ns, rest = rest[1], rest[2:]
        if not rest or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        plural = rest[0]
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        with store.cond:
            rt = store.types.get((group, version, plural))
        if rt is None or (ns is not None and not rt.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub is not None and not (sub == "status" and rt.status) and \
                not (sub == "finalize" and plural == "namespaces"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if sub == "finalize":
            sub = "status"
        if rt.namespaced and ns is None and (name is not None or method not in ("GET",)):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        dry = q.get("dryRun") == "All"
        table = wants_table(self.headers.get("Accept"))

        if method == "GET" and (watch_path or q.get("watch") in ("1", "true")):
            if name is not None:
                q["fieldSelector"] = ",".join(x for x in (q.get("fieldSelector"),
                                                          "metadata.name=" + name) if x)
            return self._watch(rt, version, ns, q, fault)
        if method == "GET" and name is None:
            srv.stats.add_verb("list")
            md, items, cost = store.list(rt, ns, q)
            self._read(*cost, lists=True)
            if table:
                return self._send_table(rt, version, table, items, md, q)
            av = rt.api_version(version)
            if rt.crd:
                items = [typed(o, rt.kind, av) for o in items]
            else:
                items = [{k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
                         for o in items]
            return self._send(200, {"kind": rt.list_kind, "apiVersion": av, "metadata": md,
                                    "items": items})
        if method == "GET":
            srv.stats.add_verb("get")
            obj = store.get(rt, ns, name)
            # A GET without resourceVersion is a quorum read from etcd; with one, the cache.
            self._read("etcd" if q.get("resourceVersion", "") == "" else "cache", 1)
            if table:
                return self._send_table(rt, version, table, [obj],
                                        {"resourceVersion": obj["metadata"]["resourceVersion"]}, q)
            return self._out(200, rt, version, obj)
        if method == "POST":
            if name is not None:
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method "
                               "on the requested resource")
            obj = store.create(rt, version, ns, self._json_body(raw), dry)
            self._read("etcd", 0)
            return self._out(201, rt, version, obj)
        if name is None and method == "DELETE":
            items = store.delete_collection(rt, ns, q)
            srv.stats.add_verb("deletecollection")
            md = {"resourceVersion": str(store.rv)}
            return self._send(200, {"kind": rt.list_kind, "apiVersion": rt.api_version(version),
                                    "metadata": md, "items": items})
        if name is None:
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                           "the requested resource")
        if method in ("PUT", "PATCH", "DELETE"):
            # GuaranteedUpdate reads the one object it changes.
            self._read("etcd", 1)
        if method == "PUT":
            obj, created = store.update(rt, version, ns, name, self._json_body(raw), sub, dry)
            return self._out(201 if created else 200, rt, version, obj)
        if method == "PATCH":
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype not in ("application/merge-patch+json", "application/json-patch+json",
                             "application/strategic-merge-patch+json"):
                raise ApiError(415, "UnsupportedMediaType", "the body of the request was in an "
                               "unknown format - accepted media types include: "
                               "application/json-patch+json, application/merge-patch+json, "
                               "application/apply-patch+yaml")
            obj = store.patch(rt, version, ns, name, ctype, self._json_body(raw), sub, dry)
            return self._out(200, rt, version, obj)
        if method == "DELETE":
            opts = self._json_body(raw) if raw.strip() else {}
            if q.get("resourceVersion") is not None:
                pass
            code, obj = store.delete(rt, ns, name, opts if isinstance(opts, dict) else {}, dry)
            return self._out(code, rt, version, obj)
        raise ApiError(405, "MethodNotAllowed", "method not allowed")

    def _out(self, code, rt, version, obj):
        self._send(code, typed(obj, rt.kind, rt.api_version(version)))

    def _openapi_v2(self):
        # An empty OpenAPI v2 document: kubectl's client-side validation (apply without
        # --validate=false) needs one and skips every kind the document does not define.
        # kubectl asks for protobuf: a gnostic openapi_v2.Document with swagger (field 1)
        # and info (field 2: title 1, version 2), encoded by hand.
        if "protobuf" in (self.headers.get("Accept") or ""):
            def fld(num, data):
                return bytes([num << 3 | 2, len(data)]) + data
            info = fld(1, b"Kubernetes") + fld(2, K8S_VERSION["gitVersion"].encode())
            return self._send(200, fld(1, b"2.0") + fld(2, info),
                              ctype="application/octet-stream")
        return self._send(200, {"swagger": "2.0", "info": {"title": "Kubernetes",
                                "version": K8S_VERSION["gitVersion"]}, "paths": {},
                                "definitions": {}})

    def _groups(self):
        store = self.server.store
        groups = {}
        with store.cond:
            for (g, v, _p), rt in store.types.items():
                if g:
                    groups.setdefault(g, set()).add(v)
        out = []
        for g in sorted(groups):
            vs = sorted(groups[g], key=version_priority)
            out.append({"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v}
                                                for v in vs],
                        "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]),
                                             "version": vs[0]}})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": out}

    def _resources(self, group, version):
        store = self.server.store
        res = []
        with store.cond:
            rts = [rt for (g, v, p), rt in sorted(store.types.items()) if g == group and v == version]
        for rt in rts:
            r = {"name": rt.plural, "singularName": rt.singular, "namespaced": rt.namespaced,
                 "kind": rt.kind, "verbs": VERBS}
            if rt.short:
                r["shortNames"] = rt.short
            if rt.categories:
                r["categories"] = rt.categories
            res.append(r)
            if rt.status:
                res.append({"name": rt.plural + "/status", "singularName": "",
                            "namespaced": rt.namespaced, "kind": rt.kind,
                            "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": "%s/%s" % (group, version) if group else version,
                "resources": res}

    def _send_table(self, rt, version, tv, items, md, q):
        cols = [{"name": "Name", "type": "string", "format": "name",
                 "description": "Name must be unique within a namespace.", "priority": 0}]
        spec_cols = (rt.columns or {}).get(version) or \
            [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]
        for c in spec_cols:
            cols.append({"name": c.get("name", ""), "type": c.get("type", "string"),
                         "format": c.get("format", ""), "description": c.get("description", ""),
                         "priority": int(c.get("priority", 0))})
        now = time.time()
        rows = []
        include = q.get("includeObject", "Metadata")
        for o in items:
            cells = [o["metadata"]["name"]]
            for c in spec_cols:
                v = jsonpath_get(o, c.get("jsonPath", ""))
                if c.get("type") == "date" and isinstance(v, str):
                    t = parse_rfc3339(v)
                    v = human_duration(now - t) if t is not None else v
                elif v is not None and c.get("type") == "string" and not isinstance(v, str):
                    v = json.dumps(v)
                cells.append(v)
            row = {"cells": cells}
            if include == "Object":
                row["object"] = dict(o, apiVersion=rt.api_version(version))
            elif include != "None":
                row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                 "metadata": o["metadata"]}
            rows.append(row)
        table = {"kind": "Table", "apiVersion": "meta.k8s.io/" + tv, "metadata": md,
                 "columnDefinitions": cols, "rows": rows}
        self._send(200, table, ctype="application/json;as=Table;v=%s;g=meta.k8s.io" % tv)

    # ---- watch
    def _chunk(self, data, fault):
        split = int((fault or {}).get("splitEvents", 0) or 0)
        delay = float((fault or {}).get("chunkDelayMs", 0) or 0) / 1000.0
        if split > 0:
            for i in range(0, len(data), split):
                piece = data[i:i + split]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                if delay and i + split < len(data):
                    time.sleep(delay)
        else:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _watch(self, rt, version, ns, q, fault):
        srv = self.server
        store = srv.store
        lsel = Selector(q.get("labelSelector"))
        fsel = FieldSelector(q.get("fieldSelector"), rt)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        av = rt.api_version(version)
        try:
            timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else srv.watch_timeout
        except ValueError:
            raise ApiError(400, "BadRequest", "invalid timeoutSeconds")
        rvq = q.get("resourceVersion", "")
        if rvq not in ("", "0"):
            try:
                start_rv = int(rvq)
            except ValueError:
                raise ApiError(400, "BadRequest", "invalid resource version: %s" % rvq)
        # ValidateListOptions for a watch (v1.27+, WatchList): sendInitialEvents needs
        # resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true; a
        # resourceVersionMatch without sendInitialEvents is forbidden.
        sie, rvm = q.get("sendInitialEvents"), q.get("resourceVersionMatch", "")
        causes = []
        if sie is not None and rvm != "NotOlderThan":
            causes.append(("resourceVersionMatch", "sendInitialEvents requires setting "
                           "resourceVersionMatch to NotOlderThan"))
        if sie is not None and not bookmarks:
            causes.append(("allowWatchBookmarks", "sendInitialEvents requires setting "
                           "allowWatchBookmarks to true"))
        if sie is None and rvm:
            causes.append(("resourceVersionMatch", "resourceVersionMatch is forbidden for watch "
                           "unless sendInitialEvents is provided"))
        if causes:
            msg = ", ".join("%s: Forbidden: %s" % c for c in causes)
            raise ApiError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: " +
                           (msg if len(causes) == 1 else "[" + msg + "]"),
                           {"group": "meta.k8s.io", "kind": "ListOptions", "causes": [
                               {"reason": "FieldValueForbidden", "message": "Forbidden: " + m,
                                "field": f} for f, m in causes]})
        # Initial events: the state as synthetic ADDED events for resourceVersion ""/"0"
        # (legacy) or whenever sendInitialEvents=true (then the initial-events-end
        # bookmark follows); sendInitialEvents=false starts at the version without them.
        initial = sie == "true" or (sie is None and rvq in ("", "0"))
        drop_after = -1
        if fault and fault.get("dropWatchAfter") is not None:
            drop_after = int(fault["dropWatchAfter"])

        def matches(obj):
            if ns is not None and obj["metadata"].get("namespace") != ns:
                return False
            return lsel.matches(obj["metadata"].get("labels")) and fsel.matches(obj)

        def ev(etype, obj):
            return json.dumps({"type": etype, "object": typed(obj, rt.kind, av)},
                              separators=(",", ":")).encode() + b"\n"

        pending = []
        with store.cond:
            if rvq not in ("", "0") and start_rv > store.rv and sie is not None:
                raise ApiError(504, "Timeout", "Too large resource version: %d, current: %d"
                               % (start_rv, store.rv), {"retryAfterSeconds": 1})
            if initial:
                last = store.rv
                for k in sorted(store.objects[rt.key]):
                    o = store.objects[rt.key][k]
                    if matches(o):
                        pending.append(ev("ADDED", o))
                self._read("cache", len(pending))
                if sie == "true":
                    pending.append(json.dumps({"type": "BOOKMARK", "object": {
                        "kind": rt.kind, "apiVersion": av, "metadata": {
                            "resourceVersion": str(last), "annotations": {
                                "k8s.io/initial-events-end": "true"}}}}).encode() + b"\n")
            elif rvq in ("", "0"):
                last = store.rv
            else:
                last = start_rv
            expired = not initial and rvq not in ("", "0") and start_rv < store.compacted
            compacted = store.compacted
            if fault and fault.get("expire"):
                # As if the history had been compacted past this watch's version.
                expired, start_rv, compacted = True, last, store.rv + 1
        self.close_connection = False
        hdr = ["HTTP/1.1 200 OK", "Content-Type: application/json", "Transfer-Encoding: chunked",
               "Date: %s" % self.date_time_string(), "Cache-Control: no-cache, private"]
        self.server.stats.code(200)
        self.log_request(200)
        self.wfile.write(("\r\n".join(hdr) + "\r\n\r\n").encode())
        with srv.stats.lock:
            srv.stats.watches += 1
        sent = 0
        try:
            if expired:
                self._chunk(json.dumps({"type": "ERROR", "object": status_obj(
                    410, "Expired", "too old resource version: %d (%d)" % (start_rv, compacted))},
                    separators=(",", ":")).encode() + b"\n", fault)
                self.wfile.write(b"0\r\n\r\n")
                return
            deadline = time.monotonic() + timeout
            interval = store.bookmark_interval

            pre_timeout = []

            def next_bookmark(nowm):
                # cacheWatcher.nextBookmarkTime: every bookmarkFrequency (the real server's is
                # one minute; --bookmark-interval here) while that is before 2 s ahead of the
                # watch's deadline, then once at that point (a client that times out resumes
                # from a recent version), then none.
                t, pre = nowm + interval, deadline - 2.0
                if pre < t:
                    if pre_timeout or pre < nowm - 0.5:
                        return deadline + 1.0
                    pre_timeout.append(pre)
                    t = max(pre, nowm)
                return t
            next_bm = next_bookmark(time.monotonic())
            while True:
                for data in pending:
                    if drop_after >= 0 and sent >= drop_after:
                        break
                    self._chunk(data, fault)
                    sent += 1
                pending = []
                if drop_after >= 0 and sent >= drop_after:
                    # A dropped stream: no terminating chunk, the connection just ends.
                    self.connection.shutdown(socket.SHUT_RDWR)
                    raise DropConnection()
                bm = False
                with store.cond:
                    while True:
                        if store.stopping:
                            break
                        nowm = time.monotonic()
                        if last < store.compacted:
                            # Fell out of the history window while we were writing.
                            pending.append(json.dumps({"type": "ERROR", "object": status_obj(
                                410, "Expired", "too old resource version: %d (%d)" %
                                (last, store.compacted))}).encode() + b"\n")
                            deadline = 0
                            break
                        i = bisect_right(store.hist_rv, last)
                        for rv, key, etype, obj, prev in store.hist[i:]:
                            if key != rt.key:
                                continue
                            now_m = matches(obj) if etype != "DELETED" else False
                            was_m = prev is not None and matches(prev)
                            if etype == "DELETED":
                                if was_m or matches(obj):
                                    pending.append(ev("DELETED", obj))
                            elif now_m and was_m:
                                pending.append(ev("MODIFIED", obj))
                            elif now_m:
                                pending.append(ev("ADDED", obj))
                            elif was_m:
                                pending.append(ev("DELETED", obj))
                        last = max(last, store.rv)
                        if pending or nowm >= deadline:
                            break
                        if bookmarks and nowm >= next_bm:
                            bm = True
                            break
                        wake = deadline
                        if bookmarks:
                            wake = min(wake, next_bm)
                        store.cond.wait(max(0.001, wake - nowm))
                    interval = store.bookmark_interval
                    stopping = store.stopping
                if bm:
                    next_bm = next_bookmark(time.monotonic())
                    pending.append(json.dumps({"type": "BOOKMARK", "object": {
                        "kind": rt.kind, "apiVersion": av,
                        "metadata": {"resourceVersion": str(last)}}},
                        separators=(",", ":")).encode() + b"\n")
                    continue
                if pending and deadline == 0:
                    for data in pending:
                        self._chunk(data, fault)
                    pending = []
                if pending:
                    continue
                if stopping or time.monotonic() >= deadline:
                    break
            self.wfile.write(b"0\r\n\r\n")
        finally:
            with srv.stats.lock:
                srv.stats.watches -= 1


def version_priority(v):
    m = re.match(r"^v(\d+)(?:(alpha|beta)(\d+))?$", v)
    if not m:
        return (3, 0, 0, v)
    rank = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    return (rank, -int(m.group(1)), -int(m.group(3) or 0), v)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, addr, args):
        family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        self.address_family = family
        super().__init__(addr, Handler)
        self.store = Store(args.bookmark_interval, args.namespace or [])
        self.faults = Faults()
        self.stats = Stats()
        self.tokens = {args.token} if args.token else None
        self.anonymous = args.anonymous_auth == "true"
        self.client_ca = args.client_ca
        self.verbose = args.verbose
        self.watch_timeout = args.watch_timeout
        self.ssl_ctx = None
        if args.tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls_cert, args.tls_key)
            if args.client_ca:
                ctx.load_verify_locations(args.client_ca)
                # As kube-apiserver: verify a client certificate if one is given; a client
                # without one may still authenticate with a token.
                ctx.verify_mode = ssl.CERT_REQUIRED if args.require_client_cert \
                    else ssl.CERT_OPTIONAL
            self.ssl_ctx = ctx

    def finish_request(self, request, client_address):
        # The TLS handshake happens here, in the connection's own thread.
        with self.stats.lock:
            self.stats.connections += 1
        try:
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        if self.ssl_ctx is not None:
            request.settimeout(10)
            try:
                request = self.ssl_ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                if self.verbose:
                    sys.stderr.write("fakeapi: TLS handshake with %s failed: %s\n" %
                                     (client_address[0], e))
                return
            request.settimeout(None)
        try:
            self.RequestHandlerClass(request, client_address, self)
        finally:
            if request is not None and self.ssl_ctx is not None:
                try:
                    request.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        if self.verbose:
            super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description="fake Kubernetes API server for gamelan's tests")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port)")
    ap.add_argument("--port-file", help="write the bound port here once listening")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--client-ca", help="CA that signs client certificates")
    ap.add_argument("--require-client-cert", action="store_true",
                    help="with --client-ca: refuse TLS clients without a certificate")
    ap.add_argument("--token", help="bearer token required on every API request")
    ap.add_argument("--anonymous-auth", choices=("true", "false"), default="true",
                    help="as kube-apiserver's: a request without credentials is system:anonymous "
                    "(403 from RBAC) when true (its default), 401 when false")
    ap.add_argument("--namespace", action="append", help="namespace to create at start")
    ap.add_argument("--bookmark-interval", type=float, default=1.0,
                    help="seconds between BOOKMARK events (default 1)")
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="watch length when the client gives no timeoutSeconds")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if args.client_ca and not args.tls_cert:
        ap.error("--client-ca needs --tls-cert/--tls-key")
    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        srv = Server((host, int(port)), args)
    except (OSError, ssl.SSLError, ValueError) as e:
        sys.stderr.write("fakeapi: cannot listen on %s: %s\n" % (args.listen, e))
        return 1
    bound = srv.server_address[1]
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % bound)
        os.rename(tmp, args.port_file)

    def stop(signum, frame):
        with srv.store.cond:
            srv.store.stopping = True
            srv.store.cond.notify_all()
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.verbose:
        sys.stderr.write("fakeapi: listening on %s:%d%s\n" % (host, bound,
                                                             " (TLS)" if args.tls_cert else ""))
    try:
        srv.serve_forever(poll_interval=0.2)
    finally:
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
