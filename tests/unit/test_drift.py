"""The drift comparison: each difference between the declared state and one mesh_info read names its variable."""
import json

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.drift import input_errors, mesh_drift

ISTIOD = {"name": "istiod", "component": "istiod", "revision": "default", "images": ["docker.io/istio/pilot:1.31.0"]}
DESIRED = {
    "version": {"version": "1.31.0", "version_variable": "istio_install_version", "revision": "",
                "revision_variable": "istio_install_revision"},
    "injection": {"namespaces": ["shop", "web"], "variable": "site_injection_namespaces", "revision": ""},
    "mtls": {"mode": "STRICT", "variable": "mesh_drift_mtls_mode", "namespaces": {"shop": "STRICT"},
             "namespaces_variable": "mesh_drift_mtls_namespaces"},
    "addons": {"enabled": ["kiali", "prometheus"], "variable": "observability_addons_enabled"},
}
ALL = ["version", "injection", "mtls", "addons"]


def pa(namespace, mode, name="default", selector=None):
    spec = {"mtls": {"mode": mode}}
    if selector:
        spec["selector"] = {"matchLabels": selector}
    return {"metadata": {"namespace": namespace, "name": name}, "spec": spec}


def ns(name, state="enabled", revision=None, labels=None):
    return {"name": name, "state": state, "revision": revision,
            "injection_labels": labels if labels is not None else ({"istio-injection": "enabled"} if state == "enabled" else {})}


def addon(name):
    return {"metadata": {"name": name, "labels": {"istio-runbooks.io/addon": name}}}


def mesh(**over):
    state = {"control_plane": [ISTIOD], "tags": {"default": "default"},
             "namespaces": [ns("shop"), ns("web"), ns("other", "none")],
             "peer_authentications": [pa("istio-system", "STRICT"), pa("shop", "STRICT"),
                                      pa("shop", "DISABLE", "legacy", {"app": "legacy"})],
             "mesh_config": {"root_namespace": "istio-system"}}
    state.update(over)
    return state


def test_matching_cluster_has_no_drift():
    result = mesh_drift(ALL, DESIRED, mesh(), [addon("kiali"), addon("prometheus")])
    assert result["drifts"] == [] and not result["drifted"]
    assert result["summary"] == "No drift: the cluster matches the inventory (version, injection, mtls, addons)"


def test_mode_changed_and_label_removed_by_hand_are_both_reported_with_their_variables():
    state = mesh(namespaces=[ns("shop"), ns("web", "none")],
                 peer_authentications=[pa("istio-system", "PERMISSIVE"), pa("shop", "STRICT")])
    result = mesh_drift(ALL, DESIRED, state, [addon("kiali"), addon("prometheus")])
    assert result["drifted"]
    assert [(d["check"], d["variable"], d["object"]) for d in result["drifts"]] == [
        ("injection", "site_injection_namespaces", "namespace web"),
        ("mtls", "mesh_drift_mtls_mode", "PeerAuthentication istio-system/default (mesh-wide)")]
    assert result["drifts"][1]["message"] == ("PeerAuthentication istio-system/default (mesh-wide): mode PERMISSIVE, "
                                              "declared STRICT (declared by mesh_drift_mtls_mode)")
    assert "not labelled for injection (no injection label)" in result["drifts"][0]["message"]
    assert result["summary"].startswith("2 drifts from the inventory (mesh_drift_mtls_mode, site_injection_namespaces): ")


def test_version_revision_and_default_tag():
    state = mesh(control_plane=[dict(ISTIOD, images=["istio/pilot:1.30.2"])])
    [drift] = mesh_drift(["version"], DESIRED, state)["drifts"]
    assert (drift["variable"], drift["desired"], drift["actual"]) == ("istio_install_version", "1.31.0", ["1.30.2"])
    desired = dict(DESIRED, version=dict(DESIRED["version"], revision="canary"))
    [drift] = mesh_drift(["version"], desired, mesh())["drifts"]
    assert drift["variable"] == "istio_install_revision" and "running: default" in drift["message"]
    canary = dict(ISTIOD, name="istiod-canary", revision="canary")
    [drift] = mesh_drift(["version"], desired, mesh(control_plane=[ISTIOD, canary]))["drifts"]
    assert drift["object"] == "revision tag default" and "points at default, declared canary" in drift["message"]


