"""Batch apply: what counts as a difference, and that a batch with nothing to change writes nothing."""
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import (BatchApplier, change_record,
                                                                                  differences, for_diff, parse_quantity)


def test_quantities_compare_by_value():
    assert parse_quantity("2000m") == parse_quantity("2") == parse_quantity(2)
    assert parse_quantity("1024Mi") == parse_quantity("1Gi")
    assert parse_quantity("1e3") == parse_quantity("1k")
    assert parse_quantity("abc") is None and parse_quantity(True) is None


def test_only_what_desired_states_counts():
    live = {"metadata": {"name": "a", "resourceVersion": "7", "labels": {"x": "1", "added": "by-server"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "c", "env": [{"name": "E"}], "resources": {"limits": {"cpu": "2", "memory": "1Gi"}},
                 "ports": [{"containerPort": 8080}], "imagePullPolicy": "IfNotPresent"}]}}}}
    desired = {"metadata": {"name": "a", "labels": {"x": "1"}, "annotations": None},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "c", "env": [{"name": "E", "value": ""}],
                    "resources": {"limits": {"cpu": "2000m", "memory": "1024Mi"}},
                    "ports": [{"containerPort": "8080"}]}]}}}}
    assert differences(desired, live) == []
    # istioctl prints an unset targetPort as 0; the server defaults it to the port
    assert differences({"spec": {"ports": [{"port": 15010, "targetPort": 0}]}},
                       {"spec": {"ports": [{"port": 15010, "targetPort": 15010}]}}) == []


def test_real_differences_are_named_by_path():
    live = {"spec": {"replicas": 1, "ports": [{"port": 80}], "limits": {"cpu": "1"}}}
    assert differences({"spec": {"replicas": 2}}, live) == [".spec.replicas"]
    assert differences({"spec": {"ports": [{"port": 80}, {"port": 443}]}}, live) == [".spec.ports"]
    assert differences({"spec": {"limits": {"cpu": "2"}}}, live) == [".spec.limits.cpu"]
    assert differences({"metadata": {"labels": {"x": "1"}}}, {"metadata": {}}) == [".metadata.labels"]
    # "1" is not a quantity outside resource fields: a string flag is compared as text
    assert differences({"data": {"flag": "1000m"}}, {"data": {"flag": "1"}}) == [".data.flag"]


class FakeResource(object):
    def __init__(self, kind, namespaced, store, calls):
        self.kind, self.namespaced, self.group_version = kind, namespaced, "v1"
        self.store, self.calls = store, calls

    def get(self, namespace=None, serializer=None):
        self.calls.append(("list", self.kind, namespace))
        items = [o for o in self.store if o["kind"] == self.kind
                 and (not self.namespaced or o["metadata"].get("namespace") == namespace)]
        return type("R", (), {"to_dict": lambda _self: {"items": items}})()

    def patch(self, body, name, namespace, content_type, dry_run, field_manager=None, serializer=None):
        self.calls.append(("patch", self.kind, name, content_type, dry_run))
        return body

    def server_side_apply(self, body, name, namespace, field_manager, force_conflicts, dry_run):
        self.calls.append(("apply", self.kind, name, dry_run))
        return type("R", (), {"to_dict": lambda _self: body})()


class FakeClient(object):
    def __init__(self, store):
        self.calls, self.store = [], store
        self.resources = self

    def get(self, api_version, kind):
        if kind == "Unknown":
            raise LookupError(kind)
        return FakeResource(kind, kind != "Namespace", self.store, self.calls)


def _cm(name, value, namespace="ns"):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"v": value}}


def test_nothing_to_change_writes_nothing_and_lists_once_per_kind_and_namespace():
    live = [_cm("a", "1"), _cm("b", "2"), {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}]
    client = FakeClient(live)
    results, failure = BatchApplier(client).apply([live[2], _cm("a", "1"), _cm("b", "2")])
    assert failure is None and [r["action"] for r in results] == ["none", "none", "none"]
    assert [c for c in client.calls if c[0] == "apply"] == []
    assert client.calls == [("list", "Namespace", None), ("list", "ConfigMap", "ns")]


