"""Benchmark: restart and wait for 200 Deployments (20 namespaces x 10) on the sandbox, side by side:

  sequential - a plain loop of `kubectl rollout restart` + `kubectl rollout status`, one Deployment at a time
  operator   - what a careful operator writes: `kubectl rollout restart deploy -n <ns>` once per namespace, then
               `kubectl rollout status` for every Deployment, 10 at a time (`xargs -P 10`)
  module     - istio_runbooks.mesh.rollout_restart through ansible-playbook, bounded concurrency
  floor      - every restart patch sent at once from Python, then one cluster-wide list per poll until the last
               rollout completes: the controller manager's own speed on this machine

Usage: .venv/bin/python bench/rollout_restart.py [--namespaces 20] [--per-namespace 10] [--concurrency 50]
                                                [--pod-ready-delay-ms 2000] [--json out.json]
Needs the sandbox up (python -m sandbox up). Prints a Markdown table of wall time and API requests (from the
audit log), each method against the floor.
"""
import argparse
import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kubernetes import client, config  # noqa: E402

from sandbox.cluster import Sandbox  # noqa: E402
from tests.helpers.audit import AuditLog, now  # noqa: E402
from tests.helpers.cluster import all_available, create_fleet, delete_namespaces, wait_for  # noqa: E402
from tests.helpers.playbook import run_playbook  # noqa: E402


def requests_since(audit, since):
    return sum(1 for e in audit.events(since) if e.get("user", {}).get("username") == "sandbox-admin")


def kubectl_loop(box, namespaces, per_namespace):
    kubectl = [str(box.bin("kubectl")), "--kubeconfig", str(box.paths.kubeconfig)]
    for ns in namespaces:
        for j in range(per_namespace):
            name = "deployment/app-%02d" % j
            subprocess.run(kubectl + ["-n", ns, "rollout", "restart", name], check=True, capture_output=True)
            subprocess.run(kubectl + ["-n", ns, "rollout", "status", name, "--timeout=120s"], check=True,
                           capture_output=True)


def operator_script(box, namespaces, per_namespace):
    """A restart per namespace, then the status waits run 10 at a time: the careful operator's bash."""
    kubectl = " ".join(shlex.quote(a) for a in [str(box.bin("kubectl")), "--kubeconfig", str(box.paths.kubeconfig)])
    pairs = "\n".join("%s app-%02d" % (ns, j) for ns in namespaces for j in range(per_namespace))
    script = """set -euo pipefail
for ns in %s; do %s rollout restart deploy -n "$ns" >/dev/null; done
printf '%%s\\n' %s | xargs -P 10 -L 1 sh -c '%s -n "$0" rollout status "deployment/$1" --timeout=120s >/dev/null'
""" % (" ".join(namespaces), kubectl, shlex.quote(pairs), kubectl)
    subprocess.run(["bash", "-c", script], check=True)


def floor_run(namespaces, per_namespace):
    """All patches at once, then one list per poll until every rollout has completed."""
    configuration = client.Configuration.get_default_copy()
    config.load_kube_config(str(box.paths.kubeconfig), context="sandbox", client_configuration=configuration)
    configuration.connection_pool_maxsize = len(namespaces) * per_namespace
    apps = client.AppsV1Api(client.ApiClient(configuration))
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}}}
    targets = [(ns, "app-%02d" % j) for ns in namespaces for j in range(per_namespace)]
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        generations = dict(((ns, name), dep.metadata.generation) for (ns, name), dep in zip(targets, pool.map(
            lambda t: apps.patch_namespaced_deployment(t[1], t[0], body), targets)))
    while True:
        done = 0
        for dep in apps.list_deployment_for_all_namespaces(label_selector="app").items:
            key = (dep.metadata.namespace, dep.metadata.name)
            s = dep.status
            if key in generations and (s.observed_generation or 0) >= generations[key] and \
                    s.updated_replicas == dep.spec.replicas and s.available_replicas == dep.spec.replicas and \
                    (s.replicas or 0) == dep.spec.replicas:
                done += 1
        if done == len(targets):
            return
        time.sleep(0.1)


