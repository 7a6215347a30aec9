"""A real Prometheus for the sandbox, configured by the observability_addons role's own scrape template.

It discovers istiod through the sandbox API server (kubernetes_sd, as in a cluster) and scrapes the
out-of-cluster istiod's monitoring port; a synthetic exporter serves istio_requests_total for named flows.
"""
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request

import jinja2

from . import config, pki
from .cluster import CLIENTS, SandboxError

SYNTHETIC_JOB = "synthetic-istio-requests"
SECURITY = ("mutual_tls", "plaintext")


def render_scrape_config(variables, template=config.PROMETHEUS_TEMPLATE):
    """The role's Prometheus configuration, rendered as Ansible renders templates (trim_blocks), with
    every variable given explicitly (an undefined one is an error, not an empty string)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template.parent)), trim_blocks=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["bool"] = lambda value: str(value).strip().lower() in ("true", "yes", "on", "1")  # Ansible's bool
    return env.get_template(template.name).render(**variables)


def role_defaults(**overrides):
    """The template's inputs with the role's documented defaults (metrics merging on, no TLS job)."""
    values = {"observability_addons_istio_namespace": "istio-system",
              "observability_addons_prometheus_scrape_interval": "15s",
              "observability_addons_prometheus_metrics_merging": True,
              "observability_addons_prometheus_strict_tls": False,
              "observability_addons_prometheus_extra_scrape_configs": [],
              "observability_addons_prometheus_kubeconfig_file": "",
              "observability_addons_prometheus_istiod_address": ""}
    values.update(overrides)
    return values


def parse_flow(text):
    """'legacy/curl->foo/httpbin:plaintext' (or a dict with source, destination, security) as a flow dict."""
    if isinstance(text, dict):
        flow = dict(text)
    else:
        try:
            route, security = str(text).rsplit(":", 1)
            source, destination = route.split("->", 1)
        except ValueError:
            raise ValueError(f"flow {text!r} is not SOURCE_NS/WORKLOAD->DEST_NS/WORKLOAD:mutual_tls|plaintext") from None
        flow = {"source": source.strip(), "destination": destination.strip(), "security": security.strip()}
    for end in ("source", "destination"):
        if len(str(flow.get(end, "")).split("/")) != 2 or "" in str(flow[end]).split("/"):
            raise ValueError(f"flow {flow}: {end} must be namespace/workload")
    if flow.get("security") not in SECURITY:
        raise ValueError(f"flow {flow}: security must be one of {', '.join(SECURITY)}")
    flow.setdefault("rate", 1.0)
    return flow


def state_dir(box):
    return box.paths.state / "prometheus"


def info(box):
    """Where it listens and what it scrapes, as recorded at start (state/prometheus.json)."""
    try:
        return json.loads((box.paths.state / "prometheus.json").read_text())
    except (OSError, ValueError):
        return {}


def url(box):
    return f"http://127.0.0.1:{box.ports.prometheus}"


def ensure_built(box):
    names = ["prometheus", "promtool"]
    if all(os.access(box.bin(n), os.X_OK) for n in names):
        return
    version = box.versions["PROMETHEUS_VERSION"]
    box.out(f"sandbox: Prometheus {version} is not built yet; building it now, once (about 5 min of CPU: minutes on 2 idle cores, "
            f"progress below; log in {box.paths.cache / 'logs' / 'build-prometheus.log'})")
    if subprocess.call(["bash", str(config.REPO_ROOT / "sandbox" / "build.sh"), "prometheus"]) != 0:
        raise SandboxError(f"building Prometheus {version} failed (see the output above); "
                           "'python -m sandbox build prometheus' retries")


def scrape_config(box, scrape_interval="2s"):
    """The sandbox's Prometheus configuration: the role's template with the role's defaults, plus what a
    Prometheus outside the cluster needs (a kubeconfig for kubernetes_sd and the out-of-cluster istiod's
    address) and the synthetic exporter as an extra scrape job."""
    monitoring = box.istiod_ports(box.istiod_offset("default"))["monitoring"]
    synthetic = {"job_name": SYNTHETIC_JOB, "honor_labels": True,
                 "static_configs": [{"targets": [f"127.0.0.1:{box.ports.synthetic_exporter}"]}]}
    return render_scrape_config(role_defaults(
        observability_addons_prometheus_scrape_interval=scrape_interval,
        observability_addons_prometheus_extra_scrape_configs=[synthetic],
        observability_addons_prometheus_kubeconfig_file=str(box.paths.state / "prometheus.kubeconfig"),
        observability_addons_prometheus_istiod_address=f"127.0.0.1:{monitoring}"))


def promtool_check(box, path, syntax_only=False):
    """`promtool check config` on a file: (ok, output). syntax_only: without opening the files it names."""
    run = subprocess.run([str(box.bin("promtool")), "check", "config"] + (["--syntax-only"] if syntax_only else [])
                         + [str(path)], capture_output=True, text=True, timeout=60)
    return run.returncode == 0, (run.stdout + run.stderr).strip()


def traffic(box, flows):
    """Replace the flows the synthetic exporter serves (list of flow strings or dicts). Returns them."""
    flows = [parse_flow(f) for f in flows]
    folder = state_dir(box)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / ".traffic.json.tmp"
    tmp.write_text(json.dumps(flows, indent=1))
    tmp.replace(folder / "traffic.json")
    return flows


def up(box, flows=None):
    """Start Prometheus and the synthetic exporter (idempotent: a running one is kept and reloaded when its
    configuration changed). A new Prometheus starts with an empty TSDB. Returns True when it started one."""
    if box._owned_pid("kube-apiserver") is None:
        raise SandboxError("the sandbox is not up; run 'python -m sandbox up' first")
    ensure_built(box)
    box._clear_stale()
    folder = state_dir(box)
    folder.mkdir(parents=True, exist_ok=True)
    if flows is not None or not (folder / "traffic.json").exists():
        traffic(box, flows or [])
    pki.ensure(box.paths.pki, CLIENTS)
    box._write_kubeconfig("prometheus", box.paths.state / "prometheus.kubeconfig")
    path = folder / "prometheus.yml"
    text = scrape_config(box)
    changed = not path.exists() or path.read_text() != text
    path.write_text(text)
    ok, output = promtool_check(box, path)
    if not ok:
        raise SandboxError(f"promtool rejects the rendered configuration {path}:\n{output}")
    base = url(box)
    started = False
    if box._owned_pid("synthetic-exporter") is None:
        box._check_ports([("synthetic exporter", box.ports.synthetic_exporter)])
        exporter = str(config.REPO_ROOT / "sandbox" / "synthetic_exporter.py")
        proc = box._spawn("synthetic-exporter", [exporter, f"--port={box.ports.synthetic_exporter}",
                                                 f"--flows={folder / 'traffic.json'}"], executable=sys.executable)
        box._wait("synthetic-exporter", proc,
                  lambda: box._get(f"http://127.0.0.1:{box.ports.synthetic_exporter}/metrics")[0] == 200)
    if box._owned_pid("prometheus") is None:
        box._check_ports([("prometheus", box.ports.prometheus)])
        data = box.paths.data / "prometheus"
        shutil.rmtree(data, ignore_errors=True)
        box.out(f"sandbox: starting prometheus on {base}")
        proc = box._spawn("prometheus", [f"--config.file={path}", f"--storage.tsdb.path={data}",
                                         f"--web.listen-address=127.0.0.1:{box.ports.prometheus}",
                                         "--web.enable-lifecycle", "--storage.tsdb.retention.time=6h"],
                          cwd=folder)
        try:
            box._wait("prometheus", proc, lambda: box._get(f"{base}/-/ready")[0] == 200)
        except BaseException:
            box._stop("prometheus")
            raise
        started = True
    elif changed:
        urllib.request.urlopen(urllib.request.Request(f"{base}/-/reload", method="POST"), timeout=10).close()
        box.out("sandbox: prometheus already runs; reloaded its changed configuration")
    record = {"url": base, "config": str(path), "traffic": str(folder / "traffic.json"),
              "exporter": f"127.0.0.1:{box.ports.synthetic_exporter}", "synthetic_job": SYNTHETIC_JOB,
              "istiod_target": f"127.0.0.1:{box.istiod_ports(box.istiod_offset('default'))['monitoring']}"}
    (box.paths.state / "prometheus.json").write_text(json.dumps(record, indent=1))
    return started


def down(box):
    stopped = [name for name in ("prometheus", "synthetic-exporter") if box._stop(name)]
    (box.paths.state / "prometheus.json").unlink(missing_ok=True)
    return stopped


def api(box, path, params=None):
    """GET Prometheus's HTTP API (e.g. "targets", "query"); the decoded "data"."""
    query = "?" + urllib.parse.urlencode(params) if params else ""
    body = json.loads(box._get(f"{url(box)}/api/v1/{path}{query}", timeout=10)[1])
    if body.get("status") != "success":
        raise SandboxError(f"Prometheus API {path}: {body}")
    return body["data"]


def targets(box):
    """Active targets as (job, address, health, lastError)."""
    return [(t["labels"].get("job"), t["labels"].get("instance"), t["health"], t.get("lastError", ""))
            for t in api(box, "targets", {"state": "active"})["activeTargets"]]

