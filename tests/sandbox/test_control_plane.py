"""The sandbox is a real control plane: rollouts, CRD validation, RBAC and the audit log."""
import datetime

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers.audit import now
from tests.helpers.cluster import deployment, wait_for


def available(apps, ns, name):
    dep = apps.read_namespaced_deployment(name, ns)
    status = dep.status
    return (status.observed_generation == dep.metadata.generation and status.updated_replicas == dep.spec.replicas
            and status.available_replicas == dep.spec.replicas and not status.unavailable_replicas)


def test_deployment_becomes_available_and_restart_rolls_a_new_replicaset(api_client, namespace):
    apps, core = client.AppsV1Api(api_client), client.CoreV1Api(api_client)
    apps.create_namespaced_deployment(namespace, deployment("web", replicas=2))
    wait_for(lambda: available(apps, namespace, "web"))
    pods = core.list_namespaced_pod(namespace).items
    assert len(pods) == 2 and all(p.status.phase == "Running" and p.status.pod_ip for p in pods)
    before = {rs.metadata.name for rs in apps.list_namespaced_replica_set(namespace).items}

    # the same patch kubectl rollout restart sends
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    apps.patch_namespaced_deployment("web", namespace, {"spec": {"template": {"metadata": {"annotations": {
        "kubectl.kubernetes.io/restartedAt": stamp}}}}})
    wait_for(lambda: available(apps, namespace, "web"))
    after = apps.list_namespaced_replica_set(namespace).items
    new = [rs for rs in after if rs.metadata.name not in before]
    assert len(new) == 1
    assert new[0].status.available_replicas == 2
    assert new[0].spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"] == stamp


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.test.istio-runbooks.io"},
    "spec": {"group": "test.istio-runbooks.io", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
             "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                 "type": "object", "properties": {"spec": {"type": "object", "required": ["size"], "properties": {
                     "size": {"type": "integer", "minimum": 1, "maximum": 10},
                     "mode": {"type": "string", "enum": ["STRICT", "PERMISSIVE"]}}}}}}}]},
}


def test_crd_is_established_and_invalid_objects_are_rejected(api_client, namespace):
    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.create_custom_resource_definition(CRD)
    except ApiException as exc:
        assert exc.status == 409
    wait_for(lambda: any(c.type == "Established" and c.status == "True"
                         for c in (ext.read_custom_resource_definition(CRD["metadata"]["name"]).status.conditions or [])))
    custom = client.CustomObjectsApi(api_client)
    ok = {"apiVersion": "test.istio-runbooks.io/v1", "kind": "Widget", "metadata": {"name": "good"},
          "spec": {"size": 3, "mode": "STRICT"}}
    wait_for(lambda: _try_create(custom, namespace, ok))
    for bad_spec in ({"size": 99}, {"size": 2, "mode": "STRICTT"}, {"mode": "STRICT"}):
        bad = {**ok, "metadata": {"name": "bad"}, "spec": bad_spec}
        with pytest.raises(ApiException) as err:
            custom.create_namespaced_custom_object("test.istio-runbooks.io", "v1", namespace, "widgets", bad)
        assert err.value.status == 422


def _try_create(custom, ns, obj):
    try:
        custom.create_namespaced_custom_object("test.istio-runbooks.io", "v1", ns, "widgets", obj)
        return True
    except ApiException as exc:
        if exc.status == 404:  # discovery not yet refreshed
            return False
        raise


def test_rbac_refuses_a_service_account_without_rights(api_client, namespace, sandbox):
    from kubernetes import config
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "nobody"}})
    token = core.create_namespaced_service_account_token(
        "nobody", namespace, {"spec": {"expirationSeconds": 600}}).status.token
    cfg = client.Configuration()
    cfg.host = f"https://127.0.0.1:{sandbox.ports.apiserver}"
    cfg.ssl_ca_cert = str(sandbox.paths.pki / "ca.crt")
    cfg.api_key = {"authorization": f"Bearer {token}"}
    restricted = client.CoreV1Api(client.ApiClient(cfg))
    with pytest.raises(ApiException) as err:
        restricted.list_namespaced_secret(namespace)
    assert err.value.status == 403
    assert f"system:serviceaccount:{namespace}:nobody" in err.value.body

    # and a RoleBinding really grants it
    rbac = client.RbacAuthorizationV1Api(api_client)
    rbac.create_namespaced_role(namespace, {"metadata": {"name": "read-cm"}, "rules": [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}]})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": "read-cm"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                                   "name": "read-cm"},
        "subjects": [{"kind": "ServiceAccount", "name": "nobody", "namespace": namespace}]})
    wait_for(lambda: _can_list_configmaps(restricted, namespace), timeout=10)


def _can_list_configmaps(api, ns):
    try:
        api.list_namespaced_config_map(ns)
        return True
    except ApiException:
        return False


def test_audit_log_records_writes(api_client, namespace, audit):
    since = now()
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "audited"}, "data": {"a": "1"}})
    core.patch_namespaced_config_map("audited", namespace, {"data": {"a": "2"}})
    core.delete_namespaced_config_map("audited", namespace)
    writes = wait_for(lambda: [w for w in audit.writes(since) if w[1] == "configmaps" and w[3] in ("audited", None)
                               and w[2] == namespace], timeout=10)
    assert [w[0] for w in writes] == ["create", "patch", "delete"]


def test_control_plane_listens_on_loopback_only(sandbox):
    import subprocess
    rows = [row for row in sandbox.status() if row["running"]]
    pids = {str(row["pid"]) for row in rows if row["name"] != "proxies"}
    clients = {str(row["pid"]) for row in rows if row["name"] == "proxies"}  # the simulated sidecars only dial
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=False).stdout
    if not out:
        pytest.skip("ss is not available")
    seen = set()
    for line in out.splitlines():
        assert not any(f"pid={pid}," in line for pid in clients), line
        owners = {pid for pid in pids if f"pid={pid}," in line}
        if owners:
            seen |= owners
            local = line.split()[3]
            assert local.startswith("127.0.0.1:") or local.startswith("[::1]:"), line
    assert seen == pids, "ss showed no listening socket for sandbox pids %s" % sorted(pids - seen)
