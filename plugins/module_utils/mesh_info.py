# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read of the mesh: server version, the caller's permissions, Istio CRDs, control plane, revision tags,
webhooks, mTLS policies, namespaces and (optionally) workloads and pods, with one list call per kind, and the
decisions the roles take from them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


from ansible_collections.istio_runbooks.mesh.plugins.module_utils.injection import batch_without_opt_out
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.install_verify import verify_install as verify_revision
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mtls import gate_object
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import (  # noqa: F401 (re-exported)
    CLUSTER_WIDE_ABOVE,
    FORBIDDEN,
    INJECT_KEY,
    INJECTION_LABEL,
    REV_LABEL,
    TAG_LABEL,
    WORKLOAD_KINDS,
    ApiCallError,
    KubeApi,
    api_group as _group,
    condition_true as _condition_true,
    host_network,
    labels as _labels,
    list_items,
    meta as _meta,
    pod_has_sidecar,
    plain_copy,
    pod_revision,
    template_opt_out,
)

SUBSETS = ("crds", "control_plane", "webhooks", "policies", "namespaces", "workloads", "pods", "batch", "mesh_config",
           "mtls_gate")
DEFAULT_SUBSETS = ("crds", "control_plane", "webhooks", "policies", "namespaces")
BATCH_KINDS = ("Job", "CronJob")
# Reviews of this namespace answer cluster-scoped questions: it holds no RoleBindings, so only
# ClusterRoleBindings grant there, which is what cluster-scoped access needs.
CLUSTER_REVIEW_NAMESPACE = "istio-runbooks-cluster-scope"

# kind -> (apiVersion, resource): what an error entry names as the missing permission.
KINDS = {
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", "customresourcedefinitions"),
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "Pod": ("v1", "pods"),
    "Service": ("v1", "services"),
    "Job": ("batch/v1", "jobs"),
    "CronJob": ("batch/v1", "cronjobs"),
    "Namespace": ("v1", "namespaces"),
    "ConfigMap": ("v1", "configmaps"),
    "MutatingWebhookConfiguration": ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"),
    "ValidatingWebhookConfiguration": ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"),
    "PeerAuthentication": ("security.istio.io/v1", "peerauthentications"),
    "DestinationRule": ("networking.istio.io/v1", "destinationrules"),
    "SelfSubjectRulesReview": ("authorization.k8s.io/v1", "selfsubjectrulesreviews"),
}
POLICY_CRDS = {"PeerAuthentication": "peerauthentications.security.istio.io",
               "DestinationRule": "destinationrules.networking.istio.io"}


class MeshInfoError(Exception):
    """Bad input, with a message that names the fix."""


# ---- permissions --------------------------------------------------------------------------------------


def _matches(values, wanted):
    return "*" in values or wanted in values


def _resource_matches(resources, resource):
    if "*" in resources or resource in resources:
        return True
    if "/" in resource:  # a subresource: "*/log" grants pods/log
        return "*/" + resource.split("/", 1)[1] in resources
    return False


def rules_allow(rules, verb, resource, group="", name=None):
    """True when one of a SelfSubjectRulesReview's resourceRules grants verb on resource (in API group group).

    resource may name a subresource ("pods/log"). A rule limited to resourceNames grants only when name is one
    of them, so it never grants list or create of a whole kind.
    """
    for rule in rules or []:
        if not _matches(rule.get("verbs") or [], verb):
            continue
        if not _matches(rule.get("apiGroups") or [], group or ""):
            continue
        if not _resource_matches(rule.get("resources") or [], resource):
            continue
        names = rule.get("resourceNames") or []
        if names and (name is None or name not in names):
            continue
        return True
    return False


def review_namespace(entry):
    """The namespace whose review answers an access question (cluster-scoped ones: CLUSTER_REVIEW_NAMESPACE)."""
    return entry.get("namespace") or CLUSTER_REVIEW_NAMESPACE


def namespaces_to_review(access_namespaces, required_access):
    """Each namespace needing a SelfSubjectRulesReview, once, in a stable order."""
    wanted = list(access_namespaces or []) + [review_namespace(e) for e in required_access or []]
    seen, ordered = set(), []
    for namespace in wanted:
        if namespace not in seen:
            seen.add(namespace)
            ordered.append(namespace)
    return ordered


