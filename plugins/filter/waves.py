# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for multi-cluster waves and the inventory checks (logic in module_utils/waves.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.waves import (
    WAVE_GROUPS, WaveError, inventory_problems, wave_batches, wave_plan)


def mesh_wave_batches(groups, target="mesh_clusters", play_hosts=None, waves=None, batch_size=0):
    """A play's serial batches: one per wave group (canary, wave1, wave2), in that order."""
    try:
        return wave_batches(groups, target or "mesh_clusters", play_hosts, tuple(waves or WAVE_GROUPS),
                            int(batch_size or 0))
    except WaveError as exc:
        raise AnsibleFilterError(str(exc))


def mesh_wave_plan(groups, hosts, waves=None):
    """One line per wave with its hosts, in the order the run takes them."""
    return wave_plan(groups, list(hosts), tuple(waves or WAVE_GROUPS))


def mesh_inventory_problems(hosts, kubeconfigs, contexts):
    """Hosts without a kubeconfig, unreadable kubeconfigs or contexts, and two hosts on the same cluster."""
    return inventory_problems([{"host": h, "kubeconfig": k, "context": c}
                               for h, k, c in zip(hosts, kubeconfigs, contexts)])


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (mesh_wave_batches, mesh_wave_plan, mesh_inventory_problems))
