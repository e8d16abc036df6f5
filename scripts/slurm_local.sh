#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for testing lrnn's Slurm scripts (scripts/run_tests.sh
# --slurm): munge, slurmctld and slurmd from Debian's packages, on localhost only.
#
#   scripts/slurm_local.sh up       install the packages if missing (root), start the cluster
#   scripts/slurm_local.sh down     cancel its jobs, stop what `up` started (by pid), nothing else
#   scripts/slurm_local.sh status   whether it runs; its nodes and jobs
#   scripts/slurm_local.sh env      the line that points Slurm's commands at it:
#                                   eval "$(scripts/slurm_local.sh env)"; sbatch ...
#
# Everything lives in $LRNN_SLURM_DIR (default build/slurm): slurm.conf, the munge key and socket,
# the spool and state directories, logs, and the pids of the daemons `up` started. The node has
# the machine's CPUs (2 here) in one partition `short` (MaxTime 1 hour, the default
# partition); jobs may be requeued (JobRequeue=1); KillWait is 10 s (a time limit or scancel
# sends SIGTERM, then SIGKILL 10 s later); a requeued job may start again 30 s after it ended
# (cred_expire; Slurm's default is 120 s). The daemons talk over 127.0.0.1 on ports
# LRNN_SLURM_PORT (default 16817) and the next one; Slurm has no option to listen on one interface
# only, so they accept connections from anywhere, and munge refuses every message not signed with
# this cluster's key (written here, mode 400). `up` and `down` are idempotent; `up` refuses to start next
# to a slurmctld it did not start (exit 1).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${LRNN_SLURM_DIR:-$root/build/slurm}"
port="${LRNN_SLURM_PORT:-16817}"
conf="$dir/slurm.conf"
node="$(hostname -s)"

say() { echo "slurm_local: $*"; }
die() { echo "slurm_local: $*" >&2; exit 1; }

# The pid in $dir/<name>.pid if that process is alive and is still that program.
live_pid() {
  local file="$dir/$1.pid" pid exe
  [ -s "$file" ] || return 1
  pid="$(cat "$file")"
  [ -d "/proc/$pid" ] || return 1
  exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
  case "$exe" in *"$2"*) echo "$pid" ;; *) return 1 ;; esac
}

# Processes that carry this cluster's mark in their environment: the daemons and what slurmd
# forked (slurmstepd), which outlive slurmd when it is killed.
marked_pids() {
  local e pid
  for e in /proc/[0-9]*/environ; do
    pid="${e#/proc/}"
    pid="${pid%/environ}"
    if { tr '\0' '\n' < "$e"; } 2>/dev/null | grep -qxF "LRNN_SLURM_LOCAL=$dir"; then
      echo "$pid"
    fi
  done
}

install_packages() {
  "$root/scripts/install_deps.sh" --slurm > /dev/null
}

write_config() {
  mkdir -p "$dir"/{state,spool,log,munge}
  chmod 700 "$dir/munge"
  if [ ! -s "$dir/munge/munge.key" ]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
    chmod 400 "$dir/munge/munge.key"
  fi
  local cpus mem
  cpus="$(nproc)"
  mem="$(awk '/MemTotal/ { print int($2 / 1024 / 2) }' /proc/meminfo)"
  cat > "$conf" <<EOF
# Written by scripts/slurm_local.sh: a one-node cluster on localhost for lrnn's tests.
ClusterName=lrnn-local
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=30
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
ReturnToService=2
JobRequeue=1
KillWait=10
InactiveLimit=0
MinJobAge=600
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=short Nodes=$node Default=YES DefaultTime=10:00 MaxTime=1:00:00 State=UP
EOF
}

# Starts one daemon in the foreground of a new session, marked, and records its pid.
start_daemon() {
  local name="$1"
  shift
  LRNN_SLURM_LOCAL="$dir" SLURM_CONF="$conf" setsid "$@" > "$dir/log/$name.out" 2>&1 < /dev/null &
  echo $! > "$dir/$name.pid"
}

wait_for() {  # seconds, description, command...
  local t="$1" what="$2"
  shift 2
  for _ in $(seq 1 $((t * 4))); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  die "$what did not come up within $t s (logs in $dir/log)"
}

