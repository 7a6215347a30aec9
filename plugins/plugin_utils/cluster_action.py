# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action of a module that talks to the cluster: on the controller, the module's run(module) in the task's
worker with a ControllerModule in place of AnsibleModule; elsewhere, the module.

The Kubernetes client is imported with this file, which the controller loads once, before it forks a worker per
task: every worker finds the client loaded. A module process imports it anew (about 0.2 s, on top of about 0.2 s
to start the module)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import json

from ansible.module_utils.common.parameters import _list_no_log_values, remove_values

from ansible_collections.istio_runbooks.mesh.plugins.plugin_utils.controller_action import ControllerAction

try:
    import kubernetes  # noqa: F401  pylint: disable=unused-import

    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client  # noqa: F401
except ImportError:  # no Kubernetes client on the controller: the module runs (and says what is missing)
    get_api_client = None


class ModuleExit(BaseException):
    """exit_json or fail_json: the module's result. Like AnsibleModule's SystemExit, not caught by the module's
    own "except Exception"."""

    def __init__(self, result):
        super(ModuleExit, self).__init__(result.get("msg", ""))
        self.result = result


class ControllerModule(object):
    """What the collection's cluster modules use of AnsibleModule: params (validated, with defaults), check_mode,
    _diff, exit_json and fail_json."""

    def __init__(self, params, check_mode, diff):
        self.params = params
        self.check_mode = check_mode
        self._diff = diff

    def exit_json(self, **result):
        raise ModuleExit(result)

    def fail_json(self, msg, **result):
        result.update(failed=True, msg=msg)
        raise ModuleExit(result)


class ClusterAction(ControllerAction):
    """Subclasses set MODULE and ARGUMENT_SPEC, and define run_module(module) calling the module's run(module)."""

    def run_module(self, module):
        raise NotImplementedError

    def runs_on_controller(self):
        return get_api_client is not None and super(ClusterAction, self).runs_on_controller()

    def run_local(self, args):
        module = ControllerModule(args, bool(self._play_context.check_mode), bool(self._play_context.diff))
        try:
            self.run_module(module)
            result = {}
        except ModuleExit as done:
            result = done.result
        # what a module process returns: plain JSON values, with the values of no_log options masked
        result = json.loads(json.dumps(result, default=str))
        no_log_values = _list_no_log_values(self.ARGUMENT_SPEC, args)
        return remove_values(result, no_log_values) if no_log_values else result


def cluster_action(name):
    """The ActionModule class of this collection's cluster module <name>: its module's ARGUMENT_SPEC and run()."""
    module = importlib.import_module("ansible_collections.istio_runbooks.mesh.plugins.modules." + name)

    def run_module(self, controller_module):
        module.run(controller_module)

    return type("ActionModule", (ClusterAction,), {"MODULE": "istio_runbooks.mesh." + name,
                                                   "ARGUMENT_SPEC": module.ARGUMENT_SPEC, "run_module": run_module})
