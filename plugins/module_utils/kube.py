# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module needs: the cluster connection (KubeApi), object metadata readers, pod sidecar and revision
readers, label selector matching, and the label names Istio uses."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

# ---- labels and names ------------------------------------------------------------------------------

REV_LABEL = "istio.io/rev"
TAG_LABEL = "istio.io/tag"
INJECTION_LABEL = "istio-injection"
INJECTION_LABELS = (INJECTION_LABEL, REV_LABEL)  # the namespace labels that choose injection
INJECT_KEY = "sidecar.istio.io/inject"  # the per-pod choice (label or annotation)
SIDECAR_STATUS = "sidecar.istio.io/status"  # written by the injector: names the revision
SIDECAR = "istio-proxy"
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"  # RFC 1123 label: namespace and revision names
FORBIDDEN = (401, 403)


class KubeError(Exception):
    """Bad input or an API failure, with a message that names the fix."""


class ApiCallError(KubeError):
    """One API request failed: status is the HTTP status (None when the server was not reached)."""

    def __init__(self, status, message):
        super(ApiCallError, self).__init__("%s%s" % ("%s " % status if status else "", message))
        self.status = status


# ---- object metadata -------------------------------------------------------------------------------


def meta(obj):
    """The metadata of an object, {} when it has none."""
    return (obj or {}).get("metadata") or {}


def labels(obj):
    return meta(obj).get("labels") or {}


def annotations(obj):
    return meta(obj).get("annotations") or {}


def object_ref(obj):
    """'Kind namespace/name' (or 'Kind name' for a cluster-scoped object), for reports and messages."""
    namespace = meta(obj).get("namespace")
    return "%s %s%s" % (obj.get("kind"), (namespace + "/") if namespace else "", meta(obj).get("name"))


def object_key(obj):
    """(group, kind, namespace, name): what identifies an object across API versions."""
    return (api_group(obj.get("apiVersion", "")), obj.get("kind"), meta(obj).get("namespace") or "",
            meta(obj).get("name"))


