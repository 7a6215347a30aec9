"""The drift comparison: each difference between the declared state and one mesh_info read names its variable."""
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
        "mesh_drift_checks names labels: give any of version, injection, mtls, addons"]
    assert input_errors([], {"mtls": {"mode": "STRICTT", "namespaces": {"shop": "OFF"}}}) == [
        'mesh_drift_mtls_mode is STRICTT: give one of STRICT, PERMISSIVE, DISABLE, or "" to skip',
        "mesh_drift_mtls_namespaces[shop] is OFF: give one of STRICT, PERMISSIVE, DISABLE"]


def test_version_override_must_be_a_version():
    assert input_errors([], {}, "1.31.0") == [] and input_errors([], {}, "") == []
    assert input_errors([], {}, "1.31; rm -rf /") == [
        "mesh_drift_istio_version takes an Istio version such as 1.27.3 (got '1.31; rm -rf /'), or \"\" for the inventory's"]
