"""Every Molecule scenario runs its full test sequence against the sandbox."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario, sandbox):
    result = subprocess.run(["molecule", "test", "-s", scenario], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "NO_COLOR": "1"}, timeout=1800,
                            check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-8000:]
