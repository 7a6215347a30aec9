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
             "_hub", "_sha256", "_field_manager", "_address", "_registry", "_service", "_stable", "_subset",
             "_class", "_provider", "_option")
# quantities, durations and rates written as strings
QUANTITY_LIKE = ("_retention", "_interval", "_size", "_percent", "_rate", "_sampling")
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
    if kind == "int":
        return [("wrong type", "ten"), ("out of range", -1)]
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
    elif name.endswith(PATH_LIKE):
        cases.append(("missing file", "/nonexistent/bad-input; rm -rf /"))
    elif name.endswith(QUANTITY_LIKE):
        cases += [("out of range", "-1"), ("injection", INJECTION[0])]
    elif name.endswith(("_query", "_command")):
        cases.append(("injection", INJECTION[1]))
    elif name.endswith(("_dir", "_path")):
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
