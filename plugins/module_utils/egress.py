# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Egress from variables: a ServiceEntry per external service and, for those routed through the egress
gateway, the Gateway, VirtualService and DestinationRule of Istio's "Egress Gateways" task; the hosts in use
that no ServiceEntry covers (the check before outboundTrafficPolicy REGISTRY_ONLY). Pure functions."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.gateways import gateway_labels
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.traffic import NETWORKING, _object

VARIABLE = "traffic_management_egress_services"
EGRESS_LABEL = "istio-runbooks.io/egress"
PROTOCOLS = ("HTTP", "HTTPS", "TLS", "TCP", "GRPC", "HTTP2")
RESOLUTIONS = ("DNS", "STATIC", "NONE", "DNS_ROUND_ROBIN")
# Through the egress gateway: HTTP is routed by Host, TLS (and HTTPS, which is TLS to the gateway) by SNI.
ROUTABLE = {"HTTP": "http", "HTTPS": "tls", "TLS": "tls"}
# Prometheus: requests and TCP connections the sidecars let through to hosts outside the registry.
PASSTHROUGH_QUERY = ('sum by (source_workload_namespace, source_workload, destination_service) '
                     '(increase({__name__=~"istio_requests_total|istio_tcp_connections_opened_total",'
                     'reporter="source",destination_service_name="PassthroughCluster"}[%s]))')
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HOST = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_IP = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")


def validate(services, gateway):
    """Every problem in the egress variables, as messages naming the variable and the fix. [] when valid."""
    errors, names = [], set()
    routed = False
    for index, svc in enumerate(services or []):
        name = svc.get("name") if isinstance(svc, dict) else None
        where = "%s[%d]%s" % (VARIABLE, index, " (%s)" % name if name else "")
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append("%s.name must be a DNS label, e.g. httpbin, got %s" % (where, json.dumps(name)))
            continue
        if name in names:
            errors.append("%s: %s is listed twice; merge the two entries" % (where, name))
        names.add(name)
        hosts = svc.get("hosts")
        if not isinstance(hosts, list) or not hosts:
            errors.append("%s.hosts must list the external host names, e.g. [httpbin.org]" % where)
            hosts = []
        bad = [h for h in hosts if not isinstance(h, str) or not _HOST.match(h)]
        if bad:
            errors.append("%s.hosts has names that are not DNS names (wildcard only as *.domain): %s"
                          % (where, ", ".join(repr(h) for h in bad)))
        resolution = svc.get("resolution", "DNS")
        if resolution not in RESOLUTIONS:
            errors.append("%s.resolution must be one of %s, got %s" % (where, ", ".join(RESOLUTIONS), resolution))
        if resolution in ("DNS", "DNS_ROUND_ROBIN") and any(str(h).startswith("*.") for h in hosts):
            errors.append("%s.hosts: a wildcard host cannot be resolved by DNS; set resolution: NONE" % where)
        if resolution == "STATIC" and not svc.get("endpoints"):
            errors.append("%s.endpoints must list addresses for resolution STATIC, e.g. [{address: 203.0.113.10}]" % where)
        ports = svc.get("ports")
        if not isinstance(ports, list) or not ports:
            errors.append("%s.ports must list the ports, e.g. [{number: 443, protocol: TLS}]" % where)
            ports = []
        for pindex, port in enumerate(ports):
            pwhere = "%s.ports[%d]" % (where, pindex)
            number = port.get("number") if isinstance(port, dict) else None
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
                errors.append("%s.number must be a port from 1 to 65535, got %s" % (pwhere, json.dumps(number)))
            protocol = port.get("protocol") if isinstance(port, dict) else None
            if protocol not in PROTOCOLS:
                errors.append("%s.protocol must be one of %s, got %s" % (pwhere, ", ".join(PROTOCOLS), json.dumps(protocol)))
            elif svc.get("egress_gateway", True) and protocol not in ROUTABLE:
                errors.append("%s.protocol %s cannot be routed through the egress gateway (HTTP, HTTPS or TLS); "
                              "set egress_gateway: false" % (pwhere, protocol))
        if svc.get("egress_gateway", True):
            routed = True
            if any(str(h).startswith("*.") for h in hosts):
                errors.append("%s.hosts: a wildcard host is not routed through the egress gateway; list the hosts, "
                              "or set egress_gateway: false" % where)
            if len(hosts) > 1:
                errors.append("%s.hosts: a service routed through the egress gateway takes one host (the gateway "
                              "sends its traffic on to that host); make one entry per host, or set egress_gateway: false"
                              % where)
            kinds = [ROUTABLE[p.get("protocol")] for p in ports if isinstance(p, dict) and p.get("protocol") in ROUTABLE]
            for kind in sorted(set(k for k in kinds if kinds.count(k) > 1)):
                errors.append("%s.ports: one %s port per service routed through the egress gateway (it listens on %d "
                              "for them); make another entry for the other port" % (where, kind.upper(), _GATEWAY_PORT[kind]))
    if routed and (not isinstance(gateway, dict) or not all(
            isinstance(gateway.get(k), str) and _NAME.match(gateway.get(k)) for k in ("name", "namespace"))):
        errors.append("traffic_management_egress_gateway must name the egress gateway of mesh_gateways_gateways, "
                      "e.g. {name: istio-egress, namespace: istio-egress}, got %s" % json.dumps(gateway))
    return errors


