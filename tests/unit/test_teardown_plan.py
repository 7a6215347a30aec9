import copy

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import gather_mesh
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.teardown import plan
from tests.unit.test_mesh_info import FakeMeshApi

ORDER = ["MutatingWebhookConfiguration", "Deployment", "ConfigMap", "ClusterRole", "CustomResourceDefinition"]


def obj(kind, name, namespace=None, api_version="v1", **labels):
    meta = {"name": name, "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": meta}


def ns(name, **labels):
    return {"metadata": {"name": name, "labels": labels}}


ISTIOD = obj("Deployment", "istiod", "istio-system", "apps/v1", **{"istio.io/rev": "default", "app": "istiod"})
CANARY = obj("Deployment", "istiod-canary", "istio-system", "apps/v1", **{"istio.io/rev": "canary", "app": "istiod"})
HOOK = obj("MutatingWebhookConfiguration", "istio-sidecar-injector-canary", None,
           "admissionregistration.k8s.io/v1", **{"istio.io/rev": "canary"})
ROLE = obj("ClusterRole", "istio-reader-clusterrole-istio-system", None, "rbac.authorization.k8s.io/v1")
NAMESPACES = [ns("shop", **{"istio-injection": "enabled", "team": "a"}), ns("pay", **{"istio.io/rev": "canary"}),
              ns("plain")]


def test_a_purge_deletes_everything_in_kind_order_once_and_unlabels_every_namespace():
    cert = obj("ConfigMap", "istio-ca-root-cert", "shop", **{"istio.io/config": "true"})
    addon = obj("Deployment", "kiali", "istio-system", "apps/v1", **{"istio-runbooks.io/addon": "kiali"})
    result = plan([ROLE, ISTIOD, HOOK, CANARY], [addon, ISTIOD], [cert], NAMESPACES, ORDER)
    assert [(o["kind"], o["metadata"]["name"]) for o in result["objects"]] == [
        ("MutatingWebhookConfiguration", "istio-sidecar-injector-canary"), ("Deployment", "istiod"),
        ("Deployment", "istiod-canary"), ("Deployment", "kiali"), ("ConfigMap", "istio-ca-root-cert"),
        ("ClusterRole", "istio-reader-clusterrole-istio-system")]
    assert result["objects"][1] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": {"name": "istiod", "namespace": "istio-system"}}
    assert result["namespaces"] == [{"name": "pay", "labels": {"istio.io/rev": "canary"}},
                                    {"name": "shop", "labels": {"istio-injection": "enabled"}}]
    assert result["label_patches"] == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pay", "labels": {"istio.io/rev": None}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "labels": {"istio-injection": None}}}]


def test_a_revision_teardown_takes_only_the_revision_and_its_namespaces_label():
    result = plan([ROLE, ISTIOD, HOOK, CANARY], [], [], NAMESPACES, ORDER, scope="revision", revision="canary")
    assert [o["metadata"]["name"] for o in result["objects"]] == ["istio-sidecar-injector-canary", "istiod-canary"]
    assert result["namespaces"] == [{"name": "pay", "labels": {"istio.io/rev": "canary"}}]
    assert plan([CANARY], [], [], NAMESPACES, ORDER, remove_labels=False)["namespaces"] == []


def test_mesh_info_plans_a_teardown_with_one_list_per_kind():
    pod = {"metadata": {"name": "web-1", "namespace": "pay", "labels": {"security.istio.io/tlsMode": "istio"},
                        "annotations": {"sidecar.istio.io/status": '{"revision": "canary"}'}},
           "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]}}
    istiod, canary = copy.deepcopy(ISTIOD), copy.deepcopy(CANARY)
    for o in (istiod, canary):
        o["metadata"]["labels"]["app.kubernetes.io/part-of"] = "istio"

    class Api(FakeMeshApi):
        def list(self, api_version, kind, namespace=None, label_selector=None):
            key = (label_selector or "").split("=")[0]
            return FakeMeshApi.list(self, api_version, kind, namespace, key or None)

    api = Api({"Deployment": [istiod, canary], "MutatingWebhookConfiguration": [], "ConfigMap": [],
               "Namespace": NAMESPACES + [ns("istio-system")], "Pod": [pod]})
    kinds = [{"api_version": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration"},
             {"api_version": "apps/v1", "kind": "Deployment"}, {"api_version": "v1", "kind": "ConfigMap"}]
    purge = gather_mesh(api, gather=[], teardown={"kinds": kinds, "remove_namespace": True,
                                                  "remove_injection_labels": True})["teardown"]
    assert [o["metadata"]["name"] for o in purge["objects"]] == ["istiod", "istiod-canary"]
    assert purge["delete_namespace"] is True and len(purge["namespaces"]) == 2
    lists = [c for c in api.calls if c[0] == "list"]
    assert len(lists) == 5, "3 kinds, root certs, namespaces: %s" % lists
    revision = gather_mesh(Api(api.objects), gather=[], teardown={"kinds": kinds, "scope": "revision",
                                                                  "revision": "canary"})["teardown"]
    assert revision["revision_users"] == ["Pod pay/web-1"] and revision["delete_namespace"] is False
    assert [o["metadata"]["name"] for o in revision["objects"]] == ["istiod-canary"]
