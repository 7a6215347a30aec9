#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: local_files
short_description: Write text files (plans, reports) where their content or mode differs
version_added: "0.1.0"
author:
  - istio-runbooks contributors (@istio-runbooks)
description:
  - Writes several text files in one task, each atomically and only when its content or mode differs; creates
    missing parent folders.
  - With a C(local) connection (the runbooks' inventories), its action plugin writes them on the controller
    without starting a module process; on other connections the module runs on the target.
options:
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The file's path.
        type: path
        required: true
      content:
        description: The file's text.
        type: str
        required: true
      mode:
        description: The file's mode, in octal.
        type: str
        default: "0640"
  directory_mode:
    description: The mode, in octal, of the parent folders it creates.
    type: str
    default: "0750"
attributes:
  check_mode:
    support: full
    description: In check mode it reports what would change and writes nothing.
  diff_mode:
    support: full
    description: Shows each changed file's text before and after (its size only, above 64 KiB).
notes:
  - Never use it for secrets; the text may appear in a diff.
"""

EXAMPLES = r"""
- name: Save the plan and the operator file
  istio_runbooks.mesh.local_files:
    files:
      - {path: /var/lib/mesh/artifacts/plan.yaml, content: "{{ objects | istio_runbooks.mesh.to_manifest }}"}
      - {path: /var/lib/mesh/artifacts/operator.yaml, content: "{{ operator_text }}", mode: "0600"}
  changed_when: false
"""

RETURN = r"""
files:
  description: Each file with whether it was (or, in check mode, would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{path: /var/lib/mesh/artifacts/plan.yaml, changed: true, size: 1048576}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.local_files import LocalFilesError, write_files

ARGUMENT_SPEC = dict(
    files=dict(type="list", elements="dict", required=True, options=dict(
        path=dict(type="path", required=True), content=dict(type="str", required=True),
        mode=dict(type="str", default="0640"))),
    directory_mode=dict(type="str", default="0750"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = write_files(module.params["files"], module.params["directory_mode"], module.check_mode,
                             module._diff)
    except (LocalFilesError, IOError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
