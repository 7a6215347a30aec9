"""Istio lifecycle on the sandbox with a real istiod: bad input, check mode, install, injection,
validation, teardown and restore. The tests run in file order and share the cluster."""
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import without_ticket_annotations
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import backup_differences, clean_for_backup
from tests.helpers.audit import now
from tests.helpers.cluster import wait_for
from tests.helpers.playbook import run_playbook

ISTIO_KINDS = [("networking.istio.io", "v1", "virtualservices"), ("networking.istio.io", "v1", "destinationrules"),
               ("security.istio.io", "v1", "peerauthentications"), ("security.istio.io", "v1", "authorizationpolicies")]


def purge(**extra):
    run = run_playbook("playbooks/teardown.yml", {"teardown_remove_crds": True, **extra})
    assert run.rc == 0, run.stdout[-3000:]
    return run


def istio_webhooks(api):
    adm = client.AdmissionregistrationV1Api(api)
    return ([w.metadata.name for w in adm.list_mutating_webhook_configuration().items if "istio" in w.metadata.name]
            + [w.metadata.name for w in adm.list_validating_webhook_configuration().items
               if "istio" in w.metadata.name])


def istio_crds(api):
    return [c.metadata.name for c in client.ApiextensionsV1Api(api).list_custom_resource_definition().items
            if c.metadata.name.endswith(".istio.io")]


@pytest.fixture(scope="module")
def clean_cluster(sandbox):
    purge(teardown_backup=False)


@pytest.mark.parametrize("extra, expected", [
    ({"istio_install_profile": "demoo"}, "value of istio_install_profile must be one of"),
    ({"istio_install_revision": "Canary.1"}, "is not valid: use a lowercase DNS label"),
    ({"istio_install_version": "1.30.2"}, "Point istio_install_istioctl_path at istioctl 1.30.2"),
    ({"istio_install_version": "9.9.9"}, "is not supported; supported minors"),
    ({"mesh_cluster_kubeconfig": "/nonexistent/kubeconfig"}, "mesh_cluster_kubeconfig /nonexistent/kubeconfig cannot be read"),
    ({"istio_install_istioctl_path": "/nonexistent/istioctl"}, "istioctl not found at /nonexistent/istioctl"),
])
def test_bad_input_fails_before_any_change(clean_cluster, audit, extra, expected):
    since = now()
    run = run_playbook("playbooks/install.yml", extra)
    assert run.rc != 0
    assert expected in " ".join(run.stdout.split()), run.stdout[-3000:]
    assert audit.writes(since) == []


def test_unreachable_cluster_fails_before_any_change(clean_cluster, audit, tmp_path, sandbox):
    kubeconfig = yaml.safe_load(sandbox.paths.kubeconfig.read_text())
    kubeconfig["clusters"][0]["cluster"]["server"] = "https://127.0.0.1:1"
    bad = tmp_path / "kubeconfig"
    bad.write_text(yaml.safe_dump(kubeconfig))
    since = now()
    run = run_playbook("playbooks/install.yml", {"mesh_cluster_kubeconfig": str(bad)})
    assert run.rc != 0
    assert "Cannot reach the Kubernetes API for sandbox" in " ".join(run.stdout.split())
    assert audit.writes(since) == []


