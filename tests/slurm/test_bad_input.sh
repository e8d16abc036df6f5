#!/usr/bin/env bash
# Array tasks that fail on bad input (a trials file that is not HDF5): each run is a row with
# status "failed" and the message, and the collect job still runs and writes the table.
source "$(dirname "$0")/lib.sh"
out="$LRNN_SLURM_WORK/bad_input"
rm -rf "$out"
mkdir -p "$LRNN_SLURM_WORK"
echo "not an HDF5 file" > "$LRNN_SLURM_WORK/bad_trials.h5"
submit_sweep "$LRNN_SOURCE_DIR/configs/sanity.yaml" 0-1 "$out" \
  --set "task.trials_file=$LRNN_SLURM_WORK/bad_trials.h5"
state="$(wait_job "$collect_id" 600)"
log "collect job $collect_id: $state (exit 1: runs failed); tasks $(job_state "${array_id}_0")," \
  "$(job_state "${array_id}_1")"
expect_eq "$state" FAILED "the collect job (it ran, and says that runs failed)"
for k in 0 1; do
  expect_eq "$(job_state "${array_id}_$k")" FAILED "array task $k"
  expect_eq "$(csv_value "$out/sweep.csv" status "seed$k")" failed "seed$k's status"
  message="$(csv_value "$out/sweep.csv" message "seed$k")"
  echo "  seed$k: $message"
  [[ "$message" == *bad_trials.h5* ]] || fail "seed$k's message does not name the file"
done
log "passed"
