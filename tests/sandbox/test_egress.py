"""Egress (traffic_management action egress, playbooks/egress.yml) and the REGISTRY_ONLY runbook
(playbooks/egress-registry-only.yml) on the sandbox with the real istiod, on the shared control plane.

Bad input is refused before any write; the objects applied from variables equal hand-written ones (istiod's
webhook accepts them on the way); check mode and a second run write nothing; a change is reverted exactly from
its snapshot; REGISTRY_ONLY is refused naming the external host in use that no ServiceEntry covers (hosts in use
from a Prometheus API answer served by the test), and the check passes once every host is covered."""
import copy
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from kubernetes import client

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import without_ticket_annotations
from tests.helpers.audit import now
from tests.helpers.playbook import run_playbook

NS = "eg-egress"
GATEWAY = {"name": "istio-egress", "namespace": NS}
HTTPBIN = {"name": "httpbin", "hosts": ["httpbin.org"],
           "ports": [{"number": 80, "protocol": "HTTP"}, {"number": 443, "protocol": "TLS"}]}
MIRROR = {"name": "pypi-mirror", "hosts": ["pypi.example.com"], "ports": [{"number": 443, "protocol": "TLS"}],
          "egress_gateway": False}
PLURALS = {"ServiceEntry": "serviceentries", "DestinationRule": "destinationrules", "Gateway": "gateways",
           "VirtualService": "virtualservices"}
VIA = {"host": "istio-egress.%s.svc.cluster.local" % NS, "subset": "httpbin"}
# Hand-written: Istio's Egress Gateways task for httpbin.org over HTTP and TLS, and a direct ServiceEntry.
EXPECTED = {
    ("ServiceEntry", "httpbin"): {"hosts": ["httpbin.org"], "location": "MESH_EXTERNAL", "resolution": "DNS", "ports": [
        {"number": 80, "protocol": "HTTP", "name": "http-80"}, {"number": 443, "protocol": "TLS", "name": "tls-443"}]},
    ("ServiceEntry", "pypi-mirror"): {"hosts": ["pypi.example.com"], "location": "MESH_EXTERNAL", "resolution": "DNS",
                                      "ports": [{"number": 443, "protocol": "TLS", "name": "tls-443"}]},
    ("DestinationRule", "egress-gateway"): {"host": VIA["host"], "subsets": [{"name": "httpbin"}]},
    ("Gateway", "egress-httpbin"): {"selector": {"app": "istio-egress", "istio": "egress"}, "servers": [
        {"port": {"number": 80, "name": "http-80", "protocol": "HTTP"}, "hosts": ["httpbin.org"]},
        {"port": {"number": 443, "name": "tls-443", "protocol": "TLS"}, "hosts": ["httpbin.org"],
         "tls": {"mode": "PASSTHROUGH"}}]},
    ("VirtualService", "egress-httpbin"): {"hosts": ["httpbin.org"], "gateways": ["egress-httpbin", "mesh"], "http": [
        {"name": "mesh-to-egress-gateway-80", "match": [{"gateways": ["mesh"], "port": 80}],
         "route": [{"destination": dict(VIA, port={"number": 80}), "weight": 100}]},
        {"name": "egress-gateway-to-httpbin-80", "match": [{"gateways": ["egress-httpbin"], "port": 80}],
         "route": [{"destination": {"host": "httpbin.org", "port": {"number": 80}}, "weight": 100}]}], "tls": [
        {"match": [{"gateways": ["mesh"], "port": 443, "sniHosts": ["httpbin.org"]}],
         "route": [{"destination": dict(VIA, port={"number": 443}), "weight": 100}]},
        {"match": [{"gateways": ["egress-httpbin"], "port": 443, "sniHosts": ["httpbin.org"]}],
         "route": [{"destination": {"host": "httpbin.org", "port": {"number": 443}}, "weight": 100}]}]},
}


def inputs(services=None, **extra):
    data = {"traffic_management_egress_gateway": GATEWAY,
            "traffic_management_egress_services": [HTTPBIN, MIRROR] if services is None else services}
    data.update(extra)
    return data


def text(run):
    return " ".join(run.stdout.split())


def writes_after(audit, since):
    time.sleep(1)  # let the audit log writer catch up
    return audit.writes(since)


def live_objects(api):
    custom = client.CustomObjectsApi(api)
    found = {}
    for kind, plural in PLURALS.items():
        for obj in custom.list_namespaced_custom_object("networking.istio.io", "v1", NS, plural)["items"]:
            found[(kind, obj["metadata"]["name"])] = obj
    return found


def comparable(obj):
    meta = without_ticket_annotations(obj)["metadata"]
    return {"spec": obj["spec"], "labels": meta.get("labels"), "annotations": meta.get("annotations")}


@pytest.fixture(scope="module")
def egress_ns(installed_mesh, api_client):
    """The egress gateway's namespace and Service (the Deployment is mesh_gateways', tested in test_gateways)."""
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": NS, "labels": {"istio-runbooks.io/test": "true"}}})
    core.create_namespaced_service(NS, {"metadata": {"name": "istio-egress"}, "spec": {
        "selector": {"app": "istio-egress", "istio": "egress"},
        "ports": [{"name": "http2", "port": 80}, {"name": "https", "port": 443}]}})
    yield NS
    core.delete_namespace(NS)


