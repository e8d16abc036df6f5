#include "lrnn/core/random.hpp"

#include <Random123/philox.h>

#include <Random123/uniform.hpp>
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

}  // namespace lrnn
