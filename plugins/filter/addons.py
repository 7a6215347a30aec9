# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the observability_addons role (logic in module_utils/addons.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.istio_runbooks.mesh.plugins.module_utils import addons


def addons_unknown(names):
    """The names that are not addons this role knows."""
    return addons.unknown_addons(names)


def addons_invalid_images(images):
    """From a {variable: image reference} map, the entries that are not valid references."""
    return addons.invalid_images(images)


def addons_valid_retention(value):
    """A Prometheus retention time: one or more <number><unit>, units ms s m h d w y, above zero."""
    return addons.valid_retention(value)


def addons_image_tag(image):
    """The tag of an image reference ('' without one)."""
    return addons.image_tag(image)


def addons_kiali_compatibility(kiali_version, istio_version, table):
    """Whether a Kiali version suits an Istio version, per the role's table."""
    return addons.kiali_compatibility(kiali_version, istio_version, table)


def addons_rendered_objects(rendered, label='istio-runbooks.io/addon'):
    """The labelled objects of every addon's rendered manifest ({addon: multi-document YAML}), in a fixed order."""
    return addons.rendered_objects(rendered, label)


def addons_not_ready(objects, deployments, endpoint_slices):
    """The planned addons' Deployments not Available and Services without a ready endpoint, as messages."""
    return addons.not_ready(objects, deployments, endpoint_slices)


def addons_rbac_write_verbs(objects):
    """The write verbs the ClusterRoles and Roles among objects grant, as 'Kind/name: verb resource' strings."""
    return addons.rbac_write_verbs(objects)


def addons_image_ref(image, registry_override=''):
    """registry/repository:tag from an image dict, the registry replaced by registry_override when set."""
    return addons.image_ref(image, registry_override)


def addons_dashboard_problems(dashboards):
    """From a {file: JSON text} map, what is wrong with each Grafana dashboard: not JSON, no title, or no
    Prometheus datasource named (a datasource template variable or a panel datasource of type
    prometheus).
    """
    return addons.dashboard_problems(dashboards)


class FilterModule(object):
    def filters(self):
        return dict((f.__name__, f) for f in (
            addons_unknown,
            addons_invalid_images,
            addons_valid_retention,
            addons_image_tag,
            addons_kiali_compatibility,
            addons_rendered_objects,
            addons_not_ready,
            addons_rbac_write_verbs,
            addons_image_ref,
            addons_dashboard_problems,
        ))
