#!/usr/bin/env bash
# On a GPU machine: the CUDA tests, compute-sanitizer, our kernel and rule benchmarks, the PyTorch peer
# and training runs, with results saved under RESULTS_DIR with the device name.
# Prepare on a development machine: bash scripts/build.sh && bash scripts/bundle-gpu.sh, then carry
# gpu-bundle.tar.xz (about 40 MB with Fashion-MNIST) and run from the repository root:
#   bash bench/run_gpu.sh RESULTS_DIR [SECONDS] [STEP...]
# STEPs (in the order given; default: all but rules): tools tests train bench memcheck racecheck synccheck
# rules. SECONDS (default 3000) bounds the whole run: each step gets its own limit, cut to what is left,
# so a lease of a few minutes still ends with its logs written. Every step runs even when an earlier one
# failed (a lease is too short to stop at the first failure); the exit status is non-zero if any failed,
# and the last lines printed are a table of the steps. The device tool returns at most 8 files: there,
#   bash bench/run_gpu.sh /tmp/r 330 tools tests train memcheck bench; tar -czf "$OUT/r.tgz" -C /tmp r
set -uo pipefail
cd "$(dirname "$0")/.." || exit
[ -f gpu-bundle.tar.xz ] || { echo "gpu-bundle.tar.xz missing: run scripts/bundle-gpu.sh first" >&2; exit 1; }
results=${1:-bench/results}  # on the device tool's machine, pass "$OUT" so the files come back
budget=${2:-3000}
shift $(($# >= 2 ? 2 : $#))
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(tools tests train bench memcheck racecheck synccheck)
deadline=$((SECONDS + budget))
work=$(mktemp -d)
tar -xJf gpu-bundle.tar.xz -C "$work"
bin=$work/gpu-bundle/bin data=$work/gpu-bundle/fashion-mnist
# cuBLAS and cuDNN from the Python nvidia-* wheels, then our bundled libraries.
wheel_libs=$(python3 -c 'import os, nvidia; print(":".join(os.path.join(p, d, "lib") for p in nvidia.__path__ for d in sorted(os.listdir(p)) if os.path.isdir(os.path.join(p, d, "lib"))))' 2>/dev/null || true)
export LD_LIBRARY_PATH="$work/gpu-bundle/lib:${wheel_libs}:${LD_LIBRARY_PATH:-}"
# No CUDA test may skip here: BIOPROP_REQUIRE_GPU turns a skip into a failure.
export BIOPROP_REQUIRE_GPU=1
device=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-')
device=${device:-no-gpu}
mkdir -p "$results"
out=$results/$(date +%Y-%m-%d)
summary=()

# Runs one step's commands under a limit of LIMIT seconds (cut to the run's deadline), its output in
# $out-STEP-$device.txt and on the console's tail, and records its status and time for the table.
run_step() {
  local name=$1 limit=$2
  shift 2
  local left=$((deadline - SECONDS))
  ((limit > left)) && limit=$left
  if ((limit < 5)); then
    summary+=("$(printf '%-10s %-8s %5s s' "$name" skipped -)")
    return
  fi
  echo "== $name (limit $limit s)" >&2
  local start=$SECONDS status
  timeout --signal=TERM --kill-after=5 "$limit" bash -c "$*" > "$out-$name-$device.txt" 2>&1
  status=$?
  tail -n 25 "$out-$name-$device.txt"
  local verdict=ok
  ((status == 124 || status == 137)) && verdict=timeout
  ((status != 0 && status != 124 && status != 137)) && verdict="failed($status)"
  summary+=("$(printf '%-10s %-8s %5d s' "$name" "$verdict" $((SECONDS - start)))")
  [ "$verdict" = ok ] || failed=1
}
export bin data out device

failed=0
sanitize() {  # compute-sanitizer on every test that runs our kernels; memcheck bypasses the allocator
  # cache so an overrun of a tensor is not hidden inside a larger cached block.
  local tool=$1
  echo "BIOPROP_NO_ALLOCATOR_CACHE=$([ "$tool" = memcheck ] && echo 1 || echo 0)" \
    "compute-sanitizer --tool $tool --error-exitcode 1 \"\$bin/cuda_backend_test\""
}
# shellcheck disable=SC2016  # each step is a command line that bash -c expands with the exported names
for step in "${steps[@]}"; do
  case $step in
    tools) run_step tools 60 'nvidia-smi; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv;
      ncu --version; compute-sanitizer --version; ldd "$bin/bioprop" | grep -E "not found|cublas|cudnn"' ;;
    tests) run_step tests 180 '"$bin/device_query_test" && "$bin/cuda_backend_test"' ;;
    train) run_step train 180 '"$bin/bioprop" train --device cuda --data-dir "$data" --no-progress --run-dir "$(mktemp -d)"' ;;
    bench) run_step bench 300 '"$bin/lc_kernels_bench" --benchmark_min_time=0.3 --benchmark_out="$out-lc-kernels-$device.csv" --benchmark_out_format=csv &&
      python3 bench/peers/lc_pytorch.py > "$out-lc-pytorch-$device.csv" && cat "$out-lc-pytorch-$device.csv" &&
      BIOPROP_BENCH_DEVICE=cuda "$bin/rule_step_bench" --benchmark_min_time=1 --benchmark_out="$out-rule-steps-$device.csv" --benchmark_out_format=csv &&
      python3 bench/peers/train_step_pytorch.py --device cuda > "$out-rule-steps-pytorch-$device.csv" && cat "$out-rule-steps-pytorch-$device.csv" &&
      BIOPROP_BENCH_DEVICE=cuda "$bin/dendrites_bench" --benchmark_min_time=1 --benchmark_out="$out-dendrites-$device.csv" --benchmark_out_format=csv' ;;
    memcheck | racecheck | synccheck) run_step "$step" 300 "$(sanitize "$step")" ;;
    rules) run_step rules 1200 '"$bin/bioprop" compare --device cuda --data-dir "$data" --no-progress --net conv --seeds 1 \
      --max-epochs 10 --target-accuracy 0.85 --out "$(dirname "$out")/rules-conv-fashion-mnist-$device" --rules bp=0.1 \
      brainprop=0.1 qagrel=0.1 fa=0.1 dfa=0.1 sign_symmetry=0.1 learned_feedback=0.1 learned_feedback+direct=true=0.1' ;;
    *) echo "unknown step '$step' (tools tests train bench memcheck racecheck synccheck rules)" >&2; exit 2 ;;
  esac
done
echo "== $device: $(date -u +%FT%TZ)"
printf '%s\n' "${summary[@]}"
exit $failed
