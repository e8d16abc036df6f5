#!/usr/bin/env bash
# scontrol requeue of a running array task: Slurm stops it (SIGTERM: lrnn-sweep checkpoints and
# records "interrupted") and runs it again, and the run resumes from its checkpoint; sweep.csv
# and the runs end as in the direct sweep.
source "$(dirname "$0")/lib.sh"
out="$LRNN_SLURM_WORK/requeue"
rm -rf "$out"
submit_sweep "$LRNN_SOURCE_DIR/configs/sanity.yaml" 0-1 "$out"
wait_lines "$out/seed0/metrics.jsonl" 200 900
scontrol requeue "${array_id}_0"
log "requeued ${array_id}_0 at step $(wc -l < "$out/seed0/metrics.jsonl")"
state="$(wait_job "$collect_id" 1500)"
log "collect job $collect_id: $state"
expect_eq "$state" COMPLETED "the collect job"
grep -q "resuming from" "$out/seed0/train.log" || fail "seed0 did not resume (train.log)"
grep "interrupted at step\|resuming from" "$out/seed0/train.log" | sed 's/^/  /'
expect_eq "$(csv_value "$out/sweep.csv" status seed0)" ok "seed0's status"
"$python" "$compare" sweep "$out" "$LRNN_SLURM_WORK/direct"
log "passed"
