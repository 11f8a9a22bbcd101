#!/usr/bin/env bash
# Every hostile file of issue 20, fed to the real `bioprop` command, ends in exit status 1 with a
# message naming the file and the field: no signal, no "internal error" (exit 2), no success.
# Usage: hostile_files.sh BIOPROP MAKE_HOSTILE_FILES WORK_DIR
set -uo pipefail
bioprop=$1 make_files=$2 work=$3/hostile
"$make_files" "$work" || { echo "could not write the hostile files"; exit 1; }
failures=0
# expect_refusal WHAT REGEX ARGS...: bioprop ARGS exits 1 and prints a line matching REGEX.
expect_refusal() {
  local what=$1 pattern=$2
  shift 2
  local output status
  output=$(timeout 120 "$bioprop" "$@" 2>&1)
  status=$?
  if [ "$status" -ne 1 ] || ! grep -Eq -- "$pattern" <<<"$output"; then
    echo "FAIL $what: exit status $status (expected 1), output:"
    tail -5 <<<"$output"
    echo "  expected a line matching: $pattern"
    failures=$((failures + 1))
  else
    echo "ok   $what: $(grep -E -- "$pattern" <<<"$output" | head -1 | sed 's/^.*\] //')"
  fi
}
train=(train --no-progress --epochs 1 --train-limit 64 --test-limit 64 --run-dir "$work/runs")

expect_refusal "idx header claiming 16 TB" "idx-huge/train-images-idx3-ubyte: truncated: the header declares" \
  "${train[@]}" --data-dir "$work/idx-huge"
expect_refusal "idx sizes whose product wraps" "idx-wrap/train-images-idx3-ubyte: the header's sizes: .*overflows" \
  "${train[@]}" --data-dir "$work/idx-wrap"
expect_refusal "checkpoint: negative dimension" "checkpoint-negative-dimension.bin parameters\[0\] shape: dimension 1 is negative" \
  eval --checkpoint "$work/checkpoint-negative-dimension.bin" --device cpu
expect_refusal "checkpoint: huge dimensions" "checkpoint-huge-dimension.bin: parameter layer0.dense.weights has shape \(2000000000,2000000000\), the net expects \(1,4\)" \
  eval --checkpoint "$work/checkpoint-huge-dimension.bin" --device cpu
expect_refusal "checkpoint: missing field" "checkpoint-missing-net.bin: field 'net_toml' is missing" \
  eval --checkpoint "$work/checkpoint-missing-net.bin" --device cpu
expect_refusal "checkpoint: wrong type" "checkpoint-wrong-type.bin: field 'classes' must be an integer, got \"ten\"" \
  eval --checkpoint "$work/checkpoint-wrong-type.bin" --device cpu
expect_refusal "checkpoint: 1e308 for an integer" "checkpoint-float-for-int.bin: field 'classes' must be an integer" \
  eval --checkpoint "$work/checkpoint-float-for-int.bin" --device cpu
expect_refusal "checkpoint: parameters not a list" "checkpoint-parameters-not-a-list.bin: field 'parameters' must be an array" \
  eval --checkpoint "$work/checkpoint-parameters-not-a-list.bin" --device cpu
expect_refusal "net: huge padding" "net-huge-padding.toml: layer 0 \(conv2d\): padding 2000000000 must be smaller than the kernel" \
  "${train[@]}" --net "$work/net-huge-padding.toml"
expect_refusal "net: units beyond 32 bits" "net-units-overflow.toml: \[\[layer\]\] #1 .*field 'units' = 4294967297 does not fit a 32-bit integer" \
  "${train[@]}" --net "$work/net-units-overflow.toml"
expect_refusal "net: a dense layer too big for memory" "net-huge-dense.toml: net .*layer 0 \(dense\): cannot hold [0-9]+ floats" \
  "${train[@]}" --net "$work/net-huge-dense.toml"
expect_refusal "net: output size beyond int" "net-huge-kernel-product.toml: layer 0 \(conv2d\): output values per sample: more than 2147483647" \
  "${train[@]}" --net "$work/net-huge-kernel-product.toml"
expect_refusal "experiment: epochs beyond 32 bits" "experiment-epochs-overflow.toml.*field 'epochs' = 4294967297 does not fit a 32-bit integer" \
  train --config "$work/experiment-epochs-overflow.toml"
expect_refusal "JPEG claiming 63996 x 8193 pixels" "claims-a-lot.jpg: not a readable JPEG image \(its header claims 63996 x 8193 pixels, more than --max-image-pixels" \
  "${train[@]}" --dataset image-folder --data-dir "$work/jpeg-huge" --net dense
expect_refusal "device index beyond int" "--device 'cuda:99999999999999999999': expected auto, cpu, cuda or cuda:N" \
  "${train[@]}" --device cuda:99999999999999999999
[ "$failures" -eq 0 ] || { echo "$failures hostile file(s) not refused cleanly"; exit 1; }
echo "every hostile file ends in a clear error (exit 1)"
