#!/usr/bin/env bash
# ansible-test sanity for this collection (istio_runbooks.mesh, galaxy.yml): copies the tracked plugin files into
# a scratch ansible_collections tree beside kubernetes.core from the venv, then runs the offline tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
dest=$scratch/ansible_collections/istio_runbooks/mesh
mkdir -p "$dest" "$scratch/ansible_collections/kubernetes"
cd "$root"
git ls-files -co --exclude-standard -- plugins meta tests/unit | grep -v '/__pycache__/' | while read -r f; do
  [ -f "$f" ] || continue
  mkdir -p "$dest/$(dirname "$f")"
  cp "$f" "$dest/$f"
done
cp galaxy.yml README.md COPYING "$dest/"
core=$("$root/.venv/bin/python" -c 'import ansible_collections.kubernetes.core as c; print(list(c.__path__)[0])')
ln -s "$core" "$scratch/ansible_collections/kubernetes/core"
# ansible-test bootstraps pip in its sanity venvs with a downloaded get-pip.py; use the stdlib wheel instead.
pip_version=$("$root/.venv/bin/python" - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip='([0-9.]+)'", src).group(1))
PY
)
mkdir -p ~/.ansible/test/cache
cp "$root/scripts/get_pip_offline.py" ~/.ansible/test/cache/"get_pip_${pip_version//./_}.py"
cd "$dest"
# Offline tests that need no extra downloads; the python version is the venv's.
"$root/.venv/bin/ansible-test" sanity --python "$("$root/.venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --test validate-modules --test compile --test import --test yamllint --test action-plugin-docs \
  --test ansible-doc --test empty-init --test line-endings --test no-assert --test no-get-exception \
  --test no-illegal-filenames --test no-smart-quotes --test replace-urlopen --test runtime-metadata \
  --test shebang --test symlinks --test use-argspec-type-path --test use-compat-six --test pep8 --test ignores \
  plugins/ meta/ 2>&1
