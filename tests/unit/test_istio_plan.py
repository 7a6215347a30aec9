"""istio_plan: the render is reused only while istioctl, the IstioOperator and the overlay are unchanged."""
import os

import pytest
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.istio_plan import PlanError, render_plan

MANIFEST = """apiVersion: v1
kind: ServiceAccount
metadata:
  name: istiod
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-sidecar-injector
  labels: {app: sidecar-injector, istio.io/rev: default}
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  namespaceSelector: {matchLabels: {istio.io/rev: default}}
"""


@pytest.fixture
def setup(tmp_path):
    istioctl = tmp_path / "istioctl"
    istioctl.write_text("#!/bin/sh\n")
    calls = []

    def run(argv):
        calls.append(argv)
        return MANIFEST
    paths = dict(operator_file=str(tmp_path / "out" / "operator.yaml"), plan_file=str(tmp_path / "out" / "plan.yaml"),
                 render_cache=str(tmp_path / "out" / ".render.yaml"))
    return str(istioctl), calls, run, paths


def test_a_render_is_split_saved_and_reused_while_the_inputs_are_unchanged(setup):
    istioctl, calls, run, paths = setup
    first = render_plan(istioctl, "kind: IstioOperator\n", run=run, **paths)
    assert [o["kind"] for o in first["objects"]] == ["ServiceAccount", "MutatingWebhookConfiguration"]
    assert first["objects"][0]["metadata"]["namespace"] == "istio-system"
    assert first["reused_render"] is False and len(calls) == 1
    assert calls[0] == [istioctl, "manifest", "generate", "-f", paths["operator_file"]]
    assert open(paths["operator_file"]).read() == "kind: IstioOperator\n"
    assert "kind: ServiceAccount" in open(paths["plan_file"]).read()
    again = render_plan(istioctl, "kind: IstioOperator\n", run=run, **paths)
    assert again["reused_render"] is True and len(calls) == 1 and again["objects"] == first["objects"]
    render_plan(istioctl, "kind: IstioOperator\nspec: {}\n", run=run, **paths)
    assert len(calls) == 2, "another IstioOperator renders again"
    os.utime(istioctl, (1, 1))
    render_plan(istioctl, "kind: IstioOperator\nspec: {}\n", run=run, **paths)
    assert len(calls) == 3, "another istioctl renders again"


def test_without_a_cache_every_call_renders(setup):
    istioctl, calls, run, paths = setup
    paths["render_cache"] = ""
    render_plan(istioctl, "x: 1\n", run=run, **paths)
    render_plan(istioctl, "x: 1\n", run=run, **paths)
    assert len(calls) == 2


def test_a_default_tag_keeps_the_default_injector_deactivated(setup):
    istioctl, _, run, paths = setup
    tag = {"metadata": {"name": "istio-revision-tag-default", "labels": {"istio.io/tag": "default"}}}
    objects = render_plan(istioctl, "x: 1\n", default_tags=[tag], run=run, **paths)["objects"]
    hook = objects[1]["webhooks"][0]
    assert hook["namespaceSelector"] != {"matchLabels": {"istio.io/rev": "default"}}


def test_failures_name_the_cause(setup, tmp_path):
    istioctl, _, _, paths = setup

    def failing(argv):
        raise PlanError("%s failed (exit 1): unknown field" % " ".join(argv))
    with pytest.raises(PlanError, match="unknown field"):
        render_plan(istioctl, "x: 1\n", run=failing, **paths)
    with pytest.raises(PlanError, match="istioctl not found at /nowhere/istioctl"):
        render_plan("/nowhere/istioctl", "x: 1\n", **paths)
    with pytest.raises(PlanError, match="cannot read the overlay"):
        render_plan(istioctl, "x: 1\n", overlay_file=str(tmp_path / "missing.yaml"), **paths)


def test_another_overlay_or_a_foreign_cache_renders_again(setup, tmp_path):
    istioctl, calls, run, paths = setup
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("spec: {hub: a}\n")
    render_plan(istioctl, "x: 1\n", overlay_file=str(overlay), run=run, **paths)
    assert calls[-1][-2:] == ["-f", str(overlay)]
    render_plan(istioctl, "x: 1\n", overlay_file=str(overlay), run=run, **paths)
    assert len(calls) == 1
    overlay.write_text("spec: {hub: b}\n")
    render_plan(istioctl, "x: 1\n", overlay_file=str(overlay), run=run, **paths)
    assert len(calls) == 2, "another overlay renders again"
    with open(paths["render_cache"], "w") as cache:
        cache.write("# istio-runbooks render key: 0000\n" + MANIFEST)
    render_plan(istioctl, "x: 1\n", overlay_file=str(overlay), run=run, **paths)
    assert len(calls) == 3, "a cache under another key is not used"


def test_the_plan_file_is_kept_while_it_holds_the_same_objects_unedited_and_refs_name_them(setup):
    import hashlib

    istioctl, calls, run, paths = setup
    first = render_plan(istioctl, "kind: IstioOperator\n", run=run, return_objects=False, **paths)
    assert "objects" not in first
    assert first["refs"] == [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "istiod", "namespace": "istio-system"}},
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": "istio-sidecar-injector"}}]
    saved = open(paths["plan_file"], "rb").read()
    assert saved.startswith(b"# istio-runbooks plan: objects ") and b"kind: ServiceAccount" in saved
    assert first["plan_sha256"] == hashlib.sha256(saved).hexdigest()
    written = os.stat(paths["plan_file"]).st_mtime_ns
    os.utime(paths["plan_file"], ns=(written - 10 ** 9, written - 10 ** 9))
    again = render_plan(istioctl, "kind: IstioOperator\n", run=run, **paths)
    assert os.stat(paths["plan_file"]).st_mtime_ns == written - 10 ** 9, "same objects: the plan is not rewritten"
    assert again["plan_sha256"] == first["plan_sha256"]
    with open(paths["plan_file"], "ab") as handle:
        handle.write(b"---\nkind: ConfigMap\nmetadata: {name: added-by-hand}\n")
    fixed = render_plan(istioctl, "kind: IstioOperator\n", run=run, **paths)
    assert open(paths["plan_file"], "rb").read() == saved and fixed["plan_sha256"] == first["plan_sha256"], \
        "an edited plan is written again"
    tag = {"kind": "MutatingWebhookConfiguration", "metadata": {"labels": {"istio.io/tag": "default"}}}
    tagged = render_plan(istioctl, "kind: IstioOperator\n", run=run, default_tags=[tag], **paths)
    assert tagged["plan_sha256"] != first["plan_sha256"], "a default tag changes the plan"
    render_plan(istioctl, "kind: IstioOperator\n", run=run, namespace="mesh", **paths)
    assert "namespace: mesh" in open(paths["plan_file"]).read()
