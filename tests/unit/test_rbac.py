"""The runbooks' rules files (rbac/): what they grant as the pre-flight checks it, the objects that grant them, and
that the files, the roles that name them and the teardown's own plan agree."""
import re
from pathlib import Path

import pytest
import yaml

from ansible_collections.istio_runbooks.mesh.plugins.filter.rbac import rbac_objects, rbac_required_access
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import rbac, teardown
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import missing_access

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted(p.stem for p in (ROOT / "rbac").glob("*.yml"))
CLUSTER_ROLE = {"kind": "ClusterRole", "metadata": {"name": "istio-runbooks-x"},
                "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]},
                          {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"],
                           "resourceNames": ["web"]},
                          {"nonResourceURLs": ["/healthz"], "verbs": ["get"]}]}
ROLE = {"kind": "Role", "metadata": {"name": "istio-runbooks-x", "namespace": "istio-system"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}


def documents(name):
    return [d for d in yaml.safe_load_all((ROOT / "rbac" / (name + ".yml")).read_text()) if d]


def test_cluster_role_rules_are_cluster_wide_and_role_rules_in_the_control_plane_namespace():
    access = rbac.required_access([CLUSTER_ROLE, ROLE], "mesh-system", "rbac/x.yml")
    assert access == [
        {"verb": "get", "resource": "namespaces", "group": "", "source": "rbac/x.yml"},
        {"verb": "patch", "resource": "namespaces", "group": "", "source": "rbac/x.yml"},
        {"verb": "patch", "resource": "deployments", "group": "apps", "name": "web", "source": "rbac/x.yml"},
        {"verb": "list", "resource": "secrets", "group": "", "namespace": "mesh-system", "source": "rbac/x.yml"}]


def test_a_missing_permission_names_verb_resource_group_namespace_and_file():
    access = rbac_required_access([yaml.safe_dump_all([CLUSTER_ROLE, ROLE])], "istio-system", ["rbac/x.yml"])
    reviews = {"istio-runbooks-cluster-scope": {"resourceRules": [
        {"verbs": ["get"], "apiGroups": [""], "resources": ["namespaces"]},
        {"verbs": ["patch"], "apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"]}]},
        "istio-system": {"resourceRules": []}}
    assert missing_access(access, reviews) == [
        {"verb": "patch", "resource": "namespaces", "group": "", "source": "rbac/x.yml", "reason": "not granted"},
        {"verb": "list", "resource": "secrets", "group": "", "namespace": "istio-system", "source": "rbac/x.yml",
         "reason": "not granted"}]


def test_a_file_that_is_not_roles_is_refused_naming_it():
    with pytest.raises(rbac.RbacRulesError, match="rbac/bad.yml: each document must be a ClusterRole or Role"):
        rbac.required_access([{"kind": "ConfigMap", "metadata": {"name": "x"}}], source="rbac/bad.yml")
    with pytest.raises(rbac.RbacRulesError, match="holds no ClusterRole or Role"):
        rbac.required_access([None], source="rbac/empty.yml")


