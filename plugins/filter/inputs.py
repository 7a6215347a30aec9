# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the roles' pre-flight input checks (logic in module_utils/inputs.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import inputs


def input_problems(checks):
    """The problems of [variable, kind, value] triples, each naming the variable and the fix."""
    return inputs.problems(checks)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            input_problems,
        ))
