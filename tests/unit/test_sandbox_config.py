"""Pure logic of the sandbox: versions file, cache keys, audit filtering."""
import json

from sandbox import config
from tests.helpers.audit import AuditLog, now


def test_versions_file_pins_every_component():
    versions = config.load_versions()
    for key in ("K8S_VERSION", "K8S_STAGING_VERSION", "ETCD_VERSION", "KWOK_VERSION", "ISTIO_MODULE_VERSION",
                "ISTIO_VERSION"):
        assert versions[key], key
    assert versions["ETCD_VERSION"].startswith("v3.6.")
    assert versions["K8S_STAGING_VERSION"] == "v0." + versions["K8S_VERSION"].split(".", 1)[1]


def test_binaries_are_keyed_by_version(tmp_path):
    paths = config.Paths(cache=tmp_path, state=tmp_path / "state")
    versions = {"K8S_VERSION": "v1.2.3", "ETCD_VERSION": "v3.6.0", "KWOK_VERSION": "v0.8.0", "ISTIO_VERSION": "9.9"}
    assert config.binary(paths, versions, "kube-apiserver").name == "kube-apiserver-v1.2.3"
    assert config.binary(paths, versions, "etcd").name == "etcd-v3.6.0"
    assert config.binary(paths, versions, "istioctl").name == "istioctl-9.9"
    # the simulated sidecars are keyed by the Istio version and their own source, as sandbox/build.sh names them
    proxies = config.binary(paths, versions, "sandbox-proxies").name
    digest = __import__("hashlib").sha256(config.PROXIES_SOURCE.read_bytes()).hexdigest()[:12]
    assert proxies == "sandbox-proxies-9.9-" + digest


def test_build_script_names_the_proxies_binary_like_python():
    script = (config.REPO_ROOT / "sandbox" / "build.sh").read_text()
    assert 'sum=$(sha256sum "$here/proxies/main.go" | cut -c1-12)' in script
    assert "local name=sandbox-proxies-$v-$sum" in script and "v=$ISTIO_VERSION sum" in script


def test_proxies_refuse_a_pod_both_stale_and_error(tmp_path):
    from sandbox.cluster import Sandbox, SandboxError
    box = Sandbox(paths=config.Paths(cache=tmp_path, state=tmp_path / "state"), out=lambda *_: None)
    try:
        box.proxies_up(["shop"], stale=["a", "b"], error=["b"])
    except SandboxError as exc:
        assert "pods both --stale and --error: b" in str(exc)
    else:
        raise AssertionError("accepted a pod both stale and error")


def test_audit_writes_ignore_reads_reviews_and_other_users(tmp_path):
    stamp = now().isoformat().replace("+00:00", "Z")
    events = [
        {"verb": "create", "user": {"username": "sandbox-admin"}, "stage": "ResponseComplete",
         "objectRef": {"resource": "configmaps", "namespace": "a", "name": "x"}},
        {"verb": "get", "user": {"username": "sandbox-admin"}, "stage": "ResponseComplete",
         "objectRef": {"resource": "configmaps"}},
        {"verb": "create", "user": {"username": "sandbox-admin"}, "stage": "ResponseComplete",
         "objectRef": {"resource": "selfsubjectaccessreviews"}},
        {"verb": "patch", "user": {"username": "system:kube-controller-manager"}, "stage": "ResponseComplete",
         "objectRef": {"resource": "deployments"}},
    ]
    log = tmp_path / "audit.log"
    log.write_text("".join(json.dumps({**e, "requestReceivedTimestamp": stamp}) + "\n" for e in events) + "garbage\n")
    assert AuditLog(log).writes(since=None) == [("create", "configmaps", "a", "x")]


def _box(tmp_path, state="state"):
    from sandbox.cluster import Sandbox
    return Sandbox(paths=config.Paths(cache=tmp_path / "cache", state=tmp_path / state), out=lambda *_: None)


