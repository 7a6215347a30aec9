"""proxy_status: parsing istiod's sync status from every source, and judging it."""
import json

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import proxy_status as ps

CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
LDS = "type.googleapis.com/envoy.config.listener.v3.Listener"
EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
RDS = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"


def node_id(pod, ns, ip="10.244.0.9"):
    return "sidecar~%s~%s.%s~%s.svc.cluster.local" % (ip, pod, ns, ns)


def syncz_item(pod, ns, cds=("n1", "n1"), lds=("n2", "n2"), eds=("n3", "n3"), rds=("", ""), errors=None):
    item = {"cluster_id": "Kubernetes", "proxy": node_id(pod, ns), "proxy_type": "sidecar", "istio_version": "1.31.0",
            "cluster_sent": cds[0], "cluster_acked": cds[1], "listener_sent": lds[0], "listener_acked": lds[1],
            "endpoint_sent": eds[0], "endpoint_acked": eds[1], "route_sent": rds[0], "route_acked": rds[1]}
    item = dict((k, v) for k, v in item.items() if v)  # istiod omits empty fields
    if errors:
        item["resources"] = dict((url, {"sent": "n9", "lastError": msg}) for url, msg in errors.items())
    return item


# ---- states ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, acked, error, state", [
    ("", "", None, "NOT SENT"),
    ("a", "a", None, "SYNCED"),
    ("b", "", None, "STALE (Never Acknowledged)"),
    ("b", "a", None, "STALE"),
    ("b", "a", "rejected", "ERROR"),
])
def test_xds_state_from_nonces(sent, acked, error, state):
    assert ps.xds_state(sent, acked, error) == state


def test_proxy_state_is_the_worst_type_and_ignores_not_sent():
    assert ps.proxy_state({"CDS": "SYNCED", "LDS": "SYNCED", "ECDS": "NOT SENT", "RDS": "IGNORED"}) == "SYNCED"
    assert ps.proxy_state({"CDS": "SYNCED", "LDS": "STALE (Never Acknowledged)"}) == "STALE"
    assert ps.proxy_state({"CDS": "ERROR", "LDS": "STALE"}) == "ERROR"
    assert ps.proxy_state({"CDS": "NOT SENT"}) == "NOT SENT"


def test_proxy_id_gives_pod_and_namespace():
    assert ps.split_proxy_id(node_id("reviews-v1-7d9f", "shop")) == ("reviews-v1-7d9f", "shop")
    assert ps.split_proxy_id("router~10.0.0.1~istio-ingressgateway-5f.istio-system~istio-system.svc.cluster.local") \
        == ("istio-ingressgateway-5f", "istio-system")
    assert ps.split_proxy_id("details-v1-1.default") == ("details-v1-1", "default")


# ---- syncz -------------------------------------------------------------------------------------------

def test_syncz_synced_stale_never_acked_and_error():
    items = [
        syncz_item("a", "shop"),
        syncz_item("b", "shop", cds=("n5", "n1")),
        syncz_item("c", "shop", cds=("n1", ""), lds=("n2", ""), eds=("", "")),
        syncz_item("d", "shop", cds=("n1", ""), errors={CDS: "sandbox: CDS rejected"}),
    ]
    proxies = dict((p["name"], p) for p in ps.parse_syncz(items, "http://127.0.0.1:15080"))
    assert proxies["a.shop"]["types"] == {"CDS": "SYNCED", "LDS": "SYNCED", "EDS": "SYNCED", "RDS": "NOT SENT",
                                          "ECDS": "NOT SENT"}
    assert proxies["a.shop"]["state"] == "SYNCED"
    assert proxies["a.shop"]["version"] == "1.31.0" and proxies["a.shop"]["cluster"] == "Kubernetes"
    assert proxies["a.shop"]["istiod"] == "http://127.0.0.1:15080"
    assert proxies["b.shop"]["types"]["CDS"] == "STALE" and proxies["b.shop"]["state"] == "STALE"
    assert proxies["c.shop"]["types"]["LDS"] == "STALE (Never Acknowledged)"
    assert proxies["c.shop"]["types"]["EDS"] == "NOT SENT"
    assert proxies["c.shop"]["state"] == "STALE"
    assert proxies["d.shop"]["types"]["CDS"] == "ERROR" and proxies["d.shop"]["state"] == "ERROR"
    assert proxies["d.shop"]["errors"] == {"CDS": "sandbox: CDS rejected"}


