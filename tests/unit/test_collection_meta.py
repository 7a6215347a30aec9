"""The collection's metadata stays in step with its plugins."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_cluster_module_joins_the_cluster_action_group():
    # the modules that take the cluster connection (kubernetes.core's auth options), and only those
    paths = sorted(p for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    cluster = [p.stem for p in paths if "kubernetes.core.k8s_auth_options" in p.read_text()]
    group = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["cluster"]
    missing = [m for m in cluster if m not in group]
    assert not missing, ("add these modules to action_groups.cluster in meta/runtime.yml, so module_defaults "
                         "give them the cluster connection: %s" % missing)
    assert sorted(group) == sorted(cluster), "only modules with the connection options belong to the group"
    assert "local_files" in [p.stem for p in paths] and "local_files" not in cluster


def test_galaxy_metadata_names_this_collection():
    galaxy = yaml.safe_load((ROOT / "galaxy.yml").read_text())
    assert (galaxy["namespace"], galaxy["name"]) == ("istio_runbooks", "mesh")
    for local_state in (".sandbox", "artifacts", "tests", "sandbox", ".venv"):
        assert local_state in galaxy["build_ignore"], local_state


def test_every_filter_name_is_defined_once():
    """A name defined twice in a filter dict silently replaces the first filter."""
    import ast
    for path in sorted((ROOT / "plugins" / "filter").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict):
                names = [k.value for k in node.keys if isinstance(k, ast.Constant)]
                twice = sorted(set(n for n in names if names.count(n) > 1))
                assert not twice, "%s defines these filters twice: %s" % (path.name, twice)


def test_roles_take_the_connection_from_module_defaults_only():
    """The plays set kubeconfig and context once (module_defaults); no role task repeats them."""
    offenders = []
    for path in sorted((ROOT / "roles").glob("*/tasks/*.yml")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip().startswith(("kubeconfig:", "context:")):
                offenders.append("%s:%d" % (path.relative_to(ROOT), number))
    assert not offenders, "connection set per task (use the play's module_defaults): %s" % offenders
