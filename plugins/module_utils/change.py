# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change tickets: the change_id check, the annotations a run's writes carry, and redaction for the evidence report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import plain_copy

DEFAULT_PATTERN = r"^CHG[0-9]{7}$"
DEFAULT_PREFIX = "istio-runbooks.io"
ANNOTATION_NAMES = ("change-id", "change-url", "runbook", "changed-at")
# Keys whose values the evidence report never shows.
SECRET_KEY = re.compile(r"token|password|passwd|secret|key|credential|certificate|private", re.IGNORECASE)
# A kubeconfig's content (not its path), or a PEM block, in any value.
SECRET_VALUE = re.compile(r"(client-key-data|client-certificate-data|certificate-authority-data|"
                          r"\btoken:\s|-----BEGIN [A-Z ]+-----|kind:\s*Config\b)")
REDACTED = "<redacted>"


def ticket_problems(change_id, change_url="", pattern=DEFAULT_PATTERN, required=False, runbook="", prefix=DEFAULT_PREFIX):
    """Messages naming the variable (change_id is change_ticket_id in the role) and the fix; empty when all fit."""
    problems = []
    change_id = "" if change_id is None else str(change_id)
    try:
        compiled = re.compile(pattern or DEFAULT_PATTERN)
    except re.error as exc:
        return ["change_ticket_pattern %r is not a regular expression (%s): fix it in the inventory." % (pattern, exc)]
    if not (compiled.pattern.startswith("^") and compiled.pattern.endswith("$")):
        return ["change_ticket_pattern %r is not anchored: start it with ^ and end it with $, e.g. ^CHG[0-9]{7}$."
                % (pattern,)]
    if not change_id:
        if required:
            problems.append("change_id is required for this inventory group (change_ticket_required is true): "
                            "pass -e change_id=<ticket> matching %s (change_ticket_id)." % compiled.pattern)
    elif not compiled.search(change_id):
        problems.append("change_id %r (change_ticket_id) does not match %s: give the ticket number as your change "
                        "system writes it (e.g. CHG0012345), or set change_ticket_pattern." % (change_id, compiled.pattern))
    if change_url and not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s;{}`$]*)?$", str(change_url)):
        problems.append("change_url %r (change_ticket_url) is not an http(s) URL: give the ticket's link, e.g. "
                        "https://change.example.com/CHG0012345." % (change_url,))
    if runbook and not re.match(r"^[^;{}`$\x00-\x1f]{1,253}$", str(runbook)):
        problems.append("change_ticket_runbook %r holds characters an annotation should not: use the runbook's "
                        "file name, e.g. install." % (runbook,))
    if not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", str(prefix or "")) \
            or len(str(prefix)) > 253:
        problems.append("change_ticket_annotation_prefix %r is not a DNS subdomain: use e.g. istio-runbooks.io."
                        % (prefix,))
    return problems


def ticket_annotations(change_id, change_url, runbook, changed_at, prefix=DEFAULT_PREFIX):
    """The annotations every object a run writes carries; empty values are left out."""
    values = {"change-id": change_id, "change-url": change_url, "runbook": runbook, "changed-at": changed_at}
    return dict(("%s/%s" % (prefix or DEFAULT_PREFIX, name), str(value)) for name, value in values.items() if value)


def is_ticket_annotation(key, prefix=DEFAULT_PREFIX):
    return key in ["%s/%s" % (prefix, name) for name in ANNOTATION_NAMES]


def annotated(definitions, annotations):
    """Copies of the objects (a dict or a list of them) with the annotations added to metadata.annotations."""
    if not annotations:
        return definitions
    if isinstance(definitions, list):
        return [annotated(obj, annotations) for obj in definitions]
    if not isinstance(definitions, dict):
        return definitions
    obj = plain_copy(definitions)
    meta = obj.setdefault("metadata", {})
    merged = dict(meta.get("annotations") or {})
    merged.update(annotations)
    meta["annotations"] = merged
    return obj


def without_ticket_annotations(obj, prefix=DEFAULT_PREFIX):
    """A copy of obj without the ticket annotations (for comparisons that must ignore them)."""
    if not isinstance(obj, dict) or not (obj.get("metadata") or {}).get("annotations"):
        return obj
    obj = plain_copy(obj)
    kept = dict((k, v) for k, v in obj["metadata"]["annotations"].items() if not is_ticket_annotation(k, prefix))
    if kept:
        obj["metadata"]["annotations"] = kept
    else:
        del obj["metadata"]["annotations"]
    return obj


def redact(value, key=""):
    """value with secrets replaced: values under secret-like keys, kubeconfig or PEM content, Secret data."""
    if key and SECRET_KEY.search(str(key)) and value not in (None, "", [], {}) and not isinstance(value, bool):
        return REDACTED
    if isinstance(value, dict):
        if value.get("kind") == "Secret":
            value = dict(value, **dict((k, REDACTED) for k in ("data", "stringData") if k in value))
        return dict((k, v if k in ("data", "stringData") and v == REDACTED else redact(v, k)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and SECRET_VALUE.search(value):
        return REDACTED
    return value


def plain_annotations(meta, prefix=DEFAULT_PREFIX):
    """An object's metadata.annotations without the ticket annotations, for comparisons."""
    return dict((k, v) for k, v in ((meta or {}).get("annotations") or {}).items() if not is_ticket_annotation(k, prefix))
