# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istioctl on the controller when the connection is local: istioctl starts without a module process."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.istioctl import run_read_only
from ansible_collections.istio_runbooks.mesh.plugins.modules.istioctl import ARGUMENT_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.plugin_utils.controller_action import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "istio_runbooks.mesh.istioctl"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_local(self, args):
        return run_read_only(args["istioctl"], args["args"], args["timeout"])
