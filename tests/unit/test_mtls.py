"""mTLS logic: effective modes checked against hand-worked values, evidence, IST0113 conflicts, revert plans."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mtls import (
    desired_policy,
    destination_rule_conflicts,
    effective_mode,
    effective_table,
    fixed_destination_rule,
    revert_plan,
    strict_evidence,
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
