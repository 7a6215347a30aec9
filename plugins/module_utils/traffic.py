# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Traffic management and authorization objects built from variables: validation, builders, fault expiry,
snapshots and revert plans. Pure functions; the roles only apply what these return."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import re

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import plain_annotations
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import plain_copy

NETWORKING = "networking.istio.io/v1"
ENVOY_FILTER = "networking.istio.io/v1alpha3"
SECURITY = "security.istio.io/v1"
HASH_ANNOTATION = "istio-runbooks.io/config-hash"
FAULT_EXPIRES = "istio-runbooks.io/fault-expires"
DRY_RUN = "istio.io/dry-run"
LB_SIMPLE = ("ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH")
MATCH_KINDS = ("exact", "prefix", "regex")
# Kinds this role writes; a snapshot holds the live ones it is about to touch.
TRAFFIC_KINDS = (("VirtualService", NETWORKING), ("DestinationRule", NETWORKING), ("EnvoyFilter", ENVOY_FILTER))
AUTHZ_KINDS = (("AuthorizationPolicy", SECURITY),)

_DURATION = re.compile(r"^([0-9]+(\.[0-9]+)?(h|m|s|ms))+$")
_TIME = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.[0-9]+)?(Z|z|[+-][0-9]{2}:[0-9]{2})$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _duration(value):
    return isinstance(value, str) and bool(_DURATION.match(value))


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_time(value):
    """An RFC 3339 time ('2026-11-26T18:00:00Z', '...+01:00') as an aware UTC datetime, or None."""
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        return None
    try:
        base = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    zone = match.group(2)
    minutes = 0 if zone in ("Z", "z") else (int(zone[1:3]) * 60 + int(zone[4:6])) * (1 if zone[0] == "+" else -1)
    return (base - datetime.timedelta(minutes=minutes)).replace(tzinfo=datetime.timezone.utc)


def _now(now):
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    return parse_time(now) if isinstance(now, str) else now


# ---------------------------------------------------------------------------------------------- validation

def _validate_match(where, match, errors):
    if not isinstance(match, dict) or len(match) != 1 or list(match)[0] not in MATCH_KINDS:
        errors.append("%s must be one of {exact: ...}, {prefix: ...}, {regex: ...}, got %s" % (where, json.dumps(match)))


def _validate_fault(where, fault, errors):
    if not fault:
        return
    if not fault.get("delay") and not fault.get("abort"):
        errors.append("%s needs a delay ({fixed: 5s, percent: 10}) or an abort ({http_status: 503, percent: 10})" % where)
    for kind in ("delay", "abort"):
        part = fault.get(kind)
        if not part:
            continue
        percent = part.get("percent", 100)
        if not _number(percent) or not 0 <= percent <= 100:
            errors.append("%s.%s.percent must be a number from 0 to 100, got %s" % (where, kind, percent))
    delay = fault.get("delay") or {}
    if delay and not _duration(delay.get("fixed")):
        errors.append("%s.delay.fixed must be a duration such as 5s or 500ms, got %s" % (where, delay.get("fixed")))
    abort = fault.get("abort") or {}
    if abort and not (isinstance(abort.get("http_status"), int) and 200 <= abort["http_status"] <= 599):
        errors.append("%s.abort.http_status must be an HTTP status from 200 to 599, got %s" % (where, abort.get("http_status")))
    if fault.get("expires") is not None and parse_time(fault.get("expires")) is None:
        errors.append("%s.expires must be an RFC 3339 time with a zone, e.g. 2026-11-26T18:00:00Z, got %s"
                      % (where, fault.get("expires")))
    for header, match in (fault.get("headers") or {}).items():
        _validate_match("%s.headers.%s" % (where, header), match, errors)


