"""Run one runbook through ansible-runner, as AWX does: python -m istio_runbooks.run <runbook> --change-id CHG...

The runner's private data folder is <artifacts>/runner (MESH_ARTIFACTS_DIR's parent or ./artifacts), its ident the
change_id (a --check run: <change_id>-plan), so status, rc, job events and the evidence report of a change sit together
under <artifacts>/runner/artifacts/<ident>/.
"""
import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVIDENCE_ENV = "ISTIO_RUNBOOKS_EVIDENCE_DIR"


def known_runbooks():
    """{name: playbook path relative to the repository}: site, and every file in playbooks/ by its stem."""
    found = {"site": "site.yml"}
    found.update((p.stem, "playbooks/" + p.name) for p in sorted((ROOT / "playbooks").glob("*.yml")))
    return found


def resolve(runbook):
    """The playbook of a runbook name ('install', 'playbooks/install.yml', 'site.yml'); ValueError lists the known."""
    books = known_runbooks()
    name = Path(runbook).stem if runbook.endswith(".yml") else runbook
    if name in books and (runbook == name or runbook in (books[name], Path(books[name]).name)):
        return name, books[name]
    raise ValueError("unknown runbook %r; known runbooks: %s" % (runbook, ", ".join(sorted(books))))


def parse_extra(values):
    """-e k=v (several), -e '{"k": ...}' (JSON) or -e @file.yml, merged in order."""
    extra = {}
    for value in values or []:
        if value.startswith("@"):
            import yaml
            extra.update(yaml.safe_load(Path(value[1:]).read_text()) or {})
        elif value.lstrip().startswith("{"):
            extra.update(json.loads(value))
        elif "=" in value:
            key, _, item = value.partition("=")
            extra[key] = item
        else:
            raise ValueError("-e %r: give key=value, a JSON object or @file" % value)
    return extra


def execute(playbook, extra_vars=None, check=False, diff=False, tags=None, inventory=None, timeout=None,
            private_data_dir=None, ident=None, quiet=True, evidence_dir=None, limit=None):
    """ansible_runner.run for one playbook of this project; the same call the tests make."""
    import ansible_runner

    cmdline = (["--check"] if check else []) + (["--diff"] if diff else []) + (["--tags", tags] if tags else [])
    envvars = {"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
               "PATH": os.environ["PATH"]}
    for name in ("SANDBOX_PORT_SHIFT", "SANDBOX_STATE_DIR", "MESH_ARTIFACTS_DIR", "KUBECONFIG"):
        if os.environ.get(name):
            envvars[name] = os.environ[name]
    if evidence_dir:
        envvars[EVIDENCE_ENV] = str(evidence_dir)
    # ansible-runner stores a run's cmdline, envvars and extravars in <private>/env and reads them back when a later
    # run does not pass them: a plan's --check must never carry over into the real run
    shutil.rmtree(os.path.join(str(private_data_dir), "env"), ignore_errors=True)
    return ansible_runner.run(
        private_data_dir=str(private_data_dir), ident=ident, project_dir=str(ROOT), playbook=str(ROOT / playbook),
        inventory=str(ROOT / (inventory or "inventories/sandbox/hosts.yml")), extravars=extra_vars or {},
        cmdline=" ".join(cmdline) or None, envvars=envvars, quiet=quiet, timeout=timeout, limit=limit)


def artifacts_root():
    if os.environ.get("MESH_ARTIFACTS_DIR"):
        return Path(os.environ["MESH_ARTIFACTS_DIR"]).parent
    return ROOT / "artifacts"


def unique_ident(base, private):
    ident, number = base, 1
    while (private / "artifacts" / ident).exists():
        number += 1
        ident = "%s.%d" % (base, number)
    return ident


def main(argv=None, out=None):
    parser = argparse.ArgumentParser(prog="python -m istio_runbooks.run", description=__doc__.split("\n")[0])
    parser.add_argument("runbook", help="site, or a file name in playbooks/ without .yml (install, mtls-strict, ...)")
    parser.add_argument("--change-id", default="", help="the change ticket, e.g. CHG0012345 (the runner's ident)")
    parser.add_argument("--change-url", default="", help="link to the ticket")
    parser.add_argument("--inventory", "-i", default="inventories/sandbox/hosts.yml")
    parser.add_argument("--limit", "-l", default=None)
    parser.add_argument("--check", action="store_true", help="the plan: a dry run, nothing written")
    parser.add_argument("--no-diff", action="store_true", help="leave out diffs (they are on by default)")
    parser.add_argument("--tags", default=None)
    parser.add_argument("-e", "--extra-vars", action="append", default=[], help="key=value, JSON or @file")
    parser.add_argument("--artifacts-dir", default=None, help="the runner's private data folder "
                        "(default <artifacts>/runner)")
    args = parser.parse_args(argv)
    try:
        name, playbook = resolve(args.runbook)
        extra = parse_extra(args.extra_vars)
    except ValueError as exc:
        parser.error(str(exc))
    extra.update(mesh_runbook=name)
    if args.change_id:
        extra["change_id"] = args.change_id
    if args.change_url:
        extra["change_url"] = args.change_url
    private = Path(args.artifacts_dir) if args.artifacts_dir else artifacts_root() / "runner"
    private.mkdir(parents=True, exist_ok=True)
    # the ident is a folder name: only the characters a ticket id uses
    ticket = re.sub(r"[^A-Za-z0-9._-]", "_", args.change_id or "").lstrip(".")
    base = (ticket[:64] or "%s-no-ticket" % name) + ("-plan" if args.check else "")
    ident = unique_ident(base, private)
    evidence_dir = private / "artifacts" / ident / "evidence"
    runner = execute(playbook, extra, check=args.check, diff=not args.no_diff, tags=args.tags, inventory=args.inventory,
                     private_data_dir=private, ident=ident, quiet=False, evidence_dir=evidence_dir, limit=args.limit)
    artifacts = private / "artifacts" / ident
    out = out or sys.stdout
    print("runbook: %s (%s)%s" % (name, playbook, ", plan (--check)" if args.check else ""), file=out)
    print("status: %s, rc: %s" % (runner.status, runner.rc), file=out)
    print("artifacts: %s (job_events/, stdout, rc, status)" % artifacts, file=out)
    print("evidence: %s" % (evidence_dir / "report.md"), file=out)
    return runner.rc


if __name__ == "__main__":
    sys.exit(main())
