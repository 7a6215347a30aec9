#!/usr/bin/env bash
# Build the sandbox binaries from Go modules into a version-keyed cache:
#   $ISTIO_RUNBOOKS_CACHE/bin/<component>-<version>   (default ~/.cache/istio-runbooks)
# Usage: sandbox/build.sh [all|kubernetes|etcd|kwok|istio|proxies|prometheus]...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
CACHE=${ISTIO_RUNBOOKS_CACHE:-$HOME/.cache/istio-runbooks}
BIN=$CACHE/bin
LOGS=$CACHE/logs
mkdir -p "$BIN" "$LOGS" "$CACHE/src"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=${GOTOOLCHAIN:-local}

die() { echo "sandbox build: ERROR: $*" >&2; exit 1; }
say() { echo "sandbox build: $*"; }

command -v go >/dev/null 2>&1 || die "no Go toolchain on PATH. Install Go >= 1.26 (e.g. 'apt-get install golang-go' or your mirror's Go), or run the playbooks against a real cluster, which needs no Go (see README 'Real clusters')."

# The binary is valid when it exists, is executable and prints a version.
valid() {
  [ -x "$1" ] || return 1
  "$1" --version >/dev/null 2>&1 || "$1" version --client >/dev/null 2>&1 || "$1" version --remote=false >/dev/null 2>&1 || "$1" version >/dev/null 2>&1
}

check_or_clear() {  # remove a cached binary that does not run (corrupted cache)
  local f=$1
  if [ -e "$f" ] && ! valid "$f"; then
    say "cached $(basename "$f") is corrupted; removing it and rebuilding"
    rm -f "$f"
  fi
  [ -e "$f" ]
}

# run_go LOGNAME CMD... : run a go command with its output in a log, and a heartbeat
run_go() {
  local name=$1; shift
  local log=$LOGS/build-$name.log start=$SECONDS
  : >"$log"
  ( "$@" >>"$log" 2>&1 ) & local pid=$!
  local next=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if [ "$SECONDS" -ge "$next" ]; then
      next=$((SECONDS + 30))
      say "  $name: $((SECONDS - start))s, last: $(tail -n 1 "$log" | cut -c1-100)"
    fi
  done
  if ! wait "$pid"; then
    if grep -qE "dial tcp|no such host|connection refused|i/o timeout|TLS handshake" "$log"; then
      die "$name: the Go module proxy is unreachable (GOPROXY=$(go env GOPROXY)). Set GOPROXY to a reachable mirror, or pre-fill GOMODCACHE and set GOFLAGS=-mod=mod GOPROXY=off. Log: $log"
    fi
    if grep -qE "403 Forbidden|404 Not Found|410 Gone|not available|unknown revision" "$log"; then
      grep -m1 -E "403 Forbidden|404 Not Found|410 Gone|not available|unknown revision" "$log" >&2
      die "$name: a module version it needs is not served by GOPROXY=$(go env GOPROXY). Pin another served version in sandbox/versions.env, or point GOPROXY at a mirror that has it. Log: $log"
    fi
    tail -n 20 "$log" >&2
    die "$name: go build failed. Full log: $log"
  fi
  say "  $name: done in $((SECONDS - start))s"
}

