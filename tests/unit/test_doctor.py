"""doctor: each check's verdict and hint from what mesh_info, proxy_status and istioctl return."""
import json

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import doctor as d

SETTINGS = {"namespaces": [], "istio_namespace": "istio-system", "root_namespace": "istio-system",
            "addons": ["prometheus"], "analyze_fail_level": "Error", "analyze_ignore_codes": [],
            "cert_warn_days": 60, "min_version": "1.32", "max_version": "1.36"}
NOW = "20261126120000Z"


def deploy(name, component="istiod", revision="default", tag="1.31.0", available=True, ns="istio-system"):
    return {"name": name, "namespace": ns, "revision": revision, "component": component,
            "images": ["gcr.io/istio/%s:%s" % ("pilot" if component == "istiod" else "proxyv2", tag)],
            "available": available}


def revision(name="default", available=True, tags=("default",)):
    return {"revision": name, "istiod": ["istiod"], "istiod_available": available, "gateways": [],
            "tags": list(tags), "webhooks_healthy": True}


def webhook(name="istio-sidecar-injector", rev="default", tag=None, ca=True):
    problems = [] if ca else ["%s.istio.io: no caBundle" % name]
    return {"kind": "MutatingWebhookConfiguration", "name": name, "revision": rev, "tag": tag,
            "healthy": ca, "problems": problems, "webhooks": [{"name": name + ".istio.io", "ca_bundle": ca}]}


def namespace(name, state="none", rev=None, warnings=()):
    return {"name": name, "state": state, "revision": rev, "warnings": list(warnings)}


def pod(ns, name, sidecar=True, inject=None, phase="Running"):
    return {"namespace": ns, "name": name, "sidecar": sidecar, "inject": inject, "host_network": False,
            "terminating": False, "phase": phase}


def workload(name, labels, replicas=1, ready=1, ns="istio-system"):
    return {"kind": "Deployment", "namespace": ns, "name": name, "template_labels": labels, "replicas": replicas,
            "ready_replicas": ready, "available_replicas": ready}


def healthy_mesh():
    return {"version": {"major": "1", "minor": "36", "gitVersion": "v1.36.3"},
            "control_plane": [deploy("istiod"), deploy("istio-ingressgateway", "ingressgateway")],
            "revisions": [revision()], "tags": {"default": "default"},
            "crds": [{"name": "peerauthentications.security.istio.io", "established": True}],
            "webhooks": [webhook()], "namespaces": [namespace("shop", "enabled", "default"), namespace("default")],
            "pods": [pod("shop", "web-1"), pod("shop", "web-2"), pod("default", "plain", sidecar=False)],
            "workloads": [workload("istio-ingressgateway", {"istio": "ingressgateway"})],
            "peer_authentications": [], "destination_rules": [], "errors": []}


def synced(n=2):
    return {"summary": {"total": n, "proxies": {"SYNCED": n, "STALE": 0, "ERROR": 0, "NOT SENT": 0},
                        "not_synced": 0}, "failures": [], "proxies": []}


CERTS = {"now": NOW, "root_not_after": "20361123000000Z", "serving_not_after": "20271123000000Z"}


def post(mesh=None, proxies=None, analyze="[]", certs=None, rc=0, **settings):
    checks = d.post_checks(mesh or healthy_mesh(), proxies or synced(), {"rc": rc, "stdout": analyze, "stderr": ""}, certs or CERTS,
                           dict(SETTINGS, **settings))
    return dict((c["id"], c) for c in checks)


def test_a_healthy_mesh_passes_every_check_and_prints_ticks():
    checks = post()
    assert dict((k, c["status"]) for k, c in checks.items() if c["status"] != "ok") == {}
    report = d.report(list(checks.values()))
    assert report["passed"] and report["failed"] == []
    assert report["lines"][0].startswith(u"\u2713 control plane")
    assert checks["injection"]["detail"] == "every pod injected: shop 2/2"
    assert report["lines"][-1].startswith(u"Status check results are \u2713")


def test_a_failed_check_prints_a_cross_and_its_hint():
    mesh = healthy_mesh()
    mesh["webhooks"] = [webhook(ca=False)]
    report = d.report(list(post(mesh).values()))
    assert not report["passed"]
    index = [i for i, l in enumerate(report["lines"]) if "webhooks" in l][0]
    assert report["lines"][index].startswith(u"\u00d7 webhooks")
    assert "no caBundle" in report["lines"][index]
    assert report["lines"][index + 1].startswith("    hint: istiod writes the caBundle")
    assert report["failed"][0].startswith("webhooks have a caBundle")


def test_webhook_of_a_revision_whose_istiod_is_down_fails():
    mesh = healthy_mesh()
    mesh["revisions"] = [revision(available=False)]
    check = post(mesh)["webhooks"]
    assert check["status"] == "fail" and "its istiod (revision default) is not Available" in check["detail"]


