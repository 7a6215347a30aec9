"""Least privilege: the main runbooks pass with the automation's ServiceAccount holding only the rules files of
rbac/ (granted by playbooks/rbac.yml), and with one verb taken out of a runbook's role each fails in its pre-flight,
before any write, naming the missing permission and the file to apply.
The tests run in file order and share the cluster; the last one tears the mesh down and installs it again."""
import json

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers.audit import AuditLog, now
from tests.helpers.cluster import deployment
from tests.helpers.playbook import run_playbook

SA, SA_NS = "istio-runbooks", "istio-runbooks"
USER = f"system:serviceaccount:{SA_NS}:{SA}"
SINGLE = "single-runbook"
CP = "istio-system"


def denied(audit, since):
    """Requests of the ServiceAccount the API server refused (a 403 a run ignored would hide a missing rule)."""
    found = []
    for event in audit.events(since):
        ref = event.get("objectRef") or {}
        if (event.get("user", {}).get("username") == USER and event.get("stage") == "ResponseComplete"
                and event.get("responseStatus", {}).get("code") == 403):
            found.append((event["verb"], ref.get("apiGroup", ""), ref.get("resource"), ref.get("namespace")))
    return found


@pytest.fixture(scope="module")
def automation(installed_mesh, api_client, sandbox, tmp_path_factory):
    """playbooks/rbac.yml run by the admin (twice: the second writes nothing), and a kubeconfig holding a token of
    the ServiceAccount from the TokenRequest API."""
    audit = AuditLog(sandbox.paths.audit_log)
    run = run_playbook("playbooks/rbac.yml")
    assert run.rc == 0, run.stdout[-3000:]
    since = now()
    again = run_playbook("playbooks/rbac.yml")
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    assert audit.writes(since) == []
    yield kubeconfig_of(api_client, sandbox, tmp_path_factory, SA)
    rbac, core = client.RbacAuthorizationV1Api(api_client), client.CoreV1Api(api_client)
    selector = "app.kubernetes.io/part-of=istio-runbooks"
    for item in rbac.list_cluster_role_binding(label_selector=selector).items:
        rbac.delete_cluster_role_binding(item.metadata.name)
    for item in rbac.list_cluster_role(label_selector=selector).items:
        rbac.delete_cluster_role(item.metadata.name)
    for item in rbac.list_namespaced_role_binding(CP, label_selector=selector).items:
        rbac.delete_namespaced_role_binding(item.metadata.name, CP)
    for item in rbac.list_namespaced_role(CP, label_selector=selector).items:
        rbac.delete_namespaced_role(item.metadata.name, CP)
    core.delete_namespace(SA_NS)


def kubeconfig_of(api_client, sandbox, tmp_path_factory, account):
    """A kubeconfig of the sandbox holding a token of the ServiceAccount (TokenRequest API)."""
    token = client.CoreV1Api(api_client).create_namespaced_service_account_token(
        account, SA_NS, {"spec": {"expirationSeconds": 3600}}).status.token
    kubeconfig = yaml.safe_load(sandbox.paths.kubeconfig.read_text())
    kubeconfig["users"] = [{"name": account, "user": {"token": token}}]
    for context in kubeconfig["contexts"]:
        context["context"]["user"] = account
    path = tmp_path_factory.mktemp(account) / "kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    path.chmod(0o600)
    return str(path)


@pytest.fixture(scope="module")
def single_runbook_account(automation, api_client, sandbox, tmp_path_factory):
    """A second ServiceAccount, bound by each case to one runbook's roles only (the automation account holds every
    rules file, and several grant the same verb)."""
    client.CoreV1Api(api_client).create_namespaced_service_account(SA_NS, {"metadata": {"name": SINGLE}})
    return kubeconfig_of(api_client, sandbox, tmp_path_factory, SINGLE)


@pytest.fixture
def workload(api_client, namespace):
    client.AppsV1Api(api_client).create_namespaced_deployment(namespace, deployment("web"))
    return namespace


def as_automation(kubeconfig, playbook, extra=None):
    return run_playbook(playbook, dict(extra or {}, mesh_cluster_kubeconfig=kubeconfig), timeout=900)


# (runbook, inputs, rules file, role kind, verb taken out of the rule on resource in group, what the message names)
CASES = {
    "sidecar-injection": ("playbooks/sidecar-injection.yml", lambda ns: {"sidecar_injection_namespaces": [ns]},
                          "ClusterRole", "patch", "namespaces", "",
                          {"verb": "patch", "resource": "namespaces", "group": "",
                           "source": "rbac/sidecar-injection.yml"}),
    "mtls-remove": ("playbooks/mtls-remove.yml",
                    lambda ns: {"mtls_policy_scope": "namespace", "mtls_policy_namespace": ns},
                    "ClusterRole", "delete", "peerauthentications", "security.istio.io",
                    {"verb": "delete", "resource": "peerauthentications", "group": "security.istio.io",
                     "source": "rbac/mtls-remove.yml"}),
    "teardown": ("playbooks/teardown.yml", lambda ns: {}, "ClusterRole", "delete", "mutatingwebhookconfigurations",
                 "admissionregistration.k8s.io",
                 {"verb": "delete", "resource": "mutatingwebhookconfigurations", "group": "admissionregistration.k8s.io",
                  "source": "rbac/teardown.yml"}),
}


