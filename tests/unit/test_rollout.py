"""RolloutRestarter against a fake API: selection, check mode, concurrency, budgets, failures and undo."""
import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import (
    RESTARTED_AT,
    ApiCallError,
    RolloutError,
    RolloutRestarter,
    needs_restart,
    pdb_groups,
    pod_has_sidecar,
    rollout_state,
)
from tests.unit.fake_api import FakeApi, deployment, pod_for, replicaset_for


class Clock(object):
    LIMIT = 100000  # seconds of fake time: a run still going then would hang forever

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        assert seconds > 0, "sleep(%r) would spin" % seconds
        self.t += seconds
        assert self.t < self.LIMIT, "the run did not end: it would wait forever"


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
    ({"poll_interval": 0}, "poll_interval must be more than 0 seconds, got 0"),
    ({"poll_interval": -1.5}, "poll_interval must be more than 0 seconds, got -1.5"),
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


def test_many_namespaces_are_selected_with_one_cluster_wide_list_per_kind():
    namespaces = tuple("ns-%02d" % i for i in range(12))
    api = cluster(namespaces=namespaces, per_ns=2)
    result = restarter(api, namespaces=namespaces, only_if="missing_sidecar", check_mode=True).run()
    assert len(result["would_restart"]) == 24
    reads = [c for c in api.calls if c[0] == "list"]
    assert sorted(c[1] for c in reads) == ["Deployment", "Namespace", "Pod", "ReplicaSet"], reads
    assert set(c[2] for c in reads) == {None}


def test_many_namespaces_fall_back_to_namespace_lists_when_cluster_wide_is_forbidden():
    namespaces = tuple("ns-%02d" % i for i in range(12))
    api = cluster(namespaces=namespaces, per_ns=1)
    api.deny_list[("Pod", None)] = ApiCallError(403, "forbidden")
    result = restarter(api, namespaces=namespaces, only_if="missing_sidecar", check_mode=True).run()
    assert len(result["would_restart"]) == 12
    assert len([c for c in api.calls if c[1] == "Pod"]) == 1 + 12


def test_many_namespaces_a_failed_cluster_wide_list_stops_before_any_patch():
    namespaces = tuple("ns-%02d" % i for i in range(12))
    api = cluster(namespaces=namespaces, per_ns=1)
    api.deny_list[("ReplicaSet", None)] = ApiCallError(500, "etcd is gone")
    with pytest.raises(RolloutError, match="cannot list ReplicaSets cluster-wide: 500 etcd is gone"):
        restarter(api, namespaces=namespaces, only_if="missing_sidecar").run()
    assert api.patches == []


def pdb(selector, allowed, name="pdb", namespace="a"):
    spec = {} if selector is None else {"selector": selector}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec, "status": {"disruptionsAllowed": allowed}}


def in_flight_spy(api):
    """Records, for every patch, the workloads whose rollouts were still in flight."""
    order = []
    original = api.patch

    def spy(kind, ns, name, body):
        order.append((name, sorted(n for (_, n) in api.pending)))
        return original(kind, ns, name, body)

    api.patch = spy
    return order


COVERED = {"d0", "d1", "d2", "d3"}


def test_pod_disruption_budget_limits_restarts_in_flight():
    api = cluster(per_ns=6, roll_after=3)
    api.add("PodDisruptionBudget", pdb({"matchExpressions": [
        {"key": "app", "operator": "In", "values": sorted(COVERED)}]}, 1))
    order = in_flight_spy(api)
    result = restarter(api, concurrency=6).run()
    assert sorted(name for name, _ in order) == ["d%d" % i for i in range(6)], "every workload is restarted"
    assert len(result["restarted"]) == 6 and result["failed"] == []
    for name, in_flight in order:
        if name in COVERED:
            assert not set(in_flight) & COVERED, (name, in_flight)
    assert api.max_in_flight > 1, "workloads the budget does not cover still restart side by side"


def test_a_budget_allowing_no_disruption_holds_its_workloads_and_fails_at_the_timeout_naming_it():
    api = cluster(per_ns=6, roll_after=3)
    api.add("PodDisruptionBudget", pdb({"matchExpressions": [
        {"key": "app", "operator": "In", "values": sorted(COVERED)}]}, 0))
    clock = Clock()
    result = restarter(api, clock=clock, concurrency=6, timeout=30).run()
    assert sorted(p[2] for p in api.patches) == ["d4", "d5"]
    assert sorted(r["name"] for r in result["restarted"]) == ["d4", "d5"]
    assert sorted(f["name"] for f in result["failed"]) == sorted(COVERED)
    failed = result["failed"][0]
    assert "PodDisruptionBudget a/pdb allows 0 disruptions" in failed["detail"] and failed["patched"] is False
    assert 30 < clock.t < 40


