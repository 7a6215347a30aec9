#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: proxy_status
short_description: Report and check the xDS sync state of every proxy connected to istiod
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Reads istiod's sync status, the data behind C(istioctl proxy-status), and returns per proxy its
    C(pod.namespace), the istiod instance, the proxy version and the state of each xDS type (CDS, LDS, EDS, RDS,
    ECDS) as one of C(SYNCED), C(NOT SENT), C(STALE), C(STALE (Never Acknowledged)), C(ERROR) or C(IGNORED).
  - Does not depend on one istioctl release's table layout. With O(source=syncz) it reads istiod's
    C(/debug/syncz) JSON, from O(istiod_address) or from every Running istiod pod through the API server's
    port-forward. With O(source=istioctl) it runs C(istioctl proxy-status -o json), and parses the table only
    when that istioctl has no C(-o) flag.
  - Fails when a proxy is in a state named in O(fail_on), or when the share of proxies that are not
    C(SYNCED) passes O(max_not_synced_percent). With O(wait) it reads again until every proxy is
    C(SYNCED) or O(wait_timeout) passes. An istiod that does not answer fails at once, naming istiod.
  - Read-only; runs the same in check mode.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  namespaces:
    description:
      - Report only proxies in these namespaces. Each must exist.
    type: list
    elements: str
  label_selector:
    description:
      - Report only proxies whose pods match this label selector (Kubernetes syntax, e.g. C(app=reviews,version!=v1)).
      - The pods are listed once per namespace in O(namespaces), or once cluster-wide.
    type: str
  fail_on:
    description: Fail when any proxy is in one of these states (C(STALE) includes C(STALE (Never Acknowledged))).
    type: list
    elements: str
    choices: [STALE, ERROR, NOT SENT]
    default: []
  max_not_synced_percent:
    description:
      - Fail when more than this percentage (0 to 100) of the reported proxies is not C(SYNCED).
      - Leave it out to never fail on the share.
    type: float
  wait:
    description: Read again until every reported proxy is C(SYNCED) or O(wait_timeout) passes, then judge.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait with O(wait).
    type: int
    default: 120
  wait_sleep:
    description: Seconds between reads with O(wait).
    type: int
    default: 2
  source:
    description:
      - Where the sync status comes from.
      - C(auto) uses C(syncz) when O(istiod_address) is set, else C(istioctl) when O(istioctl_path) is set or
        C(istioctl) is on the PATH, else C(syncz) through port-forward.
    type: str
    choices: [auto, syncz, istioctl]
    default: auto
  istiod_address:
    description:
      - Address of istiod's HTTP debug port (C(8080) or C(15014)) for an istiod outside the cluster,
        e.g. C(http://127.0.0.1:15014). Without it, C(syncz) reaches each istiod pod through port-forward.
    type: str
  istiod_port:
    description: The istiod pod port that serves C(/debug/syncz), used through port-forward.
    type: int
    default: 15014
  istio_namespace:
    description: Namespace of the istiod pods.
    type: str
    default: istio-system
  revision:
    description: With port-forward, read only istiod pods of this revision (label C(istio.io/rev)).
    type: str
  istioctl_path:
    description: The istioctl binary for O(source=istioctl).
    type: path
  istioctl_args:
    description:
      - Extra arguments for C(istioctl proxy-status), e.g. C([--xds-address, istiod.example.com:15012]).
      - O(kubeconfig) and O(context) are passed on when they are set.
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds one read of istiod may take.
    type: int
    default: 10
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode); it never changes anything.
  - istiod lists only proxies whose node metadata carries a proxy config, that is real sidecars and gateways.
"""

EXAMPLES = r"""
- name: Every sidecar in shop synced, waiting up to two minutes
  istio_runbooks.mesh.proxy_status:
    namespaces: [shop]
    wait: true
    wait_timeout: 120
    fail_on: [STALE, ERROR]

- name: Fail when more than 5 percent of the mesh is not synced
  istio_runbooks.mesh.proxy_status:
    max_not_synced_percent: 5
  register: sync

- name: Print the table
  ansible.builtin.debug:
    msg: "{{ sync.table }}"

- name: Read an istiod that runs outside the cluster
  istio_runbooks.mesh.proxy_status:
    istiod_address: http://127.0.0.1:15014
    label_selector: app=reviews
"""

RETURN = r"""
proxies:
  description: Each proxy with its xDS states, sorted by name.
  returned: always
  type: list
  elements: dict
  sample:
    - name: reviews-v1-7d9f.shop
      pod: reviews-v1-7d9f
      namespace: shop
      proxy_id: sidecar~10.244.0.7~reviews-v1-7d9f.shop~shop.svc.cluster.local
      istiod: istiod-6c8f-x2k
      cluster: Kubernetes
      version: 1.31.0
      state: SYNCED
      types: {CDS: SYNCED, LDS: SYNCED, EDS: SYNCED, RDS: SYNCED, ECDS: NOT SENT}
      errors: {}
