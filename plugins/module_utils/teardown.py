# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for the teardown: the permissions its plan needs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

WORKLOAD_RESOURCES = ("deployments", "statefulsets", "daemonsets")


def required_access(kinds, scope="purge", namespace="istio-system", remove_crds=False, remove_namespace=True,
                    remove_labels=True, backup=True, restart_workloads=False):
    """Every write (and the Secret read of the backup) a teardown may make, as SelfSubjectAccessReview items.

    kinds are {api_version, kind, resource, namespaced}: each gets delete, in the control-plane namespace when
    namespaced, except ConfigMaps in a purge (istiod's root-certificate ConfigMaps are in every namespace).
    """
    purge = scope == "purge"
    access = []
    for kind in kinds:
        group = kind["api_version"].split("/")[0] if "/" in kind["api_version"] else ""
        item = {"verb": "delete", "group": group, "resource": kind["resource"]}
        if kind.get("namespaced") and not (purge and kind["kind"] == "ConfigMap"):
            item["namespace"] = namespace
        access.append(item)
    if purge and remove_crds:
        access.append({"verb": "delete", "group": "apiextensions.k8s.io", "resource": "customresourcedefinitions"})
    if purge and remove_namespace:
        access.append({"verb": "delete", "group": "", "resource": "namespaces"})
    if remove_labels:
        access.append({"verb": "patch", "group": "", "resource": "namespaces"})
    if backup:
        access.append({"verb": "list", "group": "", "resource": "secrets", "namespace": namespace})
    if restart_workloads:
        access.extend({"verb": "patch", "group": "apps", "resource": r} for r in WORKLOAD_RESOURCES)
    return access


def plan(listed, addons, root_certs, namespaces, order, scope="purge", revision="", namespace="istio-system",
         force=False, remove_labels=True):
    """What a teardown deletes and unlabels.

    listed: the control-plane objects (labelled app.kubernetes.io/part-of=istio) of every kind in order;
    addons and root_certs: the addon objects and root-certificate ConfigMaps to delete too ([] when kept);
    namespaces: every Namespace (those with injection labels count); order: the kinds in deletion order.
    Returns {objects: references in order, each once; namespaces: [{name, labels}] whose injection labels
    go (in a revision teardown only those on the revision, and only its istio.io/rev label); label_patches:
    the Namespace merge patches that remove them, for one write call}.
    """
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
        injection_labels, object_ref_dict, revision_objects)

    control_plane = list(listed)
    if scope == "revision":
        control_plane = revision_objects(control_plane, revision, namespace, force)
    candidates = control_plane + list(addons) + list(root_certs)
    objects = []
    for kind in order:
        for obj in candidates:
            if obj.get("kind") == kind and obj not in objects:
                objects.append(obj)
    unlabel = []
    for entry in injection_labels(namespaces) if remove_labels else []:
        if scope == "purge" or entry["labels"].get("istio.io/rev", "") == revision:
            unlabel.append({"name": entry["name"],
                            "labels": entry["labels"] if scope == "purge" else {"istio.io/rev": revision}})
    patches = [{"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": n["name"], "labels": dict((k, None) for k in sorted(n["labels"]))}} for n in unlabel]
    return {"objects": [object_ref_dict(o) for o in objects], "namespaces": unlabel, "label_patches": patches}