def validate_services(services, overrides=None):
    """Every problem in the services' variables, as messages naming the variable and the fix. [] when valid."""
    errors = []
    seen = set()
    for index, svc in enumerate(services or []):
        name = svc.get("name") if isinstance(svc, dict) else None
        where = "traffic_management_services[%d]%s" % (index, " (%s)" % name if name else "")
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append("%s.name must be a Service name (lowercase DNS label), got %s" % (where, json.dumps(name)))
            continue
        if name in seen:
            errors.append("%s: service %s is listed twice; merge the two entries" % (where, name))
        seen.add(name)
        subsets = svc.get("subsets") or {}
        for subset, labels in subsets.items():
            if not _NAME.match(str(subset)) or not isinstance(labels, dict) or not labels:
                errors.append("%s.subsets.%s must be a DNS-label name with a non-empty label map, e.g. v1: {version: v1}"
                              % (where, subset))
        route = (overrides or {}).get(name) or svc.get("route") or {}
        if not route and (svc.get("matches") or svc.get("mirror") or svc.get("fault") or svc.get("timeout")
                          or svc.get("retries")):
            errors.append("%s.route is required with matches, mirror, fault, timeout or retries, e.g. {v1: 100}" % where)
        for subset, weight in route.items():
            if subset not in subsets:
                errors.append("%s.route names unknown subset %s; define it under subsets (known: %s)"
                              % (where, subset, ", ".join(sorted(subsets)) or "none"))
            if not isinstance(weight, int) or isinstance(weight, bool) or not 0 <= weight <= 100:
                errors.append("%s.route.%s weight must be an integer from 0 to 100, got %s" % (where, subset, weight))
        weights = [w for w in route.values() if isinstance(w, int) and not isinstance(w, bool)]
        if route and sum(weights) != 100:
            errors.append("%s.route weights must sum to 100, got %d (%s)"
                          % (where, sum(weights), ", ".join("%s=%s" % kv for kv in sorted(route.items()))))
        for m_index, match in enumerate(svc.get("matches") or []):
            m_where = "%s.matches[%d]" % (where, m_index)
            if match.get("subset") not in subsets:
                errors.append("%s.subset names unknown subset %s; define it under subsets" % (m_where, match.get("subset")))
            if not match.get("headers") and not match.get("cookie"):
                errors.append("%s needs headers ({x-group: {exact: beta}}) or cookie ({name: group, value: beta})" % m_where)
            for header, spec in (match.get("headers") or {}).items():
                _validate_match("%s.headers.%s" % (m_where, header), spec, errors)
            cookie = match.get("cookie")
            if cookie and not (cookie.get("name") and cookie.get("value")):
                errors.append("%s.cookie needs name and value" % m_where)
        if svc.get("timeout") is not None and not _duration(svc.get("timeout")):
            errors.append("%s.timeout must be a duration such as 5s or 500ms, got %s" % (where, svc.get("timeout")))
        retries = svc.get("retries")
        if retries:
            attempts = retries.get("attempts")
            if not isinstance(attempts, int) or isinstance(attempts, bool) or attempts < 0:
                errors.append("%s.retries.attempts must be an integer of 0 or more, got %s" % (where, attempts))
            if retries.get("per_try_timeout") is not None and not _duration(retries.get("per_try_timeout")):
                errors.append("%s.retries.per_try_timeout must be a duration such as 2s, got %s"
                              % (where, retries.get("per_try_timeout")))
        lb = svc.get("load_balancer") or {}
        if lb:
            if lb.get("simple") and lb["simple"] not in LB_SIMPLE:
                errors.append("%s.load_balancer.simple must be one of %s, got %s" % (where, ", ".join(LB_SIMPLE), lb["simple"]))
            chash = lb.get("consistent_hash") or {}
            if chash and not (chash.get("header") or (chash.get("cookie") or {}).get("name")):
                errors.append("%s.load_balancer.consistent_hash needs header: <name> or cookie: {name: ..., ttl: 0s}" % where)
            if bool(lb.get("simple")) == bool(chash):
                errors.append("%s.load_balancer takes exactly one of simple or consistent_hash" % where)
        pool = svc.get("connection_pool") or {}
        for part in pool.values():
            for key, value in (part or {}).items():
                if _number(value) and value < 0:
                    errors.append("%s.connection_pool: %s must not be negative, got %s" % (where, key, value))
        for key, value in (svc.get("outlier_detection") or {}).items():
            if _number(value) and value < 0:
                errors.append("%s.outlier_detection.%s must not be negative, got %s" % (where, key, value))
        _validate_fault("%s.fault" % where, svc.get("fault"), errors)
        mirror = svc.get("mirror")
        if mirror:
            if mirror.get("subset") not in subsets:
                errors.append("%s.mirror.subset names unknown subset %s; define it under subsets" % (where, mirror.get("subset")))
            percent = mirror.get("percent", 100)
            if not _number(percent) or not 0 <= percent <= 100:
                errors.append("%s.mirror.percent must be a number from 0 to 100, got %s" % (where, percent))
        _validate_rate_limit("%s.rate_limit" % where, svc.get("rate_limit"), errors)
        if svc.get("rate_limit") and not svc.get("selector"):
            errors.append("%s.selector (the workload's labels, e.g. {app: backend}) is required with rate_limit" % where)
    for name in sorted(set((overrides or {})) - seen):
        errors.append("the route override names service %s, which is not in traffic_management_services" % name)
    return errors


