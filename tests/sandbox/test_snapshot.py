"""istio_backup's snapshot entry points (used by mtls_policy): a check run writes nothing, a real run writes the
file and moves LATEST, a read finds it through LATEST, and a wrong kind or a corrupted file is refused by name."""
import json

from tests.helpers.playbook import run_playbook


def run(tmp_path, check):
    result = tmp_path / ("check.json" if check else "run.json")
    corrupted = tmp_path / "snapshot-bad.yaml"
    corrupted.write_text("- this: is\n  not: [a, snapshot\n")
    done = run_playbook("tests/sandbox/playbooks/snapshot.yml", {
        "snapshot_dir": str(tmp_path / "snapshots"), "result_file": str(result), "corrupted_file": str(corrupted)},
        check=check, timeout=120)
    assert done.rc == 0, done.stdout[-3000:]
    return json.loads(result.read_text())


def test_snapshot_entry_points(tmp_path):
    dry = run(tmp_path, check=True)
    assert dry["written"] == "" and not (tmp_path / "snapshots").exists(), "check mode wrote a snapshot"

    outcome = run(tmp_path, check=False)
    written = tmp_path / "snapshots" / outcome["written"].rsplit("/", 1)[-1]
    assert written.exists() and oct(written.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "snapshots" / "LATEST").read_text().strip() == written.name
    assert outcome["read_file"] == str(written)
    assert outcome["read"] == [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "ns"},
                                "data": {"k": "v"}}], "server-written fields are dropped"
    assert "kinds that istio_backup_snapshot_kinds does not list (Secret)" in outcome["wrong_kind"]
    assert "is corrupted" in outcome["corrupted"] and "choose another with my_snapshot" in outcome["corrupted"]
    assert len(list((tmp_path / "snapshots").glob("snapshot-*.yaml"))) == 1, "the refused snapshot wrote a file"
