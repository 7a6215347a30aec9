# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the runbooks' RBAC rules files (logic in module_utils/rbac.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import rbac
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import missing_access_from_reviews


def _documents(text, source):
    try:
        return list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise AnsibleFilterError("%s is not YAML: %s" % (source, exc))


def rbac_required_access(texts, namespace="istio-system", sources=None):
    """Every permission the rules files grant (their texts, each named in sources), as required_access entries
    that name their file."""
    sources = list(sources or [])
    access = []
    try:
        for index, text in enumerate(texts or []):
            source = sources[index] if index < len(sources) else ""
            for entry in rbac.required_access(_documents(text, source), namespace, source):
                if entry not in access:
                    access.append(entry)
    except rbac.RbacRulesError as exc:
        raise AnsibleFilterError(str(exc))
    return access


def rbac_missing_access(required_access, access):
    """{covered, missing}: whether earlier reviews (mesh_info's access) cover the required_access entries, and
    the entries they do not grant (covered false: a namespace was not reviewed; ask the API server then)."""
    missing = missing_access_from_reviews(required_access, access)
    return {"covered": missing is not None, "missing": missing or []}


def rbac_objects(texts, namespace, service_account, service_account_namespace, labels=None):
    """The ClusterRoles, Roles and their bindings that grant the rules files (their texts) to a ServiceAccount."""
    objects = []
    try:
        for text in texts or []:
            objects.extend(rbac.rbac_objects(_documents(text, "a rules file"), namespace, service_account,
                                             service_account_namespace, labels))
    except rbac.RbacRulesError as exc:
        raise AnsibleFilterError(str(exc))
    return objects


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (rbac_required_access, rbac_missing_access, rbac_objects))
