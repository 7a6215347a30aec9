# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout restarts of Deployments, StatefulSets and DaemonSets, the way kubectl rollout restart does them,
with bounded concurrency, PodDisruptionBudget limits, one list call per namespace and kind, and undo."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re
import threading
import time

from ansible_collections.istio_runbooks.mesh.plugins.module_utils.kube import (  # noqa: F401 (re-exported)
    FORBIDDEN,
    INJECT_KEY,
    SIDECAR,
    WORKLOAD_KINDS as KINDS,
    ApiCallError,
    KubeError as RolloutError,
    host_network,
    meta as _meta,
    namespace_reader,
    object_ref as _ref,
    pod_has_sidecar,
    pod_revision,
    selector_matches as _selector_matches,
    template_opt_out,
)

RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
ISTIO_INJECTOR = "sidecar-injector.istio.io"
WEBHOOK_FAILED = re.compile(r'failed calling webhook "([^"]+)"')
WEBHOOK_DENIED = re.compile(r'admission webhook "([^"]+)" denied the request')
ONLY_IF = ("always", "missing_sidecar", "has_sidecar", "wrong_revision")


# ---- pure helpers ----------------------------------------------------------------------------------


def pods_on_revision(pods, revision):
    """Pods injected by a revision."""
    return [p for p in pods if pod_has_sidecar(p) and pod_revision(p) == (revision or "default")]


def owned_pods(workload, pods, replicasets):
    """Pods of a workload, through ReplicaSets for Deployments and directly for the others."""
    uid = _meta(workload).get("uid")
    owners = set([uid])
    if workload.get("kind") == "Deployment":
        owners = set(_meta(rs).get("uid") for rs in replicasets
                     if any(o.get("uid") == uid for o in _meta(rs).get("ownerReferences") or []))
    return [p for p in pods if any(o.get("uid") in owners for o in _meta(p).get("ownerReferences") or [])]


def active_pods(pods):
    """Pods that run or will run: not Succeeded or Failed (evicted), not terminating."""
    return [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
            and not _meta(p).get("deletionTimestamp")]


def needs_restart(workload, pods, only_if, revision=None):
    """(restart?, reason) for one workload and its pods; finished and terminating pods do not count."""
    if only_if == "always":
        return True, "restart requested"
    pods = active_pods(pods)
    if not pods:
        return False, "no running pods"
    if only_if == "missing_sidecar":
        if template_opt_out(workload) == "false":
            return False, "opted out (%s=false)" % INJECT_KEY
        if host_network(workload):
            return False, "host network (never injected)"
        lacking = [p for p in pods if not pod_has_sidecar(p)]
        return (True, "%d of %d pods lack %s" % (len(lacking), len(pods), SIDECAR)) if lacking else (
            False, "every pod has %s" % SIDECAR)
    if only_if == "has_sidecar":
        having = [p for p in pods if pod_has_sidecar(p)]
        return (True, "%d of %d pods still have %s" % (len(having), len(pods), SIDECAR)) if having else (
            False, "no pod has %s" % SIDECAR)
    if only_if == "wrong_revision":
        if template_opt_out(workload) == "false":
            return False, "opted out (%s=false)" % INJECT_KEY
        if host_network(workload):
            return False, "host network (never injected)"
        wrong = [p for p in pods if pod_has_sidecar(p) and pod_revision(p) != revision]
        lacking = [p for p in pods if not pod_has_sidecar(p)]
        if wrong or lacking:
            return True, "%d pods on another revision, %d without %s" % (len(wrong), len(lacking), SIDECAR)
        return False, "every pod runs revision %s" % revision
    raise RolloutError("only_if must be one of %s, got %r" % (", ".join(ONLY_IF), only_if))


