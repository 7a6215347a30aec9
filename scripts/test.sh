#!/usr/bin/env bash
# The whole test suite: lint, module sanity, unit tests, sandbox tests and every Molecule scenario.
# Installs what it needs (venv, sandbox binaries) and starts the sandbox if it is not running;
# a sandbox this script started is stopped again at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
timings=()
stage() {  # stage NAME CMD...: run a stage and remember its time for the summary
  local name=$1 start=$SECONDS status=0; shift
  echo "== $name"
  "$@" || status=$?
  timings+=("$(printf '%6ss  %s' $((SECONDS - start)) "$name")")
  return "$status"
}
summary() { echo "== time per stage"; printf '%s\n' "${timings[@]}"; }

stage "bootstrap (Python venv)" bash scripts/bootstrap.sh
stage "Istio Grafana dashboards (module cache)" bash scripts/istio-dashboards.sh
stage "Gateway API CRDs (module cache)" bash scripts/gateway-api-crds.sh
export PATH="$root/.venv/bin:$root/.sandbox/bin:$PATH"
export ANSIBLE_CONFIG="$root/ansible.cfg"

# The sandbox binaries and the sandbox Prometheus build (cold: about 10-14 minutes; cached: seconds) in the background, in a process group of
# their own, while lint, sanity and the unit tests run: none of those needs them.
build_log=$(mktemp)
setsid bash sandbox/build.sh all prometheus >"$build_log" 2>&1 &
build_pid=$!
stop_build() { kill -- -"$build_pid" 2>/dev/null || true; rm -f "$build_log"; }
wait_build() {
  local rc=0
  wait "$build_pid" || rc=$?
  cat "$build_log"
  return "$rc"
}
trap 'summary; stop_build' EXIT
stage "ansible-lint (production profile)" ansible-lint

if [ -d plugins/modules ] && ls plugins/modules/*.py >/dev/null 2>&1; then
  stage "ansible-test sanity (custom modules)" bash scripts/sanity.sh
fi

# With no arguments: the unit tests while the build runs, then everything else. With arguments: those.
[ $# -eq 0 ] && stage "pytest: unit tests" python -m pytest tests/unit
stage "sandbox binaries (built in the background since bootstrap)" wait_build

# Stop the sandbox at the end only when this run started it from nothing; a sandbox that was up
# (even partly) is the user's, and is only completed here.
started=0
status=0
state_existed=0
[ -d "${SANDBOX_STATE_DIR:-$root/.sandbox}" ] && state_existed=1
python -m sandbox status >/dev/null 2>&1 || status=$?
if [ "$status" != 0 ]; then
  echo "== starting the sandbox"
  python -m sandbox up
  [ "$status" = 4 ] && [ "$state_existed" = 0 ] && started=1
fi
cleanup() { summary; stop_build; if [ "$started" = 1 ]; then python -m sandbox down >/dev/null || true; fi; }
trap cleanup EXIT

if [ $# -eq 0 ]; then
  stage "pytest: sandbox tests and Molecule scenarios" python -m pytest tests --ignore=tests/unit
else
  stage "pytest: $*" python -m pytest "$@"
fi
