#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: mesh_info
short_description: Read the Istio mesh once, with one list call per kind
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Returns, in one call, what a run needs to know before it decides anything about the mesh, reading each kind
    with one list call (cluster-wide, or per namespace in scope), never one call per object.
  - Always returns the server version. Reviews the caller's permissions with one C(SelfSubjectRulesReview) per
    namespace in O(access_namespaces) and O(required_access), and returns the O(required_access) entries those
    rules do not grant in RV(missing_access); it does not fail on them, so the caller can assert with its own message.
  - The subsets in O(gather) add the Istio CRDs with their Established state and served versions; the
    control-plane Deployments per revision, revision tags and a summary per revision; the Istio webhook
    configurations with their caBundle state and where they point; PeerAuthentications and DestinationRules
    (when their CRDs exist); namespaces with their injection labels and what those labels ask for; workloads and pods.
  - A subset the caller may not read (HTTP 403) does not fail the module; it is returned in RV(errors) naming
    the missing permission.
  - Read-only; runs the same in check mode and never reports a change. The permission reviews are the only
    requests that are not reads, and the API server does not store them.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  gather:
    description:
      - The subsets to read besides the server version and the permissions.
      - C(crds) Istio CRDs (group C(istio.io) or ending in C(.istio.io)); C(control_plane) Deployments labelled
        C(istio.io/rev) in O(istio_namespace), revision tags and RV(revisions); C(webhooks) Istio mutating and
        validating webhook configurations; C(policies) PeerAuthentications and DestinationRules in all namespaces;
        C(namespaces) every namespace with its injection labels; C(workloads) Deployments, StatefulSets and
        DaemonSets in O(namespaces); C(pods) pods in O(namespaces); C(batch) Jobs and CronJobs in O(namespaces);
        C(mesh_config) the mesh config of the ConfigMap C(istio) in O(istio_namespace); C(mtls_gate) pods, Services
        and StatefulSets in O(namespaces), trimmed to what the mTLS safety gate weighs.
    type: list
    elements: str
    choices: [crds, control_plane, webhooks, policies, namespaces, workloads, pods, batch, mesh_config, mtls_gate]
    default: [crds, control_plane, webhooks, policies, namespaces]
  namespaces:
    description:
      - Namespaces whose workloads and pods to read. Empty reads all namespaces with one cluster-wide list per kind.
      - With more than 10 namespaces, one cluster-wide list per kind is filtered instead of one list per
        namespace (one list per namespace when the caller may not list cluster-wide).
    type: list
    elements: str
    default: []
  namespace_selector:
    description:
      - A label selector (for example C(team=shop)). The namespaces it matches are returned in
        RV(selected_namespaces), with one list call, and join O(namespaces) as the scope of C(workloads),
        C(pods) and C(batch). A selector that matches nothing adds nothing (it never widens the scope to all
        namespaces).
    type: str
    default: ""
  verify_install:
    description:
      - Verify one installed revision and return the report in RV(install_verification) (it does not fail on a
        failed check, so the caller can retry with C(until) and assert with its own message).
      - Reads the Deployments of the namespaces named (one list each), the CRDs and the webhook configurations
        (lists shared with the other subsets).
    type: dict
    suboptions:
      revision:
        description: The revision label value (C(default) for the default revision).
        type: str
        required: true
      version:
        description: The Istio version installed, for the report.
        type: str
      profile:
        description: The profile installed, for the report.
        type: str
      image_tag:
        description: The image tag every istiod of the revision must run (default O(verify_install.version)).
        type: str
      deployments:
        description: The Deployments that must be Available, each C({namespace, name}).
        type: list
        elements: dict
        default: []
      crds:
        description: The CRD names that must be Established.
        type: list
        elements: str
        default: []
  teardown:
    description:
      - Inventory and plan a teardown of the control plane in O(istio_namespace); the plan is returned in
        RV(teardown). Lists each kind once, cluster-wide, by label (C(app.kubernetes.io/part-of=istio),
        addons C(istio-runbooks.io/addon), gateways C(istio-runbooks.io/gateway), root-certificate ConfigMaps C(istio.io/config=true)).
    type: dict
    suboptions:
      kinds:
        description: The kinds to delete, in deletion order, each C({api_version, kind}) (other keys are ignored).
        type: list
        elements: dict
        required: true
      scope:
        description: C(purge) removes the whole control plane; C(revision) only O(teardown.revision).
        type: str
        choices: [purge, revision]
        default: purge
      revision:
        description: The revision a C(revision) teardown removes (empty for the default revision).
        type: str
        default: ""
      force:
        description: In a C(revision) teardown, include the revision's tag objects.
        type: bool
        default: false
      remove_addons:
        description: Delete the observability addons too.
        type: bool
        default: false
      addon_kinds:
        description:
          - Further kinds only the addons have (deleted after O(teardown.kinds)), each C({api_version, kind}).
          - Listed by the addon label only, never by C(app.kubernetes.io/part-of=istio).
        type: list
        elements: dict
        default: []
      remove_gateways:
        description:
          - In a C(purge), delete the gateways and listeners of the mesh_gateways role too (label
            C(istio-runbooks.io/gateway)); a C(revision) teardown never removes them.
        type: bool
        default: false
      gateway_kinds:
        description:
          - Further kinds only the gateways have (deleted after O(teardown.addon_kinds)), each C({api_version, kind}).
            O(teardown.kinds) are listed by the gateway label as well.
        type: list
        elements: dict
        default: []
      remove_crds:
        description: In a C(purge), delete the Istio CRDs too.
        type: bool
        default: false
      remove_injection_labels:
        description: Plan the removal of the namespaces' injection labels.
        type: bool
        default: true
      remove_namespace:
        description: In a C(purge), delete O(istio_namespace) when it exists.
        type: bool
        default: true
  lists:
    description:
      - Further reads, one list call each, returned in RV(lists) in the same order.
    type: list
    elements: dict
    default: []
    suboptions:
      api_version:
        description: The apiVersion, e.g. C(apps/v1).
        type: str
        required: true
      kind:
        description: The kind, e.g. C(Deployment).
        type: str
        required: true
      namespace:
        description: The namespace; omit to list in all namespaces (or a cluster-scoped kind).
        type: str
      label_selectors:
        description: Label selectors, all of which must match.
        type: list
        elements: str
        default: []
  fail_on_error:
    description:
      - Fail when a read failed, with the errors' messages and the first error's HTTP status (so a task's
        C(until) can retry a transient failure). By default a failed read is only reported in RV(errors).
    type: bool
    default: false
  istio_namespace:
    description: Namespace of the control plane (istiod and gateway Deployments).
    type: str
    default: istio-system
  access_namespaces:
    description:
      - Namespaces whose permission rules to return in RV(access), one C(SelfSubjectRulesReview) each.
      - The namespaces named in O(required_access) are reviewed as well.
    type: list
    elements: str
    default: []
  required_access:
    description:
      - Permissions the run needs. Those the reviewed rules do not grant are returned in RV(missing_access).
      - Entries without O(required_access[].namespace) are cluster-wide (cluster-scoped resources, or a kind
        in all namespaces); they are answered from a review of a namespace that holds no RoleBindings, so only
        ClusterRoleBindings count.
    type: list
    elements: dict
    default: []
    suboptions:
      verb:
        description: The verb, e.g. C(list), C(create), C(patch).
        type: str
        required: true
      resource:
        description: The resource (plural, lower case), e.g. C(deployments); a subresource as C(pods/log).
        type: str
        required: true
      group:
        description: The API group, e.g. C(apps); empty for the core group.
        type: str
        default: ""
      namespace:
        description: The namespace; omit for cluster-wide access.
        type: str
      name:
        description: One object's name, for rules limited to C(resourceNames).
        type: str
      source:
        description: Where the entry comes from, e.g. the rules file that grants it; repeated in RV(missing_access).
        type: str
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode); it never changes anything.
  - The C(SelfSubjectRulesReview) rules cover the RBAC authorizer. When another authorizer decides too, the
    review says it is incomplete and RV(missing_access) says so in each entry's reason.
  - The connection check before the read is one more request than RV(api_calls) counts.
