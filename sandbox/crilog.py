"""Copy a process's output (stdin) to its plain log and to a log in the CRI format kubelet writes
(`<RFC3339Nano> stdout F <line>`), which kwok serves as the pod's logs through the API server.

Usage: python sandbox/crilog.py PLAIN_LOG CRI_LOG   (ends when the process closes its output)
"""
import datetime
import sys


def cri_line(line, now=None):
    stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return stamp.encode() + b" stdout F " + line.rstrip(b"\r\n") + b"\n"


def main(plain, cri):
    with open(plain, "ab", buffering=0) as plain_out, open(cri, "ab", buffering=0) as cri_out:
        for line in sys.stdin.buffer:
            plain_out.write(line)
            cri_out.write(cri_line(line))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
