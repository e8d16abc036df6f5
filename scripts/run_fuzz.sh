#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs each for SECONDS.
#   scripts/run_fuzz.sh [SECONDS] [TARGET...]     default: 60 s each for fuzz_config, fuzz_checkpoint
#   LRNN_FUZZ_JOBS=N   compile jobs (default: all cores)
#
# Seeds: fuzz/corpus/<target>/ (committed, small); fuzz_config also starts from configs/ and
# tests/data/configs/, fuzz_checkpoint from a real tiny checkpoint and its truncations that
# lrnn-fuzz-seed-checkpoint writes. What the fuzzer adds goes to build-fuzz/corpus/<target>/ and is
# kept between runs. A crash, leak, timeout or out-of-memory is saved under fuzz/findings/<target>/;
# reproduce it with build-fuzz/fuzz/<target> FILE. Exits 1 if a target found something in lrnn or
# yaml-cpp; crashes inside HDF5 on corrupt files, and findings that a run of the input alone does
# not reproduce, are listed but do not fail the run (fuzz/README.md says why).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
seconds="${1:-60}"
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_config fuzz_checkpoint)
build="${LRNN_FUZZ_BUILD_DIR:-$root/build-fuzz}"
jobs="${LRNN_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}"

echo "== 1/3 dependencies"
./scripts/install_deps.sh --fuzz

echo "== 2/3 build ($build, clang, $jobs jobs)"
mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DLRNN_BUILD_FUZZERS=ON \
  -DLRNN_BUILD_TESTS=OFF -DLRNN_BUILD_APPS=OFF -DLRNN_BUILD_BENCHMARKS=OFF \
  > "$build/configure.log" 2>&1 || { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" -j "$jobs" --target "${targets[@]}" lrnn-fuzz-seed-checkpoint

seeds="$build/seeds"
"$build/fuzz/lrnn-fuzz-seed-checkpoint" "$seeds/fuzz_checkpoint"

echo "== 3/3 fuzz, $seconds s per target"
# Where FILE goes wrong: for each stack of the report of TARGET FILE (the error, and where the
# memory was allocated or freed), its first frame that is neither the sanitizers', libFuzzer's nor
# the C/C++ runtime's, joined by " | "; "not reproduced" if a run of FILE alone is clean (the input
# then depends on state that earlier inputs left in a library).
where_it_fails() {
  local out="$build/reproduce.log"
  if "$1" -timeout=10 -rss_limit_mb=2048 "$2" > "$out" 2>&1; then
    echo "not reproduced by a run of this input alone"
    return
  fi
  awk '/^ +#0 0x/ { searching = 1 }
    searching && /^ +#[0-9]+ 0x/ &&
    !/__interceptor_|__asan|__sanitizer|__lsan|__ubsan|fuzzer::|libc\.so|sysdeps\/|libstdc\+\+|operator new|[ (]malloc|calloc|realloc/ {
      sub(/^ +#[0-9]+ 0x[0-9a-f]+ (in )?/, ""); sub(/ \(BuildId.*/, "");
      out = out (out == "" ? "" : " | ") $0; searching = 0 }
    END { print out }' "$out"
}
failed=()
for target in "${targets[@]}"; do
  bin="$build/fuzz/$target"
  corpus="$build/corpus/$target"
  findings="$root/fuzz/findings/$target"
  mkdir -p "$corpus" "$findings"
  # -max_len: a config is a few KiB; a seed checkpoint is about 18 KiB and every region of it
  # must stay reachable. -timeout: a config loads in about 1 ms and a checkpoint in 10 ms, so an
  # input that takes seconds hangs; HDF5 hangs on some corrupt files, and a short timeout keeps
  # those from eating the time.
  dirs=()
  [ -d "$root/fuzz/corpus/$target" ] && dirs+=("$root/fuzz/corpus/$target")
  case "$target" in
    fuzz_config)
      opts=(-max_len=4096 -timeout=5 -dict="$root/fuzz/fuzz_config.dict")
      dirs+=("$root/configs" "$root/tests/data/configs") ;;
    fuzz_checkpoint)
      opts=(-max_len=32768 -timeout=2)
      dirs+=("$seeds/$target") ;;
    *) echo "run_fuzz: unknown target '$target'" >&2; exit 2 ;;
  esac
  log="$build/$target.log"
  stamp="$build/$target.start"
  touch "$stamp"
  echo "-- $target: seeds from ${dirs[*]#$root/}"
  # Fork mode: a crash, hang or out-of-memory is saved and fuzzing goes on for the whole time, so
  # one finding (or a known one inside HDF5) does not end the run.
  "$bin" "${opts[@]}" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -rss_limit_mb=2048 \
    -artifact_prefix="$findings/" "$corpus" "${dirs[@]}" > "$log" 2>&1 || true
  last="$(grep -E "^#[0-9]+: cov:" "$log" | tail -1)"
  echo "   ${last:-no progress line; see $log}"
  echo "   corpus: $(find "$corpus" -type f | wc -l) inputs in ${corpus#$root/}"
  new=()
  while IFS= read -r f; do new+=("$f"); done < <(find "$findings" -type f -newer "$stamp" | sort)
  ours=0
  for f in "${new[@]}"; do
    where="$(where_it_fails "$bin" "$f")"
    # Inside HDF5 only if every stack starts there: an overflow of a buffer lrnn allocated is ours.
    if [[ "$where" == "not reproduced"* ]]; then
      kind="flaky"
    elif [ -n "$where" ] && ! tr '|' '\n' <<< "$where" | grep -qv libhdf5; then
      kind="inside HDF5"
    else
      kind="FINDING"; ours=$((ours + 1))
    fi
    echo "   $kind: ${f#$root/}: ${where:-no stack (see $build/reproduce.log)}"
  done
  if [ "$ours" -gt 0 ]; then failed+=("$target"); fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "run_fuzz: findings in ${failed[*]}: reproduce with build-fuzz/fuzz/<target> FILE"
  exit 1
fi
echo "run_fuzz: no findings outside HDF5"
