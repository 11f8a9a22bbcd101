#!/usr/bin/env bash
# `bioprop compare` end to end (issue 16): a tiny comparison (two rules, two seeds, a few batches) writes
# the table, the raw data and the plots with the right columns; the table's means agree with the raw
# rows; a target no run reaches is reported as "not in N"; a reachable one gives epochs and the ratio to
# bp; a comparison run again keeps its finished runs and redoes only the missing one; a preset runs at
# its tiny size; bad rule specs stop before any run; a run that diverges is reported as such and the
# comparison goes on.
# Usage: compare.sh BIOPROP WORK_DIR
set -euo pipefail
bioprop=$1 work=$2/compare
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
common=(compare --device cpu --net dense --train-limit 256 --test-limit 128 --max-epochs 2 --seeds 2 --no-progress)

# 1. An unreachable target: every run is "not in 2", never averaged as 2.
"$bioprop" "${common[@]}" --rules bp fa=0.05 --target-accuracy 0.99 --out "$work/high" >"$work/high.log" 2>&1 ||
  fail "the comparison failed: $(tail -3 "$work/high.log")"
for f in summary.md runs.csv runs.jsonl epochs.csv accuracy_vs_epoch.gp accuracy_vs_seconds.gp curves/1.csv curves/2.csv; do
  [ -s "$work/high/$f" ] || fail "missing $f"
done
[ "$(head -1 "$work/high/runs.csv")" = "label,seed,epochs_run,epochs_to_target,seconds_to_target,best_test_accuracy,final_test_accuracy,seconds,peak_device_mib,diverged_epoch" ] ||
  fail "runs.csv header: $(head -1 "$work/high/runs.csv")"
[ "$(tail -n +2 "$work/high/runs.csv" | wc -l)" -eq 4 ] || fail "runs.csv should hold 2 rules x 2 seeds"
[ "$(tail -n +2 "$work/high/epochs.csv" | wc -l)" -eq 8 ] || fail "epochs.csv should hold 4 runs x 2 epochs"
[ "$(wc -l <"$work/high/runs.jsonl")" -eq 4 ] || fail "runs.jsonl should hold 4 runs"
[ "$(grep -c '| not in 2 | not in 2 |' "$work/high/summary.md")" -eq 2 ] || fail "unreached target not reported as 'not in 2'"
# The table's best accuracy is the mean of the raw rows (in %, two decimals).
for rule in bp fa=0.05; do
  expected=$(awk -F, -v r="$rule" '$1 == r { s += $6; n++ } END { printf "%.2f", 100 * s / n }' "$work/high/runs.csv")
  row=$(grep "^| $rule |" "$work/high/summary.md") || fail "no row for $rule"
  best=$(echo "$row" | awk -F'|' '{ print $6 }' | awk '{ print $1 }')
  [ "$best" = "$expected" ] || fail "$rule: summary.md best $best, runs.csv mean $expected"
done

# 2. A reachable target: epochs to it as mean ± sd, and bp's ratio to itself 1.00x.
"$bioprop" "${common[@]}" --rules bp fa=0.05 --target-accuracy 0.02 --out "$work/low" >"$work/low.log" 2>&1 ||
  fail "the comparison failed: $(tail -3 "$work/low.log")"
grep -q '^| bp | 2 | 1.0 ± 0.0 | ' "$work/low/summary.md" || fail "bp's epochs to target: $(grep '^| bp' "$work/low/summary.md")"
grep '^| bp |' "$work/low/summary.md" | grep -q '| 1.00x | 1.00x | — |$' || fail "bp's ratio to itself"

# 3. Run again with one run's record gone: three runs kept, one trained again, the same table rows.
rm "$work/high/runs/fa=0.05/seed2/run.json"
"$bioprop" "${common[@]}" --rules bp fa=0.05 --target-accuracy 0.99 --out "$work/high" >"$work/again.log" 2>&1 ||
  fail "the second run failed: $(tail -3 "$work/again.log")"
[ "$(grep -c 'finished before, kept' "$work/again.log")" -eq 3 ] || fail "finished runs were not kept"
[ "$(tail -n +2 "$work/high/runs.csv" | wc -l)" -eq 4 ] || fail "runs.csv after the resume"

# 4. A preset at its tiny size.
"$bioprop" compare --preset learned-feedback --tiny --device cpu --no-progress --out "$work/preset" \
  >"$work/preset.log" 2>&1 || fail "the tiny preset failed: $(tail -3 "$work/preset.log")"
[ "$(grep -c '^| ' "$work/preset/summary.md")" -eq 7 ] || fail "the preset's table should have 5 rules (and 2 header lines)"

