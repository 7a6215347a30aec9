"""Teardown and restore on the sandbox: a dry run writes no backup, the control plane's Secrets (the CA,
gateway certificates) are backed up 0600 and restored without ever being printed, every live Istio kind is
backed up, and bad input or missing permissions stop the teardown before its first write.
The tests run in file order and share the cluster."""
import base64
import secrets
import stat

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers.audit import now
from tests.helpers.cluster import wait_for
from tests.helpers.playbook import run_playbook

CP = "istio-system"
TE = ("extensions.istio.io", "v1alpha1", "trafficextensions")  # not in the old fixed kind list


def values(data):
    """Every form a Secret value could be printed in: base64 as stored, and each line of it decoded."""
    found = []
    for encoded in (data or {}).values():
        if encoded:
            found.append(encoded)
            found += [line for line in base64.b64decode(encoded).decode().splitlines() if len(line) >= 16
                      and not line.startswith("-----")]
    return found


def backups_dir(sandbox):
    return sandbox.paths.state.parent / "artifacts/sandbox/backups"


def local_state(folder):
    """The backups folder as the filesystem shows it: entries, and LATEST's content and mtime."""
    if not folder.exists():
        return None
    latest = folder / "LATEST"
    return (sorted(p.name for p in folder.iterdir()),
            (latest.read_text(), latest.stat().st_mtime_ns) if latest.exists() else None)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def mesh_secrets(installed_mesh, api_client):
    """A plugged-in CA and a gateway certificate in the control-plane namespace, with random values."""
    core = client.CoreV1Api(api_client)
    made = {
        "cacerts": ("Opaque", {k: base64.b64encode(secrets.token_hex(24).encode()).decode()
                               for k in ("ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem")}),
        "gw-credential": ("kubernetes.io/tls", {k: base64.b64encode(secrets.token_hex(24).encode()).decode()
                                                for k in ("tls.crt", "tls.key")}),
    }
    for name, (stype, data) in made.items():
        core.create_namespaced_secret(CP, {"metadata": {"name": name}, "type": stype, "data": data})
    yield {name: data for name, (_, data) in made.items()}
    for name in made:
        try:
            core.delete_namespaced_secret(name, CP)
        except ApiException as exc:
            if exc.status != 404:
                raise


def istiod_exists(api):
    return bool(client.AppsV1Api(api).list_namespaced_deployment(CP, label_selector="app=istiod").items)


@pytest.mark.parametrize("extra, expected", [
    ({"teardown_scope": "revision", "teardown_revision": "1.30.3"},
     "teardown_revision '1.30.3' is not a valid revision name: revision names are lowercase DNS labels and use "
     "dashes, not dots: 1-30-3."),
    ({"teardown_scope": "revision"}, "teardown_scope revision needs teardown_revision"),
    ({"teardown_restart_workloads": True, "teardown_restart_concurrency": 0},
     "teardown_restart_concurrency (0) and teardown_wait_timeout (180) must be 1 or more"),
])
def test_bad_input_stops_the_teardown_before_any_change(installed_mesh, api_client, audit, extra, expected):
    since = now()
    run = run_playbook("playbooks/teardown.yml", extra)
    assert run.rc != 0
    assert expected in " ".join(run.stdout.split()), run.stdout[-3000:]
    assert audit.writes(since) == []
    assert istiod_exists(api_client)


