# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift: the desired state the inventory declares against one read of the mesh (mesh_info), each difference
named with the variable that declares it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import gateways as gateways_utils
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import traffic as traffic_utils

# Checks on objects the converging roles render from variables: gateway listeners and routes (mesh_gateways),
# traffic objects (traffic_management) and AuthorizationPolicies (authorization_policy).
OBJECT_CHECKS = ("gateways", "traffic", "authorization")
CHECKS = ("version", "injection", "mtls", "addons") + OBJECT_CHECKS
MODES = ("STRICT", "PERMISSIVE", "DISABLE")
ADDON_LABEL = "istio-runbooks.io/addon"


def _tag(image):
    tail = (image or "").rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else "latest"


def _drift(check, variable, subject, desired, actual, message):
    return {"check": check, "variable": variable, "object": subject, "desired": desired, "actual": actual,
            "message": "%s: %s (declared by %s)" % (subject, message, variable)}


def version_drift(desired, mesh):
    """The declared revision runs, with istiod at the declared version, and the default tag points at it."""
    revision = desired.get("revision") or "default"
    revision_variable = desired.get("revision_variable") or "istio_install_revision"
    istiods = [d for d in mesh.get("control_plane") or [] if d.get("component") == "istiod"
               and (d.get("revision") or "default") == revision]
    if not istiods:
        running = sorted(set(d.get("revision") or "default" for d in mesh.get("control_plane") or []
                             if d.get("component") == "istiod"))
        return [_drift("version", revision_variable, "revision %s" % revision, revision, running,
                       "no istiod of this revision runs (running: %s)" % (", ".join(running) or "none"))]
    found = []
    version = desired.get("version")
    if version:
        actual = sorted(set(_tag(image) for d in istiods for image in d.get("images") or []))
        if actual != [version]:
            found.append(_drift("version", desired.get("version_variable") or "istio_install_version",
                                "istiod %s" % revision, version, actual,
                                "runs %s, declared %s" % (", ".join(actual) or "no image", version)))
    tags = mesh.get("tags") or {}
    if desired.get("revision") and tags.get("default", revision) != revision:
        found.append(_drift("version", revision_variable, "revision tag default", revision, tags.get("default"),
                            "points at %s, declared %s" % (tags.get("default"), revision)))
    return found


def injection_drift(desired, mesh):
    """Every declared namespace exists and is labelled for injection (for the declared revision, when one is)."""
    variable = desired.get("variable") or "site_injection_namespaces"
    revision = desired.get("revision") or ""
    by_name = dict((n.get("name"), n) for n in mesh.get("namespaces") or [])
    found = []
    for name in desired.get("namespaces") or []:
        namespace = by_name.get(name)
        if namespace is None:
            found.append(_drift("injection", variable, "namespace %s" % name, "enabled", None, "does not exist"))
            continue
        labels = namespace.get("injection_labels") or {}
        shown = ", ".join("%s=%s" % item for item in sorted(labels.items())) or "no injection label"
        if namespace.get("state") != "enabled":
            found.append(_drift("injection", variable, "namespace %s" % name, "enabled", labels,
                                "not labelled for injection (%s)" % shown))
        elif revision and namespace.get("revision") != revision:
            found.append(_drift("injection", desired.get("revision_variable") or "sidecar_injection_revision",
                                "namespace %s" % name, revision, labels,
                                "injects revision %s, declared %s" % (namespace.get("revision") or "default", revision)))
    return found


def _policy(policies, namespace, name=None):
    """The namespace-wide PeerAuthentication (no selector) of namespace, or the one called name."""
    for policy in policies or []:
        meta = policy.get("metadata") or {}
        if meta.get("namespace") != namespace:
            continue
        if name is not None and meta.get("name") == name:
            return policy
        if name is None and not (policy.get("spec") or {}).get("selector"):
            return policy
    return None


def _mode(policy):
    return ((policy.get("spec") or {}).get("mtls") or {}).get("mode") or "UNSET"