def test_only_differing_objects_are_applied_and_check_mode_is_a_dry_run():
    client = FakeClient([_cm("a", "1")])
    results, failure = BatchApplier(client, check_mode=True).apply([_cm("a", "changed"), _cm("new", "1")])
    assert failure is None
    assert [(r["action"], r["paths"]) for r in results] == [("update", [".data.v"]), ("create", [])]
    assert [c for c in client.calls if c[0] == "apply"] == [("apply", "ConfigMap", "a", "All"),
                                                            ("apply", "ConfigMap", "new", "All")]


def test_dry_run_skips_objects_in_a_namespace_the_batch_creates():
    client = FakeClient([])
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fresh"}}
    results, failure = BatchApplier(client, check_mode=True).apply([namespace, _cm("a", "1", "fresh"),
                                                                    {"apiVersion": "x/v1", "kind": "Unknown",
                                                                     "metadata": {"name": "u"}}])
    assert failure is None and [r["action"] for r in results] == ["create", "create", "create"]
    assert [c[2] for c in client.calls if c[0] == "apply"] == ["fresh"], "only the namespace can be dry-run"


def test_a_failed_apply_names_the_object_and_stops():
    client = FakeClient([])

    def deny(**_kwargs):
        raise RuntimeError("admission webhook denied the request")
    original = client.get
    client.get = lambda api_version, kind: type("R", (FakeResource,), {"server_side_apply": lambda s, **k: deny()})(
        kind, True, client.store, client.calls) if kind == "ConfigMap" else original(api_version, kind)
    results, failure = BatchApplier(client).apply([_cm("a", "1"), _cm("b", "1")])
    assert failure["ref"] == "ns/ConfigMap/a" and "denied" in failure["reason"] and results == []


def _slow_client(fail=()):
    import threading
    import time
    client = FakeClient([])
    state = {"running": 0, "peak": 0}
    lock = threading.Lock()

    def slow_apply(resource, body, name, **_kwargs):
        with lock:
            state["running"] += 1
            state["peak"] = max(state["peak"], state["running"])
        time.sleep(0.02)
        with lock:
            state["running"] -= 1
        if name in fail:
            raise RuntimeError("denied " + name)
        client.calls.append(("apply", resource.kind, name))
        return type("R", (), {"to_dict": lambda _self: body})()
    original = client.get
    client.get = lambda api_version, kind: type("R", (FakeResource,), {"server_side_apply": slow_apply})(
        kind, kind != "Namespace", client.store, client.calls) if kind == "ConfigMap" else original(api_version, kind)
    return client, state


def test_objects_of_one_kind_are_written_concurrently_in_order():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import WRITERS, write_groups

    client, state = _slow_client()
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}}
    definitions = [_cm("c%d" % i, "1") for i in range(12)] + [secret]
    assert [len(g) for g in write_groups([{"object": d} for d in definitions])] == [12, 1]
    results, failure = BatchApplier(client).apply(definitions)
    assert failure is None and 1 < state["peak"] <= WRITERS
    assert [r["ref"] for r in results] == ["ns/ConfigMap/c%d" % i for i in range(12)] + ["ns/Secret/s"], "in order"


def test_after_a_failure_no_further_write_is_sent_and_every_failure_is_reported():
    client, _ = _slow_client(fail=("c0", "c1"))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}}
    definitions = [_cm("c%d" % i, "1") for i in range(40)] + [secret]
    results, failure = BatchApplier(client).apply(definitions)
    assert failure["ref"] == "ns/ConfigMap/c0" and [f["ref"] for f in failure["others"]] == ["ns/ConfigMap/c1"]
    written = [c[2] for c in client.calls if c[0] == "apply"]
    assert [r["ref"] for r in results] == ["ns/ConfigMap/%s" % n for n in sorted(written, key=lambda n: int(n[1:]))]
    assert len(written) < 38, "the writes queued behind the failure are not sent: %s" % written
    assert "s" not in written, "nothing after the run is written"


