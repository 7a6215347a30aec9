"""Reliability: etcd slow, then briefly unavailable, and the API unreachable, while the injection runbook runs.

One run of playbooks/sidecar-injection.yml meets three faults:
- its namespace-label call (apply_objects) finds the API dropping connections for a few seconds: the module retries
  instead of failing at the first refused request;
- once the rollouts are under way, etcd is paused (SIGSTOP) for a few seconds: every request stalls;
- then etcd is stopped and started again by the sandbox, while kube-apiserver keeps running.
The run completes, a re-run changes nothing and writes nothing, and the objects are those of a clean converge:
nothing half-applied (every Deployment restarted exactly once, every pod with its sidecar).
"""
import contextlib
import json
import socket
import struct
import threading
import time
from pathlib import Path

import yaml
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, pods_with_sidecar, wait_for
from tests.helpers.playbook import run_playbook

APPS = ("web", "api", "db")
REPLICAS = 4
LABEL_TASK = "Set the injection labels"
PAUSE_SECONDS = 6
DROP_SECONDS = 4


class FlakyApi:
    """A TCP forwarder to kube-apiserver that, while dropping, resets every new connection (as an API server
    that restarts, or a load balancer that lost its backend, does)."""

    def __init__(self, port):
        self.upstream = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.dropped = 0
        self.drop_until = None
        threading.Thread(target=self._serve, daemon=True).start()

    def drop(self, seconds, cap=60):
        """Reset new connections from now until `seconds` after the first one reset (at most `cap` seconds)."""
        self.drop_until = {"seconds": seconds, "first": None, "cap": time.monotonic() + cap}

    def dropping(self):
        window = self.drop_until
        if window is None:
            return False
        clock = time.monotonic()
        if clock >= window["cap"] or (window["first"] is not None and clock >= window["first"] + window["seconds"]):
            self.drop_until = None
            return False
        if window["first"] is None:
            window["first"] = clock
        return True

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            if self.dropping():
                self.dropped += 1
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
                conn.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.upstream))
            for source, target in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self):
        self.listener.close()


def kubeconfig_through(proxy, sandbox, path):
    config = yaml.safe_load(Path(sandbox.paths.kubeconfig).read_text())
    for cluster in config["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:%d" % proxy.port
    path.write_text(yaml.safe_dump(config))
    return str(path)


def task_started(events_dir, name_part):
    for path in Path(events_dir).glob("*.json"):
        try:
            event = json.loads(path.read_text())
        except (OSError, ValueError):  # ansible-runner renames its partial event files
            continue
        if event.get("event") == "playbook_on_task_start" and name_part in event["event_data"].get("task", ""):
            return True
    return False


def restart_state(apps, namespace):
    """Per Deployment: its restartedAt annotation and how many ReplicaSets it has (one per template)."""
    sets = apps.list_namespaced_replica_set(namespace).items
    return {d.metadata.name: ((d.spec.template.metadata.annotations or {}).get("kubectl.kubernetes.io/restartedAt"),
                              sum(1 for s in sets if any(o.name == d.metadata.name
                                                         for o in s.metadata.owner_references or [])))
            for d in apps.list_namespaced_deployment(namespace).items}


def test_etcd_paused_and_restarted_mid_injection_is_survived_and_a_rerun_converges(
        sandbox, installed_mesh, api_client, namespace, audit, tmp_path):
    apps = client.AppsV1Api(api_client)
    for name in APPS:
        apps.create_namespaced_deployment(namespace, deployment(name, replicas=REPLICAS))
    wait_for(lambda: all_available(api_client, [namespace]))
    proxy = FlakyApi(sandbox.ports.apiserver)
    inputs = {"sidecar_injection_namespaces": [namespace], "sidecar_injection_timeout": 600}
    outcome = {}
    private = tmp_path / "runner"
    since = now()
    runner = threading.Thread(target=lambda: outcome.update(run=run_playbook(
        "playbooks/sidecar-injection.yml",
        {**inputs, "mesh_cluster_kubeconfig": kubeconfig_through(proxy, sandbox, tmp_path / "kubeconfig")},
        timeout=900, private_data_dir=private, ident="faults")))
    runner.start()
    apiserver_pid = sandbox._owned_pid("kube-apiserver")
    try:
        # fault 1: the API resets connections while the namespace labels are written
        wait_for(lambda: task_started(private / "artifacts" / "faults" / "job_events", LABEL_TASK)
                 or not runner.is_alive(), timeout=300, interval=0.05)
        proxy.drop(DROP_SECONDS)
        # fault 2: etcd paused once the first rollout patch went out; fault 3: etcd stopped and started again
        wait_for(lambda: any(verb == "patch" and resource == "deployments" and ns == namespace
                             for verb, resource, ns, _ in audit.writes(since)) or not runner.is_alive(),
                 timeout=300, interval=0.2)
        assert runner.is_alive(), "the run ended before the etcd faults:\n" + outcome["run"].stdout[-3000:]
        sandbox.pause("etcd")
        time.sleep(PAUSE_SECONDS)
        sandbox.resume("etcd")
        sandbox.restart("etcd")
        runner.join(timeout=900)
    finally:
        with contextlib.suppress(Exception):
            sandbox.resume("etcd")
        sandbox.up()
        proxy.close()
        # as after the kube-apiserver restart: istiod starts afresh, so later tests meet a healthy control plane
        sandbox.istiod_down()
        sandbox.istiod_up()
    assert sandbox._owned_pid("kube-apiserver") == apiserver_pid, "the etcd restart restarted kube-apiserver too"
    assert proxy.dropped >= 1, "no request met the dropped connections"
    run = outcome["run"]
    out = " ".join(run.stdout.split())
    assert run.rc == 0, out[-4000:]
    assert LABEL_TASK in out, out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    converged = restart_state(apps, namespace)

    rerun_since = now()
    rerun = run_playbook("playbooks/sidecar-injection.yml", inputs)
    assert rerun.rc == 0 and rerun.changed == 0, rerun.stdout[-3000:]
    assert audit.writes(rerun_since) == []

    # the objects of a clean converge: the namespace labelled; every Deployment restarted exactly once (one new
    # ReplicaSet beside the original), untouched by the re-run, and available; every pod with its sidecar
    labels = client.CoreV1Api(api_client).read_namespace(namespace).metadata.labels
    assert labels.get("istio-injection") == "enabled" or labels.get("istio.io/rev"), labels
    assert sorted(converged) == sorted(APPS)
    assert all(stamp and sets == 2 for stamp, sets in converged.values()), converged
    assert restart_state(apps, namespace) == converged
    wait_for(lambda: all_available(api_client, [namespace]))
    total, injected = pods_with_sidecar(api_client, [namespace])
    assert total == len(APPS) * REPLICAS and injected == total, (total, injected)
