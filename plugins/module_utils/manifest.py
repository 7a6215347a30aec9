# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# Apache License 2.0 (see LICENSE)
"""Pure helpers for rendered Istio manifests and control-plane objects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

CLUSTER_SCOPED_KINDS = frozenset([
    "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration", "Namespace", "PriorityClass", "StorageClass", "IngressClass",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "APIService",
])


def split_manifest(text, default_namespace=None, validation_failure_policy=None):
    """Objects of a multi-document YAML manifest, empty documents dropped.

    Namespaced objects without a namespace get default_namespace. With validation_failure_policy,
    every ValidatingWebhookConfiguration webhook gets that failurePolicy (istiod sets Fail once ready;
    rendering it up front keeps a re-apply from flipping it back to Ignore).
    """
    import yaml

    objects = []
    for doc in yaml.safe_load_all(text or ""):
        if not isinstance(doc, dict) or not doc.get("kind"):
            continue
        meta = doc.setdefault("metadata", {})
        if default_namespace and doc["kind"] not in CLUSTER_SCOPED_KINDS and not meta.get("namespace"):
            meta["namespace"] = default_namespace
        if validation_failure_policy and doc["kind"] == "ValidatingWebhookConfiguration":
            for webhook in doc.get("webhooks") or []:
                webhook["failurePolicy"] = validation_failure_policy
        objects.append(doc)
    return objects


def strip_generated_fields(objects):
    """Drop fields that istioctl copies from live objects: kubectl's last-applied annotation and caBundles.

    istiod owns the caBundle; leaving it out keeps a re-apply from touching it.
    """
    for obj in objects:
        annotations = obj.get("metadata", {}).get("annotations") or {}
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        if not annotations:
            obj.get("metadata", {}).pop("annotations", None)
        for webhook in obj.get("webhooks") or []:
            (webhook.get("clientConfig") or {}).pop("caBundle", None)
    return objects


def dump_manifest(objects):
    """Multi-document YAML of a list of objects, in order."""
    import json

    import yaml

    plain = json.loads(json.dumps(list(objects)))  # drop template-engine wrapper types
    return yaml.safe_dump_all(plain, sort_keys=False, default_flow_style=False, explicit_start=True)


def kind_summary(objects):
    """'15 CustomResourceDefinition, 3 Deployment' for a list of objects, most frequent first."""
    counts = {}
    for obj in objects:
        counts[obj.get("kind")] = counts.get(obj.get("kind"), 0) + 1
    return ", ".join("%d %s" % (n, kind) for kind, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def image_tag(image):
    """Tag of an image reference ('' when it has none or only a digest)."""
    if not image or "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def istiod_revision_summary(deployment):
    """Revision, image and availability of an istiod Deployment."""
    meta = deployment.get("metadata", {})
    labels = meta.get("labels", {}) or {}
    containers = deployment.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []) or []
    discovery = next((c for c in containers if c.get("name") == "discovery"), containers[0] if containers else {})
    status = deployment.get("status", {}) or {}
    conditions = status.get("conditions", []) or []
    return {
        "name": meta.get("name"),
        "revision": labels.get("istio.io/rev", "default"),
        "image": discovery.get("image", ""),
        "tag": image_tag(discovery.get("image", "")),
        "available": any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions),
    }


def object_key(obj):
    meta = obj.get("metadata", {})
    return (obj.get("apiVersion", "").split("/")[0] if "/" in obj.get("apiVersion", "") else "",
            obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def objects_not_in(live, planned):
    """Live objects whose (group, kind, namespace, name) is not among the planned objects."""
    wanted = set(object_key(obj) for obj in planned)
    return [obj for obj in live if object_key(obj) not in wanted]
