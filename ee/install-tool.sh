#!/bin/sh
# Install one command-line tool into the execution environment: from the build context (ee/tools/<name>,
# copied by ansible-builder) when present, else downloaded from a mirror URL and checked against its sha256.
# Usage: install-tool.sh <name> <url> <sha256>; a .tar.gz URL is unpacked and <name> taken from it.
# It lands in TOOLS_DIR (default /opt/istio-runbooks/bin, the production inventory's mesh_tools_dir), linked
# from LINK_DIR (default /usr/local/bin).
set -eu
name=$1 url=${2:-} sum=${3:-}
dir=${TOOLS_DIR:-/opt/istio-runbooks/bin}
mkdir -p "$dir"
dest=$dir/$name
here=$(dirname "$0")
if [ -f "$here/tools/$name" ]; then
  install -m 0755 "$here/tools/$name" "$dest"
  echo "install-tool: $name from the build context (ee/tools/$name)"
elif [ -n "$url" ]; then
  if [ -z "$sum" ]; then
    echo "install-tool: ERROR: ${name} URL given without its sha256: pass --build-arg $(echo "$name" | tr a-z A-Z)_SHA256=<sum>" >&2
    exit 1
  fi
  tmp=$(mktemp -d)
  curl -fsSL --retry 3 -o "$tmp/download" "$url"
  echo "$sum  $tmp/download" | sha256sum -c - >/dev/null || {
    echo "install-tool: ERROR: ${name} from $url does not match sha256 $sum" >&2; exit 1; }
  case "$url" in
    *.tar.gz|*.tgz) tar -xzf "$tmp/download" -C "$tmp" && install -m 0755 "$(find "$tmp" -type f -name "$name" | head -n 1)" "$dest" ;;
    *) install -m 0755 "$tmp/download" "$dest" ;;
  esac
  rm -rf "$tmp"
  echo "install-tool: $name from $url (sha256 checked)"
else
  echo "install-tool: ERROR: no $name: put the binary in ee/tools/$name before ansible-builder create, or pass" \
       "--build-arg $(echo "$name" | tr a-z A-Z)_URL=<mirror URL> and $(echo "$name" | tr a-z A-Z)_SHA256=<sum>" >&2
  exit 1
fi
mkdir -p "${LINK_DIR:-/usr/local/bin}"
ln -sf "$dest" "${LINK_DIR:-/usr/local/bin}/$name"
