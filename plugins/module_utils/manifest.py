# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for rendered Istio manifests and control-plane objects."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import plain_annotations
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import (  # noqa: F401 (re-exported)
    INJECTION_LABELS,
    REV_LABEL,
    TAG_LABEL,
    labels as _labels,
    object_key,
    object_ref,
)

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

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the Istio manifest is about 1 MB
    objects = []
    for doc in yaml.load_all(text or "", Loader=loader):
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


def manifest_file_objects(paths, checksums=None):
    """The objects of multi-document YAML files, in order, each file's CustomResourceDefinitions first.
    checksums: the SHA-256 each file must have, in the same order (a plan applied as it was made).
    IOError when a file cannot be read, ValueError when it is not YAML or its checksum differs."""
    import hashlib
    import io

    import yaml

    checksums = list(checksums or [])
    if checksums and len(checksums) != len(paths or []):
        raise ValueError("%d checksums for %d manifest files" % (len(checksums), len(paths or [])))
    objects = []
    for index, path in enumerate(paths or []):
        with io.open(path, "rb") as handle:
            data = handle.read()
        if checksums and hashlib.sha256(data).hexdigest() != checksums[index]:
            raise ValueError("%s changed since it was planned (its SHA-256 is not %s)" % (path, checksums[index]))
        try:
            found = split_manifest(data.decode("utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ValueError("%s is not valid YAML: %s" % (path, exc))
        objects += sorted(found, key=lambda obj: obj["kind"] != "CustomResourceDefinition")
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
    return yaml.dump_all(plain, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                         default_flow_style=False, explicit_start=True)


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
        "revision": labels.get(REV_LABEL, "default"),
        "image": discovery.get("image", ""),
        "tag": image_tag(discovery.get("image", "")),
        "available": any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions),
    }


def objects_in(live, planned):
    """Live objects whose (group, kind, namespace, name) is among the planned objects."""
    wanted = set(object_key(obj) for obj in planned)
    return [obj for obj in live if object_key(obj) in wanted]


def objects_not_in(live, planned):
    """Live objects whose (group, kind, namespace, name) is not among the planned objects."""
    wanted = set(object_key(obj) for obj in planned)
    return [obj for obj in live if object_key(obj) not in wanted]


# ownerReferences too: owners' uids do not survive a purge, and the garbage collector would delete a
# restored object that still pointed at them.
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "selfLink",
                   "deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences")


def clean_for_backup(objects):
    """Copies of live objects as they can be re-applied: no status and no server-set metadata."""
    import json

    cleaned = []
    for obj in json.loads(json.dumps(list(objects))):
        obj.pop("status", None)
        meta = obj.get("metadata", {})
        for key in SERVER_METADATA:
            meta.pop(key, None)
        annotations = meta.get("annotations") or {}
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
        annotations.pop("deployment.kubernetes.io/revision", None)  # the Deployment controller's counter
        if not annotations:
            meta.pop("annotations", None)
        cleaned.append(obj)
    return sorted(cleaned, key=lambda o: (o.get("kind", ""), o["metadata"].get("namespace", ""),
                                          o["metadata"].get("name", "")))


def backup_differences(backup, live):
    """Field-level differences between backed-up objects and live ones, as readable strings.

    Compares apiVersion, kind, labels, annotations, spec and data of every backed-up object.
    """
    live_by_key = dict((object_key(o), o) for o in clean_for_backup(live))
    problems = []
    for want in clean_for_backup(backup):
        key = object_key(want)
        have = live_by_key.get(key)
        if have is None:
            problems.append("missing %s %s/%s" % (key[1], key[2], key[3]))
            continue
        for field in ("spec", "data"):
            if want.get(field) != have.get(field):
                problems.append("%s %s/%s: %s differs" % (key[1], key[2], key[3], field))
        if (want["metadata"].get("labels") or {}) != (have["metadata"].get("labels") or {}):
            problems.append("%s %s/%s: metadata.labels differs" % (key[1], key[2], key[3]))
        # the change ticket annotations record who wrote an object last: never a difference
        if plain_annotations(want["metadata"]) != plain_annotations(have["metadata"]):
            problems.append("%s %s/%s: metadata.annotations differs" % (key[1], key[2], key[3]))
    return problems


def restore_plan(backup, live):
    """{create, replace}: backed-up objects missing live, and those whose labels, annotations, spec or data
    differ, as full objects carrying the live resourceVersion, so a replace makes them exactly the backup
    (an apply would keep fields the backup lacks). Objects identical to the backup are in neither."""
    live_by_key = dict((object_key(o), o) for o in live)
    plan = {"create": [], "replace": []}
    for want in clean_for_backup(backup):
        have = live_by_key.get(object_key(want))
        if have is None:
            plan["create"].append(want)
        elif backup_differences([want], [have]):
            want["metadata"]["resourceVersion"] = (have.get("metadata") or {}).get("resourceVersion")
            plan["replace"].append(want)
    return plan


def injection_labels(namespaces):
    """[{name, labels}] with only the injection labels of each namespace, one entry per namespace."""
    seen = {}
    for ns in namespaces:
        meta = ns.get("metadata", {})
        labels = meta.get("labels") or {}
        picked = dict((k, labels[k]) for k in INJECTION_LABELS if k in labels)
        if picked:
            seen[meta.get("name")] = picked
    return [{"name": name, "labels": seen[name]} for name in sorted(seen)]


GATEWAY_COMPONENTS = ("IngressGateways", "EgressGateways")


def is_gateway(obj):
    """True for objects of the ingress and egress gateway components (they carry istio.io/rev too)."""
    return _labels(obj).get("operator.istio.io/component") in GATEWAY_COMPONENTS


