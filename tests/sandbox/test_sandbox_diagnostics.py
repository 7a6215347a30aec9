"""The sandbox answers diagnostics through the real API path: the istiod pod's logs and port-forward
reach the out-of-cluster istiod through the API server and kwok's kubelet endpoint."""
import json
import os
import subprocess

import pytest
from kubernetes import client

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.proxy_status import (
    parse_http_response, port_forward_request)


@pytest.fixture(scope="module")
def istiod_pod(installed_mesh, api_client):
    pods = client.CoreV1Api(api_client).list_namespaced_pod("istio-system", label_selector="app=istiod").items
    running = [p.metadata.name for p in pods if p.status.phase == "Running"]
    assert running, "no Running istiod pod"
    return running[0]


def kubectl(sandbox, *args):
    env = dict(os.environ, KUBECONFIG=str(sandbox.paths.kubeconfig))
    return subprocess.run([str(sandbox.bin("kubectl"))] + list(args), env=env, capture_output=True, text=True,
                          timeout=60)


def test_istiod_logs_come_through_the_api_server(sandbox, api_client, istiod_pod):
    lines = client.CoreV1Api(api_client).read_namespaced_pod_log(
        istiod_pod, "istio-system", container="discovery", tail_lines=200).splitlines()
    local = (sandbox.paths.logs / "istiod-default.log").read_text().splitlines()
    assert lines and all(line in local for line in lines), lines[:5]
    assert any("\tinfo\t" in line for line in lines)
    out = kubectl(sandbox, "logs", "-n", "istio-system", "deploy/istiod", "--tail", "5")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 5 and all(line in local for line in out.stdout.splitlines())


@pytest.mark.parametrize("port, path, expected", [
    (15014, "/version", "1.31-alpha"), (8080, "/ready", ""),
])
def test_port_forward_to_the_istiod_pod_reaches_istiod(api_client, istiod_pod, port, path, expected):
    request = ("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" % path).encode()
    status, body = parse_http_response(port_forward_request(api_client, istiod_pod, "istio-system", port, request))
    assert status == 200 and expected in body.decode()


def test_istioctl_default_mode_reaches_istiod(sandbox, istiod_pod):
    """istioctl port-forwards to the istiod pod's xDS port (15012) with a service-account token."""
    env = dict(os.environ, KUBECONFIG=str(sandbox.paths.kubeconfig))
    out = subprocess.run([str(sandbox.bin("istioctl")), "version", "-o", "json"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    mesh = json.loads(out.stdout)["meshVersion"]
    assert [m["Info"]["version"] for m in mesh] == [sandbox.versions["ISTIO_VERSION"]]
