# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for Istio manifests and control-plane objects (logic in module_utils/manifest.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.manifest import (
    applied_configuration,
    backup_differences,
    clean_for_backup,
    dump_manifest,
    gateway_objects,
    gateway_problems,
    injection_labels,
    istiod_revision_summary,
    kind_summary,
    object_ref_dict,
    object_refs,
    objects_in,
    objects_not_in,
    revision_objects,
    revision_tags,
    split_manifest,
    strip_generated_fields,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import backup
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.injection import (
    batch_without_opt_out,
    invalid_namespace_names,
    namespace_label_patches,
    pod_line,
)
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import pods_on_revision
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import mtls
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.teardown import required_access
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import addons


class FilterModule(object):
    def filters(self):
        return {
            "manifest_objects": split_manifest,
            "addons_unknown": addons.unknown_addons,
            "addons_invalid_images": addons.invalid_images,
            "addons_valid_retention": addons.valid_retention,
            "addons_image_tag": addons.image_tag,
            "addons_kiali_compatibility": addons.kiali_compatibility,
            "addons_labelled": addons.with_addon_label,
            "addons_rbac_write_verbs": addons.rbac_write_verbs,
            "addons_image_ref": addons.image_ref,
            "addons_dashboard_problems": addons.dashboard_problems,
            "addons_services_without_endpoints": addons.services_without_endpoints,
            "batch_without_opt_out": batch_without_opt_out,
            "invalid_namespace_names": invalid_namespace_names,
            "namespace_label_patches": namespace_label_patches,
            "gateway_objects": gateway_objects,
            "gateway_problems": gateway_problems,
            "applied_configuration": applied_configuration,
            "pod_line": pod_line,
            "pods_on_revision": pods_on_revision,
            "mtls_desired_policy": mtls.desired_policy,
            "mtls_policy_differs": mtls.policy_differs,
            "mtls_strict_evidence": mtls.strict_evidence,
            "mtls_dr_conflicts": mtls.destination_rule_conflicts,
            "mtls_fixed_dr": mtls.fixed_destination_rule,
            "mtls_fixed_drs": mtls.fixed_destination_rules,
            "mtls_keep_foreign_metadata": mtls.keep_foreign_metadata,
            "mtls_planned_policies": mtls.planned_policies,
            "mtls_may_become_strict": mtls.may_become_strict,
            "mtls_gate_findings": mtls.gate_findings,
            "mtls_gate_verdict": mtls.gate_verdict,
            "mtls_prometheus_query": mtls.prometheus_query,
            "mtls_prometheus_evidence": mtls.prometheus_evidence,
            "mtls_valid_window": mtls.valid_prometheus_window,
            "mtls_revert_plan": mtls.revert_plan,
            "with_resource_versions": mtls.with_resource_versions,
            "mtls_workloads": mtls.workloads_for_report,
            "mtls_effective_table": mtls.effective_table,
            "mtls_format_table": mtls.format_table,
            "clean_for_backup": clean_for_backup,
            "backup_differences": backup_differences,
            "to_manifest": dump_manifest,
            "injection_labels": injection_labels,
            "kind_summary": kind_summary,
            "istiod_revision_summary": istiod_revision_summary,
            "objects_not_in": objects_not_in,
            "objects_in": objects_in,
            "object_refs": object_refs,
            "object_ref_dict": object_ref_dict,
            "revision_objects": revision_objects,
            "revision_tags": revision_tags,
            "strip_generated_fields": strip_generated_fields,
            "istio_kinds": backup.istio_kinds,
            "kinds_of": backup.kinds_of,
            "secrets_for_backup": backup.secrets_for_backup,
            "secret_names": backup.secret_names,
            "secret_writes": backup.secret_writes,
            "secret_differences": backup.secret_differences,
            "backup_namespace_label_patches": backup.namespace_label_patches,
            "namespace_label_differences": backup.namespace_label_differences,
            "missing_namespaces": backup.missing_namespaces,
            "teardown_required_access": required_access,
        }
