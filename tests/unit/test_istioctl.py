"""istioctl: only read-only commands run; exit code, output and failures as ansible.builtin.command reports them."""
import os
import stat

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.istioctl import (
    command_words,
    read_only_problem,
    run_read_only,
)


@pytest.fixture
def fake_istioctl(tmp_path):
    """A stand-in binary: prints its arguments, writes to stderr, exits with $FAKE_RC, sleeps $FAKE_SLEEP."""
    path = tmp_path / "istioctl"
    path.write_text('#!/bin/sh\necho "args: $*"\necho "warning" >&2\n[ -z "$FAKE_SLEEP" ] || exec sleep "$FAKE_SLEEP"\n'
                    'exit "${FAKE_RC:-0}"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@pytest.mark.parametrize("args", [
    ["version", "--remote=false", "-o", "json"], ["analyze", "-A"], ["proxy-status"], ["x", "precheck", "-i", "x"],
    ["tag", "generate", "default", "--revision", "1-27"], ["tag", "list"], ["manifest", "generate", "-f", "op.yaml"],
    ["proxy-config", "cluster", "pod.ns"], ["proxy-config", "route", "p", "-o", "json"], ["precheck"],
    ["x", "describe", "pod", "p"],
])
def test_read_only_commands_are_accepted(args):
    assert read_only_problem(args) is None


@pytest.mark.parametrize("args", [
    ["install", "-y"], ["uninstall", "--purge"], ["tag", "set", "default"], ["tag", "remove", "x"], [],
    ["--kubeconfig", "k", "install"], ["manifest", "install"], ["x", "waypoint", "apply"], ["upgrade"],
    ["proxy-config", "log", "p", "--level", "debug"], ["proxy-config", "-o", "json", "log", "p"], ["proxy-config"],
    ["x", "-i", "ns", "precheck"], ["tag", "--revision", "r", "set", "default"],
])
def test_writing_commands_are_refused(args, fake_istioctl, tmp_path):
    assert "is not one of the read-only commands" in read_only_problem(args)
    result = run_read_only(fake_istioctl, args, 10)
    assert result["failed"] and result["rc"] is None and result["stdout"] == ""  # nothing ran


def test_command_words_stop_at_the_first_flag():
    assert command_words(["tag", "generate", "default", "--revision", "r"]) == ("tag", "generate", "default")
    assert command_words(["--context", "c", "install"]) == ()


def test_a_run_returns_exit_code_and_output(fake_istioctl):
    result = run_read_only(fake_istioctl, ["version", "-o", "json"], 10)
    assert result == {"changed": False, "cmd": [fake_istioctl, "version", "-o", "json"], "rc": 0,
                      "stdout": "args: version -o json\n", "stderr": "warning\n",
                      "stdout_lines": ["args: version -o json"]}


def test_a_non_zero_exit_fails_with_its_error(fake_istioctl, monkeypatch):
    monkeypatch.setenv("FAKE_RC", "3")
    result = run_read_only(fake_istioctl, ["analyze", "-A"], 10)
    assert result["failed"] and result["rc"] == 3 and not result["changed"]
    assert result["msg"] == "%s analyze -A exited with 3: warning" % fake_istioctl


def test_a_missing_binary_fails_clearly(tmp_path):
    result = run_read_only(str(tmp_path / "nope"), ["version"], 10)
    assert result["failed"] and result["rc"] is None and result["msg"].startswith("cannot run %s" % (tmp_path / "nope"))


def test_a_command_over_its_time_is_stopped(fake_istioctl, monkeypatch):
    monkeypatch.setenv("FAKE_SLEEP", "5")
    result = run_read_only(fake_istioctl, ["proxy-status"], 1)
    assert result["failed"] and result["rc"] is None and "did not finish within 1 s" in result["msg"]
    assert os.path.basename(fake_istioctl) in result["msg"]
