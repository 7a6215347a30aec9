"""Wave order as serial batches, and the inventory checks made before a multi-cluster change."""
import pytest
import yaml

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.waves import (
    WaveError, inventory_problems, kubeconfig_cluster, wave_batches, wave_plan)

# groups as Ansible builds them for inventories/production/hosts.yml (children listed canary, wave1, wave2)
PRODUCTION = {
    "all": ["prod-eu-1", "prod-us-1", "prod-us-2", "prod-ap-1"],
    "ungrouped": [],
    "mesh_clusters": ["prod-eu-1", "prod-us-1", "prod-us-2", "prod-ap-1"],
    "canary": ["prod-eu-1"], "wave1": ["prod-us-1", "prod-us-2"], "wave2": ["prod-ap-1"],
}


def test_one_batch_per_wave_canary_first():
    assert wave_batches(PRODUCTION) == [1, 2, 1]


def test_batch_size_splits_a_wave_but_never_joins_two():
    assert wave_batches(PRODUCTION, batch_size=1) == [1, 1, 1, 1]
    groups = dict(PRODUCTION, wave2=["prod-ap-1", "prod-ap-2", "prod-ap-3"],
                  mesh_clusters=PRODUCTION["mesh_clusters"] + ["prod-ap-2", "prod-ap-3"])
    assert wave_batches(groups, batch_size=2) == [1, 2, 2, 1]


def test_limit_keeps_waves_apart():
    # --limit leaves wave1's second host and wave2: they must not share a batch
    assert wave_batches(PRODUCTION, play_hosts=["prod-us-2", "prod-ap-1"]) == [1, 1]
    assert wave_batches(PRODUCTION, play_hosts=["prod-us-1", "prod-us-2"]) == [2]


def test_an_inventory_without_waves_is_one_batch_as_before():
    sandbox = {"all": ["sandbox"], "ungrouped": [], "mesh_clusters": ["sandbox"]}
    assert wave_batches(sandbox) == [1]
    assert wave_batches({"all": ["a", "b"], "mesh_clusters": ["a", "b"]}) == [2]
    assert wave_plan(sandbox, ["sandbox"]) == ["sandbox"]


def test_a_target_of_names_is_ordered_as_written():
    assert wave_batches(PRODUCTION, "canary:wave1") == [1, 2]
    assert wave_batches(PRODUCTION, "prod-eu-1,prod-ap-1") == [1, 1]


def test_a_later_wave_before_an_earlier_one_is_refused_naming_both_hosts():
    # a host listed directly under mesh_clusters comes before its children's hosts
    groups = dict(PRODUCTION, mesh_clusters=["prod-ap-1", "prod-eu-1", "prod-us-1", "prod-us-2"])
    with pytest.raises(WaveError, match="host prod-eu-1 .canary. comes after prod-ap-1 .wave2. in mesh_clusters"):
        wave_batches(groups)
    with pytest.raises(WaveError, match="mesh_serial"):
        wave_batches(PRODUCTION, "wave2:canary")


def test_patterns_the_waves_cannot_order_ask_for_mesh_serial():
    for pattern in ("mesh_clusters:&canary", "mesh_clusters:!canary", "prod-*", ""):
        with pytest.raises(WaveError, match="mesh_serial"):
            wave_batches(PRODUCTION, pattern)


def test_wave_plan_names_each_wave():
    assert wave_plan(PRODUCTION, PRODUCTION["mesh_clusters"]) == [
        "canary: prod-eu-1", "wave1: prod-us-1, prod-us-2", "wave2: prod-ap-1"]


def kubeconfig(server, context="ctx", cluster="c"):
    return {"apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": cluster, "cluster": {"server": server}}],
            "contexts": [{"name": context, "context": {"cluster": cluster, "user": "u"}}],
            "users": [{"name": "u", "user": {}}]}


def test_kubeconfig_cluster_reads_the_context_or_the_current_one():
    doc = kubeconfig("https://10.0.0.1:6443", "prod")
    assert kubeconfig_cluster(doc, "prod") == ("https://10.0.0.1:6443", "prod")
    assert kubeconfig_cluster(doc, "") == ("https://10.0.0.1:6443", "prod")
    with pytest.raises(KeyError, match="'other' is not in it .it has: prod."):
        kubeconfig_cluster(doc, "other")


