#!/usr/bin/env bash
# Configures and builds lrnn in Release into build/ (or $LRNN_BUILD_DIR). Extra arguments go to
# the CMake configure step, e.g. scripts/build.sh -DLRNN_WARNINGS_AS_ERRORS=ON.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${LRNN_BUILD_DIR:-$root/build}"
jobs="$(nproc 2>/dev/null || echo 2)"
echo "build: configuring $build (Release)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release "$@" > "$build/configure.log" 2>&1 || {
  cat "$build/configure.log" >&2; exit 1; }
echo "build: compiling with $jobs jobs"
cmake --build "$build" -j "$jobs"