def test_a_budget_that_allows_disruptions_again_ends_the_wait():
    api = cluster(per_ns=2, roll_after=3)
    budget = pdb({}, 0)
    api.add("PodDisruptionBudget", budget)
    reads = []

    def recover(kind, namespace):
        if kind == "PodDisruptionBudget":
            reads.append(namespace)
            if len(reads) == 4:
                budget["status"]["disruptionsAllowed"] = 1

    api.hooks.append(recover)
    result = restarter(api, timeout=60).run()
    assert [r["name"] for r in result["restarted"]] == ["d0", "d1"] and result["failed"] == []
    assert reads == ["a"] * len(reads) and len(reads) >= 4, "the budget is re-read once per poll for its namespace"


def test_an_empty_budget_selector_covers_every_workload_in_its_namespace():
    workloads = [deployment("a", "x"), deployment("a", "y"), deployment("b", "z")]
    for w in workloads:
        w["kind"] = "Deployment"
    assert pdb_groups(workloads, [pdb({}, 1)]) == {"a/pdb": {"allowed": 1, "covered": {"Deployment a/x",
                                                                                       "Deployment a/y"}}}
    assert pdb_groups(workloads, [pdb(None, 1)]) == {}
    api = cluster(per_ns=4, roll_after=3)
    api.add("PodDisruptionBudget", pdb({}, 1))
    order = in_flight_spy(api)
    restarter(api, concurrency=4).run()
    assert len(order) == 4 and all(in_flight == [] for _, in_flight in order)


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


def test_a_workload_recreated_mid_rollout_fails_instead_of_hanging():
    api = cluster(per_ns=2)
    api.stuck.add(("a", "d1"))

    def recreate(kind, namespace):
        if kind == "Deployment" and ("a", "d1") in api.pending and len(api.patches) == 2:
            items = api.objects[("Deployment", "a")]
            fresh = deployment("a", "d1")
            fresh["metadata"]["uid"] = "uid-new"
            items[1] = fresh
            api.hooks.remove(recreate)

    api.hooks.append(recreate)
    clock = Clock()
    result = restarter(api, clock=clock, timeout=300, undo_on_failure=True).run()
    assert [r["name"] for r in result["restarted"]] == ["d0"]
    failed = result["failed"][0]
    assert failed["name"] == "d1" and failed["detail"].startswith("deleted and recreated during the restart")
    assert "uid-new" in failed["detail"] and failed["undone"] is False, "the new object is not ours to undo"
    assert clock.t < 300
    assert [p[2] for p in api.patches] == ["d0", "d1"]


def test_an_unobserved_change_still_times_out():
    api = cluster(per_ns=1)
    api.stuck.add(("a", "d0"))

    def lose_generation(kind, namespace):
        if kind == "Deployment" and api.patches:
            api.objects[("Deployment", "a")][0]["metadata"]["generation"] = 1

    api.hooks.append(lose_generation)
    clock = Clock()
    result = restarter(api, clock=clock, timeout=20).run()
    assert result["failed"][0]["detail"].startswith("timeout after 20s: waiting for the change to show")
    assert clock.t < 30


@pytest.mark.parametrize("only_if, sidecar", [("missing_sidecar", False), ("has_sidecar", True),
                                              ("wrong_revision", False)])
def test_finished_and_terminating_pods_do_not_decide_a_restart(only_if, sidecar):
    api = FakeApi(["a"])
    d = deployment("a", "x")
    api.add("Deployment", d)
    api.add("ReplicaSet", replicaset_for(d))
    api.add("Pod", pod_for(d, index=0, sidecar=not sidecar, revision="default"))
    api.add("Pod", pod_for(d, index=1, sidecar=sidecar, phase="Failed"))
    api.add("Pod", pod_for(d, index=2, sidecar=sidecar, phase="Succeeded"))
    api.add("Pod", pod_for(d, index=3, sidecar=sidecar, terminating=True))
    result = restarter(api, only_if=only_if, revision="default").run()
    assert api.patches == [] and result["changed"] is False, result["untouched"]


def test_only_finished_pods_left_means_no_running_pods():
    d = deployment("a", "x")
    assert needs_restart(d, [pod_for(d, phase="Failed")], "missing_sidecar") == (False, "no running pods")


def test_wrong_revision_skips_host_network_workloads():
    d = deployment("a", "x", host_network=True)
    assert needs_restart(d, [pod_for(d)], "wrong_revision", "canary") == (False, "host network (never injected)")


