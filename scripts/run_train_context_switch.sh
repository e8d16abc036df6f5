#!/usr/bin/env bash
# Trains a config (default configs/default.yaml) into OUT (default: the config's output.dir).
#   scripts/run_train_context_switch.sh [CONFIG] [OUT] [extra lrnn-train flags...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
config="${1:-configs/default.yaml}"
shift || true
args=()
if [ $# -gt 0 ]; then args+=(--out "$1"); shift; fi
if [ ! -x build/apps/lrnn-train ]; then
  ./scripts/install_deps.sh
  ./scripts/build.sh
fi
exec ./build/apps/lrnn-train "$config" "${args[@]}" "$@"
