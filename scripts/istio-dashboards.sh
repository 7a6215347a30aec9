#!/usr/bin/env bash
# Copy Istio's Grafana dashboards (Apache-2.0) from the istio.io/istio Go module at the pinned version
# (sandbox/versions.env ISTIO_MODULE_VERSION) into the observability_addons role, with a NOTICE naming the
# source path and commit. Uses the local module cache first (air-gapped: GOFLAGS=-mod=mod GOPROXY=off works
# when the sandbox was built once); otherwise `go mod download` fetches the module through GOPROXY.
# The copies are generated, never edited by hand (and not committed: see .gitignore).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
. "$root/sandbox/versions.env"
out=${1:-$root/roles/observability_addons/files/dashboards}
files=(istio-mesh-dashboard.gen.json istio-service-dashboard.json istio-workload-dashboard.json
       pilot-dashboard.gen.json istio-performance-dashboard.json)
module="istio.io/istio@$ISTIO_MODULE_VERSION"
modcache=${GOMODCACHE:-$(go env GOMODCACHE 2>/dev/null || echo "$HOME/go/pkg/mod")}
src="$modcache/$module/manifests/addons/dashboards"
if [ ! -d "$src" ]; then
  echo "istio-dashboards: $module is not in the module cache ($modcache); downloading it" >&2
  dir=$(cd /tmp && go mod download -json "$module" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  src="$dir/manifests/addons/dashboards"
fi
commit=${ISTIO_MODULE_VERSION##*-}
mkdir -p "$out"
for f in "${files[@]}"; do
  [ -f "$src/$f" ] || { echo "istio-dashboards: $src/$f is missing" >&2; exit 1; }
  if ! cmp -s "$src/$f" "$out/$f"; then install -m 0644 "$src/$f" "$out/$f"; fi
done
notice="Istio's Grafana dashboards, copied unmodified by scripts/istio-dashboards.sh.
Source: $module, path manifests/addons/dashboards (https://github.com/istio/istio/tree/$commit/manifests/addons/dashboards)
Commit: $commit
Files: ${files[*]}
Copyright Istio Authors. Licensed under the Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).
"
if [ "$(cat "$out/NOTICE" 2>/dev/null)" != "${notice%$'\n'}" ]; then printf '%s' "$notice" >"$out/NOTICE"; fi
echo "istio-dashboards: ${#files[@]} dashboards from $module in $out"
