"""Helpers to create and wait for workloads on the sandbox."""
import time

from kubernetes import client


def wait_for(predicate, timeout=120, interval=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met within %ss" % timeout)


def deployment(name, replicas=1, template_labels=None):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": dict({"app": name}, **(template_labels or {}))},
                                  "spec": {"containers": [{"name": "app", "image": "registry.local/%s:1" % name}]}}}}


def all_available(api, namespaces):
    apps = client.AppsV1Api(api)
    for ns in namespaces:
        for dep in apps.list_namespaced_deployment(ns).items:
            s = dep.status
            if not (s.observed_generation == dep.metadata.generation and s.updated_replicas == dep.spec.replicas
                    and s.available_replicas == dep.spec.replicas and (s.replicas or 0) == dep.spec.replicas):
                return False
    return True


def create_fleet(api, prefix, namespaces=20, per_namespace=10, labels=None):
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    names = ["%s-%02d" % (prefix, i) for i in range(namespaces)]
    for ns in names:
        core.create_namespace({"metadata": {"name": ns, "labels": dict({"fleet": prefix}, **(labels or {}))}})
        for j in range(per_namespace):
            apps.create_namespaced_deployment(ns, deployment("app-%02d" % j))
    wait_for(lambda: all_available(api, names), timeout=300)
    return names


def delete_namespaces(api, names):
    from kubernetes.client.rest import ApiException

    core = client.CoreV1Api(api)
    for ns in names:
        try:
            core.delete_namespace(ns)
        except ApiException as exc:
            if exc.status != 404:
                raise


def pods_with_sidecar(api, namespaces):
    core = client.CoreV1Api(api)
    total, injected = 0, 0
    for ns in namespaces:
        for pod in core.list_namespaced_pod(ns).items:
            if pod.metadata.deletion_timestamp:
                continue
            total += 1
            names = [c.name for c in pod.spec.containers] + [c.name for c in pod.spec.init_containers or []]
            injected += "istio-proxy" in names
    return total, injected


def token_kubeconfig(api, admin_kubeconfig, service_account, namespace, path):
    """A kubeconfig (written 0600) that acts as a ServiceAccount, with a token the API server issues."""
    import os

    import yaml

    token = client.CoreV1Api(api).create_namespaced_service_account_token(
        service_account, namespace, {"spec": {"expirationSeconds": 3600}})
    with open(admin_kubeconfig, encoding="utf-8") as handle:
        config = yaml.safe_load(handle)
    config["users"] = [{"name": service_account, "user": {"token": token.status.token}}]
    config["contexts"][0]["context"]["user"] = service_account
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        yaml.safe_dump(config, handle)
    return str(path)
