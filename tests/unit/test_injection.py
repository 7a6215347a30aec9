"""Injection labels to write and the injection report, against a fake API."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.injection import (
    injection_report,
    invalid_namespace_names,
    namespace_label_patches,
)
from tests.unit.fake_api import FakeApi, deployment, pod_for, replicaset_for


def ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_label_patches_only_for_namespaces_that_differ():
    live = [ns("shop", **{"istio-injection": "enabled"}), ns("pay"), ns("ops", **{"istio.io/rev": "canary"}),
            ns("other")]
    enable = {"istio-injection": "enabled", "istio.io/rev": None}
    assert namespace_label_patches(live, ["shop", "pay", "ops"], enable) == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pay", "labels": {"istio-injection": "enabled"}}},
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": "ops", "labels": {"istio-injection": "enabled", "istio.io/rev": None}}},
    ]


def test_label_patches_are_empty_when_nothing_changes():
    live = [ns("shop", **{"istio.io/rev": "prod-stable", "team": "a"}), ns("pay")]
    assert namespace_label_patches(live, ["shop"], {"istio-injection": None, "istio.io/rev": "prod-stable"}) == []
    assert namespace_label_patches(live, ["pay"], {"istio-injection": None, "istio.io/rev": None}) == []


def test_label_patches_read_mesh_info_namespace_entries_too():
    live = [{"name": "shop", "labels": {"istio-injection": "enabled"}}, {"name": "pay", "labels": {}}]
    enable = {"istio-injection": "enabled", "istio.io/rev": None}
    assert namespace_label_patches(live, ["shop", "pay"], enable) == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pay", "labels": {"istio-injection": "enabled"}}}]


def test_invalid_namespace_names_are_named():
    assert invalid_namespace_names(["shop", "Bad_NS", "a" * 64, "-x", "ok-1", ""]) == ["Bad_NS", "a" * 64, "-x", ""]


def injected_cluster(revision):
    api = FakeApi(["shop"])
    d = deployment("shop", "web")
    api.add("Deployment", d)
    api.add("ReplicaSet", replicaset_for(d))
    api.add("Pod", pod_for(d, sidecar=True, revision=revision))
    return api


def test_report_flags_pods_on_another_revision():
    report = injection_report(injected_cluster("default"), ["shop"], "enabled", revision="canary")
    assert [(p["pod"], p["reason"]) for p in report["unexpected_pods"]] == [
        ("web-0", "runs revision default, expected canary")]


def test_report_accepts_pods_on_the_expected_revision():
    assert injection_report(injected_cluster("canary"), ["shop"], "enabled", revision="canary")["unexpected_pods"] == []
    assert injection_report(injected_cluster("default"), ["shop"], "enabled")["unexpected_pods"] == []


def test_many_namespaces_are_read_with_one_cluster_wide_list_per_kind():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import ApiCallError

    names = ["ns-%02d" % i for i in range(12)]

    def cluster(deny_pods=False):
        api = FakeApi(names + ["other"])
        for name in names + ["other"]:
            d = deployment(name, "web")
            api.add("Deployment", d)
            api.add("ReplicaSet", replicaset_for(d))
            api.add("Pod", pod_for(d, sidecar=name != "ns-03"))
        if deny_pods:
            api.deny_list[("Pod", None)] = ApiCallError(403, "pods is forbidden")
        return api

    api = cluster()
    report = injection_report(api, names, "enabled")
    assert [p["namespace"] for p in report["unexpected_pods"]] == ["ns-03"]
    assert len(report["workloads"]) == 12, "only the named namespaces"
    lists = [c for c in api.calls if c[0] == "list"]
    assert sorted(set(c[2] for c in lists)) == [None] and len(lists) == 1 + 2 + 3, lists
    denied = cluster(deny_pods=True)
    assert injection_report(denied, names, "enabled")["unexpected_pods"] == report["unexpected_pods"]
    assert len([c for c in denied.calls if c[1] == "Pod"]) == 1 + 12, "per namespace when cluster-wide is forbidden"
