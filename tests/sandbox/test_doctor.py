"""playbooks/doctor.yml on the sandbox: a healthy install passes; one broken setup makes each check name
itself with its hint, in one doctor run; bad input is refused in one run. playbooks/collect-logs.yml: real
istiod log lines through the API server, unreadable logs listed with the reason, never a Secret."""
import json
import tarfile
import time

import pytest
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, delete_namespaces, deployment, wait_for
from tests.helpers.playbook import run_playbook

@pytest.fixture(scope="module")
def istio(installed_mesh):
    return installed_mesh


def doctor(tmp_path, extra, **kw):
    extra = dict(mesh_doctor_report_dir=str(tmp_path), **extra)
    run = run_playbook("playbooks/doctor.yml", extra, **kw)
    path = tmp_path / "report.json"
    return run, (json.loads(path.read_text()) if path.exists() else None)


def by_id(report):
    return dict((c["id"], c) for c in report["checks"])


def injected_namespace(api_client, prefix, pods=3):
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    ns = "%s-%d" % (prefix, time.time() * 1000 % 100000)
    core.create_namespace({"metadata": {"name": ns, "labels": {"istio-runbooks.io/test": "true",
                                                               "istio-injection": "enabled"}}})
    apps.create_namespaced_deployment(ns, deployment("web", replicas=pods))
    wait_for(lambda: all_available(api_client, [ns]), timeout=120)
    return ns


def test_doctor_passes_on_a_healthy_install(sandbox, istio, api_client, audit, tmp_path):
    ns = injected_namespace(api_client, "doc-ok")
    try:
        assert sandbox.proxies_up(ns) == 3
        since = now()
        run, report = doctor(tmp_path, {"mesh_doctor_namespaces": [ns]})
        assert run.rc == 0, run.stdout[-4000:]
        checks = by_id(report)
        assert report["passed"] and report["summary"]["fail"] == 0, report["lines"]
        for check_id in ("control_plane", "crds", "webhooks", "injection", "mtls", "gateways", "proxies", "analyze",
                         "root_cert", "serving_cert"):
            assert checks[check_id]["status"] == "ok", checks[check_id]
        assert "%s 3/3" % ns in checks["injection"]["detail"]
        assert "3 proxies: 3 SYNCED" in checks["proxies"]["detail"]
        assert report["lines"][0].startswith(u"\u2713 control plane")
        assert [w for w in audit.writes(since) if w[1] != "pods"] == []  # port-forward only
        # --tags pre on the installed cluster: the earlier install is a warning, not a failure
        run, report = doctor(tmp_path, {}, tags="pre")
        assert run.rc == 0, run.stdout[-4000:]
        assert [c["id"] for c in report["checks"]] == ["api", "permissions", "conflicts", "precheck"]
        assert by_id(report)["conflicts"]["status"] == "warn"
    finally:
        sandbox.proxies_down()
        delete_namespaces(api_client, [ns])


WEBHOOK = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
           "metadata": {"name": "istio-doctor-test", "labels": {"istio.io/rev": "default"}},
           "webhooks": [{"name": "doctor.test.istio.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                         "failurePolicy": "Ignore", "clientConfig": {"url": "https://localhost:1/none"},
                         "namespaceSelector": {"matchLabels": {"istio-runbooks.io/never": "true"}}}]}


def test_doctor_names_each_failing_check_with_its_hint(sandbox, istio, api_client, tmp_path):
    core = client.CoreV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    admission = client.AdmissionregistrationV1Api(api_client)
    ns = "doc-bad-%d" % (time.time() * 1000 % 100000)
    # a pod created before the namespace is labelled for injection keeps running without a sidecar
    core.create_namespace({"metadata": {"name": ns, "labels": {"istio-runbooks.io/test": "true"}}})
    try:
        core.create_namespaced_pod(ns, {"metadata": {"name": "plain", "labels": {"app": "plain"}},
                                        "spec": {"containers": [{"name": "app", "image": "registry.local/plain:1"}]}})
        core.patch_namespace(ns, {"metadata": {"labels": {"istio-injection": "enabled"}}})
        admission.create_mutating_webhook_configuration(WEBHOOK)
        custom.create_namespaced_custom_object("security.istio.io", "v1", ns, "peerauthentications", {
            "apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"}}})
        custom.create_namespaced_custom_object("networking.istio.io", "v1", ns, "destinationrules", {
            "apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "plain"},
            "spec": {"host": "plain.%s.svc.cluster.local" % ns, "trafficPolicy": {"tls": {"mode": "DISABLE"}}}})
        custom.create_namespaced_custom_object("networking.istio.io", "v1", ns, "virtualservices", {
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "lost"},
            "spec": {"hosts": ["lost.example.com"],
                     "http": [{"route": [{"destination": {"host": "nowhere.%s.svc.cluster.local" % ns}}]}]}})
        wait_for(lambda: core.read_namespaced_pod("plain", ns).status.phase == "Running", timeout=60)
        assert sandbox.istiod_down("default")
        try:
            run, report = doctor(tmp_path, {"mesh_doctor_namespaces": [ns]})
        finally:
            sandbox.istiod_up("default")
        assert run.rc != 0
        checks = by_id(report)
        expected = {
            "webhooks": ("MutatingWebhookConfiguration istio-doctor-test: doctor.test.istio.io: no caBundle",
                         "istiod writes the caBundle when it starts"),
            "injection": ("pods without istio-proxy: %s/plain" % ns, "restart their workloads"),
            "mtls": ("IST0113 DestinationRule %s/plain sends DISABLE" % ns, "tls.mode to ISTIO_MUTUAL"),
            "analyze": ("Error IST0101 VirtualService %s/lost" % ns, "istioctl analyze -A explains them"),
            "proxies": ("istiod", "istiod must run and answer"),
        }
        for check_id, (detail, hint) in expected.items():
            assert checks[check_id]["status"] == "fail", checks[check_id]
            assert detail in checks[check_id]["detail"], checks[check_id]
            assert hint in checks[check_id]["hint"], checks[check_id]
            line = [l for l in report["lines"] if checks[check_id]["name"] in l][0]
            assert line.startswith(u"\u00d7 "), line
        assert "checks failed" in run.stdout and "IST0101" in run.stdout
    finally:
        admission.delete_mutating_webhook_configuration("istio-doctor-test")
        delete_namespaces(api_client, [ns])


