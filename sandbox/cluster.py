"""Start, stop and inspect the sandbox processes. Every process listens on 127.0.0.1 only."""
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from . import config, pki


class SandboxError(Exception):
    """A failure with a message that says what to do."""


NODE_NAME = "sandbox-node-0"
ADMIN_USER = "sandbox-admin"
CLIENTS = {
    "admin": (ADMIN_USER, "system:masters"),
    "kube-controller-manager": ("system:kube-controller-manager", None),
    "kube-scheduler": ("system:kube-scheduler", None),
    "kwok": ("sandbox-kwok", "system:masters"),
    "istiod": ("system:serviceaccount:istio-system:istiod", None),
    "prometheus": ("sandbox-prometheus", "system:masters"),  # kubernetes_sd: list and watch only
}
STATE_MARKER = ".istio-runbooks-sandbox"
ISTIOD_SLOT = 100  # ports per istiod revision: 15017 + slot * 100, ...
ISTIOD_SLOTS = 40
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"]
NEEDS = {"kube-apiserver": ("etcd",), "kwok": ("etcd", "kube-apiserver")}  # whose readiness probe goes through whom
ADDONS = ["prometheus", "synthetic-exporter"]  # python -m sandbox prometheus up

AUDIT_POLICY = {
    "apiVersion": "audit.k8s.io/v1",
    "kind": "Policy",
    "omitStages": ["RequestReceived"],
    "rules": [
        {"level": "None", "resources": [{"group": "coordination.k8s.io", "resources": ["leases"]}]},
        {"level": "None", "verbs": ["watch"]},
        {"level": "None", "users": ["system:kube-controller-manager", "system:kube-scheduler", "system:apiserver",
                                    "sandbox-kwok", "sandbox-prometheus"], "verbs": ["get", "list"]},
        {"level": "None", "userGroups": ["system:serviceaccounts:kube-system"], "verbs": ["get", "list"]},
        {"level": "Metadata"},
    ],
}


