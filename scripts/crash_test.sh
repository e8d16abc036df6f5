#!/usr/bin/env bash
# Crash safety of lrnn-train: starts a run that checkpoints every step, kills it with SIGKILL at
# random moments (resuming from the newest checkpoint each time), and after every kill checks that
# the newest checkpoint, best.h5 and final.h5 load and that no temporary file passes for a
# checkpoint. At the end it resumes to completion and checks that the run finishes, that
# metrics.jsonl holds every step exactly once, in order, and that the result equals an
# uninterrupted run of the same config, bit for bit.
#
#   scripts/crash_test.sh [--kills N] [--config FILE] [--train EXE] [--inspect EXE] [--dir DIR]
#                         [--seed S] [--min-sleep S] [--max-sleep S] [--steps N] [--short]
#                         [--no-reference] [--keep]
#
#   --kills N        SIGKILLs to send (default 20)
#   --config FILE    the run's config (default: a small built-in one, N = 200, save_every: 1)
#   --train EXE      lrnn-train (default build/apps/lrnn-train); builds nothing
#   --inspect EXE    lrnn-inspect, used to load checkpoints (default: beside lrnn-train)
#   --dir DIR        scratch directory (default: a new one under $TMPDIR, removed at the end)
#   --seed S         seed of the kill times (default: random, printed)
#   --min-sleep S, --max-sleep S   a kill comes this long after the start (default 0.05 .. 1.5 s)
#   --steps N        steps of the built-in config (default 1500; 600 with --short)
#   --short          the quick form ctest runs: N = 100, kills within 0.05 .. 0.6 s
#   --no-reference   skip the uninterrupted run and the comparison with it
#   --keep           keep the scratch directory
# Exit code 0 when every check passed, 1 otherwise, 2 for bad usage.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
kills=20
config=""
train="$root/build/apps/lrnn-train"
inspect=""
dir=""
seed=""
min_sleep=0.05
max_sleep=1.5
steps=""
short=0
reference=1
keep=0

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --kills) kills="$2"; shift 2 ;;
    --config) config="$2"; shift 2 ;;
    --train) train="$2"; shift 2 ;;
    --inspect) inspect="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --min-sleep) min_sleep="$2"; shift 2 ;;
    --max-sleep) max_sleep="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --short) short=1; max_sleep=0.6; shift ;;
    --no-reference) reference=0; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "crash_test: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$inspect" ] || inspect="$(dirname "$train")/lrnn-inspect"
for exe in "$train" "$inspect"; do
  [ -x "$exe" ] || { echo "crash_test: $exe is not an executable (build first)" >&2; exit 2; }
done
case "$kills" in ''|*[!0-9]*) echo "crash_test: --kills must be a number" >&2; exit 2 ;; esac
[ -n "$seed" ] || seed=$(( $(date +%s%N) % 100000 ))
RANDOM=$seed

if [ -z "$dir" ]; then
  dir="$(mktemp -d "${TMPDIR:-/tmp}/lrnn_crash_test.XXXXXX")"
else
  mkdir -p "$dir"
fi
# shellcheck disable=SC2317  # called by the trap
cleanup() { if [ "$keep" = 0 ]; then rm -rf "$dir"; else echo "crash_test: kept $dir"; fi; }
trap cleanup EXIT
run="$dir/run"
log="$dir/train.out"

if [ -z "$config" ]; then
  n=200
  [ "$short" = 1 ] && n=100
  [ -n "$steps" ] || { [ "$short" = 1 ] && steps=600 || steps=1500; }
  config="$dir/crash.yaml"
  cat > "$config" <<EOF
# crash_test.sh: checkpoints at every step, so that many kills land in a checkpoint write.
rnn:
  N: $n
task:
  T_burn: 2
  T_stim: 6
  T_avg: 2
training:
  seed: 5
  batch_size: 16
  n_train_trials: $((steps * 16))
  n_val_trials: 64
  eval_every: 5
  save_every: 1
  threads: 1
EOF
fi

failures=0
fail() { echo "crash_test: FAIL: $*" >&2; failures=$((failures + 1)); }

# The newest step_NNNNNN.h5: temporary files (step_NNNNNN.h5.tmp.PID) do not match.
newest_checkpoint() {
  local f newest=""
  for f in "$run"/checkpoints/step_[0-9][0-9][0-9][0-9][0-9][0-9].h5; do
    [ -e "$f" ] && newest="$f"
  done
  echo "$newest"
}

# A finished run: final.h5 loads, and metrics.jsonl holds steps 1 .. total, each once, in order
# (a resume drops the lines after its checkpoint).
check_finished_run() {
  [ -e "$run/final.h5" ] || { fail "no final.h5"; return; }
  loads "$run/final.h5" || fail "final.h5 does not load: $(cat "$dir/inspect.err")"
  total="$(awk '/^training:/ {t = 1} t && /n_train_trials:/ {n = $2} t && /batch_size:/ {b = $2}
                t && /n_epochs:/ {e = $2} END {if (!e) e = 1; if (!b) b = 32; print int(n / b) * e}' \
           "$run/config.yaml")"
  metrics_check="$(grep -o '"step": *[0-9]*' "$run/metrics.jsonl" | grep -o '[0-9]*$' |
    awk -v total="$total" '
    { s = $1; if (s != NR) { print "line " NR " has step " s; bad = 1; exit } }
    END { if (!bad && NR != total) print NR " lines for " total " steps" }')"
  [ -z "$metrics_check" ] || fail "metrics.jsonl: $metrics_check"
}

loads() { "$inspect" "$1" --json > /dev/null 2> "$dir/inspect.err"; }

