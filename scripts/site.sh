#!/usr/bin/env bash
# The main job: install everything, start the sandbox and run site.yml against it.
# Extra arguments go to ansible-playbook (e.g. --check --diff, --tags mtls).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/bootstrap.sh --sandbox
bash scripts/istio-dashboards.sh   # Grafana dashboards from the istio.io/istio module cache
bash scripts/gateway-api-crds.sh   # Gateway API CRDs from the sigs.k8s.io/gateway-api module cache
.venv/bin/python -m sandbox up
export PATH="$root/.venv/bin:$root/.sandbox/bin:$PATH"
exec ansible-playbook site.yml "$@"
