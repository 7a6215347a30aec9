"""Checks a run makes once: a later step skips change_ticket's and cluster_preflight's checks only when an earlier
step already answered them; and the istioctl module runs read-only istioctl commands, refusing the others."""
import json

import yaml

from tests.helpers.audit import now
from tests.helpers.playbook import run_playbook


# What every runbook's plays set: the inventory's cluster for the collection's cluster modules.
CONNECTION = {"group/istio_runbooks.mesh.cluster": {"kubeconfig": "{{ mesh_cluster_kubeconfig | default(omit) }}",
                                                    "context": "{{ mesh_cluster_context | default(omit) }}"}}


def two_plays(tmp_path, first, second):
    """A playbook of two plays on mesh_clusters, each including a role with the given role variables, each ending
    with a debug naming its play."""
    plays = []
    for number, (role, role_vars) in enumerate((first, second), start=1):
        plays.append({"name": "Step %d" % number, "hosts": "mesh_clusters", "gather_facts": False,
                      "module_defaults": CONNECTION, "tasks": [
            {"name": "Step %d | Role" % number, "ansible.builtin.include_role": {"name": role}, "vars": role_vars},
            {"name": "Step %d | Done" % number, "ansible.builtin.debug": {"msg": "passed step %d" % number}}]})
    path = tmp_path / "two-steps.yml"
    path.write_text(yaml.safe_dump(plays, sort_keys=False))
    return str(path)


def test_a_later_step_checks_the_ticket_again_when_it_requires_one_the_first_did_not(sandbox, tmp_path):
    """A read-only step (ticket optional) does not answer for a later step that changes the cluster: with
    change_ticket_required and no change_id, the second step stops."""
    playbook = two_plays(tmp_path, ("istio_runbooks.mesh.change_ticket", {"change_ticket_read_only": True}),
                         ("istio_runbooks.mesh.change_ticket", {"change_ticket_read_only": False}))
    run = run_playbook(playbook, {"change_ticket_required": True,
                                  "change_ticket_evidence_dir": str(tmp_path / "evidence")}, timeout=300)
    assert run.rc != 0
    assert "passed step 1" in run.stdout and "passed step 2" not in run.stdout
    assert "change_id is required" in " ".join(run.stdout.split())


def test_a_later_pre_flight_with_a_narrower_version_range_checks_again(sandbox, tmp_path):
    """The second pre-flight would be answered by the first's reviews, but its supported range leaves the cluster's
    version out: it runs its checks and stops, naming the range."""
    playbook = two_plays(tmp_path, ("istio_runbooks.mesh.cluster_preflight", {}),
                         ("istio_runbooks.mesh.cluster_preflight", {"cluster_preflight_min_version": "1.20",
                                                                    "cluster_preflight_max_version": "1.21"}))
    run = run_playbook(playbook, {"change_ticket_evidence_dir": str(tmp_path / "evidence")}, timeout=300)
    assert run.rc != 0
    assert "passed step 1" in run.stdout and "passed step 2" not in run.stdout
    assert "is outside the supported range 1.20 to 1.21" in " ".join(run.stdout.split())


def test_a_later_pre_flight_answered_by_the_first_runs_no_check(sandbox, tmp_path):
    playbook = two_plays(tmp_path, ("istio_runbooks.mesh.cluster_preflight", {}),
                         ("istio_runbooks.mesh.cluster_preflight", {}))
    run = run_playbook(playbook, timeout=300)
    assert run.rc == 0, run.stdout[-3000:]
    asked = [e for e in run.events if e.get("event") == "runner_on_ok"
             and "Ask the API server" in e["event_data"].get("task", "")]
    assert len(asked) == 1, "the second pre-flight answers from the first's reviews"


def test_the_istioctl_module_runs_read_only_commands_and_refuses_the_others(sandbox, audit, tmp_path):
    istioctl = str(sandbox.paths.state / "bin" / "istioctl")
    kube = ["--kubeconfig", str(sandbox.paths.kubeconfig), "--context", "sandbox"]
    tasks = [
        {"name": "Version", "istio_runbooks.mesh.istioctl": {"istioctl": istioctl,
                                                             "args": ["version", "--remote=false", "-o", "json"]},
         "register": "version"},
        {"name": "Tags", "istio_runbooks.mesh.istioctl": {"istioctl": istioctl, "args": ["tag", "list"] + kube},
         "register": "tags"},
        {"name": "Envoy log level", "istio_runbooks.mesh.istioctl": {
            "istioctl": istioctl, "args": ["proxy-config", "log", "some-pod", "--level", "debug"] + kube},
         "register": "log_level", "failed_when": False},
        {"name": "A failing command judged by the task", "istio_runbooks.mesh.istioctl": {
            "istioctl": istioctl, "args": ["analyze", "--no-such-flag"]}, "register": "bad_flag", "failed_when": False},
        {"name": "Results", "ansible.builtin.copy": {
            "dest": str(tmp_path / "results.json"), "mode": "0600",
            "content": "{{ {'version': version, 'tags': tags, 'log_level': log_level, 'bad_flag': bad_flag} | to_json }}"},
         "check_mode": False}]
    playbook = tmp_path / "istioctl.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "mesh_clusters", "gather_facts": False, "tasks": tasks}]))
    since = now()
    run = run_playbook(str(playbook), check=True, timeout=300)
    assert run.rc == 0, run.stdout[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    version = results["version"]
    assert version["rc"] == 0 and not version["changed"]
    assert json.loads(version["stdout"])["clientVersion"]["version"]
    assert results["tags"]["rc"] == 0, "runs in check mode too: it reads only"
    refused = results["log_level"]
    assert refused["rc"] is None and "is not one of the read-only commands" in refused["msg"]
    assert results["bad_flag"]["rc"] not in (0, None) and "no-such-flag" in results["bad_flag"]["stderr"]
    assert audit.writes(since) == []
