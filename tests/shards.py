"""Split the sandbox suites into N shards of about equal time, one sandbox each.

    python tests/shards.py N K   prints the suite files of shard K (0-based), one per line, in file order.
    python tests/shards.py --free-shift S   prints the first port shift from S on (by 4000) whose ports are free.

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


def ports_free(shift):
    """Whether every port of a sandbox (and of a second one beside it) at this shift is free on 127.0.0.1."""
    import socket

    sys.path.insert(0, str(ROOT))
    from sandbox.config import default_ports

    saved = os.environ.get("SANDBOX_PORT_SHIFT")
    os.environ["SANDBOX_PORT_SHIFT"] = str(shift)
    try:
        ports = [p for cluster in ("", "second") for p in vars(default_ports(cluster)).values() if isinstance(p, int)]
    finally:
        if saved is None:
            os.environ.pop("SANDBOX_PORT_SHIFT")
        else:
            os.environ["SANDBOX_PORT_SHIFT"] = saved
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the sandbox checks its ports
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            sock.close()
    return True


def main(argv):
    if argv[1] == "--free-shift":  # the first of START, START+4000, ... whose sandbox ports are all free
        start = int(argv[2])
        print(next((s for s in range(start, start + 16000, 4000) if ports_free(s)), start))
        return
    count, index = int(argv[1]), int(argv[2])
    times = ROOT / "tests/suite_seconds.json"
    seconds = json.loads(times.read_text()) if times.exists() else {}
    shards, _ = plan(suites(os.environ.get("TEST_SUITES")), seconds, count)
    print("\n".join(shards[index]))


if __name__ == "__main__":
    main(sys.argv)
