#!/usr/bin/env bash
# A seed study: does a config train a network that solves the task for every seed?
#
#   scripts/seed_study.sh CONFIG [SEEDS] [--out DIR] [--set KEY=VALUE]... [--no-basins]
#                         [--basins scipy|lrnn] [--trials N] [--threads N] [--gating]
#   scripts/seed_study.sh configs/sanity.yaml            # seeds 0:19 into sweeps/seed_study_sanity
#   scripts/seed_study.sh configs/default.yaml 0:19 --set rnn.noise_std=0.1
#
# 1. trains every seed with lrnn-sweep (finished runs in DIR are reused, so a study can be extended
#    or resumed);
# 2. evaluates each run's final.h5 (the network after the last step) and best.h5 (lowest
#    validation loss) with lrnn-eval on N generated test trials (default 2000) of the original's
#    noise-free task: --noise-std 0 --input-noise-std 0 --stim-std 0, whatever noise the config
#    trains with;
# 3. counts the stimulus conditions (of 8) in which final.h5 has a stable fixed point whose readout
#    has the wrong sign (--no-basins skips it): with scripts/wrong_basins.py (--basins scipy, the
#    default), or with lrnn-inspect --fixed-points (--basins lrnn: the C++ finder, which also
#    finds saddles; it writes RUN/fixed_points_final/fixed_points.json);
# 4. prints one row per seed and a summary line: how many seeds reach >= 0.99 accuracy in both
#    contexts at the last step. The table is also written to DIR/seed_study.tsv.
# --gating (for configs with input noise and coherences, e.g. configs/noisy.yaml) evaluates final.h5
# instead on 4000 trials of the config's own noisy task (recurrent noise off) and reports, per
# seed, the accuracy against the ideal observer's on the same trials and the ratio of the
# irrelevant to the relevant logistic slope in each context (scripts/ideal_observer.py); a seed
# gates when both ratios are <= 0.1 and its accuracy is within 0.05 of the ideal observer's.
# Exit codes: 0 the study ran (whatever it found), 1 a run or an evaluation failed, 2 bad usage.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LRNN_BUILD_DIR:-$root/build}"
python=/usr/bin/python3  # Debian's, with numpy, scipy, h5py (another python3 may come first)

usage() { awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
config="$1"
shift
seeds="0:19"
if [ $# -ge 1 ] && [[ "$1" != --* ]]; then seeds="$1"; shift; fi
out="" basins=true finder=scipy trials=2000 threads=() sets=() gating=false
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --set) sets+=(--set "$2"); shift 2 ;;
    --no-basins) basins=false; shift ;;
    --basins)
      case "${2:-}" in
        scipy|lrnn) finder="$2" ;;
        *) echo "seed_study.sh: --basins '${2:-}': must be scipy or lrnn" >&2; exit 2 ;;
      esac
      shift 2 ;;
    --gating) gating=true; basins=false; trials=4000; shift ;;
    --trials) trials="$2"; shift 2 ;;
    --threads) threads=(--threads "$2"); shift 2 ;;
    -h|--help) usage ;;
    *) echo "seed_study.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -f "$config" ] || { echo "seed_study.sh: $config: no such file" >&2; exit 2; }
[ -n "$out" ] || out="sweeps/seed_study_$(basename "$config" .yaml)"
exes=(lrnn-sweep lrnn-eval)
[ "$finder" = lrnn ] && exes+=(lrnn-inspect)
for exe in "${exes[@]}"; do
  [ -x "$build/apps/$exe" ] || { echo "seed_study.sh: $build/apps/$exe not built (scripts/build.sh)" >&2; exit 2; }
done

echo "== seed study of $config, seeds $seeds ${sets[*]:-} -> $out"
start=$(date +%s)
status=0
"$build/apps/lrnn-sweep" "$config" --seeds "$seeds" --out "$out" "${sets[@]}" "${threads[@]}" \
  --no-summary > "$out.sweep.log" 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  tail -5 "$out.sweep.log" >&2
  exit "$status"
fi
mv "$out.sweep.log" "$out/sweep.log"
"$build/apps/lrnn-sweep" "$config" --seeds "$seeds" --out "$out" "${sets[@]}" --collect \
  > /dev/null 2>&1 || true
echo "   trained in $(( $(date +%s) - start )) s (log: $out/sweep.log)"

# Evaluate each run on the noise-free task (--gating: on the config's noisy task).
for run in "$out"/*seed*/; do
  run="${run%/}"
  if $gating; then
    dest="$run/eval_final_task"
    if ! { [ -f "$dest/eval.h5" ] && [ "$dest/eval.h5" -nt "$run/final.h5" ]; }; then
      "$build/apps/lrnn-eval" "$run/final.h5" --trials "$trials" --noise-std 0 --no-figures \
        --out "$dest" "${threads[@]}" > /dev/null 2>&1 ||
        { echo "seed_study.sh: lrnn-eval $run/final.h5 failed" >&2; status=1; }
    fi
    continue
  fi
  for which in final best; do
    [ -f "$run/$which.h5" ] || continue
    dest="$run/eval_${which}_clean"
    [ -f "$dest/metrics.json" ] && [ "$dest/metrics.json" -nt "$run/$which.h5" ] && continue
    "$build/apps/lrnn-eval" "$run/$which.h5" --trials "$trials" --noise-std 0 --stim-std 0 \
      --input-noise-std 0 --no-figures --out "$dest" "${threads[@]}" > /dev/null 2>&1 ||
      { echo "seed_study.sh: lrnn-eval $run/$which.h5 failed" >&2; status=1; }
  done
  if $basins && [ "$finder" = scipy ] && [ -f "$run/final.h5" ] &&
     ! { [ -f "$run/wrong_basins.json" ] && [ "$run/wrong_basins.json" -nt "$run/final.h5" ]; }; then
    "$python" "$root/scripts/wrong_basins.py" "$run/final.h5" --json "$run/wrong_basins.json" \
      > /dev/null || { echo "seed_study.sh: wrong_basins.py $run/final.h5 failed" >&2; status=1; }
  fi
  fp="$run/fixed_points_final/fixed_points.json"
  if $basins && [ "$finder" = lrnn ] && [ -f "$run/final.h5" ] &&
     ! { [ -f "$fp" ] && [ "$fp" -nt "$run/final.h5" ]; }; then
    "$build/apps/lrnn-inspect" "$run/final.h5" --fixed-points --out "$run/fixed_points_final" \
      "${threads[@]}" > /dev/null 2>&1 ||
      { echo "seed_study.sh: lrnn-inspect --fixed-points $run/final.h5 failed" >&2; status=1; }
  fi
