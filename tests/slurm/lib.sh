# shellcheck shell=bash disable=SC2034  # sourced; its variables are used by the tests
# Shared by the Slurm tests (tests/slurm/test_*.sh, label "slurm"): paths, waiting for jobs, and
# checks that fail the test with a message. ctest gives the environment: LRNN_SOURCE_DIR,
# LRNN_SWEEP, LRNN_TRAIN, LRNN_SLURM_WORK (scratch), SLURM_CONF (the cluster of
# scripts/slurm_local.sh); LRNN_MPI_TRAIN for the MPI test.
set -euo pipefail
: "${LRNN_SOURCE_DIR:?}" "${LRNN_SWEEP:?}" "${LRNN_SLURM_WORK:?}" "${SLURM_CONF:?}"
export SLURM_CONF
: "${LONG_EPOCHS:=160}"
# The python3 on PATH may be a virtualenv without h5py while the system one (Debian's
# python3-h5py) has it.
python=python3
python3 -c 'import h5py' > /dev/null 2>&1 || python=/usr/bin/python3
compare="$LRNN_SOURCE_DIR/tests/slurm/compare_runs.py"
slurm_sweep="$LRNN_SOURCE_DIR/scripts/slurm_sweep.sh"
t_start=$SECONDS

log() { echo "[$((SECONDS - t_start)) s] $*"; }
fail() {
  echo "FAILED: $*" >&2
  exit 1
}
expect_eq() {  # actual expected what
  [ "$1" = "$2" ] || fail "$3: '$1', expected '$2'"
}

# A job's state (COMPLETED, TIMEOUT, CANCELLED, PENDING, RUNNING, ...) while slurmctld remembers
# it (MinJobAge, 10 minutes here).
job_state() { scontrol show job "$1" 2> /dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }

# Waits until job $1 has ended, at most $2 seconds; prints its final state.
wait_job() {
  local id="$1" limit="${2:-900}" state
  local deadline=$((SECONDS + limit))
  while true; do
    state="$(job_state "$id")"
    case "$state" in
      COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | PREEMPTED | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE)
        echo "$state"
        return 0
        ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || fail "job $id still $state after $limit s"
    sleep 2
  done
}

# Waits until $1 (a metrics.jsonl) has at least $2 lines, at most $3 seconds.
wait_lines() {
  local deadline=$((SECONDS + ${3:-600}))
  while [ "$({ wc -l < "$1"; } 2> /dev/null || echo 0)" -lt "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || fail "$1 has fewer than $2 lines after ${3:-600} s"
    sleep 0.5
  done
}

# The column $2 of the row named $3 in the CSV file $1.
csv_value() {
  "$python" - "$1" "$2" "$3" << 'PY'
import csv, sys
for row in csv.DictReader(open(sys.argv[1], newline="")):
    if row["name"] == sys.argv[3]:
        print(row[sys.argv[2]])
PY
}

# Submits with scripts/slurm_sweep.sh; sets array_id and collect_id.
submit_sweep() {
  local out
  out="$(LRNN_SWEEP="$LRNN_SWEEP" LRNN_SLURM_CPUS="${LRNN_SLURM_CPUS:-1}" "$slurm_sweep" "$@")" ||
    fail "slurm_sweep.sh $*: $out"
  echo "$out"
  array_id="$(echo "$out" | sed -n 's/.*array job: \([0-9]*\).*/\1/p')"
  collect_id="$(echo "$out" | sed -n 's/.*collect job: \([0-9]*\).*/\1/p')"
  if [ -z "$array_id" ] || [ -z "$collect_id" ]; then fail "no job ids in: $out"; fi
}

# The newest checkpoint of run directory $1.
newest_checkpoint() { find "$1/checkpoints" -name 'step_??????.h5' | sort | tail -1; }
