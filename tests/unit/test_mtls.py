"""mTLS logic: effective modes checked against hand-worked values, evidence, the gate on the effective mode
after a change, IST0113 conflicts for in-mesh hosts only, revert plans."""
import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mtls import (
    desired_policy,
    destination_rule_conflicts,
    effective_mode,
    effective_table,
    fixed_destination_rule,
    fixed_destination_rules,
    gate_findings,
    gate_object,
    gate_verdict,
    keep_foreign_metadata,
    may_become_strict,
    mesh_host_namespace,
    newly_strict,
    planned_policies,
    prometheus_evidence,
    prometheus_query,
    revert_plan,
    strict_evidence,
    valid_prometheus_window,
    workloads_for_report,
)


def pa(ns, name, mode=None, selector=None, ports=None, created="2026-01-01T00:00:00Z"):
    obj = desired_policy(name, ns, mode or "UNSET", selector, ports)
    obj["metadata"]["creationTimestamp"] = created
    return obj


POLICIES = [
    pa("istio-system", "default", "PERMISSIVE"),
    pa("shop", "default", "STRICT"),
    pa("shop", "legacy", "DISABLE", {"app": "legacy"}),
    pa("shop", "api-ports", "UNSET", {"app": "api"}, {"9090": "DISABLE"}),
    pa("pay", "default", "UNSET"),
]


def test_effective_modes_match_hand_worked_values():
    # mesh PERMISSIVE; shop STRICT; shop/legacy DISABLE; shop/api inherits STRICT but port 9090 DISABLE;
    # pay's namespace policy is UNSET, so pay inherits the mesh's PERMISSIVE; other has only the mesh.
    assert effective_mode(POLICIES, "shop", {"app": "web"}) == ("STRICT", "shop/default")
    assert effective_mode(POLICIES, "shop", {"app": "legacy"}) == ("DISABLE", "shop/legacy")
    assert effective_mode(POLICIES, "shop", {"app": "api"}) == ("STRICT", "shop/default")
    assert effective_mode(POLICIES, "shop", {"app": "api"}, port=9090) == ("DISABLE", "shop/api-ports (port 9090)")
    assert effective_mode(POLICIES, "pay", {"app": "x"}) == ("PERMISSIVE", "istio-system/default")
    assert effective_mode(POLICIES, "other", {}) == ("PERMISSIVE", "istio-system/default")
    assert effective_mode([], "other", {}) == ("PERMISSIVE", "mesh default (no policy)")


def test_effective_table_adds_port_rows_only_where_they_differ():
    rows = effective_table(POLICIES, [{"namespace": "shop", "name": "api", "labels": {"app": "api"}, "ports": [8080, 9090]}])
    assert [(r["port"], r["mode"]) for r in rows] == [("*", "STRICT"), ("9090", "DISABLE")]


