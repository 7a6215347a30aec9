"""traffic_management and authorization_policy on the sandbox with the real istiod: every feature from the demo
app's variables, compared with the objects built for them and with hand-written values; istiod's webhook in the
path; bad input refused before any write; check mode and a second run write nothing; canary steps and rollback;
blue-green switch and back; fault expiry; revert to a snapshot."""
import copy

import pytest
import yaml
from kubernetes import client, utils

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.traffic import (
    authorization_objects,
    route_weights,
    traffic_objects,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import without_ticket_annotations
from tests.helpers.audit import now
from tests.helpers.cluster import wait_for
from tests.helpers.playbook import ROOT, run_playbook

NS = "tm-demo"
PLURALS = {"VirtualService": ("networking.istio.io", "v1", "virtualservices"),
           "DestinationRule": ("networking.istio.io", "v1", "destinationrules"),
           "EnvoyFilter": ("networking.istio.io", "v1alpha3", "envoyfilters"),
           "AuthorizationPolicy": ("security.istio.io", "v1", "authorizationpolicies")}


def demo_vars():
    data = yaml.safe_load((ROOT / "samples/demo-app/traffic-vars.yml").read_text())
    data["traffic_management_namespace"] = NS
    data["authorization_policy_namespace"] = NS
    data["authorization_policy_dry_run"] = True
    data["authorization_policy_rules"][0]["principals"] = ["cluster.local/ns/%s/sa/frontend" % NS]
    return data


def live(api, kind, name, namespace=NS):
    group, version, plural = PLURALS[kind]
    return client.CustomObjectsApi(api).get_namespaced_custom_object(group, version, namespace, plural, name)


def text(run):
    return " ".join(run.stdout.split())


@pytest.fixture(scope="module")
def demo(sandbox, api_client, installed_mesh):
    for obj in yaml.safe_load_all((ROOT / "samples/demo-app/app.yaml").read_text()):
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = NS
        else:
            obj["metadata"]["namespace"] = NS
        utils.create_from_dict(api_client, obj)
    yield demo_vars()
    client.CoreV1Api(api_client).delete_namespace(NS)
    for name in ("gateway-local-ratelimit",):
        client.CustomObjectsApi(api_client).delete_namespaced_custom_object(
            "networking.istio.io", "v1alpha3", "istio-system", "envoyfilters", name)


def test_bad_input_is_refused_before_any_write(demo, audit):
    bad = copy.deepcopy(demo)
    backend = bad["traffic_management_services"][0]
    backend.update(route={"v1": 80, "v2": 10}, retries={"attempts": -1})
    backend["matches"][0]["subset"] = "v9"
    since = now()
    run = run_playbook("playbooks/traffic.yml", bad)
    assert run.rc != 0
    for message in ("(backend).route weights must sum to 100, got 90 (v1=80, v2=10)",
                    "matches[0].subset names unknown subset v9; define it under subsets",
                    "retries.attempts must be an integer of 0 or more, got -1", "Nothing was changed"):
        assert message in text(run), run.stdout[-3000:]

    # what only istiod knows (retryOn conditions) is refused by its webhook in the server-side dry run
    webhook = copy.deepcopy(demo)
    webhook["traffic_management_services"][0]["retries"]["retry_on"] = "5xx,sometimes"
    run = run_playbook("playbooks/traffic.yml", webhook)
    assert run.rc != 0 and "validation.istio.io" in text(run) and "sometimes" in text(run), run.stdout[-3000:]
    assert audit.writes(since) == []


def test_every_feature_applied_from_variables_then_no_writes(demo, api_client, audit):
    since = now()
    check = run_playbook("tests/sandbox/playbooks/traffic_and_authorization.yml", demo, check=True, diff=True)
    assert check.rc == 0, check.stdout[-3000:]
    assert audit.writes(since) == [], "check mode wrote"

    run = run_playbook("tests/sandbox/playbooks/traffic_and_authorization.yml", demo)
    assert run.rc == 0, run.stdout[-3000:]
    expected = traffic_objects(demo["traffic_management_services"], NS,
                               gateway_rate_limit=demo["traffic_management_gateway_rate_limit"])
    expected += authorization_objects(NS, True, demo["authorization_policy_rules"], dry_run=True)
    assert len(expected) == 9
    for want in expected:
        have = live(api_client, want["kind"], want["metadata"]["name"], want["metadata"]["namespace"])
        assert have["spec"] == want["spec"], want["metadata"]["name"]
        # the objects' own annotations, plus the change annotations every write carries
        assert (without_ticket_annotations(have)["metadata"].get("annotations") or {}) == (
            want["metadata"].get("annotations") or {})
        assert "istio-runbooks.io/changed-at" in have["metadata"]["annotations"]

    # hand-written spot checks of what the demo's variables say
    backend = live(api_client, "VirtualService", "backend")
    assert route_weights(backend) == {"v1": 90, "v2": 10}
    assert [r["name"] for r in backend["spec"]["http"]] == ["fault", "beta-header", "beta-cookie", "default"]
    assert backend["spec"]["http"][0]["fault"] == {"delay": {"fixedDelay": "3s", "percentage": {"value": 50}},
                                                   "abort": {"httpStatus": 503, "percentage": {"value": 10}}}
    assert backend["spec"]["http"][3]["mirrorPercentage"] == {"value": 20}
    assert backend["spec"]["http"][3]["retries"] == {"attempts": 3, "perTryTimeout": "2s",
                                                     "retryOn": "5xx,connect-failure,reset"}
    rule = live(api_client, "DestinationRule", "backend")["spec"]
    assert rule["trafficPolicy"]["loadBalancer"] == {"simple": "LEAST_REQUEST"}
    assert rule["trafficPolicy"]["outlierDetection"]["consecutive5xxErrors"] == 5
    assert "tls" not in rule["trafficPolicy"]
    assert live(api_client, "DestinationRule", "frontend")["spec"]["trafficPolicy"]["loadBalancer"] == {
        "consistentHash": {"httpCookie": {"name": "session", "ttl": "0s"}}}
    limit = live(api_client, "EnvoyFilter", "backend-local-ratelimit")["spec"]
    assert limit["workloadSelector"] == {"labels": {"app": "backend"}}
    assert limit["configPatches"][0]["match"]["context"] == "SIDECAR_INBOUND"
    assert live(api_client, "EnvoyFilter", "gateway-local-ratelimit", "istio-system")["spec"]["configPatches"][0][
        "match"]["context"] == "GATEWAY"
    assert live(api_client, "AuthorizationPolicy", "deny-by-default")["spec"] in ({}, None)
    allow = live(api_client, "AuthorizationPolicy", "frontend-to-backend")
    assert allow["metadata"]["annotations"]["istio.io/dry-run"] == "true"
    assert allow["spec"]["rules"] == [{"from": [{"source": {"principals": ["cluster.local/ns/%s/sa/frontend" % NS]}}],
                                      "to": [{"operation": {"methods": ["GET"], "paths": ["/hostname", "/echo*"]}}]}]

    since = now()
    again = run_playbook("tests/sandbox/playbooks/traffic_and_authorization.yml", demo)
    assert again.rc == 0 and again.changed == 0, again.stdout[-3000:]
    check = run_playbook("tests/sandbox/playbooks/traffic_and_authorization.yml", demo, check=True, diff=True)
    assert check.rc == 0 and check.changed == 0
    assert audit.writes(since) == []


def test_canary_rolls_back_when_a_step_fails_then_completes(demo, api_client, audit):
    canary = dict(demo, traffic_management_canary_service="backend", traffic_management_canary_stable="v1",
                  traffic_management_canary_subset="v2", traffic_management_canary_steps=[10, 50, 100],
                  traffic_management_canary_pause_seconds=0, traffic_management_canary_verify="command",
                  traffic_management_canary_command="sh -c 'test \"$CANARY_PERCENT\" -lt 50'")
    # the feature test may have left the route at the first step already (90/10): that step then writes nothing
    first_step_writes = route_weights(live(api_client, "VirtualService", "backend")) != {"v1": 90, "v2": 10}
    since = now()
    run = run_playbook("playbooks/canary.yml", canary)
    assert run.rc != 0
    assert "failed its verification at 50% to v2" in text(run) and "Rolled back: 100% to v1" in text(run), run.stdout[-3000:]
    assert route_weights(live(api_client, "VirtualService", "backend")) == {"v1": 100}
    def backend_writes():
        return [w for w in audit.writes(since) if w[1:] == ("virtualservices", NS, "backend")]
    expected = 3 if first_step_writes else 2  # step 10, step 50, rollback
    try:  # the audit log may trail the last response by a moment
        wait_for(lambda: len(backend_writes()) >= expected, timeout=10)
    finally:
        assert len(backend_writes()) == expected, backend_writes()

    run = run_playbook("playbooks/canary.yml", dict(canary, traffic_management_canary_steps=[25, 100],
                                                    traffic_management_canary_verify="none"))
    assert run.rc == 0 and "reached 100% to v2" in text(run), run.stdout[-3000:]
    assert route_weights(live(api_client, "VirtualService", "backend")) == {"v2": 100}


def test_blue_green_switch_and_switch_back(demo, api_client):
    for subset in ("v3", "v1"):
        run = run_playbook("playbooks/blue-green.yml",
                           dict(demo, traffic_management_switch={"service": "backend", "subset": subset}))
        assert run.rc == 0, run.stdout[-3000:]
        assert route_weights(live(api_client, "VirtualService", "backend")) == {subset: 100}


def test_expired_fault_is_removed_and_revert_restores_it(demo, api_client, audit):
    before = live(api_client, "VirtualService", "backend")
    assert before["spec"]["http"][0]["name"] == "fault"
    # time passes: the expiry the traffic role wrote is now in the past
    client.CustomObjectsApi(api_client).patch_namespaced_custom_object(
        "networking.istio.io", "v1", NS, "virtualservices", "backend",
        {"metadata": {"annotations": {"istio-runbooks.io/fault-expires": "2020-01-01T00:00:00Z"}}})
    since = now()
    assert run_playbook("playbooks/fault-expiry.yml", check=True).rc == 0
    assert audit.writes(since) == []
    run = run_playbook("playbooks/fault-expiry.yml")
    assert run.rc == 0 and "Removed expired fault injection from VirtualService %s/backend" % NS in text(run), run.stdout[-3000:]
    after = live(api_client, "VirtualService", "backend")
    assert [r["name"] for r in after["spec"]["http"]] == ["beta-header", "beta-cookie", "default"]
    assert all("fault" not in r for r in after["spec"]["http"])
    assert "istio-runbooks.io/fault-expires" not in after["metadata"]["annotations"]

    # fault expiry keeps its snapshots apart, so a plain traffic revert never brings an expired fault back;
    # putting the fault back is an explicit choice of that folder
    run = run_playbook("playbooks/traffic-revert.yml", {
        "traffic_management_snapshot_dir": "{{ mesh_artifacts_dir }}/traffic_management/snapshots/fault-expiry"})
    assert run.rc == 0, run.stdout[-3000:]
    restored = live(api_client, "VirtualService", "backend")
    assert restored["spec"] == before["spec"]
    assert restored["metadata"]["annotations"]["istio-runbooks.io/fault-expires"] == "2020-01-01T00:00:00Z"
