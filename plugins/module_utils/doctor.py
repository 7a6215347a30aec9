# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health checks over what mesh_info, proxy_status and istioctl read: one verdict per check, with a hint.

Every function is pure: it takes what was read and returns a check {id, name, status, detail, hint, items}.
status is ok, warn or fail; report() turns the checks into lines like `linkerd check` prints.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
from datetime import datetime

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import mtls
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.proxy_status import (
    ProxyStatusError, check_selector, check_threshold)

OK, WARN, FAIL = "ok", "warn", "fail"
SYMBOLS = {OK: u"\u2713", WARN: u"\u203c", FAIL: u"\u00d7"}
LEVELS = ["Info", "Warning", "Error"]
GATEWAY_LABELS = ("ingressgateway", "egressgateway", "eastwestgateway")
ITEMS_SHOWN = 10


def check(check_id, name, status, detail, hint=None, items=None):
    return {"id": check_id, "name": name, "status": status, "detail": detail,
            "hint": hint if status != OK else None, "items": list(items or [])}


def _worst(statuses):
    return FAIL if FAIL in statuses else WARN if WARN in statuses else OK


def _shown(items):
    items = list(items)
    more = len(items) - ITEMS_SHOWN
    return ", ".join(items[:ITEMS_SHOWN]) + (" and %d more" % more if more > 0 else "")


# ---- input -----------------------------------------------------------------------------------------

def input_errors(namespaces, existing_namespaces, max_not_synced_percent, selector, analyze_fail_level,
                 cert_warn_days):
    """Every bad input at once, each naming the variable and the fix."""
    errors = []
    unknown = sorted(set(namespaces or []) - set(existing_namespaces or []))
    if unknown:
        errors.append("mesh_doctor_namespaces names %s, which do not exist: name existing namespaces or leave it "
                      "empty for all" % ", ".join(unknown))
    try:
        check_threshold(max_not_synced_percent)
    except ProxyStatusError as exc:
        errors.append("mesh_doctor_" + str(exc))
    try:
        check_selector(selector or None)
    except ProxyStatusError as exc:
        errors.append("mesh_doctor_selector: " + str(exc))
    if analyze_fail_level not in LEVELS:
        errors.append("mesh_doctor_analyze_fail_level is %r: give one of %s" % (analyze_fail_level, ", ".join(LEVELS)))
    if not isinstance(cert_warn_days, int) or isinstance(cert_warn_days, bool) or cert_warn_days < 0:
        errors.append("mesh_doctor_cert_warn_days is %r: give a whole number of days, e.g. 60" % (cert_warn_days,))
    return errors


# ---- pre-install -----------------------------------------------------------------------------------

def _minor(version):
    digits = re.sub(r"[^0-9]", "", str((version or {}).get("minor") or ""))
    return (int((version or {}).get("major") or 0), int(digits or 0))


def _pair(text):
    major, minor = str(text).split(".")[:2]
    return (int(major), int(minor))


def api_check(version, min_version, max_version):
    if not version:
        return check("api", "Kubernetes API reachable, version supported", FAIL, "the API server did not answer",
                     "check that the API server is up and that the kubeconfig and context are right")
    if not _pair(min_version) <= _minor(version) <= _pair(max_version):
        return check("api", "Kubernetes API reachable, version supported", FAIL,
                     "Kubernetes %s is outside %s to %s" % (version.get("gitVersion"), min_version, max_version),
                     "upgrade the cluster or use an Istio release that supports it")
    return check("api", "Kubernetes API reachable, version supported", OK,
                 "Kubernetes %s (supported %s to %s)" % (version.get("gitVersion"), min_version, max_version))


def permissions_check(missing_access):
    name = "permissions for everything install needs"
    if not missing_access:
        return check("permissions", name, OK, "every permission granted")
    items = ["%s %s%s%s" % (m["verb"], m["resource"], "." + m["group"] if m.get("group") else "",
                            " in " + m["namespace"] if m.get("namespace") else " cluster-wide")
             for m in missing_access]
    return check("permissions", name, FAIL, "missing: " + _shown(items),
                 "grant them (e.g. a ClusterRoleBinding to cluster-admin for the installer) or use another context",
                 items)


