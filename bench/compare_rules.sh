#!/usr/bin/env bash
# Epochs-to-accuracy of learning rules on one net, Fashion-MNIST (or DATASET=mnist etc.), with the default
# run's settings (plain SGD, batch 128, init N(0, 0.005) without biases) and each rule's learning rate.
# Usage: bash bench/compare_rules.sh NET EPOCHS TARGET RULE[+KEY=VALUE...]=LR ...
#   (+KEY=VALUE are rule options, e.g. brainprop+feedback=random=0.1 for reward-based FA)
#   e.g. bash bench/compare_rules.sh conv 5 0.85 bp=0.1 brainprop=0.1 qagrel=0.1
# One summary row per rule goes to bench/results/<date>-rules-<net>-<dataset>-<device>.csv, each
# epoch's accuracies to ...-per-epoch.csv (rows are added to files of the same name), and the test
# accuracy curves of every rule in the per-epoch file to ...-per-epoch.png (gnuplot). Wall time is left
# to the benchmarks: these runs may share the machine. BIOPROP names another binary and BIOPROP_ARGS
# adds flags (bench/run_gpu.sh: the bundled binary, --device cuda and the carried dataset).
set -euo pipefail
cd "$(dirname "$0")/.."
net=$1 epochs=$2 target=$3 dataset=${DATASET:-fashion-mnist}
shift 3
device=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '-' || true)
device=${device:-cpu-$(nproc)c}
runs=$(mktemp -d)
out="${BIOPROP_RESULTS:-bench/results}/$(date +%Y-%m-%d)-rules-${net}-${dataset}-${device}.csv"
[ -f "$out" ] || echo "rule,net,learning_rate,epochs_run,epochs_to_target,target,final_test_accuracy,best_test_accuracy" > "$out"
per_epoch="${out%.csv}-per-epoch.csv"
[ -f "$per_epoch" ] || echo "rule,learning_rate,epoch,train_accuracy,test_accuracy,seconds" > "$per_epoch"
for assignment in "$@"; do
  spec=${assignment%=*} lr=${assignment##*=}
  IFS='+' read -r -a parts <<< "$spec"
  rule=${parts[0]}
  options=()
  for option in "${parts[@]:1}"; do options+=(--rule-option "$option"); done
  # shellcheck disable=SC2086  # BIOPROP_ARGS holds several flags
  "${BIOPROP:-./build/bioprop}" train ${BIOPROP_ARGS:-} --dataset "$dataset" --rule "$rule" "${options[@]}" --net "$net" --epochs "$epochs" \
    --lr "$lr" --target-accuracy "$target" --run-dir "$runs/$spec" --no-progress
  python3 - "$(ls -d "$runs/$spec"/*/)" "$spec" "$net" "$lr" "$target" >> "$out" <<'PY'
import json, sys
folder, rule, net, lr, target = sys.argv[1:]
s = json.load(open(folder + "summary.json"))
to_target = "" if s["epochs_to_target"] is None else s["epochs_to_target"]
print(f'{rule},{net},{lr},{s["epochs_run"]},{to_target},{target},{s["final_test_accuracy"]:.4f},{s["best_test_accuracy"]:.4f}')
PY
  # metrics.csv: epoch,train_loss,train_accuracy,validation_accuracy,test_loss,test_accuracy,seconds,...
  tail -n +2 "$(ls -d "$runs/$spec"/*/)metrics.csv" | awk -F, -v r="$spec" -v lr="$lr" \
    '{ print r "," lr "," $1 "," $3 "," $6 "," $7 }' >> "$per_epoch"
done
bash bench/plot_rules.sh "$per_epoch" "$net" "$dataset"
echo "saved $out, $per_epoch and ${per_epoch%.csv}.png"
