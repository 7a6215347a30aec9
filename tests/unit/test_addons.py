"""observability_addons logic: input checks, the Kiali-Istio pairing, labels, RBAC writes, endpoints, dashboards."""
import json
import subprocess
from pathlib import Path

import yaml

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import addons

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "observability_addons"
TABLE = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["observability_addons_kiali_compatibility"]


def test_unknown_addons_and_images_with_spaces_are_named():
    assert addons.unknown_addons(["prometheus", "loki", "kiali"]) == ["loki"]
    assert addons.unknown_addons([]) == []
    images = {"grafana": "docker.io/grafana/ grafana:12.0.1", "kiali": "quay.io/kiali/kiali:v2.27",
              "prometheus": "registry.local:5000/prom/prometheus:v3.10.0", "tracing": "docker.io/jaeger :2"}
    assert addons.invalid_images(images) == {"grafana": "docker.io/grafana/ grafana:12.0.1",
                                             "tracing": "docker.io/jaeger :2"}
    assert addons.image_ref({"registry": "docker.io", "repository": "prom/prometheus", "tag": "v3"}, "mirror.local") \
        == "mirror.local/prom/prometheus:v3"


def test_retention_must_be_a_positive_prometheus_duration():
    assert all(addons.valid_retention(v) for v in ("15d", "12h", "2w", "1h30m", "30s"))
    assert not any(addons.valid_retention(v) for v in ("-1d", "0d", "15", "15 d", "", "d15", "1.5d"))


def test_kiali_istio_pairing_refuses_known_bad_pairs_only():
    assert addons.kiali_compatibility("v2.27", "1.31-alpha.eed52ebb66ad", TABLE)["verdict"] == "ok"
    bad = addons.kiali_compatibility("v1.73", "1.31.0", TABLE)
    assert bad == {"verdict": "refuse", "message": "Kiali 1.73 supports Istio 1.16 to 1.18, not Istio 1.31"}
    assert addons.kiali_compatibility("v9.99", "1.31.0", TABLE)["verdict"] == "unknown"
    assert addons.kiali_compatibility("latest", "1.31.0", TABLE)["verdict"] == "unknown"
    assert addons.image_tag("gcr.io/istio-testing/pilot:1.31-alpha.x") == "1.31-alpha.x"
    assert addons.image_tag("localhost:5000/pilot") == ""


def test_every_object_and_pod_template_carries_the_addon_label():
    objs = addons.with_addon_label([{"kind": "Deployment", "metadata": {"name": "p"},
                                     "spec": {"template": {"metadata": {"labels": {"app": "p"}}}}},
                                    {"kind": "Service", "metadata": {"name": "p"}}, None], "prometheus")
    assert [o["metadata"]["labels"] for o in objs] == [{addons.ADDON_LABEL: "prometheus"}] * 2
    assert objs[0]["spec"]["template"]["metadata"]["labels"] == {"app": "p", addons.ADDON_LABEL: "prometheus"}


def test_rendered_objects_parse_each_addon_in_a_fixed_order_with_its_label():
    rendered = {"tracing": "kind: Service\nmetadata: {name: t}\n", "prometheus": "---\nkind: Service\nmetadata: {name: p}\n---\n"}
    objs = addons.rendered_objects(rendered)
    assert [(o["metadata"]["name"], o["metadata"]["labels"][addons.ADDON_LABEL]) for o in objs] == [
        ("p", "prometheus"), ("t", "tracing")]
    assert addons.rendered_objects({}) == []


def test_rbac_write_verbs_ignore_reviews():
    role = {"kind": "ClusterRole", "metadata": {"name": "k"}, "rules": [
        {"resources": ["pods"], "verbs": ["get", "list"]},
        {"resources": ["tokenreviews"], "verbs": ["create"]},
        {"resources": ["peerauthentications"], "verbs": ["patch"]}]}
    assert addons.rbac_write_verbs([role]) == ["ClusterRole/k: patch peerauthentications"]


def test_services_without_ready_endpoints():
    svc = [{"metadata": {"name": n, "namespace": "istio-system"}, "spec": {"selector": {"app": n}}} for n in ("a", "b")]
    slices = [{"metadata": {"namespace": "istio-system", "labels": {"kubernetes.io/service-name": "a"}},
               "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]},
              {"metadata": {"namespace": "istio-system", "labels": {"kubernetes.io/service-name": "b"}},
               "endpoints": [{"addresses": ["10.0.0.2"], "conditions": {"ready": False}}]}]
    assert addons.services_without_endpoints(svc, slices) == ["istio-system/b"]


def test_istio_dashboards_come_from_the_module_cache_parse_and_name_their_datasource(tmp_path):
    subprocess.run(["bash", str(ROOT / "scripts" / "istio-dashboards.sh"), str(tmp_path)], check=True,
                   capture_output=True)
    files = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())["observability_addons_grafana_dashboards"]
    dashboards = dict((f["file"], (tmp_path / f["file"]).read_text()) for f in files)
    assert len(dashboards) == 5 and addons.dashboard_problems(dashboards) == []
    assert {json.loads(t)["title"] for t in dashboards.values()} >= {"Istio Mesh Dashboard", "Istio Control Plane Dashboard"}
    notice = (tmp_path / "NOTICE").read_text()
    assert "manifests/addons/dashboards" in notice and "Commit: eed52ebb66ad" in notice
    assert addons.dashboard_problems({"x.json": "{not json", "y.json": '{"title": "Y"}'}) == [
        "x.json: not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        "y.json: names no Prometheus datasource"]


def test_not_ready_names_missing_or_unavailable_deployments_and_services_without_endpoints():
    planned = [{"kind": "Deployment", "metadata": {"name": "kiali", "namespace": "istio-system"}},
               {"kind": "Deployment", "metadata": {"name": "grafana", "namespace": "istio-system"}},
               {"kind": "Deployment", "metadata": {"name": "jaeger", "namespace": "istio-system"}},
               {"kind": "Service", "metadata": {"name": "kiali", "namespace": "istio-system"}, "spec": {"selector": {"app": "kiali"}}}]
    live = [{"metadata": {"name": "kiali", "namespace": "istio-system"},
             "status": {"conditions": [{"type": "Available", "status": "True"}]}},
            {"metadata": {"name": "grafana", "namespace": "istio-system"},
             "status": {"conditions": [{"type": "Available", "status": "False"}]}}]
    slices = [{"metadata": {"namespace": "istio-system", "labels": {"kubernetes.io/service-name": "kiali"}},
               "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}]}]
    assert addons.not_ready(planned, live, slices) == ["Deployment istio-system/grafana is not Available",
                                                        "Deployment istio-system/jaeger is missing"]
    assert addons.not_ready(planned, live, [])[-1] == "Service istio-system/kiali has no ready endpoint"
