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
