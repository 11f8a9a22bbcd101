#!/usr/bin/env bash
# Data-parallel scaling (issue 17): training images per second of one job on 1, 2, ... K ranks with the same
# global batch, and the scaling efficiency (images/s on K ranks / (K x images/s on 1)). On a CPU machine each
# rank gets THREADS OpenMP threads (a CPU figure: ranks share the machine's memory bandwidth); on a multi-GPU
# machine pass DEVICE=cuda for one GPU per rank.
# Usage: bash bench/run_data_parallel.sh [MAX_RANKS] [THREADS] [DEVICE] [NET]   (defaults: 2, 1, cpu, conv)
# Saves bench/results/<date>-data-parallel-<device>-<net>.csv
set -euo pipefail
cd "$(dirname "$0")/.."
max_ranks=${1:-2} threads=${2:-1} device=${3:-cpu} net=${4:-conv}
[ -x build/bioprop ] || bash scripts/build.sh > /dev/null
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=$threads
out="bench/results/$(date +%Y-%m-%d)-data-parallel-$device-$net.csv"
work=$(mktemp -d)
echo "ranks,threads_per_rank,images_per_second,scaling_efficiency" > "$out"
single=""
for ((ranks = 1; ranks <= max_ranks; ranks *= 2)); do
  mpirun --oversubscribe -np $ranks build/bioprop train --rule bp --net $net --device $device --epochs 1 \
    --train-limit 8192 --test-limit 256 --batch-size 128 --no-progress --run-dir "$work/$ranks" > "$work/$ranks.log" 2>&1
  rate=$(grep -o '[0-9.]* img/s' "$work/$ranks.log" | head -1 | cut -d' ' -f1)
  single=${single:-$rate}
  echo "$ranks,$threads,$rate,$(awk -v r="$rate" -v s="$single" -v k=$ranks 'BEGIN { printf "%.3f", r / (k * s) }')" |
    tee -a "$out"
done
echo "saved $out"
