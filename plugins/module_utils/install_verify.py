# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification of an installed control-plane revision (what "istioctl verify-install" did): its
Deployments Available, its CRDs Established, a caBundle in every webhook of the revision, istiod on the
expected image tag."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import istiod_revision_summary

REV_LABEL = "istio.io/rev"


def _meta(obj):
    return obj.get("metadata") or {}


def _condition_true(obj, condition):
    return any(c.get("type") == condition and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def verify_install(expected, deployments, crds, mutating, validating, istio_namespace="istio-system"):
    """The verification report of one revision, "problems" naming every failed check.

    expected: {version, revision, profile, image_tag, deployments: [{namespace, name}], crds: [names]};
    deployments: the live Deployments of the namespaces expected ones live in (istio_namespace included);
    crds, mutating, validating: every live CRD and webhook configuration.
    """
    revision = expected["revision"]
    problems = []
    live = dict(((_meta(d).get("namespace"), _meta(d).get("name")), d) for d in deployments)
    deployment_rows = []
    for wanted in expected.get("deployments") or []:
        found = live.get((wanted.get("namespace"), wanted["name"]))
        ok = found is not None and _condition_true(found, "Available")
        deployment_rows.append({"name": wanted["name"], "available": ok})
        if not ok:
            problems.append("Deployment %s is not Available" % wanted["name"])

    live_crds = dict((_meta(c).get("name"), c) for c in crds)
    crd_rows = []
    for name in expected.get("crds") or []:
        ok = name in live_crds and _condition_true(live_crds[name], "Established")
        crd_rows.append({"name": name, "established": ok})
        if not ok:
            problems.append("CRD %s is not Established" % name)

    webhooks = []
    for config in list(mutating) + list(validating):
        if (_meta(config).get("labels") or {}).get(REV_LABEL) != revision:
            continue
        for hook in config.get("webhooks") or []:
            ok = bool((hook.get("clientConfig") or {}).get("caBundle"))
            webhooks.append({"configuration": _meta(config).get("name"), "webhook": hook.get("name"), "ca_bundle": ok})
            if not ok:
                problems.append("webhook %s/%s has no caBundle" % (_meta(config).get("name"), hook.get("name")))
    if not webhooks:
        problems.append("no webhook configuration carries %s=%s" % (REV_LABEL, revision))

    istiods = [istiod_revision_summary(d) for d in deployments
               if _meta(d).get("namespace") == istio_namespace
               and (_meta(d).get("labels") or {}).get("app") == "istiod"
               and (_meta(d).get("labels") or {}).get(REV_LABEL) == revision]
    if not istiods:
        problems.append("no istiod Deployment for revision %s" % revision)
    expected_tag = str(expected.get("image_tag") or expected.get("version"))
    for istiod in istiods:
        if istiod["tag"] != expected_tag:
            problems.append("istiod %s runs %s, expected tag %s" % (istiod["name"], istiod["image"], expected_tag))
    return {"version": expected.get("version"), "revision": revision, "profile": expected.get("profile"),
            "deployments": deployment_rows, "crds": crd_rows, "webhooks": webhooks,
            "istiod_images": [i["image"] for i in istiods], "problems": problems, "passed": not problems}
