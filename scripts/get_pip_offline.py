"""Stand-in for ansible-test's downloaded get-pip.py: runs pip from the wheel bundled with the Python
standard library (ensurepip), so sanity venvs bootstrap without reaching the internet. Packages come from
PyPI or the mirror in PIP_INDEX_URL, like every other pip install of this project."""
import glob
import os
import sys

import ensurepip

bundled = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
if not bundled:
    sys.exit("ensurepip has no bundled pip wheel")
sys.path.insert(0, bundled[-1])

from pip._internal.cli.main import main  # noqa: E402  pylint: disable=wrong-import-position

# get-pip.py's own options; pip install does not know them.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install"] + args))
