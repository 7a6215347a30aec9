# -*- coding: utf-8 -*-
# Copyright: istio-runbooks contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Multi-cluster runs: the order of the waves (canary, wave1, wave2) as `serial` batches, and the inventory
checks made once before any change (every host names a kubeconfig; no two hosts are the same cluster)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported, the import keeps sanity's compile test quiet
    from urlparse import urlsplit  # type: ignore

WAVE_GROUPS = ("canary", "wave1", "wave2")
_PATTERN_OPERATORS = ("&", "!", "*", "?", "[", "~")


class WaveError(ValueError):
    """An inventory whose hosts a play cannot run in wave order; the message says how to fix it."""


def _target_hosts(groups, target):
    """The hosts a play targets, in the order Ansible runs them, for a pattern of group and host names."""
    names = [part.strip() for part in target.replace(",", ":").split(":") if part.strip()]
    if not names or any(char in name for name in names for char in _PATTERN_OPERATORS):
        raise WaveError("mesh_target %r is a host pattern the waves cannot order; give group or host names joined "
                        "by ':' (e.g. canary:wave1), or set the batches yourself with mesh_serial" % target)
    ordered = []
    for name in names:
        for host in groups.get(name, [name] if any(name in members for members in groups.values()) else []):
            if host not in ordered:
                ordered.append(host)
    return ordered


def wave_batches(groups, target="mesh_clusters", play_hosts=None, waves=WAVE_GROUPS, batch_size=0):
    """Ansible `serial` batches that run a play wave by wave: every host of the first wave group (canary),
    then the next, then hosts in no wave group. batch_size > 0 splits a wave into batches of that size.

    groups: Ansible's `groups`; play_hosts: the hosts left after --limit (ansible_play_hosts_all at play level).
    Raises WaveError when the play would meet a later wave's host before an earlier wave's.
    """
    hosts = _target_hosts(groups, target)
    if play_hosts is not None:
        allowed = set(play_hosts)
        hosts = [host for host in hosts if host in allowed]
    wave_of = {}
    for index, group in enumerate(waves):
        for host in groups.get(group, []):
            wave_of.setdefault(host, index)
    labels = list(waves) + ["no wave group"]
    batches, previous = [], None
    for host in hosts:
        wave = wave_of.get(host, len(waves))
        if previous is not None and wave < previous[0]:
            raise WaveError(
                "host %s (%s) comes after %s (%s) in %s: list the wave groups %s as children of %s in that order, "
                "with no host directly under it, or set the batches yourself with mesh_serial"
                % (host, labels[wave], previous[1], labels[previous[0]], target, ", ".join(waves), target))
        if previous is None or wave != previous[0] or (batch_size and batches[-1] >= batch_size):
            batches.append(0)
        batches[-1] += 1
        previous = (wave, host)
    return batches


def wave_plan(groups, hosts, waves=WAVE_GROUPS):
    """Lines naming each wave and its hosts, in order, for the run's log."""
    lines, seen = [], set()
    for group in waves:
        members = [host for host in groups.get(group, []) if host in hosts and host not in seen]
        seen.update(members)
        if members:
            lines.append("%s: %s" % (group, ", ".join(members)))
    rest = [host for host in hosts if host not in seen]
    if rest:
        lines.append(("%s: %s" % ("no wave group", ", ".join(rest))) if lines else ", ".join(rest))
    return lines


def _normalised_server(server):
    parts = urlsplit(server.strip())
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    return "%s://%s:%s%s" % (parts.scheme, (parts.hostname or "").lower(), port, parts.path.rstrip("/"))


def kubeconfig_cluster(document, context):
    """(server, context name) a kubeconfig document (a dict) reaches with context ("" = its current-context)."""
    context = context or document.get("current-context") or ""
    contexts = dict((c.get("name"), c.get("context") or {}) for c in document.get("contexts") or [])
    if context not in contexts:
        raise KeyError("context %r is not in it (it has: %s)" % (context, ", ".join(sorted(n for n in contexts if n))
                                                                 or "none"))
    cluster = contexts[context].get("cluster")
    clusters = dict((c.get("name"), c.get("cluster") or {}) for c in document.get("clusters") or [])
    server = clusters.get(cluster, {}).get("server")
    if not server:
        raise KeyError("context %r names cluster %r, which has no server" % (context, cluster))
    return server, context


