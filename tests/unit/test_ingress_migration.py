"""NGINX Ingress conversion, one test per annotation, compared with hand-written HTTPRoutes and VirtualServices;
IngressClass claims; cutover, rollback and cleanup plans."""
import copy

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.ingress_migration import (
    IngressMigrationError,
    claimed_by,
    claims,
    cleanup,
    convert,
    cutover,
    plan,
    read,
    rollback,
    select,
    verify_cutover,
)

P = "nginx.ingress.kubernetes.io/"
REF = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ingress", "namespace": "istio-ingress"}
MIGRATED = {"istio-runbooks.io/migrated-from": "ingress-web"}


def ingress(name="web", annotations=None, host="shop.example.com", path="/", path_type="Prefix", service="web",
            port=80, tls=None, cls="nginx"):
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
           "metadata": {"name": name, "namespace": "shop", "annotations": dict(annotations or {}),
                        "resourceVersion": "7"},
           "spec": {"rules": [{"host": host, "http": {"paths": [
               {"path": path, "pathType": path_type,
                "backend": {"service": {"name": service, "port": {"number": port}}}}]}}]}}
    if cls:
        obj["spec"]["ingressClassName"] = cls
    if tls:
        obj["spec"]["tls"] = tls
    return obj


def nginx(**annotations):
    return dict((P + k.replace("_", "-"), v) for k, v in annotations.items())


def one(ingresses, output="gateway_api"):
    result = convert(ingresses if isinstance(ingresses, list) else [ingresses], output)
    return result["objects"], result["report"]


def route(objects, name="web", kind="HTTPRoute"):
    return [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name][0]


def klass(name, controller, default=False):
    obj = {"metadata": {"name": name}, "spec": {"controller": controller}}
    if default:
        obj["metadata"]["annotations"] = {"ingressclass.kubernetes.io/is-default-class": "true"}
    return obj


CLASSES = [klass("nginx", "k8s.io/ingress-nginx", default=True), klass("istio", "istio.io/ingress-controller")]


# ---- claims ----


def test_class_name_wins_then_annotation_then_the_single_default():
    assert claimed_by(ingress(cls="istio"), CLASSES) == {"class": "istio", "controller": "istio.io/ingress-controller",
                                                        "reason": "spec.ingressClassName"}
    legacy = ingress(cls=None, annotations={"kubernetes.io/ingress.class": "istio"})
    assert claimed_by(legacy, CLASSES)["class"] == "istio"
    assert claimed_by(ingress(cls=None), CLASSES)["reason"] == "default IngressClass"
    assert claimed_by(ingress(cls=None), CLASSES)["class"] == "nginx"


def test_no_class_without_a_single_default_or_an_unknown_class():
    two = [klass("nginx", "k8s.io/ingress-nginx", True), klass("istio", "istio.io/ingress-controller", True)]
    assert claimed_by(ingress(cls=None), two)["class"] is None
    assert claimed_by(ingress(cls=None), CLASSES[1:])["class"] is None
    assert "does not exist" in claimed_by(ingress(cls="traefik"), CLASSES)["reason"]


def test_each_ingress_claimed_by_exactly_one_and_selection_by_class():
    items = [ingress("a"), ingress("b", cls="istio"), ingress("c", cls=None)]
    found = claims(items, CLASSES)
    assert {k: v["class"] for k, v in found.items()} == {"shop/a": "nginx", "shop/b": "istio", "shop/c": "nginx"}
    assert [i["metadata"]["name"] for i in select(items, CLASSES, "nginx")] == ["a", "c"]
    assert len(select(items, CLASSES, "")) == 3


# ---- plain conversion ----


