# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NGINX Ingress objects to Gateway API HTTPRoutes or Istio VirtualServices, with a report per Ingress of what
was converted and what was not (never dropped silently); which IngressClass claims an Ingress; the cutover,
rollback and cleanup plans of the migration runbook."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover
    from urlparse import urlsplit  # type: ignore

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import plain_copy

NGINX_PREFIX = "nginx.ingress.kubernetes.io/"
NGINX_CONTROLLER = "k8s.io/ingress-nginx"
ISTIO_CONTROLLER = "istio.io/ingress-controller"
CLASS_ANNOTATION = "kubernetes.io/ingress.class"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
GATEWAY_API = "gateway.networking.k8s.io/v1"
OUTPUTS = ("gateway_api", "istio")
MIGRATED_FROM = "istio-runbooks.io/migrated-from"

# Annotations with no first-class API in Gateway API or Istio: the reason is reported per Ingress.
NOT_CONVERTIBLE = {
    "auth-url": "external authentication has no first-class API; configure an Istio extensionProvider "
                "(ext_authz) and an AuthorizationPolicy with action CUSTOM",
    "limit-rps": "rate limits have no first-class API; use local rate limiting (traffic_management "
                 "rate_limit or gateway_rate_limit)",
    "proxy-body-size": "request body limits have no first-class API; an EnvoyFilter (buffer filter) can set one",
}
# Annotations read together with another one (reported under it).
COMPANIONS = {
    "canary-weight": "canary", "canary-by-header": "canary", "canary-by-header-value": "canary",
    "canary-weight-total": "canary", "session-cookie-name": "affinity", "session-cookie-max-age": "affinity",
    "session-cookie-path": "affinity", "session-cookie-expires": "affinity", "permanent-redirect-code": "permanent-redirect",
    "cors-allow-origin": "enable-cors", "cors-allow-methods": "enable-cors", "cors-allow-headers": "enable-cors",
    "cors-expose-headers": "enable-cors", "cors-allow-credentials": "enable-cors", "cors-max-age": "enable-cors",
    "affinity-mode": "affinity",
}
CONVERTIBLE = ("rewrite-target", "ssl-redirect", "force-ssl-redirect", "canary", "proxy-read-timeout",
               "proxy-send-timeout", "proxy-connect-timeout", "backend-protocol", "enable-cors",
               "whitelist-source-range", "allowlist-source-range", "affinity", "upstream-vhost", "permanent-redirect",
               "app-root", "use-regex", "ssl-passthrough")
_STRIP_PREFIX = re.compile(r"^(/[^()*+?\[\]$^|\\]*?)/?\(/\|\$\)\(\.\*\)$")


class IngressMigrationError(Exception):
    pass


def _meta(obj):
    return obj.get("metadata") or {}


def ref(obj):
    return "%s/%s" % (_meta(obj).get("namespace"), _meta(obj).get("name"))


def nginx_annotations(ingress):
    """The Ingress's nginx.ingress.kubernetes.io/ annotations, without the prefix."""
    return dict((k[len(NGINX_PREFIX):], v) for k, v in (_meta(ingress).get("annotations") or {}).items()
                if k.startswith(NGINX_PREFIX))


def _true(value):
    return str(value).strip().lower() == "true"


# ---- which IngressClass claims an Ingress ------------------------------------------------------------------


def default_classes(ingress_classes):
    return sorted(_meta(c).get("name") for c in ingress_classes
                  if str((_meta(c).get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION, "")).lower() == "true")


def claimed_by(ingress, ingress_classes):
    """The IngressClass that claims an Ingress, as {class, controller, reason}; class None when none does.

    spec.ingressClassName wins, then the deprecated kubernetes.io/ingress.class annotation; an Ingress with
    neither belongs to the default class when exactly one class is marked default (two defaults: none, as
    the API server then refuses new class-less Ingresses)."""
    by_name = dict((_meta(c).get("name"), c) for c in ingress_classes)
    name = (ingress.get("spec") or {}).get("ingressClassName")
    reason = "spec.ingressClassName"
    if not name and (_meta(ingress).get("annotations") or {}).get(CLASS_ANNOTATION):
        name, reason = _meta(ingress)["annotations"][CLASS_ANNOTATION], "annotation %s" % CLASS_ANNOTATION
    if not name:
        defaults = default_classes(ingress_classes)
        if len(defaults) != 1:
            return {"class": None, "controller": None,
                    "reason": "no class named and %s default IngressClasses" % (len(defaults) or "no")}
        name, reason = defaults[0], "default IngressClass"
    if name not in by_name:
        return {"class": None, "controller": None, "reason": "IngressClass %s does not exist (%s)" % (name, reason)}
    return {"class": name, "controller": (by_name[name].get("spec") or {}).get("controller"), "reason": reason}


def claims(ingresses, ingress_classes):
    """{namespace/name: claimed_by(...)} for every Ingress."""
    return dict((ref(i), claimed_by(i, ingress_classes)) for i in ingresses)


def select(ingresses, ingress_classes, ingress_class):
    """The Ingresses claimed by ingress_class ("" = all), sorted by namespace and name."""
    chosen = [i for i in ingresses if not ingress_class or claimed_by(i, ingress_classes)["class"] == ingress_class]
    return sorted(chosen, key=ref)