def _ports(svc):
    return [dict({"number": p["number"], "protocol": p["protocol"],
                  "name": p.get("name") or "%s-%d" % (p["protocol"].lower(), p["number"])},
                 **({"targetPort": p["target_port"]} if p.get("target_port") else {})) for p in svc["ports"]]


def service_entry(svc, namespace):
    spec = {"hosts": list(svc["hosts"]), "ports": _ports(svc), "resolution": svc.get("resolution", "DNS"),
            "location": svc.get("location", "MESH_EXTERNAL")}
    if svc.get("endpoints"):
        spec["endpoints"] = [dict(e) for e in svc["endpoints"]]
    if svc.get("addresses"):
        spec["addresses"] = list(svc["addresses"])
    return _object(NETWORKING, "ServiceEntry", svc["name"], namespace, spec, labels={EGRESS_LABEL: svc["name"]})


def _gateway_host(gateway):
    return "%s.%s.svc.cluster.local" % (gateway["name"], gateway["namespace"])


# The egress gateway's Service ports (mesh_gateways' template): 80 for HTTP, 443 for TLS.
_GATEWAY_PORT = {"http": 80, "tls": 443}


def _routed_ports(svc):
    return [p for p in svc["ports"] if p["protocol"] in ROUTABLE]


def egress_gateway_objects(svc, namespace, gateway):
    """Gateway + VirtualService of one external service, in the form of Istio's Egress Gateways task: the mesh's
    sidecars send the host's traffic to the egress gateway (subset <name> of its DestinationRule), and the
    gateway sends it on to the host. HTTP is matched by port, TLS by port and SNI (PASSTHROUGH)."""
    name, hosts = "egress-%s" % svc["name"], list(svc["hosts"])
    servers, http, tls = [], [], []
    for port in _routed_ports(svc):
        kind = ROUTABLE[port["protocol"]]
        gw_port = _GATEWAY_PORT[kind]
        server = {"port": {"number": gw_port, "name": "%s-%d" % (kind, gw_port), "protocol": "HTTP" if kind == "http" else "TLS"},
                  "hosts": hosts}
        if kind == "tls":
            server["tls"] = {"mode": "PASSTHROUGH"}
        servers.append(server)
        to_gateway = {"destination": {"host": _gateway_host(gateway), "subset": svc["name"], "port": {"number": gw_port}},
                      "weight": 100}
        to_host = {"destination": {"host": hosts[0], "port": {"number": port["number"]}}, "weight": 100}
        if kind == "http":
            http.append({"name": "mesh-to-egress-gateway-%d" % port["number"],
                         "match": [{"gateways": ["mesh"], "port": port["number"]}], "route": [to_gateway]})
            http.append({"name": "egress-gateway-to-%s-%d" % (svc["name"], port["number"]),
                         "match": [{"gateways": [name], "port": gw_port}], "route": [to_host]})
        else:
            tls.append({"match": [{"gateways": ["mesh"], "port": port["number"], "sniHosts": hosts}], "route": [to_gateway]})
            tls.append({"match": [{"gateways": [name], "port": gw_port, "sniHosts": hosts}], "route": [to_host]})
    labels = {EGRESS_LABEL: svc["name"]}
    gw = _object(NETWORKING, "Gateway", name, namespace, {"selector": gateway_labels(gateway), "servers": servers},
                 labels=labels)
    vs_spec = {"hosts": hosts, "gateways": [name, "mesh"]}
    if http:
        vs_spec["http"] = http
    if tls:
        vs_spec["tls"] = tls
    return [gw, _object(NETWORKING, "VirtualService", name, namespace, vs_spec, labels=labels)]


