"""Benchmark: sidecar injection at scale, the runbook against the plain script, in one run.

  script   - per namespace: kubectl label istio-injection=enabled, kubectl rollout restart deployment -n NS,
             then kubectl rollout status for each Deployment, in sequence
  runbook  - ansible-playbook playbooks/sidecar-injection.yml for all namespaces (label, restart, verify)

Usage: .venv/bin/python bench/injection_scale.py [--namespaces 100] [--per-namespace 10] [--json out.json]
Runs in a scratch sandbox (bench/scratch.py) with Istio installed; both start from the same uninjected fleet.
"""
import argparse
import json
import subprocess
import time
from pathlib import Path

from kubernetes import config

from scratch import ansible_playbook, requests_since, scratch_sandbox
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, create_fleet, pods_with_sidecar, wait_for


def plain_script(box, namespaces, per_namespace):
    kubectl = [str(box.bin("kubectl")), "--kubeconfig", str(box.paths.kubeconfig)]
    for ns in namespaces:
        subprocess.run(kubectl + ["label", "namespace", ns, "istio-injection=enabled", "--overwrite"], check=True,
                       capture_output=True)
        subprocess.run(kubectl + ["-n", ns, "rollout", "restart", "deployment"], check=True, capture_output=True)
        for j in range(per_namespace):
            subprocess.run(kubectl + ["-n", ns, "rollout", "status", "deployment/app-%02d" % j, "--timeout=300s"],
                           check=True, capture_output=True)


def reset(box, namespaces):
    """Back to the uninjected fleet: no label, pods without sidecar."""
    kubectl = [str(box.bin("kubectl")), "--kubeconfig", str(box.paths.kubeconfig)]
    for ns in namespaces:
        subprocess.run(kubectl + ["label", "namespace", ns, "istio-injection-"], check=True, capture_output=True)
        subprocess.run(kubectl + ["-n", ns, "rollout", "restart", "deployment"], check=True, capture_output=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=100)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    total = args.namespaces * args.per_namespace
    rows = []
    with scratch_sandbox() as (box, env, audit):
        ansible_playbook(env, "playbooks/install.yml")
        api = config.new_client_from_config(str(box.paths.kubeconfig), context="sandbox")
        namespaces = create_fleet(api, "scale", args.namespaces, args.per_namespace)
        extra = json.dumps({"sidecar_injection_namespaces": namespaces})
        for label, work in (
                ("plain script: label, rollout restart per namespace, rollout status per Deployment",
                 lambda: (plain_script(box, namespaces, args.per_namespace), None)[1]),
                ("playbooks/sidecar-injection.yml", lambda: ansible_playbook(env, "playbooks/sidecar-injection.yml",
                                                                             "-e", extra)[1])):
            wait_for(lambda: all_available(api, namespaces) and pods_with_sidecar(api, namespaces)[1] == 0,
                     timeout=900)
            since, start = now(), time.monotonic()
            recap = work()
            seconds = time.monotonic() - start
            requests, writes = requests_since(audit, since)
            pods, injected = pods_with_sidecar(api, namespaces)
            rows.append({"run": label, "seconds": round(seconds, 1), "requests": requests, "writes": writes,
                         "injected": "%d/%d" % (injected, pods), "recap": recap or ""})
            reset(box, namespaces)
    print("\n%d Deployments in %d namespaces: enable injection, restart, wait until every pod has its sidecar\n"
          % (total, args.namespaces))
    print("| method | wall time | API requests | of them writes | pods injected |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.1f s | %d | %d | %s |" % (row["run"], row["seconds"], row["requests"], row["writes"],
                                                row["injected"]))
    print("\nrunbook / script: %.2fx" % (rows[1]["seconds"] / rows[0]["seconds"]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
