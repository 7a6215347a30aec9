"""Secrets stay out of every output: a run with a bearer-token kubeconfig, a gateway TLS Secret and the mesh CA
in play (backup, then a restore plan with --diff that would replace both) prints neither the token nor a Secret
value in stdout, job events (the evidence summary line included), runner artifacts, the evidence reports or the
backup's other files; secrets.yaml is 0600."""
import base64
import json
import os
import secrets
import stat

import pytest
from kubernetes import client

from tests.helpers.cluster import token_kubeconfig
from tests.helpers.playbook import run_playbook

NS = "istio-system"
SA_NS = "secrets-sweep"


def b64(value):
    return base64.b64encode(value.encode()).decode()


def forms(value):
    """A value as it may leak: raw, base64 (Secret data), and each long line of it."""
    found = {value, b64(value)}
    found |= {line for line in value.splitlines() if len(line) >= 24}
    return found


@pytest.fixture(scope="module")
def automation(sandbox, api_client, tmp_path_factory, installed_mesh):
    """Istio installed, a gateway TLS Secret, the mesh CA Secret, and a token kubeconfig for an automation account."""
    core, rbac = client.CoreV1Api(api_client), client.RbacAuthorizationV1Api(api_client)
    core.create_namespace({"metadata": {"name": SA_NS}})
    core.create_namespaced_service_account(SA_NS, {"metadata": {"name": "automation"}})
    rbac.create_cluster_role_binding({
        "metadata": {"name": "secrets-sweep-automation"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "automation", "namespace": SA_NS}]})
    tls_key = "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % secrets.token_hex(40)
    core.create_namespaced_secret(NS, {
        "metadata": {"name": "sweep-gateway-cert"}, "type": "kubernetes.io/tls",
        "data": {"tls.key": b64(tls_key), "tls.crt": b64("-----BEGIN CERTIFICATE-----\nsweep\n-----END CERTIFICATE-----\n")}})
    ca = core.read_namespaced_secret("istio-ca-secret", NS)
    ca_key = base64.b64decode(ca.data["ca-key.pem"]).decode()
    kubeconfig = token_kubeconfig(api_client, str(sandbox.paths.kubeconfig), "automation", SA_NS,
                                  tmp_path_factory.mktemp("kubeconfig") / "automation.kubeconfig")
    import yaml
    token = yaml.safe_load(open(kubeconfig, encoding="utf-8"))["users"][0]["user"]["token"]
    yield {"kubeconfig": kubeconfig, "token": token, "tls_key": tls_key, "ca_key": ca_key}
    core.delete_namespaced_secret("sweep-gateway-cert", NS)
    rbac.delete_cluster_role_binding("secrets-sweep-automation")
    core.delete_namespace(SA_NS)


def leaks(text, values):
    return sorted(name for name, value in values.items() for form in forms(value) if form in text)


def folder_text(path):
    """Every file under a folder, as one text."""
    parts = []
    for root, _, files in os.walk(path):
        for name in files:
            with open(os.path.join(root, name), encoding="utf-8", errors="replace") as handle:
                parts.append(handle.read())
    return "\n".join(parts)


def test_token_tls_key_and_ca_never_appear_in_outputs(automation, api_client, tmp_path):
    values = {k: automation[k] for k in ("token", "tls_key", "ca_key")}
    backups = tmp_path / "backups"
    connection = {"mesh_cluster_kubeconfig": automation["kubeconfig"], "istio_backup_dir": str(backups),
                  "change_id": "CHG0000042", "change_ticket_evidence_dir": str(tmp_path / "evidence-cluster")}
    backup = run_playbook("tests/sandbox/playbooks/backup.yml", connection, diff=True,
                          private_data_dir=tmp_path / "runner-backup", evidence_dir=tmp_path / "evidence-backup")
    assert backup.rc == 0, backup.stdout[-3000:]

    [folder] = [p for p in backups.iterdir() if p.is_dir()]
    secret_file = folder / "secrets.yaml"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    held = secret_file.read_text()
    assert b64(automation["tls_key"]) in held and b64(automation["ca_key"]) in held, "the backup holds both Secrets"

    # the live TLS Secret changes: a restore plan with --diff would replace it, and must not show either value
    new_key = "-----BEGIN PRIVATE KEY-----\n%s\n-----END PRIVATE KEY-----\n" % secrets.token_hex(40)
    client.CoreV1Api(api_client).patch_namespaced_secret("sweep-gateway-cert", NS, {"data": {"tls.key": b64(new_key)}})
    values["new_tls_key"] = new_key
    restore = run_playbook("playbooks/restore.yml", dict(connection, istio_backup_replace_secrets=True),
                           check=True, diff=True, private_data_dir=tmp_path / "runner-restore",
                           evidence_dir=tmp_path / "evidence-restore")
    assert restore.rc == 0, restore.stdout[-3000:]
    assert restore.changed > 0, "the plan reached the Secret it would replace"

    for name, run in (("backup", backup), ("restore --check --diff", restore)):
        assert leaks(run.stdout, values) == [], "%s stdout shows a secret" % name
        assert leaks(repr(run.events), values) == [], "%s job events hold a secret" % name
    for runner_dir in ("runner-backup", "runner-restore"):
        assert leaks(folder_text(tmp_path / runner_dir / "artifacts"), values) == [], "%s artifacts hold a secret" % runner_dir
    # the evidence reports: the runner's copy of each run, and the cluster's copy of the restore plan
    for report_dir in ("evidence-backup", "evidence-restore", "evidence-cluster"):
        text = folder_text(tmp_path / report_dir)
        assert "report.json" in str(list((tmp_path / report_dir).rglob("report.json"))), "%s: no report" % report_dir
        assert leaks(text, values) == [], "the %s report holds a secret" % report_dir
    assert "(hidden: no_log)" in folder_text(tmp_path / "evidence-restore"), "the plan says a no_log task changes Secrets"
    # the evidence summary AWX keeps with the job (the last events; swept with the events above)
    kinds = [e.get("event") for e in restore.events]
    [summary] = [e for e in restore.events[kinds.index("playbook_on_stats"):] if "Evidence summary: " in e.get("stdout", "")]
    brief = json.loads(summary["stdout"].split("Evidence summary: ", 1)[1])
    assert brief["change_id"] == "CHG0000042" and brief["mode"] == "plan" and brief["status"] == "ok"
    assert {"cluster": "sandbox", "ref": "(hidden: no_log)", "action": "change"} in brief["changed_objects"]
    assert leaks(json.dumps(brief), values) == []
    others = "\n".join(p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file() and p != secret_file)
    assert leaks(others, values) == [], "a backup file other than secrets.yaml holds a secret"
    assert leaks(held, {"token": automation["token"]}) == []