def egress_objects(services, namespace, gateway):
    """Every egress object, in apply order: ServiceEntries, the egress gateway's DestinationRule (one subset per
    routed service), Gateways, VirtualServices. All in namespace (the egress gateway's), exported mesh-wide."""
    entries, routed = [], []
    for svc in services or []:
        entries.append(service_entry(svc, namespace))
        if svc.get("egress_gateway", True) and _routed_ports(svc):
            routed.append(svc)
    objects = list(entries)
    if routed:
        objects.append(_object(NETWORKING, "DestinationRule", "egress-gateway", namespace,
                               {"host": _gateway_host(gateway), "subsets": [{"name": s["name"]} for s in routed]},
                               labels={EGRESS_LABEL: "gateway"}))
        pairs = [egress_gateway_objects(s, namespace, gateway) for s in routed]
        objects.extend(p[0] for p in pairs)
        objects.extend(p[1] for p in pairs)
    return objects


# ------------------------------------------------------------------------------- hosts in use, REGISTRY_ONLY

def host_covered(host, entry_hosts):
    """Whether a ServiceEntry host (exact, or a *.domain wildcard) covers host."""
    host = (host or "").lower().split(":")[0]
    for pattern in entry_hosts or []:
        pattern = str(pattern).lower()
        if pattern == host or pattern == "*" or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def declared_hosts(service_entries):
    """[{host, entry}] of the live ServiceEntries (namespace/name)."""
    out = []
    for se in service_entries or []:
        meta = se.get("metadata") or {}
        for host in (se.get("spec") or {}).get("hosts") or []:
            out.append({"host": host, "entry": "%s/%s" % (meta.get("namespace"), meta.get("name"))})
    return out


def hosts_in_use(prometheus_result):
    """[{host, sources, count}] from the PASSTHROUGH_QUERY result; a host Prometheus could not name (TCP to an
    address, "unknown") is kept as it was reported."""
    found = {}
    for row in prometheus_result or []:
        metric = row.get("metric") or {}
        try:
            count = float((row.get("value") or [0, "0"])[1])
        except (TypeError, ValueError):
            count = 0.0
        if count != count or count <= 0:  # NaN or nothing in the window
            continue
        host = metric.get("destination_service") or "unknown"
        entry = found.setdefault(host, {"host": host, "sources": [], "count": 0.0})
        source = "%s/%s" % (metric.get("source_workload_namespace", "unknown"), metric.get("source_workload", "unknown"))
        if source not in entry["sources"]:
            entry["sources"].append(source)
        entry["count"] += count
    return [dict(v, sources=sorted(v["sources"]), count=int(round(v["count"]))) for _, v in sorted(found.items())]


def registry_only_report(in_use, service_entries, desired=None):
    """{in_use: [{host, sources, count, covered_by}], uncovered: [host], declared: [host], lines: [...]}: which
    external hosts in use a ServiceEntry covers (the live ones, plus those about to be applied)."""
    declared = declared_hosts(list(service_entries or []) + list(desired or []))
    rows, uncovered = [], []
    for item in in_use or []:
        covering = sorted(set(d["entry"] for d in declared if host_covered(item["host"], [d["host"]])))
        rows.append(dict(item, covered_by=covering))
        if not covering:
            uncovered.append(item["host"])
    lines = ["External host in use: %s (%d requests/connections from %s): %s" % (
        r["host"], r["count"], ", ".join(r["sources"]),
        "covered by ServiceEntry " + ", ".join(r["covered_by"]) if r["covered_by"] else "NOT covered by any ServiceEntry")
        for r in rows]
    lines.append("ServiceEntries declare: %s" % (", ".join(sorted(set(
        "%s (%s)" % (d["host"], d["entry"]) for d in declared))) or "no host"))
    return {"in_use": rows, "uncovered": uncovered, "declared": sorted(set(d["host"] for d in declared)), "lines": lines}


def stale(desired, live):
    """Live objects labelled istio-runbooks.io/egress that the desired objects no longer name (a service removed
    from the variables): deleted after the snapshot, so a revert brings them back."""
    wanted = set((o["kind"], o["metadata"]["namespace"], o["metadata"]["name"]) for o in desired or [])
    out = []
    for obj in live or []:
        meta = obj.get("metadata") or {}
        if EGRESS_LABEL in (meta.get("labels") or {}) and (obj.get("kind"), meta.get("namespace"), meta.get("name")) not in wanted:
            out.append(obj)
    return out
