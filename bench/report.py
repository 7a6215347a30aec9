"""What every benchmark reports: Markdown tables, the machine, wall time and peak memory of a command."""
import os
import platform
import subprocess
import threading
import time


def markdown_table(headers, rows):
    """A Markdown table; cells are printed with str(), None as an empty cell."""
    lines = ["| %s |" % " | ".join(headers), "|%s|" % "|".join("---" for _ in headers)]
    lines += ["| %s |" % " | ".join("" if cell is None else str(cell) for cell in row) for row in rows]
    return "\n".join(lines)


def machine():
    """CPU cores, load averages (1, 5, 15 min) and platform: benchmark figures mean little without them."""
    return {"cpu_cores": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
            "platform": platform.platform()}


def status_kib(status_text, field):
    """A memory field (VmHWM: peak RSS, VmRSS: current) of a /proc/<pid>/status text, in KiB; 0 when absent."""
    for line in status_text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def process_kib(pid, field="VmHWM"):
    try:
        with open("/proc/%d/status" % pid, encoding="ascii", errors="replace") as handle:
            return status_kib(handle.read(), field)
    except OSError:
        return 0


def descendants(root):
    """The pids of root and every process below it, from /proc."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="ascii", errors="replace") as handle:
                ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def run_measured(argv, interval=0.5, **popen):
    """Run a command to its end: (returncode, seconds, peak RSS of its largest process in KiB, peak sum of the
    RSS of its whole process tree in KiB, sampled every interval). stdout/stderr as popen says (files, DEVNULL)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, **popen)
    tree_peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(interval):
            tree_peak[0] = max(tree_peak[0], sum(process_kib(pid, "VmRSS") for pid in descendants(proc.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)  # ru_maxrss: the process and every descendant it reaped
    seconds = time.monotonic() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, seconds, usage.ru_maxrss, tree_peak[0]


def mib(kib):
    return round(kib / 1024, 1)
