#!/usr/bin/env bash
# Installs what is missing, builds in Release and runs the whole test suite with ctest.
# With CI=true, compiler warnings are errors, and the MPI tests run too.
#   scripts/run_tests.sh          the default build (no MPI) and its tests
#   scripts/run_tests.sh --mpi    also OpenMPI, a second build in build-mpi (-DLRNN_WITH_MPI=ON)
#                                 of what the MPI tests need, and `ctest -L mpi` there
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mpi=false
for arg in "$@"; do
  case "$arg" in
    --mpi) mpi=true ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "run_tests.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
extra=()
if [ "${CI:-}" = "true" ]; then
  extra+=(-DLRNN_WARNINGS_AS_ERRORS=ON)
  mpi=true
fi
stages=3
if $mpi; then stages=4; fi
jobs="$(nproc 2>/dev/null || echo 2)"

echo "== 1/$stages dependencies"
if $mpi; then ./scripts/install_deps.sh --mpi; else ./scripts/install_deps.sh; fi
echo "== 2/$stages build"
./scripts/build.sh "${extra[@]}"
echo "== 3/$stages ctest"
(cd "${LRNN_BUILD_DIR:-$root/build}" &&
  ctest --output-on-failure -j "$jobs" --timeout 900)

if $mpi; then
  # Only lrnn-train, lrnn-sweep and the tests that run them under mpirun: the rest of the suite
  # is the same code as in the default build. One test at a time: each starts 2 ranks.
  mpi_build="${LRNN_MPI_BUILD_DIR:-$root/build-mpi}"
  echo "== 4/$stages MPI: build $mpi_build, ctest -L mpi"
  mkdir -p "$mpi_build"
  cmake -S "$root" -B "$mpi_build" -DCMAKE_BUILD_TYPE=Release -DLRNN_WITH_MPI=ON \
    -DLRNN_BUILD_BENCHMARKS=OFF "${extra[@]}" > "$mpi_build/configure.log" 2>&1 || {
    cat "$mpi_build/configure.log" >&2; exit 1; }
  cmake --build "$mpi_build" -j "$jobs" --target lrnn-train lrnn-sweep test_mpi_e2e
  (cd "$mpi_build" && ctest -L mpi --output-on-failure --timeout 600)
fi