def test_teardown_without_delete_rights_stops_before_the_first_write(installed_mesh, api_client, audit, namespace, sandbox,
                                                                      tmp_path):
    """An identity that may read everything, delete webhooks and Deployments and patch namespaces (what the
    access check used to ask), but may not delete CRDs, namespaces or ClusterRoles, is refused up front."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "operator"}})
    role = f"{namespace}-teardown"
    rbac.create_cluster_role({"metadata": {"name": role}, "rules": [
        {"apiGroups": ["*"], "resources": ["*"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations",
                                                                     "validatingwebhookconfigurations"],
         "verbs": ["delete"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["delete"]},
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["patch"]}]})
    rbac.create_cluster_role_binding({
        "metadata": {"name": role}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": "operator", "namespace": namespace}]})
    try:
        token = core.create_namespaced_service_account_token(
            "operator", namespace, {"spec": {"expirationSeconds": 600}}).status.token
        kubeconfig = yaml.safe_load(sandbox.paths.kubeconfig.read_text())
        kubeconfig["users"] = [{"name": "operator", "user": {"token": token}}]
        for ctx in kubeconfig["contexts"]:
            ctx["context"]["user"] = "operator"
        path = tmp_path / "kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        since = now()
        run = run_playbook("playbooks/teardown.yml", {"mesh_cluster_kubeconfig": str(path),
                                                       "teardown_remove_crds": True})
        assert run.rc != 0
        message = " ".join(run.stdout.split())
        assert "This identity lacks permissions the run needs" in message, run.stdout[-3000:]
        for resource in ("customresourcedefinitions", "namespaces", "clusterroles", "services"):
            assert f'"resource": "{resource}"' in message, resource
        assert audit.writes(since, user=f"system:serviceaccount:{namespace}:operator") == []
        assert istiod_exists(api_client)
    finally:
        rbac.delete_cluster_role_binding(role)
        rbac.delete_cluster_role(role)


def mesh_config(api_client, namespace):
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    core.patch_namespace(namespace, {"metadata": {"labels": {"istio-injection": "enabled"}}})
    extension = {"apiVersion": "extensions.istio.io/v1alpha1", "kind": "TrafficExtension",
                 "metadata": {"name": "lua-hello"},
                 "spec": {"lua": {"inlineCode": "function envoy_on_request(h) end"}}}
    custom.create_namespaced_custom_object(*TE[:2], namespace, TE[2], extension)
    return extension


def test_check_mode_writes_no_backup_and_leaves_latest(mesh_secrets, api_client, audit, namespace, sandbox):
    mesh_config(api_client, namespace)
    folder = backups_dir(sandbox)
    before = local_state(folder)
    since = now()
    run = run_playbook("playbooks/teardown.yml", {"teardown_remove_crds": True}, check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert audit.writes(since) == []
    assert local_state(folder) == before, "a dry run wrote a backup or moved LATEST"
    message = " ".join(run.stdout.split())
    assert "Check mode: no backup written" in message
    assert f"to {folder}/backup-<UTC time>/ and points LATEST at it" in message
    assert "istio-system/cacerts" in message and "1 TrafficExtension" in message
    for data in mesh_secrets.values():
        for value in values(data):
            assert value not in run.stdout


def test_purge_backs_up_the_secrets_and_every_istio_kind_and_restore_brings_them_back(
        mesh_secrets, api_client, audit, namespace, sandbox):
    core, custom = client.CoreV1Api(api_client), client.CustomObjectsApi(api_client)
    extension = mesh_config(api_client, namespace)
    ca_secret = wait_for(lambda: _secret(core, "istio-ca-secret"))  # istiod's self-signed root
    saved = dict(mesh_secrets, **{"istio-ca-secret": ca_secret.data})
    folder = backups_dir(sandbox)
    previous = local_state(folder)

    teardown = run_playbook("playbooks/teardown.yml", {"teardown_remove_crds": True}, diff=True)
    assert teardown.rc == 0, teardown.stdout[-3000:]
    for data in saved.values():
        for value in values(data):
            assert value not in teardown.stdout

    latest = (folder / "LATEST").read_text().strip()
    assert previous is None or latest not in previous[0]
    backup = folder / latest
    assert mode(backup) == 0o700
    assert {p.name: mode(p) for p in backup.iterdir()} == {
        "istio-resources.yaml": 0o600, "namespace-labels.yaml": 0o600, "secrets.yaml": 0o600, "gateways.yaml": 0o600}
    in_backup = {s["metadata"]["name"]: s for s in yaml.safe_load_all((backup / "secrets.yaml").read_text()) if s}
    for name, data in saved.items():
        assert in_backup[name]["data"] == data, name
    assert in_backup["gw-credential"]["type"] == "kubernetes.io/tls"
    objects = [o for o in yaml.safe_load_all((backup / "istio-resources.yaml").read_text()) if o]
    assert [(o["kind"], o["metadata"]["name"]) for o in objects if o["metadata"].get("namespace") == namespace] == [
        ("TrafficExtension", "lua-hello")]
    assert CP not in [n.metadata.name for n in core.list_namespace().items]

    assert run_playbook("playbooks/install.yml").rc == 0
    wait_for(lambda: _secret(core, "istio-ca-secret"))  # the new istiod made a new root: restore replaces it
    # a label the backup did not have: restore must remove it, or the namespace injects from another revision
    core.patch_namespace(namespace, {"metadata": {"labels": {"istio.io/rev": "canary"}}})
    refused = run_playbook("playbooks/restore.yml")
    assert refused.rc != 0 and "istio_backup_replace_secrets=true" in refused.stdout, refused.stdout[-3000:]
    assert "istio.io/rev" in core.read_namespace(namespace).metadata.labels, "the refused restore changed something"
    restore = run_playbook("playbooks/restore.yml", {"istio_backup_replace_secrets": True}, diff=True)
    assert restore.rc == 0, restore.stdout[-3000:]
    for data in saved.values():
        for value in values(data):
            assert value not in restore.stdout
    for name, data in saved.items():
        assert core.read_namespaced_secret(name, CP).data == data, name
    live = custom.get_namespaced_custom_object(*TE[:2], namespace, TE[2], "lua-hello")
    assert live["spec"] == extension["spec"]
    labels = core.read_namespace(namespace).metadata.labels
    assert labels.get("istio-injection") == "enabled" and "istio.io/rev" not in labels
    assert "Restored over live Secrets with other data: istio-system/istio-ca-secret" in " ".join(
        restore.stdout.split())

    since = now()
    again = run_playbook("playbooks/restore.yml")
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert [w for w in audit.writes(since) if w[1] in ("secrets", "namespaces")] == []


def _secret(core, name):
    try:
        return core.read_namespaced_secret(name, CP)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
