#!/usr/bin/env bash
# Data-parallel training on CPU ranks (issue 17, items 1, 2, 3, 4, 5): `mpirun -np K bioprop train` with a global
# batch of 16 gives the weights one process gives with batch 16, up to floating-point summation order
# (stated tolerance: 1e-4 of each parameter's largest value after 32 steps), for K = 2, 3 and 4: bp on 2 and 4,
# feedback alignment, DFA, TP and learned feedback on 2, BrainProp exploring on 4 (per-trial RPEs; only the
# summed updates cross ranks), bp with dropout on 3 (shares of 5, 5 and 6 trials of 47 units: masks from elements
# 235 and 470, off Philox's blocks). Per-trial draws are numbered by the trial's place in the global batch, so the ranks draw what one
# process draws. The test accuracy (sharded evaluation, counts summed) is the same; only rank 0 writes a run
# folder; a run resumes on another number of ranks; ranks started with different settings are refused. Batch
# norm: per-rank statistics by default (not one process's weights), the global batch's with --sync-batch-norm
# (one process's weights). The GPU path (item 6): on the emulated device (bioprop-emulated, one emulated GPU per
# rank) the sums go through CudaBackend's NCCL calls on a communication stream, each layer's started as soon as
# its update is ready (item 2), which the emulated device implements over MPI; 2 ranks match one process there
# too, with bp and with BrainProp exploring through dropout.
# Usage: data_parallel.sh BIOPROP CHECKPOINT_DIFFERENCE MPIEXEC WORK_DIR BIOPROP_EMULATED
set -euo pipefail
bioprop=$1 difference=$2 mpiexec=$3 work=$4/data-parallel emulated=$5
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
mpi=("$mpiexec" --oversubscribe)
printf 'bias = true\n[[layer]]\ntype = "dense"\nunits = 48\nactivation = "relu"\n' > "$work/net.toml"
printf 'bias = true\n[[layer]]\ntype = "dense"\nunits = 47\nactivation = "relu"\n[[layer]]\ntype = "dropout"\nrate = 0.3\n' \
  > "$work/dropout.toml"
common=(train --net "$work/net.toml" --bias --batch-size 16 --train-limit 256 --test-limit 200
  --device cpu --no-progress --seed 3)

# Each rule's one-process run, then its job on K ranks: bp on 2 and 4, fa and dfa on 2, BrainProp on 4, bp with
# dropout on 3, and on 2 the rules that sum updates inside their step before their own optimiser's step: TP (the
# inverses, trained with Adam before the forward update) and learned feedback (B).
for job in "bp 2 4" "fa 2" "dfa 2" "brainprop 4" "bp-dropout 3" "tp 2" "learned_feedback 2"; do
  read -r name rank_counts <<< "$job"
  rule=${name%-dropout}
  [ $name = bp-dropout ] && run=("${common[@]/net.toml/dropout.toml}") || run=("${common[@]}")
  "$bioprop" "${run[@]}" --epochs 2 --rule $rule --run-dir "$work/$name-1" --checkpoint "$work/$name-1.bin" \
    > "$work/$name-1.log" 2>&1 || fail "$name, one process: $(tail -3 "$work/$name-1.log")"
  accuracy=$(grep -o 'final test accuracy [0-9.]*%' "$work/$name-1.log")
  for ranks in $rank_counts; do
    "${mpi[@]}" -np $ranks "$bioprop" "${run[@]}" --epochs 2 --rule $rule --run-dir "$work/$name-$ranks" \
      --checkpoint "$work/$name-$ranks.bin" > "$work/$name-$ranks.log" 2>&1 ||
      fail "$name on $ranks ranks: $(tail -5 "$work/$name-$ranks.log")"
    grep -q "data-parallel training: $ranks ranks" "$work/$name-$ranks.log" || fail "$name: not $ranks ranks"
    largest=$("$difference" "$work/$name-1.bin" "$work/$name-$ranks.bin" | grep -o '[0-9.e+-]*$')
    awk -v d="$largest" 'BEGIN { exit !(d < 1e-4) }' ||
      fail "$name on $ranks ranks: weights differ from one process's by $largest (relative)"
    grep -q "$accuracy" "$work/$name-$ranks.log" ||
      fail "$name on $ranks ranks: $(grep -o 'final test accuracy [0-9.]*%' "$work/$name-$ranks.log"), one process: $accuracy"
    [ "$(ls "$work/$name-$ranks" | wc -l)" -eq 1 ] || fail "$name on $ranks ranks: more than rank 0 wrote a run folder"
    echo "$name on $ranks ranks: largest relative weight difference $largest, $accuracy"
  done
