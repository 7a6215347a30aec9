"""mesh_gateways (playbooks/gateways.yml) against the sandbox with the real istiod, on the shared control plane.

Bad input is refused before any write; each format is planned in check mode (no writes), applied, compared with
hand-written objects, and re-run with zero writes; for a Gateway API Gateway the real istiod creates the
Deployment and Service and the role reports Programmed; a teardown plan names the gateways.
"""
import base64
import subprocess
import time

import pytest
from kubernetes import client, dynamic

from tests.helpers.audit import now
from tests.helpers.cluster import wait_for
from tests.helpers.playbook import ROOT, run_playbook

NS = "gw-shop"
OTHER_NS = "gw-other-team"
SNAPSHOTS = ROOT / "artifacts" / "sandbox" / "gateways"
PLAYBOOK = "playbooks/gateways.yml"
GATEWAYS = [{"name": "shop-ingress", "namespace": NS, "type": "ingress"},
            {"name": "shop-egress", "namespace": NS, "type": "egress"}]
LISTENER = {"name": "shop", "namespace": NS, "hosts": ["shop.example.com"], "service": "frontend", "port": 8080,
            "tls_secret": "shop-cert", "https_redirect": True}


def inputs(**extra):
    data = {"mesh_gateways_gateways": GATEWAYS, "mesh_gateways_listeners": [LISTENER], "mesh_gateways_api": "istio"}
    data.update(extra)
    return data


def writes_after(audit, since):
    time.sleep(1)  # let the audit log writer catch up
    return audit.writes(since)


def tls_secret(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=shop.example.com", "-keyout", str(tmp_path / "tls.key"), "-out", str(tmp_path / "tls.crt")],
                   check=True, capture_output=True)
    data = dict((k, base64.b64encode((tmp_path / k).read_bytes()).decode()) for k in ("tls.crt", "tls.key"))
    return {"metadata": {"name": "shop-cert"}, "type": "kubernetes.io/tls", "data": data}


@pytest.fixture(scope="module")
def shop(installed_mesh, api_client, tmp_path_factory):
    """NS with the app's Service; its TLS Secret is created by the test (a missing Secret is a case)."""
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": NS, "labels": {"istio-runbooks.io/test": "true"}}})
    core.create_namespaced_service(NS, {"metadata": {"name": "frontend"}, "spec": {
        "selector": {"app": "frontend"}, "ports": [{"name": "http", "port": 8080}]}})
    yield tls_secret(tmp_path_factory.mktemp("tls"))
    core.delete_namespace(NS)
    try:
        core.delete_namespace(OTHER_NS)
    except client.ApiException:
        pass


def test_bad_input_fails_before_any_write_naming_the_variable(shop, audit):
    since = now()
    cases = [
        (inputs(mesh_gateways_api="nginx"), ["value of mesh_gateways_api must be one of: istio, gateway_api, got: nginx"]),
        # every listener problem at once
        (inputs(mesh_gateways_listeners=[dict(LISTENER, tls_secret="", gateway="shop-egress", hosts=["Shop!"])]),
         ["mesh_gateways_listeners[0] (shop).hosts has names that are not DNS names: 'Shop!'",
          "mesh_gateways_listeners[0] (shop).https_redirect needs tls_secret",
          "mesh_gateways_listeners[0] (shop).gateway must name an ingress gateway of mesh_gateways_gateways"]),
        (inputs(), ["mesh_gateways_listeners[0].tls_secret names Secret gw-shop/shop-cert, which does not exist"]),
    ]
    for extra, messages in cases:
        run = run_playbook(PLAYBOOK, extra)
        out = " ".join(run.stdout.split())
        assert run.rc != 0 and all(m in out for m in messages), run.stdout[-3000:]
    assert writes_after(audit, since) == []


