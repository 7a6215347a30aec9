#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: istio_plan
short_description: Render an IstioOperator into the install plan, reusing the render while its inputs are unchanged
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Writes the IstioOperator to O(operator_file), renders it with C(istioctl manifest generate) (with
    O(overlay_file) when given), splits the manifest into objects and saves them as the reviewable plan in
    O(plan_file).
  - With O(render_cache), the render is saved there under a key of the istioctl binary (path, size, modification
    time), the IstioOperator and the overlay, and reused while the key matches; C(manifest generate) reads no
    cluster, so the same inputs render the same manifest.
  - Namespaced objects without a namespace get O(namespace). While a C(default) revision tag exists
    (O(default_tags)), the default revision's own injector stays deactivated in the plan, so a re-install does
    not switch it on beside the tag.
  - With a C(local) connection (the runbooks' inventories), its action plugin runs on the controller without a
    module process; on other connections the module runs on the target.
  - Reads no cluster and changes nothing in it; the files it writes are artifacts of the run, written in check
    mode too. The plan file's first line holds the digest of its objects and of its text; the file is left as it
    is while it holds the same objects, unedited.
options:
  istioctl:
    description: The istioctl binary.
    type: path
    required: true
  operator:
    description: The IstioOperator, as YAML text.
    type: str
    required: true
  operator_file:
    description: Where to write the IstioOperator.
    type: path
    required: true
  overlay_file:
    description: A second IstioOperator file laid over the first (C(-f) twice), or empty for none.
    type: path
    default: ""
  plan_file:
    description: Where to save the plan (the objects, as multi-document YAML).
    type: path
    required: true
  namespace:
    description: The namespace of namespaced objects that name none.
    type: str
    default: istio-system
  validation_failure_policy:
    description:
      - The C(failurePolicy) of Istio's validating webhooks in the plan; leave it out to keep istioctl's.
    type: str
    choices: [Fail, Ignore]
  default_tags:
    description: The live webhook configurations labelled C(istio.io/tag=default).
    type: list
    elements: dict
    default: []
  render_cache:
    description: A file to save the render in and reuse it from while its key matches; empty renders every time.
    type: path
    default: ""
  return_objects:
    description:
      - Return the planned objects whole in RV(objects). Without them the result is a few kilobytes instead of
        about a megabyte; M(istio_runbooks.mesh.apply_objects) reads the plan from O(plan_file)
        (its O(istio_runbooks.mesh.apply_objects#module:manifest_files), checked against RV(plan_sha256)), and
        RV(refs) names the objects.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Writes only the run's artifacts (the IstioOperator, the plan, the render), never to the cluster.
  diff_mode:
    support: none
    description: The plan is saved for review in O(plan_file); no diff is shown.
notes:
  - Runs C(istioctl manifest generate) only when the render cannot be reused.
"""

EXAMPLES = r"""
- name: Render the plan
  istio_runbooks.mesh.istio_plan:
    istioctl: /usr/local/bin/istioctl
    operator: "{{ lookup('ansible.builtin.template', 'istio-operator.yaml.j2') }}"
    operator_file: /var/lib/mesh/artifacts/istio-operator-default.yaml
    plan_file: /var/lib/mesh/artifacts/manifest-default.yaml
    render_cache: /var/lib/mesh/artifacts/.render-default.yaml
  register: plan

- name: Report it
  ansible.builtin.debug:
    msg: "{{ plan.objects | length }} objects ({{ plan.summary }})"
"""

RETURN = r"""
objects:
  description: The planned objects, in the manifest's order.
  returned: success, with O(return_objects)
  type: list
  elements: dict
refs:
  description: The planned objects' apiVersion, kind, and metadata name and namespace, in the manifest's order.
  returned: success
  type: list
  elements: dict
  sample: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: istiod, namespace: istio-system}}]
plan_sha256:
  description: The SHA-256 of the plan file as this call left it; apply it with this checksum.
  returned: success
  type: str
summary:
  description: How many objects of each kind, most frequent first.
  returned: success
  type: str
  sample: 15 CustomResourceDefinition, 4 ClusterRole, 1 Deployment
reused_render:
  description: Whether the render came from O(render_cache) instead of running istioctl.
  returned: success
  type: bool
command:
  description: The istioctl command that renders the plan.
  returned: success
  type: list
  elements: str
files:
  description: The files written or kept (the IstioOperator, the plan and, when rendered, the render cache).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.istio_plan import PlanError, render_plan
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.local_files import LocalFilesError

ARGUMENT_SPEC = dict(
    istioctl=dict(type="path", required=True),
    operator=dict(type="str", required=True),
    operator_file=dict(type="path", required=True),
    overlay_file=dict(type="path", default=""),
    plan_file=dict(type="path", required=True),
    namespace=dict(type="str", default="istio-system"),
    validation_failure_policy=dict(type="str", choices=["Fail", "Ignore"]),
    default_tags=dict(type="list", elements="dict", default=[]),
    render_cache=dict(type="path", default=""),
    return_objects=dict(type="bool", default=True),
)


def plan(params):
    """render_plan with the module's parameters: (result, error message or None)."""
    try:
        result = render_plan(params["istioctl"], params["operator"], params["operator_file"], params["plan_file"],
                             params["overlay_file"] or "", params["namespace"], params["validation_failure_policy"],
                             params["default_tags"], params["render_cache"] or "",
                             return_objects=params["return_objects"])
    except (PlanError, LocalFilesError, IOError, OSError, ValueError) as exc:
        return {}, "Cannot render the plan: %s" % exc
    except Exception as exc:  # pylint: disable=broad-except
        if type(exc).__module__.split(".")[0] != "yaml":
            raise
        return {}, "Cannot render the plan: the manifest is not valid YAML: %s" % exc
    return dict(result, changed=False), None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result, error = plan(module.params)
    if error:
        module.fail_json(msg=error)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
