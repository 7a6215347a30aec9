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

# Sandbox suites run in shards (TEST_SHARDS, default 2 on a machine with 2 or more cores), each on its own
# sandbox: shard 0 in this folder, shard K in a copy of the working tree (under the cache folder) whose sandbox
# ports are moved by 1000*K (SANDBOX_PORT_SHIFT). tests/shards.py splits the suites by their recorded times.
cache=${ISTIO_RUNBOOKS_CACHE:-$HOME/.cache/istio-runbooks}
shards=${TEST_SHARDS:-$( [ "$(nproc)" -ge 2 ] && echo 2 || echo 1 )}
[ "$shards" -ge 1 ] 2>/dev/null || { echo "test: TEST_SHARDS must be 1 or more, got '$shards'" >&2; exit 2; }
base_shift=${SANDBOX_PORT_SHIFT:-0}
shifts=("$base_shift")
started_dirs=()

# Start the sandbox of the current folder unless it runs; remember it when this run started it from nothing
# (a sandbox that was up, even partly, is the user's and is only completed here).
sandbox_up() {
  local status=0 state_existed=0
  [ -d "${SANDBOX_STATE_DIR:-$PWD/.sandbox}" ] && state_existed=1
  python -m sandbox status >/dev/null 2>&1 || status=$?
  if [ "$status" != 0 ]; then
    echo "== starting the sandbox ($PWD, port shift ${SANDBOX_PORT_SHIFT:-0})"
    python -m sandbox up
    [ "$status" = 4 ] && [ "$state_existed" = 0 ] && started_dirs+=("$PWD|${SANDBOX_PORT_SHIFT:-0}")
  fi
  return 0
}
sandbox_down_started() {
  local entry
  for entry in "${started_dirs[@]}"; do
    (cd "${entry%%|*}" && SANDBOX_PORT_SHIFT=${entry##*|} python -m sandbox down >/dev/null 2>&1) || true
  done
}
cleanup() { summary; stop_build; sandbox_down_started; }
trap cleanup EXIT

# A fresh copy of the working tree (uncommitted changes included) for shard K, with the venv link; a sandbox
# left in it by an interrupted run is stopped first.
shard_dir() { echo "$cache/shards/$(printf '%s' "$root" | sha256sum | cut -c1-12)-$1"; }
shard_copy() {
  local dir
  dir=$(shard_dir "$1")
  if [ -d "$dir/.sandbox" ]; then
    (cd "$dir" && SANDBOX_PORT_SHIFT=$2 "$root/.venv/bin/python" -m sandbox down >/dev/null 2>&1) || true
  fi
  rm -rf "$dir" && mkdir -p "$dir"
  tar -C "$root" --exclude=./.venv --exclude='./.sandbox*' --exclude=./artifacts --exclude=./.pytest_cache \
    -cf - . | tar -C "$dir" -xf -
  ln -sfn "$(readlink -f "$root/.venv")" "$dir/.venv"
}

run_shard() {  # run_shard K: the suites of shard K on its own sandbox (K > 0: in its copy, output to its log)
  local k=$1 files status=0
  mapfile -t files < <(python tests/shards.py "$shards" "$k")
  [ "${#files[@]}" -gt 0 ] || return 0
  if [ "$k" = 0 ]; then
    sandbox_up
    SUITE_SECONDS_FILE="$root/artifacts/suite_seconds-0.json" python -m pytest "${files[@]}" || status=$?
    return "$status"
  fi
  local dir shift=${shifts[$k]}
  dir=$(shard_dir "$k")
  (
    cd "$dir"
    export SANDBOX_PORT_SHIFT=$shift ANSIBLE_CONFIG="$dir/ansible.cfg" PATH="$dir/.venv/bin:$dir/.sandbox/bin:$PATH"
    unset SANDBOX_STATE_DIR
    echo "== starting the sandbox ($dir, port shift $shift)"
    python -m sandbox up || exit $?
    SUITE_SECONDS_FILE="$root/artifacts/suite_seconds-$k.json" python -m pytest "${files[@]}" || status=$?
    python -m sandbox down >/dev/null 2>&1 || true
    mkdir -p "$root/artifacts/shard-$k" && cp -a "$dir/artifacts/." "$root/artifacts/shard-$k/" 2>/dev/null || true
    exit "$status"
  ) >"$root/artifacts/test-shard-$k.log" 2>&1
}

sandbox_suites() {
  local k pids=() rc=0
  mkdir -p "$root/artifacts"
  rm -f "$root"/artifacts/suite_seconds*.json
  if [ -z "$(python tests/shards.py 1 0)" ]; then
    echo "test: no sandbox suite matches TEST_SUITES='${TEST_SUITES:-}'" >&2
    return 2
  fi
  for ((k = 1; k < shards; k++)); do
    # the first shift from 1000*K on whose ports are free (a sandbox of the user's may hold some)
    shifts[k]=$(python tests/shards.py --free-shift $((base_shift + 1000 * k)))
    shard_copy "$k" "${shifts[$k]}"
    started_dirs+=("$(shard_dir "$k")|${shifts[$k]}")
    run_shard "$k" &
    pids+=("$!")
  done
  run_shard 0 || rc=$?
  for ((k = 1; k < shards; k++)); do
    wait "${pids[$((k - 1))]}" || rc=$?
    echo "== shard $k of $shards (own sandbox, port shift ${shifts[$k]}): artifacts/test-shard-$k.log"
    cat "$root/artifacts/test-shard-$k.log"
  done
  # one table of suite times for tests/shards.py (copy it to tests/suite_seconds.json to refresh the split)
  python - "$root/artifacts" <<'PY'
import json, pathlib, sys
folder = pathlib.Path(sys.argv[1])
merged = {}
for part in sorted(folder.glob("suite_seconds-*.json")):
    merged.update(json.loads(part.read_text()))
(folder / "suite_seconds.json").write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
PY
  return "$rc"
}

if [ $# -eq 0 ]; then
  stage "pytest: sandbox tests and Molecule scenarios ($shards shards)" sandbox_suites
else
  sandbox_up
  stage "pytest: $*" python -m pytest "$@"
fi