build_kubernetes() {
  local v=$K8S_VERSION comps=(kube-apiserver kube-controller-manager kube-scheduler kubectl) need=()
  for c in "${comps[@]}"; do check_or_clear "$BIN/$c-$v" || need+=("$c"); done
  [ ${#need[@]} -eq 0 ] && { say "kubernetes $v: cached"; return; }
  say "kubernetes $v: building ${need[*]} (cold: about 15-25 min on 2 cores)"
  local src=$CACHE/src/kubernetes-$v
  mkdir -p "$src"
  go mod download -json "k8s.io/kubernetes@$v" >"$src/download.json" 2>"$LOGS/build-kubernetes-download.log" \
    || { grep -qE "dial tcp|no such host|refused|timeout" "$LOGS/build-kubernetes-download.log" && die "the Go module proxy is unreachable (GOPROXY=$(go env GOPROXY)); set GOPROXY to a reachable mirror."; die "k8s.io/kubernetes@$v is not served; set K8S_VERSION in sandbox/versions.env to a served release. Log: $LOGS/build-kubernetes-download.log"; }
  local upstream
  upstream=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])' <"$src/download.json")
  {
    echo "module istio-runbooks.local/kubernetes-build"
    echo "go 1.26"
    echo "require k8s.io/kubernetes $v"
    # one replace per staging module named in upstream's go.mod
    grep -E '=> \./staging/src/' "$upstream" | awk -v sv="$K8S_STAGING_VERSION" '{print "replace " $1 " => " $1 " " sv}'
  } >"$src/go.mod"
  local minor=${v#v1.}; minor=${minor%%.*}
  local ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z -X $p.gitCommit=release-$v"
  done
  local pkgs=()
  for c in "${need[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  (cd "$src" && run_go kubernetes-get go get "${pkgs[@]/%/@$v}")
  for c in "${need[@]}"; do
    (cd "$src" && run_go "$c" go build -v -tags selinux,notest -ldflags "$ld" -o "$BIN/.$c-$v.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$BIN/.$c-$v.tmp" "$BIN/$c-$v"
  done
}

build_etcd() {
  local v=$ETCD_VERSION
  check_or_clear "$BIN/etcd-$v" && { say "etcd $v: cached"; return; }
  say "etcd $v: building (cold: about 3 min)"
  local src=$CACHE/src/etcd-$v
  mkdir -p "$src"
  printf 'module istio-runbooks.local/etcd-build\n\ngo 1.26\n' >"$src/go.mod"
  printf 'package main\n\nimport (\n\t"os"\n\n\t"go.etcd.io/etcd/server/v3/etcdmain"\n)\n\nfunc main() { etcdmain.Main(os.Args) }\n' >"$src/main.go"
  (cd "$src" && run_go etcd-get go get "go.etcd.io/etcd/server/v3@$v")
  (cd "$src" && run_go etcd go build -v -ldflags "-s -w" -o "$BIN/.etcd-$v.tmp" .)
  mv "$BIN/.etcd-$v.tmp" "$BIN/etcd-$v"
}

kwok_stages() {  # copy kwok's own fast node/pod stages beside the binary
  local v=$KWOK_VERSION share=$CACHE/share/kwok-$KWOK_VERSION
  [ -s "$share/stages.yaml" ] && return
  local dir
  dir=$(go mod download -json "sigs.k8s.io/kwok@$v" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  mkdir -p "$share"
  for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"; cat "$dir/kustomize/stage/$f"
  done >"$share/.stages.yaml.tmp"
  mv "$share/.stages.yaml.tmp" "$share/stages.yaml"
}

build_kwok() {
  local v=$KWOK_VERSION
  kwok_stages
  check_or_clear "$BIN/kwok-$v" && { say "kwok $v: cached"; return; }
  say "kwok $v: building (cold: about 5 min)"
  local gobin=$CACHE/src/kwok-$v
  mkdir -p "$gobin"
  run_go kwok env GOBIN="$gobin" go install -v -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$v" "sigs.k8s.io/kwok/cmd/kwok@$v"
  mv "$gobin/kwok" "$BIN/kwok-$v"
}

build_istio() {
  local v=$ISTIO_VERSION need=()
  for c in pilot-discovery istioctl; do check_or_clear "$BIN/$c-$v" || need+=("$c"); done
  [ ${#need[@]} -eq 0 ] && { say "istio $v: cached"; return; }
  say "istio $v ($ISTIO_MODULE_VERSION): building ${need[*]} (cold: about 15-25 min)"
  local gobin=$CACHE/src/istio-$v
  mkdir -p "$gobin"
  local p=istio.io/istio/pkg/version
  local ld="-s -w -X $p.buildVersion=$v -X $p.buildTag=$v -X $p.buildHub=$ISTIO_HUB -X $p.buildGitRevision=${ISTIO_MODULE_VERSION##*-} -X $p.buildStatus=Clean"
  local pkgs=()
  for c in "${need[@]}"; do
    case $c in
      pilot-discovery) pkgs+=("istio.io/istio/pilot/cmd/pilot-discovery@$ISTIO_MODULE_VERSION") ;;
      istioctl) pkgs+=("istio.io/istio/istioctl/cmd/istioctl@$ISTIO_MODULE_VERSION") ;;
    esac
  done
  run_go istio env GOBIN="$gobin" go install -v -ldflags "$ld" "${pkgs[@]}"
  for c in "${need[@]}"; do mv "$gobin/$c" "$BIN/$c-$v"; done
}

build_proxies() {  # simulated sidecars (sandbox/proxies/main.go), keyed by the Istio version and the source
  local v=$ISTIO_VERSION sum
  sum=$(sha256sum "$here/proxies/main.go" | cut -c1-12)
  local name=sandbox-proxies-$v-$sum
  check_or_clear "$BIN/$name" && { say "proxies $v-$sum: cached"; return; }
  say "proxies $v-$sum: building (seconds after the istio build, whose compiled packages it reuses; about 3 min alone)"
  local src=$CACHE/src/proxies-$v-$sum
  mkdir -p "$src"
  cp "$here/proxies/main.go" "$src/main.go"
  # istio.io/istio pins go-control-plane, grpc and protobuf to what the istio build already compiled
  printf 'module istio-runbooks.local/sandbox-proxies\n\ngo 1.26\n\nrequire istio.io/istio %s\n' "$ISTIO_MODULE_VERSION" >"$src/go.mod"
  (cd "$src" && run_go proxies go build -v -ldflags "-s -w -X main.version=$v" -o "$BIN/.$name.tmp" .)
  mv "$BIN/.$name.tmp" "$BIN/$name"
}

build_prometheus() {  # Prometheus server and promtool: discovery trimmed to file, HTTP and Kubernetes; no web UI assets
  local v=$PROMETHEUS_VERSION need=()
  for c in prometheus promtool; do check_or_clear "$BIN/$c-$v" || need+=("$c"); done
  [ ${#need[@]} -eq 0 ] && { say "prometheus $v: cached"; return; }
  say "prometheus $v: building ${need[*]} (cold: about 5 min of CPU, minutes on 2 idle cores)"
  local gobin=$CACHE/src/prometheus-$v
  mkdir -p "$gobin"
  local p=github.com/prometheus/common/version release=${v#v0.}
  release="3.${release#3}"  # module v0.316.0 is Prometheus 3.16.0
  local ld="-s -w -X $p.Version=$release -X $p.Revision=module-$v -X $p.Branch=release -X $p.BuildUser=istio-runbooks -X $p.BuildDate=19700101-00:00:00"
  local pkgs=()
  for c in "${need[@]}"; do pkgs+=("github.com/prometheus/prometheus/cmd/$c@$v"); done
  # remove_all_sd drops every cloud SDK; enable_kubernetes_sd brings back the discovery the scrape config uses
  run_go prometheus env GOBIN="$gobin" go install -v -tags remove_all_sd,enable_kubernetes_sd -ldflags "$ld" "${pkgs[@]}"
  for c in "${need[@]}"; do mv "$gobin/$c" "$BIN/$c-$v"; done
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(all)
start=$SECONDS
for t in "${targets[@]}"; do
  case $t in
    all) build_etcd; build_kwok; build_kubernetes; build_istio; build_proxies ;;
    kubernetes) build_kubernetes ;;
    etcd) build_etcd ;;
    kwok) build_kwok ;;
    istio) build_istio ;;
    proxies) build_proxies ;;
    prometheus) build_prometheus ;;
    *) die "unknown target '$t' (valid: all kubernetes etcd kwok istio proxies prometheus)" ;;
  esac
done
say "all requested binaries ready in $BIN ($((SECONDS - start))s)"
