#include "lrnn/core/random.hpp"

#include <Random123/philox.h>

#include <Random123/uniform.hpp>
#include <algorithm>
#include <cmath>
#include <numbers>

namespace lrnn {

Philox::Philox(std::uint64_t seed, Stream stream, std::uint64_t index) {
  key_ = {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)};
  ctr_ = {static_cast<std::uint32_t>(stream), static_cast<std::uint32_t>(index),
          static_cast<std::uint32_t>(index >> 32), 0u};
}

void Philox::refill() {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type c = {{ctr_[0], ctr_[1], ctr_[2], ctr_[3]}};
  r123::Philox4x32::key_type k = {{key_[0], key_[1]}};
  const auto r = gen(c, k);
  for (int i = 0; i < 4; ++i) buf_[i] = r[i];
  ++ctr_[3];  // the block counter: 2^32 blocks of 4 words per (stream, index) is ample
  pos_ = 0;
}

std::uint32_t Philox::next_u32() {
  if (pos_ == 4) refill();
  return buf_[pos_++];
}

std::uint64_t Philox::next_u64() {
  const std::uint64_t lo = next_u32();
  const std::uint64_t hi = next_u32();
  return (hi << 32) | lo;
}

double Philox::uniform() { return r123::u01<double>(next_u64()); }

double Philox::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  // u1 in (0, 1] keeps the logarithm finite.
  const double u1 = r123::u01<double>(next_u64());
  const double u2 = r123::u01<double>(next_u64());
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double theta = 2.0 * std::numbers::pi * u2;
  spare_normal_ = r * std::sin(theta);
  has_spare_normal_ = true;
  return r * std::cos(theta);
}

std::uint64_t Philox::below(std::uint64_t n) {
  // Rejection sampling on the top of the 64-bit range removes the modulo bias.
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t v = next_u64();
  while (v >= limit) v = next_u64();
  return v % n;
}

namespace {

// Philox4x32's multipliers and Weyl key increments (Salmon et al. 2011; Random123's philox.h).
constexpr std::uint32_t kPhiloxM0 = 0xD2511F53u;
constexpr std::uint32_t kPhiloxM1 = 0xCD9E8D57u;
constexpr std::uint32_t kPhiloxW0 = 0x9E3779B9u;
constexpr std::uint32_t kPhiloxW1 = 0xBB67AE85u;
constexpr int kPhiloxRounds = 10;

/// One Philox4x32 round on (c0, c1, c2, c3) in place.
inline void philox_round(std::uint32_t& c0, std::uint32_t& c1, std::uint32_t& c2, std::uint32_t& c3,
                         std::uint32_t k0, std::uint32_t k1) {
  const std::uint64_t p0 = std::uint64_t{kPhiloxM0} * c0;
  const std::uint64_t p1 = std::uint64_t{kPhiloxM1} * c2;
  const auto hi0 = static_cast<std::uint32_t>(p0 >> 32);
  const auto lo0 = static_cast<std::uint32_t>(p0);
  const auto hi1 = static_cast<std::uint32_t>(p1 >> 32);
  const auto lo1 = static_cast<std::uint32_t>(p1);
  c0 = hi1 ^ c1 ^ k0;
  c1 = lo1;
  c2 = hi0 ^ c3 ^ k1;
  c3 = lo0;
}

/// Philox4x32-10 of the counters (c0, c1, c2, first + q), q = 0 .. n - 1, under key (k0, k1):
/// words 0 and 1 of counter q go to a1[q], b1[q], words 2 and 3 to a2[q], b2[q]. A loop over
/// independent counters in 32-bit arithmetic, which the compiler vectorises.
void philox_run(std::uint32_t c0, std::uint32_t c1, std::uint32_t c2, std::uint32_t first, Index n,
                std::uint32_t k0, std::uint32_t k1, std::uint32_t* a1, std::uint32_t* b1,
                std::uint32_t* a2, std::uint32_t* b2) {
  for (Index q = 0; q < n; ++q) {
    std::uint32_t x0 = c0, x1 = c1, x2 = c2, x3 = first + static_cast<std::uint32_t>(q);
    std::uint32_t y0 = k0, y1 = k1;
    for (int r = 0; r < kPhiloxRounds; ++r) {
      if (r > 0) {
        y0 += kPhiloxW0;
        y1 += kPhiloxW1;
      }
      philox_round(x0, x1, x2, x3, y0, y1);
    }
    a1[q] = x0;
    b1[q] = x1;
    a2[q] = x2;
    b2[q] = x3;
  }
}

}  // namespace