# ---- conversion ------------------------------------------------------------------------------------------


def _seconds(value, name, problems):
    try:
        number = int(str(value).strip().rstrip("s"))
        if number <= 0:
            raise ValueError
        return number
    except ValueError:
        problems.append({"annotation": name, "value": value, "reason": "not a positive number of seconds"})
        return None


def _service_port(namespace, backend, services):
    """The backend's Service name and port number; a named port is resolved through the Service."""
    service = (backend or {}).get("service") or {}
    port = service.get("port") or {}
    if port.get("number"):
        return service.get("name"), int(port["number"]), None
    live = services.get("%s/%s" % (namespace, service.get("name")))
    for entry in ((live or {}).get("spec") or {}).get("ports") or []:
        if entry.get("name") == port.get("name"):
            return service.get("name"), int(entry["port"]), None
    return service.get("name"), None, ("port %r of Service %s/%s not found; name its number in the Ingress"
                                       % (port.get("name"), namespace, service.get("name")))


def _paths(ingress):
    """(host, path, pathType, backend) for every rule path, and the default backend last (host None)."""
    spec = ingress.get("spec") or {}
    found = []
    for rule in spec.get("rules") or []:
        for path in ((rule.get("http") or {}).get("paths") or []):
            found.append((rule.get("host"), path.get("path") or "/", path.get("pathType") or "Prefix", path.get("backend")))
    if spec.get("defaultBackend"):
        found.append((None, "/", "Prefix", spec["defaultBackend"]))
    return found


