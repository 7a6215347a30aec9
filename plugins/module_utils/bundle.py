# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The support bundle: which pods' logs to read, which objects to list (never Secrets), the index, the tarball."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import io
import json
import os
import tarfile
import time

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import without_managed_fields

# "kubectl get all -n istio-system": the kinds "all" covers.
CONTROL_PLANE_KINDS = [("v1", "Pod"), ("v1", "Service"), ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"),
                       ("apps/v1", "DaemonSet"), ("apps/v1", "StatefulSet"), ("batch/v1", "Job"),
                       ("batch/v1", "CronJob"), ("autoscaling/v2", "HorizontalPodAutoscaler")]
# Istio configuration, every namespace.
ISTIO_KINDS = [("networking.istio.io/v1", "VirtualService"), ("networking.istio.io/v1", "DestinationRule"),
               ("networking.istio.io/v1", "Gateway"), ("security.istio.io/v1", "PeerAuthentication"),
               ("security.istio.io/v1", "AuthorizationPolicy")]
NEVER_COLLECTED = ("Secret",)
GATEWAY_LABELS = ("ingressgateway", "egressgateway", "eastwestgateway")


class BundleError(Exception):
    pass


def check_inputs(since_seconds, tail_lines):
    errors = []
    if since_seconds is not None and since_seconds <= 0:
        errors.append("since_seconds is %s: give a positive number of seconds, or leave it out for all" % since_seconds)
    if tail_lines is not None and tail_lines <= 0:
        errors.append("tail_lines is %s: give a positive number of lines, or leave it out for all" % tail_lines)
    if errors:
        raise BundleError("; ".join(errors))


def _meta(obj):
    return obj.get("metadata") or {}


def _containers(pod):
    return [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]


def _role(pod, istio_namespace):
    labels = _meta(pod).get("labels") or {}
    if _meta(pod).get("namespace") == istio_namespace and labels.get("app") == "istiod":
        return "istiod"
    if labels.get("istio") in GATEWAY_LABELS or "gateway.istio.io/managed" in labels:
        return "gateway"
    return "app"


def log_targets(control_plane_pods, app_pods, istio_namespace):
    """(pod, container, role, reason) per log to read: istiod's discovery container, the gateways' and the
    selected application pods' istio-proxy. reason is set when there is nothing to read."""
    targets, seen = [], set()
    for pod in list(control_plane_pods) + list(app_pods):
        key = (_meta(pod).get("namespace"), _meta(pod).get("name"))
        if key in seen:
            continue
        seen.add(key)
        role = _role(pod, istio_namespace)
        if role == "app" and _meta(pod).get("namespace") == istio_namespace and pod in control_plane_pods:
            continue  # addons and other control-plane pods: listed in the objects, not logged
        container = "discovery" if role == "istiod" else "istio-proxy"
        containers = _containers(pod)
        if container not in containers and role == "istiod" and containers:
            container = containers[0]
        reason = None if container in containers else "no %s container (pod not injected)" % container
        if reason is None and (pod.get("status") or {}).get("phase") == "Pending":
            reason = "pod is Pending: no container has started"
        targets.append({"namespace": key[0], "pod": key[1], "container": container, "role": role, "reason": reason})
    return targets


def log_path(target):
    return "logs/%s/%s/%s.log" % (target["namespace"], target["pod"], target["container"])


REDACTED = "<redacted: literal env values are left out of the bundle>"


def _redact_env(spec):
    """Literal env values in pod specs can hold credentials: keep each variable's name, drop its value."""
    for key in ("containers", "initContainers", "ephemeralContainers"):
        for container in (spec or {}).get(key) or []:
            for env in container.get("env") or []:
                if "value" in env:
                    env["value"] = REDACTED


