# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the mesh_doctor role (logic in module_utils/doctor.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import doctor


class FilterModule(object):
    def filters(self):
        return {
            "doctor_input_errors": doctor.input_errors,
            "doctor_pre_checks": doctor.pre_checks,
            "doctor_post_checks": doctor.post_checks,
            "doctor_report": doctor.report,
        }
