"""Traffic management and authorization builders, compared with hand-written Istio objects; validation;
fault expiry; snapshots and revert plans."""
import copy

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.traffic import (
    HASH_ANNOTATION,
    authorization_objects,
    canary_weights,
    config_hash,
    expired_faults,
    parse_time,
    revert_plan,
    snapshot_lists,
    route_weights,
    snapshot_document,
    traffic_objects,
    validate_authorization,
    validate_canary,
    validate_gateway_rate_limit,
    validate_services,
)

HOST = "backend.demo.svc.cluster.local"
MANAGED = {"app.kubernetes.io/managed-by": "istio-runbooks"}
NOW = "2026-11-26T17:00:00Z"

BACKEND = {
    "name": "backend",
    "selector": {"app": "backend"},
    "subsets": {"v1": {"version": "v1"}, "v2": {"version": "v2"}, "v3": {"version": "v3"}},
    "route": {"v1": 90, "v2": 10},
    "matches": [{"name": "beta", "headers": {"x-user-group": {"exact": "beta"}}, "subset": "v3"},
                {"name": "cookie-v2", "cookie": {"name": "version", "value": "v2"}, "subset": "v2"}],
    "timeout": "5s",
    "retries": {"attempts": 3, "per_try_timeout": "2s", "retry_on": "5xx,connect-failure"},
    "connection_pool": {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 10}},
    "outlier_detection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
    "load_balancer": {"consistent_hash": {"cookie": {"name": "session", "ttl": "0s"}}},
    "fault": {"delay": {"fixed": "3s", "percent": 50}, "abort": {"http_status": 503, "percent": 10},
              "headers": {"x-chaos": {"exact": "on"}}, "expires": "2026-11-26T18:00:00Z"},
    "mirror": {"subset": "v3", "percent": 20},
    "rate_limit": {"max_tokens": 50, "tokens_per_fill": 50, "fill_interval": "1s"},
}

SETTINGS = {"timeout": "5s", "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,connect-failure"},
            "mirror": {"host": HOST, "subset": "v3"}, "mirrorPercentage": {"value": 20}}
WEIGHTED = [{"destination": {"host": HOST, "subset": "v1"}, "weight": 90},
            {"destination": {"host": HOST, "subset": "v2"}, "weight": 10}]

EXPECTED_VS_SPEC = {
    "hosts": ["backend"],
    "http": [
        dict({"name": "fault", "match": [{"headers": {"x-chaos": {"exact": "on"}}}],
              "fault": {"delay": {"fixedDelay": "3s", "percentage": {"value": 50}},
                        "abort": {"httpStatus": 503, "percentage": {"value": 10}}},
              "route": WEIGHTED}, **SETTINGS),
        dict({"name": "beta", "match": [{"headers": {"x-user-group": {"exact": "beta"}}}],
              "route": [{"destination": {"host": HOST, "subset": "v3"}}]}, **SETTINGS),
        dict({"name": "cookie-v2", "match": [{"headers": {"cookie": {"regex": "^(.*?;\\s*)?(version=v2)(;.*)?$"}}}],
              "route": [{"destination": {"host": HOST, "subset": "v2"}}]}, **SETTINGS),
        dict({"name": "default", "route": WEIGHTED}, **SETTINGS),
    ],
}

