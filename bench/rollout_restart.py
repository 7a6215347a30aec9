"""Benchmark: restart and wait for 200 Deployments (20 namespaces x 10) on the sandbox, side by side:

  kubectl  - a plain sequential loop of `kubectl rollout restart` + `kubectl rollout status`
  module   - istio_runbooks.mesh.rollout_restart through ansible-playbook, bounded concurrency

Usage: .venv/bin/python bench/rollout_restart.py [--namespaces 20] [--per-namespace 10] [--concurrency 50]
                                                [--pod-ready-delay-ms 2000]
Needs the sandbox up (python -m sandbox up). Prints wall time, API requests (from the audit log) and the ratio.
"""
import argparse
import json
import tempfile
import os
import subprocess
import sys
import time
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
        rows = []
        for label, work in (("kubectl rollout restart + status, sequential", lambda: kubectl_loop(
                box, namespaces, args.per_namespace)),
                            ("rollout_restart module, concurrency %d" % args.concurrency, lambda: module_run(
                                args.concurrency))):
            wait_for(lambda: all_available(api, namespaces), timeout=300)
            since, start = now(), time.monotonic()
            work()
            elapsed = time.monotonic() - start
            rows.append((label, elapsed, requests_since(audit, since)))
        print("\n%d Deployments in %d namespaces, restarted and waited for; a new pod is Ready after %d ms:\n"
              % (total, args.namespaces, args.pod_ready_delay_ms))
        print("| method | wall time | API requests |")
        print("|---|---|---|")
        for label, elapsed, requests in rows:
            print("| %s | %.1f s | %d |" % (label, elapsed, requests))
        print("\nspeed-up, end to end (ansible-playbook start-up included): %.1fx" % (rows[0][1] / rows[1][1]))
        print("inside the module: %.1f s for selection, restarts and waits, %d API requests; speed-up %.1fx"
              % (module_stats["elapsed"], module_stats["api_calls"], rows[0][1] / module_stats["elapsed"]))
    finally:
        delete_namespaces(api, namespaces)
        if args.pod_ready_delay_ms:
            os.environ["SANDBOX_POD_READY_DELAY_MS"] = "0"
            box.restart_kwok()
