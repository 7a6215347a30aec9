#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: apply_objects
short_description: Server-side apply a batch of Kubernetes objects, writing only those that differ
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Reads the live objects with one list call per kind and namespace, compares each planned object with
    its live one, and server-side applies only the objects that are missing or differ.
  - A batch with nothing to change sends no write request at all.
  - Only the fields an object states count; fields the server adds or defaults are not differences,
    empty values equal absent ones and resource quantities compare by value (C(1024Mi) equals C(1Gi)).
  - In check mode the changed objects are applied with C(dryRun=All), so admission webhooks still validate
    them, and nothing is stored.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  definitions:
    description:
      - The objects to apply, each with C(apiVersion), C(kind) and C(metadata.name) (and C(metadata.namespace)
        for namespaced kinds). Applied in this order, except that a run of objects of one kind is written up to 8
        at a time.
    type: list
    elements: dict
    required: true
  manifest_files:
    description:
      - Multi-document YAML files (such as the plan M(istio_runbooks.mesh.istio_plan) saves) whose objects are
        applied after O(definitions), each file's CustomResourceDefinitions first. A plan of about a megabyte read here
        does not pass through the task's variables.
      - Read where the module runs (the controller, with the runbooks' C(local) connection).
    type: list
    elements: path
    default: []
  manifest_sha256:
    description:
      - The SHA-256 each of O(manifest_files) must have, in the same order (M(istio_runbooks.mesh.istio_plan)
        returns its plan's). A file that differs fails the call before anything is read or written.
    type: list
    elements: str
    default: []
  field_manager:
    description: The server-side apply field manager.
    type: str
    default: istio-runbooks
  force_conflicts:
    description: Take over fields another manager owns (as C(kubectl apply --server-side --force-conflicts)).
    type: bool
    default: true
  owner_label:
    description:
      - A label C(key=value) that marks the objects this tool made. When set, an existing object (Namespaces
        aside) without it is another tool's (a Helm release, say), so the call writes nothing and fails naming them.
      - Leave it out to adopt such objects.
    type: str
  merge_patch:
    description:
      - Send each definition as a JSON merge patch of an existing object (a C(null) removes a field, as
        C(kubectl patch --type merge)) instead of a server-side apply; only objects the patch would change are
        patched (recorded under O(field_manager); O(force_conflicts) does not apply). When one of them does not
        exist, the call writes nothing and fails naming it. Reports show whole objects before and after.
      - For fields other tools own too, such as a Namespace's labels, where a server-side apply would take them over.
    type: bool
    default: false
  keep_live_data:
    description:
      - Data keys whose live value wins over the definition's, each written C(namespace/Kind/name:key), for a
        Secret's generated password, say. The definition's value is used only when the live object lacks the key
        (or holds it empty), so a value made once is kept across runs without reading it first. Only C(data)
        counts, not C(stringData).
      - Make the task C(no_log) when the values are secret.
    type: list
    elements: str
    default: []
  wait_established:
    description:
      - Seconds to wait, after writing CustomResourceDefinitions, until each is C(Established) before the objects
        after them are written (custom resources of those kinds, say). C(0) does not wait. Not in check mode.
      - When one is not Established in time, the call fails naming it; the objects after it are not written.
    type: int
    default: 0
  annotations:
    description:
      - Annotations added to every object this call writes (the change ticket, the runbook, the time), never to
        an object that already matches. Comparisons ignore them, and ticket annotations (C(istio-runbooks.io/change-id),
        C(change-url), C(runbook), C(changed-at)) a previous run wrote are not differences.
      - Runbooks pass them once through C(module_defaults) from the C(change_ticket) role's C(change_ticket_annotations).
    type: dict
    default: {}
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode) and C(diff).
"""

EXAMPLES = r"""
- name: Apply the rendered control plane, writing only what differs
  istio_runbooks.mesh.apply_objects:
    definitions: "{{ lookup('ansible.builtin.file', 'manifest.yaml') | ansible.builtin.from_yaml_all | list }}"
  register: applied

- name: What changed
  ansible.builtin.debug:
    msg: "{{ applied.created + applied.updated }}"

- name: Label two namespaces for injection and drop the revision label, patching only the one that differs
  istio_runbooks.mesh.apply_objects:
    merge_patch: true
    definitions:
      - {apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {istio-injection: enabled, istio.io/rev: null}}}
      - {apiVersion: v1, kind: Namespace, metadata: {name: pay, labels: {istio-injection: enabled, istio.io/rev: null}}}
"""

RETURN = r"""
created:
  description: Objects that did not exist and were created (or would be, in check mode), as C(Kind/name) refs.
  returned: always
  type: list
  elements: str
  sample: [istio-system/Deployment/istiod]
updated:
  description: Objects that differed and were applied, with the paths that differed.
  returned: always
  type: list
  elements: dict
  sample: [{ref: istio-system/Service/istiod, paths: [.spec.ports]}]
