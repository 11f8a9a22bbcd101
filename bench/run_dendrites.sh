#!/usr/bin/env bash
# Segregated-dendrite training examples per second (issue 15): bioprop (bench/dendrites_bench.cpp) beside a
# plain NumPy simulation of the same dynamics (bench/peers/dendrites_numpy.py), in one run, on the paper's
# nets at batch 1 (the authors' online learning) and batches 16 and 128, with THREADS threads each.
# Usage: bash bench/run_dendrites.sh [THREADS] [DEVICE]   (defaults: 1, cpu; DEVICE cuda on a GPU machine)
# Saves bench/results/<date>-dendrites-<device>-<threads>t-{bioprop,numpy}.csv
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-1} device=${2:-cpu}
[ -x build/bench/dendrites_bench ] || bash scripts/build.sh > /dev/null
out="bench/results/$(date +%Y-%m-%d)-dendrites-$device-${threads}t"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
BIOPROP_BENCH_DEVICE=$device ./build/bench/dendrites_bench --benchmark_min_time=3 \
  --benchmark_out="$out-bioprop.csv" --benchmark_out_format=csv
{
  echo "implementation,net,batch,examples,seconds,examples_per_second"
  for net in 784-500-10 784-500-100-10; do
    for batch in 1 16 128; do
      /usr/bin/python3 bench/peers/dendrites_numpy.py --net $net --batch $batch --examples $((batch > 16 ? 256 : 32))
    done
  done
} | tee "$out-numpy.csv"
echo "saved $out-bioprop.csv and $out-numpy.csv"
