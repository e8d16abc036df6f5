#!/usr/bin/env bash
# Data-parallel training through Slurm's launcher: srun -n 2 (PMIx) of lrnn-train built with MPI
# equals the one-process run (float64: to a relative 1e-10, as test_mpi_e2e requires of mpirun).
source "$(dirname "$0")/lib.sh"
: "${LRNN_MPI_TRAIN:?}"
work="$LRNN_SLURM_WORK/srun"
rm -rf "$work"
mkdir -p "$work"
cfg="$LRNN_SOURCE_DIR/configs/sanity.yaml"
# 20 steps of a batch of 2 blocks (one per rank), validation every 10.
sets=(--set training.precision=float64 --set training.n_train_trials=640 --set training.n_epochs=1
  --set training.n_val_trials=64 --set training.eval_every=10 --threads 1)
srun --mpi=list 2>&1 | tr '\n' ' '
echo
nice -n 10 "$LRNN_MPI_TRAIN" "$cfg" --out "$work/one" "${sets[@]}" > "$work/one.log" 2>&1 ||
  fail "one process: $(tail -3 "$work/one.log")"
srun --mpi=pmix -n 2 -c 1 "$LRNN_MPI_TRAIN" "$cfg" --out "$work/two" "${sets[@]}" \
  > "$work/two.log" 2>&1 || fail "srun -n 2: $(tail -5 "$work/two.log")"
grep -q "2 ranks" "$work/two.log" || fail "srun -n 2 did not train on 2 ranks: $(head -5 "$work/two.log")"
grep "2 ranks" "$work/two.log" | head -1
"$python" "$compare" run "$work/one" "$work/two" --rtol 1e-10
log "passed"
