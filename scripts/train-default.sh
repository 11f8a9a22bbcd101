#!/usr/bin/env bash
# Sets up, builds and runs the default training: BrainProp on Fashion-MNIST with the conv net.
# Extra arguments go to `bioprop train` (see `build/bioprop train --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
./build/bioprop train "$@"