class _Analysis(object):
    """What an Ingress's annotations ask for, in neutral terms, plus the report entries."""

    def __init__(self, ingress):
        self.ingress = ingress
        self.annotations = nginx_annotations(ingress)
        self.converted, self.not_converted, self.notes = [], [], []
        a = self.annotations
        self.tls = (ingress.get("spec") or {}).get("tls") or []
        self.use_regex = _true(a.get("use-regex", "false"))
        self.rewrite = None      # ("prefix", value) or ("strip", literal_prefix)
        self.redirect_https = False
        self.timeout = None
        self.connect_timeout = None
        self.protocol = None
        self.cors = None
        self.source_ranges = None
        self.cookie = None
        self.vhost = a.get("upstream-vhost")
        self.permanent = None
        self.app_root = a.get("app-root")
        self.passthrough = _true(a.get("ssl-passthrough", "false"))
        self._read()

    def _convert(self, name, to):
        self.converted.append({"annotation": NGINX_PREFIX + name, "to": to})

    def _refuse(self, name, reason, value=None):
        entry = {"annotation": NGINX_PREFIX + name, "reason": reason}
        if value is not None:
            entry["value"] = value
        self.not_converted.append(entry)

    def _read(self):
        a = self.annotations
        for name in sorted(a):
            if name.endswith("-snippet") or name == "configuration-snippet":
                self._refuse(name, "raw NGINX configuration has no equivalent in Gateway API or Istio; "
                                   "rewrite it as route filters or an EnvoyFilter by hand")
            elif name in NOT_CONVERTIBLE or name.startswith("auth-") or name.startswith("limit-"):
                self._refuse(name, NOT_CONVERTIBLE.get(name) or "authentication and rate-limit annotations have "
                             "no first-class API; see auth-url and limit-rps in the report's documentation")
            elif name not in CONVERTIBLE and name not in COMPANIONS:
                self._refuse(name, "not an annotation this converter knows; check it by hand")
            elif name in COMPANIONS and COMPANIONS[name] not in a:
                self._refuse(name, "has no effect without %s%s" % (NGINX_PREFIX, COMPANIONS[name]))
        if "rewrite-target" in a:
            target = a["rewrite-target"]
            paths = [p for _, p, _, _ in _paths(self.ingress)]
            strips = [_STRIP_PREFIX.match(p) for p in paths]
            if "$" not in target:
                self.rewrite = ("prefix", target)
                self._convert("rewrite-target", "URL rewrite of the matched prefix to %s" % target)
            elif target in ("/$2", "/$2/") and self.use_regex and paths and all(strips):
                self.rewrite = ("strip", None)
                self._convert("rewrite-target", "prefix match of each path's literal part, rewritten to /")
            else:
                self._refuse("rewrite-target", "capture groups other than the /prefix(/|$)(.*) -> /$2 idiom have no "
                                               "equivalent (rewrites replace a prefix or the full path)", target)
        force = _true(a.get("force-ssl-redirect", "false"))
        ssl = a.get("ssl-redirect")
        if force or (self.tls and ssl is None) or (self.tls and _true(ssl)):
            self.redirect_https = True
        for name in ("ssl-redirect", "force-ssl-redirect"):
            if name in a:
                self._convert(name, "HTTP to HTTPS redirect" if self.redirect_https else "no redirect")
        if self.tls and "ssl-redirect" not in a and "force-ssl-redirect" not in a:
            self.notes.append("TLS hosts redirect HTTP to HTTPS as NGINX does by default")
        for name in ("proxy-read-timeout", "proxy-send-timeout"):
            if name in a:
                value = _seconds(a[name], NGINX_PREFIX + name, self.not_converted)
                if value:
                    self.timeout = max(self.timeout or 0, value)
                    self._convert(name, "route timeout %ss (the larger of read and send; NGINX times each read "
                                        "or write, Envoy the whole request)" % self.timeout)
        if "proxy-connect-timeout" in a:
            value = _seconds(a["proxy-connect-timeout"], NGINX_PREFIX + "proxy-connect-timeout", self.not_converted)
            if value:
                self.connect_timeout = "%ss" % value
                self._convert("proxy-connect-timeout", "DestinationRule connectionPool.tcp.connectTimeout")
        if "backend-protocol" in a:
            protocol = a["backend-protocol"].upper()
            if protocol in ("HTTP", "HTTPS", "GRPC", "GRPCS"):
                self.protocol = protocol
                self._convert("backend-protocol", {
                    "HTTP": "nothing to do (the default)",
                    "HTTPS": "DestinationRule trafficPolicy.tls SIMPLE to the backend",
                    "GRPC": "nothing on the route; name the Service port grpc-* or set appProtocol: grpc",
                    "GRPCS": "DestinationRule trafficPolicy.tls SIMPLE; name the Service port grpc-* "
                             "or set appProtocol: grpc"}[protocol])
            else:
                self._refuse("backend-protocol", "%s backends have no equivalent" % protocol, a["backend-protocol"])
        if _true(a.get("enable-cors", "false")):
            origins = [o.strip() for o in a.get("cors-allow-origin", "*").split(",") if o.strip()]
            self.cors = {
                "origins": origins,
                "methods": [m.strip() for m in a.get("cors-allow-methods", "GET, PUT, POST, DELETE, PATCH, OPTIONS")
                            .split(",") if m.strip()],
                "headers": [h.strip() for h in a.get(
                    "cors-allow-headers", "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,"
                    "Cache-Control,Content-Type,Range,Authorization").split(",") if h.strip()],
                "expose": [h.strip() for h in a.get("cors-expose-headers", "").split(",") if h.strip()],
                "credentials": _true(a.get("cors-allow-credentials", "true")),
                "max_age": _seconds(a.get("cors-max-age", "1728000"), NGINX_PREFIX + "cors-max-age", self.not_converted),
            }
            self._convert("enable-cors", "CORS policy (origins %s)" % ", ".join(origins))
        elif "enable-cors" in a:
            self._convert("enable-cors", "nothing (false)")
        for name in ("whitelist-source-range", "allowlist-source-range"):
            if name in a:
                self.source_ranges = [c.strip() for c in a[name].split(",") if c.strip()]
                self._convert(name, "AuthorizationPolicy DENY unless remoteIpBlocks %s at the gateway (needs the "
                                    "client address: numTrustedProxies or PROXY protocol)" % ", ".join(self.source_ranges))
        if "affinity" in a:
            if a["affinity"] == "cookie":
                age = a.get("session-cookie-max-age")
                self.cookie = {"name": a.get("session-cookie-name", "INGRESSCOOKIE"),
                               "ttl": ("%ss" % age) if age else "0s"}
                if a.get("session-cookie-path"):
                    self.cookie["path"] = a["session-cookie-path"]
                self._convert("affinity", "DestinationRule consistentHash.httpCookie %s" % self.cookie["name"])
            else:
                self._refuse("affinity", "only cookie affinity has an equivalent", a["affinity"])
        if self.vhost:
            self._convert("upstream-vhost", "Host header rewrite to %s" % self.vhost)
        if "permanent-redirect" in a:
            url = urlsplit(a["permanent-redirect"])
            code = int(a.get("permanent-redirect-code", "301") or 301)
            if code not in (301, 302, 303, 307, 308):
                code = 301
            self.permanent = {"scheme": url.scheme or None, "host": url.hostname, "port": url.port,
                              "path": url.path or "/", "code": code}
            self._convert("permanent-redirect", "redirect %s to %s" % (code, a["permanent-redirect"]))
        if self.app_root:
            self._convert("app-root", "redirect 302 from / to %s" % self.app_root)
        if "use-regex" in a:
            self._convert("use-regex", "regular-expression path matches" if self.use_regex else "nothing (false)")
        if "ssl-passthrough" in a:
            self._convert("ssl-passthrough", "TLS passthrough by SNI host" if self.passthrough else "nothing (false)")

    def match_path(self, path, path_type):
        """(kind, value): kind Exact, PathPrefix or RegularExpression."""
        if self.rewrite and self.rewrite[0] == "strip":
            return "PathPrefix", _STRIP_PREFIX.match(path).group(1) or "/"
        if self.use_regex:
            return "RegularExpression", path
        return ("Exact", path) if path_type == "Exact" else ("PathPrefix", path)


def _canaries(ingresses):
    """{(host, path): [(canary ingress, analysis)]} of the canary Ingresses."""
    found = {}
    for ingress in ingresses:
        if _true(nginx_annotations(ingress).get("canary", "false")):
            for host, path, _, backend in _paths(ingress):
                found.setdefault((_meta(ingress).get("namespace"), host, path), []).append((ingress, backend))
    return found


def _gw_match(kind, value, headers=None):
    match = {"path": {"type": kind, "value": value}}
    if headers:
        match["headers"] = [{"type": "Exact", "name": k, "value": v} for k, v in headers]
    return match


