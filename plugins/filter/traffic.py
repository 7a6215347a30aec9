# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for traffic management and authorization (logic in module_utils/traffic.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import traffic


class FilterModule(object):
    def filters(self):
        return {
            "traffic_validate": traffic.validate_services,
            "traffic_validate_gateway_rate_limit": traffic.validate_gateway_rate_limit,
            "traffic_validate_canary": traffic.validate_canary,
            "traffic_objects": traffic.traffic_objects,
            "traffic_canary_weights": traffic.canary_weights,
            "traffic_route_weights": traffic.route_weights,
            "traffic_expired_faults": traffic.expired_faults,
            "traffic_snapshot": traffic.snapshot_document,
            "traffic_snapshot_lists": traffic.snapshot_lists,
            "traffic_revert_plan": traffic.revert_plan,
            "authorization_objects": traffic.authorization_objects,
            "authorization_validate": traffic.validate_authorization,
        }
