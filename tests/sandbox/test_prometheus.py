"""A real Prometheus on the sandbox, configured by observability_addons' scrape template: promtool accepts every
variant, istiod is scraped for real, and the mTLS STRICT gate reads synthetic istio_requests_total from it."""
import re

import pytest
from kubernetes import client

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mtls import prometheus_query
from sandbox import prometheus
from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, pods_with_sidecar, wait_for
from tests.helpers.playbook import run_playbook

FLOWS = ["legacy/curl->foo/httpbin:plaintext", "foo/curl->foo/httpbin:mutual_tls",
         "foo/curl->bar/httpbin:mutual_tls"]


def text(run):
    return " ".join(run.stdout.split())


def gate(namespace, url, check=True, **extra):
    """mtls-strict.yml on one namespace; check mode, so a passing gate writes nothing either."""
    return run_playbook("playbooks/mtls-strict.yml", dict({
        "mtls_policy_scope": "namespace", "mtls_policy_namespace": namespace, "mtls_policy_prometheus_url": url},
        **extra), check=check, diff=check)


def samples(box, selector):
    """Samples over the last hour per series of istio_requests_total{selector}."""
    result = prometheus.api(box, "query", {"query": "count_over_time(istio_requests_total{%s}[1h])" % selector})
    return [int(r["value"][1]) for r in result["result"]]


@pytest.fixture(scope="module")
def prom(sandbox, api_client, installed_mesh):
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    for ns in ("foo", "bar"):
        core.create_namespace({"metadata": {"name": ns, "labels": {"istio-injection": "enabled"}}})
        apps.create_namespaced_deployment(ns, deployment("httpbin"))
    prometheus.down(sandbox)  # a fresh one: an empty TSDB, so earlier runs' traffic is not in the window
    prometheus.up(sandbox, FLOWS)
    wait_for(lambda: all_available(api_client, ["foo", "bar"]))
    assert pods_with_sidecar(api_client, ["foo", "bar"]) == (2, 2)
    yield sandbox
    prometheus.down(sandbox)
    for ns in ("foo", "bar"):
        core.delete_namespace(ns)


@pytest.mark.parametrize("merging, strict_tls", [(True, False), (False, False), (True, True), (False, True)])
def test_promtool_accepts_the_role_template(sandbox, tmp_path, merging, strict_tls):
    prometheus.ensure_built(sandbox)
    extra = [{"job_name": "extra", "static_configs": [{"targets": ["127.0.0.1:1"]}]}]
    path = tmp_path / "prometheus.yml"
    path.write_text(prometheus.render_scrape_config(prometheus.role_defaults(
        observability_addons_prometheus_metrics_merging=merging, observability_addons_prometheus_strict_tls=strict_tls,
        observability_addons_prometheus_extra_scrape_configs=extra)))
    # the TLS job names the sidecar's output certificates in Prometheus's pod (/etc/prom-certs/), absent here:
    # promtool checks that variant's syntax and semantics without opening those files
    ok, output = prometheus.promtool_check(sandbox, path, syntax_only=strict_tls)
    assert ok, output
    jobs = re.findall(r"^- job_name: (\S+)|^- \{\"job_name\": \"(\w+)\"", path.read_text(), re.M)
    jobs = [a or b for a, b in jobs]
    assert jobs == ["istiod", "kubernetes-pods" if merging else "envoy-stats"] + (
        ["kubernetes-pods-istio-secure"] if strict_tls else []) + ["extra"]


def test_prometheus_scrapes_istiod_for_real(prom):
    record = prometheus.info(prom)
    ok, output = prometheus.promtool_check(prom, record["config"])  # the running configuration, files included
    assert ok, output

    def istiod_up():
        return [t for t in prometheus.targets(prom) if t[0] == "istiod" and t[1] == record["istiod_target"]
                and t[2] == "up"]
    wait_for(istiod_up, timeout=60)
    # pilot_info (always exposed; pilot_xds_pushes appears only once proxies connect) carries istiod's version
    result = wait_for(lambda: prometheus.api(prom, "query", {"query": 'pilot_info{job="istiod"}'})["result"],
                      timeout=60)
    assert {r["metric"]["instance"] for r in result} == {record["istiod_target"]}
    assert all(r["metric"]["version"].startswith(prom.versions["ISTIO_VERSION"]) for r in result), result
    # the pod behind the instance is istiod's, found through the API server as in a cluster
    assert all(r["metric"]["pod"].startswith("istiod-") and r["metric"]["namespace"] == "istio-system" for r in result)
    # the synthetic exporter is scraped too (its first scrape may not have happened yet: "unknown")
    wait_for(lambda: {t[0]: t[2] for t in prometheus.targets(prom)}.get(prometheus.SYNTHETIC_JOB) == "up", timeout=60)


def test_gate_refuses_strict_on_plaintext_traffic_and_names_the_client(prom, audit):
    wait_for(lambda: prometheus.api(prom, "query", {"query": prometheus_query(["foo"], "1h")})["result"], timeout=60)
    since = now()
    run = gate("foo", prometheus.url(prom), check=False)
    assert run.rc != 0, run.stdout[-3000:]
    assert ('STRICT refused for namespace foo: 1 finding(s): plaintext requests seen by Prometheus: '
            '{"destination_workload": "httpbin", "destination_workload_namespace": "foo", "source_workload": "curl", '
            '"source_workload_namespace": "legacy"}') in text(run), run.stdout[-3000:]
    assert audit.writes(since) == []


def test_gate_passes_with_only_mutual_tls_traffic(prom):
    # the mutual TLS traffic to bar is in Prometheus (two samples: increase() has a rate to see)
    wait_for(lambda: (lambda found: found and min(found) >= 2)(samples(prom, 'destination_workload_namespace="bar"')),
             timeout=60)
    run = gate("bar", prometheus.url(prom))
    assert run.rc == 0, run.stdout[-3000:]
    assert "Prometheus saw no plaintext requests over 1h to workloads in bar" in text(run)
    assert "Safety gate passed" in text(run)


def test_gate_could_not_check_when_prometheus_is_down_and_refuses_unless_forced(prom):
    url = prometheus.url(prom)
    prometheus.down(prom)
    run = gate("bar", url)
    assert run.rc != 0, run.stdout[-3000:]
    assert re.search(r"STRICT refused for namespace bar: 1 finding\(s\): Prometheus at %s could not be checked for "
                     r"plaintext traffic \(HTTP -1: .*Connection refused" % re.escape(url), text(run)), run.stdout[-3000:]
    forced = gate("bar", url, mtls_policy_force=True)
    assert forced.rc == 0 and "Safety gate overridden with mtls_policy_force: Prometheus at %s could not be checked" % url \
        in text(forced), forced.stdout[-3000:]