def test_syncz_of_older_releases_without_resources_or_ecds():
    item = {"proxy": "details-v1-1.default", "proxy_version": "1.9.0", "cluster_sent": "x", "cluster_acked": "x",
            "listener_sent": "y", "listener_acked": "y"}
    [proxy] = ps.parse_syncz([item], "istiod-1")
    assert proxy["name"] == "details-v1-1.default" and proxy["version"] == "1.9.0"
    assert proxy["state"] == "SYNCED" and proxy["types"]["ECDS"] == "NOT SENT"


def test_syncz_skips_debug_connections_of_tools():
    tool = {"proxy": "test-1.default", "proxy_type": "sidecar", "istio_version": "65536.65536.65536"}
    fresh = {"proxy": "new-1.shop", "proxy_type": "sidecar", "cluster_id": "Kubernetes", "istio_version": "1.31.0"}
    proxies = ps.parse_syncz([tool, fresh, syncz_item("a", "shop")], "istiod")
    assert [(p["name"], p["state"]) for p in proxies] == [("new-1.shop", "NOT SENT"), ("a.shop", "SYNCED")]


def test_syncz_that_is_not_a_list_is_refused():
    with pytest.raises(ps.ProxyStatusError, match="not return a list"):
        ps.parse_syncz({"error": "x"}, "istiod")


# ---- istioctl -o json --------------------------------------------------------------------------------

def client_config(pod, ns, configs):
    return {"@type": "type.googleapis.com/envoy.service.status.v3.ClientConfig",
            "node": {"id": node_id(pod, ns), "metadata": {"CLUSTER_ID": "Kubernetes", "NAMESPACE": ns,
                                                          "ISTIO_VERSION": "1.31.0"}},
            "genericXdsConfigs": configs}


def discovery_response(istiod, resources):
    identifier = json.dumps({"Component": "istiod", "ID": istiod, "Info": {"version": "1.31.0"}})
    return {"versionInfo": "2026-11-26T12:00:00Z/7", "resources": resources, "typeUrl": "istio.io/debug/syncz",
            "controlPlane": {"identifier": identifier}}


def test_istioctl_json_one_document_per_istiod():
    first = discovery_response("istiod-a", [client_config("p1", "shop", [
        {"typeUrl": CDS, "configStatus": "SYNCED", "lastUpdated": "2026-11-26T12:00:00Z"},
        {"typeUrl": LDS, "configStatus": "SYNCED"},
        {"typeUrl": EDS, "configStatus": "STALE"},
        {"typeUrl": RDS, "configStatus": "NOT_SENT"},
    ])])
    second = discovery_response("istiod-b", [client_config("p2", "shop", [
        {"typeUrl": CDS, "configStatus": "ERROR", "errorState": {"details": "rejected"}},
        {"typeUrl": LDS},  # UNKNOWN is omitted by protojson
    ])])
    text = json.dumps(first, indent=4) + "\n" + json.dumps(second, indent=4) + "\n"
    proxies = dict((p["name"], p) for p in ps.parse_istioctl_json(text))
    assert proxies["p1.shop"]["istiod"] == "istiod-a"
    assert proxies["p1.shop"]["types"] == {"CDS": "SYNCED", "LDS": "SYNCED", "EDS": "STALE", "RDS": "NOT SENT",
                                           "ECDS": "IGNORED"}
    assert proxies["p1.shop"]["state"] == "STALE"
    assert proxies["p2.shop"]["istiod"] == "istiod-b"
    assert proxies["p2.shop"]["types"]["CDS"] == "ERROR" and proxies["p2.shop"]["types"]["LDS"] == "IGNORED"
    assert proxies["p2.shop"]["errors"] == {"CDS": "rejected"}


def test_istioctl_json_legacy_xds_config_form():
    resource = {"node": {"id": node_id("p3", "web"), "metadata": {"ISTIO_VERSION": "1.12.0"}},
                "xdsConfig": [{"status": "SYNCED", "clusterConfig": {}}, {"status": "STALE", "listenerConfig": {}}]}
    [proxy] = ps.parse_istioctl_json(json.dumps(discovery_response("istiod-x", [resource])))
    assert proxy["types"]["CDS"] == "SYNCED" and proxy["types"]["LDS"] == "STALE"


