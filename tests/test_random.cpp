#include <Random123/philox.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "lrnn/core/random.hpp"

namespace lrnn {
namespace {

TEST(Philox, SameKeyGivesSameSequence) {
  Philox a(42, Stream::kTrainTrials, 7), b(42, Stream::kTrainTrials, 7);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next_u32(), b.next_u32());
}

TEST(Philox, DifferentIndexStreamOrSeedDiffers) {
  Philox a(42, Stream::kTrainTrials, 7);
  Philox b(42, Stream::kTrainTrials, 8);
  Philox c(42, Stream::kValidationTrials, 7);
  Philox d(43, Stream::kTrainTrials, 7);
  const auto x = a.next_u64();
  EXPECT_NE(x, b.next_u64());
  EXPECT_NE(x, c.next_u64());
  EXPECT_NE(x, d.next_u64());
}

TEST(Philox, NormalMomentsAndUniformRange) {
  // 200000 draws: the standard error of the mean is 0.0022, of the variance about 0.0032.
  constexpr int kDraws = 200000;
  constexpr double kTol = 0.015;
  Philox rng(1, Stream::kInitC, 0);
  double sum = 0, sq = 0;
  for (int i = 0; i < kDraws; ++i) {
    const double z = rng.normal();
    sum += z;
    sq += z * z;
    const double u = rng.uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LE(u, 1.0);
  }
  EXPECT_NEAR(sum / kDraws, 0.0, kTol);
  EXPECT_NEAR(sq / kDraws, 1.0, kTol);
}

TEST(Philox, BelowIsUniform) {
  constexpr int kDraws = 60000;
  Philox rng(3, Stream::kShuffle, 0);
  std::vector<int> counts(3, 0);
  for (int i = 0; i < kDraws; ++i) ++counts[rng.below(3)];
  // Each count is Binomial(60000, 1/3): std 115; allow 5 std.
  for (int c : counts) EXPECT_NEAR(c, kDraws / 3, 600);
}

TEST(Philox4x32, MatchesRandom123) {
  // The vectorisable Philox of NormalBlock against Random123's own, at counters and keys that
  // exercise every word (including carries of the key's Weyl sequence past 2^32).
  r123::Philox4x32 ref;
  Philox words(9, Stream::kInitC, 0);
  for (int i = 0; i < 1000; ++i) {
    const std::array<std::uint32_t, 4> c = {words.next_u32(), words.next_u32(), words.next_u32(),
                                            words.next_u32()};
    const std::array<std::uint32_t, 2> k = {words.next_u32(), words.next_u32()};
    const auto expected = ref({{c[0], c[1], c[2], c[3]}}, {{k[0], k[1]}});
    const auto got = philox_4x32_10(c, k);
    for (int w = 0; w < 4; ++w) ASSERT_EQ(got[static_cast<std::size_t>(w)], expected[w]) << i;
  }
}

/// Column j of a draw of `count` trials starting at trial `first`.
MatX<float> draw_block(Index rows, std::int64_t first, Index count, std::int64_t step,
                       std::uint32_t epoch = 0, std::uint32_t stream = 64, std::uint64_t seed = 5) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
  for (Index j = 0; j < count; ++j) idx[static_cast<std::size_t>(j)] = first + j;
  NormalBlock nb;
  nb.draw(seed, stream, epoch, idx.data(), count, step, rows);
  return nb.block();
}

TEST(NormalBlock, ATrialsNoiseDoesNotDependOnItsBlock) {
  // The same trial drawn alone, at another place in a block, or in a block of another width:
  // bit for bit the same numbers, for sizes that do and do not fill whole SIMD packets.
  for (const Index rows : {1, 3, 4, 10, 37, 100, 500}) {
    const MatX<float> wide = draw_block(rows, 100, 16, 7);
    const MatX<float> narrow = draw_block(rows, 105, 3, 7);
    NormalBlock nb;
    const std::vector<std::int64_t> one = {110};
    nb.draw(5, 64, 0, one.data(), 1, 7, rows);
    ASSERT_EQ(wide.rows(), rows);
    EXPECT_EQ(wide.col(5), narrow.col(0)) << rows;
    EXPECT_EQ(wide.col(10), MatX<float>(nb.block()).col(0)) << rows;
  }
}

TEST(NormalBlock, StepEpochStreamAndSeedGiveOtherNumbers) {
  const MatX<float> a = draw_block(50, 0, 4, 3);
  EXPECT_NE(a, draw_block(50, 0, 4, 4));
  EXPECT_NE(a, draw_block(50, 0, 4, 3, 1));
  EXPECT_NE(a, draw_block(50, 0, 4, 3, 0, 65));
  EXPECT_NE(a, draw_block(50, 0, 4, 3, 0, 64, 6));
  EXPECT_EQ(a, draw_block(50, 0, 4, 3));
}

TEST(NormalBlock, StandardNormalMomentsAndIndependence) {
  // 500 units x 16 trials x 40 steps = 320000 draws: standard errors 0.0018 (mean), 0.0025
  // (variance), 0.014 (fourth moment, 3 for a normal) and 0.0018 (correlation of neighbours).
  constexpr double kTol = 0.01;  // over 4 standard errors of mean, variance and correlation
  NormalBlock nb;
  std::vector<std::int64_t> idx(16);
  for (int j = 0; j < 16; ++j) idx[static_cast<std::size_t>(j)] = j;
  double sum = 0, sq = 0, fourth = 0, lag = 0, tail = 0;
  std::int64_t n = 0, pairs = 0;
  for (int step = 0; step < 40; ++step) {
    nb.draw(11, 64, 2, idx.data(), 16, step, 500);
    const MatX<double> x = nb.block().cast<double>();
    sum += x.sum();
    sq += x.squaredNorm();
    fourth += x.array().square().square().sum();
    tail += static_cast<double>((x.array().abs() > 3.0).count());
    lag += (x.topRows(499).array() * x.bottomRows(499).array()).sum();
    n += x.size();
    pairs += 499 * 16;
  }
  const auto N = static_cast<double>(n);
  EXPECT_NEAR(sum / N, 0.0, kTol);
  EXPECT_NEAR(sq / N, 1.0, kTol);
  EXPECT_NEAR(fourth / N, 3.0, 0.07);  // 5 standard errors
  EXPECT_NEAR(lag / static_cast<double>(pairs), 0.0, kTol);
  // P(|z| > 3) = 0.0027 for a normal: 864 expected, std 29.
  EXPECT_NEAR(tail, 0.0027 * N, 150.0);
}

}  // namespace
}  // namespace lrnn
