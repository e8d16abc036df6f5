// Default runtime options of the sanitizers, compiled into every executable of a sanitized build
// (LRNN_SANITIZE or LRNN_BUILD_FUZZERS, see LrnnSanitizers.cmake). The runtimes call these hooks
// before reading ASAN_OPTIONS / UBSAN_OPTIONS / LSAN_OPTIONS, so the environment still overrides
// them. A sanitizer report exits with code 86, which no lrnn app uses, so an end-to-end test that
// expects exit code 1 or 2 cannot mistake a report for the error it provoked. Leak detection is on
// and needs no suppressions: the suite reports no leak, in our code or in a library.

#define LRNN_SANITIZER_HOOK extern "C" __attribute__((visibility("default"), used))

LRNN_SANITIZER_HOOK const char* __asan_default_options() {
  return "detect_leaks=1:halt_on_error=1:exitcode=86:strict_string_checks=1:"
         "check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1";
}

LRNN_SANITIZER_HOOK const char* __ubsan_default_options() {
  return "print_stacktrace=1:halt_on_error=1:exitcode=86";
}

LRNN_SANITIZER_HOOK const char* __lsan_default_options() { return "exitcode=86"; }
