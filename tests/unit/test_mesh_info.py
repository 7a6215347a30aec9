"""mesh_info: the decisions (revisions, tags, webhook health, injection labels, permissions) and one read per kind."""
import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import (
    CLUSTER_REVIEW_NAMESPACE, MeshInfoError, deployment_revision, gather_mesh, missing_access, namespace_injection,
    namespaces_to_review, revisions_summary, rules_allow, served_api_version, tag_map, webhook_configuration_summary)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import ApiCallError

ADMIN = [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}]


# ---- permissions ---------------------------------------------------------------------------------------

def test_rules_allow_matches_verbs_groups_resources_and_wildcards():
    rules = [{"verbs": ["get", "list"], "apiGroups": ["apps"], "resources": ["deployments"]},
             {"verbs": ["*"], "apiGroups": [""], "resources": ["configmaps"]},
             {"verbs": ["get"], "apiGroups": [""], "resources": ["*/log"]}]
    assert rules_allow(rules, "list", "deployments", "apps")
    assert not rules_allow(rules, "patch", "deployments", "apps")
    assert not rules_allow(rules, "list", "deployments", "extensions"), "the group must match"
    assert not rules_allow(rules, "list", "deployments"), "deployments are not in the core group"
    assert rules_allow(rules, "delete", "configmaps")
    assert rules_allow(rules, "get", "pods/log") and not rules_allow(rules, "get", "pods")
    assert rules_allow(ADMIN, "create", "customresourcedefinitions", "apiextensions.k8s.io")
    assert not rules_allow([], "get", "pods")