std::array<std::uint32_t, 4> philox_4x32_10(std::array<std::uint32_t, 4> ctr,
                                            std::array<std::uint32_t, 2> key) {
  std::array<std::uint32_t, 4> out{};
  philox_run(ctr[0], ctr[1], ctr[2], ctr[3], 1, key[0], key[1], &out[0], &out[1], &out[2], &out[3]);
  return out;
}

void NormalBlock::reserve(Index rows, Index cols) {
  constexpr Index kPacket = 16;  // floats in the widest SIMD register (AVX-512)
  blocks_ = (rows + 3) / 4;
  half_ = (2 * blocks_ + kPacket - 1) / kPacket * kPacket;
  if (w1_.size() < half_ * cols) {
    w1_.resize(half_ * cols);
    w2_.resize(half_ * cols);
    r_.resize(half_ * cols);
    theta_.resize(half_ * cols);
    cos_.resize(half_ * cols);
  }
  if (xi_.rows() < rows || xi_.cols() < cols) xi_.resize(rows, cols);
}

void NormalBlock::draw(std::uint64_t seed, std::uint32_t stream, std::uint32_t epoch,
                       const std::int64_t* index, Index count, std::int64_t step, Index rows) {
  if ((rows + 3) / 4 != blocks_ || half_ * count > w1_.size() || xi_.cols() < count ||
      xi_.rows() < rows) {
    reserve(rows, count);
  }
  rows_ = rows;
  count_ = count;
  const auto k0 = static_cast<std::uint32_t>(seed);
  const auto k1 = static_cast<std::uint32_t>(seed >> 32);
  const auto first = static_cast<std::uint32_t>(step * blocks_);
  for (Index j = 0; j < count; ++j) {
    std::uint32_t* a = w1_.data() + j * half_;
    std::uint32_t* b = w2_.data() + j * half_;
    philox_run(stream, static_cast<std::uint32_t>(index[j]), epoch, first, blocks_, k0, k1, a, b,
               a + blocks_, b + blocks_);
    // Pairs past 2 blocks_ only pad the column to whole packets: their values are never used.
    std::fill(a + 2 * blocks_, a + half_, 0u);
    std::fill(b + 2 * blocks_, b + half_, 0u);
  }
  // Uniforms in (0, 1) exactly representable in float: (2 (w >> 9) + 1) / 2^24.
  const Index n = half_ * count;
  constexpr float kScale = 1.0f / 16777216.0f;
  for (Index i = 0; i < n; ++i) {
    r_[i] = static_cast<float>(((w1_[i] >> 9) << 1) | 1u) * kScale;
    theta_[i] = static_cast<float>(((w2_[i] >> 9) << 1) | 1u) * kScale;
  }
  // Whole arrays of a multiple of 16 floats from an aligned start: every element goes through the
  // same SIMD code, wherever its trial sits in the block.
  auto r = r_.head(n);
  auto theta = theta_.head(n);
  r = (-2.0f * r.log()).sqrt();
  theta *= 2.0f * std::numbers::pi_v<float>;
  cos_.head(n) = r * theta.cos();
  r *= theta.sin();
  // Unit i < 2 blocks_ takes pair i's r cos θ, unit 2 blocks_ + i pair i's r sin θ.
  const Index pairs = 2 * blocks_;
  const Index top = std::min(rows, pairs);
  for (Index j = 0; j < count; ++j) {
    xi_.col(j).head(top) = cos_.segment(j * half_, top).matrix();
    if (rows > pairs)
      xi_.col(j).segment(pairs, rows - pairs) = r.segment(j * half_, rows - pairs).matrix();
  }
}

}  // namespace lrnn
