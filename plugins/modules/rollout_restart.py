#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rollout_restart
short_description: Restart Deployments, StatefulSets and DaemonSets and wait for their rollouts
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Sends the same patch as C(kubectl rollout restart) (the C(kubectl.kubernetes.io/restartedAt) pod-template
    annotation) to the selected workloads, with bounded concurrency, and waits for each rollout to complete.
  - Reads the cluster with one list call per namespace and kind (one cluster-wide list per kind for more than
    10 namespaces, per namespace again where that is forbidden), never one call per pod.
  - Never starts more restarts at once among the workloads a PodDisruptionBudget covers than its
    C(disruptionsAllowed); while that is 0 they wait, and fail at O(timeout) naming the budget. A budget with an
    empty selector covers every workload in its namespace.
  - Refuses, before any patch, workloads whose rollout could never complete (a paused Deployment, a StatefulSet
    or DaemonSet with the C(OnDelete) update strategy, a StatefulSet with a partition above 0), as kubectl does.
  - A refused patch (RBAC, admission) or an unreadable status fails only that workload; the module then fails
    with what was restarted, what failed and why, and what was undone. Without permission to list a kind
    cluster-wide it lists per namespace.
  - A Deployment whose new pods cannot be created because an admission webhook fails or denies them (its
    C(ReplicaFailure) condition, reason C(FailedCreate), which the Deployment list already carries) fails at once,
    naming the webhook, instead of waiting for O(timeout); when that webhook is Istio's injector the message says
    istiod is not answering and how to check it. StatefulSets and DaemonSets report failed pod creations only as
    events, so they wait for O(timeout).
  - With O(only_if) it restarts only workloads whose pods lack the Istio sidecar, still have it, or run
    another revision, so a second run restarts nothing.
  - In check mode it returns the workloads it would restart and sends no patch; with diff it shows the
    annotation change.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespaces:
    description: Namespaces to restart workloads in.
    type: list
    elements: str
    required: true
  kinds:
    description: Workload kinds to restart.
    type: list
    elements: str
    default: [Deployment, StatefulSet, DaemonSet]
  names:
    description: Restart only workloads with these names (all of them must exist).
    type: list
    elements: str
  label_selector:
    description: Restart only workloads matching this label selector, e.g. C(app=reviews,tier!=db).
    type: str
  only_if:
    description:
      - C(always) restarts every selected workload.
      - C(missing_sidecar) restarts those with a pod that lacks C(istio-proxy); workloads opted out with
        C(sidecar.istio.io/inject=false) or on the host network are skipped.
      - C(has_sidecar) restarts those with a pod that still has C(istio-proxy).
      - C(wrong_revision) restarts those with a pod injected by another revision than O(revision), or not injected;
        opted-out and host-network workloads are skipped.
      - Succeeded, Failed (evicted) and terminating pods do not count.
    type: str
    default: always
    choices: [always, missing_sidecar, has_sidecar, wrong_revision]
  revision:
    description: The Istio revision pods should run, for O(only_if=wrong_revision).
    type: str
  concurrency:
    description: Most rollouts in flight at once.
    type: int
    default: 10
  batch_size:
    description: Workloads per batch; a batch completes before the next starts.
    type: int
    default: 50
  timeout:
    description:
      - Seconds one rollout may take before it counts as failed.
      - Also the longest a workload waits for a PodDisruptionBudget that allows no disruption.
    type: int
    default: 300
  poll_interval:
    description: Seconds between status reads of the workloads in flight; more than 0.
    type: float
    default: 1.0
  wait:
    description: Wait for each rollout to complete.
    type: bool
    default: true
  undo_on_failure:
    description: Put the pod template of a failed rollout back, so the controller returns to the previous revision.
    type: bool
    default: false
  annotations:
    description:
      - Annotations added to each restarted workload's own metadata in the same patch (the change ticket, the
        runbook, the time); runbooks pass them through C(module_defaults). Workloads not restarted are not touched.
    type: dict
    default: {}
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode) and C(diff).
"""

EXAMPLES = r"""
- name: Restart every workload in two namespaces, five at a time
  istio_runbooks.mesh.rollout_restart:
    namespaces: [shop, payments]
    concurrency: 5

- name: Give the sidecar to workloads that lack it (a second run restarts nothing)
  istio_runbooks.mesh.rollout_restart:
    namespaces: [shop]
    only_if: missing_sidecar

- name: Move workloads to the canary revision, undoing a rollout that gets stuck
  istio_runbooks.mesh.rollout_restart:
    namespaces: [shop]
    kinds: [Deployment]
    label_selector: tier=frontend
    only_if: wrong_revision
    revision: canary
    timeout: 120
    undo_on_failure: true
  register: restart