def gateway_objects(objects, revision=None):
    """The gateway components' objects, optionally only those on one revision."""
    return [o for o in objects if is_gateway(o)
            and (revision is None or _labels(o).get(REV_LABEL, "default") == (revision or "default"))]


def gateway_problems(objects, revision):
    """Why the gateway Deployments among objects are not all rolled out on revision ([] when they are)."""
    revision = revision or "default"
    problems = []
    for dep in gateway_objects(objects):
        if dep.get("kind") != "Deployment":
            continue
        meta, status = dep.get("metadata") or {}, dep.get("status") or {}
        want = (dep.get("spec") or {}).get("replicas", 1)
        on = _labels(dep).get(REV_LABEL, "default")
        if on != revision:
            problems.append("gateway %s is on revision %s, expected %s" % (meta.get("name"), on, revision))
        elif (status.get("observedGeneration", 0) < meta.get("generation", 0) or status.get("updatedReplicas", 0) != want
              or status.get("availableReplicas", 0) != want or status.get("replicas", 0) != want):
            problems.append("gateway %s has not finished rolling out (%s/%s updated, %s available)" % (
                meta.get("name"), status.get("updatedReplicas", 0), want, status.get("availableReplicas", 0)))
    return problems


def applied_configuration(objects):
    """What was last applied to each object (kubectl's annotation), or the object cleaned for backup.

    Re-applying it restores the object as its installer wrote it, without server-set fields.
    """
    import json

    configs = []
    for obj in objects:
        text = ((obj.get("metadata") or {}).get("annotations") or {}).get(
            "kubectl.kubernetes.io/last-applied-configuration")
        try:
            configs.append(json.loads(text) if text else clean_for_backup([obj])[0])
        except ValueError:
            configs.append(clean_for_backup([obj])[0])
    return configs


def revision_objects(objects, revision, namespace="istio-system", include_tags=False):
    """The control-plane objects that belong to one revision.

    They carry istio.io/rev=<revision>, or are the per-revision istiod RBAC objects named after it.
    Revision-tag objects (istio.io/tag) are included only with include_tags. Gateways are never
    included: they carry the label of the revision that serves them, but outlive it.
    """
    revision = revision or "default"
    suffix = "" if revision == "default" else "-" + revision
    named = set(["istiod" + suffix, "istiod-clusterrole%s-%s" % (suffix, namespace),
                 "istiod-gateway-controller%s-%s" % (suffix, namespace)])
    picked = []
    for obj in objects:
        labels = _labels(obj)
        if (TAG_LABEL in labels and not include_tags) or is_gateway(obj):
            continue
        if labels.get(REV_LABEL) == revision or (
                obj.get("metadata", {}).get("name") in named and labels.get("app") == "istiod"
                and REV_LABEL not in labels):
            picked.append(obj)
    return picked


# The selector istioctl puts on a webhook it deactivates ("istioctl tag set default", "istioctl install"):
# no namespace and no pod carries this label, so the webhook selects nothing and stays for a switch back.
NEVER_MATCH = {"matchLabels": {"istio.io/deactivated": "never-match"}}


def _is_default_injector(obj):
    """The default revision's own injector (istio-sidecar-injector): istio.io/rev=default and no istio.io/tag."""
    labels = _labels(obj)
    return (obj.get("kind") == "MutatingWebhookConfiguration" and labels.get(REV_LABEL) == "default"
            and TAG_LABEL not in labels and labels.get("app") == "sidecar-injector")


def _never_matching(webhook):
    return dict(webhook, namespaceSelector=dict(NEVER_MATCH), objectSelector=dict(NEVER_MATCH))


def default_injector_deactivations(webhook_configurations):
    """Server-side apply patches that deactivate the default revision's own injector, as istioctl does when the
    "default" revision tag takes over: every webhook keeps its name and gets selectors that match nothing, so
    the tag alone injects those pods (otherwise istioctl analyze reports IST0139)."""
    return [{"apiVersion": obj.get("apiVersion") or "admissionregistration.k8s.io/v1",
             "kind": "MutatingWebhookConfiguration", "metadata": {"name": obj["metadata"]["name"]},
             "webhooks": [_never_matching({"name": w["name"]}) for w in obj.get("webhooks") or []]}
            for obj in webhook_configurations if _is_default_injector(obj)]


def default_injector_deactivated(objects, default_tags):
    """The planned objects, with the default revision's own injector deactivated while a "default" revision
    tag exists (default_tags: the live webhook configurations labelled istio.io/tag=default), so that a
    re-install does not switch it back on beside the tag."""
    if not [t for t in default_tags if _labels(t).get(TAG_LABEL) == "default"]:
        return list(objects)
    return [dict(o, webhooks=[_never_matching(w) for w in o.get("webhooks") or []]) if _is_default_injector(o) else o
            for o in objects]


def revision_tags(objects, revision):
    """Names of revision tags (istio.io/tag) whose webhooks point at revision."""
    revision = revision or "default"
    return sorted(set(_labels(o)[TAG_LABEL] for o in objects
                      if TAG_LABEL in _labels(o) and _labels(o).get(REV_LABEL) == revision))


def object_refs(objects):
    """'Kind namespace/name' strings, for reports."""
    return [object_ref(o) for o in objects]


def object_ref_dict(obj):
    """apiVersion, kind, namespace and name of an object: enough to delete it."""
    meta = obj.get("metadata", {})
    ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": {"name": meta.get("name")}}
    if meta.get("namespace"):
        ref["metadata"]["namespace"] = meta["namespace"]
    return ref
