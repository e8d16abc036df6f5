#!/usr/bin/env bash
# Fixtures of the Slurm tests: what they compare with, run by lrnn-sweep directly (no Slurm), one
# thread per run as the array tasks have.
#   direct_sweeps.sh sanity   the 6-seed sanity sweep (LRNN_SLURM_WORK/direct)
#   direct_sweeps.sh long     one long run, the sanity config for LONG_EPOCHS epochs, that the
#                             time-limit tests cut into pieces (LRNN_SLURM_WORK/direct_long)
source "$(dirname "$0")/lib.sh"
mkdir -p "$LRNN_SLURM_WORK"
# Computed afresh: lrnn-sweep would reuse the runs of an earlier test run, made by another binary.
case "${1:-}" in sanity) rm -rf "$LRNN_SLURM_WORK/direct" ;; long) rm -rf "$LRNN_SLURM_WORK/direct_long" ;; esac
case "${1:-}" in
  sanity)
    log "direct sweep: configs/sanity.yaml, seeds 0:5"
    nice -n 10 "$LRNN_SWEEP" "$LRNN_SOURCE_DIR/configs/sanity.yaml" --seeds 0:5 --threads 1 \
      --out "$LRNN_SLURM_WORK/direct" 2>&1 | tail -4
    ;;
  long)
    log "direct long run: ${LONG_EPOCHS} epochs"
    nice -n 10 "$LRNN_SWEEP" "$LRNN_SOURCE_DIR/configs/sanity.yaml" --seeds 0 --threads 1 \
      --set "training.n_epochs=$LONG_EPOCHS" --out "$LRNN_SLURM_WORK/direct_long" 2>&1 | tail -2
    ;;
  *) fail "usage: direct_sweeps.sh sanity|long" ;;
esac
log "done"