def test_objects_of_a_kind_the_batch_creates_are_written_one_by_one():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import write_groups
    items = [{"object": {"apiVersion": "x/v1", "kind": "Unknown"}, "unknown_kind": True} for _ in range(3)]
    assert [len(g) for g in write_groups(items)] == [1, 1, 1]


def _crd(name):
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": {"name": name}}


def _crd_client(established_after):
    """The first CRD list (the plan's) is empty; the polls after it report Established from the
    established_after-th on (None: never)."""
    client = FakeClient([])
    lists = [0]

    def crd_get(_resource, namespace=None, serializer=None):
        lists[0] += 1
        client.calls.append(("list", "CustomResourceDefinition", None))
        done = established_after is not None and lists[0] > established_after
        items = [] if lists[0] == 1 else [dict(_crd(n), status={"conditions": [{"type": "Established", "status": "True" if done else "False"}]})
                 for n in ("a.x.io", "b.x.io")]
        return type("R", (), {"to_dict": lambda _self: {"items": items}})()
    original = client.get
    client.get = lambda api_version, kind: type("R", (FakeResource,), {"get": crd_get})(
        kind, False, client.store, client.calls) if kind == "CustomResourceDefinition" else original(api_version, kind)
    return client


class _Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_written_crds_are_waited_for_until_established_before_the_objects_after_them():
    client = _crd_client(established_after=3)
    clock = _Clock()
    results, failure = BatchApplier(client, wait_established=60, clock=clock, sleep=clock.sleep).apply(
        [_crd("a.x.io"), _crd("b.x.io"), _cm("after", "1")])
    assert failure is None and [r["action"] for r in results] == ["create", "create", "create"]
    polls = [i for i, c in enumerate(client.calls) if c == ("list", "CustomResourceDefinition", None)]
    assert len(polls) == 1 + 3, "the plan's list, then polls until Established"
    assert client.calls.index(("apply", "ConfigMap", "after", None)) > polls[-1], "applied after the wait"


def test_crds_not_established_in_time_fail_naming_them_and_stop():
    client = _crd_client(established_after=None)
    clock = _Clock()
    results, failure = BatchApplier(client, wait_established=5, clock=clock, sleep=clock.sleep).apply(
        [_crd("a.x.io"), _cm("after", "1")])
    assert failure["action"] == "wait" and failure["ref"] == "CustomResourceDefinition/a.x.io"
    assert "not Established within 5 s" in failure["reason"]
    assert not [c for c in client.calls if c[0] == "apply" and c[1] == "ConfigMap"]
    check = _crd_client(established_after=None)
    assert BatchApplier(check, check_mode=True, wait_established=5, clock=clock, sleep=clock.sleep).apply(
        [_crd("a.x.io")])[1] is None, "no wait in check mode"


def test_kept_live_data_wins_over_a_generated_value_and_a_missing_key_takes_the_definition():
    def secret(**data):
        return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"}, "data": data}
    client = FakeClient([secret(password="bGl2ZQ==", user="YQ==")])
    results, failure = BatchApplier(client, keep_live_data=["ns/Secret/s:password", "ns/Secret/s:token"]).apply(
        [secret(password="bmV3", user="YQ==", token="dA==")])
    assert failure is None and results[0]["paths"] == [".data.token"], "the live password stays"
    assert results[0]["after"]["data"] == {"password": "bGl2ZQ==", "user": "YQ==", "token": "dA=="}
    client = FakeClient([secret(password="bGl2ZQ==")])
    results, _ = BatchApplier(client).apply([secret(password="bmV3")])
    assert results[0]["paths"] == [".data.password"], "without keep_live_data the definition wins"


