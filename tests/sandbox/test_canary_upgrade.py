"""Canary upgrade by revision and its rollback, with a real istiod per revision."""
import json

import pytest
from kubernetes import client

from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import run_playbook


@pytest.fixture(scope="module")
def injected_namespace(sandbox, api_client):
    assert run_playbook("playbooks/install.yml").rc == 0
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.create_namespace({"metadata": {"name": "canary-shop"}})
    for name in ("web", "api"):
        apps.create_namespaced_deployment("canary-shop", deployment(name, replicas=2))
    wait_for(lambda: all_available(api_client, ["canary-shop"]))
    run = run_playbook("playbooks/sidecar-injection.yml", {"sidecar_injection_namespaces": ["canary-shop"]})
    assert run.rc == 0, run.stdout[-3000:]
    yield "canary-shop"
    core.delete_namespace("canary-shop")


def revisions(api, ns):
    pods = client.CoreV1Api(api).list_namespaced_pod(ns).items
    return sorted(set(json.loads(p.metadata.annotations["sidecar.istio.io/status"])["revision"]
                      for p in pods if not p.metadata.deletion_timestamp))


def upgrade(action, **extra):
    return run_playbook("playbooks/upgrade.yml", dict({"upgrade_action": action, "upgrade_to_revision": "canary",
                                                       "upgrade_namespaces": ["canary-shop"]}, **extra))


def test_upgrade_moves_workloads_to_the_canary_revision(injected_namespace, api_client):
    assert revisions(api_client, injected_namespace) == ["default"]
    run = upgrade("upgrade")
    assert run.rc == 0, run.stdout[-4000:]
    assert revisions(api_client, injected_namespace) == ["canary"]
    labels = client.CoreV1Api(api_client).read_namespace(injected_namespace).metadata.labels
    assert labels.get("istio.io/rev") == "prod-stable" and "istio-injection" not in labels
    again = upgrade("upgrade")
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]


def test_finish_is_refused_while_a_tag_points_at_the_old_revision(injected_namespace):
    run = upgrade("finish")
    assert run.rc != 0
    assert "Revision tag(s) default still point at revision default" in " ".join(run.stdout.split())


def test_rollback_moves_workloads_back(injected_namespace, api_client):
    run = upgrade("rollback")
    assert run.rc == 0, run.stdout[-4000:]
    assert revisions(api_client, injected_namespace) == ["default"]
    assert upgrade("rollback").changed == 0


def test_the_unused_canary_revision_can_be_removed(injected_namespace, api_client):
    run = run_playbook("playbooks/teardown.yml", {"teardown_scope": "revision", "teardown_revision": "canary"})
    assert run.rc == 0, run.stdout[-4000:]
    apps = client.AppsV1Api(api_client)
    assert [d.metadata.name for d in apps.list_namespaced_deployment("istio-system").items
            if d.metadata.name.startswith("istiod")] == ["istiod"]
    tags = client.AdmissionregistrationV1Api(api_client).list_mutating_webhook_configuration(
        label_selector="istio.io/tag").items
    assert sorted(t.metadata.name for t in tags) == ["istio-revision-tag-default", "istio-revision-tag-prod-stable"]
    assert run_playbook("playbooks/install.yml").changed == 0
