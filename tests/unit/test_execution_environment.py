"""execution-environment.yml: `ansible-builder create` writes a build context (no container engine needed) with
the Python pins of requirements.txt, the collections of requirements.yml, and istioctl and kubectl from the
build context or a mirror URL with its sha256."""
import hashlib
import os
import shutil
import subprocess
import sys

import yaml

from tests.helpers.runbooks import ROOT


def builder():
    found = shutil.which("ansible-builder", path=os.path.dirname(sys.executable)) or shutil.which("ansible-builder")
    assert found, "ansible-builder is missing from the venv: run bash scripts/bootstrap.sh (requirements.txt pins it)"
    return found


def pins(path):
    return dict(line.split("==", 1) for line in path.read_text().splitlines()
                if line.strip() and not line.startswith("#"))


def test_ansible_builder_create_writes_the_build_context(tmp_path):
    context = tmp_path / "context"
    run = subprocess.run([builder(), "create", "--file", str(ROOT / "execution-environment.yml"),
                          "--context", str(context), "--output-filename", "Containerfile"],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    build = context / "_build"
    containerfile = (context / "Containerfile").read_text()
    # collections: requirements.yml as it is
    assert yaml.safe_load((build / "requirements.yml").read_text()) == yaml.safe_load((ROOT / "requirements.yml").read_text())
    # Python: every pin is requirements.txt's
    project = pins(ROOT / "requirements.txt")
    ee = pins(build / "requirements.txt")
    assert "kubernetes" in ee and all(project.get(name) == version for name, version in ee.items()), ee
    definition = yaml.safe_load((ROOT / "execution-environment.yml").read_text())
    for key in ("ansible_core", "ansible_runner"):
        name, version = definition["dependencies"][key]["package_pip"].split("==")
        assert project[name] == version
    # istioctl and kubectl: a mirror URL with its sha256 as build arguments, or a local copy in the context
    for arg in ("ISTIOCTL_URL", "ISTIOCTL_SHA256", "KUBECTL_URL", "KUBECTL_SHA256"):
        assert 'ARG %s=""' % arg in containerfile
    assert (build / "tools" / "install-tool.sh").exists()
    assert 'install-tool.sh istioctl "$ISTIOCTL_URL" "$ISTIOCTL_SHA256"' in containerfile


def test_tool_install_prefers_the_local_copy_and_checks_the_sha256(tmp_path):
    script = ROOT / "ee" / "install-tool.sh"
    tools, bindir = tmp_path / "tools", tmp_path / "bin"
    tools.mkdir()
    shutil.copy(script, tmp_path / "install-tool.sh")
    env = dict(os.environ, TOOLS_DIR=str(bindir), LINK_DIR=str(tmp_path / "links"))

    def install(*args):
        return subprocess.run(["sh", str(tmp_path / "install-tool.sh")] + list(args), env=env, capture_output=True,
                              text=True, timeout=60)

    run = install("kubectl", "", "")
    assert run.returncode == 1 and "put the binary in ee/tools/kubectl" in run.stderr and "KUBECTL_SHA256" in run.stderr
    download = tmp_path / "kubectl-download"
    download.write_text("#!/bin/sh\necho kubectl\n")
    run = install("kubectl", download.as_uri(), "0" * 64)
    assert run.returncode == 1 and "does not match sha256" in run.stderr
    run = install("kubectl", download.as_uri(), "")
    assert run.returncode == 1 and "without its sha256" in run.stderr
    run = install("kubectl", download.as_uri(), hashlib.sha256(download.read_bytes()).hexdigest())
    assert run.returncode == 0 and "(sha256 checked)" in run.stdout, run.stderr
    assert (bindir / "kubectl").read_text() == download.read_text()
    assert os.readlink(tmp_path / "links" / "kubectl") == str(bindir / "kubectl")
    (tools / "istioctl").write_text("#!/bin/sh\necho istioctl\n")
    run = install("istioctl", "https://unreachable.invalid/istioctl", "0" * 64)
    assert run.returncode == 0 and "istioctl from the build context" in run.stdout, run.stderr
    assert (bindir / "istioctl").read_text() == "#!/bin/sh\necho istioctl\n"