def test_workloads_for_report_reads_objects_and_mesh_info_summaries_alike():
    obj = {"metadata": {"name": "api", "namespace": "shop"},
           "spec": {"template": {"metadata": {"labels": {"app": "api"}},
                                 "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 8080}]}]}}}}
    summary = {"kind": "Deployment", "namespace": "shop", "name": "api", "template_labels": {"app": "api"},
               "ports": [8080]}
    expected = [{"namespace": "shop", "name": "api", "labels": {"app": "api"}, "ports": [8080, 9090]}]
    assert workloads_for_report([obj], POLICIES) == expected
    assert workloads_for_report([summary], POLICIES) == expected


def test_strict_evidence_lists_uninjected_pods_headless_services_statefulsets_and_server_first_ports():
    pods = [{"metadata": {"name": "bare", "namespace": "shop", "labels": {"app": "bare"}}, "spec": {"containers": [{"name": "a"}]}},
            {"metadata": {"name": "ok", "namespace": "shop", "labels": {"app": "ok"}},
             "spec": {"containers": [{"name": "a"}, {"name": "istio-proxy"}]}}]
    services = [{"metadata": {"name": "db", "namespace": "shop"}, "spec": {"clusterIP": "None", "ports": [{"port": 3306, "name": "mysql"}]}},
                {"metadata": {"name": "mongo", "namespace": "shop"}, "spec": {"ports": [{"port": 27017, "name": "tcp-mongo"}]}}]
    sts = [{"metadata": {"name": "db", "namespace": "shop"}, "spec": {"template": {"metadata": {"labels": {"app": "db"}}}}}]
    evidence = strict_evidence(pods, services, sts)
    assert len(evidence) == 4
    assert evidence[0].startswith("pod shop/bare has no istio-proxy")
    assert any("headless" in e for e in evidence) and any("3306 (MySQL" in e for e in evidence)
    assert not any("27017" in e for e in evidence)
    assert strict_evidence(pods, [], [], {"app": "ok"}) == []


def test_destination_rule_disable_against_strict_is_reported_and_fixed():
    dr = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "web", "namespace": "shop"},
          "spec": {"host": "web.shop.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}
    conflicts = destination_rule_conflicts([dr], POLICIES)
    assert [c["server_mode"] for c in conflicts] == ["STRICT"]
    assert "sends DISABLE to web.shop.svc.cluster.local" in conflicts[0]["message"]
    assert fixed_destination_rule(dr, conflicts)["spec"]["trafficPolicy"]["tls"]["mode"] == "ISTIO_MUTUAL"
    assert destination_rule_conflicts([dr], [pa("istio-system", "default", "PERMISSIVE")]) == []


def test_revert_plan_deletes_new_restores_changed_and_recreates_deleted():
    before = [pa("istio-system", "default", "PERMISSIVE"), pa("shop", "old", "STRICT")]
    now = [pa("istio-system", "default", "STRICT"), pa("pay", "new", "STRICT")]
    plan = revert_plan(before, now)
    assert [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in plan["delete"]] == [("pay", "new")]
    assert sorted((o["metadata"]["namespace"], o["metadata"]["name"]) for o in plan["put"]) == [
        ("istio-system", "default"), ("shop", "old")]
    assert revert_plan(before, before) == {"delete": [], "put": []}


def dr(name, ns, host, mode="SIMPLE"):
    return {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": name, "namespace": ns},
            "spec": {"host": host, "trafficPolicy": {"tls": {"mode": mode}}}}


@pytest.mark.parametrize("host, expected", [
    ("reviews", "shop"),                                   # short name: the rule's namespace
    ("reviews.pay.svc", "pay"),
    ("reviews.pay.svc.cluster.local", "pay"),
    ("Reviews.Pay.SVC.cluster.local.", "pay"),
    ("*.pay.svc.cluster.local", "pay"),
    ("reviews.pay.svc.corp.example", "pay"),               # the mesh's trust domain
    ("api.example.com", None),                             # external: not namespace "example"
    ("reviews.pay", None),                                 # Istio does not expand it: not a mesh service
    ("reviews.pay.svc.other.local", None),
    ("db.pay.svc.cluster.local.evil.com", None),
    ("*.example.com", None),
    ("*", None),
    ("", None),
])
def test_only_svc_and_short_hosts_are_in_mesh(host, expected):
    assert mesh_host_namespace(host, "shop", ("cluster.local", "corp.example")) == expected


def test_tls_origination_to_an_external_host_is_no_conflict_and_is_not_fixed():
    strict_mesh = [pa("istio-system", "default", "STRICT"), pa("example", "default", "STRICT")]
    external = dr("api", "shop", "api.example.com", "SIMPLE")
    internal = dr("web", "shop", "web", "DISABLE")
    conflicts = destination_rule_conflicts([external, internal], strict_mesh)
    assert [c["destination_rule"] for c in conflicts] == ["shop/web"]
    assert fixed_destination_rules([external, internal], conflicts) == [fixed_destination_rule(internal, conflicts)]


def test_the_trust_domain_makes_a_host_in_mesh():
    rule = dr("web", "shop", "web.pay.svc.corp.example", "DISABLE")
    assert destination_rule_conflicts([rule], [pa("pay", "default", "STRICT")]) == []
    found = destination_rule_conflicts([rule], [pa("pay", "default", "STRICT")], domains=("cluster.local", "corp.example"))
    assert [c["decided_by"] for c in found] == ["pay/default"]


def pod(ns, name, labels=None, sidecar=False, terminating=False):
    obj = {"metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
           "spec": {"containers": [{"name": "app"}] + ([{"name": "istio-proxy"}] if sidecar else [])},
           "status": {"phase": "Running"}}
    if terminating:
        obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return obj


STRICT_MESH = [pa("istio-system", "default", "STRICT")]
LEGACY_PODS = [pod("legacy", "bare-1", {"app": "bare"}), pod("shop", "web-1", {"app": "web"}, sidecar=True)]
LEGACY_STS = [{"metadata": {"name": "db", "namespace": "legacy"}, "spec": {"template": {"metadata": {"labels": {"app": "db"}}}}}]


def gate(before, after, pods=LEGACY_PODS, services=(), statefulsets=LEGACY_STS):
    return gate_findings(pods, list(services), statefulsets, before, after, "istio-system", ["istio-system"])


def test_removing_a_permissive_namespace_policy_under_a_strict_mesh_is_gated():
    before = STRICT_MESH + [pa("legacy", "default", "PERMISSIVE")]
    after = planned_policies(before, "remove", pa("legacy", "default"))
    found = gate(before, after)
    assert found["namespaces"] == ["legacy"]
    assert [e.split(":")[0] for e in found["evidence"]] == ["pod legacy/bare-1 has no istio-proxy sidecar",
                                                           "StatefulSet legacy/db is in scope"]


def test_applying_unset_under_a_strict_mesh_is_gated():
    before = STRICT_MESH + [pa("legacy", "default", "PERMISSIVE")]
    desired = desired_policy("default", "legacy", "UNSET")
    after = planned_policies(before, "apply", desired)
    assert may_become_strict(after)
    assert gate(before, after)["namespaces"] == ["legacy"]
    verdict = gate_verdict(gate(before, after)["evidence"], False, "", desired, before, "apply", "namespace")
    assert verdict["verdict"] == "refuse"
    assert verdict["message"].startswith("UNSET of legacy/default makes workloads effectively STRICT. STRICT refused for "
                                         "namespace legacy: 2 finding(s): pod legacy/bare-1 has no istio-proxy sidecar")


def test_reverting_to_a_strict_snapshot_is_gated():
    before = [pa("legacy", "default", "PERMISSIVE")]
    snapshot = [pa("legacy", "default", "STRICT")]
    after = planned_policies(before, "revert", snapshot=snapshot)
    assert gate(before, after)["namespaces"] == ["legacy"]
    verdict = gate_verdict(gate(before, after)["evidence"], False, "PERMISSIVE", snapshot[0], before, "revert", "mesh")
    assert verdict["verdict"] == "refuse" and verdict["message"].startswith(
        "Reverting to the snapshot makes workloads effectively STRICT. STRICT refused for the revert: 2 finding(s)")


def test_only_what_becomes_strict_counts_as_evidence():
    # legacy keeps its PERMISSIVE namespace policy, so a STRICT mesh changes nothing there
    before = [pa("legacy", "default", "PERMISSIVE")]
    after = planned_policies(before, "apply", desired_policy("default", "istio-system", "STRICT"))
    assert gate(before, after)["evidence"] == []
    # nothing changes: nothing becomes STRICT
    assert gate(STRICT_MESH, planned_policies(STRICT_MESH, "apply", STRICT_MESH[0]))["evidence"] == []
    # a terminating pod is on its way out
    assert gate([], STRICT_MESH, pods=[pod("legacy", "bare-1", terminating=True)], statefulsets=[])["evidence"] == []


def test_a_port_that_loses_its_disable_override_becomes_strict():
    before = STRICT_MESH + [pa("legacy", "bare-ports", "UNSET", {"app": "bare"}, {"9000": "DISABLE"})]
    after = planned_policies(before, "remove", pa("legacy", "bare-ports"))
    assert newly_strict(before, after, "legacy", {"app": "bare"}) == ["9000"]
    assert newly_strict(before, after, "legacy", {"app": "other"}) == []
    assert gate(before, after)["namespaces"] == ["legacy"]


def test_a_headless_service_counts_only_when_it_selects_a_pod_that_becomes_strict():
    services = [{"metadata": {"name": "bare", "namespace": "legacy"}, "spec": {"clusterIP": "None", "selector": {"app": "bare"}}},
                {"metadata": {"name": "web", "namespace": "shop"}, "spec": {"clusterIP": "None", "selector": {"app": "web"}}}]
    before = [pa("shop", "default", "PERMISSIVE")]
    after = planned_policies(before, "apply", desired_policy("default", "istio-system", "STRICT"))
    evidence = gate(before, after, services=services, statefulsets=[])["evidence"]
    assert [e.split(":")[0] for e in evidence] == ["pod legacy/bare-1 has no istio-proxy sidecar",
                                                  "Service legacy/bare is headless"]


def test_trimmed_objects_weigh_the_same_as_whole_ones():
    def whole(obj):
        out = dict(obj, metadata=dict(obj["metadata"], uid="u-1", annotations={"a": "b"}, managedFields=[{"f": 1}]))
        out["spec"] = dict(obj.get("spec") or {}, nodeName="n1")
        return out

    pods = [whole(pod("legacy", "bare-1", {"app": "bare"})), whole(pod("shop", "web-1", {"app": "web"}, sidecar=True)),
            whole(pod("legacy", "gone-1", terminating=True)),
            whole(dict(pod("legacy", "native-1"), spec={"containers": [{"name": "app", "image": "x"}], "initContainers": [
                {"name": "istio-proxy", "restartPolicy": "Always", "image": "proxy"}]}))]
    services = [whole({"metadata": {"name": "bare", "namespace": "legacy"}, "spec": {
        "clusterIP": "None", "selector": {"app": "bare"}, "ports": [{"port": 3306, "name": "mysql", "targetPort": 3306}]}})]
    statefulsets = [whole(LEGACY_STS[0])]
    before = STRICT_MESH + [pa("legacy", "default", "PERMISSIVE")]
    after = planned_policies(before, "remove", pa("legacy", "default"))
    slim = ([gate_object(p, "Pod") for p in pods], [gate_object(s, "Service") for s in services],
            [gate_object(s, "StatefulSet") for s in statefulsets])
    assert gate(before, after, *slim) == gate(before, after, pods, services, statefulsets)
    assert len(gate(before, after, *slim)["evidence"]) == 4
    assert "uid" not in slim[0][0]["metadata"] and "nodeName" not in slim[0][0]["spec"]


def test_planned_policies_keep_age_so_the_oldest_still_wins():
    old = pa("istio-system", "default", "PERMISSIVE", created="2026-01-01T00:00:00Z")
    other = pa("istio-system", "zz-strict", "STRICT", created="2026-02-01T00:00:00Z")
    after = planned_policies([old, other], "apply", desired_policy("default", "istio-system", "DISABLE"))
    assert effective_mode(after, "shop", {}) == ("DISABLE", "istio-system/default")
    # a new policy is the newest: an older one at the same level still decides
    new = planned_policies([other], "apply", desired_policy("a-new", "istio-system", "PERMISSIVE"))
    assert effective_mode(new, "shop", {}) == ("STRICT", "istio-system/zz-strict")
    assert not may_become_strict(planned_policies([other], "remove", other))


def test_gate_verdicts():
    desired = desired_policy("default", "istio-system", "STRICT")
    permissive = pa("istio-system", "default", "PERMISSIVE")
    assert gate_verdict([], False, "PERMISSIVE", desired, [], "apply", "mesh")["verdict"] == "pass"
    assert gate_verdict(["x"], True, "PERMISSIVE", desired, [], "apply", "mesh")["verdict"] == "override"
    refused = gate_verdict(["x"], False, "", desired, [], "apply", "mesh")
    assert refused["verdict"] == "refuse" and refused["message"].startswith("STRICT refused for mesh istio-system: 1 finding(s): x.")
    assert gate_verdict(["x"], False, "PERMISSIVE", desired, [], "apply", "mesh")["verdict"] == "fallback"
    kept = gate_verdict(["x"], False, "PERMISSIVE", desired, [permissive], "apply", "mesh")
    assert kept["verdict"] == "keep" and "The existing istio-system/default (PERMISSIVE) stays as it is" in kept["message"]
    # another mesh-wide policy (no selector) in the root namespace is a policy at this level too
    other = pa("istio-system", "mesh", "DISABLE")
    assert gate_verdict(["x"], False, "PERMISSIVE", desired, [other], "apply", "mesh")["verdict"] == "keep"
    # the fallback is for apply only
    assert gate_verdict(["x"], False, "PERMISSIVE", desired, [], "remove", "mesh")["verdict"] == "refuse"


@pytest.mark.parametrize("response", [
    {"status": -1, "msg": "Status code was -1 and not [200]: Request failed: <urlopen error [Errno 111] Connection refused>"},
    {"status": 400, "json": {"status": "error", "errorType": "bad_data", "error": "invalid parameter \"query\": bad duration"}},
    {"status": 503, "msg": "Service Unavailable"},
    {"status": 200, "json": {"status": "error", "error": "boom"}},
    {"status": 200, "content": "<html>not prometheus</html>"},
    {},
])
def test_a_prometheus_that_cannot_answer_is_evidence(response):
    evidence = prometheus_evidence(response, "http://127.0.0.1:1")
    assert len(evidence) == 1 and evidence[0].startswith("Prometheus at http://127.0.0.1:1 could not be checked")


def test_prometheus_answers():
    ok = {"status": 200, "json": {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"destination_workload_namespace": "legacy", "destination_workload": "bare"}, "value": [1, "3"]}]}}}
    assert prometheus_evidence(ok, "http://p") == [
        'plaintext requests seen by Prometheus: {"destination_workload": "bare", "destination_workload_namespace": "legacy"}']
    ok["json"]["data"]["result"] = []
    assert prometheus_evidence(ok, "http://p") == []
    assert 'destination_workload_namespace=~"a|b"' in prometheus_query(["b", "a"], "1h")
    assert prometheus_query(["a"], "90m").endswith("[90m])) > 0")


