# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Sidecar injection state of namespaces, workloads and pods, read with one list call per namespace and kind, or
one cluster-wide list per kind for many namespaces."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import (
    INJECT_KEY,
    INJECTION_LABELS,
    WORKLOAD_KINDS,
    KubeError,
    host_network,
    is_dns_label,
    meta as _meta,
    namespace_reader,
    pod_has_sidecar,
    pod_revision,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import owned_pods


def invalid_namespace_names(names):
    """Names that are not DNS-1123 labels, so no namespace can have them."""
    return [n for n in names if not is_dns_label(n)]


def namespace_label_patches(namespaces, targets, labels):
    """Merge patches (as Namespace definitions) for the targets whose labels differ from labels.

    labels maps a key to its wanted value, None meaning absent. Namespaces already right get no patch,
    so a run with nothing to change sends no write. namespaces: Namespace objects, or mesh_info's namespace
    entries ({name, labels}).
    """
    live = dict((_meta(ns).get("name", ns.get("name")), _meta(ns).get("labels", ns.get("labels")) or {})
                for ns in namespaces)
    patches = []
    for name in targets:
        have = live.get(name, {})
        change = dict((k, v) for k, v in sorted(labels.items()) if have.get(k) != v)
        if change:
            patches.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": change}})
    return patches


def pod_opted_out(pod):
    meta = _meta(pod)
    value = (meta.get("labels") or {}).get(INJECT_KEY, (meta.get("annotations") or {}).get(INJECT_KEY))
    return value is not None and str(value).lower() == "false"


def missing_reason(pod):
    """Why a pod has no istio-proxy."""
    if pod_opted_out(pod):
        return "opted out (%s=false)" % INJECT_KEY
    if ((pod.get("spec") or {}).get("hostNetwork")):
        return "host network"
    return "not restarted since injection was enabled"


def workload_state(workload, pods):
    injected = [p for p in pods if pod_has_sidecar(p)]
    if not pods:
        state = "no pods"
    elif len(injected) == len(pods):
        state = "injected"
    elif injected:
        state = "partly injected"
    else:
        state = "not injected"
    revisions = sorted(set(pod_revision(p) for p in injected if pod_revision(p)))
    return {"kind": workload.get("kind"), "namespace": _meta(workload).get("namespace"),
            "name": _meta(workload).get("name"), "pods": len(pods), "injected_pods": len(injected),
            "state": state, "revisions": revisions, "host_network": host_network(workload)}


def injection_report(api, namespaces, desired=None, revision=None):
    """Namespaces with their injection labels, workloads with their state, and the pods that do not match.

    desired is 'enabled' (report pods without istio-proxy), 'disabled' (report pods with it) or None.
    With revision, enabled also reports pods injected by any other revision.
    """
    listed = dict((_meta(ns).get("name"), ns) for ns in api.list("Namespace", None))
    missing = [ns for ns in namespaces if ns not in listed]
    if missing:
        raise KubeError("namespace(s) not found: %s" % ", ".join(missing))
    report = {"namespaces": [], "workloads": [], "mismatched_pods": []}
    read = namespace_reader(api.list, namespaces)
    read.prefetch(["Pod", "ReplicaSet"] + list(WORKLOAD_KINDS))
    for name in namespaces:
        labels = _meta(listed[name]).get("labels") or {}
        report["namespaces"].append({"name": name, "labels": dict((k, labels[k]) for k in INJECTION_LABELS
                                                                  if k in labels)})
        pods = read("Pod", name)
        replicasets = read("ReplicaSet", name)
        for kind in WORKLOAD_KINDS:
            for workload in read(kind, name):
                workload.setdefault("kind", kind)
                report["workloads"].append(workload_state(workload, owned_pods(workload, pods, replicasets)))
        for pod in pods:
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or _meta(pod).get("deletionTimestamp"):
                continue
            has = pod_has_sidecar(pod)
            if desired == "enabled" and not has:
                report["mismatched_pods"].append({"namespace": name, "pod": _meta(pod).get("name"),
                                                  "reason": missing_reason(pod),
                                                  "expected": pod_opted_out(pod) or bool(
                                                      (pod.get("spec") or {}).get("hostNetwork"))})
            elif desired == "enabled" and revision and pod_revision(pod) != revision:
                report["mismatched_pods"].append({"namespace": name, "pod": _meta(pod).get("name"),
                                                  "reason": "runs revision %s, expected %s" % (
                                                      pod_revision(pod) or "unknown", revision), "expected": False})
            elif desired == "disabled" and has:
                report["mismatched_pods"].append({"namespace": name, "pod": _meta(pod).get("name"),
                                                  "reason": "still has istio-proxy: not restarted since injection "
                                                            "was disabled", "expected": False})
    report["unexpected_pods"] = [p for p in report["mismatched_pods"] if not p["expected"]]
    return report


def format_table(report):
    """Lines of a table: namespaces with labels, then workloads with their injection state."""
    lines = ["%-30s %s" % ("NAMESPACE", "INJECTION LABELS")]
    for ns in report["namespaces"]:
        lines.append("%-30s %s" % (ns["name"], ",".join("%s=%s" % kv for kv in sorted(ns["labels"].items()))
                                   or "<none>"))
    lines.append("")
    lines.append("%-20s %-12s %-32s %-8s %s" % ("NAMESPACE", "KIND", "NAME", "PROXIES", "STATE"))
    for w in report["workloads"]:
        lines.append("%-20s %-12s %-32s %-8s %s%s" % (w["namespace"], w["kind"], w["name"],
                                                      "%d/%d" % (w["injected_pods"], w["pods"]), w["state"],
                                                      (" (rev %s)" % ",".join(w["revisions"])) if w["revisions"] else ""))
    return lines


def batch_without_opt_out(objects):
    """Jobs and CronJobs whose pod template does not opt out of injection (their pods would never finish)."""
    found = []
    for obj in objects:
        spec = obj.get("spec") or {}
        if obj.get("kind") == "CronJob":
            spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        meta = (spec.get("template") or {}).get("metadata") or {}
        value = (meta.get("labels") or {}).get(INJECT_KEY, (meta.get("annotations") or {}).get(INJECT_KEY))
        if value is None or str(value).lower() != "false":
            found.append("%s %s/%s" % (obj.get("kind"), _meta(obj).get("namespace"), _meta(obj).get("name")))
    return found


def pod_line(entry):
    """'namespace/pod: reason' for a mismatched pod."""
    return "%s/%s: %s" % (entry.get("namespace"), entry.get("pod"), entry.get("reason"))