def inventory_problems(hosts, read_kubeconfig=None):
    """What stops a multi-cluster run before any change: hosts without mesh_cluster_kubeconfig, kubeconfigs or
    contexts that do not exist, and two hosts that reach the same API server (the same cluster twice).

    hosts: [{host, kubeconfig, context}]; read_kubeconfig(path) returns the parsed document (default: YAML file).
    """
    read_kubeconfig = read_kubeconfig or _read_yaml
    problems, owner = [], {}
    for entry in hosts:
        host, path, context = entry["host"], entry.get("kubeconfig") or "", entry.get("context") or ""
        if not path:
            problems.append("host %s has no mesh_cluster_kubeconfig: set it (and mesh_cluster_context) for %s in the "
                            "inventory's host_vars, one host per cluster" % (host, host))
            continue
        try:
            server, context = kubeconfig_cluster(read_kubeconfig(os.path.expanduser(path)), context)
        except (OSError, ValueError) as exc:
            problems.append("host %s: mesh_cluster_kubeconfig %s cannot be read (%s); fix the path in the inventory"
                            % (host, path, getattr(exc, "strerror", None) or exc))
            continue
        except KeyError as exc:
            problems.append("host %s: mesh_cluster_context in %s: %s; fix mesh_cluster_context"
                            % (host, path, exc.args[0]))
            continue
        key = _normalised_server(server)
        if key in owner:
            first, first_context = owner[key]
            problems.append("hosts %s and %s are the same cluster (API server %s; contexts %s and %s): each inventory "
                            "host must be a different cluster; remove one or fix its mesh_cluster_kubeconfig or "
                            "mesh_cluster_context" % (first, host, server, first_context, context))
        else:
            owner[key] = (host, context)
    return problems


def _read_yaml(path):
    import yaml
    with open(path) as handle:
        try:
            document = yaml.safe_load(handle)
        except yaml.YAMLError as exc:
            raise ValueError("not YAML: %s" % str(exc).splitlines()[0])
    if not isinstance(document, dict):
        raise ValueError("not a kubeconfig")
    return document


def wave_statuses(groups, hosts, plays, started, ran, failed, waves=WAVE_GROUPS, names=None, interrupted=()):
    """Each cluster's final status, in wave order, and the plays that never started.

    plays: every play of the playbook (ids), in order; started: the plays that started, in order;
    ran: {host: [plays it ran tasks in]}; failed: {host: (play, task)} for clusters that ended failed;
    names: {play id: name} (default: the id); interrupted: the hosts of the batch the failure stopped.
    A cluster that did not fail is "ok" when every play started, it ran the last one and its batch was not
    interrupted; else another cluster's failure "stopped" it ("not run" when it ran nothing).
    Returns ([{host, wave, status, play, task, stopped_by}], [names of plays never started]).
    """
    names = names or {}
    wave_of = {}
    for group in waves:
        for host in groups.get(group, []):
            wave_of.setdefault(host, group)
    order = []
    for host in [h for group in waves for h in groups.get(group, []) if h in hosts] + list(hosts):
        if host not in order:
            order.append(host)
    culprits = [host for host in order if host in failed]
    never = [play for play in plays if play not in started]
    rows = []
    for host in order:
        done = ran.get(host) or []
        row = {"host": host, "wave": wave_of.get(host), "status": "ok", "play": None, "task": None, "stopped_by": []}
        if host in failed:
            row.update(status="failed", play=names.get(failed[host][0], failed[host][0]), task=failed[host][1])
        elif failed and not done:
            row.update(status="not run", stopped_by=culprits)
        elif failed and (never or done[-1] != started[-1] or host in interrupted):
            row.update(status="stopped", play=names.get(done[-1], done[-1]), stopped_by=culprits)
        rows.append(row)
    return rows, [names.get(play, play) for play in never] if failed else []


def wave_status_lines(groups, hosts, plays, started, ran, failed, waves=WAVE_GROUPS, names=None, interrupted=()):
    """wave_statuses as lines: one per cluster (host, wave, status, where), then the plays never started."""
    rows, never = wave_statuses(groups, hosts, plays, started, ran, failed, waves, names, interrupted)
    wave_of = dict((row["host"], row["wave"] or "no wave group") for row in rows)
    width = max([len(row["host"]) for row in rows] + [4])
    lines = []
    for row in rows:
        label = "%-*s  %-7s" % (width, row["host"], row["wave"] or "-")
        culprits = ", ".join("%s (%s)" % (host, wave_of[host]) for host in row["stopped_by"])
        if row["status"] == "failed":
            lines.append("%s FAILED   in play '%s', task '%s'" % (label, row["play"], row["task"]))
        elif row["status"] == "not run":
            lines.append("%s NOT RUN  nothing ran here: the run stopped when %s failed" % (label, culprits))
        elif row["status"] == "stopped":
            lines.append("%s STOPPED  last play here: '%s'; the run stopped when %s failed"
                         % (label, row["play"], culprits))
        else:
            lines.append("%s ok" % label)
    if never:
        lines.append("not started for any cluster: " + ", ".join("'%s'" % play for play in never))
    return lines