def _labels(ingress):
    return {MIGRATED_FROM: "ingress-%s" % _meta(ingress).get("name")}


def _object(api_version, kind, name, namespace, ingress, spec):
    return {"apiVersion": api_version, "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "annotations": _labels(ingress)}, "spec": spec}


def _traffic_policy_objects(ingress, analysis, backends):
    """DestinationRules per backend Service for connect timeout, backend TLS and cookie affinity."""
    policy = {}
    if analysis.connect_timeout:
        policy["connectionPool"] = {"tcp": {"connectTimeout": analysis.connect_timeout}}
    if analysis.protocol in ("HTTPS", "GRPCS"):
        policy["tls"] = {"mode": "SIMPLE"}
    if analysis.cookie:
        policy["loadBalancer"] = {"consistentHash": {"httpCookie": dict(analysis.cookie)}}
    if not policy:
        return []
    namespace = _meta(ingress).get("namespace")
    return [_object("networking.istio.io/v1", "DestinationRule", "%s-ingress" % service, namespace, ingress,
                    {"host": "%s.%s.svc.cluster.local" % (service, namespace), "trafficPolicy": plain_copy(policy)})
            for service in sorted(set(backends))]


def _authorization_objects(ingress, analysis, hosts, gateway, output):
    if not analysis.source_ranges:
        return []
    spec = {"action": "DENY", "rules": [{"from": [{"source": {"notRemoteIpBlocks": analysis.source_ranges}}]}]}
    if hosts:
        spec["rules"][0]["to"] = [{"operation": {"hosts": hosts}}]
    if output == "gateway_api":
        spec["targetRefs"] = [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway["name"]}]
    else:
        spec["selector"] = {"matchLabels": dict(gateway["selector"])}
    name = "%s-%s-source-range" % (_meta(ingress).get("namespace"), _meta(ingress).get("name"))
    return [_object("security.istio.io/v1", "AuthorizationPolicy", name[:253], gateway["namespace"], ingress, spec)]


def _host_groups(ingress):
    """[(host or None, [(path, pathType, backend)])] in rule order; the default backend joins every group."""
    groups, order = {}, []
    default = None
    for host, path, kind, backend in _paths(ingress):
        if host is None and (ingress.get("spec") or {}).get("defaultBackend") is backend:
            default = (path, kind, backend)
            continue
        if host not in groups:
            groups[host] = []
            order.append(host)
        groups[host].append((path, kind, backend))
    if default:
        if not order:
            order.append(None)
            groups[None] = []
        for host in order:
            groups[host].append(default)
    return [(host, groups[host]) for host in order]


def _route_name(ingress, index, count):
    name = _meta(ingress).get("name")
    return name if count == 1 else "%s-%d" % (name, index)


