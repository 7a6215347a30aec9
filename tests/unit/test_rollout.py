"""RolloutRestarter against a fake API: selection, check mode, concurrency, budgets, failures and undo."""
import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import (
    RESTARTED_AT,
    RolloutError,
    RolloutRestarter,
    needs_restart,
    pod_has_sidecar,
    rollout_state,
)
from tests.unit.fake_api import FakeApi, deployment, pod_for, replicaset_for


class Clock(object):
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


def cluster(namespaces=("a",), per_ns=3, sidecar=False, **kw):
    api = FakeApi(namespaces, **kw)
    for ns in namespaces:
        for i in range(per_ns):
            d = deployment(ns, "d%d" % i)
            api.add("Deployment", d)
            api.add("ReplicaSet", replicaset_for(d))
            api.add("Pod", pod_for(d, sidecar=sidecar))
    return api


def restarter(api, clock=None, **kw):
    clock = clock or Clock()
    kw.setdefault("namespaces", api.namespaces)
    kw.setdefault("kinds", ["Deployment"])
    return RolloutRestarter(api, clock=clock, sleep=clock.sleep, stamp="2026-01-01T00:00:00Z", **kw)


@pytest.mark.parametrize("kw, message", [
    ({"kinds": ["Job"]}, "unknown kind Job"),
    ({"namespaces": []}, "namespaces is empty"),
    ({"label_selector": "  "}, "label_selector is empty"),
    ({"batch_size": 0}, "batch_size must be 1 or more"),
    ({"concurrency": 0}, "concurrency must be 1 or more"),
    ({"only_if": "wrong_revision"}, "needs revision"),
])
def test_bad_input_is_refused_before_any_request(kw, message):
    api = cluster()
    with pytest.raises(RolloutError, match=message):
        restarter(api, **kw).run()
    assert api.calls == []


def test_missing_namespace_or_name_fails_before_any_patch():
    api = cluster()
    with pytest.raises(RolloutError, match="namespace\\(s\\) not found: nope"):
        restarter(api, namespaces=["a", "nope"]).run()
    with pytest.raises(RolloutError, match="workload\\(s\\) not found in a: ghost"):
        restarter(api, names=["d0", "ghost"]).run()
    assert api.patches == []


def test_check_mode_sends_no_patch_and_shows_the_annotation_diff():
    api = cluster()
    result = restarter(api, check_mode=True).run()
    assert api.patches == []
    assert [w["name"] for w in result["would_restart"]] == ["d0", "d1", "d2"]
    assert result["diff"]["after"]["Deployment a/d0"] == {RESTARTED_AT: "2026-01-01T00:00:00Z"}
    assert result["diff"]["before"]["Deployment a/d0"] == {RESTARTED_AT: None}


def test_restart_waits_for_each_rollout_and_reports_revisions():
    api = cluster()
    result = restarter(api).run()
    assert [r["outcome"] for r in result["restarted"]] == ["restarted"] * 3
    assert all(r["old_revision"] == "1" and r["new_revision"] == "2" for r in result["restarted"])
    assert result["failed"] == [] and result["changed"]


def test_concurrency_is_bounded():
    api = cluster(per_ns=12, roll_after=3)
    restarter(api, concurrency=4).run()
    assert len(api.patches) == 12
    assert api.max_in_flight == 4


def test_one_list_per_namespace_and_kind_never_per_pod():
    api = cluster(namespaces=("a", "b"), per_ns=5)
    for ns in ("a", "b"):
        for d in api.objects[("Deployment", ns)]:
            for i in range(1, 20):
                api.add("Pod", pod_for(d, index=i))
    restarter(api, only_if="missing_sidecar", check_mode=True).run()
    reads = [c for c in api.calls if c[0] == "list"]
    assert len(reads) == 1 + 2 * 3  # namespaces, then Deployments, Pods and ReplicaSets per namespace


def test_pod_disruption_budget_limits_restarts_in_flight():
    api = cluster(per_ns=6, roll_after=3)
    api.add("PodDisruptionBudget", {"metadata": {"name": "pdb", "namespace": "a"},
                                    "spec": {"selector": {"matchExpressions": [
                                        {"key": "app", "operator": "In", "values": ["d0", "d1", "d2", "d3"]}]}},
                                    "status": {"disruptionsAllowed": 0}})
    order = []
    original = api.patch

    def spy(kind, ns, name, body):
        order.append((name, sorted(n for (_, n) in api.pending)))
        return original(kind, ns, name, body)

    api.patch = spy
    restarter(api, concurrency=6).run()
    for name, in_flight in order:
        if name in ("d0", "d1", "d2", "d3"):
            assert not set(in_flight) & {"d0", "d1", "d2", "d3"}, (name, in_flight)


