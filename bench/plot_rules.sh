#!/usr/bin/env bash
# Test accuracy per epoch, one curve per rule, from a per-epoch CSV of bench/compare_rules.sh
# (rule,learning_rate,epoch,train_accuracy,test_accuracy,seconds): writes the same name with .png.
# Usage: bash bench/plot_rules.sh PER_EPOCH_CSV NET [DATASET]
set -euo pipefail
per_epoch=$1 net=$2 dataset=${3:-fashion-mnist}
command -v gnuplot > /dev/null || { echo "gnuplot not installed: no plot" >&2; exit 0; }
curves=$(mktemp -d)
trap 'rm -rf "$curves"' EXIT
# A rule's epochs restart at 1 for each of its runs in the file: one curve per run.
tail -n +2 "$per_epoch" | awk -F, -v dir="$curves" '{
  key = $1 " lr " $2
  if ($3 == 1) runs[key]++
  print $3, 100 * $5 > (dir "/" key (runs[key] > 1 ? " (run " runs[key] ")" : ""))
}'
{
  echo "set terminal pngcairo size 900,600 noenhanced"
  # One tick per epoch while they fit, else every fifth.
  echo "set xtics $(tail -n +2 "$per_epoch" | awk -F, 'BEGIN { m = 0 } $3 > m { m = $3 } END { print (m > 20 ? 5 : 1) }')"
  echo "set output '${per_epoch%.csv}.png'; set key bottom right; set grid"
  echo "set title 'Test accuracy per epoch, ${net} net, ${dataset}'; set xlabel 'epoch'; set ylabel 'test accuracy (%)'"
  printf 'plot'
  sep=''
  for f in "$curves"/*; do
    printf "%s '%s' using 1:2 with linespoints title '%s'" "$sep" "$f" "$(basename "$f")"
    sep=','
  done
  echo
} | gnuplot
echo "plotted ${per_epoch%.csv}.png"