def missing_access(required_access, reviews):
    """The required entries the reviews do not grant, each with the reason.

    reviews: {namespace: review status ({resourceRules, incomplete, evaluationError}) or None when the review
    itself could not be made}.
    """
    missing = []
    for entry in required_access or []:
        review = reviews.get(review_namespace(entry))
        # group always ("" is the core group), so a message names verb, resource, group and namespace
        want = dict((k, entry.get(k) or "") for k in ("verb", "resource", "group", "namespace", "name", "source")
                    if k in ("verb", "resource", "group") or entry.get(k))
        if review is None:
            missing.append(dict(want, reason="the permissions could not be reviewed"))
        elif not rules_allow(review.get("resourceRules"), entry["verb"], entry["resource"], entry.get("group") or "",
                             entry.get("name")):
            reason = "not granted"
            if review.get("incomplete"):
                reason += " by the rules the API server could list (the review is incomplete: %s)" % (
                    review.get("evaluationError") or "another authorizer decides too")
            missing.append(dict(want, reason=reason))
    return missing


def missing_access_from_reviews(required_access, access):
    """missing_access answered from earlier reviews (mesh_info's RV access), or None when a namespace the
    required access needs was not reviewed, or its review failed."""
    reviews = {}
    for entry in access or []:
        if entry.get("incomplete") is None:  # the review itself failed
            continue
        reviews[entry.get("namespace") or CLUSTER_REVIEW_NAMESPACE] = {
            "resourceRules": entry.get("resource_rules") or [], "incomplete": entry.get("incomplete"),
            "evaluationError": entry.get("evaluation_error")}
    if any(namespace not in reviews for namespace in namespaces_to_review([], required_access)):
        return None
    return missing_access(required_access, reviews)


# ---- CRDs ---------------------------------------------------------------------------------------------


def is_istio_group(group):
    return group == "istio.io" or (group or "").endswith(".istio.io")


def crd_summary(crd):
    spec = crd.get("spec") or {}
    versions = spec.get("versions") or []
    return {"name": _meta(crd).get("name"), "group": spec.get("group"),
            "kind": (spec.get("names") or {}).get("kind"), "plural": (spec.get("names") or {}).get("plural"),
            "scope": spec.get("scope"), "established": _condition_true(crd, "Established"),
            "served_versions": [v.get("name") for v in versions if v.get("served")],
            "storage_version": next((v.get("name") for v in versions if v.get("storage")), None)}


def served_api_version(crds, crd_name, preferred="v1"):
    """apiVersion to read a CRD's kind with: the preferred version when served, else the storage version;
    None when the CRD is absent or not Established."""
    crd = next((c for c in crds if c["name"] == crd_name), None)
    if crd is None or not crd["established"] or not crd["served_versions"]:
        return None
    version = preferred if preferred in crd["served_versions"] else (
        crd["storage_version"] if crd["storage_version"] in crd["served_versions"] else crd["served_versions"][0])
    return "%s/%s" % (crd["group"], version)


# ---- control plane, tags, webhooks --------------------------------------------------------------------


def deployment_revision(deployment):
    """The control-plane revision a Deployment belongs to: istio.io/rev on the object, else on its pod template,
    else "default"."""
    template_labels = ((((deployment.get("spec") or {}).get("template") or {}).get("metadata") or {})
                       .get("labels") or {})
    return _labels(deployment).get(REV_LABEL) or template_labels.get(REV_LABEL) or "default"


def deployment_component(deployment):
    """istiod, or the gateway kind (ingressgateway, egressgateway, or the Deployment's app label)."""
    labels = _labels(deployment)
    if labels.get("app") == "istiod" or labels.get("istio") == "pilot":
        return "istiod"
    return labels.get("istio") or labels.get("app") or _meta(deployment).get("name")


def deployment_summary(deployment):
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return {"name": _meta(deployment).get("name"), "namespace": _meta(deployment).get("namespace"),
            "revision": deployment_revision(deployment), "component": deployment_component(deployment),
            "images": [c.get("image") for c in containers],
            "available": _condition_true(deployment, "Available"),
            "replicas": spec.get("replicas", 1), "ready_replicas": status.get("readyReplicas") or 0,
            "available_replicas": status.get("availableReplicas") or 0,
            "updated_replicas": status.get("updatedReplicas") or 0}


