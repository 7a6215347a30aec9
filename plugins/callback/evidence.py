# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: evidence
type: aggregate
short_description: Write a run's evidence report (JSON and Markdown) for its change ticket
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - At the end of every run, failed ones included, writes C(report.json) and C(report.md) into
    C(<mesh_artifacts_dir>/evidence/<change_id>-<time>/) of each cluster (the C(change_ticket) role records the folder),
    and into C(ISTIO_RUNBOOKS_EVIDENCE_DIR) when set (C(python -m istio_runbooks.run) sets it under the runner's ident).
  - "It holds: the runbook, ticket and mode (a C(--check) run is the plan); the inputs (extra vars and role parameters)
    with secrets redacted (keys naming a token, password, secret or key, kubeconfig and PEM content, Secret data;
    C(no_log) results are left out); the objects each cluster changed (or would change) with before and after; every
    verification (each C(assert), and each C(ansible.builtin.set_stats) of C(data.mesh_verification)); timings per
    play and per task; the final status per cluster."
  - "After the report, it prints one line C(Evidence summary: <JSON>): the runbook, ticket, mode, status per
    cluster with counts, the changed objects (reference and action only) and where the report files are. Under
    AWX this line is the last event of the job's output, so the outcome stays with the job when the execution
    environment, and the report files in it, are gone."
  - Output callbacks are not affected; enable it with C(callbacks_enabled).
requirements:
  - enable in ansible.cfg (C(callbacks_enabled = istio_runbooks.mesh.evidence))
options:
  evidence_dir:
    description: An extra folder that receives report.json and report.md.
    type: path
    env:
      - name: ISTIO_RUNBOOKS_EVIDENCE_DIR
  keep:
    description:
      - How many reports of runs that wrote nothing (plans, read-only and no-op runs) to keep in each cluster's
        evidence folder (C(<mesh_artifacts_dir>/evidence)). After a run writes its report, the oldest of those beyond
        this number are deleted (by the time in their name, whatever the ticket). The report of a run that changed
        something is never deleted. Only folders named C(<ticket>-<time>) that hold a C(report.json) are touched.
      - 0 keeps every report. The C(evidence_dir) folder of a runner ident is not rotated (it holds one report).
    type: int
    default: 50
    env:
      - name: ISTIO_RUNBOOKS_EVIDENCE_KEEP
    ini:
      - section: callback_evidence
        key: keep
"""

import datetime
import json
import os
import re
import time

from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import evidence
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import redact

EVIDENCE_DIR_FACT = "change_ticket_evidence_dir"
ANNOTATIONS_FACT = "change_ticket_annotations"


def _utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value):
    """Ansible's tagged strings and other types as plain JSON values."""
    return json.loads(json.dumps(value, default=str))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "istio_runbooks.mesh.evidence"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.report = {"runbook": None, "change_id": None, "change_url": None, "started": _utc(), "inputs": {},
                       "plays": [], "tasks": [], "hosts": {}}
        self.clock = time.time()
        self.task_started = {}
        self.play_started = None
        self.dirs = {}

    def _host(self, name):
        return self.report["hosts"].setdefault(name, {"status": None, "stats": {}, "changes": [], "verifications": []})

    # ---- what the run is ----------------------------------------------------------------------------------
    def v2_playbook_on_start(self, playbook):
        self.report["runbook"] = os.path.basename(getattr(playbook, "_file_name", "") or "")

    def v2_playbook_on_play_start(self, play):
        try:
            self._close_play()
            self.play_started = (play.get_name(), time.time())
            manager = play.get_variable_manager()
            inputs = self.report["inputs"]
            inputs.setdefault("extra_vars", _plain(redact(dict(manager.extra_vars or {}))))
            for key in ("change_id", "change_url"):  # until the change_ticket role confirms them (also when it refuses)
                if not self.report.get(key) and inputs["extra_vars"].get(key):
                    self.report[key] = inputs["extra_vars"][key]
            for role in play.get_roles():
                params = getattr(role, "_role_params", None) or {}
                if params:
                    inputs.setdefault("roles", {}).setdefault(role.get_name(), _plain(redact(dict(params))))
        except Exception:  # pylint: disable=broad-except
            pass  # the report never breaks a run

    def _close_play(self):
        if self.play_started:
            name, started = self.play_started
            self.report["plays"].append({"name": name, "seconds": round(time.time() - started, 2)})
            self.play_started = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task_started[task._uuid] = time.time()

    def v2_playbook_on_handler_task_start(self, task):
        self.task_started[task._uuid] = time.time()

    # ---- task results ----------------------------------------------------------------------------------------
    def _result(self, result, status):
        try:
            host, task, res = result._host.get_name(), result._task, result._result
            started = self.task_started.get(task._uuid, time.time())
            self.report["tasks"].append({"task": task.get_name(), "host": host, "status": status,
                                         "seconds": round(time.time() - started, 2)})
            entry = self._host(host)
            facts = res.get("ansible_facts") or {}
            if facts.get(EVIDENCE_DIR_FACT):
                self.dirs[host] = str(facts[EVIDENCE_DIR_FACT])
            if isinstance(facts.get(ANNOTATIONS_FACT), dict):
                annotations = _plain(facts[ANNOTATIONS_FACT])
                for key, value in annotations.items():
                    name = key.rsplit("/", 1)[-1]
                    if name in ("change-id", "change-url", "runbook"):
                        self.report[{"change-id": "change_id", "change-url": "change_url", "runbook": "ticket_runbook"}[name]] = value
            if status in ("ok", "failed") and (res.get("changed") or status == "ok"):
                for change in evidence.changes_of(res) if res.get("changed") else []:
                    entry["changes"].append(dict(_plain(change), task=task.get_name()))
            for check in evidence.verifications_of(task.action, task.get_name(), res, status == "failed"):
                entry["verifications"].append(_plain(check))
        except Exception as exc:  # pylint: disable=broad-except
            self._display.warning("evidence report: %s" % exc)

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed" if not ignore_errors else "failed (ignored)")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    # ---- the end: always, after failures too -------------------------------------------------------------------
    def v2_playbook_on_stats(self, stats):
        try:
            self._close_play()
            for host in sorted(stats.processed):
                summary = stats.summarize(host)
                entry = self._host(host)
                entry["stats"] = summary
                entry["status"] = evidence.host_status(summary)
            self.report.update(finished=_utc(), seconds=round(time.time() - self.clock, 2),
                               check_mode=bool(context.CLIARGS.get("check")), diff=bool(context.CLIARGS.get("diff")))
            self._write()
        except Exception as exc:  # pylint: disable=broad-except
            self._display.warning("evidence report not written: %s" % exc)

    def _write(self):
        folders = []
        extra = self.get_option("evidence_dir") if self._plugin_options is not None else None
        extra = extra or os.environ.get("ISTIO_RUNBOOKS_EVIDENCE_DIR")
        if extra:
            folders.append(extra)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        # a folder name, whatever change_id holds (it is also recorded when the ticket check refused it)
        ticket = re.sub(r"[^A-Za-z0-9._-]", "_", str(self.report.get("change_id") or "run")).lstrip(".") or "run"
        name = "%s-%s" % (ticket[:64], stamp)
        folders += sorted(set(os.path.join(d, name) for d in self.dirs.values()))
        text = json.dumps(self.report, indent=2, sort_keys=True, default=str)
        page = evidence.markdown(self.report)
        written = []
        for folder in folders:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            marker = evidence.run_marker(self.report)
            for stale in {evidence.WROTE_NOTHING, evidence.WROTE_CHANGES} - {marker}:
                if os.path.exists(os.path.join(folder, stale)):
                    os.remove(os.path.join(folder, stale))
            for file_name, content in (("report.json", text), ("report.md", page), (marker, "")):
                path = os.path.join(folder, file_name)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as handle:
                    handle.write(content)
            written.append(folder)
        if written:
            self._display.display("Evidence report: %s" % ", ".join(os.path.join(f, "report.md") for f in written))
        self._display.display("Evidence summary: %s" % json.dumps(evidence.summary(self.report, written), sort_keys=True,
                                                                  default=str))
        keep = self.get_option("keep") if self._plugin_options is not None else evidence.DEFAULT_KEEP
        for parent in sorted(set(self.dirs.values())):
            evidence.rotate(parent, evidence.DEFAULT_KEEP if keep is None else keep)
