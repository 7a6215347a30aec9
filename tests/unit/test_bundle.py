"""support bundle: which logs are read, why others are not, no Secrets, the index and the tarball."""
import json
import tarfile

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import bundle as b


def pod(ns, name, labels, containers=("app", "istio-proxy"), phase="Running"):
    return {"metadata": {"namespace": ns, "name": name, "labels": labels},
            "spec": {"containers": [{"name": c} for c in containers]}, "status": {"phase": phase}}


ISTIOD = pod("istio-system", "istiod-1", {"app": "istiod"}, ("discovery",))
GATEWAY = pod("istio-system", "gw-1", {"istio": "ingressgateway"}, ("istio-proxy",))
GRAFANA = pod("istio-system", "grafana-1", {"app": "grafana"}, ("grafana",))


class FakeApi(object):
    def __init__(self, objects):
        self.objects, self.calls = objects, []

    def list(self, api_version, kind, namespace=None, label_selector=None):
        self.calls.append((kind, namespace, label_selector))
        return [o for o in self.objects.get(kind, []) if namespace is None or o["metadata"].get("namespace") == namespace]


def read_log(namespace, pod_name, container, since_seconds, tail_lines):
    if pod_name == "broken":
        raise Exception("HTTP 400: no logs found")
    return "line 1\nline 2\n"


def test_log_targets_istiod_gateways_and_injected_app_pods():
    apps = [pod("shop", "web-1", {"app": "web"}), pod("shop", "plain", {"app": "web"}, ("app",)),
            pod("shop", "new", {"app": "web"}, phase="Pending")]
    targets = b.log_targets([ISTIOD, GATEWAY, GRAFANA], apps, "istio-system")
    assert [(t["pod"], t["container"], t["role"], t["reason"]) for t in targets] == [
        ("istiod-1", "discovery", "istiod", None), ("gw-1", "istio-proxy", "gateway", None),
        ("web-1", "istio-proxy", "app", None),
        ("plain", "istio-proxy", "app", "no istio-proxy container (pod not injected)"),
        ("new", "istio-proxy", "app", "pod is Pending: no container has started")]


def test_collect_lists_once_per_kind_never_secrets_and_lists_unreadable_logs():
    api = FakeApi({"Namespace": [{"metadata": {"name": "shop", "labels": {"istio-injection": "enabled"}}},
                                 {"metadata": {"name": "istio-system"}}],
                   "Pod": [ISTIOD, GATEWAY, pod("shop", "web-1", {"app": "web"}),
                           pod("shop", "broken", {"app": "web"})],
                   "Secret": [{"metadata": {"namespace": "istio-system", "name": "cacerts"}, "data": {"k": "c2VjcmV0"}}],
                   "VirtualService": [{"metadata": {"namespace": "shop", "name": "web", "managedFields": [{}],
                                                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}}]})
    found = b.collect(api, read_log, namespaces=["shop"], tail_lines=10, extra_files={"proxy-status.json": {"a": 1}})
    assert "Secret" not in [c[0] for c in api.calls]
    assert "c2VjcmV0" not in json.dumps(found["files"])
    assert len([c for c in api.calls if c[0] == "Pod"]) == 2  # istio-system once, shop once
    vs = json.loads(found["files"]["istio/VirtualService.json"])[0]
    assert "managedFields" not in vs["metadata"] and vs["metadata"]["annotations"] == {}
    assert found["files"]["logs/shop/web-1/istio-proxy.log"] == "line 1\nline 2\n"
    assert [(l["pod"], l["reason"]) for l in found["logs"] if l["reason"]] == [("broken", "HTTP 400: no logs found")]
    assert json.loads(found["files"]["namespaces.json"])["shop"] == {"istio-injection": "enabled"}
    assert json.loads(found["files"]["proxy-status.json"]) == {"a": 1}


def test_without_namespaces_or_selector_no_app_pod_is_read():
    api = FakeApi({"Pod": [ISTIOD, pod("shop", "web-1", {"app": "web"})]})
    found = b.collect(api, read_log)
    assert [l["pod"] for l in found["logs"]] == ["istiod-1"]


@pytest.mark.parametrize("kwargs, expected", [
    ({"namespaces": ["nope"]}, "namespaces names nope, which do not exist"),
    ({"tail_lines": 0}, "tail_lines is 0: give a positive number"),
    ({"since_seconds": -1}, "since_seconds is -1: give a positive number"),
])
def test_bad_input(kwargs, expected):
    with pytest.raises(b.BundleError, match=expected):
        b.collect(FakeApi({}), read_log, **kwargs)


def test_index_and_tarball(tmp_path):
    logs = [{"namespace": "shop", "pod": "p", "container": "istio-proxy", "role": "app", "reason": "gone"},
            {"namespace": "istio-system", "pod": "istiod-1", "container": "discovery", "role": "istiod",
             "reason": None, "lines": 2}]
    index = b.build_index("2026-11-26T00:00:00Z", {"tail_lines": 10}, ["b", "a"], logs, [])
    assert index["files"] == ["a", "b"] and [l["pod"] for l in index["unreadable_logs"]] == ["p"]
    text = b.index_text(index)
    assert "shop/p istio-proxy (app): NOT READ: gone" in text and "istiod-1 discovery (istiod): 2 lines" in text
    path = str(tmp_path / "bundle.tar.gz")
    b.write_tarball(path, "bundle", {"index.txt": text})
    with tarfile.open(path) as tar:
        assert tar.getnames() == ["bundle/index.txt"]
    assert oct((tmp_path / "bundle.tar.gz").stat().st_mode & 0o777) == "0o600"


def test_literal_env_values_never_reach_the_bundle():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.bundle import REDACTED, clean_object
    pod_spec = {"containers": [{"name": "app", "env": [{"name": "DB_PASSWORD", "value": "hunter2"},
                                                       {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {}}}]}]}
    deployment = clean_object({"metadata": {"name": "d"}, "spec": {"template": {"spec": pod_spec}}}, "apps/v1", "Deployment")
    assert "hunter2" not in repr(deployment)
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env == [{"name": "DB_PASSWORD", "value": REDACTED}, {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {}}}]