def tag_map(mutating_configs):
    """{tag: revision} from the MutatingWebhookConfigurations labelled istio.io/tag, and the problems found
    (a tag whose configurations point at different revisions, a tag without istio.io/rev)."""
    found, problems = {}, []
    for config in mutating_configs:
        labels = _labels(config)
        tag = labels.get(TAG_LABEL)
        if not tag:
            continue
        revision = labels.get(REV_LABEL)
        if not revision:
            problems.append("tag %s (%s) names no revision (label %s)" % (tag, _meta(config).get("name"), REV_LABEL))
            continue
        found.setdefault(tag, set()).add(revision)
    tags = {}
    for tag, revisions in sorted(found.items()):
        if len(revisions) > 1:
            problems.append("tag %s points at several revisions: %s" % (tag, ", ".join(sorted(revisions))))
        tags[tag] = sorted(revisions)[0]
    return tags, problems


def is_istio_webhook(config):
    labels = _labels(config)
    return (REV_LABEL in labels or TAG_LABEL in labels or labels.get("app") in ("sidecar-injector", "istiod")
            or (_meta(config).get("name") or "").startswith("istio"))


def webhook_entry(hook):
    client = hook.get("clientConfig") or {}
    service = client.get("service")
    return {"name": hook.get("name"), "ca_bundle": bool(client.get("caBundle")), "url": client.get("url"),
            "service": ({"namespace": service.get("namespace"), "name": service.get("name"),
                         "path": service.get("path"), "port": service.get("port", 443)} if service else None),
            "failure_policy": hook.get("failurePolicy")}


def webhook_problems(entry):
    """What keeps a webhook from working: no caBundle (istiod has not patched it yet), nowhere to call."""
    problems = []
    if not entry["ca_bundle"]:
        problems.append("no caBundle")
    if not entry["url"] and not entry["service"]:
        problems.append("neither url nor service")
    return problems


def webhook_configuration_summary(config, kind):
    labels = _labels(config)
    hooks = [webhook_entry(h) for h in config.get("webhooks") or []]
    problems = ["%s: %s" % (h["name"], p) for h in hooks for p in webhook_problems(h)]
    if not hooks:
        problems.append("no webhooks")
    return {"kind": kind, "name": _meta(config).get("name"), "revision": labels.get(REV_LABEL),
            "tag": labels.get(TAG_LABEL), "webhooks": hooks, "healthy": not problems, "problems": problems}


def revisions_summary(deployments, tags, webhooks):
    """Per revision: its istiod and gateway Deployments, whether istiod is Available, its tags, and whether
    every webhook configuration of the revision (tags included) is healthy (None when webhooks were not read)."""
    names = set(d["revision"] for d in deployments) | set(tags.values())
    names |= set(w["revision"] for w in webhooks or [] if w["revision"])
    rows = []
    for revision in sorted(names):
        own = [d for d in deployments if d["revision"] == revision]
        istiods = [d for d in own if d["component"] == "istiod"]
        configs = [w for w in webhooks or [] if w["revision"] == revision]
        rows.append({"revision": revision, "istiod": [d["name"] for d in istiods],
                     "istiod_available": bool(istiods) and all(d["available"] for d in istiods),
                     "gateways": [d["name"] for d in own if d["component"] != "istiod"],
                     "tags": sorted(t for t, r in tags.items() if r == revision),
                     "webhooks_healthy": (all(w["healthy"] for w in configs) and bool(configs))
                     if webhooks is not None else None})
    return rows


# ---- namespaces, workloads, pods ---------------------------------------------------------------------


def namespace_injection(labels, tags=None):
    """The injection a namespace's labels ask for, the way Istio's webhooks read them.

    state: enabled (istio-injection=enabled: the default revision), revision (istio.io/rev names a revision or
    tag), disabled (istio-injection=disabled), none (no label) or invalid (istio-injection with another value,
    which no webhook matches). revision: the label value asked for; control_plane_revision: that value resolved
    through the revision tags (the "default" tag for istio-injection=enabled).
    """
    tags = tags or {}
    value, rev = labels.get(INJECTION_LABEL), labels.get(REV_LABEL)
    warnings = []
    if value == "enabled":
        state, revision = "enabled", "default"
        if rev:
            warnings.append("both %s=enabled and %s=%s: %s wins (IST0123)" % (INJECTION_LABEL, REV_LABEL, rev,
                                                                              INJECTION_LABEL))
    elif value == "disabled":
        state, revision = "disabled", None
        if rev:
            warnings.append("%s=disabled overrides %s=%s: no injection" % (INJECTION_LABEL, REV_LABEL, rev))
    elif value is not None:
        state, revision = "invalid", None
        warnings.append("%s=%s is neither enabled nor disabled: no webhook injects here" % (INJECTION_LABEL, value))
    elif rev:
        state, revision = "revision", rev
    else:
        state, revision = "none", None
    return {"state": state, "revision": revision,
            "control_plane_revision": tags.get(revision, revision) if revision else None, "warnings": warnings}


