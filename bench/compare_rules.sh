#!/usr/bin/env bash
# Epochs-to-accuracy of learning rules on one net and dataset, on the CPU or a GPU.
# Usage: bash bench/compare_rules.sh [NET] [EPOCHS] [TARGET]   (defaults: conv 8 0.85)
# Each rule trains with its own learning rate (below); the per-epoch metrics stay in the run folders,
# and one summary row per rule goes to bench/results/<date>-rules-<net>-fashion-mnist-<device>.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
net=${1:-conv} epochs=${2:-8} target=${3:-0.85}
declare -A learning_rate=([bp]=0.05 [brainprop]=0.005 [qagrel]=0.005)
device=$(./build/bioprop train --help > /dev/null && (nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' || true))
device=${device:-cpu-$(nproc)c}
runs=$(mktemp -d)
out="bench/results/$(date +%Y-%m-%d)-rules-${net}-fashion-mnist-${device}.csv"
echo "rule,net,learning_rate,epochs_run,epochs_to_target,target,final_test_accuracy,best_test_accuracy,mean_epoch_seconds" > "$out.tmp"
for rule in bp brainprop qagrel; do
  ./build/bioprop train --rule "$rule" --net "$net" --epochs "$epochs" --lr "${learning_rate[$rule]}" \
    --target-accuracy "$target" --run-dir "$runs/$rule" --no-progress
  folder=$(ls -d "$runs/$rule"/*/)
  python3 - "$folder" "$rule" "$net" "${learning_rate[$rule]}" "$target" >> "$out.tmp" <<'PY'
import csv, json, sys
folder, rule, net, lr, target = sys.argv[1:]
summary = json.load(open(folder + "summary.json"))
rows = list(csv.DictReader(open(folder + "metrics.csv")))
seconds = sum(float(r["seconds"]) for r in rows) / len(rows)
to_target = summary["epochs_to_target"] if summary["epochs_to_target"] is not None else ""
print(f'{rule},{net},{lr},{summary["epochs_run"]},{to_target},{target},{summary["final_test_accuracy"]:.4f},'
      f'{summary["best_test_accuracy"]:.4f},{seconds:.1f}')
PY
done
mv "$out.tmp" "$out"
echo "saved $out"
