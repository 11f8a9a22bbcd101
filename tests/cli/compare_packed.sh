#!/usr/bin/env bash
# Packed runs (issue 16 item 3): a comparison on the (emulated) GPU trains several runs at once, one per
# CUDA stream on its own thread, with results identical to training them one at a time: the same
# accuracies and losses per epoch, the same epochs to the target and the same peak memory per run.
# Usage: compare_packed.sh BIOPROP_EMULATED WORK_DIR
set -euo pipefail
bioprop=$1 work=$2/compare-packed
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
common=(compare --device cuda --net dense --train-limit 128 --test-limit 64 --max-epochs 2 --seeds 2 --no-progress
  --rules bp fa=0.05 --target-accuracy 0.1)

"$bioprop" "${common[@]}" --pack 1 --out "$work/alone" >"$work/alone.log" 2>&1 ||
  fail "one at a time: $(tail -3 "$work/alone.log")"
grep -q "runs at once" "$work/alone.log" && fail "--pack 1 packed runs"
# --pack 0 (the default): the first run alone to measure its memory, then the other three at once.
"$bioprop" "${common[@]}" --out "$work/packed" >"$work/packed.log" 2>&1 ||
  fail "packed: $(tail -3 "$work/packed.log")"
grep -q "training 3 runs at once, one per CUDA stream" "$work/packed.log" ||
  fail "the runs were not packed: $(grep -m3 'at once\|\[' "$work/packed.log")"

# Everything but the wall times: runs.csv's label,seed,epochs_run,epochs_to_target,best,final,peak memory;
# epochs.csv's label,seed,epoch,test accuracy,test loss,train loss.
for f in runs epochs; do
  columns=$([ $f = runs ] && echo 1-4,6,7,9 || echo 1-6)
  diff <(cut -d, -f"$columns" "$work/alone/$f.csv") <(cut -d, -f"$columns" "$work/packed/$f.csv") >"$work/$f.diff" ||
    fail "packed and one-at-a-time $f.csv differ: $(head -5 "$work/$f.diff")"
done
[ "$(tail -n +2 "$work/packed/epochs.csv" | wc -l)" -eq 8 ] || fail "epochs.csv should hold 4 runs x 2 epochs"
echo "packed runs match runs one at a time"