def namespace_summary(namespace, tags=None):
    labels = _labels(namespace)
    picked = dict((k, labels[k]) for k in (INJECTION_LABEL, REV_LABEL) if k in labels)
    return dict({"name": _meta(namespace).get("name"), "labels": labels, "injection_labels": picked,
                 "phase": (namespace.get("status") or {}).get("phase")}, **namespace_injection(labels, tags))


def workload_summary(workload):
    spec, status = workload.get("spec") or {}, workload.get("status") or {}
    template = spec.get("template") or {}
    if workload.get("kind") == "DaemonSet":
        replicas, ready = status.get("desiredNumberScheduled") or 0, status.get("numberReady") or 0
        updated, available = status.get("updatedNumberScheduled") or 0, status.get("numberAvailable") or 0
    else:
        replicas, ready = spec.get("replicas", 1), status.get("readyReplicas") or 0
        updated, available = status.get("updatedReplicas") or 0, status.get("availableReplicas") or 0
    return {"kind": workload.get("kind"), "namespace": _meta(workload).get("namespace"),
            "name": _meta(workload).get("name"), "uid": _meta(workload).get("uid"),
            "template_labels": (template.get("metadata") or {}).get("labels") or {},
            "inject": template_opt_out(workload), "host_network": host_network(workload),
            "ports": sorted(set(int(p["containerPort"]) for c in (template.get("spec") or {}).get("containers") or []
                                for p in c.get("ports") or [] if p.get("containerPort"))),
            "replicas": replicas, "ready_replicas": ready, "updated_replicas": updated,
            "available_replicas": available}


def pod_summary(pod):
    meta, status = _meta(pod), pod.get("status") or {}
    owner = next(iter(meta.get("ownerReferences") or []), {})
    inject = (meta.get("labels") or {}).get(INJECT_KEY, (meta.get("annotations") or {}).get(INJECT_KEY))
    return {"namespace": meta.get("namespace"), "name": meta.get("name"), "labels": meta.get("labels") or {},
            "owner_kind": owner.get("kind"), "owner_name": owner.get("name"), "phase": status.get("phase"),
            "ready": _condition_true(pod, "Ready"), "sidecar": pod_has_sidecar(pod),
            "revision": pod_revision(pod) if pod_has_sidecar(pod) else None,
            "inject": None if inject is None else str(inject).lower(),
            "host_network": bool((pod.get("spec") or {}).get("hostNetwork")),
            "terminating": bool(meta.get("deletionTimestamp"))}


def batch_summary(obj):
    """A Job or CronJob with its pod template's injection choice (a CronJob's through its jobTemplate)."""
    spec = obj.get("spec") or {}
    if obj.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return {"kind": obj.get("kind"), "namespace": _meta(obj).get("namespace"), "name": _meta(obj).get("name"),
            "inject": template_opt_out({"spec": spec})}


def read_scope(namespaces, selected):
    """The namespaces whose workloads, pods and batch objects to read: the named ones and those the selector
    matched (None when there is no selector), once each, sorted; a selector matching nothing adds none."""
    if selected is None:
        return list(namespaces)
    return sorted(set(namespaces) | set(selected))


def mesh_config(configmaps, name="istio"):
    """The mesh config (the "mesh" key of the ConfigMap istiod reads), with rootNamespace and trustDomain
    defaulted as istiod does; problems when it does not parse."""
    import yaml

    found = next((c for c in configmaps or [] if _meta(c).get("name") == name), None)
    text = ((found or {}).get("data") or {}).get("mesh") or ""
    try:
        config = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        return {"found": found is not None, "config": {}, "root_namespace": "istio-system",
                "trust_domain": "cluster.local", "problems": ["ConfigMap %s: mesh does not parse: %s" % (name, exc)]}
    if not isinstance(config, dict):
        config = {}
    return {"found": found is not None, "config": config,
            "root_namespace": config.get("rootNamespace") or "istio-system",
            "trust_domain": config.get("trustDomain") or "cluster.local", "problems": []}


