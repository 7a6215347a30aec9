# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over control-plane revisions, tags and gateways (logic in module_utils/manifest.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    default_injector_deactivations,
    gateway_objects,
    gateway_problems,
    istiod_revision_summary,
    revision_tags,
)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            istiod_revision_summary, revision_tags, gateway_objects, gateway_problems, default_injector_deactivations))
