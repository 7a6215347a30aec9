"""mesh_info against the installed control plane: what it reports, that its calls do not grow with the cluster,
that it writes nothing, and that a subset the caller may not read is an error entry, not a crash."""
import json
import tempfile
import uuid

import pytest
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import create_fleet, delete_namespaces, token_kubeconfig
from tests.helpers.playbook import run_playbook

INSTALLER_ACCESS = [
    {"verb": "create", "group": "apiextensions.k8s.io", "resource": "customresourcedefinitions"},
    {"verb": "create", "group": "admissionregistration.k8s.io", "resource": "mutatingwebhookconfigurations"},
    {"verb": "create", "group": "apps", "resource": "deployments", "namespace": "istio-system"},
]


def mesh_info(args, check=False):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = run_playbook("tests/sandbox/playbooks/mesh_info.yml", {"mesh_args": args, "result_file": out.name},
                           check=check, timeout=180)
        text = open(out.name).read()
        return run, (json.loads(text) if text else None)


def lists_by(audit, since, user="sandbox-admin"):
    return [e for e in audit.events(since) if e.get("user", {}).get("username") == user
            and e.get("verb") == "list" and e.get("stage") == "ResponseComplete"]


@pytest.mark.parametrize("check", [False, True], ids=["run", "check_mode"])
def test_reports_the_installed_control_plane_and_writes_nothing(installed_mesh, api_client, namespace, audit, check):
    client.CoreV1Api(api_client).patch_namespace(namespace, {"metadata": {"labels": {"istio.io/rev": "default"}}})
    since = now()
    run, mesh = mesh_info({"required_access": INSTALLER_ACCESS, "access_namespaces": ["istio-system"]}, check=check)
    assert run.rc == 0, run.stdout[-3000:]
    assert mesh["changed"] is False and mesh["errors"] == [] and mesh["missing_access"] == []
    assert mesh["version"]["major"] == "1" and mesh["version"]["gitVersion"].startswith("v1.")
    revision = next(r for r in mesh["revisions"] if r["revision"] == "default")
    assert revision["istiod"] == ["istiod"] and revision["istiod_available"] and revision["webhooks_healthy"]
    assert "default" in revision["tags"] and mesh["tags"]["default"] == "default"
    istiod = next(d for d in mesh["control_plane"] if d["name"] == "istiod")
    assert istiod["available"] and istiod["images"] and istiod["available_replicas"] >= 1
    established = [c for c in mesh["crds"] if c["established"]]
    assert len(established) >= 15, mesh["crds"]
    assert all(c["served_versions"] for c in established)
    hooks = [h for w in mesh["webhooks"] for h in w["webhooks"]]
    assert hooks and all(h["ca_bundle"] for h in hooks), mesh["webhooks"]
    assert all(h["url"] or h["service"] for h in hooks)
    kinds = set(w["kind"] for w in mesh["webhooks"])
    assert kinds == {"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}
    labelled = next(n for n in mesh["namespaces"] if n["name"] == namespace)
    assert labelled["injection_labels"] == {"istio.io/rev": "default"} and labelled["state"] == "revision"
    assert labelled["control_plane_revision"] == "default" and labelled["labels"]["istio-runbooks.io/test"] == "true"
    assert [a["namespace"] for a in mesh["access"]] == ["istio-system", None]
    assert audit.writes(since) == [], "only permission reviews, which the API server does not store"
    reviews = [e for e in audit.events(since) if e.get("objectRef", {}).get("resource") == "selfsubjectrulesreviews"
               and e.get("stage") == "ResponseComplete"]
    assert len(reviews) == 2, "one review per namespace it needs (istio-system and the cluster-wide one)"


@pytest.fixture
def fleets(api_client):
    prefix = "mi-%s" % uuid.uuid4().hex[:5]
    small = create_fleet(api_client, prefix + "-a", namespaces=5, per_namespace=2)
    created = list(small)
    try:
        def grow():
            created.extend(create_fleet(api_client, prefix + "-b", namespaces=25, per_namespace=2))
            return created
        yield small, grow
    finally:
        delete_namespaces(api_client, created)


def test_api_calls_do_not_grow_with_pods_or_namespaces(installed_mesh, api_client, audit, fleets):
    small, grow = fleets
    gather = {"gather": ["namespaces", "workloads", "pods"]}

    def read(args):
        since = now()
        run, mesh = mesh_info(dict(gather, **args))
        assert run.rc == 0 and mesh["errors"] == [], run.stdout[-3000:]
        return mesh, len(lists_by(audit, since))

    def in_fleets(entries, names):
        return [e for e in entries if e.get("namespace", e.get("name")) in names]

    few, few_lists = read({})
    assert len(in_fleets(few["pods"], small)) == 10 and len(in_fleets(few["namespaces"], small)) == 5
    fleet = grow()
    many, many_lists = read({})
    assert len(in_fleets(many["pods"], fleet)) == 60 and len(in_fleets(many["namespaces"], fleet)) == 30
    assert len(in_fleets(many["workloads"], fleet)) == 60
    assert many["api_calls"] == few["api_calls"] and many_lists == few_lists, (few_lists, many_lists)
    named, named_lists = read({"namespaces": fleet})
    assert len(named["pods"]) == 60 and set(p["namespace"] for p in named["pods"]) == set(fleet)
    assert named["api_calls"] == many["api_calls"] and named_lists == many_lists, \
        "30 named namespaces: one cluster-wide list per kind, not one per namespace"


@pytest.fixture
def reader_without_rights(api_client, sandbox, namespace, tmp_path):
    """A ServiceAccount that may list namespaces and webhook configurations, and nothing else of the mesh."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    name = "mesh-reader-%s" % uuid.uuid4().hex[:5]
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "reader"}})
    rbac.create_cluster_role({"metadata": {"name": name}, "rules": [
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]},
        {"apiGroups": ["admissionregistration.k8s.io"],
         "resources": ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"], "verbs": ["list"]}]})
    rbac.create_cluster_role_binding({
        "metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]})
    yield token_kubeconfig(api_client, sandbox.paths.kubeconfig, "reader", namespace, tmp_path / "reader.kubeconfig")
    rbac.delete_cluster_role_binding(name)
    rbac.delete_cluster_role(name)


def test_subsets_the_caller_may_not_read_are_error_entries(installed_mesh, reader_without_rights):
    run, mesh = mesh_info({"kubeconfig": reader_without_rights, "context": "sandbox",
                           "required_access": INSTALLER_ACCESS})
    assert run.rc == 0, run.stdout[-3000:]
    missing = sorted(e.get("missing_permission") for e in mesh["errors"])
    assert missing == ["list customresourcedefinitions.apiextensions.k8s.io cluster-wide",
                       "list deployments.apps in namespace istio-system",
                       "list destinationrules.networking.istio.io cluster-wide",
                       "list peerauthentications.security.istio.io cluster-wide"], mesh["errors"]
    assert all(e["status"] == 403 for e in mesh["errors"])
    assert mesh["webhooks"] and mesh["namespaces"] and mesh["tags"]["default"] == "default", "readable subsets"
    assert [(m["verb"], m["resource"]) for m in mesh["missing_access"]] == [
        (e["verb"], e["resource"]) for e in INSTALLER_ACCESS]