- name: Show what a restart would do
  istio_runbooks.mesh.rollout_restart:
    namespaces: [shop]
  check_mode: true
  diff: true
"""

RETURN = r"""
restarted:
  description: Workloads whose rollout completed (or was started, with O(wait=false)).
  returned: always
  type: list
  elements: dict
  sample:
    - kind: Deployment
      namespace: shop
      name: reviews
      reason: 1 of 2 pods lack istio-proxy
      old_revision: "3"
      new_revision: "4"
      duration: 2.41
      outcome: restarted
      detail: 2 replicas updated and available
failed_workloads:
  description:
    - Workloads whose restart failed, with why (timeout, ProgressDeadlineExceeded, deleted or recreated during the
      restart, patch refused by RBAC or admission, status unreadable, PodDisruptionBudget allowing no disruption).
    - C(patched) says whether the restart patch went out, C(undone) whether it was taken back.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: Deployment
      namespace: shop
      name: ratings
      outcome: failed
      detail: "timeout after 120s: 0 of 1 updated replicas available; undone: pod template restored to the previous revision"
      patched: true
      undone: true
    - kind: Deployment
      namespace: shop
      name: locked
      outcome: failed
      detail: "patch refused: 403 deployments.apps \"locked\" is forbidden: ValidatingAdmissionPolicy ..."
      patched: false
      undone: false
undone:
  description: Workloads whose failed rollout was undone (O(undo_on_failure)), as C(Kind namespace/name).
  returned: always
  type: list
  elements: str
  sample: [Deployment shop/ratings]
untouched:
  description: Selected workloads that needed no restart, with the reason.
  returned: always
  type: list
  elements: dict
  sample:
    - kind: Deployment
      namespace: shop
      name: legacy
      reason: opted out (sidecar.istio.io/inject=false)
would_restart:
  description: In check mode, the workloads a real run would restart.
  returned: check mode
  type: list
  elements: dict
elapsed:
  description: Seconds the selection, restarts and waits took.
  returned: when not in check mode
  type: float
  sample: 6.3
api_calls:
  description: API requests the run made (lists and patches).
  returned: when not in check mode
  type: int
  sample: 46
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import (
    KINDS,
    ONLY_IF,
    RolloutError,
    RolloutRestarter,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect


ARGUMENT_SPEC = dict(AUTH_ARG_SPEC)
ARGUMENT_SPEC.update(
    namespaces=dict(type="list", elements="str", required=True),
    kinds=dict(type="list", elements="str", default=list(KINDS)),
    names=dict(type="list", elements="str"),
    label_selector=dict(type="str"),
    only_if=dict(type="str", default="always", choices=list(ONLY_IF)),
    revision=dict(type="str"),
    concurrency=dict(type="int", default=10),
    batch_size=dict(type="int", default=50),
    timeout=dict(type="int", default=300),
    poll_interval=dict(type="float", default=1.0),
    wait=dict(type="bool", default=True),
    undo_on_failure=dict(type="bool", default=False),
    annotations=dict(type="dict", default={}),
)


def run(module):
    params = module.params
    restarter = RolloutRestarter(
        api=None, kinds=params["kinds"], namespaces=params["namespaces"], names=params["names"],
        label_selector=params["label_selector"], only_if=params["only_if"], revision=params["revision"],
        concurrency=params["concurrency"], batch_size=params["batch_size"], timeout=params["timeout"],
        poll_interval=params["poll_interval"], wait=params["wait"], undo_on_failure=params["undo_on_failure"],
        check_mode=module.check_mode, annotations=dict((k, str(v)) for k, v in params["annotations"].items()))
    try:
        restarter.validate()
        restarter.api = connect(module)
        result = restarter.run()
    except RolloutError as exc:
        # raised only before the first patch: nothing changed
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        partial = restarter.partial_result(exc)
        module.fail_json(msg="rollout restart interrupted: %s; %s" % (exc, summary(partial)), **returned(partial))
    diff = result.pop("diff")
    if module._diff:
        result["diff"] = diff
    if result["failed"]:
        module.fail_json(msg=summary(result), **returned(result))
    module.exit_json(**returned(result))


def returned(result):
    """The result as the module returns it: Ansible's own failed flag would hide a list named failed."""
    result = dict(result)
    result["failed_workloads"] = result.pop("failed")
    return result


def summary(result):
    """What failed and why, what was restarted and what was undone, for the failure message."""
    failed = ", ".join("%s %s/%s (%s)" % (f["kind"], f["namespace"], f["name"], f["detail"]) for f in result["failed"])
    return "rollout failed for %s; restarted %d workload(s); undone: %s" % (
        failed or "none", len(result["restarted"]), ", ".join(result.get("undone") or []) or "none")


def main():
    from ansible.module_utils.basic import AnsibleModule

    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