def test_istioctl_json_that_is_a_syncz_list():
    [proxy] = ps.parse_istioctl_json(json.dumps([syncz_item("a", "shop")]))
    assert proxy["name"] == "a.shop" and proxy["state"] == "SYNCED"


def test_istioctl_output_that_is_not_json_is_refused():
    with pytest.raises(ps.ProxyStatusError, match="not JSON"):
        ps.parse_istioctl_json("Error: no running Istio pods")


# ---- tables (last resort), several releases ----------------------------------------------------------

def tabwriter(rows, padding=5):
    """Go's tabwriter as istioctl uses it: each column padded to its widest cell plus padding."""
    widths = [max(len(row[i]) for row in rows) + padding for i in range(len(rows[0]) - 1)]
    return "\n".join("".join(cell.ljust(w) for cell, w in zip(row, widths)) + row[-1] for row in rows) + "\n"


TABLE_1_7 = """\
NAME                                                   CDS        LDS        EDS        RDS          PILOT                       VERSION
details-v1-558b8b4b76-qzqsg.default                    SYNCED     SYNCED     SYNCED     SYNCED       istiod-6cf8d4f9cb-wm7x6     1.7.0
istio-ingressgateway-66c994c45c-cmb7x.istio-system     SYNCED     SYNCED     SYNCED     NOT SENT     istiod-6cf8d4f9cb-wm7x6     1.7.0
productpage-v1-6987489c74-nc7tj.default                STALE      SYNCED     SYNCED     SYNCED       istiod-6cf8d4f9cb-wm7x6     1.7.0
"""


def test_table_1_7_with_pilot_column():
    proxies = dict((p["name"], p) for p in ps.parse_table(TABLE_1_7))
    assert proxies["details-v1-558b8b4b76-qzqsg.default"]["state"] == "SYNCED"
    gateway = proxies["istio-ingressgateway-66c994c45c-cmb7x.istio-system"]
    assert gateway["types"]["RDS"] == "NOT SENT" and gateway["istiod"] == "istiod-6cf8d4f9cb-wm7x6"
    assert gateway["version"] == "1.7.0" and gateway["types"]["ECDS"] == "IGNORED"
    assert proxies["productpage-v1-6987489c74-nc7tj.default"]["state"] == "STALE"


def test_table_1_12_istiod_column():
    text = tabwriter([["NAME", "CDS", "LDS", "EDS", "RDS", "ISTIOD", "VERSION"],
                      ["details-v1-5498c86cf5-bhnww.default", "SYNCED", "SYNCED", "SYNCED", "SYNCED",
                       "istiod-7f8b586864-mv8xp", "1.12.0"],
                      ["reviews-v1-1.default", "STALE (Never Acknowledged)", "SYNCED", "SYNCED", "NOT SENT",
                       "istiod-7f8b586864-mv8xp", "1.12.0"]])
    proxies = dict((p["name"], p) for p in ps.parse_table(text))
    assert proxies["reviews-v1-1.default"]["types"]["CDS"] == "STALE (Never Acknowledged)"
    assert proxies["reviews-v1-1.default"]["types"]["RDS"] == "NOT SENT"
    assert proxies["details-v1-5498c86cf5-bhnww.default"]["istiod"] == "istiod-7f8b586864-mv8xp"


def test_table_1_16_cluster_column():
    text = tabwriter([["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ISTIOD", "VERSION"],
                      ["details-v1-698b5d8c98-qglgn.default", "Kubernetes", "SYNCED", "SYNCED", "SYNCED", "SYNCED",
                       "istiod-6cf8d4f9cb-wm7x6", "1.16.1"]])
    [proxy] = ps.parse_table(text)
    assert proxy["cluster"] == "Kubernetes" and proxy["state"] == "SYNCED" and proxy["version"] == "1.16.1"


