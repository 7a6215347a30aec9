"""Module invocations per runbook do not grow with the namespace count: reads list once per kind and writes
go in one call, never a loop of module calls over namespaces."""
import uuid

import pytest

from tests.helpers.cluster import create_fleet, delete_namespaces
from tests.helpers.playbook import run_playbook


@pytest.fixture(scope="module")
def hundred_namespaces(api_client):
    """100 empty namespaces labelled invocations=<run>; the first 10 also invocations-few=<run>."""
    run_id = "inv-%s" % uuid.uuid4().hex[:6]
    names = create_fleet(api_client, run_id, namespaces=100, per_namespace=0, labels={"invocations": run_id})
    from kubernetes import client

    core = client.CoreV1Api(api_client)
    for name in names[:10]:
        core.patch_namespace(name, {"metadata": {"labels": {"invocations-few": run_id}}})
    yield run_id
    delete_namespaces(api_client, names)


def invocations(run):
    """(task, action, invocations) per task that ran: a looped task counts once per item."""
    counted = []
    for event in run.events:
        if event.get("event") not in ("runner_on_ok", "runner_on_failed"):
            continue
        data = event["event_data"]
        results = (data.get("res") or {}).get("results")
        counted.append((data.get("task"), data.get("task_action"), len(results) if isinstance(results, list) else 1))
    return counted


def test_sidecar_injection_makes_as_many_module_calls_for_100_namespaces_as_for_10(hundred_namespaces):
    runs = {}
    run_id = hundred_namespaces
    for size, selector in ((10, "invocations-few=" + run_id), (100, "invocations=" + run_id)):
        run = run_playbook("playbooks/sidecar-injection.yml", {"sidecar_injection_namespace_selector": selector},
                           check=True)
        assert run.rc == 0, run.stdout[-3000:]
        assert any("Would restart 0" in str(e["event_data"].get("res", {}).get("msg", "")) for e in run.events
                   if e.get("event") == "runner_on_ok"), "the run reached the restart report"
        runs[size] = invocations(run)
    assert sum(n for _, _, n in runs[100]) == sum(n for _, _, n in runs[10]), (
        "module invocations grow with the namespace count:\n10: %s\n100: %s" % (runs[10], runs[100]))
    assert runs[100] == runs[10]
    assert all(n == 1 for _, _, n in runs[100]), "no task loops: %s" % [r for r in runs[100] if r[2] != 1]
