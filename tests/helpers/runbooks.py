"""The runbooks of the project, found on disk, so tests over "every runbook" cover a new one automatically."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Playbooks in playbooks/ that configure the automation controller (AWX), not a cluster: no runbook contract.
CONTROLLER_PLAYBOOKS = {"playbooks/awx-configure.yml"}


def runbooks():
    """site.yml and every file in playbooks/ that runs against the clusters, as paths relative to the repository."""
    return ["site.yml"] + sorted("playbooks/" + p.name for p in (ROOT / "playbooks").glob("*.yml")
                                 if "playbooks/" + p.name not in CONTROLLER_PLAYBOOKS)


def _imports(playbook):
    """The runbooks a playbook imports (import_playbook), recursively, itself included."""
    path = (ROOT / playbook).resolve()
    found = {str(path.relative_to(ROOT))}
    for play in yaml.safe_load(path.read_text()) or []:
        target = play.get("ansible.builtin.import_playbook") or play.get("import_playbook")
        if target:
            found |= _imports(str((path.parent / target).resolve().relative_to(ROOT)))
    return found


def molecule_converged():
    """Runbooks a Molecule scenario converges; its idempotence step already audits the second run's writes."""
    covered = set()
    for converge in sorted((ROOT / "molecule").glob("*/converge.yml")):
        covered |= _imports(str(converge.relative_to(ROOT)))
    return {name for name in covered if name == "site.yml" or name.startswith("playbooks/")}
