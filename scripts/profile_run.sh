#!/usr/bin/env bash
# Runs one whole training run under /usr/bin/time -v and says where its wall time went: the
# training steps themselves (the sum of step_time_s in metrics.jsonl) against everything else
# (start-up, drawing C, validation, checkpoints, logging, exit), and its peak memory.
#   scripts/profile_run.sh [CONFIG] [-- extra lrnn-train flags]   (default configs/default.yaml)
# Uses the Release build in build/ (LRNN_BUILD_DIR), brought up to date first; the run goes to a
# temporary directory that is removed afterwards. Timings need idle cores: see scripts/bench.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LRNN_BUILD_DIR:-$root/build}"
config="$root/configs/default.yaml"
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) config="$1" ;;
  esac
  shift
done
[ -f "$config" ] || { echo "profile_run.sh: no config file $config" >&2; exit 2; }
"$root/scripts/install_deps.sh" --profile
# Up to date with the sources (nothing to do when it is), so the run measures this code.
LRNN_BUILD_DIR="$build" "$root/scripts/build.sh" > "$(mktemp)" || {
  echo "profile_run.sh: the build failed (scripts/build.sh)" >&2; exit 1; }
train="$build/apps/lrnn-train"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
echo "profile_run: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run"
echo "profile_run: /usr/bin/time -v $train $config --out $out/run ${extra[*]}"
/usr/bin/time -v -o "$out/time.txt" "$train" "$config" --out "$out/run" "${extra[@]}" \
  > "$out/stdout.txt" 2> "$out/stderr.txt" || {
  cat "$out/stderr.txt" >&2; echo "profile_run.sh: lrnn-train failed" >&2; exit 1; }
tail -n 3 "$out/stderr.txt"
python3 - "$out/time.txt" "$out/run/metrics.jsonl" <<'PY'
import json, sys
time_txt, metrics = sys.argv[1], sys.argv[2]
fields = dict(l.strip().rsplit(": ", 1) for l in open(time_txt) if ": " in l)
clock = fields["Elapsed (wall clock) time (h:mm:ss or m:ss)"].split(":")
wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(clock)))
rss_mb = int(fields["Maximum resident set size (kbytes)"]) * 1024 / 1e6
rows = [json.loads(l) for l in open(metrics)]
if not rows:
    sys.exit("profile_run.sh: the run logged no steps")
steps = sum(r["step_time_s"] for r in rows)
n_val = sum(1 for r in rows if "val_loss" in r)
print(f"steps            {len(rows)} ({n_val} with validation)")
print(f"wall time        {wall:.1f} s  (user {fields['User time (seconds)']} s, "
      f"system {fields['System time (seconds)']} s, CPU {fields['Percent of CPU this job got']})")
print(f"training steps   {steps:.1f} s, {steps / len(rows) * 1e3:.1f} ms a step")
print(f"everything else  {wall - steps:.1f} s = {100 * (wall - steps) / wall:.1f} % of the wall time")
print(f"peak memory      {rss_mb:.1f} MB (maximum resident set size)")
PY
