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
