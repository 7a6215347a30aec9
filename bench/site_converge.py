"""Benchmark: the full converge (site.yml) against the plain script doing the same work, each on a fresh
scratch sandbox with the same generated workloads (N namespaces x M Deployments, bench/fleet.py).

  plain script - bash, in sequence: istioctl install -f <the IstioOperator site.yml rendered> -y; the
                 sandbox's istiod (the runbook's install hook starts the same); per namespace kubectl label
                 istio-injection=enabled and kubectl rollout restart deploy; kubectl rollout status per
                 Deployment; kubectl apply the mesh-wide STRICT PeerAuthentication; kubectl apply Istio's
                 samples/addons (Prometheus, Grafana, Kiali, Jaeger; from the Go module cache) and their
                 rollout status
  first        - ansible-playbook site.yml with site_injection_namespaces = the generated namespaces
  no-op        - the same again: nothing to change (write requests counted from the audit log)
  check        - ansible-playbook site.yml --check --diff (the plan)
  istioctl     - istioctl install -f <the same IstioOperator> -y on the installed cluster (the floor)

Also the peak RSS of ansible-playbook (its largest process, and its whole process tree sampled every 0.5 s)
and of each sandbox process at the end of each method's run (VmHWM).

Usage: .venv/bin/python bench/site_converge.py [--namespaces 20] [--per-namespace 10] [--converge-only]
                                               [--json out.json]
Scratch sandboxes (bench/scratch.py) on ports shifted by $BENCH_PORT_SHIFT. Prints Markdown tables.
"""
import argparse
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kubernetes import config

from scratch import (ARTIFACTS, ROOT, ansible_playbook_measured, control_plane_peaks, requests_since,
                     scratch_sandbox)  # first: puts the repository on sys.path
from fleet import create_fleet, fleet_deployments  # noqa: I100
from report import machine, markdown_table, mib, run_measured
from tests.helpers.audit import now
from tests.helpers.cluster import pods_with_sidecar

ADDONS = ["prometheus", "grafana", "kiali", "jaeger"]  # Istio's samples/addons, as the role's four addons
ADDON_DEPLOYMENTS = ["prometheus", "grafana", "kiali", "jaeger"]
MESH_STRICT = """apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: istio-system}
spec: {mtls: {mode: STRICT}}
"""


def plain_converge_script(kubectl, istioctl, operator, istiod_up, namespaces, deployments, strict_file,
                          addon_files, addon_deployments):
    """The bash a careful operator runs for the full converge, one command after the other."""
    q = shlex.quote
    lines = ["set -euo pipefail",
             "%s install -f %s -y" % (istioctl, q(str(operator))),
             istiod_up]
    for ns in namespaces:
        lines.append("%s label namespace %s istio-injection=enabled --overwrite" % (kubectl, q(ns)))
        lines.append("%s rollout restart deploy -n %s" % (kubectl, q(ns)))
    for ns in namespaces:
        for name in deployments:
            lines.append("%s rollout status deploy/%s -n %s --timeout=600s" % (kubectl, q(name), q(ns)))
    lines.append("%s apply -f %s" % (kubectl, q(str(strict_file))))
    lines += ["%s apply -f %s" % (kubectl, q(str(path))) for path in addon_files]
    lines += ["%s rollout status deploy/%s -n istio-system --timeout=600s" % (kubectl, q(name))
              for name in addon_deployments]
    return "\n".join(lines) + "\n"


def samples_addons():
    """Istio's samples/addons manifests from the Go module cache at the sandbox's pinned Istio module."""
    sys.path.insert(0, str(ROOT))
    from sandbox.config import load_versions  # pylint: disable=import-outside-toplevel

    cache = os.environ.get("GOMODCACHE") or str(Path.home() / "go" / "pkg" / "mod")
    folder = Path(cache) / ("istio.io/istio@%s" % load_versions()["ISTIO_MODULE_VERSION"]) / "samples" / "addons"
    files = [folder / ("%s.yaml" % name) for name in ADDONS]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        sys.exit("bench: Istio's samples/addons are not in the module cache: %s (build the sandbox once)"
                 % ", ".join(missing))
    return files


