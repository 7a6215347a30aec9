"""rollout_restart against the real controllers: StatefulSets and DaemonSets, wait: false, rollouts that can never
complete, refused patches, namespace-scoped RBAC, PodDisruptionBudgets and a workload recreated mid-rollout."""
import json
import tempfile
import threading
import time
import uuid

import pytest
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, delete_namespaces, deployment, token_kubeconfig, wait_for
from tests.helpers.playbook import run_playbook

STAMP = "kubectl.kubernetes.io/restartedAt"
NEVER_READY = "sandbox.istio-runbooks.io/never-ready"


def restart(args, check=False, timeout=180):
    """Runs the module; a run still going after timeout seconds is stopped (a hang fails the test)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = run_playbook("tests/sandbox/playbooks/rollout_restart.yml", {"restart_args": args, "result_file": out.name},
                           check=check, timeout=timeout)
        text = open(out.name).read()
        return run, (json.loads(text) if text else None)


def flat(run):
    return " ".join(run.stdout.split())


def statefulset(name, replicas=2, strategy=None):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "updateStrategy": strategy or {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "app", "image": "registry.local/%s:1" % name}]}}}}


def daemonset(name, strategy=None):
    obj = statefulset(name, strategy=strategy)
    obj["kind"] = "DaemonSet"
    for key in ("replicas", "serviceName"):
        del obj["spec"][key]
    return obj


def never_ready(obj):
    obj["spec"]["template"]["metadata"]["annotations"] = {NEVER_READY: "true"}
    return obj


def pods_of(api_client, namespace, app):
    return client.CoreV1Api(api_client).list_namespaced_pod(namespace, label_selector="app=%s" % app).items


def settled(api_client, namespace, app, replicas):
    pods = [p for p in pods_of(api_client, namespace, app) if not p.metadata.deletion_timestamp]
    return len(pods) == replicas and all(
        any(c.type == "Ready" and c.status == "True" for c in p.status.conditions or []) for p in pods)


def test_statefulset_and_daemonset_rollouts_replace_every_pod(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_stateful_set(namespace, statefulset("db"))
    apps.create_namespaced_daemon_set(namespace, daemonset("agent"))
    wait_for(lambda: settled(api_client, namespace, "db", 2) and settled(api_client, namespace, "agent", 1))
    wait_for(lambda: apps.read_namespaced_stateful_set("db", namespace).status.current_revision)
    before = set(p.metadata.uid for app in ("db", "agent") for p in pods_of(api_client, namespace, app))
    run, result = restart({"namespaces": [namespace], "kinds": ["StatefulSet", "DaemonSet"], "timeout": 120})
    assert run.rc == 0, run.stdout[-3000:]
    done = dict((r["kind"], r) for r in result["restarted"])
    assert sorted(done) == ["DaemonSet", "StatefulSet"] and all(r["outcome"] == "restarted" for r in done.values())
    assert done["StatefulSet"]["new_revision"] != done["StatefulSet"]["old_revision"]
    assert done["DaemonSet"]["new_revision"] != done["DaemonSet"]["old_revision"]
    sts = apps.read_namespaced_stateful_set("db", namespace)
    assert sts.status.current_revision == sts.status.update_revision == done["StatefulSet"]["new_revision"]
    pods = [p for app in ("db", "agent") for p in pods_of(api_client, namespace, app) if not p.metadata.deletion_timestamp]
    assert len(pods) == 3 and not set(p.metadata.uid for p in pods) & before, "every pod was replaced"
    assert all((p.metadata.annotations or {}).get(STAMP) for p in pods)


def test_wait_false_returns_once_the_patch_is_out(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, never_ready(deployment("slow")))
    wait_for(lambda: apps.read_namespaced_deployment("slow", namespace).status.updated_replicas == 1)
    started = time.monotonic()
    run, result = restart({"namespaces": [namespace], "wait": False, "timeout": 30})
    assert run.rc == 0, run.stdout[-3000:]
    assert time.monotonic() - started < 30, "returned before the rollout (which never completes) could time out"
    assert [(r["name"], r["outcome"], r["detail"]) for r in result["restarted"]] == [("slow", "started", "not waited for")]
    dep = apps.read_namespaced_deployment("slow", namespace)
    assert dep.spec.template.metadata.annotations.get(STAMP)
    assert dep.status.available_replicas is None, "the rollout is still going"


def test_a_workload_recreated_mid_rollout_fails_at_once_instead_of_hanging(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, never_ready(deployment("web")))
    wait_for(lambda: apps.read_namespaced_deployment("web", namespace).status.updated_replicas == 1)
    old_uid = apps.read_namespaced_deployment("web", namespace).metadata.uid
    recreated = []

    def recreate_once_restarted():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            dep = apps.read_namespaced_deployment("web", namespace)
            if (dep.spec.template.metadata.annotations or {}).get(STAMP):
                apps.delete_namespaced_deployment("web", namespace)
                recreated.append(apps.create_namespaced_deployment(namespace, never_ready(deployment("web"))).metadata.uid)
                return
            time.sleep(0.05)

    actor = threading.Thread(target=recreate_once_restarted)
    actor.start()
    started = time.monotonic()
    run, result = restart({"namespaces": [namespace], "timeout": 60, "poll_interval": 2}, timeout=150)
    actor.join()
    assert recreated, "the Deployment was not recreated during the run"
    assert run.rc != 0 and result, run.stdout[-3000:]
    failed = result["failed_workloads"][0]
    assert failed["detail"] == ("deleted and recreated during the restart (uid %s is now %s): the new object was not "
                                "restarted by this run" % (old_uid, recreated[0]))
    assert time.monotonic() - started < 45, "failed at once, not at the 60 s timeout"


@pytest.fixture
def blocked(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    paused = deployment("paused")
    paused["spec"]["paused"] = True
    apps.create_namespaced_deployment(namespace, paused)
    apps.create_namespaced_stateful_set(namespace, statefulset("ondelete-db", strategy={"type": "OnDelete"}))
    apps.create_namespaced_daemon_set(namespace, daemonset("ondelete-agent", strategy={"type": "OnDelete"}))
    apps.create_namespaced_stateful_set(namespace, statefulset("partitioned", strategy={
        "type": "RollingUpdate", "rollingUpdate": {"partition": 1}}))
    wait_for(lambda: settled(api_client, namespace, "partitioned", 2) and settled(api_client, namespace, "ondelete-db", 2))
    return namespace


@pytest.mark.parametrize("check", [False, True])
def test_rollouts_that_can_never_complete_fail_before_any_patch(blocked, audit, check):
    since = now()
    started = time.monotonic()
    run, _ = restart({"namespaces": [blocked], "timeout": 20}, check=check)
    assert run.rc != 0
    text = flat(run)
    assert "cannot restart, the rollout would never complete:" in text, run.stdout[-3000:]
    for why in ("Deployment %s/paused: paused: can't restart a paused Deployment (run kubectl rollout resume "
                "deployment/paused -n %s first)" % (blocked, blocked),
                "StatefulSet %s/ondelete-db: updateStrategy OnDelete" % blocked,
                "DaemonSet %s/ondelete-agent: updateStrategy OnDelete" % blocked,
                "StatefulSet %s/partitioned: partition 1: pods with an ordinal below 1 are never updated" % blocked):
        assert why in text, why
    assert audit.writes(since) == []
    assert time.monotonic() - started < 20, "failed fast, not at the timeout"


@pytest.fixture
def admission_locked(api_client, namespace):
    """A ValidatingAdmissionPolicy that refuses every update of the Deployment named 'locked' in the namespace."""
    apps = client.AppsV1Api(api_client)
    for name in ("free", "locked"):
        apps.create_namespaced_deployment(namespace, deployment(name))
    wait_for(lambda: all_available(api_client, [namespace]))
    adm = client.AdmissionregistrationV1Api(api_client)
    name = "test-locked-%s" % namespace
    adm.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {"failurePolicy": "Fail", "matchConstraints": {"resourceRules": [{
            "apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["deployments"]}]},
            "validations": [{"expression": "object.metadata.name != 'locked'",
                             "message": "locked is frozen for a change window"}]}})
    adm.create_validating_admission_policy_binding({
        "metadata": {"name": name},
        "spec": {"policyName": name, "validationActions": ["Deny"],
                 "matchResources": {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}}}}})

    def denied():
        try:
            apps.patch_namespaced_deployment("locked", namespace, {"metadata": {"labels": {"probe": "1"}}},
                                             dry_run="All")
        except client.ApiException as exc:
            return exc.status in (403, 422)
        return False

    wait_for(denied, timeout=30)
    yield namespace
    adm.delete_validating_admission_policy_binding(name)
    adm.delete_validating_admission_policy(name)


def test_a_patch_refused_by_admission_fails_that_workload_with_a_partial_result(api_client, admission_locked):
    run, result = restart({"namespaces": [admission_locked], "timeout": 60})
    assert run.rc != 0 and result and "MODULE FAILURE" not in run.stdout, run.stdout[-3000:]
    assert [r["name"] for r in result["restarted"]] == ["free"]
    failed = result["failed_workloads"][0]
    assert failed["name"] == "locked" and failed["patched"] is False and failed["undone"] is False
    assert failed["detail"].startswith("patch refused: 4") and "locked is frozen for a change window" in failed["detail"]
    assert ("rollout failed for Deployment %s/locked (patch refused: " % admission_locked) in flat(run)
    assert "restarted 1 workload(s); undone: none" in flat(run)


@pytest.fixture
def empty_selector_budget(api_client, namespace):
    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web"))
    wait_for(lambda: all_available(api_client, [namespace]))
    policy = client.PolicyV1Api(api_client)
    policy.create_namespaced_pod_disruption_budget(namespace, {"metadata": {"name": "everything"},
                                                               "spec": {"selector": {}, "minAvailable": 1}})
    wait_for(lambda: (policy.read_namespaced_pod_disruption_budget("everything", namespace).status.expected_pods or 0) == 1)
    assert policy.read_namespaced_pod_disruption_budget("everything", namespace).status.disruptions_allowed == 0
    return namespace


def test_a_budget_with_an_empty_selector_and_no_disruption_allowed_holds_the_restart(empty_selector_budget, audit):
    since = now()
    run, result = restart({"namespaces": [empty_selector_budget], "timeout": 6})
    assert run.rc != 0 and result, run.stdout[-3000:]
    failed = result["failed_workloads"][0]
    assert failed["name"] == "web" and failed["patched"] is False
    assert failed["detail"] == ("not restarted: PodDisruptionBudget %s/everything allows 0 disruptions "
                                "(disruptionsAllowed) for 6s" % empty_selector_budget)
    assert audit.writes(since) == []


@pytest.fixture
def namespace_scoped_user(api_client, sandbox, tmp_path):
    """Five namespaces with a Deployment each, and a kubeconfig for a ServiceAccount that has Roles there only."""
    core, apps, rbac = client.CoreV1Api(api_client), client.AppsV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    names = ["t-%s-%d" % (uuid.uuid4().hex[:6], i) for i in range(5)]
    for ns in names:
        core.create_namespace({"metadata": {"name": ns, "labels": {"istio-runbooks.io/test": "true"}}})
        apps.create_namespaced_deployment(ns, deployment("web"))
    core.create_namespaced_service_account(names[0], {"metadata": {"name": "restarter"}})
    rules = [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
             {"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]},
             {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
              "verbs": ["get", "list", "patch"]},
             {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["list"]}]
    for ns in names:
        rbac.create_namespaced_role(ns, {"metadata": {"name": "restarter"}, "rules": rules})
        rbac.create_namespaced_role_binding(ns, {
            "metadata": {"name": "restarter"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                           "name": "restarter"},
            "subjects": [{"kind": "ServiceAccount", "name": "restarter", "namespace": names[0]}]})
    wait_for(lambda: all_available(api_client, names))
    path = token_kubeconfig(api_client, sandbox.paths.kubeconfig, "restarter", names[0], tmp_path / "restarter.kubeconfig")
    yield names, path, "system:serviceaccount:%s:restarter" % names[0]
    delete_namespaces(api_client, names)


def test_namespace_scoped_rbac_restarts_with_per_namespace_lists(namespace_scoped_user, audit):
    names, kubeconfig, user = namespace_scoped_user
    since = now()
    run, result = restart({"namespaces": names, "kubeconfig": kubeconfig, "context": "sandbox", "timeout": 60})
    assert run.rc == 0, run.stdout[-3000:]
    assert sorted(r["namespace"] for r in result["restarted"]) == sorted(names)
    cluster_wide = [e for e in audit.events(since) if e.get("user", {}).get("username") == user
                    and e.get("verb") == "list" and e.get("objectRef", {}).get("resource") == "deployments"
                    and not e["objectRef"].get("namespace")]
    assert [e["responseStatus"]["code"] for e in cluster_wide] == [403], "one refused cluster-wide list, then none"