done

# Resume on another number of ranks: one epoch on 2 ranks, the second on 4, gives the 2 epochs of one process
# (the checkpoint holds the global state: the optimiser, the position in the epoch, every stream).
"${mpi[@]}" -np 2 "$bioprop" "${common[@]}" --epochs 1 --rule bp --run-dir "$work/resume" \
  --checkpoint "$work/first-epoch.bin" > "$work/first-epoch.log" 2>&1 || fail "epoch 1 on 2 ranks: $(tail -3 "$work/first-epoch.log")"
"${mpi[@]}" -np 4 "$bioprop" "${common[@]}" --epochs 2 --rule bp --resume "$work/first-epoch.bin" --run-dir "$work/resume" \
  --checkpoint "$work/resumed.bin" > "$work/resumed.log" 2>&1 || fail "resumed on 4 ranks: $(tail -3 "$work/resumed.log")"
largest=$("$difference" "$work/bp-1.bin" "$work/resumed.bin" | grep -o '[0-9.e+-]*$')
awk -v d="$largest" 'BEGIN { exit !(d < 1e-4) }' || fail "resumed on 4 ranks: weights differ by $largest (relative)"
echo "bp, epoch 1 on 2 ranks then epoch 2 on 4: largest relative weight difference $largest"

# Ranks with different settings (here the learning rate) are refused at start, with a message.
if "${mpi[@]}" -np 1 "$bioprop" "${common[@]}" --rule bp --lr 0.1 --run-dir "$work/mixed" : \
  -np 1 "$bioprop" "${common[@]}" --rule bp --lr 0.2 --run-dir "$work/mixed" > "$work/mixed.log" 2>&1; then
  fail "ranks with different seeds were not refused"
fi
grep -q "started with different settings" "$work/mixed.log" || fail "no message for mixed settings: $(tail -3 "$work/mixed.log")"

# Batch norm: per-rank statistics by default (as DDP: not one process's run), the global batch's with
# --sync-batch-norm (one process's run). No biases: before batch norm they get no gradient, only rounding.
printf '[[layer]]\ntype = "dense"\nunits = 48\n[[layer]]\ntype = "batch_norm"\n[[layer]]\ntype = "relu"\n' > "$work/bn.toml"
bn=(train --net "$work/bn.toml" --no-bias --batch-size 16 --train-limit 256 --test-limit 200 --device cpu --no-progress
  --seed 3 --epochs 2 --rule bp)
"$bioprop" "${bn[@]}" --run-dir "$work/bn-1" --checkpoint "$work/bn-1.bin" > "$work/bn-1.log" 2>&1 ||
  fail "batch norm, one process: $(tail -3 "$work/bn-1.log")"
for sync in own sync; do
  [ $sync = sync ] && flag=(--sync-batch-norm) || flag=()
  "${mpi[@]}" -np 2 "$bioprop" "${bn[@]}" "${flag[@]}" --run-dir "$work/bn-$sync" --checkpoint "$work/bn-$sync.bin" \
    > "$work/bn-$sync.log" 2>&1 || fail "batch norm ($sync statistics) on 2 ranks: $(tail -5 "$work/bn-$sync.log")"
  largest=$("$difference" "$work/bn-1.bin" "$work/bn-$sync.bin" | grep -o '[0-9.e+-]*$')
  if [ $sync = sync ]; then
    awk -v d="$largest" 'BEGIN { exit !(d < 1e-4) }' || fail "synchronised batch norm: weights differ by $largest"
  else
    awk -v d="$largest" 'BEGIN { exit !(d > 1e-3) }' || fail "per-rank batch norm gave one process's weights ($largest)"
  fi
  echo "batch norm with $sync statistics on 2 ranks: largest relative weight difference $largest"
done
"${mpi[@]}" -np 4 "$bioprop" "${bn[@]/256/258}" --sync-batch-norm --run-dir "$work/bn-4" > "$work/bn-4.log" 2>&1 &&
  fail "--sync-batch-norm with a last batch of 2 images on 4 ranks was not refused"
