# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for backups and restores (logic in module_utils/backup.py and module_utils/manifest.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.backup import (
    istio_kinds,
    kinds_of,
    missing_crd_kinds,
    missing_namespaces,
    namespace_label_differences,
    namespace_label_patches,
    secret_differences,
    secret_names,
    secret_writes,
    secrets_for_backup,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    backup_differences,
    clean_for_backup,
    injection_labels,
    restore_plan,
)


def backup_namespace_label_patches(backup_labels, live_namespaces):
    """Merge patches that make each backed-up namespace's injection labels exactly the backup's."""
    return namespace_label_patches(backup_labels, live_namespaces)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            clean_for_backup, backup_differences, injection_labels, istio_kinds, kinds_of, secrets_for_backup,
            secret_names, secret_writes, secret_differences, backup_namespace_label_patches,
            namespace_label_differences, missing_namespaces, restore_plan, missing_crd_kinds))
