"""mtls_policy on the sandbox with the real istiod: apply, remove, revert, gate, DestinationRule audit,
effective modes and validation."""
import re
from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import without_ticket_annotations
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, pods_with_sidecar, wait_for
from tests.helpers.playbook import ROOT, run_playbook

SNAPSHOTS = ROOT / "artifacts/sandbox/mtls_policy/snapshots"


def policies(api):
    items = client.CustomObjectsApi(api).list_cluster_custom_object("security.istio.io", "v1", "peerauthentications")["items"]
    # a revert restores the policies exactly; the change annotations name the run that restored them
    return [without_ticket_annotations(p) for p in clean_for_backup(items)]


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
def shop(installed_mesh, api_client):
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
    ("strict", {"mtls_policy_prometheus_url": "http://127.0.0.1:1", "mtls_policy_prometheus_window": "1 hour"},
     "mtls_policy_prometheus_window a Prometheus duration such as 1h, 90m or 1h30m (got '1 hour')"),
    ("strict", {"mtls_policy_prometheus_url": "prometheus:9090"}, "mtls_policy_prometheus_url must be empty or an http(s) URL"),
    ("strict", {"mtls_policy_fallback_mode": "DISABLE"}, "value of mtls_policy_fallback_mode must be one of: , PERMISSIVE"),
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


def latest():
    pointer = SNAPSHOTS / "LATEST"
    return pointer.read_text() if pointer.exists() else None


def test_check_mode_writes_nothing(shop, audit):
    snapshots_before, latest_before = snapshots(), latest()
    since = now()
    run = run_playbook("playbooks/mtls-strict.yml", {"mtls_policy_force": True}, check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert audit.writes(since) == []
    assert (snapshots(), latest()) == (snapshots_before, latest_before), "check mode wrote a snapshot or moved LATEST"


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
    # hand-worked: web-ports leaves the workload-wide mode UNSET, so web inherits STRICT from the namespace
    # policy (which decides it); its port 8080 is DISABLE; legacy is PERMISSIVE
    assert re.search(r"mtls-shop web \* STRICT mtls-shop/default", table), table[-2000:]
    assert not re.search(r"mtls-shop web \* \S+ mtls-shop/web-ports", table), table[-2000:]
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


def pa_writes(audit, since):
    return [w for w in audit.writes(since) if w[1] == "peerauthentications"]


def namespace_modes(api, namespace):
    return [p["spec"].get("mtls", {}).get("mode") for p in policies(api) if p["metadata"]["namespace"] == namespace]


def bare_workload(api, namespace, injected=False):
    """A Deployment in the namespace, with a sidecar (injection by istiod) or without (evidence against STRICT)."""
    if injected:
        client.CoreV1Api(api).patch_namespace(namespace, {"metadata": {"labels": {"istio-injection": "enabled"}}})
    client.AppsV1Api(api).create_namespaced_deployment(namespace, deployment("bare"))
    wait_for(lambda: all_available(api, [namespace]))
    assert pods_with_sidecar(api, [namespace]) == (1, 1 if injected else 0)


@pytest.fixture
def no_mesh_policy(sandbox, api_client):
    mesh_policy = [p for p in policies(api_client) if p["metadata"]["namespace"] == "istio-system"
                   and p["metadata"]["name"] == "default"]
    if mesh_policy:  # left by a test before; the teardown of the previous user of this fixture removed it
        assert mtls("remove").rc == 0
    yield
    assert mtls("remove").rc == 0


def test_gate_blocks_strict_when_prometheus_does_not_answer(shop, api_client, namespace, audit, no_mesh_policy):
    bare_workload(api_client, namespace, injected=True)  # nothing else speaks against STRICT
    since = now()
    run = mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace,
               mtls_policy_prometheus_url="http://127.0.0.1:1")
    assert run.rc != 0, run.stdout[-3000:]
    assert re.search(r"STRICT refused for namespace %s: 1 finding\(s\): Prometheus at http://127.0.0.1:1 could not be "
                     r"checked for plaintext traffic \(HTTP -1: .*Connection refused" % namespace, text(run)), run.stdout[-3000:]
    assert namespace_modes(api_client, namespace) == [] and audit.writes(since) == []
    forced = mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace,
                  mtls_policy_prometheus_url="http://127.0.0.1:1", mtls_policy_force=True)
    assert forced.rc == 0 and "Safety gate overridden with mtls_policy_force: Prometheus at" in text(forced)
    assert namespace_modes(api_client, namespace) == ["STRICT"]