def without_managed_fields(obj):
    obj = plain_copy(obj)
    _meta(obj).pop("managedFields", None)
    return obj


# ---- the read ----------------------------------------------------------------------------------------


def validate(gather, required_access):
    unknown = [s for s in gather or [] if s not in SUBSETS]
    if unknown:
        raise MeshInfoError("gather has unknown subsets %s: choose from %s" % (unknown, ", ".join(SUBSETS)))
    for index, entry in enumerate(required_access or []):
        if not entry.get("verb") or not entry.get("resource"):
            raise MeshInfoError("required_access[%d] needs verb and resource, e.g. {verb: list, resource: pods}"
                                % index)


class MeshReader(object):
    """Reads each kind once (cached) through an api with version(), list(api_version, kind, namespace,
    label_selector) (None when the kind is not served) and rules_review(namespace); counts the calls and turns
    failed reads into error entries."""

    def __init__(self, api):
        self.api = api
        self.api_calls = 0
        self.errors = []
        self._lists = {}

    def _error(self, subset, verb, kind, namespace, exc, api_version=None):
        known = KINDS.get(kind) or (api_version, kind.lower() + "s")
        api_version, resource = (api_version or known[0]), known[1]
        group = _group(api_version)
        what = "%s %s%s" % (verb, resource, "." + group if group else "")
        where = "in namespace %s" % namespace if namespace else "cluster-wide"
        entry = {"subset": subset, "kind": kind, "verb": verb, "resource": resource, "group": group,
                 "namespace": namespace, "status": exc.status, "message": str(exc)}
        if exc.status in FORBIDDEN:
            entry["missing_permission"] = "%s %s" % (what, where)
            entry["message"] = "cannot %s %s: %s" % (what, where, exc)
        self.errors.append(entry)

    def list(self, subset, kind, namespace=None, label_selector=None, api_version=None):
        """Items of a kind ([] when the kind is not served), or None when the read failed (an error entry)."""
        api_version = api_version or KINDS[kind][0]
        key = (api_version, kind, namespace, label_selector)
        if key not in self._lists:
            self.api_calls += 1
            try:
                items = self.api.list(api_version, kind, namespace, label_selector)
                self._lists[key] = [] if items is None else items
            except ApiCallError as exc:
                if exc.status == 404:  # the kind is no longer served (its CRD was just deleted): no items
                    self._lists[key] = []
                else:
                    self._error(subset, "list", kind, namespace, exc, api_version)
                    self._lists[key] = None
        return self._lists[key]

    def list_in(self, subset, kind, namespaces):
        """Items of a namespaced kind in the namespaces (all when empty): one list per namespace, or one
        cluster-wide list when more than CLUSTER_WIDE_ABOVE namespaces are named (per namespace if forbidden)."""
        if not namespaces:
            return self.list(subset, kind)
        if len(namespaces) > CLUSTER_WIDE_ABOVE:
            wanted = set(namespaces)
            key = ("cluster-wide", kind)
            if key not in self._lists:
                self.api_calls += 1
                try:
                    self._lists[key] = self.api.list(KINDS[kind][0], kind, None, None) or []
                except ApiCallError as exc:
                    if exc.status not in FORBIDDEN:
                        self._error(subset, "list", kind, None, exc)
                        return None
                    self._lists[key] = False  # forbidden cluster-wide: read per namespace
            if self._lists[key] is not False:
                return [o for o in self._lists[key] if _meta(o).get("namespace") in wanted]
        found, failed = [], False
        for namespace in namespaces:
            items = self.list(subset, kind, namespace)
            if items is None:
                failed = True
            else:
                found += items
        return None if failed and not found else found

    def version(self):
        self.api_calls += 1
        try:
            return self.api.version()
        except ApiCallError as exc:
            self.errors.append({"subset": "version", "kind": None, "verb": "get", "resource": "/version",
                                "group": "", "namespace": None, "status": exc.status, "message": str(exc)})
            return None

    def rules_review(self, namespace):
        self.api_calls += 1
        try:
            return self.api.rules_review(namespace)
        except ApiCallError as exc:
            self._error("access", "create", "SelfSubjectRulesReview", namespace, exc)
            return None


