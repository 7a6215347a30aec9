"""ingress_nginx and the ingress-nginx migration runbook on the sandbox with the real istiod: both IngressClasses
exist and each test Ingress is claimed by exactly one; five sample NGINX Ingresses (path, host, TLS, canary-weight,
rewrite) are converted and a configuration-snippet is reported; plan in check mode writes nothing; apply, cutover,
rollback (exact) and cleanup, each second run without a write; bad input refused before any write.

NGINX itself cannot run here (kwok pods run no containers): its objects are checked against the real API server."""
import glob
import json
import os
import subprocess

import pytest
import yaml
from kubernetes import client

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import differences
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.ingress_migration import convert
from tests.helpers.audit import now
from tests.helpers.cluster import wait_for
from tests.helpers.playbook import ROOT, run_playbook

NS = "mig-shop"
NGINX_NS = "mig-nginx"
DIR = ROOT / "artifacts/test-ingress-migration"
RUNBOOK = "playbooks/migrate-ingress-nginx.yml"
P = "nginx.ingress.kubernetes.io/"
NGINX_VARS = {"ingress_nginx_namespace": NGINX_NS, "ingress_nginx_image_registry": "registry.example.com/mirror",
              "ingress_nginx_default_class": "nginx", "ingress_nginx_in_mesh": True}
GATEWAY_API = "sigs.k8s.io/gateway-api@v1.6.3"


def ingress(name, rules, annotations=None, cls="nginx", tls=None):
    spec = {"rules": rules}
    if cls:
        spec["ingressClassName"] = cls
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": NS, "labels": {"app": name},
                         "annotations": annotations or {}}, "spec": spec}


def rule(host, path="/", service="web", path_type="Prefix", port=80):
    return {"host": host, "http": {"paths": [{"path": path, "pathType": path_type, "backend": {
        "service": {"name": service, "port": {"number": port}}}}]}}


