# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for mTLS policy changes: effective modes, the STRICT gate, DestinationRule conflicts and reverts
(logic in module_utils/mtls.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import mtls
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.mtls import with_resource_versions


def mtls_desired_policy(name, namespace, mode, selector=None, port_modes=None):
    """The PeerAuthentication a change asks for."""
    return mtls.desired_policy(name, namespace, mode, selector, port_modes)


def mtls_policy_differs(desired, live_policies):
    """True when the live policy of that name is missing or has another spec."""
    return mtls.policy_differs(desired, live_policies)


def mtls_dr_conflicts(destination_rules, policies, root_namespace="istio-system", domains=("cluster.local",)):
    """DestinationRules whose client TLS disagrees with the server's effective mode (IST0113)."""
    return mtls.destination_rule_conflicts(destination_rules, policies, root_namespace, domains)


def mtls_fixed_drs(destination_rules, conflicts):
    """The conflicting DestinationRules, each with its TLS settings set to ISTIO_MUTUAL."""
    return mtls.fixed_destination_rules(destination_rules, conflicts)


def mtls_keep_foreign_metadata(desired, live_policies):
    """A copy of the desired policy carrying the metadata other tools own on the live one."""
    return mtls.keep_foreign_metadata(desired, live_policies)


def mtls_planned_policies(live, action, desired=None, snapshot=None):
    """The PeerAuthentications in force after the change."""
    return mtls.planned_policies(live, action, desired, snapshot)


def mtls_may_become_strict(after):
    """False when no policy left after the change says STRICT."""
    return mtls.may_become_strict(after)


def mtls_gate_findings(pods, services, statefulsets, before, after, root_namespace="istio-system", skip_namespaces=()):
    """The safety gate's evidence against STRICT, for what becomes effectively STRICT."""
    return mtls.gate_findings(pods, services, statefulsets, before, after, root_namespace, skip_namespaces)


def mtls_gate_verdict(evidence, force, fallback_mode, desired, live, action="apply", scope="mesh"):
    """What the gate decides, with its message."""
    return mtls.gate_verdict(evidence, force, fallback_mode, desired, live, action, scope)


def mtls_prometheus_query(namespaces, window):
    """PromQL for plaintext requests to workloads in the namespaces over the window."""
    return mtls.prometheus_query(namespaces, window)


def mtls_prometheus_evidence(response, url):
    """Evidence from the answer of Prometheus's query API."""
    return mtls.prometheus_evidence(response, url)


def mtls_valid_window(window):
    """True for a Prometheus range duration such as 1h, 90m or 1h30m."""
    return mtls.valid_prometheus_window(window)


def mtls_revert_plan(snapshot, live):
    """What makes live match the snapshot: objects to delete and objects to put back."""
    return mtls.revert_plan(snapshot, live)


def mtls_workloads(objects, policies):
    """Workloads with their labels and ports, for the effective-mode table."""
    return mtls.workloads_for_report(objects, policies)


def mtls_effective_table(policies, workloads, root_namespace="istio-system"):
    """Rows of the effective mode per workload and port, with the deciding policy."""
    return mtls.effective_table(policies, workloads, root_namespace)


def mtls_format_table(rows):
    """The effective-mode rows as aligned text lines."""
    return mtls.format_table(rows)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            mtls_desired_policy, mtls_policy_differs, mtls_dr_conflicts,
            mtls_fixed_drs, mtls_keep_foreign_metadata, mtls_planned_policies,
            mtls_may_become_strict, mtls_gate_findings, mtls_gate_verdict, mtls_prometheus_query,
            mtls_prometheus_evidence, mtls_valid_window, mtls_revert_plan, with_resource_versions,
            mtls_workloads, mtls_effective_table, mtls_format_table))
