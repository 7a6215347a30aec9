"""python -m sandbox {build,up,down,status,env,istiod,proxies,prometheus,etcd}"""
import argparse
import os
import shlex
import subprocess
import sys

from .cluster import Sandbox, SandboxError, CONTROL_PLANE
from . import config
from . import prometheus


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local Kubernetes + istiod sandbox on 127.0.0.1")
    parser.add_argument("--cluster", default=None,
                        help="a named sandbox beside the default one, with its own state folder (.sandbox-NAME) "
                             "and ports (shifted by SANDBOX_CLUSTER_PORT_OFFSET, default 2000); default: "
                             "SANDBOX_CLUSTER, else the default sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="build the binaries into the version-keyed cache").add_argument(
        "targets", nargs="*", default=["all"])
    sub.add_parser("up", help="start (idempotent) and wait until the API is ready")
    down = sub.add_parser("down", help="stop what the sandbox started and remove its state")
    down.add_argument("--keep-state", action="store_true", help="keep certs, data and logs")
    sub.add_parser("status", help="what is running, with resident memory (exit 0 all up, 3 partly, 4 nothing)")
    sub.add_parser("env", help="shell exports for the sandbox kubeconfig")
    istiod = sub.add_parser("istiod", help="run istiod out-of-cluster for one revision (after Istio is installed)")
    istiod.add_argument("action", choices=["up", "down", "port"],
                        help="port: print the webhook port the revision's istiod uses (allocated once, then stable)")
    istiod.add_argument("--revision", default="default", help='"all" with down stops every revision')
    istiod.add_argument("--port-offset", type=int, default=None,
                        help="added to every istiod port (default: the revision's recorded slot)")
    proxies = sub.add_parser("proxies", help="simulated sidecars: one xDS stream per Running pod to the real istiod")
    proxies.add_argument("action", choices=["up", "down"])
    proxies.add_argument("--namespace", action="append", default=[], help="repeatable; required with up")
    proxies.add_argument("--stale", default="", help="pods (comma-separated) that never acknowledge (STALE)")
    proxies.add_argument("--error", default="", help="pods (comma-separated) that reject every response (ERROR)")
    proxies.add_argument("--revision", default="default", help="the istiod revision to connect to")
    prom = sub.add_parser("prometheus", help="a real Prometheus on 127.0.0.1 with the observability_addons role's "
                                             "scrape config, scraping istiod and a synthetic istio_requests_total")
    prom.add_argument("action", choices=["up", "down", "traffic"],
                      help="traffic: replace the synthetic flows (a running Prometheus keeps scraping)")
    prom.add_argument("--flow", action="append", default=None,
                      help="repeatable: SOURCE_NS/WORKLOAD->DEST_NS/WORKLOAD:mutual_tls|plaintext, "
                           "e.g. legacy/curl->foo/httpbin:plaintext")
    etcd = sub.add_parser("etcd", help="faults for reliability tests: pause (SIGSTOP: requests stall), resume, "
                                        "restart (stop and start etcd; kube-apiserver keeps running)")
    etcd.add_argument("action", choices=["pause", "resume", "restart"])
    args = parser.parse_args(argv)

    if args.command == "build":
        script = config.REPO_ROOT / "sandbox" / "build.sh"
        return subprocess.call(["bash", str(script)] + args.targets)
    try:
        box = Sandbox(cluster=args.cluster)
        if args.command == "up":
            box.up()
        elif args.command == "down":
            box.down(keep_state=args.keep_state)
        elif args.command == "status":
            rows = box.status()
            total = 0
            for row in rows:
                state = f"running pid {row['pid']:<7} rss {row['rss_mib']:>7.1f} MiB" if row["running"] else "stopped"
                print(f"{row['name']:<24} {state}")
                total += row["rss_mib"]
            print(f"{'total':<24} rss {total:.1f} MiB")
            record = prometheus.info(box)
            if record and any(r["running"] for r in rows if r["name"] == "prometheus"):
                print(f"prometheus: {record['url']} (istiod target {record['istiod_target']}, "
                      f"synthetic job {record['synthetic_job']} on {record['exporter']})")
            running = [r["running"] for r in rows if r["name"] in CONTROL_PLANE]
            return 0 if all(running) else 3 if any(running) else 4
        elif args.command == "istiod":
            if args.action == "port":
                print(box.istiod_ports(box.istiod_offset(args.revision))["webhook"])
            elif args.action == "up":
                started = box.istiod_up(args.revision, args.port_offset)
                print(f"sandbox: istiod-{args.revision} {'started' if started else 'already running'}")
            else:
                names = [n.split("-", 1)[1] for n in box.istiod_names()] if args.revision == "all" else [args.revision]
                for revision in names or ["all"]:
                    stopped = revision != "all" and box.istiod_down(revision)
                    print(f"sandbox: istiod-{revision} {'stopped' if stopped else 'was not running'}")
        elif args.command == "proxies":
            if args.action == "down":
                print(f"sandbox: proxies {'stopped' if box.proxies_down() else 'were not running'}")
            else:
                if not args.namespace:
                    parser.error("proxies up needs --namespace")
                split = lambda value: [v.strip() for v in value.split(",") if v.strip()]  # noqa: E731
                count = box.proxies_up(args.namespace, split(args.stale), split(args.error), args.revision)
                print(f"sandbox: proxies up: {count} streams connected to istiod-{args.revision}")
        elif args.command == "prometheus":
            if args.action == "down":
                stopped = prometheus.down(box)
                print(f"sandbox: {'stopped ' + ', '.join(stopped) if stopped else 'prometheus was not running'}")
            elif args.action == "traffic":
                flows = prometheus.traffic(box, args.flow or [])
                print(f"sandbox: synthetic exporter serves {len(flows)} flow(s)")
            else:
                prometheus.up(box, args.flow)
                print(f"sandbox: prometheus up at {prometheus.url(box)}")
        elif args.command == "etcd":
            getattr(box, args.action)("etcd")
            print(f"sandbox: etcd {dict(pause='paused', resume='resumed', restart='restarted')[args.action]}")
        elif args.command == "env":
            for key, value in box.env().items():
                print(f"export {key}={shlex.quote(value)}")
            print(f"export PATH={shlex.quote(str(box.paths.state / 'bin'))}:\"$PATH\"")
    except (SandboxError, ValueError) as exc:
        print(f"sandbox: ERROR: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