unchanged:
  description: How many objects already matched and were left alone.
  returned: always
  type: int
  sample: 40
changes:
  description:
    - Each object created or updated (or that would be, in check mode) with its state before and after; for an
      update only the paths that differed. Values longer than 8192 characters are summarized. The evidence report
      lists these.
  returned: always
  type: list
  elements: dict
  sample: [{ref: istio-system/PeerAuthentication/default, action: update, before: {.spec.mtls.mode: PERMISSIVE},
            after: {.spec.mtls.mode: STRICT}}]
api_calls:
  description: API requests the module made (lists and applies).
  returned: always
  type: int
  sample: 16
failed_object:
  description:
    - The object whose apply failed, with the API server's reason, and in C(others) any other object of its run
      of one kind that failed too. The objects reported in RV(created) and RV(updated) were applied; after a
      failure no further write is sent (those already in flight finish), and nothing after its run is written.
    - With O(wait_established), action C(wait) names the CRDs that did not become Established.
  returned: on failure
  type: dict
  sample: {ref: istio-system/Deployment/istiod, action: update, reason: admission webhook denied the request}
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import BatchApplier, change_record, for_diff
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import manifest_file_objects


ARGUMENT_SPEC = dict(AUTH_ARG_SPEC)
ARGUMENT_SPEC.update(definitions=dict(type="list", elements="dict", required=True),
                     manifest_files=dict(type="list", elements="path", default=[]),
                     manifest_sha256=dict(type="list", elements="str", default=[]),
                     field_manager=dict(type="str", default="istio-runbooks"),
                     force_conflicts=dict(type="bool", default=True),
                     owner_label=dict(type="str"),
                     merge_patch=dict(type="bool", default=False),
                     wait_established=dict(type="int", default=0),
                     keep_live_data=dict(type="list", elements="str", default=[], no_log=False),
                     annotations=dict(type="dict", default={}))


def run(module):
    try:
        definitions = module.params["definitions"] + manifest_file_objects(module.params["manifest_files"],
                                                                           module.params["manifest_sha256"])
    except (IOError, OSError, ValueError) as exc:
        module.fail_json(msg="Cannot read the manifest files: %s. Nothing was changed." % exc)
    bad = [i for i, obj in enumerate(definitions)
           if not obj.get("apiVersion") or not obj.get("kind") or not (obj.get("metadata") or {}).get("name")]
    if bad:
        inline = len(module.params["definitions"])
        module.fail_json(msg="definitions %s lack apiVersion, kind or metadata.name" % (
            [i for i in bad if i < inline] + (["%d of manifest_files" % (i - inline) for i in bad if i >= inline])))
    if module.params["wait_established"] < 0:
        module.fail_json(msg="wait_established must be 0 (no wait) or more seconds, got %s"
                             % module.params["wait_established"])
    applier = BatchApplier(connect(module).client, module.params["field_manager"], module.params["force_conflicts"],
                           module.check_mode, dict((k, str(v)) for k, v in module.params["annotations"].items()),
                           module.params["owner_label"], module.params["merge_patch"],
                           module.params["wait_established"], keep_live_data=module.params["keep_live_data"])
    try:
        results, failure = applier.apply(definitions)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Cannot read the live objects: %s" % (getattr(exc, "body", None) or exc))
    changed = [r for r in results if r["action"] != "none"]
    result = dict(changed=bool(changed), created=[r["ref"] for r in changed if r["action"] == "create"],
                  updated=[{"ref": r["ref"], "paths": r["paths"]} for r in changed if r["action"] == "update"],
                  unchanged=len(results) - len(changed), api_calls=applier.api_calls,
                  changes=[change_record(r) for r in changed])
    if module._diff and changed:
        result["diff"] = [{"before_header": r["ref"], "after_header": r["ref"], "before": for_diff(r["before"]),
                           "after": for_diff(r["after"])} for r in changed]
    if failure and failure["action"] == "missing":
        module.fail_json(msg="Cannot patch %s: %s. Nothing was changed." % (failure["ref"], failure["reason"]),
                         failed_object=failure, **result)
    if failure and failure["action"] == "refuse":
        module.fail_json(msg="Refusing to take over %s: %s. Nothing was changed." % (failure["ref"], failure["reason"]),
                         failed_object=failure, **result)
    if failure and failure["action"] == "wait":
        module.fail_json(msg="%s: %s" % (failure["ref"], failure["reason"]), failed_object=failure, **result)
    if failure:
        others = "".join("; %s failed too: %s" % (f["ref"], f["reason"]) for f in failure.get("others") or [])
        module.fail_json(msg="Applying %s failed: %s%s" % (failure["ref"], failure["reason"], others),
                         failed_object=failure, **result)
    module.exit_json(**result)


def main():
    from ansible.module_utils.basic import AnsibleModule

    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