def test_check_mode_writes_nothing_to_a_clean_cluster(clean_cluster, api_client, audit):
    since = now()
    run = run_playbook("playbooks/install.yml", check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert run.changed > 0, "a dry run on a clean cluster must report what it would create"
    assert audit.writes(since) == []
    assert istio_crds(api_client) == [] and istio_webhooks(api_client) == []


def test_install_verifies_and_a_second_run_changes_nothing(clean_cluster, api_client, sandbox):
    first = run_playbook("playbooks/install.yml")
    assert first.rc == 0, first.stdout[-3000:]
    assert "verified: 3 Deployments Available" in " ".join(first.stdout.split())
    report = yaml.safe_load((sandbox.paths.state.parent / "artifacts/sandbox/istio_install/verification-default.json")
                            .read_text())
    assert report["passed"] and report["problems"] == []
    second = run_playbook("playbooks/install.yml")
    assert second.rc == 0 and second.changed == 0, second.stdout[-3000:]


def test_check_mode_on_the_installed_mesh_writes_nothing_and_reports_no_change(api_client, audit):
    since = now()
    run = run_playbook("playbooks/install.yml", check=True, diff=True)
    assert run.rc == 0 and run.changed == 0, run.stdout[-3000:]
    assert audit.writes(since) == []


def test_real_istiod_injects_the_sidecar(api_client, namespace):
    core = client.CoreV1Api(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"istio-injection": "enabled"}}})
    pod = core.create_namespaced_pod(namespace, {"metadata": {"name": "app"}, "spec": {"containers": [
        {"name": "app", "image": "registry.local/app:1"}]}})
    names = [c.name for c in pod.spec.containers] + [c.name for c in pod.spec.init_containers or []]
    assert "istio-proxy" in names
    assert pod.metadata.annotations.get("sidecar.istio.io/status")


def test_real_validation_webhook_rejects_an_invalid_virtual_service(api_client, namespace):
    custom = client.CustomObjectsApi(api_client)
    bad = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": {"name": "bad"},
           "spec": {"hosts": ["reviews"], "http": [{"route": [{"destination": {"host": "reviews"}, "weight": -5}]}]}}
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object("networking.istio.io", "v1", namespace, "virtualservices", bad)
    assert "validation.istio.io" in err.value.body and "weight -5" in err.value.body


MESH_CONFIG = [
    {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
     "metadata": {"name": "reviews", "labels": {"team": "a"}, "annotations": {"owner": "payments"}},
     "spec": {"hosts": ["reviews"], "http": [{"route": [
         {"destination": {"host": "reviews", "subset": "v1"}, "weight": 90},
         {"destination": {"host": "reviews", "subset": "v2"}, "weight": 10}]}]}},
    {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "reviews"},
     "spec": {"host": "reviews", "subsets": [{"name": "v1", "labels": {"version": "v1"}},
                                             {"name": "v2", "labels": {"version": "v2"}}]}},
    {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": {"name": "default"},
     "spec": {"mtls": {"mode": "STRICT"}}},
    {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": {"name": "deny-all"},
     "spec": {}},
]


def live_istio_objects(api, namespace):
    custom = client.CustomObjectsApi(api)
    found = []
    for group, version, plural in ISTIO_KINDS:
        found += custom.list_namespaced_custom_object(group, version, namespace, plural)["items"]
    return found


GATEWAY_LABEL = "istio-runbooks.io/gateway"


def gateway_objects(api, namespace):
    """The objects mesh_gateways labels in the namespace, besides its Istio resources."""
    core, apps, rbac = client.CoreV1Api(api), client.AppsV1Api(api), client.RbacAuthorizationV1Api(api)
    found = []
    for kind, api_version, listing in (
            ("ServiceAccount", "v1", core.list_namespaced_service_account),
            ("Service", "v1", core.list_namespaced_service),
            ("Deployment", "apps/v1", apps.list_namespaced_deployment),
            ("Role", "rbac.authorization.k8s.io/v1", rbac.list_namespaced_role),
            ("RoleBinding", "rbac.authorization.k8s.io/v1", rbac.list_namespaced_role_binding)):
        for item in listing(namespace, label_selector=GATEWAY_LABEL).items:
            found.append(dict(api.sanitize_for_serialization(item), kind=kind, apiVersion=api_version))
    return found


