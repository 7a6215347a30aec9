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


def report_folder(parent, name):
    folder = parent / name
    folder.mkdir()
    (folder / "report.json").write_text("{}")
    return folder


def test_expired_reports_are_the_oldest_beyond_keep_by_time_whatever_the_ticket():
    names = ["CHG0000002-20261126T100000000000Z", "run-20261126T090000000000Z", "CHG0000001-20261126T110000000000Z",
             "notes", "CHG0000003-20261125T235959999999Z"]
    assert evidence.expired_reports(names, 2) == ["CHG0000003-20261125T235959999999Z", "run-20261126T090000000000Z"]
    assert evidence.expired_reports(names, 4) == []
    assert evidence.expired_reports(names, 0) == [] and evidence.expired_reports(names, None) == []  # 0 keeps all
    assert evidence.expired_reports(names, 1) == ["CHG0000003-20261125T235959999999Z", "run-20261126T090000000000Z",
                                                  "CHG0000002-20261126T100000000000Z"]
    assert evidence.DEFAULT_KEEP == 50


def test_rotate_deletes_only_report_folders_beyond_keep(tmp_path):
    for hour in range(10, 16):
        report_folder(tmp_path, "CHG0012345-20261126T%02d0000000000Z" % hour)
    (tmp_path / "CHG0012345-20261126T010000000000Z").mkdir()  # no report.json: not a report, kept
    (tmp_path / "backup-20261126T010000000000Z.txt").write_text("x")  # a file: kept
    (tmp_path / "mine").mkdir()
    deleted = evidence.rotate(str(tmp_path), 3)
    assert [p.rsplit("/", 1)[-1] for p in deleted] == ["CHG0012345-20261126T%02d0000000000Z" % h for h in (10, 11, 12)]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "CHG0012345-20261126T010000000000Z", "CHG0012345-20261126T130000000000Z", "CHG0012345-20261126T140000000000Z",
        "CHG0012345-20261126T150000000000Z", "backup-20261126T010000000000Z.txt", "mine"]
    assert evidence.rotate(str(tmp_path), 3) == []  # nothing more to delete
    assert evidence.rotate(str(tmp_path / "absent"), 3) == []


def test_summary_lists_status_counts_and_changed_objects_without_values():
    report = {"runbook": "restore.yml", "change_id": "CHG0000042", "check_mode": True,
              "hosts": {"east": {"status": "ok", "stats": {"ok": 9, "changed": 2},
                                 "changes": [{"ref": "istio-system/Secret/cert", "action": "update", "task": "T",
                                              "before": {"data": "c2VjcmV0"}, "after": {"data": "bmV3"}},
                                             {"ref": "(hidden: no_log)", "action": "change", "before": None, "after": None}],
                                 "verifications": [{"name": "a", "passed": True}, {"name": "b", "passed": None}]},
                        "west": {"status": "failed", "stats": {"ok": 1, "failures": 1}, "changes": [],
                                 "verifications": [{"name": "c", "passed": False}]}}}
    brief = evidence.summary(report, ["/runs/CHG0000042-20261126T100000000000Z"])
    assert brief == {
        "runbook": "restore.yml", "change_id": "CHG0000042", "mode": "plan", "status": "failed",
        "clusters": {"east": {"status": "ok", "ok": 9, "changed": 2, "failed": 0, "unreachable": 0},
                     "west": {"status": "failed", "ok": 1, "changed": 0, "failed": 1, "unreachable": 0}},
        "changed_objects": [{"cluster": "east", "ref": "istio-system/Secret/cert", "action": "update"},
                            {"cluster": "east", "ref": "(hidden: no_log)", "action": "change"}],
        "verifications": {"passed": 1, "failed": 1},
        "reports": ["/runs/CHG0000042-20261126T100000000000Z/report.json"]}
    assert "c2VjcmV0" not in str(brief) and "bmV3" not in str(brief)
    many = {"hosts": {"a": {"status": "ok", "changes": [{"ref": "r%d" % i, "action": "create"} for i in range(205)]}}}
    brief = evidence.summary(many)
    assert len(brief["changed_objects"]) == 200 and brief["changed_objects_left_out"] == 5 and brief["status"] == "ok"