def test_missing_sidecar_skips_injected_opted_out_and_host_network():
    api = FakeApi(["a"])
    specs = [("injected", {}, False, True), ("bare", {}, False, False),
             ("optout", {"sidecar.istio.io/inject": "false"}, False, False), ("hostnet", {}, True, False)]
    for name, labels, hostnet, sidecar in specs:
        d = deployment("a", name, template_labels=labels, host_network=hostnet)
        api.add("Deployment", d)
        api.add("ReplicaSet", replicaset_for(d))
        api.add("Pod", pod_for(d, sidecar=sidecar))
    result = restarter(api, only_if="missing_sidecar").run()
    assert [r["name"] for r in result["restarted"]] == ["bare"]
    reasons = dict((u["name"], u["reason"]) for u in result["untouched"])
    assert reasons["injected"] == "every pod has istio-proxy"
    assert reasons["optout"].startswith("opted out")
    assert reasons["hostnet"].startswith("host network")


def test_a_second_run_restarts_nothing():
    api = cluster(sidecar=True)
    result = restarter(api, only_if="missing_sidecar").run()
    assert result["changed"] is False and api.patches == []


def test_timeout_fails_with_the_workload_and_undo_restores_the_template():
    api = cluster(per_ns=2)
    api.stuck.add(("a", "d1"))
    api.objects[("Deployment", "a")][1]["spec"]["template"]["metadata"]["annotations"][RESTARTED_AT] = "before"
    result = restarter(api, timeout=5, undo_on_failure=True).run()
    assert [r["name"] for r in result["restarted"]] == ["d0"]
    failed = result["failed"][0]
    assert failed["name"] == "d1" and failed["detail"].startswith("timeout after 5s") and failed["undone"]
    assert api.patches[-1] == ("Deployment", "a", "d1", {"spec": {"template": {"metadata": {"annotations": {
        RESTARTED_AT: "before"}}}}})


def test_progress_deadline_exceeded_fails_early():
    api = cluster(per_ns=1)
    api.stuck.add(("a", "d0"))
    api.deadline.add(("a", "d0"))
    clock = Clock()
    result = restarter(api, clock=clock, timeout=600).run()
    assert result["failed"][0]["detail"].startswith("ProgressDeadlineExceeded")
    assert clock.t < 600


def test_native_sidecar_counts_as_sidecar():
    d = deployment("a", "x")
    assert pod_has_sidecar(pod_for(d, sidecar=True, native=True))
    assert not pod_has_sidecar({"spec": {"initContainers": [{"name": "istio-proxy"}]}})


def test_wrong_revision_selects_pods_on_another_revision():
    d = deployment("a", "x")
    assert needs_restart(d, [pod_for(d, sidecar=True, revision="old")], "wrong_revision", "new")[0]
    assert not needs_restart(d, [pod_for(d, sidecar=True, revision="new")], "wrong_revision", "new")[0]


@pytest.mark.parametrize("status, generation, state", [
    ({"observedGeneration": 1}, 2, "progressing"),
    ({"observedGeneration": 2, "updatedReplicas": 1, "availableReplicas": 1, "replicas": 2}, 2, "progressing"),
    ({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2, "replicas": 2}, 2, "done"),
])
def test_deployment_rollout_state(status, generation, state):
    d = {"kind": "Deployment", "metadata": {"generation": generation}, "spec": {"replicas": 2}, "status": status}
    assert rollout_state(d)[0] == state


def test_pod_revision_comes_from_istiods_status_annotation():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import pod_revision, pods_on_revision
    pod = {"metadata": {"annotations": {"sidecar.istio.io/status": '{"containers":["istio-proxy"],"revision":"canary"}'}},
           "spec": {"containers": [{"name": "istio-proxy"}]}}
    assert pod_revision(pod) == "canary"
    assert pods_on_revision([pod], "canary") == [pod] and pods_on_revision([pod], "default") == []


def test_many_namespaces_in_flight_are_polled_with_one_cluster_wide_list():
    api = cluster(namespaces=tuple("n%d" % i for i in range(10)), per_ns=1, roll_after=3)
    restarter(api, concurrency=10).run()
    polls = [c for c in api.calls if c[0] == "list" and c[1] == "Deployment" and c[2] is None]
    assert polls, "expected cluster-wide polls"