# A random delay in [min_sleep, max_sleep] from bash's seeded RANDOM.
random_delay() {
  awk -v r="$RANDOM" -v lo="$min_sleep" -v hi="$max_sleep" \
    'BEGIN { printf "%.3f", lo + (hi - lo) * r / 32767 }'
}

echo "crash_test: $kills kills of $train (seed $seed), run in $run"
kills_done=0
mid_checkpoint=0   # kills that left a step_*.h5 / best.h5 / final.h5 temporary: mid-write
mid_other=0        # kills that left another temporary (config.yaml, metrics.jsonl rewrite)
fresh_starts=0
restarts=0
attempts=0         # starts of lrnn-train on the current run
while [ "$kills_done" -lt "$kills" ]; do
  ckpt="$(newest_checkpoint)"
  if [ -n "$ckpt" ]; then
    args=(--resume "$ckpt")
  else
    args=(--overwrite)   # the first start, or killed before the first checkpoint: start again
    [ "$attempts" = 0 ] || fresh_starts=$((fresh_starts + 1))
  fi
  "$train" "$config" --out "$run" "${args[@]}" >> "$log" 2>&1 &
  pid=$!
  attempts=$((attempts + 1))
  delay="$(random_delay)"
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  status=$?
  if [ "$status" = 0 ]; then
    # Finished before the kill: check it as at the end, and start the run again.
    restarts=$((restarts + 1))
    echo "crash_test: the run finished before kill $((kills_done + 1)); starting it again"
    check_finished_run
    rm -rf "$run"
    attempts=0
    continue
  elif [ "$status" != 137 ]; then
    fail "lrnn-train exited with $status (not killed) at kill $((kills_done + 1)):"
    tail -5 "$log" >&2
    break
  fi
  kills_done=$((kills_done + 1))

  # Temporaries of the killed process: it died while writing that file.
  left_h5="" left_other=""
  for f in "$run"/*.h5.tmp."$pid" "$run"/checkpoints/*.h5.tmp."$pid"; do
    [ -e "$f" ] && left_h5="$(basename "$f")"
  done
  for f in "$run"/*.yaml.tmp."$pid" "$run"/*.jsonl.tmp; do
    [ -e "$f" ] && left_other="$(basename "$f")"
  done
  what="between writes"
  if [ -n "$left_h5" ]; then
    mid_checkpoint=$((mid_checkpoint + 1))
    what="while writing $left_h5"
  elif [ -n "$left_other" ]; then
    mid_other=$((mid_other + 1))
    what="while writing $left_other"
  fi

  newest="$(newest_checkpoint)"
  step="-"
  if [ -n "$newest" ]; then
    step="$(basename "$newest" .h5)"
    loads "$newest" || fail "kill $kills_done: $newest does not load: $(cat "$dir/inspect.err")"
    # A temporary file must never look like a checkpoint.
    case "$newest" in *.tmp*) fail "kill $kills_done: a temporary file was taken for a checkpoint: $newest" ;; esac
  fi
  for f in "$run/best.h5" "$run/final.h5"; do
    if [ -e "$f" ]; then loads "$f" || fail "kill $kills_done: $f does not load: $(cat "$dir/inspect.err")"; fi
  done
  printf 'crash_test: kill %2d after %ss, %s; newest checkpoint %s loads\n' \
    "$kills_done" "$delay" "$what" "$step"
done

# Resume to the end.
ckpt="$(newest_checkpoint)"
if [ -n "$ckpt" ]; then args=(--resume "$ckpt"); else args=(--overwrite); fi
if [ "$failures" = 0 ]; then
  "$train" "$config" --out "$run" "${args[@]}" >> "$log" 2>&1
  status=$?
  [ "$status" = 0 ] || { fail "the final --resume exited with $status"; tail -5 "$log" >&2; }
fi

check_finished_run
# The same run, never interrupted, gives the same numbers.
if [ "$reference" = 1 ] && [ "$failures" = 0 ]; then
  "$train" "$config" --out "$dir/reference" > "$dir/reference.out" 2>&1 ||
    fail "the uninterrupted run failed: $(tail -1 "$dir/reference.out")"
  strip() { sed -E 's/"step_time_s": *[^,}]*(, *)?//' "$1"; }
  if ! diff <(strip "$run/metrics.jsonl") <(strip "$dir/reference/metrics.jsonl") > /dev/null; then
    fail "metrics.jsonl differs from the uninterrupted run's"
  fi
  for f in final.h5 best.h5; do
    a="$("$inspect" "$run/$f" --json | sed -E 's/"checkpoint": *"[^"]*"//')"
    b="$("$inspect" "$dir/reference/$f" --json | sed -E 's/"checkpoint": *"[^"]*"//')"
    [ "$a" = "$b" ] || fail "$f differs from the uninterrupted run's"
  done
fi

stale=0
for f in "$run"/*.tmp* "$run"/checkpoints/*.tmp*; do [ -e "$f" ] && stale=$((stale + 1)); done
echo "crash_test: $kills_done kills: $mid_checkpoint during a checkpoint write, $mid_other during" \
  "another file's write, $fresh_starts before the first checkpoint ($restarts runs finished" \
  "between kills); every newest checkpoint" \
  "loaded: $([ "$failures" = 0 ] && echo yes || echo no)"
echo "crash_test: $stale temporary files left by the kills (never loaded; safe to delete)"
if [ "$failures" = 0 ] && [ "$kills_done" -lt "$kills" ]; then
  fail "only $kills_done of $kills kills landed"
fi
if [ "$failures" = 0 ]; then
  echo "crash_test: PASS (resumed run finished: $total steps logged once each$(
    [ "$reference" = 1 ] && echo ", equal to the uninterrupted run"))"
  exit 0
fi
echo "crash_test: $failures failures" >&2
exit 1
