# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the mesh_drift role (logic in module_utils/drift.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import drift


def drift_input_errors(checks, desired, version=""):
    """Bad desired state or checks, each naming the variable and the fix."""
    return drift.input_errors(checks, desired, version)


def drift_declared_objects(checks, desired):
    """The gateway, traffic and authorization objects the inventory declares, each with its variable."""
    return drift.declared_objects(checks, desired)


def drift_object_kinds(declared):
    """The kinds of the declared objects, each once: [{api_version, kind}]."""
    return drift.object_kinds(declared)


def mesh_drift(mesh, checks, desired, addon_deployments=None, declared=None, live_lists=None):
    """Every drift between the declared state and a mesh_info result, each naming its variable, with a summary."""
    live_objects, unserved = drift.listed_objects(live_lists)
    return drift.mesh_drift(checks, desired, mesh, addon_deployments, declared, live_objects, unserved)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            drift_declared_objects,
            drift_input_errors,
            drift_object_kinds,
            mesh_drift,
        ))
