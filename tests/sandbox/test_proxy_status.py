"""proxy_status against the real istiod, with simulated sidecars as real xDS clients
(python -m sandbox proxies). The tests run in file order and share one namespace of 20 pods."""
import json
import os
import subprocess
import tempfile
import time

import pytest
from kubernetes import client

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.proxy_status import parse_istioctl_json
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, delete_namespaces, deployment, wait_for
from tests.helpers.playbook import run_playbook

PODS = 20


@pytest.fixture(scope="module")
def mesh(installed_mesh, sandbox, api_client):
    """A namespace with 20 Running pods, and its pod names."""
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    ns = "proxies-%d" % (time.time() * 1000 % 100000)
    core.create_namespace({"metadata": {"name": ns, "labels": {"istio-runbooks.io/test": "true"}}})
    apps.create_namespaced_deployment(ns, deployment("shop", replicas=PODS))
    wait_for(lambda: all_available(api_client, [ns]), timeout=180)
    pods = sorted(p.metadata.name for p in core.list_namespaced_pod(ns).items if p.status.phase == "Running")
    assert len(pods) == PODS
    yield ns, pods
    sandbox.proxies_down()
    delete_namespaces(api_client, [ns])


def istiod_address(sandbox):
    return "http://127.0.0.1:%d" % sandbox.istiod_ports(sandbox.istiod_offset("default"))["http"]


def proxy_status(args, **kw):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = run_playbook("tests/sandbox/playbooks/proxy_status.yml", {"status_args": args, "result_file": out.name},
                           **kw)
        text = open(out.name).read()
        return run, (json.loads(text) if text else None)


def test_twenty_simulated_proxies_are_synced(sandbox, mesh, audit):
    ns, pods = mesh
    assert sandbox.proxies_up(ns) == PODS
    since = now()
    run, result = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox), "wait": True,
                                "wait_timeout": 60, "fail_on": ["STALE", "ERROR"], "max_not_synced_percent": 0})
    assert run.rc == 0, run.stdout[-3000:]
    assert result["summary"]["total"] == PODS and result["summary"]["proxies"]["SYNCED"] == PODS, result["table"]
    assert sorted(p["pod"] for p in result["proxies"]) == pods
    for proxy in result["proxies"]:
        assert proxy["namespace"] == ns and proxy["name"] == "%s.%s" % (proxy["pod"], ns)
        assert proxy["types"]["CDS"] == "SYNCED" and proxy["types"]["LDS"] == "SYNCED", proxy
        assert proxy["version"] == sandbox.versions["ISTIO_VERSION"]
        assert proxy["istiod"] == istiod_address(sandbox)
    assert result["changed"] is False and result["source"] == "syncz"
    assert audit.writes(since) == []


def test_istioctl_default_mode_lists_the_same_twenty(sandbox, mesh):
    """The real istioctl, in its default mode, port-forwards to the istiod pod through the API server."""
    ns, pods = mesh
    env = dict(os.environ, KUBECONFIG=str(sandbox.paths.kubeconfig))
    istioctl = str(sandbox.bin("istioctl"))
    out = subprocess.run([istioctl, "proxy-status", "-o", "json", "-n", ns], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    by_istioctl = parse_istioctl_json(out.stdout)
    assert sorted(p["pod"] for p in by_istioctl) == pods
    assert all(p["state"] == "SYNCED" for p in by_istioctl)
    table = subprocess.run([istioctl, "proxy-status"], env=env, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    assert sorted(line.split()[0] for line in table.stdout.splitlines() if line.endswith(")")
                  and line.split()[0].endswith("." + ns)) == ["%s.%s" % (p, ns) for p in pods]


def test_module_reads_syncz_through_port_forward(sandbox, mesh, api_client):
    ns, pods = mesh
    run, result = proxy_status({"namespaces": [ns], "source": "syncz", "fail_on": ["STALE", "ERROR"]})
    assert run.rc == 0, run.stdout[-3000:]
    assert result["summary"]["proxies"]["SYNCED"] == PODS
    istiod_pods = [p.metadata.name for p in client.CoreV1Api(api_client).list_namespaced_pod(
        "istio-system", label_selector="app=istiod").items]
    assert set(p["istiod"] for p in result["proxies"]) <= set(istiod_pods)


def test_check_mode_reads_the_same(sandbox, mesh):
    ns, _pods = mesh
    run, result = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox)}, check=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert result["summary"]["proxies"]["SYNCED"] == PODS


def test_label_selector_keeps_the_matching_pods(sandbox, mesh, api_client):
    ns, pods = mesh
    core = client.CoreV1Api(api_client)
    core.patch_namespaced_pod(pods[0], ns, {"metadata": {"labels": {"canary": "true"}}})
    run, result = proxy_status({"namespaces": [ns], "label_selector": "app=shop,canary=true",
                                "istiod_address": istiod_address(sandbox)})
    assert run.rc == 0, run.stdout[-3000:]
    assert [p["pod"] for p in result["proxies"]] == [pods[0]]


