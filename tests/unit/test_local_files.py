"""local_files: writes only what differs, atomically, with its mode; check mode writes nothing; diffs."""
import os
import stat

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.local_files import LocalFilesError, write_files


def test_writes_creates_parents_then_a_second_run_changes_nothing(tmp_path):
    path = tmp_path / "a" / "b" / "plan.yaml"
    first = write_files([{"path": str(path), "content": "kind: x\n"}])
    assert first["changed"] and path.read_text() == "kind: x\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640 and stat.S_IMODE(os.stat(path.parent).st_mode) == 0o750
    assert write_files([{"path": str(path), "content": "kind: x\n"}])["changed"] is False
    assert write_files([{"path": str(path), "content": "kind: x\n", "mode": "0600"}])["changed"] is True
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["plan.yaml"], "no temporary file left behind"


def test_check_mode_writes_nothing_and_diff_shows_the_change(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("{}\n")
    result = write_files([{"path": str(path), "content": "{\"a\": 1}\n"}], check_mode=True, diff=True)
    assert result["changed"] and path.read_text() == "{}\n"
    assert result["diff"] == [{"before_header": str(path), "after_header": str(path), "before": "{}\n",
                               "after": "{\"a\": 1}\n"}]
    big = write_files([{"path": str(path), "content": "x" * 70000}], check_mode=True, diff=True)
    assert big["diff"][0]["after"] == "(70000 characters)\n"


@pytest.mark.parametrize("entry, message", [
    ({"path": "", "content": "x"}, "files[0].path"),
    ({"path": "/tmp/x", "content": None}, "files[0].content"),
    ({"path": "/tmp/x", "content": "x", "mode": "rw"}, "files[0].mode must be an octal mode"),
])
def test_bad_entries_are_refused_naming_the_field(entry, message):
    with pytest.raises(LocalFilesError, match=message.replace("[", r"\[").replace("]", r"\]")):
        write_files([entry], check_mode=True)