def gather_mesh(api, gather=DEFAULT_SUBSETS, namespaces=None, istio_namespace="istio-system",
                access_namespaces=None, required_access=None, namespace_selector=None, verify_install=None,
                teardown=None, lists=None):
    """Everything the roles read before they decide, in one pass: one list per kind (per namespace in scope).

    lists: further reads, each {api_version, kind, namespace (none: all namespaces), label_selectors}; returned in
    the same order as {api_version, kind, namespace, resources} (objects without managedFields)."""
    validate(gather, required_access)
    gather = set(gather or [])
    namespaces = list(namespaces or [])
    reader = MeshReader(api)
    result = {"gathered": [s for s in SUBSETS if s in gather]}
    selected = None
    if (namespace_selector or "").strip():
        items = reader.list("namespaces", "Namespace", label_selector=namespace_selector.strip())
        selected = sorted(_meta(n).get("name") for n in items or [])
        result["selected_namespaces"] = selected
    scope = read_scope(namespaces, selected)
    result["scope"] = scope
    # A selector that matched nothing (and no names) leaves nothing to read, not the whole cluster.
    nothing_in_scope = selected is not None and not scope

    version = reader.version()
    result["version"] = ({"major": version.get("major"), "minor": version.get("minor"),
                          "gitVersion": version.get("gitVersion")} if version else None)

    reviews = {}
    for namespace in namespaces_to_review(access_namespaces, required_access):
        status = reader.rules_review(namespace)
        reviews[namespace] = status
    result["access"] = [{"namespace": None if ns == CLUSTER_REVIEW_NAMESPACE else ns,
                         "resource_rules": (st or {}).get("resourceRules") or [],
                         "non_resource_rules": (st or {}).get("nonResourceRules") or [],
                         "incomplete": bool((st or {}).get("incomplete")) if st else None,
                         "evaluation_error": (st or {}).get("evaluationError")} for ns, st in reviews.items()]
    result["missing_access"] = missing_access(required_access, reviews)

    crds = None
    if gather & set(["crds", "policies"]):
        items = reader.list("crds" if "crds" in gather else "policies", "CustomResourceDefinition")
        if items is not None:
            crds = sorted((crd_summary(c) for c in items if is_istio_group((c.get("spec") or {}).get("group"))),
                          key=lambda c: c["name"])
    if "crds" in gather:
        result["crds"] = crds or []

    tags, tag_problems, webhooks = {}, [], None
    if gather & set(["control_plane", "webhooks"]):
        subset = "webhooks" if "webhooks" in gather else "control_plane"
        mutating = reader.list(subset, "MutatingWebhookConfiguration")
        tags, tag_problems = tag_map(mutating or [])
        if "webhooks" in gather:
            validating = reader.list(subset, "ValidatingWebhookConfiguration")
            webhooks = sorted([webhook_configuration_summary(c, "MutatingWebhookConfiguration")
                               for c in mutating or [] if is_istio_webhook(c)]
                              + [webhook_configuration_summary(c, "ValidatingWebhookConfiguration")
                                 for c in validating or [] if is_istio_webhook(c)],
                              key=lambda w: (w["kind"], w["name"]))
            result["webhooks"] = webhooks
        result["tags"], result["tag_problems"] = tags, tag_problems

    if "control_plane" in gather:
        items = reader.list("control_plane", "Deployment", istio_namespace, REV_LABEL)
        deployments = sorted((deployment_summary(d) for d in items or []),
                             key=lambda d: (d["revision"], d["name"]))
        result["control_plane"] = deployments
        result["revisions"] = revisions_summary(deployments, tags, webhooks)

    if "policies" in gather:
        result["absent_kinds"] = []
        for kind, key in (("PeerAuthentication", "peer_authentications"), ("DestinationRule", "destination_rules")):
            api_version = served_api_version(crds, POLICY_CRDS[kind]) if crds is not None else KINDS[kind][0]
            items = reader.list("policies", kind, api_version=api_version) if api_version else []
            if api_version is None:
                result["absent_kinds"].append(kind)
            result[key] = sorted((without_managed_fields(o) for o in items or []),
                                 key=lambda o: (_meta(o).get("namespace"), _meta(o).get("name")))

    if "namespaces" in gather:
        items = reader.list("namespaces", "Namespace")
        result["namespaces"] = sorted((namespace_summary(n, tags) for n in items or []), key=lambda n: n["name"])

    if "workloads" in gather:
        found = []
        for kind in WORKLOAD_KINDS if not nothing_in_scope else ():
            found += [dict(o, kind=kind) for o in reader.list_in("workloads", kind, scope) or []]
        result["workloads"] = sorted((workload_summary(w) for w in found),
                                     key=lambda w: (w["namespace"], w["kind"], w["name"]))

    if "pods" in gather:
        pods = reader.list_in("pods", "Pod", scope) if not nothing_in_scope else []
        result["pods"] = sorted((pod_summary(p) for p in pods or []), key=lambda p: (p["namespace"], p["name"]))

    if "batch" in gather:
        found = []
        for kind in BATCH_KINDS if not nothing_in_scope else ():
            found += [dict(o, kind=kind) for o in reader.list_in("batch", kind, scope) or []]
        found.sort(key=lambda o: (_meta(o).get("namespace"), o["kind"], _meta(o).get("name")))
        result["batch"] = [batch_summary(o) for o in found]
        result["batch_without_opt_out"] = batch_without_opt_out(found)

    if "mtls_gate" in gather:
        # what the mTLS safety gate weighs, trimmed to the fields it reads (mtls.gate_object)
        result["mtls_gate"] = {}
        for kind, key in (("Pod", "pods"), ("Service", "services"), ("StatefulSet", "statefulsets")):
            items = reader.list_in("mtls_gate", kind, scope) if not nothing_in_scope else []
            result["mtls_gate"][key] = sorted((gate_object(o, kind) for o in items or []),
                                              key=lambda o: (o["metadata"].get("namespace"), o["metadata"].get("name")))

    if "mesh_config" in gather:
        result["mesh_config"] = mesh_config(reader.list("mesh_config", "ConfigMap", istio_namespace))

    if teardown:
        result["teardown"] = gather_teardown(reader, teardown, istio_namespace)

    if lists:
        result["lists"] = [dict(entry, resources=sorted(
            (without_managed_fields(o) for o in _typed(reader.list(
                "lists", entry["kind"], entry.get("namespace") or None, ",".join(entry.get("label_selectors") or [])
                or None, api_version=entry["api_version"]), entry)),
            key=lambda o: (_meta(o).get("namespace") or "", _meta(o).get("name"))))
            for entry in ({"api_version": e["api_version"], "kind": e["kind"], "namespace": e.get("namespace"),
                           "label_selectors": list(e.get("label_selectors") or [])} for e in lists)]

    if verify_install:
        wanted = verify_install.get("deployments") or []
        deployments = []
        for namespace in sorted(set([istio_namespace] + [d.get("namespace") or istio_namespace for d in wanted])):
            deployments += reader.list("verify_install", "Deployment", namespace) or []
        result["install_verification"] = verify_revision(
            verify_install, deployments, reader.list("verify_install", "CustomResourceDefinition") or [],
            reader.list("verify_install", "MutatingWebhookConfiguration") or [],
            reader.list("verify_install", "ValidatingWebhookConfiguration") or [], istio_namespace)

    result["errors"] = reader.errors
    result["api_calls"] = reader.api_calls
    return result


