# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Observability addons: input checks, the Kiali-Istio version pairing and the addon label."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import plain_copy

ADDONS = ("prometheus", "kiali", "grafana", "tracing")
ADDON_LABEL = "istio-runbooks.io/addon"
# registry[:port]/path[:tag][@sha256:digest], lowercase path; no spaces
_IMAGE = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)+"
                    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$")
_RETENTION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")
_VERSION = re.compile(r"^v?([0-9]+)\.([0-9]+)")


def unknown_addons(names):
    """The names that are not addons this role knows."""
    return [n for n in (names or []) if n not in ADDONS]


def invalid_images(images):
    """From a {variable: image reference} map, the entries that are not valid references."""
    return dict((k, v) for k, v in sorted((images or {}).items()) if not _IMAGE.match(str(v)))


def valid_retention(value):
    """A Prometheus retention time: one or more <number><unit>, units ms s m h d w y, above zero."""
    value = str(value).strip()
    if not _RETENTION.match(value):
        return False
    return any(int(n) > 0 for n in re.findall(r"[0-9]+", value))


def minor_version(version):
    """'v2.27.1' -> (2, 27); '1.31-alpha.eed52ebb66ad' -> (1, 31); None when it has no major.minor."""
    match = _VERSION.match(str(version or "").strip())
    return (int(match.group(1)), int(match.group(2))) if match else None


def image_tag(image):
    """The tag of an image reference ('' without one)."""
    ref = str(image or "").split("@")[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def kiali_compatibility(kiali_version, istio_version, table):
    """Whether a Kiali version suits an Istio version, per the role's table.

    table: [{kiali: '2.27', istio_min: '1.29', istio_max: '1.31'}, ...].
    Returns {verdict: ok|refuse|unknown, message}. 'refuse' only for a Kiali version the table lists
    with an Istio version outside its range (a known-bad pair); versions the table does not know are 'unknown'.
    """
    kiali, istio = minor_version(kiali_version), minor_version(istio_version)
    if kiali is None or istio is None:
        return {"verdict": "unknown", "message": "cannot read the Kiali version %r or the Istio version %r; "
                "the pairing is not checked" % (kiali_version, istio_version)}
    for row in table or []:
        if minor_version(row["kiali"]) != kiali:
            continue
        low, high = minor_version(row["istio_min"]), minor_version(row["istio_max"])
        if low <= istio <= high:
            return {"verdict": "ok", "message": "Kiali %d.%d supports Istio %d.%d" % (kiali + istio)}
        return {"verdict": "refuse", "message": "Kiali %d.%d supports Istio %s to %s, not Istio %d.%d" % (
            kiali[0], kiali[1], row["istio_min"], row["istio_max"], istio[0], istio[1])}
    return {"verdict": "unknown", "message": "Kiali %d.%d is not in the compatibility table; the pairing with "
            "Istio %d.%d is not checked" % (kiali + istio)}


def with_addon_label(objects, addon, label=ADDON_LABEL):
    """Copies of the objects, each with the addon label (metadata and, for workloads, the pod template)."""
    result = []
    for obj in objects or []:
        if not obj:
            continue
        obj = plain_copy(obj)
        obj.setdefault("metadata", {}).setdefault("labels", {})[label] = addon
        template = (obj.get("spec") or {}).get("template")
        if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet") and isinstance(template, dict):
            template.setdefault("metadata", {}).setdefault("labels", {})[label] = addon
        result.append(obj)
    return result


def rendered_objects(rendered, label=ADDON_LABEL):
    """The labelled objects of every addon's rendered manifest ({addon: multi-document YAML}), in ADDONS order."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    objects = []
    for addon in ADDONS:
        if addon in (rendered or {}):
            objects += with_addon_label(list(yaml.load_all(rendered[addon] or "", Loader=loader)), addon, label)
    return objects


def rbac_write_verbs(objects):
    """The write verbs the ClusterRoles and Roles among objects grant, as 'Kind/name: verb resource' strings."""
    writes = ("create", "update", "patch", "delete", "deletecollection", "*")
    reviews = ("tokenreviews", "subjectaccessreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews")
    found = []
    for obj in objects or []:
        if obj.get("kind") not in ("ClusterRole", "Role"):
            continue
        for rule in obj.get("rules") or []:
            resources = [r for r in rule.get("resources") or [] if r not in reviews]
            if rule.get("resources") and not resources:
                continue  # reviews are questions to the API server, not writes
            for verb in rule.get("verbs") or []:
                if verb in writes:
                    found.append("%s/%s: %s %s" % (obj["kind"], obj["metadata"]["name"], verb,
                                                   ",".join(rule.get("resources") or [])))
    return found


def services_without_endpoints(services, endpoint_slices):
    """Names of the Services (with a selector) that no EndpointSlice gives a ready address."""
    ready = set()
    for eps in endpoint_slices or []:
        service = ((eps.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name")
        namespace = (eps.get("metadata") or {}).get("namespace")
        for endpoint in eps.get("endpoints") or []:
            if (endpoint.get("conditions") or {}).get("ready") is not False and endpoint.get("addresses"):
                ready.add((namespace, service))
    missing = []
    for svc in services or []:
        meta = svc.get("metadata") or {}
        if not (svc.get("spec") or {}).get("selector"):
            continue
        if (meta.get("namespace"), meta.get("name")) not in ready:
            missing.append("%s/%s" % (meta.get("namespace"), meta.get("name")))
    return missing


def not_ready(objects, deployments, endpoint_slices):
    """What keeps the planned addons from serving: each planned Deployment that is missing or not Available,
    each planned Service (with a selector) without a ready endpoint."""
    live = dict((((d.get("metadata") or {}).get("namespace"), (d.get("metadata") or {}).get("name")), d)
                for d in deployments or [])
    problems = []
    for obj in objects or []:
        if obj.get("kind") != "Deployment":
            continue
        meta = obj.get("metadata") or {}
        found = live.get((meta.get("namespace"), meta.get("name")))
        conditions = ((found or {}).get("status") or {}).get("conditions") or []
        if not any(c.get("type") == "Available" and c.get("status") == "True" for c in conditions):
            problems.append("Deployment %s/%s is %s" % (meta.get("namespace"), meta.get("name"),
                                                        "not Available" if found else "missing"))
    problems += ["Service %s has no ready endpoint" % name for name in services_without_endpoints(
        [o for o in objects or [] if o.get("kind") == "Service"], endpoint_slices)]
    return problems


def image_ref(image, registry_override=""):
    """registry/repository:tag from an image dict, the registry replaced by registry_override when set."""
    image = image or {}
    return "%s/%s:%s" % (registry_override or image.get("registry", ""), image.get("repository", ""), image.get("tag", ""))


def dashboard_problems(dashboards):
    """From a {file: JSON text} map, what is wrong with each Grafana dashboard: not JSON, no title, or no
    Prometheus datasource named (a datasource template variable or a panel datasource of type prometheus)."""
    import json
    problems = []
    for name, text in sorted((dashboards or {}).items()):
        try:
            board = json.loads(text)
        except ValueError as exc:
            problems.append("%s: not JSON (%s)" % (name, exc))
            continue
        if not board.get("title"):
            problems.append("%s: no title" % name)
        variables = [v for v in (board.get("templating") or {}).get("list") or []
                     if v.get("type") == "datasource" and v.get("query") == "prometheus"]
        typed = '"type": "prometheus"' in json.dumps(board.get("panels") or [])
        if not variables and not typed:
            problems.append("%s: names no Prometheus datasource" % name)
    return problems