def module_run(concurrency):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = run_playbook("tests/sandbox/playbooks/rollout_restart.yml", {
            "restart_args": {"namespaces": ["bench-%02d" % i for i in range(args.namespaces)], "kinds": ["Deployment"],
                             "concurrency": concurrency, "batch_size": 1000},
            "result_file": out.name})
        if run.rc != 0:
            sys.exit(run.stdout[-3000:])
        result = json.load(open(out.name))
    assert len(result["restarted"]) == args.namespaces * args.per_namespace, result
    module_stats.update(elapsed=result["elapsed"], api_calls=result["api_calls"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--pod-ready-delay-ms", type=int, default=0,
                        help="how long a new pod takes to become Ready (kwok stage delay); 0 = at once")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to this JSON file")
    args = parser.parse_args()
    os.environ["PATH"] = "%s:%s" % (ROOT / ".venv" / "bin", os.environ["PATH"])

    box = Sandbox(out=lambda *_: None)
    box.up()
    if args.pod_ready_delay_ms:
        os.environ["SANDBOX_POD_READY_DELAY_MS"] = str(args.pod_ready_delay_ms)
        box.restart_kwok()
    api = config.new_client_from_config(str(box.paths.kubeconfig), context="sandbox")
    audit = AuditLog(box.paths.audit_log)
    core = client.CoreV1Api(api)
    wait_for(lambda: not core.list_namespace(label_selector="fleet=bench").items, timeout=300)  # an earlier run's
    module_stats = {}
    total = args.namespaces * args.per_namespace
    namespaces = ["bench-%02d" % i for i in range(args.namespaces)]
    try:
        create_fleet(api, "bench", args.namespaces, args.per_namespace)
        methods = [
            ("sequential", "kubectl rollout restart + status, one Deployment at a time",
             lambda: kubectl_loop(box, namespaces, args.per_namespace)),
            ("operator", "kubectl rollout restart per namespace + rollout status, xargs -P 10",
             lambda: operator_script(box, namespaces, args.per_namespace)),
            ("module", "rollout_restart module, concurrency %d (ansible-playbook start-up included)" % args.concurrency,
             lambda: module_run(args.concurrency)),
            ("floor", "floor: all %d patches at once, one list per poll" % total,
             lambda: floor_run(namespaces, args.per_namespace)),
        ]
        rows = []
        for key, label, work in methods:
            wait_for(lambda: all_available(api, namespaces), timeout=300)
            since, start = now(), time.monotonic()
            work()
            elapsed = time.monotonic() - start
            time.sleep(1)  # let the audit log catch up with the last requests
            rows.append({"method": key, "label": label, "seconds": round(elapsed, 1),
                         "api_requests": requests_since(audit, since)})
        floor = rows[-1]["seconds"]
        print("\n%d Deployments in %d namespaces, restarted and waited for; a new pod is Ready after %d ms; "
              "%d CPU cores:\n" % (total, args.namespaces, args.pod_ready_delay_ms, os.cpu_count()))
        print("| method | wall time | x floor | API requests |")
        print("|---|---|---|---|")
        for row in rows:
            print("| %s | %.1f s | %.1fx | %d |" % (row["label"], row["seconds"], row["seconds"] / floor,
                                                  row["api_requests"]))
        print("\ninside the module: %.1f s for selection, restarts and waits, %d API requests"
              % (module_stats["elapsed"], module_stats["api_calls"]))
        if args.json:
            Path(args.json).write_text(json.dumps({
                "scenario": "restart %d Deployments" % total, "namespaces": args.namespaces,
                "per_namespace": args.per_namespace, "concurrency": args.concurrency,
                "pod_ready_delay_ms": args.pod_ready_delay_ms, "cpu_cores": os.cpu_count(),
                "machine": platform.platform(), "rows": rows, "module_inside": module_stats}, indent=1) + "\n")
    finally:
        delete_namespaces(api, namespaces)
        if args.pod_ready_delay_ms:
            os.environ["SANDBOX_POD_READY_DELAY_MS"] = "0"
            box.restart_kwok()