def measure(audit, label, work):
    since = now()
    run = work()
    requests, writes = requests_since(audit, since)
    return {"run": label, "rc": run.get("rc", 0), "seconds": round(run["seconds"], 1), "requests": requests,
            "writes": writes,
            "ansible_largest_mib": mib(run["largest_kib"]) if "largest_kib" in run else None,
            "ansible_tree_mib": mib(run["tree_kib"]) if "tree_kib" in run else None, "recap": run.get("recap", "")}


def runbook_side(args, workdir):
    """site.yml first, no-op, check, then istioctl on the installed cluster; rows, sandbox peaks, injected."""
    rows = []
    with scratch_sandbox() as (box, env, audit):
        api = config.new_client_from_config(str(box.paths.kubeconfig), context="sandbox")
        namespaces = create_fleet(api, "conv", args.namespaces, args.per_namespace)
        progress("site.yml's sandbox: %d namespaces x %d Deployments Available" % (args.namespaces, args.per_namespace))
        extra = workdir / "site-vars.json"
        extra.write_text(json.dumps({"site_injection_namespaces": namespaces, "site_pre_injection_tasks": ""}))
        runs = [("site.yml, first converge", ())]
        if not args.converge_only:
            runs += [("site.yml, no-op re-run", ()), ("site.yml --check --diff", ("--check", "--diff"))]
        for label, more in runs:
            rows.append(measure(audit, label,
                                lambda more=more: ansible_playbook_measured(env, "site.yml", "-e", "@%s" % extra,
                                                                            *more)))
            progress("%(run)s: %(seconds).1f s, %(requests)d requests, %(writes)d writes, ansible-playbook peak RSS "
                     "%(ansible_largest_mib)s MiB (tree %(ansible_tree_mib)s MiB), %(recap)s" % rows[-1])
        operator = next(ARTIFACTS.rglob("istio-operator*.yaml"))
        shutil.copy(operator, workdir / "istio-operator.yaml")
        injected = "%d/%d" % pods_with_sidecar(api, namespaces)[::-1]
        if not args.converge_only:
            istioctl = [str(box.bin("istioctl")), "--kubeconfig", str(box.paths.kubeconfig), "install", "-f",
                        str(operator), "-y"]
            rows.append(measure(audit, "istioctl install -f <same IstioOperator> -y, installed cluster",
                                lambda: dict(zip(("rc", "seconds"), run_measured(
                                    istioctl, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)[:2]))))
        peaks = control_plane_peaks(box)
    rows[0]["injected"] = injected
    return rows, peaks