def test_inventory_problems_name_the_host_and_the_variable(tmp_path):
    files = {
        "/k/a": kubeconfig("https://api.a.example:6443", "a"),
        "/k/b": kubeconfig("https://API.A.example:6443/", "b"),  # the same server, written otherwise
        "/k/c": kubeconfig("https://api.c.example", "c"),
    }

    def read(path):
        if path not in files:
            raise OSError(2, "No such file or directory")
        return files[path]

    problems = inventory_problems([
        {"host": "a", "kubeconfig": "/k/a", "context": "a"},
        {"host": "b", "kubeconfig": "/k/b", "context": "b"},
        {"host": "c", "kubeconfig": "/k/c", "context": "c"},
        {"host": "d", "kubeconfig": "", "context": "d"},
        {"host": "e", "kubeconfig": "/k/missing", "context": "e"},
        {"host": "f", "kubeconfig": "/k/c", "context": "nope"},
    ], read)
    assert problems == [
        "hosts a and b are the same cluster (API server https://API.A.example:6443/; contexts a and b): each "
        "inventory host must be a different cluster; remove one or fix its mesh_cluster_kubeconfig or "
        "mesh_cluster_context",
        "host d has no mesh_cluster_kubeconfig: set it (and mesh_cluster_context) for d in the inventory's "
        "host_vars, one host per cluster",
        "host e: mesh_cluster_kubeconfig /k/missing cannot be read (No such file or directory); fix the path in "
        "the inventory",
        "host f: mesh_cluster_context in /k/c: context 'nope' is not in it (it has: c); fix mesh_cluster_context",
    ]


def test_two_sandboxes_on_other_ports_are_two_clusters(tmp_path):
    for name, port in (("one", 16443), ("two", 18443)):
        (tmp_path / name).write_text(yaml.safe_dump(kubeconfig("https://127.0.0.1:%d" % port, "sandbox")))
    hosts = [{"host": n, "kubeconfig": str(tmp_path / n), "context": "sandbox"} for n in ("one", "two")]
    assert inventory_problems(hosts) == []
    hosts[1]["kubeconfig"] = str(tmp_path / "one")
    assert inventory_problems(hosts)[0].startswith("hosts one and two are the same cluster")
    (tmp_path / "bad").write_text("{{ not: yaml")
    assert "cannot be read (not YAML" in inventory_problems([{"host": "x", "kubeconfig": str(tmp_path / "bad")}])[0]


def test_status_lines_say_which_cluster_stopped_the_run_and_what_did_not_run():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.waves import wave_status_lines
    names = {"p1": "Cluster check", "p2": "Install", "p3": "Summary"}
    lines = wave_status_lines(PRODUCTION, PRODUCTION["mesh_clusters"], ["p1", "p2", "p3"], ["p1", "p2"],
                              {"prod-eu-1": ["p1", "p2"], "prod-us-1": ["p1"], "prod-us-2": ["p1"]},
                              {"prod-eu-1": ("p2", "Istio | Apply")}, names=names)
    assert lines == [
        "prod-eu-1  canary  FAILED   in play 'Install', task 'Istio | Apply'",
        "prod-us-1  wave1   STOPPED  last play here: 'Cluster check'; the run stopped when prod-eu-1 (canary) failed",
        "prod-us-2  wave1   STOPPED  last play here: 'Cluster check'; the run stopped when prod-eu-1 (canary) failed",
        "prod-ap-1  wave2   NOT RUN  nothing ran here: the run stopped when prod-eu-1 (canary) failed",
        "not started for any cluster: 'Summary'",
    ]
    # a failure that did not stop the run (max_fail_percentage above 0): the others finished
    lines = wave_status_lines(PRODUCTION, ["prod-eu-1", "prod-us-1"], ["p1"], ["p1"],
                              {"prod-eu-1": ["p1"], "prod-us-1": ["p1"]}, {"prod-us-1": ("p1", "t")})
    assert lines == ["prod-eu-1  canary  ok", "prod-us-1  wave1   FAILED   in play 'p1', task 't'"]

    # the failure stopped its own batch in the last play: the host beside it did not finish that play
    lines = wave_status_lines(PRODUCTION, ["prod-eu-1", "prod-us-1", "prod-us-2"], ["p1"], ["p1"],
                              {"prod-eu-1": ["p1"], "prod-us-1": ["p1"], "prod-us-2": ["p1"]},
                              {"prod-us-1": ("p1", "t")}, interrupted={"prod-us-1", "prod-us-2"})
    assert [line.split()[2] for line in lines] == ["ok", "FAILED", "STOPPED"]


def test_statuses_are_data_for_a_report():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.waves import wave_statuses
    rows, never = wave_statuses(PRODUCTION, ["prod-eu-1", "prod-us-1"], ["p1", "p2"], ["p1"],
                                {"prod-eu-1": ["p1"]}, {"prod-eu-1": ("p1", "t")}, names={"p2": "Install"})
    assert rows == [
        {"host": "prod-eu-1", "wave": "canary", "status": "failed", "play": "p1", "task": "t", "stopped_by": []},
        {"host": "prod-us-1", "wave": "wave1", "status": "not run", "play": None, "task": None,
         "stopped_by": ["prod-eu-1"]},
    ]
    assert never == ["Install"]