def conflicts_check(crds, webhooks, revisions):
    """Before install: Istio CRDs or webhooks already there; webhooks whose istiod does not exist conflict."""
    name = "no conflicting Istio CRDs or webhooks"
    live = set(r["revision"] for r in revisions or [] if r["istiod"])
    orphans = ["%s %s" % (w["kind"], w["name"]) for w in webhooks or []
               if (w.get("revision") or "default") not in live]
    if orphans:
        return check("conflicts", name, FAIL, "webhooks without an istiod: " + _shown(orphans),
                     "they intercept pod and config creation with no istiod to answer: remove them "
                     "(playbooks/teardown.yml) before installing", orphans)
    if crds:
        return check("conflicts", name, WARN, "%d Istio CRDs already installed" % len(crds),
                     "an earlier install is present; install upgrades them in place (use playbooks/upgrade.yml "
                     "for a canary)", [c["name"] for c in crds])
    return check("conflicts", name, OK, "no Istio CRDs or webhooks yet")


def parse_messages(run):
    """istioctl analyze / x precheck -o json, from a command result {rc, stdout, stderr}: the list of messages.

    Prose without a JSON list means no findings when istioctl exited 0; otherwise istioctl failed (ValueError)."""
    text = (run.get("stdout") or "").strip()
    start = text.find("[")
    if start < 0:
        if run.get("rc") == 0:
            return []
        raise ValueError("istioctl failed (rc %s): %s" % (run.get("rc"), ((run.get("stderr") or run.get("msg") or "")
                                                                          .strip() or text)[:300]))
    try:
        return json.loads(text[start:])
    except ValueError:
        raise ValueError("istioctl output is not JSON: %s" % text[:200])


def _message_line(m):
    return "%s %s %s: %s" % (m.get("level", "?"), m.get("code", "?"), m.get("origin", ""), m.get("message", ""))


def precheck_check(messages):
    name = "istioctl x precheck"
    errors = [m for m in messages if m.get("level") == "Error"]
    if not messages:
        return check("precheck", name, OK, "no issues found")
    return check("precheck", name, FAIL if errors else WARN, "%d findings" % len(messages),
                 "fix what istioctl x precheck reports before installing", [_message_line(m) for m in messages])


# ---- post-install ----------------------------------------------------------------------------------

def _tag(image):
    tail = image.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else "latest"


def control_plane_check(control_plane, revisions):
    name = "control plane Deployments Available, versions consistent"
    istiods = [d for d in control_plane or [] if d["component"] == "istiod"]
    if not istiods:
        return check("control_plane", name, FAIL, "no istiod Deployment found",
                     "install the control plane: ansible-playbook playbooks/install.yml")
    unavailable = ["%s/%s" % (d["namespace"], d["name"]) for d in control_plane if not d["available"]]
    mixed = []
    for rev in revisions or []:
        own = [d for d in control_plane if d["revision"] == rev["revision"]]
        tags = sorted(set(_tag(i) for d in own for i in d["images"]))
        if len(tags) > 1:
            mixed.append("revision %s runs %s" % (rev["revision"], ", ".join(tags)))
    if unavailable:
        return check("control_plane", name, FAIL, "not Available: " + _shown(unavailable),
                     "kubectl -n istio-system describe deploy <name>; see the pods' events and istiod's logs "
                     "(playbooks/collect-logs.yml)", unavailable)
    if mixed:
        return check("control_plane", name, FAIL, "; ".join(mixed),
                     "finish or roll back the upgrade (playbooks/upgrade.yml) so each revision runs one version", mixed)
    versions = sorted(set("%s=%s" % (d["revision"], _tag(d["images"][0])) for d in istiods if d["images"]))
    return check("control_plane", name, OK, "%d Deployments Available; %s" % (len(control_plane), ", ".join(versions)))