def test_both_formats_applied_programmed_then_no_writes(shop, api_client, audit):
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    dyn = dynamic.DynamicClient(api_client)
    core.create_namespaced_secret(NS, shop)

    # the Istio format: check mode plans and writes nothing, then the real run, then nothing to do
    since = now()
    plan = run_playbook(PLAYBOOK, inputs(), check=True, diff=True)
    assert plan.rc == 0 and plan.changed > 0, plan.stdout[-3000:]
    assert writes_after(audit, since) == []
    run = run_playbook(PLAYBOOK, inputs())
    assert run.rc == 0, run.stdout[-3000:]
    gateway = dyn.resources.get(api_version="networking.istio.io/v1", kind="Gateway").get(name="shop", namespace=NS)
    assert gateway.to_dict()["spec"] == {"selector": {"app": "shop-ingress", "istio": "shop-ingress"}, "servers": [
        {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"],
         "tls": {"httpsRedirect": True}},
        {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["shop.example.com"],
         "tls": {"mode": "SIMPLE", "credentialName": "shop-cert"}}]}
    route = dyn.resources.get(api_version="networking.istio.io/v1", kind="VirtualService").get(name="shop", namespace=NS)
    assert route.to_dict()["spec"] == {"hosts": ["shop.example.com"], "gateways": [NS + "/shop"], "http": [
        {"name": "default", "route": [{"destination": {"host": "frontend.%s.svc.cluster.local" % NS,
                                                       "port": {"number": 8080}}}]}]}
    # the gateway pods were injected by istiod's webhook with the gateway template: the image is no longer "auto"
    pods = core.list_namespaced_pod(NS, label_selector="app=shop-ingress").items
    assert pods and pods[0].metadata.annotations["inject.istio.io/templates"] == "gateway"
    assert "/proxyv2:" in [c.image for c in pods[0].spec.containers if c.name == "istio-proxy"][0]
    assert apps.read_namespaced_deployment("shop-egress", NS).status.available_replicas == 1
    assert core.read_namespaced_service("shop-egress", NS).spec.type == "ClusterIP"
    since = now()
    again = run_playbook(PLAYBOOK, inputs())
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert writes_after(audit, since) == []

    # another team's gateway: same label, another namespace; a run of these variables never removes it
    core.create_namespace({"metadata": {"name": OTHER_NS, "labels": {"istio-runbooks.io/test": "true"}}})
    other_team = dyn.resources.get(api_version="networking.istio.io/v1", kind="Gateway")
    other_team.create(namespace=OTHER_NS, body={"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {
        "name": "pay", "labels": {"istio-runbooks.io/gateway": "pay"}}, "spec": {"selector": {"istio": "pay"}, "servers": [
            {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["pay.example.com"]}]}})
    removed_before = set(SNAPSHOTS.glob("removed-*.yaml"))

    # Gateway API: the CRDs server-side, the objects, istiod deploys the Gateway; the Istio objects go
    since = now()
    plan = run_playbook(PLAYBOOK, inputs(mesh_gateways_api="gateway_api"), check=True, diff=True)
    assert plan.rc == 0 and plan.changed > 0, plan.stdout[-3000:]
    assert writes_after(audit, since) == []
    run = run_playbook(PLAYBOOK, inputs(mesh_gateways_api="gateway_api"))
    assert run.rc == 0, run.stdout[-3000:]
    assert "Gateway API Gateway %s/shop: Programmed" % NS in run.stdout
    api_gateway = dyn.resources.get(api_version="gateway.networking.k8s.io/v1", kind="Gateway").get(name="shop", namespace=NS)
    assert api_gateway.metadata.annotations["networking.istio.io/service-type"] == "ClusterIP"
    assert api_gateway.to_dict()["spec"]["gatewayClassName"] == "istio"
    # istiod's gateway controller made these, owned by the Gateway
    made = apps.read_namespaced_deployment("shop-istio", NS)
    assert [o.kind for o in made.metadata.owner_references] == ["Gateway"]
    assert core.read_namespaced_service("shop-istio", NS).spec.type == "ClusterIP"
    wait_for(lambda: apps.read_namespaced_deployment("shop-istio", NS).status.available_replicas == 1)
    routes = dyn.resources.get(api_version="gateway.networking.k8s.io/v1", kind="HTTPRoute").get(namespace=NS)
    assert sorted(r.metadata.name for r in routes.items) == ["shop", "shop-https-redirect"]
    redirect = [r for r in routes.items if r.metadata.name == "shop-https-redirect"][0].to_dict()["spec"]
    assert redirect["rules"][0]["filters"] == [{"type": "RequestRedirect",
                                                "requestRedirect": {"scheme": "https", "statusCode": 301}}]
    assert dyn.resources.get(api_version="networking.istio.io/v1", kind="VirtualService").get(namespace=NS).items == []
    # copied before removal; the other team's gateway left alone and reported
    copies = set(SNAPSHOTS.glob("removed-*.yaml")) - removed_before
    assert len(copies) == 1 and "kind: VirtualService" in copies.pop().read_text()
    assert other_team.get(name="pay", namespace=OTHER_NS).metadata.name == "pay"
    assert "%s/Gateway/pay" % OTHER_NS in " ".join(run.stdout.split())
    crd = client.ApiextensionsV1Api(api_client).read_custom_resource_definition("httproutes.gateway.networking.k8s.io")
    assert "kubectl.kubernetes.io/last-applied-configuration" not in (crd.metadata.annotations or {})
    assert crd.metadata.annotations["gateway.networking.k8s.io/bundle-version"] == "v1.6.3"
    since = now()
    again = run_playbook(PLAYBOOK, inputs(mesh_gateways_api="gateway_api"))
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert writes_after(audit, since) == []

    # a purge plans the gateways and the listeners' objects (planned only: the control plane is shared)
    since = now()
    teardown = run_playbook("playbooks/teardown.yml", {}, check=True, tags="plan")  # the always-tagged plan only
    assert teardown.rc == 0, teardown.stdout[-3000:]
    assert "HTTPRoute" in teardown.stdout and "Gateway" in teardown.stdout
    assert writes_after(audit, since) == []
