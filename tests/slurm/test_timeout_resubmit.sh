#!/usr/bin/env bash
# A task killed by its time limit (--time=1 on a run of several minutes; Slurm sends SIGTERM up
# to a minute after the limit, then SIGKILL after KillWait): its run is "interrupted" with a
# checkpoint, and resubmitting the same array index (LRNN_SLURM_ARRAY=0) resumes it, until the
# sweep completes, equal to the run without limits.
source "$(dirname "$0")/lib.sh"
out="$LRNN_SLURM_WORK/timeout"
rm -rf "$out"
rounds=0
while true; do
  rounds=$((rounds + 1))
  [ "$rounds" -le 8 ] || fail "not finished after 8 submissions"
  LRNN_SLURM_TIME=1 LRNN_SLURM_ARRAY=0 submit_sweep "$LRNN_SOURCE_DIR/configs/sanity.yaml" 0 \
    "$out" --set "training.n_epochs=$LONG_EPOCHS"
  state="$(wait_job "$collect_id" 600)"
  task="$(job_state "${array_id}_0")"
  status="$(csv_value "$out/sweep.csv" status seed0)"
  log "round $rounds: task $task, run $status at step $(csv_value "$out/sweep.csv" steps seed0)"
  if [ "$status" = ok ]; then break; fi
  expect_eq "$task" TIMEOUT "the task that did not finish"
  expect_eq "$status" interrupted "the run cut by the time limit"
done
[ "$rounds" -ge 2 ] || fail "the run finished within one time limit: make it longer (LONG_EPOCHS)"
"$python" "$compare" sweep "$out" "$LRNN_SLURM_WORK/direct_long"
log "passed after $rounds submissions"