def take_out(api_client, kind, name, verb, resource, group):
    """The role's rules without verb on resource (in group), written to the live role; returns the original rules."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    role = rbac.read_cluster_role(name) if kind == "ClusterRole" else rbac.read_namespaced_role(name, CP)
    original = [r.to_dict() for r in role.rules]
    rules = []
    for rule in original:
        rule = {k: v for k, v in rule.items() if v is not None}
        if group in rule.get("api_groups", []) and resource in rule.get("resources", []) and verb in rule["verbs"]:
            others = [r for r in rule["resources"] if r != resource]
            if others:
                rules.append(dict(rule, resources=others))
            rule = dict(rule, resources=[resource], verbs=[v for v in rule["verbs"] if v != verb])
        rules.append(rule)
    assert rules != original, "%s %s has no %s on %s" % (kind, name, verb, resource)
    patch(api_client, kind, name, rules)
    return original


def patch(api_client, kind, name, rules):
    rbac = client.RbacAuthorizationV1Api(api_client)
    body = {"rules": [{"apiGroups": r.get("api_groups"), "resources": r.get("resources"), "verbs": r["verbs"]}
                      for r in rules]}
    if kind == "ClusterRole":
        rbac.patch_cluster_role(name, body)
    else:
        rbac.patch_namespaced_role(name, CP, body)


def bind(api_client, kind, name):
    """Bind the runbook's role to the single-runbook account; returns the undo."""
    rbac = client.RbacAuthorizationV1Api(api_client)
    body = {"metadata": {"name": name + "-single"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": SINGLE, "namespace": SA_NS}]}
    if kind == "ClusterRole":
        rbac.create_cluster_role_binding(body)
        return lambda: rbac.delete_cluster_role_binding(name + "-single")
    rbac.create_namespaced_role_binding(CP, body)
    return lambda: rbac.delete_namespaced_role_binding(name + "-single", CP)


@pytest.mark.parametrize("runbook", sorted(CASES))
def test_one_verb_missing_stops_the_runbook_before_any_write_naming_it(runbook, single_runbook_account, api_client,
                                                                        audit, workload):
    playbook, inputs, kind, verb, resource, group, expected = CASES[runbook]
    name = "istio-runbooks-" + runbook
    rbac = client.RbacAuthorizationV1Api(api_client)
    undo = [bind(api_client, "ClusterRole", name)]
    if rbac.list_namespaced_role(CP, field_selector="metadata.name=" + name).items:
        undo.append(bind(api_client, "Role", name))
    original = take_out(api_client, kind, name, verb, resource, group)
    try:
        since = now()
        run = as_automation(single_runbook_account, playbook, inputs(workload))
        assert run.rc != 0, run.stdout[-3000:]
        message = " ".join(run.stdout.split())
        assert "This identity lacks permissions the run needs: " in message, run.stdout[-3000:]
        assert json.dumps(dict(expected, reason="not granted")) in message, run.stdout[-3000:]
        assert ("""ansible-playbook playbooks/rbac.yml -e '{"runbook_rbac_rules": ["%s"]}'""" % runbook) in message
        assert audit.writes(since, user=f"system:serviceaccount:{SA_NS}:{SINGLE}") == []
    finally:
        patch(api_client, kind, name, original)
        for step in undo:
            step()


def test_main_runbooks_pass_with_the_automation_account(automation, mesh_installer, api_client, audit, workload):
    """Injection, mTLS STRICT, teardown, install and restore as the ServiceAccount (the install from scratch, after
    the purge). A purge deletes the control-plane namespace and the Roles in it, so the admin runs
    playbooks/rbac.yml again before the install and the restore."""
    since = now()
    steps = [("playbooks/sidecar-injection.yml", {"sidecar_injection_namespaces": [workload]}),
             ("playbooks/mtls-strict.yml", {"mtls_policy_scope": "namespace", "mtls_policy_namespace": workload}),
             ("playbooks/teardown.yml", {})]
    for playbook, inputs in steps:
        run = as_automation(automation, playbook, inputs)
        assert run.rc == 0, (playbook, run.stdout[-3000:])
    assert run_playbook("playbooks/rbac.yml").rc == 0
    for playbook, inputs in [("playbooks/install.yml", {}),
                             ("playbooks/restore.yml", {"istio_backup_replace_secrets": True})]:
        run = as_automation(automation, playbook, inputs)
        assert run.rc == 0, (playbook, run.stdout[-3000:])
    mesh_installer.left = mesh_installer.fingerprint()  # install.yml ran last: the mesh is as an install leaves it
    assert denied(audit, since) == []
    writes = audit.writes(since, user=USER)
    assert {(verb, name) for verb, resource, _, name in writes if resource == "namespaces"} >= {
        ("delete", CP), ("patch", workload)}
    assert [w for w in writes if w[1] == "secrets"], "the restore wrote no Secret"
    try:
        policy = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            "security.istio.io", "v1", workload, "peerauthentications", "default")
    except ApiException as exc:
        raise AssertionError("the restore did not bring back the STRICT policy: %s" % exc.status)
    assert policy["spec"]["mtls"]["mode"] == "STRICT"
