"""Every documented input of every role entry point (and the runbooks' connection inputs), malformed, is
rejected before any API write, with a message naming the variable.

The cases come from meta/argument_specs.yml (tests/helpers/bad_input.py), so a new option is covered without a
test edit. All cases run in one generated playbook, one inventory host per case (forks run them in parallel):
each host includes its role in a block whose rescue records the error, so the table costs one ansible-playbook run.
"""
import json

import pytest
import yaml

from tests.helpers.audit import now
from tests.helpers.bad_input import cases
from tests.helpers.playbook import ROOT, run_playbook

NS = "default"  # exists everywhere, so the table needs no setup write
# Valid values for everything else, so each case differs from a passing run by the one malformed variable.
# A case the role accepts would run for real: these baselines keep that harmless (a revision that does not
# exist, no backup, an empty namespace).
BASELINE = {
    ("istio_backup", "main"): {},
    ("istio_backup", "restore"): {},
    ("istio_install", "tag"): {"istio_install_tag_name": "bad-input-tag", "istio_install_tag_revision": "default"},
    ("istio_upgrade", "main"): {"istio_upgrade_to_revision": "bad-input", "istio_upgrade_action": "finish"},
    ("mtls_policy", "main"): {"mtls_policy_scope": "namespace", "mtls_policy_namespace": NS,
                              "mtls_policy_mode": "PERMISSIVE"},
    ("sidecar_injection", "main"): {"sidecar_injection_namespaces": [NS]},
    ("teardown", "main"): {"teardown_scope": "revision", "teardown_revision": "bad-input", "teardown_backup": False},
    ("traffic_management", "main"): {"traffic_management_namespace": NS},
    ("traffic_management", "snapshot"): {"traffic_management_snapshot_desired": [], "traffic_management_snapshot_live": []},
    ("authorization_policy", "main"): {"authorization_policy_namespace": NS, "authorization_policy_deny_by_default": False},
    ("istio_backup", "snapshot"): {"istio_backup_snapshot_kinds": ["PeerAuthentication"], "istio_backup_snapshot_objects": []},
    ("istio_backup", "snapshot_read"): {"istio_backup_snapshot_kinds": ["PeerAuthentication"]},
    ("observability_addons", "main"): {"observability_addons_enabled": [], "observability_addons_remove_disabled": False},
    ("ingress_nginx", "main"): {"ingress_nginx_image_registry": "registry.example.com/mirror",
                                "ingress_nginx_default_class": "none", "ingress_nginx_namespace": "bad-input-nginx"},
    ("ingress_migration", "main"): {"ingress_migration_namespaces": [NS], "ingress_migration_output": "istio"},
    ("mesh_gateways", "main"): {"mesh_gateways_gateways": [], "mesh_gateways_listeners": [],
                                "mesh_gateways_remove_stale": False, "mesh_gateways_verify": False},
}
# Local folders a case may write to (snapshots, bundles, reports), all under the test's temporary folder.
LOCAL_DIRS = ("istio_backup_dir", "istio_backup_snapshot_dir", "traffic_management_snapshot_dir",
              "authorization_policy_snapshot_dir", "collect_logs_dir", "mesh_doctor_report_dir", "ingress_migration_dir",
              "mesh_gateways_snapshot_dir")

# Variables read only in one mode: their cases run in that mode.
CONTEXT = {
    "mtls_policy_snapshot": {"mtls_policy_action": "revert"},
    "traffic_management_snapshot": {"traffic_management_action": "revert"},
    "authorization_policy_snapshot": {"authorization_policy_action": "revert"},
}


class Unsafe(str):
    """A string Ansible must never template (YAML tag !unsafe): the injection strings stay literal."""


yaml.SafeDumper.add_representer(Unsafe, lambda dumper, value: dumper.represent_scalar("!unsafe", str(value)))


def unsafe(value):
    if isinstance(value, str):
        return Unsafe(value)
    if isinstance(value, list):
        return [unsafe(v) for v in value]
    if isinstance(value, dict):
        return {k: unsafe(v) for k, v in value.items()}
    return value


