"""A fake of the few API calls the restarter makes: workloads roll a few polls after a patch."""
import copy


def deployment(ns, name, replicas=1, labels=None, template_labels=None, annotations=None, host_network=False):
    uid = "uid-%s-%s" % (ns, name)
    return {"kind": "Deployment", "metadata": {"name": name, "namespace": ns, "uid": uid, "generation": 1,
                                               "labels": labels or {}, "annotations": {"deployment.kubernetes.io/revision": "1"}},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": dict({"app": name}, **(template_labels or {})),
                                                                     "annotations": annotations or {}},
                                                        "spec": {"hostNetwork": host_network}}},
            "status": {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                       "availableReplicas": replicas}}


def pod_for(workload, index=0, sidecar=False, native=False, revision="default", phase="Running", terminating=False):
    rs_uid = "rs-" + workload["metadata"]["uid"]
    containers = [{"name": "app"}] + ([{"name": "istio-proxy"}] if sidecar and not native else [])
    init = [{"name": "istio-proxy", "restartPolicy": "Always"}] if sidecar and native else []
    labels = {"istio.io/rev": revision} if sidecar else {}
    meta = {"name": "%s-%d" % (workload["metadata"]["name"], index), "namespace": workload["metadata"]["namespace"],
            "labels": labels, "ownerReferences": [{"uid": rs_uid}]}
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": meta, "spec": {"containers": containers, "initContainers": init}, "status": {"phase": phase}}


def replicaset_for(workload):
    return {"metadata": {"name": workload["metadata"]["name"] + "-rs", "namespace": workload["metadata"]["namespace"],
                        "uid": "rs-" + workload["metadata"]["uid"], "ownerReferences": [{"uid": workload["metadata"]["uid"]}]}}


class FakeApi(object):
    def __init__(self, namespaces, roll_after=2):
        self.namespaces = list(namespaces)
        self.objects = {}  # (kind, ns) -> [obj]
        self.roll_after = roll_after
        self.pending = {}  # (ns, name) -> polls left
        self.stuck = set()
        self.deadline = set()
        self.replica_failure = {}  # (ns, name) -> message of a ReplicaFailure condition once the change is observed
        self.calls = []
        self.patches = []
        self.max_in_flight = 0
        self.deny_patch = {}  # name -> ApiCallError the patch raises
        self.deny_list = {}  # (kind, namespace or None) -> ApiCallError the list raises
        self.hooks = []  # called with (kind, namespace) before each list: changes the cluster mid-run

    def get(self, kind, namespace, name):
        self.calls.append(("get", kind, namespace, name))
        if kind == "Namespace":
            return {"metadata": {"name": name}} if name in self.namespaces else None
        return next((o for o in self.objects.get((kind, namespace), []) if o["metadata"]["name"] == name), None)

    def add(self, kind, obj):
        self.objects.setdefault((kind, obj["metadata"]["namespace"]), []).append(obj)

    def list(self, kind, namespace, label_selector=None):
        self.calls.append(("list", kind, namespace))
        for hook in self.hooks:
            hook(kind, namespace)
        if (kind, namespace) in self.deny_list:
            raise self.deny_list[(kind, namespace)]
        if kind == "Namespace":
            return [{"metadata": {"name": n}} for n in self.namespaces]
        if namespace is None:
            return [o for (k, ns) in list(self.objects) if k == kind for o in self._namespaced(kind, ns, label_selector)]
        return self._namespaced(kind, namespace, label_selector)

    def _namespaced(self, kind, namespace, label_selector):
        items = self.objects.get((kind, namespace), [])
        if kind == "Deployment":
            for obj in items:
                key = (namespace, obj["metadata"]["name"])
                if key in self.pending:
                    self.pending[key] -= 1
                    if self.pending[key] <= 0 and key not in self.stuck:
                        obj["status"].update(observedGeneration=obj["metadata"]["generation"],
                                             updatedReplicas=obj["spec"]["replicas"],
                                             availableReplicas=obj["spec"]["replicas"], replicas=obj["spec"]["replicas"])
                        rev = int(obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"]) + 1
                        obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = str(rev)
                        del self.pending[key]
                    elif key in self.replica_failure:
                        obj["status"]["observedGeneration"] = obj["metadata"]["generation"]
                        obj["status"]["conditions"] = [{"type": "ReplicaFailure", "status": "True",
                                                        "reason": "FailedCreate", "message": self.replica_failure[key]}]
                    elif key in self.deadline:
                        obj["status"]["observedGeneration"] = obj["metadata"]["generation"]
                        obj["status"]["conditions"] = [{"type": "Progressing", "reason": "ProgressDeadlineExceeded",
                                                        "message": "ReplicaSet has timed out progressing."}]
        if label_selector:
            key, value = label_selector.split("=")
            items = [o for o in items if o["metadata"].get("labels", {}).get(key) == value]
        return copy.deepcopy(items)

    def patch(self, kind, namespace, name, body):
        self.calls.append(("patch", kind, namespace, name))
        if name in self.deny_patch:
            raise self.deny_patch[name]
        self.patches.append((kind, namespace, name, body))
        obj = next(o for o in self.objects[(kind, namespace)] if o["metadata"]["name"] == name)
        annotations = body["spec"]["template"]["metadata"]["annotations"]
        obj["spec"]["template"]["metadata"].setdefault("annotations", {}).update(annotations)
        obj["metadata"]["generation"] += 1
        obj["status"]["updatedReplicas"] = 0
        self.pending[(namespace, name)] = self.roll_after
        self.max_in_flight = max(self.max_in_flight, len(self.pending))
        return copy.deepcopy(obj)
