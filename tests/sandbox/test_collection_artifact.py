"""The collection builds from galaxy.yml, installs from its artifact, and runs a runbook from there."""
import os
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_built_artifact_installs_and_runs_a_runbook(tmp_path, sandbox):
    venv_bin = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"
    galaxy = str(venv_bin / "ansible-galaxy") if (venv_bin / "ansible-galaxy").exists() else "ansible-galaxy"
    # Outside the repository, with no ansible.cfg: only the installed artifact provides istio_runbooks.mesh.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(tmp_path / "collections"), "ANSIBLE_NOCOLOR": "1",
                "SANDBOX_STATE_DIR": str(sandbox.paths.state)})
    build = subprocess.run([galaxy, "collection", "build", str(ROOT), "--output-path", str(tmp_path)],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    artifact = next(tmp_path.glob("istio_runbooks-mesh-*.tar.gz"))
    with tarfile.open(artifact) as tar:
        names = tar.getnames()
    assert "plugins/modules/rollout_restart.py" in names and "roles/istio_install/meta/argument_specs.yml" in names
    leaked = [n for n in names if n.split("/")[0] in {"tests", "sandbox", ".sandbox", "bench", "artifacts", ".venv",
                                                       "molecule", "inventories", ".git"}]
    assert not leaked, "build_ignore lets these into the artifact: %s" % leaked[:10]

    collections = tmp_path / "collections"
    install = subprocess.run([galaxy, "collection", "install", str(artifact), "-p", str(collections), "--no-deps"],
                             env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert install.returncode == 0, install.stdout + install.stderr
    work = tmp_path / "elsewhere"
    work.mkdir()
    installed = collections / "ansible_collections" / "istio_runbooks" / "mesh"
    run = subprocess.run([str(venv_bin / "ansible-playbook"), "-i", str(ROOT / "inventories/sandbox/hosts.yml"),
                          str(installed / "playbooks" / "cluster-check.yml")], cwd=work, env=env,
                         capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "reachable" in run.stdout and "failed=0" in run.stdout
