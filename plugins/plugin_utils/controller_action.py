# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An action that runs its module's logic in the controller process when the module process would run on this
machine, as this user and in this environment (no module process), and the module itself otherwise."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ControllerAction(ActionBase):
    """Subclasses set MODULE (its full name) and ARGUMENT_SPEC, and define run_local(args) -> result dict."""

    TRANSFERS_FILES = False
    _supports_async = True  # async tasks run the module, as the normal action does
    MODULE = None
    ARGUMENT_SPEC = None

    def run_local(self, args):
        raise NotImplementedError

    def runs_on_controller(self):
        """A local connection without become, a task environment or async: the module process would run here."""
        return (getattr(self._connection, "transport", "") == "local" and not self._play_context.become
                and not any(self._task.environment or []) and not self._task.async_val)

    def run(self, tmp=None, task_vars=None):
        result = super(ControllerAction, self).run(tmp, task_vars)
        if self.runs_on_controller():
            validation, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
            # an option given with its alias warns: the module process reports that warning
            if not (getattr(validation, "_warnings", None) or getattr(validation, "_deprecations", None)):
                result.update(self.run_local(args))
                return result
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(module_name=self.MODULE, module_args=self._task.args, task_vars=task_vars,
                                           wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