grep -q "sync-batch-norm: the last batch of every epoch holds 2 image(s), fewer than the 4 ranks" "$work/bn-4.log" ||
  fail "no message for a last batch smaller than the job: $(tail -3 "$work/bn-4.log")"

# The GPU path on the emulated device: NCCL's all-reduce of device memory, 2 ranks against one process.
gpu=("${common[@]/cpu/cuda:0}" --epochs 2 --rule bp)
"$emulated" "${gpu[@]}" --run-dir "$work/gpu-1" --checkpoint "$work/gpu-1.bin" > "$work/gpu-1.log" 2>&1 ||
  fail "emulated GPU, one process: $(tail -3 "$work/gpu-1.log")"
"${mpi[@]}" -np 2 "$emulated" "${gpu[@]}" --run-dir "$work/gpu-2" --checkpoint "$work/gpu-2.bin" > "$work/gpu-2.log" 2>&1 ||
  fail "emulated GPU on 2 ranks: $(tail -5 "$work/gpu-2.log")"
grep -q "sums over the ranks: NCCL on device memory, each layer's started as soon as its update is ready" "$work/gpu-2.log" ||
  fail "emulated GPU: the sums did not go through NCCL as each layer's update was ready"
largest=$("$difference" "$work/gpu-1.bin" "$work/gpu-2.bin" | grep -o '[0-9.e+-]*$')
awk -v d="$largest" 'BEGIN { exit !(d < 1e-4) }' || fail "emulated GPU on 2 ranks: weights differ by $largest (relative)"
echo "emulated GPU, NCCL on 2 ranks: largest relative weight difference $largest"

# BrainProp exploring through dropout on the emulated GPU: the attention gate's and dropout's kernels draw by
# the trial's place in the global batch (batch 14: the second rank's masks start at element 7 * 47 = 329).
gpu_explore=("${common[@]/cpu/cuda:0}")
gpu_explore=("${gpu_explore[@]/net.toml/dropout.toml}")
gpu_explore=("${gpu_explore[@]/#16/14}" --epochs 1 --rule brainprop)
"$emulated" "${gpu_explore[@]}" --run-dir "$work/gpu-explore-1" --checkpoint "$work/gpu-explore-1.bin" \
  > "$work/gpu-explore-1.log" 2>&1 || fail "emulated GPU BrainProp, one process: $(tail -3 "$work/gpu-explore-1.log")"
"${mpi[@]}" -np 2 "$emulated" "${gpu_explore[@]}" --run-dir "$work/gpu-explore-2" --checkpoint "$work/gpu-explore-2.bin" \
  > "$work/gpu-explore-2.log" 2>&1 || fail "emulated GPU BrainProp on 2 ranks: $(tail -5 "$work/gpu-explore-2.log")"
largest=$("$difference" "$work/gpu-explore-1.bin" "$work/gpu-explore-2.bin" | grep -o '[0-9.e+-]*$')
awk -v d="$largest" 'BEGIN { exit !(d < 1e-4) }' || fail "emulated GPU BrainProp on 2 ranks: weights differ by $largest"
echo "emulated GPU, BrainProp exploring through dropout on 2 ranks: largest relative weight difference $largest"

# Synchronised batch norm on the emulated GPU: statistics through the host, backward sums through NCCL.
gpu_bn=("${bn[@]/cpu/cuda:0}")
"$emulated" "${gpu_bn[@]}" --run-dir "$work/gpu-bn-1" --checkpoint "$work/gpu-bn-1.bin" > "$work/gpu-bn-1.log" 2>&1 ||
  fail "emulated GPU batch norm, one process: $(tail -3 "$work/gpu-bn-1.log")"
"${mpi[@]}" -np 2 "$emulated" "${gpu_bn[@]}" --sync-batch-norm --run-dir "$work/gpu-bn-2" --checkpoint "$work/gpu-bn-2.bin" \
  > "$work/gpu-bn-2.log" 2>&1 || fail "emulated GPU synchronised batch norm on 2 ranks: $(tail -5 "$work/gpu-bn-2.log")"
largest=$("$difference" "$work/gpu-bn-1.bin" "$work/gpu-bn-2.bin" | grep -o '[0-9.e+-]*$')
awk -v d="$largest" 'BEGIN { exit !(d < 1e-4) }' || fail "emulated GPU synchronised batch norm: weights differ by $largest"
echo "emulated GPU, synchronised batch norm on 2 ranks: largest relative weight difference $largest"
echo "data-parallel runs match one process"
