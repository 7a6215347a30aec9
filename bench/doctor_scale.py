"""Benchmark: playbooks/doctor.yml against the plain commands that answer the same questions, in one run.

  plain   - istioctl proxy-status; istioctl analyze -A; kubectl get pods -A -o json; kubectl get deploy -n
            istio-system, crd, mutating/validatingwebhookconfigurations; then per namespace: kubectl get namespace,
            kubectl get pods -n NS -o json, kubectl get peerauthentications,destinationrules -n NS -o json
  doctor  - ansible-playbook playbooks/doctor.yml (every post-install check, one report)

Usage: .venv/bin/python bench/doctor_scale.py [--namespaces 50] [--pods 20] [--json out.json]
Runs in a scratch sandbox (bench/scratch.py, port shift $BENCH_PORT_SHIFT, else 7500) with Istio installed,
NS x PODS injected pods and one simulated sidecar per pod connected to istiod. Wall time and API requests
(from the audit log) per method.
"""
import argparse
import json
import os
import subprocess
import sys
import time

from kubernetes import client, config

from scratch import ansible_playbook, requests_since, scratch_sandbox
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, wait_for


def fleet(api, namespaces, pods):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    names = ["doc-%02d" % i for i in range(namespaces)]
    for ns in names:
        core.create_namespace({"metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}})
        apps.create_namespaced_deployment(ns, deployment("web", replicas=pods))
    wait_for(lambda: all_available(api, names), timeout=900, interval=3)
    return names


def plain(box, namespaces):
    kubectl = [str(box.bin("kubectl")), "--kubeconfig", str(box.paths.kubeconfig)]
    istioctl = [str(box.bin("istioctl")), "--kubeconfig", str(box.paths.kubeconfig)]
    commands = [istioctl + ["proxy-status"], istioctl + ["analyze", "-A"], kubectl + ["get", "pods", "-A", "-o", "json"],
                kubectl + ["get", "deploy", "-n", "istio-system"], kubectl + ["get", "crd"],
                kubectl + ["get", "mutatingwebhookconfigurations,validatingwebhookconfigurations"]]
    for ns in namespaces:
        commands += [kubectl + ["get", "namespace", ns, "-o", "json"], kubectl + ["get", "pods", "-n", ns, "-o", "json"],
                     kubectl + ["get", "peerauthentications,destinationrules", "-n", ns, "-o", "json"]]
    for command in commands:
        subprocess.run(command, capture_output=True, check=False, timeout=300)
    return len(commands)


def measure(audit, work):
    since, start = now(), time.monotonic()
    detail = work()
    seconds = time.monotonic() - start
    requests, writes = requests_since(audit, since)
    return seconds, requests, writes, detail


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--pods", type=int, default=20, help="pods per namespace")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = []
    with scratch_sandbox(port_shift=int(os.environ.get("BENCH_PORT_SHIFT", "7500"))) as (box, env, audit):
        ansible_playbook(env, "playbooks/install.yml")
        api = config.new_client_from_config(str(box.paths.kubeconfig), context="sandbox")
        namespaces = fleet(api, args.namespaces, args.pods)
        streams = box.proxies_up(namespaces, timeout=600)
        print("bench: %d pods in %d namespaces, %d simulated sidecars" % (args.namespaces * args.pods,
                                                                           args.namespaces, streams), file=sys.stderr)
        extra = json.dumps({"mesh_doctor_analyze_ignore_codes": ["IST0139"], "mesh_doctor_fail": False})
        for label, work in (
                ("plain: istioctl proxy-status + analyze -A + kubectl get pods -A + per-namespace gets",
                 lambda: "%d commands" % plain(box, namespaces)),
                ("playbooks/doctor.yml (all post-install checks, one report)",
                 lambda: ansible_playbook(env, "playbooks/doctor.yml", "-e", extra)[1])):
            seconds, requests, writes, detail = measure(audit, work)
            rows.append({"method": label, "seconds": round(seconds, 1), "requests": requests, "writes": writes,
                         "detail": detail})
        box.proxies_down()
    base = rows[0]["seconds"]
    print("| method | wall time | vs plain | API requests | of them writes |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.1f s | %.2fx | %d | %d |" % (row["method"], row["seconds"], row["seconds"] / base,
                                                  row["requests"], row["writes"]))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