def _gateway_api_routes(ingress, analysis, canaries, services, gateway, problems):
    namespace = _meta(ingress).get("namespace")
    groups = _host_groups(ingress)
    objects, backends = [], []
    tls_hosts = set(h for t in analysis.tls for h in (t.get("hosts") or []))
    for index, (host, paths) in enumerate(groups):
        name = _route_name(ingress, index, len(groups))
        if analysis.passthrough:
            refs = []
            for _, _, backend in paths:
                service, port, problem = _service_port(namespace, backend, services)
                if problem:
                    problems.append(problem)
                    continue
                refs.append({"name": service, "port": port})
                backends.append(service)
            spec = {"parentRefs": [dict(gateway["ref"], sectionName=gateway["tls_passthrough_listener"])],
                    "rules": [{"backendRefs": refs[:1]}]}
            if host:
                spec["hostnames"] = [host]
            objects.append(_object(GATEWAY_API, "TLSRoute", name, namespace, ingress, spec))
            continue
        section = gateway["https_listener"] if host in tls_hosts or (host is None and analysis.tls) else gateway["http_listener"]
        rules = []
        if analysis.app_root:
            rules.append({"matches": [_gw_match("Exact", "/")],
                          "filters": [{"type": "RequestRedirect", "requestRedirect": {
                              "path": {"type": "ReplaceFullPath", "replaceFullPath": analysis.app_root},
                              "statusCode": 302}}]})
        for path, path_type, backend in paths:
            kind, value = analysis.match_path(path, path_type)
            service, port, problem = _service_port(namespace, backend, services)
            if problem:
                problems.append(problem)
                continue
            backends.append(service)
            filters = []
            if analysis.permanent:
                redirect = {"statusCode": analysis.permanent["code"],
                            "path": {"type": "ReplaceFullPath", "replaceFullPath": analysis.permanent["path"]}}
                for key, field in (("scheme", "scheme"), ("host", "hostname"), ("port", "port")):
                    if analysis.permanent[key]:
                        redirect[field] = analysis.permanent[key]
                rules.append({"matches": [_gw_match(kind, value)],
                              "filters": [{"type": "RequestRedirect", "requestRedirect": redirect}]})
                continue
            rewrite = {}
            if analysis.rewrite:
                rewrite["path"] = {"type": "ReplacePrefixMatch",
                                   "replacePrefixMatch": analysis.rewrite[1] if analysis.rewrite[0] == "prefix" else "/"}
            if analysis.vhost:
                rewrite["hostname"] = analysis.vhost
            if rewrite:
                filters.append({"type": "URLRewrite", "urlRewrite": rewrite})
            if analysis.cors:
                cors = {"allowOrigins": analysis.cors["origins"], "allowMethods": analysis.cors["methods"],
                        "allowHeaders": analysis.cors["headers"],
                        "allowCredentials": analysis.cors["credentials"]}
                if analysis.cors["expose"]:
                    cors["exposeHeaders"] = analysis.cors["expose"]
                if analysis.cors["max_age"]:
                    cors["maxAge"] = analysis.cors["max_age"]
                filters.append({"type": "CORS", "cors": cors})
            primary = {"name": service, "port": port}
            canary_rules, weighted = [], [primary]
            for canary, canary_backend in canaries.get((namespace, host, path), []):
                c_annotations = nginx_annotations(canary)
                c_service, c_port, c_problem = _service_port(namespace, canary_backend, services)
                if c_problem:
                    problems.append(c_problem)
                    continue
                backends.append(c_service)
                if c_annotations.get("canary-by-header"):
                    header = (c_annotations["canary-by-header"], c_annotations.get("canary-by-header-value", "always"))
                    canary_rules.append({"matches": [_gw_match(kind, value, [header])],
                                         "backendRefs": [{"name": c_service, "port": c_port}]})
                if c_annotations.get("canary-weight"):
                    weight = int(c_annotations["canary-weight"])
                    total = int(c_annotations.get("canary-weight-total", "100"))
                    primary["weight"] = total - weight
                    weighted.append({"name": c_service, "port": c_port, "weight": weight})
            for rule in canary_rules:
                if filters:
                    rule["filters"] = plain_copy(filters)
                if analysis.timeout:
                    rule["timeouts"] = {"request": "%ss" % analysis.timeout}
            rules.extend(canary_rules)
            rule = {"matches": [_gw_match(kind, value)], "backendRefs": weighted}
            if filters:
                rule["filters"] = filters
            if analysis.timeout:
                rule["timeouts"] = {"request": "%ss" % analysis.timeout}
            rules.append(rule)
        spec = {"parentRefs": [dict(gateway["ref"], sectionName=section)], "rules": rules}
        if host:
            spec["hostnames"] = [host]
        objects.append(_object(GATEWAY_API, "HTTPRoute", name, namespace, ingress, spec))
        if section == gateway["https_listener"] and analysis.redirect_https:
            redirect = {"parentRefs": [dict(gateway["ref"], sectionName=gateway["http_listener"])],
                        "rules": [{"filters": [{"type": "RequestRedirect",
                                                "requestRedirect": {"scheme": "https", "statusCode": 301}}]}]}
            if host:
                redirect["hostnames"] = [host]
            objects.append(_object(GATEWAY_API, "HTTPRoute", name + "-https-redirect", namespace, ingress, redirect))
    return objects, backends


def _istio_match(kind, value, headers=None):
    uri = {"Exact": "exact", "PathPrefix": "prefix", "RegularExpression": "regex"}[kind]
    match = {"uri": {uri: value}}
    if headers:
        match["headers"] = dict((k, {"exact": v}) for k, v in headers)
    return match