node_ready() {
  local state
  state="$(SLURM_CONF="$conf" sinfo -h -n "$node" -o %t 2>/dev/null)"
  case "$state" in idle* | mix* | alloc*) return 0 ;; *) return 1 ;; esac
}

up() {
  if live_pid slurmctld slurmctld > /dev/null && live_pid slurmd slurmd > /dev/null &&
    live_pid munged munged > /dev/null; then
    say "already up ($conf)"
    return 0
  fi
  local other mine
  mine="$(live_pid slurmctld slurmctld || true)"
  other="$(pgrep -x slurmctld | grep -vxF "${mine:-none}" || true)"
  if [ -n "$other" ]; then
    die "a slurmctld that this script did not start is running (pid ${other//$'\n'/ }): not starting a second"
  fi
  down quiet  # a cluster half up: stop what is left of it first
  install_packages
  write_config
  start_daemon munged munged --foreground --force --key-file="$dir/munge/munge.key" \
    --socket="$dir/munge/munge.socket" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" --log-file="$dir/log/munged.log"
  wait_for 10 munged test -S "$dir/munge/munge.socket"
  start_daemon slurmctld slurmctld -D -c -f "$conf"
  wait_for 30 slurmctld env SLURM_CONF="$conf" scontrol ping
  start_daemon slurmd slurmd -D -N "$node" -f "$conf"
  if ! (wait_for 30 "the node $node" node_ready); then
    SLURM_CONF="$conf" scontrol update nodename="$node" state=resume 2>/dev/null || true
    wait_for 30 "the node $node" node_ready
  fi
  say "up: slurmctld $(cat "$dir/slurmctld.pid"), slurmd $(cat "$dir/slurmd.pid"), munged $(cat "$dir/munged.pid")"
  say "use it with: export SLURM_CONF=$conf"
}

down() {
  local quiet="${1:-}" pid alive=()
  [ -d "$dir" ] || { [ -n "$quiet" ] || say "not up (no $dir)"; return 0; }
  if live_pid slurmctld slurmctld > /dev/null; then
    local jobs
    mapfile -t jobs < <(SLURM_CONF="$conf" squeue -h -o %A 2>/dev/null)
    if [ ${#jobs[@]} -gt 0 ]; then SLURM_CONF="$conf" scancel --quiet --full "${jobs[@]}" || true; fi
    for _ in $(seq 1 60); do  # the jobs' own SIGTERM handling, then Slurm's SIGKILL
      [ -z "$(SLURM_CONF="$conf" squeue -h -t R,CG -o %A 2>/dev/null)" ] && break
      sleep 0.5
    done
  fi
  local pids=()
  for name in slurmd slurmctld munged; do
    pid="$(live_pid "$name" "$name" || true)"
    if [ -n "$pid" ]; then
      pids+=("$pid")
      kill -TERM "$pid" 2> /dev/null || true
    fi
  done
  mapfile -t -O ${#pids[@]} pids < <(marked_pids)
  # Up to 20 s to save state and leave, then SIGKILL; a process that is gone fails kill -0.
  for _ in $(seq 1 80); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.25
  done
  for pid in "${alive[@]}" $(marked_pids); do kill -KILL "$pid" 2> /dev/null || true; done
  for _ in $(seq 1 20); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2> /dev/null && alive+=("$pid"); done
    [ ${#alive[@]} -eq 0 ] && break
    sleep 0.25
  done
  [ ${#alive[@]} -eq 0 ] || die "still running after SIGKILL: ${alive[*]}"
  rm -f "$dir"/{slurmd,slurmctld,munged}.pid
  [ -n "$quiet" ] || say "down"
}

status() {
  local any=1
  for name in munged slurmctld slurmd; do
    if pid="$(live_pid "$name" "$name")"; then echo "$name: running (pid $pid)"; any=0; else
      echo "$name: not running"
    fi
  done
  if live_pid slurmctld slurmctld > /dev/null; then
    SLURM_CONF="$conf" sinfo
    SLURM_CONF="$conf" squeue
  fi
  return $any
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) echo "export SLURM_CONF=$conf" ;;
  *) sed -n '2,9p' "$0" >&2; exit 2 ;;
esac
