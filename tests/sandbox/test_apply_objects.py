"""apply_objects against the real API server: a field dropped from the manifest is removed from the live object
(server-side apply with a stable field manager), and the run after that sends no write."""
import json
import tempfile

from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.playbook import run_playbook


def config_map(namespace, labels, data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "dropped-fields", "namespace": namespace, "labels": labels}, "data": data}


def apply(batches):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        run = run_playbook("tests/sandbox/playbooks/apply_objects.yml",
                           {"apply_batches": batches, "result_file": out.name}, timeout=180)
        assert run.rc == 0, run.stdout[-3000:]
        return json.loads(open(out.name).read())


def test_fields_dropped_from_the_manifest_are_removed_and_the_next_run_writes_nothing(api_client, namespace, audit):
    full = config_map(namespace, {"app": "web", "tier": "front"}, {"a": "1", "b": "2"})
    trimmed = config_map(namespace, {"app": "web"}, {"a": "1"})
    results = apply([[full], [trimmed]])
    assert [r["changed"] for r in results] == [True, True]
    live = client.CoreV1Api(api_client).read_namespaced_config_map("dropped-fields", namespace)
    assert live.metadata.labels == {"app": "web"} and live.data == {"a": "1"}

    since = now()
    again = apply([[trimmed]])
    assert [r["changed"] for r in again] == [False]
    assert audit.writes(since) == []
