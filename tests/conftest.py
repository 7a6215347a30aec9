"""Shared fixtures: the sandbox cluster, API clients, namespaces, the audit log and playbook runs."""
import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / ".collections"))  # the repo is the collection istio_runbooks.mesh
# Every run names its kubeconfig through the inventory; a caller's own (the default a host without one falls back
# to) must not reach the tests.
for _name in ("KUBECONFIG", "K8S_AUTH_KUBECONFIG"):
    os.environ.pop(_name, None)


def pytest_collection_modifyitems(items):
    for item in items:
        if "/sandbox/" in str(item.fspath) or "/molecule/" in str(item.fspath):
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture(scope="session")
def sandbox():
    from sandbox.cluster import Sandbox
    box = Sandbox(out=lambda *_: None)
    box.up()
    return box


@pytest.fixture(scope="session")
def api_client(sandbox):
    from kubernetes import config
    return config.new_client_from_config(str(sandbox.paths.kubeconfig), context="sandbox")


@pytest.fixture
def namespace(api_client):
    from kubernetes import client
    core = client.CoreV1Api(api_client)
    name = f"t-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name, "labels": {"istio-runbooks.io/test": "true"}}})
    yield name
    core.delete_namespace(name)


@pytest.fixture
def audit(sandbox):
    from tests.helpers.audit import AuditLog
    return AuditLog(sandbox.paths.audit_log)


_SUITE_SECONDS = {}
_TEST_SECONDS = {}


def pytest_runtest_logreport(report):
    """Time per suite (test file) and per test, setup and teardown included."""
    suite = report.nodeid.split("::", 1)[0]
    _SUITE_SECONDS[suite] = _SUITE_SECONDS.get(suite, 0.0) + report.duration
    _TEST_SECONDS[report.nodeid] = _TEST_SECONDS.get(report.nodeid, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _SUITE_SECONDS:
        return
    terminalreporter.section("time per suite")
    for suite, seconds in sorted(_SUITE_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line("%8.1f s  %s" % (seconds, suite))
    terminalreporter.write_line("%8.1f s  total" % sum(_SUITE_SECONDS.values()))
    if any("/unit/" not in suite for suite in _SUITE_SECONDS):
        terminalreporter.section("slowest tests")
        for test, seconds in sorted(_TEST_SECONDS.items(), key=lambda item: -item[1])[:15]:
            terminalreporter.write_line("%8.1f s  %s" % (seconds, test[:150]))
    # The shard planner's input (tests/shards.py reads tests/suite_seconds.json; copy this one there to refresh it).
    # Each shard of the test command writes its own file (SUITE_SECONDS_FILE); the command merges them.
    import json
    import os
    out = Path(os.environ.get("SUITE_SECONDS_FILE") or ROOT / "artifacts" / "suite_seconds.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.exists() else {}
    merged.update({k: round(v, 1) for k, v in _SUITE_SECONDS.items() if "/unit/" not in k})
    out.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")


# ---- one installed control plane per test run ------------------------------------------------------------
class InstalledMesh:
    """The default control plane, installed by playbooks/install.yml once per test run.

    ensure() runs install.yml again only when the control plane is no longer as that run left it: a test
    tore it down, added or removed a revision, or istiod stopped. The check reads what install.yml owns
    (objects with uid and generation, ConfigMap data) and which istiod processes run.
    """

    def __init__(self, sandbox, api):
        self.sandbox, self.api, self.left = sandbox, api, None
        self.installs = 0

    def fingerprint(self):
        import hashlib
        import json

        from kubernetes import client
        from kubernetes.client.rest import ApiException

        def ids(items, body=None):
            return sorted((i.metadata.namespace or "", i.metadata.name, i.metadata.uid, i.metadata.generation,
                           hashlib.sha256(json.dumps(body(i), sort_keys=True, default=str).encode()).hexdigest()
                           if body else "") for i in items)

        apps, core = client.AppsV1Api(self.api), client.CoreV1Api(self.api)
        adm, ext = client.AdmissionregistrationV1Api(self.api), client.ApiextensionsV1Api(self.api)
        try:
            return {
                "deployments": ids(apps.list_deployment_for_all_namespaces(
                    label_selector="operator.istio.io/component").items),
                "istio-system": ids(core.list_namespace(field_selector="metadata.name=istio-system").items),
                "configmaps": ids(core.list_namespaced_config_map("istio-system").items, lambda c: c.data),
                "services": ids(core.list_namespaced_service("istio-system").items, lambda s: s.spec.ports),
                "serviceaccounts": ids(core.list_namespaced_service_account("istio-system").items),
                "webhooks": ids([w for w in adm.list_mutating_webhook_configuration().items
                                 + adm.list_validating_webhook_configuration().items if "istio" in w.metadata.name]),
                "crds": ids([c for c in ext.list_custom_resource_definition().items
                             if c.metadata.name.endswith(".istio.io")]),
                "istiod": sorted(row["name"] for row in self.sandbox.status()
                                 if row["name"].startswith("istiod-") and row["running"]),
            }
        except ApiException:
            return None

    def ensure(self):
        if self.left is not None and self.fingerprint() == self.left:
            return
        from tests.helpers.playbook import run_playbook
        run = run_playbook("playbooks/install.yml")
        self.installs += 1
        assert run.rc == 0, run.stdout[-3000:]
        self.left = self.fingerprint()


@pytest.fixture(scope="session")
def mesh_installer(sandbox, api_client):
    return InstalledMesh(sandbox, api_client)


@pytest.fixture(scope="module")
def installed_mesh(mesh_installer):
    """The default control plane installed (once per run; again only after a test changed it)."""
    mesh_installer.ensure()
    return mesh_installer