PART_OF_ISTIO = "app.kubernetes.io/part-of=istio"
ADDON_LABEL = "istio-runbooks.io/addon"
GATEWAY_LABEL = "istio-runbooks.io/gateway"
ROOT_CERT_SELECTOR = "istio.io/config=true"
CRD_KIND = {"api_version": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}


def _typed(items, kind):
    """List items with their kind and apiVersion (list responses may leave them out)."""
    return [dict(o, kind=kind["kind"], apiVersion=kind["api_version"]) for o in items or []]


def gather_teardown(reader, options, istio_namespace="istio-system"):
    """The teardown's inventory and plan: one list per kind, cluster-wide, by label.

    options: {kinds: [{api_version, kind}] in deletion order, addon_kinds (only the addons have them, listed by
    the addon label after kinds), gateway_kinds and remove_gateways (likewise by the gateway label, purge only),
    scope (purge|revision), revision, force, remove_addons, remove_crds,
    remove_injection_labels, remove_namespace}.
    """
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import object_refs, revision_tags
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import pods_on_revision
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.teardown import plan

    kinds = list(options.get("kinds") or [])
    addon_kinds = list(options.get("addon_kinds") or []) if options.get("remove_addons") else []
    scope, revision = options.get("scope") or "purge", options.get("revision") or ""
    purge = scope == "purge"
    listed = []
    for kind in kinds + ([CRD_KIND] if options.get("remove_crds") and purge else []):
        listed += _typed(reader.list("teardown", kind["kind"], label_selector=PART_OF_ISTIO,
                                     api_version=kind["api_version"]), kind)
    addons = []
    for kind in (kinds + addon_kinds) if options.get("remove_addons") else []:
        addons += _typed(reader.list("teardown", kind["kind"], label_selector=ADDON_LABEL,
                                     api_version=kind["api_version"]), kind)
    # the mesh_gateways role's gateways and listeners go with a purge only, never with a revision
    gateway_kinds = list(options.get("gateway_kinds") or []) if options.get("remove_gateways") and purge else []
    for kind in (kinds + gateway_kinds) if options.get("remove_gateways") and purge else []:
        addons += _typed(reader.list("teardown", kind["kind"], label_selector=GATEWAY_LABEL,
                                     api_version=kind["api_version"]), kind)
    certs = _typed(reader.list("teardown", "ConfigMap", label_selector=ROOT_CERT_SELECTOR, api_version="v1"),
                   {"api_version": "v1", "kind": "ConfigMap"}) if purge else []
    # a namespace being deleted has nothing left to relabel or restart
    namespaces = [n for n in reader.list("teardown", "Namespace") or [] if not _meta(n).get("deletionTimestamp")]
    result = plan(listed, addons, certs, namespaces, [k["kind"] for k in kinds + addon_kinds + gateway_kinds] + [CRD_KIND["kind"]], scope,
                  revision, istio_namespace, bool(options.get("force")), bool(options.get("remove_injection_labels")))
    result["delete_namespace"] = bool(purge and options.get("remove_namespace")
                                      and any(_meta(n).get("name") == istio_namespace for n in namespaces))
    result["revision_users"], result["revision_tags"] = [], []
    if not purge:
        pods = _typed(reader.list("teardown", "Pod", label_selector="security.istio.io/tlsMode"),
                      {"api_version": "v1", "kind": "Pod"})
        result["revision_users"] = object_refs(pods_on_revision(
            [p for p in pods if _meta(p).get("namespace") != istio_namespace], revision))
        result["revision_tags"] = revision_tags(listed, revision)
    return result