def mtls_drift(desired, mesh):
    """The mesh-wide PeerAuthentication (root namespace, no selector) and each declared namespace's mode."""
    root = ((mesh.get("mesh_config") or {}).get("root_namespace")) or desired.get("root_namespace") or "istio-system"
    policies = mesh.get("peer_authentications") or []
    wanted = []
    if desired.get("mode"):
        wanted.append((root, desired["mode"], desired.get("variable") or "mesh_drift_mtls_mode", "mesh-wide"))
    for namespace, mode in sorted((desired.get("namespaces") or {}).items()):
        wanted.append((namespace, mode, desired.get("namespaces_variable") or "mesh_drift_mtls_namespaces",
                       "namespace %s" % namespace))
    found = []
    for namespace, mode, variable, scope in wanted:
        policy = _policy(policies, namespace)
        subject = "PeerAuthentication %s (%s)" % (namespace, scope)
        if policy is None:
            found.append(_drift("mtls", variable, subject, mode, None, "none exists, declared %s" % mode))
        elif _mode(policy) != mode:
            found.append(_drift("mtls", variable, "PeerAuthentication %s/%s (%s)" % (
                namespace, policy["metadata"].get("name"), scope), mode, _mode(policy),
                "mode %s, declared %s" % (_mode(policy), mode)))
    return found


def addons_drift(desired, addon_deployments):
    """The addons installed (Deployments labelled istio-runbooks.io/addon) are exactly the declared ones."""
    variable = desired.get("variable") or "observability_addons_enabled"
    wanted = set(desired.get("enabled") or [])
    present = set()
    for deployment in addon_deployments or []:
        value = ((deployment.get("metadata") or {}).get("labels") or {}).get(ADDON_LABEL)
        if value:
            present.add(value)
    found = [_drift("addons", variable, "addon %s" % name, "enabled", "absent", "declared, not installed")
             for name in sorted(wanted - present)]
    found += [_drift("addons", variable, "addon %s" % name, "absent", "installed", "installed, not declared")
              for name in sorted(present - wanted)]
    return found


def _rendered(check, variable, objects):
    return [{"check": check, "variable": variable, "object": obj} for obj in objects]


def declared_objects(checks, desired):
    """The objects the inventory declares, rendered as the converging roles render them, each with the variable
    (and list entry) that declares it: [{check, variable, object}]. desired: validated (see input_errors)."""
    found = []
    checks = checks or []
    gw = desired.get("gateways") or {}
    if "gateways" in checks:
        variable = gw.get("variable") or "mesh_gateways_listeners"
        for index, item in enumerate(gw.get("listeners") or []):
            found += _rendered("gateways", "%s[%d] (%s)" % (variable, index, item.get("name")),
                               gateways_utils.listener_objects([item], gw.get("gateways") or [], gw.get("api") or "istio",
                                                               gw.get("service_type") or ""))
    tm = desired.get("traffic") or {}
    if "traffic" in checks and tm.get("namespace"):
        variable = tm.get("variable") or "traffic_management_services"
        for index, service in enumerate(tm.get("services") or []):
            found += _rendered("traffic", "%s[%d] (%s)" % (variable, index, service.get("name")),
                               traffic_utils.traffic_objects([service], tm["namespace"]))
    if "traffic" in checks and tm.get("gateway_rate_limit"):
        found += _rendered("traffic", tm.get("gateway_rate_limit_variable") or "traffic_management_gateway_rate_limit",
                           traffic_utils.traffic_objects([], tm.get("namespace") or "", None, tm["gateway_rate_limit"]))
    az = desired.get("authorization") or {}
    if "authorization" in checks and az.get("namespace"):
        variable = az.get("variable") or "authorization_policy_rules"
        for index, rule in enumerate(az.get("rules") or []):
            found += _rendered("authorization", "%s[%d] (%s)" % (variable, index, rule.get("name")),
                               traffic_utils.authorization_objects(az["namespace"], False, [rule], bool(az.get("dry_run"))))
        if az.get("deny_by_default"):
            found += _rendered("authorization", az.get("deny_by_default_variable") or "authorization_policy_deny_by_default",
                               traffic_utils.authorization_objects(az["namespace"], True, [], bool(az.get("dry_run"))))
    return found


def object_kinds(declared):
    """The kinds to list (once each, cluster-wide): [{api_version, kind}] in first-declared order."""
    kinds = []
    for entry in declared or []:
        kind = {"api_version": entry["object"]["apiVersion"], "kind": entry["object"]["kind"]}
        if kind not in kinds:
            kinds.append(kind)
    return kinds


_MISSING = object()
# Annotations that record how an object was written, not what it declares.
_BOOKKEEPING_ANNOTATIONS = (traffic_utils.HASH_ANNOTATION,)
# Annotations the roles own: one added by hand is drift too (istio.io/dry-run stops enforcing a policy).
_OWNED_ANNOTATIONS = (traffic_utils.DRY_RUN, traffic_utils.FAULT_EXPIRES)