def test_tag_webhooks_resolve_to_their_revision():
    mesh = healthy_mesh()
    mesh["webhooks"] = [webhook("istio-revision-tag-prod", rev="canary", tag="prod")]
    mesh["tags"] = {"prod": "canary"}
    mesh["revisions"] = [revision("canary", tags=["prod"])]
    assert post(mesh)["webhooks"]["status"] == "ok"


def test_uninjected_pod_in_an_injected_namespace_fails_opted_out_does_not():
    mesh = healthy_mesh()
    mesh["pods"] += [pod("shop", "legacy", sidecar=False), pod("shop", "job", sidecar=False, inject="false"),
                     pod("shop", "done", sidecar=False, phase="Succeeded")]
    check = post(mesh)["injection"]
    assert check["status"] == "fail" and check["items"] == ["shop/legacy"]
    assert "sidecar-injection.yml" in check["hint"]


def test_namespace_filter_limits_the_pod_checks():
    mesh = healthy_mesh()
    mesh["pods"].append(pod("shop", "legacy", sidecar=False))
    assert post(mesh, namespaces=["default"])["injection"]["status"] == "ok"


def test_conflicting_injection_labels_warn_and_unknown_revision_fails():
    mesh = healthy_mesh()
    mesh["namespaces"].append(namespace("both", "enabled", "default", ["both istio-injection=enabled and "
                                                                        "istio.io/rev=canary: ... (IST0123)"]))
    assert post(mesh)["injection_labels"]["status"] == "warn"
    mesh["namespaces"].append(namespace("lost", "revision", "gone"))
    check = post(mesh)["injection_labels"]
    assert check["status"] == "fail" and "istio.io/rev=gone names no revision or tag" in check["detail"]


def test_mtls_reports_effective_modes_and_ist0113():
    mesh = healthy_mesh()
    mesh["peer_authentications"] = [{"metadata": {"name": "default", "namespace": "shop"},
                                     "spec": {"mtls": {"mode": "STRICT"}}}]
    check = post(mesh)["mtls"]
    assert check["status"] == "ok" and "shop=STRICT" in check["items"] and "default=PERMISSIVE" in check["items"]
    mesh["destination_rules"] = [{"metadata": {"name": "plain", "namespace": "shop"},
                                  "spec": {"host": "web.shop.svc.cluster.local",
                                           "trafficPolicy": {"tls": {"mode": "DISABLE"}}}}]
    check = post(mesh)["mtls"]
    assert check["status"] == "fail" and check["detail"].startswith("IST0113 DestinationRule shop/plain sends DISABLE")


def test_control_plane_unavailable_or_mixed_versions_fail():
    mesh = healthy_mesh()
    mesh["control_plane"][1] = deploy("istio-ingressgateway", "ingressgateway", tag="1.30.0")
    check = post(mesh)["control_plane"]
    assert check["status"] == "fail" and "revision default runs 1.30.0, 1.31.0" in check["detail"]
    mesh["control_plane"] = [deploy("istiod", available=False)]
    assert "not Available: istio-system/istiod" in post(mesh)["control_plane"]["detail"]
    mesh["control_plane"] = []
    assert post(mesh)["control_plane"]["detail"] == "no istiod Deployment found"


def test_crds_not_established_fail():
    mesh = healthy_mesh()
    mesh["crds"][0]["established"] = False
    assert post(mesh)["crds"]["status"] == "fail"


def test_gateways_by_label_and_addons():
    mesh = healthy_mesh()
    mesh["workloads"] += [workload("gw", {"gateway.istio.io/managed": "istio.io-gateway-controller"}, 2, 1, "web"),
                          workload("prometheus", {"app": "prometheus"}, 1, 0)]
    checks = post(mesh)
    assert checks["gateways"]["status"] == "fail" and checks["gateways"]["items"] == ["web/gw (1/2 ready)"]
    assert checks["addons"]["status"] == "warn" and "prometheus (0/1 ready)" in checks["addons"]["detail"]


def test_proxies_from_proxy_status():
    assert post(proxies={"failed": True, "msg": "istiod is unreachable at http://x/debug/syncz"})["proxies"][
        "detail"] == "istiod is unreachable at http://x/debug/syncz"
    stale = {"summary": {"total": 2, "proxies": {"SYNCED": 1, "STALE": 1}, "not_synced": 1},
             "failures": ["1 proxies STALE: a.shop"], "proxies": [{"name": "a.shop", "state": "STALE"}]}
    check = post(proxies=stale)["proxies"]
    assert check["status"] == "fail" and check["items"] == ["a.shop STALE"]


def finding(code, level, origin="VirtualService shop/lost"):
    return {"code": code, "level": level, "origin": origin, "message": "Referenced host not found"}


