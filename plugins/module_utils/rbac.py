# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runbooks' RBAC rules files (rbac/<name>.yml): the access they grant, as the pre-flight checks it.

A rules file holds a ClusterRole (granted cluster-wide) and optionally a Role (granted in the control-plane
namespace). The same objects are what playbooks/rbac.yml applies and what cluster_preflight checks, so the
roles an administrator grants and the permissions a runbook asks for cannot drift apart.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

ROLE_KINDS = ("ClusterRole", "Role")


class RbacRulesError(Exception):
    """A rules file that is not a ClusterRole or Role with rules."""


def role_objects(documents, source=""):
    """The ClusterRoles and Roles of a rules file's YAML documents (None entries skipped), checked."""
    roles = [d for d in documents or [] if d]
    if not roles:
        raise RbacRulesError("%s holds no ClusterRole or Role" % (source or "the rules file"))
    for obj in roles:
        if obj.get("kind") not in ROLE_KINDS or not isinstance(obj.get("rules"), list):
            raise RbacRulesError("%s: each document must be a ClusterRole or Role with rules, got %s %s" % (
                source or "the rules file", obj.get("kind"), (obj.get("metadata") or {}).get("name")))
    return roles


def required_access(documents, namespace="istio-system", source=""):
    """Every (verb, resource, group[, namespace][, name]) a rules file grants, as required_access entries.

    ClusterRole rules are cluster-wide entries; Role rules are entries in namespace (the control-plane
    namespace the runbook uses, whatever the file's own metadata.namespace says). Each entry carries source,
    the file to apply when it is missing. Non-resource URLs are not reviewed and are skipped.
    """
    access = []
    for obj in role_objects(documents, source):
        for rule in obj["rules"]:
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    for verb in rule.get("verbs") or []:
                        for name in rule.get("resourceNames") or [None]:
                            entry = {"verb": verb, "resource": resource, "group": group}
                            if obj["kind"] == "Role":
                                entry["namespace"] = namespace
                            if name:
                                entry["name"] = name
                            if source:
                                entry["source"] = source
                            if entry not in access:
                                access.append(entry)
    return access


def rbac_objects(documents, namespace, service_account, service_account_namespace, labels=None):
    """The objects that grant a rules file to a ServiceAccount: its ClusterRole and Role (the Role in namespace)
    and one ClusterRoleBinding or RoleBinding each, named like the role."""
    subject = {"kind": "ServiceAccount", "name": service_account, "namespace": service_account_namespace}
    objects = []
    for obj in role_objects(documents):
        name = obj["metadata"]["name"]
        metadata = {"name": name, "labels": dict(obj["metadata"].get("labels") or {}, **(labels or {}))}
        if obj["kind"] == "Role":
            metadata["namespace"] = namespace
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": obj["kind"], "metadata": metadata,
                        "rules": obj["rules"]})
        binding = dict(metadata, name=name)
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": obj["kind"] + "Binding",
                        "metadata": binding,
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": obj["kind"], "name": name},
                        "subjects": [subject]})
    return objects