def test_three_stale_proxies_are_reported_and_fail_the_threshold(sandbox, mesh):
    ns, pods = mesh
    stale = pods[:3]
    sandbox.proxies_up(ns, stale=stale)
    run, result = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox),
                                "max_not_synced_percent": 10})
    assert run.rc != 0
    states = dict((p["pod"], p["state"]) for p in result["proxies"])
    assert sorted(pod for pod, state in states.items() if state == "STALE") == stale, result["table"]
    assert all(states[pod] == "SYNCED" for pod in pods[3:])
    assert result["summary"]["proxies"]["STALE"] == 3 and result["summary"]["not_synced_percent"] == 15.0
    assert "15.0% of 20 proxies are not SYNCED, above max_not_synced_percent=10" in result["msg"]
    # the same fleet passes a looser threshold, and fails fail_on STALE
    run, _result = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox),
                                 "max_not_synced_percent": 20})
    assert run.rc == 0, run.stdout[-3000:]
    run, result = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox), "fail_on": ["STALE"]})
    assert run.rc != 0 and "3 proxies STALE" in result["msg"]


def test_istioctl_json_source_agrees_with_syncz(sandbox, mesh):
    """The real istioctl (proxy-status -o json over xDS, with a service-account token) sees the same states."""
    ns, pods = mesh
    xds = "127.0.0.1:%d" % sandbox.istiod_ports(sandbox.istiod_offset("default"))["secure_grpc"]
    run, by_istioctl = proxy_status({"namespaces": [ns], "source": "istioctl",
                                     "istioctl_path": str(sandbox.bin("istioctl")),
                                     "istioctl_args": ["--xds-address", xds, "--insecure"]})
    assert run.rc == 0, run.stdout[-3000:]
    assert by_istioctl["source"] == "istioctl"
    _run, by_syncz = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox)})
    states = dict((p["name"], p["state"]) for p in by_istioctl["proxies"])
    assert states == dict((p["name"], p["state"]) for p in by_syncz["proxies"])
    assert sorted(name for name, state in states.items() if state == "STALE") == ["%s.%s" % (p, ns) for p in pods[:3]]
    assert set(p["istiod"] for p in by_istioctl["proxies"]) == {"istiod-default-sandbox"}


def test_rejecting_proxies_are_reported_error(sandbox, mesh):
    ns, pods = mesh
    sandbox.proxies_up(ns, error=pods[:2])
    run, result = proxy_status({"namespaces": [ns], "istiod_address": istiod_address(sandbox),
                                "fail_on": ["ERROR"]})
    assert run.rc != 0
    errors = [p for p in result["proxies"] if p["state"] == "ERROR"]
    assert sorted(p["pod"] for p in errors) == pods[:2], result["table"]
    assert "rejected by simulated proxy" in errors[0]["errors"]["CDS"]
    assert "2 proxies ERROR" in result["msg"]


@pytest.mark.parametrize("args, expected", [
    ({"namespaces": ["no-such-namespace"]}, "namespaces names no-such-namespace, which do not exist"),
    ({"max_not_synced_percent": 150}, "max_not_synced_percent is 150.0: give a percentage from 0 to 100"),
    ({"label_selector": "app=(shop"}, "label_selector 'app=(shop' does not parse"),
])
def test_bad_input_is_refused_with_a_clear_error(sandbox, mesh, audit, args, expected):
    since = now()
    run, result = proxy_status(dict({"istiod_address": istiod_address(sandbox)}, **args))
    assert run.rc != 0
    assert expected in result["msg"], result["msg"]
    assert audit.writes(since) == []


@pytest.mark.parametrize("source", ["istiod_address", "port-forward", "istioctl"])
def test_stopped_istiod_fails_fast_naming_istiod(sandbox, mesh, source):
    ns, _pods = mesh
    args = {"namespaces": [ns], "wait": True, "wait_timeout": 120}
    args.update({"istiod_address": {"istiod_address": istiod_address(sandbox)},
                 "port-forward": {"source": "syncz"},
                 "istioctl": {"source": "istioctl", "istioctl_path": str(sandbox.bin("istioctl"))}}[source])
    assert sandbox.istiod_down("default")
    try:
        started = time.time()
        run, result = proxy_status(args)
        took = time.time() - started
        assert run.rc != 0
        expected = {"istiod_address": "istiod is unreachable at %s/debug/syncz" % istiod_address(sandbox),
                    "port-forward": "is unreachable through port-forward to 15014",
                    "istioctl": "istioctl could not reach istiod"}[source]
        assert expected in result["msg"], result["msg"]
        assert took < 45, "waited %.0fs for an istiod that is down" % took
    finally:
        sandbox.istiod_up("default")
    # the simulated sidecars reconnect to the restarted istiod
    wait_for(lambda: len([s for s in sandbox.syncz() if s.get("proxy", "").endswith("." + ns)]) == PODS, timeout=60)