def test_the_callback_keeps_the_newest_reports_and_prints_the_summary(tmp_path):
    """A local play (no cluster) through the enabled callback: with keep 2, the run's own report and the newest
    older one stay; the summary line follows the recap."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    evidence_dir = tmp_path / "evidence"
    evidence_dir.mkdir()
    for hour in (1, 2, 3):
        report_folder(evidence_dir, "CHG0000007-20260101T%02d0000000000Z" % hour)
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - ansible.builtin.set_fact:\n        change_ticket_evidence_dir: %s\n" % evidence_dir)
    env = dict(os.environ, ANSIBLE_CONFIG=str(root / "ansible.cfg"), ISTIO_RUNBOOKS_EVIDENCE_KEEP="2",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false")
    run = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                          "-c", "local", "-e", "change_id=CHG0000008", str(playbook)],
                         cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    kept = sorted(p.name for p in evidence_dir.iterdir())
    assert len(kept) == 2 and kept[0] == "CHG0000007-20260101T030000000000Z" and kept[1].startswith("CHG0000008-"), kept
    [line] = [l for l in run.stdout.splitlines() if l.startswith("Evidence summary: ")]
    brief = json.loads(line[len("Evidence summary: "):])
    assert brief["change_id"] == "CHG0000008" and brief["status"] == "ok" and brief["mode"] == "run"
    assert brief["reports"] == [str(evidence_dir / kept[1] / "report.json")]


def test_rotation_never_deletes_the_evidence_of_a_change(tmp_path):
    import json
    changed = {"hosts": {"east": {"stats": {"changed": 1}, "changes": [{"ref": "ns/ConfigMap/a", "action": "update"}]}}}
    plan = dict(changed, check_mode=True)
    nothing = {"hosts": {"east": {"stats": {"changed": 0}, "changes": []}}}
    for hour, report in ((10, changed), (11, plan), (12, nothing), (13, nothing)):
        folder = tmp_path / ("CHG0012345-20261126T%02d0000000000Z" % hour)
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps(report))
    deleted = evidence.rotate(str(tmp_path), 1)
    assert sorted(p.rsplit("/", 1)[-1] for p in deleted) == ["CHG0012345-20261126T110000000000Z",
                                                             "CHG0012345-20261126T120000000000Z"]
    assert (tmp_path / "CHG0012345-20261126T100000000000Z" / "report.json").exists()


def test_rotation_reads_the_marker_not_the_report_and_marks_older_folders(tmp_path):
    import json
    for hour, marker in ((10, evidence.WROTE_NOTHING), (11, evidence.WROTE_CHANGES), (12, evidence.WROTE_NOTHING)):
        folder = tmp_path / ("CHG0012345-20261126T%02d0000000000Z" % hour)
        folder.mkdir()
        (folder / "report.json").write_text("not read")  # the marker decides
        (folder / marker).write_text("")
    legacy = tmp_path / "CHG0012345-20261126T090000000000Z"
    legacy.mkdir()
    (legacy / "report.json").write_text(json.dumps({"hosts": {"east": {"stats": {"changed": 2}, "changes": []}}}))
    deleted = evidence.rotate(str(tmp_path), 1)
    assert [p.rsplit("/", 1)[-1] for p in deleted] == ["CHG0012345-20261126T100000000000Z"]
    assert (legacy / evidence.WROTE_CHANGES).exists(), "a folder from before the markers is marked once"
    both = tmp_path / "CHG0012345-20261126T080000000000Z"
    both.mkdir()
    (both / "report.json").write_text("{}")
    (both / evidence.WROTE_NOTHING).write_text("")
    (both / evidence.WROTE_CHANGES).write_text("")
    assert evidence.rotate(str(tmp_path), 0) == [] and evidence.rotate(str(tmp_path), 1) == []
    assert both.exists(), "a folder marked both ways keeps its evidence"
    assert evidence.run_marker({"check_mode": True}) == evidence.WROTE_NOTHING
    assert evidence.run_marker({"hosts": {"a": {"stats": {"changed": 1}}}}) == evidence.WROTE_CHANGES