def test_port_shift_moves_every_port(monkeypatch):
    monkeypatch.setenv("SANDBOX_PORT_SHIFT", "1000")
    shifted, base = vars(config.default_ports()), vars(config.Ports())
    assert shifted == {name: port + 1000 for name, port in base.items()}


def test_istiod_ports_are_allocated_once_and_never_collide(tmp_path):
    box = _box(tmp_path)
    assert box.istiod_offset("default") == 0
    names = ["1-31-0", "1-29-0", "canary", "stable", "a", "b", "c", "d", "e", "f", "g"]
    offsets = [box.istiod_offset(name, record=True) for name in names]
    assert len(set(offsets)) == len(names) and 0 not in offsets
    # a second reader (another process) sees the same recorded ports
    assert [_box(tmp_path).istiod_offset(name) for name in names] == offsets
    # asking without recording does not take the slot
    peek = box.istiod_offset("new")
    assert box.istiod_offset("other") == peek


def test_process_ownership_needs_this_exact_state_folder(tmp_path):
    box = _box(tmp_path, ".sandbox")
    state = str(box.paths.state)
    assert box._uses_state(["etcd", "--data-dir=%s/data/etcd" % state])
    assert not box._uses_state(["etcd", "--data-dir=%s2/data/etcd" % state])
    assert not box._uses_state(["etcd", "--data-dir=%s-old" % state])


def test_recorded_pid_of_another_process_is_not_owned(tmp_path):
    import subprocess
    import sys
    import time
    box = _box(tmp_path)
    box.paths.run.mkdir(parents=True)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", str(box.paths.state / "x")])
    try:
        for _ in range(100):  # until the child has exec'd (its command line is its own)
            with open("/proc/%d/cmdline" % proc.pid, "rb") as cmdline:
                if str(box.paths.state / "x").encode() in cmdline.read():
                    break
            time.sleep(0.02)
        record = {"pid": proc.pid, "binary": sys.executable, "ticks": box._start_ticks(proc.pid)}
        (box.paths.run / "etcd.pid").write_text(json.dumps(record))
        assert box._owned_pid("etcd") == proc.pid
        # same pid number, other start time: a reused pid is not ours
        (box.paths.run / "etcd.pid").write_text(json.dumps(dict(record, ticks=record["ticks"] - 1)))
        assert box._owned_pid("etcd") is None
    finally:
        proc.kill()
        proc.wait()


def test_down_refuses_to_remove_a_folder_that_is_not_a_sandbox(tmp_path):
    import pytest
    from sandbox.cluster import SandboxError
    box = _box(tmp_path)
    box.paths.state.mkdir()
    (box.paths.state / "precious.txt").write_text("user data")
    with pytest.raises(SandboxError, match="not a sandbox state folder"):
        box.down()
    assert (box.paths.state / "precious.txt").exists()


def test_private_keys_are_never_readable_by_others(tmp_path):
    import os
    import stat
    from sandbox import pki
    pki_dir = tmp_path / "pki"
    os.umask(0o022)
    pki.ensure(pki_dir, {"admin": ("admin", None)})
    for key in pki_dir.glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700


def test_cri_log_lines_are_what_kubelet_writes():
    import datetime
    from sandbox.crilog import cri_line
    at = datetime.datetime(2026, 11, 26, 13, 0, 1, 123456, tzinfo=datetime.timezone.utc)
    assert cri_line(b"2026-11-26T13:00:01.1Z\tinfo\tready\n", at) == \
        b"2026-11-26T13:00:01.123456Z stdout F 2026-11-26T13:00:01.1Z\tinfo\tready\n"