seealso:
  - module: istio_runbooks.mesh.injection_status
"""

EXAMPLES = r"""
- name: Read the mesh and check the installer's permissions
  istio_runbooks.mesh.mesh_info:
    required_access:
      - {verb: create, group: apiextensions.k8s.io, resource: customresourcedefinitions}
      - {verb: create, group: apps, resource: deployments, namespace: istio-system}
  register: mesh

- name: Assert the installer may do what the install needs
  ansible.builtin.assert:
    that: mesh.missing_access | length == 0
    fail_msg: "Missing permissions: {{ mesh.missing_access | map('to_json') | join(', ') }}"

- name: Revisions whose istiod is Available
  ansible.builtin.debug:
    msg: "{{ mesh.revisions | selectattr('istiod_available') | map(attribute='revision') | list }}"

- name: Pods and workloads of two namespaces, with the namespaces' injection labels
  istio_runbooks.mesh.mesh_info:
    gather: [namespaces, workloads, pods]
    namespaces: [shop, payments]
  register: scope

- name: Namespaces labelled team=shop, and their Jobs and CronJobs that would get a sidecar
  istio_runbooks.mesh.mesh_info:
    gather: [batch]
    namespace_selector: team=shop
  register: shop

- name: Gateway Deployments and Services of revision default, in one call
  istio_runbooks.mesh.mesh_info:
    gather: []
    lists:
      - {api_version: apps/v1, kind: Deployment, namespace: istio-system, label_selectors: [istio.io/rev=default]}
      - {api_version: v1, kind: Service, namespace: istio-system, label_selectors: [istio.io/rev=default]}
  register: revision_objects
