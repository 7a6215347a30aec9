"""istio_install fetches istioctl from a mirror URL into a tools folder that does not exist yet."""
import hashlib

from tests.helpers.playbook import run_playbook


def test_download_creates_the_tools_folder(sandbox, tmp_path):
    binary = (sandbox.paths.state / "bin" / "istioctl").resolve()
    tools = tmp_path / "not" / "yet" / "bin"
    run = run_playbook("tests/sandbox/playbooks/istioctl.yml", {
        "istio_install_istioctl_path": str(tmp_path / "missing" / "istioctl"),
        "istio_install_istioctl_url": binary.as_uri(),
        "istio_install_istioctl_sha256": hashlib.sha256(binary.read_bytes()).hexdigest(),
        "istio_install_tools_dir": str(tools),
    })
    assert run.rc == 0, run.stdout[-3000:]
    downloaded = next(tools.glob("istioctl-*"))
    assert downloaded.read_bytes() == binary.read_bytes()
    assert f"istioctl at {downloaded}" in run.stdout