done

"$python" - "$out" "$config" "${sets[*]:-}" "$gating" "$root/scripts" "$finder" <<'PY'
import csv, glob, json, os, re, statistics, sys
out, config, sets, gating = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "true"
finder = sys.argv[6]
sys.path.insert(0, sys.argv[5])
rows = []
records = {}
for path in glob.glob(os.path.join(out, "*seed*", "sweep_run.json")):
    with open(path) as f:
        records[os.path.dirname(path)] = json.load(f)
def acc(run, which):
    try:
        with open(os.path.join(run, f"eval_{which}_clean", "metrics.json")) as f:
            m = json.load(f)
        return m["accuracy_ctx1"], m["accuracy_ctx2"]
    except (OSError, KeyError, ValueError):
        return None
def seed_of(run):
    return int(re.search(r"seed(\d+)", run).group(1))
if gating:
    import ideal_observer
    lines = ["seed\taccuracy\tideal\tirrelevant/relevant slope ctx1, ctx2\tgates\twall_s"]
    k = 0
    for run in sorted(records, key=seed_of):
        try:
            r = ideal_observer.analyse(os.path.join(run, "eval_final_task", "eval.h5"))
        except SystemExit as e:
            lines.append(f"{seed_of(run)}\t-\t-\t-\tno ({e})\t-")
            continue
        good = r["gated"] and r["within_0.05_of_ideal"]
        k += good
        ratios = ", ".join("-" if x is None else f"{x:.3f}" for x in r["slope_ratio_ctx"])
        lines.append(f"{seed_of(run)}\t{r['accuracy']:.4f}\t{r['ideal_accuracy']:.4f}\t{ratios}\t"
                     f"{'yes' if good else 'no'}\t{records[run].get('wall_time_s', 0):.1f}")
    print("\n".join(l.replace("\t", "  ") for l in lines))
    summary = (f"summary: {k}/{len(records)} seeds gate (slope ratio <= 0.1 in both contexts, "
               f"accuracy within 0.05 of the ideal observer) ({config} {sets})".rstrip())
    print(summary)
    with open(os.path.join(out, "seed_study.tsv"), "w") as f:
        f.write("\n".join(lines) + "\n# " + summary + "\n")
    sys.exit(0)
for run in sorted(records, key=seed_of):
    rec = records[run]
    seed = int(re.search(r"seed(\d+)", run).group(1))
    basins = None
    try:
        if finder == "lrnn":
            # Stimulus conditions (those with a target) with a stable point on the wrong side.
            with open(os.path.join(run, "fixed_points_final", "fixed_points.json")) as f:
                conds = json.load(f)["conditions"]
            basins = sum(1 for c in conds if c["target"] is not None and any(
                p["kind"] == "stable" and p["readout_correct"] is False for p in c["points"]))
        else:
            with open(os.path.join(run, "wrong_basins.json")) as f:
                basins = json.load(f)[0]["wrong_conditions"]
    except (OSError, KeyError, ValueError, IndexError):
        pass
    rows.append((seed, acc(run, "final"), acc(run, "best"), rec.get("steps"),
                 rec.get("wall_time_s"), basins, rec.get("status", "?")))
def fmt_acc(a):
    return "   -    " if a is None else f"{a[0]:.3f}/{a[1]:.3f}"
def ok(a):
    return a is not None and min(a) >= 0.99
lines = [f"seed\tfinal ctx1/ctx2\tbest ctx1/ctx2\tsteps\twall_s\twrong_basins ({finder})\tstatus"]
for seed, fin, best, steps, wall, basins, status in rows:
    lines.append(f"{seed}\t{fmt_acc(fin)}\t{fmt_acc(best)}\t{steps}\t"
                 f"{wall:.1f}\t{'-' if basins is None else basins}\t{status}")
print("\n".join(l.replace("\t", "  ") for l in lines))
n = len(rows)
k_final = sum(ok(r[1]) for r in rows)
k_best = sum(ok(r[2]) for r in rows)
walls = [r[4] for r in rows if r[4] is not None]
median = statistics.median(walls) if walls else float("nan")
no_basin = sum(1 for r in rows if r[5] == 0)
summary = (f"summary: {k_final}/{n} seeds >= 0.99 in both contexts at the last step (final.h5), "
           f"{k_best}/{n} in best.h5; median wall {median:.1f} s; "
           f"{no_basin}/{n} without a wrong stable point ({config} {sets})".rstrip())
print(summary)
with open(os.path.join(out, "seed_study.tsv"), "w") as f:
    f.write("\n".join(lines) + "\n# " + summary + "\n")
PY
exit "$status"
