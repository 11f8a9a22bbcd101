#!/usr/bin/env bash
# Faults in a data-parallel job (issue 17, item 5): a rank that hangs (stopped with SIGSTOP) makes the other end
# the job within --rank-timeout with a message naming the wait; a rank that dies (SIGKILL) ends the job through
# the launcher with its message. Neither leaves a process behind or hangs. Usage: BIOPROP MPIEXEC WORK_DIR
set -euo pipefail
bioprop=$1 mpiexec=$2 work=$3/data-parallel-faults
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; pkill -9 -f "$work" 2>/dev/null || true; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
printf '[[layer]]\ntype = "dense"\nunits = 32\nactivation = "relu"\n' > "$work/net.toml"

# The pid of rank $1 of the job whose ranks run in $work (its environment names the rank).
rank_pid() {
  for pid in $(pgrep -f -- "--run-dir $work" || true); do
    tr '\0' '\n' < /proc/$pid/environ 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$1" && { echo $pid; return; }
  done
}

for fault in STOP KILL; do
  log=$work/$fault.log
  "$mpiexec" --oversubscribe -np 2 "$bioprop" train --net "$work/net.toml" --epochs 1000 --batch-size 32 \
    --train-limit 2048 --test-limit 500 --device cpu --no-progress --rank-timeout 5 --run-dir "$work" > "$log" 2>&1 &
  launcher=$!
  for _ in $(seq 300); do grep -q "epoch 1:" "$log" && break; sleep 0.1; done  # training for an epoch at least
  grep -q "epoch 1:" "$log" || fail "$fault: the job did not train: $(tail -5 "$log")"
  pid=$(rank_pid 1)
  [ -n "$pid" ] || fail "$fault: rank 1 not found"
  kill -$fault "$pid"
  start=$SECONDS
  for _ in $(seq 600); do kill -0 $launcher 2>/dev/null || break; sleep 0.1; done
  if kill -0 $launcher 2>/dev/null; then fail "$fault: the job still runs 60 s after rank 1 was sent SIG$fault"; fi
  status=0; wait $launcher || status=$?
  [ $status -ne 0 ] || fail "$fault: the job exited 0"
  if [ $fault = STOP ]; then
    grep -q "rank 0 of 2: the other ranks did not join .* within 5 s: a rank died or hangs" "$log" ||
      fail "STOP: no message naming the wait: $(tail -5 "$log")"
  else
    grep -qi "rank 1.*exited on signal 9\|signal 9\|killed" "$log" || fail "KILL: no message from the launcher: $(tail -5 "$log")"
  fi
  for _ in $(seq 50); do [ -z "$(pgrep -f -- "--run-dir $work" || true)" ] && break; sleep 0.1; done
  [ -z "$(pgrep -f -- "--run-dir $work" || true)" ] || fail "$fault: processes left behind"
  echo "SIG$fault to rank 1: the job ended in $((SECONDS - start)) s with status $status"
done
