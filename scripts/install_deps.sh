#!/usr/bin/env bash
# Installs the Debian 12 packages lrnn builds with, only those that are missing. Idempotent.
#   scripts/install_deps.sh          build + test dependencies
#   scripts/install_deps.sh --mpi    also OpenMPI (for -DLRNN_WITH_MPI=ON)
#   scripts/install_deps.sh --slurm  also Slurm and munge (scripts/slurm_local.sh, run_tests.sh --slurm)
#   scripts/install_deps.sh --fuzz   also clang with libFuzzer and its OpenMP (scripts/run_fuzz.sh)
#   scripts/install_deps.sh --bench  also OpenBLAS, to compare with (scripts/bench.sh)
#   scripts/install_deps.sh --profile  also GNU time (scripts/profile_run.sh)
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache
  libeigen3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev libhdf5-dev librandom123-dev zlib1g-dev
  nlohmann-json3-dev libxml2-dev libdnnl-dev
  python3 python3-numpy python3-h5py python3-yaml
  # The Python module (python/, CMake option LRNN_PYTHON) and its tests and examples.
  python3-dev pybind11-dev python3-pybind11 python3-pytest python3-matplotlib
)
for arg in "$@"; do
  case "$arg" in
    --mpi) packages+=(libopenmpi-dev openmpi-bin) ;;
    # A one-node Slurm for the tests of the Slurm scripts (scripts/slurm_local.sh).
    --slurm) packages+=(munge slurmctld slurmd slurm-client) ;;
    # OpenBLAS for the reference products of lrnn-bench (scripts/bench.sh); lrnn never links it.
    --bench) packages+=(libopenblas-dev) ;;
    # GNU time, for /usr/bin/time -v (scripts/profile_run.sh).
    --profile) packages+=(time) ;;
    # libclang-rt-14-dev holds libFuzzer and clang's sanitizer runtimes, libomp-dev clang's
    # OpenMP, llvm the llvm-symbolizer (on PATH) that puts file:line into clang's reports.
    --fuzz) packages+=(clang libclang-rt-14-dev libomp-dev llvm) ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install_deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages already installed"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root or sudo to install packages" >&2; exit 1; }
  sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install_deps: done"
