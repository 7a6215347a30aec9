"""playbooks/drift.yml on the sandbox: the inventory's state passes; an mTLS mode changed by hand, an injection
label removed by hand, a gateway listener's host changed by hand and a route removed by hand are all reported with
their variables, the run fails, and nothing is written."""
import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.gateways import listener_objects
from tests.helpers.audit import now
from tests.helpers.cluster import delete_namespaces
from tests.helpers.playbook import run_playbook

MESH_PA = ("security.istio.io", "v1", "istio-system", "peerauthentications", "default")
INGRESS = [{"name": "istio-ingress", "namespace": "istio-ingress", "type": "ingress"}]
PLURAL = {"Gateway": "gateways", "VirtualService": "virtualservices"}


def mesh_policy(mode):
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": mode}}}


def test_drift_reports_mode_label_listener_and_route_changed_by_hand_and_writes_nothing(installed_mesh, api_client, audit):
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    apps = client.AppsV1Api(api_client)
    suffix = int(time.time() * 1000 % 100000)
    kept, changed = "drift-kept-%d" % suffix, "drift-changed-%d" % suffix
    for name in (kept, changed):
        core.create_namespace({"metadata": {"name": name, "labels": {"istio-runbooks.io/test": "true",
                                                                     "istio-injection": "enabled"}}})
    try:
        before = custom.get_namespaced_custom_object(*MESH_PA)
    except ApiException as exc:
        assert exc.status == 404
        before = None
    # what site.yml leaves: the namespaces labelled, the mesh-wide policy STRICT; the addons as they are
    if before is None:
        custom.create_namespaced_custom_object(*MESH_PA[:4], mesh_policy("STRICT"))
    else:
        custom.patch_namespaced_custom_object(*MESH_PA, {"spec": {"mtls": {"mode": "STRICT"}}})
    addons = sorted({d.metadata.labels["istio-runbooks.io/addon"] for d in apps.list_deployment_for_all_namespaces(
        label_selector="istio-runbooks.io/addon").items})
    # the listeners mesh_gateways renders from the inventory (Istio format), created as it creates them
    listeners = [{"name": "web", "namespace": kept, "hosts": ["web.drift.example"], "service": "web"},
                 {"name": "api", "namespace": kept, "hosts": ["api.drift.example"], "service": "api"}]
    for obj in listener_objects(listeners, INGRESS, "istio"):
        custom.create_namespaced_custom_object("networking.istio.io", "v1", kept, PLURAL[obj["kind"]], obj)
    inventory = {"site_injection_namespaces": [kept, changed], "observability_addons_enabled": addons,
                 "mesh_gateways_gateways": INGRESS, "mesh_gateways_listeners": listeners}
    try:
        since = now()
        run = run_playbook("playbooks/drift.yml", inventory)
        assert run.rc == 0, run.stdout[-3000:]
        assert ("No drift: the cluster matches the inventory (version, injection, mtls, addons, gateways, traffic, "
                "authorization)") in " ".join(run.stdout.split())  # the YAML callback folds long lines
        time.sleep(1)
        assert audit.writes(since) == []

        # by hand: the mesh-wide mode weakened, one namespace's injection label removed
        custom.patch_namespaced_custom_object(*MESH_PA, {"spec": {"mtls": {"mode": "PERMISSIVE"}}})
        core.patch_namespace(changed, {"metadata": {"labels": {"istio-injection": None}}})
        # by hand: the web listener's host changed, the api route deleted
        custom.patch_namespaced_custom_object("networking.istio.io", "v1", kept, "gateways", "web", {
            "spec": {"servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                                  "hosts": ["www.drift.example"]}]}})
        custom.delete_namespaced_custom_object("networking.istio.io", "v1", kept, "virtualservices", "api")
        since = now()
        run = run_playbook("playbooks/drift.yml", inventory)
        assert run.rc != 0, run.stdout[-3000:]
        [result] = [r["ansible_facts"]["mesh_drift_result"] for r in run.task_results("Mesh_drift | Compare")]
        assert [(d["check"], d["variable"], d["object"]) for d in result["drifts"]] == [
            ("injection", "site_injection_namespaces", "namespace %s" % changed),
            ("mtls", "mesh_drift_mtls_mode", "PeerAuthentication istio-system/default (mesh-wide)"),
            ("gateways", "mesh_gateways_listeners[0] (web)", "Gateway %s/web" % kept),
            ("gateways", "mesh_gateways_listeners[1] (api)", "VirtualService %s/api" % kept)]
        stdout = " ".join(run.stdout.split())  # the YAML callback folds long lines
        assert ("4 drifts from the inventory (mesh_drift_mtls_mode, mesh_gateways_listeners[0] (web), "
                "mesh_gateways_listeners[1] (api), site_injection_namespaces): namespace %s: "
                "not labelled for injection" % changed) in stdout
        assert "mode PERMISSIVE, declared STRICT (declared by mesh_drift_mtls_mode)" in stdout
        assert result["drifts"][2]["message"] == (
            'Gateway %s/web: spec.servers[0].hosts is ["www.drift.example"], declared ["web.drift.example"] '
            "(declared by mesh_gateways_listeners[0] (web))" % kept)
        assert result["drifts"][3]["message"] == (
            "VirtualService %s/api: does not exist (declared by mesh_gateways_listeners[1] (api))" % kept)
        time.sleep(1)
        assert audit.writes(since) == []
    finally:
        if before is None:
            custom.delete_namespaced_custom_object(*MESH_PA)
        else:
            custom.patch_namespaced_custom_object(*MESH_PA, {"spec": before["spec"]})
        delete_namespaces(api_client, [kept, changed])