EXPECTED_DR_SPEC = {
    "host": HOST,
    "subsets": [{"name": "v1", "labels": {"version": "v1"}}, {"name": "v2", "labels": {"version": "v2"}},
                {"name": "v3", "labels": {"version": "v3"}}],
    "trafficPolicy": {
        "loadBalancer": {"consistentHash": {"httpCookie": {"name": "session", "ttl": "0s"}}},
        "connectionPool": {"tcp": {"maxConnections": 100}, "http": {"http1MaxPendingRequests": 10}},
        "outlierDetection": {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"},
    },
}


def ratelimit_spec(selector, context, tokens, fill):
    return {
        "workloadSelector": {"labels": selector},
        "configPatches": [{
            "applyTo": "HTTP_FILTER",
            "match": {"context": context,
                      "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
            "patch": {"operation": "INSERT_BEFORE", "value": {
                "name": "envoy.filters.http.local_ratelimit",
                "typed_config": {
                    "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
                    "type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                    "value": {
                        "stat_prefix": "http_local_rate_limiter",
                        "token_bucket": {"max_tokens": tokens, "tokens_per_fill": tokens, "fill_interval": fill},
                        "filter_enabled": {"runtime_key": "local_rate_limit_enabled",
                                           "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                        "filter_enforced": {"runtime_key": "local_rate_limit_enforced",
                                            "default_value": {"numerator": 100, "denominator": "HUNDRED"}},
                        "response_headers_to_add": [{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                                                     "header": {"key": "x-local-rate-limit", "value": "true"}}]}}}}}]}


def obj(api, kind, name, ns, spec, annotations=None):
    return {"apiVersion": api, "kind": kind,
            "metadata": {"name": name, "namespace": ns, "labels": MANAGED,
                         "annotations": dict(annotations or {}, **{HASH_ANNOTATION: config_hash(spec)})},
            "spec": spec}


def test_every_feature_builds_the_hand_written_objects():
    gateway = {"selector": {"istio": "ingressgateway"}, "max_tokens": 1000, "tokens_per_fill": 1000,
               "fill_interval": "1s"}
    got = traffic_objects([BACKEND], "demo", gateway_rate_limit=gateway, now=NOW)
    assert got == [
        obj("networking.istio.io/v1", "DestinationRule", "backend", "demo", EXPECTED_DR_SPEC),
        obj("networking.istio.io/v1", "VirtualService", "backend", "demo", EXPECTED_VS_SPEC,
            {"istio-runbooks.io/fault-expires": "2026-11-26T18:00:00Z"}),
        obj("networking.istio.io/v1alpha3", "EnvoyFilter", "backend-local-ratelimit", "demo",
            ratelimit_spec({"app": "backend"}, "SIDECAR_INBOUND", 50, "1s")),
        obj("networking.istio.io/v1alpha3", "EnvoyFilter", "gateway-local-ratelimit", "istio-system",
            ratelimit_spec({"istio": "ingressgateway"}, "GATEWAY", 1000, "1s")),
    ]
    assert "tls" not in got[0]["spec"]["trafficPolicy"], "trafficPolicy.tls belongs to mtls_policy"


@pytest.mark.parametrize("lb, expected", [
    ({"simple": "ROUND_ROBIN"}, {"simple": "ROUND_ROBIN"}),
    ({"simple": "LEAST_REQUEST"}, {"simple": "LEAST_REQUEST"}),
    ({"consistent_hash": {"header": "x-user"}}, {"consistentHash": {"httpHeaderName": "x-user"}}),
])
def test_load_balancer_policies(lb, expected):
    svc = {"name": "web", "subsets": {"v1": {"version": "v1"}}, "load_balancer": lb}
    assert traffic_objects([svc], "demo") == [obj("networking.istio.io/v1", "DestinationRule", "web", "demo", {
        "host": "web.demo.svc.cluster.local", "subsets": [{"name": "v1", "labels": {"version": "v1"}}],
        "trafficPolicy": {"loadBalancer": expected}})]


def test_blue_green_switch_and_canary_step_override_the_route():
    svc = {"name": "web", "subsets": {"blue": {"color": "blue"}, "green": {"color": "green"}}, "route": {"blue": 100}}
    green = traffic_objects([svc], "demo", overrides={"web": {"green": 100}})[1]
    assert green["spec"]["http"] == [{"name": "default", "route": [
        {"destination": {"host": "web.demo.svc.cluster.local", "subset": "green"}, "weight": 100}]}]
    assert route_weights(green) == {"green": 100}
    assert canary_weights("blue", "green", 25) == {"blue": 75, "green": 25}
    assert canary_weights("blue", "green", 100) == {"green": 100}


def test_an_expired_fault_is_not_built_and_a_live_one_is_removed_by_expiry():
    before = traffic_objects([BACKEND], "demo", now="2026-11-26T17:59:59Z")[1]
    after = traffic_objects([BACKEND], "demo", now="2026-11-26T18:00:00Z")[1]
    assert [r["name"] for r in before["spec"]["http"]] == ["fault", "beta", "cookie-v2", "default"]
    assert [r["name"] for r in after["spec"]["http"]] == ["beta", "cookie-v2", "default"]
    assert "istio-runbooks.io/fault-expires" not in after["metadata"]["annotations"]

    live = copy.deepcopy(before)
    live["metadata"].update(resourceVersion="7", uid="u", managedFields=[{}])
    live["status"] = {}
    assert expired_faults([live], now="2026-11-26T17:59:59Z") == []
    stripped = expired_faults([live], now="2026-11-26T18:00:01Z")
    assert len(stripped) == 1
    assert stripped[0]["spec"] == after["spec"]
    # the same hash the role computes, so the next converge sees nothing to change
    assert stripped[0]["metadata"]["annotations"] == after["metadata"]["annotations"]
    assert stripped[0]["metadata"]["resourceVersion"] == "7" and "status" not in stripped[0]


def test_valid_services_have_no_errors():
    assert validate_services([BACKEND]) == []
    assert validate_gateway_rate_limit({"selector": {"istio": "ingressgateway"}, "max_tokens": 1,
                                        "tokens_per_fill": 1, "fill_interval": "1s"}) == []


@pytest.mark.parametrize("change, message", [
    ({"route": {"v1": 80, "v2": 10}}, "traffic_management_services[0] (backend).route weights must sum to 100, got 90"),
    ({"route": {"v1": 90, "v9": 10}}, "route names unknown subset v9; define it under subsets (known: v1, v2, v3)"),
    ({"retries": {"attempts": -1}}, "retries.attempts must be an integer of 0 or more, got -1"),
    ({"retries": {"attempts": 2, "per_try_timeout": "2 seconds"}}, "per_try_timeout must be a duration such as 2s"),
    ({"timeout": "5"}, "timeout must be a duration such as 5s or 500ms, got 5"),
    ({"matches": [{"subset": "v4", "headers": {"x": {"exact": "y"}}}]}, "matches[0].subset names unknown subset v4"),
    ({"matches": [{"subset": "v2"}]}, "matches[0] needs headers"),
    ({"matches": [{"subset": "v2", "headers": {"x": {"equals": "y"}}}]}, "matches[0].headers.x must be one of"),
    ({"load_balancer": {"simple": "FASTEST"}}, "load_balancer.simple must be one of ROUND_ROBIN"),
    ({"load_balancer": {"consistent_hash": {}}}, "load_balancer takes exactly one of simple or consistent_hash"),
    ({"load_balancer": {"consistent_hash": {"cookie": {"ttl": "1s"}}}}, "consistent_hash needs header"),
    ({"connection_pool": {"tcp": {"maxConnections": -5}}}, "connection_pool: maxConnections must not be negative"),
    ({"outlier_detection": {"consecutive5xxErrors": -1}}, "outlier_detection.consecutive5xxErrors must not be negative"),
    ({"fault": {"delay": {"fixed": "3s", "percent": 150}}}, "fault.delay.percent must be a number from 0 to 100"),
    ({"fault": {"abort": {"http_status": 99}}}, "fault.abort.http_status must be an HTTP status"),
    ({"fault": {"abort": {"http_status": 503}, "expires": "tomorrow"}}, "fault.expires must be an RFC 3339 time"),
    ({"fault": {"headers": {"x": {"exact": "y"}}}}, "fault needs a delay"),
    ({"mirror": {"subset": "v7"}}, "mirror.subset names unknown subset v7"),
    ({"mirror": {"subset": "v3", "percent": -1}}, "mirror.percent must be a number from 0 to 100"),
    ({"rate_limit": {"max_tokens": 0, "tokens_per_fill": 1, "fill_interval": "1s"}}, "rate_limit.max_tokens must be a positive"),
    ({"rate_limit": {"max_tokens": 1, "tokens_per_fill": 1, "fill_interval": "1s"}, "selector": None},
     "selector (the workload's labels, e.g. {app: backend}) is required with rate_limit"),
    ({"name": "Backend"}, "name must be a Service name"),
    ({"subsets": {"v1": {}, "v2": {"version": "v2"}, "v3": {"version": "v3"}}}, "subsets.v1 must be a DNS-label name"),
])
def test_invalid_services_name_the_variable_and_the_fix(change, message):
    errors = validate_services([dict(BACKEND, **change)])
    assert any(message in e for e in errors), errors


def test_errors_are_all_reported_at_once_and_overrides_checked():
    svc = dict(BACKEND, route={"v1": 80, "v9": 10}, retries={"attempts": -2})
    assert len(validate_services([svc])) == 3
    assert validate_services([BACKEND], overrides={"backend": {"v1": 50, "v2": 40}})[0].endswith("got 90 (v1=50, v2=40)")
    assert "service frontend, which is not in" in validate_services([BACKEND], overrides={"frontend": {"v1": 100}})[0]
    assert "listed twice" in validate_services([BACKEND, BACKEND])[0]


def test_canary_inputs():
    assert validate_canary([BACKEND], "backend", "v1", "v2", [10, 25, 50, 100]) == []
    assert "unknown subset v5" in validate_canary([BACKEND], "backend", "v1", "v5", [10])[0]
    assert "rising percentages" in validate_canary([BACKEND], "backend", "v1", "v2", [50, 10])[0]
    assert "rising percentages" in validate_canary([BACKEND], "backend", "v1", "v2", [0, 100])[0]
    assert "not in traffic_management_services" in validate_canary([BACKEND], "web", "v1", "v2", [10])[0]


def test_gateway_rate_limit_needs_a_selector():
    assert "selector is required" in validate_gateway_rate_limit({"max_tokens": 1, "tokens_per_fill": 1,
                                                                  "fill_interval": "1s"})[0]


def test_authorization_baseline_allow_rules_and_dry_run():
    rules = [{"name": "frontend-to-backend", "selector": {"app": "backend"},
              "principals": ["cluster.local/ns/demo/sa/frontend"], "methods": ["get"], "paths": ["/api/*"]},
             {"name": "from-monitoring", "namespaces": ["monitoring"], "paths": ["/metrics"]}]
    dry = {"istio.io/dry-run": "true"}
    sec = "security.istio.io/v1"
    # the deny-all baseline comes last: applied in order, the ALLOW rules exist before it takes effect
    assert authorization_objects("demo", True, rules, dry_run=True) == [
        obj(sec, "AuthorizationPolicy", "frontend-to-backend", "demo", {
            "action": "ALLOW", "selector": {"matchLabels": {"app": "backend"}},
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/demo/sa/frontend"]}}],
                       "to": [{"operation": {"methods": ["GET"], "paths": ["/api/*"]}}]}]}, dry),
        obj(sec, "AuthorizationPolicy", "from-monitoring", "demo", {
            "action": "ALLOW", "rules": [{"from": [{"source": {"namespaces": ["monitoring"]}}],
                                          "to": [{"operation": {"paths": ["/metrics"]}}]}]}, dry),
        obj(sec, "AuthorizationPolicy", "deny-by-default", "demo", {}, dry),
    ]
    enforced = authorization_objects("demo", False, rules[:1])
    assert [o["metadata"]["name"] for o in enforced] == ["frontend-to-backend"]
    assert "istio.io/dry-run" not in enforced[0]["metadata"]["annotations"]


