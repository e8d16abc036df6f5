// Counter-based random numbers (Random123 Philox4x32-10). Every draw is a pure function of
// (seed, stream, index, draw number), so a trial, a parameter or a permutation is the same whatever
// the batch size, the thread count or the number of processes that asks for it.
#pragma once

#include <array>
#include <cstdint>

namespace lrnn {

/// Streams that key independent families of draws under one seed.
enum class Stream : std::uint32_t {
  kTrainTrials = 0,       ///< the training split of the task
  kValidationTrials = 1,  ///< the validation split
  kTestTrials = 2,        ///< the test (eval) split
  kInitC = 16,            ///< the fixed random bulk C
  kInitM = 17,
  kInitN = 18,
  kInitB = 19,
  kInitW = 20,
  kShuffle = 32,           ///< per-epoch order of the training trials
  kResampleLoadings = 48,  ///< per-unit loadings of a resampled network (analysis/resample.hpp)
  kResampleC = 49,         ///< the bulk C of a resampled network
};

/// A sequence of random numbers for one (seed, stream, index). Draws are produced four 32-bit words
/// at a time from Philox4x32-10 with key = seed and counter = (stream, index, block).
class Philox {
 public:
  Philox(std::uint64_t seed, Stream stream, std::uint64_t index);

  std::uint32_t next_u32();
  std::uint64_t next_u64();
  /// Uniform on the open interval (0, 1).
  double uniform();
  /// Standard normal, by the Box-Muller transform.
  double normal();
  /// Uniform integer in [0, n), n > 0, without modulo bias.
  std::uint64_t below(std::uint64_t n);

 private:
  void refill();

  std::array<std::uint32_t, 2> key_{};
  std::array<std::uint32_t, 4> ctr_{};
  std::array<std::uint32_t, 4> buf_{};
  int pos_ = 4;
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

}  // namespace lrnn
