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

}  // namespace
}  // namespace lrnn
