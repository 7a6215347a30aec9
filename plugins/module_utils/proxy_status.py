# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istiod's sync status per proxy: read it, normalise it, judge it.

Sources, in order of preference: istiod's /debug/syncz (JSON, the same data istioctl shows),
`istioctl proxy-status -o json` (the xDS status istiod sends istioctl), and, last, istioctl's table.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import time

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import REV_LABEL, meta

TYPES = ["CDS", "LDS", "EDS", "RDS", "ECDS"]
TYPE_URLS = {
    "type.googleapis.com/envoy.config.cluster.v3.Cluster": "CDS",
    "type.googleapis.com/envoy.config.listener.v3.Listener": "LDS",
    "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": "EDS",
    "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": "RDS",
    "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig": "ECDS",
}
SYNCZ_FIELDS = {"CDS": "cluster", "LDS": "listener", "EDS": "endpoint", "RDS": "route", "ECDS": "extensionconfig"}
NEVER_ACKED = "STALE (Never Acknowledged)"
STATES = ["SYNCED", "NOT SENT", "STALE", NEVER_ACKED, "ERROR", "IGNORED"]
# istioctl -o json carries envoy.service.status.v3.ConfigStatus names
CONFIG_STATUS = {"SYNCED": "SYNCED", "NOT_SENT": "NOT SENT", "STALE": "STALE", "ERROR": "ERROR", "UNKNOWN": "IGNORED"}


class ProxyStatusError(Exception):
    """Bad input, or a source that cannot be read, with a message that names the fix."""


class IstiodUnreachable(ProxyStatusError):
    """istiod did not answer: fail at once, waiting does not help."""


# ---- normalising ---------------------------------------------------------------------------------

def xds_state(sent, acked, last_error=None):
    """The state of one xDS type from the nonces istiod sent and the proxy acknowledged."""
    if last_error:
        return "ERROR"
    if not sent:
        return "NOT SENT"
    if sent == acked:
        return "SYNCED"
    if not acked:
        return NEVER_ACKED
    return "STALE"


def split_proxy_id(proxy_id):
    """'sidecar~10.0.0.1~reviews-1.shop~shop.svc.cluster.local' -> ('reviews-1', 'shop'); 'reviews-1.shop' too."""
    parts = proxy_id.split("~")
    name = parts[2] if len(parts) == 4 else proxy_id
    pod, _sep, namespace = name.partition(".")
    return pod, namespace


def _proxy(proxy_id, istiod, cluster, version, types, errors=None):
    pod, namespace = split_proxy_id(proxy_id)
    types = dict((t, types.get(t, "IGNORED")) for t in TYPES)
    return {"name": "%s.%s" % (pod, namespace) if namespace else pod, "pod": pod, "namespace": namespace,
            "proxy_id": proxy_id, "istiod": istiod, "cluster": cluster or "", "version": version or "",
            "types": types, "errors": errors or {}, "state": proxy_state(types)}


def proxy_state(types):
    """One word per proxy: ERROR, STALE (any STALE form), SYNCED, or NOT SENT when nothing was sent yet."""
    values = list(types.values())
    if "ERROR" in values:
        return "ERROR"
    if any(v.startswith("STALE") for v in values):
        return "STALE"
    if "SYNCED" in values:
        return "SYNCED"
    return "NOT SENT"


def parse_syncz(items, istiod):
    """Proxies from istiod's /debug/syncz JSON (a list of SyncStatus)."""
    if not isinstance(items, list):
        raise ProxyStatusError("istiod's /debug/syncz did not return a list (got %s)" % type(items).__name__)
    proxies = []
    by_url = dict((short, url) for url, short in TYPE_URLS.items())
    for item in items:
        if not item.get("cluster_id") and not any(item.get(f + "_sent") for f in SYNCZ_FIELDS.values()):
            continue  # a tool's debug connection (istioctl), not a proxy; istiod's xDS status omits these too
        resources = item.get("resources") or {}
        types, errors = {}, {}
        for short in TYPES:
            field = SYNCZ_FIELDS[short]
            error = (resources.get(by_url[short]) or {}).get("lastError")
            types[short] = xds_state(item.get(field + "_sent"), item.get(field + "_acked"), error)
            if error:
                errors[short] = error
        proxies.append(_proxy(item.get("proxy", ""), istiod, item.get("cluster_id"),
                              item.get("istio_version") or item.get("proxy_version"), types, errors))
    return proxies


