"""Synthetic Istio traffic metrics for the sandbox's Prometheus (kwok pods run no Envoy, so nothing else serves
them). Serves istio_requests_total with Istio's standard labels for the flows in a JSON file, re-read on every
scrape: each flow's counter grows by its rate per second from the moment the flow appears, as real traffic would.

Flows file: [{"source": "legacy/curl", "destination": "foo/httpbin", "security": "plaintext", "rate": 1.0}, ...]
("security" is "mutual_tls" or "plaintext"; "source" and "destination" are namespace/workload).
Usage: python sandbox/synthetic_exporter.py --port 9091 --flows FILE
"""
import argparse
import json
import threading
import time

from prometheus_client import start_http_server
from prometheus_client.core import REGISTRY, CounterMetricFamily

LABELS = ["reporter", "source_workload", "source_workload_namespace", "source_principal", "source_app",
          "source_version", "source_cluster", "destination_workload", "destination_workload_namespace",
          "destination_principal", "destination_app", "destination_version", "destination_service",
          "destination_service_name", "destination_service_namespace", "destination_cluster", "request_protocol",
          "response_code", "grpc_response_status", "response_flags", "connection_security_policy"]
SECURITY = ("mutual_tls", "plaintext")


def read_flows(path):
    try:
        with open(path, encoding="utf-8") as handle:
            flows = json.load(handle)
    except (OSError, ValueError):
        return []
    return [f for f in flows if f.get("security") in SECURITY and "/" in f.get("source", "")
            and "/" in f.get("destination", "")]


def series(flow):
    """Label sets for one flow: the destination sidecar's report, and the source sidecar's when the client
    has one (mutual TLS needs a sidecar on both ends)."""
    src_ns, src = flow["source"].split("/", 1)
    dst_ns, dst = flow["destination"].split("/", 1)
    mtls = flow["security"] == "mutual_tls"
    common = {
        "source_workload": src, "source_workload_namespace": src_ns,
        "source_principal": f"spiffe://cluster.local/ns/{src_ns}/sa/{src}" if mtls else "unknown",
        "source_app": src, "source_version": "unknown", "source_cluster": "Kubernetes",
        "destination_workload": dst, "destination_workload_namespace": dst_ns,
        "destination_principal": f"spiffe://cluster.local/ns/{dst_ns}/sa/{dst}" if mtls else "unknown",
        "destination_app": dst, "destination_version": "unknown",
        "destination_service": f"{dst}.{dst_ns}.svc.cluster.local", "destination_service_name": dst,
        "destination_service_namespace": dst_ns, "destination_cluster": "Kubernetes", "request_protocol": "http",
        "response_code": "200", "grpc_response_status": "", "response_flags": "-",
    }
    reports = [dict(common, reporter="destination", connection_security_policy=flow["security"])]
    if mtls:
        reports.append(dict(common, reporter="source", connection_security_policy="unknown"))
    return reports


class TrafficCollector:
    def __init__(self, path, clock=time.time):
        self.path, self.clock = path, clock
        self.first_seen = {}
        self.lock = threading.Lock()

    def collect(self):
        family = CounterMetricFamily("istio_requests_total", "Synthetic Istio requests (sandbox)", labels=LABELS)
        now = self.clock()
        with self.lock:
            for flow in read_flows(self.path):
                key = (flow["source"], flow["destination"], flow["security"])
                start = self.first_seen.setdefault(key, now)
                count = 1 + float(flow.get("rate", 1.0)) * (now - start)
                for labels in series(flow):
                    family.add_metric([labels[name] for name in LABELS], count)
        yield family


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--flows", required=True)
    args = parser.parse_args(argv)
    REGISTRY.register(TrafficCollector(args.flows))
    start_http_server(args.port, addr="127.0.0.1")
    print(f"synthetic exporter: serving istio_requests_total on 127.0.0.1:{args.port} from {args.flows}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