SAMPLES = [
    ingress("path", [{"host": "shop.example.com", "http": {"paths": [
        {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"number": 8080}}}},
        {"path": "/health", "pathType": "Exact", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]),
    ingress("hosts", [rule("a.example.com"), rule("b.example.com", service="api", port=8080)], cls=None),  # default class
    ingress("tls", [rule("secure.example.com")], tls=[{"hosts": ["secure.example.com"], "secretName": "secure-tls"}]),
    ingress("canary", [rule("canary.example.com")]),
    ingress("canary-v2", [rule("canary.example.com", service="web-v2")],
            annotations={P + "canary": "true", P + "canary-weight": "20"}),
    ingress("rewrite", [rule("rw.example.com", path="/app(/|$)(.*)", path_type="ImplementationSpecific")],
            annotations={P + "rewrite-target": "/$2", P + "use-regex": "true"}),
    ingress("snippet", [rule("snip.example.com")],
            annotations={P + "configuration-snippet": "more_set_headers 'X-Frame-Options: DENY';"}),
]
ISTIO_CLAIMED = ingress("already-istio", [rule("istio.example.com")], cls="istio")


def args(**extra):
    data = {"ingress_migration_namespaces": [NS], "ingress_migration_dir": str(DIR),
            "ingress_migration_gateway_namespace": NS}
    data.update(extra)
    return data


def text(run):
    return " ".join(run.stdout.split())


def live_ingresses(api):
    items = client.NetworkingV1Api(api).list_namespaced_ingress(NS).to_dict()["items"]
    return dict((i["metadata"]["name"], {"labels": i["metadata"]["labels"], "annotations": i["metadata"]["annotations"],
                                         "spec": i["spec"]}) for i in items)


def gateway_api_crds_installed(api):
    names = [c.metadata.name for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items]
    return "httproutes.gateway.networking.k8s.io" in names


def install_gateway_api_crds():
    """The standard-channel CRDs from the Go module cache, applied server-side (httproutes.yaml is over the
    client-side apply annotation limit)."""
    info = json.loads(subprocess.run(["go", "mod", "download", "-json", GATEWAY_API], check=True,
                                     capture_output=True, text=True).stdout)
    files = sorted(glob.glob(os.path.join(info["Dir"], "config/crd/standard/*.yaml")))
    files = [f for f in files if "vap_" not in f]
    cmd = ["kubectl", "--kubeconfig", str(ROOT / ".sandbox/kubeconfig"), "apply", "--server-side"]
    for path in files:
        cmd += ["-f", path]
    subprocess.run(cmd, check=True, capture_output=True)
    subprocess.run(["kubectl", "--kubeconfig", str(ROOT / ".sandbox/kubeconfig"), "wait", "--for=condition=Established",
                    "crd/httproutes.gateway.networking.k8s.io", "crd/tlsroutes.gateway.networking.k8s.io",
                    "--timeout=60s"], check=True, capture_output=True)


@pytest.fixture(scope="module")
def shop(sandbox, api_client, installed_mesh):
    import shutil
    shutil.rmtree(DIR, ignore_errors=True)
    core, net = client.CoreV1Api(api_client), client.NetworkingV1Api(api_client)
    wait_for(lambda: NS not in [n.metadata.name for n in core.list_namespace().items])  # an earlier run's, deleting
    core.create_namespace({"metadata": {"name": NS}})
    for name, port in (("web", 80), ("web-v2", 80), ("api", 8080)):
        core.create_namespaced_service(NS, {"metadata": {"name": name}, "spec": {
            "selector": {"app": name}, "ports": [{"name": "http", "port": port}]}})
    crds_missing = not gateway_api_crds_installed(api_client)
    yield {"crds_missing": crds_missing}
    core.delete_namespace(NS)
    core.delete_namespace(NGINX_NS)
    for name in ("nginx", "istio"):
        net.delete_ingress_class(name)
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.delete_cluster_role("ingress-nginx")
    rbac.delete_cluster_role_binding("ingress-nginx")
    shutil.rmtree(DIR, ignore_errors=True)


def test_nginx_beside_istio_both_classes_each_ingress_claimed_by_exactly_one(shop, api_client, audit):
    # check mode writing nothing: tests/sandbox/test_runbook_contracts.py::test_check_mode_writes_nothing
    run = run_playbook("playbooks/ingress-nginx.yml", NGINX_VARS)
    assert run.rc == 0, run.stdout[-3000:]
    assert "WARNING: ingress-nginx is retired upstream since March 2026" in text(run)
    since = now()
    again = run_playbook("playbooks/ingress-nginx.yml", NGINX_VARS)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert audit.writes(since) == [], "the second run wrote"

    net = client.NetworkingV1Api(api_client)
    classes = dict((c.metadata.name, c) for c in net.list_ingress_class().items)
    assert classes["nginx"].spec.controller == "k8s.io/ingress-nginx"
    assert classes["istio"].spec.controller == "istio.io/ingress-controller"
    assert classes["nginx"].metadata.annotations["ingressclass.kubernetes.io/is-default-class"] == "true"
    assert classes["istio"].metadata.annotations["ingressclass.kubernetes.io/is-default-class"] == "false"
    controller = client.AppsV1Api(api_client).read_namespaced_deployment("ingress-nginx-controller", NGINX_NS)
    template = controller.spec.template
    assert template.spec.containers[0].image == "registry.example.com/mirror/ingress-nginx/controller:v1.15.0"
    assert template.metadata.labels["sidecar.istio.io/inject"] == "true"
    assert template.metadata.annotations == {"traffic.sidecar.istio.io/includeInboundPorts": "",
                                             "traffic.sidecar.istio.io/excludeInboundPorts": "80,443"}
    assert "--watch-ingress-without-class=true" in template.spec.containers[0].args

    for obj in SAMPLES + [ISTIO_CLAIMED]:
        net.create_namespaced_ingress(NS, obj)
    # the runbook's report records which class claims each Ingress (read once, decided in module_utils)
    run = run_playbook(RUNBOOK, args(ingress_migration_output="istio"))
    assert run.rc == 0, run.stdout[-3000:]  # its server-side dry run went through istiod's validating webhook
    assert "VirtualService/canary" in text(run) and "Gateway/canary-gateway" in text(run)
    report = yaml.safe_load((DIR / ("plan-%s.yaml" % NS)).read_text())
    claims = report["claims"]
    assert sorted(claims) == sorted("%s/%s" % (NS, o["metadata"]["name"]) for o in SAMPLES + [ISTIO_CLAIMED])
    for name, claim in claims.items():
        assert claim["class"] in ("nginx", "istio"), name
        assert claim["controller"] == {"nginx": "k8s.io/ingress-nginx", "istio": "istio.io/ingress-controller"}[claim["class"]]
    # created without a class: the API server's DefaultIngressClass admission wrote the default (nginx) into it
    assert claims[NS + "/hosts"] == {"class": "nginx", "controller": "k8s.io/ingress-nginx", "reason": "spec.ingressClassName"}
    assert claims[NS + "/already-istio"]["class"] == "istio"
    assert NS + "/already-istio" not in report["selected"]


def test_bad_input_is_refused_before_any_write(shop, audit):
    since = now()
    for extra, message in (({"ingress_migration_phase": "merge"}, "ingress_migration_phase"),
                           ({"ingress_migration_namespaces": []}, "ingress_migration_namespaces is empty"),
                           ({"ingress_migration_phase": "cleanup"}, "the cutover was not verified")):
        run = run_playbook(RUNBOOK, args(**extra))
        assert run.rc != 0 and message in text(run), run.stdout[-3000:]
    assert audit.writes(since) == []


def test_controller_objects_another_tool_made_are_refused_unless_adopted(shop, api_client, audit):
    core = client.CoreV1Api(api_client)
    # as a Helm release of ingress-nginx leaves it: same name, not our label
    core.patch_namespaced_config_map("ingress-nginx-controller", NGINX_NS, {"metadata": {"labels": {
        "app.kubernetes.io/part-of": None, "app.kubernetes.io/managed-by": "Helm"}}})
    since = now()
    refused = run_playbook("playbooks/ingress-nginx.yml", NGINX_VARS)
    assert refused.rc != 0 and "Refusing to take over %s/ConfigMap/ingress-nginx-controller" % NGINX_NS in text(refused)
    assert "ingress_nginx_adopt: true" in text(refused)
    assert audit.writes(since) == []
    adopted = run_playbook("playbooks/ingress-nginx.yml", dict(NGINX_VARS, ingress_nginx_adopt=True))
    assert adopted.rc == 0, adopted.stdout[-3000:]
    labels = core.read_namespaced_config_map("ingress-nginx-controller", NGINX_NS).metadata.labels
    assert labels["app.kubernetes.io/part-of"] == "istio-runbooks"


def test_plan_check_mode_writes_nothing_then_apply_converts_the_five_samples(shop, api_client, audit):
    if shop["crds_missing"]:
        run = run_playbook(RUNBOOK, args())
        assert run.rc != 0 and "The cluster has no Gateway API CRDs" in text(run), run.stdout[-3000:]
        install_gateway_api_crds()
    (DIR / ("plan-%s.yaml" % NS)).unlink(missing_ok=True)
    since = now()
    check = run_playbook(RUNBOOK, args(), check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    out = text(check)
    assert "NOT CONVERTED %sconfiguration-snippet: raw NGINX configuration" % P in out
    assert "converted %srewrite-target" % P in out and "converted %scanary -> merged" % P in out
    assert audit.writes(since) == [], "plan in check mode wrote"
    assert not (DIR / ("plan-%s.yaml" % NS)).exists(), "plan in check mode wrote the report"

    refused = run_playbook(RUNBOOK, args(ingress_migration_phase="apply"))
    assert refused.rc != 0 and "cannot be converted" in text(refused), refused.stdout[-3000:]
    assert audit.writes(since) == []

    apply_vars = args(ingress_migration_phase="apply", ingress_migration_allow_not_converted=True)
    run = run_playbook(RUNBOOK, apply_vars)
    assert run.rc == 0, run.stdout[-3000:]
    custom = client.CustomObjectsApi(api_client)
    routes = dict((r["metadata"]["name"], r) for r in custom.list_namespaced_custom_object(
        "gateway.networking.k8s.io", "v1", NS, "httproutes")["items"])
    assert sorted(routes) == ["canary", "hosts-0", "hosts-1", "path", "rewrite", "snippet", "tls", "tls-https-redirect"]
    gateway = {"name": "ingress", "namespace": NS}
    for want in convert([i for i in SAMPLES], "gateway_api", gateway)["objects"]:
        # every field the converter states is live (the API server adds defaults: group, kind, weight)
        assert differences(want["spec"], routes[want["metadata"]["name"]]["spec"]) == [], want["metadata"]["name"]
    # hand-written: what each variant means on the route
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ingress", "namespace": NS}
    assert routes["path"]["spec"]["rules"] == [
        {"matches": [{"path": {"type": "PathPrefix", "value": "/api"}}], "backendRefs": [
            {"group": "", "kind": "Service", "name": "api", "port": 8080, "weight": 1}]},
        {"matches": [{"path": {"type": "Exact", "value": "/health"}}], "backendRefs": [
            {"group": "", "kind": "Service", "name": "web", "port": 80, "weight": 1}]}]
    assert [r["spec"]["hostnames"] for r in (routes["hosts-0"], routes["hosts-1"])] == [["a.example.com"], ["b.example.com"]]
    assert routes["tls"]["spec"]["parentRefs"] == [dict(parent, sectionName="https")]
    assert routes["tls-https-redirect"]["spec"]["rules"][0]["filters"][0]["requestRedirect"]["scheme"] == "https"
    assert [(b["name"], b["weight"]) for b in routes["canary"]["spec"]["rules"][0]["backendRefs"]] == [
        ("web", 80), ("web-v2", 20)]
    rewrite = routes["rewrite"]["spec"]["rules"][0]
    assert rewrite["matches"][0]["path"] == {"type": "PathPrefix", "value": "/app"}
    assert rewrite["filters"][0]["urlRewrite"]["path"] == {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}

    since = now()
    again = run_playbook(RUNBOOK, apply_vars)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert audit.writes(since) == [], "the second apply wrote"


def test_cutover_rollback_exactly_then_cleanup_only_after_verification(shop, api_client, audit):
    state_file = DIR / ("cutover-%s.yaml" % NS)
    before = live_ingresses(api_client)
    since = now()
    check = run_playbook(RUNBOOK, args(ingress_migration_phase="cutover"), check=True, diff=True)
    assert check.rc == 0 and check.changed > 0, check.stdout[-3000:]
    assert audit.writes(since) == [] and not state_file.exists(), "cutover in check mode wrote"

    cut = run_playbook(RUNBOOK, args(ingress_migration_phase="cutover"))
    assert cut.rc == 0, cut.stdout[-3000:]
    after = live_ingresses(api_client)
    moved = [n for n in before if n != "already-istio"]
    assert all(after[n]["spec"]["ingress_class_name"] == "istio" for n in moved)
    state = yaml.safe_load(state_file.read_text())
    assert state["verified"] is True and state["rolled_back"] is False
    assert sorted(i["metadata"]["name"] for i in state["ingresses"]) == sorted(moved)
    since = now()
    again = run_playbook(RUNBOOK, args(ingress_migration_phase="cutover"))
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert audit.writes(since) == [], "the second cutover wrote"

    back = run_playbook(RUNBOOK, args(ingress_migration_phase="rollback"))
    assert back.rc == 0, back.stdout[-3000:]
    assert live_ingresses(api_client) == before, "rollback did not restore the Ingresses exactly"
    assert yaml.safe_load(state_file.read_text())["verified"] is False
    # a cleanup after a rollback refuses: tests/unit/test_ingress_migration.py::test_cleanup_only_after_verified_cutover

    assert run_playbook(RUNBOOK, args(ingress_migration_phase="cutover")).rc == 0
    clean = run_playbook(RUNBOOK, args(ingress_migration_phase="cleanup"))
    assert clean.rc == 0, clean.stdout[-3000:]
    assert sorted(live_ingresses(api_client)) == ["already-istio"]
    since = now()
    again = run_playbook(RUNBOOK, args(ingress_migration_phase="cleanup"))
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert audit.writes(since) == [], "the second cleanup wrote"
