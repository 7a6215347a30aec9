"""Change tickets: the change_id check, annotations, and redaction for the evidence report."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils import change


def test_a_well_formed_ticket_passes_and_none_is_fine_unless_required():
    assert change.ticket_problems("CHG0012345", "https://change.example.com/CHG0012345") == []
    assert change.ticket_problems("") == []
    [problem] = change.ticket_problems("", required=True)
    assert "change_id is required" in problem and "^CHG[0-9]{7}$" in problem


def test_a_malformed_ticket_names_the_variable_and_the_pattern():
    [problem] = change.ticket_problems("CHG12", required=True)
    assert "change_id 'CHG12'" in problem and "^CHG[0-9]{7}$" in problem and "change_ticket_id" in problem
    assert change.ticket_problems("INC0000001", pattern="^(CHG|INC)[0-9]{7}$") == []


def test_bad_url_pattern_runbook_and_prefix_are_named():
    assert "change_url" in change.ticket_problems("", "javascript:alert(1)")[0]
    assert "change_ticket_pattern" in change.ticket_problems("CHG0012345", pattern="^CHG[0-9")[0]
    assert "not anchored" in change.ticket_problems("CHG0012345", pattern="CHG")[0]
    assert "change_ticket_runbook" in change.ticket_problems("", runbook="install; rm -rf /")[0]
    assert "change_ticket_annotation_prefix" in change.ticket_problems("", prefix="Istio Runbooks!")[0]


def test_annotations_leave_out_empty_values_and_are_added_to_copies():
    annotations = change.ticket_annotations("CHG0012345", "", "install", "2026-11-26T10:00:00Z")
    assert annotations == {"istio-runbooks.io/change-id": "CHG0012345", "istio-runbooks.io/runbook": "install",
                           "istio-runbooks.io/changed-at": "2026-11-26T10:00:00Z"}
    obj = {"kind": "Namespace", "metadata": {"name": "shop", "annotations": {"team": "a"}}}
    [done] = change.annotated([obj], annotations)
    assert done["metadata"]["annotations"]["team"] == "a" and done["metadata"]["annotations"]["istio-runbooks.io/change-id"]
    assert obj["metadata"]["annotations"] == {"team": "a"}, "the input is not changed"
    assert change.plain_annotations(done["metadata"]) == {"team": "a"}
    assert change.without_ticket_annotations(done) == obj


def test_redact_hides_secret_keys_kubeconfig_content_pem_and_secret_data():
    kubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    token: abc\n"
    found = change.redact({"mesh_cluster_kubeconfig": "/home/me/.kube/config", "api_token": "abc",
                           "inline": kubeconfig, "istio_install_profile": "demo", "flag": True,
                           "nested": [{"password": "p"}, {"cert": "-----BEGIN CERTIFICATE-----\nx"}],
                           "object": {"kind": "Secret", "metadata": {"name": "s"}, "data": {"tls.key": "eA=="}}})
    assert found["mesh_cluster_kubeconfig"] == "/home/me/.kube/config"
    assert found["api_token"] == found["inline"] == change.REDACTED
    assert found["istio_install_profile"] == "demo" and found["flag"] is True
    assert found["nested"] == [{"password": change.REDACTED}, {"cert": change.REDACTED}]
    assert found["object"]["data"] == change.REDACTED and found["object"]["metadata"] == {"name": "s"}
