# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the mesh_gateways role (logic in module_utils/gateways.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import gateways


def gateways_workload_problems(items):
    """What is wrong with the gateway workloads (mesh_gateways_gateways), one message each."""
    return gateways.gateway_problems(items)


def gateways_listener_problems(listeners, items, api):
    """What is wrong with the listeners (mesh_gateways_listeners) for the output format, one message each."""
    return gateways.listener_problems(listeners, items, api)


def gateways_tls_secret_refs(listeners, items, api):
    """The TLS Secrets the listeners need, as {variable, namespace, name}."""
    return gateways.tls_secret_refs(listeners, items, api)


def gateways_missing_tls_secrets(refs, present):
    """Messages for the TLS Secrets that do not exist, naming the variable and the Secret."""
    return gateways.missing_tls_secrets(refs, present)


def gateways_listener_objects(listeners, items, api, service_type=''):
    """The listeners' objects: Istio Gateway and VirtualService, or Gateway API Gateway and HTTPRoute."""
    return gateways.listener_objects(listeners, items, api, service_type)


def gateways_pod_labels(item):
    """The labels of a gateway's pods (app, istio), as Istio's gateway chart sets them."""
    return gateways.gateway_labels(item)


def gateways_conditions(live):
    """Per Gateway API Gateway, its Accepted and Programmed state."""
    return gateways.gateway_conditions(live)


def gateways_stale_plan(labelled, wanted, namespaces):
    """Stale objects in the given namespaces to remove (and their copies to keep first); others left alone."""
    return gateways.stale_plan(labelled, wanted, namespaces)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            gateways_workload_problems,
            gateways_listener_problems,
            gateways_tls_secret_refs,
            gateways_missing_tls_secrets,
            gateways_listener_objects,
            gateways_pod_labels,
            gateways_conditions,
            gateways_stale_plan,
        ))
