#!/usr/bin/env bash
# Configures and builds lrnn in Release into build/ (or $LRNN_BUILD_DIR). Extra arguments go to
# the CMake configure step, e.g. scripts/build.sh -DLRNN_WARNINGS_AS_ERRORS=ON.
# LRNN_BUILD_TARGETS="lrnn-train lrnn-eval" builds only those targets (and what they link), not
# the whole project with its test binaries and benchmarks.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LRNN_BUILD_DIR:-$root/build}"
jobs="$(nproc 2>/dev/null || echo 2)"
echo "build: configuring $build (Release)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" > "$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2; exit 1; }
read -r -a targets <<< "${LRNN_BUILD_TARGETS:-}"
if ((${#targets[@]} > 0)); then
  echo "build: compiling ${targets[*]} with $jobs jobs"
  cmake --build "$build" -j "$jobs" --target "${targets[@]}"
else
  echo "build: compiling with $jobs jobs"
  cmake --build "$build" -j "$jobs"
fi
