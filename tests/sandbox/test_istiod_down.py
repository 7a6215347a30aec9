"""Reliability: istiod stopped while the injection runbook restarts workloads fails fast, naming istiod."""
import time

import pytest
from kubernetes import client

from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import run_playbook


@pytest.fixture
def istiod_stopped(sandbox, installed_mesh):
    sandbox.istiod_down()
    try:
        yield
    finally:
        sandbox.istiod_up()


def test_injection_with_istiod_down_fails_fast_naming_istiod_and_undoes(api_client, namespace, istiod_stopped):
    apps = client.AppsV1Api(api_client)
    for name in ("web", "api", "db"):
        apps.create_namespaced_deployment(namespace, deployment(name))
    wait_for(lambda: all_available(api_client, [namespace]))
    started = time.monotonic()
    run = run_playbook("playbooks/sidecar-injection.yml", {"sidecar_injection_namespaces": [namespace],
                                                           "sidecar_injection_timeout": 600}, timeout=900)
    elapsed = time.monotonic() - started
    out = " ".join(run.stdout.split())
    assert run.rc != 0, out[-3000:]
    # far below the 600 s timeout, with room for ansible start-up on a loaded machine
    assert elapsed < 180, "took %.0fs: waited for the timeout instead of failing fast\n%s" % (elapsed, out[-3000:])
    assert "istiod is not answering its injection webhook" in out, out[-3000:]
    assert "sidecar-injector.istio.io" in out and "kubectl -n istio-system get pods -l app=istiod" in out
    for name in ("web", "api", "db"):
        assert f"Deployment {namespace}/{name}" in out
        dep = apps.read_namespaced_deployment(name, namespace)
        assert "kubectl.kubernetes.io/restartedAt" not in (dep.spec.template.metadata.annotations or {}), "not undone"
    wait_for(lambda: all_available(api_client, [namespace]), timeout=60)
