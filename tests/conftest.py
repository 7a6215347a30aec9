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