def _istio_objects(ingress, analysis, canaries, services, gateway, problems):
    namespace, name = _meta(ingress).get("namespace"), _meta(ingress).get("name")
    hosts = [h for h, _ in _host_groups(ingress)]
    hosts = [h or "*" for h in hosts] or ["*"]
    gateway_name = "%s-%s" % (name, "gateway")
    servers = []
    tls_by_host = dict((h, t.get("secretName")) for t in analysis.tls for h in (t.get("hosts") or []))
    plain = [h for h in hosts if h not in tls_by_host]
    secured = [h for h in hosts if h in tls_by_host]
    if analysis.passthrough:
        servers.append({"port": {"number": 443, "name": "tls", "protocol": "TLS"}, "hosts": hosts,
                        "tls": {"mode": "PASSTHROUGH"}})
    else:
        if plain or (secured and analysis.redirect_https) or secured:
            http_hosts = plain + secured
            server = {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": http_hosts}
            if secured and analysis.redirect_https and not plain:
                server["tls"] = {"httpsRedirect": True}
            elif secured and analysis.redirect_https:
                problems.append("HTTPS redirect applies to every host of the HTTP server; split the Ingress so TLS and "
                                "plain hosts are apart")
            servers.append(server)
        for secret in sorted(set(tls_by_host[h] for h in secured)):
            servers.append({"port": {"number": 443, "name": "https-%s" % secret, "protocol": "HTTPS"},
                            "hosts": [h for h in secured if tls_by_host[h] == secret],
                            "tls": {"mode": "SIMPLE", "credentialName": secret}})
    objects = [_object("networking.istio.io/v1", "Gateway", gateway_name, namespace, ingress,
                       {"selector": dict(gateway["selector"]), "servers": servers})]
    backends, http, tls = [], [], []
    for host, paths in _host_groups(ingress):
        for path, path_type, backend in paths:
            kind, value = analysis.match_path(path, path_type)
            service, port, problem = _service_port(namespace, backend, services)
            if problem:
                problems.append(problem)
                continue
            backends.append(service)
            destination = {"host": "%s.%s.svc.cluster.local" % (service, namespace), "port": {"number": port}}
            if analysis.passthrough:
                tls.append({"match": [{"port": 443, "sniHosts": [host or "*"]}], "route": [{"destination": destination}]})
                continue
            route = {"name": ("%s-%s" % (host or "any", value)).strip("/")[:60] or "root"}
            extra = {}
            if analysis.permanent:
                redirect = {"uri": analysis.permanent["path"], "redirectCode": analysis.permanent["code"]}
                if analysis.permanent["scheme"]:
                    redirect["scheme"] = analysis.permanent["scheme"]
                if analysis.permanent["host"]:
                    redirect["authority"] = analysis.permanent["host"] + (
                        ":%s" % analysis.permanent["port"] if analysis.permanent["port"] else "")
                http.append(dict(route, match=[_istio_match(kind, value)], redirect=redirect))
                continue
            rewrite = {}
            if analysis.rewrite:
                rewrite["uri"] = analysis.rewrite[1] if analysis.rewrite[0] == "prefix" else "/"
            if analysis.vhost:
                rewrite["authority"] = analysis.vhost
            if rewrite:
                extra["rewrite"] = rewrite
            if analysis.timeout:
                extra["timeout"] = "%ss" % analysis.timeout
            if analysis.cors:
                cors = {"allowOrigins": [{"exact": o} if o != "*" else {"regex": ".*"} for o in analysis.cors["origins"]],
                        "allowMethods": analysis.cors["methods"], "allowHeaders": analysis.cors["headers"],
                        "allowCredentials": analysis.cors["credentials"]}
                if analysis.cors["expose"]:
                    cors["exposeHeaders"] = analysis.cors["expose"]
                if analysis.cors["max_age"]:
                    cors["maxAge"] = "%ss" % analysis.cors["max_age"]
                extra["corsPolicy"] = cors
            weighted = [{"destination": destination}]
            for canary, canary_backend in canaries.get((namespace, host, path), []):
                c_annotations = nginx_annotations(canary)
                c_service, c_port, c_problem = _service_port(namespace, canary_backend, services)
                if c_problem:
                    problems.append(c_problem)
                    continue
                backends.append(c_service)
                c_destination = {"host": "%s.%s.svc.cluster.local" % (c_service, namespace), "port": {"number": c_port}}
                if c_annotations.get("canary-by-header"):
                    header = (c_annotations["canary-by-header"], c_annotations.get("canary-by-header-value", "always"))
                    http.append(dict(plain_copy(extra), name=route["name"] + "-canary-header",
                                     match=[_istio_match(kind, value, [header])],
                                     route=[{"destination": c_destination}]))
                if c_annotations.get("canary-weight"):
                    weight = int(c_annotations["canary-weight"])
                    total = int(c_annotations.get("canary-weight-total", "100"))
                    weighted[0]["weight"] = int(round(100.0 * (total - weight) / total))
                    weighted.append({"destination": c_destination, "weight": 100 - weighted[0]["weight"]})
            http.append(dict(route, match=[_istio_match(kind, value)], route=weighted, **extra))
    if analysis.app_root:
        redirect = {"uri": analysis.app_root, "redirectCode": 302}
        http.insert(0, {"name": "app-root", "match": [{"uri": {"exact": "/"}}], "redirect": redirect})
    spec = {"hosts": hosts, "gateways": [gateway_name]}
    if http:
        spec["http"] = http
    if tls:
        spec["tls"] = tls
    objects.append(_object("networking.istio.io/v1", "VirtualService", name, namespace, ingress, spec))
    return objects, backends


def convert(ingresses, output="gateway_api", gateway=None, services=None):
    """Converted objects and a report entry per Ingress: {objects, report}.

    ingresses: the Ingresses to migrate (canary Ingresses are merged into the primary of the same host and
    path); output: gateway_api (HTTPRoute, TLSRoute) or istio (VirtualService + Gateway); gateway: for
    gateway_api {ref: parentRef of the Gateway, name, namespace, http_listener, https_listener,
    tls_passthrough_listener}, for istio {selector, namespace}; services: {namespace/name: Service} to
    resolve named ports."""
    if output not in OUTPUTS:
        raise IngressMigrationError("output must be one of %s, got %r" % (", ".join(OUTPUTS), output))
    gateway = gateway_defaults(gateway)
    services = services or {}
    canaries = _canaries(ingresses)
    primaries = set()
    for ingress in ingresses:
        if not _true(nginx_annotations(ingress).get("canary", "false")):
            for host, path, _, _ in _paths(ingress):
                primaries.add((_meta(ingress).get("namespace"), host, path))
    objects, report = [], []
    for ingress in sorted(ingresses, key=ref):
        analysis = _Analysis(ingress)
        problems = []
        entry = {"ingress": ref(ingress), "objects": [], "converted": analysis.converted,
                 "not_converted": analysis.not_converted, "notes": analysis.notes}
        if _true(analysis.annotations.get("canary", "false")):
            keys = [(_meta(ingress).get("namespace"), h, p) for h, p, _, _ in _paths(ingress)]
            missing = [k for k in keys if k not in primaries]
            if missing:
                analysis._refuse("canary", "no primary Ingress in the selection serves %s"
                                 % ", ".join("%s%s" % (h or "*", p) for _, h, p in missing))
            else:
                analysis._convert("canary", "merged into the primary Ingress's route (weights or header match)")
            report.append(entry)
            continue
        if output == "gateway_api":
            made, backends = _gateway_api_routes(ingress, analysis, canaries, services, gateway, problems)
        else:
            made, backends = _istio_objects(ingress, analysis, canaries, services, gateway, problems)
        hosts = [h for h, _ in _host_groups(ingress) if h]
        made += _traffic_policy_objects(ingress, analysis, backends)
        made += _authorization_objects(ingress, analysis, hosts, gateway, output)
        for problem in problems:
            analysis.not_converted.append({"annotation": None, "reason": problem})
        if analysis.tls and output == "gateway_api" and not analysis.passthrough:
            analysis.notes.append("TLS terminates at the Gateway: its %s listener needs certificateRefs to Secret %s "
                                  "(a ReferenceGrant when it is in another namespace)"
                                  % (gateway["https_listener"], ", ".join(
                                      "%s/%s" % (_meta(ingress).get("namespace"), t.get("secretName"))
                                      for t in analysis.tls)))
        if analysis.tls and output == "istio" and not analysis.passthrough:
            analysis.notes.append("TLS terminates at the Istio gateway: it reads Secret %s from its own namespace "
                                  "(copy it there)" % ", ".join(t.get("secretName") or "?" for t in analysis.tls))
        entry["objects"] = ["%s/%s/%s" % (o["metadata"]["namespace"], o["kind"], o["metadata"]["name"]) for o in made]
        objects += made
        report.append(entry)
    return {"objects": objects, "report": report}


def gateway_defaults(gateway):
    gateway = dict(gateway or {})
    gateway.setdefault("name", "ingress")
    gateway.setdefault("namespace", "istio-ingress")
    gateway.setdefault("http_listener", "http")
    gateway.setdefault("https_listener", "https")
    gateway.setdefault("tls_passthrough_listener", "tls-passthrough")
    gateway.setdefault("selector", {"istio": "ingressgateway"})
    gateway.setdefault("ref", {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway["name"],
                               "namespace": gateway["namespace"]})
    return gateway


def report_lines(report):
    """The report as one line per finding, for the console."""
    lines = []
    for entry in report:
        lines.append("%s: %s" % (entry["ingress"], ", ".join(entry["objects"]) or "no objects of its own"))
        lines += ["  converted %s -> %s" % (c["annotation"], c["to"]) for c in entry["converted"]]
        lines += ["  NOT CONVERTED %s: %s" % (n["annotation"] or "(rule)", n["reason"]) for n in entry["not_converted"]]
        lines += ["  note: %s" % n for n in entry["notes"]]
    return lines


# ---- cutover, rollback, cleanup ----------------------------------------------------------------------------


_SERVER_FIELDS = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink",
                  "deletionTimestamp", "deletionGracePeriodSeconds")