def test_path_and_host_to_httproute():
    objects, report = one(ingress())
    assert objects == [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                        "metadata": {"name": "web", "namespace": "shop", "annotations": MIGRATED},
                        "spec": {"parentRefs": [dict(REF, sectionName="http")], "hostnames": ["shop.example.com"],
                                 "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                            "backendRefs": [{"name": "web", "port": 80}]}]}}]
    assert report == [{"ingress": "shop/web", "objects": ["shop/HTTPRoute/web"], "converted": [],
                       "not_converted": [], "notes": []}]


def test_path_and_host_to_virtualservice_and_gateway():
    objects, _ = one(ingress(path="/api", path_type="Exact"), "istio")
    gateway, service = objects
    assert gateway["spec"] == {"selector": {"istio": "ingressgateway"}, "servers": [
        {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"]}]}
    assert service["spec"] == {"hosts": ["shop.example.com"], "gateways": ["web-gateway"], "http": [
        {"name": "shop.example.com-/api", "match": [{"uri": {"exact": "/api"}}],
         "route": [{"destination": {"host": "web.shop.svc.cluster.local", "port": {"number": 80}}}]}]}


def test_two_hosts_make_two_routes_and_a_named_port_is_resolved():
    item = ingress()
    item["spec"]["rules"].append({"host": "b.example.com", "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "api", "port": {"name": "http"}}}}]}})
    services = {"shop/api": {"spec": {"ports": [{"name": "http", "port": 8080}]}}}
    objects = convert([item], services=services)["objects"]
    assert [o["metadata"]["name"] for o in objects] == ["web-0", "web-1"]
    assert objects[1]["spec"]["rules"][0]["backendRefs"] == [{"name": "api", "port": 8080}]
    unresolved = convert([item])["report"][0]["not_converted"]
    assert "port 'http' of Service shop/api not found" in unresolved[0]["reason"]


def test_unknown_output_is_refused():
    with pytest.raises(IngressMigrationError, match="output must be one of"):
        convert([ingress()], "traefik")


# ---- per annotation ----


def test_rewrite_target_plain_and_the_strip_prefix_idiom():
    objects, report = one(ingress(annotations=nginx(rewrite_target="/v2")))
    assert route(objects)["spec"]["rules"][0]["filters"] == [
        {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/v2"}}}]
    assert report[0]["converted"][0]["annotation"] == P + "rewrite-target"
    idiom = ingress(path="/api(/|$)(.*)", path_type="ImplementationSpecific",
                    annotations=nginx(rewrite_target="/$2", use_regex="true"))
    objects, report = one(idiom)
    rule = route(objects)["spec"]["rules"][0]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/api"}}]
    assert rule["filters"][0]["urlRewrite"]["path"]["replacePrefixMatch"] == "/"
    objects, _ = one(idiom, "istio")
    assert objects[1]["spec"]["http"][0]["rewrite"] == {"uri": "/"}
    assert objects[1]["spec"]["http"][0]["match"] == [{"uri": {"prefix": "/api"}}]
    _, report = one(ingress(path="/(.*)/x", annotations=nginx(rewrite_target="/$1", use_regex="true")))
    assert report[0]["not_converted"][0]["annotation"] == P + "rewrite-target"


def test_tls_redirects_by_default_and_ssl_redirect_false_turns_it_off():
    tls = [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    objects, report = one(ingress(tls=tls))
    assert route(objects)["spec"]["parentRefs"] == [dict(REF, sectionName="https")]
    assert route(objects, "web-https-redirect")["spec"] == {
        "parentRefs": [dict(REF, sectionName="http")], "hostnames": ["shop.example.com"],
        "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}
    assert any("shop/shop-tls" in n for n in report[0]["notes"])
    objects, _ = one(ingress(tls=tls, annotations=nginx(ssl_redirect="false")))
    assert [o["metadata"]["name"] for o in objects] == ["web"]
    objects, report = one(ingress(tls=tls), "istio")
    assert "reads Secret shop-tls from its own namespace" in report[0]["notes"][1]
    assert objects[0]["spec"]["servers"] == [
        {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"],
         "tls": {"httpsRedirect": True}},
        {"port": {"number": 443, "name": "https-shop-tls", "protocol": "HTTPS"}, "hosts": ["shop.example.com"],
         "tls": {"mode": "SIMPLE", "credentialName": "shop-tls"}}]


def test_force_ssl_redirect_without_tls():
    tls = [{"hosts": ["shop.example.com"], "secretName": "shop-tls"}]
    objects, report = one(ingress(tls=tls, annotations=nginx(force_ssl_redirect="true", ssl_redirect="false")))
    assert route(objects, "web-https-redirect")
    assert {c["annotation"] for c in report[0]["converted"]} == {P + "force-ssl-redirect", P + "ssl-redirect"}


def test_canary_weight_merges_into_the_primary():
    canary = ingress("web-canary", service="web-v2", annotations=nginx(canary="true", canary_weight="20"))
    objects, report = one([ingress(), canary])
    assert [o["metadata"]["name"] for o in objects] == ["web"]
    assert route(objects)["spec"]["rules"][0]["backendRefs"] == [{"name": "web", "port": 80, "weight": 80},
                                                                {"name": "web-v2", "port": 80, "weight": 20}]
    assert report[1]["ingress"] == "shop/web-canary" and report[1]["converted"][0]["annotation"] == P + "canary"
    objects, _ = one([ingress(), canary], "istio")
    assert [r["weight"] for r in objects[1]["spec"]["http"][0]["route"]] == [80, 20]


def test_canary_by_header_matches_first():
    canary = ingress("web-canary", service="web-v2",
                     annotations=nginx(canary="true", canary_by_header="x-canary", canary_by_header_value="yes"))
    rules = route(one([ingress(), canary])[0])["spec"]["rules"]
    assert rules[0] == {"matches": [{"path": {"type": "PathPrefix", "value": "/"},
                                     "headers": [{"type": "Exact", "name": "x-canary", "value": "yes"}]}],
                        "backendRefs": [{"name": "web-v2", "port": 80}]}
    assert rules[1]["backendRefs"] == [{"name": "web", "port": 80}]


def test_canary_without_primary_is_reported():
    canary = ingress("web-canary", annotations=nginx(canary="true", canary_weight="20"))
    _, report = one([canary])
    assert "no primary Ingress" in report[0]["not_converted"][0]["reason"]


def test_read_and_send_timeouts_become_the_route_timeout():
    objects, report = one(ingress(annotations=nginx(proxy_read_timeout="30", proxy_send_timeout="60")))
    assert route(objects)["spec"]["rules"][0]["timeouts"] == {"request": "60s"}
    assert len(report[0]["converted"]) == 2
    objects, _ = one(ingress(annotations=nginx(proxy_read_timeout="30")), "istio")
    assert objects[1]["spec"]["http"][0]["timeout"] == "30s"
    _, report = one(ingress(annotations=nginx(proxy_read_timeout="soon")))
    assert report[0]["not_converted"][0]["reason"] == "not a positive number of seconds"


def test_connect_timeout_becomes_a_destination_rule():
    objects, _ = one(ingress(annotations=nginx(proxy_connect_timeout="5")))
    assert route(objects, "web-ingress", "DestinationRule")["spec"] == {
        "host": "web.shop.svc.cluster.local", "trafficPolicy": {"connectionPool": {"tcp": {"connectTimeout": "5s"}}}}


def test_backend_protocol():
    objects, _ = one(ingress(annotations=nginx(backend_protocol="HTTPS")))
    assert route(objects, "web-ingress", "DestinationRule")["spec"]["trafficPolicy"] == {"tls": {"mode": "SIMPLE"}}
    objects, report = one(ingress(annotations=nginx(backend_protocol="GRPC")))
    assert [o["kind"] for o in objects] == ["HTTPRoute"] and "grpc" in report[0]["converted"][0]["to"]
    _, report = one(ingress(annotations=nginx(backend_protocol="FCGI")))
    assert report[0]["not_converted"][0]["annotation"] == P + "backend-protocol"


def test_cors():
    annotations = nginx(enable_cors="true", cors_allow_origin="https://a.example.com", cors_allow_methods="GET, POST",
                        cors_allow_headers="X-A", cors_allow_credentials="false", cors_max_age="60")
    objects, report = one(ingress(annotations=annotations))
    assert route(objects)["spec"]["rules"][0]["filters"] == [{"type": "CORS", "cors": {
        "allowOrigins": ["https://a.example.com"], "allowMethods": ["GET", "POST"], "allowHeaders": ["X-A"],
        "allowCredentials": False, "maxAge": 60}}]
    assert report[0]["not_converted"] == []
    objects, _ = one(ingress(annotations=annotations), "istio")
    assert objects[1]["spec"]["http"][0]["corsPolicy"] == {
        "allowOrigins": [{"exact": "https://a.example.com"}], "allowMethods": ["GET", "POST"],
        "allowHeaders": ["X-A"], "allowCredentials": False, "maxAge": "60s"}


def test_cors_companion_without_enable_cors_is_reported():
    _, report = one(ingress(annotations=nginx(cors_allow_origin="*")))
    assert "has no effect without" in report[0]["not_converted"][0]["reason"]


def test_whitelist_source_range_becomes_a_deny_unless_remote_ip_blocks_policy():
    objects, _ = one(ingress(annotations=nginx(whitelist_source_range="10.0.0.0/8, 192.168.0.1/32")))
    policy = route(objects, "shop-web-source-range", "AuthorizationPolicy")
    assert policy["metadata"]["namespace"] == "istio-ingress"
    assert policy["spec"] == {"action": "DENY", "targetRefs": [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "ingress"}],
        "rules": [{"from": [{"source": {"notRemoteIpBlocks": ["10.0.0.0/8", "192.168.0.1/32"]}}],
                   "to": [{"operation": {"hosts": ["shop.example.com"]}}]}]}
    objects, _ = one(ingress(annotations=nginx(whitelist_source_range="10.0.0.0/8")), "istio")
    assert route(objects, "shop-web-source-range", "AuthorizationPolicy")["spec"]["selector"] == {
        "matchLabels": {"istio": "ingressgateway"}}


def test_cookie_affinity_becomes_consistent_hash():
    objects, _ = one(ingress(annotations=nginx(affinity="cookie", session_cookie_name="route",
                                               session_cookie_max_age="3600")))
    assert route(objects, "web-ingress", "DestinationRule")["spec"]["trafficPolicy"] == {
        "loadBalancer": {"consistentHash": {"httpCookie": {"name": "route", "ttl": "3600s"}}}}


def test_upstream_vhost_rewrites_the_host():
    objects, _ = one(ingress(annotations=nginx(upstream_vhost="web.shop.svc.cluster.local")))
    assert route(objects)["spec"]["rules"][0]["filters"] == [
        {"type": "URLRewrite", "urlRewrite": {"hostname": "web.shop.svc.cluster.local"}}]
    objects, _ = one(ingress(annotations=nginx(upstream_vhost="web.shop")), "istio")
    assert objects[1]["spec"]["http"][0]["rewrite"] == {"authority": "web.shop"}


def test_permanent_redirect():
    objects, _ = one(ingress(annotations=nginx(permanent_redirect="https://new.example.com/home",
                                               permanent_redirect_code="308")))
    assert route(objects)["spec"]["rules"] == [{"matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                                                "filters": [{"type": "RequestRedirect", "requestRedirect": {
                                                    "statusCode": 308, "scheme": "https", "hostname": "new.example.com",
                                                    "path": {"type": "ReplaceFullPath", "replaceFullPath": "/home"}}}]}]
    objects, _ = one(ingress(annotations=nginx(permanent_redirect="https://new.example.com/home")), "istio")
    assert objects[1]["spec"]["http"][0]["redirect"] == {"uri": "/home", "redirectCode": 301, "scheme": "https",
                                                          "authority": "new.example.com"}


def test_app_root_redirects_the_root():
    objects, _ = one(ingress(annotations=nginx(app_root="/app")))
    assert route(objects)["spec"]["rules"][0] == {
        "matches": [{"path": {"type": "Exact", "value": "/"}}],
        "filters": [{"type": "RequestRedirect", "requestRedirect": {
            "path": {"type": "ReplaceFullPath", "replaceFullPath": "/app"}, "statusCode": 302}}]}


def test_use_regex():
    objects, _ = one(ingress(path="/items/[0-9]+", path_type="ImplementationSpecific", annotations=nginx(use_regex="true")))
    assert route(objects)["spec"]["rules"][0]["matches"] == [
        {"path": {"type": "RegularExpression", "value": "/items/[0-9]+"}}]
    objects, _ = one(ingress(path="/items/[0-9]+", annotations=nginx(use_regex="true")), "istio")
    assert objects[1]["spec"]["http"][0]["match"] == [{"uri": {"regex": "/items/[0-9]+"}}]


def test_ssl_passthrough():
    objects, _ = one(ingress(port=443, annotations=nginx(ssl_passthrough="true")))
    assert objects == [{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "TLSRoute",
                        "metadata": {"name": "web", "namespace": "shop", "annotations": MIGRATED},
                        "spec": {"parentRefs": [dict(REF, sectionName="tls-passthrough")],
                                 "hostnames": ["shop.example.com"], "rules": [{"backendRefs": [{"name": "web", "port": 443}]}]}}]
    objects, _ = one(ingress(port=443, annotations=nginx(ssl_passthrough="true")), "istio")
    assert objects[0]["spec"]["servers"][0]["tls"] == {"mode": "PASSTHROUGH"}
    assert objects[1]["spec"]["tls"] == [{"match": [{"port": 443, "sniHosts": ["shop.example.com"]}], "route": [
        {"destination": {"host": "web.shop.svc.cluster.local", "port": {"number": 443}}}]}]


@pytest.mark.parametrize("name,value,reason", [
    ("configuration-snippet", "more_set_headers 'X: y';", "raw NGINX configuration"),
    ("server-snippet", "location /x {}", "raw NGINX configuration"),
    ("auth-url", "http://auth.example.com", "ext_authz"),
    ("limit-rps", "10", "local rate limiting"),
    ("proxy-body-size", "8m", "body limits"),
    ("x-forwarded-prefix", "/p", "not an annotation this converter knows"),
])
def test_not_convertible_is_reported_with_the_reason_and_the_rest_still_converts(name, value, reason):
    objects, report = one(ingress(annotations={P + name: value, P + "rewrite-target": "/v2"}))
    assert len(objects) == 1
    assert report[0]["not_converted"] == [{"annotation": P + name, "reason": report[0]["not_converted"][0]["reason"]}]
    assert reason in report[0]["not_converted"][0]["reason"]
    assert report[0]["converted"][0]["annotation"] == P + "rewrite-target"


def test_other_annotations_are_not_nginx_findings():
    _, report = one(ingress(annotations={"kubectl.kubernetes.io/last-applied-configuration": "{}"}))
    assert report[0]["not_converted"] == []


# ---- cutover, rollback, cleanup ----


def test_cutover_moves_only_what_is_not_there_and_drops_the_class_annotation():
    legacy = ingress("old", cls=None, annotations={"kubernetes.io/ingress.class": "nginx", "a": "b"})
    done = ingress("done", cls="istio")
    changes = cutover([ingress(), legacy, done], "istio")
    assert [c["metadata"]["name"] for c in changes] == ["web", "old"]
    assert changes[1]["spec"]["ingressClassName"] == "istio"
    assert changes[1]["metadata"]["annotations"] == {"a": "b"} and changes[1]["metadata"]["resourceVersion"] == "7"


def test_rollback_puts_back_what_differs_exactly():
    saved = [ingress(annotations={"kubernetes.io/ingress.class": "nginx"}, cls=None), ingress("same")]
    for obj in saved:
        obj["metadata"].pop("resourceVersion")
    live = cutover(copy.deepcopy(saved), "istio")
    live[0]["metadata"]["resourceVersion"] = "9"
    live.append(dict(copy.deepcopy(saved[1]), status={"loadBalancer": {}}))
    puts = rollback(saved, live)
    assert puts == [dict(saved[0], metadata=dict(saved[0]["metadata"], resourceVersion="9"))]
    gone = rollback(saved, [])
    assert [p["metadata"]["name"] for p in gone] == ["web", "same"] and "resourceVersion" not in gone[0]["metadata"]


def test_cleanup_only_after_verified_cutover():
    saved = [ingress()]
    moved = cutover(saved, "istio")
    assert cleanup({"ingresses": saved, "verified": False}, moved, "istio")[0] == []
    assert "not verified" in cleanup({}, moved, "istio")[1][0]
    delete, problems = cleanup({"ingresses": saved, "verified": True}, moved, "istio")
    assert problems == [] and delete == [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                          "metadata": {"name": "web", "namespace": "shop"}}]
    assert cleanup({"ingresses": saved, "verified": True}, saved, "istio")[1] == ["shop/web has class nginx, not istio"]
    assert cleanup({"ingresses": saved, "verified": True}, [], "istio") == ([], [])
    assert verify_cutover(saved, moved, "istio") == [] and verify_cutover(saved, [], "istio") == ["shop/web is gone"]


def test_plan_from_one_read():
    state = {"ingresses": [ingress(), ingress("b", cls="istio")], "ingress_classes": CLASSES, "services": {},
             "gateway_api_crds": ["httproutes.gateway.networking.k8s.io"]}
    result = plan(state, "nginx")
    assert result["selected"] == ["shop/web"] and len(result["objects"]) == 1
    assert [c["metadata"]["name"] for c in result["cutover"]] == ["web"]
    assert result["cleanup_problems"] and result["rollback"] == [] and result["not_converted"] == 0
    assert result["ingress_classes"][0] == {"name": "nginx", "controller": "k8s.io/ingress-nginx", "default": True}


class _Result(object):
    def __init__(self, data):
        self.data = data

    def to_dict(self):
        return self.data


class _FakeDynamic(object):
    """Records every request; serves Ingresses per namespace, IngressClasses, Services, and no Gateway API CRD."""

    def __init__(self, ingresses):
        self.requests = []
        self.ingresses = ingresses
        self.resources = self

    def get(self, api_version, kind):
        fake = self

        class Resource(object):
            def get(self, name=None, namespace=None, label_selector=None, serializer=None):
                fake.requests.append((kind, namespace, name, label_selector))
                if kind == "CustomResourceDefinition":
                    error = Exception("not found")
                    error.status = 404
                    raise error
                if kind == "Ingress":
                    return _Result({"items": [i for i in fake.ingresses if i["metadata"]["namespace"] == namespace]})
                if kind == "Service":
                    return _Result({"items": [{"metadata": {"name": "api"}, "spec": {"ports": [{"name": "http", "port": 81}]}}]})
                return _Result({"items": CLASSES})
        return Resource()


def test_read_lists_once_per_kind_and_namespace():
    named = ingress("named")
    named["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"] = {"name": "api", "port": {"name": "http"}}
    fake = _FakeDynamic([ingress("a"), ingress("b"), named])
    state, calls = read(fake, ["shop", "other"], "team=shop")
    assert [r[:2] for r in fake.requests] == [("Ingress", "shop"), ("Ingress", "other"), ("IngressClass", None),
                                             ("Service", "shop"), ("CustomResourceDefinition", None),
                                             ("CustomResourceDefinition", None), ("CustomResourceDefinition", None)]
    assert fake.requests[0][3] == "team=shop" and calls == 7
    assert len(state["ingresses"]) == 3 and state["gateway_api_crds"] == []
    assert convert(state["ingresses"], services=state["services"])["objects"][2]["spec"]["rules"][0]["backendRefs"] == [
        {"name": "api", "port": 81}]