def test_missing_namespace_missing_policy_wrong_revision_and_addons():
    desired = dict(DESIRED, injection=dict(DESIRED["injection"], namespaces=["shop", "gone"], revision="canary",
                                           revision_variable="sidecar_injection_revision"))
    state = mesh(namespaces=[ns("shop", revision="default")], peer_authentications=[pa("shop", "DISABLE", "x", {"a": "b"})])
    result = mesh_drift(ALL, desired, state, [addon("kiali"), addon("grafana")])
    found = [(d["variable"], d["object"]) for d in result["drifts"]]
    assert found == [("sidecar_injection_revision", "namespace shop"), ("site_injection_namespaces", "namespace gone"),
                     ("mesh_drift_mtls_mode", "PeerAuthentication istio-system (mesh-wide)"),
                     ("mesh_drift_mtls_namespaces", "PeerAuthentication shop (namespace shop)"),
                     ("observability_addons_enabled", "addon prometheus"),
                     ("observability_addons_enabled", "addon grafana")]
    assert result["drifts"][-1]["message"] == "addon grafana: installed, not declared (declared by observability_addons_enabled)"


def test_only_the_chosen_checks_run_and_empty_desired_skips():
    state = mesh(peer_authentications=[])
    assert mesh_drift(["version"], DESIRED, state)["checked"] == ["version"]
    assert mesh_drift(["mtls"], dict(DESIRED, mtls={"mode": ""}), state)["drifts"] == []


def test_input_errors_name_the_variable():
    assert input_errors(["version", "labels"], {}) == [
        "mesh_drift_checks names labels: give any of version, injection, mtls, addons, gateways, traffic, "
        "authorization"]
    assert input_errors([], {"mtls": {"mode": "STRICTT", "namespaces": {"shop": "OFF"}}}) == [
        'mesh_drift_mtls_mode is STRICTT: give one of STRICT, PERMISSIVE, DISABLE, or "" to skip',
        "mesh_drift_mtls_namespaces[shop] is OFF: give one of STRICT, PERMISSIVE, DISABLE"]


def test_version_override_must_be_a_version():
    assert input_errors([], {}, "1.31.0") == [] and input_errors([], {}, "") == []
    assert input_errors([], {}, "1.31; rm -rf /") == [
        "mesh_drift_istio_version takes an Istio version such as 1.27.3 (got '1.31; rm -rf /'), or \"\" for the inventory's"]


# ---- gateway listeners and routes, traffic and authorization objects declared in the inventory -------------------
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.drift import declared_objects, object_kinds  # noqa: E402
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.gateways import listener_objects  # noqa: E402

GATEWAYS = [{"name": "istio-ingress", "namespace": "istio-ingress", "type": "ingress"}]
LISTENERS = [{"name": "web", "namespace": "shop", "hosts": ["web.example.com"], "service": "web", "tls_secret": "web-cert"},
             {"name": "api", "namespace": "shop", "hosts": ["api.example.com"], "service": "api", "port": 8080}]
OBJECT_DESIRED = {
    "gateways": {"api": "istio", "gateways": GATEWAYS, "listeners": LISTENERS, "variable": "mesh_gateways_listeners"},
    "traffic": {"namespace": "shop", "services": [{"name": "cart", "subsets": {"v1": {"version": "v1"}}, "route": {"v1": 100}}],
                "variable": "traffic_management_services"},
    "authorization": {"namespace": "shop", "deny_by_default": True, "dry_run": False,
                      "rules": [{"name": "web-to-cart", "namespaces": ["shop"], "methods": ["GET"]}]},
}
OBJECT_CHECKS = ["gateways", "traffic", "authorization"]


