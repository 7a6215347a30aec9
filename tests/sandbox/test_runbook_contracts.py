"""Every runbook keeps two promises, on one installed control plane shared by all cases:
`--check --diff` sends no write request, and a second real run sends none either.

A new file in playbooks/ fails here until it gets an entry in INPUTS (and, when it converges and no Molecule
scenario converges it, in IDEMPOTENT), so no runbook goes uncovered.
"""
import time

import pytest
import yaml
from kubernetes import client, utils

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import ROOT, run_playbook
from tests.helpers.runbooks import molecule_converged, runbooks

NS = "contract-app"        # plain namespace, uninjected, with policies and workloads
NS_SNAP = "contract-snap"  # changed after the snapshot and the backup, so revert and restore have work to do
NS_DEMO = "contract-demo"  # the demo app, uninjected, with the demo's traffic applied (its fault since expired)
BACKUPS = str(ROOT / "artifacts/test-contracts/backups")


def demo_vars(**extra):
    """samples/demo-app/traffic-vars.yml for NS_DEMO, without the gateway rate limit (nothing in istio-system)."""
    data = yaml.safe_load((ROOT / "samples/demo-app/traffic-vars.yml").read_text())
    data.update(traffic_management_namespace=NS_DEMO, authorization_policy_namespace=NS_DEMO,
                authorization_policy_dry_run=True, traffic_management_gateway_rate_limit={})
    data["authorization_policy_rules"][0]["principals"] = ["cluster.local/ns/%s/sa/frontend" % NS_DEMO]
    data.update(extra)
    return data


def demo_services(**backend):
    services = demo_vars()["traffic_management_services"]
    services[0].update(backend)
    return services


