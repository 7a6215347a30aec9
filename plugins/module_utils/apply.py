# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a batch of objects with one list per kind and namespace, writing only the objects that differ."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.change import annotated, is_ticket_annotation
from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import list_items, meta as object_meta, plain_result

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_SUFFIX = {"Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
           "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "k": 10 ** 3, "M": 10 ** 6,
           "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}
# Server-written fields that a planned object never decides.
_IGNORED_METADATA = ("resourceVersion", "uid", "generation", "creationTimestamp", "managedFields", "selfLink")


def parse_quantity(value):
    """A Kubernetes quantity ('2000m', '1Gi', '1e3') as a Decimal, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    try:
        number = Decimal(match.group(1))
    except InvalidOperation:
        return None
    suffix = match.group(2)
    if not suffix:
        return number
    if suffix[0] in "eE":
        return number * (Decimal(10) ** int(suffix[1:]))
    return number * Decimal(_SUFFIX[suffix])


def _empty(value):
    return value is None or value == "" or value == {} or value == []


def differences(desired, live, path="", quantities=False):
    """Paths where desired is not already true of live.

    Only what desired says counts: fields the server adds or defaults are not differences. Empty values
    equal absent ones, and resource quantities compare by value (1024Mi == 1Gi), as the API server
    normalizes them.
    """
    if isinstance(desired, dict):
        if _empty(desired) and _empty(live):
            return []
        if not isinstance(live, dict):
            return [path or "."]
        found = []
        for key, value in desired.items():
            if path == ".metadata" and key in _IGNORED_METADATA:
                continue
            found += differences(value, live.get(key), "%s.%s" % (path, key),
                                 quantities or key in ("resources", "limits", "requests", "capacity", "hard"))
        return found
    if isinstance(desired, list):
        if _empty(desired) and _empty(live):
            return []
        if not isinstance(live, list) or len(live) != len(desired):
            return [path]
        found = []
        for index, (want, have) in enumerate(zip(desired, live)):
            found += differences(want, have, "%s[%d]" % (path, index), quantities)
        return found
    if desired is None or desired == live or (_empty(desired) and _empty(live)):
        return []  # a null in a rendered manifest states no opinion
    if desired == 0 and path.endswith(".targetPort"):
        return []  # a zero int-or-string is unset: the server defaults it to the port
    if quantities and parse_quantity(desired) is not None and parse_quantity(desired) == parse_quantity(live):
        return []
    if not isinstance(desired, bool) and not isinstance(live, bool) and str(desired) == str(live) \
            and isinstance(desired, (int, str)) and isinstance(live, (int, str)):
        return []  # 8080 and "8080" in a port field are the same object
    return [path]


def merge_patch_differences(patch, live, path=""):
    """Paths a JSON merge patch would change on live: a null removes a field, so it differs where the field is set."""
    if not isinstance(patch, dict):
        return differences(patch, live, path)
    live = live if isinstance(live, dict) else {}
    found = []
    for key, value in patch.items():
        where = "%s[%s]" % (path, key) if "." in key or "/" in key else "%s.%s" % (path, key)
        if value is None:
            if live.get(key) is not None:
                found.append(where)
        elif isinstance(value, dict):
            found += merge_patch_differences(value, live.get(key), where)
        else:
            found += differences(value, live.get(key), where)
    return found


def owned_fields(live, field_manager):
    """The fieldsV1 trees that field_manager owns on the live object through apply (subresources left out)."""
    return [entry.get("fieldsV1") or {} for entry in object_meta(live).get("managedFields") or []
            if entry.get("manager") == field_manager and entry.get("operation") == "Apply"
            and not entry.get("subresource")]


def _item_matches(item, key):
    """A desired list item matches a managedFields key when every key field it sets is equal (the server adds
    defaulted fields, such as a port's protocol, to the key)."""
    shared = [k for k in key if k in item]
    return bool(shared) and all(str(item[k]) == str(key[k]) for k in shared)


def dropped_fields(desired, fields, path=""):
    """Paths our field manager owns (fieldsV1) that desired no longer sets: a server-side apply of desired
    removes them, so they are differences even though differences() only looks at what desired states."""
    found = []
    for key in sorted(fields):
        child = fields[key]
        prefix, _sep, name = key.partition(":")
        if prefix == "f" and isinstance(desired, dict):
            if name not in desired:
                found.append("%s.%s" % (path, name))
            elif child:
                found += dropped_fields(desired[name], child, "%s.%s" % (path, name))
        elif prefix in ("k", "v") and isinstance(desired, list):
            try:
                value = json.loads(name)
            except ValueError:
                continue
            label = "%s[%s]" % (path, name)
            if prefix == "v":
                if value not in desired:
                    found.append(label)
                continue
            match = next((item for item in desired if isinstance(item, dict) and isinstance(value, dict)
                          and _item_matches(item, value)), None)
            if match is None:
                found.append(label)
            elif child:
                found += dropped_fields(match, child, label)
    return found


def for_diff(obj):
    """An object without the fields the server writes, for a readable diff."""
    if not obj:
        return {}
    clean = dict((k, v) for k, v in obj.items() if k != "status")
    meta = dict((k, v) for k, v in object_meta(obj).items() if k not in _IGNORED_METADATA)
    annotations = dict((k, v) for k, v in (meta.get("annotations") or {}).items()
                       if k != "kubectl.kubernetes.io/last-applied-configuration")
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    clean["metadata"] = meta
    return clean


def _value_at(obj, path):
    """The value at a differences() path ('.spec.ports[0].port'), or None."""
    value = obj
    for part in re.findall(r"\.([^.\[]+)|\[(\d+|[^\]]+)\]", path):
        key, index = part
        if isinstance(value, dict) and key:
            value = value.get(key)
        elif isinstance(value, list) and index.isdigit() and int(index) < len(value):
            value = value[int(index)]
        else:
            return None
    return value


def _summary(value, limit):
    text = json.dumps(value, sort_keys=True, default=str)
    return value if len(text) <= limit else "<%d characters, left out>" % len(text)


def change_record(entry, limit=8192):
    """One applied change for reports: ref, action, and before/after (for an update only the paths that
    differed, unless the entry says whole, as a merge patch's does; a value longer than limit characters is
    summarized)."""
    record = {"ref": entry["ref"], "action": entry["action"]}
    before, after = for_diff(entry.get("before")), for_diff(entry.get("after"))
    if entry["action"] == "update" and entry.get("paths") and not entry.get("whole"):
        record["before"] = dict((p, _summary(_value_at(before, p), limit)) for p in entry["paths"])
        record["after"] = dict((p, _summary(_value_at(after, p), limit)) for p in entry["paths"])
    else:
        record["before"] = _summary(before, limit) if before else None
        record["after"] = _summary(after, limit) if after else None
    return record


def object_ref(obj):
    """'namespace/Kind/name' (or 'Kind/name'): how apply_objects names an object in its results."""
    meta = object_meta(obj)
    ref = "%s/%s" % (obj.get("kind"), meta.get("name"))
    return "%s/%s" % (meta["namespace"], ref) if meta.get("namespace") else ref


def apply_body(obj):
    """The object as UTF-8 JSON bytes when it holds characters beyond the BMP, else None (the client's own
    serialization, which escapes those as surrogate pairs, is fine)."""
    text = json.dumps(obj, ensure_ascii=False)
    if not any(ord(c) > 0xFFFF for c in text):
        return None
    return text.encode("utf-8")


def without_ticket_fields(fields, annotations=None):
    """A fieldsV1 tree without the ticket annotations (a previous run's change-id, runbook, time): a later
    manifest without them does not differ because of them."""
    owned = ((fields.get("f:metadata") or {}).get("f:annotations")) if isinstance(fields, dict) else None
    if not owned:
        return fields
    kept = dict((k, v) for k, v in owned.items()
                if not (k.startswith("f:") and (k[2:] in (annotations or {}) or is_ticket_annotation(k[2:]))))
    meta = dict(fields["f:metadata"])
    if kept:
        meta["f:annotations"] = kept
    else:
        meta.pop("f:annotations")
    return dict(fields, **{"f:metadata": meta})


def with_live_data(obj, live, keep):
    """obj with the live values of the data keys keep names ("namespace/Kind/name:key"), where live has them
    (not empty)."""
    if not live or not keep:
        return obj
    ref = object_ref(obj)
    keys = [k.split(":", 1)[1] for k in keep if ":" in k and k.split(":", 1)[0] == ref]
    live_data = live.get("data") or {}
    kept = dict((k, live_data[k]) for k in keys if live_data.get(k))
    if not kept:
        return obj
    return dict(obj, data=dict(obj.get("data") or {}, **kept))


WRITERS = 8  # writes in flight at once within a group of objects of one kind


def write_groups(planned):
    """The planned objects in groups written one after the other: each group is a run of objects of one kind
    (in the given order), written concurrently; objects whose kind this batch creates go one by one."""
    groups = []
    for item in planned:
        obj = item["object"]
        key = (obj.get("apiVersion"), obj.get("kind"))
        if groups and not item.get("unknown_kind") and groups[-1][0] == key:
            groups[-1][1].append(item)
        else:
            groups.append((None if item.get("unknown_kind") else key, [item]))
    return [items for _, items in groups]


class BatchApplier(object):
    """Server-side apply of many objects: one list per kind and namespace, a write only where needed."""

    def __init__(self, dynamic_client, field_manager="istio-runbooks", force_conflicts=True, check_mode=False,
                 annotations=None, owner_label=None, merge_patch=False, wait_established=0,
                 clock=time.monotonic, sleep=time.sleep, keep_live_data=None):
        self.client = dynamic_client
        # "namespace/Kind/name:key" refs whose live data value wins over the definition's (values made once)
        self.keep_live_data = keep_live_data or []
        # seconds to wait, after writing CustomResourceDefinitions, until they are Established (0: no wait)
        self.wait_established = wait_established
        self.clock, self.sleep = clock, sleep
        self.merge_patch = merge_patch  # send JSON merge patches of existing objects instead of applying
        self.owner_label = owner_label  # "key=value": live objects without it belong to another tool
        self.annotations = annotations or {}
        self.field_manager = field_manager
        self.force_conflicts = force_conflicts
        self.check_mode = check_mode
        self.api_calls = 0
        self._count_lock = threading.Lock()
        self._live = {}

    def _resource(self, obj):
        return self.client.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])

    def _live_objects(self, resource, namespace):
        key = (resource.group_version, resource.kind, namespace if resource.namespaced else None)
        if key not in self._live:
            kwargs = {"namespace": namespace} if resource.namespaced and namespace else {}
            self.api_calls += 1
            items = list_items(resource, **kwargs)
            self._live[key] = dict((object_meta(item).get("name"), item) for item in items)
        return self._live[key]

    def _server_side_apply(self, resource, obj):
        kwargs = dict(name=obj["metadata"]["name"], namespace=obj["metadata"].get("namespace"),
                      field_manager=self.field_manager, force_conflicts=self.force_conflicts,
                      dry_run="All" if self.check_mode else None)
        body = apply_body(obj)
        if body is None:
            return resource.server_side_apply(body=obj, **kwargs)
        # the client would escape characters beyond the BMP (emoji in Grafana dashboards) as surrogate pairs,
        # which the API server's YAML decoder rejects: send them as UTF-8 instead
        path = resource.path(name=kwargs.pop("name"), namespace=kwargs.pop("namespace"))
        return self.client.request("patch", path, body=body, content_type="application/apply-patch+yaml", **kwargs)

    def plan(self, definitions):
        """Each definition with its action (create, update, none), its live object and the differing paths."""
        planned, new_namespaces = [], set()
        for obj in definitions:
            meta = object_meta(obj)
            namespace = meta.get("namespace")
            try:
                resource = self._resource(obj)
            except Exception:  # pylint: disable=broad-except
                # the kind is not served yet (its CRD is in this batch): it can only be created
                planned.append({"object": obj, "action": "create", "live": None, "paths": [], "unknown_kind": True})
                continue
            if namespace in new_namespaces or (resource.namespaced and not namespace):
                live = None
            else:
                try:
                    live = self._live_objects(resource, namespace).get(meta.get("name"))
                except Exception as exc:  # pylint: disable=broad-except
                    if getattr(exc, "status", None) == 404:  # the namespace does not exist yet
                        live = None
                    else:
                        raise
            obj = with_live_data(obj, live, self.keep_live_data)
            if live is None:
                action, paths = "create", []
                if obj.get("kind") == "Namespace":
                    new_namespaces.add(meta.get("name"))
            elif self.merge_patch:
                paths = merge_patch_differences(dict((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind")),
                                                live)
                action = "update" if paths else "none"
            else:
                paths = differences(obj, live)
                for fields in owned_fields(live, self.field_manager):
                    fields = without_ticket_fields(fields, self.annotations)
                    paths += [p for p in dropped_fields(obj, fields) if p not in paths]
                action = "update" if paths else "none"
            planned.append({"object": obj, "action": action, "live": live, "paths": paths,
                            "namespace_pending": namespace in new_namespaces})
        return planned

    def foreign(self, planned):
        """Refs of live objects (Namespaces aside) that lack the owner label: another tool manages them."""
        if not self.owner_label:
            return []
        key, _, value = self.owner_label.partition("=")
        return [object_ref(item["object"]) for item in planned
                if item["live"] is not None and item["object"].get("kind") != "Namespace"
                and (object_meta(item["live"]).get("labels") or {}).get(key) != value]

    def _established(self, written):
        """None once every CRD written is Established (one list per poll), else a failure naming those that are not."""
        names = set(entry["ref"].split("/", 1)[1] for entry in written)
        if not names:
            return None
        deadline, pending = self.clock() + self.wait_established, names
        while True:
            with self._count_lock:
                self.api_calls += 1
            try:
                resource = self.client.resources.get(api_version="apiextensions.k8s.io/v1",
                                                     kind="CustomResourceDefinition")
                live = list_items(resource)
            except Exception as exc:  # pylint: disable=broad-except
                return {"ref": ", ".join("CustomResourceDefinition/%s" % n for n in sorted(pending)), "action": "wait",
                        "reason": "cannot read whether they are Established: %s; the objects after them were not "
                                  "applied" % (getattr(exc, "body", None) or exc)}
            pending = names - set(object_meta(crd).get("name") for crd in live if any(
                c.get("type") == "Established" and c.get("status") == "True"
                for c in (crd.get("status") or {}).get("conditions") or []))
            if not pending:
                return None
            if self.clock() >= deadline:
                return {"ref": ", ".join("CustomResourceDefinition/%s" % n for n in sorted(pending)), "action": "wait",
                        "reason": "not Established within %s s; the objects after them were not applied"
                                  % self.wait_established}
            self.sleep(1)

    def _write(self, item, resource, stop=None):
        """(entry, failure) for one planned object: the write it needs, if any, made. Once stop is set (another
        write of the group failed), a write not yet sent is left out: (None, None)."""
        obj = item["object"]
        entry = {"ref": object_ref(obj), "action": item["action"], "paths": item["paths"], "before": item["live"],
                 "after": None, "whole": self.merge_patch}
        if item["action"] == "none":
            return entry, None
        if stop is not None and stop.is_set():
            return None, None
        if self.check_mode and (item.get("unknown_kind") or item.get("namespace_pending")):
            entry["after"] = annotated(obj, self.annotations)  # a dry run cannot reach a kind or namespace this batch only creates
            return entry, None
        try:
            resource = resource or self._resource(obj)
            with self._count_lock:
                self.api_calls += 1
            # the ticket annotations go only on objects written anyway, and no comparison looks at them
            if self.merge_patch:
                entry["after"] = plain_result(
                    resource.patch, body=annotated(obj, self.annotations), name=object_meta(obj).get("name"),
                    namespace=object_meta(obj).get("namespace"), content_type="application/merge-patch+json",
                    field_manager=self.field_manager, dry_run="All" if self.check_mode else None)
            else:
                entry["after"] = self._server_side_apply(resource, annotated(obj, self.annotations)).to_dict()
        except Exception as exc:  # pylint: disable=broad-except
            if stop is not None:
                stop.set()
            reason = getattr(exc, "body", None) or str(exc)
            return entry, {"ref": entry["ref"], "action": item["action"], "reason": reason}
        return entry, None

    def _write_group(self, group):
        """The writes of one group, WRITERS at a time; [(entry, failure)] in the group's order. After a failure
        the writes not yet sent are left out (entry None); those in flight finish."""
        if len(group) == 1:
            return [self._write(group[0], None)]
        try:
            resource = self._resource(group[0]["object"])  # resolved once, before the threads share it
        except Exception:  # pylint: disable=broad-except
            resource = None
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=min(WRITERS, len(group))) as pool:
            return list(pool.map(lambda item: self._write(item, resource, stop), group))

    def apply(self, definitions):
        """Apply what differs. Returns (results, failure): failure is None or a dict naming the object.
        With an owner label, nothing is written while a live object lacks it (failure action "refuse")."""
        results = []
        planned = self.plan(definitions)
        foreign = self.foreign(planned)
        if foreign:
            return results, {"ref": ", ".join(foreign), "action": "refuse",
                             "reason": "they exist without the label %s, so another tool manages them" % self.owner_label}
        missing = [object_ref(item["object"]) for item in planned if self.merge_patch and item["live"] is None]
        if missing:
            return results, {"ref": ", ".join(missing), "action": "missing",
                             "reason": "they do not exist, and a merge patch only changes existing objects"}
        for group in write_groups(planned):
            done = self._write_group(group)
            for entry, failure in done:
                if entry is not None and failure is None:
                    results.append(entry)
            failures = [f for _, f in done if f is not None]
            failure = dict(failures[0], others=failures[1:]) if failures else None
            if failure is None and self.wait_established and not self.check_mode:
                failure = self._established([entry for entry, _ in done if entry["action"] != "none"
                                             and entry["ref"].startswith("CustomResourceDefinition/")])
            if failure is not None:
                return results, failure
        return results, None