@pytest.mark.parametrize("window, valid", [
    ("1h", True), ("90m", True), ("1h30m", True), ("2d", True), ("500ms", True), ("1w2d", True),
    ("", False), ("1 hour", False), ("1hour", False), ("h", False), ("-1h", False), ("1.5h", False), ("1h]", False),
    ("1h\n", False), (None, False),
])
def test_prometheus_window_pattern(window, valid):
    assert valid_prometheus_window(window) is valid


def test_a_forced_replace_keeps_labels_and_annotations_other_tools_own():
    live = pa("istio-system", "default", "PERMISSIVE")
    live["metadata"].update({
        "labels": {"app.kubernetes.io/managed-by": "Helm", "argocd.argoproj.io/instance": "mesh"},
        "annotations": {"meta.helm.sh/release-name": "mesh", "argocd.argoproj.io/tracking-id": "mesh:x"},
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "1"}],
        "finalizers": ["example.com/keep"], "resourceVersion": "42"})
    desired = desired_policy("default", "istio-system", "STRICT")
    desired["metadata"]["labels"] = {"argocd.argoproj.io/instance": "ours"}
    kept = keep_foreign_metadata(desired, [live, pa("shop", "default", "STRICT")])
    assert kept["spec"] == {"mtls": {"mode": "STRICT"}}
    assert kept["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "Helm", "argocd.argoproj.io/instance": "ours"}
    assert kept["metadata"]["annotations"] == live["metadata"]["annotations"]
    assert kept["metadata"]["ownerReferences"] == live["metadata"]["ownerReferences"]
    assert kept["metadata"]["finalizers"] == ["example.com/keep"]
    assert "resourceVersion" not in kept["metadata"] and "labels" not in desired_policy("default", "x", "STRICT")["metadata"]
    assert keep_foreign_metadata(desired, []) == desired


def test_fix_to_istio_mutual_drops_origination_certificates():
    dr = {"metadata": {"name": "r", "namespace": "a"},
          "spec": {"host": "r.a.svc", "trafficPolicy": {"tls": {"mode": "MUTUAL", "credentialName": "c",
                                                                "caCertificates": "/ca", "sni": "r.a.svc"}}}}
    fixed = fixed_destination_rule(dr, [{"port": None}])
    assert fixed["spec"]["trafficPolicy"]["tls"] == {"mode": "ISTIO_MUTUAL", "sni": "r.a.svc"}


def test_prometheus_query_keeps_the_client_and_the_evidence_names_it():
    query = prometheus_query(["foo"], "1h")
    assert query.startswith("sum by (destination_workload_namespace, destination_workload, "
                            "source_workload_namespace, source_workload) (increase(istio_requests_total{")
    found = {"status": 200, "json": {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"destination_workload_namespace": "foo", "destination_workload": "httpbin",
                    "source_workload_namespace": "legacy", "source_workload": "curl"}, "value": [1, "2"]}]}}}
    assert prometheus_evidence(found, "http://p") == [
        'plaintext requests seen by Prometheus: {"destination_workload": "httpbin", "destination_workload_namespace": '
        '"foo", "source_workload": "curl", "source_workload_namespace": "legacy"}']