def never_completes(workload):
    """Why a restart of this workload could never complete (None when it can), found before any patch."""
    kind, meta, spec = workload.get("kind"), _meta(workload), workload.get("spec") or {}
    if kind == "Deployment" and spec.get("paused"):
        return "paused: can't restart a paused Deployment (run kubectl rollout resume deployment/%s -n %s first)" % (
            meta.get("name"), meta.get("namespace"))
    if kind in ("StatefulSet", "DaemonSet"):
        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return ("updateStrategy %s: the controller replaces pods only when they are deleted; a rollout needs "
                    "RollingUpdate" % strategy.get("type"))
        partition = (strategy.get("rollingUpdate") or {}).get("partition") or 0
        if kind == "StatefulSet" and partition > 0:
            return ("partition %d: pods with an ordinal below %d are never updated (set "
                    "spec.updateStrategy.rollingUpdate.partition to 0 first)" % (partition, partition))
    return None


def restart_patch(stamp, annotations=None):
    """The restart: the pod template's restartedAt stamp, and the ticket annotations on the workload itself."""
    patch = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}}
    if annotations:
        patch["metadata"] = {"annotations": dict(annotations)}
    return patch


def current_stamp(workload):
    template_meta = ((workload.get("spec") or {}).get("template") or {}).get("metadata") or {}
    return (template_meta.get("annotations") or {}).get(RESTARTED_AT)


def revision_of(workload):
    kind, status, meta = workload.get("kind"), workload.get("status") or {}, _meta(workload)
    if kind == "Deployment":
        return (meta.get("annotations") or {}).get("deployment.kubernetes.io/revision")
    if kind == "StatefulSet":
        return status.get("updateRevision")
    return (meta.get("annotations") or {}).get("deprecated.daemonset.template.generation", str(meta.get("generation")))


def rollout_state(workload):
    """('done' | 'progressing' | 'failed', detail) from a workload's status, as kubectl rollout status reads it."""
    kind, spec, status, meta = workload.get("kind"), workload.get("spec") or {}, workload.get("status") or {}, _meta(
        workload)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return "progressing", "waiting for the controller to observe the change"
    if kind == "Deployment":
        for cond in status.get("conditions") or []:
            if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
                return "failed", "ProgressDeadlineExceeded: %s" % cond.get("message", "")
        want = spec.get("replicas", 1)
        updated, ready = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
        if updated < want:
            return "progressing", "%d of %d replicas updated" % (updated, want)
        if status.get("replicas", 0) > updated:
            return "progressing", "%d old replicas pending termination" % (status.get("replicas", 0) - updated)
        if ready < updated:
            return "progressing", "%d of %d updated replicas available" % (ready, updated)
        return "done", "%d replicas updated and available" % want
    if kind == "StatefulSet":
        want = spec.get("replicas", 1)
        if status.get("updatedReplicas", 0) < want:
            return "progressing", "%d of %d pods updated" % (status.get("updatedReplicas", 0), want)
        if status.get("readyReplicas", 0) < want:
            return "progressing", "%d of %d pods ready" % (status.get("readyReplicas", 0), want)
        if status.get("currentRevision") != status.get("updateRevision"):
            return "progressing", "waiting for currentRevision to reach updateRevision"
        return "done", "%d pods updated and ready" % want
    want = status.get("desiredNumberScheduled", 0)
    if status.get("updatedNumberScheduled", 0) < want:
        return "progressing", "%d of %d pods updated" % (status.get("updatedNumberScheduled", 0), want)
    if status.get("numberAvailable", 0) < want:
        return "progressing", "%d of %d updated pods available" % (status.get("numberAvailable", 0), want)
    return "done", "%d pods updated and available" % want


