"""Pure helpers for manifests, backups and revisions."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    applied_configuration,
    backup_differences,
    clean_for_backup,
    default_injector_deactivated,
    default_injector_deactivations,
    gateway_objects,
    gateway_problems,
    injection_labels,
    kind_summary,
    objects_not_in,
    revision_objects,
    revision_tags,
    split_manifest,
    strip_generated_fields,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.injection import batch_without_opt_out

MANIFEST = """
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: istiod}
---
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: istio-validator-istio-system}
webhooks:
- name: rev.validation.istio.io
  failurePolicy: Ignore
"""


def test_split_manifest_fills_namespaces_and_fails_validation_closed():
    objs = split_manifest(MANIFEST, "istio-system", "Fail")
    assert [o["kind"] for o in objs] == ["ServiceAccount", "ValidatingWebhookConfiguration"]
    assert objs[0]["metadata"]["namespace"] == "istio-system"
    assert "namespace" not in objs[1]["metadata"]
    assert objs[1]["webhooks"][0]["failurePolicy"] == "Fail"
    assert kind_summary(objs) == "1 ServiceAccount, 1 ValidatingWebhookConfiguration"


def test_strip_generated_fields_drops_ca_bundle_and_last_applied():
    obj = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
           "webhooks": [{"clientConfig": {"caBundle": "abc", "url": "https://x"}}]}
    strip_generated_fields([obj])
    assert obj == {"metadata": {}, "webhooks": [{"clientConfig": {"url": "https://x"}}]}


def test_backup_round_trip_detects_every_field_difference():
    live = [{"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": {"name": "r", "namespace": "a", "uid": "1", "resourceVersion": "9", "labels": {"t": "a"}},
             "spec": {"hosts": ["r"]}, "status": {"x": 1}}]
    backup = clean_for_backup(live)
    assert "uid" not in backup[0]["metadata"] and "status" not in backup[0]
    assert backup_differences(backup, live) == []
    changed = [dict(live[0], spec={"hosts": ["other"]})]
    assert backup_differences(backup, changed) == ["VirtualService a/r: spec differs"]
    assert backup_differences(backup, []) == ["missing VirtualService a/r"]
    relabeled = [dict(live[0], metadata=dict(live[0]["metadata"], labels={}))]
    assert backup_differences(backup, relabeled) == ["VirtualService a/r: metadata.labels differs"]


def test_revision_objects_and_tags():
    objs = [
        {"kind": "Deployment", "metadata": {"name": "istiod-canary", "labels": {"istio.io/rev": "canary"}}},
        {"kind": "ServiceAccount", "metadata": {"name": "istiod-canary", "labels": {"app": "istiod"}}},
        {"kind": "ClusterRole", "metadata": {"name": "istiod-clusterrole-canary-istio-system", "labels": {"app": "istiod"}}},
        {"kind": "ServiceAccount", "metadata": {"name": "istiod", "labels": {"app": "istiod"}}},
        {"kind": "MutatingWebhookConfiguration", "metadata": {"name": "istio-revision-tag-prod",
                                                              "labels": {"istio.io/rev": "canary", "istio.io/tag": "prod"}}},
    ]
    names = [o["metadata"]["name"] for o in revision_objects(objs, "canary")]
    assert names == ["istiod-canary", "istiod-canary", "istiod-clusterrole-canary-istio-system"]
    assert revision_tags(objs, "canary") == ["prod"]
    assert len(revision_objects(objs, "canary", include_tags=True)) == 4
    assert [o["metadata"]["name"] for o in revision_objects(objs, "default")] == ["istiod"]


GATEWAY_LABELS = {"app": "istio-ingressgateway", "istio": "ingressgateway", "istio.io/rev": "default",
                  "operator.istio.io/component": "IngressGateways"}


def test_revision_objects_leave_the_gateways_alone():
    objs = [
        {"kind": "Deployment", "metadata": {"name": "istiod", "labels": {"app": "istiod", "istio.io/rev": "default"}}},
        {"kind": "Deployment", "metadata": {"name": "istio-ingressgateway", "labels": GATEWAY_LABELS}},
        {"kind": "Service", "metadata": {"name": "istio-egressgateway", "labels": dict(
            GATEWAY_LABELS, app="istio-egressgateway", istio="egressgateway",
            **{"operator.istio.io/component": "EgressGateways"})}},
        {"kind": "ServiceAccount", "metadata": {"name": "istio-ingressgateway-service-account", "labels": GATEWAY_LABELS}},
    ]
    assert [o["metadata"]["name"] for o in revision_objects(objs, "default")] == ["istiod"]
    assert [o["metadata"]["name"] for o in revision_objects(objs, "default", include_tags=True)] == ["istiod"]
    assert [o["metadata"]["name"] for o in gateway_objects(objs)] == [
        "istio-ingressgateway", "istio-egressgateway", "istio-ingressgateway-service-account"]
    assert gateway_objects(objs, "canary") == []


def test_gateway_problems_name_the_revision_and_the_rollout():
    def gw(rev, generation=2, observed=2, updated=1, available=1, replicas=1):
        return {"kind": "Deployment", "metadata": {"name": "istio-ingressgateway", "generation": generation,
                                                   "labels": dict(GATEWAY_LABELS, **{"istio.io/rev": rev})},
                "spec": {"replicas": 1}, "status": {"observedGeneration": observed, "updatedReplicas": updated,
                                                    "availableReplicas": available, "replicas": replicas}}
    assert gateway_problems([gw("canary")], "canary") == []
    assert gateway_problems([gw("default")], "canary") == ["gateway istio-ingressgateway is on revision default, "
                                                           "expected canary"]
    assert gateway_problems([gw("canary", observed=1)], "canary") == [
        "gateway istio-ingressgateway has not finished rolling out (1/1 updated, 1 available)"]
    assert gateway_problems([gw("canary", replicas=2)], "canary") != []


def test_applied_configuration_is_what_was_applied_or_the_clean_object():
    applied = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "gw", "namespace": "istio-system"},
               "spec": {"ports": [{"port": 80}]}}
    import json
    live = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "gw", "namespace": "istio-system", "uid": "u", "resourceVersion": "7",
                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": json.dumps(applied)}},
            "spec": {"ports": [{"port": 80}], "clusterIP": "10.0.0.9"}, "status": {}}
    assert applied_configuration([live]) == [applied]
    del live["metadata"]["annotations"]
    assert applied_configuration([live]) == [{"apiVersion": "v1", "kind": "Service",
                                              "metadata": {"name": "gw", "namespace": "istio-system"},
                                              "spec": {"ports": [{"port": 80}], "clusterIP": "10.0.0.9"}}]


def test_objects_not_in_compares_group_kind_namespace_name():
    live = [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "namespace": "x"}},
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "b", "namespace": "x"}}]
    assert objects_not_in(live, live[:1]) == live[1:]


def test_injection_labels_keep_only_injection_keys():
    namespaces = [{"metadata": {"name": "b", "labels": {"istio.io/rev": "canary", "team": "x"}}},
                  {"metadata": {"name": "a", "labels": {"istio-injection": "enabled"}}},
                  {"metadata": {"name": "c", "labels": {"team": "y"}}}]
    assert injection_labels(namespaces) == [{"name": "a", "labels": {"istio-injection": "enabled"}},
                                            {"name": "b", "labels": {"istio.io/rev": "canary"}}]


def test_batch_without_opt_out_reads_jobs_and_cronjobs():
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "a"}, "spec": {"template": {"metadata": {}}}}
    cron = {"kind": "CronJob", "metadata": {"name": "c", "namespace": "a"}, "spec": {"jobTemplate": {"spec": {
        "template": {"metadata": {"labels": {"sidecar.istio.io/inject": "false"}}}}}}}
    assert batch_without_opt_out([job, cron]) == ["Job a/j"]


def test_backups_drop_owner_references():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup
    obj = {"kind": "ConfigMap", "metadata": {"name": "a", "ownerReferences": [{"uid": "gone"}], "uid": "x"}}
    assert "ownerReferences" not in clean_for_backup([obj])[0]["metadata"]


NEVER = {"matchLabels": {"istio.io/deactivated": "never-match"}}


def _injector(name, labels, selector=None):
    hooks = [{"name": n, "clientConfig": {"url": "https://istiod/inject", "caBundle": "Q0E="},
              "namespaceSelector": selector or {"matchExpressions": [{"key": "istio-injection", "operator": "In",
                                                                       "values": ["enabled"]}]},
              "objectSelector": {"matchExpressions": [{"key": "sidecar.istio.io/inject", "operator": "NotIn",
                                                        "values": ["false"]}]}}
             for n in ("namespace.sidecar-injector.istio.io", "rev.object.sidecar-injector.istio.io")]
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": name, "labels": dict({"app": "sidecar-injector"}, **labels)}, "webhooks": hooks}


PLAIN = _injector("istio-sidecar-injector", {"istio.io/rev": "default"})
TAG = _injector("istio-revision-tag-default", {"istio.io/rev": "canary", "istio.io/tag": "default"})
CANARY = _injector("istio-sidecar-injector-canary", {"istio.io/rev": "canary"})


def test_default_injector_deactivations_select_nothing_like_istioctl_tag_set_default():
    patches = default_injector_deactivations([TAG, PLAIN, CANARY])
    # only the default revision's own injector; a tag or another revision's injector keeps its selectors
    assert patches == [{"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                        "metadata": {"name": "istio-sidecar-injector"},
                        "webhooks": [{"name": "namespace.sidecar-injector.istio.io", "namespaceSelector": NEVER,
                                      "objectSelector": NEVER},
                                     {"name": "rev.object.sidecar-injector.istio.io", "namespaceSelector": NEVER,
                                      "objectSelector": NEVER}]}]
    assert default_injector_deactivations([TAG, CANARY]) == []
    assert PLAIN["webhooks"][0]["namespaceSelector"] != NEVER  # the input is left alone


def test_the_plan_renders_the_default_injector_deactivated_only_while_a_default_tag_exists():
    plan = [PLAIN, CANARY, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "istiod"}}]
    assert default_injector_deactivated(plan, []) == plan
    assert default_injector_deactivated(plan, [CANARY]) == plan  # no default tag
    done = default_injector_deactivated(plan, [TAG])
    assert [w["namespaceSelector"] for w in done[0]["webhooks"]] == [NEVER, NEVER]
    assert [w["objectSelector"] for w in done[0]["webhooks"]] == [NEVER, NEVER]
    assert done[0]["webhooks"][0]["clientConfig"] == PLAIN["webhooks"][0]["clientConfig"]
    assert done[1:] == plan[1:]
    assert PLAIN["webhooks"][0]["namespaceSelector"] != NEVER


def test_manifest_files_give_their_objects_in_order_crds_first(tmp_path):
    import pytest

    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import manifest_file_objects

    first = tmp_path / "plan.yaml"
    first.write_text("# plan key\n---\nkind: ServiceAccount\nmetadata: {name: a}\n---\n"
                     "kind: CustomResourceDefinition\nmetadata: {name: b}\n---\n\n---\n"
                     "kind: Deployment\nmetadata: {name: c}\n---\nkind: CustomResourceDefinition\nmetadata: {name: d}\n")
    second = tmp_path / "more.yaml"
    second.write_text("kind: ConfigMap\nmetadata: {name: e}\n")
    names = [o["metadata"]["name"] for o in manifest_file_objects([str(first), str(second)])]
    assert names == ["b", "d", "a", "c", "e"]
    assert manifest_file_objects([]) == []
    with pytest.raises(IOError):
        manifest_file_objects([str(tmp_path / "missing.yaml")])
    second.write_text("kind: [\n")
    with pytest.raises(ValueError, match="more.yaml is not valid YAML"):
        manifest_file_objects([str(second)])


def test_a_manifest_file_that_changed_since_it_was_planned_is_refused(tmp_path):
    import hashlib

    import pytest

    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import manifest_file_objects

    plan = tmp_path / "plan.yaml"
    plan.write_text("kind: ServiceAccount\nmetadata: {name: a}\n")
    planned = hashlib.sha256(plan.read_bytes()).hexdigest()
    assert [o["metadata"]["name"] for o in manifest_file_objects([str(plan)], [planned])] == ["a"]
    plan.write_text("kind: ServiceAccount\nmetadata: {name: b}\n")
    with pytest.raises(ValueError, match="plan.yaml changed since it was planned"):
        manifest_file_objects([str(plan)], [planned])
    with pytest.raises(ValueError, match="2 checksums for 1 manifest files"):
        manifest_file_objects([str(plan)], [planned, planned])