"""

RETURN = r"""
version:
  description: The server version (null when it could not be read; see RV(errors)).
  returned: always
  type: dict
  sample: {major: "1", minor: "36", gitVersion: v1.36.3}
gathered:
  description: The subsets read.
  returned: always
  type: list
  elements: str
access:
  description: The permission rules per reviewed namespace; C(namespace) is null for the cluster-wide review.
  returned: always
  type: list
  elements: dict
  sample: [{namespace: istio-system, resource_rules: [{verbs: ["*"], apiGroups: ["*"], resources: ["*"]}],
            non_resource_rules: [], incomplete: false, evaluation_error: null}]
missing_access:
  description: The O(required_access) entries not granted, each with a reason.
  returned: always
  type: list
  elements: dict
  sample: [{verb: create, resource: customresourcedefinitions, group: apiextensions.k8s.io, reason: not granted}]
crds:
  description: Istio CRDs with their Established state, served versions and storage version.
  returned: when crds is gathered
  type: list
  elements: dict
  sample: [{name: peerauthentications.security.istio.io, group: security.istio.io, kind: PeerAuthentication,
            plural: peerauthentications, scope: Namespaced, established: true, served_versions: [v1, v1beta1],
            storage_version: v1}]
control_plane:
  description: Deployments labelled C(istio.io/rev) in O(istio_namespace), with revision, component, images,
    Available state and replica counts.
  returned: when control_plane is gathered
  type: list
  elements: dict
  sample: [{name: istiod, namespace: istio-system, revision: default, component: istiod,
            images: ["docker.io/istio/pilot:1.28.0"], available: true, replicas: 1, ready_replicas: 1,
            available_replicas: 1, updated_replicas: 1}]
revisions:
  description: Per revision, its istiod and gateway Deployments, whether istiod is Available, its tags and
    whether all its webhook configurations are healthy (null when webhooks were not gathered).
  returned: when control_plane is gathered
  type: list
  elements: dict
  sample: [{revision: default, istiod: [istiod], istiod_available: true, gateways: [istio-ingressgateway],
            tags: [default], webhooks_healthy: true}]
tags:
  description: Revision tags, as a map from tag to revision.
  returned: when control_plane or webhooks is gathered
  type: dict
  sample: {default: canary, prod: canary}
tag_problems:
  description: Tags that point at several revisions or at none.
  returned: when control_plane or webhooks is gathered
  type: list
  elements: str
webhooks:
  description: Istio mutating and validating webhook configurations, each webhook with C(ca_bundle) (present or
    not), C(url) or C(service), and the configuration's problems and health.
  returned: when webhooks is gathered
  type: list
  elements: dict
  sample: [{kind: MutatingWebhookConfiguration, name: istio-sidecar-injector, revision: default, tag: null,
            healthy: true, problems: [], webhooks: [{name: rev.namespace.sidecar-injector.istio.io, ca_bundle: true,
            url: null, service: {namespace: istio-system, name: istiod, path: /inject, port: 443},
            failure_policy: Fail}]}]
peer_authentications:
  description: Every PeerAuthentication (without managedFields); empty when the CRD is absent.
  returned: when policies is gathered
  type: list
  elements: dict
destination_rules:
  description: Every DestinationRule (without managedFields); empty when the CRD is absent.
  returned: when policies is gathered
  type: list
  elements: dict
absent_kinds:
  description: The policy kinds whose CRD is not installed or not Established.
  returned: when policies is gathered
  type: list
  elements: str
namespaces:
  description:
    - Every namespace with its labels, its injection labels (C(injection_labels)) and what they ask for.
    - C(state) is C(enabled) (C(istio-injection=enabled)), C(revision) (C(istio.io/rev)), C(disabled), C(none)
      or C(invalid); C(control_plane_revision) resolves the label through the revision tags.
  returned: when namespaces is gathered
  type: list
  elements: dict
  sample: [{name: shop, phase: Active, labels: {team: a, istio.io/rev: prod}, injection_labels: {istio.io/rev: prod},
            state: revision, revision: prod,
            control_plane_revision: canary, warnings: []}]
