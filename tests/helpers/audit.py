"""Read the sandbox apiserver audit log: who wrote what, since when."""
import datetime
import glob
import json
import os

WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}
# Reviews are answered, never stored: they are not writes to the cluster.
NON_PERSISTED = {"selfsubjectaccessreviews", "selfsubjectreviews", "subjectaccessreviews", "tokenreviews",
                 "localsubjectaccessreviews", "selfsubjectrulesreviews"}


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def _ts(value):
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


class AuditLog:
    def __init__(self, path):
        self.path = path

    def files(self):
        """The rotated logs (kube-apiserver keeps one: audit-<time>.log), oldest first, then the current one."""
        stem, ext = os.path.splitext(str(self.path))
        return sorted(glob.glob("%s-*%s" % (stem, ext))) + [str(self.path)]

    def events(self, since=None):
        for path in self.files():
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as handle:
                yield from self._events(handle, since)

    @staticmethod
    def _events(handle, since):
        for line in handle:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if since and _ts(event["requestReceivedTimestamp"]) < since:
                continue
            yield event

    def writes(self, since, user="sandbox-admin"):
        """Persisting write requests by user since a time, as (verb, resource, namespace, name)."""
        found = []
        for event in self.events(since):
            ref = event.get("objectRef", {})
            if (event.get("user", {}).get("username") == user and event.get("verb") in WRITE_VERBS
                    and ref.get("resource") not in NON_PERSISTED and event.get("stage") == "ResponseComplete"
                    and "dryRun=All" not in event.get("requestURI", "")):
                found.append((event["verb"], ref.get("resource"), ref.get("namespace"), ref.get("name")))
        return found
