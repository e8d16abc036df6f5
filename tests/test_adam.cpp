#include <gtest/gtest.h>

#include <cmath>

#include "lrnn/config/config.hpp"
#include "lrnn/optim/adam.hpp"
#include "lrnn/optim/schedule.hpp"

namespace lrnn {
namespace {

Params<double> make(double start) {
  Params<double> p(Dims{1, 1, 1});  // 1 + 1 + 1 + 1 + 1 = 5 numbers
  for (Index i = 0; i < 5; ++i) p.flat()[i] = start + static_cast<double>(i);
  return p;
}

TEST(Adam, TwoStepsMatchHandComputation) {
  Params<double> theta = make(1.0);
  Params<double> g = make(-2.0);  // gradients -2, -1, 0, 1, 2
  AdamState<double> st(5);
  AdamOptions o;  // 0.9, 0.999, 1e-8
  const double lr = 0.1;
  adam_update(theta, g, st, o, GroupMask{}, lr);
  // Step 1: m̂ = g, v̂ = g², so the update is -lr g / (|g| + eps) = -lr sign(g) (0 for g = 0).
  EXPECT_NEAR(theta.flat()[0], 1.0 + 0.1 * 2 / (2 + 1e-8), 1e-15);
  EXPECT_NEAR(theta.flat()[2], 3.0, 1e-15);
  EXPECT_NEAR(theta.flat()[4], 5.0 - 0.1 * 2 / (2 + 1e-8), 1e-15);
  // Step 2 with a new gradient 0.5 on every entry, by hand for entry 0:
  Params<double> g2(Dims{1, 1, 1});
  g2.flat().setConstant(0.5);
  adam_update(theta, g2, st, o, GroupMask{}, lr);
  const double m = 0.9 * (0.1 * -2.0) + 0.1 * 0.5;
  const double v = 0.999 * (0.001 * 4.0) + 0.001 * 0.25;
  const double mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999);
  EXPECT_NEAR(theta.flat()[0], 1.0 + 0.1 * 2 / (2 + 1e-8) - lr * mhat / (std::sqrt(vhat) + 1e-8),
              1e-14);
  EXPECT_EQ(st.step, 2);
}

TEST(Adam, FrozenGroupsDoNotMove) {
  Params<double> theta = make(1.0);
  const Params<double> before = theta;
  Params<double> g = make(1.0);
  AdamState<double> st(5);
  GroupMask mask;
  mask[Group::kN] = false;
  mask[Group::kBias] = false;
  adam_update(theta, g, st, AdamOptions{}, mask, 0.1);
  EXPECT_EQ(theta.n()(0, 0), before.n()(0, 0));
  EXPECT_EQ(theta.b(), before.b());
  EXPECT_NE(theta.M()(0, 0), before.M()(0, 0));
}

TEST(Adam, ClipScalesToTheGlobalNormOfTrainedGroups) {
  Params<double> g(Dims{1, 1, 1});
  g.flat() << 3, 4, 0, 0, 100;
  GroupMask mask;
  mask[Group::kBias] = false;  // the 100 is frozen and must not count
  const double norm = clip_grad_norm(g, mask, 1.0);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(g.flat()[0], 0.6, 1e-15);
  EXPECT_NEAR(g.flat()[1], 0.8, 1e-15);
  EXPECT_EQ(g.flat()[4], 100);
  Params<double> h(Dims{1, 1, 1});
  h.flat() << 3, 4, 0, 0, 0;
  clip_grad_norm(h, GroupMask{}, 0.0);  // 0 disables
  EXPECT_EQ(h.flat()[0], 3);
}

TEST(Adam, WeightDecayAddsTwoLambdaTheta) {
  Params<double> theta = make(1.0);
  Params<double> g(Dims{1, 1, 1});
  const double pen = add_weight_decay(theta, g, GroupMask{}, 0.5);
  EXPECT_DOUBLE_EQ(pen, 0.5 * (1 + 4 + 9 + 16 + 25));
  EXPECT_DOUBLE_EQ(g.flat()[2], 2 * 0.5 * 3.0);
}

TEST(Schedule, CosineGoesFromLrToFinalFraction) {
  TrainingOptions t;
  t.learning_rate = 0.01;
  t.lr_schedule = LrSchedule::kCosine;
  t.lr_final_fraction = 0.01;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 0, 101), 0.01);
  EXPECT_NEAR(learning_rate_at(t, 50, 101), 0.01 * (0.01 + 0.99 * 0.5), 1e-15);
  EXPECT_NEAR(learning_rate_at(t, 100, 101), 0.0001, 1e-15);
  t.lr_schedule = LrSchedule::kConstant;
  EXPECT_DOUBLE_EQ(learning_rate_at(t, 77, 101), 0.01);
}

}  // namespace
}  // namespace lrnn
