#!/usr/bin/env bash
# `bioprop-emulated train --device cuda` (CudaBackend on the emulated device) completes a short run,
# says in its first lines that the device is emulated, and ends with the CPU backend's test accuracy
# (within one point: FP32 sums in other orders may flip an image or two).
# Usage: emulated_matches_cpu.sh BIOPROP BIOPROP_EMULATED WORK_DIR [extra train arguments...]
set -euo pipefail
cpu_binary=$1 emulated_binary=$2 work=$3
shift 3
args=(train --rule bp --batch-size 32 --train-limit 256 --test-limit 500 --epochs 1 --no-progress --run-dir "$work" "$@")
cpu_log=$("$cpu_binary" "${args[@]}" --device cpu 2>&1)
emulated_log=$("$emulated_binary" "${args[@]}" --device cuda 2>&1)
grep -q "device: cuda:0 (bioprop emulated CUDA device" <<<"$emulated_log" || {
  echo "the emulated run does not say it is emulated:"; echo "$emulated_log"; exit 1; }
accuracy() { sed -n 's/.*final test accuracy \([0-9.]*\)%.*/\1/p' <<<"$1"; }
cpu=$(accuracy "$cpu_log") emulated=$(accuracy "$emulated_log")
echo "final test accuracy: cpu ${cpu}%, emulated device ${emulated}%"
[ -n "$cpu" ] && [ -n "$emulated" ] || { echo "$cpu_log"; echo "$emulated_log"; exit 1; }
awk -v a="$cpu" -v b="$emulated" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1.0 && a > 20.0) }' || {
  echo "accuracies differ (or the run did not learn)"; echo "$emulated_log"; exit 1; }