def test_a_refused_patch_fails_that_workload_and_the_others_go_on():
    api = cluster(per_ns=3)
    api.deny_patch["d1"] = ApiCallError(403, 'deployments.apps "d1" is forbidden: ValidatingAdmissionPolicy denied')
    result = restarter(api).run()
    assert sorted(r["name"] for r in result["restarted"]) == ["d0", "d2"]
    failed = result["failed"][0]
    assert failed["name"] == "d1" and failed["patched"] is False and failed["undone"] is False
    assert failed["detail"] == 'patch refused: 403 deployments.apps "d1" is forbidden: ValidatingAdmissionPolicy denied'
    assert result["changed"] is True


def test_a_failed_undo_is_reported_and_a_done_undo_is_listed():
    api = cluster(per_ns=3)
    api.stuck.update([("a", "d1"), ("a", "d2")])
    original = api.patch

    def patch(kind, ns, name, body):
        if name == "d2" and ("a", "d2") in api.pending:
            raise ApiCallError(422, "admission webhook denied the request")
        return original(kind, ns, name, body)

    api.patch = patch
    result = restarter(api, timeout=5, undo_on_failure=True).run()
    failed = dict((f["name"], f) for f in result["failed"])
    assert failed["d1"]["undone"] is True and failed["d2"]["undone"] is False
    assert failed["d2"]["detail"].endswith("; undo failed: 422 admission webhook denied the request")
    assert result["undone"] == ["Deployment a/d1"]


def test_a_forbidden_cluster_wide_list_falls_back_to_namespace_lists():
    namespaces = tuple("n%d" % i for i in range(8))
    api = cluster(namespaces=namespaces, per_ns=1, roll_after=3)
    for kind in ("Namespace", "Deployment"):
        api.deny_list[(kind, None)] = ApiCallError(403, "forbidden: User cannot list resource at the cluster scope")
    result = restarter(api, concurrency=8).run()
    assert len(result["restarted"]) == 8 and result["failed"] == []
    cluster_wide = [c for c in api.calls if c[0] == "list" and c[1] == "Deployment" and c[2] is None]
    assert len(cluster_wide) == 1, "tried once, then lists per namespace"
    assert [c[3] for c in api.calls if c[0] == "get"] == list(namespaces), "namespaces read one by one"


def test_a_forbidden_status_list_fails_the_workloads_it_covers():
    api = cluster(per_ns=2)
    original = api.patch

    def patch(kind, ns, name, body):
        api.deny_list[("Deployment", "a")] = ApiCallError(403, "forbidden")
        return original(kind, ns, name, body)

    api.patch = patch
    result = restarter(api).run()
    assert sorted(f["name"] for f in result["failed"]) == ["d0", "d1"]
    assert all(f["detail"] == "cannot read the rollout status: 403 forbidden" and f["patched"] for f in result["failed"])


def test_a_transient_status_error_is_retried():
    api = cluster(per_ns=1)
    errors = [ApiCallError(None, "connection reset")] * 2

    def flaky(kind, namespace):
        api.deny_list.pop(("Deployment", "a"), None)
        if kind == "Deployment" and api.patches and errors:
            api.deny_list[("Deployment", "a")] = errors.pop()

    api.hooks.append(flaky)
    result = restarter(api).run()
    assert [r["name"] for r in result["restarted"]] == ["d0"] and result["failed"] == []


def test_listing_refused_before_any_patch_names_the_permission():
    api = cluster()
    api.deny_list[("Pod", "a")] = ApiCallError(403, "forbidden")
    with pytest.raises(RolloutError, match="cannot list Pods in namespace a: 403 forbidden. Nothing was restarted"):
        restarter(api, only_if="missing_sidecar").run()
    assert api.patches == []


def statefulset(name, strategy=None, replicas=2):
    return {"kind": "StatefulSet", "metadata": {"name": name, "namespace": "a", "uid": "uid-" + name, "generation": 1},
            "spec": {"replicas": replicas, "updateStrategy": strategy or {"type": "RollingUpdate"},
                     "template": {"metadata": {"labels": {"app": name}}}}, "status": {}}


def daemonset(name, strategy=None):
    return dict(statefulset(name, strategy), kind="DaemonSet")


@pytest.mark.parametrize("kind, obj, why", [
    ("Deployment", dict(deployment("a", "w"), spec=dict(deployment("a", "w")["spec"], paused=True)),
     "Deployment a/w: paused: can't restart a paused Deployment (run kubectl rollout resume deployment/w -n a first)"),
    ("StatefulSet", statefulset("w", {"type": "OnDelete"}), "StatefulSet a/w: updateStrategy OnDelete"),
    ("DaemonSet", daemonset("w", {"type": "OnDelete"}), "DaemonSet a/w: updateStrategy OnDelete"),
    ("StatefulSet", statefulset("w", {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}),
     "StatefulSet a/w: partition 1: pods with an ordinal below 1 are never updated"),
])
@pytest.mark.parametrize("check_mode", [False, True])
def test_rollouts_that_can_never_complete_fail_before_any_patch(kind, obj, why, check_mode):
    api = cluster(per_ns=2)
    api.add(kind, obj)
    with pytest.raises(RolloutError) as err:
        restarter(api, kinds=["Deployment", kind], check_mode=check_mode).run()
    assert str(err.value).startswith("cannot restart, the rollout would never complete: ")
    assert why in str(err.value) and "Nothing was restarted" in str(err.value)
    assert api.patches == []


