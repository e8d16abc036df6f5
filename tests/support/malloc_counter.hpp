// Counts heap allocations in a test binary by interposing malloc (glibc's __libc_malloc does the
// work). Include from exactly one translation unit of a test executable.
#pragma once

#include <atomic>
#include <cstddef>

extern "C" void* __libc_malloc(std::size_t size);

namespace lrnn::test {

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

extern "C" void* malloc(std::size_t size) {
  if (lrnn::test::g_counting.load(std::memory_order_relaxed)) lrnn::test::g_mallocs.fetch_add(1);
  return __libc_malloc(size);
}
