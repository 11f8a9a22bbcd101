#!/usr/bin/env bash
# Our bp and BrainProp training steps beside PyTorch's (bench/peers/train_step_pytorch.py, Debian's
# python3-torch) on this machine's CPU, in one run: the same nets, batch sizes, init and optimiser.
# Usage: bash bench/compare_pytorch_cpu.sh [NETS]   (default conv,loccon; deep is slow on a CPU)
# Saves bench/results/<date>-rule-steps-vs-pytorch-cpu-<cores>c-{bioprop,pytorch}.csv
set -euo pipefail
cd "$(dirname "$0")/.."
nets=${1:-conv,loccon}
bash scripts/build.sh > /dev/null
if ! /usr/bin/python3 -c 'import torch' 2> /dev/null; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends python3-torch
fi
out="bench/results/$(date +%Y-%m-%d)-rule-steps-vs-pytorch-cpu-$(nproc)c"
./build/bench/rule_step_bench --benchmark_filter="_(${nets//,/|})/" --benchmark_min_time=5 \
  --benchmark_out="$out-bioprop.csv" --benchmark_out_format=csv
/usr/bin/python3 bench/peers/train_step_pytorch.py --device cpu --steps 20 --nets "$nets" | tee "$out-pytorch.csv"
echo "saved $out-bioprop.csv and $out-pytorch.csv"
