"""mesh_gateways logic: listener objects in both formats compared with hand-written ones, input checks, TLS
Secret refs, Programmed conditions and stale objects."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import gateways as gw

GATEWAYS = [{"name": "istio-ingress", "namespace": "istio-ingress", "type": "ingress"},
            {"name": "istio-egress", "namespace": "istio-egress", "type": "egress"}]
SHOP = {"name": "shop", "namespace": "shop", "hosts": ["shop.example.com"], "service": "frontend", "port": 8080,
        "tls_secret": "shop-cert", "https_redirect": True}
LABEL = {"istio-runbooks.io/gateway": "istio-ingress"}


def test_istio_format_gateway_and_virtual_service_match_the_hand_written_ones():
    objects = gw.listener_objects([SHOP], GATEWAYS, "istio")
    assert objects == [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
         "metadata": {"name": "shop", "namespace": "shop", "labels": LABEL},
         "spec": {"selector": {"app": "istio-ingress", "istio": "ingress"}, "servers": [
             {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"],
              "tls": {"httpsRedirect": True}},
             {"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": ["shop.example.com"],
              "tls": {"mode": "SIMPLE", "credentialName": "shop-cert"}}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
         "metadata": {"name": "shop", "namespace": "shop", "labels": LABEL},
         "spec": {"hosts": ["shop.example.com"], "gateways": ["shop/shop"], "http": [
             {"name": "default", "route": [{"destination": {"host": "frontend.shop.svc.cluster.local",
                                                           "port": {"number": 8080}}}]}]}}]


def test_istio_format_without_tls_has_only_the_http_server():
    plain = {"name": "blog", "namespace": "blog", "hosts": ["blog.example.com"], "service": "web"}
    gateway = gw.listener_objects([plain], GATEWAYS, "istio")[0]
    assert gateway["spec"]["servers"] == [{"port": {"number": 80, "name": "http", "protocol": "HTTP"},
                                           "hosts": ["blog.example.com"]}]


def test_gateway_api_format_gateway_routes_and_redirect_match_the_hand_written_ones():
    objects = gw.listener_objects([SHOP], GATEWAYS, "gateway_api", "ClusterIP")
    label = {"istio-runbooks.io/gateway": "shop"}
    assert objects == [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
         "metadata": {"name": "shop", "namespace": "shop", "labels": label,
                      "annotations": {"networking.istio.io/service-type": "ClusterIP"}},
         "spec": {"gatewayClassName": "istio", "listeners": [
             {"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}},
             {"name": "https", "port": 443, "protocol": "HTTPS",
              "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret", "name": "shop-cert"}]},
              "allowedRoutes": {"namespaces": {"from": "Same"}}}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "shop", "namespace": "shop", "labels": label},
         "spec": {"parentRefs": [{"name": "shop", "sectionName": "https"}], "hostnames": ["shop.example.com"],
                  "rules": [{"backendRefs": [{"name": "frontend", "port": 8080}]}]}},
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "shop-https-redirect", "namespace": "shop", "labels": label},
         "spec": {"parentRefs": [{"name": "shop", "sectionName": "http"}], "hostnames": ["shop.example.com"],
                  "rules": [{"filters": [{"type": "RequestRedirect",
                                          "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}}]


def test_gateway_api_without_service_type_has_no_annotation_and_tls_without_redirect_serves_both():
    item = dict(SHOP, https_redirect=False)
    gateway, route = gw.listener_objects([item], GATEWAYS, "gateway_api")
    assert "annotations" not in gateway["metadata"]
    assert route["spec"]["parentRefs"] == [{"name": "shop", "sectionName": "http"},
                                           {"name": "shop", "sectionName": "https"}]


def test_bad_listeners_and_gateways_are_named_with_the_variable():
    assert gw.listener_problems([SHOP], GATEWAYS, "nginx") == [
        "mesh_gateways_api must be one of istio, gateway_api, got 'nginx'"]
    bad = [{"name": "Shop", "namespace": "shop", "hosts": [], "service": "frontend", "port": 0, "https_redirect": True,
            "gateway": "istio-egress"}]
    problems = gw.listener_problems(bad, GATEWAYS, "istio")
    assert problems == [
        "mesh_gateways_listeners[0] (Shop).name must be a DNS label, got 'Shop'",
        "mesh_gateways_listeners[0] (Shop).hosts must be a non-empty list of host names, got []",
        "mesh_gateways_listeners[0] (Shop).port must be a port number from 1 to 65535, got 0",
        "mesh_gateways_listeners[0] (Shop).https_redirect needs tls_secret: there is no HTTPS listener to redirect to",
        "mesh_gateways_listeners[0] (Shop).gateway must name an ingress gateway of mesh_gateways_gateways "
        "(istio-ingress), got 'istio-egress'"]
    assert gw.gateway_problems([{"name": "ingress", "namespace": "x", "type": "sidecar", "replicas": -1}]) == [
        "mesh_gateways_gateways[0].type must be one of ingress, egress, got 'sidecar'",
        "mesh_gateways_gateways[0].replicas must be an integer of 0 or more, got -1"]
    assert gw.listener_problems([SHOP], GATEWAYS, "istio") == []
    assert gw.listener_problems([SHOP], GATEWAYS, "gateway_api") == []


def test_tls_secrets_are_looked_up_where_each_format_reads_them():
    assert gw.tls_secret_refs([SHOP], GATEWAYS, "istio") == [
        {"variable": "mesh_gateways_listeners[0].tls_secret", "namespace": "istio-ingress", "name": "shop-cert"}]
    refs = gw.tls_secret_refs([SHOP], GATEWAYS, "gateway_api")
    assert refs[0]["namespace"] == "shop"
    assert gw.missing_tls_secrets(refs, ["shop/shop-cert"]) == []
    assert gw.missing_tls_secrets(refs, ["istio-ingress/shop-cert"]) == [
        "mesh_gateways_listeners[0].tls_secret names Secret shop/shop-cert, which does not exist: create it "
        "(kubectl create secret tls shop-cert -n shop --cert=... --key=...) or remove tls_secret"]


def test_programmed_condition_is_read_per_gateway():
    live = [{"metadata": {"namespace": "shop", "name": "shop"}, "status": {"conditions": [
        {"type": "Accepted", "status": "True"},
        {"type": "Programmed", "status": "True", "reason": "Programmed", "message": "assigned to service(s)"}]}},
        {"metadata": {"namespace": "blog", "name": "blog"}}]
    assert [(c["ref"], c["programmed"], c["accepted"]) for c in gw.gateway_conditions(live)] == [
        ("blog/blog", False, False), ("shop/shop", True, True)]
    assert gw.gateway_conditions(live)[1]["line"] == \
        "Gateway API Gateway shop/shop: Programmed (Programmed: assigned to service(s))"


def test_stale_objects_skip_wanted_ones_and_those_istiod_owns():
    wanted = gw.listener_objects([SHOP], GATEWAYS, "istio")
    live = [dict(o, metadata=dict(o["metadata"])) for o in wanted] + [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "old", "namespace": "shop"}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "shop-istio", "namespace": "shop", "ownerReferences": [{"kind": "Gateway"}]}}]
    assert gw.stale_objects(live, wanted) == [
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "old", "namespace": "shop"}}]


class _Reader(object):
    """Lists by label, as the mesh_info reader does (one call per kind and selector)."""

    def __init__(self, objects):
        self.objects, self.calls = objects, []

    def list(self, subset, kind, namespace=None, label_selector=None, api_version=None):
        self.calls.append((kind, api_version, label_selector))
        key = (label_selector or "").split("=")[0]
        return [o for o in self.objects if o["kind"] == kind and (api_version in (None, o["apiVersion"]))
                and (not key or key in o["metadata"].get("labels", {}))]


def test_teardown_purge_removes_the_labelled_gateways_and_a_revision_teardown_keeps_them():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import gather_teardown

    label = {gw.GATEWAY_LABEL: "istio-ingress"}
    live = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "istio-ingress", "namespace": "istio-ingress", "labels": label}},
            {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "shop", "namespace": "shop", "labels": label}},
            {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": {"name": "shop", "namespace": "shop", "labels": label}}]
    kinds = [{"api_version": "apps/v1", "kind": "Deployment"}]
    gateway_kinds = [{"api_version": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute"},
                     {"api_version": "networking.istio.io/v1", "kind": "Gateway"}]
    options = {"kinds": kinds, "gateway_kinds": gateway_kinds, "remove_gateways": True, "scope": "purge"}
    planned = gather_teardown(_Reader(live), options)["objects"]
    assert [(o["kind"], o["metadata"]["name"]) for o in planned] == [
        ("Deployment", "istio-ingress"), ("HTTPRoute", "shop"), ("Gateway", "shop")]
    assert gather_teardown(_Reader(live), dict(options, remove_gateways=False))["objects"] == []
    assert gather_teardown(_Reader(live), dict(options, scope="revision", revision="canary"))["objects"] == []


def test_stale_plan_removes_only_in_the_namespaces_the_variables_name_and_keeps_copies():
    wanted = gw.listener_objects([SHOP], GATEWAYS, "istio")
    old = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": {"name": "old", "namespace": "shop", "uid": "1", "labels": {gw.GATEWAY_LABEL: "shop"}},
           "spec": {"hostnames": ["old.example.com"]}, "status": {}}
    other_team = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                  "metadata": {"name": "pay", "namespace": "payments", "labels": {gw.GATEWAY_LABEL: "pay"}}}
    plan = gw.stale_plan(wanted + [old, other_team], wanted, ["shop"])
    assert plan["remove"] == [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                               "metadata": {"name": "old", "namespace": "shop"}}]
    assert plan["backup"] == [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                               "metadata": {"name": "old", "namespace": "shop", "labels": {gw.GATEWAY_LABEL: "shop"}},
                               "spec": {"hostnames": ["old.example.com"]}}]
    assert plan["left_alone_names"] == ["payments/Gateway/pay"]
    assert plan["left_alone"] == [{"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
                                   "metadata": {"name": "pay", "namespace": "payments"}}]
