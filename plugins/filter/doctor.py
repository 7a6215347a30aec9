# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the mesh_doctor role (logic in module_utils/doctor.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import doctor


def doctor_input_errors(namespaces, existing_namespaces, max_not_synced_percent, selector, analyze_fail_level, cert_warn_days):
    """Every bad input at once, each naming the variable and the fix."""
    return doctor.input_errors(namespaces, existing_namespaces, max_not_synced_percent, selector, analyze_fail_level, cert_warn_days)


def doctor_pre_checks(mesh, precheck_run, settings):
    """Before install: API and version, permissions, conflicting CRDs or webhooks, istioctl x precheck."""
    return doctor.pre_checks(mesh, precheck_run, settings)


def doctor_post_checks(mesh, proxies, analyze_run, certificates, settings):
    """After install: every post-install check with its status and hint."""
    return doctor.post_checks(mesh, proxies, analyze_run, certificates, settings)


def doctor_report(checks):
    """The doctor report: every check with its status and hint, counts per status and the verdict."""
    return doctor.report(checks)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            doctor_input_errors,
            doctor_pre_checks,
            doctor_post_checks,
            doctor_report,
        ))