def clean_object(obj, api_version, kind):
    """Without managedFields, the last-applied annotation (it can repeat anything once applied) and literal
    env values of pod specs (Pods, and the pod templates of workloads)."""
    obj = without_managed_fields(obj)
    obj.setdefault("apiVersion", api_version)
    obj.setdefault("kind", kind)
    annotations = _meta(obj).get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    spec = obj.get("spec") or {}
    _redact_env(spec)
    _redact_env((spec.get("template") or {}).get("spec"))
    _redact_env((((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec"))
    return obj


def namespace_labels(namespaces):
    return dict((_meta(n).get("name"), _meta(n).get("labels") or {}) for n in namespaces)


def build_index(created, settings, files, logs, errors):
    return {"created": created, "settings": settings, "files": sorted(files),
            "logs": logs, "unreadable_logs": [dict(l) for l in logs if l.get("reason")], "errors": errors}


def index_text(index):
    lines = ["Istio support bundle, created %s" % index["created"],
             "settings: %s" % json.dumps(index["settings"], sort_keys=True), "", "files:"]
    lines += ["  " + f for f in index["files"]]
    lines += ["", "logs:"]
    for log in index["logs"]:
        state = "NOT READ: " + log["reason"] if log.get("reason") else "%d lines" % log.get("lines", 0)
        lines.append("  %s/%s %s (%s): %s" % (log["namespace"], log["pod"], log["container"], log["role"], state))
    if index["errors"]:
        lines += ["", "errors:"] + ["  " + e for e in index["errors"]]
    return "\n".join(lines) + "\n"


def write_tarball(path, top, files):
    """files: {relative name: text}. Written to path.tmp, then renamed, so a bundle is whole or absent."""
    tmp = path + ".tmp"
    with tarfile.open(tmp, "w:gz") as tar:
        for name in sorted(files):
            data = files[name].encode("utf-8")
            info = tarfile.TarInfo("%s/%s" % (top, name))
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
    os.chmod(tmp, 0o600)
    os.rename(tmp, path)


def collect(api, read_log, istio_namespace="istio-system", namespaces=None, label_selector=None,
            since_seconds=None, tail_lines=None, extra_files=None):
    """Everything for the bundle: {files: {name: text}, logs: [...], errors: [...]}.

    api: list(api_version, kind, namespace=None, label_selector=None); read_log(namespace, pod, container,
    since_seconds, tail_lines) returns the text or raises with the reason."""
    check_inputs(since_seconds, tail_lines)
    files, errors = {}, []

    def listed(api_version, kind, namespace=None, selector=None):
        if kind in NEVER_COLLECTED:
            raise BundleError("%s are never collected" % kind)
        try:
            return api.list(api_version, kind, namespace, selector)
        except Exception as exc:  # pylint: disable=broad-except
            errors.append("list %s%s: %s" % (kind, " in " + namespace if namespace else "", exc))
            return None

    all_namespaces = listed("v1", "Namespace") or []
    existing = set(_meta(n).get("name") for n in all_namespaces)
    unknown = sorted(set(namespaces or []) - existing)
    if unknown:
        raise BundleError("namespaces names %s, which do not exist: name existing namespaces" % ", ".join(unknown))
    files["namespaces.json"] = json.dumps(namespace_labels(all_namespaces), indent=2, sort_keys=True)

    control_plane = {}
    for api_version, kind in CONTROL_PLANE_KINDS:
        items = listed(api_version, kind, istio_namespace)
        if items is not None:
            control_plane[kind] = [clean_object(o, api_version, kind) for o in items]
    files["%s/all.json" % istio_namespace] = json.dumps(control_plane, indent=2, sort_keys=True, default=str)

    for api_version, kind in ISTIO_KINDS:
        items = listed(api_version, kind)
        files["istio/%s.json" % kind] = json.dumps([clean_object(o, api_version, kind) for o in items or []],
                                                   indent=2, sort_keys=True, default=str)

    app_pods = []
    if namespaces or label_selector:
        for namespace in namespaces or [None]:
            app_pods += listed("v1", "Pod", namespace, label_selector) or []
    logs = []
    for target in log_targets(control_plane.get("Pod") or [], app_pods, istio_namespace):
        if not target["reason"]:
            try:
                text = read_log(target["namespace"], target["pod"], target["container"], since_seconds, tail_lines)
                files[log_path(target)] = text
                target["lines"] = len(text.splitlines())
                target["file"] = log_path(target)
            except Exception as exc:  # pylint: disable=broad-except
                target["reason"] = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
        logs.append(target)

    for name, text in (extra_files or {}).items():
        files[name] = text if isinstance(text, str) else json.dumps(text, indent=2, sort_keys=True)
    return {"files": files, "logs": logs, "errors": errors}
