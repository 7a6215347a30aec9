#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: ingress_migration_plan
short_description: Plan the move of NGINX Ingresses to Gateway API HTTPRoutes or Istio VirtualServices
version_added: "0.2.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Reads the Ingresses (one list per namespace in O(namespaces), or one cluster-wide list), the IngressClasses
    (one list), the Services of namespaces whose Ingresses name a port by name (one list per such namespace) and
    the Gateway API route CRDs, never one call per object.
  - Returns which IngressClass claims each Ingress, the converted objects for the Ingresses O(ingress_class)
    claims, and a report per Ingress of every NGINX annotation converted, and of every one not converted with
    the reason (snippets, C(auth-url), C(limit-rps), C(proxy-body-size), unknown annotations). Nothing is dropped silently.
  - Canary Ingresses (C(canary=true)) are merged into the route of the primary Ingress with the same host and path.
  - Also returns the plans of the migration runbook's later phases; RV(cutover), RV(rollback), RV(verify_problems)
    and RV(cleanup) against O(snapshot).
  - Read-only; runs the same in check mode and never reports a change.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespaces:
    description: Namespaces whose Ingresses to read; empty reads all namespaces with one cluster-wide list.
    type: list
    elements: str
    default: []
  label_selector:
    description: Only Ingresses with these labels (for example C(team=shop)).
    type: str
    default: ""
  ingress_class:
    description:
      - Convert only the Ingresses this IngressClass claims (spec.ingressClassName, else the deprecated
        C(kubernetes.io/ingress.class) annotation, else the one default IngressClass). Empty converts all.
    type: str
    default: nginx
  output:
    description: C(gateway_api) (HTTPRoute, TLSRoute for ssl-passthrough) or C(istio) (VirtualService and Gateway).
    type: str
    choices: [gateway_api, istio]
    default: gateway_api
  gateway:
    description:
      - Where the routes attach. For C(gateway_api) the Gateway's C(name) and C(namespace) and its listener
        names C(http_listener), C(https_listener), C(tls_passthrough_listener); for C(istio) the gateway
        pods' C(selector) and C(namespace) (of AuthorizationPolicies for C(whitelist-source-range)).
    type: dict
    default: {}
  target_class:
    description: The IngressClass the cutover moves the Ingresses to.
    type: str
    default: istio
  snapshot:
    description: The cutover snapshot (its C(ingresses) and C(verified)), for the rollback, verification and cleanup plans.
    type: dict
    default: {}
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode); it only reads.
"""

EXAMPLES = r"""
- name: Plan the migration of the NGINX Ingresses in shop to HTTPRoutes
  istio_runbooks.mesh.ingress_migration_plan:
    namespaces: [shop]
    ingress_class: nginx
    output: gateway_api
    gateway: {name: ingress, namespace: istio-ingress}
  register: migration

- name: Report
  ansible.builtin.debug:
    var: migration.report_lines
"""

RETURN = r"""
selected:
  description: The Ingresses converted, as namespace/name.
  returned: always
  type: list
  elements: str
  sample: [shop/web]
ingresses:
  description: The selected Ingresses without status or server-written metadata (what a snapshot keeps).
  returned: always
  type: list
  elements: dict
claims:
  description: Per Ingress read, the IngressClass that claims it, its controller, and why (class None when none does).
  returned: always
  type: dict
  sample: {shop/web: {class: nginx, controller: k8s.io/ingress-nginx, reason: spec.ingressClassName}}
ingress_classes:
  description: The IngressClasses with their controller and whether they are the default.
  returned: always
  type: list
  elements: dict
  sample: [{name: nginx, controller: k8s.io/ingress-nginx, default: true}]
objects:
  description: The converted objects (HTTPRoute, TLSRoute or VirtualService and Gateway; DestinationRule; AuthorizationPolicy).
  returned: always
  type: list
  elements: dict
report:
  description: Per Ingress, its objects, the annotations converted (and to what), not converted (with the reason) and notes.
  returned: always
  type: list
  elements: dict
  sample: [{ingress: shop/web, objects: [shop/HTTPRoute/web], converted: [], not_converted:
            [{annotation: nginx.ingress.kubernetes.io/configuration-snippet, reason: raw NGINX configuration ...}], notes: []}]
report_lines:
  description: The report as console lines.
  returned: always
  type: list
  elements: str
not_converted:
  description: How many findings were not converted.
  returned: always
  type: int
cutover:
  description: The selected Ingresses as the cutover replaces them (class O(target_class)), only those not there yet.
  returned: always
  type: list
  elements: dict
snapshot_ingresses:
  description: What the cutover snapshot holds after this run, the Ingresses of a snapshot not rolled back kept as saved.
  returned: always
  type: list
  elements: dict
snapshot_objects:
  description: The objects converted from the snapshot's Ingresses (what a verified cutover needs in place).
  returned: always
  type: list
  elements: dict
rollback:
  description: The snapshot's Ingresses that differ from the cluster, as they go back.
  returned: always
  type: list
  elements: dict
verify_problems:
  description: Why the snapshot's Ingresses are not all claimed by O(target_class) (empty when the cutover holds).
  returned: always
  type: list
  elements: str
cleanup:
  description: References of the Ingresses cleanup deletes (empty unless the snapshot says the cutover was verified).
  returned: always
  type: list
  elements: dict
cleanup_problems:
  description: Why cleanup may not delete.
  returned: always
  type: list
  elements: str
gateway_api_crds:
  description: The Gateway API CRDs found among httproutes, tlsroutes and gateways.
  returned: always
  type: list
  elements: str
api_calls:
  description: API requests the module made.
  returned: always
  type: int
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.ingress_migration import IngressMigrationError, plan, read
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect


def main():
    from ansible.module_utils.basic import AnsibleModule

    spec = dict(AUTH_ARG_SPEC)
    spec.update(namespaces=dict(type="list", elements="str", default=[]),
                label_selector=dict(type="str", default=""),
                ingress_class=dict(type="str", default="nginx"),
                output=dict(type="str", choices=["gateway_api", "istio"], default="gateway_api"),
                gateway=dict(type="dict", default={}),
                target_class=dict(type="str", default="istio"),
                snapshot=dict(type="dict", default={}))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    params = module.params
    api = connect(module)
    try:
        state, calls = read(api.client, params["namespaces"], params["label_selector"])
        result = plan(state, params["ingress_class"], params["output"], params["gateway"], params["target_class"],
                      params["snapshot"])
    except IngressMigrationError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Cannot read the Ingresses: %s" % (getattr(exc, "body", None) or exc))
    module.exit_json(changed=False, api_calls=calls, **result)


if __name__ == "__main__":
    main()
