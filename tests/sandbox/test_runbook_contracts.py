"""Every runbook keeps two promises, on one installed control plane shared by all cases:
`--check --diff` sends no write request, and a second real run sends none either.

A new file in playbooks/ fails here until it gets an entry in INPUTS (and, when it converges and no Molecule
scenario converges it, in IDEMPOTENT), so no runbook goes uncovered.
"""
import time

import pytest
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import ROOT, run_playbook
from tests.helpers.runbooks import molecule_converged, runbooks

NS = "contract-app"        # plain namespace, uninjected, with policies and workloads
NS_SNAP = "contract-snap"  # changed after the snapshot and the backup, so revert and restore have work to do
BACKUPS = str(ROOT / "artifacts/test-contracts/backups")

# Inputs that make each runbook reach its write steps on the fixture's state (and still pass pre-flight).
INPUTS = {
    "site.yml": {"istio_install_mesh_config": {"accessLogFile": "/dev/stdout"}},
    "playbooks/cluster-check.yml": {},
    "playbooks/install.yml": {"istio_install_mesh_config": {"accessLogFile": "/dev/stdout"}},
    "playbooks/sidecar-injection.yml": {"sidecar_injection_namespaces": [NS]},
    "playbooks/mtls-strict.yml": {"mtls_policy_scope": "workload", "mtls_policy_namespace": NS,
                                  "mtls_policy_selector": {"app": "web"}, "mtls_policy_force": True},
    "playbooks/mtls-permissive.yml": {"mtls_policy_scope": "workload", "mtls_policy_namespace": NS,
                                      "mtls_policy_selector": {"app": "api"}},
    "playbooks/mtls-remove.yml": {"mtls_policy_scope": "namespace", "mtls_policy_namespace": NS},
    "playbooks/mtls-revert.yml": {"mtls_policy_force": True},
    "playbooks/restore.yml": {"istio_backup_dir": BACKUPS},
    "playbooks/teardown.yml": {"teardown_remove_crds": True},
    "playbooks/upgrade.yml": {"istio_upgrade_to_revision": "canary", "istio_upgrade_namespaces": [NS]},
}
# Runbooks that only read: check mode changes nothing there, and reports no change.
READ_ONLY = {"playbooks/cluster-check.yml"}

# Converging runbooks no Molecule scenario converges: run once for real, then the second run must write nothing.
# Ordered: each leaves the state the next one expects.
IDEMPOTENT = {
    "playbooks/mtls-permissive.yml": INPUTS["playbooks/mtls-permissive.yml"],
    "playbooks/mtls-remove.yml": INPUTS["playbooks/mtls-remove.yml"],
    "playbooks/mtls-revert.yml": INPUTS["playbooks/mtls-revert.yml"],
    "playbooks/restore.yml": INPUTS["playbooks/restore.yml"],
}
# Open findings, tracked here until fixed (the cases still run and report).
KNOWN_FAILURES = {
    ("second run", "playbooks/restore.yml"): "passes alone; after mtls-permissive, -remove and -revert: 'PeerAuthentication contract-app/default: spec differs'",
}


def cases(kind, names):
    return [pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN_FAILURES[(kind, name)], strict=False))
            if (kind, name) in KNOWN_FAILURES else name for name in names]


# Covered elsewhere, with the reason.
IDEMPOTENCE_ELSEWHERE = {
    "playbooks/upgrade.yml": "each action moves the mesh one step; tests/sandbox/test_canary_upgrade.py runs the steps",
}


def peer_authentication(namespace, mode, name="default"):
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace}, "spec": {"mtls": {"mode": mode}}}


def artifacts_state():
    """Local state a dry run must leave alone (backups, pointers, snapshots, upgrade state), with mtimes.
    The install plan (artifacts/<cluster>/istio_install/) is the dry run's output, so it is not in here."""
    found = {}
    for base in [ROOT / "artifacts"]:
        for path in base.rglob("*") if base.exists() else []:
            if path.is_file() and not {"bin", "istio_install"} & set(path.parts):
                found[str(path)] = path.stat().st_mtime
    return found


def writes_after(audit, since):
    time.sleep(1)  # let the audit log writer catch up
    return audit.writes(since)


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
    yield
    for ns in (NS, NS_SNAP):
        core.delete_namespace(ns)
    shutil.rmtree(BACKUPS, ignore_errors=True)


def test_every_runbook_has_check_mode_inputs():
    missing = sorted(set(runbooks()) - set(INPUTS))
    assert not missing, ("add an INPUTS entry (extra-vars that reach its write steps) in %s for: %s"
                         % (__file__, ", ".join(missing)))


def test_every_converging_runbook_has_an_idempotence_test():
    covered = molecule_converged() | set(IDEMPOTENT) | set(IDEMPOTENCE_ELSEWHERE) | READ_ONLY
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
