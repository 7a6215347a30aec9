"""sidecar_injection role and rollout_restart module on the sandbox, with injection by the real istiod."""
import json
import tempfile

import pytest
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, create_fleet, delete_namespaces, deployment, pods_with_sidecar, wait_for
from tests.helpers.playbook import run_playbook


@pytest.fixture(scope="module")
def fleet(installed_mesh, api_client):
    names = create_fleet(api_client, "fleet", namespaces=20, per_namespace=10)
    yield names
    delete_namespaces(api_client, names)


def restart(args, **kw):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = run_playbook("tests/sandbox/playbooks/rollout_restart.yml", {"restart_args": args, "result_file": out.name},
                           **kw)
        text = open(out.name).read()
        return run, (json.loads(text) if text else None)


def enable(names, **extra):
    return run_playbook("playbooks/sidecar-injection.yml",
                        dict({"sidecar_injection_namespace_selector": "fleet=fleet", "sidecar_injection_concurrency": 20},
                             **extra))


def test_check_mode_sends_no_patch(fleet, audit):
    since = now()
    run = run_playbook("playbooks/sidecar-injection.yml", {"sidecar_injection_namespace_selector": "fleet=fleet"},
                       check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert "Would restart 200 workloads" in run.stdout
    assert audit.writes(since) == []


def test_enabling_injection_restarts_all_200_and_every_pod_gets_the_proxy(fleet, api_client):
    run = enable(fleet)
    assert run.rc == 0, run.stdout[-4000:]
    assert "Restarted 200 workloads" in run.stdout
    assert pods_with_sidecar(api_client, fleet) == (200, 200)
    pod = client.CoreV1Api(api_client).list_namespaced_pod(fleet[0]).items[0]
    assert pod.metadata.annotations.get("sidecar.istio.io/status"), "not injected by istiod"
    assert "Every pod in" in run.stdout


def test_a_second_run_restarts_nothing(fleet, audit):
    since = now()
    run = enable(fleet)
    assert run.rc == 0 and run.changed == 0, run.stdout[-3000:]
    assert "Restarted 0 workloads, left 200 alone" in run.stdout
    assert audit.writes(since) == []


def test_a_run_with_nothing_to_change_sends_no_write_in_revision_mode(api_client, namespace, audit):
    client.CoreV1Api(api_client).patch_namespace(namespace, {"metadata": {"labels": {"istio.io/rev": "default"}}})
    since = now()
    run = run_playbook("playbooks/sidecar-injection.yml", {"sidecar_injection_namespaces": [namespace],
                                                           "sidecar_injection_revision": "default"})
    assert run.rc == 0 and run.changed == 0, run.stdout[-3000:]
    assert audit.writes(since) == []


@pytest.mark.parametrize("playbook, extra, variable", [
    ("playbooks/sidecar-injection.yml", {"sidecar_injection_namespaces": ["shop", "Bad_NS"]},
     "sidecar_injection_namespaces"),
    ("playbooks/mtls-strict.yml", {"mtls_policy_scope": "namespace", "mtls_policy_namespace": "Bad_NS"},
     "mtls_policy_namespace"),
    ("playbooks/upgrade.yml", {"istio_upgrade_to_revision": "canary", "istio_upgrade_namespaces": ["Bad_NS"]},
     "istio_upgrade_namespaces"),
])
def test_an_invalid_namespace_name_is_named_before_any_change(sandbox, audit, playbook, extra, variable):
    since = now()
    run = run_playbook(playbook, extra)
    text = " ".join(run.stdout.split())
    assert run.rc != 0
    assert '"Bad_NS" is not a valid namespace name' in text and variable in text, text[-2000:]
    assert "not found" not in text and "does not exist" not in text
    assert audit.writes(since) == []


def test_disabling_removes_the_sidecars(fleet, api_client):
    run = enable(fleet, sidecar_injection_state="disabled")
    assert run.rc == 0, run.stdout[-3000:]
    assert pods_with_sidecar(api_client, fleet) == (200, 0)
    labels = [n.metadata.labels for n in client.CoreV1Api(api_client).list_namespace(label_selector="fleet=fleet").items]
    assert all("istio-injection" not in l for l in labels)


@pytest.fixture
def quota_blocked(api_client, namespace):
    """A Deployment whose next rollout cannot create pods: a ResourceQuota caps the namespace at its one pod."""
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("stuck"))
    wait_for(lambda: all_available(api_client, [namespace]))
    core.create_namespaced_resource_quota(namespace, {"metadata": {"name": "one-pod"}, "spec": {"hard": {"pods": "1"}}})
    wait_for(lambda: core.read_namespaced_resource_quota("one-pod", namespace).status.used)
    return namespace


def test_a_stuck_rollout_fails_within_its_timeout_and_is_undone(api_client, quota_blocked):
    run, result = restart({"namespaces": [quota_blocked], "timeout": 8, "undo_on_failure": True})
    assert run.rc != 0
    assert f"rollout failed for Deployment {quota_blocked}/stuck (timeout after 8s" in " ".join(run.stdout.split())
    dep = client.AppsV1Api(api_client).read_namespaced_deployment("stuck", quota_blocked)
    assert "kubectl.kubernetes.io/restartedAt" not in (dep.spec.template.metadata.annotations or {})
    wait_for(lambda: all_available(api_client, [quota_blocked]), timeout=60)


def test_progress_deadline_exceeded_is_reported(api_client, quota_blocked):
    client.AppsV1Api(api_client).patch_namespaced_deployment("stuck", quota_blocked,
                                                             {"spec": {"progressDeadlineSeconds": 2}})
    wait_for(lambda: all_available(api_client, [quota_blocked]))
    run, _ = restart({"namespaces": [quota_blocked], "timeout": 120})
    assert run.rc != 0 and "ProgressDeadlineExceeded" in run.stdout


@pytest.mark.parametrize("args, message", [
    ({"namespaces": ["does-not-exist"]}, "namespace(s) not found: does-not-exist"),
    ({"namespaces": ["default"], "label_selector": " "}, "label_selector is empty"),
    ({"namespaces": ["default"], "kinds": ["CronJob"]}, "unknown kind CronJob"),
    ({"namespaces": ["default"], "batch_size": 0}, "batch_size must be 1 or more"),
])
def test_bad_input_fails_before_any_change(sandbox, audit, args, message):
    since = now()
    run, _ = restart(args)
    assert run.rc != 0 and message in run.stdout, run.stdout[-2000:]
    assert audit.writes(since) == []


def test_module_check_mode_lists_workloads_and_sends_no_patch(api_client, namespace, audit):
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment("web"))
    wait_for(lambda: all_available(api_client, [namespace]))
    since = now()
    run, result = restart({"namespaces": [namespace]}, check=True, diff=True)
    assert run.rc == 0
    assert [(w["kind"], w["name"]) for w in result["would_restart"]] == [("Deployment", "web")]
    assert list(result["diff"]["after"].values()) == [{"kubectl.kubernetes.io/restartedAt": result["diff"]["after"][
        f"Deployment {namespace}/web"]["kubectl.kubernetes.io/restartedAt"]}]
    assert audit.writes(since) == []