# 5. Bad specs stop before anything trains, with an error line.
for spec in "nosuchrule=0.1" "fa=abc" "fa+novalue=0.1" "fa+sigma=1+=2"; do
  if "$bioprop" "${common[@]}" --rules bp "$spec" --out "$work/bad" >"$work/bad.log" 2>&1; then fail "'$spec' accepted"; fi
  [ ! -d "$work/bad/runs" ] || fail "'$spec': a run started before the check"
  grep -q "\[error\]" "$work/bad.log" || fail "'$spec': no error line: $(tail -1 "$work/bad.log")"
done
# 6. A TOML file holds a whole comparison: every run's settings and a [compare] table; flags override it.
cat >"$work/comparison.toml" <<TOML
net = "dense"
device = "cpu"
train_limit = 256
test_limit = 128
epochs = 2
target_accuracy = 0.02
[compare]
rules = ["bp", "fa=0.05"]
seeds = 2
out = "$work/from-file"
TOML
"$bioprop" compare --config "$work/comparison.toml" --no-progress >"$work/file.log" 2>&1 ||
  fail "the comparison file failed: $(tail -3 "$work/file.log")"
grep -q '^| bp | 2 | 1.0 ± 0.0 | ' "$work/from-file/summary.md" || fail "the file's comparison: $(cat "$work/from-file/summary.md")"
grep -q '^| fa=0.05 | 2 | ' "$work/from-file/summary.md" || fail "the file's fa=0.05 row is missing"
"$bioprop" compare --config "$work/comparison.toml" --rules bp --seeds 1 --out "$work/overridden" --no-progress \
  >"$work/overridden.log" 2>&1 || fail "flags over the file failed: $(tail -3 "$work/overridden.log")"
[ "$(grep -c '^| ' "$work/overridden/summary.md")" -eq 3 ] || fail "--rules bp should replace the file's rules"
grep -q '^| bp | 1 | ' "$work/overridden/summary.md" || fail "--seeds 1 should replace the file's seeds"
sed 's/^seeds = 2/seed_count = 2/' "$work/comparison.toml" >"$work/typo.toml"
if "$bioprop" compare --config "$work/typo.toml" --no-progress >"$work/typo.log" 2>&1; then fail "unknown key accepted"; fi
grep -q "typo.toml \[compare\]: unknown key 'seed_count'" "$work/typo.log" || fail "unknown key: $(tail -1 "$work/typo.log")"
# 7. The reward-task preset (Konishi et al.'s rules, trial by trial) at its tiny size: a row per rule,
# a raw row per rule and seed, the plot's data, and the summary names the code that made it.
"$bioprop" compare --preset reward-task --tiny --out "$work/reward" >"$work/reward.log" 2>&1 ||
  fail "the reward-task preset failed: $(tail -3 "$work/reward.log")"
[ "$(grep -c '^| \(bp\|fa\|fa_ex\|elm\|wp\) | 2 | ' "$work/reward/summary.md")" -eq 5 ] ||
  fail "reward task: a row per rule: $(cat "$work/reward/summary.md")"
[ "$(tail -n +2 "$work/reward/runs.csv" | wc -l)" -eq 10 ] || fail "reward task: runs.csv should hold 5 rules x 2 seeds"
[ -s "$work/reward/curves/5.csv" ] || fail "reward task: no curve data for the fifth rule"
grep -q "; bioprop [0-9a-f]\{12\}\|; bioprop unknown" "$work/reward/summary.md" || fail "the summary does not name the commit"
# 8. A run whose loss becomes NaN is a result, not a failure: it is listed as diverged (with the epoch) and the
#    comparison goes on with the other rules.
"$bioprop" compare --device cpu --net dense --train-limit 256 --test-limit 128 --max-epochs 2 --seeds 1 --no-progress \
  --rules bp=100000 fa=0.05 --out "$work/diverged" >"$work/diverged.log" 2>&1 ||
  fail "a diverging run stopped the comparison: $(tail -3 "$work/diverged.log")"
# (bp at lr 1e5 on this data completes epoch 1 and diverges in epoch 2: the completed epoch is kept.)
grep '^| bp=100000 |' "$work/diverged/summary.md" | grep -q '| 1 of 1 (epoch 2) |$' ||
  fail "the diverged run is not reported: $(grep '^| bp' "$work/diverged/summary.md")"
grep '^| fa=0.05 |' "$work/diverged/summary.md" | grep -q '| — |$' || fail "fa reported as diverged"
[ "$(awk -F, '$1 == "bp=100000" { print $3 "," $10 }' "$work/diverged/runs.csv")" = 1,2 ] ||
  fail "runs.csv: epochs_run 1 and diverged_epoch 2 expected for bp=100000"
grep -q 'bp=100000: .*diverged: 1 of 1' "$work/diverged.log" || fail "no one-line result naming the divergence"

echo "compare: all checks passed"
