"""Canary upgrade by revision: upgrade, promote, rollback and finish, with a real istiod per revision."""
import json
import os
import subprocess

import pytest
from kubernetes import client

from tests.helpers.audit import now
from tests.helpers.cluster import all_available, deployment, wait_for
from tests.helpers.playbook import run_playbook

GATEWAYS = ["istio-egressgateway", "istio-ingressgateway"]
NEVER_MATCH = {"match_labels": {"istio.io/deactivated": "never-match"}, "match_expressions": None}


@pytest.fixture(scope="module")
def injected_namespace(installed_mesh, api_client):
    core, apps = client.CoreV1Api(api_client), client.AppsV1Api(api_client)
    core.create_namespace({"metadata": {"name": "canary-shop"}})
    for name in ("web", "api"):
        apps.create_namespaced_deployment("canary-shop", deployment(name, replicas=2))
    wait_for(lambda: all_available(api_client, ["canary-shop"]))
    run = run_playbook("playbooks/sidecar-injection.yml", {"sidecar_injection_namespaces": ["canary-shop"]})
    assert run.rc == 0, run.stdout[-3000:]
    yield "canary-shop"
    core.delete_namespace("canary-shop")
    # back to one default revision: the default install takes the tag and gateways back, then canary goes
    run = run_playbook("playbooks/install.yml")
    assert run.rc == 0, run.stdout[-3000:]
    run_playbook("playbooks/teardown.yml", {"teardown_scope": "revision", "teardown_revision": "canary",
                                            "teardown_force": True})


def revisions(api, ns):
    pods = client.CoreV1Api(api).list_namespaced_pod(ns).items
    return sorted(set(json.loads(p.metadata.annotations["sidecar.istio.io/status"])["revision"]
                      for p in pods if not p.metadata.deletion_timestamp))


def upgrade(action, **extra):
    return run_playbook("playbooks/upgrade.yml", dict({"istio_upgrade_action": action,
                                                       "istio_upgrade_to_revision": "canary",
                                                       "istio_upgrade_namespaces": ["canary-shop"]}, **extra))


def tags(api):
    """Revision tag -> revision, from the tag webhooks."""
    hooks = client.AdmissionregistrationV1Api(api).list_mutating_webhook_configuration(label_selector="istio.io/tag")
    return {h.metadata.labels["istio.io/tag"]: h.metadata.labels["istio.io/rev"] for h in hooks.items}


def gateways(api):
    """Gateway object (kind, name) -> (uid, revision), Deployments, Services and ServiceAccounts."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    selector = "operator.istio.io/component in (IngressGateways,EgressGateways)"
    found = {}
    for kind, lister in (("Deployment", apps.list_namespaced_deployment), ("Service", core.list_namespaced_service),
                         ("ServiceAccount", core.list_namespaced_service_account)):
        for obj in lister("istio-system", label_selector=selector).items:
            found[(kind, obj.metadata.name)] = (obj.metadata.uid, obj.metadata.labels.get("istio.io/rev"))
    return found


def gateway_revisions(api):
    return sorted(set(rev for (kind, _), (_, rev) in gateways(api).items() if kind == "Deployment"))


def istiods(api):
    return sorted(d.metadata.name for d in client.AppsV1Api(api).list_namespaced_deployment(
        "istio-system", label_selector="app=istiod").items)


def analyze_codes(sandbox):
    """The codes the real istioctl analyze -A reports for the whole cluster."""
    env = dict(os.environ, KUBECONFIG=str(sandbox.paths.kubeconfig))
    out = subprocess.run([str(sandbox.bin("istioctl")), "analyze", "-A", "-o", "json"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.stdout.strip().startswith("["), out.stderr[-2000:]
    return sorted(set(m["code"] for m in json.loads(out.stdout)))


def injector_selectors(api):
    """istio-sidecar-injector (the default revision's own injector): webhook -> (namespace, object) selector."""
    hook = client.AdmissionregistrationV1Api(api).read_mutating_webhook_configuration("istio-sidecar-injector")
    return dict((w.name, (w.namespace_selector.to_dict(), w.object_selector.to_dict())) for w in hook.webhooks)


@pytest.fixture(scope="module")
def installed_injector(installed_mesh, api_client):
    """The default revision's injector as the install left it: the default tag serves its pods instead."""
    return injector_selectors(api_client)


def test_the_install_has_one_injector_per_pod(installed_injector, sandbox):
    """istioctl tag set default deactivates istio-sidecar-injector; the install does the same (no IST0139)."""
    assert all(selectors == (NEVER_MATCH, NEVER_MATCH) for selectors in installed_injector.values()), installed_injector
    assert "IST0139" not in analyze_codes(sandbox)


def test_upgrade_moves_workloads_to_the_canary_revision(injected_namespace, api_client, sandbox):
    assert revisions(api_client, injected_namespace) == ["default"]
    run = upgrade("upgrade")
    assert run.rc == 0, run.stdout[-4000:]
    assert revisions(api_client, injected_namespace) == ["canary"]
    labels = client.CoreV1Api(api_client).read_namespace(injected_namespace).metadata.labels
    assert labels.get("istio.io/rev") == "prod-stable" and "istio-injection" not in labels
    assert "matches injection enabled on revision canary" in " ".join(run.stdout.split())
    again = upgrade("upgrade")
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]
    assert "IST0139" not in analyze_codes(sandbox)


