"""mtls_policy on the sandbox with the real istiod: apply, remove, revert, gate, DestinationRule audit,
effective modes and validation."""
import re
from pathlib import Path

import pytest
from kubernetes import client

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import ROOT, run_playbook

SNAPSHOTS = ROOT / "artifacts/sandbox/mtls_policy/snapshots"


def policies(api):
    items = client.CustomObjectsApi(api).list_cluster_custom_object("security.istio.io", "v1", "peerauthentications")["items"]
    return clean_for_backup(items)


def mesh_mode(api):
    found = [p for p in policies(api) if p["metadata"]["namespace"] == "istio-system" and p["metadata"]["name"] == "default"]
    return found[0]["spec"]["mtls"]["mode"] if found else None


def mtls(playbook, **extra):
    return run_playbook("playbooks/mtls-%s.yml" % playbook, extra)


def text(run):
    return " ".join(run.stdout.split())


def snapshots():
    return sorted(p.name for p in SNAPSHOTS.glob("snapshot-*.yaml")) if SNAPSHOTS.exists() else []


@pytest.fixture(scope="module")
def shop(sandbox, api_client):
    assert run_playbook("playbooks/install.yml").rc == 0
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.create_namespace({"metadata": {"name": "mtls-shop", "labels": {"istio-injection": "enabled"}}})
    for name in ("web", "legacy"):
        dep = deployment(name)
        dep["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}]
        apps.create_namespaced_deployment("mtls-shop", dep)
    wait_for(lambda: all_available(api_client, ["mtls-shop"]))
    yield "mtls-shop"
    core.delete_namespace("mtls-shop")


@pytest.mark.parametrize("playbook, extra, expected", [
    ("strict", {"mtls_policy_mode": "STRICTT"}, "value of mtls_policy_mode must be one of: STRICT, PERMISSIVE, DISABLE, UNSET"),
    ("strict", {"mtls_policy_scope": "workload", "mtls_policy_namespace": "mtls-shop"}, "a non-empty mtls_policy_selector"),
    ("strict", {"mtls_policy_scope": "namespace", "mtls_policy_namespace": "nowhere"}, "Namespace nowhere does not exist"),
    ("revert", {"mtls_policy_snapshot": "snapshot-missing.yaml"}, "No snapshot at"),
])
def test_bad_input_fails_before_any_change(shop, audit, playbook, extra, expected):
    since = now()
    run = run_playbook("playbooks/mtls-%s.yml" % playbook, extra)
    assert run.rc != 0 and expected in text(run), run.stdout[-3000:]
    assert audit.writes(since) == []


def test_corrupted_snapshot_is_refused(shop, audit, tmp_path):
    bad = tmp_path / "snapshot-bad.yaml"
    bad.write_text("- this: is\n  not: [a, snapshot\n")
    since = now()
    run = mtls("revert", mtls_policy_snapshot=str(bad))
    assert run.rc != 0 and "is corrupted" in text(run)
    assert audit.writes(since) == []


def test_check_mode_writes_nothing(shop, audit):
    since = now()
    run = run_playbook("playbooks/mtls-strict.yml", {"mtls_policy_force": True}, check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert audit.writes(since) == []


def test_strict_permissive_remove_and_revert_restore_exact_states(shop, api_client):
    assert mtls("remove").rc == 0  # start from no mesh-wide policy, whatever ran before
    original = policies(api_client)
    before = set(snapshots())
    strict = mtls("strict", mtls_policy_force=True)
    assert strict.rc == 0, strict.stdout[-3000:]
    assert mesh_mode(api_client) == "STRICT"
    first_snapshot = sorted(set(snapshots()) - before)[0]
    again = mtls("strict", mtls_policy_force=True)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]

    assert mtls("permissive").rc == 0 and mesh_mode(api_client) == "PERMISSIVE"
    permissive_state = policies(api_client)
    assert mtls("remove").rc == 0 and mesh_mode(api_client) is None

    revert = mtls("revert")  # the newest snapshot: taken just before the remove
    assert revert.rc == 0, revert.stdout[-3000:]
    assert policies(api_client) == permissive_state

    back = mtls("revert", mtls_policy_snapshot=first_snapshot)
    assert back.rc == 0, back.stdout[-3000:]
    assert policies(api_client) == original
    assert mtls("revert", mtls_policy_snapshot=first_snapshot).changed == 0


def test_gate_blocks_strict_for_an_uninjected_deployment_and_force_lets_it_through(sandbox, api_client, namespace):
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment("bare"))
    wait_for(lambda: all_available(api_client, [namespace]))
    run = mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace)
    assert run.rc != 0
    assert re.search(r"STRICT refused for namespace %s: 1 finding\(s\): pod %s/bare-\S+ has no istio-proxy sidecar"
                     % (namespace, namespace), text(run)), run.stdout[-3000:]
    assert not [p for p in policies(api_client) if p["metadata"]["namespace"] == namespace]
    forced = mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace, mtls_policy_force=True)
    assert forced.rc == 0 and "Safety gate overridden" in text(forced)
    assert [p["spec"]["mtls"]["mode"] for p in policies(api_client) if p["metadata"]["namespace"] == namespace] == ["STRICT"]


