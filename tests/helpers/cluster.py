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