def test_verify_fails_when_pods_run_another_revision_than_expected(injected_namespace, audit):
    since = now()
    run = run_playbook("playbooks/sidecar-injection.yml", {
        "sidecar_injection_namespaces": [injected_namespace], "sidecar_injection_revision": "prod-stable",
        "sidecar_injection_expected_revision": "default", "sidecar_injection_restart": False})
    assert run.rc != 0
    assert "runs revision canary, expected default" in " ".join(run.stdout.split()), run.stdout[-3000:]
    assert audit.writes(since) == []


def test_finish_is_refused_while_a_tag_points_at_the_old_revision(injected_namespace, api_client, audit):
    before = gateways(api_client)
    since = now()
    run = upgrade("finish")
    assert run.rc != 0
    text = " ".join(run.stdout.split())
    assert "Revision tag(s) default still point at revision default" in text
    assert "Run istio_upgrade_action=promote first" in text
    assert audit.writes(since) == []
    assert gateways(api_client) == before


def test_rollback_moves_workloads_back(injected_namespace, api_client):
    run = upgrade("rollback")
    assert run.rc == 0, run.stdout[-4000:]
    assert revisions(api_client, injected_namespace) == ["default"]
    assert upgrade("rollback").changed == 0


def test_the_unused_canary_revision_can_be_removed(injected_namespace, api_client):
    run = run_playbook("playbooks/teardown.yml", {"teardown_scope": "revision", "teardown_revision": "canary"})
    assert run.rc == 0, run.stdout[-4000:]
    apps = client.AppsV1Api(api_client)
    assert [d.metadata.name for d in apps.list_namespaced_deployment("istio-system").items
            if d.metadata.name.startswith("istiod")] == ["istiod"]
    tags = client.AdmissionregistrationV1Api(api_client).list_mutating_webhook_configuration(
        label_selector="istio.io/tag").items
    assert sorted(t.metadata.name for t in tags) == ["istio-revision-tag-default", "istio-revision-tag-prod-stable"]
    assert run_playbook("playbooks/install.yml").changed == 0


def test_promote_moves_every_tag_and_upgrades_the_gateways_in_place(injected_namespace, api_client, sandbox,
                                                                   installed_injector):
    assert upgrade("upgrade").rc == 0
    before = gateways(api_client)
    assert sorted(name for kind, name in before if kind == "Deployment") == GATEWAYS
    assert gateway_revisions(api_client) == ["default"]
    run = upgrade("promote")
    assert run.rc == 0, run.stdout[-4000:]
    assert tags(api_client) == {"default": "canary", "prod-stable": "canary"}
    assert injector_selectors(api_client) == installed_injector, "the default tag alone serves default pods"
    assert "IST0139" not in analyze_codes(sandbox)
    assert gateway_revisions(api_client) == ["canary"]
    after = gateways(api_client)
    assert {k: uid for k, (uid, _) in after.items()} == {k: uid for k, (uid, _) in before.items()}, "not in place"
    again = upgrade("promote")
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]
    assert upgrade("upgrade").changed == 0, "a repeated upgrade after promote must leave the gateways alone"
    assert gateway_revisions(api_client) == ["canary"]


def test_rollback_after_promote_puts_tags_and_gateways_back(injected_namespace, api_client, sandbox,
                                                            installed_injector):
    before = gateways(api_client)
    run = upgrade("rollback")
    assert run.rc == 0, run.stdout[-4000:]
    assert tags(api_client) == {"default": "default", "prod-stable": "default"}
    assert injector_selectors(api_client) == installed_injector
    assert "IST0139" not in analyze_codes(sandbox)
    assert gateway_revisions(api_client) == ["default"]
    assert {k: uid for k, (uid, _) in gateways(api_client).items()} == {k: uid for k, (uid, _) in before.items()}
    assert revisions(api_client, injected_namespace) == ["default"]
    assert upgrade("rollback").changed == 0
    assert run_playbook("playbooks/install.yml").changed == 0, "the gateways are not back as installed"


def test_a_successful_finish_removes_only_the_old_control_plane(injected_namespace, api_client):
    assert upgrade("upgrade").rc == 0
    assert upgrade("promote").rc == 0
    before = gateways(api_client)
    run = upgrade("finish")
    assert run.rc == 0, run.stdout[-4000:]
    plan = [r["ansible_facts"]["teardown_plan"] for r in run.task_results("Teardown | Work out the plan")][0]
    planned = [(o["kind"], o["metadata"]["name"]) for o in plan["objects"]]
    assert ("Deployment", "istiod") in planned
    assert not [ref for ref in planned if "gateway" in ref[1] and "istiod" not in ref[1]], planned
    assert istiods(api_client) == ["istiod-canary"]
    assert gateways(api_client) == before
    assert gateway_revisions(api_client) == ["canary"]
    assert tags(api_client) == {"default": "canary", "prod-stable": "canary"}
    assert revisions(api_client, injected_namespace) == ["canary"]
    again = upgrade("finish")
    assert again.rc == 0 and again.changed == 0, again.stdout[-4000:]