def crds_check(crds):
    name = "Istio CRDs Established"
    if not crds:
        return check("crds", name, FAIL, "no Istio CRDs", "install the control plane: ansible-playbook playbooks/install.yml")
    bad = [c["name"] for c in crds if not c["established"]]
    if bad:
        return check("crds", name, FAIL, "not Established: " + _shown(bad),
                     "kubectl describe crd <name>; a conflicting or invalid CRD keeps it from being served", bad)
    return check("crds", name, OK, "%d CRDs Established" % len(crds))


def webhooks_check(webhooks, revisions, tags):
    name = "webhooks have a caBundle and point at a live istiod"
    if not webhooks:
        return check("webhooks", name, FAIL, "no Istio webhook configurations",
                     "install the control plane: ansible-playbook playbooks/install.yml")
    live = set(r["revision"] for r in revisions or [] if r["istiod_available"])
    problems = []
    for w in webhooks:
        label = "%s %s" % (w["kind"], w["name"])
        problems += ["%s: %s" % (label, p) for p in w["problems"]]
        revision = (tags or {}).get(w.get("tag"), w.get("revision")) or "default"
        if revision not in live:
            problems.append("%s: its istiod (revision %s) is not Available" % (label, revision))
    if problems:
        return check("webhooks", name, FAIL, _shown(problems),
                     "istiod writes the caBundle when it starts: make sure the revision's istiod runs, then "
                     "restart it (kubectl -n istio-system rollout restart deploy/istiod) and check its logs", problems)
    return check("webhooks", name, OK, "%d webhook configurations healthy" % len(webhooks))


def _wants_sidecar(pod):
    return (pod["inject"] != "false" and not pod["host_network"] and not pod["terminating"]
            and pod["phase"] in ("Running", "Pending"))


def injection_check(namespaces, pods):
    """Pods without istio-proxy in namespaces labelled for injection (the coverage per namespace)."""
    name = "sidecar injection coverage in labelled namespaces"
    labelled = dict((n["name"], n) for n in namespaces or [] if n["state"] in ("enabled", "revision"))
    coverage, missing = [], []
    for ns in sorted(labelled):
        wanted = [p for p in pods or [] if p["namespace"] == ns and _wants_sidecar(p)]
        injected = [p for p in wanted if p["sidecar"]]
        missing += ["%s/%s" % (ns, p["name"]) for p in wanted if not p["sidecar"]]
        coverage.append("%s %d/%d" % (ns, len(injected), len(wanted)))
    if missing:
        return check("injection", name, FAIL, "pods without istio-proxy: " + _shown(missing),
                     "restart their workloads so the webhook injects them (playbooks/sidecar-injection.yml), or "
                     "opt them out with the label sidecar.istio.io/inject=false", missing)
    if not labelled:
        return check("injection", name, OK, "no namespace is labelled for injection")
    return check("injection", name, OK, "every pod injected: " + _shown(coverage), items=coverage)


def injection_labels_check(namespaces, revisions):
    name = "namespace injection labels consistent (IST0123)"
    known = set(r["revision"] for r in revisions or []) | set(t for r in revisions or [] for t in r["tags"])
    problems = ["%s: %s" % (n["name"], w) for n in namespaces or [] for w in n["warnings"]]
    unknown = ["%s: istio.io/rev=%s names no revision or tag" % (n["name"], n["revision"])
               for n in namespaces or [] if n["state"] == "revision" and n["revision"] not in known]
    if unknown:
        return check("injection_labels", name, FAIL, _shown(unknown + problems),
                     "label the namespace with an installed revision or tag (playbooks/sidecar-injection.yml)",
                     unknown + problems)
    if problems:
        return check("injection_labels", name, WARN, _shown(problems),
                     "keep one label per namespace: istio-injection=enabled or istio.io/rev=<revision>", problems)
    return check("injection_labels", name, OK, "no conflicting labels")