def live_copy(declared):
    """The declared objects as the API server returns them: server fields and defaults added."""
    live = []
    for entry in declared:
        obj = json.loads(json.dumps(entry["object"]))
        obj["metadata"].update(resourceVersion="7", uid="u-1")
        obj["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
        if obj["kind"] == "HTTPRoute":
            for ref in obj["spec"]["parentRefs"]:
                ref.update(group="gateway.networking.k8s.io", kind="Gateway")
        live.append(obj)
    return live


def test_declared_objects_name_their_list_entry_and_each_kind_is_listed_once():
    declared = declared_objects(OBJECT_CHECKS, OBJECT_DESIRED)
    refs = [(e["check"], e["variable"], e["object"]["kind"], e["object"]["metadata"]["name"]) for e in declared]
    assert refs == [
        ("gateways", "mesh_gateways_listeners[0] (web)", "Gateway", "web"),
        ("gateways", "mesh_gateways_listeners[0] (web)", "VirtualService", "web"),
        ("gateways", "mesh_gateways_listeners[1] (api)", "Gateway", "api"),
        ("gateways", "mesh_gateways_listeners[1] (api)", "VirtualService", "api"),
        ("traffic", "traffic_management_services[0] (cart)", "DestinationRule", "cart"),
        ("traffic", "traffic_management_services[0] (cart)", "VirtualService", "cart"),
        ("authorization", "authorization_policy_rules[0] (web-to-cart)", "AuthorizationPolicy", "web-to-cart"),
        ("authorization", "authorization_policy_deny_by_default", "AuthorizationPolicy", "deny-by-default")]
    # the gateways' objects are the ones mesh_gateways applies
    assert [e["object"] for e in declared[:4]] == listener_objects(LISTENERS, GATEWAYS, "istio")
    assert object_kinds(declared) == [
        {"api_version": "networking.istio.io/v1", "kind": "Gateway"},
        {"api_version": "networking.istio.io/v1", "kind": "VirtualService"},
        {"api_version": "networking.istio.io/v1", "kind": "DestinationRule"},
        {"api_version": "security.istio.io/v1", "kind": "AuthorizationPolicy"}]
    # nothing declared, nothing to list: no namespace for traffic and authorization, no listeners
    assert declared_objects(OBJECT_CHECKS, {"authorization": {"deny_by_default": True}}) == []


def test_matching_objects_with_server_fields_and_defaults_have_no_drift():
    declared = declared_objects(OBJECT_CHECKS, OBJECT_DESIRED)
    result = mesh_drift(OBJECT_CHECKS, OBJECT_DESIRED, mesh(), None, declared, live_copy(declared))
    assert result["drifts"] == [], result["summary"]
    assert result["summary"] == "No drift: the cluster matches the inventory (gateways, traffic, authorization)"
    # Gateway API format: defaults the API server adds to HTTPRoutes are not drift either
    desired = dict(OBJECT_DESIRED, gateways=dict(OBJECT_DESIRED["gateways"], api="gateway_api",
                                                  listeners=[dict(LISTENERS[0], https_redirect=True)]))
    declared = declared_objects(["gateways"], desired)
    assert [e["object"]["kind"] for e in declared] == ["Gateway", "HTTPRoute", "HTTPRoute"]
    assert mesh_drift(["gateways"], desired, mesh(), None, declared, live_copy(declared))["drifts"] == []


def test_listener_host_changed_and_route_removed_by_hand_are_both_reported_with_their_list_entry():
    declared = declared_objects(["gateways"], OBJECT_DESIRED)
    live = [o for o in live_copy(declared) if (o["kind"], o["metadata"]["name"]) != ("VirtualService", "api")]
    gateway = [o for o in live if o["kind"] == "Gateway" and o["metadata"]["name"] == "web"][0]
    for server in gateway["spec"]["servers"]:
        server["hosts"] = ["www.example.com"]
    result = mesh_drift(["gateways"], OBJECT_DESIRED, mesh(), None, declared, live)
    assert [(d["check"], d["variable"], d["object"]) for d in result["drifts"]] == [
        ("gateways", "mesh_gateways_listeners[0] (web)", "Gateway shop/web"),
        ("gateways", "mesh_gateways_listeners[1] (api)", "VirtualService shop/api")]
    host, route = result["drifts"]
    assert host["message"] == (
        'Gateway shop/web: spec.servers[0].hosts is ["www.example.com"], declared ["web.example.com"]; '
        'spec.servers[1].hosts is ["www.example.com"], declared ["web.example.com"] '
        "(declared by mesh_gateways_listeners[0] (web))")
    assert host["desired"] == {"spec.servers[0].hosts": ["web.example.com"], "spec.servers[1].hosts": ["web.example.com"]}
    assert route["message"] == "VirtualService shop/api: does not exist (declared by mesh_gateways_listeners[1] (api))"
    assert result["summary"].startswith("2 drifts from the inventory (mesh_gateways_listeners[0] (web), "
                                        "mesh_gateways_listeners[1] (api)): ")


def test_traffic_weights_and_authorization_opened_by_hand_are_reported():
    declared = declared_objects(OBJECT_CHECKS, OBJECT_DESIRED)
    live = live_copy(declared)
    [route] = [o for o in live if o["kind"] == "VirtualService" and o["metadata"]["name"] == "cart"]
    route["spec"]["http"][0]["route"][0]["weight"] = 50
    [deny] = [o for o in live if o["metadata"]["name"] == "deny-by-default"]
    deny["spec"] = {"action": "ALLOW", "rules": [{}]}  # allows everything
    [allow] = [o for o in live if o["metadata"]["name"] == "web-to-cart"]
    allow["metadata"]["annotations"]["istio.io/dry-run"] = "true"  # no longer enforced
    drifts = mesh_drift(OBJECT_CHECKS, OBJECT_DESIRED, mesh(), None, declared, live)["drifts"]
    assert [(d["variable"], d["object"]) for d in drifts] == [
        ("traffic_management_services[0] (cart)", "VirtualService shop/cart"),
        ("authorization_policy_rules[0] (web-to-cart)", "AuthorizationPolicy shop/web-to-cart"),
        ("authorization_policy_deny_by_default", "AuthorizationPolicy shop/deny-by-default")]
    assert "spec.http[0].route[0].weight is 50, declared 100" in drifts[0]["message"]
    assert 'metadata.annotations.istio.io/dry-run is "true", declared absent' in drifts[1]["message"]
    assert 'spec is {"action": "ALLOW", "rules": [{}]}, declared {}' in drifts[2]["message"]


def test_object_inputs_are_checked_naming_the_variable():
    desired = dict(OBJECT_DESIRED, gateways=dict(OBJECT_DESIRED["gateways"], listeners=[{"name": "web", "namespace": "shop",
                                                                                          "hosts": [], "service": "web"}]),
                   traffic={"namespace": "", "services": [{"name": "cart", "route": {"v1": 100}}]},
                   authorization={"namespace": "shop", "rules": [{"name": "open"}]})
    errors = input_errors(OBJECT_CHECKS, desired)
    assert any(e.startswith("mesh_gateways_listeners[0] (web).hosts must be a non-empty list") for e in errors), errors
    assert any("traffic_management_services is set without traffic_management_namespace" in e for e in errors), errors
    assert any(e.startswith("authorization_policy_rules[0] allows everything") for e in errors), errors
    assert input_errors(["version"], desired) == []


def test_lists_per_kind_give_typed_objects_and_a_kind_not_served_is_named():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.drift import listed_objects
    desired = dict(OBJECT_DESIRED, gateways=dict(OBJECT_DESIRED["gateways"], api="gateway_api", listeners=LISTENERS[1:]))
    declared = declared_objects(["gateways"], desired)
    lists = [{"item": {"api_version": "gateway.networking.k8s.io/v1", "kind": "Gateway"}, "api_found": False,
              "resources": []},
             {"item": {"api_version": "networking.istio.io/v1", "kind": "VirtualService"}, "api_found": True,
              "resources": [{"metadata": {"name": "x", "namespace": "shop"}, "spec": {}}]}]
    objects, unserved = listed_objects(lists)
    assert objects == [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                        "metadata": {"name": "x", "namespace": "shop"}, "spec": {}}]
    assert unserved == ["gateway.networking.k8s.io/v1 Gateway"]
    drifts = mesh_drift(["gateways"], desired, mesh(), None, declared, objects, unserved)["drifts"]
    assert [d["message"] for d in drifts] == [
        "Gateway shop/api: does not exist (the cluster does not serve gateway.networking.k8s.io/v1 Gateway: is its CRD "
        "installed?) (declared by mesh_gateways_listeners[0] (api))",
        "HTTPRoute shop/api: does not exist (declared by mesh_gateways_listeners[0] (api))"]
