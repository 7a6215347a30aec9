# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Gateways from variables (role mesh_gateways): the listener objects per app in either output format
(Istio Gateway + VirtualService, or Gateway API Gateway + HTTPRoute) and the checks on the variables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

GATEWAY_LABEL = "istio-runbooks.io/gateway"
API_FORMATS = ("istio", "gateway_api")
GATEWAY_TYPES = ("ingress", "egress")
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
SERVICE_TYPE_ANNOTATION = "networking.istio.io/service-type"
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def gateway_labels(gateway):
    """The labels of a gateway's pods and Service selector, as Istio's gateway chart sets them:
    app=<name>, istio=<name without the istio- prefix>."""
    name = gateway["name"]
    return {"app": name, "istio": name[len("istio-"):] if name.startswith("istio-") else name}


def gateway_problems(gateways, variable="mesh_gateways_gateways"):
    """What is wrong with the gateway workloads, one message per problem, each naming the variable."""
    problems, seen = [], set()
    for i, gw in enumerate(gateways or []):
        where = "%s[%d]" % (variable, i)
        if not isinstance(gw, dict):
            problems.append("%s must be a mapping with name, namespace and type, got %r" % (where, gw))
            continue
        name, namespace = gw.get("name"), gw.get("namespace")
        for key, value in (("name", name), ("namespace", namespace)):
            if not isinstance(value, str) or not _DNS_LABEL.match(value):
                problems.append("%s.%s must be a DNS label (lower-case letters, digits, '-'), got %r" % (where, key, value))
        if gw.get("type", "ingress") not in GATEWAY_TYPES:
            problems.append("%s.type must be one of %s, got %r" % (where, ", ".join(GATEWAY_TYPES), gw.get("type")))
        if gw.get("service_type") not in (None,) + SERVICE_TYPES:
            problems.append("%s.service_type must be one of %s, got %r" % (where, ", ".join(SERVICE_TYPES),
                                                                           gw.get("service_type")))
        replicas = gw.get("replicas", 1)
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            problems.append("%s.replicas must be an integer of 0 or more, got %r" % (where, replicas))
        if (namespace, name) in seen:
            problems.append("%s names %s/%s twice" % (variable, namespace, name))
        seen.add((namespace, name))
    return problems


def listener_problems(listeners, gateways, api, variable="mesh_gateways_listeners"):
    """What is wrong with the listeners, one message per problem, each naming the variable and the fix."""
    problems, seen = [], set()
    if api not in API_FORMATS:
        return ["mesh_gateways_api must be one of %s, got %r" % (", ".join(API_FORMATS), api)]
    ingress = dict((g.get("name"), g) for g in gateways or [] if isinstance(g, dict)
                   and g.get("type", "ingress") == "ingress")
    for i, item in enumerate(listeners or []):
        where = "%s[%d]" % (variable, i)
        if not isinstance(item, dict):
            problems.append("%s must be a mapping with name, namespace, hosts and service, got %r" % (where, item))
            continue
        where = "%s (%s)" % (where, item.get("name"))
        for key in ("name", "namespace", "service"):
            if not isinstance(item.get(key), str) or not _DNS_LABEL.match(item.get(key)):
                problems.append("%s.%s must be a DNS label, got %r" % (where, key, item.get(key)))
        hosts = item.get("hosts")
        if not isinstance(hosts, list) or not hosts:
            problems.append("%s.hosts must be a non-empty list of host names, got %r" % (where, hosts))
        else:
            bad = [h for h in hosts if not isinstance(h, str) or not _HOST.match(h)]
            if bad:
                problems.append("%s.hosts has names that are not DNS names: %s" % (where, ", ".join(map(repr, bad))))
        port = item.get("port", 80)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            problems.append("%s.port must be a port number from 1 to 65535, got %r" % (where, port))
        secret = item.get("tls_secret", "")
        if secret and (not isinstance(secret, str) or not _DNS_LABEL.match(secret.replace(".", "-"))):
            problems.append("%s.tls_secret must be a Secret name, got %r" % (where, secret))
        if item.get("https_redirect") and not secret:
            problems.append("%s.https_redirect needs tls_secret: there is no HTTPS listener to redirect to" % where)
        if api == "istio":
            name = item.get("gateway") or (sorted(ingress)[0] if len(ingress) == 1 else None)
            if name not in ingress:
                problems.append("%s.gateway must name an ingress gateway of mesh_gateways_gateways (%s), got %r"
                                % (where, ", ".join(sorted(ingress)) or "none defined", item.get("gateway")))
        if (item.get("namespace"), item.get("name")) in seen:
            problems.append("%s names %s/%s twice" % (variable, item.get("namespace"), item.get("name")))
        seen.add((item.get("namespace"), item.get("name")))
    return problems


