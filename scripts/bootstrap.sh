#!/usr/bin/env bash
# Install what the project needs: the pinned Python venv (cached outside the repo, keyed by
# requirements.txt and the Python version) and, with --sandbox, the sandbox binaries.
# Air-gapped: set PIP_INDEX_URL to your PyPI mirror and GOPROXY to your Go module mirror.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${ISTIO_RUNBOOKS_CACHE:-$HOME/.cache/istio-runbooks}
py=${PYTHON:-python3}
command -v "$py" >/dev/null || { echo "bootstrap: ERROR: $py not found; install Python 3.11+ or set PYTHON=" >&2; exit 1; }
"$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "bootstrap: ERROR: Python 3.11+ is required (ansible-core 2.19); set PYTHON= to one" >&2; exit 1; }
pyver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
key=$(sha256sum "$root/requirements.txt" | cut -c1-12)
venv=$cache/venv-py$pyver-$key
if [ ! -f "$venv/.complete" ]; then
  echo "bootstrap: creating Python venv $venv (first run takes about a minute)"
  rm -rf "$venv"
  mkdir -p "$cache"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements.txt"
  touch "$venv/.complete"
else
  echo "bootstrap: Python venv ready ($venv)"
fi
ln -sfn "$venv" "$root/.venv"
if [ "${1:-}" = "--sandbox" ]; then
  bash "$root/sandbox/build.sh" all
fi