# Inputs that make each runbook reach its write steps on the fixture's state (and still pass pre-flight).
INPUTS = {
    "site.yml": {"istio_install_mesh_config": {"accessLogFile": "/dev/stdout"}},
    "playbooks/cluster-check.yml": {},
    "playbooks/observability-addons.yml": {},
    "playbooks/summary.yml": {"site_injection_namespaces": [NS]},
    "playbooks/install.yml": {"istio_install_mesh_config": {"accessLogFile": "/dev/stdout"}},
    "playbooks/sidecar-injection.yml": {"sidecar_injection_namespaces": [NS]},
    "playbooks/mtls-strict.yml": {"mtls_policy_scope": "workload", "mtls_policy_namespace": NS,
                                  "mtls_policy_name": "web-mtls", "mtls_policy_selector": {"app": "web"},
                                  "mtls_policy_force": True},
    "playbooks/mtls-permissive.yml": {"mtls_policy_scope": "workload", "mtls_policy_namespace": NS,
                                      "mtls_policy_name": "api-mtls",
                                      "mtls_policy_selector": {"app": "api"}},
    "playbooks/mtls-remove.yml": {"mtls_policy_scope": "namespace", "mtls_policy_namespace": NS},
    "playbooks/mtls-revert.yml": {"mtls_policy_force": True},
    "playbooks/restore.yml": {"istio_backup_dir": BACKUPS},
    "playbooks/teardown.yml": {"teardown_remove_crds": True},
    "playbooks/upgrade.yml": {"istio_upgrade_to_revision": "canary", "istio_upgrade_namespaces": [NS]},
    # NS_DEMO holds the demo's routing: these ask for something else
    "playbooks/traffic.yml": demo_vars(traffic_management_services=demo_services(route={"v1": 50, "v2": 50})),
    "playbooks/authorization.yml": demo_vars(),
    "playbooks/blue-green.yml": demo_vars(traffic_management_switch={"service": "backend", "subset": "v2"}),
    "playbooks/canary.yml": demo_vars(traffic_management_canary_service="backend", traffic_management_canary_stable="v1",
                                      traffic_management_canary_subset="v2", traffic_management_canary_steps=[50, 100],
                                      traffic_management_canary_pause_seconds=0, traffic_management_canary_verify="none"),
    "playbooks/fault-expiry.yml": {"traffic_management_namespace": NS_DEMO},
    "playbooks/traffic-revert.yml": {},  # the newest snapshot: the one the fixture's traffic run took
    "playbooks/collect-logs.yml": {"collect_logs_namespaces": [NS_DEMO]},
    "playbooks/doctor.yml": {},
    # NS holds an NGINX Ingress and both IngressClasses exist (the fixture's ingress_classes)
    # the fixture made both IngressClasses by hand (not labelled ours): taking them over must be asked for
    "playbooks/ingress-nginx.yml": {"ingress_nginx_namespace": "contract-nginx", "ingress_nginx_default_class": "nginx",
                                    "ingress_nginx_image_registry": "registry.example.com/mirror",
                                    "ingress_nginx_adopt": True},
    "playbooks/migrate-ingress-nginx.yml": {"ingress_migration_phase": "apply", "ingress_migration_namespaces": [NS],
                                            "ingress_migration_output": "istio", "ingress_migration_gateway_namespace": NS,
                                            "ingress_migration_dir": str(ROOT / "artifacts/test-contracts/ingress_migration")},
    "playbooks/gateways.yml": {"mesh_gateways_gateways": [{"name": "contract-ingress", "namespace": NS, "type": "ingress"}],
                               "mesh_gateways_api": "gateway_api",
                               "mesh_gateways_listeners": [{"name": "contract", "namespace": NS, "service": "web",
                                                            "hosts": ["contract.example.com"]}]},
    # the fixture's cluster is install.yml's: no injected namespace, mesh-wide policy or addon is declared
    "playbooks/rbac.yml": {"runbook_rbac_service_account_name": "contract-automation",
                           "runbook_rbac_service_account_namespace": "contract-rbac"},
    # a ServiceEntry sent directly (no egress gateway in the fixture), in NS
    "playbooks/egress.yml": {"traffic_management_egress_namespace": NS, "traffic_management_egress_services": [
        {"name": "contract-mirror", "hosts": ["pypi.example.com"], "ports": [{"number": 443, "protocol": "TLS"}],
         "egress_gateway": False}]},
    # no Prometheus URL: the hosts-in-use check says it was skipped; the control plane plans the new mode
    "playbooks/egress-registry-only.yml": {"istio_install_outbound_traffic_policy": "REGISTRY_ONLY"},
    "playbooks/drift.yml": {"site_injection_namespaces": [], "mesh_drift_mtls_mode": "",
                            "mesh_drift_checks": ["version", "injection", "mtls"]},
}
# Runbooks that only read: check mode changes nothing there, and reports no change.
READ_ONLY = {"playbooks/cluster-check.yml", "playbooks/doctor.yml", "playbooks/summary.yml", "playbooks/drift.yml"}
# Runbooks that change nothing in the cluster, only write local output (a report, a bundle) on every run:
# a real run must send no write request.
CLUSTER_READ_ONLY = {"playbooks/doctor.yml", "playbooks/collect-logs.yml"}

# Converging runbooks no Molecule scenario converges: run once for real, then the second run must write nothing.
# Ordered: each leaves the state the next one expects.
IDEMPOTENT = {
    "playbooks/mtls-permissive.yml": INPUTS["playbooks/mtls-permissive.yml"],
    "playbooks/mtls-remove.yml": INPUTS["playbooks/mtls-remove.yml"],
    "playbooks/mtls-revert.yml": INPUTS["playbooks/mtls-revert.yml"],
    "playbooks/restore.yml": INPUTS["playbooks/restore.yml"],
}
# Open findings, tracked here until fixed (the cases still run and report).
KNOWN_FAILURES = {}


def cases(kind, names):
    return [pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[(kind, name)], strict=False))
            if (kind, name) in KNOWN_FAILURES else name for name in names]