def tls_secret_refs(listeners, gateways, api):
    """The TLS Secrets the listeners need, as {variable, namespace, name}: with the istio format in the
    gateway workload's namespace (where Istio looks up credentialName), with gateway_api in the Gateway's."""
    by_name = dict((g.get("name"), g) for g in gateways or [] if isinstance(g, dict))
    refs = []
    for i, item in enumerate(listeners or []):
        if not isinstance(item, dict) or not item.get("tls_secret"):
            continue
        if api == "istio":
            gw = by_name.get(_gateway_name(item, gateways)) or {}
            namespace = gw.get("namespace")
        else:
            namespace = item.get("namespace")
        refs.append({"variable": "mesh_gateways_listeners[%d].tls_secret" % i, "namespace": namespace,
                     "name": item["tls_secret"]})
    return refs


def missing_tls_secrets(refs, present):
    """Messages for the refs whose Secret is not in present (a list of 'namespace/name')."""
    have = set(present or [])
    template = ("%(variable)s names Secret %(namespace)s/%(name)s, which does not exist: create it (kubectl create "
                "secret tls %(name)s -n %(namespace)s --cert=... --key=...) or remove tls_secret")
    return [template % r for r in refs if "%s/%s" % (r["namespace"], r["name"]) not in have]


def _gateway_name(item, gateways):
    if item.get("gateway"):
        return item["gateway"]
    ingress = [g.get("name") for g in gateways or [] if isinstance(g, dict) and g.get("type", "ingress") == "ingress"]
    return ingress[0] if len(ingress) == 1 else None


def _meta(name, namespace, label_value, annotations=None):
    meta = {"name": name, "namespace": namespace, "labels": {GATEWAY_LABEL: label_value}}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _backend_host(item):
    return "%s.%s.svc.cluster.local" % (item["service"], item["namespace"])


def istio_listener_objects(item, gateways):
    """An Istio Gateway (HTTP, plus HTTPS with credentialName when tls_secret is set, the HTTP server redirecting
    with tls.httpsRedirect) and a VirtualService routing the hosts to the app's Service."""
    gw = dict((g["name"], g) for g in gateways)[_gateway_name(item, gateways)]
    hosts = list(item["hosts"])
    http = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": hosts}
    servers = [http]
    if item.get("tls_secret"):
        if item.get("https_redirect"):
            http["tls"] = {"httpsRedirect": True}
        servers.append({"port": {"number": 443, "name": "https", "protocol": "HTTPS"}, "hosts": hosts,
                        "tls": {"mode": "SIMPLE", "credentialName": item["tls_secret"]}})
    gateway = {"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
               "metadata": _meta(item["name"], item["namespace"], gw["name"]),
               "spec": {"selector": gateway_labels(gw), "servers": servers}}
    route = {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
             "metadata": _meta(item["name"], item["namespace"], gw["name"]),
             "spec": {"hosts": hosts, "gateways": ["%s/%s" % (item["namespace"], item["name"])],
                      "http": [{"name": "default", "route": [{"destination": {
                          "host": _backend_host(item), "port": {"number": item.get("port", 80)}}}]}]}}
    return [gateway, route]


