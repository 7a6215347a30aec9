# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""mTLS policy logic: effective modes (workload over namespace over mesh, port-level included), the
policies a change leaves in force, the safety gate on what becomes effectively STRICT, DestinationRule
conflicts (IST0113) for in-mesh hosts and snapshot revert plans."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import plain_annotations
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import (
    labels_match as _matches,
    meta as _meta,
    plain_copy,
    pod_has_sidecar as _has_sidecar,
)

MODES = ("STRICT", "PERMISSIVE", "DISABLE", "UNSET")
# Protocols where the server speaks first; a sidecar cannot sniff them unless the port is declared TCP.
SERVER_FIRST_PORTS = {3306: "MySQL", 27017: "MongoDB", 5432: "PostgreSQL", 25: "SMTP", 11211: "memcached",
                      4222: "NATS", 6379: "Redis", 9042: "Cassandra", 5672: "AMQP"}
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")
# Metadata that other tools (Argo CD, Helm, controllers) own on a policy; a replace keeps it.
FOREIGN_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")


def _selector_labels(policy):
    return ((policy.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}


def _mode_of(policy, port=None):
    spec = policy.get("spec") or {}
    if port is not None:
        port_mode = ((spec.get("portLevelMtls") or {}).get(str(port)) or (spec.get("portLevelMtls") or {}).get(port)
                     or {}).get("mode")
        if port_mode and port_mode != "UNSET":
            return port_mode
    mode = (spec.get("mtls") or {}).get("mode")
    return None if mode in (None, "UNSET") else mode


def _name(policy):
    return "%s/%s" % (_meta(policy).get("namespace"), _meta(policy).get("name"))


def _oldest_first(policies):
    """The oldest policy wins among several at one level, as in Istio; one not created yet is the newest."""
    return sorted(policies, key=lambda p: (_meta(p).get("creationTimestamp") or "~", _meta(p).get("name")))


def effective_mode(policies, namespace, labels, root_namespace="istio-system", port=None):
    """(mode, deciding policy) for a workload: workload over namespace over mesh, port-level first.

    A level whose mode is UNSET inherits from the level above, as Istio does. With no policy the
    mesh default is PERMISSIVE.
    """
    workload = [p for p in policies if _meta(p).get("namespace") == namespace and _selector_labels(p)
                and _matches(_selector_labels(p), labels)]
    ns_wide = [p for p in policies if _meta(p).get("namespace") == namespace and not _selector_labels(p)]
    mesh = [p for p in policies if _meta(p).get("namespace") == root_namespace and not _selector_labels(p)]
    for level in (_oldest_first(workload), _oldest_first(ns_wide), _oldest_first(mesh)):
        for policy in level[:1]:
            mode = _mode_of(policy, port)
            if mode:
                suffix = " (port %s)" % port if port is not None and _mode_of(policy, port) != _mode_of(policy) else ""
                return mode, _name(policy) + suffix
    return "PERMISSIVE", "mesh default (no policy)"


def effective_table(policies, workloads, root_namespace="istio-system"):
    """Rows {namespace, workload, port, mode, decided_by} for workloads [{namespace, name, labels, ports}]."""
    rows = []
    for w in workloads:
        mode, by = effective_mode(policies, w["namespace"], w.get("labels"), root_namespace)
        rows.append({"namespace": w["namespace"], "workload": w["name"], "port": "*", "mode": mode, "decided_by": by})
        for port in w.get("ports") or []:
            pmode, pby = effective_mode(policies, w["namespace"], w.get("labels"), root_namespace, port)
            if (pmode, pby) != (mode, by):
                rows.append({"namespace": w["namespace"], "workload": w["name"], "port": str(port), "mode": pmode,
                             "decided_by": pby})
    return rows


def format_table(rows):
    lines = ["%-20s %-28s %-6s %-11s %s" % ("NAMESPACE", "WORKLOAD", "PORT", "MODE", "DECIDED BY")]
    for r in rows:
        lines.append("%-20s %-28s %-6s %-11s %s" % (r["namespace"], r["workload"], r["port"], r["mode"], r["decided_by"]))
    return lines


def strict_evidence(pods, services, statefulsets, selector=None):
    """Reasons STRICT would break something in scope: pods without a sidecar, headless Services and
    StatefulSets, and server-first ports not declared TCP."""
    evidence = []
    selector = selector or {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        if selector and not _matches(selector, _meta(pod).get("labels")):
            continue
        if not _has_sidecar(pod):
            evidence.append("pod %s/%s has no istio-proxy sidecar: its plaintext traffic would be refused"
                            % (_meta(pod).get("namespace"), _meta(pod).get("name")))
    for svc in services:
        spec = svc.get("spec") or {}
        if selector and not _matches(selector, spec.get("selector") or {}):
            continue
        ref = "%s/%s" % (_meta(svc).get("namespace"), _meta(svc).get("name"))
        if spec.get("clusterIP") == "None":
            evidence.append("Service %s is headless: direct pod-to-pod traffic needs care under STRICT" % ref)
        for port in spec.get("ports") or []:
            number, name = port.get("port"), (port.get("name") or "")
            declared_tcp = name == "tcp" or name.startswith("tcp-") or (port.get("appProtocol") or "").lower() == "tcp"
            if number in SERVER_FIRST_PORTS and not declared_tcp:
                evidence.append("Service %s port %s (%s, server-first) is not declared TCP (name it tcp-... or set "
                                "appProtocol: tcp)" % (ref, number, SERVER_FIRST_PORTS[number]))
    for sts in statefulsets:
        labels = (((sts.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
        if selector and not _matches(selector, labels):
            continue
        evidence.append("StatefulSet %s/%s is in scope: its pods talk to each other through a headless Service"
                        % (_meta(sts).get("namespace"), _meta(sts).get("name")))
    return evidence


def mesh_host_namespace(host, rule_namespace, domains=("cluster.local",)):
    """Namespace of an in-mesh DestinationRule host, or None for a host outside the mesh.

    In-mesh are short names ("reviews", in the rule's namespace), "<name>.<namespace>.svc" and
    "<name>.<namespace>.svc.<domain>" (domains: the mesh's trust domain, cluster.local); <name> may be "*".
    Anything else, e.g. "api.example.com" or "reviews.prod", is an external or unresolved host.
    """
    host = (host or "").lower().rstrip(".")
    parts = host.split(".")
    if len(parts) == 1:
        return rule_namespace if host and "*" not in host else None
    for domain in [""] + [d.lower().strip(".") for d in domains or () if d]:
        suffix = ".svc" + ("." + domain if domain else "")
        if host.endswith(suffix):
            head = host[:-len(suffix)].split(".")
            if len(head) == 2 and head[0] and head[1] and "*" not in head[1]:
                return head[1]
    return None


def destination_rule_conflicts(destination_rules, policies, root_namespace="istio-system", domains=("cluster.local",)):
    """DestinationRules whose client TLS (top-level or port-level) disagrees with the server's effective mode.

    Like istioctl analyze IST0113: a DISABLE or SIMPLE client against STRICT, or ISTIO_MUTUAL against DISABLE.
    Only in-mesh hosts (see mesh_host_namespace) have a server mode; TLS origination to external hosts is fine.
    """
    conflicts = []
    for dr in destination_rules:
        spec = dr.get("spec") or {}
        namespace = mesh_host_namespace(spec.get("host"), _meta(dr).get("namespace"), domains)
        if namespace is None:
            continue
        policy = spec.get("trafficPolicy") or {}
        settings = [(None, (policy.get("tls") or {}).get("mode"))]
        for pls in policy.get("portLevelSettings") or []:
            settings.append(((pls.get("port") or {}).get("number"), (pls.get("tls") or {}).get("mode")))
        for port, client_mode in settings:
            if not client_mode:
                continue
            server_mode, by = effective_mode(policies, namespace, {}, root_namespace, port)
            bad = (server_mode == "STRICT" and client_mode in ("DISABLE", "SIMPLE")) or (
                server_mode == "DISABLE" and client_mode == "ISTIO_MUTUAL")
            if bad:
                conflicts.append({"destination_rule": "%s/%s" % (_meta(dr).get("namespace"), _meta(dr).get("name")),
                                  "host": spec.get("host"), "port": port, "client_tls": client_mode,
                                  "server_mode": server_mode, "decided_by": by,
                                  "message": "DestinationRule %s/%s sends %s to %s%s, whose mTLS mode is %s (%s)"
                                             % (_meta(dr).get("namespace"), _meta(dr).get("name"), client_mode,
                                                spec.get("host"), (" port %s" % port) if port else "", server_mode, by)})
    return conflicts


def fixed_destination_rule(dr, conflicts):
    """A copy of a DestinationRule with the conflicting TLS settings set to ISTIO_MUTUAL."""
    def mutual(settings):
        # ISTIO_MUTUAL takes its certificates from the mesh: Istio rejects origination settings beside it
        tls = settings.setdefault("tls", {})
        for key in ("credentialName", "caCertificates", "clientCertificate", "privateKey", "caCrl"):
            tls.pop(key, None)
        tls["mode"] = "ISTIO_MUTUAL"

    fixed = plain_copy(dr)
    policy = fixed.setdefault("spec", {}).setdefault("trafficPolicy", {})
    for c in conflicts:
        if c["port"] is None:
            mutual(policy)
        else:
            for pls in policy.get("portLevelSettings") or []:
                if (pls.get("port") or {}).get("number") == c["port"]:
                    mutual(pls)
    return fixed


def fixed_destination_rules(destination_rules, conflicts):
    """The DestinationRules named in conflicts, each with its conflicting TLS settings set to ISTIO_MUTUAL."""
    by_rule = {}
    for c in conflicts:
        by_rule.setdefault(c["destination_rule"], []).append(c)
    return [fixed_destination_rule(dr, by_rule[_name(dr)]) for dr in destination_rules if _name(dr) in by_rule]


def _key(obj):
    return (obj.get("kind"), _meta(obj).get("namespace"), _meta(obj).get("name"))


def revert_plan(snapshot, live):
    """What makes live match the snapshot: objects to delete (created since), and objects to put back
    exactly (changed or deleted since). Both lists are of full objects."""
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup

    want = dict((_key(o), o) for o in clean_for_backup(snapshot))
    have = dict((_key(o), o) for o in clean_for_backup(live))
    delete = [have[k] for k in sorted(have) if k not in want and k[0] == "PeerAuthentication"]
    put = [want[k] for k in sorted(want) if k not in have or have[k].get("spec") != want[k].get("spec")
           or (_meta(have[k]).get("labels") or {}) != (_meta(want[k]).get("labels") or {})
           or plain_annotations(_meta(have[k])) != plain_annotations(_meta(want[k]))]
    return {"delete": delete, "put": put}


def workloads_for_report(objects, policies):
    """[{namespace, name, labels, ports}] from Deployments/StatefulSets/DaemonSets (objects, or mesh_info's
    workload summaries); ports are the container ports plus every port a port-level policy in the namespace names."""
    rows = []
    for obj in objects:
        if "template_labels" in obj:  # a mesh_info workload summary
            meta, labels, ports = obj, obj.get("template_labels") or {}, set(obj.get("ports") or [])
        else:
            meta = _meta(obj)
            template = (obj.get("spec") or {}).get("template") or {}
            labels = (template.get("metadata") or {}).get("labels") or {}
            ports = set()
            for c in (template.get("spec") or {}).get("containers") or []:
                for p in c.get("ports") or []:
                    if p.get("containerPort"):
                        ports.add(int(p["containerPort"]))
        for pol in policies:
            if _meta(pol).get("namespace") == meta.get("namespace") and _matches(_selector_labels(pol), labels):
                ports.update(int(k) for k in ((pol.get("spec") or {}).get("portLevelMtls") or {}))
        rows.append({"namespace": meta.get("namespace"), "name": meta.get("name"), "labels": labels,
                     "ports": sorted(ports)})
    return sorted(rows, key=lambda r: (r["namespace"], r["name"]))


def desired_policy(name, namespace, mode, selector=None, port_modes=None):
    spec = {"mtls": {"mode": mode}}
    if selector:
        spec["selector"] = {"matchLabels": dict(selector)}
    if port_modes:
        spec["portLevelMtls"] = dict((str(k), {"mode": v}) for k, v in port_modes.items())
    return {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def policy_differs(desired, live_policies):
    """True when the live policy of that name is missing or has another spec."""
    for p in live_policies:
        if _meta(p).get("namespace") == _meta(desired).get("namespace") and _meta(p).get("name") == _meta(desired).get("name"):
            return (p.get("spec") or {}) != desired["spec"]
    return True


def with_resource_versions(objects, live):
    """Copies of objects carrying the live resourceVersion, so a full replace can update them exactly."""
    versions = dict((_key(o), _meta(o).get("resourceVersion")) for o in live)
    out = []
    for obj in objects:
        obj = plain_copy(obj)
        obj.setdefault("kind", obj.get("kind"))
        version = versions.get(_key(obj))
        if version:
            obj["metadata"]["resourceVersion"] = version
        out.append(obj)
    return out


def keep_foreign_metadata(desired, live_policies):
    """A copy of the desired policy carrying the live one's labels, annotations, owner references and
    finalizers, so a full replace changes the spec and leaves what other tools own."""
    out = plain_copy(desired)
    for p in live_policies:
        if _name(p) == _name(desired):
            meta = out.setdefault("metadata", {})
            for field in FOREIGN_METADATA:
                value = _meta(p).get(field)
                if isinstance(value, dict):
                    meta[field] = dict(value, **(meta.get(field) or {}))
                elif value and field not in meta:
                    meta[field] = plain_copy(value)
    return out


def planned_policies(live, action, desired=None, snapshot=None):
    """The PeerAuthentications in force after the change: apply replaces or adds the desired policy, remove
    deletes it, revert leaves the snapshot's. Objects that stay keep their creationTimestamp (the oldest
    wins a tie); new ones have none (the newest)."""
    live = [p for p in live or [] if p.get("kind", "PeerAuthentication") == "PeerAuthentication"]
    created = dict((_name(p), _meta(p).get("creationTimestamp")) for p in live)
    if action == "revert":
        after = [p for p in snapshot or [] if p.get("kind") == "PeerAuthentication"]
    else:
        after = [p for p in live if _name(p) != _name(desired)] + ([desired] if action == "apply" else [])
    planned = []
    for p in after:
        p = plain_copy(p)
        p.setdefault("kind", "PeerAuthentication")
        p.setdefault("metadata", {}).pop("creationTimestamp", None)
        if created.get(_name(p)):
            p["metadata"]["creationTimestamp"] = created[_name(p)]
        planned.append(p)
    return planned


def _mentions_strict(policy):
    spec = policy.get("spec") or {}
    return (spec.get("mtls") or {}).get("mode") == "STRICT" or any(
        (v or {}).get("mode") == "STRICT" for v in (spec.get("portLevelMtls") or {}).values())


def may_become_strict(after):
    """False when no policy left after the change says STRICT: then nothing can be effectively STRICT and
    the gate need not list workloads."""
    return any(_mentions_strict(p) for p in after or [])


def _policy_ports(policies, namespace, labels):
    ports = set()
    for p in policies:
        if _meta(p).get("namespace") == namespace and _selector_labels(p) and _matches(_selector_labels(p), labels):
            ports.update(int(k) for k in ((p.get("spec") or {}).get("portLevelMtls") or {}))
    return ports


def newly_strict(before, after, namespace, labels, root_namespace="istio-system"):
    """"*" and the ports on which a workload is effectively STRICT after the change and was not before."""
    found = []
    for port in [None] + sorted(_policy_ports(list(before) + list(after), namespace, labels)):
        was = effective_mode(before, namespace, labels, root_namespace, port)[0]
        will = effective_mode(after, namespace, labels, root_namespace, port)[0]
        if will == "STRICT" and was != "STRICT":
            found.append("*" if port is None else str(port))
    return found


def gate_object(obj, kind=None):
    """A Pod, Service or StatefulSet trimmed to what gate_findings reads, in the object's own shape (the gate's
    read of a large cluster returns these, not whole objects)."""
    meta, spec, kind = _meta(obj), obj.get("spec") or {}, kind or obj.get("kind")
    slim = {"metadata": dict((k, meta[k]) for k in ("namespace", "name", "labels", "deletionTimestamp") if meta.get(k))}
    if kind == "Service":
        slim["spec"] = {"selector": spec.get("selector") or {}, "clusterIP": spec.get("clusterIP"),
                        "ports": [dict((k, port[k]) for k in ("port", "name", "appProtocol") if k in port)
                                  for port in spec.get("ports") or []]}
    elif kind == "StatefulSet":
        template = spec.get("template") or {}
        slim["spec"] = {"template": {"metadata": {"labels": (template.get("metadata") or {}).get("labels") or {}}}}
    else:  # Pod
        slim["spec"] = dict((key, [dict((k, c[k]) for k in ("name", "restartPolicy") if k in c)
                                   for c in spec.get(key) or []])
                            for key in ("containers", "initContainers"))
        slim["status"] = {"phase": (obj.get("status") or {}).get("phase")}
    return slim


def gate_findings(pods, services, statefulsets, before, after, root_namespace="istio-system", skip_namespaces=()):
    """The safety gate on the effective mode after the change: evidence against STRICT, for only the pods,
    Services and StatefulSets that the change makes effectively STRICT; and the namespaces they are in."""
    skip = set(skip_namespaces or ()) | set(SYSTEM_NAMESPACES) | set([root_namespace])

    def affected(namespace, labels):
        return namespace not in skip and bool(newly_strict(before, after, namespace, labels, root_namespace))

    live_pods = [p for p in pods if not _meta(p).get("deletionTimestamp")]
    strict_pods = [p for p in live_pods if affected(_meta(p).get("namespace"), _meta(p).get("labels") or {})]
    strict_services = [s for s in services if _meta(s).get("namespace") not in skip and any(
        _meta(p).get("namespace") == _meta(s).get("namespace") and ((s.get("spec") or {}).get("selector"))
        and _matches((s.get("spec") or {}).get("selector"), _meta(p).get("labels")) for p in strict_pods)]
    strict_sets = [s for s in statefulsets if affected(
        _meta(s).get("namespace"), (((s.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})]
    namespaces = sorted(set(_meta(o).get("namespace") for o in strict_pods + strict_sets))
    return {"evidence": strict_evidence(strict_pods, strict_services, strict_sets), "namespaces": namespaces,
            "workloads": len(strict_pods) + len(strict_sets)}


PROMETHEUS_WINDOW = r"^(?=\d)(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?\Z"


def valid_prometheus_window(window):
    """True for a Prometheus range duration such as 1h, 90m or 1h30m."""
    import re

    return bool(re.match(PROMETHEUS_WINDOW, str(window or "")))


def prometheus_query(namespaces, window):
    """PromQL for plaintext requests (not mutual TLS) to workloads in the namespaces over the window, per
    destination and client workload (so the evidence names who still sends plaintext)."""
    selector = 'reporter="destination",connection_security_policy!="mutual_tls"'
    selector += ',destination_workload_namespace=~"%s"' % "|".join(sorted(namespaces))
    return ("sum by (destination_workload_namespace, destination_workload, source_workload_namespace, source_workload) "
            "(increase(istio_requests_total{%s}[%s])) > 0" % (selector, window))


def prometheus_evidence(response, url):
    """Evidence from the answer of Prometheus's query API (the uri module's result). An answer that is not a
    successful query (unreachable, 4xx, 5xx, an error status) means the traffic could not be checked, which
    is evidence too: without it STRICT would be applied blind."""
    import json

    response = response or {}
    body = response.get("json") if isinstance(response.get("json"), dict) else {}
    result = (body.get("data") or {}).get("result") if body.get("status") == "success" else None
    if response.get("status") != 200 or not isinstance(result, list):
        reason = body.get("error") or response.get("msg") or "no answer"
        return ["Prometheus at %s could not be checked for plaintext traffic (HTTP %s: %s)"
                % (url, response.get("status", -1), " ".join(str(reason).split())[:200])]
    return ["plaintext requests seen by Prometheus: %s" % json.dumps(r.get("metric") or {}, sort_keys=True)
            for r in result]


def level_policies(live, desired):
    """Live policies at the desired one's level: the same name, or the same namespace and selector."""
    return [p for p in live if _name(p) == _name(desired) or (
        _meta(p).get("namespace") == _meta(desired).get("namespace") and _selector_labels(p) == _selector_labels(desired))]


def gate_verdict(evidence, force, fallback_mode, desired, live, action="apply", scope="mesh"):
    """What the gate decides, with its message: pass; override (mtls_policy_force); refuse; or, for apply
    with a fallback_mode, fallback (no policy at this level exists: apply fallback_mode instead) or keep
    (the existing policy at this level stays as it is)."""
    evidence = list(evidence or [])
    if not evidence:
        return {"verdict": "pass", "message": "Safety gate passed: nothing the change makes STRICT speaks against it"}
    if force:
        return {"verdict": "override", "message": "Safety gate overridden with mtls_policy_force: " + "; ".join(evidence)}
    mode = ((desired.get("spec") or {}).get("mtls") or {}).get("mode")
    if action == "revert":
        why, subject = "Reverting to the snapshot makes workloads effectively STRICT. ", "the revert"
    else:
        subject = "%s %s" % (scope, _meta(desired).get("namespace"))
        why = "" if (action, mode) == ("apply", "STRICT") else "%s of %s makes workloads effectively STRICT. " % (
            "Removal" if action == "remove" else mode, _name(desired))
    refused = "%sSTRICT refused for %s: %d finding(s): %s%s" % (
        why, subject, len(evidence), "; ".join(evidence[:15]), " ..." if len(evidence) > 15 else "")
    existing = level_policies(live or [], desired)
    if fallback_mode and action == "apply" and existing:
        kept = ", ".join("%s (%s)" % (_name(p), _mode_of(p) or "UNSET") for p in existing)
        return {"verdict": "keep", "message": "%s. The existing %s stays as it is; nothing was changed." % (refused, kept)}
    if fallback_mode and action == "apply":
        return {"verdict": "fallback", "message": "%s. No policy exists at this level: applying mtls_policy_fallback_mode %s."
                % (refused, fallback_mode)}
    fix = "Fix them (inject the sidecars, declare TCP ports), or set mtls_policy_force: true to apply anyway."
    return {"verdict": "refuse", "message": "%s. %s Nothing was changed." % (refused, fix)}
