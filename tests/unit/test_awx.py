"""The repository as an AWX project: job templates and surveys generated from the roles' argument specs and
committed as generated, each survey checked against the specs, and requirements.yml resolving."""
import functools
import importlib.util
import json
import re

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.helpers.runbooks import ROOT, runbooks

spec = importlib.util.spec_from_file_location("awx_templates", ROOT / "scripts" / "awx_templates.py")
awx = importlib.util.module_from_spec(spec)
spec.loader.exec_module(awx)

COMMON = {"change_id", "change_url"}  # every runbook's change-ticket inputs
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# argument spec type -> the survey types that carry it
CARRIES = {"str": {"text", "password", "multiplechoice"}, "path": {"text", "multiplechoice"}, "int": {"integer"},
           "float": {"float"}, "bool": {"multiplechoice"}, "list": {"multiselect"}}


@functools.lru_cache(maxsize=None)
def committed():
    return yaml.load((ROOT / "awx" / "job_templates.yml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def config():
    return yaml.safe_load((ROOT / "awx" / "runbooks.yml").read_text())


def survey_problems(template, options, extra_questions=()):
    """What differs between a template's survey and the runbook's role options ({variable: (role, option)})."""
    problems = []
    questions = dict((q["variable"], q) for q in template["survey_spec"]["spec"])
    for name, question in questions.items():
        if name in COMMON or name in extra_questions:
            continue
        if name not in options:
            problems.append("%s: the survey asks %s, which no role it invokes documents (or the playbook pins it)"
                            % (template["name"], name))
            continue
        role, option = options[name]
        kind = option.get("type", "str")
        if question["type"] not in CARRIES.get(kind, ()):
            problems.append("%s: %s is type %s in role %s, the survey asks %s" % (template["name"], name, kind, role,
                                                                                 question["type"]))
        choices = ["true", "false"] if kind == "bool" else [str(c) for c in option.get("choices") or [] if c != ""]
        if choices and question.get("choices") != choices:
            problems.append("%s: %s choices %s in role %s, the survey offers %s" % (
                template["name"], name, choices, role, question.get("choices")))
        default = option.get("default")
        expected = (("true" if default else "false") if kind == "bool" else [str(d) for d in default or []]
                    if kind == "list" else default if kind in ("int", "float") else "" if default is None else str(default))
        if question.get("default") != expected:
            problems.append("%s: %s defaults to %r in role %s, the survey to %r" % (
                template["name"], name, expected, role, question.get("default")))
        if question.get("required") != bool(option.get("required")):
            problems.append("%s: %s required differs from role %s" % (template["name"], name, role))
    for name, (role, _) in sorted(options.items()):
        if name not in questions and name not in template["excluded"]:
            problems.append("%s: role %s has variable %s, neither in the survey nor excluded; run "
                            "python scripts/awx_templates.py (or list it under excluded in awx/runbooks.yml, "
                            "with the reason)" % (template["name"], role, name))
    return problems


def test_committed_templates_equal_the_generated_ones():
    assert (ROOT / "awx" / "job_templates.yml").read_text() == awx.render(), \
        "awx/job_templates.yml is out of date: run python scripts/awx_templates.py"


def test_every_survey_matches_the_argument_specs_of_its_roles():
    extras = dict((playbook, {q["variable"] for q in questions})
                  for playbook, questions in (config().get("questions") or {}).items())
    problems = []
    for template in committed()["job_templates"]:
        problems += survey_problems(template, awx.runbook_options(template["playbook"]),
                                    extras.get(template["playbook"], ()))
    assert problems == []


def test_a_variable_a_role_gains_is_named():
    [template] = [t for t in committed()["job_templates"] if t["playbook"] == "playbooks/drift.yml"]
    options = dict(awx.runbook_options("playbooks/drift.yml"),
                   mesh_drift_new_setting=("mesh_drift", {"type": "str", "default": "x"}))
    assert survey_problems(template, options) == [
        "istio-runbooks | drift: role mesh_drift has variable mesh_drift_new_setting, neither in the survey nor "
        "excluded; run python scripts/awx_templates.py (or list it under excluded in awx/runbooks.yml, with the reason)"]
    # and a changed default or choice is named too
    role, option = options["mesh_drift_mtls_mode"]
    options["mesh_drift_mtls_mode"] = (role, dict(option, default="PERMISSIVE", choices=["STRICT", "PERMISSIVE"]))
    del options["mesh_drift_new_setting"]
    assert survey_problems(template, options) == [
        "istio-runbooks | drift: mesh_drift_mtls_mode choices ['STRICT', 'PERMISSIVE'] in role mesh_drift, the survey "
        "offers ['STRICT', 'PERMISSIVE', 'DISABLE']",
        "istio-runbooks | drift: mesh_drift_mtls_mode defaults to 'PERMISSIVE' in role mesh_drift, the survey to 'STRICT'"]


def test_plan_and_run_templates_per_change_runbook_one_per_read_only_runbook():
    found = committed()["job_templates"]
    read_only = set(config()["read_only"])
    by_playbook = {}
    for template in found:
        by_playbook.setdefault(template["playbook"], []).append(template)
    assert sorted(by_playbook) == sorted(runbooks())
    for playbook, templates in by_playbook.items():
        kinds = dict((t["kind"], t) for t in templates)
        if playbook in read_only:
            assert list(kinds) == ["read-only"] and kinds["read-only"]["job_type"] == "run"
        else:
            assert sorted(kinds) == ["plan", "run"], playbook
            assert (kinds["plan"]["job_type"], kinds["plan"]["diff_mode"]) == ("check", True)
            assert kinds["run"]["job_type"] == "run"
    scheduled = {s["unified_job_template"] for s in committed()["schedules"]}
    assert scheduled == {"istio-runbooks | drift", "istio-runbooks | doctor"}


def test_surveys_are_in_the_form_awx_loads():
    for template in committed()["job_templates"]:
        survey = json.loads(json.dumps(template["survey_spec"]))  # JSON as the AWX API takes it
        assert set(survey) == {"name", "description", "spec"}
        variables = [q["variable"] for q in survey["spec"]]
        assert len(variables) == len(set(variables)), template["name"]
        assert variables[:2] == ["change_id", "change_url"]
        for question in survey["spec"]:
            assert question["type"] in SURVEY_TYPES and question["question_name"] and isinstance(question["required"], bool)
            if question["type"] == "multiplechoice":  # "" is no default (the role's "" choice: leave it unanswered)
                assert question["default"] in question["choices"] + [""], (template["name"], question)
            if question["type"] == "multiselect":
                assert set(question["default"]) <= set(question["choices"]), (template["name"], question)


def _fqcns(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            name = key[len("group/"):] if isinstance(key, str) and key.startswith("group/") else key
            if isinstance(name, str) and re.match(r"^[a-z0-9_]+\.[a-z0-9_]+\.[a-z0-9_]+$", name):
                found.add(".".join(name.split(".")[:2]))
            _fqcns(value, found)
    elif isinstance(node, list):
        for item in node:
            _fqcns(item, found)
    return found


def test_requirements_yml_names_every_collection_the_playbooks_use_and_resolves_locally():
    requirements = yaml.safe_load((ROOT / "requirements.yml").read_text())
    wanted = dict((c["name"], c.get("version", "*")) for c in requirements["collections"])
    used = set()
    for path in [ROOT / "site.yml"] + sorted((ROOT / "playbooks").glob("*.yml")) + sorted(ROOT.glob("roles/*/tasks/*.yml")):
        _fqcns(yaml.safe_load(path.read_text()), used)
    missing = sorted(used - set(wanted) - {"ansible.builtin", "istio_runbooks.mesh"})
    assert missing == [], "add to requirements.yml: %s" % missing
    assert {"kubernetes.core", "awx.awx"} <= used
    import ansible_collections
    base = ansible_collections.__path__[-1]
    for name, version in wanted.items():
        manifest = json.load(open("%s/%s/MANIFEST.json" % (base, name.replace(".", "/"))))
        installed = manifest["collection_info"]["version"]
        assert version == "*" or installed in SpecifierSet(version), (name, version, installed)


@pytest.mark.parametrize("playbook", ["playbooks/awx-configure.yml"])
def test_awx_configure_uses_the_awx_modules_with_the_generated_definitions(playbook):
    tasks = yaml.safe_load((ROOT / playbook).read_text())[0]["tasks"]
    modules = {key for task in tasks for key in task if key.startswith("awx.awx.")}
    assert modules == {"awx.awx.execution_environment", "awx.awx.project", "awx.awx.inventory",
                       "awx.awx.inventory_source", "awx.awx.job_template", "awx.awx.schedule"}
    [template_task] = [t for t in tasks if "awx.awx.job_template" in t]
    assert template_task["awx.awx.job_template"]["survey_spec"] == "{{ item.survey_spec }}"
    assert template_task["loop"] == "{{ awx_configure_definitions.job_templates }}"