def split_json_documents(text):
    """istioctl prints one JSON document per istiod, one after the other."""
    decoder = json.JSONDecoder()
    docs, index, text = [], 0, text.strip()
    while index < len(text):
        doc, end = decoder.raw_decode(text, index)
        docs.append(doc)
        index = end
        while index < len(text) and text[index].isspace():
            index += 1
    return docs


def _istiod_id(response):
    identifier = (response.get("controlPlane") or {}).get("identifier") or ""
    try:
        return json.loads(identifier).get("ID") or identifier
    except ValueError:
        return identifier


LEGACY_XDS_KEYS = {"clusterConfig": "CDS", "listenerConfig": "LDS", "endpointConfig": "EDS", "routeConfig": "RDS"}


def parse_istioctl_json(text):
    """Proxies from `istioctl proxy-status -o json`: DiscoveryResponses of ClientConfigs (or a syncz list)."""
    try:
        docs = split_json_documents(text)
    except ValueError as exc:
        raise ProxyStatusError("istioctl proxy-status -o json printed something that is not JSON: %s" % exc)
    proxies = []
    for doc in docs:
        if isinstance(doc, list):  # releases that printed istiod's syncz list
            proxies.extend(parse_syncz(doc, ""))
            continue
        istiod = _istiod_id(doc)
        for resource in doc.get("resources") or []:
            node = resource.get("node") or {}
            node_meta = node.get("metadata") or {}
            types, errors = {}, {}
            for config in resource.get("genericXdsConfigs") or []:
                short = TYPE_URLS.get(config.get("typeUrl"))
                if not short:
                    continue
                types[short] = CONFIG_STATUS.get(config.get("configStatus", "UNKNOWN"), "IGNORED")
                details = (config.get("errorState") or {}).get("details")
                if details:
                    errors[short] = details
            for config in resource.get("xdsConfig") or []:  # the deprecated per-type form
                for key, short in LEGACY_XDS_KEYS.items():
                    if key in config:
                        types[short] = CONFIG_STATUS.get(config.get("status", "UNKNOWN"), "IGNORED")
            proxies.append(_proxy(node.get("id", ""), istiod, node_meta.get("CLUSTER_ID"), node_meta.get("ISTIO_VERSION"),
                                  types, errors))
    return proxies


TABLE_COLUMNS = ["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "PILOT", "VERSION",
                 "SUBSCRIBED TYPES"]
AGE = re.compile(r"\s*\([0-9a-z.]+\)$")  # "SYNCED (2m3s)" in newer releases


def parse_table(text):
    """Last resort: istioctl proxy-status's table, whose columns changed across releases.

    Handles NAME CDS LDS EDS RDS PILOT|ISTIOD VERSION (1.5-1.13), with CLUSTER (1.14-1.16), with ECDS
    (1.17+), and ages after the state (SYNCED (2m3s)). Columns are found by the header's positions,
    since states such as "STALE (Never Acknowledged)" hold spaces.
    """
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("NAME"):
        raise ProxyStatusError("istioctl proxy-status printed no table header (NAME ...): %r" % text[:200])
    header = lines[0]
    if "SUBSCRIBED TYPES" in header:
        raise ProxyStatusError("this istioctl's table lists subscribed types, not their states; use "
                               "source=syncz or an istioctl with 'proxy-status -o json'")
    starts = []
    for column in TABLE_COLUMNS:
        match = re.search(r"(?:^|\s)(%s)(?:\s|$)" % re.escape(column), header)
        if match:
            starts.append((match.start(1), column))
    starts.sort()
    proxies = []
    for line in lines[1:]:
        row = {}
        for i, (start, column) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(line)
            row[column] = line[start:end].strip()
        types = dict((t, AGE.sub("", row[t])) for t in TYPES if t in row)
        proxies.append(_proxy(row.get("NAME", ""), row.get("ISTIOD") or row.get("PILOT", ""), row.get("CLUSTER"),
                              row.get("VERSION"), types))
    return proxies


