"""playbooks/drift.yml on the sandbox: the inventory's state passes; an mTLS mode changed by hand and an injection
label removed by hand are both reported with their variables, the run fails, and nothing is written."""
import time

from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers.audit import now
from tests.helpers.cluster import delete_namespaces
from tests.helpers.playbook import run_playbook

MESH_PA = ("security.istio.io", "v1", "istio-system", "peerauthentications", "default")


def mesh_policy(mode):
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": "default", "namespace": "istio-system"}, "spec": {"mtls": {"mode": mode}}}


def test_drift_reports_mode_and_label_changed_by_hand_and_writes_nothing(installed_mesh, api_client, audit):
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
    inventory = {"site_injection_namespaces": [kept, changed], "observability_addons_enabled": addons}
    try:
        since = now()
        run = run_playbook("playbooks/drift.yml", inventory)
        assert run.rc == 0, run.stdout[-3000:]
        assert "No drift: the cluster matches the inventory (version, injection, mtls, addons)" in run.stdout
        time.sleep(1)
        assert audit.writes(since) == []

        # by hand: the mesh-wide mode weakened, one namespace's injection label removed
        custom.patch_namespaced_custom_object(*MESH_PA, {"spec": {"mtls": {"mode": "PERMISSIVE"}}})
        core.patch_namespace(changed, {"metadata": {"labels": {"istio-injection": None}}})
        since = now()
        run = run_playbook("playbooks/drift.yml", inventory)
        assert run.rc != 0, run.stdout[-3000:]
        [result] = [r["ansible_facts"]["mesh_drift_result"] for r in run.task_results("Mesh_drift | Compare")]
        assert [(d["check"], d["variable"], d["object"]) for d in result["drifts"]] == [
            ("injection", "site_injection_namespaces", "namespace %s" % changed),
            ("mtls", "mesh_drift_mtls_mode", "PeerAuthentication istio-system/default (mesh-wide)")]
        assert ("2 drifts from the inventory (mesh_drift_mtls_mode, site_injection_namespaces): namespace %s: "
                "not labelled for injection" % changed) in run.stdout
        assert "mode PERMISSIVE, declared STRICT (declared by mesh_drift_mtls_mode)" in run.stdout
        time.sleep(1)
        assert audit.writes(since) == []
    finally:
        if before is None:
            custom.delete_namespaced_custom_object(*MESH_PA)
        else:
            custom.patch_namespaced_custom_object(*MESH_PA, {"spec": before["spec"]})
        delete_namespaces(api_client, [kept, changed])