def _shown(value, limit=120):
    text = "absent" if value is _MISSING else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _plain(value):
    return None if value is _MISSING else value


def _differences(desired, actual, path):
    """Where actual differs from desired: every declared field must hold the declared value; fields the API server
    defaults or other owners add (not declared) are not drift. Lists must match in length and order; lists of
    values (hosts) are compared whole."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return [(path, desired, actual)]
        found = []
        for key in sorted(desired):
            found += _differences(desired[key], actual.get(key, _MISSING), "%s.%s" % (path, key))
        return found
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired) or not any(isinstance(v, dict) for v in desired):
            return [] if desired == actual else [(path, desired, actual)]
        found = []
        for index, (want, have) in enumerate(zip(desired, actual)):
            found += _differences(want, have, "%s[%d]" % (path, index))
        return found
    return [] if desired == actual else [(path, desired, actual)]


def _object_key(obj):
    meta = obj.get("metadata") or {}
    group = obj.get("apiVersion", "").rsplit("/", 1)[0] if "/" in obj.get("apiVersion", "") else ""
    return (group, obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def listed_objects(lists):
    """The objects of one k8s_info list per kind (a registered loop over object_kinds), each with its apiVersion
    and kind, and the kinds the cluster does not serve: (objects, ["<apiVersion> <kind>"])."""
    objects, unserved = [], []
    for result in lists or []:
        kind = result.get("item") or {}
        if result.get("api_found") is False:
            unserved.append("%s %s" % (kind.get("api_version"), kind.get("kind")))
            continue
        objects += [dict(obj, apiVersion=kind.get("api_version"), kind=kind.get("kind"))
                    for obj in result.get("resources") or []]
    return objects, unserved


def object_drift(declared, live, unserved=None):
    """Each declared object that does not exist, or whose declared spec fields and annotations differ from the live
    object's. live: the listed objects of the declared kinds (apiVersion and kind set on each); unserved: the
    kinds the cluster does not serve, as "<apiVersion> <kind>" (their CRD is not installed)."""
    by_key = dict((_object_key(obj), obj) for obj in live or [])
    found = []
    for entry in declared or []:
        want = entry["object"]
        meta = want.get("metadata") or {}
        subject = "%s %s/%s" % (want["kind"], meta.get("namespace"), meta.get("name"))
        have = by_key.get(_object_key(want))
        if have is None:
            kind = "%s %s" % (want.get("apiVersion"), want["kind"])
            why = " (the cluster does not serve %s: is its CRD installed?)" % kind if kind in (unserved or []) else ""
            found.append(_drift(entry["check"], entry["variable"], subject, "present", None, "does not exist" + why))
            continue
        annotations = dict((k, v) for k, v in (meta.get("annotations") or {}).items() if k not in _BOOKKEEPING_ANNOTATIONS)
        live_annotations = (have.get("metadata") or {}).get("annotations") or {}
        differences = _differences(annotations, live_annotations, "metadata.annotations")
        differences += [("metadata.annotations.%s" % key, _MISSING, live_annotations[key]) for key in _OWNED_ANNOTATIONS
                        if key in live_annotations and key not in annotations]
        spec, live_spec = want.get("spec") or {}, have.get("spec") or {}
        if not spec and live_spec:  # an empty spec is declared on purpose (deny-by-default allows nothing)
            differences.append(("spec", spec, live_spec))
        differences += _differences(spec, live_spec, "spec")
        if differences:
            shown = "; ".join("%s is %s, declared %s" % (path, _shown(actual), _shown(wanted))
                              for path, wanted, actual in differences[:3])
            more = " (and %d more)" % (len(differences) - 3) if len(differences) > 3 else ""
            found.append(_drift(entry["check"], entry["variable"], subject,
                                dict((path, _plain(wanted)) for path, wanted, _ in differences),
                                dict((path, _plain(actual)) for path, _, actual in differences), shown + more))
    return found


def _object_input_errors(checks, desired):
    errors = []
    gw = desired.get("gateways") or {}
    if "gateways" in checks and gw.get("listeners"):
        errors += gateways_utils.gateway_problems(gw.get("gateways") or [], gw.get("gateways_variable") or "mesh_gateways_gateways")
        errors += gateways_utils.listener_problems(gw.get("listeners"), gw.get("gateways") or [], gw.get("api"),
                                                   gw.get("variable") or "mesh_gateways_listeners")
    tm = desired.get("traffic") or {}
    if "traffic" in checks and tm.get("services"):
        if not tm.get("namespace"):
            errors.append("traffic_management_services is set without traffic_management_namespace: set the namespace "
                          "of the services, or leave traffic out of mesh_drift_checks")
        errors += traffic_utils.validate_services(tm["services"])
    if "traffic" in checks and tm.get("gateway_rate_limit"):
        errors += traffic_utils.validate_gateway_rate_limit(tm["gateway_rate_limit"])
    az = desired.get("authorization") or {}
    if "authorization" in checks and az.get("rules"):
        if not az.get("namespace"):
            errors.append("authorization_policy_rules is set without authorization_policy_namespace: set the namespace "
                          "the policies protect, or leave authorization out of mesh_drift_checks")
        errors += traffic_utils.validate_authorization(az["rules"])
    return errors


VERSION = re.compile(r"^[0-9]+\.[0-9]+(\.[0-9]+)?([-+][0-9A-Za-z.-]+)?$")


def input_errors(checks, desired, version=""):
    """Bad desired state, each naming the variable and the fix. version: mesh_drift_istio_version as given."""
    errors = []
    if version and not VERSION.match(str(version)):
        errors.append("mesh_drift_istio_version takes an Istio version such as 1.27.3 (got %r), or \"\" for the "
                      "inventory's" % (version,))
    unknown = sorted(set(checks or []) - set(CHECKS))
    if unknown:
        errors.append("mesh_drift_checks names %s: give any of %s" % (", ".join(unknown), ", ".join(CHECKS)))
    mtls = desired.get("mtls") or {}
    if mtls.get("mode") and mtls["mode"] not in MODES:
        errors.append("%s is %s: give one of %s, or \"\" to skip" % (
            mtls.get("variable") or "mesh_drift_mtls_mode", mtls["mode"], ", ".join(MODES)))
    for namespace, mode in sorted((mtls.get("namespaces") or {}).items()):
        if mode not in MODES:
            errors.append("%s[%s] is %s: give one of %s" % (
                mtls.get("namespaces_variable") or "mesh_drift_mtls_namespaces", namespace, mode, ", ".join(MODES)))
    return errors + _object_input_errors(checks or [], desired)


def mesh_drift(checks, desired, mesh, addon_deployments=None, declared=None, live_objects=None, unserved=None):
    """Every drift between desired (per check) and mesh (a mesh_info result), with a summary.

    checks: the checks to run (CHECKS). desired: {version: {version, version_variable, revision,
    revision_variable}, injection: {namespaces, variable, revision, revision_variable}, mtls: {mode, variable,
    namespaces, namespaces_variable}, addons: {enabled, variable}}. addon_deployments: the Deployments labelled
    istio-runbooks.io/addon (for the addons check). declared: declared_objects(checks, desired); live_objects: the
    listed objects of their kinds (object_kinds), each with apiVersion and kind, and unserved the kinds the cluster
    does not serve (see listed_objects; for the gateways, traffic and authorization checks).
    Returns {drifts: [{check, variable, object, desired, actual, message}], checked, drifted, summary}.
    """
    runners = {"version": lambda: version_drift(desired.get("version") or {}, mesh),
               "injection": lambda: injection_drift(desired.get("injection") or {}, mesh),
               "mtls": lambda: mtls_drift(desired.get("mtls") or {}, mesh),
               "addons": lambda: addons_drift(desired.get("addons") or {}, addon_deployments)}
    by_check = {}
    for entry in object_drift(declared, live_objects, unserved):
        by_check.setdefault(entry["check"], []).append(entry)
    for check in OBJECT_CHECKS:
        runners[check] = lambda check=check: by_check.get(check, [])
    checked = [c for c in CHECKS if c in (checks or [])]
    drifts = []
    for check in checked:
        drifts += runners[check]()
    if drifts:
        variables = sorted(set(d["variable"] for d in drifts))
        messages = "; ".join(d["message"] for d in drifts)
        plural = "s" if len(drifts) > 1 else ""
        summary = "%d drift%s from the inventory (%s): %s" % (len(drifts), plural, ", ".join(variables), messages)
    else:
        summary = "No drift: the cluster matches the inventory (%s)" % ", ".join(checked)
    return {"drifts": drifts, "checked": checked, "drifted": bool(drifts), "summary": summary}