def test_a_failed_read_while_waiting_for_crds_is_a_wait_failure_with_what_was_written():
    client = _crd_client(established_after=None)
    calls = [0]
    original = client.get

    def get(api_version, kind):
        if kind == "CustomResourceDefinition":
            calls[0] += 1
            if calls[0] > 2:  # the plan's lookup and the write's; then the wait's read fails
                raise RuntimeError("connection refused")
        return original(api_version, kind)
    client.get = get
    clock = _Clock()
    results, failure = BatchApplier(client, wait_established=5, clock=clock, sleep=clock.sleep).apply(
        [_crd("a.x.io"), _cm("after", "1")])
    assert failure["action"] == "wait" and "connection refused" in failure["reason"]
    assert [r["ref"] for r in results] == ["CustomResourceDefinition/a.x.io"]


def test_diff_leaves_out_server_fields():
    obj = {"kind": "ConfigMap", "status": {}, "metadata": {"name": "a", "resourceVersion": "1", "managedFields": [],
                                                         "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}}
    assert for_diff(obj) == {"kind": "ConfigMap", "metadata": {"name": "a"}}


def _owned(fields, manager="istio-runbooks", operation="Apply", **extra):
    return dict({"manager": manager, "operation": operation, "fieldsType": "FieldsV1", "fieldsV1": fields}, **extra)


def _deployment_live(managed):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web", "old": "x"},
                         "managedFields": managed},
            "spec": {"template": {"spec": {"containers": [
                {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}}


OUR_FIELDS = {"f:metadata": {"f:labels": {"f:app": {}, "f:old": {}}},
              "f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"c"}': {
                  ".": {}, "f:name": {},
                  "f:env": {'k:{"name":"A"}': {".": {}, "f:name": {}, "f:value": {}},
                            'k:{"name":"B"}': {".": {}, "f:name": {}, "f:value": {}}},
                  # the server puts the defaulted protocol into the key of a port applied without it
                  "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}}}}}}}}


def _desired(labels, env):
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "labels": labels},
            "spec": {"template": {"spec": {"containers": [
                {"name": "c", "env": env, "ports": [{"containerPort": 80}]}]}}}}


def test_fields_our_manager_owns_and_desired_drops_are_differences():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import dropped_fields

    live = _deployment_live([_owned(OUR_FIELDS)])
    same = _desired({"app": "web", "old": "x"}, [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    assert dropped_fields(same, OUR_FIELDS) == []
    fewer = _desired({"app": "web"}, [{"name": "A", "value": "1"}])
    assert dropped_fields(fewer, OUR_FIELDS) == [".metadata.labels.old",
                                                 '.spec.template.spec.containers[{"name":"c"}].env[{"name":"B"}]']
    assert dropped_fields({"metadata": {"finalizers": ["a"]}}, {"f:metadata": {"f:finalizers": {'v:"a"': {}, 'v:"b"': {}}}}) \
        == ['.metadata.finalizers["b"]']

    client = FakeClient([live])
    results, failure = BatchApplier(client).apply([fewer])
    assert failure is None and results[0]["action"] == "update"
    assert ".metadata.labels.old" in results[0]["paths"]
    assert [c[0] for c in client.calls].count("apply") == 1


def test_fields_owned_by_others_or_by_updates_do_not_count():
    kubectl = _owned(OUR_FIELDS, manager="kubectl-edit", operation="Update")
    ours_as_update = _owned(OUR_FIELDS, operation="Update")  # a plain update, not an apply: the apply never owned it
    status = _owned(OUR_FIELDS, subresource="status")
    live = _deployment_live([kubectl, ours_as_update, status])
    client = FakeClient([live])
    desired = _desired({"app": "web"}, [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    results, failure = BatchApplier(client).apply([desired])
    assert failure is None and results[0]["action"] == "none"
    assert [c for c in client.calls if c[0] == "apply"] == []


def test_characters_beyond_the_bmp_are_sent_as_utf8_not_surrogate_escapes():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import apply_body
    assert apply_body(_cm("a", "plain")) is None
    dashboard = _cm("dash", '{"title": "Requests (\U0001F510mTLS)"}')
    body = apply_body(dashboard)
    assert "\U0001F510".encode("utf-8") in body and b"\\ud83d" not in body

    class Path(FakeResource):
        def path(self, name, namespace):
            return "/api/v1/namespaces/%s/configmaps/%s" % (namespace, name)

    client = FakeClient([])
    client.get = lambda api_version, kind: Path(kind, True, client.store, client.calls)
    sent = []
    client.request = lambda method, path, body, content_type, **kw: sent.append((method, path, body, content_type, kw)) or \
        type("R", (), {"to_dict": lambda _self: dashboard})()
    results, failure = BatchApplier(client, check_mode=True).apply([dashboard])
    assert failure is None and [r["action"] for r in results] == ["create"]
    assert sent[0][:2] == ("patch", "/api/v1/namespaces/ns/configmaps/dash") and sent[0][2] == body
    assert sent[0][3] == "application/apply-patch+yaml" and sent[0][4]["dry_run"] == "All"


# ---- change ticket annotations ---------------------------------------------------------------------------
def test_ticket_annotations_a_previous_run_wrote_are_not_differences():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import dropped_fields, without_ticket_fields
    fields = {"f:metadata": {"f:annotations": {"f:istio-runbooks.io/change-id": {}, "f:istio-runbooks.io/changed-at": {}}},
              "f:spec": {"f:mode": {}}}
    desired = {"metadata": {"name": "a"}, "spec": {"mode": "STRICT"}}
    assert dropped_fields(desired, fields) == [".metadata.annotations"]
    assert dropped_fields(desired, without_ticket_fields(fields)) == []
    kept = {"f:metadata": {"f:annotations": {"f:team": {}, "f:istio-runbooks.io/runbook": {}}}}
    assert dropped_fields(desired, without_ticket_fields(kept)) == [".metadata.annotations"]


def test_change_record_keeps_only_the_paths_that_differed():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import change_record
    before = {"kind": "PeerAuthentication", "metadata": {"name": "default", "resourceVersion": "1"},
              "spec": {"mtls": {"mode": "PERMISSIVE"}, "selector": {"app": "a"}}}
    after = {"kind": "PeerAuthentication", "metadata": {"name": "default"}, "spec": {"mtls": {"mode": "STRICT"},
                                                                                   "selector": {"app": "a"}}}
    record = change_record({"ref": "PeerAuthentication/default", "action": "update", "paths": [".spec.mtls.mode"],
                            "before": before, "after": after})
    assert record == {"ref": "PeerAuthentication/default", "action": "update",
                      "before": {".spec.mtls.mode": "PERMISSIVE"}, "after": {".spec.mtls.mode": "STRICT"}}
    big = change_record({"ref": "x", "action": "create", "paths": [], "before": None,
                         "after": {"kind": "CustomResourceDefinition", "spec": {"x": "y" * 9000}}}, limit=100)
    assert big["before"] is None and "left out" in big["after"]


def test_annotations_go_only_on_written_objects_and_do_not_make_a_difference():
    ticket = {"istio-runbooks.io/change-id": "CHG0012345", "istio-runbooks.io/changed-at": "2026-11-26T10:00:00Z"}
    earlier = dict(_cm("same", "1"), metadata={"name": "same", "namespace": "ns", "annotations": {
        "istio-runbooks.io/change-id": "CHG0000001"}, "managedFields": [_owned({"f:metadata": {"f:annotations": {
            "f:istio-runbooks.io/change-id": {}}}, "f:data": {"f:v": {}}})]})
    client = FakeClient([earlier, _cm("old", "1")])
    results, failure = BatchApplier(client, annotations=ticket).apply([_cm("same", "1"), _cm("old", "2"), _cm("new", "1")])
    assert failure is None
    assert [(r["ref"], r["action"]) for r in results] == [
        ("ns/ConfigMap/same", "none"), ("ns/ConfigMap/old", "update"), ("ns/ConfigMap/new", "create")]
    assert [c[2] for c in client.calls if c[0] == "apply"] == ["old", "new"]
    for written in results[1:]:
        assert written["after"]["metadata"]["annotations"] == ticket
    assert results[1]["paths"] == [".data.v"], "the annotations are not among the differences"


def test_an_owner_label_refuses_objects_another_tool_made_before_any_write():
    ours = dict(_cm("ours", "1"), metadata={"name": "ours", "namespace": "ns", "labels": {"app.kubernetes.io/part-of": "istio-runbooks"}})
    helm = dict(_cm("helm", "1"), metadata={"name": "helm", "namespace": "ns", "labels": {"app.kubernetes.io/managed-by": "Helm"}})
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}}
    client = FakeClient([ours, helm, namespace])
    want = [namespace, dict(ours, data={"v": "2"}), dict(helm, data={"v": "2"}), _cm("new", "1")]
    results, failure = BatchApplier(client, owner_label="app.kubernetes.io/part-of=istio-runbooks").apply(want)
    assert failure["action"] == "refuse" and failure["ref"] == "ns/ConfigMap/helm"
    assert "app.kubernetes.io/part-of=istio-runbooks" in failure["reason"]
    assert results == [] and [c for c in client.calls if c[0] == "apply"] == []
    # without it the same batch adopts them
    results, failure = BatchApplier(FakeClient([ours, helm, namespace])).apply(want)
    assert failure is None and [r["action"] for r in results] == ["none", "update", "update", "create"]


def _ns(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_merge_patches_write_only_what_differs_remove_nulls_and_refuse_missing_objects():
    from ansible_collections.istio_runbooks.mesh.plugins.module_utils.apply import merge_patch_differences

    assert merge_patch_differences({"metadata": {"labels": {"a": "1", "b": None}}},
                                   {"metadata": {"labels": {"a": "1", "b": "x"}}}) == [".metadata.labels.b"]
    assert merge_patch_differences({"metadata": {"labels": {"a": "1", "b": None}}},
                                   {"metadata": {"labels": {"a": "1"}}}) == []
    client = FakeClient([_ns("shop", **{"istio-injection": "enabled"}), _ns("pay", **{"istio.io/rev": "canary"})])
    patches = [_ns("shop", **{"istio-injection": "enabled", "istio.io/rev": None}),
               _ns("pay", **{"istio-injection": "enabled", "istio.io/rev": None})]
    results, failure = BatchApplier(client, merge_patch=True, annotations={"istio-runbooks.io/change-id": "C1"}).apply(
        patches)
    assert failure is None and [(r["action"], r["paths"]) for r in results] == [
        ("none", []), ("update", [".metadata.labels.istio-injection", ".metadata.labels[istio.io/rev]"])]
    assert [c for c in client.calls if c[0] != "list"] == [
        ("patch", "Namespace", "pay", "application/merge-patch+json", None)]
    assert results[1]["after"]["metadata"]["annotations"] == {"istio-runbooks.io/change-id": "C1"}
    record = change_record(results[1])
    assert record["before"]["metadata"]["labels"] == {"istio.io/rev": "canary"}, "whole objects in reports"
    assert record["after"]["metadata"]["labels"]["istio-injection"] == "enabled"
    client = FakeClient([_ns("shop")])
    results, failure = BatchApplier(client, merge_patch=True).apply([_ns("shop", x="1"), _ns("gone", x="1")])
    assert failure["action"] == "missing" and failure["ref"] == "Namespace/gone" and results == []
    assert [c for c in client.calls if c[0] != "list"] == [], "nothing written"
