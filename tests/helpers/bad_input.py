"""Malformed values for every documented input, generated from the roles' meta/argument_specs.yml.

A new option gets cases by its type, choices and name, with no test edit: wrong type, unknown choice, empty
element, out of range, and injection-like strings wherever a name, version, selector, URL or duration goes.
"""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
INJECTION = ["default; rm -rf /", "{{ lookup('pipe','id') }}"]
# name endings of free-form strings that must be a Kubernetes name, version, selector, URL or duration
NAME_LIKE = ("_namespace", "_revision", "_name", "_tag", "_selector", "_version", "_url", "_window",
             "_hub", "_sha256", "_service", "_subset", "_stable", "_class", "_provider", "_registry",
             "_field_manager", "_option")
# free-form strings of other kinds: (name endings, malformed values)
KINDS = [
    (("_address",), [("not host:port", "istiod.istio-system.svc"), ("port out of range", "istiod:99999")]),
    (("_size",), [("not a quantity", "ten gigabytes"), ("zero", "0Gi")]),
    (("_interval", "_retention"), [("not a duration", "fifteen seconds"), ("zero", "0s")]),
    (("_query",), [("unbalanced brackets", "sum(rate(istio_requests_total[1m])")]),
    (("_command",), [("missing program", "/nonexistent/bad-input-check; rm -rf /")]),
    (("_user",), [("not a user name", "admin; rm -rf /")]),
    (("_password",), [("too short", "admin")]),
    (("_ticket_id",), [("malformed ticket", "CHG12; rm -rf /")]),
    (("_pattern",), [("not a regular expression", "^CHG[0-9")]),
    (("_runbook",), [("injection", "default; rm -rf /")]),
    (("_prefix",), [("not a DNS subdomain", "Istio Runbooks!")]),
]
# upper bounds of numbers by name ending: a percentage, a rate from 0 to 1
UPPER_BOUNDS = [(("_percent", "_sampling"), 101), (("_rate",), 1.5)]
PATH_LIKE = ("_file", "_tasks", "_restore_from", "_snapshot")

# Inputs of the runbooks themselves (the inventory's connection), checked by cluster_preflight.
RUNBOOK_INPUTS = {
    "mesh_cluster_kubeconfig": [("missing file", "/nonexistent/kubeconfig; rm -rf /")],
    "mesh_cluster_context": [("unknown context", "{{ lookup('pipe','id') }}")],
}


def entry_points():
    """(role, entry point, options) for every role entry point documented in meta/argument_specs.yml."""
    found = []
    for spec_file in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        role = spec_file.parent.parent.name
        for entry, spec in (yaml.safe_load(spec_file.read_text())["argument_specs"] or {}).items():
            found.append((role, entry, spec.get("options") or {}))
    return found


def malformed(name, option):
    """(what is wrong, value) pairs for one option."""
    kind = option.get("type", "str")
    if kind == "bool":
        return [("wrong type", "maybe")]
    if kind in ("int", "float"):
        cases = [("wrong type", "ten"), ("out of range", -1)]
        cases += [("out of range", bound) for endings, bound in UPPER_BOUNDS if name.endswith(endings)]
        return cases
    if kind == "dict":
        return [("wrong type", ["not", "a", "dict"])]
    if kind == "raw":
        return [("unknown value", "sometimes")]
    if kind == "list":
        cases = [("wrong type", {"not": "a list"})]
        if option.get("elements") == "dict":
            cases.append(("wrong element type", ["not-a-dict"]))
        elif option.get("elements", "str") == "str":
            cases.append(("empty element", [""]))
            cases += [("injection", [value]) for value in INJECTION]
        return cases
    if option.get("choices"):
        return [("unknown choice", "no-such-choice; rm -rf /")]
    cases = []
    if option.get("required"):
        cases.append(("empty", ""))
    if name.endswith(NAME_LIKE):
        cases += [("injection", value) for value in INJECTION]
    elif any(name.endswith(endings) for endings, _ in KINDS):
        cases += [case for endings, values in KINDS if name.endswith(endings) for case in values]
        cases += [("injection", INJECTION[1])]
    elif name.endswith(PATH_LIKE):
        cases.append(("missing file", "/nonexistent/bad-input; rm -rf /"))
    elif name.endswith(("_dir", "_path")) and not option.get("required"):
        cases.append(("empty", ""))
    if not cases:
        raise AssertionError("no malformed value known for %s (type str): give it choices, or extend "
                             "tests/helpers/bad_input.py for its kind of value" % name)
    return cases


def cases():
    """Every case as a dict: role, entry, variable, what, value."""
    found = []
    for role, entry, options in entry_points():
        for name, option in options.items():
            for what, value in malformed(name, option):
                found.append({"role": role, "entry": entry, "variable": name, "what": what, "value": value})
    for name, values in RUNBOOK_INPUTS.items():
        for what, value in values:
            found.append({"role": "cluster_preflight", "entry": "main", "variable": name, "what": what, "value": value})
    return found
