"""Benchmark: site.yml on a fresh sandbox cluster, side by side with istioctl on the same cluster.

  first      - ansible-playbook site.yml on a cluster without Istio
  no-op      - the same again: nothing to change (write requests counted from the audit log)
  check      - ansible-playbook site.yml --check --diff (the plan)
  istioctl   - istioctl install -f <the same IstioOperator> -y on the installed cluster (the floor)

Usage: .venv/bin/python bench/site_converge.py [--json out.json]
Runs in a scratch sandbox (bench/scratch.py). Prints a Markdown table.
"""
import argparse
import json
import subprocess
import time
from pathlib import Path

from scratch import ARTIFACTS, ansible_playbook, requests_since, scratch_sandbox
from tests.helpers.audit import now


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = []
    with scratch_sandbox() as (box, env, audit):
        for label, extra in (("site.yml, first converge", ()), ("site.yml, no-op re-run", ()),
                             ("site.yml --check --diff", ("--check", "--diff"))):
            since = now()
            seconds, recap = ansible_playbook(env, "site.yml", *extra)
            requests, writes = requests_since(audit, since)
            rows.append({"run": label, "seconds": round(seconds, 1), "requests": requests, "writes": writes,
                         "recap": recap})
        operator = next(ARTIFACTS.rglob("istio-operator*.yaml"))
        since, start = now(), time.monotonic()
        subprocess.run([str(box.bin("istioctl")), "--kubeconfig", str(box.paths.kubeconfig), "install", "-f",
                        str(operator), "-y"], check=True, capture_output=True)
        seconds = time.monotonic() - start
        requests, writes = requests_since(audit, since)
        rows.append({"run": "istioctl install -f <same IstioOperator> -y, installed cluster",
                     "seconds": round(seconds, 1), "requests": requests, "writes": writes, "recap": ""})
    first = rows[0]["seconds"]
    print("\n| run | wall time | vs first | API requests | of them writes | recap |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        print("| %s | %.1f s | %.2fx | %d | %d | %s |" % (row["run"], row["seconds"], row["seconds"] / first,
                                                      row["requests"], row["writes"], row["recap"]))
    print("\ncheck / no-op: %.2fx" % (rows[2]["seconds"] / rows[1]["seconds"]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
