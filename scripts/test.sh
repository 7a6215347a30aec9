#!/usr/bin/env bash
# The whole test suite: lint, module sanity, unit tests, sandbox tests and every Molecule scenario.
# Installs what it needs (venv, sandbox binaries) and starts the sandbox if it is not running;
# a sandbox this script started is stopped again at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/bootstrap.sh --sandbox
export PATH="$root/.venv/bin:$root/.sandbox/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"

echo "== ansible-lint (production profile)"
ansible-lint

if [ -d plugins/modules ] && ls plugins/modules/*.py >/dev/null 2>&1; then
  echo "== ansible-test sanity (custom modules)"
  bash scripts/sanity.sh
fi

# Stop the sandbox at the end only when this run started it from nothing; a sandbox that was up
# (even partly) is the user's, and is only completed here.
started=0
status=0
python -m sandbox status >/dev/null 2>&1 || status=$?
if [ "$status" != 0 ]; then
  echo "== starting the sandbox"
  python -m sandbox up
  [ "$status" = 4 ] && started=1
fi
cleanup() { if [ "$started" = 1 ]; then python -m sandbox down >/dev/null || true; fi; }
trap cleanup EXIT

echo "== pytest: unit, sandbox and Molecule scenarios"
python -m pytest "$@"
