# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istio_plan on the controller when the connection is local: no module process for the render and the split."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.modules.istio_plan import ARGUMENT_SPEC, plan
from ansible_collections.istio_runbooks.mesh.plugins.plugin_utils.controller_action import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "istio_runbooks.mesh.istio_plan"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_local(self, args):
        planned, error = plan(args)
        return {"failed": True, "msg": error} if error else planned
