#!/usr/bin/env bash
# Our bp and BrainProp training steps beside PyTorch's (bench/peers/train_step_pytorch.py, Debian's
# python3-torch) on this machine's CPU, in one run: the same nets, batch sizes, init and optimiser, and
# the same memory measure (peak resident size, reset before each row).
# Usage: bash bench/compare_pytorch_cpu.sh [NETS] [STEPS]   (default conv,loccon,deep and 20 steps)
# BIOPROP_CPU_CONVOLUTION=im2col times our own convolutions instead of oneDNN's.
# Saves bench/results/<date>-rule-steps-vs-pytorch-cpu-<cores>c-{bioprop,pytorch}.csv
set -euo pipefail
cd "$(dirname "$0")/.."
nets=${1:-conv,loccon,deep}
steps=${2:-20}
bash scripts/build.sh > /dev/null
if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-torch
fi
out="bench/results/$(date +%Y-%m-%d)-rule-steps-vs-pytorch-cpu-$(nproc)c"
# shellcheck disable=SC2086
./build/bioprop bench --device cpu --rules bp brainprop --nets ${nets//,/ } --steps "$steps" --csv "$out-bioprop.csv"
/usr/bin/python3 bench/peers/train_step_pytorch.py --device cpu --steps "$steps" --nets "$nets" | tee "$out-pytorch.csv"
echo "saved $out-bioprop.csv and $out-pytorch.csv"
