"""Shared fixtures: the sandbox cluster, API clients, namespaces, the audit log and playbook runs."""
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / ".collections"))  # the repo is the collection istio_runbooks.mesh


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


def pytest_runtest_logreport(report):
    """Time per suite (test file), setup and teardown included."""
    suite = report.nodeid.split("::", 1)[0]
    _SUITE_SECONDS[suite] = _SUITE_SECONDS.get(suite, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    if not _SUITE_SECONDS:
        return
    terminalreporter.section("time per suite")
    for suite, seconds in sorted(_SUITE_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line("%8.1f s  %s" % (seconds, suite))
    terminalreporter.write_line("%8.1f s  total" % sum(_SUITE_SECONDS.values()))
