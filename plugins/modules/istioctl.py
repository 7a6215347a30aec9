#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: istioctl
short_description: Run a read-only istioctl command (version, analyze, precheck, tag generate, proxy-status)
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Runs one istioctl command that reads the cluster (or nothing) and writes nothing to it or to the proxies, and
    returns its exit code, standard output and standard error.
  - Refuses, before running anything, any other command, such as C(install), C(uninstall), C(tag set) or
    C(proxy-config log). The commands it runs are C(version), C(analyze), C(proxy-status), C(proxy-config) with
    C(all), C(bootstrap), C(cluster), C(ecds), C(endpoint), C(listener), C(rootca-compare), C(route) or
    C(secret), C(manifest generate), C(tag generate), C(tag list), C(x precheck), C(precheck) and C(x describe),
    named first in O(args), before any flag.
  - With a C(local) connection (the runbooks' inventories), its action plugin runs istioctl from the controller
    process without starting a module process; on other connections the module runs on the target.
  - It never reports a change, and runs in check mode too.
options:
  istioctl:
    description: Path of the istioctl binary.
    type: path
    required: true
  args:
    description:
      - istioctl's arguments, the command first, each a list item (no shell).
      - Give the cluster with C(--kubeconfig) and C(--context) where the command reads it.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds istioctl may run before it is stopped and the task fails; 0 waits without a limit.
    type: int
    default: 0
attributes:
  check_mode:
    support: full
    description: Runs in check mode as well; the commands write nothing.
  diff_mode:
    support: none
    description: Nothing changes, so there is nothing to show.
notes:
  - The task fails when istioctl exits non-zero or cannot start (RV(rc) is then null, and C(msg) says why); use
    C(failed_when) to judge the exit code yourself.
  - C(manifest generate -o <folder>) writes files on the host it runs on; the cluster is untouched.
seealso:
  - module: istio_runbooks.mesh.proxy_status
"""

EXAMPLES = r"""
- name: Ask istioctl for its version
  istio_runbooks.mesh.istioctl:
    istioctl: /opt/istio/bin/istioctl
    args: [version, --remote=false, -o, json]
  register: istioctl_version

- name: Render the revision tag "prod-stable" for revision 1-27-3
  istio_runbooks.mesh.istioctl:
    istioctl: /opt/istio/bin/istioctl
    args: [tag, generate, prod-stable, --revision, 1-27-3, --overwrite, --kubeconfig, /etc/mesh/kubeconfig]
  register: tag_manifest

- name: Precheck, judging the exit code in the next task
  istio_runbooks.mesh.istioctl:
    istioctl: /opt/istio/bin/istioctl
    args: [x, precheck, -i, istio-system]
  register: precheck
  failed_when: false
"""

RETURN = r"""
cmd:
  description: The command that ran, as a list.
  returned: always
  type: list
  elements: str
  sample: [/opt/istio/bin/istioctl, version, --remote=false, -o, json]
rc:
  description: istioctl's exit code; null when it did not start or was stopped.
  returned: always
  type: int
  sample: 0
stdout:
  description: istioctl's standard output.
  returned: always
  type: str
  sample: '{"clientVersion": {"version": "1.27.3"}}'
stdout_lines:
  description: The standard output, line by line.
  returned: when istioctl ran to the end
  type: list
  elements: str
  sample: ['{"clientVersion": {"version": "1.27.3"}}']
stderr:
  description: istioctl's standard error.
  returned: always
  type: str
  sample: ""
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.istioctl import run_read_only

ARGUMENT_SPEC = dict(
    istioctl=dict(type="path", required=True),
    args=dict(type="list", elements="str", required=True),
    timeout=dict(type="int", default=0),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    result = run_read_only(module.params["istioctl"], module.params["args"], module.params["timeout"])
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
