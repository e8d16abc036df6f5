#!/usr/bin/env bash
# Evaluates and inspects a training run's best checkpoint (best.h5, lowest validation loss; falls
# back to final.h5):
#   scripts/run_eval_context_switch.sh RUN_DIR [extra lrnn-eval flags...]
# Writes RUN_DIR/eval_best/ (the training integrator), RUN_DIR/eval_best_rk45/ (the same trials
# simulated with rk45), and RUN_DIR/inspect.txt and inspect.json (the low-rank structure).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ $# -lt 1 ] || [ "$1" = "-h" ] || [ "$1" = "--help" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
run="$1"
shift
if [ ! -d "$run" ]; then
  echo "run_eval_context_switch.sh: $run is not a directory" >&2
  exit 2
fi
ckpt="$run/best.h5"
[ -f "$ckpt" ] || ckpt="$run/final.h5"
if [ ! -f "$ckpt" ]; then
  echo "run_eval_context_switch.sh: $run holds neither best.h5 nor final.h5" >&2
  exit 2
fi
bin="$root/build/apps"
if [ ! -x "$bin/lrnn-eval" ] || [ ! -x "$bin/lrnn-inspect" ]; then
  "$root/scripts/install_deps.sh"
  "$root/scripts/build.sh"
fi
name="$(basename "$ckpt" .h5)"
echo "== lrnn-eval $ckpt (the training integrator)"
"$bin/lrnn-eval" "$ckpt" --out "$run/eval_$name" "$@"
echo
echo "== lrnn-eval $ckpt --integrator rk45"
"$bin/lrnn-eval" "$ckpt" --integrator rk45 --no-figures --out "$run/eval_${name}_rk45" "$@"
echo
echo "== lrnn-inspect $ckpt"
"$bin/lrnn-inspect" "$ckpt" | tee "$run/inspect.txt"
"$bin/lrnn-inspect" "$ckpt" --json > "$run/inspect.json"
echo
echo "figures: $run/eval_$name/*.svg; low-rank structure: $run/inspect.txt, $run/inspect.json"