workloads:
  description: Deployments, StatefulSets and DaemonSets in O(namespaces), with pod-template labels, the
    template's injection choice (C(inject)), host network, container ports and replica counts.
  returned: when workloads is gathered
  type: list
  elements: dict
  sample: [{kind: Deployment, namespace: shop, name: reviews, uid: "0f1c...", template_labels: {app: reviews},
            inject: null, host_network: false, ports: [9080], replicas: 2, ready_replicas: 2, updated_replicas: 2,
            available_replicas: 2}]
pods:
  description: Pods in O(namespaces), with labels, owner, phase, readiness, sidecar and the revision that injected it.
  returned: when pods is gathered
  type: list
  elements: dict
  sample: [{namespace: shop, name: reviews-5d9c-x1, labels: {app: reviews}, owner_kind: ReplicaSet,
            owner_name: reviews-5d9c, phase: Running, ready: true, sidecar: true, revision: default, inject: null,
            host_network: false, terminating: false}]
scope:
  description: The namespaces C(workloads), C(pods) and C(batch) were read in (O(namespaces) and
    RV(selected_namespaces)); empty means all namespaces when no O(namespace_selector) is given.
  returned: always
  type: list
  elements: str
  sample: [payments, shop]
selected_namespaces:
  description: The namespaces O(namespace_selector) matched, sorted.
  returned: when O(namespace_selector) is given
  type: list
  elements: str
  sample: [shop]
batch:
  description: Jobs and CronJobs in scope, with their pod template's injection choice (C(inject)).
  returned: when batch is gathered
  type: list
  elements: dict
  sample: [{kind: CronJob, namespace: shop, name: nightly, inject: null}]
batch_without_opt_out:
  description: The Jobs and CronJobs in scope whose pod template does not opt out of injection, as C(Kind namespace/name).
  returned: when batch is gathered
  type: list
  elements: str
  sample: [CronJob shop/nightly]
mesh_config:
  description:
    - The mesh config istiod reads (the C(mesh) key of the ConfigMap C(istio) in O(istio_namespace)) in C(config),
      with C(root_namespace) and C(trust_domain) defaulted as istiod does (C(istio-system), C(cluster.local)).
    - C(found) says whether the ConfigMap exists; C(problems) names a mesh config that does not parse.
  returned: when mesh_config is gathered
  type: dict
  sample: {found: true, config: {rootNamespace: istio-system}, root_namespace: istio-system,
           trust_domain: cluster.local, problems: []}
mtls_gate:
  description:
    - Pods, Services and StatefulSets in scope, each in its own shape but only with the fields the mTLS safety gate
      reads (namespace, name, labels and deletion of each; a pod's container names and phase; a Service's selector,
      clusterIP and ports; a StatefulSet's pod template labels). Sorted by namespace and name.
  returned: when mtls_gate is gathered
  type: dict
  sample: {pods: [{metadata: {namespace: shop, name: web-1, labels: {app: web}}, spec: {containers: [{name: web}],
           initContainers: []}, status: {phase: Running}}], services: [], statefulsets: []}
install_verification:
  description:
    - The verification of O(verify_install.revision), with C(passed) and C(problems) naming each failed check.
      It checks its Deployments Available, CRDs Established, a caBundle in every webhook of the revision (at least
      one configuration must carry C(istio.io/rev)), every istiod of the revision on the expected tag.
  returned: when O(verify_install) is given
  type: dict
  sample: {version: 1.28.0, revision: default, profile: default, passed: true, problems: [],
           deployments: [{name: istiod, available: true}],
           crds: [{name: peerauthentications.security.istio.io, established: true}],
           webhooks: [{configuration: istio-sidecar-injector, webhook: rev.namespace.sidecar-injector.istio.io,
                       ca_bundle: true}], istiod_images: ["docker.io/istio/pilot:1.28.0"]}
teardown:
  description:
    - The teardown plan. C(objects) holds references (apiVersion, kind, metadata name and namespace) in deletion
      order. C(namespaces) lists C({name, labels}) for the injection labels to remove, and C(label_patches) the
      Namespace merge patches that remove them. C(delete_namespace) says
      whether the control-plane namespace goes.
    - In a C(revision) teardown, C(revision_users) names the pods outside O(istio_namespace) that the revision
      injected, and C(revision_tags) the tags that point at it.
  returned: when O(teardown) is given
  type: dict
  sample: {objects: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: istiod, namespace: istio-system}}],
           namespaces: [{name: shop, labels: {istio-injection: enabled}}], delete_namespace: true,
           label_patches: [{apiVersion: v1, kind: Namespace, metadata: {name: shop, labels: {istio-injection: null}}}],
           revision_users: [], revision_tags: []}