def test_each_role_is_bound_to_the_service_account_where_it_applies():
    objects = rbac_objects([yaml.safe_dump_all([CLUSTER_ROLE, ROLE])], "mesh-system", "automation", "ops",
                           {"app.kubernetes.io/part-of": "istio-runbooks"})
    assert [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects] == [
        ("ClusterRole", "istio-runbooks-x", None), ("ClusterRoleBinding", "istio-runbooks-x", None),
        ("Role", "istio-runbooks-x", "mesh-system"), ("RoleBinding", "istio-runbooks-x", "mesh-system")]
    assert objects[3]["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "istio-runbooks-x"}
    assert objects[1]["subjects"] == [{"kind": "ServiceAccount", "name": "automation", "namespace": "ops"}]
    assert all(o["metadata"]["labels"] == {"app.kubernetes.io/part-of": "istio-runbooks"} for o in objects)


def test_every_rules_file_is_valid_and_named_after_its_roles():
    assert RULES
    for name in RULES:
        roles = rbac.role_objects(documents(name), name)
        assert {r["metadata"]["name"] for r in roles} == {"istio-runbooks-" + name}, name
        assert rbac.required_access(roles), name


def test_the_argument_specs_offer_exactly_the_rules_files():
    for spec, option in (("cluster_preflight", "cluster_preflight_rbac_rules"), ("runbook_rbac", "runbook_rbac_rules")):
        options = yaml.safe_load((ROOT / "roles" / spec / "meta/argument_specs.yml").read_text())[
            "argument_specs"]["main"]["options"]
        assert sorted(options[option]["choices"]) == RULES, option
    assert sorted(yaml.safe_load((ROOT / "roles/runbook_rbac/defaults/main.yml").read_text())["runbook_rbac_rules"]) \
        == RULES


@pytest.mark.parametrize("role_tasks, rules", [
    ("istio_install/tasks/preflight.yml", ["install"]),
    ("sidecar_injection/tasks/preflight.yml", ["sidecar-injection"]),
    ("mtls_policy/tasks/preflight.yml", ["mtls-{{ mtls_policy_action }}"]),
    ("teardown/tasks/preflight.yml", ["teardown"]),
    ("istio_backup/tasks/restore.yml", ["restore"]),
])
def test_each_main_runbook_checks_its_rules_file_before_any_change(role_tasks, rules):
    tasks = yaml.safe_load((ROOT / "roles" / role_tasks).read_text())
    checks = [t for t in tasks if (t.get("ansible.builtin.include_role") or {}).get("name")
              == "istio_runbooks.mesh.cluster_preflight"]
    assert [t["vars"]["cluster_preflight_rbac_rules"] for t in checks] == [rules]
    writes = ("kubernetes.core.k8s", "istio_runbooks.mesh.apply_objects", "istio_runbooks.mesh.rollout_restart")
    assert not any(w in t for t in tasks[:tasks.index(checks[0])] for w in writes), "a write before the check"
    actions = yaml.safe_load((ROOT / "roles/mtls_policy/meta/argument_specs.yml").read_text())[
        "argument_specs"]["main"]["options"]["mtls_policy_action"]["choices"]
    assert sorted("mtls-" + a for a in actions) == [r for r in RULES if r.startswith("mtls-")]


def _kinds():
    variables = yaml.safe_load((ROOT / "roles/teardown/vars/main.yml").read_text())
    return variables["teardown_kinds"] + variables["teardown_addon_kinds"] + variables["teardown_gateway_kinds"]


def _granted(access, entry):
    return any(a["verb"] == entry["verb"] and a["resource"] in (entry["resource"], "*")
               and a["group"] == entry.get("group", "") and (not a.get("namespace") or entry.get("namespace"))
               for a in access)


def test_the_teardown_rules_grant_everything_its_plan_may_ask_for():
    """teardown's pre-flight asks for what its plan deletes too; the rules file must cover it with every option."""
    access = rbac.required_access(documents("teardown"), "istio-system")
    for scope in ("purge", "revision"):
        plan = teardown.required_access(_kinds(), scope, "istio-system", remove_crds=True, remove_namespace=True,
                                        remove_labels=True, backup=True, restart_workloads=True)
        assert [e for e in plan if not _granted(access, e)] == [], scope


def _k8s_writes(tasks):
    """The kubernetes.core.k8s tasks of a task list, blocks included."""
    for task in tasks or []:
        for key in ("block", "rescue", "always"):
            yield from _k8s_writes(task.get(key))
        if "kubernetes.core.k8s" in task:
            yield task["kubernetes.core.k8s"]


STATE_VERBS = {"absent": {"delete"}, "present": {"create", "patch", "update"}, "patched": {"patch"}}
SERVED = {"sidecar_injection": ["sidecar-injection"], "mtls_policy": ["mtls-apply", "mtls-remove", "mtls-revert"],
          "teardown": ["teardown"], "istio_backup": ["restore"], "istio_install": ["install"]}


@pytest.mark.parametrize("role", sorted(SERVED))
def test_each_write_of_a_role_has_its_verb_in_the_rules_files(role):
    """Every kubernetes.core.k8s write of a role (its state: absent, present or patched) has that verb in the
    rules files of the runbooks the role serves, on the task's kind when the task names one."""
    access = [a for n in SERVED[role] for a in rbac.required_access(documents(n))]
    for path in (ROOT / "roles" / role / "tasks").glob("*.yml"):
        for write in _k8s_writes(yaml.safe_load(path.read_text())):
            verbs = STATE_VERBS[write.get("state", "present")]
            resource = write["kind"].lower() + "s" if write.get("kind") else None
            assert any(a["verb"] in verbs and (resource is None or a["resource"] in (resource, "*")) for a in access), \
                (role, path.name, write.get("state"), write.get("kind"))
