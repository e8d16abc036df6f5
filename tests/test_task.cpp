#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/task/context_switch.hpp"

namespace lrnn {
namespace {

constexpr double kDt = 0.1;

TaskOptions default_task() { return TaskOptions{}; }

TEST(TimeGrid, DefaultTaskHasThousandStepsAndHundredInWindow) {
  const TimeGrid g = make_time_grid(default_task(), kDt);
  EXPECT_EQ(g.K, 1000);
  EXPECT_EQ(g.k_burn, 150);
  EXPECT_EQ(g.m_window, 100);
  EXPECT_EQ(g.window_first(), 901);
  EXPECT_FALSE(g.in_window(900));
  EXPECT_TRUE(g.in_window(901));
  EXPECT_TRUE(g.in_window(1000));
}

TEST(TimeGrid, RejectsTimesThatAreNotWholeSteps) {
  TaskOptions t;
  t.T_burn = 15.05;
  EXPECT_THROW(make_time_grid(t, kDt), ConfigError);
}

TEST(ContextSwitch, TimingCuesAndLabels) {
  const TaskOptions t = default_task();
  ContextSwitchTask task(t, kDt, 5, 1000, 10, 10);
  std::vector<std::int64_t> idx(200);
  std::iota(idx.begin(), idx.end(), 0);
  TrialBatch<double> b;
  task.fill(Split::kTrain, idx.data(), 200, b);
  ASSERT_EQ(b.n_steps, 1000);
  ASSERT_EQ(b.u.rows(), 4);
  ASSERT_EQ(b.u.cols(), 1000 * 200);
  for (Index j = 0; j < 200; ++j) {
    const int ctx = b.context[j];
    ASSERT_TRUE(ctx == 1 || ctx == 2);
    const TrialSpec s = task.spec(Split::kTrain, idx[j]);
    for (Index k = 0; k < 1000; ++k) {
      const auto u = b.u_step(k).col(j);
      // Cues for the whole trial.
      ASSERT_EQ(u[2], ctx == 1 ? t.gamma_on : t.gamma_off);
      ASSERT_EQ(u[3], ctx == 2 ? t.gamma_on : t.gamma_off);
      if (k < 150) {
        ASSERT_EQ(u[0], 0.0) << "stimulus before T_burn at step " << k;
        ASSERT_EQ(u[1], 0.0);
      } else {
        ASSERT_DOUBLE_EQ(u[0], s.sigma[0] * 1.2);
        ASSERT_DOUBLE_EQ(u[1], s.sigma[1] * 1.2);
      }
    }
    // Label: the sign of the stimulus the context names.
    const double relevant = b.u_step(999)(ctx - 1, j);
    EXPECT_EQ(b.target[j], relevant > 0 ? 1.0 : -1.0);
    EXPECT_EQ(b.coherence(0, j), s.sigma[0] * 1.2);
  }
}

TEST(ContextSwitch, ConditionsAreBalanced) {
  ContextSwitchTask task(default_task(), kDt, 11, 20000, 1, 1);
  std::map<std::tuple<int, int, int>, int> count;
  for (std::int64_t i = 0; i < 20000; ++i) {
    const TrialSpec s = task.spec(Split::kTrain, i);
    ++count[{s.context, s.sigma[0], s.sigma[1]}];
  }
  ASSERT_EQ(count.size(), 8u);
  // Each of the 8 conditions is Binomial(20000, 1/8): mean 2500, std 47; allow 5 std.
  for (const auto& [key, c] : count) EXPECT_NEAR(c, 2500, 235);
}

TEST(ContextSwitch, BinaryLabelsAreZeroOne) {
  TaskOptions t = default_task();
  t.label_type = LabelType::kBinary;
  ContextSwitchTask task(t, kDt, 1, 100, 1, 1);
  for (std::int64_t i = 0; i < 100; ++i) {
    const TrialSpec s = task.spec(Split::kTrain, i);
    EXPECT_EQ(s.label, s.sigma[s.context - 1] > 0 ? 1.0 : 0.0);
  }
}

TEST(ContextSwitch, SameTrialWhateverTheBatch) {
  ContextSwitchTask task(default_task(), kDt, 9, 1000, 10, 10);
  std::vector<std::int64_t> a = {3, 17, 42, 99};
  std::vector<std::int64_t> b = {42};
  TrialBatch<float> ba, bb;
  task.fill(Split::kTrain, a.data(), 4, ba);
  task.fill(Split::kTrain, b.data(), 1, bb);
  for (Index k = 0; k < 1000; ++k) {
    ASSERT_EQ(ba.u_step(k).col(2), bb.u_step(k).col(0)) << "step " << k;
  }
  EXPECT_EQ(ba.target[2], bb.target[0]);
  // Splits are independent streams.
  bool differs = false;
  for (std::int64_t i = 0; i < 20; ++i) {
    differs |= task.spec(Split::kTrain, i).sigma[0] != task.spec(Split::kValidation, i).sigma[0];
  }
  EXPECT_TRUE(differs);
}

TEST(ContextSwitch, CoherencesAndNoiseStatistics) {
  TaskOptions t = default_task();
  t.coherences = {0.1, 0.4, 1.6};
  t.input_noise_std = 0.5;
  t.noise_dt = 1.0;  // 10 grid steps
  ContextSwitchTask task(t, kDt, 21, 4000, 1, 1);
  std::vector<std::int64_t> idx(400);
  std::iota(idx.begin(), idx.end(), 0);
  TrialBatch<double> b;
  task.fill(Split::kTrain, idx.data(), 400, b);
  std::map<double, int> strength_count;
  double sum = 0, sq = 0;
  std::int64_t n = 0;
  for (Index j = 0; j < 400; ++j) {
    const TrialSpec s = task.spec(Split::kTrain, idx[j]);
    strength_count[s.strength[0]]++;
    const double mean0 = s.sigma[0] * s.strength[0];
    // The label is the sign of σ, not of the noisy input.
    EXPECT_EQ(b.target[j], static_cast<double>(s.sigma[s.context - 1]));
    for (Index k = 150; k < 1000; ++k) {
      const double xi = b.u_step(k)(0, j) - mean0;
      if ((k - 150) % 10 == 0) {
        sum += xi;
        sq += xi * xi;
        ++n;
      } else {
        // Held constant within a noise interval.
        ASSERT_EQ(b.u_step(k)(0, j), b.u_step(k - 1)(0, j));
      }
    }
  }
  // Noise is redrawn every interval and independent between channels: the correlation of ξ_0 in
  // adjacent intervals and of ξ_0 with ξ_1 in the same interval are both near 0 (n = 34000:
  // standard error 0.005).
  double adj = 0, cross = 0, norm0 = 0;
  for (Index j = 0; j < 400; ++j) {
    const TrialSpec s = task.spec(Split::kTrain, idx[j]);
    for (Index k = 150; k + 10 < 1000; k += 10) {
      const double a0 = b.u_step(k)(0, j) - s.sigma[0] * s.strength[0];
      const double b0 = b.u_step(k + 10)(0, j) - s.sigma[0] * s.strength[0];
      const double a1 = b.u_step(k)(1, j) - s.sigma[1] * s.strength[1];
      adj += a0 * b0;
      cross += a0 * a1;
      norm0 += a0 * a0;
    }
  }
  EXPECT_NEAR(adj / norm0, 0.0, 0.03);
  EXPECT_NEAR(cross / norm0, 0.0, 0.03);
  EXPECT_EQ(strength_count.size(), 3u);
  for (const auto& [a, c] : strength_count) EXPECT_NEAR(c, 400 / 3, 60);
  // 34000 noise draws: standard error of the std estimate ≈ 0.5 / sqrt(2 * 34000) = 0.002.
  EXPECT_NEAR(sum / static_cast<double>(n), 0.0, 0.02);
  EXPECT_NEAR(std::sqrt(sq / static_cast<double>(n)), 0.5, 0.01);
}

TEST(ContextSwitch, TrainingNoiseStdScalesTheSameDrawsAndLeavesOtherSplits) {
  // The curriculum (training.input_noise_ramp_*) changes only the scale of ξ in training trials:
  // the same normals, so u - σa is proportional to the std; validation keeps the task's std.
  TaskOptions t = default_task();
  t.coherences = {0.1, 0.4};
  t.input_noise_std = 0.5;
  ContextSwitchTask task(t, kDt, 5, 64, 64, 0);
  std::vector<std::int64_t> idx(16);
  std::iota(idx.begin(), idx.end(), 0);
  TrialBatch<double> full, scaled, val_full, val_scaled, clean;
  task.fill(Split::kTrain, idx.data(), 16, full);
  task.fill(Split::kValidation, idx.data(), 16, val_full);
  task.set_train_input_noise_std(0.125);
  EXPECT_EQ(task.train_input_noise_std(), 0.125);
  task.fill(Split::kTrain, idx.data(), 16, scaled);
  task.fill(Split::kValidation, idx.data(), 16, val_scaled);
  task.set_train_input_noise_std(0.0);
  task.fill(Split::kTrain, idx.data(), 16, clean);
  EXPECT_TRUE((val_full.u.array() == val_scaled.u.array()).all());
  EXPECT_TRUE((full.target.array() == scaled.target.array()).all());
  int noisy_entries = 0;
  for (Index j = 0; j < 16; ++j) {
    const TrialSpec s = task.spec(Split::kTrain, idx[j]);
    for (Index k = 150; k < 1000; ++k) {
      for (int i = 0; i < 2; ++i) {
        const double level = s.sigma[i] * s.strength[i];
        EXPECT_EQ(clean.u_step(k)(i, j), level);
        const double xi_full = full.u_step(k)(i, j) - level;
        const double xi_scaled = scaled.u_step(k)(i, j) - level;
        ASSERT_NEAR(xi_scaled, 0.25 * xi_full, 1e-12);
        noisy_entries += xi_full != 0.0;
      }
    }
  }
  EXPECT_EQ(noisy_entries, 16 * 850 * 2);
}

TEST(ContextSwitch, StimStdIsAPerTrialOffset) {
  TaskOptions t = default_task();
  t.stim_std = 0.3;
  ContextSwitchTask task(t, kDt, 2, 20000, 1, 1);
  double sq = 0;
  for (std::int64_t i = 0; i < 20000; ++i) sq += std::pow(task.spec(Split::kTrain, i).offset[1], 2);
  EXPECT_NEAR(std::sqrt(sq / 20000), 0.3, 0.006);
  // The offset reaches the input: u_1 = σ_2 a + offset_2 once the stimulus is on.
  std::vector<std::int64_t> idx = {4};
  TrialBatch<double> b;
  task.fill(Split::kTrain, idx.data(), 1, b);
  const TrialSpec s = task.spec(Split::kTrain, 4);
  EXPECT_DOUBLE_EQ(b.u_step(500)(1, 0), s.sigma[1] * 1.2 + s.offset[1]);
  EXPECT_NE(s.offset[1], 0.0);
}

}  // namespace
}  // namespace lrnn
