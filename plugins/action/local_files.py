# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""local_files on the controller when the connection is local: no module process for a few text files."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.local_files import LocalFilesError, write_files
from ansible_collections.istio_runbooks.mesh.plugins.modules.local_files import ARGUMENT_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.plugin_utils.controller_action import ControllerAction


class ActionModule(ControllerAction):
    MODULE = "istio_runbooks.mesh.local_files"
    ARGUMENT_SPEC = ARGUMENT_SPEC

    def run_local(self, args):
        try:
            return write_files(args["files"], args["directory_mode"], bool(self._play_context.check_mode),
                               bool(self._play_context.diff))
        except (LocalFilesError, IOError, OSError) as exc:
            return {"failed": True, "msg": str(exc)}
