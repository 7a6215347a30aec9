# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write text files (plans, reports) only where their content or mode differs, each atomically."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import stat
import tempfile

DIFF_LIMIT = 65536  # larger files get a one-line diff (their sizes), not their text


class LocalFilesError(Exception):
    """Bad input, with a message that names the fix."""


def _mode(value, name):
    try:
        mode = int(str(value), 8)
    except ValueError:
        raise LocalFilesError("%s must be an octal mode such as '0640' (got %r)" % (name, value))
    if not 0 <= mode <= 0o7777:
        raise LocalFilesError("%s must be an octal mode such as '0640' (got %r)" % (name, value))
    return mode


def _current(path):
    """(text or None when absent, mode or None)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        return data.decode("utf-8", "replace"), stat.S_IMODE(os.stat(path).st_mode)
    except (IOError, OSError):
        return None, None


def _diff(path, before, after):
    if before is not None and len(before) > DIFF_LIMIT or len(after) > DIFF_LIMIT:
        before = "" if before is None else "(%d characters)\n" % len(before)
        after = "(%d characters)\n" % len(after)
    return {"before_header": path, "after_header": path, "before": before or "", "after": after}


def write_files(files, directory_mode="0750", check_mode=False, diff=False):
    """Write each {path, content, mode} whose content or mode differs; parents are created with directory_mode.

    Returns {changed, files: [{path, changed, size}], diff: [...] (with diff)}; in check mode nothing is written."""
    dir_mode = _mode(directory_mode, "directory_mode")
    result = {"changed": False, "files": []}
    diffs = []
    for index, entry in enumerate(files or []):
        path, content = entry.get("path"), entry.get("content")
        if not path or not isinstance(path, str):
            raise LocalFilesError("files[%d].path must be a file path" % index)
        if not isinstance(content, str):
            raise LocalFilesError("files[%d].content must be text" % index)
        path = os.path.abspath(os.path.expanduser(path))
        mode = _mode(entry.get("mode") or "0640", "files[%d].mode" % index)
        before, before_mode = _current(path)
        changed = before != content or before_mode != mode
        if changed and not check_mode:
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                os.makedirs(parent, dir_mode)
            handle, temporary = tempfile.mkstemp(dir=parent, prefix=".%s." % os.path.basename(path))
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(content.encode("utf-8"))
                os.chmod(temporary, mode)
                os.rename(temporary, path)
            except Exception:
                if os.path.exists(temporary):
                    os.unlink(temporary)
                raise
        if changed and diff:
            diffs.append(_diff(path, before, content))
        result["changed"] = result["changed"] or changed
        result["files"].append({"path": path, "changed": changed, "size": len(content)})
    if diff:
        result["diff"] = diffs
    return result
