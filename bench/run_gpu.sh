#!/usr/bin/env bash
# On a GPU machine: the CUDA and emulation tests, compute-sanitizer, our kernel and rule benchmarks
# and the PyTorch peer, with results saved under bench/results/ with the device name.
# Prepare on a development machine: bash scripts/build.sh && bash scripts/bundle-gpu.sh, then carry
# gpu-bundle.tar.xz (about 40 MB with Fashion-MNIST) and run from the repository root:
# bash bench/run_gpu.sh [RESULTS_DIR]. It takes longer than one 10-minute device call: run its steps
# in separate calls when the device allows no more.
set -euo pipefail  # stop at the first failing step: later steps would only hide it
cd "$(dirname "$0")/.."
[ -f gpu-bundle.tar.xz ] || { echo "gpu-bundle.tar.xz missing: run scripts/bundle-gpu.sh first" >&2; exit 1; }
work=$(mktemp -d)
tar -xJf gpu-bundle.tar.xz -C "$work"
bin=$work/gpu-bundle/bin
# cuBLAS and cuDNN from the Python nvidia-* wheels, then our bundled libraries.
wheel_libs=$(python3 -c 'import os, nvidia; print(":".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p, d, "lib"))))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$work/gpu-bundle/lib:${wheel_libs}:${LD_LIBRARY_PATH:-}"
# The driver first: a driver older than the runtime makes every CUDA call fail.
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
device=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-')
results=${1:-bench/results}  # on the device tool's machine, pass "$OUT" so the files come back
mkdir -p "$results"
out=$results/$(date +%Y-%m-%d)
step() { echo "== $*" >&2; }
# No CUDA test may skip here: BIOPROP_REQUIRE_GPU turns a skip into a failure.
export BIOPROP_REQUIRE_GPU=1
step "CUDA tests"
for test in device_query_test cuda_backend_test; do
  "$bin/$test" 2>&1 | tail -40
done | tee "$out-cuda-tests-$device.txt"
# compute-sanitizer on every test that runs our kernels (all of cuda_backend_test, no filter): memcheck
# with the caching allocator bypassed so an overrun of a tensor is not hidden in a larger cached block.
for tool in memcheck racecheck synccheck; do
  step "compute-sanitizer --tool $tool"
  BIOPROP_NO_ALLOCATOR_CACHE=$([ $tool = memcheck ] && echo 1 || echo 0) \
    compute-sanitizer --tool $tool --error-exitcode 1 "$bin/cuda_backend_test" 2>&1 | tail -20 |
    tee "$out-$tool-$device.txt"
done
step "benchmarks"
"$bin/lc_kernels_bench" --benchmark_out="$out-lc-kernels-$device.csv" --benchmark_out_format=csv
BIOPROP_BENCH_DEVICE=cuda "$bin/rule_step_bench" --benchmark_out="$out-rule-steps-$device.csv" --benchmark_out_format=csv
python3 bench/peers/lc_pytorch.py > "$out-lc-pytorch-$device.csv"
python3 bench/peers/train_step_pytorch.py --device cuda > "$out-rule-steps-pytorch-$device.csv"
# The default run on the GPU (BrainProp, conv net; the issue's target: under a minute), then every rule.
"$bin/bioprop" train --device cuda --data-dir "$work/gpu-bundle/fashion-mnist" --no-progress --run-dir "$work/runs" 2>&1 |
  tee "$out-default-run-$device.txt"
BIOPROP="$bin/bioprop" BIOPROP_RESULTS="$results" BIOPROP_ARGS="--device cuda --data-dir $work/gpu-bundle/fashion-mnist" \
  bash bench/compare_rules.sh conv 10 0.85 bp=0.1 brainprop=0.1 qagrel=0.1 fa=0.1 dfa=0.1 sign_symmetry=0.1
