#!/usr/bin/env bash
# Builds lrnn in Release and runs the benchmark suite (build/benchmarks/lrnn-bench): one training
# step of the default config at 1 and 2 threads in float32 and float64, the forward pass, an rk45
# + adjoint step, the N and T sweeps, and the reference GEMMs every rate is divided by. Writes the
# JSON report and the console output with the summary table next to each other.
#   scripts/bench.sh [--quick] [--force] [--no-build] [--out FILE.json] [--min-time S]
#                    [--repetitions N] [-- extra lrnn-bench flags]
#   --quick        only the default-config figures and Eigen's reference GEMMs (about a minute;
#                  OpenBLAS's, when installed, run in the full suite)
#   --force        run even if the load average says the machine is busy
#   --no-build     use the binary already built (else: install what is missing, OpenBLAS
#                  included, and build)
#   --out F.json   JSON report (default bench/results-<date>.json); the text goes to F.txt
# Timings need idle cores: the script refuses to start when the 1-minute load average is above
# LRNN_BENCH_MAX_LOAD (default 0.5), and after building it waits up to LRNN_BENCH_SETTLE seconds
# (default 180) for the load of the build itself to decay. LRNN_BUILD_DIR picks the build dir.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LRNN_BUILD_DIR:-$root/build}"
max_load="${LRNN_BENCH_MAX_LOAD:-0.5}"
settle="${LRNN_BENCH_SETTLE:-180}"

quick=0
force=0
do_build=1
out=""
min_time=1
repetitions=3
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --force) force=1 ;;
    --no-build) do_build=0 ;;
    --out) out="${2:?--out needs a file name}"; shift ;;
    --min-time) min_time="${2:?--min-time needs seconds}"; shift ;;
    --repetitions) repetitions="${2:?--repetitions needs a number}"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

load() { cut -d' ' -f1 /proc/loadavg; }
busy() { awk -v l="$(load)" -v m="$max_load" 'BEGIN { exit !(l > m) }'; }

if busy && [ "$force" -eq 0 ]; then
  echo "bench.sh: the load average is $(load) (1 min) on $(nproc) cores, above $max_load:" \
       "something else is running, and timings taken now would measure it too." >&2
  echo "bench.sh: wait until 'uptime' shows a lower load, or pass --force (the load is" \
       "recorded in the report)." >&2
  exit 3
fi

if [ "$do_build" -eq 1 ]; then
  # OpenBLAS too: lrnn-bench then also measures the reference products through it.
  "$root/scripts/install_deps.sh" --bench ||
    echo "bench: could not install OpenBLAS; the reference products run through Eigen only"
  echo "bench: building Release into $build (scripts/build.sh)"
  LRNN_BUILD_DIR="$build" "$root/scripts/build.sh"
  # The build's own load decays with a one-minute time constant.
  waited=0
  while busy && [ "$waited" -lt "$settle" ]; do
    [ "$waited" -eq 0 ] && echo "bench: waiting for the load ($(load)) to fall below $max_load"
    sleep 10
    waited=$((waited + 10))
  done
  if busy && [ "$force" -eq 0 ]; then
    echo "bench.sh: the load average is still $(load) after ${settle} s; not measuring" \
         "(--force to measure anyway)" >&2
    exit 3
  fi
fi

exe="$build/benchmarks/lrnn-bench"
[ -x "$exe" ] || { echo "bench.sh: $exe not found: build first (or drop --no-build)" >&2; exit 1; }

if [ -z "$out" ]; then
  mkdir -p "$root/bench"
  out="$root/bench/results-$(date +%Y%m%d-%H%M%S).json"
fi
mkdir -p "$(dirname "$out")"
text="${out%.json}.txt"

args=(--benchmark_min_time="$min_time" --benchmark_repetitions="$repetitions"
      --benchmark_report_aggregates_only=true --benchmark_counters_tabular=true
      --benchmark_out="$out" --benchmark_out_format=json)
[ "$quick" -eq 1 ] && args+=(--quick)
args+=("${extra[@]}")

echo "bench: load average $(load) (1 min) on $(nproc) cores"
echo "bench: $exe ${args[*]}"
echo "bench: each figure is the median of $repetitions repetitions of at least $min_time s;" \
     "this takes $([ "$quick" -eq 1 ] && echo 'about a minute' || echo 'several minutes')"
"$exe" "${args[@]}" | tee "$text"
echo "bench: load average $(load) at the end"
echo "bench: wrote $out (JSON) and $text (console and summary)"
