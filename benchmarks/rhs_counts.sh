#!/usr/bin/env bash
# Solver work of tsit5 against rk45 (Dormand-Prince) on the default task, as training sees it:
# runs lrnn-train on configs/rk45.yaml for the first STEPS steps with each method and gradient and
# prints the mean, per training step, of accepted and rejected steps, right-hand-side evaluations
# forward and backward (of the busiest block of each batch), and the step time.
#
#   benchmarks/rhs_counts.sh [--train build/apps/lrnn-train] [--steps 30] [--threads 2] [--smoke]
#
# --smoke: N = 40 and 3 steps, so that CI can run it in seconds (the counts then mean little).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
train="$root/build/apps/lrnn-train"
steps=30
threads=2
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --train) train="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --smoke) steps=3; extra=(--set rnn.N=40 --set training.n_val_trials=8); shift ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "rhs_counts.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[ -x "$train" ] || { echo "rhs_counts.sh: $train not found (build lrnn-train first)" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
printf '%-6s %-8s %9s %9s %9s %9s %9s\n' method gradient accepted rejected rhs_fwd rhs_bwd step_s
for method in rk45 tsit5; do
  for gradient in bptt adjoint; do
    out="$work/$method-$gradient"
    "$train" "$root/configs/rk45.yaml" --out "$out" --threads "$threads" \
      --set integrator.method="$method" --set integrator.gradient="$gradient" \
      --set training.n_train_trials=$((32 * steps)) --set training.n_epochs=1 \
      --set training.eval_every=100000 --set training.save_every=100000 \
      "${extra[@]}" > "$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
    python3 - "$out/metrics.jsonl" "$method" "$gradient" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
mean = lambda k: sum(r[k] for r in rows) / len(rows)
print(f"{sys.argv[2]:<6} {sys.argv[3]:<8} {mean('steps_accepted'):9.1f} {mean('steps_rejected'):9.1f} "
      f"{mean('rhs_forward'):9.1f} {mean('rhs_backward'):9.1f} {mean('step_time_s'):9.3f}")
EOF
  done
done
