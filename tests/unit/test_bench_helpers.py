"""Pure helpers of bench/: the workload generator, the Markdown table, memory figures, the plain script."""
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import fleet  # noqa: E402
import report  # noqa: E402
import site_converge  # noqa: E402


def test_fleet_is_n_namespaces_of_m_deployments():
    objects = fleet.fleet_objects("conv", 3, 2)
    assert list(objects) == ["conv-00", "conv-01", "conv-02"]
    assert [[d["metadata"]["name"] for d in deps] for deps in objects.values()] == [["app-00", "app-01"]] * 3
    dep = objects["conv-00"][0]
    assert dep["spec"]["replicas"] == 1
    assert dep["spec"]["selector"]["matchLabels"] == dep["spec"]["template"]["metadata"]["labels"] == {"app": "app-00"}
    assert fleet.fleet_namespaces("conv", 100)[-1] == "conv-99"
    assert fleet.fleet_objects("conv", 0, 10) == {}


def test_markdown_table():
    table = report.markdown_table(["run", "seconds"], [["a", 1.5], ["b", None]])
    assert table.splitlines() == ["| run | seconds |", "|---|---|", "| a | 1.5 |", "| b |  |"]


def test_status_kib_reads_peak_and_current_rss():
    status = "Name:\tetcd\nVmPeak:\t 900 kB\nVmHWM:\t   61234 kB\nVmRSS:\t   50000 kB\n"
    assert report.status_kib(status, "VmHWM") == 61234
    assert report.status_kib(status, "VmRSS") == 50000
    assert report.status_kib("Name:\tkthreadd\n", "VmHWM") == 0  # kernel threads have no memory fields


def test_run_measured_reports_the_largest_process_and_the_tree():
    # a child that holds about 40 MiB for a second, under a shell
    code = "import time; b = bytearray(40 << 20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1)"
    rc, seconds, largest, tree = report.run_measured(["sh", "-c", '"$0" -c "$1"; exit 3', sys.executable, code],
                                                     interval=0.1)
    assert rc == 3
    assert seconds >= 1
    assert largest >= 40 << 10
    assert tree >= 40 << 10
    assert report.descendants(os.getpid())[0] == os.getpid()


def test_plain_converge_script_does_each_step_once_per_object(tmp_path):
    script = site_converge.plain_converge_script(
        "kubectl", "istioctl", tmp_path / "op.yaml", "start-istiod", ["a", "b"], ["app-00", "app-01"],
        tmp_path / "strict.yaml", [tmp_path / "prometheus.yaml"], ["prometheus"])
    lines = script.splitlines()
    assert lines[:3] == ["set -euo pipefail", "istioctl install -f %s -y" % (tmp_path / "op.yaml"), "start-istiod"]
    assert lines.count("kubectl label namespace a istio-injection=enabled --overwrite") == 1
    assert lines.count("kubectl rollout restart deploy -n b") == 1
    assert sum(line.startswith("kubectl rollout status deploy/app-") for line in lines) == 4
    assert lines[-3:] == ["kubectl apply -f %s" % (tmp_path / "strict.yaml"),
                          "kubectl apply -f %s" % (tmp_path / "prometheus.yaml"),
                          "kubectl rollout status deploy/prometheus -n istio-system --timeout=600s"]
    subprocess.run(["bash", "-n"], input=script, text=True, check=True)  # valid bash
