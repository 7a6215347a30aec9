# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# Apache License 2.0 (see LICENSE)
"""Filters for Istio manifests and control-plane objects (logic in module_utils/manifest.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    dump_manifest,
    istiod_revision_summary,
    kind_summary,
    objects_not_in,
    split_manifest,
    strip_generated_fields,
)


class FilterModule(object):
    def filters(self):
        return {
            "manifest_objects": split_manifest,
            "to_manifest": dump_manifest,
            "kind_summary": kind_summary,
            "istiod_revision_summary": istiod_revision_summary,
            "objects_not_in": objects_not_in,
            "strip_generated_fields": strip_generated_fields,
        }