def test_table_1_20_ecds_column_and_error():
    text = tabwriter([["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"],
                      ["details-v1-1.default", "Kubernetes", "SYNCED", "SYNCED", "SYNCED", "SYNCED", "NOT SENT",
                       "istiod-1", "1.20.0"],
                      ["ratings-v1-1.default", "Kubernetes", "ERROR", "SYNCED", "SYNCED", "SYNCED", "IGNORED",
                       "istiod-1", "1.20.0"]])
    proxies = dict((p["name"], p) for p in ps.parse_table(text))
    assert proxies["details-v1-1.default"]["types"]["ECDS"] == "NOT SENT"
    assert proxies["ratings-v1-1.default"]["state"] == "ERROR"
    assert proxies["ratings-v1-1.default"]["types"]["ECDS"] == "IGNORED"


def test_table_1_24_states_with_ages():
    text = tabwriter([["NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"],
                      ["details-v1-1.default", "Kubernetes", "SYNCED (2m3s)", "SYNCED (2m3s)", "SYNCED (94s)",
                       "STALE (10s)", "IGNORED", "istiod-1", "1.24.0"]])
    [proxy] = ps.parse_table(text)
    assert proxy["types"]["CDS"] == "SYNCED" and proxy["types"]["RDS"] == "STALE"


# istioctl 1.31 (sandbox build), proxy-status -v 1: every type a column, in type order, with ages
TABLE_1_31_VERBOSE = """\
NAME                         CLUSTER        CDS             ECDS        EDS             LDS             RDS             ISTIOD                     VERSION
web-84cd44fcbb-5dz7v.ps1     Kubernetes     STALE (5s)      IGNORED     IGNORED         STALE (5s)      IGNORED         istiod-default-sandbox     1.31-alpha.eed52ebb66ad
web-84cd44fcbb-f7wqm.ps1     Kubernetes     SYNCED (5s)     IGNORED     SYNCED (5s)     SYNCED (5s)     SYNCED (5s)     istiod-default-sandbox     1.31-alpha.eed52ebb66ad
"""
# istioctl 1.31 default table: subscribed types only
TABLE_1_31 = """\
NAME                         CLUSTER        ISTIOD                     VERSION                     SUBSCRIBED TYPES
web-84cd44fcbb-5dz7v.ps1     Kubernetes     istiod-default-sandbox     1.31-alpha.eed52ebb66ad     2 (CDS,LDS)
"""


def test_table_1_31_verbose_with_types_in_another_order():
    stale, synced = ps.parse_table(TABLE_1_31_VERBOSE)
    assert stale["types"] == {"CDS": "STALE", "LDS": "STALE", "EDS": "IGNORED", "RDS": "IGNORED", "ECDS": "IGNORED"}
    assert stale["state"] == "STALE" and stale["istiod"] == "istiod-default-sandbox"
    assert synced["types"]["RDS"] == "SYNCED" and synced["version"] == "1.31-alpha.eed52ebb66ad"


def test_table_with_subscribed_types_only_is_refused():
    with pytest.raises(ps.ProxyStatusError, match="subscribed types"):
        ps.parse_table(TABLE_1_31)


def test_table_with_subscribed_types_only_is_refused_synthetic():
    text = tabwriter([["NAME", "CLUSTER", "ISTIOD", "VERSION", "SUBSCRIBED TYPES"],
                      ["details-v1-1.default", "Kubernetes", "istiod-1", "1.27.0", "4 (CDS,LDS,EDS,RDS)"]])
    with pytest.raises(ps.ProxyStatusError, match="subscribed types"):
        ps.parse_table(text)


# ---- input checks ------------------------------------------------------------------------------------

@pytest.mark.parametrize("selector", ["app=reviews", "app==reviews,version!=v1", "tier", "!canary", "app=",
                                      "env in (prod, staging)", "env notin (dev),app", "app.kubernetes.io/name=x"])
def test_selectors_that_parse(selector):
    ps.check_selector(selector)


@pytest.mark.parametrize("selector", ["=reviews", "app=re views", "env in prod", "app=(x", "a=b,,c=d",
                                      "app~=x", " "])
def test_selectors_that_do_not_parse(selector):
    with pytest.raises(ps.ProxyStatusError, match="label_selector"):
        ps.check_selector(selector)


