# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests over task results (logic in module_utils/kube.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import kube


def error_messages(result):
    """The messages of a failed module's error summary.

    ansible-core 2.19 moves a failed module's msg into an error summary under `exception` and shows `until` only
    '(traceback unavailable)' there until the task ends; the summary itself (possibly behind a lazy wrapper) keeps
    the message and its cause chain. Empty when the result holds no such summary.
    """
    raw = dict.get(result, "exception") if isinstance(result, dict) else None
    raw = getattr(raw, "value", raw)
    found = []

    def walk(item, depth):
        if item is None or isinstance(item, str) or depth > 20:
            return
        if isinstance(getattr(item, "msg", None), str):
            found.append(item.msg)
        for name in ("event", "chain"):
            walk(getattr(item, name, None), depth + 1)
        for event in getattr(item, "events", None) or ():
            walk(event, depth + 1)

    walk(raw, 0)
    return " ".join(found)


def transient_api_failure(result):
    """True when a task failed for a reason a retry can outlive: the API unreachable or overloaded, etcd busy."""
    return kube.transient_failure(result, error_messages(result))


class TestModule(object):
    def tests(self):
        return {"transient_api_failure": transient_api_failure}
