"""The benchmarks' workloads: N namespaces x M Deployments, the same objects for every method compared."""
from concurrent.futures import ThreadPoolExecutor

from kubernetes import client

from tests.helpers.cluster import all_available, deployment, wait_for


def fleet_namespaces(prefix, namespaces):
    return ["%s-%02d" % (prefix, i) for i in range(namespaces)]


def fleet_deployments(per_namespace):
    return ["app-%02d" % j for j in range(per_namespace)]


def fleet_objects(prefix, namespaces, per_namespace):
    """{namespace: [Deployment, ...]}: every namespace labelled fleet=<prefix>, one-replica Deployments app-00..."""
    return {ns: [deployment(name) for name in fleet_deployments(per_namespace)]
            for ns in fleet_namespaces(prefix, namespaces)}


def create_fleet(api, prefix, namespaces, per_namespace, timeout=1800):
    """Create the fleet (20 requests at a time) and wait until every Deployment is Available; return the namespaces."""
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    objects = fleet_objects(prefix, namespaces, per_namespace)
    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(lambda ns: core.create_namespace({"metadata": {"name": ns, "labels": {"fleet": prefix}}}),
                      objects))
        list(pool.map(lambda item: apps.create_namespaced_deployment(*item),
                      [(ns, dep) for ns, deps in objects.items() for dep in deps]))
    names = list(objects)
    wait_for(lambda: all_available(api, names), timeout=timeout, interval=3)
    return names
