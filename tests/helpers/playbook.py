"""Run a playbook through ansible-runner (as AWX does) and return its stats and events."""
import os
import tempfile
from pathlib import Path

from istio_runbooks.run import execute

ROOT = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, runner):
        self.rc = runner.rc
        self.status = runner.status
        self.stats = runner.stats or {}
        self.events = list(runner.events)
        self.stdout = runner.stdout.read()

    def count(self, key, host="sandbox"):
        return self.stats.get(key, {}).get(host, 0)

    @property
    def changed(self):
        return self.count("changed")

    @property
    def failed(self):
        return self.rc != 0

    def task_results(self, name_part):
        return [e["event_data"]["res"] for e in self.events
                if e.get("event") in ("runner_on_ok", "runner_on_failed")
                and name_part in e["event_data"].get("task", "")]


def run_playbook(playbook, extra_vars=None, check=False, diff=False, tags=None, inventory=None, timeout=None,
                 private_data_dir=None, ident=None, evidence_dir=None):
    """timeout: seconds before ansible-runner stops the run (a hang fails the test instead of blocking it).
    private_data_dir: keep the runner's folder (artifacts, job events) there instead of a temporary one.
    The same ansible-runner call as the user's entry point, python -m istio_runbooks.run."""
    with tempfile.TemporaryDirectory(prefix="runner-") as private:
        if private_data_dir:
            os.makedirs(private_data_dir, exist_ok=True)
            private = str(private_data_dir)
        runner = execute(playbook, extra_vars, check=check, diff=diff, tags=tags, inventory=inventory,
                         timeout=timeout, private_data_dir=private, ident=ident, evidence_dir=evidence_dir)
        return Run(runner)
