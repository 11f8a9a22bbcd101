#!/usr/bin/env bash
# Segregated-dendrite nets through the command line (issue 15): a short training run on the emulated GPU, then
# `bioprop eval` of its checkpoint. Evaluation re-simulates the spiking net from the checkpoint's weights,
# feedback matrices and rule options (the rule's own inference), so it must print the training run's final
# test accuracy; scoring the net's plain forward pass instead would not.
# Usage: dendrites_train_eval.sh BIOPROP WORK_DIR
set -euo pipefail
bioprop=$1 work=$2/dendrites
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bioprop" train --device cuda --rule dendrites --net dendrites --bias --batch-size 8 --lr 0.21 --epochs 1 \
  --train-limit 64 --test-limit 32 --rule-option forward_ms=30 --rule-option target_ms=30 \
  --rule-option window_ms=10 --rule-option test_ms=40 --rule-option test_window_ms=20 --no-progress \
  --run-dir "$work" --checkpoint "$work/d.bin" >"$work/train.log" 2>&1 || fail "training: $(tail -3 "$work/train.log")"
trained=$(grep -o 'final test accuracy [0-9.]*%' "$work/train.log" | grep -o '[0-9.]*%') ||
  fail "no final accuracy: $(tail -3 "$work/train.log")"
# The evaluation draws its spikes from the same stream position as the training run's first evaluation.
"$bioprop" eval --device cuda --checkpoint "$work/d.bin" --test-limit 32 --batch-size 8 >"$work/eval.log" 2>&1 ||
  fail "eval: $(tail -3 "$work/eval.log")"
grep -q "rule dendrites, epoch 1): test accuracy $trained" "$work/eval.log" ||
  fail "eval does not give the training run's $trained: $(grep -m1 'test accuracy' "$work/eval.log")"
# The loss too (cross-entropy of the mean somatic potentials), which no other model of the net would match.
loss=$(tail -1 "$work"/*/metrics.csv | cut -d, -f5 | xargs printf '%.4f')
grep -q "test loss $loss on 32 images" "$work/eval.log" ||
  fail "eval's loss is not the training run's $loss: $(grep -m1 'test loss' "$work/eval.log")"
echo "dendrites: trained and evaluated at $trained, loss $loss"