def template_labels(workload):
    """The pod template's labels of a Deployment, StatefulSet or DaemonSet."""
    return ((((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})


def condition_true(obj, condition):
    """True when status.conditions holds the condition with status True."""
    return any(c.get("type") == condition and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def api_group(api_version):
    """The group of an apiVersion ("" for the core group)."""
    return api_version.split("/")[0] if "/" in (api_version or "") else ""


def is_dns_label(name):
    """True when name is an RFC 1123 label (what namespace and revision names must be)."""
    return bool(re.match(DNS_LABEL, name or ""))


# ---- pods and workloads ----------------------------------------------------------------------------


def pod_has_sidecar(pod):
    """True when the pod runs istio-proxy as a container or as a native sidecar (init, restartPolicy Always)."""
    spec = pod.get("spec") or {}
    if any(c.get("name") == SIDECAR for c in spec.get("containers") or []):
        return True
    return any(c.get("name") == SIDECAR and c.get("restartPolicy") == "Always" for c in spec.get("initContainers") or [])


def pod_revision(pod):
    """The revision that injected the pod, from istiod's sidecar.istio.io/status annotation, else its istio.io/rev."""
    status = annotations(pod).get(SIDECAR_STATUS)
    if status:
        try:
            return json.loads(status).get("revision") or ""
        except (ValueError, AttributeError):
            pass
    return labels(pod).get(REV_LABEL, "")


def template_opt_out(workload):
    """The per-workload injection choice from the pod template ('true', 'false' or None)."""
    template_meta = ((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}
    value = (template_meta.get("labels") or {}).get(INJECT_KEY, (template_meta.get("annotations") or {}).get(INJECT_KEY))
    return None if value is None else str(value).lower()


def host_network(workload):
    return bool((((workload.get("spec") or {}).get("template") or {}).get("spec") or {}).get("hostNetwork"))


# ---- selectors -------------------------------------------------------------------------------------


def labels_match(match_labels, labels_of_object):
    """True when every key=value of a plain label map (a Service selector, matchLabels) is on the object."""
    return all((labels_of_object or {}).get(k) == v for k, v in (match_labels or {}).items())


def selector_matches(selector, labels_of_object):
    """True when a LabelSelector (matchLabels and matchExpressions) selects the labels. {} selects everything."""
    labels_of_object = labels_of_object or {}
    if not labels_match(selector.get("matchLabels"), labels_of_object):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels_of_object.get(key) not in values:
            return False
        if op == "NotIn" and labels_of_object.get(key) in values:
            return False
        if op == "Exists" and key not in labels_of_object:
            return False
        if op == "DoesNotExist" and key in labels_of_object:
            return False
    return True


# ---- the connection --------------------------------------------------------------------------------


class KubeApi(object):
    """list, get and patch by kind over the kubernetes dynamic client; failures raise ApiCallError."""

    GROUPS = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
              "Pod": "v1", "Namespace": "v1", "PodDisruptionBudget": "policy/v1"}

    def __init__(self, dynamic_client):
        self.client = dynamic_client
        self._resources = {}
        self._lock = threading.Lock()  # lists may run in threads (namespace_reader's prefetch)

    def _resource(self, kind):
        with self._lock:
            if kind not in self._resources:
                self._resources[kind] = self.client.resources.get(api_version=self.GROUPS[kind], kind=kind)
            return self._resources[kind]

    @staticmethod
    def error(exc):
        """ApiCallError from a client exception, with the server's message when it sent one."""
        if isinstance(exc, ApiCallError):
            return exc
        status = getattr(exc, "status", None)
        message = getattr(exc, "reason", None) or str(exc)
        body = getattr(exc, "body", None)
        if body:
            try:
                message = json.loads(body).get("message") or message
            except (ValueError, TypeError, AttributeError):
                pass
        return ApiCallError(status if isinstance(status, int) else None, message)

    def list(self, kind, namespace, label_selector=None):
        kwargs = {}
        if namespace:
            kwargs["namespace"] = namespace
        if label_selector:
            kwargs["label_selector"] = label_selector
        try:
            return list_items(self._resource(kind), **kwargs)
        except Exception as exc:  # pylint: disable=broad-except
            raise self.error(exc)

    def get(self, kind, namespace, name):
        try:
            return get_object(self._resource(kind), name=name, namespace=namespace)
        except Exception as exc:  # pylint: disable=broad-except
            error = self.error(exc)
            if error.status == 404:
                return None
            raise error

    def patch(self, kind, namespace, name, body):
        try:
            return self._resource(kind).patch(body=body, name=name, namespace=namespace,
                                              content_type="application/strategic-merge-patch+json").to_dict()
        except Exception as exc:  # pylint: disable=broad-except
            raise self.error(exc)


# Above this many namespaces, one cluster-wide list per kind replaces one list per namespace (mesh_info,
# injection_status, rollout_restart's selection).
CLUSTER_WIDE_ABOVE = 10


def namespace_reader(list_kind, namespaces):
    """read(kind, namespace) over list_kind(kind, namespace or None) -> items, raising ApiCallError.

    A few namespaces: one list per namespace and kind. Above CLUSTER_WIDE_ABOVE: one cluster-wide list per kind,
    grouped by namespace, or per namespace again when the cluster-wide list is forbidden. read.prefetch(kinds)
    sends the cluster-wide lists of several kinds at once (in threads); a failure is raised when its kind is read.
    """
    if len(namespaces) <= CLUSTER_WIDE_ABOVE:
        def read_each(kind, namespace):
            return list_kind(kind, namespace)
        read_each.prefetch = lambda kinds: None
        return read_each
    wanted, grouped, failures, per_namespace = set(namespaces), {}, {}, set()

    def fetch(kind):
        try:
            items = list_kind(kind, None)
        except ApiCallError as exc:
            if exc.status in FORBIDDEN:
                per_namespace.add(kind)
            else:
                exc.cluster_wide = True  # the failed call listed every namespace
                failures[kind] = exc
            return
        grouped[kind] = {}
        for obj in items:
            if meta(obj).get("namespace") in wanted:
                grouped[kind].setdefault(meta(obj).get("namespace"), []).append(obj)

    def read(kind, namespace):
        if kind not in grouped and kind not in per_namespace:
            if kind in failures:
                raise failures.pop(kind)
            fetch(kind)
            if kind in failures:
                raise failures.pop(kind)
        if kind in per_namespace:
            return list_kind(kind, namespace)
        return grouped[kind].get(namespace, [])

    def prefetch(kinds):
        kinds = [k for k in dict.fromkeys(kinds) if k not in grouped and k not in per_namespace]
        if len(kinds) > 1:
            with ThreadPoolExecutor(max_workers=len(kinds)) as pool:
                list(pool.map(fetch, kinds))
    read.prefetch = prefetch
    return read


def plain_copy(value):
    """A deep copy of JSON-like data as plain dicts and lists. Unlike copy.deepcopy, it never copies what a value
    carries besides its data: a filter's arguments can be the template engine's lazy containers, whose deepcopy
    copies every variable of the host."""
    if isinstance(value, dict):
        return dict((k, plain_copy(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain_copy(v) for v in value]
    return value


def plain_instance(_client, instance):
    """A dynamic-client serializer that keeps the response as plain dicts (ResourceInstance builds an object per
    field, several times slower on large lists); list items get their kind and apiVersion as ResourceInstance
    gives them."""
    kind = instance.get("kind") or ""
    if kind.endswith("List") and "items" in instance:
        instance["items"] = instance["items"] or []
        for item in instance["items"]:
            item.setdefault("apiVersion", instance.get("apiVersion"))
            item.setdefault("kind", kind[:-4])
    return instance


def plain_result(call, **kwargs):
    """The answer of a dynamic-client call (resource.get, resource.patch, ...) as a plain dict."""
    data = call(serializer=plain_instance, **kwargs)
    return data if isinstance(data, dict) else data.to_dict()  # a client that ignores the serializer


def list_items(resource, **kwargs):
    """The items of a dynamic-client list call, as plain dicts."""
    return plain_result(resource.get, **kwargs).get("items") or []


def get_object(resource, **kwargs):
    """One object from a dynamic-client get call, as a plain dict."""
    return plain_result(resource.get, **kwargs)


# ---- transient failures ----------------------------------------------------------------------------

CONNECT_RETRY_SECONDS = 30  # the first call: an API server that is restarting answers within this
CALL_RETRY_SECONDS = 120  # later calls: a restart of kube-apiserver or an etcd leader change mid-run
TRANSIENT_STATUS = (429, 502, 503, 504)
TRANSIENT_MESSAGES = ("etcdserver: request timed out", "etcdserver: leader changed", "etcdserver: no leader",
                      "the server is currently unable to handle the request",
                      "the server was unable to return a response in the time allotted", "too many requests")
CONNECTION_ERRORS = ("NewConnectionError", "ProtocolError", "RemoteDisconnected",
                     "ConnectionRefusedError", "ConnectionResetError", "ConnectTimeoutError")
# A read that timed out is not retried: the request may be a log stream or may have been applied.


def transient_error(exc):
    """True for failures a retry can outlive: the API server restarting or overloaded, etcd briefly unavailable.

    Refused requests (4xx) and server errors with a cause of their own (a failing admission webhook) are not.
    """
    status = getattr(exc, "status", None)
    if isinstance(status, int) and status:
        if status in TRANSIENT_STATUS:
            return True
        text = ("%s %s" % (getattr(exc, "reason", "") or "", getattr(exc, "body", "") or "")).lower()
        return status == 500 and any(message in text for message in TRANSIENT_MESSAGES)
    if type(exc).__name__ == "MaxRetryError":  # urllib3 gave up: transient only for a connection-level cause
        return transient_error(getattr(exc, "reason", None))
    return type(exc).__name__ in CONNECTION_ERRORS or isinstance(exc, ConnectionError)


# A failed task's result (kubernetes.core, whose modules do not retry) tells the same story in words.
CONNECTION_TEXT = ("connection refused", "connection reset by peer", "connection aborted",
                   "remote end closed connection") + tuple(name.lower() for name in CONNECTION_ERRORS)
STATUS_IN_BODY = re.compile(r'"code"\s*:\s*(\d{3})\b')


def transient_failure(result, details=""):
    """True when a failed task result reports a failure a retry can outlive, as transient_error judges an
    exception: no answer (connection refused or reset), 429/502/503/504, or a 500 naming etcd.

    The status comes from the result (status, error) or the API's answer quoted in msg; without one, the
    messages (msg, a failed module's stderr, the exception, details: the error summary's messages) must name a
    connection failure. A 500 with a cause of its own (a failing admission webhook, even one whose own connection
    was refused) is not transient.
    """
    if not isinstance(result, dict) or not result.get("failed"):
        return False
    text = " ".join([str(result.get(key) or "") for key in ("msg", "module_stderr", "module_stdout", "exception",
                                                            "reason")] + [details or ""]).lower()
    status = next((result[key] for key in ("status", "error") if isinstance(result.get(key), int)), None)
    quoted = STATUS_IN_BODY.search(text)
    if status is None and quoted:
        status = int(quoted.group(1))
    if status is not None:
        return status in TRANSIENT_STATUS or (status == 500 and any(message in text for message in TRANSIENT_MESSAGES))
    return any(marker in text for marker in CONNECTION_TEXT)


def retrying(call, seconds, clock=time.monotonic, sleep=time.sleep):
    """call, retried with backoff (0.5 s doubling to 5 s) while it fails transiently, for at most seconds."""
    def retried(*args, **kwargs):
        deadline = clock() + seconds
        delay = 0.5
        while True:
            try:
                return call(*args, **kwargs)
            except Exception as exc:  # pylint: disable=broad-except
                if not transient_error(exc) or clock() + delay > deadline:
                    raise
                sleep(delay)
                delay = min(delay * 2, 5)
    return retried


def connect(module):
    """A KubeApi for the cluster the module's auth options (or K8S_AUTH_* variables) name.

    Every request is retried while it fails transiently (see transient_error): up to CONNECT_RETRY_SECONDS for
    the first, CALL_RETRY_SECONDS for the rest. Fails the module with a message naming the fix when the cluster
    cannot be reached.
    """
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException

    auth = dict((key, module.params.get(key)) for key in AUTH_ARG_SPEC)
    try:
        client = get_api_client(module=None, **auth)
        api_client = client.client.client  # K8SClient -> DynamicClient -> ApiClient: every request goes through it
        # kubernetes.core keeps one client per process: a task retried in the same process wraps the original again
        call_api = getattr(api_client, "_istio_runbooks_call_api", None) or api_client.call_api
        api_client._istio_runbooks_call_api = call_api
        api_client.call_api = retrying(call_api, CONNECT_RETRY_SECONDS)
        api = KubeApi(client.client)
        api.list("Namespace", None, "kubernetes.io/metadata.name=default")
        api_client.call_api = retrying(call_api, CALL_RETRY_SECONDS)
    except ApiCallError as exc:
        if exc.status != 403:  # forbidden still proves the API answers and knows the user (namespace-scoped RBAC)
            module.fail_json(msg="Cannot reach the Kubernetes API: %s. Check that the API server is up and that "
                                 "kubeconfig and context are right." % exc)
    except CoreException as exc:
        module.fail_json(msg="Cannot build a Kubernetes client: %s. Check kubeconfig and context." % exc)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Cannot reach the Kubernetes API: %s. Check that the API server is up and that "
                             "kubeconfig and context are right." % exc)
    return api
