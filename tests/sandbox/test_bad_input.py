"""Every documented input of every role entry point (and the runbooks' connection inputs), malformed, is
rejected before any API write, with a message naming the variable.

The cases come from meta/argument_specs.yml (tests/helpers/bad_input.py), so a new option is covered without a
test edit. All cases run in one generated playbook: each is one include_role in a block whose rescue records
the error, so the whole table costs one ansible-playbook run.
"""
import json

import pytest
import yaml
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.bad_input import cases
from tests.helpers.playbook import run_playbook

NS = "bad-input"
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
}

# Variables read only in one mode: their cases run in that mode.
CONTEXT = {
    "mtls_policy_snapshot": {"mtls_policy_action": "revert"},
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


def generated_playbook(table, backup_dir, result_file):
    tasks = []
    for number, case in enumerate(table):
        role_vars = dict(BASELINE.get((case["role"], case["entry"]), {}))
        if case["role"] == "istio_backup":
            role_vars.setdefault("istio_backup_dir", backup_dir)
        role_vars.update(CONTEXT.get(case["variable"], {}))
        role_vars[case["variable"]] = unsafe(case["value"])
        tasks.append({
            "name": "Case %d | %s %s: %s" % (number, case["role"], case["variable"], case["what"]),
            "block": [
                {"name": "Case %d | Run the role" % number,
                 "ansible.builtin.include_role": {"name": "istio_runbooks.mesh." + case["role"],
                                                  "tasks_from": case["entry"]},
                 "vars": role_vars},
                {"name": "Case %d | Accepted" % number,
                 "ansible.builtin.set_fact": {"bad_input_outcomes": "{{ bad_input_outcomes | default({}) | combine({'%d': {'rejected': false}}) }}" % number}},
            ],
            "rescue": [
                {"name": "Case %d | Rejected" % number,
                 "ansible.builtin.set_fact": {"bad_input_outcomes": "{{ bad_input_outcomes | default({}) | combine({'%d': {'rejected': true, 'task': ansible_failed_task.name, 'msg': ([ansible_failed_result.msg | default('') | string] + (ansible_failed_result.results | default([]) | map(attribute='msg', default='') | map('string') | list)) | join(' ')}}) }}" % number}},
            ],
        })
    tasks.append({"name": "Save the outcomes",
                  "ansible.builtin.copy": {"content": "{{ bad_input_outcomes | to_json }}", "dest": result_file,
                                           "mode": "0600"}})
    connection = {"kubeconfig": "{{ mesh_cluster_kubeconfig }}", "context": "{{ mesh_cluster_context }}"}
    return [{"name": "Bad input", "hosts": "mesh_clusters", "gather_facts": False,
             "module_defaults": {"group/kubernetes.core.k8s": connection, "group/istio_runbooks.mesh.cluster": connection},
             "tasks": tasks}]


@pytest.fixture(scope="module")
def installed(sandbox, api_client):
    assert run_playbook("playbooks/install.yml").rc == 0
    core = client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": NS}})
    yield
    core.delete_namespace(NS)


def test_every_malformed_input_is_rejected_before_any_write_naming_the_variable(installed, audit, tmp_path):
    table = cases()
    print("bad-input cases: %d" % len(table))
    playbook = tmp_path / "bad-input.yml"
    result_file = tmp_path / "outcomes.json"
    playbook.write_text(yaml.safe_dump(generated_playbook(table, str(tmp_path / "backups"), str(result_file)),
                                       sort_keys=False))
    since = now()
    run = run_playbook(str(playbook), timeout=1800)
    assert run.rc == 0, run.stdout[-4000:]
    outcomes = json.loads(result_file.read_text())
    problems = []
    for number, case in enumerate(table):
        outcome = outcomes[str(number)]
        label = "%s/%s %s=%r (%s)" % (case["role"], case["entry"], case["variable"], case["value"], case["what"])
        if not outcome["rejected"]:
            problems.append("accepted: " + label)
        elif case["variable"] not in outcome["msg"]:
            problems.append("rejected without naming the variable: %s by %r: %s" % (label, outcome["task"],
                                                                                   outcome["msg"][:300]))
    assert not problems, "%d of %d cases:\n%s" % (len(problems), len(table), "\n".join(problems))
    assert "uid=" not in run.stdout, "an injected lookup ran"
    assert audit.writes(since) == []