def _validate_rate_limit(where, limit, errors):
    if not limit:
        return
    for key in ("max_tokens", "tokens_per_fill"):
        if not isinstance(limit.get(key), int) or isinstance(limit.get(key), bool) or limit[key] < 1:
            errors.append("%s.%s must be a positive integer, got %s" % (where, key, limit.get(key)))
    if not _duration(limit.get("fill_interval")):
        errors.append("%s.fill_interval must be a duration such as 1s or 60s, got %s" % (where, limit.get("fill_interval")))


def validate_gateway_rate_limit(limit):
    errors = []
    _validate_rate_limit("traffic_management_gateway_rate_limit", limit, errors)
    if limit and not limit.get("selector"):
        errors.append("traffic_management_gateway_rate_limit.selector is required, e.g. {istio: ingressgateway}")
    return errors


# ------------------------------------------------------------------------------------------------ builders

def config_hash(spec):
    """A short hash of a spec: a removed field (an expired fault) changes it, so the apply sees a difference."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode("utf-8")).hexdigest()[:16]


def _object(api_version, kind, name, namespace, spec, labels=None, annotations=None):
    meta = {"name": name, "namespace": namespace,
            "labels": dict({"app.kubernetes.io/managed-by": "istio-runbooks"}, **(labels or {})),
            "annotations": dict(annotations or {})}
    meta["annotations"][HASH_ANNOTATION] = config_hash(spec)
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, "spec": spec}


def _string_match(spec):
    kind = list(spec)[0]
    return {kind: str(spec[kind])}


def _fault_active(fault, now):
    if not fault:
        return False
    expires = parse_time(fault.get("expires")) if fault.get("expires") else None
    return expires is None or _now(now) < expires


def _fault_spec(fault):
    out = {}
    if fault.get("delay"):
        out["delay"] = {"fixedDelay": fault["delay"]["fixed"], "percentage": {"value": fault["delay"].get("percent", 100)}}
    if fault.get("abort"):
        out["abort"] = {"httpStatus": fault["abort"]["http_status"], "percentage": {"value": fault["abort"].get("percent", 100)}}
    return out


def _destination(host, subset, weight=None):
    dest = {"destination": {"host": host, "subset": subset}}
    if weight is not None:
        dest["weight"] = weight
    return dest


def _route_settings(svc, host):
    """Timeout, retries and mirror: the same on every route of the service."""
    out = {}
    if svc.get("timeout"):
        out["timeout"] = svc["timeout"]
    retries = svc.get("retries")
    if retries:
        out["retries"] = {"attempts": retries["attempts"]}
        if retries.get("per_try_timeout"):
            out["retries"]["perTryTimeout"] = retries["per_try_timeout"]
        if retries.get("retry_on"):
            out["retries"]["retryOn"] = retries["retry_on"]
    if svc.get("mirror"):
        out["mirror"] = {"host": host, "subset": svc["mirror"]["subset"]}
        out["mirrorPercentage"] = {"value": svc["mirror"].get("percent", 100)}
    return out


def virtual_service(svc, namespace, route=None, now=None):
    """The VirtualService of one service: the fault route (header-matched, while not expired), the A/B
    matches in order, then the weighted default route."""
    name, host = svc["name"], "%s.%s.svc.cluster.local" % (svc["name"], namespace)
    route = route or svc["route"]
    settings = _route_settings(svc, host)
    http = []
    fault = svc.get("fault")
    annotations = {}
    if _fault_active(fault, now):
        entry = {"name": "fault"}
        if fault.get("headers"):
            entry["match"] = [{"headers": dict((h, _string_match(m)) for h, m in sorted(fault["headers"].items()))}]
        entry["fault"] = _fault_spec(fault)
        entry["route"] = [_destination(host, s, w) for s, w in sorted(route.items()) if w > 0]
        entry.update(settings)
        http.append(entry)
        if fault.get("expires"):
            annotations[FAULT_EXPIRES] = fault["expires"]
    for index, match in enumerate(svc.get("matches") or []):
        conditions = {}
        if match.get("headers"):
            conditions["headers"] = dict((h, _string_match(m)) for h, m in sorted(match["headers"].items()))
        if match.get("cookie"):
            cookie = match["cookie"]
            conditions.setdefault("headers", {})["cookie"] = {
                "regex": "^(.*?;\\s*)?(%s=%s)(;.*)?$" % (re.escape(cookie["name"]), re.escape(str(cookie["value"])))}
        entry = {"name": match.get("name") or "match-%d" % index, "match": [conditions],
                 "route": [_destination(host, match["subset"])]}
        entry.update(settings)
        http.append(entry)
    entry = {"name": "default", "route": [_destination(host, s, w) for s, w in sorted(route.items()) if w > 0]}
    entry.update(settings)
    http.append(entry)
    return _object(NETWORKING, "VirtualService", name, namespace, {"hosts": [name], "http": http},
                   annotations=annotations)


def traffic_policy(svc):
    policy = {}
    lb = svc.get("load_balancer") or {}
    if lb.get("simple"):
        policy["loadBalancer"] = {"simple": lb["simple"]}
    elif lb.get("consistent_hash"):
        chash = lb["consistent_hash"]
        if chash.get("header"):
            policy["loadBalancer"] = {"consistentHash": {"httpHeaderName": chash["header"]}}
        else:
            cookie = {"name": chash["cookie"]["name"], "ttl": chash["cookie"].get("ttl", "0s")}
            if chash["cookie"].get("path"):
                cookie["path"] = chash["cookie"]["path"]
            policy["loadBalancer"] = {"consistentHash": {"httpCookie": cookie}}
    if svc.get("connection_pool"):
        pool = plain_copy(svc["connection_pool"])
        policy["connectionPool"] = pool
    if svc.get("outlier_detection"):
        policy["outlierDetection"] = plain_copy(svc["outlier_detection"])
    return policy


def destination_rule(svc, namespace):
    """Subsets and traffic settings. trafficPolicy.tls is never stated: mtls_policy owns it."""
    spec = {"host": "%s.%s.svc.cluster.local" % (svc["name"], namespace),
            "subsets": [{"name": s, "labels": dict(labels)} for s, labels in sorted((svc.get("subsets") or {}).items())]}
    policy = traffic_policy(svc)
    if policy:
        spec["trafficPolicy"] = policy
    return _object(NETWORKING, "DestinationRule", svc["name"], namespace, spec)


def local_rate_limit(name, namespace, selector, limit, context):
    """An EnvoyFilter adding Envoy's local rate limit filter, in the form Istio's documentation gives
    (tasks/policy-enforcement/rate-limit): SIDECAR_INBOUND per workload, GATEWAY at the gateway."""
    bucket = {"max_tokens": limit["max_tokens"], "tokens_per_fill": limit["tokens_per_fill"],
              "fill_interval": limit["fill_interval"]}
    full = {"runtime_key": None, "default_value": {"numerator": 100, "denominator": "HUNDRED"}}
    value = {"stat_prefix": "http_local_rate_limiter", "token_bucket": bucket,
             "filter_enabled": dict(full, runtime_key="local_rate_limit_enabled"),
             "filter_enforced": dict(full, runtime_key="local_rate_limit_enforced"),
             "response_headers_to_add": [{"append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                                          "header": {"key": "x-local-rate-limit", "value": "true"}}]}
    spec = {"workloadSelector": {"labels": dict(selector)},
            "configPatches": [{
                "applyTo": "HTTP_FILTER",
                "match": {"context": context,
                          "listener": {"filterChain": {"filter": {"name": "envoy.filters.network.http_connection_manager"}}}},
                "patch": {"operation": "INSERT_BEFORE",
                          "value": {"name": "envoy.filters.http.local_ratelimit",
                                    "typed_config": {
                                        "@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
                                        "type_url": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                                        "value": value}}}}]}
    return _object(ENVOY_FILTER, "EnvoyFilter", name, namespace, spec)


def traffic_objects(services, namespace, overrides=None, gateway_rate_limit=None, now=None):
    """Every object for the services, in apply order: DestinationRules (subsets first), VirtualServices,
    rate limit EnvoyFilters. overrides: {service: {subset: weight}} replaces a service's route (canary steps,
    blue-green switches)."""
    rules, routes, filters = [], [], []
    for svc in services or []:
        if svc.get("subsets"):
            rules.append(destination_rule(svc, namespace))
        route = (overrides or {}).get(svc["name"]) or svc.get("route")
        if route:
            routes.append(virtual_service(svc, namespace, route, now))
        if svc.get("rate_limit"):
            filters.append(local_rate_limit("%s-local-ratelimit" % svc["name"], namespace, svc["selector"],
                                            svc["rate_limit"], "SIDECAR_INBOUND"))
    if gateway_rate_limit:
        filters.append(local_rate_limit(gateway_rate_limit.get("name", "gateway-local-ratelimit"),
                                        gateway_rate_limit.get("namespace", "istio-system"),
                                        gateway_rate_limit["selector"], gateway_rate_limit, "GATEWAY"))
    return rules + routes + filters


def route_weights(virtual_service_obj):
    """{subset: weight} of a live VirtualService's default route."""
    for entry in (virtual_service_obj.get("spec") or {}).get("http") or []:
        if entry.get("name") == "default":
            return dict(((d.get("destination") or {}).get("subset"), d.get("weight", 100)) for d in entry.get("route") or [])
    return {}


