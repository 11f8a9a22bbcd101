#!/usr/bin/env bash
# Installs what the build needs (idempotent) and builds bioprop, its tests and benchmarks (Release)
# into build/. Extra arguments go to cmake's configure step, e.g. -DCMAKE_CUDA_ARCHITECTURES=80.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build build -j "$(nproc)"