def gateway_api_listener_objects(item, service_type=""):
    """A Gateway API Gateway (class istio; listener http, plus https terminating with the Secret) and HTTPRoutes:
    the app's route on https (or http without TLS), and with https_redirect a redirect route on http."""
    hosts = list(item["hosts"])
    annotations = {SERVICE_TYPE_ANNOTATION: service_type} if service_type else None
    listeners = [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}]
    tls = bool(item.get("tls_secret"))
    if tls:
        listeners.append({"name": "https", "port": 443, "protocol": "HTTPS",
                          "tls": {"mode": "Terminate", "certificateRefs": [{"kind": "Secret",
                                                                            "name": item["tls_secret"]}]},
                          "allowedRoutes": {"namespaces": {"from": "Same"}}})
    gateway = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
               "metadata": _meta(item["name"], item["namespace"], item["name"], annotations),
               "spec": {"gatewayClassName": "istio", "listeners": listeners}}
    serve_on = ["https"] if tls and item.get("https_redirect") else ["http", "https"] if tls else ["http"]
    route = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": _meta(item["name"], item["namespace"], item["name"]),
             "spec": {"parentRefs": [{"name": item["name"], "sectionName": s} for s in serve_on],
                      "hostnames": hosts,
                      "rules": [{"backendRefs": [{"name": item["service"], "port": item.get("port", 80)}]}]}}
    objects = [gateway, route]
    if tls and item.get("https_redirect"):
        objects.append({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                        "metadata": _meta(item["name"] + "-https-redirect", item["namespace"], item["name"]),
                        "spec": {"parentRefs": [{"name": item["name"], "sectionName": "http"}], "hostnames": hosts,
                                 "rules": [{"filters": [{"type": "RequestRedirect", "requestRedirect": {
                                     "scheme": "https", "statusCode": 301}}]}]}})
    return objects


def listener_objects(listeners, gateways, api, service_type=""):
    """Every listener's objects in the chosen format (validated input: see listener_problems)."""
    objects = []
    for item in listeners or []:
        if api == "istio":
            objects += istio_listener_objects(item, gateways)
        else:
            objects += gateway_api_listener_objects(item, service_type)
    return objects


def gateway_conditions(gateways_live):
    """Per Gateway API Gateway, its Accepted and Programmed condition: [{ref, programmed, accepted, reason}]."""
    found = []
    for gw in gateways_live or []:
        meta = gw.get("metadata") or {}
        conditions = dict((c.get("type"), c) for c in (gw.get("status") or {}).get("conditions") or [])
        programmed = conditions.get("Programmed") or {}
        entry = {"ref": "%s/%s" % (meta.get("namespace"), meta.get("name")),
                 "accepted": (conditions.get("Accepted") or {}).get("status") == "True",
                 "programmed": programmed.get("status") == "True",
                 "reason": programmed.get("reason") or "no Programmed condition yet",
                 "message": programmed.get("message") or ""}
        entry["line"] = "Gateway API Gateway %s: %s (%s%s)" % (
            entry["ref"], "Programmed" if entry["programmed"] else "not Programmed", entry["reason"],
            ": " + entry["message"] if entry["message"] else "")
        found.append(entry)
    return sorted(found, key=lambda c: c["ref"])


def stale_objects(labelled, wanted):
    """The labelled live objects the variables no longer render, as references; objects another controller owns
    (istiod's Deployment and Service of a Gateway API Gateway carry an ownerReference) are left to it."""
    def key(o):
        m = o.get("metadata") or {}
        return (o.get("apiVersion", "").split("/")[0] if "/" in o.get("apiVersion", "") else "", o.get("kind"),
                m.get("namespace"), m.get("name"))
    keep = set(key(o) for o in wanted or [])
    stale = []
    for obj in labelled or []:
        meta = obj.get("metadata") or {}
        if meta.get("ownerReferences") or key(obj) in keep:
            continue
        ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": {"name": meta.get("name")}}
        if meta.get("namespace"):
            ref["metadata"]["namespace"] = meta["namespace"]
        stale.append(ref)
    return stale


def stale_plan(labelled, wanted, namespaces):
    """{remove, backup, left_alone}: the stale objects (stale_objects) in the given namespaces, as references to
    delete and as full objects to keep a copy of first; stale objects in other namespaces are left alone (other
    variable files' gateways carry the same label)."""
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup

    namespaces = set(namespaces or [])
    stale = stale_objects(labelled, wanted)
    remove = [r for r in stale if r["metadata"].get("namespace") in namespaces]
    left = [r for r in stale if r["metadata"].get("namespace") not in namespaces]

    def ref_key(o):
        m = o.get("metadata") or {}
        return (o.get("apiVersion"), o.get("kind"), m.get("namespace"), m.get("name"))
    removing = set(ref_key(r) for r in remove)
    backup = clean_for_backup([o for o in labelled or [] if ref_key(o) in removing])
    names = ["%s/%s/%s" % (r["metadata"].get("namespace", ""), r["kind"], r["metadata"]["name"]) for r in left]
    return {"remove": remove, "backup": backup, "left_alone": left, "left_alone_names": names}
