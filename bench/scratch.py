"""A scratch sandbox for benchmarks: own state folder and ports, so a running sandbox is left alone."""
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox import config  # noqa: E402
from sandbox.cluster import Sandbox  # noqa: E402
from tests.helpers.audit import AuditLog  # noqa: E402

from report import run_measured  # noqa: E402

STATE = ROOT / ".sandbox-bench"  # beside the repo's inventories, which the sandbox hooks run from
ARTIFACTS = ROOT / "artifacts" / "bench"


@contextlib.contextmanager
def scratch_sandbox(port_shift=None):
    """Yield (sandbox, env for ansible-playbook, audit log) of a fresh cluster; stop and remove it after.

    Ports shift by port_shift, else $BENCH_PORT_SHIFT, else 7000 (set it when another sandbox uses 7000)."""
    port_shift = port_shift if port_shift is not None else int(os.environ.get("BENCH_PORT_SHIFT", "7000"))
    os.environ.update(SANDBOX_PORT_SHIFT=str(port_shift), SANDBOX_STATE_DIR=str(STATE),
                      MESH_ARTIFACTS_DIR=str(ARTIFACTS))
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    box = Sandbox(paths=config.default_paths(), ports=config.default_ports(), out=lambda *_: None)
    box.up()
    env = {**os.environ, "PATH": "%s:%s:%s" % (ROOT / ".venv/bin", STATE / "bin", os.environ["PATH"]),
           "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "KUBECONFIG": str(box.paths.kubeconfig)}
    try:
        yield box, env, AuditLog(box.paths.audit_log)
    finally:
        box.down()


def ansible_playbook(env, playbook, *args):
    """Run a playbook; return (seconds, recap line). Exits with its output when it fails."""
    run = ansible_playbook_measured(env, playbook, *args)
    return run["seconds"], run["recap"]


def ansible_playbook_measured(env, playbook, *args):
    """Run a playbook; return its seconds, recap line and peak memory (KiB: the largest process of its tree,
    and the whole tree's sum, sampled). Exits with its output when it fails."""
    with tempfile.TemporaryFile(mode="w+") as out:
        returncode, seconds, largest_kib, tree_kib = run_measured(
            [str(ROOT / ".venv/bin/ansible-playbook"), playbook, *args], cwd=ROOT, env=env, stdout=out,
            stderr=subprocess.STDOUT, text=True)
        out.seek(0)
        stdout = out.read()
    if returncode != 0:
        sys.exit("%s %s failed:\n%s" % (playbook, " ".join(args), stdout[-4000:]))
    recap = [line for line in stdout.splitlines() if line.startswith("sandbox ")][-1]
    return {"seconds": seconds, "recap": " ".join(recap.split()[2:5]), "largest_kib": largest_kib,
            "tree_kib": tree_kib}


def requests_since(audit, since):
    """(all API requests, write requests) by the admin user since a time."""
    time.sleep(1)  # let the audit log writer catch up
    events = [e for e in audit.events(since) if e.get("user", {}).get("username") == "sandbox-admin"]
    return len(events), len(audit.writes(since))


def control_plane_peaks(box):
    """{process: peak RSS in KiB (VmHWM)} of every running sandbox process: etcd, kube-apiserver, the
    controller manager, the scheduler, kwok and each istiod."""
    from sandbox.cluster import CONTROL_PLANE

    from report import process_kib

    peaks = {}
    for name in CONTROL_PLANE + box.istiod_names():
        pid = box._owned_pid(name)  # pylint: disable=protected-access
        if pid:
            peaks[name] = process_kib(pid, "VmHWM")
    return peaks
