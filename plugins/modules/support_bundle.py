#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: support_bundle
short_description: Write one tarball of Istio logs and configuration for support, never with Secrets
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Reads, through the API server, the logs of istiod (its C(discovery) container), of the gateways'
    C(istio-proxy) and of the selected application pods' C(istio-proxy), within a time window and a number of lines.
  - Lists the C(kubectl get all) kinds in O(istio_namespace), every VirtualService, DestinationRule, Gateway,
    PeerAuthentication and AuthorizationPolicy, and the namespaces' labels, one list call per kind.
  - Adds O(extra_files) (for example C(istioctl analyze) and proxy-status output), writes C(index.json) and
    C(index.txt), and packs everything into one C(.tar.gz) at O(dest).
  - Secrets are never read. A pod whose logs cannot be read is listed in the index with the reason.
  - In check mode it reads everything and writes nothing.
extends_documentation_fragment:
  - kubernetes.core.k8s_auth_options
options:
  dest:
    description: Path of the tarball to write (its folder must exist).
    type: path
    required: true
  istio_namespace:
    description: Namespace of the control plane.
    type: str
    default: istio-system
  namespaces:
    description: Application namespaces whose pods' C(istio-proxy) logs to collect. Each must exist.
    type: list
    elements: str
    default: []
  label_selector:
    description: Only application pods matching this label selector (alone, it selects across all namespaces).
    type: str
  since_seconds:
    description: Only log lines newer than this many seconds; leave it out for all.
    type: int
  tail_lines:
    description: At most this many lines per log, the newest; leave it out for all.
    type: int
  extra_files:
    description: More files for the bundle, as a map from the name in the bundle to its text (or data, written as JSON).
    type: dict
    default: {}
requirements:
  - kubernetes >= 24.2.0
notes:
  - Supports C(check_mode); it writes nothing then, and reports the bundle it would write as a change. The cluster
    is never changed.
  - One log read per selected container (the API has no bulk log read); everything else is one list per kind.
"""

EXAMPLES = r"""
- name: Bundle istiod, the gateways and the shop sidecars, the last hour, 2000 lines each
  istio_runbooks.mesh.support_bundle:
    dest: /tmp/istio-bundle.tar.gz
    namespaces: [shop]
    since_seconds: 3600
    tail_lines: 2000
  register: bundle

- name: Logs that could not be read
  ansible.builtin.debug:
    msg: "{{ bundle.index.unreadable_logs }}"
"""

RETURN = r"""
path:
  description: The tarball written (also in check mode, where nothing is written).
  returned: always
  type: str
index:
  description: What the bundle holds; C(logs) has each log with its file and line count, or C(reason) why not read.
  returned: always
  type: dict
  sample: {created: "2026-11-26T16:00:00Z", files: [index.json, logs/istio-system/istiod-1/discovery.log],
           logs: [{namespace: shop, pod: web-1, container: istio-proxy, role: app,
                   reason: "no istio-proxy container (pod not injected)"}],
           unreadable_logs: [], errors: []}
"""

import datetime
import json
import os

from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.bundle import (
    BundleError, build_index, collect, index_text, write_tarball)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import connect
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mesh_info import DynamicMeshApi


def log_reader(api_client):
    from kubernetes.client import CoreV1Api
    from kubernetes.client.rest import ApiException

    core = CoreV1Api(api_client)

    def read(namespace, pod, container, since_seconds, tail_lines):
        kwargs = dict((k, v) for k, v in (("since_seconds", since_seconds), ("tail_lines", tail_lines)) if v)
        try:
            return core.read_namespaced_pod_log(pod, namespace, container=container, _request_timeout=30, **kwargs)
        except ApiException as exc:
            try:
                message = json.loads(exc.body).get("message")
            except (TypeError, ValueError):
                message = exc.body or exc.reason
            raise Exception("HTTP %s: %s" % (exc.status, message))
    return read


def main():
    from ansible.module_utils.basic import AnsibleModule

    spec = dict(AUTH_ARG_SPEC)
    spec.update(
        dest=dict(type="path", required=True),
        istio_namespace=dict(type="str", default="istio-system"),
        namespaces=dict(type="list", elements="str", default=[]),
        label_selector=dict(type="str"),
        since_seconds=dict(type="int"),
        tail_lines=dict(type="int"),
        extra_files=dict(type="dict", default={}),
    )
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    if not module.check_mode and not os.path.isdir(os.path.dirname(p["dest"]) or "."):
        module.fail_json(msg="dest %s: its folder does not exist" % p["dest"])
    api = connect(module)
    try:
        found = collect(DynamicMeshApi(api.client), log_reader(api.client.client), p["istio_namespace"],
                        p["namespaces"], p["label_selector"], p["since_seconds"], p["tail_lines"], p["extra_files"])
    except BundleError as exc:
        module.fail_json(msg=str(exc))
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    settings = dict((k, p[k]) for k in ("istio_namespace", "namespaces", "label_selector", "since_seconds",
                                        "tail_lines"))
    files = found["files"]
    index = build_index(created, settings, list(files) + ["index.json", "index.txt"], found["logs"], found["errors"])
    files["index.json"] = json.dumps(index, indent=2, sort_keys=True)
    files["index.txt"] = index_text(index)
    if not module.check_mode:
        top = os.path.basename(p["dest"]).split(".tar")[0]
        write_tarball(p["dest"], top, files)
    # every run writes a new bundle, so a dry run reports the one it would write
    module.exit_json(changed=True, path=p["dest"], index=index)


if __name__ == "__main__":
    main()