def test_rules_limited_to_names_grant_only_those_names():
    rules = [{"verbs": ["get", "patch"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["istio"]}]
    assert rules_allow(rules, "get", "configmaps", name="istio")
    assert not rules_allow(rules, "get", "configmaps", name="other")
    assert not rules_allow(rules, "get", "configmaps"), "no name: the rule cannot grant the whole kind"


def test_each_namespace_is_reviewed_once_and_cluster_wide_questions_get_their_own_review():
    required = [{"verb": "create", "resource": "customresourcedefinitions", "group": "apiextensions.k8s.io"},
                {"verb": "list", "resource": "pods", "namespace": "shop"},
                {"verb": "get", "resource": "pods", "namespace": "shop"}]
    assert namespaces_to_review(["istio-system", "shop"], required) == ["istio-system", "shop",
                                                                       CLUSTER_REVIEW_NAMESPACE]


def test_missing_access_names_each_entry_not_granted_and_why():
    reviews = {CLUSTER_REVIEW_NAMESPACE: {"resourceRules": [], "incomplete": False},
               "shop": {"resourceRules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}],
                        "incomplete": True, "evaluationError": "webhook authorizer"},
               "dev": None}
    required = [{"verb": "create", "resource": "customresourcedefinitions", "group": "apiextensions.k8s.io"},
                {"verb": "list", "resource": "pods", "group": "", "namespace": "shop"},
                {"verb": "patch", "resource": "deployments", "group": "apps", "namespace": "shop"},
                {"verb": "list", "resource": "pods", "namespace": "dev"}]
    missing = missing_access(required, reviews)
    assert [(m["verb"], m["resource"], m.get("namespace")) for m in missing] == [
        ("create", "customresourcedefinitions", None), ("patch", "deployments", "shop"), ("list", "pods", "dev")]
    assert missing[0]["reason"] == "not granted"
    assert "incomplete" in missing[1]["reason"] and "webhook authorizer" in missing[1]["reason"]
    assert missing[2]["reason"] == "the permissions could not be reviewed"


# ---- decisions -----------------------------------------------------------------------------------------

def _deployment(name, labels=None, template_labels=None, available=True, image="gcr.io/istio/pilot:1.31"):
    return {"metadata": {"name": name, "namespace": "istio-system", "labels": labels or {}},
            "spec": {"replicas": 1, "template": {"metadata": {"labels": template_labels or {}},
                                                 "spec": {"containers": [{"name": "discovery", "image": image}]}}},
            "status": {"conditions": [{"type": "Available", "status": "True" if available else "False"}],
                       "readyReplicas": 1 if available else 0}}


def test_deployment_revision_from_object_then_template_then_default():
    assert deployment_revision(_deployment("istiod-canary", {"istio.io/rev": "canary"})) == "canary"
    assert deployment_revision(_deployment("gw", template_labels={"istio.io/rev": "canary"})) == "canary"
    assert deployment_revision(_deployment("istiod", {"app": "istiod"})) == "default"


def _mwc(name, labels, hooks=None):
    return {"metadata": {"name": name, "labels": labels},
            "webhooks": hooks if hooks is not None else [
                {"name": "a.sidecar-injector.istio.io", "failurePolicy": "Fail",
                 "clientConfig": {"caBundle": "Q0E=", "service": {"namespace": "istio-system", "name": "istiod",
                                                                  "path": "/inject"}}}]}


def test_tag_map_reads_tags_and_flags_tags_without_or_with_several_revisions():
    configs = [_mwc("istio-sidecar-injector", {"istio.io/rev": "default"}),
               _mwc("istio-revision-tag-default", {"istio.io/tag": "default", "istio.io/rev": "canary"}),
               _mwc("istio-revision-tag-prod", {"istio.io/tag": "prod", "istio.io/rev": "canary"}),
               _mwc("istio-revision-tag-prod-2", {"istio.io/tag": "prod", "istio.io/rev": "stable"}),
               _mwc("istio-revision-tag-lost", {"istio.io/tag": "lost"})]
    tags, problems = tag_map(configs)
    assert tags == {"default": "canary", "prod": "canary"}
    assert any("prod points at several revisions: canary, stable" in p for p in problems)
    assert any(p.startswith("tag lost") for p in problems)


def test_webhook_health_needs_a_ca_bundle_and_somewhere_to_call():
    healthy = webhook_configuration_summary(_mwc("istio-sidecar-injector", {"istio.io/rev": "default"}),
                                            "MutatingWebhookConfiguration")
    assert healthy["healthy"] and healthy["webhooks"][0]["ca_bundle"]
    assert healthy["webhooks"][0]["service"] == {"namespace": "istio-system", "name": "istiod", "path": "/inject",
                                                 "port": 443}
    broken = webhook_configuration_summary(_mwc("istio-validator-istio-system", {"istio.io/rev": "default"}, [
        {"name": "v.istio.io", "clientConfig": {"url": "https://localhost:15017/validate"}},
        {"name": "w.istio.io", "clientConfig": {"caBundle": "Q0E="}}]), "ValidatingWebhookConfiguration")
    assert not broken["healthy"]
    assert broken["problems"] == ["v.istio.io: no caBundle", "w.istio.io: neither url nor service"]
    assert broken["webhooks"][0]["url"] == "https://localhost:15017/validate"
    empty = webhook_configuration_summary(_mwc("istio-x", {}, []), "MutatingWebhookConfiguration")
    assert empty["problems"] == ["no webhooks"]


@pytest.mark.parametrize("labels, state, revision, resolved, warned", [
    ({}, "none", None, None, False),
    ({"istio-injection": "enabled"}, "enabled", "default", "canary", False),
    ({"istio-injection": "enabled", "istio.io/rev": "stable"}, "enabled", "default", "canary", True),
    ({"istio-injection": "disabled", "istio.io/rev": "stable"}, "disabled", None, None, True),
    ({"istio-injection": "true"}, "invalid", None, None, True),
    ({"istio.io/rev": "prod"}, "revision", "prod", "canary", False),
    ({"istio.io/rev": "stable"}, "revision", "stable", "stable", False),
])
def test_namespace_injection_reads_labels_like_the_webhooks(labels, state, revision, resolved, warned):
    found = namespace_injection(labels, {"default": "canary", "prod": "canary"})
    assert (found["state"], found["revision"], found["control_plane_revision"]) == (state, revision, resolved)
    assert bool(found["warnings"]) == warned


def test_revisions_summary_groups_deployments_tags_and_webhooks():
    deployments = [{"name": "istiod", "revision": "default", "component": "istiod", "available": True},
                   {"name": "istio-ingressgateway", "revision": "default", "component": "ingressgateway",
                    "available": True},
                   {"name": "istiod-canary", "revision": "canary", "component": "istiod", "available": False}]
    webhooks = [{"revision": "default", "healthy": True}, {"revision": "canary", "healthy": False}]
    rows = revisions_summary(deployments, {"default": "default", "prod": "gone"}, webhooks)
    by = dict((r["revision"], r) for r in rows)
    assert by["default"] == {"revision": "default", "istiod": ["istiod"], "istiod_available": True,
                             "gateways": ["istio-ingressgateway"], "tags": ["default"], "webhooks_healthy": True}
    assert not by["canary"]["istiod_available"] and by["canary"]["webhooks_healthy"] is False
    assert by["gone"]["istiod"] == [] and not by["gone"]["istiod_available"], "a tag at a removed revision shows"
    assert revisions_summary(deployments, {}, None)[0]["webhooks_healthy"] is None


def test_served_api_version_prefers_v1_and_needs_an_established_crd():
    crds = [{"name": "peerauthentications.security.istio.io", "group": "security.istio.io", "established": True,
             "served_versions": ["v1beta1", "v1"], "storage_version": "v1beta1"},
            {"name": "destinationrules.networking.istio.io", "group": "networking.istio.io", "established": True,
             "served_versions": ["v1alpha3", "v1beta1"], "storage_version": "v1beta1"},
            {"name": "sidecars.networking.istio.io", "group": "networking.istio.io", "established": False,
             "served_versions": ["v1"], "storage_version": "v1"}]
    assert served_api_version(crds, "peerauthentications.security.istio.io") == "security.istio.io/v1"
    assert served_api_version(crds, "destinationrules.networking.istio.io") == "networking.istio.io/v1beta1"
    assert served_api_version(crds, "sidecars.networking.istio.io") is None
    assert served_api_version(crds, "gateways.networking.istio.io") is None


# ---- the read ------------------------------------------------------------------------------------------

def _crd(name, group, kind, established=True):
    return {"metadata": {"name": name}, "spec": {"group": group, "names": {"kind": kind, "plural": name.split(".")[0]},
                                                  "scope": "Namespaced",
                                                  "versions": [{"name": "v1", "served": True, "storage": True}]},
            "status": {"conditions": [{"type": "Established", "status": "True" if established else "False"}]}}


class FakeMeshApi(object):
    """version(), list() and rules_review() over a dict of objects; records every call; denies on request."""

    def __init__(self, objects=None, rules=None):
        self.objects = objects or {}  # kind -> [obj]
        self.rules = rules if rules is not None else ADMIN
        self.calls = []
        self.deny = set()  # (kind, namespace or None)
        self.not_served = set()

    def version(self):
        self.calls.append(("version",))
        return {"major": "1", "minor": "36", "gitVersion": "v1.36.3", "platform": "linux/amd64"}

    def list(self, api_version, kind, namespace=None, label_selector=None):
        self.calls.append(("list", api_version, kind, namespace, label_selector))
        if (kind, namespace) in self.deny:
            raise ApiCallError(403, '%s is forbidden: User "u" cannot list resource' % kind)
        if kind in self.not_served:
            return None
        items = [o for o in self.objects.get(kind, []) if namespace is None or o["metadata"].get("namespace") == namespace]
        if label_selector:
            items = [o for o in items if label_selector in (o["metadata"].get("labels") or {})]
        return items

    def rules_review(self, namespace):
        self.calls.append(("review", namespace))
        return {"resourceRules": self.rules, "nonResourceRules": [], "incomplete": False}


def _mesh(namespaces=3, pods_per_namespace=2):
    objects = {
        "CustomResourceDefinition": [_crd("peerauthentications.security.istio.io", "security.istio.io",
                                          "PeerAuthentication"),
                                     _crd("destinationrules.networking.istio.io", "networking.istio.io",
                                          "DestinationRule"),
                                     _crd("certificates.cert-manager.io", "cert-manager.io", "Certificate")],
        "Deployment": [dict(_deployment("istiod", {"app": "istiod", "istio.io/rev": "default"}), kind="Deployment"),
                       dict(_deployment("istio-ingressgateway", {"istio": "ingressgateway", "istio.io/rev": "default"}),
                            kind="Deployment")],
        "MutatingWebhookConfiguration": [_mwc("istio-sidecar-injector", {"istio.io/rev": "default"}),
                                         _mwc("istio-revision-tag-default",
                                              {"istio.io/tag": "default", "istio.io/rev": "default"}),
                                         _mwc("other-injector", {"app": "other"})],
        "ValidatingWebhookConfiguration": [_mwc("istio-validator-istio-system", {"istio.io/rev": "default"})],
        "PeerAuthentication": [{"metadata": {"name": "default", "namespace": "istio-system", "managedFields": [{}]},
                                "spec": {"mtls": {"mode": "STRICT"}}}],
        "DestinationRule": [],
        "Namespace": [{"metadata": {"name": "istio-system"}}],
        "Pod": [], "StatefulSet": [], "DaemonSet": [],
    }
    for i in range(namespaces):
        ns = "app-%02d" % i
        objects["Namespace"].append({"metadata": {"name": ns, "labels": {"istio-injection": "enabled", "team": "web"}},
                                     "status": {"phase": "Active"}})
        web = dict(_deployment("web", template_labels={"app": "web"}), kind="Deployment",
                   metadata={"name": "web", "namespace": ns, "labels": {}})
        web["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 8080}, {"containerPort": 9090}]
        objects["Deployment"].append(web)
        for j in range(pods_per_namespace):
            objects["Pod"].append({"metadata": {"name": "web-%d" % j, "namespace": ns, "labels": {"app": "web"},
                                                "ownerReferences": [{"kind": "ReplicaSet", "name": "web-1"}]},
                                   "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}]},
                                   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}})
    return objects


def test_one_call_reads_the_whole_mesh_with_one_list_per_kind():
    api = FakeMeshApi(_mesh())
    result = gather_mesh(api, required_access=[{"verb": "create", "resource": "customresourcedefinitions",
                                                "group": "apiextensions.k8s.io"}])
    assert result["version"] == {"major": "1", "minor": "36", "gitVersion": "v1.36.3"}
    assert [c["name"] for c in result["crds"]] == ["destinationrules.networking.istio.io",
                                                   "peerauthentications.security.istio.io"], "only Istio groups"
    assert result["tags"] == {"default": "default"} and result["missing_access"] == []
    assert [(d["name"], d["revision"], d["component"]) for d in result["control_plane"]] == [
        ("istio-ingressgateway", "default", "ingressgateway"), ("istiod", "default", "istiod")]
    assert result["revisions"] == [{"revision": "default", "istiod": ["istiod"], "istiod_available": True,
                                    "gateways": ["istio-ingressgateway"], "tags": ["default"],
                                    "webhooks_healthy": True}]
    assert [w["name"] for w in result["webhooks"]] == ["istio-revision-tag-default", "istio-sidecar-injector",
                                                       "istio-validator-istio-system"]
    assert result["peer_authentications"][0]["spec"]["mtls"]["mode"] == "STRICT"
    assert "managedFields" not in result["peer_authentications"][0]["metadata"]
    app = next(n for n in result["namespaces"] if n["name"] == "app-00")
    assert app["injection_labels"] == {"istio-injection": "enabled"} and app["control_plane_revision"] == "default"
    assert app["labels"] == {"istio-injection": "enabled", "team": "web"}, "every label, for namespace selectors"
    assert "pods" not in result and "workloads" not in result, "pods and workloads only when asked for"
    lists = [c for c in api.calls if c[0] == "list"]
    assert len(lists) == len(set(c[2] for c in lists)) == 7, "each kind listed exactly once: %s" % lists
    assert result["api_calls"] == len(api.calls) == 9 and result["errors"] == []


def test_calls_do_not_grow_with_pods_or_namespaces():
    def calls(namespaces, scope):
        api = FakeMeshApi(_mesh(namespaces, pods_per_namespace=5))
        result = gather_mesh(api, gather=["namespaces", "workloads", "pods"], namespaces=scope(namespaces))
        assert len(result["pods"]) == namespaces * 5
        return result["api_calls"]

    workloads = gather_mesh(FakeMeshApi(_mesh(1)), gather=["workloads"])["workloads"]
    web = next(w for w in workloads if w["namespace"] == "app-00")
    assert (web["kind"], web["ports"], web["template_labels"], web["available_replicas"]) == (
        "Deployment", [8080, 9090], {"app": "web"}, 0)
    cluster_wide = lambda n: []  # noqa: E731
    assert calls(5, cluster_wide) == calls(30, cluster_wide) == 1 + 1 + 3 + 1
    named = lambda n: ["app-%02d" % i for i in range(n)]  # noqa: E731
    assert calls(5, named) == 1 + 1 + 5 * 4, "a few namespaces: one list per namespace and kind"
    assert calls(30, named) == calls(100, named) == 1 + 1 + 4, "many namespaces: one cluster-wide list per kind"


def test_mtls_gate_reads_pods_services_and_statefulsets_in_scope_trimmed():
    objects = _mesh(3)
    objects["Service"] = [{"metadata": {"name": "web", "namespace": "app-01", "uid": "s-1"},
                           "spec": {"selector": {"app": "web"}, "clusterIP": "None", "ports": [{"port": 80}]}}]
    api = FakeMeshApi(objects)
    gate = gather_mesh(api, gather=["mtls_gate"], namespaces=["app-01"])["mtls_gate"]
    assert [p["metadata"]["name"] for p in gate["pods"]] == ["web-0", "web-1"]
    assert gate["pods"][0] == {"metadata": {"namespace": "app-01", "name": "web-0", "labels": {"app": "web"}},
                               "spec": {"containers": [{"name": "app"}, {"name": "istio-proxy"}], "initContainers": []},
                               "status": {"phase": "Running"}}
    assert gate["services"] == [{"metadata": {"namespace": "app-01", "name": "web"},
                                 "spec": {"selector": {"app": "web"}, "clusterIP": "None", "ports": [{"port": 80}]}}]
    assert gate["statefulsets"] == []
    assert [c[2] for c in api.calls if c[0] == "list"] == ["Pod", "Service", "StatefulSet"], "one list per kind"
    everywhere = gather_mesh(FakeMeshApi(objects), gather=["mtls_gate"])["mtls_gate"]
    assert len(everywhere["pods"]) == 6


def test_named_namespaces_are_read_per_namespace_when_cluster_wide_lists_are_forbidden():
    api = FakeMeshApi(_mesh(12))
    api.deny.add(("Pod", None))
    scope = ["app-%02d" % i for i in range(12)]
    result = gather_mesh(api, gather=["pods"], namespaces=scope)
    assert result["errors"] == [] and len(result["pods"]) == 24
    assert len([c for c in api.calls if c[0] == "list"]) == 1 + 12


def test_a_forbidden_subset_is_an_error_entry_naming_the_permission():
    api = FakeMeshApi(_mesh())
    api.deny.update([("CustomResourceDefinition", None), ("Deployment", "istio-system")])
    result = gather_mesh(api)
    missing = sorted(e["missing_permission"] for e in result["errors"])
    assert missing == ["list customresourcedefinitions.apiextensions.k8s.io cluster-wide",
                       "list deployments.apps in namespace istio-system"]
    assert result["crds"] == [] and result["control_plane"] == []
    assert result["webhooks"] and result["namespaces"], "the other subsets are still read"
    assert result["peer_authentications"], "without the CRD list the policies are read at v1"


def test_policies_are_not_read_when_their_crds_are_missing():
    objects = _mesh()
    objects["CustomResourceDefinition"] = objects["CustomResourceDefinition"][:1]
    api = FakeMeshApi(objects)
    result = gather_mesh(api, gather=["policies"])
    assert result["absent_kinds"] == ["DestinationRule"] and result["destination_rules"] == []
    assert "crds" not in result
    assert [c[2] for c in api.calls if c[0] == "list"] == ["CustomResourceDefinition", "PeerAuthentication"]


def test_required_access_reviews_each_namespace_once_and_reports_what_is_missing():
    rules = [{"verbs": ["get", "list", "watch"], "apiGroups": ["*"], "resources": ["*"]}]
    api = FakeMeshApi(_mesh(), rules=rules)
    result = gather_mesh(api, gather=[], access_namespaces=["istio-system"], required_access=[
        {"verb": "list", "resource": "pods", "namespace": "istio-system"},
        {"verb": "create", "resource": "deployments", "group": "apps", "namespace": "istio-system"},
        {"verb": "create", "resource": "customresourcedefinitions", "group": "apiextensions.k8s.io"}])
    assert [c for c in api.calls if c[0] == "review"] == [("review", "istio-system"),
                                                          ("review", CLUSTER_REVIEW_NAMESPACE)]
    assert [(m["verb"], m["resource"]) for m in result["missing_access"]] == [
        ("create", "deployments"), ("create", "customresourcedefinitions")]
    assert [a["namespace"] for a in result["access"]] == ["istio-system", None]
    assert result["api_calls"] == 3


def test_bad_input_names_the_fix():
    with pytest.raises(MeshInfoError, match="gather has unknown subsets"):
        gather_mesh(FakeMeshApi(), gather=["pod"])
    with pytest.raises(MeshInfoError, match=r"required_access\[0\] needs verb and resource"):
        gather_mesh(FakeMeshApi(), required_access=[{"verb": "get"}])


def test_a_refused_review_is_an_error_entry_and_its_entries_are_missing():
    class Refusing(FakeMeshApi):
        def rules_review(self, namespace):
            raise ApiCallError(403, "selfsubjectrulesreviews is forbidden")

    result = gather_mesh(Refusing(_mesh()), gather=[], required_access=[
        {"verb": "list", "resource": "pods", "namespace": "shop"}])
    assert [e["missing_permission"] for e in result["errors"]] == [
        "create selfsubjectrulesreviews.authorization.k8s.io in namespace shop"]
    assert result["missing_access"][0]["reason"] == "the permissions could not be reviewed"
    assert result["access"][0]["incomplete"] is None


class SelectorMeshApi(FakeMeshApi):
    """Reads equality selectors (k=v[,k=v]) the way the API server does."""

    def list(self, api_version, kind, namespace=None, label_selector=None):
        if not label_selector or "=" not in label_selector:
            return FakeMeshApi.list(self, api_version, kind, namespace, label_selector)
        items = FakeMeshApi.list(self, api_version, kind, namespace)
        wanted = dict(part.split("=", 1) for part in label_selector.split(","))
        return [o for o in items if all((o["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())]


def _batch(kind, namespace, name, inject=None):
    template = {"metadata": {"labels": {"sidecar.istio.io/inject": inject} if inject else {}}}
    spec = {"jobTemplate": {"spec": {"template": template}}} if kind == "CronJob" else {"template": template}
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def test_selector_adds_its_namespaces_to_the_scope_and_batch_objects_are_read_once_per_kind():
    objects = _mesh(namespaces=3)
    objects["Namespace"][1]["metadata"]["labels"]["team"] = "shop"  # app-00
    objects["Job"] = [_batch("Job", "app-00", "migrate"), _batch("Job", "app-01", "opted-out", "false"),
                      _batch("Job", "app-02", "elsewhere")]
    objects["CronJob"] = [_batch("CronJob", "app-01", "nightly")]
    api = SelectorMeshApi(objects)
    result = gather_mesh(api, gather=["batch"], namespaces=["app-01"], namespace_selector="team=shop")
    assert result["selected_namespaces"] == ["app-00"] and result["scope"] == ["app-00", "app-01"]
    assert [(b["kind"], b["name"], b["inject"]) for b in result["batch"]] == [
        ("Job", "migrate", None), ("CronJob", "nightly", None), ("Job", "opted-out", "false")]
    assert result["batch_without_opt_out"] == ["Job app-00/migrate", "CronJob app-01/nightly"]
    lists = [c for c in api.calls if c[0] == "list"]
    assert len(lists) == 5, "selector once, then Jobs and CronJobs per namespace in scope: %s" % lists


def test_batch_reads_stay_constant_with_many_namespaces_and_an_empty_selector_match_reads_nothing():
    def lists(namespaces):
        api = SelectorMeshApi(_mesh(namespaces))
        names = ["app-%02d" % i for i in range(namespaces)]
        gather_mesh(api, gather=["batch", "namespaces"], namespaces=names)
        return len([c for c in api.calls if c[0] == "list"])

    assert lists(20) == lists(100) == 3, "namespaces, then one cluster-wide list per batch kind"
    api = SelectorMeshApi(_mesh(3))
    result = gather_mesh(api, gather=["batch", "workloads", "pods"], namespace_selector="team=nobody")
    assert result["scope"] == [] and result["batch"] == [] and result["workloads"] == [] and result["pods"] == []
    assert [c[2] for c in api.calls if c[0] == "list"] == ["Namespace"], "a selector matching nothing reads nothing"


def test_mesh_config_reads_root_namespace_and_trust_domain_with_istiods_defaults():
    config = {"metadata": {"name": "istio", "namespace": "istio-system"},
              "data": {"mesh": "rootNamespace: mesh-root\ntrustDomain: example.org\n"}}
    api = FakeMeshApi({"ConfigMap": [config, {"metadata": {"name": "other", "namespace": "istio-system"}}]})
    result = gather_mesh(api, gather=["mesh_config"])["mesh_config"]
    assert (result["found"], result["root_namespace"], result["trust_domain"]) == (True, "mesh-root", "example.org")
    empty = gather_mesh(FakeMeshApi({"ConfigMap": []}), gather=["mesh_config"])["mesh_config"]
    assert (empty["found"], empty["root_namespace"], empty["trust_domain"], empty["config"]) == (
        False, "istio-system", "cluster.local", {})
    assert [c for c in api.calls if c[0] == "list"] == [("list", "v1", "ConfigMap", "istio-system", None)]


def test_a_kind_whose_crd_was_just_deleted_lists_as_empty_not_as_an_error():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import MeshReader

    class Gone(FakeMeshApi):
        def list(self, api_version, kind, namespace=None, label_selector=None):
            if kind == "Telemetry":  # discovery still names it, the server answers 404
                raise ApiCallError(404, "the server could not find the requested resource")
            return super(Gone, self).list(api_version, kind, namespace, label_selector)

    reader = MeshReader(Gone())
    assert reader.list("teardown", "Telemetry", api_version="telemetry.istio.io/v1") == []
    assert reader.errors == []


def test_further_lists_are_one_call_each_typed_in_order_and_a_denied_one_is_an_error():
    api = FakeMeshApi(_mesh(2))
    api.deny.add(("Service", "istio-system"))
    result = gather_mesh(api, gather=[], lists=[
        {"api_version": "apps/v1", "kind": "Deployment", "namespace": "istio-system", "label_selectors": ["istio.io/rev"]},
        {"api_version": "v1", "kind": "Service", "namespace": "istio-system"}])
    deployments, services = result["lists"]
    assert [(o["kind"], o["apiVersion"], o["metadata"]["name"]) for o in deployments["resources"]] == [
        ("Deployment", "apps/v1", "istio-ingressgateway"), ("Deployment", "apps/v1", "istiod")]
    assert services["resources"] == [] and [e["missing_permission"] for e in result["errors"]] == [
        "list services in namespace istio-system"]
    assert [c[1:] for c in api.calls if c[0] == "list"] == [
        ("apps/v1", "Deployment", "istio-system", "istio.io/rev"), ("v1", "Service", "istio-system", None)]


def test_missing_access_from_earlier_reviews_or_none_when_they_do_not_cover_it():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import missing_access_from_reviews

    access = [{"namespace": None, "resource_rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}],
               "incomplete": False, "evaluation_error": None},
              {"namespace": "shop", "resource_rules": [], "incomplete": None, "evaluation_error": None}]
    assert missing_access_from_reviews([{"verb": "list", "resource": "pods"}], access) == []
    assert missing_access_from_reviews([{"verb": "patch", "resource": "pods"}], access) == [
        {"verb": "patch", "resource": "pods", "group": "", "reason": "not granted"}]
    assert missing_access_from_reviews([{"verb": "list", "resource": "pods", "namespace": "shop"}], access) is None, \
        "a failed review answers nothing"
    assert missing_access_from_reviews([{"verb": "list", "resource": "pods", "namespace": "pay"}], access) is None
