"""Every Molecule scenario runs its full test sequence against the sandbox.

The sequence is driven step by step, so the idempotence step is also checked against the API audit log:
a second converge must send no write request at all, not only report changed=0.
A scenario whose prepare installs the control plane (molecule/shared/prepare-istio.yml) gets the one the
test run installed (tests/conftest.py), instead of a no-op install of its own.
"""
import os
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers.audit import AuditLog, now

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


def molecule(step, scenario, env=None):
    result = subprocess.run(["molecule", step, "-s", scenario], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1", **(env or {})},
                            timeout=1800, check=False)
    return result.returncode, result.stdout + result.stderr


def prepares_istio(scenario):
    prepare = ROOT / "molecule" / scenario / "prepare.yml"
    return prepare.exists() and "shared/prepare-istio.yml" in prepare.read_text()


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, sandbox, mesh_installer):
    sequence = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())["scenario"]["test_sequence"]
    assert "idempotence" in sequence, "every scenario proves idempotence"
    env = {}
    if prepares_istio(scenario):
        mesh_installer.ensure()
        env["ISTIO_RUNBOOKS_MESH_INSTALLED"] = "true"
    audit = AuditLog(sandbox.paths.audit_log)
    completed = False
    try:
        for step in sequence:
            since = now()
            rc, output = molecule(step, scenario, env)
            assert rc == 0, "molecule %s -s %s failed:\n%s" % (step, scenario, output[-8000:])
            if step == "idempotence":
                time.sleep(1)  # let the audit log writer catch up
                writes = audit.writes(since)
                assert writes == [], "the second converge of %s sent write requests: %s" % (scenario, writes)
        completed = sequence[-1] == "destroy"
    finally:
        if not completed:  # a failed run: clean up and destroy, which the sequence did not reach
            molecule("cleanup", scenario)
            molecule("destroy", scenario)
