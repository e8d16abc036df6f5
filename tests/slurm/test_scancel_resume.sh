#!/usr/bin/env bash
# scancel of a running training job (lrnn-train under sbatch): SIGTERM, a checkpoint of the
# last step, exit 143; lrnn-train --resume of that checkpoint finishes the run exactly as the
# uninterrupted one (seed 0 of the direct sweep).
source "$(dirname "$0")/lib.sh"
: "${LRNN_TRAIN:?}"
run="$LRNN_SLURM_WORK/scancel"
rm -rf "$run" "$run.out"
cfg="$LRNN_SOURCE_DIR/configs/sanity.yaml"
job="$(sbatch --parsable --job-name=lrnn-scancel --cpus-per-task=1 --output="$run.out" \
  --wrap "exec $LRNN_TRAIN $cfg --out $run --threads 1")"
wait_lines "$run/metrics.jsonl" 300 900
scancel "$job"
state="$(wait_job "$job" 120)"
log "job $job after scancel: $state"
expect_eq "$state" CANCELLED "the job"
grep "interrupted at step" "$run.out" || fail "no 'interrupted at step' in the job's output"
ckpt="$(newest_checkpoint "$run")"
step="$(basename "$ckpt" .h5)"
step=$((10#${step#step_}))
expect_eq "$step" "$(wc -l < "$run/metrics.jsonl")" "the checkpoint's step vs metrics.jsonl"
log "resuming $ckpt"
nice -n 10 "$LRNN_TRAIN" "$cfg" --out "$run" --threads 1 --resume "$ckpt" 2>&1 | tail -1
"$python" "$compare" run "$run" "$LRNN_SLURM_WORK/direct/seed0"
log "passed"
