"""observability_addons against the sandbox: bad input refused before any write, and a dry run that writes nothing.

Converge, idempotence, Kiali/Grafana config, operator mode and removal are proven by the Molecule scenario
observability_addons (tests/molecule).
"""
import json
import re
import time

from tests.helpers.audit import now
from tests.helpers.playbook import run_playbook


def test_bad_input_fails_before_any_write_naming_the_variable(sandbox, audit):
    since = now()
    run = run_playbook("tests/sandbox/playbooks/observability_addons_bad_input.yml")
    assert run.rc == 0, run.stdout[-3000:]
    messages = json.loads(run.task_results("Bad input | Messages")[0]["msg"])
    expected = {"unknown_addon": r"observability_addons_enabled: unknown addon \"loki\"",
                "image_with_spaces": r"observability_addons_grafana_image .*\"docker.io/grafana/ grafana:12.0.1\"",
                "kiali_anonymous": r"observability_addons_kiali_auth_strategy is anonymous.*observability_addons_kiali_anonymous_acknowledged",
                "kiali_istio_pair": r"observability_addons_kiali_image tag v1.73: Kiali 1.73 supports Istio 1.16 to 1.18, not Istio 1.31",
                "retention": r"observability_addons_prometheus_retention is '-1d'"}
    for case, pattern in expected.items():
        assert re.search(pattern, messages[case]), "%s: %s" % (case, messages[case])
    time.sleep(1)
    assert audit.writes(since) == []


def test_dry_run_writes_nothing(sandbox, audit):
    # two addons that need no control plane: the test does not pay for an install
    assert run_playbook("playbooks/observability-addons.yml", {"observability_addons_enabled": ["prometheus", "grafana"],
                                                               "observability_addons_verify_http": False}).rc == 0
    since = now()
    run = run_playbook("playbooks/observability-addons.yml", {"observability_addons_enabled": ["prometheus"],
                                                               "observability_addons_prometheus_retention": "30d"},
                       check=True, diff=True)
    assert run.rc == 0, run.stdout[-3000:]
    assert "--storage.tsdb.retention.time=30d" in run.stdout
    assert "Delete the objects of disabled addons" in run.stdout and run.changed > 0
    time.sleep(1)
    assert audit.writes(since) == []
