# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istio_plan on the controller when the connection is local: no module process for the render and the split."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.istio_runbooks.mesh.plugins.modules.istio_plan import ARGUMENT_SPEC, plan


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if getattr(self._connection, "transport", "") != "local":
            result.update(self._execute_module(module_name="istio_runbooks.mesh.istio_plan",
                                               module_args=self._task.args, task_vars=task_vars))
            return result
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        planned, error = plan(args)
        if error:
            result.update(failed=True, msg=error)
        else:
            result.update(planned)
        return result
