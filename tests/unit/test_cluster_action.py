"""The cluster modules' action: their run(module) on the controller, with the result a module process returns."""
from unittest import mock

import pytest

from ansible_collections.istio_runbooks.mesh.plugins.plugin_utils.cluster_action import (
    ClusterAction,
    ControllerModule,
    ModuleExit,
)

SPEC = {"name": {"type": "str", "required": True}, "api_key": {"type": "str", "no_log": True},
        "count": {"type": "int", "default": 3}}


def action(run, transport="local", become=False, environment=None, async_val=0, check_mode=False, diff=False):
    class Action(ClusterAction):
        MODULE = "istio_runbooks.mesh.example"
        ARGUMENT_SPEC = SPEC

        def run_module(self, module):
            run(module)

    task = mock.MagicMock(environment=environment, async_val=async_val)
    play_context = mock.MagicMock(become=become, check_mode=check_mode, diff=diff)
    return Action(task, mock.MagicMock(transport=transport), play_context, mock.MagicMock(), mock.MagicMock(),
                  mock.MagicMock())


def test_runs_on_the_controller_only_where_the_module_process_would_run_the_same():
    def noop(module):
        module.exit_json(changed=False)

    assert action(noop).runs_on_controller()
    assert action(noop, environment=[{}]).runs_on_controller(), "the environment Ansible gives a task without one"
    assert not action(noop, transport="ssh").runs_on_controller()
    assert not action(noop, become=True).runs_on_controller()
    assert not action(noop, environment=[{"K8S_AUTH_KUBECONFIG": "/k"}]).runs_on_controller()
    assert not action(noop, async_val=30).runs_on_controller()


def test_exit_and_fail_give_the_module_result_and_mask_no_log_values():
    def fails(module):
        try:
            module.fail_json(msg="token %s refused" % module.params["api_key"], count=module.params["count"])
        except Exception:  # a module's own broad handler must not catch the exit, as with AnsibleModule
            raise AssertionError("caught")

    result = action(fails).run_local({"name": "a", "api_key": "s3cr3t-token", "count": 3})
    assert result == {"failed": True, "msg": "token ******** refused", "count": 3}

    def checks(module):
        module.exit_json(changed=False, check_mode=module.check_mode, diff=module._diff)

    assert action(checks, check_mode=True, diff=True).run_local({"name": "a"}) == {
        "changed": False, "check_mode": True, "diff": True}


def test_results_are_plain_json_values():
    import datetime

    def dated(module):
        module.exit_json(changed=True, when=datetime.date(2026, 1, 2), items=("a", "b"))

    assert action(dated).run_local({"name": "a"}) == {"changed": True, "when": "2026-01-02", "items": ["a", "b"]}


def test_module_exit_is_not_an_exception_a_module_catches():
    with pytest.raises(ModuleExit) as raised:
        ControllerModule({}, False, False).exit_json(changed=False)
    assert not isinstance(raised.value, Exception) and raised.value.result == {"changed": False}


@pytest.mark.parametrize("async_val, wrap_async", [(30, True), (0, False)])
def test_async_or_become_runs_the_module_process(async_val, wrap_async):
    def never(module):
        raise AssertionError("ran on the controller")

    act = action(never, async_val=async_val, become=not async_val)
    act._connection.has_native_async = False
    act._task.args = {"name": "a"}
    act._execute_module = mock.MagicMock(return_value={"changed": False, "from": "module"})
    act._remove_tmp_path = mock.MagicMock()
    with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}):
        assert act.run(task_vars={}) == {"changed": False, "from": "module"}
    assert act._execute_module.call_args.kwargs["wrap_async"] == wrap_async
    assert act._remove_tmp_path.called is not wrap_async


def test_an_option_given_with_its_alias_runs_the_module_process_which_warns():
    def never(module):
        raise AssertionError("ran on the controller")

    act = action(never)
    act._task.args = {"name": "a"}
    act._task.async_val = 0
    act._connection.has_native_async = False
    act.validate_argument_spec = mock.MagicMock(return_value=(mock.MagicMock(_warnings=[{"option": "x", "alias": "y"}],
                                                                              _deprecations=[]), {"name": "a"}))
    act._execute_module = mock.MagicMock(return_value={"changed": False})
    act._remove_tmp_path = mock.MagicMock()
    with mock.patch("ansible.plugins.action.ActionBase.run", return_value={}):
        assert act.run(task_vars={}) == {"changed": False}


def test_each_cluster_module_action_runs_that_module():
    import importlib

    for name in ("mesh_info", "apply_objects", "injection_status", "rollout_restart"):
        action_class = importlib.import_module("ansible_collections.istio_runbooks.mesh.plugins.action." + name).ActionModule
        module = importlib.import_module("ansible_collections.istio_runbooks.mesh.plugins.modules." + name)
        assert issubclass(action_class, ClusterAction) and action_class.MODULE == "istio_runbooks.mesh." + name
        assert action_class.ARGUMENT_SPEC is module.ARGUMENT_SPEC
