# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for sidecar injection (logic in module_utils/injection.py and module_utils/rollout.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.injection import (
    batch_without_opt_out,
    invalid_namespace_names,
    namespace_label_patches,
    pod_line,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import pods_on_revision


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            batch_without_opt_out, invalid_namespace_names, namespace_label_patches, pod_line, pods_on_revision))