# ---- input checks ---------------------------------------------------------------------------------

LABEL_KEY = r"(?:[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?"
LABEL_VALUE = r"(?:[a-z0-9A-Z]([-a-z0-9A-Z_.]{0,61}[a-z0-9A-Z])?)?"
SELECTOR_TERMS = [
    re.compile(r"^!?\s*%s$" % LABEL_KEY),
    re.compile(r"^%s\s*(=|==|!=)\s*%s$" % (LABEL_KEY, LABEL_VALUE)),
    re.compile(r"^%s\s+(in|notin)\s+\(\s*%s(\s*,\s*%s)*\s*\)$" % (LABEL_KEY, LABEL_VALUE, LABEL_VALUE)),
]


def split_selector(selector):
    """Terms of a label selector, split on the commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return terms


def check_selector(selector):
    """Raise on a label selector the API server would refuse, naming the bad term."""
    if selector is None:
        return
    if not selector.strip():
        raise ProxyStatusError("label_selector is empty: give a selector such as 'app=reviews' or leave it out")
    for term in split_selector(selector):
        if not any(pattern.match(term) for pattern in SELECTOR_TERMS):
            raise ProxyStatusError("label_selector %r does not parse at %r: use key=value, key!=value, key, !key, "
                                   "key in (a,b) or key notin (a,b), joined by commas" % (selector, term))


def check_threshold(value):
    if value is not None and not 0 <= value <= 100:
        raise ProxyStatusError("max_not_synced_percent is %s: give a percentage from 0 to 100" % value)


# ---- judging ---------------------------------------------------------------------------------------

def summarize(proxies):
    counts = dict((state, 0) for state in ["SYNCED", "NOT SENT", "STALE", "ERROR"])
    types = dict((t, dict((state, 0) for state in STATES)) for t in TYPES)
    for proxy in proxies:
        counts[proxy["state"]] += 1
        for short, state in proxy["types"].items():
            types[short][state] = types[short].get(state, 0) + 1
    total = len(proxies)
    not_synced = total - counts["SYNCED"]
    return {"total": total, "proxies": counts, "types": types, "not_synced": not_synced,
            "not_synced_percent": round(100.0 * not_synced / total, 1) if total else 0.0}


def failures(proxies, summary, fail_on=(), max_not_synced_percent=None):
    """Why the report fails, one message per reason (empty when it passes)."""
    found = []
    for state in fail_on:
        names = [p["name"] for p in proxies if p["state"] == state]
        if names:
            found.append("%d proxies %s (fail_on includes %s): %s" % (len(names), state, state, ", ".join(names[:20])))
    if max_not_synced_percent is not None and summary["not_synced_percent"] > max_not_synced_percent:
        names = [p["name"] for p in proxies if p["state"] != "SYNCED"]
        found.append("%s%% of %d proxies are not SYNCED, above max_not_synced_percent=%s: %s" % (
            summary["not_synced_percent"], summary["total"], max_not_synced_percent, ", ".join(names[:20])))
    return found


def format_table(proxies):
    lines = ["%-50s %-10s %-28s %-28s %-28s %-28s %-28s %s" % tuple(["NAME", "STATE"] + TYPES + ["ISTIOD"])]
    for p in sorted(proxies, key=lambda item: item["name"]):
        lines.append("%-50s %-10s %-28s %-28s %-28s %-28s %-28s %s" % tuple(
            [p["name"], p["state"]] + [p["types"][t] for t in TYPES] + [p["istiod"]]))
    return lines


def select(proxies, namespaces=None, pod_names=None):
    """Keep proxies in the namespaces, and (when a selector was given) whose pod.namespace is in pod_names."""
    kept = proxies
    if namespaces:
        kept = [p for p in kept if p["namespace"] in namespaces]
    if pod_names is not None:
        kept = [p for p in kept if p["name"] in pod_names]
    return kept


class ProxyStatus(object):
    """Read, filter and judge; read() is the source (a callable returning proxies), api lists pods."""

    def __init__(self, read, api=None, sleep=time.sleep, clock=time.time):
        self.read = read
        self.api = api
        self.sleep = sleep
        self.clock = clock

    def check_namespaces(self, namespaces):
        if not namespaces:
            return
        existing = set(meta(ns).get("name") for ns in self.api.list("Namespace", None))
        unknown = [ns for ns in namespaces if ns not in existing]
        if unknown:
            raise ProxyStatusError("namespaces names %s, which do not exist; existing namespaces: %s" % (
                ", ".join(unknown), ", ".join(sorted(existing))))

    def selected_pods(self, namespaces, label_selector):
        """pod.namespace of the pods the selector matches: one list per namespace, or one cluster-wide."""
        if label_selector is None:
            return None
        names = set()
        try:
            for namespace in namespaces or [None]:
                for pod in self.api.list("Pod", namespace, label_selector):
                    names.add("%s.%s" % (meta(pod).get("name"), meta(pod).get("namespace")))
        except Exception as exc:  # pylint: disable=broad-except
            raise ProxyStatusError("listing pods with label_selector %r failed: %s" % (label_selector, exc))
        return names

    def run(self, namespaces=None, label_selector=None, fail_on=(), max_not_synced_percent=None,
            wait=False, wait_timeout=120, wait_sleep=2):
        check_threshold(max_not_synced_percent)
        check_selector(label_selector)
        self.check_namespaces(namespaces)
        pod_names = self.selected_pods(namespaces, label_selector)
        deadline = self.clock() + wait_timeout
        attempts = 0
        while True:
            attempts += 1
            proxies = select(self.read(), namespaces, pod_names)
            synced = all(p["state"] == "SYNCED" for p in proxies)
            if not wait or synced or self.clock() >= deadline:
                break
            self.sleep(wait_sleep)
        summary = summarize(proxies)
        return {"proxies": sorted(proxies, key=lambda p: p["name"]), "summary": summary, "attempts": attempts,
                "synced": synced, "failures": failures(proxies, summary, fail_on, max_not_synced_percent),
                "table": format_table(proxies)}


# ---- sources ---------------------------------------------------------------------------------------

def _dechunk(body):
    """(decoded, complete) of a chunked transfer-encoded body."""
    out, index = b"", 0
    while True:
        end = body.find(b"\r\n", index)
        if end < 0:
            return out, False
        size = int(body[index:end].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return out, True
        start = end + 2
        if len(body) < start + size + 2:
            return out, False
        out += body[start:start + size]
        index = start + size + 2


def http_response(raw, eof=True):
    """(status, body, complete) from raw HTTP/1.x bytes read so far; complete when the body is whole
    (by Content-Length, the last chunk, or the end of the stream)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        if eof:
            raise ProxyStatusError("istiod answered something that is not HTTP: %r" % raw[:80])
        return None, None, False
    lines = head.split(b"\r\n")
    parts = lines[0].decode("latin-1").split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ProxyStatusError("istiod answered something that is not HTTP: %r" % lines[0][:80])
    headers = dict((k.strip().lower(), v.strip()) for k, _s, v in
                   (line.decode("latin-1").partition(":") for line in lines[1:]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body, complete = _dechunk(body)
    elif "content-length" in headers:
        complete = len(body) >= int(headers["content-length"])
    else:
        complete = eof
    return int(parts[1]), body, complete or eof


def parse_http_response(raw):
    """(status, body) from a whole raw HTTP/1.x response."""
    status, body, _complete = http_response(raw)
    return status, body


def syncz_from_address(open_url, address, timeout=10):
    """A reader of istiod's /debug/syncz at an address such as http://127.0.0.1:15014 (out-of-cluster istiod)."""
    url = address.rstrip("/")
    if "://" not in url:
        url = "http://" + url
    url += "/debug/syncz"

    def read():
        try:
            body = open_url(url, timeout=timeout)
        except ProxyStatusError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise IstiodUnreachable("istiod is unreachable at %s: %s. Check that istiod runs and that istiod_address "
                                    "names its HTTP debug port (8080, or 15014)." % (url, exc))
        try:
            return parse_syncz(json.loads(body), address)
        except ValueError:
            raise ProxyStatusError("istiod at %s answered with something that is not JSON: %r" % (url, body[:200]))
    return read


SYNCZ_REQUEST = b"GET /debug/syncz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def syncz_from_pods(list_pods, forward, istio_namespace, revision=None, port=15014):
    """A reader of /debug/syncz from every Running istiod pod, through the API server's pod port-forward."""
    selector = "app=istiod" + (",%s=%s" % (REV_LABEL, revision) if revision else "")

    def read():
        pods = [p for p in list_pods(istio_namespace, selector) if (p.get("status") or {}).get("phase") == "Running"]
        if not pods:
            raise IstiodUnreachable("no Running istiod pod (%s) in %s: install Istio, or give istiod_address for an "
                                    "istiod outside the cluster" % (selector, istio_namespace))
        proxies = []
        for pod in pods:
            name = pod["metadata"]["name"]
            try:
                status, body = parse_http_response(forward(name, istio_namespace, port, SYNCZ_REQUEST))
            except ProxyStatusError:
                raise
            except Exception as exc:  # pylint: disable=broad-except
                raise IstiodUnreachable("istiod pod %s/%s is unreachable through port-forward to %d: %s" % (
                    istio_namespace, name, port, exc))
            if status != 200:
                raise ProxyStatusError("istiod pod %s/%s answered /debug/syncz with HTTP %d: %r" % (
                    istio_namespace, name, status, body[:200]))
            proxies.extend(parse_syncz(json.loads(body), name))
        return proxies
    return read


ISTIOCTL_UNREACHABLE = re.compile(r"no running Istio pods|failed to connect|connection refused|deadline exceeded|"
                                  r"unable to forward|error upgrading connection|no such host|i/o timeout|"
                                  r"could not get XDS from discovery pod|code = Unavailable|connection reset",
                                  re.IGNORECASE)


def istioctl_reader(run, istioctl, args=()):
    """A reader over `istioctl proxy-status -o json`, falling back to its table when -o is unknown."""
    def read():
        rc, out, err = run([istioctl, "proxy-status", "-o", "json"] + list(args))
        if rc != 0 and re.search(r"unknown shorthand flag: 'o'|unknown flag: --output", err):
            rc, out, err = run([istioctl, "proxy-status"] + list(args))
            if rc == 0:
                return parse_table(out)
        if rc != 0:
            message = (err or out).strip()[-600:]
            if ISTIOCTL_UNREACHABLE.search(message):
                raise IstiodUnreachable("istioctl could not reach istiod: %s" % message)
            raise ProxyStatusError("istioctl proxy-status failed (rc=%d): %s" % (rc, message))
        return parse_istioctl_json(out)
    return read


def port_forward_request(api_client, pod, namespace, port, request, timeout=10):
    """Send one raw request to a pod port through the API server's port-forward; return the raw answer."""
    from kubernetes.client import CoreV1Api
    from kubernetes.stream import portforward

    forward = portforward(CoreV1Api(api_client).connect_get_namespaced_pod_portforward, pod, namespace,
                          ports=str(port))
    try:
        sock = forward.socket(port)
        sock.settimeout(timeout)
        sock.sendall(request)
        raw = b""
        while True:  # stop at the end of the body: a forwarded connection may not report the server's close
            data = sock.recv(65536)
            raw += data
            if not data or http_response(raw, eof=False)[2]:
                break
        error = forward.error(port)
        if error:
            raise IOError(error)
        return raw
    finally:
        forward.close()
