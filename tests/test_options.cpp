// The owners' Options checks (IsValid), without YAML or config/: each names the key, the value and
// the rule, and the keys whose place in a file a message should point at. The same rules read from
// YAML, with file:line, are tested in test_config.cpp (and tests/data/config_rules).
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "lrnn/core/option_error.hpp"
#include "lrnn/integrate/options.hpp"
#include "lrnn/model/options.hpp"
#include "lrnn/optim/training_options.hpp"
#include "lrnn/task/options.hpp"

namespace lrnn {
namespace {

/// The error of an invalid Options, or a failure when it passes.
template <typename Options>
OptionError error_of(const Options& options) {
  OptionError e;
  EXPECT_FALSE(options.IsValid(&e)) << "expected the check to fail";
  return e;
}

TEST(Options, DefaultsAreValid) {
  EXPECT_TRUE(RnnOptions{}.IsValid(nullptr));
  EXPECT_TRUE(TaskOptions{}.IsValid(nullptr));
  EXPECT_TRUE(IntegratorOptions{}.IsValid(nullptr));
  EXPECT_TRUE(TrainingOptions{}.IsValid(nullptr));
}

TEST(Options, NullErrorIsAllowedOnFailure) {
  RnnOptions rnn;
  rnn.N = 0;
  EXPECT_FALSE(rnn.IsValid(nullptr));
}

TEST(Options, RnnNamesKeyValueAndRule) {
  RnnOptions rnn;
  rnn.tau = -1.0;
  const OptionError e = error_of(rnn);
  EXPECT_EQ(e.key, "rnn.tau");
  EXPECT_EQ(e.value, "-1");
  EXPECT_EQ(e.rule, "must be > 0");
  EXPECT_EQ(e.keys, std::vector<std::string>{"rnn.tau"});
  EXPECT_EQ(e.message(), "rnn.tau = -1: must be > 0");
}

TEST(Options, RnnRankAboveSizePointsAtBothKeys) {
  RnnOptions rnn;
  rnn.N = 3;
  rnn.R = 4;
  const OptionError e = error_of(rnn);
  EXPECT_EQ(e.message(), "rnn.R = 4: must be <= rnn.N (3)");
  EXPECT_EQ(e.keys, (std::vector<std::string>{"rnn.R", "rnn.N"}));
}

TEST(Options, NanFailsRangeRules) {
  RnnOptions rnn;
  rnn.g = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(error_of(rnn).message(), "rnn.g = nan: must be >= 0");
}

TEST(Options, TaskWindowLongerThanStimulus) {
  TaskOptions task;
  task.T_avg = 90.0;
  EXPECT_EQ(error_of(task).message(), "task.T_avg = 90: must be <= task.T_stim (85)");
  task.trials_file = "trials.h5";  // the file sets the trial length: the rule does not apply
  EXPECT_TRUE(task.IsValid(nullptr));
}

TEST(Options, TaskCoherenceNamesTheElement) {
  TaskOptions task;
  task.coherences = {0.1, 0.0, 0.3};
  const OptionError e = error_of(task);
  EXPECT_EQ(e.message(), "task.coherences[1] = 0: must be > 0");
  EXPECT_EQ(e.keys, (std::vector<std::string>{"task.coherences[1]", "task.coherences"}));
}

TEST(Options, IntegratorAdjointNeedsAdaptiveMethod) {
  IntegratorOptions integrator;
  integrator.gradient = GradientKind::kAdjoint;
  EXPECT_EQ(error_of(integrator).message(),
            "integrator.gradient = adjoint: needs integrator.method: rk45 or tsit5 (euler's "
            "gradient is bptt)");
  integrator.method = Method::kRk45;
  EXPECT_TRUE(integrator.IsValid(nullptr));
}

TEST(Options, IntegratorTolerance) {
  IntegratorOptions integrator;
  integrator.rtol = 0.0;
  EXPECT_EQ(error_of(integrator).message(), "integrator.rtol = 0: must be > 0");
}

TEST(Options, TrainingAdamMoments) {
  TrainingOptions training;
  training.adam.beta2 = 1.0;
  EXPECT_EQ(error_of(training).message(), "training.adam_beta2 = 1: must be in [0, 1)");
}

TEST(Options, TrainingBatchLargerThanData) {
  TrainingOptions training;
  training.n_train_trials = 31;
  const OptionError e = error_of(training);
  EXPECT_EQ(e.message(), "training.n_train_trials = 31: must be >= training.batch_size (32)");
  EXPECT_EQ(e.keys, (std::vector<std::string>{"training.n_train_trials", "training.batch_size"}));
}

TEST(Options, TrainingFirstBrokenRuleWins) {
  TrainingOptions training;
  training.batch_size = 0;
  training.eval_every = 0;
  EXPECT_EQ(error_of(training).key, "training.batch_size");
}

TEST(Options, InputNoiseRampIsLinearBetweenItsSteps) {
  TrainingOptions t;
  EXPECT_FALSE(t.input_noise_ramp());
  EXPECT_EQ(t.input_noise_std_at(0, 0.5), 0.5);  // off: the task's std throughout
  t.input_noise_ramp_from = 0.1;
  t.input_noise_ramp_begin = 100;
  t.input_noise_ramp_end = 300;
  ASSERT_TRUE(t.IsValid(nullptr));
  EXPECT_EQ(t.input_noise_std_at(0, 0.5), 0.1);
  EXPECT_EQ(t.input_noise_std_at(100, 0.5), 0.1);
  EXPECT_DOUBLE_EQ(t.input_noise_std_at(150, 0.5), 0.2);
  EXPECT_DOUBLE_EQ(t.input_noise_std_at(200, 0.5), 0.3);
  EXPECT_EQ(t.input_noise_std_at(300, 0.5), 0.5);
  EXPECT_EQ(t.input_noise_std_at(100000, 0.5), 0.5);
  // Down as well as up.
  t.input_noise_ramp_from = 1.0;
  EXPECT_DOUBLE_EQ(t.input_noise_std_at(200, 0.5), 0.75);
}

TEST(Options, InputNoiseRampRules) {
  TrainingOptions t;
  t.input_noise_ramp_begin = 10;
  EXPECT_EQ(error_of(t).message(),
            "training.input_noise_ramp_end = 0: must be > 0 when training.input_noise_ramp_begin "
            "or _from is set (the curriculum is off at 0)");
  t.input_noise_ramp_end = 10;
  EXPECT_EQ(error_of(t).message(),
            "training.input_noise_ramp_end = 10: must be > training.input_noise_ramp_begin (10)");
  t.input_noise_ramp_end = 11;
  EXPECT_TRUE(t.IsValid(nullptr));
  t.input_noise_ramp_from = -0.5;
  EXPECT_EQ(error_of(t).key, "training.input_noise_ramp_from");
}

TEST(Options, TrainedGroupsFollowTheFlags) {
  TrainingOptions training;
  training.train_N = false;
  training.train_b = false;
  const GroupMask mask = training.trained_groups();
  EXPECT_TRUE(mask[Group::kM]);
  EXPECT_FALSE(mask[Group::kN]);
  EXPECT_TRUE(mask[Group::kB]);
  EXPECT_TRUE(mask[Group::kW]);
  EXPECT_FALSE(mask[Group::kBias]);
}

TEST(Options, FormatNumberIsShortestRoundTrip) {
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(1e-8), "1e-08");
  EXPECT_EQ(format_number(-std::numeric_limits<double>::infinity()), "-inf");
}

}  // namespace
}  // namespace lrnn
