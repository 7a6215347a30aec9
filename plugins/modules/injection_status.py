#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: injection_status
short_description: Report the Istio sidecar injection state of namespaces, workloads and pods
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Reads namespaces, workloads and pods with one list call per namespace and kind, never one call per pod; with
    more than 10 namespaces, one cluster-wide list per kind (per namespace again when that is forbidden).
  - Returns each namespace's injection labels (like C(kubectl get namespaces --show-labels)), each workload's
    injection state, and the pods that do not match the desired state, with the reason.
  - Read-only; runs the same in check mode.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespaces:
    description: Namespaces to report on.
    type: list
    elements: str
    required: true
  desired:
    description: Report pods that lack C(istio-proxy) (C(enabled)) or still have it (C(disabled)).
    type: str
    choices: [enabled, disabled]
  revision:
    description:
      - With O(desired=enabled), the revision every injected pod must run (from istiod's C(sidecar.istio.io/status)
        annotation); pods injected by another revision are reported as mismatched.
    type: str
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode); it never changes anything.
"""

EXAMPLES = r"""
- name: Which pods in shop still lack the sidecar, and why
  istio_runbooks.mesh.injection_status:
    namespaces: [shop]
    desired: enabled
  register: injection

- name: Print the table
  ansible.builtin.debug:
    msg: "{{ injection.table }}"
"""

RETURN = r"""
namespaces:
  description: Each namespace with its injection labels.
  returned: always
  type: list
  elements: dict
  sample: [{name: shop, labels: {istio-injection: enabled}}]
workloads:
  description: Each Deployment, StatefulSet and DaemonSet with its pod count, injected pods, state and revisions.
  returned: always
  type: list
  elements: dict
  sample: [{kind: Deployment, namespace: shop, name: reviews, pods: 2, injected_pods: 2, state: injected, revisions: [default]}]
mismatched_pods:
  description: Pods that do not match O(desired), with the reason (opted out, host network, not restarted).
  returned: always
  type: list
  elements: dict
unexpected_pods:
  description: The mismatched pods that are not explained by an opt-out or the host network.
  returned: always
  type: list
  elements: dict
table:
  description: The report as table lines, for logs and change tickets.
  returned: always
  type: list
  elements: str
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.injection import format_table, injection_report
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import KubeError


ARGUMENT_SPEC = dict(AUTH_ARG_SPEC)
ARGUMENT_SPEC.update(namespaces=dict(type="list", elements="str", required=True),
                     desired=dict(type="str", choices=["enabled", "disabled"]),
                     revision=dict(type="str"))


def run(module):
    if not module.params["namespaces"]:
        module.fail_json(msg="namespaces is empty: name at least one namespace")
    api = connect(module)
    try:
        report = injection_report(api, module.params["namespaces"], module.params["desired"],
                                  module.params["revision"])
    except KubeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, table=format_table(report), **report)


def main():
    from ansible.module_utils.basic import AnsibleModule

    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