def test_teardown_leaves_nothing_and_restore_brings_everything_back(api_client, namespace):
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"istio-injection": "enabled"}}})
    for obj in MESH_CONFIG:
        group, version = obj["apiVersion"].split("/")
        plural = {"VirtualService": "virtualservices", "DestinationRule": "destinationrules",
                  "PeerAuthentication": "peerauthentications", "AuthorizationPolicy": "authorizationpolicies"}[obj["kind"]]
        custom.create_namespaced_custom_object(group, version, namespace, plural, obj)
    before = clean_for_backup(live_istio_objects(api_client, namespace))
    assert len(before) == 4

    apps = client.AppsV1Api(api_client)
    apps.create_namespaced_deployment(namespace, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                                                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                                                           "template": {"metadata": {"labels": {"app": "web"}},
                                                                        "spec": {"containers": [{"name": "app", "image": "x"}]}}}})

    def injected():
        pods = [p for p in core.list_namespaced_pod(namespace, label_selector="app=web").items if not p.metadata.deletion_timestamp]
        return pods and all("istio-proxy" in [c.name for c in p.spec.containers] for p in pods)
    wait_for(injected)
    # an ingress gateway of mesh_gateways: a purge deletes it, so the backup must hold it
    gateway = run_playbook("playbooks/gateways.yml", {
        "mesh_gateways_gateways": [{"name": "lifecycle-ingress", "namespace": namespace, "type": "ingress"}],
        "mesh_gateways_listeners": [], "mesh_gateways_remove_stale": False})
    assert gateway.rc == 0, gateway.stdout[-3000:]
    gateways_before = [without_ticket_annotations(o) for o in clean_for_backup(gateway_objects(api_client, namespace))]
    assert {o["kind"] for o in gateways_before} == {"ServiceAccount", "Service", "Deployment", "Role", "RoleBinding"}

    teardown = purge(teardown_restart_workloads=True)
    assert "Removed" in teardown.stdout

    def stripped():
        pods = [p for p in core.list_namespaced_pod(namespace, label_selector="app=web").items if not p.metadata.deletion_timestamp]
        return pods and all("istio-proxy" not in [c.name for c in p.spec.containers] for p in pods)
    wait_for(stripped)
    assert istio_webhooks(api_client) == [] and istio_crds(api_client) == []
    assert [n.metadata.name for n in core.list_namespace(label_selector="istio-injection").items] == []
    assert "istio-system" not in [n.metadata.name for n in core.list_namespace().items]
    assert core.list_config_map_for_all_namespaces(label_selector="istio.io/config=true").items == []
    assert gateway_objects(api_client, namespace) == []
    again = purge()
    assert again.changed == 0, again.stdout[-3000:]

    assert run_playbook("playbooks/install.yml").rc == 0
    # the reinstall made a new CA: restoring the old one over it must be asked for
    restore = run_playbook("playbooks/restore.yml", {"istio_backup_replace_secrets": True})
    assert restore.rc == 0, restore.stdout[-3000:]
    # restored exactly; the change annotations name the run that restored them
    after = [without_ticket_annotations(o) for o in live_istio_objects(api_client, namespace)]
    before = [without_ticket_annotations(o) for o in before]
    assert backup_differences(before, after) == []
    assert clean_for_backup(after) == before
    gateways_after = [without_ticket_annotations(o) for o in clean_for_backup(gateway_objects(api_client, namespace))]
    assert backup_differences(gateways_before, gateways_after) == []
    labels = core.read_namespace(namespace).metadata.labels
    assert labels.get("istio-injection") == "enabled"
    assert run_playbook("playbooks/restore.yml", {"istio_backup_replace_secrets": True}).changed == 0


def test_restore_refuses_a_corrupted_backup(api_client, audit, tmp_path):
    backup = tmp_path / "backup-broken"
    backup.mkdir()
    (backup / "istio-resources.yaml").write_text("kind: [unclosed\n  - : :")
    (backup / "namespace-labels.yaml").write_text("[]\n")
    since = now()
    run = run_playbook("playbooks/restore.yml", {"istio_backup_restore_from": str(backup)})
    assert run.rc != 0 and "is corrupted" in run.stdout
    assert audit.writes(since) == []
