# Sanitizer and fuzzer builds, on every target this project defines (library, apps, tests,
# benchmarks, fuzzers); the Debian libraries we link are not instrumented.
#
#   -DLRNN_SANITIZE=ON        AddressSanitizer + UndefinedBehaviorSanitizer (GCC or clang).
#                             scripts/run_tests.sh --sanitize builds and tests this in build-asan/.
#   -DLRNN_BUILD_FUZZERS=ON   the libFuzzer targets in fuzz/ (clang only); implies the sanitizers
#                             and instruments the library for coverage. scripts/run_fuzz.sh.
#
# Every UB check aborts (-fno-sanitize-recover): a report is a test failure, not a line in a log.
# The runtime options (stack traces, exit code, leak detection) are compiled into each
# executable by lrnn_sanitizer_options.cpp, so ctest, the apps the end-to-end tests start and a
# binary run by hand all behave alike; ASAN_OPTIONS / UBSAN_OPTIONS in the environment still win.
option(LRNN_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(LRNN_BUILD_FUZZERS "Build the libFuzzer targets in fuzz/ (clang; implies LRNN_SANITIZE)" OFF)

if(LRNN_BUILD_FUZZERS AND NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "LRNN_BUILD_FUZZERS needs clang (libFuzzer): configure with "
                      "CC=clang CXX=clang++, as scripts/run_fuzz.sh does")
endif()

if(LRNN_SANITIZE OR LRNN_BUILD_FUZZERS)
  if(NOT CMAKE_BUILD_TYPE MATCHES "^(Debug|RelWithDebInfo)$")
    message(WARNING "LRNN_SANITIZE with CMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE}: reports need "
                    "debug info for line numbers; use RelWithDebInfo")
  endif()
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
                      -fno-omit-frame-pointer)
  # RelWithDebInfo here means -O1 -g1 instead of -O2 -g: the level ASan recommends, and line tables
  # are all a report needs. With Eigen, GCC 12 then compiles in half the time (euler_bptt.cpp:
  # 38 s instead of 82 s of CPU; 16 s in Release), which keeps the CI stage in budget.
  add_compile_options("$<$<CONFIG:RelWithDebInfo>:-O1;-g1>")
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # With the sanitizers GCC 12 inlines its AVX-512 intrinsics differently and reports the
    # false positive of GCC bug 105593 (see LrnnWarnings.cmake) as -Wuninitialized, inside
    # avx512fintrin.h. The Release build keeps the warning.
    add_compile_options(-Wno-uninitialized)
  endif()
  if(LRNN_BUILD_FUZZERS)
    # Coverage feedback from our code; the fuzz targets themselves link with -fsanitize=fuzzer.
    add_compile_options(-fsanitize=fuzzer-no-link)
  endif()
endif()

# lrnn_add_sanitizer_options(target): in a sanitized build, every executable that links `target`
# (an INTERFACE source, so nothing changes for installed users) gets the default runtime options.
function(lrnn_add_sanitizer_options target)
  if(LRNN_SANITIZE OR LRNN_BUILD_FUZZERS)
    target_sources(${target} INTERFACE
                   $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/cmake/lrnn_sanitizer_options.cpp>)
  endif()
endfunction()
