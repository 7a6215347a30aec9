"""Change tickets through the ansible-runner entry point (python -m istio_runbooks.run), on one installed mesh:
the plan (--check) lists its changes and writes nothing; the run leaves artifacts under its ident, an evidence
report with before and after, and the ticket annotation on every object it wrote (read from the audit log's
writes, not from what the run meant to touch); a malformed change_id where it is required, an unknown runbook, and
an inventory with two hosts on one cluster or a host without a kubeconfig stop before anything runs."""
import json
import time

import pytest
import yaml
from kubernetes import client

from istio_runbooks.run import main
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import run_playbook

NS = "ticket-shop"
CHANGE = "CHG0001313"
INPUTS = ['{"sidecar_injection_namespaces": ["%s"]}' % NS]
POLICY = ['{"authorization_policy_namespace": "%s", "authorization_policy_deny_by_default": true}' % NS]
WRITE_VERBS = {"create", "update", "patch"}
# The API objects the run writes whose readback is not the object (subresources, reviews, pods the controllers make).
NOT_OBJECTS = {"events", "pods", "replicasets", "leases", "endpointslices", "endpoints"}


@pytest.fixture(scope="module")
def shop(installed_mesh, api_client):
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.create_namespace({"metadata": {"name": NS}})
    for name in ("cart", "checkout"):
        apps.create_namespaced_deployment(NS, deployment(name))
    wait_for(lambda: all_available(api_client, [NS]), timeout=120)
    yield NS
    core.delete_namespace(NS)
    # gone before the next suite: its policies would show up in that suite's istioctl analyze
    wait_for(lambda: NS not in [n.metadata.name for n in core.list_namespace().items], timeout=180)


def report(folder):
    return json.loads((folder / "evidence" / "report.json").read_text())


def audited_writes(audit, since):
    time.sleep(1)  # let the audit log writer catch up
    return audit.writes(since)


def read_back(api_client, resource, namespace, name):
    if resource == "namespaces":
        return client.CoreV1Api(api_client).read_namespace(name).metadata
    if resource == "deployments":
        return client.AppsV1Api(api_client).read_namespaced_deployment(name, namespace).metadata
    if resource == "authorizationpolicies":
        obj = client.CustomObjectsApi(api_client).get_namespaced_custom_object(
            "security.istio.io", "v1", namespace, "authorizationpolicies", name)
        return client.V1ObjectMeta(**{"annotations": obj["metadata"].get("annotations"), "name": name})
    raise AssertionError("the run wrote a %s, which this test cannot read back: extend read_back" % resource)


def test_plan_then_run_with_a_ticket_through_ansible_runner(shop, api_client, audit, tmp_path, capsys):
    runner_dir = tmp_path / "runner"
    # the plan: --check (diffs on by default); the evidence report lists the planned changes, the audit log no writes
    since = now()
    rc = main(["sidecar-injection", "--change-id", CHANGE, "--check", "--artifacts-dir", str(runner_dir), "-e", INPUTS[0]])
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    assert audited_writes(audit, since) == [], "the plan wrote to the cluster"
    plan_dir = runner_dir / "artifacts" / (CHANGE + "-plan")
    assert "evidence: %s" % (plan_dir / "evidence" / "report.md") in out
    plan = report(plan_dir)
    assert plan["check_mode"] is True and plan["change_id"] == CHANGE
    planned = {c["ref"]: c for c in plan["hosts"]["sandbox"]["changes"]}
    assert "Namespace/%s" % NS in planned, planned.keys()
    assert planned["Namespace/%s" % NS]["after"]["metadata"]["labels"]["istio-injection"] == "enabled"
    assert "Planned changes" in (plan_dir / "evidence" / "report.md").read_text()

    # the run: two runbooks under one ticket (rollout restarts and a label patch; a server-side apply batch)
    since = now()
    rc = main(["sidecar-injection", "--change-id", CHANGE, "--change-url", "https://change.example.com/" + CHANGE,
               "--artifacts-dir", str(runner_dir), "-e", INPUTS[0]])
    out = capsys.readouterr().out
    assert rc == 0, out[-3000:]
    rc = main(["authorization", "--change-id", CHANGE, "--artifacts-dir", str(runner_dir), "-e", POLICY[0]])
    out2 = capsys.readouterr().out
    assert rc == 0, out2[-3000:]

    run_dir = runner_dir / "artifacts" / CHANGE
    assert (run_dir / "status").read_text() == "successful" and (run_dir / "rc").read_text() == "0"
    assert list((run_dir / "job_events").glob("*.json")), "job events under the ident"
    assert (runner_dir / "artifacts" / (CHANGE + ".2") / "evidence" / "report.json").exists(), "a second run, its own ident"
    evidence = report(run_dir)
    assert evidence["check_mode"] is False and evidence["change_url"].endswith(CHANGE)
    assert evidence["hosts"]["sandbox"]["status"] == "ok"
    changes = {c["ref"]: c for c in evidence["hosts"]["sandbox"]["changes"]}
    label = changes["Namespace/%s" % NS]
    assert "istio-injection" not in (label["before"]["metadata"].get("labels") or {})
    assert label["after"]["metadata"]["labels"]["istio-injection"] == "enabled"
    assert {"%s/Deployment/cart" % NS, "%s/Deployment/checkout" % NS} <= set(changes)
    verified = [v for v in evidence["hosts"]["sandbox"]["verifications"] if "Assert every pod in scope matches" in v["name"]]
    assert verified and verified[0]["passed"] is True, evidence["hosts"]["sandbox"]["verifications"]
    assert evidence["tasks"] and evidence["plays"], "timings per task and play"

    # every object the two runs wrote (the audit log's writes by the runbooks' user) carries the ticket
    writes = [w for w in audited_writes(audit, since) if w[0] in WRITE_VERBS and w[1] not in NOT_OBJECTS]
    assert {w[1] for w in writes} >= {"namespaces", "deployments", "authorizationpolicies"}, writes
    missing = []
    for verb, resource, namespace, name in sorted(set(writes)):
        annotations = read_back(api_client, resource, namespace, name).annotations or {}
        if annotations.get("istio-runbooks.io/change-id") != CHANGE or not annotations.get("istio-runbooks.io/changed-at"):
            missing.append("%s %s %s/%s: %s" % (verb, resource, namespace, name, annotations))
    assert missing == [], "written without the ticket annotation:\n" + "\n".join(missing)

    # a second run under another ticket writes nothing: the annotations are not a difference
    since = now()
    rc = main(["authorization", "--change-id", "CHG0001314", "--artifacts-dir", str(runner_dir), "-e", POLICY[0]])
    assert rc == 0, capsys.readouterr().out[-3000:]
    assert audited_writes(audit, since) == []