class Sandbox:
    def __init__(self, paths=None, ports=None, versions=None, out=print, cluster=None):
        """cluster: a named second (third, ...) sandbox with its own state folder and ports; None reads
        SANDBOX_CLUSTER, "" is the default cluster."""
        self.cluster = config.cluster_name(cluster)
        self.paths = paths or config.default_paths(self.cluster)
        self.ports = ports or config.default_ports(self.cluster)
        self.versions = versions or config.load_versions()
        self.out = out

    # ---- files -------------------------------------------------------------------------------
    def bin(self, name):
        return config.binary(self.paths, self.versions, name)

    def _pidfile(self, name):
        return self.paths.run / f"{name}.pid"

    def _kubeconfig_for(self, client):
        return self.paths.kubeconfig if client == "admin" else self.paths.state / f"{client}.kubeconfig"

    def _write_kubeconfigs(self):
        for client in CLIENTS:
            self._write_kubeconfig(client, self._kubeconfig_for(client))

    def _write_kubeconfig(self, client, path):
        pki_dir = self.paths.pki
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "istio-runbooks-sandbox", "cluster": {
                "server": f"https://127.0.0.1:{self.ports.apiserver}",
                "certificate-authority": str(pki_dir / "ca.crt")}}],
            "users": [{"name": client, "user": {
                "client-certificate": str(pki_dir / f"{client}.crt"),
                "client-key": str(pki_dir / f"{client}.key")}}],
            "contexts": [{"name": "sandbox", "context": {"cluster": "istio-runbooks-sandbox", "user": client}}],
            "current-context": "sandbox",
        }
        path.unlink(missing_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
            handle.write(yaml.safe_dump(doc, sort_keys=False))

    def _write_kwok_config(self):
        share = self.paths.cache / "share" / f"kwok-{self.versions['KWOK_VERSION']}" / "stages.yaml"
        if not share.exists():
            raise SandboxError(f"kwok stages missing at {share}; run 'python -m sandbox build'.")
        stages = [d for d in yaml.safe_load_all(share.read_text()) if d]
        for stage in stages:
            if stage["metadata"]["name"] == "pod-ready":
                # Pods annotated sandbox.istio-runbooks.io/never-ready stay unready: a stuck rollout on demand.
                stage["spec"]["selector"]["matchExpressions"].append(
                    {"key": '.metadata.annotations["sandbox.istio-runbooks.io/never-ready"]',
                     "operator": "DoesNotExist"})
                # SANDBOX_POD_READY_DELAY_MS: time a pod takes to become Ready (container start, probes)
                delay = int(os.environ.get("SANDBOX_POD_READY_DELAY_MS", "0") or 0)
                if delay > 0:
                    stage["spec"]["delay"] = {"durationMilliseconds": delay}
        settings = {"apiVersion": "config.kwok.x-k8s.io/v1alpha1", "kind": "KwokConfiguration",
                    "options": {"podPlayStageParallelism": 16, "nodePlayStageParallelism": 4, "nodeLeaseParallelism": 4,
                                "podsOnNodeSyncParallelism": 1, "enablePodsOnNodeSyncListPager": True,
                                # pod logs and port-forward through the API server (off in a config file unless set)
                                "enableDebuggingHandlers": True}}
        path = self.paths.state / "kwok.yaml"
        path.write_text(yaml.safe_dump_all([settings] + stages + self._istiod_pod_rules(), sort_keys=False))
        return path

    def _istiod_pod_rules(self, namespace="istio-system"):
        """kwok rules that make the istiod pods answer for the out-of-cluster istiod of the default revision:
        `kubectl logs` of their discovery container serves its log, and port-forward to 15010, 15012, 15014
        and 8080 reaches its ports (so istioctl works in its default mode, which port-forwards to istiod)."""
        ports = self.istiod_ports(0)
        selector = {"matchNamespaces": [namespace]}
        return [
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterLogs", "metadata": {"name": "istiod"},
             "spec": {"selector": selector, "logs": [{"containers": ["discovery"], "follow": True,
                                                      "logsFile": str(self.paths.logs / "istiod-default.cri.log")}]}},
            {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "ClusterPortForward", "metadata": {"name": "istiod"},
             "spec": {"selector": selector, "forwards": [
                 {"ports": [pod_port], "target": {"port": ports[local], "address": "127.0.0.1"}}
                 for pod_port, local in ((15010, "grpc"), (15012, "secure_grpc"), (15014, "monitoring"),
                                         (8080, "http"))]}},
        ]

    # ---- process records ---------------------------------------------------------------------
    def _record(self, name):
        path = self._pidfile(name)
        if not path.exists():
            return None
        try:
            rec = json.loads(path.read_text())
            int(rec["pid"])
            return rec
        except (ValueError, KeyError, TypeError):
            return {"pid": -1, "binary": "", "corrupt": True}

    @staticmethod
    def _cmdline(pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
        except OSError:
            return []

    @staticmethod
    def _start_ticks(pid):
        """The process's start time in clock ticks since boot: with the pid, it names one process."""
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
                return int(handle.read().rsplit(")", 1)[1].split()[19])
        except (OSError, IndexError, ValueError):
            return None

    def _uses_state(self, cmd):
        """True when an argument names a path inside this state folder (not a sibling such as .sandbox2)."""
        state = str(self.paths.state)
        return any(value == state or value.startswith(state + os.sep)
                   for part in cmd for value in (part, part.split("=", 1)[-1]))

    def _owned_pid(self, name):
        """PID of a live process that this sandbox started for name, else None."""
        rec = self._record(name)
        if not rec or rec.get("corrupt"):
            return None
        cmd = self._cmdline(rec["pid"])
        if not cmd or cmd[0] != rec["binary"] or not self._uses_state(cmd):
            return None
        if rec.get("ticks") is not None and self._start_ticks(rec["pid"]) != rec["ticks"]:
            return None
        return rec["pid"]

    def _clear_stale(self):
        self.paths.run.mkdir(parents=True, exist_ok=True)
        for path in sorted(self.paths.run.glob("*.pid")):
            name = path.stem
            if self._owned_pid(name) is None:
                rec = self._record(name) or {}
                self.out(f"sandbox: removing stale PID file {path.name} (pid {rec.get('pid')} is not a running "
                         f"sandbox {name}); that process, if any, is left alone")
                path.unlink()

    def istiod_names(self):
        return sorted(p.stem for p in self.paths.run.glob("istiod-*.pid")) if self.paths.run.exists() else []

    # ---- start -------------------------------------------------------------------------------
    def _check_binaries(self, names):
        missing = [str(self.bin(n)) for n in names if not os.access(self.bin(n), os.X_OK)]
        if missing:
            raise SandboxError("sandbox binaries missing: " + ", ".join(missing) +
                               ". Build them with 'python -m sandbox build' (needs Go and the Go module proxy or a "
                               "mirror) or copy them into that folder from your mirror.")

    def _check_ports(self, ports):
        busy = []
        for label, port in ports:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                busy.append(f"{port} ({label})")
            finally:
                sock.close()
        if busy:
            raise SandboxError("port already in use on 127.0.0.1: " + ", ".join(busy) +
                               ". Stop whatever holds it (see 'ss -ltnp'), or run 'python -m sandbox down' if it is "
                               "an old sandbox from another checkout.")

    def _spawn(self, name, args, env=None, binary_name=None, cwd=None, cri_log=False, executable=None):
        """Start a process with its output in logs/<name>.log (and, with cri_log, also in logs/<name>.cri.log
        in the CRI format, through sandbox/crilog.py, for kwok to serve as its pod's logs)."""
        binary = str(executable or self.bin(binary_name or name))
        log = self.paths.logs / f"{name}.log"
        spawn = dict(stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=cwd or self.paths.state,
                     env={**os.environ, **(env or {})}, start_new_session=True)
        if cri_log:
            copier = subprocess.Popen([sys.executable, str(config.REPO_ROOT / "sandbox" / "crilog.py"), str(log),
                                       str(self.paths.logs / f"{name}.cri.log")], stdin=subprocess.PIPE,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            try:
                proc = subprocess.Popen([binary] + args, stdout=copier.stdin, **spawn)
            finally:
                copier.stdin.close()  # the copier ends when the process closes its output
        else:
            with open(log, "ab") as handle:
                proc = subprocess.Popen([binary] + args, stdout=handle, **spawn)
        self._pidfile(name).write_text(json.dumps({"pid": proc.pid, "binary": binary, "started": time.time(),
                                                   "ticks": self._start_ticks(proc.pid)}))
        return proc

    def _ssl_context(self, verify=True):
        if not verify:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        ctx = ssl.create_default_context(cafile=str(self.paths.pki / "ca.crt"))
        ctx.load_cert_chain(str(self.paths.pki / "admin.crt"), str(self.paths.pki / "admin.key"))
        return ctx

    def _get(self, url, verify=True, timeout=2):
        with urllib.request.urlopen(url, context=self._ssl_context(verify) if url.startswith("https") else None,
                                    timeout=timeout) as resp:
            return resp.status, resp.read().decode()

    def api(self, method, path, body=None):
        req = urllib.request.Request(f"https://127.0.0.1:{self.ports.apiserver}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ssl_context(), timeout=10) as resp:
            return json.loads(resp.read().decode())

    def _wait(self, name, proc, probe, timeout=120):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if proc is not None and proc.poll() is not None:
                raise SandboxError(f"{name} exited with code {proc.returncode}. Last log lines:\n" + self._tail(name))
            try:
                if probe():
                    return
            except (OSError, urllib.error.URLError, ValueError) as exc:
                last = exc
            time.sleep(0.25)
        raise SandboxError(f"{name} not ready after {timeout}s ({last}). Last log lines:\n" + self._tail(name))

    def _tail(self, name, lines=15):
        log = self.paths.logs / f"{name}.log"
        if not log.exists():
            return "(no log)"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def _args(self, name):
        p, pk, st = self.ports, self.paths.pki, self.paths.state
        if name == "etcd":
            return ["--name=sandbox", f"--data-dir={self.paths.data / 'etcd'}",
                    f"--listen-client-urls=http://127.0.0.1:{p.etcd_client}",
                    f"--advertise-client-urls=http://127.0.0.1:{p.etcd_client}",
                    f"--listen-peer-urls=http://127.0.0.1:{p.etcd_peer}",
                    f"--initial-advertise-peer-urls=http://127.0.0.1:{p.etcd_peer}",
                    f"--initial-cluster=sandbox=http://127.0.0.1:{p.etcd_peer}",
                    "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--log-level=warn"]
        if name == "kube-apiserver":
            return [f"--etcd-servers=http://127.0.0.1:{p.etcd_client}", "--bind-address=127.0.0.1",
                    "--advertise-address=127.0.0.1", f"--secure-port={p.apiserver}",
                    f"--tls-cert-file={pk / 'apiserver.crt'}", f"--tls-private-key-file={pk / 'apiserver.key'}",
                    f"--client-ca-file={pk / 'ca.crt'}", f"--service-account-key-file={pk / 'sa.pub'}",
                    f"--service-account-signing-key-file={pk / 'sa.key'}",
                    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                    "--service-cluster-ip-range=10.96.0.0/16", "--authorization-mode=RBAC",
                    "--allow-privileged=true", "--endpoint-reconciler-type=none",
                    f"--audit-policy-file={st / 'audit-policy.yaml'}", f"--audit-log-path={self.paths.audit_log}",
                    "--audit-log-format=json", "--audit-log-maxsize=200", "--audit-log-maxbackup=1",
                    "--max-requests-inflight=800", "--max-mutating-requests-inflight=400", "--profiling=false",
                    "--kubelet-preferred-address-types=InternalIP",  # kwok's kubelet endpoint on 127.0.0.1
                    f"--cert-dir={st / 'apiserver-certs'}"]
        if name == "kube-controller-manager":
            kc = self._kubeconfig_for(name)
            return [f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
                    "--bind-address=127.0.0.1", f"--secure-port={p.controller_manager}", "--leader-elect=false",
                    f"--service-account-private-key-file={pk / 'sa.key'}", f"--root-ca-file={pk / 'ca.crt'}",
                    "--use-service-account-credentials=true", f"--cluster-signing-cert-file={pk / 'ca.crt'}",
                    f"--cluster-signing-key-file={pk / 'ca.key'}", "--kube-api-qps=300", "--kube-api-burst=600",
                    "--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20",
                    "--concurrent-statefulset-syncs=10", "--concurrent-daemonset-syncs=10",
                    # kwok, unlike a kubelet, never marks pods Ready again once the node controller marked them
                    # NotReady: a restart of kube-apiserver (kwok's heartbeats refused) must not get that far
                    "--node-monitor-grace-period=180s",
                    f"--cert-dir={st / 'kcm-certs'}"]
        if name == "kube-scheduler":
            kc = self._kubeconfig_for(name)
            return [f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
                    "--bind-address=127.0.0.1", f"--secure-port={p.scheduler}", "--leader-elect=false",
                    f"--cert-dir={st / 'scheduler-certs'}"]
        if name == "kwok":
            return [f"--kubeconfig={self._kubeconfig_for('kwok')}", f"--config={st / 'kwok.yaml'}",
                    "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                    "--cidr=10.244.0.1/16", "--node-ip=127.0.0.1", f"--node-port={p.kwok}",
                    f"--server-address=127.0.0.1:{p.kwok}",
                    "--node-lease-duration-seconds=40"]
        raise KeyError(name)

    def _probe(self, name):
        p = self.ports
        if name == "etcd":
            return lambda: json.loads(self._get(f"http://127.0.0.1:{p.etcd_client}/health")[1]).get("health") == "true"
        if name == "kube-apiserver":
            return lambda: self._get(f"https://127.0.0.1:{p.apiserver}/readyz")[1] == "ok"
        if name == "kube-controller-manager":
            return lambda: self._get(f"https://127.0.0.1:{p.controller_manager}/healthz", verify=False)[1] == "ok"
        if name == "kube-scheduler":
            return lambda: self._get(f"https://127.0.0.1:{p.scheduler}/healthz", verify=False)[1] == "ok"
        if name == "kwok":
            return self._node_ready
        raise KeyError(name)

    def _answers(self, name, timeout=10):
        try:
            self._wait(name, None, self._probe(name), timeout=timeout)
            return True
        except SandboxError:
            return False

    def _port_of(self, name):
        p = self.ports
        return {"etcd": [("etcd client", p.etcd_client), ("etcd peer", p.etcd_peer)],
                "kube-apiserver": [("kube-apiserver", p.apiserver)],
                "kube-controller-manager": [("kube-controller-manager", p.controller_manager)],
                "kube-scheduler": [("kube-scheduler", p.scheduler)],
                "kwok": [("kwok", p.kwok)]}[name]

    def _ensure_node(self):
        node = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE_NAME,
                         "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok"}},
            "status": {"allocatable": {"cpu": "64", "memory": "256Gi", "pods": "2000"},
                       "capacity": {"cpu": "64", "memory": "256Gi", "pods": "2000"},
                       # the API server reaches kwok's kubelet endpoint here (logs, port-forward)
                       "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                                     {"type": "Hostname", "address": "localhost"}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": self.ports.kwok}}},
        }
        try:
            self.api("POST", "/api/v1/nodes", node)
        except urllib.error.HTTPError as exc:
            if exc.code != 409:
                raise

    def _node_ready(self):
        node = self.api("GET", f"/api/v1/nodes/{NODE_NAME}")
        return any(c["type"] == "Ready" and c["status"] == "True" for c in node.get("status", {}).get("conditions", []))

    def restart_kwok(self):
        """Restart kwok with a freshly written config (e.g. after SANDBOX_POD_READY_DELAY_MS changed)."""
        self._stop("kwok")
        self.up()

    def up(self):
        start = time.time()
        self._check_binaries(CONTROL_PLANE)
        if (self.paths.pki / "ca.crt").exists() and (self.paths.state / "kubeconfig").exists():
            (self.paths.state / STATE_MARKER).touch()  # a sandbox state folder from before the marker existed
        if self.paths.state.exists() and any(self.paths.state.iterdir()) and not self._is_state_folder():
            raise SandboxError(f"{self.paths.state} exists and is not a sandbox state folder (no {STATE_MARKER}); "
                               "set SANDBOX_STATE_DIR to an empty or sandbox folder.")
        for folder in (self.paths.run, self.paths.logs, self.paths.data):
            folder.mkdir(parents=True, exist_ok=True)
        (self.paths.state / STATE_MARKER).write_text("istio-runbooks sandbox state\n")
        self._clear_stale()
        missing = [name for name in CONTROL_PLANE if self._owned_pid(name) is None]
        deferred = []  # probes that go through a missing process: judged once that is back
        for name in CONTROL_PLANE:  # a process that runs but does not answer (e.g. stuck exiting) is restarted
            if name not in missing and any(needed in missing for needed in NEEDS.get(name, ())):
                deferred.append(name)
                continue
            if name not in missing and not self._answers(name):
                self.out(f"sandbox: {name} runs but does not answer its readiness probe; restarting it")
                self._stop(name)
                missing.append(name)
        if not missing:
            self._link_tools()
            self.out(f"sandbox: already up. export KUBECONFIG={self.paths.kubeconfig}")
            return
        self._check_ports([port for name in missing for port in self._port_of(name)])
        pki.ensure(self.paths.pki, CLIENTS)
        self._write_kubeconfigs()
        (self.paths.state / "audit-policy.yaml").write_text(yaml.safe_dump(AUDIT_POLICY, sort_keys=False))
        self._write_kwok_config()
        started = []
        try:
            for name in CONTROL_PLANE:
                if name not in missing:
                    continue
                self.out(f"sandbox: starting {name}")
                proc = self._spawn(name, self._args(name))
                started.append(name)
                if name == "kwok":
                    self._ensure_node()
                self._wait(name, proc, self._probe(name))
                if name == "kwok":  # the node may still be Ready from before: make sure kwok itself stays up
                    time.sleep(1)
                    self._wait(name, proc, self._probe(name), timeout=5)
            for name in deferred:  # e.g. kube-apiserver after etcd was started again: it reconnects by itself
                if self._answers(name, timeout=60):
                    continue
                self.out(f"sandbox: {name} runs but does not answer its readiness probe; restarting it")
                self._stop(name)
                proc = self._spawn(name, self._args(name))
                started.append(name)
                if name == "kwok":
                    self._ensure_node()
                self._wait(name, proc, self._probe(name))
        except BaseException:
            for name in reversed(started):
                self._stop(name)
            raise
        self._link_tools()
        self.out(f"sandbox: up in {time.time() - start:.1f}s. export KUBECONFIG={self.paths.kubeconfig}")

    # ---- istiod --------------------------------------------------------------------------------
    def istiod_ports(self, offset):
        p = self.ports
        return {"http": p.istiod_http + offset, "grpc": p.istiod_grpc + offset,
                "secure_grpc": p.istiod_secure_grpc + offset, "monitoring": p.istiod_monitoring + offset,
                "webhook": p.istiod_webhook + offset}

    def _istiod_slots_file(self):
        return self.paths.state / "istiod-ports.json"

    def _istiod_slots(self):
        try:
            return json.loads(self._istiod_slots_file().read_text())
        except (OSError, ValueError):
            return {}

    def istiod_offset(self, revision, record=False):
        """The port offset of a revision's istiod: recorded once, then stable; 0 for the default revision.

        A new revision gets the lowest slot no other revision holds, so two revisions never collide.
        """
        revision = revision or "default"
        slots = self._istiod_slots()
        if revision in slots:
            offset = slots[revision]
        elif revision == "default":
            offset = 0
        else:
            taken = set(slots.values()) | {0}
            control_plane = {port for name in CONTROL_PLANE for _, port in self._port_of(name)}
            offset = next((i * ISTIOD_SLOT for i in range(1, ISTIOD_SLOTS) if i * ISTIOD_SLOT not in taken
                           and not control_plane & set(self.istiod_ports(i * ISTIOD_SLOT).values())), None)
            if offset is None:
                raise SandboxError(f"no free istiod port slot for revision {revision}: {len(slots)} revisions hold "
                                   "them; 'python -m sandbox down' resets the sandbox")
        if record:
            slots[revision] = offset
            self.paths.state.mkdir(parents=True, exist_ok=True)
            self._istiod_slots_file().write_text(json.dumps(slots, indent=1, sort_keys=True))
            # each recorded revision's webhook port, read by the sandbox inventory without running this program
            webhook = {rev: self.istiod_ports(slot)["webhook"] for rev, slot in slots.items()}
            (self.paths.state / "istiod-webhook-ports.json").write_text(json.dumps(webhook, indent=1, sort_keys=True))
        return offset

    def istiod_up(self, revision="default", port_offset=None, namespace="istio-system"):
        """Run istiod for one revision out-of-cluster, with its webhooks served on 127.0.0.1.

        Returns True when it started a process, False when it already ran.
        """
        revision = revision or "default"
        name = f"istiod-{revision}"
        self._check_binaries(["pilot-discovery"])
        if self._owned_pid("kube-apiserver") is None:
            raise SandboxError("the sandbox is not up; run 'python -m sandbox up' first")
        self._clear_stale()
        if self._owned_pid(name):
            self.out(f"sandbox: {name} already runs")
            return False
        if port_offset is None:
            port_offset = self.istiod_offset(revision, record=True)
        ports = self.istiod_ports(port_offset)
        self._check_ports([(f"{name} {k}", v) for k, v in ports.items()])
        suffix = "" if revision == "default" else f"-{revision}"
        client = f"istiod{suffix}"
        pki.ensure(self.paths.pki, {**CLIENTS, client: (f"system:serviceaccount:{namespace}:istiod{suffix}", None)})
        kubeconfig = self.paths.state / f"{name}.kubeconfig"
        self._write_kubeconfig(client, kubeconfig)
        workdir = self.paths.state / name
        workdir.mkdir(parents=True, exist_ok=True)
        env = {
            "KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": namespace, "POD_NAME": f"{name}-sandbox",
            "REVISION": revision, "ISTIOD_CUSTOM_HOST": "localhost", "PILOT_CERT_PROVIDER": "istiod",
            "CLUSTER_ID": "Kubernetes", "INJECTION_WEBHOOK_CONFIG_NAME": f"istio-sidecar-injector{suffix}",
            "VALIDATION_WEBHOOK_CONFIG_NAME": f"istio-validator{suffix}-{namespace}",
        }
        args = ["discovery", f"--kubeconfig={kubeconfig}", f"--httpAddr=127.0.0.1:{ports['http']}",
                f"--grpcAddr=127.0.0.1:{ports['grpc']}", f"--secureGRPCAddr=127.0.0.1:{ports['secure_grpc']}",
                f"--monitoringAddr=127.0.0.1:{ports['monitoring']}", f"--httpsAddr=127.0.0.1:{ports['webhook']}",
                f"--meshConfig={workdir / 'mesh-from-configmap'}", "--log_output_level=default:info"]
        self.out(f"sandbox: starting {name} (webhooks on https://localhost:{ports['webhook']})")
        proc = self._spawn(name, args, env=env, binary_name="pilot-discovery", cwd=workdir, cri_log=True)
        try:
            self._wait(name, proc, lambda: self._get(f"http://127.0.0.1:{ports['http']}/ready")[0] == 200,
                       timeout=120)
        except BaseException:
            self._stop(name)
            raise
        return True

    def istiod_down(self, revision="default"):
        return self._stop(f"istiod-{revision or 'default'}")

    # ---- simulated sidecars --------------------------------------------------------------------
    def syncz(self, revision="default", namespace=None):
        """istiod's /debug/syncz (its sync status per connected proxy), read on 127.0.0.1."""
        port = self.istiod_ports(self.istiod_offset(revision))["http"]
        query = f"?namespace={namespace}" if namespace else ""
        return json.loads(self._get(f"http://127.0.0.1:{port}/debug/syncz{query}", timeout=5)[1])

    def _running_pods(self, namespace):
        try:
            self.api("GET", f"/api/v1/namespaces/{namespace}")
            pods = self.api("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise SandboxError(f"namespace {namespace} not found; create it and its pods first") from None
            raise
        return [p for p in pods if p.get("status", {}).get("phase") == "Running" and p["status"].get("podIP")
                and not p["metadata"].get("deletionTimestamp")]

    def proxies_up(self, namespaces, stale=(), error=(), revision="default", timeout=60):
        """One process with one ADS stream per Running pod of the namespaces, to the revision's istiod.

        Pods named in stale never acknowledge, pods named in error reject (NACK) every response; the others ACK.
        A running proxies process is replaced. Returns the number of streams.
        """
        if isinstance(namespaces, str):
            namespaces = [namespaces]
        stale, error = set(stale or ()), set(error or ())
        if stale & error:
            raise SandboxError(f"pods both --stale and --error: {', '.join(sorted(stale & error))}; name each once")
        if not os.access(self.bin("sandbox-proxies"), os.X_OK):
            raise SandboxError(f"simulated sidecars not built ({self.bin('sandbox-proxies')}); build them with "
                               "'python -m sandbox build proxies' (seconds once istio is built)")
        if self._owned_pid("kube-apiserver") is None:
            raise SandboxError("the sandbox is not up; run 'python -m sandbox up' first")
        if self._owned_pid(f"istiod-{revision}") is None:
            raise SandboxError(f"istiod-{revision} is not running; install Istio and run "
                               f"'python -m sandbox istiod up --revision {revision}' first")
        pods = [pod for ns in namespaces for pod in self._running_pods(ns)]
        if not pods:
            raise SandboxError(f"no Running pods in {', '.join(namespaces)}; nothing to simulate")
        names = {p["metadata"]["name"] for p in pods}
        unknown = sorted((stale | error) - names)
        if unknown:
            raise SandboxError(f"not Running pods of {', '.join(namespaces)}: {', '.join(unknown)}")
        ports = self.istiod_ports(self.istiod_offset(revision))
        doc = {"istiod": f"127.0.0.1:{ports['grpc']}", "cluster_id": "Kubernetes",
               "istio_version": self.versions["ISTIO_VERSION"],
               "pods": [{"name": p["metadata"]["name"], "namespace": p["metadata"]["namespace"],
                         "ip": p["status"]["podIP"], "labels": p["metadata"].get("labels") or {},
                         "mode": "stale" if p["metadata"]["name"] in stale
                         else "error" if p["metadata"]["name"] in error else "synced"} for p in pods]}
        self._stop("proxies")
        path = self.paths.state / "proxies.json"
        path.write_text(json.dumps(doc, indent=1))
        self.out(f"sandbox: starting proxies: {len(pods)} simulated sidecars in {', '.join(namespaces)} "
                 f"({len(stale)} stale, {len(error)} error) to istiod-{revision}")
        proc = self._spawn("proxies", [f"--config={path}"], binary_name="sandbox-proxies")
        wanted = {f"{p['name']}.{p['namespace']}" for p in doc["pods"]}  # syncz names proxies pod.namespace
        try:
            self._wait("proxies", proc, lambda: wanted <= {s.get("proxy") for s in self.syncz(revision)},
                       timeout=timeout)
        except BaseException:
            self._stop("proxies")
            raise
        return len(pods)

    def proxies_down(self):
        return self._stop("proxies")

    # ---- stop --------------------------------------------------------------------------------
    def _stop(self, name, timeout=20):
        pid = self._owned_pid(name)
        pidfile = self._pidfile(name)
        if pid is None:
            pidfile.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline and self._cmdline(pid):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.1)
        if self._cmdline(pid):
            os.kill(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
        return True

    # ---- faults (reliability tests) ------------------------------------------------------------------
    def pause(self, name):
        """SIGSTOP a control-plane process: it keeps its connections but answers nothing (a slow etcd)."""
        return self._signal(name, signal.SIGSTOP)

    def resume(self, name):
        return self._signal(name, signal.SIGCONT)

    def restart(self, name):
        """Stop one control-plane process and start it again; the others keep running."""
        if name not in CONTROL_PLANE:
            raise SandboxError(f"unknown control-plane process {name}; one of {', '.join(CONTROL_PLANE)}")
        self.resume(name)
        self._stop(name)
        self.up()

    def _signal(self, name, signum):
        if name not in CONTROL_PLANE:
            raise SandboxError(f"unknown control-plane process {name}; one of {', '.join(CONTROL_PLANE)}")
        pid = self._owned_pid(name)
        if pid is None:
            raise SandboxError(f"{name} is not running; start the sandbox with 'python -m sandbox up'")
        os.kill(pid, signum)
        return pid

    def down(self, keep_state=False):
        if not self.paths.run.exists() or not list(self.paths.run.glob("*.pid")):
            self.out("sandbox: nothing is running (no PID files); nothing to stop")
        else:
            self._clear_stale()
            for name in ["proxies"] + ADDONS + self.istiod_names() + list(reversed(CONTROL_PLANE)):
                if self._stop(name):
                    self.out(f"sandbox: stopped {name}")
        if not keep_state and self.paths.state.exists():
            if not self._is_state_folder():
                raise SandboxError(f"refusing to remove {self.paths.state}: it is not a sandbox state folder "
                                   f"(no {STATE_MARKER})")
            import shutil
            shutil.rmtree(self.paths.state)
            self.out(f"sandbox: removed {self.paths.state}")

    def _is_state_folder(self):
        return (self.paths.state / STATE_MARKER).is_file()

    # ---- status ------------------------------------------------------------------------------
    @staticmethod
    def rss_kib(pid):
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def status(self):
        rows = []
        extra = [name for name in ["proxies"] + ADDONS if self._pidfile(name).exists()]
        for name in CONTROL_PLANE + self.istiod_names() + extra:
            pid = self._owned_pid(name)
            rows.append({"name": name, "pid": pid, "running": pid is not None,
                         "rss_mib": round(self.rss_kib(pid) / 1024, 1) if pid else 0})
        return rows

    def _link_tools(self):
        """Unversioned names (kubectl, istioctl, ...) in the state folder, for PATH."""
        links = self.paths.state / "bin"
        links.mkdir(parents=True, exist_ok=True)
        for name in CONTROL_PLANE + ["kubectl", "istioctl", "pilot-discovery", "prometheus", "promtool"]:
            target, link = self.bin(name), links / name
            if target.exists() and (not link.is_symlink() or os.readlink(link) != str(target)):
                link.unlink(missing_ok=True)
                link.symlink_to(target)

    def env(self):
        return {"KUBECONFIG": str(self.paths.kubeconfig), "K8S_AUTH_KUBECONFIG": str(self.paths.kubeconfig),
                "K8S_AUTH_CONTEXT": "sandbox", "SANDBOX_BIN": str(self.paths.bin),
                "SANDBOX_AUDIT_LOG": str(self.paths.audit_log)}