@pytest.mark.parametrize("value", [-1, 100.5, 250])
def test_threshold_outside_0_100_is_refused(value):
    with pytest.raises(ps.ProxyStatusError, match="0 to 100"):
        ps.check_threshold(value)


# ---- judging and waiting -----------------------------------------------------------------------------

class Api(object):
    def __init__(self, namespaces=("shop", "web"), pods=()):
        self.namespaces = namespaces
        self.pods = pods
        self.calls = []

    def list(self, kind, namespace, label_selector=None):
        self.calls.append((kind, namespace, label_selector))
        if kind == "Namespace":
            return [{"metadata": {"name": ns}} for ns in self.namespaces]
        return [{"metadata": {"name": name, "namespace": ns}} for name, ns in self.pods
                if namespace in (None, ns)]


def fleet(synced=17, stale=3, ns="shop"):
    items = [syncz_item("p%02d" % i, ns) for i in range(synced)]
    items += [syncz_item("s%02d" % i, ns, cds=("n1", ""), lds=("n2", ""), eds=("", "")) for i in range(stale)]
    return ps.parse_syncz(items, "istiod")


def test_summary_counts_per_state_and_type():
    summary = ps.summarize(fleet())
    assert summary["total"] == 20 and summary["proxies"]["SYNCED"] == 17 and summary["proxies"]["STALE"] == 3
    assert summary["types"]["CDS"]["SYNCED"] == 17 and summary["types"]["CDS"]["STALE (Never Acknowledged)"] == 3
    assert summary["not_synced_percent"] == 15.0


def test_fails_by_threshold_and_by_state():
    result = ps.ProxyStatus(fleet, Api()).run(max_not_synced_percent=10)
    assert len(result["failures"]) == 1 and "15.0% of 20 proxies" in result["failures"][0]
    assert ps.ProxyStatus(fleet, Api()).run(max_not_synced_percent=15)["failures"] == []
    result = ps.ProxyStatus(fleet, Api()).run(fail_on=["STALE", "ERROR"])
    assert result["failures"] == ["3 proxies STALE (fail_on includes STALE): s00.shop, s01.shop, s02.shop"]


def test_namespace_and_selector_filters_list_once_per_namespace():
    proxies = fleet(ns="shop") + fleet(synced=2, stale=0, ns="web")
    api = Api(pods=[("p00", "shop"), ("p01", "web")])
    result = ps.ProxyStatus(lambda: proxies, api).run(namespaces=["web"], label_selector="app=x")
    assert [p["name"] for p in result["proxies"]] == ["p01.web"]
    assert api.calls == [("Namespace", None, None), ("Pod", "web", "app=x")]


def test_unknown_namespace_is_refused_before_reading():
    def read():
        raise AssertionError("must not read")
    with pytest.raises(ps.ProxyStatusError, match="nosuch.*do not exist"):
        ps.ProxyStatus(read, Api()).run(namespaces=["shop", "nosuch"])


def test_wait_reads_until_synced():
    reads = [fleet(stale=3), fleet(stale=1), fleet(synced=20, stale=0)]
    sleeps = []
    result = ps.ProxyStatus(lambda: reads.pop(0), Api(), sleep=sleeps.append, clock=lambda: 0).run(
        wait=True, wait_timeout=60, wait_sleep=2, max_not_synced_percent=0)
    assert result["attempts"] == 3 and result["synced"] and result["failures"] == [] and sleeps == [2, 2]


def test_wait_gives_up_at_the_timeout_and_judges_the_last_read():
    now = [0]

    def sleep(seconds):
        now[0] += seconds
    result = ps.ProxyStatus(fleet, Api(), sleep=sleep, clock=lambda: now[0]).run(
        wait=True, wait_timeout=10, wait_sleep=3, fail_on=["STALE"])
    assert result["attempts"] == 5 and not result["synced"] and result["failures"]


def test_unreachable_istiod_fails_at_once_even_when_waiting():
    calls = []

    def open_url(url, timeout):
        calls.append(url)
        raise OSError("[Errno 111] Connection refused")
    read = ps.syncz_from_address(open_url, "127.0.0.1:15080")
    with pytest.raises(ps.IstiodUnreachable, match="istiod is unreachable at http://127.0.0.1:15080/debug/syncz"):
        ps.ProxyStatus(read, Api(), sleep=lambda s: None).run(wait=True, wait_timeout=60)
    assert len(calls) == 1


