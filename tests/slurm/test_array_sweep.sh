#!/usr/bin/env bash
# scripts/slurm_sweep.sh for real: the 6-seed sanity sweep as a job array and its collect job
# writes the sweep.csv of lrnn-sweep run directly (every column but wall_time_s, rank and
# reused), and every run's parameters, Adam state and metrics bit for bit.
source "$(dirname "$0")/lib.sh"
out="$LRNN_SLURM_WORK/array"
rm -rf "$out"
submit_sweep "$LRNN_SOURCE_DIR/configs/sanity.yaml" 0-5 "$out"
state="$(wait_job "$collect_id" 1500)"
log "collect job $collect_id: $state"
expect_eq "$state" COMPLETED "the collect job"
for k in 0 1 2 3 4 5; do
  expect_eq "$(job_state "${array_id}_$k")" COMPLETED "array task $k"
  expect_eq "$(csv_value "$out/sweep.csv" status "seed$k")" ok "seed$k's status"
done
"$python" "$compare" sweep "$out" "$LRNN_SLURM_WORK/direct"
log "passed"
