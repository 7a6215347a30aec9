"""Sandbox paths, ports and pinned versions."""
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE = Path(__file__).resolve().parent / "versions.env"
PROXIES_SOURCE = Path(__file__).resolve().parent / "proxies" / "main.go"
PROMETHEUS_TEMPLATE = REPO_ROOT / "roles" / "observability_addons" / "templates" / "prometheus-scrape-config.yml.j2"


def load_versions(path=VERSIONS_FILE):
    versions = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            versions[key.strip()] = value.strip()
    return versions


@dataclass(frozen=True)
class Ports:
    etcd_client: int = 23790
    etcd_peer: int = 23800
    apiserver: int = 16443
    controller_manager: int = 16257
    scheduler: int = 16259
    kwok: int = 16280
    istiod_http: int = 15080
    istiod_grpc: int = 15010
    istiod_secure_grpc: int = 15012
    istiod_monitoring: int = 15014
    istiod_webhook: int = 15017
    prometheus: int = 9090
    synthetic_exporter: int = 9091


@dataclass(frozen=True)
class Paths:
    cache: Path
    state: Path

    @property
    def bin(self):
        return self.cache / "bin"

    @property
    def pki(self):
        return self.state / "pki"

    @property
    def run(self):
        return self.state / "run"

    @property
    def logs(self):
        return self.state / "logs"

    @property
    def data(self):
        return self.state / "data"

    @property
    def kubeconfig(self):
        return self.state / "kubeconfig"

    @property
    def audit_log(self):
        return self.logs / "audit.log"


CLUSTER_PORT_OFFSET = 2000  # a named cluster's ports: the default ones plus this (SANDBOX_CLUSTER_PORT_OFFSET)


def cluster_name(name=None):
    """The sandbox cluster to act on: the argument, else SANDBOX_CLUSTER; "" is the default cluster."""
    name = os.environ.get("SANDBOX_CLUSTER", "") if name is None else name
    if name and not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?", name):
        raise ValueError(f"sandbox cluster name {name!r}: use lower-case letters, digits and '-' (e.g. second)")
    return name or ""


def default_ports(cluster=None):
    """Ports shifted by SANDBOX_PORT_SHIFT, so several sandboxes can run side by side. A named cluster
    (--cluster, SANDBOX_CLUSTER) is shifted again by SANDBOX_CLUSTER_PORT_OFFSET (default 2000)."""
    shift = int(os.environ.get("SANDBOX_PORT_SHIFT", "0") or 0)
    if cluster_name(cluster):
        shift += int(os.environ.get("SANDBOX_CLUSTER_PORT_OFFSET", "") or CLUSTER_PORT_OFFSET)
    base = Ports()
    return Ports(**{name: value + shift for name, value in vars(base).items()})


def default_paths(cluster=None):
    """State in .sandbox (or SANDBOX_STATE_DIR); a named cluster's in that folder's sibling .sandbox-<name>."""
    cache = Path(os.environ.get("ISTIO_RUNBOOKS_CACHE", Path.home() / ".cache" / "istio-runbooks"))
    state = Path(os.environ.get("SANDBOX_STATE_DIR", REPO_ROOT / ".sandbox"))
    name = cluster_name(cluster)
    if name:
        state = state.with_name(f"{state.name}-{name}")
    return Paths(cache=cache, state=state)


def binary(paths, versions, name):
    """Cached binary path for a component, keyed by its version."""
    if name == "sandbox-proxies":  # keyed by the Istio version and its own source, as sandbox/build.sh names it
        digest = hashlib.sha256(PROXIES_SOURCE.read_bytes()).hexdigest()[:12]
        return paths.bin / f"sandbox-proxies-{versions['ISTIO_VERSION']}-{digest}"
    key = {
        "etcd": "ETCD_VERSION",
        "kwok": "KWOK_VERSION",
        "pilot-discovery": "ISTIO_VERSION",
        "istioctl": "ISTIO_VERSION",
        "prometheus": "PROMETHEUS_VERSION",
        "promtool": "PROMETHEUS_VERSION",
    }.get(name, "K8S_VERSION")
    return paths.bin / f"{name}-{versions[key]}"