# ---- sources -----------------------------------------------------------------------------------------

def test_syncz_through_port_forward_reads_every_running_istiod():
    pods = [{"metadata": {"name": "istiod-a"}, "status": {"phase": "Running"}},
            {"metadata": {"name": "istiod-b"}, "status": {"phase": "Running"}},
            {"metadata": {"name": "istiod-old"}, "status": {"phase": "Pending"}}]
    answers = {"istiod-a": [syncz_item("a", "shop")], "istiod-b": [syncz_item("b", "shop")]}
    forwarded = []

    def forward(pod, namespace, port, request):
        forwarded.append((pod, namespace, port))
        assert request.startswith(b"GET /debug/syncz ")
        return b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + json.dumps(answers[pod]).encode()
    read = ps.syncz_from_pods(lambda ns, sel: pods, forward, "istio-system")
    assert sorted((p["name"], p["istiod"]) for p in read()) == [("a.shop", "istiod-a"), ("b.shop", "istiod-b")]
    assert forwarded == [("istiod-a", "istio-system", 15014), ("istiod-b", "istio-system", 15014)]


def test_http_response_is_complete_by_length_or_last_chunk():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
    assert ps.http_response(head + b"01234", eof=False)[2] is False
    assert ps.http_response(head + b"0123456789", eof=False) == (200, b"0123456789", True)
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2,\r\n"
    assert ps.http_response(chunked, eof=False)[2] is False
    assert ps.http_response(chunked + b"2\r\n3]\r\n0\r\n\r\n", eof=False) == (200, b"[1,2,3]", True)
    assert ps.http_response(b"HTTP/1.1 20", eof=False) == (None, None, False)
    assert ps.parse_http_response(b"HTTP/1.0 503 Service Unavailable\r\n\r\nnot ready") == (503, b"not ready")
    with pytest.raises(ps.ProxyStatusError, match="not HTTP"):
        ps.parse_http_response(b"SSH-2.0-OpenSSH\r\n\r\n")


def test_no_running_istiod_pod_names_istiod():
    read = ps.syncz_from_pods(lambda ns, sel: [], None, "istio-system", revision="canary")
    with pytest.raises(ps.IstiodUnreachable, match="no Running istiod pod .app=istiod,istio.io/rev=canary."):
        read()


def test_istioctl_json_then_table_when_o_is_unknown():
    calls = []

    def run(cmd):
        calls.append(cmd)
        if "-o" in cmd:
            return 1, "", "Error: unknown shorthand flag: 'o' in -o"
        return 0, TABLE_1_7, ""
    proxies = ps.istioctl_reader(run, "istioctl", ["--context", "prod"])()
    assert len(proxies) == 3
    assert calls == [["istioctl", "proxy-status", "-o", "json", "--context", "prod"],
                     ["istioctl", "proxy-status", "--context", "prod"]]


@pytest.mark.parametrize("stderr", [
    'Error: no running Istio pods in "istio-system"',
    'Error: could not get XDS from discovery pod "istiod-6c-7w": ADSC: failed running rpc error: code = Unavailable '
    'desc = connection error: desc = "transport: authentication handshake failed: read: connection reset by peer"',
])
def test_istioctl_that_cannot_reach_istiod_names_istiod(stderr):
    read = ps.istioctl_reader(lambda cmd: (1, "", stderr), "istioctl")
    with pytest.raises(ps.IstiodUnreachable, match="istioctl could not reach istiod"):
        read()


def test_port_forward_that_cannot_dial_istiod_names_the_istiod_pod():
    pods = [{"metadata": {"name": "istiod-a"}, "status": {"phase": "Running"}}]

    def forward(pod, namespace, port, request):
        raise IOError("error forwarding port 15014 to pod istiod-a/istio-system: dial tcp: connection refused")
    read = ps.syncz_from_pods(lambda ns, sel: pods, forward, "istio-system")
    with pytest.raises(ps.IstiodUnreachable, match="istiod pod istio-system/istiod-a is unreachable through "
                                                   "port-forward to 15014: error forwarding"):
        read()