def test_malformed_change_id_where_required_and_unknown_runbook_stop_before_anything(installed_mesh, audit, tmp_path,
                                                                                       capsys):
    since = now()
    rc = main(["sidecar-injection", "--change-id", "CHG12", "--artifacts-dir", str(tmp_path),
               "-e", "change_ticket_required=true", "-e", '{"sidecar_injection_namespaces": ["default"]}'])
    out = capsys.readouterr().out
    assert rc != 0
    assert "change_id 'CHG12' (change_ticket_id) does not match ^CHG[0-9]{7}$" in out
    failed = report(tmp_path / "artifacts" / "CHG12")
    assert failed["hosts"]["sandbox"]["status"] == "failed", "the evidence report is written after a failure too"

    rc = main(["sidecar-injection", "--artifacts-dir", str(tmp_path), "-e", "change_ticket_required=true",
               "-e", '{"sidecar_injection_namespaces": ["default"]}'])
    assert rc != 0 and "change_id is required" in capsys.readouterr().out
    assert audited_writes(audit, since) == []

    with pytest.raises(SystemExit) as stopped:
        main(["mtls-strickt", "--change-id", CHANGE, "--artifacts-dir", str(tmp_path / "nope")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "unknown runbook 'mtls-strickt'; known runbooks:" in err and "mtls-strict" in err and "site" in err
    assert not (tmp_path / "nope").exists(), "nothing ran"


@pytest.mark.parametrize("runbook", ["playbooks/sidecar-injection.yml", "playbooks/mtls-strict.yml",
                                     "playbooks/gateways.yml"])
def test_every_runbook_refuses_a_bad_inventory_before_any_change(runbook, sandbox, audit, tmp_path):
    """Two hosts on one API server and context, and a host without a kubeconfig: the first role of every runbook
    (change_ticket) refuses the inventory, naming both problems, before any other task runs or anything is written."""
    shared = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
              "mesh_cluster_context": "sandbox"}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"mesh_clusters": {"vars": shared, "hosts": {
        "first": {"mesh_cluster_kubeconfig": str(sandbox.paths.kubeconfig)},
        "again": {"mesh_cluster_kubeconfig": str(sandbox.paths.kubeconfig)},  # the same cluster and context
        "nokubeconfig": {}}}}, sort_keys=False))
    since = now()
    run = run_playbook(runbook, {"sidecar_injection_namespaces": ["shop"], "mtls_policy_scope": "mesh",
                                 "change_ticket_evidence_dir": str(tmp_path / "evidence")},
                       inventory=str(inventory), timeout=300)
    assert run.rc != 0
    stdout = " ".join(run.stdout.split())
    assert ("hosts first and again are the same cluster (API server https://127.0.0.1:%d; contexts sandbox and sandbox)"
            % sandbox.ports.apiserver) in stdout
    assert "host nokubeconfig has no mesh_cluster_kubeconfig: set it" in stdout
    assert "Nothing was changed." in stdout
    [failed] = {e["event_data"]["task"] for e in run.events if e.get("event") == "runner_on_failed"}
    assert "Change_ticket | Assert every host is its own cluster, with a kubeconfig" in failed
    tasks = [e["event_data"]["task"] for e in run.events if e.get("event") == "playbook_on_task_start"
             and not e["event_data"]["task"].startswith("Validating arguments")]
    assert tasks and all("Change_ticket | " in t for t in tasks), tasks  # no other role started
    time.sleep(1)
    assert audit.writes(since) == []
