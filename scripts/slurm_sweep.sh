#!/usr/bin/env bash
# A seed sweep as a Slurm job array: array task k trains seed k (at every point of the grid, one
# after another), and a last job, which starts when every task has ended, writes sweep.csv and
# sweep.svg from the run directories (lrnn-sweep --collect).
#
#   scripts/slurm_sweep.sh CONFIG SEEDS OUT [lrnn-sweep options: --grid K=V1,V2 --set K=V ...]
#   scripts/slurm_sweep.sh configs/sanity.yaml 0-99 sweeps/sanity --grid rnn.R=1,2,3
#
# SEEDS is a Slurm array range: 0-99, 0-9,20, or 0-99%20 to run at most 20 tasks at once.
# Environment: LRNN_SLURM_CPUS cores per task (default 4; each run uses them as threads),
# LRNN_SLURM_TIME time limit per task (default 1:00:00), LRNN_SBATCH_ARGS more sbatch options
# ("--partition=short --account=mylab"), LRNN_SWEEP the lrnn-sweep to run (default
# build/apps/lrnn-sweep), LRNN_SLURM_DRY_RUN=1 prints the sbatch commands instead.
#
# Finished runs are reused, so submitting the same sweep again after some tasks failed or ran out
# of time trains only what is missing. One allocation with MPI instead of an array (lrnn built
# with -DLRNN_WITH_MPI=ON): srun -n 32 -c 4 build/apps/lrnn-sweep CONFIG --seeds 0:99 --out OUT
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,9p' "$0" >&2
  exit 2
fi
config="$1" seeds="$2" out="$3"
shift 3

# lrnn-sweep's form of the array range: 0-99%20 -> 0:99, 0-9,20 -> 0:9,20.
lrnn_seeds="${seeds%%\%*}"
if [[ ! "$lrnn_seeds" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]]; then
  echo "slurm_sweep.sh: SEEDS '$seeds' must be ranges such as 0-99, 0-9,20 or 0-99%20" >&2
  exit 2
fi
lrnn_seeds="${lrnn_seeds//-/:}"

case "${LRNN_SLURM_ROLE:-submit}" in
  task)  # inside the array: this task's seed, every grid point
    exec "$LRNN_SWEEP" "$config" --seeds "$SLURM_ARRAY_TASK_ID" --out "$out" --no-summary \
      --threads "${SLURM_CPUS_PER_TASK:-1}" "$@" ;;
  collect)  # after the array: the table and the figure of every run
    exec "$LRNN_SWEEP" "$config" --seeds "$lrnn_seeds" --out "$out" --collect "$@" ;;
  submit) ;;
  *) echo "slurm_sweep.sh: unknown LRNN_SLURM_ROLE '$LRNN_SLURM_ROLE'" >&2; exit 2 ;;
esac

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
sweep="$(realpath "${LRNN_SWEEP:-$root/build/apps/lrnn-sweep}")"
if [ ! -x "$sweep" ]; then
  echo "slurm_sweep.sh: $sweep not found: build first (scripts/build.sh)" >&2
  exit 2
fi
# Check the sweep (config, grid, seeds) here, not in 100 queued jobs: --collect trains nothing,
# and exits with 2 for a bad config or grid (1 only says that runs are missing, as they are).
status=0
check=$("$sweep" "$config" --seeds "$lrnn_seeds" --out "$out" --collect --no-summary "$@" 2>&1) ||
  status=$?
if [ "$status" -eq 2 ]; then
  echo "$check" >&2
  exit 2
fi
mkdir -p "$out/slurm"

# Slurm runs a copy of this script from its spool directory: everything it needs goes in the
# environment. The jobs start in the current directory, so relative paths stay valid.
submit() {
  if [ "${LRNN_SLURM_DRY_RUN:-0}" = 1 ]; then
    echo "sbatch $*" >&2
    echo "JOB_ID"
  else
    sbatch "$@"
  fi
}
# shellcheck disable=SC2206  # LRNN_SBATCH_ARGS is a list of options, split on purpose
extra=(${LRNN_SBATCH_ARGS:-})
array_id=$(submit --parsable --job-name=lrnn-sweep --array="$seeds" \
  --cpus-per-task="${LRNN_SLURM_CPUS:-4}" --ntasks=1 --time="${LRNN_SLURM_TIME:-1:00:00}" \
  --output="$out/slurm/%A_%a.out" --export="ALL,LRNN_SLURM_ROLE=task,LRNN_SWEEP=$sweep" \
  "${extra[@]}" "$0" "$config" "$seeds" "$out" "$@")
echo "slurm_sweep.sh: array job: $array_id"
collect_id=$(submit --parsable --job-name=lrnn-sweep-collect \
  --dependency="afterany:${array_id%%;*}" --cpus-per-task=1 --ntasks=1 --time=0:10:00 \
  --output="$out/slurm/collect_%j.out" --export="ALL,LRNN_SLURM_ROLE=collect,LRNN_SWEEP=$sweep" \
  "${extra[@]}" "$0" "$config" "$seeds" "$out" "$@")
echo "slurm_sweep.sh: collect job: $collect_id (writes $out/sweep.csv and $out/sweep.svg)"