def generated_inventory(table, backup_dir):
    """One host per case, all on the sandbox cluster: the malformed variable is a host variable, which beats the
    role defaults and the group variables, so forks run the cases in parallel."""
    group_vars = yaml.safe_load((ROOT / "inventories/sandbox/group_vars/mesh_clusters.yml").read_text())
    group_vars.update({"sandbox_state_dir": str(ROOT / ".sandbox"), "mesh_artifacts_dir": str(ROOT / "artifacts/sandbox"),
                       # every case host is the sandbox on purpose: the one-cluster-per-host check would refuse them all
                       "change_ticket_inventory_check": False})
    hosts, children = {}, {}
    for number, case in enumerate(table):
        host_vars = dict(BASELINE.get((case["role"], case["entry"]), {}))
        for variable in LOCAL_DIRS:
            if variable.startswith(case["role"] + "_"):
                host_vars.setdefault(variable, "%s/%s" % (backup_dir, variable))
        host_vars.update(CONTEXT.get(case["variable"], {}))
        host_vars[case["variable"]] = unsafe(case["value"])
        hosts["case-%03d" % number] = host_vars
        children.setdefault(entry_group(case["role"], case["entry"]), {"hosts": {}})["hosts"]["case-%03d" % number] = {}
    return {"bad_input": {"hosts": hosts, "vars": group_vars, "children": children}}


def entry_group(role, entry):
    return "bad_input_%s_%s" % (role, entry)


def generated_playbook(entries, result_file):
    """One block per role entry point, with a literal role name (include_role resolves its argument spec once per
    task, not per host), run by the hosts whose case is for that entry point. Each host keeps its outcome as a
    fact; a last play writes them all to result_file in one step (a file write per host would start a module per
    case)."""
    connection = {"kubeconfig": "{{ mesh_cluster_kubeconfig }}", "context": "{{ mesh_cluster_context }}"}
    outcome = "{{ {'rejected': %s, 'task': ansible_failed_task.name | default(''), 'msg': %s} }}"
    failed_msg = ("([ansible_failed_result.msg | default('') | string] + (ansible_failed_result.results | default([])"
                  " | map(attribute='msg', default='') | map('string') | list)) | join(' ')")
    plays = []
    for role, entry in entries:
        plays.append({
            "name": "Bad input | %s %s" % (role, entry), "hosts": entry_group(role, entry), "gather_facts": False,
            "module_defaults": {"group/kubernetes.core.k8s": connection, "group/istio_runbooks.mesh.cluster": connection},
            "tasks": [{
                "name": "Case | %s %s with one malformed input" % (role, entry),
                "block": [
                    {"name": "Case | Run the role",
                     "ansible.builtin.include_role": {"name": "istio_runbooks.mesh." + role, "tasks_from": entry}},
                    {"name": "Case | Accepted",
                     "ansible.builtin.set_fact": {"bad_input_outcome": outcome % ("false", "''")}},
                ],
                "rescue": [
                    {"name": "Case | Rejected",
                     "ansible.builtin.set_fact": {"bad_input_outcome": outcome % ("true", failed_msg)}},
                ],
            }]})
    # a case that failed outside its rescue has no outcome: the test reports it as not rejected
    collect = ("{{ dict(groups['bad_input'] | zip(groups['bad_input'] | map('extract', hostvars)"
               " | map(attribute='bad_input_outcome', default={'rejected': false, 'task': '', 'msg': 'no outcome'})"
               " | list)) | to_json }}")
    return plays + [
            {"name": "Bad input | Outcomes", "hosts": "localhost", "gather_facts": False, "connection": "local",
             "tasks": [{"name": "Outcomes | Write every case's outcome",
                        "ansible.builtin.copy": {"dest": result_file, "mode": "0600", "content": collect}}]}]


@pytest.fixture(scope="module")
def installed(installed_mesh):
    return installed_mesh


def test_every_malformed_input_is_rejected_before_any_write_naming_the_variable(installed, audit, tmp_path):
    table = cases()
    print("bad-input cases: %d" % len(table))
    playbook, inventory, results = tmp_path / "bad-input.yml", tmp_path / "bad-input-hosts.yml", tmp_path / "outcomes.json"
    entries = sorted({(case["role"], case["entry"]) for case in table})
    playbook.write_text(yaml.safe_dump(generated_playbook(entries, str(results)), sort_keys=False))
    inventory.write_text(yaml.safe_dump(generated_inventory(table, str(tmp_path / "backups")), sort_keys=False))
    since = now()
    run = run_playbook(str(playbook), inventory=str(inventory), timeout=1800)
    assert run.rc == 0, run.stdout[-4000:]
    problems = []
    outcomes = json.loads(results.read_text())
    for number, case in enumerate(table):
        outcome = outcomes["case-%03d" % number]
        label = "%s/%s %s=%r (%s)" % (case["role"], case["entry"], case["variable"], case["value"], case["what"])
        if not outcome["rejected"]:
            problems.append("accepted: " + label)
        elif case["variable"] not in outcome["msg"]:
            problems.append("rejected without naming the variable: %s by %r: %s" % (label, outcome["task"],
                                                                                   outcome["msg"][:300]))
    assert not problems, "%d of %d cases:\n%s" % (len(problems), len(table), "\n".join(problems))
    assert "uid=" not in run.stdout, "an injected lookup ran"
    assert audit.writes(since) == []