lists:
  description:
    - The objects of each O(lists) entry (kind and apiVersion set, managedFields left out), in the order given. A
      kind the API server does not serve has no objects; a read that failed has none either and an entry in
      RV(errors).
  returned: when O(lists) is given
  type: list
  elements: dict
  sample: [{api_version: apps/v1, kind: Deployment, namespace: istio-system, label_selectors: ["istio.io/rev=default"],
            resources: [{apiVersion: apps/v1, kind: Deployment, metadata: {name: istio-ingressgateway}}]}]
errors:
  description: Reads that failed, each naming the subset, kind, verb, namespace and HTTP status;
    C(missing_permission) when the status is 401 or 403.
  returned: always
  type: list
  elements: dict
  sample: [{subset: crds, kind: CustomResourceDefinition, verb: list, resource: customresourcedefinitions,
            group: apiextensions.k8s.io, namespace: null, status: 403,
            missing_permission: list customresourcedefinitions.apiextensions.k8s.io cluster-wide,
            message: "cannot list customresourcedefinitions.apiextensions.k8s.io cluster-wide: 403 forbidden"}]
api_calls:
  description: Requests the read sent (version, reviews and list calls).
  returned: always
  type: int
  sample: 9
"""

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import (
    DEFAULT_SUBSETS,
    SUBSETS,
    DynamicMeshApi,
    MeshInfoError,
    gather_mesh,
)


ARGUMENT_SPEC = dict(AUTH_ARG_SPEC)
ARGUMENT_SPEC.update(
    gather=dict(type="list", elements="str", choices=list(SUBSETS), default=list(DEFAULT_SUBSETS)),
    namespaces=dict(type="list", elements="str", default=[]),
    namespace_selector=dict(type="str", default=""),
    verify_install=dict(type="dict", options=dict(
        revision=dict(type="str", required=True), version=dict(type="str"), profile=dict(type="str"),
        image_tag=dict(type="str"), deployments=dict(type="list", elements="dict", default=[]),
        crds=dict(type="list", elements="str", default=[]))),
    teardown=dict(type="dict", options=dict(
        kinds=dict(type="list", elements="dict", required=True),
        scope=dict(type="str", choices=["purge", "revision"], default="purge"),
        revision=dict(type="str", default=""), force=dict(type="bool", default=False),
        remove_addons=dict(type="bool", default=False), remove_crds=dict(type="bool", default=False),
        addon_kinds=dict(type="list", elements="dict", default=[]),
        remove_gateways=dict(type="bool", default=False),
        gateway_kinds=dict(type="list", elements="dict", default=[]),
        remove_injection_labels=dict(type="bool", default=True),
        remove_namespace=dict(type="bool", default=True))),
    lists=dict(type="list", elements="dict", default=[], options=dict(
        api_version=dict(type="str", required=True), kind=dict(type="str", required=True),
        namespace=dict(type="str"), label_selectors=dict(type="list", elements="str", default=[]))),
    fail_on_error=dict(type="bool", default=False),
    istio_namespace=dict(type="str", default="istio-system"),
    access_namespaces=dict(type="list", elements="str", default=[]),
    required_access=dict(type="list", elements="dict", default=[], options=dict(
        verb=dict(type="str", required=True), resource=dict(type="str", required=True),
        group=dict(type="str", default=""), namespace=dict(type="str"), name=dict(type="str"),
        source=dict(type="str"))),
)


def run(module):
    api = connect(module)
    try:
        result = gather_mesh(DynamicMeshApi(api.client), gather=module.params["gather"],
                             namespaces=module.params["namespaces"], istio_namespace=module.params["istio_namespace"],
                             access_namespaces=module.params["access_namespaces"],
                             required_access=module.params["required_access"],
                             namespace_selector=module.params["namespace_selector"],
                             verify_install=module.params["verify_install"], teardown=module.params["teardown"],
                             lists=module.params["lists"])
    except MeshInfoError as exc:
        module.fail_json(msg=str(exc))
    if module.params["fail_on_error"] and result["errors"]:
        module.fail_json(msg="; ".join(e["message"] for e in result["errors"]),
                         status=result["errors"][0].get("status"), **result)
    module.exit_json(changed=False, **result)


def main():
    from ansible.module_utils.basic import AnsibleModule

    run(AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True))


if __name__ == "__main__":
    main()
