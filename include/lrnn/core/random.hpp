// Counter-based random numbers (Random123 Philox4x32-10). Every draw is a pure function of
// (seed, stream, index, draw number), so a trial, a parameter or a permutation is the same whatever
// the batch size, the thread count or the number of processes that asks for it.
#pragma once

#include <array>
#include <cstdint>

#include "lrnn/core/types.hpp"

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
  kMixtureStarts = 50,     ///< EM starts of a Gaussian mixture (analysis/mixture.hpp)
  kMixtureLoadings = 51,   ///< per-unit loadings drawn from a mixture
  /// The recurrent noise xi of Euler-Maruyama: kRecurrentNoise + the split (0 train, 1
  /// validation, 2 test), so the splits draw independent noise (NormalBlock below).
  kRecurrentNoise = 64,
  kFixedPointStarts = 80,  ///< jitter and random starts of the fixed-point finder
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

/// Standard normals many at a time, for the recurrent noise xi_k of Euler-Maruyama (DESIGN.md
/// section 1). Column j of a draw is trial index[j]'s xi at one time step k: Philox4x32-10 with
/// key = seed and counter = (stream, index[j], epoch, k * ceil(rows / 4) + q), q = 0 .. ceil(rows /
/// 4) - 1, four 32-bit words per counter, turned into four normals by the Box-Muller transform
/// (in float: the uniforms have 24 bits, so |xi| <= 5.77); unit i < 2 ceil(rows / 4) takes the
/// cosine of pair i, the others the sine of pair i - 2 ceil(rows / 4). The numbers of a trial
/// depend only on (seed, stream, index, epoch, k), never on the batch, thread or rank that draws
/// them. The counters run in plain 32-bit arithmetic over arrays and the transform over Eigen
/// arrays, so that the compiler vectorises both: a scalar draw in double would cost as much as the
/// step.
class NormalBlock {
 public:
  /// Sizes the buffers for blocks of up to `rows` x `cols`; draw() then allocates nothing.
  void reserve(Index rows, Index cols);

  /// Draws the rows x count block of time step `step` for the trials index[0 .. count).
  void draw(std::uint64_t seed, std::uint32_t stream, std::uint32_t epoch,
            const std::int64_t* index, Index count, std::int64_t step, Index rows);

  /// The block of the last draw(): rows x count.
  auto block() const { return xi_.topLeftCorner(rows_, count_); }

 private:
  Index rows_ = 0;
  Index count_ = 0;
  Index blocks_ = 0;  ///< ceil(rows / 4): Philox counters per column
  /// Box-Muller pairs per column, 2 blocks_ rounded up to a multiple of 16 floats, so that every
  /// transcendental runs in whole SIMD packets (a scalar tail could round differently and make a
  /// trial's noise depend on where it sits in the block).
  Index half_ = 0;
  Eigen::Matrix<std::uint32_t, Eigen::Dynamic, 1> w1_, w2_;  ///< the pairs' words, half_ a column
  Eigen::ArrayXf r_, theta_;  ///< the pairs' radius (then r sin θ) and angle
  Eigen::ArrayXf cos_;        ///< r cos θ
  /// rows x cols: unit i < 2 blocks_ is pair i's r cos θ, unit 2 blocks_ + i pair i's r sin θ
  MatX<float> xi_;
};

/// Philox4x32-10 of one counter under a key, as Random123 computes it (a reference for tests).
std::array<std::uint32_t, 4> philox_4x32_10(std::array<std::uint32_t, 4> ctr,
                                            std::array<std::uint32_t, 2> key);

}  // namespace lrnn
