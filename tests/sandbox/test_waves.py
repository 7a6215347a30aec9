"""Two sandbox clusters as two waves (inventories/sandbox-waves): the canary converges before the second cluster
starts, a failure on the canary stops the second and the output says so, and a bad inventory is refused once,
before any change. The second sandbox comes up once for this module and goes down after it."""
import datetime

import pytest
import yaml
from kubernetes import client, config as kube_config

from tests.helpers.audit import AuditLog, now
from tests.helpers.playbook import run_playbook

INVENTORY = "inventories/sandbox-waves/hosts.yml"
CANARY, SECOND = "sandbox-canary", "sandbox-second"
INSTALL_PLAY = "Istio | Install the control plane"
CHECK_PLAY = "Cluster | Check reachability, version and permissions"
# site.yml steps 1 and 2: the cluster check, then the control plane
STEPS = {"site_sidecar_injection": False, "site_mtls": False, "site_observability_addons": False, "site_summary": False}


@pytest.fixture(scope="module")
def second_sandbox(sandbox):
    from sandbox.cluster import Sandbox
    box = Sandbox(cluster="second", out=lambda *_: None)
    box.up()
    yield box
    box.down()


def task_times(run, play):
    """{host: (first task start, last task end)} for one play, from the runner's job events."""
    spans = {}
    for event in run.events:
        data = event.get("event_data", {})
        if event.get("event") in ("runner_on_ok", "runner_on_failed", "runner_on_skipped") and data.get("play") == play:
            start = datetime.datetime.fromisoformat(data["start"])
            end = datetime.datetime.fromisoformat(data["end"])
            first, last = spans.get(data["host"], (start, end))
            spans[data["host"]] = (min(first, start), max(last, end))
    return spans


def waves_section(stdout):
    return stdout.split("WAVES (final status per cluster)", 1)[1].split("\n", 1)[1].strip().splitlines()


def test_the_canary_converges_before_the_second_wave_starts(installed_mesh, second_sandbox):
    run = run_playbook("site.yml", STEPS, inventory=INVENTORY, timeout=900)
    assert run.rc == 0, run.stdout[-3000:]
    assert "Clusters of this run, wave by wave: canary: sandbox-canary; wave1: sandbox-second" in run.stdout
    for play in (CHECK_PLAY, INSTALL_PLAY):
        spans = task_times(run, play)
        assert spans[CANARY][1] <= spans[SECOND][0], (play, spans)  # wave1 starts when the canary is done
    # waves go play by play: every cluster passed its check before the canary's install began
    assert task_times(run, CHECK_PLAY)[SECOND][1] <= task_times(run, INSTALL_PLAY)[CANARY][0]
    assert [line.split()[:3] for line in waves_section(run.stdout)] == [
        [CANARY, "canary", "ok"], [SECOND, "wave1", "ok"]]
    # the second cluster has its own control plane, served by its own istiod
    api = kube_config.new_client_from_config(str(second_sandbox.paths.kubeconfig), context="sandbox")
    istiod = client.AppsV1Api(api).read_namespaced_deployment("istiod", "istio-system")
    assert istiod.status.available_replicas == 1
    assert any(row["name"] == "istiod-default" and row["running"] for row in second_sandbox.status())


def test_a_failed_canary_stops_the_second_wave_and_the_output_says_so(second_sandbox):
    since = now()
    # an invalid input on the canary only (an extra variable is templated per host)
    bad = {"istio_install_profile": "{{ 'demoo' if inventory_hostname == '%s' else 'demo' }}" % CANARY}
    run = run_playbook("site.yml", dict(STEPS, **bad), inventory=INVENTORY, timeout=600)
    assert run.rc != 0
    assert run.count("failures", CANARY) == 1 and run.count("failures", SECOND) == 0
    assert "value of istio_install_profile must be one of" in " ".join(run.stdout.split())
    assert SECOND in task_times(run, CHECK_PLAY) and SECOND not in task_times(run, INSTALL_PLAY)
    lines = waves_section(run.stdout)
    assert lines[0].split()[:3] == [CANARY, "canary", "FAILED"] and INSTALL_PLAY in lines[0]
    assert lines[1] == ("%s  wave1   STOPPED  last play here: '%s'; the run stopped when %s (canary) failed"
                        % (SECOND, CHECK_PLAY, CANARY))
    assert lines[2].startswith("not started for any cluster: 'Step 3 | Sidecar injection")
    assert AuditLog(second_sandbox.paths.audit_log).writes(since) == []


def test_a_bad_inventory_is_refused_once_before_any_change(sandbox, second_sandbox, tmp_path, audit):
    since = now()
    shared = {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
              "mesh_cluster_context": "sandbox"}
    inventory = {"mesh_clusters": {"vars": shared, "hosts": {
        "first": {"mesh_cluster_kubeconfig": str(sandbox.paths.kubeconfig)},
        "again": {"mesh_cluster_kubeconfig": str(sandbox.paths.kubeconfig)},  # the same cluster and context
        "second": {"mesh_cluster_kubeconfig": str(second_sandbox.paths.kubeconfig)},
        "nokubeconfig": {},
    }}}
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))
    run = run_playbook("playbooks/cluster-check.yml", inventory=str(path), timeout=300)
    assert run.rc != 0
    stdout = " ".join(run.stdout.split())
    assert "hosts first and again are the same cluster (API server https://127.0.0.1:%d; contexts sandbox and " \
           "sandbox)" % sandbox.ports.apiserver in stdout
    assert "host nokubeconfig has no mesh_cluster_kubeconfig: set it" in stdout
    assert "again - STOPPED" in stdout and "second - STOPPED" in stdout
    assert not run.task_results("Ask the API server")  # refused before any cluster was read
    assert audit.writes(since) == [] and AuditLog(second_sandbox.paths.audit_log).writes(since) == []
