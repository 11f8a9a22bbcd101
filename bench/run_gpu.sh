#!/usr/bin/env bash
# On a GPU machine, with build/ carried from a development machine: the CUDA tests, compute-sanitizer,
# our kernel and rule benchmarks and the PyTorch peer, results saved with the device name.
# Usage: bash bench/run_gpu.sh   (from the repository root)
set -uo pipefail
cd "$(dirname "$0")/.."
device=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')
day=$(date +%Y-%m-%d)
out=bench/results
(cd build && ctest -R "Cuda|Emulat" --output-on-failure) 2>&1 | tee "$out/$day-cuda-tests-$device.txt"
compute-sanitizer --tool memcheck build/tests/cuda_backend_test 2>&1 | tail -20 | tee "$out/$day-memcheck-$device.txt"
compute-sanitizer --tool racecheck build/tests/cuda_backend_test --gtest_filter='*Convolution*' 2>&1 | tail -20 \
  | tee "$out/$day-racecheck-$device.txt"
build/bench/lc_kernels_bench --benchmark_out="$out/$day-lc-kernels-$device.csv" --benchmark_out_format=csv
BIOPROP_BENCH_DEVICE=cuda build/bench/rule_step_bench --benchmark_out="$out/$day-rule-steps-$device.csv" \
  --benchmark_out_format=csv
python3 bench/peers/lc_pytorch.py > "$out/$day-lc-pytorch-$device.csv"