def webhook_failure(workload):
    """Why a Deployment's new pods cannot be created because an admission webhook fails, or None.

    The Deployment controller copies its ReplicaSets' ReplicaFailure condition (reason FailedCreate) into the
    Deployment's status, so the Deployment list the wait already makes carries it. StatefulSet and DaemonSet
    controllers report failed pod creations only as Events, not in status: those wait for their timeout.
    """
    if workload.get("kind") != "Deployment":
        return None
    for cond in (workload.get("status") or {}).get("conditions") or []:
        if cond.get("type") != "ReplicaFailure" or str(cond.get("status")) != "True":
            continue
        message = cond.get("message") or ""
        failed, denied = WEBHOOK_FAILED.search(message), WEBHOOK_DENIED.search(message)
        if failed and ISTIO_INJECTOR in failed.group(1):
            return ("istiod is not answering its injection webhook (%s): check istiod (kubectl -n istio-system get "
                    "pods -l app=istiod, logs) before retrying. %s: %s" % (failed.group(1), cond.get("reason"), message))
        if failed:
            return ("admission webhook %s is failing, so no new pod can be created: check the service behind it "
                    "before retrying. %s: %s" % (failed.group(1), cond.get("reason"), message))
        if denied:
            return "admission webhook %s denies the new pods. %s: %s" % (denied.group(1), cond.get("reason"), message)
    return None


