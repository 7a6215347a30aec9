from ansible_collections.istio_runbooks.mesh.plugins.module_utils.install_verify import verify_install
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import gather_mesh
from tests.unit.test_mesh_info import FakeMeshApi


def _deployment(name, available=True, labels=None, image="docker.io/istio/pilot:1.28.0", namespace="istio-system"):
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
            "spec": {"template": {"spec": {"containers": [{"name": "discovery", "image": image}]}}},
            "status": {"conditions": [{"type": "Available", "status": "True" if available else "False"}]}}


def _crd(name, established=True):
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Established", "status": "True" if established else "False"}]}}


def _config(name, revision, ca_bundle=True):
    client = {"caBundle": "Y2E="} if ca_bundle else {}
    return {"metadata": {"name": name, "labels": {"istio.io/rev": revision}},
            "webhooks": [{"name": "hook.istio.io", "clientConfig": client}]}


EXPECTED = {"version": "1.28.0", "revision": "default", "profile": "minimal", "image_tag": None,
            "deployments": [{"namespace": "istio-system", "name": "istiod"}],
            "crds": ["peerauthentications.security.istio.io"]}
ISTIOD = _deployment("istiod", labels={"app": "istiod", "istio.io/rev": "default"})


def test_an_installed_revision_passes_with_the_report_the_template_wrote():
    report = verify_install(EXPECTED, [ISTIOD], [_crd("peerauthentications.security.istio.io")],
                            [_config("istio-sidecar-injector", "default"), _config("other-rev", "canary", False)],
                            [_config("istio-validator-istio-system", "default")])
    assert report == {
        "version": "1.28.0", "revision": "default", "profile": "minimal",
        "deployments": [{"name": "istiod", "available": True}],
        "crds": [{"name": "peerauthentications.security.istio.io", "established": True}],
        "webhooks": [{"configuration": "istio-sidecar-injector", "webhook": "hook.istio.io", "ca_bundle": True},
                     {"configuration": "istio-validator-istio-system", "webhook": "hook.istio.io", "ca_bundle": True}],
        "istiod_images": ["docker.io/istio/pilot:1.28.0"], "problems": [], "passed": True}


def test_every_failed_check_is_a_problem():
    old = _deployment("istiod", available=False, labels={"app": "istiod", "istio.io/rev": "default"},
                      image="docker.io/istio/pilot:1.27.3")
    report = verify_install(EXPECTED, [old], [_crd("peerauthentications.security.istio.io", established=False)],
                            [_config("istio-sidecar-injector", "default", ca_bundle=False)], [])
    assert report["problems"] == [
        "Deployment istiod is not Available",
        "CRD peerauthentications.security.istio.io is not Established",
        "webhook istio-sidecar-injector/hook.istio.io has no caBundle",
        "istiod istiod runs docker.io/istio/pilot:1.27.3, expected tag 1.28.0"]
    assert report["passed"] is False


def test_nothing_installed_names_the_missing_webhooks_and_istiod_and_a_tag_overrides_the_version():
    report = verify_install(dict(EXPECTED, image_tag="1.28.0-distroless", deployments=[], crds=[]),
                            [_deployment("istiod-canary", labels={"app": "istiod", "istio.io/rev": "canary"})],
                            [], [], [])
    assert report["problems"] == ["no webhook configuration carries istio.io/rev=default",
                                  "no istiod Deployment for revision default"]


def test_mesh_info_verifies_with_the_lists_it_already_reads():
    api = FakeMeshApi({"Deployment": [ISTIOD], "CustomResourceDefinition": [_crd("peerauthentications.security.istio.io")],
                       "MutatingWebhookConfiguration": [_config("istio-sidecar-injector", "default")],
                       "ValidatingWebhookConfiguration": []})
    result = gather_mesh(api, gather=["crds", "webhooks"], verify_install=EXPECTED)
    assert result["install_verification"]["passed"], result["install_verification"]["problems"]
    kinds = [c[2] for c in api.calls if c[0] == "list"]
    assert sorted(kinds) == ["CustomResourceDefinition", "Deployment", "MutatingWebhookConfiguration",
                             "ValidatingWebhookConfiguration"], "one list per kind, shared with the subsets"