def test_bad_input_is_refused_with_clear_errors(sandbox, istio, audit, tmp_path):
    since = now()
    run, report = doctor(tmp_path, {"mesh_doctor_namespaces": ["no-such-namespace"],
                                    "mesh_doctor_max_not_synced_percent": 150, "mesh_doctor_selector": "app=(shop"})
    assert run.rc != 0 and report is None
    for expected in ("mesh_doctor_namespaces names no-such-namespace, which do not exist",
                     "mesh_doctor_max_not_synced_percent is 150: give a percentage from 0 to 100",
                     "mesh_doctor_selector: label_selector 'app=(shop' does not parse"):
        assert expected in run.stdout, run.stdout[-3000:]
    assert audit.writes(since) == []


def test_logs_bundle_holds_real_istiod_lines_and_no_secret(sandbox, istio, api_client, tmp_path):
    core = client.CoreV1Api(api_client)
    ns = injected_namespace(api_client, "doc-logs", pods=2)
    planted = "planted-%d-never-in-a-bundle" % (time.time() * 1000)
    try:
        core.create_namespaced_pod(ns, {"metadata": {"name": "plain", "labels": {"app": "web"},
                                                     "annotations": {"sidecar.istio.io/inject": "false"}},
                                        "spec": {"containers": [{"name": "app", "image": "registry.local/web:1"}]}})
        for where in ("istio-system", ns):
            core.create_namespaced_secret(where, {"metadata": {"name": "doctor-planted"},
                                                  "stringData": {"token": planted}})
        run = run_playbook("playbooks/collect-logs.yml", {"collect_logs_namespaces": [ns], "collect_logs_tail_lines": 50,
                                                          "collect_logs_selector": "app=web",
                                                          "collect_logs_dir": str(tmp_path)})
        assert run.rc == 0, run.stdout[-3000:]
        [bundle] = list(tmp_path.glob("istio-bundle-*.tar.gz"))
        raw = open(bundle, "rb").read()
        with tarfile.open(bundle) as tar:
            files = dict((m.name.split("/", 1)[1], tar.extractfile(m).read()) for m in tar.getmembers())
        assert planted.encode() not in b"".join(files.values()) and planted.encode() not in raw
        for name in ("index.json", "index.txt", "istio-system/all.json", "namespaces.json", "istioctl-analyze.json",
                     "proxy-status.json", "istio/VirtualService.json", "istio/DestinationRule.json",
                     "istio/Gateway.json", "istio/PeerAuthentication.json", "istio/AuthorizationPolicy.json"):
            assert name in files, sorted(files)
        index = json.loads(files["index.json"])
        [istiod_log] = [n for n in files if n.startswith("logs/istio-system/istiod-") and n.endswith("/discovery.log")]
        lines = files[istiod_log].decode().splitlines()
        assert 0 < len(lines) <= 50
        local = (sandbox.paths.logs / "istiod-default.log").read_text()
        assert all(line in local for line in lines if line.strip()), lines[:3]
        assert json.loads(files["namespaces.json"])[ns]["istio-injection"] == "enabled"
        assert "Secret" not in json.loads(files["istio-system/all.json"])
        reasons = dict(("%s/%s" % (l["namespace"], l["pod"]), l["reason"]) for l in index["unreadable_logs"])
        assert reasons["%s/plain" % ns] == "no istio-proxy container (pod not injected)"
        gateways = [k for k in reasons if k.startswith("istio-system/istio-ingressgateway")]
        assert gateways and "no logs found" in reasons[gateways[0]]  # kwok serves no gateway logs: listed, not skipped
        assert "NOT READ" in files["index.txt"].decode()
    finally:
        core.delete_namespaced_secret("doctor-planted", "istio-system")
        delete_namespaces(api_client, [ns])