def pdb_groups(workloads, pdbs):
    """{"ns/pdb": {"allowed": disruptionsAllowed, "covered": set of workload refs}} for budgets covering workloads.

    An empty selector ({}) covers every pod in its namespace (policy/v1); a missing one covers none.
    """
    groups = {}
    for pdb in pdbs:
        selector = (pdb.get("spec") or {}).get("selector")
        if selector is None:
            continue
        namespace = _meta(pdb).get("namespace")
        covered = set(_ref(w) for w in workloads if _meta(w).get("namespace") == namespace and _selector_matches(
            selector, (((w.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels")))
        if covered:
            groups["%s/%s" % (namespace, _meta(pdb).get("name"))] = {
                "allowed": (pdb.get("status") or {}).get("disruptionsAllowed", 0), "covered": covered}
    return groups


def now_stamp():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the service -----------------------------------------------------------------------------------


class RolloutRestarter(object):
    """Selects workloads, restarts them with bounded concurrency and waits for each rollout.

    api needs list(kind, namespace, label_selector=None) -> [dict], get(kind, namespace, name) -> dict or None and
    patch(kind, namespace, name, body) -> dict, raising ApiCallError when a request fails; kinds are Deployment,
    StatefulSet, DaemonSet, Pod, ReplicaSet, PodDisruptionBudget and Namespace.
    """

    def __init__(self, api, kinds=KINDS, namespaces=None, names=None, label_selector=None, only_if="always",
                 revision=None, concurrency=10, batch_size=50, timeout=300, poll_interval=1.0, undo_on_failure=False,
                 wait=True, check_mode=False, clock=time.monotonic, sleep=time.sleep, stamp=None, annotations=None):
        self.api, self.kinds, self.namespaces = api, list(kinds or KINDS), list(namespaces or [])
        self.names, self.label_selector, self.only_if, self.revision = list(names or []), label_selector, only_if, revision
        self.concurrency, self.batch_size, self.timeout = concurrency, batch_size, timeout
        self.poll_interval, self.undo_on_failure, self.wait, self.check_mode = poll_interval, undo_on_failure, wait, check_mode
        self.clock, self.sleep, self.stamp = clock, sleep, stamp or now_stamp()
        self.annotations = dict(annotations or {})
        self.api_calls = 0
        self._count_lock = threading.Lock()  # selection's lists run in threads
        self.result = None
        self.in_flight = {}
        self.namespaced_lists_only = set()  # kinds whose cluster-wide list was refused (namespace-scoped RBAC)

    # validation happens before any request
    def validate(self):
        unknown = [k for k in self.kinds if k not in KINDS]
        if unknown:
            raise RolloutError("unknown kind %s; rollout restarts support %s" % (", ".join(unknown), ", ".join(KINDS)))
        if not self.namespaces:
            raise RolloutError("namespaces is empty: name at least one namespace")
        if self.label_selector is not None and not str(self.label_selector).strip():
            raise RolloutError("label_selector is empty: give a selector such as 'app=reviews', or leave it out")
        if self.only_if not in ONLY_IF:
            raise RolloutError("only_if must be one of %s, got %r" % (", ".join(ONLY_IF), self.only_if))
        if self.only_if == "wrong_revision" and not self.revision:
            raise RolloutError("only_if wrong_revision needs revision")
        for name, value in (("concurrency", self.concurrency), ("batch_size", self.batch_size),
                            ("timeout", self.timeout)):
            if value is None or value < 1:
                raise RolloutError("%s must be 1 or more, got %r" % (name, value))
        if self.poll_interval is None or self.poll_interval <= 0:
            raise RolloutError("poll_interval must be more than 0 seconds, got %r: set it to e.g. 1.0, or leave it "
                               "out" % (self.poll_interval,))

    def _list(self, kind, namespace, label_selector=None):
        with self._count_lock:
            self.api_calls += 1
        return self.api.list(kind, namespace, label_selector)

    def _reader(self, kinds):
        """read(kind, namespace) for selection, before any patch: one list per namespace and kind, or one
        cluster-wide list per kind for many namespaces; a failure stops the run with what was refused."""
        def list_kind(kind, namespace):
            return self._list(kind, namespace, self.label_selector if kind in KINDS else None)
        lists = namespace_reader(list_kind, self.namespaces)
        lists.prefetch(kinds)

        def read(kind, namespace):
            try:
                return lists(kind, namespace)
            except ApiCallError as exc:
                where = "cluster-wide" if getattr(exc, "cluster_wide", False) or not namespace else \
                    "in namespace %s" % namespace
                raise RolloutError("cannot list %ss %s: %s. Nothing was restarted. Grant list on %s to this user" % (
                    kind, where, exc, kind))
        return read

    def _existing_namespaces(self):
        """The namespaces that exist, from one list; one get per namespace when listing them is forbidden."""
        try:
            return set(_meta(ns).get("name") for ns in self._list("Namespace", None))
        except ApiCallError as exc:
            if exc.status not in FORBIDDEN:
                raise RolloutError("cannot list namespaces: %s. Nothing was restarted" % exc)
        existing = set()
        for name in self.namespaces:
            self.api_calls += 1
            try:
                if self.api.get("Namespace", None, name) is not None:
                    existing.add(name)
            except ApiCallError as exc:
                raise RolloutError("cannot read namespace %s: %s. Nothing was restarted. Grant get on namespaces "
                                   "(a Role in %s suffices) or list cluster-wide" % (name, exc, name))
        return existing

    def select(self):
        """Workloads in scope, each with the decision and its reason. One list call per namespace and kind, or one
        cluster-wide list per kind for many namespaces (kube.namespace_reader)."""
        self.validate()
        existing = self._existing_namespaces()
        missing = [ns for ns in self.namespaces if ns not in existing]
        if missing:
            raise RolloutError("namespace(s) not found: %s" % ", ".join(missing))
        plan = []
        read = self._reader(self.kinds + (["Pod"] if self.only_if != "always" else [])
                            + (["ReplicaSet"] if self.only_if != "always" and "Deployment" in self.kinds else []))
        for namespace in self.namespaces:
            workloads = []
            for kind in self.kinds:
                for item in read(kind, namespace):
                    item.setdefault("kind", kind)
                    if not self.names or _meta(item).get("name") in self.names:
                        workloads.append(item)
            if not workloads:
                continue
            pods = read("Pod", namespace) if self.only_if != "always" else []
            replicasets = read("ReplicaSet", namespace) if self.only_if != "always" and any(
                w["kind"] == "Deployment" for w in workloads) else []
            for workload in workloads:
                restart, reason = needs_restart(workload, owned_pods(workload, pods, replicasets), self.only_if,
                                                self.revision)
                plan.append({"workload": workload, "restart": restart, "reason": reason})
        if self.names:
            found = set(_meta(p["workload"]).get("name") for p in plan)
            absent = [n for n in self.names if n not in found]
            if absent:
                raise RolloutError("workload(s) not found in %s: %s" % (", ".join(self.namespaces), ", ".join(absent)))
        return plan

    @staticmethod
    def _entry(workload, reason):
        meta = _meta(workload)
        return {"kind": workload["kind"], "namespace": meta.get("namespace"), "name": meta.get("name"),
                "reason": reason, "old_revision": revision_of(workload)}

    def run(self):
        started = self.clock()
        plan = self.select()
        todo = [p for p in plan if p["restart"]]
        blocked = [(p["workload"], never_completes(p["workload"])) for p in todo]
        blocked = ["%s: %s" % (_ref(w), why) for w, why in blocked if why]
        if blocked:
            raise RolloutError("cannot restart, the rollout would never complete: %s. Nothing was restarted; fix "
                               "these workloads or leave them out with names or label_selector" % "; ".join(blocked))
        result = self.result = {"changed": bool(todo), "restarted": [], "untouched": [], "failed": [], "undone": [],
                                "diff": {"before": {}, "after": {}}}
        for p in plan:
            if not p["restart"]:
                result["untouched"].append(self._entry(p["workload"], p["reason"]))
        for p in todo:
            key = _ref(p["workload"])
            result["diff"]["before"][key] = {RESTARTED_AT: current_stamp(p["workload"])}
            result["diff"]["after"][key] = {RESTARTED_AT: self.stamp}
        if self.check_mode:
            result["would_restart"] = [self._entry(p["workload"], p["reason"]) for p in todo]
            return result
        groups = self._pdb_groups([p["workload"] for p in todo])
        for start in range(0, len(todo), self.batch_size):
            self._run_batch(todo[start:start + self.batch_size], groups, result)
        result["changed"] = bool(result["restarted"] or any(f.get("patched") for f in result["failed"]))
        result["api_calls"] = self.api_calls
        result["elapsed"] = round(self.clock() - started, 2)
        return result

    def partial_result(self, error):
        """What a run interrupted by an unexpected error did: restarted, failed, undone, and still in flight."""
        result = dict(self.result or {"changed": False, "restarted": [], "untouched": [], "failed": [], "undone": []})
        result.pop("diff", None)
        result["failed"] = list(result["failed"]) + [
            self._finish(item, "failed", "interrupted while waiting: %s" % error) for item in self.in_flight.values()]
        result["changed"] = bool(result["restarted"] or any(f.get("patched") for f in result["failed"]))
        result["api_calls"] = self.api_calls
        return result

    def _pdb_groups(self, workloads):
        groups = {}
        read = self._reader([])
        for namespace in sorted(set(_meta(w).get("namespace") for w in workloads)):
            groups.update(pdb_groups([w for w in workloads if _meta(w).get("namespace") == namespace],
                                     read("PodDisruptionBudget", namespace)))
        return groups

    def _refresh_pdbs(self, groups, namespaces):
        """Re-read disruptionsAllowed of the budgets in these namespaces (one list per namespace)."""
        for namespace in namespaces:
            try:
                pdbs = self._list("PodDisruptionBudget", namespace)
            except ApiCallError:
                continue  # keep the last value; the wait still ends at the timeout
            for pdb in pdbs:
                key = "%s/%s" % (namespace, _meta(pdb).get("name"))
                if key in groups:
                    groups[key]["allowed"] = (pdb.get("status") or {}).get("disruptionsAllowed", 0)

    def _pdb_blocking(self, workload, in_flight, groups):
        """The budget that keeps this workload from starting now, or None."""
        ref = _ref(workload)
        for key in sorted(groups):
            group = groups[key]
            if ref in group["covered"] and sum(1 for r in in_flight if r in group["covered"]) >= group["allowed"]:
                return key
        return None

    def _run_batch(self, batch, groups, result):
        queue, in_flight = list(batch), self.in_flight
        interval = min(0.1, self.poll_interval)
        while queue or in_flight:
            self._start_what_can(queue, in_flight, groups, result)
            if not self.wait:
                for ref, item in list(in_flight.items()):
                    result["restarted"].append(self._finish(item, "started", "not waited for"))
                    del in_flight[ref]
            waiting_on = self._expire_pdb_waits(queue, in_flight, groups, result)
            if not queue and not in_flight:
                break
            self.sleep(interval)
            if waiting_on:
                self._refresh_pdbs(groups, sorted(waiting_on))
            before = len(in_flight)
            if in_flight:
                self._poll(in_flight, result)
            # poll fast while rollouts finish, back off to poll_interval while they do not
            interval = min(0.1, self.poll_interval) if len(in_flight) < before else min(interval * 2, self.poll_interval)

    def _start_what_can(self, queue, in_flight, groups, result):
        started = True
        while queue and started:
            started = False
            for i, p in enumerate(queue):
                if len(in_flight) >= self.concurrency:
                    return
                if self._pdb_blocking(p["workload"], in_flight, groups) is None:
                    self._start(queue.pop(i), in_flight, result)
                    started = True
                    break

    def _expire_pdb_waits(self, queue, in_flight, groups, result):
        """Workloads held back by a budget that allows no disruption fail once they waited the timeout.

        Returns the namespaces whose budgets to re-read."""
        namespaces = set()
        for p in list(queue):
            key = self._pdb_blocking(p["workload"], in_flight, groups)
            if key is None or any(r in groups[key]["covered"] for r in in_flight):
                p.pop("pdb_wait_since", None)  # free, or waiting for its own rollouts, which time out themselves
                continue
            namespaces.add(key.split("/", 1)[0])
            since = p.setdefault("pdb_wait_since", self.clock())
            if self.clock() - since > self.timeout:
                queue.remove(p)
                entry = self._entry(p["workload"], p["reason"])
                entry.update({"outcome": "failed", "patched": False, "undone": False, "new_revision": None,
                              "duration": round(self.clock() - since, 2),
                              "detail": "not restarted: PodDisruptionBudget %s allows %s disruptions (disruptionsAllowed)"
                                        " for %ss" % (key, groups[key]["allowed"], self.timeout)})
                result["failed"].append(entry)
        return namespaces

    def _start(self, p, in_flight, result):
        workload = p["workload"]
        meta = _meta(workload)
        self.api_calls += 1
        try:
            patched = self.api.patch(workload["kind"], meta.get("namespace"), meta.get("name"), restart_patch(self.stamp, self.annotations))
        except ApiCallError as exc:
            entry = self._entry(workload, p["reason"])
            entry.update({"outcome": "failed", "patched": False, "undone": False, "new_revision": None, "duration": 0,
                          "detail": "patch refused: %s" % exc})
            result["failed"].append(entry)
            return
        in_flight[_ref(workload)] = {"plan": p, "started": self.clock(), "previous": current_stamp(workload),
                                     "uid": _meta(patched).get("uid", meta.get("uid")),
                                     "generation": _meta(patched).get("generation", meta.get("generation"))}

    def _finish(self, item, outcome, detail, latest=None):
        entry = self._entry(item["plan"]["workload"], item["plan"]["reason"])
        entry.update({"outcome": outcome, "detail": detail, "duration": round(self.clock() - item["started"], 2),
                      "new_revision": revision_of(latest) if latest else None})
        if outcome == "failed":
            entry.update({"patched": True, "undone": False})
        return entry

    CLUSTER_WIDE_AFTER = 4  # namespaces in flight for one kind before one cluster-wide list replaces per-namespace lists

    def _poll(self, in_flight, result):
        by_scope = {}
        for ref, item in in_flight.items():
            w = item["plan"]["workload"]
            by_scope.setdefault((_meta(w).get("namespace"), w["kind"]), []).append(ref)
        scopes = {}
        for (namespace, kind), refs in by_scope.items():
            scopes.setdefault(kind, {})[namespace] = refs
        for kind, namespaces in scopes.items():
            if len(namespaces) > self.CLUSTER_WIDE_AFTER and kind not in self.namespaced_lists_only:
                try:
                    objs = self._list(kind, None)
                except ApiCallError as exc:
                    if exc.status not in FORBIDDEN:
                        self._unreadable([r for refs in namespaces.values() for r in refs], exc, in_flight, result)
                        continue
                    self.namespaced_lists_only.add(kind)  # namespace-scoped RBAC: list per namespace from now on
                else:
                    self._check(kind, [r for refs in namespaces.values() for r in refs], objs, in_flight, result)
                    continue
            for namespace, refs in namespaces.items():
                try:
                    objs = self._list(kind, namespace)
                except ApiCallError as exc:
                    self._unreadable(refs, exc, in_flight, result)
                    continue
                self._check(kind, refs, objs, in_flight, result)

    def _timed_out(self, item):
        return self.clock() - item["started"] > self.timeout

    def _unreadable(self, refs, exc, in_flight, result):
        """A status list failed: forbidden fails at once, anything else is retried until the timeout."""
        for ref in refs:
            item = in_flight[ref]
            if exc.status in FORBIDDEN or self._timed_out(item):
                result["failed"].append(self._fail(item, "cannot read the rollout status: %s" % exc, None, result))
                del in_flight[ref]

    def _check(self, kind, refs, objs, in_flight, result):
        live = dict((_ref(dict(obj, kind=kind)), dict(obj, kind=kind)) for obj in objs)
        for ref in refs:
            item = in_flight[ref]
            obj = live.get(ref)
            if obj is None:
                result["failed"].append(self._finish(item, "failed", "not found: deleted during the restart"))
                del in_flight[ref]
                continue
            if item["uid"] and _meta(obj).get("uid") != item["uid"]:
                result["failed"].append(self._finish(
                    item, "failed", "deleted and recreated during the restart (uid %s is now %s): the new object was "
                                    "not restarted by this run" % (item["uid"], _meta(obj).get("uid")), obj))
                del in_flight[ref]
                continue
            if _meta(obj).get("generation", 0) < item["generation"]:
                state, detail = "progressing", "waiting for the change to show (generation %s of %s)" % (
                    _meta(obj).get("generation", 0), item["generation"])
            else:
                state, detail = rollout_state(obj)
            if state == "progressing" and (obj.get("status") or {}).get("observedGeneration", 0) >= item["generation"]:
                webhook = webhook_failure(obj)  # read only once the controller acted on this restart: never stale
                if webhook:
                    state, detail = "failed", webhook
            if state == "progressing" and self._timed_out(item):
                state, detail = "failed", "timeout after %ss: %s" % (self.timeout, detail)
            if state == "done":
                result["restarted"].append(self._finish(item, "restarted", detail, obj))
                del in_flight[ref]
            elif state == "failed":
                result["failed"].append(self._fail(item, detail, obj, result))
                del in_flight[ref]

    def _fail(self, item, detail, obj, result):
        entry = self._finish(item, "failed", detail, obj)
        if self.undo_on_failure:
            w = item["plan"]["workload"]
            self.api_calls += 1
            try:
                # the previous stamp (None removes it) puts the pod template back: the controller returns to the old revision
                self.api.patch(w["kind"], _meta(w).get("namespace"), _meta(w).get("name"), restart_patch(item["previous"]))
            except ApiCallError as exc:
                entry["detail"] += "; undo failed: %s" % exc
                return entry
            entry["undone"] = True
            entry["detail"] += "; undone: pod template restored to the previous revision"
            result["undone"].append(_ref(w))
        return entry
