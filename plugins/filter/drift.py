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


def mesh_drift(mesh, checks, desired, addon_deployments=None):
    """Every drift between the declared state and a mesh_info result, each naming its variable, with a summary."""
    return drift.mesh_drift(checks, desired, mesh, addon_deployments)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            drift_input_errors,
            mesh_drift,
        ))