def test_gate_runs_for_remove_unset_and_revert_that_make_workloads_strict(shop, api_client, namespace, audit, no_mesh_policy):
    bare_workload(api_client, namespace)
    assert mtls("permissive", mtls_policy_scope="namespace", mtls_policy_namespace=namespace).rc == 0
    strict_mesh = mtls("strict", mtls_policy_force=True)
    assert strict_mesh.rc == 0 and mesh_mode(api_client) == "STRICT", strict_mesh.stdout[-3000:]
    finding = r"STRICT refused for namespace %s: 1 finding\(s\): pod %s/bare-\S+ has no istio-proxy sidecar" % (
        namespace, namespace)

    since = now()
    removed = mtls("remove", mtls_policy_scope="namespace", mtls_policy_namespace=namespace)
    assert removed.rc != 0, removed.stdout[-3000:]
    assert re.search("Removal of %s/default makes workloads effectively STRICT. %s" % (namespace, finding), text(removed))

    unset = mtls("permissive", mtls_policy_scope="namespace", mtls_policy_namespace=namespace, mtls_policy_mode="UNSET")
    assert unset.rc != 0, unset.stdout[-3000:]
    assert re.search("UNSET of %s/default makes workloads effectively STRICT. %s" % (namespace, finding), text(unset))
    assert namespace_modes(api_client, namespace) == ["PERMISSIVE"] and audit.writes(since) == []

    # a snapshot with the namespace STRICT: taken before the move back to PERMISSIVE
    assert mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace, mtls_policy_force=True).rc == 0
    before = set(snapshots())
    assert mtls("permissive", mtls_policy_scope="namespace", mtls_policy_namespace=namespace).rc == 0
    strict_snapshot = sorted(set(snapshots()) - before)[-1]
    since = now()
    revert = mtls("revert", mtls_policy_snapshot=strict_snapshot)
    assert revert.rc != 0, revert.stdout[-3000:]
    assert re.search(r"Reverting to the snapshot makes workloads effectively STRICT. STRICT refused for the revert: "
                     r"1 finding\(s\): pod %s/bare-\S+ has no istio-proxy sidecar" % namespace, text(revert)), revert.stdout[-3000:]
    assert namespace_modes(api_client, namespace) == ["PERMISSIVE"] and audit.writes(since) == []


def test_forced_replace_keeps_labels_and_annotations_other_tools_own(shop, api_client, namespace):
    extra = {"mtls_policy_scope": "workload", "mtls_policy_namespace": namespace, "mtls_policy_name": "owned",
             "mtls_policy_selector": {"app": "owned"}}
    assert run_playbook("playbooks/mtls-permissive.yml", dict(extra, mtls_policy_port_modes={"9000": "DISABLE"})).rc == 0
    custom = client.CustomObjectsApi(api_client)
    owned = {"labels": {"app.kubernetes.io/managed-by": "Helm", "argocd.argoproj.io/instance": "mesh"},
             "annotations": {"meta.helm.sh/release-name": "mesh", "argocd.argoproj.io/tracking-id": "mesh:x"}}
    custom.patch_namespaced_custom_object("security.istio.io", "v1", namespace, "peerauthentications", "owned",
                                          {"metadata": owned})
    run = run_playbook("playbooks/mtls-strict.yml", extra)  # replaces the spec: mode STRICT, no port 9000 any more
    assert run.rc == 0 and run.changed > 0, run.stdout[-3000:]
    live = custom.get_namespaced_custom_object("security.istio.io", "v1", namespace, "peerauthentications", "owned")
    assert live["spec"] == {"mtls": {"mode": "STRICT"}, "selector": {"matchLabels": {"app": "owned"}}}
    assert owned["labels"].items() <= live["metadata"].get("labels", {}).items()
    assert owned["annotations"].items() <= live["metadata"].get("annotations", {}).items()
    assert run_playbook("playbooks/mtls-strict.yml", extra).changed == 0


def destination_rule(name, host, mode):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": name},
            "spec": {"host": host, "trafficPolicy": {"tls": {"mode": mode}}}}