def canary_weights(stable, canary, percent):
    """The route of one canary step: percent to the canary, the rest to the stable subset."""
    percent = int(percent)
    weights = {stable: 100 - percent, canary: percent}
    return dict((s, w) for s, w in weights.items() if w > 0)


def validate_canary(services, service, stable, canary, steps):
    errors = []
    svc = [s for s in services or [] if s.get("name") == service]
    if not svc:
        return ["traffic_management_canary_service %s is not in traffic_management_services" % service]
    subsets = svc[0].get("subsets") or {}
    for var, subset in (("traffic_management_canary_stable", stable), ("traffic_management_canary_subset", canary)):
        if subset not in subsets:
            errors.append("%s names unknown subset %s (known: %s)" % (var, subset, ", ".join(sorted(subsets))))
    if stable == canary:
        errors.append("traffic_management_canary_stable and traffic_management_canary_subset must differ")
    if not steps or any(not isinstance(s, int) or isinstance(s, bool) or not 0 < s <= 100 for s in steps) \
            or list(steps) != sorted(set(steps)):
        errors.append("traffic_management_canary_steps must be rising percentages from 1 to 100, e.g. [10, 25, 50, 100], "
                      "got %s" % (steps,))
    return errors


# ---------------------------------------------------------------------------------------------- fault expiry

