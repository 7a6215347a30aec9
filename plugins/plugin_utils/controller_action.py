# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action that runs its module's logic in the controller process when the connection is local (no module
process), and the module itself on any other connection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """Subclasses set MODULE (its full name) and ARGUMENT_SPEC, and define run_local(args) -> result dict."""

    TRANSFERS_FILES = False
    MODULE = None
    ARGUMENT_SPEC = None

    def run_local(self, args):
        raise NotImplementedError

    def run(self, tmp=None, task_vars=None):
        result = super(ControllerAction, self).run(tmp, task_vars)
        if getattr(self._connection, "transport", "") != "local":
            result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args,
                                               task_vars=task_vars))
            return result
        result.update(self.run_local(self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)[1]))
        return result
