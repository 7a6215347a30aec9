# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift: the desired state the inventory declares against one read of the mesh (mesh_info), each difference
named with the variable that declares it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

CHECKS = ("version", "injection", "mtls", "addons")
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
    return errors


def mesh_drift(checks, desired, mesh, addon_deployments=None):
    """Every drift between desired (per check) and mesh (a mesh_info result), with a summary.

    checks: the checks to run (CHECKS). desired: {version: {version, version_variable, revision,
    revision_variable}, injection: {namespaces, variable, revision, revision_variable}, mtls: {mode, variable,
    namespaces, namespaces_variable}, addons: {enabled, variable}}. addon_deployments: the Deployments labelled
    istio-runbooks.io/addon (for the addons check).
    Returns {drifts: [{check, variable, object, desired, actual, message}], checked, drifted, summary}.
    """
    runners = {"version": lambda: version_drift(desired.get("version") or {}, mesh),
               "injection": lambda: injection_drift(desired.get("injection") or {}, mesh),
               "mtls": lambda: mtls_drift(desired.get("mtls") or {}, mesh),
               "addons": lambda: addons_drift(desired.get("addons") or {}, addon_deployments)}
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