def snapshot_copy(ingress):
    """The Ingress as a snapshot keeps it: no status, no server-written metadata."""
    obj = plain_copy(ingress)
    obj.pop("status", None)
    for key in _SERVER_FIELDS:
        obj.get("metadata", {}).pop(key, None)
    annotations = obj.get("metadata", {}).get("annotations")
    if annotations is not None and not annotations:
        obj["metadata"].pop("annotations")
    obj.setdefault("apiVersion", "networking.k8s.io/v1")
    obj.setdefault("kind", "Ingress")
    return obj


def cutover(ingresses, target_class):
    """The Ingresses (full objects, resourceVersion kept) to replace so target_class claims them; the deprecated
    class annotation goes, so spec.ingressClassName alone decides."""
    changes = []
    for ingress in ingresses:
        annotations = _meta(ingress).get("annotations") or {}
        if (ingress.get("spec") or {}).get("ingressClassName") == target_class and CLASS_ANNOTATION not in annotations:
            continue
        obj = snapshot_copy(ingress)
        obj["metadata"]["resourceVersion"] = _meta(ingress).get("resourceVersion")
        obj["spec"]["ingressClassName"] = target_class
        obj["metadata"].get("annotations", {}).pop(CLASS_ANNOTATION, None)
        changes.append(obj)
    return changes


def _comparable(obj):
    clean = snapshot_copy(obj)
    meta = clean.get("metadata", {})
    return {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {},
            "spec": clean.get("spec") or {}}


def rollback(snapshot_ingresses, live_ingresses):
    """The snapshot's Ingresses that differ from (or are missing in) the cluster, ready to put back exactly."""
    live = dict((ref(i), i) for i in live_ingresses)
    puts = []
    for saved in snapshot_ingresses:
        have = live.get(ref(saved))
        if have is not None and _comparable(have) == _comparable(saved):
            continue
        obj = snapshot_copy(saved)
        if have is not None:
            obj["metadata"]["resourceVersion"] = _meta(have).get("resourceVersion")
        puts.append(obj)
    return puts


