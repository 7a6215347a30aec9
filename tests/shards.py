"""Split the sandbox suites into N shards of about equal time, one sandbox each.

    python tests/shards.py N K   prints the suite files of shard K (0-based), one per line, in file order.

TEST_SUITES="drift gateways" keeps only the suites whose path holds one of the words.

Times come from tests/suite_seconds.json (the "time per suite" of a full run; the test command writes a fresh
one to artifacts/suite_seconds.json); a suite missing there counts as DEFAULT_SECONDS.
"""
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECONDS = 60.0


def suites(only=None):
    """The suite files; `only` (TEST_SUITES: words separated by spaces) keeps those whose path holds a word."""
    files = sorted(str(p.relative_to(ROOT)) for pattern in ("tests/sandbox/test_*.py", "tests/molecule/test_*.py")
                   for p in ROOT.glob(pattern))
    words = (only or "").split()
    return [f for f in files if not words or any(w in f for w in words)]


def plan(files, seconds, count):
    """Longest suite first onto the least loaded shard; each shard keeps file order."""
    shards = [[] for _ in range(count)]
    loads = [0.0] * count
    for name in sorted(files, key=lambda f: (-seconds.get(f, DEFAULT_SECONDS), f)):
        k = loads.index(min(loads))
        shards[k].append(name)
        loads[k] += seconds.get(name, DEFAULT_SECONDS)
    return [sorted(s) for s in shards], loads


def main(argv):
    count, index = int(argv[1]), int(argv[2])
    times = ROOT / "tests/suite_seconds.json"
    seconds = json.loads(times.read_text()) if times.exists() else {}
    shards, _ = plan(suites(os.environ.get("TEST_SUITES")), seconds, count)
    print("\n".join(shards[index]))


if __name__ == "__main__":
    main(sys.argv)