def test_kwok_serves_the_istiod_pods_logs_and_ports(tmp_path, monkeypatch):
    from sandbox.cluster import Sandbox
    monkeypatch.setenv("SANDBOX_PORT_SHIFT", "5000")
    box = Sandbox(paths=config.Paths(cache=tmp_path, state=tmp_path / "state"), ports=config.default_ports(),
                  out=lambda *_: None)
    logs, forward = box._istiod_pod_rules()
    assert logs["kind"] == "ClusterLogs" and logs["spec"]["selector"] == {"matchNamespaces": ["istio-system"]}
    assert logs["spec"]["logs"] == [{"containers": ["discovery"], "follow": True,
                                     "logsFile": str(tmp_path / "state" / "logs" / "istiod-default.cri.log")}]
    targets = dict((f["ports"][0], (f["target"]["address"], f["target"]["port"])) for f in forward["spec"]["forwards"])
    assert targets == {15010: ("127.0.0.1", 20010), 15012: ("127.0.0.1", 20012), 15014: ("127.0.0.1", 20014),
                       8080: ("127.0.0.1", 20080)}
    kwok = box._args("kwok")
    assert "--node-port=21280" in kwok and "--server-address=127.0.0.1:21280" in kwok
    assert "--kubelet-preferred-address-types=InternalIP" in box._args("kube-apiserver")


def test_kwok_config_turns_the_debugging_handlers_on(tmp_path):
    import yaml
    from sandbox.cluster import Sandbox
    versions = config.load_versions()
    share = tmp_path / "share" / f"kwok-{versions['KWOK_VERSION']}"
    share.mkdir(parents=True)
    (share / "stages.yaml").write_text(yaml.safe_dump(
        {"kind": "Stage", "metadata": {"name": "pod-ready"}, "spec": {"selector": {"matchExpressions": []}}}))
    box = Sandbox(paths=config.Paths(cache=tmp_path, state=tmp_path / "state"), out=lambda *_: None)
    (tmp_path / "state").mkdir()
    docs = list(yaml.safe_load_all(box._write_kwok_config().read_text()))
    assert docs[0]["kind"] == "KwokConfiguration" and docs[0]["options"]["enableDebuggingHandlers"] is True
    assert [d["kind"] for d in docs[1:]] == ["Stage", "ClusterLogs", "ClusterPortForward"]


def test_istiod_slots_never_take_a_control_plane_port(tmp_path):
    box = _box(tmp_path)
    control_plane = set(vars(box.ports).values()) - {box.ports.istiod_http, box.ports.istiod_grpc,
                                                     box.ports.istiod_secure_grpc, box.ports.istiod_monitoring,
                                                     box.ports.istiod_webhook}
    for i in range(30):
        ports = box.istiod_ports(box.istiod_offset("rev-%d" % i, record=True))
        assert not control_plane & set(ports.values()), ports


def test_a_named_cluster_has_its_own_state_folder_and_ports(monkeypatch, tmp_path):
    monkeypatch.setenv("SANDBOX_PORT_SHIFT", "5000")
    monkeypatch.delenv("SANDBOX_CLUSTER_PORT_OFFSET", raising=False)
    monkeypatch.setenv("SANDBOX_STATE_DIR", str(tmp_path / ".sandbox"))
    monkeypatch.delenv("SANDBOX_CLUSTER", raising=False)
    default, second = config.default_ports(), config.default_ports("second")
    assert default.apiserver == 21443 and second.apiserver == 23443
    assert set(vars(default).values()).isdisjoint(vars(second).values())
    assert config.default_paths().state == tmp_path / ".sandbox"
    assert config.default_paths("second").state == tmp_path / ".sandbox-second"
    monkeypatch.setenv("SANDBOX_CLUSTER", "second")  # what the inventory hooks set
    assert config.default_paths().state == tmp_path / ".sandbox-second"
    assert config.default_ports().etcd_client == 23790 + 7000
    assert config.default_paths("").state == tmp_path / ".sandbox"  # "" is the default cluster
    monkeypatch.setenv("SANDBOX_CLUSTER_PORT_OFFSET", "3000")
    assert config.default_ports("third").apiserver == 16443 + 8000


def test_a_cluster_name_that_is_no_folder_suffix_is_refused():
    for bad in ("../x", "Second", "a b", "-x"):
        try:
            config.cluster_name(bad)
        except ValueError as exc:
            assert "sandbox cluster name" in str(exc)
        else:
            raise AssertionError(bad)
