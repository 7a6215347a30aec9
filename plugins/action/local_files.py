# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""local_files on the controller when the connection is local: no module process for a few text files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.local_files import LocalFilesError, write_files
from ansible_collections.istio_runbooks.mesh.plugins.modules.local_files import ARGUMENT_SPEC


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        if getattr(self._connection, "transport", "") != "local":
            result.update(self._execute_module(module_name="istio_runbooks.mesh.local_files",
                                               module_args=self._task.args, task_vars=task_vars))
            return result
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            result.update(write_files(args["files"], args["directory_mode"], bool(self._play_context.check_mode),
                                      bool(self._play_context.diff)))
        except (LocalFilesError, IOError, OSError) as exc:
            result.update(failed=True, msg=str(exc))
        return result
