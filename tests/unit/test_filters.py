"""Filter plugins: one file per subject, Jinja names equal to the Python names, and a documentation file each."""
import glob
import importlib
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# every filter the roles and runbooks have used: none may disappear in a reorganisation
KNOWN = """manifest_objects to_manifest strip_generated_fields kind_summary objects_in objects_not_in object_refs
object_ref_dict applied_configuration istiod_revision_summary revision_tags gateway_objects
gateway_problems clean_for_backup backup_differences injection_labels istio_kinds kinds_of secrets_for_backup
secret_names secret_writes secret_differences backup_namespace_label_patches namespace_label_differences
missing_namespaces batch_without_opt_out invalid_namespace_names namespace_label_patches pod_line pods_on_revision
mtls_desired_policy mtls_policy_differs mtls_dr_conflicts mtls_fixed_drs
mtls_keep_foreign_metadata mtls_planned_policies mtls_may_become_strict mtls_gate_findings mtls_gate_verdict
mtls_prometheus_query mtls_prometheus_evidence mtls_valid_window mtls_revert_plan with_resource_versions
mtls_workloads mtls_effective_table mtls_format_table teardown_required_access""".split()


def all_filters():
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "plugins/filter/*.py"))):
        module = importlib.import_module("ansible_collections.istio_runbooks.mesh.plugins.filter."
                                         + os.path.basename(path)[:-3])
        for name, function in module.FilterModule().filters().items():
            assert name not in found, "%s is defined in %s and %s" % (name, found.get(name), path)
            found[name] = (path, function)
    return found


def test_jinja_names_equal_python_names_and_none_is_lost():
    found = all_filters()
    assert sorted(set(KNOWN) - set(found)) == []
    assert [name for name, (_path, function) in found.items() if function.__name__ != name] == []


def test_each_filter_has_its_documentation_file():
    for name, (_path, function) in all_filters().items():
        doc_path = os.path.join(ROOT, "plugins/filter/%s.yml" % name)
        assert os.path.exists(doc_path), name
        doc = yaml.safe_load(open(doc_path))
        assert doc["DOCUMENTATION"]["name"] == name
        assert doc["DOCUMENTATION"]["short_description"] and doc["EXAMPLES"] and doc["RETURN"]["_value"]["type"]
        assert "istio_runbooks.mesh.%s" % name in doc["EXAMPLES"]
        import inspect
        params = list(inspect.signature(function).parameters)
        assert list(doc["DOCUMENTATION"]["options"]) == ["_input"] + params[1:], name
    assert sorted(os.path.basename(p)[:-4] for p in glob.glob(os.path.join(ROOT, "plugins/filter/*.yml"))) \
        == sorted(all_filters())
