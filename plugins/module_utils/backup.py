# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers for backups: which kinds and Secrets to save, and what a restore must write and verify."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import INJECTION_LABELS, labels, meta, object_key
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import backup_differences, clean_for_backup

ISTIO_PART_OF = ("app.kubernetes.io/part-of", "istio")
# Secrets that are not the mesh's data: tokens are minted per ServiceAccount uid, Helm records belong to Helm.
SKIPPED_SECRET_TYPES = frozenset(["kubernetes.io/service-account-token", "helm.sh/release.v1"])


def is_istio_crd(crd):
    """True for a CRD that is part of Istio: labelled app.kubernetes.io/part-of=istio, or in a *.istio.io group."""
    crd_labels = labels(crd)
    group = crd.get("spec", {}).get("group") or ""
    return crd_labels.get(ISTIO_PART_OF[0]) == ISTIO_PART_OF[1] or group == "istio.io" or group.endswith(".istio.io")


def _listed_version(crd):
    versions = [v for v in crd.get("spec", {}).get("versions") or [] if v.get("served")]
    stored = [v for v in versions if v.get("storage")]
    return (stored or versions or [{}])[0].get("name")


def istio_kinds(crds):
    """[{api_version, kind}] of every live Istio CRD, in the version it is stored in, sorted by group and kind."""
    kinds = []
    for crd in crds:
        version = _listed_version(crd)
        if not is_istio_crd(crd) or not version:
            continue
        spec = crd["spec"]
        kinds.append({"api_version": "%s/%s" % (spec["group"], version), "kind": spec["names"]["kind"]})
    return sorted(kinds, key=lambda k: (k["api_version"].split("/")[0], k["kind"]))


def kinds_of(objects):
    """[{api_version, kind}] of the objects, one per kind, sorted: what a restore reads back."""
    seen = sorted(set((o.get("apiVersion"), o.get("kind")) for o in objects))
    return [{"api_version": api_version, "kind": kind} for api_version, kind in seen]


def secrets_for_backup(secrets):
    """Secrets as they can be re-applied, without ServiceAccount tokens and Helm release records."""
    return clean_for_backup([s for s in secrets if s.get("type") not in SKIPPED_SECRET_TYPES])


def secret_names(secrets):
    """'namespace/name' of each Secret, sorted: safe to print, unlike the Secrets."""
    return sorted("%s/%s" % (s["metadata"].get("namespace", ""), s["metadata"]["name"]) for s in secrets)


def _secret_differs(want, have):
    return (want.get("type", "Opaque") != have.get("type", "Opaque") or backup_differences([want], [have]) != [])


def secret_writes(backup, live):
    """What a restore writes: {'write': Secrets missing or different, 'replaced': names of live ones it overwrites}.

    Secrets that already match are left alone, so a second restore sends no write request.
    """
    live_by_key = dict((object_key(s), s) for s in live)
    write, replaced = [], []
    for want in backup:
        have = live_by_key.get(object_key(want))
        if have is None or _secret_differs(want, have):
            write.append(want)
        if have is not None and (want.get("data") or {}) != (have.get("data") or {}):
            replaced.append("%s/%s" % (want["metadata"].get("namespace", ""), want["metadata"]["name"]))
    return {"write": write, "replaced": sorted(replaced)}


def secret_differences(backup, live):
    """Names of backed-up Secrets that are missing or differ live; never their values."""
    live_by_key = dict((object_key(s), s) for s in live)
    problems = []
    for want in backup:
        name = "Secret %s/%s" % (want["metadata"].get("namespace", ""), want["metadata"]["name"])
        have = live_by_key.get(object_key(want))
        if have is None:
            problems.append("missing " + name)
        elif _secret_differs(want, have):
            problems.append(name + " differs")
    return problems


def _injection_labels(namespace):
    have = labels(namespace)
    return dict((k, have[k]) for k in INJECTION_LABELS if k in have)


def namespace_label_patches(backup_labels, live_namespaces):
    """[{name, labels}] merge patches that make each backed-up namespace's injection labels exactly the backup's.

    Injection labels the backup does not have are removed (None), so the namespace injects as it did.
    Namespaces that already match are left out.
    """
    live = dict((ns["metadata"]["name"], _injection_labels(ns)) for ns in live_namespaces)
    patches = []
    for entry in backup_labels:
        want = dict(entry.get("labels") or {})
        have = live.get(entry["name"], {})
        if want != have:
            patch = dict((k, None) for k in have if k not in want)
            patch.update(want)
            patches.append({"name": entry["name"], "labels": patch})
    return patches


def namespace_label_differences(backup_labels, live_namespaces):
    """Readable differences between the backed-up injection labels and the live namespaces."""
    live = dict((ns["metadata"]["name"], _injection_labels(ns)) for ns in live_namespaces)
    problems = []
    for entry in backup_labels:
        if entry["name"] not in live:
            problems.append("namespace %s is missing" % entry["name"])
        elif live[entry["name"]] != (entry.get("labels") or {}):
            problems.append("namespace %s has injection labels %s, the backup %s"
                            % (entry["name"], live[entry["name"]], entry.get("labels") or {}))
    return problems


def missing_namespaces(objects, secrets, backup_labels, live_namespaces):
    """Namespace manifests for the namespaces the backup needs that do not exist live, sorted by name."""
    needed = set(meta(o).get("namespace") for o in list(objects) + list(secrets))
    needed.update(entry["name"] for entry in backup_labels)
    needed.discard(None)
    needed.discard("")
    live = set(ns["metadata"]["name"] for ns in live_namespaces)
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in sorted(needed - live)]


def missing_crd_kinds(objects, crds):
    """group/Kind of the backed-up objects that no installed CRD serves (a Gateway API Gateway CRD does not
    serve networking.istio.io Gateways), sorted."""
    served = set("%s/%s" % (c.get("spec", {}).get("group"), c.get("spec", {}).get("names", {}).get("kind"))
                 for c in crds)
    wanted = set("%s/%s" % (o.get("apiVersion", "").rpartition("/")[0], o.get("kind")) for o in objects
                 if o.get("apiVersion", "").rpartition("/")[0] not in BUILT_IN_GROUPS)
    return sorted(wanted - served)


# API groups the API server serves itself (a gateway's Deployment, Service, ServiceAccount and RBAC objects)
BUILT_IN_GROUPS = ("", "apps", "policy", "autoscaling", "rbac.authorization.k8s.io")
