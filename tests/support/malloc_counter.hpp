// Counts heap allocations in a test binary by interposing malloc (glibc's __libc_malloc does the
// work). Include from exactly one translation unit of a test executable.
//
// Under AddressSanitizer the runtime owns malloc and free: memory from __libc_malloc would reach
// ASan's free. There malloc is not interposed, kMallocCounting is false and each test that counts
// starts with LRNN_SKIP_WITHOUT_MALLOC_COUNTER(), so it is reported as skipped, not passed.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)  // GCC
#define LRNN_TEST_UNDER_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define LRNN_TEST_UNDER_ASAN 1
#endif
#endif

#define LRNN_SKIP_WITHOUT_MALLOC_COUNTER() \
  if (!::lrnn::test::kMallocCounting)      \
  GTEST_SKIP() << "AddressSanitizer build: ASan owns malloc, so allocations cannot be counted"

namespace lrnn::test {

#ifdef LRNN_TEST_UNDER_ASAN
inline constexpr bool kMallocCounting = false;
#else
inline constexpr bool kMallocCounting = true;
#endif

inline std::atomic<bool> g_counting{false};
inline std::atomic<long> g_mallocs{0};

/// Counts the mallocs made while it lives.
class MallocCounter {
 public:
  MallocCounter() {
    g_mallocs = 0;
    g_counting = true;
  }
  ~MallocCounter() { g_counting = false; }
  MallocCounter(const MallocCounter&) = delete;
  MallocCounter& operator=(const MallocCounter&) = delete;
  long count() const { return g_mallocs.load(); }
};

}  // namespace lrnn::test

#ifndef LRNN_TEST_UNDER_ASAN
extern "C" void* __libc_malloc(std::size_t size);

extern "C" void* malloc(std::size_t size) {
  if (lrnn::test::g_counting.load(std::memory_order_relaxed)) lrnn::test::g_mallocs.fetch_add(1);
  return __libc_malloc(size);
}
#endif
