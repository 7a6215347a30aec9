# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The evidence report of a run: what each task result says was changed or verified, and the Markdown form.

The callback plugin istio_runbooks.mesh.evidence feeds task results in and writes the report; this file decides.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import redact

# Verifications: every assert a role makes, and every ansible.builtin.set_stats with data.mesh_verification
# ({name: value}) a role registers.
ASSERT_ACTIONS = ("assert", "ansible.builtin.assert", "ansible.legacy.assert")
VERIFICATION_STAT = "mesh_verification"
LIMIT = 8192


def _summary(value, limit=LIMIT):
    text = json.dumps(value, sort_keys=True, default=str)
    return value if len(text) <= limit else "<%d characters, left out>" % len(text)


def ref_of(obj):
    if not isinstance(obj, dict):
        return None
    meta = obj.get("metadata") or {}
    if not obj.get("kind") or not meta.get("name"):
        return None
    ref = "%s/%s" % (obj["kind"], meta["name"])
    return "%s/%s" % (meta["namespace"], ref) if meta.get("namespace") else ref


SERVER_FIELDS = ("managedFields", "resourceVersion", "uid", "creationTimestamp", "generation", "selfLink")


def _clean(obj):
    """An object (or a diff's part of one) without the fields the server writes."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return obj
    meta = dict((k, v) for k, v in obj["metadata"].items() if k not in SERVER_FIELDS)
    return dict(obj, metadata=meta)


def _record(ref, action, before, after):
    return {"ref": ref, "action": action, "before": _summary(redact(_clean(before))),
            "after": _summary(redact(_clean(after)))}


def _from_diff(diff, ref=None):
    before, after = diff.get("before"), diff.get("after")
    if isinstance(before, str) and isinstance(after, str) and not diff.get("before_header"):
        return None  # a file diff (local state), not an object
    ref = diff.get("after_header") or diff.get("before_header") or ref_of(after) or ref_of(before) or ref
    action = "create" if not before else "delete" if not after else "update"
    return _record(ref, action, before or None, after or None)


def changes_of(result):
    """The objects a changed task result created, changed, deleted or restarted: [{ref, action, before, after}]."""
    if not isinstance(result, dict):
        return []
    if result.get("censored"):  # no_log (Secrets): that it changed, never what
        return [{"ref": "(hidden: no_log)", "action": "change", "before": None, "after": None}] if result.get("changed") else []
    found = []
    for item in result.get("results") or []:  # a loop
        if isinstance(item, dict) and item.get("changed"):
            found += changes_of(item)
    if isinstance(result.get("changes"), list):  # apply_objects
        return found + [_record(c.get("ref"), c.get("action"), c.get("before"), c.get("after"))
                        for c in result["changes"] if isinstance(c, dict)]
    for workload in result.get("restarted") or []:  # rollout_restart
        if isinstance(workload, dict):
            ref = "%s/%s/%s" % (workload.get("namespace"), workload.get("kind"), workload.get("name"))
            found.append(_record(ref, "restart", None, {"outcome": workload.get("outcome"),
                                                        "reason": workload.get("reason")}))
    if found:
        return found
    diffs, inner = result.get("diff"), result.get("result")
    for diff in diffs if isinstance(diffs, list) else [diffs] if isinstance(diffs, dict) else []:
        # kubernetes.core.k8s gives the changed part of the object as its diff, and the object as its result
        record = _from_diff(diff, ref_of(inner)) if isinstance(diff, dict) else None
        if record and record["ref"]:
            found.append(record)
    if not found and isinstance(inner, dict):  # kubernetes.core.k8s
        if isinstance(inner.get("results"), list):
            for item in inner["results"]:
                found += changes_of(dict(item, changed=True)) if isinstance(item, dict) else []
        elif ref_of(inner):
            found.append(_record(ref_of(inner), result.get("method") or "apply", None, inner))
    return found


def verifications_of(action, task_name, result, failed):
    """What a task result verified: its assert (passed or failed, with the message) and any mesh_verification
    it registered with set_stats."""
    found = []
    if not isinstance(result, dict):
        return found
    if action in ASSERT_ACTIONS:
        found.append({"name": task_name, "passed": not failed,
                      "detail": redact(result.get("msg") if failed else result.get("msg", "All assertions passed"))})
    data = ((result.get("ansible_stats") or {}).get("data") or {}).get(VERIFICATION_STAT)
    if isinstance(data, dict):
        for name, value in sorted(data.items()):
            passed = value.get("passed") if isinstance(value, dict) else None
            found.append({"name": name, "passed": passed, "detail": _summary(redact(value))})
    return found


def host_status(summary):
    if summary.get("unreachable"):
        return "unreachable"
    return "failed" if summary.get("failures") else "ok"


SUMMARY_OBJECTS = 200


def summary(report, folders=None):
    """The report in brief, for where the report files are out of reach (an AWX job's execution environment is
    gone after the run): runbook, ticket, mode, overall and per-cluster status with counts, the changed objects
    (reference and action only: never before or after, so never a value) and the verification counts."""
    hosts, changed, checks = {}, [], {"passed": 0, "failed": 0}
    for host, entry in sorted((report.get("hosts") or {}).items()):
        stats = entry.get("stats") or {}
        hosts[host] = {"status": entry.get("status"), "ok": stats.get("ok", 0), "changed": stats.get("changed", 0),
                       "failed": stats.get("failures", 0), "unreachable": stats.get("unreachable", 0)}
        changed += [{"cluster": host, "ref": c.get("ref"), "action": c.get("action")} for c in entry.get("changes") or []]
        for check in entry.get("verifications") or []:
            if check.get("passed") is not None:
                checks["passed" if check["passed"] else "failed"] += 1
    statuses = set(h["status"] for h in hosts.values())
    status = "failed" if statuses & {"failed", "unreachable"} else "ok" if hosts else "no hosts"
    brief = {"runbook": report.get("runbook"), "change_id": report.get("change_id"),
             "mode": "plan" if report.get("check_mode") else "run", "status": status, "clusters": hosts,
             "changed_objects": changed[:SUMMARY_OBJECTS], "verifications": checks,
             "reports": [os.path.join(f, "report.json") for f in folders or []]}
    if len(changed) > SUMMARY_OBJECTS:
        brief["changed_objects_left_out"] = len(changed) - SUMMARY_OBJECTS
    return brief


def _cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def _code(value):
    return "```json\n%s\n```" % json.dumps(value, indent=2, sort_keys=True, default=str)


def markdown(report):
    """The report as Markdown for the change ticket."""
    lines = ["# Evidence: %s" % report.get("runbook"), ""]
    lines += ["- change: %s %s" % (report.get("change_id") or "(none)", report.get("change_url") or ""),
              "- mode: %s" % ("plan (--check, nothing written)" if report.get("check_mode") else "run"),
              "- started: %s, finished: %s (%.1f s)" % (
                  report.get("started"), report.get("finished"), report.get("seconds") or 0), ""]
    lines += ["## Status per cluster", "", "| cluster | status | ok | changed | failed | unreachable |", "|---|---|---|---|---|---|"]
    for host, entry in sorted(report.get("hosts", {}).items()):
        stats = entry.get("stats") or {}
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            host, entry.get("status"), stats.get("ok", 0), stats.get("changed", 0), stats.get("failures", 0),
            stats.get("unreachable", 0)))
    lines += ["", "## Inputs (secrets redacted)", "", _code(report.get("inputs") or {}), ""]
    title = "Planned changes" if report.get("check_mode") else "Objects changed"
    lines += ["## %s" % title, ""]
    for host, entry in sorted(report.get("hosts", {}).items()):
        for change in entry.get("changes") or []:
            lines += ["### %s: %s %s" % (host, change.get("action"), change.get("ref")), "", "task: %s" % change.get("task"), ""]
            if change.get("before") is not None:
                lines += ["before:", "", _code(change["before"]), ""]
            if change.get("after") is not None:
                lines += ["after:", "", _code(change["after"]), ""]
    lines += ["## Verifications", "", "| cluster | check | result | detail |", "|---|---|---|---|"]
    for host, entry in sorted(report.get("hosts", {}).items()):
        for check in entry.get("verifications") or []:
            result = {True: "passed", False: "FAILED"}.get(check.get("passed"), "recorded")
            detail = json.dumps(check.get("detail"), default=str)[:300]
            lines.append("| %s | %s | %s | %s |" % (host, _cell(check.get("name")), result, _cell(detail)))
    lines += ["", "## Timings", "", "| play | seconds |", "|---|---|"]
    for play in report.get("plays") or []:
        lines.append("| %s | %.1f |" % (_cell(play.get("name")), play.get("seconds") or 0))
    lines += ["", "| task | cluster | status | seconds |", "|---|---|---|---|"]
    for timing in report.get("tasks") or []:
        lines.append("| %s | %s | %s | %.2f |" % (_cell(timing.get("task")), timing.get("host"), timing.get("status"),
                                                  timing.get("seconds") or 0))
    return "\n".join(lines) + "\n"


# ---- rotation: keep the newest N report folders of an evidence folder ----------------------------------------------
# A report folder is <ticket>-<UTC time as %Y%m%dT%H%M%S%fZ> (the callback names it so) and holds report.json.
REPORT_FOLDER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*-([0-9]{8}T[0-9]{12}Z)$")
DEFAULT_KEEP = 50


def expired_reports(names, keep=DEFAULT_KEEP):
    """The report folder names beyond the newest keep (by the time in the name, whatever the ticket), oldest
    first. Names that are not report folders are never returned; keep 0 (or less) keeps every report."""
    keep = int(keep or 0)
    if keep <= 0:
        return []
    reports = sorted((match.group(1), name) for name, match in ((n, REPORT_FOLDER.match(n)) for n in names or []) if match)
    return [name for _, name in reports[:max(len(reports) - keep, 0)]]


def wrote_nothing(report):
    """True for a report of a run that changed nothing on a cluster: a plan (--check), or a run whose hosts
    recorded no change and no changed task (a read-only or no-op run). Only these are ever rotated."""
    if report.get("check_mode"):
        return True
    for entry in (report.get("hosts") or {}).values():
        if entry.get("changes") or (entry.get("stats") or {}).get("changed"):
            return False
    return True


# An empty file beside report.json saying which kind of run it was, so that rotation reads no report.
WROTE_NOTHING, WROTE_CHANGES = "wrote-nothing", "wrote-changes"


def run_marker(report):
    """The marker file name of a report's folder."""
    return WROTE_NOTHING if wrote_nothing(report) else WROTE_CHANGES


def _rotatable(folder, name):
    path = os.path.join(folder, name)
    if os.path.exists(os.path.join(path, WROTE_CHANGES)):  # first: a folder with both keeps its evidence
        return False
    if os.path.exists(os.path.join(path, WROTE_NOTHING)):
        return True
    try:  # a folder from before the markers: read its report once and mark it
        with open(os.path.join(path, "report.json")) as handle:
            marker = run_marker(json.load(handle))
        with open(os.path.join(path, marker), "w"):
            pass
        return marker == WROTE_NOTHING
    except (OSError, ValueError):
        return False


def rotate(folder, keep=DEFAULT_KEEP):
    """Delete the report folders of folder beyond the newest keep, among the reports of runs that wrote nothing
    (plans, read-only and no-op runs): the evidence of a change is never deleted. Only folders named as reports
    that hold a report.json are touched. Returns the paths deleted."""
    try:
        names = [n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n, "report.json"))
                 and _rotatable(folder, n)]
    except OSError:
        return []
    deleted = []
    for name in expired_reports(names, keep):
        path = os.path.join(folder, name)
        shutil.rmtree(path, ignore_errors=True)
        deleted.append(path)
    return deleted
