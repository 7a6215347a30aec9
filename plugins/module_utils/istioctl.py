# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""istioctl's read-only commands: which they are, and running one with a time limit."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import subprocess

# The commands that write nothing to the cluster or the proxies: the leading words of istioctl's arguments, before
# any flag. proxy-config only with its read-only views (not "log", which sets Envoy's log level).
READ_ONLY = (
    ("version",), ("analyze",), ("proxy-status",), ("manifest", "generate"), ("tag", "generate"), ("tag", "list"),
    ("x", "precheck"), ("precheck",), ("x", "describe"),
)
PROXY_CONFIG_VIEWS = ("all", "bootstrap", "cluster", "ecds", "endpoint", "listener", "rootca-compare", "route", "secret")
READ_ONLY += tuple(("proxy-config", view) for view in PROXY_CONFIG_VIEWS)


def command_words(args):
    """The leading words of istioctl's arguments, before the first flag."""
    words = []
    for arg in args:
        if str(arg).startswith("-"):
            break
        words.append(str(arg))
    return tuple(words)


def read_only_problem(args):
    """Why the arguments are not a read-only istioctl command, or None."""
    words = command_words(args)
    if any(words[:len(known)] == known for known in READ_ONLY):
        return None
    return ("istioctl %s is not one of the read-only commands this module runs (%s); use the role that makes the "
            "change" % (" ".join(words) or "(no command)", ", ".join(" ".join(k) for k in READ_ONLY)))


def run_read_only(istioctl, args, timeout):
    """The result of one read-only istioctl command: cmd, rc, stdout, stderr; failed with msg when it is not
    read-only, cannot start, runs out of time or exits non-zero. Never changed: it writes nothing."""
    argv = [str(istioctl)] + [str(a) for a in args]
    result = {"changed": False, "cmd": argv, "rc": None, "stdout": "", "stderr": ""}
    problem = read_only_problem(args)
    if problem:
        return dict(result, failed=True, msg=problem)
    try:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        return dict(result, failed=True, msg="cannot run %s: %s" % (argv[0], exc))
    try:
        out, err = process.communicate(timeout=timeout or None)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        result.update(stdout=out.decode("utf-8", "replace"), stderr=err.decode("utf-8", "replace"))
        return dict(result, failed=True, msg="%s did not finish within %d s" % (" ".join(argv[:3]), timeout))
    result.update(rc=process.returncode, stdout=out.decode("utf-8", "replace"), stderr=err.decode("utf-8", "replace"))
    result["stdout_lines"] = result["stdout"].splitlines()
    if process.returncode != 0:
        tail = result["stderr"].strip() or result["stdout"].strip()
        return dict(result, failed=True, msg="%s exited with %d: %s" % (" ".join(argv), process.returncode, tail[-2000:]))
    return result