# Covered elsewhere, with the reason.
IDEMPOTENCE_ELSEWHERE = {
    "playbooks/upgrade.yml": "each action moves the mesh one step; tests/sandbox/test_canary_upgrade.py runs the steps",
    "playbooks/traffic.yml": "tests/sandbox/test_traffic_management.py::"
                             "test_every_feature_applied_from_variables_then_no_writes audits its second run",
    "playbooks/authorization.yml": "tests/sandbox/test_traffic_management.py::"
                                   "test_every_feature_applied_from_variables_then_no_writes audits its second run",
    "playbooks/canary.yml": "each run moves a weight step by step; tests/sandbox/test_traffic_management.py::"
                            "test_canary_rolls_back_when_a_step_fails_then_completes runs the steps",
    "playbooks/blue-green.yml": "each run switches a service; tests/sandbox/test_traffic_management.py::"
                                "test_blue_green_switch_and_switch_back switches and back",
    "playbooks/fault-expiry.yml": "acts on expired faults only; tests/sandbox/test_traffic_management.py::"
                                  "test_expired_fault_is_removed_and_revert_restores_it",
    "playbooks/traffic-revert.yml": "goes back to a snapshot; tests/sandbox/test_traffic_management.py::"
                                    "test_expired_fault_is_removed_and_revert_restores_it",
    "playbooks/ingress-nginx.yml": "tests/sandbox/test_ingress_migration.py::"
                                   "test_nginx_beside_istio_both_classes_each_ingress_claimed_by_exactly_one audits its second run",
    "playbooks/migrate-ingress-nginx.yml": "one phase per run; tests/sandbox/test_ingress_migration.py audits the second "
                                           "apply, cutover and cleanup",
    "playbooks/rbac.yml": "tests/sandbox/test_least_privilege.py (fixture automation) audits its second run",
    "playbooks/egress-registry-only.yml": "its gate runs in tests/sandbox/test_egress.py (refused, then passing in check "
                                          "mode); the switch is install.yml's, whose second run is audited",
    "playbooks/gateways.yml": "tests/sandbox/test_gateways.py::test_both_formats_applied_programmed_then_no_writes "
                              "audits each format's second run",
}


def peer_authentication(namespace, mode, name="default"):
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"mtls": {"mode": mode}}}


def artifacts_state():
    """Local state a dry run must leave alone (backups, pointers, snapshots, upgrade state), with mtimes.
    The install plan (artifacts/<cluster>/istio_install/) and the evidence report (artifacts/<cluster>/evidence/, the
    plan of the change ticket) are the dry run's output, so they are not in here."""
    found = {}
    for base in [ROOT / "artifacts"]:
        for path in base.rglob("*") if base.exists() else []:
            # files at the top of artifacts/ and shard-K/ are the test command's own (shard logs, suite times)
            if (path.is_file() and path.parent != base and not any(p.startswith("shard-") for p in path.parts)
                    and not {"bin", "istio_install", "evidence"} & set(path.parts)):
                found[str(path)] = path.stat().st_mtime
    return found


def writes_after(audit, since):
    time.sleep(1)  # let the audit log writer catch up
    return audit.writes(since)


def ingress_classes(api_client):
    """IngressClasses nginx and istio, and an NGINX Ingress in NS for the migration runbook."""
    net = client.NetworkingV1Api(api_client)
    for name, controller in (("nginx", "k8s.io/ingress-nginx"), ("istio", "istio.io/ingress-controller")):
        net.create_ingress_class({"metadata": {"name": name}, "spec": {"controller": controller}})
    net.create_namespaced_ingress(NS, {"metadata": {"name": "web"}, "spec": {"ingressClassName": "nginx", "rules": [
        {"host": "web.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
            "service": {"name": "web", "port": {"number": 80}}}}]}}]}})


