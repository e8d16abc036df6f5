#!/usr/bin/env bash
# A seed sweep as a Slurm job array: array task k trains seed k (at every point of the grid, one
# after another), and a last job, which starts when every task has ended, writes sweep.csv and
# sweep.svg from the run directories (lrnn-sweep --collect).
#
#   scripts/slurm_sweep.sh [--resume-on-timeout] CONFIG SEEDS OUT [lrnn-sweep options: --grid K=V1,V2 --set K=V ...]
#   scripts/slurm_sweep.sh configs/sanity.yaml 0-99 sweeps/sanity --grid rnn.R=1,2,3
#
# SEEDS is a Slurm array range: 0-99, 0-9,20, or 0-99%20 to run at most 20 tasks at once.
# --resume-on-timeout: a task that nears its time limit (Slurm's warning signal, USR1 at
# LRNN_SLURM_SIGNAL_S = 60 s before it) checkpoints and requeues itself, so a run longer than
# the partition's limit goes on in the next allocation.
# Environment: LRNN_SLURM_CPUS cores per task (default 4; each run uses them as threads),
# LRNN_SLURM_TIME time limit per task (default 1:00:00), LRNN_SBATCH_ARGS more sbatch options
# ("--partition=short --account=mylab"), LRNN_SLURM_ARRAY the array indices to submit (default
# SEEDS: LRNN_SLURM_ARRAY=7 resubmits task 7 alone, and the collect job still tables all of
# SEEDS), LRNN_SWEEP the lrnn-sweep to run (default build/apps/lrnn-sweep), LRNN_SLURM_DRY_RUN=1
# prints the sbatch commands instead.
#
# Runs resume: a task stopped by a signal (scancel, its time limit, a requeue, pre-emption) or
# killed outright (a lost node) continues its run from the newest checkpoint when it runs again,
# and finished runs are reused, so submitting the same sweep again after some tasks failed or ran
# out of time trains only what is missing. The array is submitted with --requeue (Slurm requeues a
# task whose node failed) and --open-mode=append (a requeued task's log goes on). One allocation
# with MPI instead of an array (lrnn built with -DLRNN_WITH_MPI=ON):
# srun -n 32 -c 4 build/apps/lrnn-sweep CONFIG --seeds 0:99 --out OUT
set -euo pipefail

resume_on_timeout="${LRNN_RESUME_ON_TIMEOUT:-0}"
if [ "${1:-}" = "--resume-on-timeout" ]; then
  resume_on_timeout=1
  shift
fi
if [ $# -lt 3 ]; then
  sed -n '2,13p' "$0" >&2
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
array="${LRNN_SLURM_ARRAY:-$seeds}"

# The numbers of a range list: 0-2,7 -> 0 1 2 7.
expand() {
  local part
  for part in ${1//,/ }; do
    part="${part%%\%*}"
    if [[ "$part" == *-* ]]; then seq "${part%-*}" "${part#*-}"; else echo "$part"; fi
  done
}
if [[ ! "${array%%\%*}" =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]]; then
  echo "slurm_sweep.sh: LRNN_SLURM_ARRAY '$array' must be ranges such as 7 or 0-3,9" >&2
  exit 2
fi
for k in $(expand "${array%%\%*}"); do
  if ! expand "${seeds%%\%*}" | grep -qx "$k"; then
    echo "slurm_sweep.sh: LRNN_SLURM_ARRAY: index $k is not one of the seeds $seeds" >&2
    exit 2
  fi
done

# Inside the array with --resume-on-timeout: Slurm's warning signal reaches this shell alone
# (--signal=B:USR1), which passes it on to lrnn-sweep as SIGTERM (a checkpoint, then exit 143) and
# requeues the task; the requeued task resumes the run. scancel and the time limit itself signal
# lrnn-sweep directly, as without the option.
task_requeuing_on_timeout() {
  local child status=0 requeue=0
  "$@" &
  child=$!
  trap 'requeue=1; kill -TERM "$child" 2> /dev/null || true' USR1
  while true; do
    status=0
    wait "$child" || status=$?
    # wait returns early (> 128) when a trapped signal arrives; the child may still run.
    kill -0 "$child" 2> /dev/null || break
  done
  if [ "$requeue" = 1 ] && [ "$status" -ne 0 ]; then
    echo "slurm_sweep.sh: near the time limit: checkpointed, requeueing" \
      "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" >&2
    scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
    exit 0
  fi
  exit "$status"
}

case "${LRNN_SLURM_ROLE:-submit}" in
  task)  # inside the array: this task's seed, every grid point
    task=("$LRNN_SWEEP" "$config" --seeds "$SLURM_ARRAY_TASK_ID" --out "$out" --no-summary
      --threads "${SLURM_CPUS_PER_TASK:-1}" "$@")
    if [ "$resume_on_timeout" = 1 ]; then task_requeuing_on_timeout "${task[@]}"; fi
    exec "${task[@]}" ;;
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
timeout_args=()
if [ "$resume_on_timeout" = 1 ]; then
  timeout_args=(--signal="B:USR1@${LRNN_SLURM_SIGNAL_S:-60}")
fi
array_id=$(submit --parsable --job-name=lrnn-sweep --array="$array" \
  --cpus-per-task="${LRNN_SLURM_CPUS:-4}" --ntasks=1 --time="${LRNN_SLURM_TIME:-1:00:00}" \
  --requeue --open-mode=append "${timeout_args[@]}" \
  --output="$out/slurm/%A_%a.out" \
  --export="ALL,LRNN_SLURM_ROLE=task,LRNN_SWEEP=$sweep,LRNN_RESUME_ON_TIMEOUT=$resume_on_timeout" \
  "${extra[@]}" "$0" "$config" "$seeds" "$out" "$@")
echo "slurm_sweep.sh: array job: $array_id"
collect_id=$(submit --parsable --job-name=lrnn-sweep-collect \
  --dependency="afterany:${array_id%%;*}" --cpus-per-task=1 --ntasks=1 --time=0:10:00 \
  --output="$out/slurm/collect_%j.out" --export="ALL,LRNN_SLURM_ROLE=collect,LRNN_SWEEP=$sweep" \
  "${extra[@]}" "$0" "$config" "$seeds" "$out" "$@")
echo "slurm_sweep.sh: collect job: $collect_id (writes $out/sweep.csv and $out/sweep.svg)"
