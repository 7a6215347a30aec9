"""The sandbox Prometheus's pure parts: flows, the synthetic exporter's series, and the role template's jobs."""
import json

import pytest
import yaml

from sandbox import prometheus
from sandbox.synthetic_exporter import TrafficCollector


@pytest.mark.parametrize("text, error", [
    ("legacy/curl->foo/httpbin", "is not SOURCE_NS/WORKLOAD->DEST_NS/WORKLOAD"),
    ("legacy/curl->foo/httpbin:tls", "security must be one of mutual_tls, plaintext"),
    ("curl->foo/httpbin:plaintext", "source must be namespace/workload"),
    ("legacy/curl->foo/:plaintext", "destination must be namespace/workload"),
])
def test_bad_flows_are_refused_naming_the_format(text, error):
    with pytest.raises(ValueError, match=error):
        prometheus.parse_flow(text)


def test_exporter_serves_growing_istio_requests_total_with_istio_labels(tmp_path):
    flows = tmp_path / "traffic.json"
    flows.write_text(json.dumps([prometheus.parse_flow("legacy/curl->foo/httpbin:plaintext"),
                                 prometheus.parse_flow("foo/curl->bar/httpbin:mutual_tls")]))
    clock = iter([100.0, 110.0])
    collector = TrafficCollector(str(flows), clock=lambda: next(clock))
    first, second = [{tuple(sorted(s.labels.items())): s.value for s in next(collector.collect()).samples}
                     for _ in range(2)]
    assert all(second[key] == first[key] + 10 for key in first)  # one request per second
    labels = [dict(key) for key in first]
    plaintext = [s for s in labels if s["connection_security_policy"] == "plaintext"]
    assert plaintext == [dict(plaintext[0], reporter="destination", source_workload="curl",
                              source_workload_namespace="legacy", destination_workload="httpbin",
                              destination_workload_namespace="foo", source_principal="unknown")]
    mutual = sorted((s["reporter"], s["connection_security_policy"]) for s in labels if s["destination_workload_namespace"] == "bar")
    assert mutual == [("destination", "mutual_tls"), ("source", "unknown")]


@pytest.mark.parametrize("merging, strict_tls, jobs", [
    (True, False, ["istiod", "kubernetes-pods", "extra"]),
    (False, False, ["istiod", "envoy-stats", "extra"]),
    (False, True, ["istiod", "envoy-stats", "kubernetes-pods-istio-secure", "extra"]),
])
def test_role_template_jobs(merging, strict_tls, jobs):
    doc = yaml.safe_load(prometheus.render_scrape_config(prometheus.role_defaults(
        observability_addons_prometheus_metrics_merging=merging, observability_addons_prometheus_strict_tls=strict_tls,
        observability_addons_prometheus_extra_scrape_configs=[{"job_name": "extra", "static_configs": []}])))
    assert [j["job_name"] for j in doc["scrape_configs"]] == jobs
    istiod = doc["scrape_configs"][0]
    assert istiod["kubernetes_sd_configs"] == [{"role": "endpoints", "namespaces": {"names": ["istio-system"]}}]
    assert {"source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpoint_port_name"],
            "action": "keep", "regex": "istiod;http-monitoring"} in istiod["relabel_configs"]
    if strict_tls:
        tls = doc["scrape_configs"][2]["tls_config"]
        assert tls["cert_file"] == "/etc/prom-certs/cert-chain.pem" and tls["key_file"] == "/etc/prom-certs/key.pem"


def test_sandbox_values_point_discovery_and_the_istiod_address_outside_the_cluster():
    doc = yaml.safe_load(prometheus.render_scrape_config(prometheus.role_defaults(
        observability_addons_prometheus_kubeconfig_file="/s/prometheus.kubeconfig",
        observability_addons_prometheus_istiod_address="127.0.0.1:19014")))
    assert all(sd["kubeconfig_file"] == "/s/prometheus.kubeconfig" for job in doc["scrape_configs"]
               for sd in job["kubernetes_sd_configs"])
    assert doc["scrape_configs"][0]["relabel_configs"][-1] == {"target_label": "__address__",
                                                               "replacement": "127.0.0.1:19014"}
