# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for teardown plans (logic in module_utils/teardown.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.teardown import required_access


def teardown_required_access(kinds, scope="purge", namespace="istio-system", remove_crds=False, remove_namespace=True,
                             remove_labels=True, backup=True, restart_workloads=False):
    """Every write (and the Secret read of the backup) a teardown may make, as SelfSubjectAccessReview items."""
    return required_access(kinds, scope, namespace, remove_crds, remove_namespace, remove_labels, backup,
                           restart_workloads)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (teardown_required_access,))
