# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection for this collection's modules, from kubernetes.core's shared auth options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def connect(module):
    """A KubeApi for the cluster the module's auth options (or K8S_AUTH_* variables) name.

    Fails the module with a message naming the fix when the cluster cannot be reached.
    """
    from ansible_collections.kubernetes.core.plugins.module_utils.args_common import AUTH_ARG_SPEC
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.rollout import ApiCallError, KubeApi

    auth = dict((key, module.params.get(key)) for key in AUTH_ARG_SPEC)
    try:
        client = get_api_client(module=None, **auth)
        api = KubeApi(client.client)
        api.list("Namespace", None, "kubernetes.io/metadata.name=default")
    except ApiCallError as exc:
        if exc.status != 403:  # forbidden still proves the API answers and knows the user (namespace-scoped RBAC)
            module.fail_json(msg="Cannot reach the Kubernetes API: %s. Check that the API server is up and that "
                                 "kubeconfig and context are right." % exc)
    except CoreException as exc:
        module.fail_json(msg="Cannot build a Kubernetes client: %s. Check kubeconfig and context." % exc)
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Cannot reach the Kubernetes API: %s. Check that the API server is up and that "
                             "kubeconfig and context are right." % exc)
    return api
