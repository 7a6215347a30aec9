"""Every kubernetes.core task in the roles retries transient API failures, so a new one cannot forget it."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = ("kubernetes.core.k8s", "kubernetes.core.k8s_info")


def tasks(items):
    for task in items or []:
        if isinstance(task, dict):
            yield task
            for key in ("block", "rescue", "always"):
                yield from tasks(task.get(key))


def test_every_kubernetes_core_task_retries_transient_api_failures():
    missing = []
    for path in sorted(ROOT.glob("roles/*/tasks/*.yml")):
        for task in tasks(yaml.safe_load(path.read_text())):
            if any(m in task for m in MODULES):
                # a wait loop keeps its own retries; its until guards against transient failures first
                if "transient_api_failure" not in str(task.get("until", "")) or not task.get("retries"):
                    missing.append("%s: %s" % (path.relative_to(ROOT), task.get("name")))
    assert not missing, "add until/retries/delay (see any other kubernetes.core task):\n" + "\n".join(missing)