def test_destination_rule_fix_leaves_external_hosts_and_is_snapshotted_when_the_policy_is_unchanged(shop, api_client, namespace):
    assert mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace).rc == 0
    custom = client.CustomObjectsApi(api_client)
    for dr in (destination_rule("plain", "web.%s.svc.cluster.local" % namespace, "DISABLE"),
               # external, though its second label is this namespace's name (api.payments.example.com and
               # a namespace "payments"): TLS origination, not a conflict
               destination_rule("egress", "api.%s.example.com" % namespace, "SIMPLE")):
        custom.create_namespaced_custom_object("networking.istio.io", "v1", namespace, "destinationrules", dr)
    before = set(snapshots())
    run = mtls("strict", mtls_policy_scope="namespace", mtls_policy_namespace=namespace,
               mtls_policy_fix_destination_rules=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert "DestinationRule %s/plain sends DISABLE" % namespace in text(run)
    assert "api.%s.example.com" % namespace not in text(run), run.stdout[-3000:]

    def tls(name):
        return custom.get_namespaced_custom_object("networking.istio.io", "v1", namespace, "destinationrules",
                                                   name)["spec"]["trafficPolicy"]["tls"]["mode"]

    assert (tls("plain"), tls("egress")) == ("ISTIO_MUTUAL", "SIMPLE")
    taken = sorted(set(snapshots()) - before)
    assert len(taken) == 1, "the DestinationRule fix was not snapshotted"
    assert "mode: DISABLE" in (SNAPSHOTS / taken[0]).read_text()
    assert mtls("revert").rc == 0 and tls("plain") == "DISABLE"


def site(**extra):
    return run_playbook("site.yml", extra)


def test_converge_keeps_a_strict_mesh_set_with_force(shop, api_client, namespace, audit, no_mesh_policy):
    bare_workload(api_client, namespace)
    assert mtls("strict", mtls_policy_force=True).rc == 0 and mesh_mode(api_client) == "STRICT"
    since = now()
    run = site()
    assert run.rc == 0, run.stdout[-3000:]
    assert mesh_mode(api_client) == "STRICT" and pa_writes(audit, since) == []


def test_converge_falls_back_to_permissive_only_where_no_mesh_policy_exists(shop, api_client, namespace, audit, no_mesh_policy):
    bare_workload(api_client, namespace)
    run = site()
    assert run.rc == 0, run.stdout[-3000:]
    assert re.search(r"STRICT refused for mesh istio-system: \d+ finding\(s\): .*pod %s/bare-\S+ has no istio-proxy sidecar.*"
                     r"No policy exists at this level: applying mtls_policy_fallback_mode PERMISSIVE" % namespace, text(run))
    assert mesh_mode(api_client) == "PERMISSIVE"
    since = now()
    again = site()
    assert again.rc == 0 and "The existing istio-system/default (PERMISSIVE) stays as it is" in text(again), again.stdout[-3000:]
    assert mesh_mode(api_client) == "PERMISSIVE" and pa_writes(audit, since) == []


@pytest.fixture
def deny_strict_mesh(api_client):
    """An admission policy (as OPA or Kyverno would) that denies a STRICT policy in istio-system."""
    admission = client.AdmissionregistrationV1Api(api_client)
    admission.create_validating_admission_policy({
        "metadata": {"name": "deny-strict-mesh"},
        "spec": {"failurePolicy": "Fail",
                 "matchConstraints": {"resourceRules": [{"apiGroups": ["security.istio.io"], "apiVersions": ["*"],
                                                         "operations": ["CREATE", "UPDATE"],
                                                         "resources": ["peerauthentications"]}]},
                 "validations": [{"expression": "!has(object.spec.mtls) || !has(object.spec.mtls.mode) "
                                                "|| object.spec.mtls.mode != 'STRICT'",
                                  "message": "STRICT is not allowed here"}]}})
    admission.create_validating_admission_policy_binding({
        "metadata": {"name": "deny-strict-mesh"},
        "spec": {"policyName": "deny-strict-mesh", "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "istio-system"}}}}})

    def denied():
        try:
            client.CustomObjectsApi(api_client).create_namespaced_custom_object(
                "security.istio.io", "v1", "istio-system", "peerauthentications",
                {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "probe"},
                 "spec": {"mtls": {"mode": "STRICT"}}}, dry_run="All")
        except ApiException as exc:
            return "STRICT is not allowed here" in exc.body
        return False

    wait_for(denied, timeout=60)
    yield
    admission.delete_validating_admission_policy_binding("deny-strict-mesh")
    admission.delete_validating_admission_policy("deny-strict-mesh")


def test_converge_fails_on_an_error_other_than_the_gate(shop, api_client, no_mesh_policy, deny_strict_mesh):
    run = site(mtls_policy_force=True)  # the gate passes; the STRICT apply is denied
    assert run.rc != 0, run.stdout[-3000:]
    assert "Istio rejected PeerAuthentication istio-system/default" in text(run) and "STRICT is not allowed here" in text(run)
    assert mesh_mode(api_client) is None, "the failed STRICT must not be replaced by PERMISSIVE"
