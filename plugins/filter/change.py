# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for change tickets (logic in module_utils/change.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import change


def change_ticket_problems(change_id, change_url="", pattern=change.DEFAULT_PATTERN, required=False, runbook="",
                           prefix=change.DEFAULT_PREFIX):
    """Messages naming change_id or change_url and the fix; empty when the ticket is fine."""
    return change.ticket_problems(change_id, change_url, pattern, required, runbook, prefix)


def change_ticket_annotations(change_id, change_url, runbook, changed_at, prefix=change.DEFAULT_PREFIX):
    """The annotations every object the run writes carries."""
    return change.ticket_annotations(change_id, change_url, runbook, changed_at, prefix)


def change_annotated(definitions, annotations):
    """The objects with the ticket annotations added (for writes that do not go through apply_objects)."""
    return change.annotated(definitions, annotations or {})


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            change_ticket_problems,
            change_ticket_annotations,
            change_annotated,
        ))
