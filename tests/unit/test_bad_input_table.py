"""The bad-input table covers every documented option of every role entry point, and every runbook."""
from tests.helpers.bad_input import RUNBOOK_INPUTS, cases, entry_points, malformed
from tests.helpers.runbooks import molecule_converged, runbooks


def test_every_documented_option_has_a_malformed_value():
    table = cases()
    covered = {(c["role"], c["entry"], c["variable"]) for c in table}
    for role, entry, options in entry_points():
        for name in options:
            assert (role, entry, name) in covered
    assert {c["variable"] for c in table} >= set(RUNBOOK_INPUTS)


def test_names_get_injection_strings_and_choices_an_unknown_one():
    assert ("injection", "{{ lookup('pipe','id') }}") in malformed("x_namespace", {"type": "str"})
    assert ("injection", ["default; rm -rf /"]) in malformed("x_namespaces", {"type": "list", "elements": "str"})
    assert malformed("x_mode", {"type": "str", "choices": ["A"]})[0][0] == "unknown choice"
    assert ("out of range", -1) in malformed("x_timeout", {"type": "int"})


def test_runbooks_are_found_on_disk_and_molecule_coverage_follows_imports():
    found = runbooks()
    assert found[0] == "site.yml" and "playbooks/install.yml" in found
    # molecule/default converges site.yml, which imports cluster-check.yml and install.yml
    assert {"site.yml", "playbooks/cluster-check.yml", "playbooks/install.yml"} <= molecule_converged()


def test_kinds_of_free_form_strings_and_number_ranges_get_cases_by_name():
    assert ("out of range", 101) in malformed("x_max_percent", {"type": "float"})
    assert ("out of range", 1.5) in malformed("x_max_error_rate", {"type": "float"})
    assert ("wrong type", "ten") in malformed("x_sampling", {"type": "float"})
    assert ("port out of range", "istiod:99999") in malformed("x_cert_address", {"type": "str"})
    assert ("zero", "0Gi") in malformed("x_storage_size", {"type": "str"})
    assert ("zero", "0s") in malformed("x_scrape_interval", {"type": "str"})
    assert ("injection", "default; rm -rf /") in malformed("x_field_manager", {"type": "str"})
    assert [what for what, _ in malformed("x_snapshot_dir", {"type": "path", "required": True})] == ["empty"]
