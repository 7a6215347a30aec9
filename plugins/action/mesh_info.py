# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mesh_info in the controller process when the connection is local (plugin_utils/cluster_action.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.plugin_utils.cluster_action import cluster_action

ActionModule = cluster_action("mesh_info")
