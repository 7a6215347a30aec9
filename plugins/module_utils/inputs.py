# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shape checks of free-form role inputs by kind of value; every problem names the variable and the fix."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import shlex
import shutil

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.proxy_status import ProxyStatusError, check_selector

_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_HOST = r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?)"
_PATTERNS = {
    "dns_label": (re.compile("^" + _LABEL + "$"), "a lowercase DNS label such as reviews-v2"),
    "dns_subdomain": (re.compile(r"^(?=.{1,253}$)" + _LABEL + r"(\." + _LABEL + ")*$"),
                      "a lowercase DNS subdomain such as standard or fast.ssd"),
    "name": (re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$"),
             "a name of letters, digits, '.', '_' and '-' such as otel-tracing"),
    "field_manager": (re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,126}[A-Za-z0-9])?$"),
                      "a field manager name of at most 128 letters, digits, '.', '_' and '-' such as istio-runbooks"),
    "identifier": (re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$"), "a variable name such as mtls_policy_snapshot"),
    "host_port": (re.compile("^" + _HOST + r":([0-9]{1,5})$"), "host:port such as istiod.istio-system.svc:15017"),
    "registry": (re.compile("^" + _HOST + r"(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"),
                 "a registry host with an optional port and path such as registry.example.com:5000/mirror"),
    "quantity": (re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"),
                 "a positive Kubernetes quantity such as 10Gi"),
    "duration": (re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$"), "a positive duration such as 15s, 12h or 2w"),
    "minor_version": (re.compile(r"^[0-9]+\.[0-9]+$"), "a major.minor version such as 1.34"),
    "kind": (re.compile(r"^[A-Z][A-Za-z0-9]*$"), "a Kubernetes kind such as PeerAuthentication"),
    "analyzer_code": (re.compile(r"^IST[0-9]{4}$"), "an istioctl analyze code such as IST0139"),
}
_PAIRS = {")": "(", "]": "[", "}": "{"}


def _positive(value):
    return any(float(n) > 0 for n in re.findall(r"[0-9]+(?:\.[0-9]+)?", value))


def _balanced(query):
    """Brackets outside string literals are balanced, quotes closed, and no template markers."""
    if "{{" in query or "{%" in query or "\n" in query:
        return False
    stack, quote, escaped = [], None, False
    for char in query:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            stack.append(char)
        elif char in _PAIRS:
            if not stack or stack.pop() != _PAIRS[char]:
                return False
    return not stack and quote is None


def _program(command):
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    return shutil.which(words[0]) if words else None


def problem(variable, kind, value):
    """The problem with one value of a kind ('' when fine); a kind ending in '?' also accepts ''."""
    if isinstance(value, (list, tuple)):
        bad = [v for v in value if problem(variable, kind.rstrip("?"), v)]
        if not bad:
            return ""
        shown = ", ".join(repr("" if v is None else v if isinstance(v, str) else str(v)) for v in bad)
        return "%s has %s: %s" % (variable, shown, problem(variable, kind.rstrip("?"), bad[0]).split(": ", 1)[1])
    optional = kind.endswith("?")
    kind = kind.rstrip("?")
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if optional and text == "":
        return ""
    if kind == "promql":
        if _balanced(text):
            return ""
        return ("%s is %r: give a one-line PromQL expression with balanced brackets and quotes, e.g. "
                "sum(rate(istio_requests_total[1m]))" % (variable, text))
    if kind == "selector":
        try:
            check_selector(text)
            return ""
        except ProxyStatusError as exc:
            return "%s: %s" % (variable, str(exc).replace("label_selector", "the label selector", 1))
    if kind == "command":
        if _program(text):
            return ""
        return ("%s is %r: its first word must be a program found on the controller (an absolute path or one on "
                "PATH); it runs without a shell" % (variable, text))
    pattern, example = _PATTERNS[kind]
    match = pattern.match(text)
    if match and kind == "host_port":
        match = 0 < int(text.rsplit(":", 1)[1]) <= 65535
    if match and kind in ("quantity", "duration"):
        match = _positive(text)
    return "" if match else "%s is %r: give %s" % (variable, text, example)


def problems(checks):
    """The problems of [variable, kind, value] triples, in order."""
    found = [problem(variable, kind, value) for variable, kind, value in checks or []]
    return [p for p in found if p]
