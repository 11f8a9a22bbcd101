#!/usr/bin/env bash
# CPU epoch-time benchmark of the dense and conv nets (bp, Fashion-MNIST shapes).
# Usage: bash bench/run_cpu.sh   (builds first). Saves bench/results/<date>-cpu-<cores>c-<model>.csv
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh > /dev/null
model=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/[^A-Za-z0-9]\+/-/g; s/-$//')
out="bench/results/$(date +%Y-%m-%d)-cpu-$(nproc)c-${model}.csv"
./build/bench/epoch_time_bench --benchmark_min_time=3 --benchmark_out="$out" --benchmark_out_format=csv
echo "saved $out"