def expired_faults(virtual_services, now=None):
    """Live VirtualServices whose fault expiry has passed, as copies without their fault routes (the
    default and match routes stay), ready for a full replace."""
    out = []
    for vs in virtual_services or []:
        meta = vs.get("metadata") or {}
        expires = parse_time((meta.get("annotations") or {}).get(FAULT_EXPIRES))
        if expires is None or _now(now) < expires:
            continue
        fixed = plain_copy(vs)
        fixed.pop("status", None)
        http = [dict((k, v) for k, v in r.items() if k != "fault") for r in fixed["spec"].get("http") or []
                if not (r.get("name") == "fault" and r.get("fault"))]
        fixed["spec"]["http"] = http
        annotations = fixed["metadata"].setdefault("annotations", {})
        annotations.pop(FAULT_EXPIRES, None)
        annotations[HASH_ANNOTATION] = config_hash(fixed["spec"])
        for key in ("managedFields", "creationTimestamp", "generation", "uid"):
            fixed["metadata"].pop(key, None)
        out.append(fixed)
    return out


# --------------------------------------------------------------------------------------------- authorization

def _principal_list(values):
    return [str(v) for v in values or []]


def authorization_objects(namespace, deny_by_default=True, rules=None, dry_run=False):
    """A namespace's deny-by-default baseline (an ALLOW policy with no rules: it allows nothing) and one ALLOW
    policy per rule, from source principals and namespaces to methods and paths. dry_run annotates every
    policy with istio.io/dry-run, so Envoy only logs and counts what it would decide."""
    annotations = {DRY_RUN: "true"} if dry_run else {}
    objects = []
    for rule in rules or []:
        source, operation = {}, {}
        if rule.get("principals"):
            source["principals"] = _principal_list(rule["principals"])
        if rule.get("namespaces"):
            source["namespaces"] = _principal_list(rule["namespaces"])
        if rule.get("methods"):
            operation["methods"] = [str(m).upper() for m in rule["methods"]]
        if rule.get("paths"):
            operation["paths"] = _principal_list(rule["paths"])
        entry = {}
        if source:
            entry["from"] = [{"source": source}]
        if operation:
            entry["to"] = [{"operation": operation}]
        spec = {"action": "ALLOW", "rules": [entry]}
        if rule.get("selector"):
            spec["selector"] = {"matchLabels": dict(rule["selector"])}
        objects.append(_object(SECURITY, "AuthorizationPolicy", rule["name"], namespace, spec, annotations=annotations))
    # last, so a batch applied in order never denies the namespace before its ALLOW rules exist
    if deny_by_default:
        objects.append(_object(SECURITY, "AuthorizationPolicy", "deny-by-default", namespace, {},
                               annotations=annotations))
    return objects


