#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a trained network: installs what is missing,
# builds in Release what it runs (lrnn-train alone: no test binaries, no benchmarks), trains
# configs/sanity.yaml and prints its validation accuracy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
echo "== 1/3 dependencies"
./scripts/install_deps.sh
echo "== 2/3 build lrnn-train"
LRNN_BUILD_TARGETS=lrnn-train ./scripts/build.sh
echo "== 3/3 train configs/sanity.yaml"
out="${1:-runs/sanity}"
rm -rf "$out"
start=$(date +%s.%N)
./build/apps/lrnn-train configs/sanity.yaml --out "$out"
end=$(date +%s.%N)
python3 - "$out" "$start" "$end" <<'PY'
import json, sys
out, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = [json.loads(l) for l in open(f"{out}/metrics.jsonl")]
vals = [r for r in rows if r.get("val_accuracy") is not None]
val = vals[-1]
best = min(vals, key=lambda r: r["val_loss"])
train_s = sum(r["step_time_s"] for r in rows)
print(f"sanity: {len(rows)} steps, {train_s:.1f} s in training steps, {end - start:.1f} s wall")
print(f"sanity: final validation accuracy {val['val_accuracy']:.3f} "
      f"(context 1 {val['val_accuracy_ctx1']:.3f}, context 2 {val['val_accuracy_ctx2']:.3f}), "
      f"loss {val['val_loss']:.4f}; best loss {best['val_loss']:.4f} at step {best['step']}")
ok = val["val_accuracy"] >= 0.95
print("sanity: PASS (accuracy >= 0.95)" if ok else "sanity: FAIL (accuracy < 0.95)")
sys.exit(0 if ok else 1)
PY
