# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""After the play recap of a multi-cluster run: each cluster's wave and final status."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: mesh_waves
type: aggregate
short_description: Each cluster's wave and final status after a multi-cluster run
version_added: 0.1.0
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - After the play recap of a run over more than one cluster (inventory host), prints one line per cluster in wave
    order (C(canary), C(wave1), C(wave2), or the play's C(mesh_waves)) with its final status. C(ok) when the run
    ended without a failure; C(FAILED) with the play and task that failed; C(STOPPED) (the last play it ran) or
    C(NOT RUN) when another cluster's failure ended the run, naming that cluster; then the plays that never
    started.
  - Writes nothing; prints nothing for a run over one cluster.
requirements:
  - enabled in ansible.cfg (C(callbacks_enabled))
"""

from ansible.plugins.callback import CallbackBase

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.waves import WAVE_GROUPS, wave_status_lines


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "istio_runbooks.mesh.mesh_waves"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.plays, self.play, self.hosts, self.groups, self.waves = [], None, [], {}, WAVE_GROUPS
        self.ran, self.failed, self.names, self.started = {}, {}, {}, []
        self.batch, self.interrupted = [], set()

    def v2_playbook_on_start(self, playbook):
        self.plays = [play._uuid for play in playbook.get_plays()]
        self.names = dict((play._uuid, play.get_name()) for play in playbook.get_plays())

    def v2_playbook_on_play_start(self, play):
        self.play = play._uuid  # the same for each batch of a play
        if self.play not in self.started:
            self.started.append(self.play)
        self.names[self.play] = play.get_name()
        manager = play.get_variable_manager()
        if manager is None:
            return
        play_vars = manager.get_vars(play=play)
        self.groups = play_vars.get("groups") or self.groups
        self.waves = tuple(play_vars.get("mesh_waves") or WAVE_GROUPS)
        self.batch = list(play_vars.get("ansible_play_batch") or [])
        for host in play_vars.get("ansible_play_hosts_all") or []:
            if host not in self.hosts:
                self.hosts.append(host)

    def v2_playbook_on_no_hosts_remaining(self):
        self.interrupted.update(self.batch)

    def _ran(self, result):
        plays = self.ran.setdefault(result._host.get_name(), [])
        if self.play not in plays:
            plays.append(self.play)

    def v2_runner_on_ok(self, result):
        self._ran(result)

    def v2_runner_on_skipped(self, result):
        self._ran(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._ran(result)
        if not ignore_errors:
            self.failed.setdefault(result._host.get_name(), (self.play, result._task.get_name()))

    def v2_runner_on_unreachable(self, result):
        self._ran(result)
        self.failed.setdefault(result._host.get_name(), (self.play, "unreachable: " + result._task.get_name()))

    def v2_playbook_on_stats(self, stats):
        if len(self.hosts) < 2:
            return
        # a failure a rescue handled is not the cluster's final status
        failed = dict((host, where) for host, where in self.failed.items() if stats.summarize(host)["failures"]
                      or stats.summarize(host)["unreachable"])
        self._display.banner("WAVES (final status per cluster)")
        for line in wave_status_lines(self.groups, self.hosts, self.plays, self.started, self.ran, failed, self.waves,
                                      self.names, self.interrupted):
            self._display.display(line)
