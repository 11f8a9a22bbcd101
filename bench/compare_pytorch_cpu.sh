#!/usr/bin/env bash
# Our bp and BrainProp training steps beside PyTorch's (bench/peers/train_step_pytorch.py, Debian's
# python3-torch) on this machine's CPU, in one run: the same nets, batch sizes, init and optimiser, and
# the same memory measure (peak resident size, reset before each row).
# Usage: bash bench/compare_pytorch_cpu.sh [NETS] [STEPS]   (default conv,loccon,deep and 20 steps)
# BIOPROP_CPU_CONVOLUTION=im2col times our own convolutions instead of oneDNN's.
# Saves bench/results/<date>-rule-steps-vs-pytorch-cpu-<cores>c[-runN]-{bioprop,pytorch,pytorch-retained-heap}.csv
# (PyTorch as installed, and with its freed memory kept; see below); a later run of the same day gets -run2,
# -run3, ...: no earlier result is overwritten.
set -euo pipefail
cd "$(dirname "$0")/.."
nets=${1:-conv,loccon,deep}
steps=${2:-20}
bash scripts/build.sh > /dev/null
if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-torch
fi
base="bench/results/$(date +%Y-%m-%d)-rule-steps-vs-pytorch-cpu-$(nproc)c"
out=$base
run=1
while [ -e "$out-bioprop.csv" ] || [ -e "$out-pytorch.csv" ]; do
  run=$((run + 1))
  out="$base-run$run"
done
# shellcheck disable=SC2086
./build/bioprop bench --device cpu --rules bp brainprop --nets ${nets//,/ } --steps "$steps" --csv "$out-bioprop.csv"
/usr/bin/python3 bench/peers/train_step_pytorch.py --device cpu --steps "$steps" --nets "$nets" | tee "$out-pytorch.csv"
# PyTorch again with glibc's allocator told to keep freed memory (no trimming, no mmap per tensor): by default
# PyTorch's CPU tensors go back to the system every step and are faulted in again, which on some virtual
# machines costs it more than half its speed. bioprop allocates nothing after its first step, so this is the
# peer's best case on the same machine, and the stricter speed comparison (its memory is then higher).
MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=1073741824 \
  /usr/bin/python3 bench/peers/train_step_pytorch.py --device cpu --steps "$steps" --nets "$nets" |
  tee "$out-pytorch-retained-heap.csv"
echo "saved $out-bioprop.csv, $out-pytorch.csv and $out-pytorch-retained-heap.csv"
