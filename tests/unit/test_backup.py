"""Backup logic: which kinds and Secrets are saved, and what a restore writes and verifies."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.teardown import required_access
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.backup import (
    istio_kinds,
    kinds_of,
    missing_namespaces,
    namespace_label_differences,
    namespace_label_patches,
    secret_differences,
    secret_names,
    secret_writes,
    secrets_for_backup,
)


def crd(group, kind, versions, labels=None):
    return {"metadata": {"name": "%ss.%s" % (kind.lower(), group), "labels": labels or {}},
            "spec": {"group": group, "names": {"kind": kind, "plural": kind.lower() + "s"},
                     "versions": [{"name": n, "served": served, "storage": storage} for n, served, storage in versions]}}


def test_istio_kinds_come_from_the_live_crds_not_a_fixed_list():
    crds = [
        crd("extensions.istio.io", "TrafficExtension", [("v1alpha1", True, True)]),
        crd("networking.istio.io", "VirtualService", [("v1alpha3", True, False), ("v1beta1", True, False),
                                                      ("v1", True, True)]),
        crd("gateway.networking.k8s.io", "Gateway", [("v1", True, True)]),  # not Istio's
        crd("example.com", "Widget", [("v1", True, True)], labels={"app.kubernetes.io/part-of": "istio"}),
        crd("other.io", "Thing", [("v1", True, True)], labels={"app.kubernetes.io/part-of": "other"}),
    ]
    assert istio_kinds(crds) == [
        {"api_version": "example.com/v1", "kind": "Widget"},
        {"api_version": "extensions.istio.io/v1alpha1", "kind": "TrafficExtension"},
        {"api_version": "networking.istio.io/v1", "kind": "VirtualService"},
    ]


def test_istio_kinds_use_a_served_version_when_the_stored_one_is_not_served():
    crds = [crd("telemetry.istio.io", "Telemetry", [("v1alpha1", False, True), ("v1", True, False)]),
            crd("security.istio.io", "Gone", [("v1", False, True)])]
    assert istio_kinds(crds) == [{"api_version": "telemetry.istio.io/v1", "kind": "Telemetry"}]


def test_kinds_of_lists_each_kind_once():
    objects = [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService"},
               {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService"},
               {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication"}]
    assert kinds_of(objects) == [{"api_version": "networking.istio.io/v1", "kind": "VirtualService"},
                                 {"api_version": "security.istio.io/v1", "kind": "PeerAuthentication"}]


def secret(name, data, namespace="istio-system", stype="Opaque", **meta):
    return {"apiVersion": "v1", "kind": "Secret", "type": stype, "data": data,
            "metadata": dict({"name": name, "namespace": namespace}, **meta)}


def test_secrets_for_backup_keep_the_ca_and_tls_secrets_and_drop_tokens_and_helm_records():
    live = [secret("cacerts", {"ca-key.pem": "a2V5"}, uid="1", resourceVersion="9"),
            secret("istio-ca-secret", {"ca-cert.pem": "Y2VydA=="}, stype="istio.io/ca-root"),
            secret("gw-cert", {"tls.crt": "eA==", "tls.key": "eQ=="}, stype="kubernetes.io/tls"),
            secret("istiod-token", {"token": "dA=="}, stype="kubernetes.io/service-account-token"),
            secret("sh.helm.release.v1.istiod.v1", {"release": "cg=="}, stype="helm.sh/release.v1")]
    kept = secrets_for_backup(live)
    assert secret_names(kept) == ["istio-system/cacerts", "istio-system/gw-cert", "istio-system/istio-ca-secret"]
    assert "uid" not in kept[0]["metadata"] and "resourceVersion" not in kept[0]["metadata"]


def test_secret_writes_skip_matching_secrets_and_name_the_overwritten_ones():
    backup = [secret("cacerts", {"ca-key.pem": "b2xk"}), secret("istio-ca-secret", {"k": "b2xk"}),
              secret("gw-cert", {"tls.key": "eQ=="}, stype="kubernetes.io/tls")]
    live = [secret("istio-ca-secret", {"k": "bmV3"}, uid="2"),
            secret("gw-cert", {"tls.key": "eQ=="}, stype="kubernetes.io/tls", uid="3")]
    plan = secret_writes(backup, live)
    assert secret_names(plan["write"]) == ["istio-system/cacerts", "istio-system/istio-ca-secret"]
    assert plan["replaced"] == ["istio-system/istio-ca-secret"]
    assert secret_writes(backup, backup) == {"write": [], "replaced": []}


def test_secret_differences_name_the_secret_and_never_its_value():
    backup = [secret("cacerts", {"ca-key.pem": "c2VjcmV0LXZhbHVl"}), secret("gone", {"a": "Yg=="})]
    live = [secret("cacerts", {"ca-key.pem": "b3RoZXI="})]
    problems = secret_differences(backup, live)
    assert problems == ["Secret istio-system/cacerts differs", "missing Secret istio-system/gone"]
    assert "c2VjcmV0LXZhbHVl" not in str(problems) and "b3RoZXI=" not in str(problems)
    assert secret_differences(backup[:1], backup[:1]) == []


def ns(name, **labels):
    return {"metadata": {"name": name, "labels": dict({"kubernetes.io/metadata.name": name}, **labels)}}


def test_namespace_label_patches_restore_the_injection_labels_exactly():
    backup = [{"name": "shop", "labels": {"istio-injection": "enabled"}},
              {"name": "pay", "labels": {"istio.io/rev": "1-30-0"}},
              {"name": "same", "labels": {"istio-injection": "enabled"}}]
    live = [ns("shop", **{"istio.io/rev": "canary"}), ns("pay"), ns("same", **{"istio-injection": "enabled"})]
    assert namespace_label_patches(backup, live) == [
        {"name": "shop", "labels": {"istio.io/rev": None, "istio-injection": "enabled"}},
        {"name": "pay", "labels": {"istio.io/rev": "1-30-0"}},
    ]


def test_namespace_label_differences_catch_missing_wrong_and_extra_injection_labels():
    backup = [{"name": "shop", "labels": {"istio-injection": "enabled"}},
              {"name": "pay", "labels": {"istio.io/rev": "1-30-0"}},
              {"name": "gone", "labels": {"istio-injection": "enabled"}},
              {"name": "ok", "labels": {"istio-injection": "enabled"}}]
    live = [ns("shop", **{"istio-injection": "enabled", "istio.io/rev": "canary"}), ns("pay"),
            ns("ok", **{"istio-injection": "enabled", "team": "a"})]
    problems = namespace_label_differences(backup, live)
    assert len(problems) == 3
    assert problems[0].startswith("namespace shop has injection labels")
    assert problems[1].startswith("namespace pay has injection labels {}")
    assert problems[2] == "namespace gone is missing"


KINDS = [
    {"api_version": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
     "resource": "mutatingwebhookconfigurations"},
    {"api_version": "apps/v1", "kind": "Deployment", "resource": "deployments", "namespaced": True},
    {"api_version": "v1", "kind": "ConfigMap", "resource": "configmaps", "namespaced": True},
    {"api_version": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "resource": "clusterroles"},
]


def test_teardown_access_covers_every_delete_of_a_purge():
    access = required_access(KINDS, "purge", "istio-system", remove_crds=True, remove_namespace=True)
    assert {"verb": "delete", "group": "apiextensions.k8s.io", "resource": "customresourcedefinitions"} in access
    assert {"verb": "delete", "group": "", "resource": "namespaces"} in access
    assert {"verb": "delete", "group": "rbac.authorization.k8s.io", "resource": "clusterroles"} in access
    assert {"verb": "delete", "group": "apps", "resource": "deployments", "namespace": "istio-system"} in access
    # root-certificate ConfigMaps are deleted in every namespace
    assert {"verb": "delete", "group": "", "resource": "configmaps"} in access
    assert {"verb": "list", "group": "", "resource": "secrets", "namespace": "istio-system"} in access
    assert {"verb": "patch", "group": "", "resource": "namespaces"} in access


def test_teardown_access_asks_only_for_what_the_options_use():
    access = required_access(KINDS, "revision", "istio-system", remove_crds=True, remove_namespace=True,
                             remove_labels=False, backup=False)
    resources = [(a["verb"], a["resource"]) for a in access]
    assert ("delete", "customresourcedefinitions") not in resources  # CRDs go only in a purge
    assert ("delete", "namespaces") not in resources
    assert ("patch", "namespaces") not in resources and ("list", "secrets") not in resources
    assert {"verb": "delete", "group": "", "resource": "configmaps", "namespace": "istio-system"} in access
    restart = required_access(KINDS, restart_workloads=True)
    assert {"verb": "patch", "group": "apps", "resource": "statefulsets"} in restart


def test_missing_namespaces_are_those_the_backup_needs_and_the_cluster_lacks():
    objects = [{"kind": "VirtualService", "metadata": {"name": "a", "namespace": "shop"}},
               {"kind": "Thing", "metadata": {"name": "cluster-wide"}}]
    secrets = [secret("cacerts", {})]
    labels = [{"name": "pay", "labels": {"istio-injection": "enabled"}}]
    assert missing_namespaces(objects, secrets, labels, [ns("shop")]) == [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "istio-system"}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "pay"}}]


def test_restore_plan_replaces_what_differs_exactly_and_leaves_identical_objects_alone():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import restore_plan

    def pa(name, spec, rv="1", **meta):
        return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                "metadata": dict({"name": name, "namespace": "app", "resourceVersion": rv}, **meta), "spec": spec}
    backup = [pa("default", {"mtls": {"mode": "PERMISSIVE"}}), pa("same", {"mtls": {"mode": "STRICT"}}),
              pa("gone", {"mtls": {"mode": "STRICT"}})]
    live = [pa("default", {"mtls": {"mode": "PERMISSIVE"}, "selector": {"matchLabels": {"app": "api"}}}, rv="7"),
            pa("same", {"mtls": {"mode": "STRICT"}}, rv="9", uid="u", managedFields=[{}])]
    plan = restore_plan(backup, live)
    assert [o["metadata"]["name"] for o in plan["create"]] == ["gone"]
    assert "resourceVersion" not in plan["create"][0]["metadata"]
    # the extra selector is gone from what is sent, and the live version makes the replace exact and safe
    assert plan["replace"] == [{"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
                                "metadata": {"name": "default", "namespace": "app", "resourceVersion": "7"},
                                "spec": {"mtls": {"mode": "PERMISSIVE"}}}]


def test_missing_crd_kinds_compare_group_and_kind():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.backup import missing_crd_kinds
    objects = [{"apiVersion": "networking.istio.io/v1", "kind": "Gateway"},
               {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication"}]
    crds = [{"spec": {"group": "gateway.networking.k8s.io", "names": {"kind": "Gateway"}}},
            {"spec": {"group": "security.istio.io", "names": {"kind": "PeerAuthentication"}}}]
    assert missing_crd_kinds(objects, crds) == ["networking.istio.io/Gateway"]


def test_missing_crd_kinds_leave_out_the_kinds_the_api_server_serves_itself():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.backup import missing_crd_kinds
    objects = [{"apiVersion": "apps/v1", "kind": "Deployment"}, {"apiVersion": "v1", "kind": "Service"},
               {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role"},
               {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"}]
    assert missing_crd_kinds(objects, []) == ["gateway.networking.k8s.io/HTTPRoute"]


def test_a_backed_up_deployment_leaves_out_the_controllers_revision_counter():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup
    live = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {
        "name": "gw", "namespace": "ns", "uid": "1", "annotations": {"deployment.kubernetes.io/revision": "3"}},
        "spec": {"replicas": 1}, "status": {"replicas": 1}}
    assert clean_for_backup([live]) == [{"apiVersion": "apps/v1", "kind": "Deployment",
                                         "metadata": {"name": "gw", "namespace": "ns"}, "spec": {"replicas": 1}}]
