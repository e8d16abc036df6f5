#!/usr/bin/env bash
# Installs what is missing, builds in Release and runs the whole test suite with ctest.
# With CI=true, compiler warnings are errors.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
echo "== 1/3 dependencies"
./scripts/install_deps.sh
echo "== 2/3 build"
extra=()
if [ "${CI:-}" = "true" ]; then extra+=(-DLRNN_WARNINGS_AS_ERRORS=ON); fi
./scripts/build.sh "${extra[@]}"
echo "== 3/3 ctest"
cd "${LRNN_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "$(nproc 2>/dev/null || echo 2)" --timeout 900
