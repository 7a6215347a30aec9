"""The evidence report: changes and verifications read from task results, and its Markdown."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import evidence

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop", "resourceVersion": "9",
                                                             "labels": {"istio-injection": "enabled"}}}


def test_changes_from_apply_objects_k8s_diffs_and_rollout_restart():
    applied = {"changed": True, "changes": [{"ref": "shop/ConfigMap/a", "action": "update", "before": {".data.v": "1"},
                                             "after": {".data.v": "2"}}]}
    assert evidence.changes_of(applied) == [{"ref": "shop/ConfigMap/a", "action": "update",
                                             "before": {".data.v": "1"}, "after": {".data.v": "2"}}]
    k8s = {"changed": True, "result": NS, "diff": {"before": {"metadata": {"labels": {}, "managedFields": []}},
                                                   "after": {"metadata": {"labels": {"istio-injection": "enabled"}}}}}
    [record] = evidence.changes_of(k8s)
    assert record == {"ref": "Namespace/shop", "action": "update", "before": {"metadata": {"labels": {}}},
                      "after": {"metadata": {"labels": {"istio-injection": "enabled"}}}}
    [record] = evidence.changes_of({"changed": True, "result": NS, "method": "create"})
    assert record["action"] == "create" and "resourceVersion" not in record["after"]["metadata"]
    restarted = {"changed": True, "restarted": [{"kind": "Deployment", "namespace": "shop", "name": "cart",
                                                 "outcome": "restarted", "reason": "no sidecar"}]}
    assert [r["ref"] for r in evidence.changes_of(restarted)] == ["shop/Deployment/cart"]
    assert evidence.changes_of({"censored": "the output has been hidden", "changed": True}) == [
        {"ref": "(hidden: no_log)", "action": "change", "before": None, "after": None}]


def test_secret_data_never_reaches_the_report():
    secret = {"kind": "Secret", "metadata": {"name": "cert", "namespace": "istio-system"}, "data": {"tls.key": "c2VjcmV0"}}
    [record] = evidence.changes_of({"changed": True, "result": secret, "method": "create"})
    assert "c2VjcmV0" not in str(record)


def test_verifications_are_asserts_and_mesh_verification_stats():
    assert evidence.verifications_of("ansible.builtin.assert", "Check", {"msg": "All assertions passed"}, False) == [
        {"name": "Check", "passed": True, "detail": "All assertions passed"}]
    [failed] = evidence.verifications_of("ansible.builtin.assert", "Check", {"msg": "no istiod"}, True)
    assert failed["passed"] is False and failed["detail"] == "no istiod"
    stats = {"ansible_stats": {"data": {"mesh_verification": {"injection": {"passed": True, "pods": 3}}}}}
    assert evidence.verifications_of("ansible.builtin.set_stats", "Record", stats, False) == [
        {"name": "injection", "passed": True, "detail": {"passed": True, "pods": 3}}]


def test_markdown_names_the_plan_and_escapes_table_cells():
    report = {"runbook": "install.yml", "change_id": "CHG0012345", "check_mode": True, "seconds": 1.0,
              "hosts": {"sandbox": {"status": "ok", "stats": {"ok": 3}, "changes": [
                  {"ref": "Namespace/shop", "action": "update", "task": "Label", "before": {}, "after": {"x": 1}}],
                  "verifications": [{"name": "A | B", "passed": True, "detail": "ok"}]}},
              "plays": [{"name": "Istio | Install", "seconds": 1.0}], "tasks": []}
    text = evidence.markdown(report)
    assert "plan (--check, nothing written)" in text and "## Planned changes" in text
    assert "| sandbox | A \\| B | passed |" in text and "update Namespace/shop" in text