def test_destination_rule_disable_against_strict_is_reported(shop, api_client):
    client.CustomObjectsApi(api_client).create_namespaced_custom_object(
        "networking.istio.io", "v1", shop, "destinationrules",
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "web-plain"},
         "spec": {"host": "web.mtls-shop.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}})
    run = mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=shop)
    assert run.rc == 0, run.stdout[-3000:]
    assert ("DestinationRule mtls-shop/web-plain sends DISABLE to web.mtls-shop.svc.cluster.local, whose mTLS mode is "
            "STRICT (mtls-shop/default)") in text(run), [l for l in run.stdout.splitlines() if "DestinationRule" in l
                                                          or "conflict" in l.lower()]


def test_effective_mode_table_for_mesh_namespace_workload_and_port_policies(shop, api_client):
    assert mtls("permissive", mtls_policy_force=True).rc == 0                   # mesh PERMISSIVE
    assert mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=shop).rc == 0   # namespace STRICT
    legacy = mtls("permissive", mtls_policy_scope="workload", mtls_policy_namespace=shop, mtls_policy_name="legacy",
                  mtls_policy_selector={"app": "legacy"})
    assert legacy.rc == 0
    web = run_playbook("playbooks/mtls-strict.yml", {
        "mtls_policy_scope": "workload", "mtls_policy_namespace": shop, "mtls_policy_name": "web-ports",
        "mtls_policy_selector": {"app": "web"}, "mtls_policy_mode": "UNSET", "mtls_policy_port_modes": {"8080": "DISABLE"}})
    # mtls-strict pins the mode to STRICT; UNSET with a port-level DISABLE goes through the role directly
    assert web.rc == 0, web.stdout[-3000:]
    table = text(web)
    # hand-worked: web inherits STRICT from the namespace, its port 8080 is DISABLE; legacy is PERMISSIVE
    assert re.search(r"mtls-shop web \* STRICT mtls-shop/web-ports", table) or re.search(
        r"mtls-shop web \* STRICT mtls-shop/default", table), table[-2000:]
    assert re.search(r"mtls-shop web 8080 DISABLE mtls-shop/web-ports \(port 8080\)", table), table[-2000:]
    assert re.search(r"mtls-shop legacy \* PERMISSIVE mtls-shop/legacy", table), table[-2000:]


def test_invalid_peer_authentication_is_rejected_by_istio_validation_and_reported(shop, api_client):
    # Istio validates PeerAuthentications twice: in the CRD's rules and in istiod's webhook; the CRD's
    # rules (the same checks) answer first, so the message comes back from the API server.
    run = run_playbook("playbooks/mtls-strict.yml", {
        "mtls_policy_scope": "workload", "mtls_policy_namespace": shop, "mtls_policy_name": "bad-selector",
        "mtls_policy_selector": {"app": "web*"}, "mtls_policy_force": True})
    assert run.rc != 0
    assert ("Istio rejected PeerAuthentication mtls-shop/bad-selector: is invalid: "
            "spec.selector.matchLabels[app]: Invalid value: \\\"web*\\\": wildcard not allowed") in text(run) or (
        "wildcard not allowed in label value match" in text(run)), run.stdout[-3000:]
    assert "Istio rejected PeerAuthentication mtls-shop/bad-selector" in text(run)
    assert not [p for p in policies(api_client) if p["metadata"]["name"] == "bad-selector"]