def mtls_check(namespaces, peer_authentications, destination_rules, root_namespace="istio-system",
               domains=("cluster.local",)):
    """Effective mTLS per namespace (namespace-wide), and DestinationRules that conflict with it (IST0113)."""
    name = "effective mTLS per namespace, no conflicting DestinationRules (IST0113)"
    modes = {}
    for n in namespaces or []:
        mode, _by = mtls.effective_mode(peer_authentications or [], n["name"], {}, root_namespace)
        modes[n["name"]] = mode
    per_mode = {}
    for ns, mode in sorted(modes.items()):
        per_mode.setdefault(mode, []).append(ns)
    summary = "; ".join("%s: %s" % (mode, _shown(names)) for mode, names in sorted(per_mode.items()))
    conflicts = mtls.destination_rule_conflicts(destination_rules or [], peer_authentications or [],
                                                root_namespace, domains)
    items = ["%s=%s" % (ns, mode) for ns, mode in sorted(modes.items())]
    if conflicts:
        messages = ["IST0113 " + c["message"] for c in conflicts]
        return check("mtls", name, FAIL, _shown(messages),
                     "set the DestinationRule's tls.mode to ISTIO_MUTUAL (or remove it) "
                     "(playbooks/mtls-strict.yml with mtls_policy_fix_destination_rules=true)", messages)
    return check("mtls", name, OK, summary or "no namespaces", items=items)


def _is_gateway(workload):
    labels = workload["template_labels"]
    return labels.get("istio") in GATEWAY_LABELS or "gateway.istio.io/managed" in labels or (
        "istio.io/gateway-name" in labels)


def _ready(workload):
    return workload["available_replicas"] >= workload["replicas"] and workload["ready_replicas"] >= workload["replicas"]


def gateways_check(workloads):
    name = "gateways ready"
    gateways = [w for w in workloads or [] if _is_gateway(w)]
    if not gateways:
        return check("gateways", name, OK, "no gateway Deployments")
    bad = ["%s/%s (%d/%d ready)" % (w["namespace"], w["name"], w["ready_replicas"], w["replicas"])
           for w in gateways if not _ready(w)]
    if bad:
        return check("gateways", name, FAIL, "not ready: " + _shown(bad),
                     "kubectl -n <namespace> describe deploy <gateway>; its istio-proxy logs are in "
                     "playbooks/collect-logs.yml", bad)
    return check("gateways", name, OK, "%d gateways ready: %s" % (
        len(gateways), _shown("%s/%s" % (w["namespace"], w["name"]) for w in gateways)))


def addons_check(workloads, istio_namespace, addons):
    name = "addons healthy"
    found = [w for w in workloads or [] if w["namespace"] == istio_namespace
             and (w["template_labels"].get("app") in addons or w["template_labels"].get("app.kubernetes.io/name") in addons)]
    if not found:
        return check("addons", name, OK, "no addons installed (looked for %s)" % ", ".join(addons))
    bad = ["%s (%d/%d ready)" % (w["name"], w["ready_replicas"], w["replicas"]) for w in found if not _ready(w)]
    if bad:
        return check("addons", name, WARN, "not ready: " + _shown(bad),
                     "kubectl -n %s describe deploy <addon>; the mesh works without it, its dashboards do not"
                     % istio_namespace, bad)
    return check("addons", name, OK, _shown(w["name"] for w in found) + " ready")


