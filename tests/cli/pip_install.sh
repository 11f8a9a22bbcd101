#!/usr/bin/env bash
# `pip install .` (issue 19): setup.py builds the module through the project's CMake and pip installs the package.
# Here it reuses this build folder (BIOPROP_CMAKE_BUILD_DIR) so the test costs no second build, and installs into a
# scratch folder (--target) rather than the system's Python. Usage: pip_install.sh SOURCE_DIR BUILD_DIR PYTHON
set -euo pipefail
source_dir=$1 build_dir=$2 python=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$source_dir"
BIOPROP_CMAKE_BUILD_DIR=$build_dir "$python" -m pip install --quiet --no-build-isolation --no-deps \
  --target "$work/site" . 2>&1 | tail -20
ls "$work/site/bioprop"
cd "$work"
PYTHONPATH="$work/site" "$python" - <<'PY'
import bioprop
assert bioprop.__file__.startswith(__import__("os").getcwd()), bioprop.__file__  # the installed copy
rules = {r["name"] for r in bioprop.list_rules()}
assert {"bp", "brainprop"} <= rules, rules
print("pip-installed bioprop from", bioprop.__file__, "with", len(rules), "rules")
PY
