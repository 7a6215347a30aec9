# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over manifests and object lists (logic in module_utils/manifest.py). Each filter's documentation is
in plugins/filter/<name>.yml."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    applied_configuration,
    dump_manifest,
    kind_summary,
    object_ref_dict,
    object_refs,
    objects_in,
    objects_not_in,
    split_manifest,
    strip_generated_fields,
)


def manifest_objects(text, default_namespace=None, validation_failure_policy=None):
    """Objects of a multi-document YAML manifest, empty documents dropped."""
    return split_manifest(text, default_namespace, validation_failure_policy)


def to_manifest(objects):
    """Multi-document YAML of a list of objects, in order."""
    return dump_manifest(objects)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            manifest_objects, to_manifest, strip_generated_fields, kind_summary, objects_in, objects_not_in,
            object_refs, object_ref_dict, applied_configuration))
