# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The install plan: an IstioOperator rendered by istioctl manifest generate (the render reused while istioctl,
the IstioOperator and the overlay are unchanged), split into objects and saved for review."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import io
import os

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.istioctl import run_read_only
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.local_files import write_files
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    default_injector_deactivated,
    dump_manifest,
    kind_summary,
    object_ref_dict,
    split_manifest,
)

RENDER_KEY = "# istio-runbooks render key: "
PLAN_HEADER = "# istio-runbooks plan: "


class PlanError(Exception):
    """A render that failed, with istioctl's message."""


def render_key(istioctl, operator, overlay):
    """What a render depends on: the istioctl binary (path, size, modification time), the IstioOperator and the
    overlay's text. manifest generate reads no cluster, so the same key renders the same manifest."""
    status = os.stat(istioctl)
    digest = hashlib.sha256()
    for part in (os.path.realpath(istioctl), str(status.st_size), repr(status.st_mtime), operator, overlay or ""):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _read_text(path):
    """The UTF-8 text of a file, or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8")
    except (IOError, OSError, UnicodeDecodeError):
        return None


def cached_render(path, key):
    """The manifest saved at path under key, or None."""
    first, _, rest = (_read_text(path) or "").partition("\n")
    return rest if first == RENDER_KEY + key else None


def objects_digest(objects):
    """SHA-256 of the planned objects as canonical JSON: equal digests, equal objects."""
    import json

    return hashlib.sha256(json.dumps(objects, sort_keys=True, separators=(",", ":"), default=str)
                          .encode("utf-8")).hexdigest()


def plan_header(digest, body):
    """The plan file's first line: the digest of its objects and the SHA-256 of the text below it."""
    return "%sobjects %s body %s" % (PLAN_HEADER, digest, hashlib.sha256(body.encode("utf-8")).hexdigest())


def kept_plan(path, digest):
    """The text of the plan file at path when it holds these objects, unedited since it was written; else None."""
    text = _read_text(path) or ""
    first, _, body = text.partition("\n")
    return text if text and first == plan_header(digest, body) else None


def run_istioctl(argv):
    """istioctl's standard output; PlanError with its message when it fails (the istioctl module's runner)."""
    result = run_read_only(argv[0], argv[1:], 0)
    if result.get("failed"):
        raise PlanError(result["msg"])
    return result["stdout"]


def render_plan(istioctl, operator, operator_file, plan_file, overlay_file="", namespace="istio-system",
                validation_failure_policy=None, default_tags=(), render_cache="", run=run_istioctl, return_objects=True):
    """Write the IstioOperator, render it (or reuse render_cache when its key matches), split the manifest into
    objects (namespaced ones without a namespace get namespace), keep the default revision's own injector
    deactivated while a "default" tag exists (default_tags: the live webhook configurations so labelled), and
    save the plan (left as it is while it holds the same objects, unedited). Returns {objects (with return_objects), refs, summary,
    reused_render, command, files}."""
    overlay = ""
    if overlay_file:
        try:
            with io.open(overlay_file, encoding="utf-8") as handle:
                overlay = handle.read()
        except (IOError, OSError) as exc:
            raise PlanError("cannot read the overlay %s: %s" % (overlay_file, exc))
    if not os.path.isfile(istioctl):
        raise PlanError("istioctl not found at %s" % istioctl)
    files = [{"path": operator_file, "content": operator}]
    write_files(files)
    command = [istioctl, "manifest", "generate", "-f", operator_file] + (["-f", overlay_file] if overlay_file else [])
    key = render_key(istioctl, operator, overlay)
    rendered = cached_render(render_cache, key) if render_cache else None
    reused = rendered is not None
    if not reused:
        rendered = run(command)
    objects = default_injector_deactivated(split_manifest(rendered, namespace, validation_failure_policy),
                                           list(default_tags or []))
    digest = objects_digest(objects)
    plan_text = kept_plan(plan_file, digest)
    written = []
    if plan_text is None:
        body = dump_manifest(objects)
        plan_text = plan_header(digest, body) + "\n" + body
        written.append({"path": plan_file, "content": plan_text})
    if render_cache and not reused:
        written.append({"path": render_cache, "content": RENDER_KEY + key + "\n" + rendered})
    write_files(written)
    result = {"refs": [object_ref_dict(o) for o in objects], "summary": kind_summary(objects), "reused_render": reused,
              "command": command, "plan_sha256": hashlib.sha256(plan_text.encode("utf-8")).hexdigest(),
              "files": [operator_file, plan_file] + ([render_cache] if render_cache and not reused else [])}
    if return_objects:
        result["objects"] = objects
    return result
