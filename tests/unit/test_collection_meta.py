"""The collection's metadata stays in step with its plugins."""
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_joins_the_cluster_action_group():
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    group = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]["cluster"]
    missing = [m for m in modules if m not in group]
    assert not missing, ("add these modules to action_groups.cluster in meta/runtime.yml, so module_defaults "
                         "give them the cluster connection: %s" % missing)


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