@pytest.mark.parametrize("rule, message", [
    ({"name": "open"}, "allows everything"),
    ({"name": "deny-by-default", "paths": ["/"]}, "name must be a DNS label other than deny-by-default"),
    ({"name": "x", "principals": ["frontend"]}, "is not a SPIFFE principal"),
    ({"name": "x", "paths": ["api"]}, "must start with /"),
])
def test_invalid_authorization_rules(rule, message):
    assert any(message in e for e in validate_authorization([rule])), validate_authorization([rule])


def test_snapshot_and_revert_restore_exactly():
    desired = traffic_objects([BACKEND], "demo", now=NOW)[:2]  # DestinationRule and VirtualService
    old_dr = obj("networking.istio.io/v1", "DestinationRule", "backend", "demo", {"host": HOST})
    old_dr["metadata"].update(resourceVersion="3", uid="x")
    other = obj("networking.istio.io/v1", "DestinationRule", "other", "demo", {"host": "other"})
    snap = snapshot_document(desired, [old_dr, other])
    assert snap["touched"] == [
        {"kind": "DestinationRule", "apiVersion": "networking.istio.io/v1", "namespace": "demo", "name": "backend"},
        {"kind": "VirtualService", "apiVersion": "networking.istio.io/v1", "namespace": "demo", "name": "backend"}]
    assert [o["metadata"]["name"] for o in snap["objects"]] == ["backend"]
    assert "resourceVersion" not in snap["objects"][0]["metadata"]

    plan = revert_plan(snap, desired + [other])
    assert [o["kind"] for o in plan["delete"]] == ["VirtualService"]  # created since the snapshot
    assert plan["put"] == [snap["objects"][0]]  # changed since: put back exactly
    assert revert_plan(snap, [old_dr, other]) == {"delete": [], "put": []}
    assert revert_plan(snap, [other])["put"] == [snap["objects"][0]]  # deleted since: recreated
    assert snapshot_lists(snap) == [
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "namespace": "demo"},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "namespace": "demo"}]


def test_time_parsing():
    assert parse_time("2026-11-26T18:00:00Z") == parse_time("2026-11-26T19:00:00+01:00")
    assert parse_time("2026-11-26T18:00:00.5Z") is not None
    assert parse_time("2026-11-26 18:00") is None and parse_time(None) is None


def test_policies_dropped_from_the_variables_are_stale_and_foreign_ones_are_not():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.traffic import stale_managed
    desired = authorization_objects("demo", False, [{"name": "keep", "paths": ["/"]}])
    ours = authorization_objects("demo", True, [{"name": "keep", "paths": ["/"]}, {"name": "old", "paths": ["/x"]}])
    foreign = {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
               "metadata": {"name": "theirs", "namespace": "demo"}, "spec": {}}
    assert [o["metadata"]["name"] for o in stale_managed(desired, ours + [foreign])] == ["old", "deny-by-default"]