def test_a_blocked_workload_that_needs_no_restart_does_not_stop_the_run():
    api = cluster(per_ns=1, sidecar=True)
    api.objects[("Deployment", "a")][0]["spec"]["paused"] = True
    result = restarter(api, only_if="missing_sidecar").run()
    assert result["changed"] is False and result["failed"] == []


def test_wait_false_returns_once_the_patches_are_out():
    api = cluster(per_ns=3)
    api.stuck.update(("a", "d%d" % i) for i in range(3))
    clock = Clock()
    result = restarter(api, clock=clock, wait=False, timeout=5).run()
    assert [(r["name"], r["outcome"], r["detail"]) for r in result["restarted"]] == [
        ("d%d" % i, "started", "not waited for") for i in range(3)]
    assert len(api.patches) == 3 and clock.t == 0
    first_patch = next(i for i, c in enumerate(api.calls) if c[0] == "patch")
    assert not [c for c in api.calls[first_patch:] if c[0] == "list"], "no status read"


INJECTOR_DOWN = ('Internal error occurred: failed calling webhook "namespace.sidecar-injector.istio.io": failed to '
                 'call webhook: Post "https://istiod.istio-system.svc:443/inject?timeout=10s": dial tcp '
                 '127.0.0.1:15017: connect: connection refused')


def test_istiod_not_answering_the_injection_webhook_fails_at_once_naming_istiod_and_undoes():
    api = cluster(per_ns=3)
    for name in ("d0", "d1"):
        api.stuck.add(("a", name))
        api.replica_failure[("a", name)] = INJECTOR_DOWN
    clock = Clock()
    result = restarter(api, clock=clock, timeout=300, undo_on_failure=True).run()
    assert [r["name"] for r in result["restarted"]] == ["d2"]
    assert sorted(f["name"] for f in result["failed"]) == ["d0", "d1"]
    for failed in result["failed"]:
        assert failed["detail"].startswith(
            "istiod is not answering its injection webhook (namespace.sidecar-injector.istio.io): check istiod "
            "(kubectl -n istio-system get pods -l app=istiod, logs) before retrying."), failed["detail"]
        assert "connection refused" in failed["detail"] and failed["undone"]
    assert result["undone"] == ["Deployment a/d0", "Deployment a/d1"]
    assert clock.t < 30, "waited %.0fs of fake time instead of failing at once" % clock.t
    polls = [c for c in api.calls if c[0] == "list" and c[1] in ("ReplicaSet", "Pod", "Event")]
    assert polls == [], "the failure must come from the Deployment list the wait makes anyway"


@pytest.mark.parametrize("message, expected", [
    ('Internal error occurred: failed calling webhook "policy.example.com": context deadline exceeded',
     "admission webhook policy.example.com is failing, so no new pod can be created"),
    ('admission webhook "pods.gatekeeper.sh" denied the request: image not allowed',
     "admission webhook pods.gatekeeper.sh denies the new pods"),
])
def test_another_failing_or_denying_admission_webhook_fails_at_once_naming_it(message, expected):
    api = cluster(per_ns=1)
    api.stuck.add(("a", "d0"))
    api.replica_failure[("a", "d0")] = message
    clock = Clock()
    result = restarter(api, clock=clock, timeout=300).run()
    assert result["failed"][0]["detail"].startswith(expected) and "istiod" not in result["failed"][0]["detail"]
    assert clock.t < 30


def test_a_replica_failure_that_is_not_a_webhook_waits_for_the_timeout():
    api = cluster(per_ns=1)
    api.stuck.add(("a", "d0"))
    api.replica_failure[("a", "d0")] = 'pods "d0-x" is forbidden: exceeded quota: one-pod, requested: pods=1'
    result = restarter(api, timeout=5).run()
    assert result["failed"][0]["detail"].startswith("timeout after 5s")


def test_restart_patch_carries_the_ticket_annotations_on_the_workload():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import restart_patch
    assert "metadata" not in restart_patch("2026-11-26T10:00:00Z")
    patch = restart_patch("2026-11-26T10:00:00Z", {"istio-runbooks.io/change-id": "CHG0012345"})
    assert patch["metadata"] == {"annotations": {"istio-runbooks.io/change-id": "CHG0012345"}}
    assert patch["spec"]["template"]["metadata"]["annotations"] == {"kubectl.kubernetes.io/restartedAt": "2026-11-26T10:00:00Z"}
