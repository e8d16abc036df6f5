#!/usr/bin/env bash
# Installs what is missing, builds in Release and runs the whole test suite with ctest.
# With CI=true, compiler warnings are errors, and the MPI and sanitizer stages run too.
#   scripts/run_tests.sh             the default build (no MPI) and its tests
#   scripts/run_tests.sh --mpi       also OpenMPI, a second build in build-mpi (-DLRNN_WITH_MPI=ON)
#                                    of what the MPI tests need, and `ctest -L mpi` there
#   scripts/run_tests.sh --sanitize  also the suite built with AddressSanitizer and UBSan in
#                                    build-asan (-DLRNN_SANITIZE=ON), but for its slowest tests
#                                    (slow_under_sanitizers below says which and why)
#   scripts/run_tests.sh --slurm     also the Slurm tests (ctest -L slurm, tests/slurm/): a one-node
#                                    cluster (scripts/slurm_local.sh, stopped again afterwards),
#                                    lrnn-train of build-mpi for srun; about 9 minutes, mostly
#                                    waiting on Slurm, so not part of CI
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
mpi=false
sanitize=false
slurm=false
for arg in "$@"; do
  case "$arg" in
    --mpi) mpi=true ;;
    --slurm) slurm=true ;;
    --sanitize) sanitize=true ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "run_tests.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
extra=()
if [ "${CI:-}" = "true" ]; then
  extra+=(-DLRNN_WARNINGS_AS_ERRORS=ON)
  mpi=true
  sanitize=true
fi
stages=3
if $mpi; then stages=$((stages + 1)); fi
if $sanitize; then stages=$((stages + 1)); fi
if $slurm; then stages=$((stages + 1)); fi
deps=()
if $mpi || $slurm; then deps+=(--mpi); fi
if $slurm; then deps+=(--slurm); fi
jobs="$(nproc 2>/dev/null || echo 2)"

echo "== 1/$stages dependencies"
./scripts/install_deps.sh "${deps[@]}"
echo "== 2/$stages build"
./scripts/build.sh "${extra[@]}"
echo "== 3/$stages ctest"
(cd "${LRNN_BUILD_DIR:-$root/build}" &&
  ctest --output-on-failure -j "$jobs" --timeout 900 -LE slurm)

mpi_build="${LRNN_MPI_BUILD_DIR:-$root/build-mpi}"
configure_mpi_build() {
  mkdir -p "$mpi_build"
  cmake -S "$root" -B "$mpi_build" -DCMAKE_BUILD_TYPE=Release -DLRNN_WITH_MPI=ON \
    -DLRNN_BUILD_BENCHMARKS=OFF "${extra[@]}" > "$mpi_build/configure.log" 2>&1 || {
    cat "$mpi_build/configure.log" >&2; exit 1; }
}
stage=3
if $mpi; then
  stage=$((stage + 1))
  # Only lrnn-train, lrnn-sweep and the tests that run them under mpirun: the rest of the suite
  # is the same code as in the default build. One test at a time: each starts 2 ranks.
  echo "== $stage/$stages MPI: build $mpi_build, ctest -L mpi"
  configure_mpi_build
  cmake --build "$mpi_build" -j "$jobs" --target lrnn-train lrnn-sweep test_mpi_e2e
  (cd "$mpi_build" && ctest -L mpi --output-on-failure --timeout 600)
fi

# Under the sanitizers these take 30 s to 5 min each (12 of the 15 CPU minutes of the suite), or
# time what the sanitizers slow down, and what they add to the tests that do run is scale or
# wall-clock time, not other code: the 2 s interrupt bounds at N = 500 and N = 2000 (SecondSigint
# and E2eTrain.Sigint run the same handlers), the exact resumes interrupted during validation
# (the same resume path as the other E2eExact cases, at the default size), the N = 1000 spectra
# of test_low_rank (the same code at N = 50 runs), the bf16 gradients of the N = 500 network
# (Bf16Gemm's own tests run the same products at N = 500 and 37), and the SIGKILL loop (label
# crash: a killed process runs no sanitizer code). All run in stage 3.
slow_under_sanitizers='E2eInterrupt\.SigintAndSigtermAtTheDefaultSize|E2eExact\..*_in_validation'
slow_under_sanitizers+='|E2eInterrupt\.SigintInsideALongStep'
slow_under_sanitizers+='|LowRankPlanted|LowRank\.CorrelationWithCShiftsTheOutlier'
slow_under_sanitizers+='|Bf16Gradient\.'
if $sanitize; then
  stage=$((stage + 1))
  # GCC's ASan and UBSan runtimes come with build-essential: no packages to add.
  asan_build="${LRNN_ASAN_BUILD_DIR:-$root/build-asan}"
  echo "== $stage/$stages sanitizers: build $asan_build (ASan + UBSan), ctest"
  mkdir -p "$asan_build"
  # Without the benchmarks: their smoke run (stage 3) measures, it does not test memory. Without
  # the Python module (-DLRNN_PYTHON=OFF): an extension built with ASan cannot be imported into a
  # plain interpreter, and its C++ underneath is the library that this stage's own tests cover.
  cmake -S "$root" -B "$asan_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRNN_SANITIZE=ON \
    -DLRNN_BUILD_BENCHMARKS=OFF -DLRNN_PYTHON=OFF "${extra[@]}" > "$asan_build/configure.log" 2>&1 || {
    cat "$asan_build/configure.log" >&2; exit 1; }
  cmake --build "$asan_build" -j "$jobs"
  (cd "$asan_build" &&
    ctest --output-on-failure -j "$jobs" --timeout 900 -LE crash -E "$slow_under_sanitizers")
fi

if $slurm; then
  # The default build registers the Slurm tests (-DLRNN_SLURM_TESTS=ON) and gives them the MPI
  # build's lrnn-train for srun. ctest's fixtures start the cluster and stop it, after failed tests
  # too; the trap stops it when ctest itself is interrupted.
  stage=$((stage + 1))
  build="${LRNN_BUILD_DIR:-$root/build}"
  echo "== $stage/$stages Slurm: one-node cluster, ctest -L slurm"
  configure_mpi_build
  cmake --build "$mpi_build" -j "$jobs" --target lrnn-train
  cmake -S "$root" -B "$build" -DLRNN_SLURM_TESTS=ON \
    -DLRNN_SLURM_MPI_TRAIN="$mpi_build/apps/lrnn-train" > "$build/configure.log" 2>&1 || {
    cat "$build/configure.log" >&2; exit 1; }
  cmake --build "$build" -j "$jobs" --target lrnn-train lrnn-sweep
  trap 'LRNN_SLURM_DIR="$build/slurm" "$root/scripts/slurm_local.sh" down' EXIT
  (cd "$build" && ctest -L slurm -j "$jobs" --output-on-failure --timeout 1800)
fi
