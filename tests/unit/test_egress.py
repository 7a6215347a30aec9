"""Egress from variables: validation, the objects of Istio's Egress Gateways task, the hosts in use before
REGISTRY_ONLY and which ServiceEntry covers them."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import egress

GATEWAY = {"name": "istio-egress", "namespace": "istio-egress"}
HTTPBIN = {"name": "httpbin", "hosts": ["httpbin.org"],
           "ports": [{"number": 80, "protocol": "HTTP"}, {"number": 443, "protocol": "TLS"}]}
DIRECT = {"name": "mirror", "hosts": ["pypi.example.com"], "ports": [{"number": 443, "protocol": "TLS"}],
          "egress_gateway": False}


def test_valid_input_has_no_problems():
    assert egress.validate([HTTPBIN, DIRECT], GATEWAY) == []


def test_every_problem_names_the_variable():
    problems = egress.validate([
        {"name": "Bad!", "hosts": ["x.org"], "ports": [{"number": 80, "protocol": "HTTP"}]},
        {"name": "wild", "hosts": ["*.example.com", "Not A Host"], "ports": [{"number": 0, "protocol": "SMTP"}]},
        {"name": "tcp", "hosts": ["db.example.com"], "ports": [{"number": 5432, "protocol": "TCP"}]},
        {"name": "static", "hosts": ["s.example.com"], "resolution": "STATIC", "ports": [{"number": 80, "protocol": "HTTP"}]},
        dict(HTTPBIN), dict(HTTPBIN)], {"name": ""})
    text = "; ".join(problems)
    for message in ['traffic_management_egress_services[0] (Bad!).name must be a DNS label, e.g. httpbin, got "Bad!"',
                    "(wild).hosts has names that are not DNS names (wildcard only as *.domain): 'Not A Host'",
                    "(wild).hosts: a wildcard host cannot be resolved by DNS; set resolution: NONE",
                    "(wild).ports[0].number must be a port from 1 to 65535, got 0",
                    '(wild).ports[0].protocol must be one of HTTP, HTTPS, TLS, TCP, GRPC, HTTP2, got "SMTP"',
                    "(wild).hosts: a wildcard host is not routed through the egress gateway",
                    "(tcp).ports[0].protocol TCP cannot be routed through the egress gateway (HTTP, HTTPS or TLS); "
                    "set egress_gateway: false",
                    "(static).endpoints must list addresses for resolution STATIC",
                    "[5] (httpbin): httpbin is listed twice",
                    "traffic_management_egress_gateway must name the egress gateway of mesh_gateways_gateways"]:
        assert message in text, text


def test_objects_follow_istios_egress_gateway_task():
    objects = egress.egress_objects([HTTPBIN, DIRECT], "istio-egress", GATEWAY)
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ServiceEntry", "httpbin"), ("ServiceEntry", "mirror"), ("DestinationRule", "egress-gateway"),
        ("Gateway", "egress-httpbin"), ("VirtualService", "egress-httpbin")]
    entry, rule, gateway, route = objects[0]["spec"], objects[2]["spec"], objects[3]["spec"], objects[4]["spec"]
    assert entry == {"hosts": ["httpbin.org"], "resolution": "DNS", "location": "MESH_EXTERNAL",
                     "ports": [{"number": 80, "protocol": "HTTP", "name": "http-80"},
                               {"number": 443, "protocol": "TLS", "name": "tls-443"}]}
    assert rule == {"host": "istio-egress.istio-egress.svc.cluster.local", "subsets": [{"name": "httpbin"}]}
    assert gateway == {"selector": {"app": "istio-egress", "istio": "egress"}, "servers": [
        {"port": {"number": 80, "name": "http-80", "protocol": "HTTP"}, "hosts": ["httpbin.org"]},
        {"port": {"number": 443, "name": "tls-443", "protocol": "TLS"}, "hosts": ["httpbin.org"],
         "tls": {"mode": "PASSTHROUGH"}}]}
    via = {"host": "istio-egress.istio-egress.svc.cluster.local", "subset": "httpbin"}
    assert route == {"hosts": ["httpbin.org"], "gateways": ["egress-httpbin", "mesh"], "http": [
        {"name": "mesh-to-egress-gateway-80", "match": [{"gateways": ["mesh"], "port": 80}],
         "route": [{"destination": dict(via, port={"number": 80}), "weight": 100}]},
        {"name": "egress-gateway-to-httpbin-80", "match": [{"gateways": ["egress-httpbin"], "port": 80}],
         "route": [{"destination": {"host": "httpbin.org", "port": {"number": 80}}, "weight": 100}]}], "tls": [
        {"match": [{"gateways": ["mesh"], "port": 443, "sniHosts": ["httpbin.org"]}],
         "route": [{"destination": dict(via, port={"number": 443}), "weight": 100}]},
        {"match": [{"gateways": ["egress-httpbin"], "port": 443, "sniHosts": ["httpbin.org"]}],
         "route": [{"destination": {"host": "httpbin.org", "port": {"number": 443}}, "weight": 100}]}]}
    assert all(o["metadata"]["labels"]["istio-runbooks.io/egress"] for o in objects)


def test_no_gateway_objects_when_nothing_is_routed():
    assert [o["kind"] for o in egress.egress_objects([DIRECT], "istio-egress", GATEWAY)] == ["ServiceEntry"]


def test_stale_objects_are_the_labelled_ones_no_longer_named():
    desired = egress.egress_objects([DIRECT], "istio-egress", GATEWAY)
    live = egress.egress_objects([HTTPBIN, DIRECT], "istio-egress", GATEWAY) + [
        {"kind": "ServiceEntry", "metadata": {"name": "by-hand", "namespace": "istio-egress"}}]
    assert [o["metadata"]["name"] for o in egress.stale(desired, live)] == [
        "httpbin", "egress-gateway", "egress-httpbin", "egress-httpbin"]


def test_hosts_in_use_and_coverage():
    result = [
        {"metric": {"destination_service": "httpbin.org", "source_workload": "backend-v1",
                    "source_workload_namespace": "demo"}, "value": [0, "12.4"]},
        {"metric": {"destination_service": "httpbin.org", "source_workload": "frontend",
                    "source_workload_namespace": "demo"}, "value": [0, "3"]},
        {"metric": {"destination_service": "api.stripe.com", "source_workload": "backend-v2",
                    "source_workload_namespace": "demo"}, "value": [0, "5"]},
        {"metric": {"destination_service": "cdn.example.net"}, "value": [0, "NaN"]},
        {"metric": {"destination_service": "idle.example.net"}, "value": [0, "0"]}]
    in_use = egress.hosts_in_use(result)
    assert in_use == [{"host": "api.stripe.com", "sources": ["demo/backend-v2"], "count": 5},
                      {"host": "httpbin.org", "sources": ["demo/backend-v1", "demo/frontend"], "count": 15}]
    entries = [{"metadata": {"namespace": "istio-egress", "name": "httpbin"}, "spec": {"hosts": ["httpbin.org"]}},
               {"metadata": {"namespace": "shop", "name": "wild"}, "spec": {"hosts": ["*.example.com"]}}]
    report = egress.registry_only_report(in_use, entries)
    assert report["uncovered"] == ["api.stripe.com"]
    assert report["lines"] == [
        "External host in use: api.stripe.com (5 requests/connections from demo/backend-v2): NOT covered by any ServiceEntry",
        "External host in use: httpbin.org (15 requests/connections from demo/backend-v1, demo/frontend): covered by "
        "ServiceEntry istio-egress/httpbin",
        "ServiceEntries declare: *.example.com (shop/wild), httpbin.org (istio-egress/httpbin)"]
    assert egress.host_covered("a.example.com", ["*.example.com"]) and not egress.host_covered("example.com", ["*.example.com"])
    assert egress.host_covered("httpbin.org:443", ["httpbin.org"])


def test_query_selects_passthrough_traffic_reported_by_the_source():
    query = egress.PASSTHROUGH_QUERY % "1h"
    assert 'destination_service_name="PassthroughCluster"' in query and "[1h]" in query and 'reporter="source"' in query


def _render_istio_operator(**variables):
    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    from tests.helpers.playbook import ROOT
    values = dict(yaml.safe_load((ROOT / "roles/istio_install/defaults/main.yml").read_text()), **variables)
    source = (ROOT / "roles/istio_install/templates/istio-operator.yaml.j2").read_text()
    return yaml.safe_load(Templar(loader=DataLoader(), variables=values).template(trust_as_template(source)))


def test_istio_install_renders_the_outbound_traffic_policy_beside_the_mesh_config():
    spec = _render_istio_operator(istio_install_outbound_traffic_policy="REGISTRY_ONLY",
                                  istio_install_mesh_config={"accessLogFile": "/dev/stdout"})["spec"]
    assert spec["meshConfig"] == {"accessLogFile": "/dev/stdout", "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}
    # unset: the mesh config's own setting (or Istio's default) stays
    spec = _render_istio_operator(istio_install_mesh_config={"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}})["spec"]
    assert spec["meshConfig"] == {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}


def test_a_second_destination_rule_for_a_host_traffic_management_owns_is_named():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.traffic import second_rules
    desired = [{"kind": "DestinationRule", "metadata": {"name": "backend", "namespace": "demo"},
                "spec": {"host": "backend.demo.svc.cluster.local"}}]
    live = [dict(desired[0]),
            {"kind": "DestinationRule", "metadata": {"name": "backend-ingress", "namespace": "demo"},
             "spec": {"host": "backend"}},
            {"kind": "DestinationRule", "metadata": {"name": "frontend-ingress", "namespace": "demo"},
             "spec": {"host": "frontend"}}]
    assert second_rules(desired, live) == [
        "DestinationRule demo/backend-ingress also targets backend.demo.svc.cluster.local, whose rule demo/backend "
        "traffic_management owns: Istio applies only one; move its settings into traffic_management_services and "
        "delete it"]


def test_a_routed_service_takes_one_host_and_one_port_per_protocol():
    problems = "; ".join(egress.validate([
        {"name": "two", "hosts": ["a.example.com", "b.example.com"], "ports": [{"number": 443, "protocol": "TLS"}]},
        {"name": "tls2", "hosts": ["c.example.com"], "ports": [{"number": 443, "protocol": "TLS"},
                                                                 {"number": 8443, "protocol": "HTTPS"}]}], GATEWAY))
    assert "(two).hosts: a service routed through the egress gateway takes one host" in problems
    assert "(tls2).ports: one TLS port per service routed through the egress gateway (it listens on 443" in problems
    assert egress.validate([{"name": "two", "hosts": ["a.example.com", "b.example.com"], "egress_gateway": False,
                             "ports": [{"number": 443, "protocol": "TLS"}]}], GATEWAY) == []