def proxies_check(result):
    """From a proxy_status result (failed or not)."""
    name = "proxies synced with istiod"
    summary = (result or {}).get("summary")
    if not summary:
        return check("proxies", name, FAIL, (result or {}).get("msg") or "no answer from istiod",
                     "istiod must run and answer on its debug port (15014): "
                     "kubectl -n istio-system get pods -l app=istiod; see its logs (playbooks/collect-logs.yml)")
    counts = ", ".join("%d %s" % (n, s) for s, n in sorted(summary["proxies"].items()) if n)
    if result.get("failures"):
        bad = ["%s %s" % (p["name"], p["state"]) for p in result.get("proxies") or [] if p["state"] != "SYNCED"]
        return check("proxies", name, FAIL, "; ".join(result["failures"]),
                     "istioctl proxy-status <pod>.<namespace> shows the diff; STALE proxies did not acknowledge, "
                     "ERROR ones rejected the configuration (see their istio-proxy logs)", bad)
    if summary["not_synced"]:
        return check("proxies", name, WARN, counts, "wait for them to sync, or look at istioctl proxy-status")
    return check("proxies", name, OK, "%d proxies: %s" % (summary["total"], counts or "none connected"))


def analyze_groups(messages):
    groups = {}
    for m in messages:
        key = (m.get("level", "Info"), m.get("code", "?"))
        groups.setdefault(key, []).append(m)
    return [{"level": level, "code": code, "count": len(items),
             "origins": [m.get("origin") for m in items], "messages": [m.get("message") for m in items]}
            for (level, code), items in sorted(groups.items(), key=lambda kv: (-LEVELS.index(kv[0][0])
                                                                               if kv[0][0] in LEVELS else 0, kv[0][1]))]


def analyze_check(messages, fail_level="Error", ignore_codes=()):
    """Findings grouped by level and code; those at or above fail_level fail, except the ignored codes."""
    name = "istioctl analyze -A"
    threshold = LEVELS.index(fail_level)
    ignored = [m for m in messages if m.get("code") in (ignore_codes or ())]
    messages = [m for m in messages if m not in ignored]
    groups = analyze_groups(messages)
    counted = ", ".join("%s %s x%d" % (g["level"], g["code"], g["count"]) for g in groups)
    failing = [m for m in messages if LEVELS.index(m.get("level", "Info")) >= threshold]
    warning = [m for m in messages if m.get("level") == "Warning"]
    if ignored:
        counted += "%s%d ignored (%s)" % ("; " if counted else "", len(ignored),
                                          ", ".join(sorted(set(m.get("code") for m in ignored))))
    if failing:
        shown = _shown(_message_line(m) for m in failing[:3])
        return check("analyze", name, FAIL, "%s; at or above %s: %s" % (counted, fail_level, shown),
                     "fix each finding; istioctl analyze -A explains them, with a link per code",
                     [_message_line(m) for m in failing])
    if warning:
        return check("analyze", name, WARN, counted, "istioctl analyze -A explains each finding",
                     [_message_line(m) for m in warning])
    return check("analyze", name, OK, counted or "no findings")


def _parse_time(value):
    """x509_certificate_info's not_after: 20261126101010Z."""
    return datetime.strptime(value, "%Y%m%d%H%M%SZ")


def certificate_check(check_id, name, not_after, now, warn_days=60, hint=None, missing=None):
    if not not_after:
        return check(check_id, name, WARN, missing or "certificate not found", hint)
    days = (_parse_time(not_after) - _parse_time(now)).total_seconds() / 86400.0
    if days <= 0:
        return check(check_id, name, FAIL, "expired %s" % not_after, hint)
    if days < warn_days:
        return check(check_id, name, WARN, "expires in %d days (%s), under %d" % (days, not_after, warn_days), hint)
    return check(check_id, name, OK, "valid %d more days (until %s)" % (days, not_after))


# ---- report ----------------------------------------------------------------------------------------

def report(checks):
    counts = dict((s, len([c for c in checks if c["status"] == s])) for s in (OK, WARN, FAIL))
    lines = []
    for c in checks:
        lines.append(u"%s %s: %s" % (SYMBOLS[c["status"]], c["name"], c["detail"]))
        if c["status"] != OK and c.get("hint"):
            lines.append(u"    hint: %s" % c["hint"])
    failed = [c for c in checks if c["status"] == FAIL]
    lines.append(u"Status check results are %s: %d passed, %d warnings, %d failed" % (
        SYMBOLS[_worst([c["status"] for c in checks])], counts[OK], counts[WARN], counts[FAIL]))
    return {"checks": checks, "summary": counts, "passed": not failed, "lines": lines,
            "failed": ["%s: %s (hint: %s)" % (c["name"], c["detail"], c["hint"]) for c in failed]}