def test_analyze_groups_by_code_and_level_with_a_threshold():
    text = json.dumps([finding("IST0101", "Error"), finding("IST0101", "Error", "VirtualService shop/b"),
                       finding("IST0102", "Info", "Namespace default")])
    groups = d.analyze_groups(json.loads(text))
    assert [(g["level"], g["code"], g["count"]) for g in groups] == [("Error", "IST0101", 2), ("Info", "IST0102", 1)]
    check = post(analyze=text)["analyze"]
    assert check["status"] == "fail" and "Error IST0101 VirtualService shop/lost" in check["detail"]
    assert post(analyze=json.dumps([finding("IST0102", "Info")]))["analyze"]["status"] == "ok"
    assert post(analyze=json.dumps([finding("IST0102", "Info")]), analyze_fail_level="Info")["analyze"]["status"] == "fail"
    ignored = post(analyze=text, analyze_ignore_codes=["IST0101"])["analyze"]
    assert ignored["status"] == "ok" and "2 ignored (IST0101)" in ignored["detail"]
    assert post(analyze="No validation issues found")["analyze"]["status"] == "ok"
    failed = post(analyze="", rc=1, certs=None)["analyze"]
    assert failed["status"] == "fail" and failed["detail"].startswith("istioctl failed (rc 1)")
    assert post(analyze="[not json")["analyze"]["status"] == "fail"


@pytest.mark.parametrize("not_after, status", [
    ("20361123000000Z", "ok"), ("20270101000000Z", "warn"), ("20261101000000Z", "fail"), ("", "warn")])
def test_certificate_expiry_warns_under_sixty_days(not_after, status):
    check = post(certs=dict(CERTS, root_not_after=not_after))["root_cert"]
    assert check["status"] == status
    if status == "warn" and not_after:
        assert "expires in 35 days" in check["detail"]


def test_read_errors_fail_first():
    mesh = healthy_mesh()
    mesh["errors"] = [{"verb": "list", "kind": "Pod", "namespace": None, "message": "403 forbidden"}]
    checks = d.post_checks(mesh, synced(), {"rc": 0, "stdout": "[]"}, CERTS, SETTINGS)
    assert checks[0]["id"] == "read" and checks[0]["status"] == "fail"


def test_pre_checks():
    mesh = {"version": {"major": "1", "minor": "31", "gitVersion": "v1.31.0"},
            "missing_access": [{"verb": "create", "resource": "customresourcedefinitions",
                                "group": "apiextensions.k8s.io"}],
            "crds": [], "webhooks": [webhook("istio-sidecar-injector-old", rev="old")], "revisions": []}
    checks = dict((c["id"], c) for c in d.pre_checks(mesh, {"rc": 0, "stdout": "No issues found"}, SETTINGS))
    assert checks["api"]["status"] == "fail" and "outside 1.32 to 1.36" in checks["api"]["detail"]
    assert checks["permissions"]["items"] == ["create customresourcedefinitions.apiextensions.k8s.io cluster-wide"]
    assert checks["conflicts"]["status"] == "fail" and "istio-sidecar-injector-old" in checks["conflicts"]["detail"]
    assert checks["precheck"]["status"] == "ok"
    unreachable = dict((c["id"], c) for c in d.pre_checks({}, {"rc": 0, "stdout": "[]"}, SETTINGS))
    assert unreachable["api"]["detail"] == "the API server did not answer"


@pytest.mark.parametrize("kwargs, expected", [
    ({"namespaces": ["nope"]}, "mesh_doctor_namespaces names nope, which do not exist"),
    ({"max_not_synced_percent": -1}, "mesh_doctor_max_not_synced_percent is -1: give a percentage from 0 to 100"),
    ({"selector": "app=(x"}, "mesh_doctor_selector: label_selector 'app=(x' does not parse"),
    ({"analyze_fail_level": "Fatal"}, "mesh_doctor_analyze_fail_level is 'Fatal': give one of Info, Warning, Error"),
    ({"cert_warn_days": -5}, "mesh_doctor_cert_warn_days is -5"),
])
def test_bad_input_names_the_variable_and_the_fix(kwargs, expected):
    args = dict({"namespaces": ["shop"], "existing_namespaces": ["shop"], "max_not_synced_percent": 0,
                 "selector": "", "analyze_fail_level": "Error", "cert_warn_days": 60}, **kwargs)
    errors = d.input_errors(**args)
    assert len(errors) == 1 and errors[0].startswith(expected), errors


def test_unreachable_api_fails_first_with_the_reader_message():
    checks = d.post_checks({"failed": True, "msg": "connection refused"}, synced(), {"rc": 0, "stdout": "[]"}, CERTS,
                           SETTINGS)
    assert checks[0]["id"] == "api" and checks[0]["detail"] == "connection refused"