class _Prometheus(BaseHTTPRequestHandler):
    """Prometheus's query API answering the passthrough query with the hosts in self.server.hosts."""

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        result = [{"metric": {"destination_service": host, "source_workload": "backend-v1",
                              "source_workload_namespace": "demo"}, "value": [time.time(), "42"]}
                  for host in self.server.hosts]
        body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def prometheus_api():
    server = HTTPServer(("127.0.0.1", 0), _Prometheus)
    server.hosts = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def test_bad_input_is_refused_before_any_write(egress_ns, audit):
    since = now()
    bad = [dict(HTTPBIN, hosts=["httpbin.org", "Not A Host"]),
           {"name": "db", "hosts": ["db.example.com"], "ports": [{"number": 5432, "protocol": "TCP"}]}]
    run = run_playbook("playbooks/egress.yml", inputs(bad))
    assert run.rc != 0
    for message in ("traffic_management_egress_services[0] (httpbin).hosts has names that are not DNS names",
                    "traffic_management_egress_services[1] (db).ports[0].protocol TCP cannot be routed through the "
                    "egress gateway", "Nothing was changed"):
        assert message in text(run), run.stdout[-3000:]
    run = run_playbook("playbooks/egress.yml", inputs(traffic_management_egress_gateway={"name": "istio-egress",
                                                                                        "namespace": "eg-none"}))
    assert run.rc != 0 and "the egress gateway Service eg-none/istio-egress does not exist" in text(run), run.stdout[-3000:]
    assert writes_after(audit, since) == []


def test_egress_applied_from_variables_idempotent_and_reverted_exactly(egress_ns, api_client, audit):
    since = now()
    plan = run_playbook("playbooks/egress.yml", inputs(), check=True, diff=True)
    assert plan.rc == 0 and plan.changed > 0, plan.stdout[-3000:]
    assert writes_after(audit, since) == [], "check mode wrote"

    run = run_playbook("playbooks/egress.yml", inputs())  # istiod's webhook validates every object on the way
    assert run.rc == 0, run.stdout[-3000:]
    applied = live_objects(api_client)
    assert {k: v["spec"] for k, v in applied.items()} == EXPECTED
    assert all(v["metadata"]["labels"]["istio-runbooks.io/egress"] for v in applied.values())

    since = now()
    again = run_playbook("playbooks/egress.yml", inputs())
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert "Egress: all 5 objects already match" in text(again)
    assert writes_after(audit, since) == []

    # a change: the mirror goes, httpbin loses HTTP; its objects are snapshotted first, then the revert puts
    # back exactly what was there
    changed = run_playbook("playbooks/egress.yml", inputs([dict(HTTPBIN, ports=[HTTPBIN["ports"][1]])]))
    assert changed.rc == 0, changed.stdout[-3000:]
    after = live_objects(api_client)
    assert ("ServiceEntry", "pypi-mirror") not in after and "http" not in after[("VirtualService", "egress-httpbin")]["spec"]
    assert "removed ServiceEntry %s/pypi-mirror" % NS in text(changed)
    revert = run_playbook("playbooks/traffic-revert.yml")
    assert revert.rc == 0, revert.stdout[-3000:]
    restored = live_objects(api_client)
    assert {k: comparable(v) for k, v in restored.items()} == {k: comparable(v) for k, v in applied.items()}


def test_registry_only_refused_naming_the_uncovered_host_then_passes(egress_ns, api_client, prometheus_api, audit):
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "networking.istio.io", "v1", NS, "serviceentries", {
            "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": {"name": "httpbin-by-hand"},
            "spec": {"hosts": ["httpbin.org"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                     "resolution": "DNS", "location": "MESH_EXTERNAL"}})
    url = "http://127.0.0.1:%d" % prometheus_api.server_port
    prometheus_api.hosts = ["httpbin.org", "api.stripe.com"]
    since = now()
    run = run_playbook("playbooks/egress-registry-only.yml", {"traffic_management_egress_prometheus_url": url,
                                                             "istio_install_outbound_traffic_policy": "REGISTRY_ONLY"})
    assert run.rc != 0
    out = text(run)
    assert ("REGISTRY_ONLY refused: external hosts in use without a ServiceEntry: api.stripe.com" in out
            and "Nothing was changed" in out), run.stdout[-3000:]
    assert re.search(r"External host in use: httpbin.org \(42 requests/connections from demo/backend-v1\): covered by "
                     r"ServiceEntry .*%s/httpbin-by-hand" % NS, out), run.stdout[-3000:]
    assert "External host in use: api.stripe.com (42 requests/connections from demo/backend-v1): NOT covered" in out
    assert writes_after(audit, since) == []

    # every host covered: the gate passes (check mode, the gate's tag: the control plane's always-tagged
    # pre-flight runs, its plan is left out; tests/unit/test_egress.py renders the mode into the IstioOperator)
    prometheus_api.hosts = ["httpbin.org"]
    since = now()
    plan = run_playbook("playbooks/egress-registry-only.yml", {"traffic_management_egress_prometheus_url": url,
                                                              "istio_install_outbound_traffic_policy": "REGISTRY_ONLY"},
                        check=True, tags="traffic_management")
    assert plan.rc == 0 and "Every external host in use has a ServiceEntry" in text(plan), plan.stdout[-3000:]
    assert writes_after(audit, since) == []