class DynamicMeshApi(object):
    """The calls gather_mesh makes, over the kubernetes dynamic client; failures raise ApiCallError."""

    def __init__(self, dynamic_client):
        self.client = dynamic_client
        self._resources = {}

    def _resource(self, api_version, kind):
        key = (api_version, kind)
        if key not in self._resources:
            from kubernetes.dynamic.exceptions import ResourceNotFoundError

            try:
                self._resources[key] = self.client.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                self._resources[key] = None
        return self._resources[key]

    @staticmethod
    def _call(function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except ApiCallError:
            raise
        except Exception as exc:  # pylint: disable=broad-except
            raise KubeApi.error(exc)

    def version(self):
        from kubernetes.client import VersionApi

        info = self._call(VersionApi(self.client.client).get_code)
        return {"major": info.major, "minor": info.minor, "gitVersion": info.git_version}

    def list(self, api_version, kind, namespace=None, label_selector=None):
        resource = self._call(self._resource, api_version, kind)
        if resource is None:
            return None
        kwargs = dict((k, v) for k, v in (("namespace", namespace), ("label_selector", label_selector)) if v)
        return self._call(lambda: list_items(resource, **kwargs))

    def rules_review(self, namespace):
        api_version = KINDS["SelfSubjectRulesReview"][0]
        resource = self._call(self._resource, api_version, "SelfSubjectRulesReview")
        body = {"apiVersion": api_version, "kind": "SelfSubjectRulesReview", "spec": {"namespace": namespace}}
        return self._call(lambda: resource.create(body=body).to_dict().get("status") or {})