def verify_cutover(snapshot_ingresses, live_ingresses, target_class):
    """Problems that stop a cutover counting as verified: every snapshotted Ingress must exist and be claimed by
    target_class through spec.ingressClassName."""
    live = dict((ref(i), i) for i in live_ingresses)
    problems = []
    for saved in snapshot_ingresses:
        have = live.get(ref(saved))
        if have is None:
            problems.append("%s is gone" % ref(saved))
        elif (have.get("spec") or {}).get("ingressClassName") != target_class:
            problems.append("%s has class %s, not %s" % (ref(saved), (have.get("spec") or {}).get("ingressClassName"),
                                                         target_class))
    return problems


def cleanup(state, live_ingresses, target_class):
    """(Ingresses to delete, problems). Only after a verified cutover that was not rolled back, and only the
    snapshot's Ingresses still claimed by target_class."""
    state = state or {}
    if not state.get("verified"):
        return [], ["the cutover was not verified (run the cutover phase first; a rollback clears the verification)"]
    saved = state.get("ingresses") or []
    problems = verify_cutover(saved, [i for i in live_ingresses], target_class)
    problems = [p for p in problems if not p.endswith(" is gone")]
    live = dict((ref(i), i) for i in live_ingresses)
    delete = [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": _meta(i)["name"], "namespace": _meta(i)["namespace"]}}
              for i in saved if ref(i) in live]
    return ([] if problems else delete), problems


# ---- reading the cluster ----------------------------------------------------------------------------------


def read(dynamic_client, namespaces, label_selector, with_crds=True):
    """Ingresses (one list per namespace, or one cluster-wide), IngressClasses (one list), Services only where a
    backend names its port (one list per such namespace) and whether the Gateway API route CRDs are served.
    Returns (state dict, api_calls)."""
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import list_items

    calls = [0]

    def listed(api_version, kind, namespace=None, selector=None):
        resource = dynamic_client.resources.get(api_version=api_version, kind=kind)
        kwargs = {}
        if namespace:
            kwargs["namespace"] = namespace
        if selector:
            kwargs["label_selector"] = selector
        calls[0] += 1
        return list_items(resource, **kwargs)

    ingresses = []
    for namespace in namespaces or [None]:
        try:
            ingresses += listed("networking.k8s.io/v1", "Ingress", namespace, label_selector)
        except Exception as exc:  # pylint: disable=broad-except
            if getattr(exc, "status", None) != 404:
                raise
    classes = listed("networking.k8s.io/v1", "IngressClass")
    named = sorted(set(_meta(i).get("namespace") for i in ingresses
                       for _, _, _, b in _paths(i) if not (((b or {}).get("service") or {}).get("port") or {}).get("number")))
    services = {}
    for namespace in named:
        for service in listed("v1", "Service", namespace):
            services["%s/%s" % (namespace, _meta(service).get("name"))] = service
    crds = []
    if with_crds:
        for name in ("httproutes", "tlsroutes", "gateways"):
            crd = "%s.gateway.networking.k8s.io" % name
            calls[0] += 1
            crds += [c for c in listed_crd(dynamic_client, crd)]
    return {"ingresses": ingresses, "ingress_classes": classes, "services": services,
            "gateway_api_crds": sorted(_meta(c).get("name") for c in crds)}, calls[0]


def listed_crd(dynamic_client, name):
    resource = dynamic_client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    try:
        return [resource.get(name=name).to_dict()]
    except Exception as exc:  # pylint: disable=broad-except
        if getattr(exc, "status", None) == 404:
            return []
        raise


def plan(state, ingress_class="", output="gateway_api", gateway=None, target_class="istio", snapshot=None):
    """Everything a migration phase decides, from one read: the selection, claims, converted objects and report,
    and the cutover, rollback, verification and cleanup plans (the last three against the snapshot)."""
    classes = state["ingress_classes"]
    selected = select(state["ingresses"], classes, ingress_class)
    converted = convert(selected, output, gateway, state.get("services"))
    saved = (snapshot or {}).get("ingresses") or []
    active = saved if saved and not (snapshot or {}).get("rolled_back") else []
    # a cutover run again after a partial one keeps what the first snapshot saw of the Ingresses it moved
    keep = active + [snapshot_copy(i) for i in selected if ref(i) not in set(ref(s) for s in active)]
    delete, cleanup_problems = cleanup(snapshot, state["ingresses"], target_class)
    return dict(
        selected=[ref(i) for i in selected],
        ingresses=[snapshot_copy(i) for i in selected],
        claims=claims(state["ingresses"], classes),
        ingress_classes=[{"name": _meta(c).get("name"), "controller": (c.get("spec") or {}).get("controller"),
                          "default": _meta(c).get("name") in default_classes(classes)} for c in classes],
        objects=converted["objects"],
        report=converted["report"],
        report_lines=report_lines(converted["report"]),
        not_converted=sum(len(e["not_converted"]) for e in converted["report"]),
        cutover=cutover(selected, target_class),
        snapshot_ingresses=keep,
        snapshot_objects=convert(saved, output, gateway, state.get("services"))["objects"] if saved else [],
        rollback=rollback(saved, state["ingresses"]),
        verify_problems=verify_cutover(saved, state["ingresses"], target_class) if saved else [],
        cleanup=delete,
        cleanup_problems=cleanup_problems,
        gateway_api_crds=state.get("gateway_api_crds") or [],
    )