@pytest.fixture(scope="module")
def mesh(sandbox, api_client, installed_mesh):
    """Istio installed, NS with two Deployments and a PERMISSIVE namespace policy, a backup and an mTLS snapshot
    taken, then NS_SNAP's policy changed after both."""
    import shutil
    shutil.rmtree(BACKUPS, ignore_errors=True)
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    for ns in (NS, NS_SNAP):
        core.create_namespace({"metadata": {"name": ns}})
    for name in ("web", "api"):
        apps.create_namespaced_deployment(NS, deployment(name))
    for ns in (NS, NS_SNAP):
        custom.create_namespaced_custom_object("security.istio.io", "v1", ns, "peerauthentications",
                                               peer_authentication(ns, "PERMISSIVE"))
    wait_for(lambda: all_available(api_client, [NS]))
    run = run_playbook("tests/sandbox/playbooks/backup.yml", {"istio_backup_dir": BACKUPS})
    assert run.rc == 0, run.stdout[-3000:]
    # a real change: takes the snapshot mtls-revert goes back to, and makes the backup differ from the cluster
    run = run_playbook("playbooks/mtls-strict.yml", {"mtls_policy_scope": "namespace", "mtls_policy_namespace": NS_SNAP,
                                                     "mtls_policy_force": True})
    assert run.rc == 0, run.stdout[-3000:]
    # the demo app (uninjected) with its routing applied, so the traffic runbooks have work: revert (the run's
    # snapshot), canary, blue-green, and fault-expiry (the fault's expiry moved into the past)
    for obj in yaml.safe_load_all((ROOT / "samples/demo-app/app.yaml").read_text()):
        if obj["kind"] == "Namespace":
            obj["metadata"].update(name=NS_DEMO, labels={})
        else:
            obj["metadata"]["namespace"] = NS_DEMO
        utils.create_from_dict(api_client, obj)
    run = run_playbook("playbooks/traffic.yml", demo_vars())
    assert run.rc == 0, run.stdout[-3000:]
    custom.patch_namespaced_custom_object("networking.istio.io", "v1", NS_DEMO, "virtualservices", "backend",
                                          {"metadata": {"annotations": {"istio-runbooks.io/fault-expires": "2020-01-01T00:00:00Z"}}})
    ingress_classes(api_client)
    yield
    for ns in (NS, NS_SNAP, NS_DEMO):
        core.delete_namespace(ns)
    for name in ("nginx", "istio"):
        client.NetworkingV1Api(api_client).delete_ingress_class(name)
    shutil.rmtree(BACKUPS, ignore_errors=True)


def test_every_runbook_has_check_mode_inputs():
    missing = sorted(set(runbooks()) - set(INPUTS))
    assert not missing, ("add an INPUTS entry (extra-vars that reach its write steps) in %s for: %s"
                         % (__file__, ", ".join(missing)))


def test_every_converging_runbook_has_an_idempotence_test():
    covered = molecule_converged() | set(IDEMPOTENT) | set(IDEMPOTENCE_ELSEWHERE) | READ_ONLY | CLUSTER_READ_ONLY
    missing = sorted(set(runbooks()) - covered)
    assert not missing, ("add an IDEMPOTENT entry in %s, or a Molecule scenario converging it, for: %s"
                         % (__file__, ", ".join(missing)))


@pytest.mark.parametrize("playbook", cases("check", runbooks()))
def test_check_mode_writes_nothing(playbook, mesh, audit):
    if playbook not in INPUTS:
        pytest.fail("no INPUTS entry for %s (see test_every_runbook_has_check_mode_inputs)" % playbook)
    local_before = artifacts_state()
    since = now()
    run = run_playbook(playbook, INPUTS[playbook], check=True, diff=True, timeout=900)
    out = run.stdout[-4000:]
    assert run.rc == 0, "%s --check failed (pre-flight or plan), so its write steps were not reached:\n%s" % (playbook, out)
    if playbook not in READ_ONLY:
        assert run.changed > 0, "%s --check planned no change: the inputs do not reach its write steps\n%s" % (playbook, out)
    assert writes_after(audit, since) == [], "%s --check sent write requests" % playbook
    changed = sorted(path for path, mtime in artifacts_state().items() if local_before.get(path) != mtime)
    assert changed == [], "%s --check wrote local state: %s" % (playbook, changed)


@pytest.mark.parametrize("playbook", cases("second run", list(IDEMPOTENT)))
def test_second_run_writes_nothing(playbook, mesh, audit):
    first = run_playbook(playbook, IDEMPOTENT[playbook], timeout=900)
    assert first.rc == 0, first.stdout[-4000:]
    since = now()
    second = run_playbook(playbook, IDEMPOTENT[playbook], timeout=900)
    assert second.rc == 0, second.stdout[-4000:]
    assert second.changed == 0, second.stdout[-4000:]
    assert writes_after(audit, since) == [], "the second run of %s sent write requests" % playbook


@pytest.mark.parametrize("playbook", sorted(CLUSTER_READ_ONLY))
def test_cluster_read_only_runbook_writes_nothing_for_real(playbook, mesh, audit):
    since = now()
    run = run_playbook(playbook, INPUTS[playbook], timeout=900)
    assert run.rc == 0, run.stdout[-4000:]
    assert writes_after(audit, since) == [], "%s sent write requests" % playbook
