#!/usr/bin/env bash
# Our bp and BrainProp training steps beside PyTorch's (bench/peers/train_step_pytorch.py, Debian's
# python3-torch) on this machine's CPU, in one run: the same nets, batch sizes, init and optimiser, and
# the same memory measure (peak resident size, reset before each row).
# Usage: bash bench/compare_pytorch_cpu.sh [NETS] [STEPS] [REPETITIONS]
#   (default conv,loccon,deep, 20 steps, 3 repetitions)
# BIOPROP_CPU_CONVOLUTION=im2col times our own convolutions instead of oneDNN's.
# Each repetition times bioprop, PyTorch as installed and PyTorch keeping its freed memory (see below), one
# after the other, and saves bench/results/<date>-rule-steps-vs-pytorch-cpu-<cores>c[-runN]-repK-{bioprop,pytorch,
# pytorch-retained-heap}.csv; bench/peers/cpu_comparison_table.py then writes the medians' table to ...-table.md.
# A later run of the same day gets -run2, -run3, ...: no earlier result is overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
nets=${1:-conv,loccon,deep}
steps=${2:-20}
repetitions=${3:-3}
bash scripts/build.sh > /dev/null
if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-torch
fi
base="bench/results/$(date +%Y-%m-%d)-rule-steps-vs-pytorch-cpu-$(nproc)c"
out=$base
run=1
while [ -e "$out-bioprop.csv" ] || [ -e "$out-rep1-bioprop.csv" ]; do
  run=$((run + 1))
  out="$base-run$run"
done
for repetition in $(seq "$repetitions"); do
  rep="$out-rep$repetition"
  # shellcheck disable=SC2086
  ./build/bioprop bench --device cpu --rules bp brainprop --nets ${nets//,/ } --steps "$steps" --csv "$rep-bioprop.csv"
  /usr/bin/python3 bench/peers/train_step_pytorch.py --device cpu --steps "$steps" --nets "$nets" | tee "$rep-pytorch.csv"
  # PyTorch again with glibc's allocator told to keep freed memory (no trimming, no mmap per tensor): by default
  # PyTorch's CPU tensors go back to the system every step and are faulted in again, which on some virtual
  # machines costs it more than half its speed. bioprop allocates nothing after its first step, so this is the
  # peer's best case on the same machine, and the stricter speed comparison (its memory is then higher).
  MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824 \
    /usr/bin/python3 bench/peers/train_step_pytorch.py --device cpu --steps "$steps" --nets "$nets" |
    tee "$rep-pytorch-retained-heap.csv"
done
/usr/bin/python3 bench/peers/cpu_comparison_table.py "$out" | tee "$out-table.md"
echo "saved $out-rep*-{bioprop,pytorch,pytorch-retained-heap}.csv and $out-table.md"
