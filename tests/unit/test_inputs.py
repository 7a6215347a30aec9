"""Shape checks of free-form role inputs by kind of value."""
import pytest

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.inputs import problem, problems

GOOD = [
    ("dns_label", "reviews-v2"), ("dns_subdomain", "fast.ssd"), ("name", "otel-tracing"),
    ("field_manager", "istio-runbooks-traffic"), ("identifier", "mtls_policy_snapshot"),
    ("host_port", "istiod.istio-system.svc:15017"), ("host_port", "127.0.0.1:15017"),
    ("registry", "registry.example.com:5000/mirror"), ("quantity", "10Gi"), ("quantity", "1.5G"),
    ("duration", "15d"), ("duration", "1h30m"), ("promql", 'sum(rate(x{a="(b"}[1m]))'), ("command", "true --flag"),
    ("dns_label?", ""), ("host_port?", None), ("minor_version", "1.34"), ("analyzer_code", "IST0139"), ("kind", "PeerAuthentication"),
    ("selector", "app=reviews,version in (v1,v2)"),
]
BAD = [
    ("dns_label", "default; rm -rf /"), ("dns_label", "Reviews"), ("dns_subdomain", "{{ lookup('pipe','id') }}"),
    ("name", "otel tracing"), ("field_manager", ""), ("field_manager", "x" * 129), ("identifier", "a-b"),
    ("host_port", "istiod.istio-system.svc"), ("host_port", "istiod:99999"), ("host_port", "istiod:0"),
    ("registry", "default; rm -rf /"), ("quantity", "ten gigabytes"), ("quantity", "0Gi"), ("duration", "0s"),
    ("duration", "fifteen seconds"), ("promql", "sum(rate(x[1m])"), ("promql", "{{ lookup('pipe','id') }}"),
    ("promql", 'x{a="b}'), ("command", "/nonexistent/check; rm -rf /"), ("command", ""), ("command", "'unclosed"),
    ("dns_label", ""), ("minor_version", "1.34; rm -rf /"), ("analyzer_code", "{{ lookup('pipe','id') }}"),
    ("selector", "default; rm -rf /"), ("kind", ""), ("kind", None),
]


@pytest.mark.parametrize("kind,value", GOOD)
def test_good_values_pass(kind, value):
    assert problem("v", kind, value) == ""


@pytest.mark.parametrize("kind,value", BAD)
def test_bad_values_name_the_variable_and_the_fix(kind, value):
    message = problem("my_role_option", kind, value)
    assert message.startswith("my_role_option")
    assert ": give " in message or "program" in message or "does not parse" in message


def test_list_values_name_every_bad_element():
    assert problem("x_addons", "dns_label", ["kiali", "grafana"]) == ""
    message = problem("x_addons", "dns_label", ["kiali", "default; rm -rf /", ""])
    assert message.startswith("x_addons has 'default; rm -rf /', '': give a lowercase DNS label")


def test_problems_keeps_only_the_bad_ones_in_order():
    assert problems([["a", "dns_label", "ok"], ["b", "duration", "0s"], ["c", "quantity", "x"]]) == [
        problem("b", "duration", "0s"), problem("c", "quantity", "x")]
