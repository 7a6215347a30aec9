#!/usr/bin/env bash
# Copy the Gateway API CRDs (standard channel, Apache-2.0) from the sigs.k8s.io/gateway-api Go module at the
# pinned version (sandbox/versions.env GATEWAY_API_VERSION) into the mesh_gateways role, with a NOTICE naming
# the source path and version. Uses the local module cache first (air-gapped: a filled cache, or GOPROXY at a
# mirror); otherwise `go mod download` fetches the module through GOPROXY. A second argument names a local
# folder holding config/crd/standard/*.yaml (a checkout or an unpacked release) to copy from instead.
# The copies are generated, never edited by hand (and not committed: see .gitignore).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck disable=SC1091
. "$root/sandbox/versions.env"
out=${1:-$root/roles/mesh_gateways/files/gateway-api-crds}
module="sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION"
if [ -n "${2:-}" ]; then
  src="$2/config/crd/standard"
else
  modcache=${GOMODCACHE:-$(go env GOMODCACHE 2>/dev/null || echo "$HOME/go/pkg/mod")}
  src="$modcache/$module/config/crd/standard"
  if [ ! -d "$src" ]; then
    echo "gateway-api-crds: $module is not in the module cache ($modcache); downloading it" >&2
    dir=$(cd /tmp && go mod download -json "$module" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    src="$dir/config/crd/standard"
  fi
fi
[ -d "$src" ] || { echo "gateway-api-crds: $src is missing" >&2; exit 1; }
mkdir -p "$out"
files=()
for path in "$src"/*.yaml; do
  f=$(basename "$path")
  files+=("$f")
  if ! cmp -s "$path" "$out/$f"; then install -m 0644 "$path" "$out/$f"; fi
done
[ ${#files[@]} -gt 0 ] || { echo "gateway-api-crds: no *.yaml in $src" >&2; exit 1; }
for old in "$out"/*.yaml; do  # files an older version had and this one has not
  [ -f "$src/$(basename "$old")" ] || rm -f "$old"
done
notice="Gateway API CRDs (standard channel), copied unmodified by scripts/gateway-api-crds.sh.
Source: $module, path config/crd/standard (https://github.com/kubernetes-sigs/gateway-api/tree/$GATEWAY_API_VERSION/config/crd/standard)
Version: $GATEWAY_API_VERSION
Files: ${files[*]}
Copyright The Kubernetes Authors. Licensed under the Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).
"
if [ "$(cat "$out/NOTICE" 2>/dev/null)" != "${notice%$'\n'}" ]; then printf '%s' "$notice" >"$out/NOTICE"; fi
echo "gateway-api-crds: ${#files[@]} files from $module in $out"
