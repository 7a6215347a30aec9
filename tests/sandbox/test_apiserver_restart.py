"""Reliability: kube-apiserver restarted while the injection runbook waits for its rollouts.

The modules retry transient failures (connection refused, 503, etcd timeouts), so the run survives the restart;
a re-run then changes nothing, and the objects are those of a clean converge.
"""
import threading
import time

from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, pods_with_sidecar, wait_for
from tests.helpers.playbook import run_playbook

APPS = ("web", "api", "db")
REPLICAS = 6  # a rollout of several pods per Deployment: the restart lands while the runbook waits


def restarted(apps, namespace):
    return [d.metadata.name for d in apps.list_namespaced_deployment(namespace).items
            if "kubectl.kubernetes.io/restartedAt" in (d.spec.template.metadata.annotations or {})]


def test_apiserver_restart_mid_injection_is_survived_and_a_rerun_converges(sandbox, installed_mesh, api_client,
                                                                          namespace, audit):
    apps = client.AppsV1Api(api_client)
    for name in APPS:
        apps.create_namespaced_deployment(namespace, deployment(name, replicas=REPLICAS))
    wait_for(lambda: all_available(api_client, [namespace]))
    inputs = {"sidecar_injection_namespaces": [namespace], "sidecar_injection_timeout": 600}
    outcome = {}
    since = now()
    runner = threading.Thread(target=lambda: outcome.update(
        run=run_playbook("playbooks/sidecar-injection.yml", inputs, timeout=900)))
    runner.start()
    # the first rollout patch: from here on the module polls the rollouts
    wait_for(lambda: any(verb == "patch" and resource == "deployments" and ns == namespace
                         for verb, resource, ns, _ in audit.writes(since)) or not runner.is_alive(),
             timeout=300, interval=0.2)
    assert runner.is_alive(), "the run ended before the restart:\n" + outcome["run"].stdout[-3000:]
    sandbox._stop("kube-apiserver")
    stopped = time.monotonic()
    try:
        sandbox.up()
        print("kube-apiserver was away for %.1f s" % (time.monotonic() - stopped))
        runner.join(timeout=900)
    finally:
        # the out-of-cluster istiod's informers can stay behind the restarted API server (as the controller
        # manager's did): start it afresh, so the tests after this one meet a healthy control plane
        sandbox.istiod_down()
        sandbox.istiod_up()
    run = outcome["run"]
    out = " ".join(run.stdout.split())
    assert run.rc == 0, out[-4000:]
    assert "HTTPSConnectionPool" not in out and "Traceback" not in out, out[-4000:]

    rerun = run_playbook("playbooks/sidecar-injection.yml", inputs)
    assert rerun.rc == 0 and rerun.changed == 0, rerun.stdout[-3000:]

    # the objects of a clean converge: the namespace labelled, every Deployment restarted once and available,
    # every pod with its sidecar
    labels = client.CoreV1Api(api_client).read_namespace(namespace).metadata.labels
    assert labels.get("istio-injection") == "enabled" or labels.get("istio.io/rev"), labels
    assert sorted(restarted(apps, namespace)) == sorted(APPS)
    wait_for(lambda: all_available(api_client, [namespace]))
    total, injected = pods_with_sidecar(api_client, [namespace])
    assert total == len(APPS) * REPLICAS and injected == total, (total, injected)