# ---- the two check lists ---------------------------------------------------------------------------

def pre_checks(mesh, precheck_run, settings):
    """Before install: API and version, permissions, conflicting CRDs or webhooks, istioctl x precheck."""
    checks = [api_check(mesh.get("version"), settings["min_version"], settings["max_version"]),
              permissions_check(mesh.get("missing_access") or []),
              conflicts_check(mesh.get("crds"), mesh.get("webhooks"), mesh.get("revisions"))]
    try:
        checks.append(precheck_check(parse_messages(precheck_run)))
    except ValueError as exc:
        checks.append(check("precheck", "istioctl x precheck", FAIL, str(exc),
                            "check that istioctl (mesh_doctor_istioctl_path) runs and reaches the cluster"))
    return checks


def _in_scope(items, namespaces, key="namespace"):
    return [i for i in items or [] if not namespaces or i[key] in namespaces]


def post_checks(mesh, proxies, analyze_run, certificates, settings):
    """After install. certificates: {now, root_not_after, serving_not_after, serving_source}."""
    scope = settings.get("namespaces") or []
    namespaces = _in_scope(mesh.get("namespaces"), scope, "name")
    checks = [control_plane_check(mesh.get("control_plane"), mesh.get("revisions")),
              crds_check(mesh.get("crds")),
              webhooks_check(mesh.get("webhooks"), mesh.get("revisions"), mesh.get("tags")),
              injection_check(namespaces, _in_scope(mesh.get("pods"), scope)),
              injection_labels_check(namespaces, mesh.get("revisions")),
              mtls_check(namespaces, mesh.get("peer_authentications"), mesh.get("destination_rules"),
                         settings.get("root_namespace") or "istio-system"),
              gateways_check(mesh.get("workloads")),
              addons_check(mesh.get("workloads"), settings.get("istio_namespace") or "istio-system",
                           settings.get("addons") or []),
              proxies_check(proxies)]
    try:
        checks.append(analyze_check(parse_messages(analyze_run), settings.get("analyze_fail_level") or "Error",
                                    settings.get("analyze_ignore_codes") or []))
    except ValueError as exc:
        checks.append(check("analyze", "istioctl analyze -A", FAIL, str(exc),
                            "check that istioctl (mesh_doctor_istioctl_path) runs and reaches the cluster"))
    warn_days = settings.get("cert_warn_days", 60)
    checks.append(certificate_check("root_cert", "mesh root certificate expiry", certificates.get("root_not_after"),
                                    certificates["now"], warn_days,
                                    "rotate the root CA (plug in new cacerts, then restart istiod and the workloads)",
                                    "ConfigMap istio-ca-root-cert not found in the control-plane namespace"))
    checks.append(certificate_check("serving_cert", "istiod serving certificate expiry",
                                    certificates.get("serving_not_after"), certificates["now"], warn_days,
                                    "istiod renews its serving certificate on restart: "
                                    "kubectl -n istio-system rollout restart deploy/istiod; set "
                                    "mesh_doctor_istiod_cert_address (host:port) when istiod is not reachable",
                                    certificates.get("serving_missing")))
    errors = ["%s %s%s: %s" % (e.get("verb"), e.get("kind"), " in " + e["namespace"] if e.get("namespace") else "",
                               e.get("message")) for e in mesh.get("errors") or []]
    if not mesh.get("version"):
        checks.insert(0, check("api", "Kubernetes API reachable", FAIL, mesh.get("msg") or "the API server did not answer",
                               "check that the API server is up and that the kubeconfig and context are right"))
    if errors:
        checks.insert(0, check("read", "the mesh could be read", FAIL, _shown(errors),
                               "grant this identity read access (list) to what it names", errors))
    return checks