def stale_managed(desired, live):
    """Live objects this tool manages (app.kubernetes.io/managed-by: istio-runbooks) of the desired kinds that
    the desired objects no longer name: what makes the live set match the variables once removed."""
    wanted = set(_key(o) for o in desired or [])
    kinds = set(o.get("kind") for o in desired or [])
    return [o for o in live or [] if ((o.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/managed-by")
            == "istio-runbooks" and (not kinds or o.get("kind") in kinds) and _key(o) not in wanted]


def validate_authorization(rules):
    errors = []
    names = set()
    for index, rule in enumerate(rules or []):
        where = "authorization_policy_rules[%d]" % index
        if not isinstance(rule.get("name"), str) or not _NAME.match(rule.get("name")) or rule.get("name") == "deny-by-default":
            errors.append("%s.name must be a DNS label other than deny-by-default, got %s" % (where, json.dumps(rule.get("name"))))
        elif rule["name"] in names:
            errors.append("%s.name %s is used twice" % (where, rule["name"]))
        names.add(rule.get("name"))
        if not any(rule.get(k) for k in ("principals", "namespaces", "methods", "paths")):
            errors.append("%s allows everything: give principals, namespaces, methods or paths" % where)
        for principal in rule.get("principals") or []:
            if "/ns/" not in str(principal) and str(principal) != "*":
                errors.append("%s.principals: %s is not a SPIFFE principal such as cluster.local/ns/demo/sa/frontend"
                              % (where, principal))
        for path in rule.get("paths") or []:
            if not str(path).startswith("/") and str(path) != "*":
                errors.append("%s.paths: %s must start with / (or be *)" % (where, path))
    return errors


# ----------------------------------------------------------------------------------- snapshots and revert

def _key(obj):
    meta = obj.get("metadata") or {}
    return (obj.get("kind"), meta.get("namespace") or "", meta.get("name"))


def touched(desired, live):
    """The live objects a batch will touch (same kind, namespace and name): what a snapshot keeps."""
    keys = set(_key(o) for o in desired or [])
    return [o for o in live or [] if _key(o) in keys]


def snapshot_document(desired, live):
    """A snapshot: every object the batch names (touched), and the live state of those that exist. A revert
    deletes the named ones the snapshot lacks, and puts the others back exactly."""
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup

    refs = sorted(set(_key(o) for o in desired or []))
    return {"touched": [{"kind": k, "apiVersion": _api_version(k, desired), "namespace": ns, "name": n}
                        for k, ns, n in refs],
            "objects": clean_for_backup(touched(desired, live))}


def _api_version(kind, objects):
    for obj in objects:
        if obj.get("kind") == kind:
            return obj.get("apiVersion")
    return None


def snapshot_lists(snapshot):
    """The (apiVersion, kind, namespace) lists a revert reads: one per kind and namespace the snapshot names."""
    seen = []
    for ref in (snapshot or {}).get("touched") or []:
        entry = {"apiVersion": ref["apiVersion"], "kind": ref["kind"], "namespace": ref.get("namespace") or ""}
        if entry not in seen:
            seen.append(entry)
    return seen


def revert_plan(snapshot, live):
    """{delete, put}: objects the snapshot names but did not hold are deleted; held ones that differ now
    (spec, labels or annotations), or are gone, are put back exactly."""
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import clean_for_backup

    want = dict((_key(o), o) for o in clean_for_backup((snapshot or {}).get("objects") or []))
    have = dict((_key(o), o) for o in clean_for_backup(live or []))
    delete = []
    for ref in (snapshot or {}).get("touched") or []:
        key = (ref["kind"], ref.get("namespace") or "", ref["name"])
        if key not in want and key in have:
            delete.append(have[key])
    put = []
    for key in sorted(want):
        before, now = want[key], have.get(key)
        meta_b, meta_n = before.get("metadata") or {}, (now or {}).get("metadata") or {}
        if now is None or before.get("spec") != now.get("spec") or (meta_b.get("labels") or {}) != (meta_n.get("labels") or {}) \
                or plain_annotations(meta_b) != plain_annotations(meta_n):
            put.append(before)
    return {"delete": delete, "put": put}


def second_rules(desired, live):
    """'<theirs> also targets <host> (...)' for each live DestinationRule that targets the host of a desired one
    under another name (the ingress migration's <service>-ingress): Istio applies only one rule per host."""
    wanted = {}
    for obj in desired or []:
        if obj.get("kind") == "DestinationRule":
            wanted[(obj["metadata"]["namespace"], obj["spec"]["host"])] = obj["metadata"]["name"]
    found = []
    for obj in live or []:
        meta, host = obj.get("metadata") or {}, (obj.get("spec") or {}).get("host")
        if obj.get("kind") != "DestinationRule":
            continue
        for (namespace, want_host), name in sorted(wanted.items()):
            short = want_host.split(".")[0]
            if meta.get("name") != name and host in (want_host, short, "%s.%s" % (short, namespace)) \
                    and meta.get("namespace") == namespace:
                found.append("DestinationRule %s/%s also targets %s, whose rule %s/%s traffic_management owns: Istio "
                             "applies only one; move its settings into traffic_management_services and delete it"
                             % (namespace, meta.get("name"), want_host, namespace, name))
    return found