def plain_side(args, workdir):
    """The plain script on a fresh sandbox with the same fleet; its row and the sandbox's peaks."""
    with scratch_sandbox() as (box, env, audit):
        api = config.new_client_from_config(str(box.paths.kubeconfig), context="sandbox")
        namespaces = create_fleet(api, "conv", args.namespaces, args.per_namespace)
        progress("plain script's sandbox: %d namespaces x %d Deployments Available"
                 % (args.namespaces, args.per_namespace))
        strict = workdir / "mesh-strict.yaml"
        strict.write_text(MESH_STRICT)
        kubeconfig = shlex.quote(str(box.paths.kubeconfig))
        istiod_up = "(cd %s && SANDBOX_PORT_SHIFT=%s SANDBOX_STATE_DIR=%s %s -m sandbox istiod up >/dev/null)" % (
            shlex.quote(str(ROOT)), os.environ["SANDBOX_PORT_SHIFT"], shlex.quote(os.environ["SANDBOX_STATE_DIR"]),
            shlex.quote(sys.executable))
        script = plain_converge_script(
            "%s --kubeconfig %s" % (shlex.quote(str(box.bin("kubectl"))), kubeconfig),
            "%s --kubeconfig %s" % (shlex.quote(str(box.bin("istioctl"))), kubeconfig),
            workdir / "istio-operator.yaml", istiod_up, namespaces, fleet_deployments(args.per_namespace), strict,
            samples_addons(), ADDON_DEPLOYMENTS)
        path = workdir / "plain-converge.sh"
        path.write_text(script)
        with open(workdir / "plain-converge.log", "w") as log:
            row = measure(audit, "plain script: istioctl install, label + restart per namespace, rollout status "
                                 "per Deployment, STRICT, samples/addons",
                          lambda: dict(zip(("rc", "seconds"), run_measured(["bash", str(path)], stdout=log,
                                                                            stderr=log)[:2])))
        if row.pop("rc"):
            sys.exit("bench: the plain script failed:\n%s" % (workdir / "plain-converge.log").read_text()[-4000:])
        row["injected"] = "%d/%d" % pods_with_sidecar(api, namespaces)[::-1]
        peaks = control_plane_peaks(box)
    progress("plain script: %(seconds).1f s, %(requests)d requests, %(writes)d writes, injected %(injected)s" % row)
    return row, peaks


def progress(message):
    print("bench: %s %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--namespaces", type=int, default=20)
    parser.add_argument("--per-namespace", type=int, default=10)
    parser.add_argument("--converge-only", action="store_true",
                        help="leave out the no-op, --check and istioctl runs (the large case)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    # a timeout's SIGTERM still stops the scratch sandboxes (the context managers' cleanup)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: stopped by SIGTERM"))
    before = machine()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        rows, runbook_peaks = runbook_side(args, workdir)
        plain, plain_peaks = plain_side(args, workdir)
    after = machine()
    rows.insert(0, plain)
    base = plain["seconds"]
    print("\nFull converge of %d Deployments in %d namespaces; %d cores, load average %s before, %s after\n"
          % (args.namespaces * args.per_namespace, args.namespaces, before["cpu_cores"],
             "/".join(map(str, before["load_average"])), "/".join(map(str, after["load_average"]))))
    print(markdown_table(
        ["run", "wall time", "vs plain script", "API requests", "of them writes",
         "ansible-playbook peak RSS: largest process / whole tree", "pods injected", "recap"],
        [[r["run"], "%.1f s" % r["seconds"], "%.2fx" % (r["seconds"] / base), r["requests"], r["writes"],
          "%s / %s MiB" % (r["ansible_largest_mib"], r["ansible_tree_mib"]) if r["ansible_largest_mib"] else "",
          r.get("injected", ""), r["recap"]] for r in rows]))
    print("\nsite.yml first converge / plain script: %.2fx (goal: 0.8x or less)" % (rows[1]["seconds"] / base))
    if not args.converge_only:
        print("no-op / first converge: %.2fx; check / no-op: %.2fx"
              % (rows[2]["seconds"] / rows[1]["seconds"], rows[3]["seconds"] / rows[2]["seconds"]))
    print("\nPeak RSS (VmHWM) of the sandbox processes at the end of each run:\n")
    names = list(dict.fromkeys(list(runbook_peaks) + list(plain_peaks)))
    print(markdown_table(["process", "site.yml's sandbox", "plain script's sandbox"],
                         [[n, "%.1f MiB" % mib(runbook_peaks.get(n, 0)), "%.1f MiB" % mib(plain_peaks.get(n, 0))]
                          for n in names]))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({
            "scenario": "full converge", "namespaces": args.namespaces, "per_namespace": args.per_namespace,
            "machine_before": before, "machine_after": after, "rows": rows,
            "sandbox_peak_rss_mib": {"site.yml": {n: mib(v) for n, v in runbook_peaks.items()},
                                     "plain script": {n: mib(v) for n, v in plain_peaks.items()}}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