summary:
  description: >-
    Counts: C(total); C(proxies), proxies per state (C(SYNCED), C(NOT SENT), C(STALE), C(ERROR)); C(types),
    per xDS type the count per state; C(not_synced) and C(not_synced_percent).
  returned: always
  type: dict
  sample: {total: 20, proxies: {SYNCED: 17, NOT SENT: 0, STALE: 3, ERROR: 0}, not_synced: 3, not_synced_percent: 15.0}
failures:
  description: Why the check failed, one line per reason; empty when it passed.
  returned: always
  type: list
  elements: str
synced:
  description: Whether every reported proxy was SYNCED at the last read.
  returned: always
  type: bool
attempts:
  description: How many times the status was read (more than one with O(wait)).
  returned: always
  type: int
source:
  description: The source read, C(syncz) or C(istioctl).
  returned: always
  type: str
table:
  description: The report as table lines, for logs and change tickets.
  returned: always
  type: list
  elements: str
"""

import shutil

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.proxy_status import (
    ProxyStatus, ProxyStatusError, check_selector, check_threshold, istioctl_reader, port_forward_request,
    syncz_from_address, syncz_from_pods)


class LazyApi(object):
    """Connects on first use, so a run that needs no Kubernetes call makes none."""

    def __init__(self, module):
        self.module = module
        self.api = None

    def connect(self):
        if self.api is None:
            from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect
            self.api = connect(self.module)
        return self.api

    def list(self, kind, namespace, label_selector=None):
        return self.connect().list(kind, namespace, label_selector)


def main():
    from ansible.module_utils.basic import AnsibleModule
    from ansible.module_utils.urls import open_url

    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        namespaces=dict(type="list", elements="str"),
        label_selector=dict(type="str"),
        fail_on=dict(type="list", elements="str", choices=["STALE", "ERROR", "NOT SENT"], default=[]),
        max_not_synced_percent=dict(type="float"),
        wait=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=120),
        wait_sleep=dict(type="int", default=2),
        source=dict(type="str", choices=["auto", "syncz", "istioctl"], default="auto"),
        istiod_address=dict(type="str"),
        istiod_port=dict(type="int", default=15014),
        istio_namespace=dict(type="str", default="istio-system"),
        revision=dict(type="str"),
        istioctl_path=dict(type="path"),
        istioctl_args=dict(type="list", elements="str", default=[]),
        timeout=dict(type="int", default=10),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    try:  # bad input fails before anything is read
        check_threshold(p["max_not_synced_percent"])
        check_selector(p["label_selector"])
    except ProxyStatusError as exc:
        module.fail_json(msg=str(exc))

    api = LazyApi(module)
    source = p["source"]
    istioctl = p["istioctl_path"] or shutil.which("istioctl")
    if source == "auto":
        source = "syncz" if p["istiod_address"] or not istioctl else "istioctl"
    if source == "istioctl":
        if not istioctl:
            module.fail_json(msg="source=istioctl but no istioctl: set istioctl_path or put istioctl on the PATH")
        args = list(p["istioctl_args"])
        if isinstance(p["kubeconfig"], str):
            args += ["--kubeconfig", p["kubeconfig"]]
        if p["context"]:
            args += ["--context", p["context"]]
        args += ["--istioNamespace", p["istio_namespace"]]
        read = istioctl_reader(lambda cmd: module.run_command(cmd), istioctl, args)
    elif p["istiod_address"]:
        read = syncz_from_address(lambda url, timeout: open_url(url, timeout=timeout).read(),
                                  p["istiod_address"], p["timeout"])
    else:
        def forward(pod, namespace, port, request):
            api_client = api.connect().client.client  # KubeApi -> DynamicClient -> ApiClient
            return port_forward_request(api_client, pod, namespace, port, request, p["timeout"])
        read = syncz_from_pods(lambda ns, sel: api.list("Pod", ns, sel), forward, p["istio_namespace"],
                               p["revision"], p["istiod_port"])

    try:
        result = ProxyStatus(read, api).run(p["namespaces"], p["label_selector"], p["fail_on"],
                                            p["max_not_synced_percent"], p["wait"], p["wait_timeout"],
                                            p["wait_sleep"])
    except ProxyStatusError as exc:
        module.fail_json(msg=str(exc), source=source)
    result.update(changed=False, source=source)
    if result["failures"]:
        module.fail_json(msg="proxy sync check failed: " + "; ".join(result["failures"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
