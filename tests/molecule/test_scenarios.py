"""Every Molecule scenario runs its full test sequence against the sandbox.

The sequence is driven step by step, so the idempotence step is also checked against the API audit log:
a second converge must send no write request at all, not only report changed=0.
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


def molecule(step, scenario):
    result = subprocess.run(["molecule", step, "-s", scenario], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}, timeout=1800,
                            check=False)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, sandbox):
    sequence = yaml.safe_load((ROOT / "molecule" / scenario / "molecule.yml").read_text())["scenario"]["test_sequence"]
    assert "idempotence" in sequence, "every scenario proves idempotence"
    audit = AuditLog(sandbox.paths.audit_log)
    try:
        for step in sequence:
            since = now()
            rc, output = molecule(step, scenario)
            assert rc == 0, "molecule %s -s %s failed:\n%s" % (step, scenario, output[-8000:])
            if step == "idempotence":
                time.sleep(1)  # let the audit log writer catch up
                writes = audit.writes(since)
                assert writes == [], "the second converge of %s sent write requests: %s" % (scenario, writes)
    finally:
        molecule("destroy", scenario)
