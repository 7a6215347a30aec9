# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for traffic management and authorization (logic in module_utils/traffic.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import egress, traffic


def traffic_validate(services, overrides=None):
    """Every problem in the services' variables, as messages naming the variable and the fix."""
    return traffic.validate_services(services, overrides)


def traffic_validate_gateway_rate_limit(limit):
    """Problems with the gateway local rate limit settings, naming the variable."""
    return traffic.validate_gateway_rate_limit(limit)


def traffic_validate_canary(services, service, stable, canary, steps):
    """Problems with a canary request (service, stable and canary subsets, weight steps), naming the variable."""
    return traffic.validate_canary(services, service, stable, canary, steps)


def traffic_objects(services, namespace, overrides=None, gateway_rate_limit=None, now=None):
    """Every object for the services, in apply order: DestinationRules (subsets first), VirtualServices,
    rate limit EnvoyFilters.
    """
    return traffic.traffic_objects(services, namespace, overrides, gateway_rate_limit, now)


def traffic_canary_weights(stable, canary, percent):
    """The route of one canary step: percent to the canary, the rest to the stable subset."""
    return traffic.canary_weights(stable, canary, percent)


def traffic_expired_faults(virtual_services, now=None):
    """Live VirtualServices whose fault expiry has passed, as copies without their fault routes (the
    default and match routes stay), ready for a full replace.
    """
    return traffic.expired_faults(virtual_services, now)


def traffic_snapshot(desired, live):
    """A snapshot: every object the batch names (touched), and the live state of those that exist."""
    return traffic.snapshot_document(desired, live)


def traffic_snapshot_lists(snapshot):
    """The (apiVersion, kind, namespace) lists a revert reads: one per kind and namespace the snapshot names."""
    return traffic.snapshot_lists(snapshot)


def traffic_revert_plan(snapshot, live):
    """{delete, put}: objects the snapshot names but did not hold are deleted; held ones that differ now
    (spec, labels or annotations), or are gone, are put back exactly.
    """
    return traffic.revert_plan(snapshot, live)


def authorization_objects(namespace, deny_by_default=True, rules=None, dry_run=False):
    """A namespace's deny-by-default baseline (an ALLOW policy with no rules: it allows nothing) and one
    ALLOW policy per rule, from source principals and namespaces to methods and paths.
    """
    return traffic.authorization_objects(namespace, deny_by_default, rules, dry_run)


def authorization_validate(rules):
    """Problems with the authorization rules, naming the variable and the fix."""
    return traffic.validate_authorization(rules)


def traffic_stale_managed(desired, live):
    """Live objects this tool manages, of the desired kinds, that the desired objects no longer name."""
    return traffic.stale_managed(desired, live)


def traffic_egress_validate(services, gateway):
    """Problems with the egress variables (hosts, ports, resolution, the egress gateway), naming the variable."""
    return egress.validate(services, gateway)


def traffic_egress_objects(services, namespace, gateway):
    """ServiceEntries, and for services routed through the egress gateway its DestinationRule, Gateways and
    VirtualServices (Istio's Egress Gateways task).
    """
    return egress.egress_objects(services, namespace, gateway)


def traffic_egress_query(window):
    """The PromQL of the external hosts the sidecars passed through (PassthroughCluster) over window."""
    return egress.PASSTHROUGH_QUERY % window


def traffic_egress_hosts_in_use(prometheus_result):
    """[{host, sources, count}] from that query's result."""
    return egress.hosts_in_use(prometheus_result)


def traffic_egress_report(in_use, service_entries, desired=None):
    """Which external hosts in use a ServiceEntry covers: {in_use, uncovered, declared, lines}."""
    return egress.registry_only_report(in_use, service_entries, desired)


def traffic_egress_stale(desired, live):
    """Live objects labelled istio-runbooks.io/egress that the desired egress objects no longer name."""
    return egress.stale(desired, live)


def traffic_second_rules(desired, live):
    """Messages for live DestinationRules that target the host of a desired one under another name."""
    return traffic.second_rules(desired, live)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            traffic_validate,
            traffic_stale_managed,
            traffic_validate_gateway_rate_limit,
            traffic_validate_canary,
            traffic_objects,
            traffic_canary_weights,
            traffic_expired_faults,
            traffic_snapshot,
            traffic_snapshot_lists,
            traffic_revert_plan,
            authorization_objects,
            authorization_validate,
            traffic_egress_validate,
            traffic_egress_objects,
            traffic_egress_query,
            traffic_egress_hosts_in_use,
            traffic_egress_report,
            traffic_egress_stale,
            traffic_second_rules,
        ))
