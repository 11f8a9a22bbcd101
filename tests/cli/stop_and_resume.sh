#!/usr/bin/env bash
# Stopping safely (issue 12, item 8), through the real `bioprop train`:
# 1. SIGTERM in the middle of epoch 2: the run finishes its step, writes a checkpoint, prints the
#    command that resumes it and exits with 128 + 15; that command then ends with the weights of a run
#    that was never stopped, byte for byte (SGD with momentum, dropout, shuffled data).
# 2. Two Ctrl-Cs: the second ends the process at once (exit 130) and the last checkpoint stays whole.
# 3. --checkpoint-every-minutes writes mid-epoch checkpoints: after a SIGKILL (no chance to write one)
#    the run resumes from the last of them and again ends with the uninterrupted run's weights.
# Usage: stop_and_resume.sh BIOPROP WORK_DIR
set -euo pipefail
bioprop=$1 work=$2/stop-and-resume
rm -rf "$work" && mkdir -p "$work"
# A net with dropout, so the masks' random stream must resume where it stopped too; wide enough that an
# epoch takes seconds (the signals below must land mid-epoch).
printf '[[layer]]\ntype = "dense"\nunits = 1024\nactivation = "relu"\n[[layer]]\ntype = "dropout"\nrate = 0.2\n' \
  >"$work/mlp.toml"
args=(train --rule bp --net "$work/mlp.toml" --epochs 2 --train-limit 40000 --test-limit 300 --batch-size 16
      --momentum 0.5 --no-progress --run-dir "$work/runs")

# The parameter bytes of a checkpoint: after the 15-byte magic, the 8-byte record length and the record;
# before the 4-byte CRC (whose input includes the record, which holds timings).
parameters() {
  local length
  length=$(od -An -t u8 -j 15 -N 8 "$1" | tr -d ' ')
  tail -c +$((15 + 8 + length + 1)) "$1" | head -c -4
}

# Starts a run in the background and waits until its first epoch's checkpoint is written and epoch 2
# is under way (an epoch takes seconds here; the signal then lands mid-epoch).
start_run() {
  local log=$1 checkpoint=$2
  shift 2
  "$bioprop" "${args[@]}" --checkpoint "$checkpoint" "$@" >"$log" 2>&1 &
  run=$!
  for _ in $(seq 600); do
    if grep -q "epoch 1:" "$log" && [ -f "$checkpoint" ]; then
      sleep 0.5
      return 0
    fi
    kill -0 "$run" 2>/dev/null || { echo "the run ended before epoch 1 was logged:"; cat "$log"; exit 1; }
    sleep 0.1
  done
  echo "epoch 1 did not end within a minute"; cat "$log"; exit 1
}

"$bioprop" "${args[@]}" --checkpoint "$work/straight.bin" >"$work/straight.log" 2>&1 || {
  echo "the uninterrupted run failed:"; cat "$work/straight.log"; exit 1; }

start_run "$work/stopped.log" "$work/stopped.bin"
kill -TERM "$run"
status=0 && wait "$run" || status=$?
cat "$work/stopped.log"
[ "$status" -eq 143 ] || { echo "exit status $status after SIGTERM, expected 143"; exit 1; }
grep -q "stopped by SIGTERM in epoch 2 after batch [1-9]" "$work/stopped.log" || {
  echo "the run did not stop mid-epoch 2 (it must still be training when the signal comes)"; exit 1; }
resume=$(grep -A1 "to continue where it stopped" "$work/stopped.log" | tail -1)
grep -q -- "--resume $work/stopped.bin" <<<"$resume" || { echo "no resume command printed"; exit 1; }
echo "resuming with: $resume"
eval "$resume" >"$work/resumed.log" 2>&1 || { echo "the resumed run failed:"; cat "$work/resumed.log"; exit 1; }
grep -q "resuming from .*stopped.bin (epoch 2, after batch" "$work/resumed.log" || {
  cat "$work/resumed.log"; exit 1; }
cmp <(parameters "$work/straight.bin") <(parameters "$work/stopped.bin") || {
  echo "the stopped and resumed run's weights differ from the uninterrupted run's"; exit 1; }
echo "stopped by SIGTERM and resumed: the same weights as the uninterrupted run"

start_run "$work/twice.log" "$work/twice.bin"
kill -INT "$run" && kill -INT "$run"
status=0 && wait "$run" || status=$?
[ "$status" -eq 130 ] || { echo "exit status $status after two SIGINTs, expected 130"; cat "$work/twice.log"; exit 1; }
"$bioprop" eval --checkpoint "$work/twice.bin" --device cpu >"$work/eval.log" 2>&1 || {
  echo "the last checkpoint is not readable after a second Ctrl-C:"; cat "$work/eval.log"; exit 1; }
echo "a second Ctrl-C exits at once (130); the checkpoint stays readable"

start_run "$work/killed.log" "$work/killed.bin" --checkpoint-every-minutes 0.002
sleep 0.5
kill -KILL "$run"
wait "$run" || true
grep -aq '"batches_done":[1-9]' "$work/killed.bin" || { echo "no mid-epoch checkpoint before the SIGKILL"; exit 1; }
"$bioprop" "${args[@]}" --checkpoint "$work/killed.bin" --resume "$work/killed.bin" >"$work/after-kill.log" 2>&1 || {
  echo "resuming after SIGKILL failed:"; cat "$work/after-kill.log"; exit 1; }
grep "resuming from" "$work/after-kill.log"
cmp <(parameters "$work/straight.bin") <(parameters "$work/killed.bin") || {
  echo "the run resumed from a periodic checkpoint differs from the uninterrupted run"; exit 1; }
echo "killed with SIGKILL, resumed from a periodic mid-epoch checkpoint: the same weights"
