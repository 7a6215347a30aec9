"""Sandbox faults end with a message that says what to do, and leave nothing half-started."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import config
from sandbox.cluster import Sandbox, SandboxError

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "sandbox" / "build.sh"


def scratch_sandbox(tmp_path, cache=None):
    paths = config.Paths(cache=cache or config.default_paths().cache, state=tmp_path / "state")
    messages = []
    return Sandbox(paths=paths, out=messages.append), messages


def test_down_when_nothing_runs_says_so(tmp_path):
    box, messages = scratch_sandbox(tmp_path)
    box.down()
    assert any("nothing is running" in m for m in messages)


def test_stale_pid_file_is_dropped_and_its_process_left_alone(tmp_path, sandbox):
    box, messages = scratch_sandbox(tmp_path)
    box.paths.run.mkdir(parents=True)
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        (box.paths.run / "etcd.pid").write_text(json.dumps({"pid": stranger.pid, "binary": str(box.bin("etcd"))}))
        (box.paths.run / "kwok.pid").write_text("not json")
        box.down(keep_state=True)
        assert stranger.poll() is None, "a process the sandbox did not start was killed"
        assert not list(box.paths.run.glob("*.pid"))
        assert any("stale PID file etcd.pid" in m for m in messages)
    finally:
        stranger.kill()
        stranger.wait()


def test_port_in_use_fails_before_starting_anything(tmp_path, sandbox):
    # the running sandbox holds the default ports
    box, _ = scratch_sandbox(tmp_path)
    with pytest.raises(SandboxError) as err:
        box.up()
    assert "port already in use" in str(err.value) and str(sandbox.ports.apiserver) in str(err.value)
    assert not list(box.paths.run.glob("*.pid")), "half-started state left behind"


def test_missing_binaries_name_the_build_command(tmp_path):
    box, _ = scratch_sandbox(tmp_path, cache=tmp_path / "empty-cache")
    with pytest.raises(SandboxError) as err:
        box.up()
    assert "python -m sandbox build" in str(err.value)


def _build(tmp_path, *targets, env=None):
    run_env = {**os.environ, "ISTIO_RUNBOOKS_CACHE": str(tmp_path / "cache"), **(env or {})}
    return subprocess.run(["bash", str(BUILD), *targets], capture_output=True, text=True, env=run_env, timeout=900,
                          check=False)


def test_build_without_go_says_how_to_get_it(tmp_path):
    result = _build(tmp_path, "etcd", env={"PATH": "/usr/bin:/bin"})
    assert result.returncode != 0
    assert "no Go toolchain" in result.stderr and "real cluster" in result.stderr


def test_build_with_unreachable_proxy_names_goproxy(tmp_path):
    result = _build(tmp_path, "etcd", env={"GOPROXY": "http://127.0.0.1:9", "GOMODCACHE": str(tmp_path / "mod"),
                                           "GOFLAGS": "-mod=mod"})
    assert result.returncode != 0
    assert "GOPROXY" in result.stderr and "unreachable" in result.stderr
    assert not (tmp_path / "cache" / "bin" / f"etcd-{config.load_versions()['ETCD_VERSION']}").exists()


def test_corrupted_cached_binary_is_rebuilt(tmp_path):
    version = config.load_versions()["ETCD_VERSION"]
    binary = tmp_path / "cache" / "bin" / f"etcd-{version}"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF truncated")
    binary.chmod(0o755)
    result = _build(tmp_path, "etcd")
    assert result.returncode == 0, result.stderr
    assert "corrupted" in result.stdout
    assert subprocess.run([str(binary), "--version"], capture_output=True, check=False).returncode == 0


def test_unknown_build_target_is_refused(tmp_path):
    result = _build(tmp_path, "etdc")
    assert result.returncode != 0 and "unknown target 'etdc'" in result.stderr


def test_status_tells_a_partly_running_sandbox_from_none(tmp_path, sandbox):
    """scripts/test.sh stops the sandbox at the end only when status said nothing ran (exit 4); a sandbox
    with one component down (exit 3) is the user's, and is only completed."""
    env = {**os.environ, "SANDBOX_STATE_DIR": str(tmp_path / "none")}
    none = subprocess.run([sys.executable, "-m", "sandbox", "status"], cwd=ROOT, env=env, capture_output=True)
    assert none.returncode == 4, none.stdout
    env["SANDBOX_STATE_DIR"] = str(sandbox.paths.state)
    up = subprocess.run([sys.executable, "-m", "sandbox", "status"], cwd=ROOT, env=env, capture_output=True)
    assert up.returncode == 0, up.stdout
    script = (ROOT / "scripts" / "test.sh").read_text()
    assert '[ "$status" = 4 ] && [ "$state_existed" = 0 ] && started_dirs+=' in script
