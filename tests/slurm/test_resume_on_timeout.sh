#!/usr/bin/env bash
# slurm_sweep.sh --resume-on-timeout: with --time=3, Slurm's warning signal (USR1 60 s before
# the limit) makes the task checkpoint and requeue itself; the requeued task resumes, and the
# one submission completes the long run, equal to the run without limits.
source "$(dirname "$0")/lib.sh"
out="$LRNN_SLURM_WORK/resume_on_timeout"
rm -rf "$out"
LRNN_SLURM_TIME=3 submit_sweep --resume-on-timeout "$LRNN_SOURCE_DIR/configs/sanity.yaml" 0 \
  "$out" --set "training.n_epochs=$LONG_EPOCHS"
state="$(wait_job "$collect_id" 1500)"
log "collect job $collect_id: $state; task ${array_id}_0: $(job_state "${array_id}_0")"
grep "requeueing" "$out"/slurm/*.out || fail "the task never requeued itself: make the run longer"
log "the run resumed $(grep -c "resuming from" "$out/seed0/train.log") times"
expect_eq "$(csv_value "$out/sweep.csv" status seed0)" ok "the run's status"
"$python" "$compare" sweep "$out" "$LRNN_SLURM_WORK/direct_long"
log "passed"
