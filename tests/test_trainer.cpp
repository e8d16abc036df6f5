// The trainer: a short run whose loss falls, exact resume (100 + 100 steps == 200 steps), the
// stop rule.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "lrnn/config/config.hpp"
#include "lrnn/core/errors.hpp"
#include "lrnn/io/checkpoint.hpp"
#include "lrnn/task/context_switch.hpp"
#include "lrnn/train/batch_gradient.hpp"
#include "lrnn/train/trainer.hpp"
#include "support/files.hpp"
#include "support/process.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;

// Every file of this test binary goes under one directory, removed when the binary exits.
const fs::path& scratch_root() {
  static const test::ScratchDir dir("trainer");
  return dir.path();
}

fs::path fresh_dir(const std::string& name) {
  const fs::path p = scratch_root() / name;
  fs::remove_all(p);
  return p;
}

Config tiny_config(Precision precision) {
  Config c;
  c.rnn.N = 32;
  c.task.T_burn = 2.0;
  c.task.T_stim = 8.0;
  c.task.T_avg = 2.0;
  c.integrator.dt = 0.1;
  c.training.precision = precision;
  c.training.seed = 3;
  c.training.batch_size = 8;
  c.training.n_train_trials = 800;  // 100 steps per epoch
  c.training.n_epochs = 2;          // 200 steps, with an epoch boundary in each half of a resume
  c.training.n_val_trials = 64;
  c.training.learning_rate = 0.01;
  c.training.eval_every = 50;
  c.training.save_every = 100;
  c.training.threads = 2;
  return c;
}

TEST(Trainer, ShortRunLossFallsAndFilesAreWritten) {
  const fs::path dir = fresh_dir("short");
  Config c = tiny_config(Precision::kFloat32);
  c.output.dir = dir.string();
  const RunDir run = prepare_run_dir(c.output.dir);
  const TrainSummary s = train(c, run, TrainRunOptions{});
  EXPECT_EQ(s.status, TrainStatus::kCompleted);
  EXPECT_EQ(s.steps_done, 200);
  for (const char* f :
       {"config.yaml", "metrics.jsonl", "best.h5", "final.h5", "checkpoints/step_000000.h5",
        "checkpoints/step_000100.h5", "checkpoints/step_000200.h5"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  const auto l = test::metrics_losses(run.metrics());
  ASSERT_EQ(l.size(), 200u);
  double first = 0, last = 0;
  for (int i = 0; i < 20; ++i) {
    first += l[static_cast<std::size_t>(i)];
    last += l[l.size() - 1 - static_cast<std::size_t>(i)];
  }
  // An untrained readout sits near 0, so the pm1 loss starts near 1. In 200 steps this small
  // network learns one context well (loss ≈ 0.5); it must at least get a third of the way.
  EXPECT_LT(last, 0.67 * first) << "mean loss of the first 20 steps " << first / 20
                                << ", of the last 20 " << last / 20;
  // step_000000.h5 is the untrained network: it differs from the final one.
  const auto c0 = load_checkpoint<float>(run.step_checkpoint(0));
  const auto cf = load_checkpoint<float>(run.final());
  EXPECT_EQ(c0.info.meta.step, 0);
  EXPECT_EQ(cf.info.meta.step, 200);
  EXPECT_NE(c0.net.theta.flat(), cf.net.theta.flat());
  EXPECT_EQ(c0.net.C, cf.net.C);  // C is fixed
}

class TrainerResume : public ::testing::TestWithParam<Precision> {};

TEST_P(TrainerResume, HundredPlusHundredEqualsTwoHundredBitForBit) {
  const Precision precision = GetParam();
  const std::string tag = to_string(precision);
  const fs::path full_dir = fresh_dir("full_" + tag);
  const fs::path part_dir = fresh_dir("part_" + tag);
  Config c = tiny_config(precision);
  c.output.dir = full_dir.string();
  train(c, prepare_run_dir(c.output.dir), TrainRunOptions{});

  c.output.dir = part_dir.string();
  const RunDir run = prepare_run_dir(c.output.dir);
  std::atomic<bool> stop{false};
  TrainRunOptions first;
  first.stop_requested = &stop;
  first.threads = 1;
  // Stop between checkpoints, so the resume uses the checkpoint the interrupt wrote.
  first.on_step = [&](const StepReport& r) {
    if (r.step == 137) stop = true;
  };
  const TrainSummary s1 = train(c, run, first);
  ASSERT_EQ(s1.status, TrainStatus::kInterrupted);
  ASSERT_EQ(s1.steps_done, 137);
  // Resume on another thread count: the blocks of a batch do not depend on it.
  TrainRunOptions second;
  second.resume = run.step_checkpoint(137);
  second.threads = 3;
  const TrainSummary s2 = train(c, run, second);
  ASSERT_EQ(s2.status, TrainStatus::kCompleted);

  auto compare = [&](auto tag_scalar) {
    using S = decltype(tag_scalar);
    const auto a = load_checkpoint<S>((full_dir / "final.h5").string());
    const auto b = load_checkpoint<S>((part_dir / "final.h5").string());
    EXPECT_TRUE((a.net.theta.flat().array() == b.net.theta.flat().array()).all());
    EXPECT_TRUE((a.adam.m.array() == b.adam.m.array()).all());
    EXPECT_TRUE((a.adam.v.array() == b.adam.v.array()).all());
    EXPECT_EQ(a.info.meta.best_step, b.info.meta.best_step);
    EXPECT_EQ(a.info.meta.best_val_loss, b.info.meta.best_val_loss);
  };
  if (precision == Precision::kFloat64) {
    compare(double{});
  } else {
    compare(float{});
  }
  // The metrics log continues exactly: same losses line by line.
  EXPECT_EQ(test::metrics_losses((full_dir / "metrics.jsonl").string()),
            test::metrics_losses((part_dir / "metrics.jsonl").string()));
}

// bf16 too: its products run one per thread, so a resume on another thread count is exact.
INSTANTIATE_TEST_SUITE_P(Precisions, TrainerResume,
                         ::testing::Values(Precision::kFloat64, Precision::kFloat32,
                                           Precision::kBf16),
                         [](const auto& param_info) {
                           return std::string(to_string(param_info.param));
                         });

TEST(Trainer, ResumeWithAnotherConfigIsRefused) {
  const fs::path dir = fresh_dir("mismatch");
  Config c = tiny_config(Precision::kFloat64);
  c.training.n_train_trials = 80;
  c.output.dir = dir.string();
  const RunDir run = prepare_run_dir(c.output.dir);
  train(c, run, TrainRunOptions{});
  c.training.learning_rate = 0.02;
  TrainRunOptions o;
  o.resume = run.final();
  try {
    train(c, run, o);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("learning_rate"), std::string::npos) << e.what();
  }
}

// The input-noise curriculum (training.input_noise_ramp_*): a ramp from the task's own std is no
// ramp (the same bits), a ramp from 0 changes the run, and a resume across the ramp is exact.
TEST(Trainer, InputNoiseCurriculumResumesExactly) {
  Config c = tiny_config(Precision::kFloat32);
  c.task.input_noise_std = 0.5;
  c.task.coherences = {0.2, 0.8};
  const auto final_theta = [](const RunDir& run) {
    return load_checkpoint<float>(run.final()).net.theta.flat();
  };
  c.output.dir = fresh_dir("ramp_none").string();
  const RunDir none = prepare_run_dir(c.output.dir);
  ASSERT_EQ(train(c, none, TrainRunOptions{}).status, TrainStatus::kCompleted);

  c.training.input_noise_ramp_from = 0.5;  // from the end value: a flat ramp
  c.training.input_noise_ramp_begin = 20;
  c.training.input_noise_ramp_end = 150;
  c.output.dir = fresh_dir("ramp_flat").string();
  const RunDir flat = prepare_run_dir(c.output.dir);
  ASSERT_EQ(train(c, flat, TrainRunOptions{}).status, TrainStatus::kCompleted);
  EXPECT_TRUE((final_theta(none).array() == final_theta(flat).array()).all());

  c.training.input_noise_ramp_from = 0.0;
  c.output.dir = fresh_dir("ramp_full").string();
  const RunDir full = prepare_run_dir(c.output.dir);
  ASSERT_EQ(train(c, full, TrainRunOptions{}).status, TrainStatus::kCompleted);
  EXPECT_FALSE((final_theta(none).array() == final_theta(full).array()).all());

  c.output.dir = fresh_dir("ramp_part").string();
  const RunDir part = prepare_run_dir(c.output.dir);
  std::atomic<bool> stop{false};
  TrainRunOptions first;
  first.stop_requested = &stop;
  first.on_step = [&](const StepReport& r) {
    if (r.step == 77) stop = true;  // inside the ramp
  };
  ASSERT_EQ(train(c, part, first).status, TrainStatus::kInterrupted);
  TrainRunOptions second;
  second.resume = part.step_checkpoint(77);
  ASSERT_EQ(train(c, part, second).status, TrainStatus::kCompleted);
  EXPECT_TRUE((final_theta(full).array() == final_theta(part).array()).all());
  EXPECT_EQ(test::metrics_losses(full.metrics()), test::metrics_losses(part.metrics()));

  // Trials brought by the caller hold their own noise: the curriculum is refused.
  const ContextSwitchTask given(c.task, c.integrator.dt, c.training.seed, c.training.n_train_trials,
                                c.training.n_val_trials, 0);
  TrainRunOptions with_trials;
  with_trials.trials = &given;
  c.output.dir = fresh_dir("ramp_given").string();
  EXPECT_THROW(train(c, prepare_run_dir(c.output.dir), with_trials), InputError);
}

// The generator's trials, with NaN in the inputs of chosen training trials.
class PoisonedTrials final : public TrialSource {
 public:
  PoisonedTrials(const Config& c, std::set<std::int64_t> bad)
      : task_(c.task, c.integrator.dt, c.training.seed, c.training.n_train_trials,
              c.training.n_val_trials, 0),
        bad_(std::move(bad)) {}
  std::int64_t size(Split s) const override { return task_.size(s); }
  Index d_in() const override { return task_.d_in(); }
  Index n_steps() const override { return task_.n_steps(); }
  void fill(Split s, const std::int64_t* idx, Index n, TrialBatch<float>& out) const override {
    fill_impl(s, idx, n, out);
  }
  void fill(Split s, const std::int64_t* idx, Index n, TrialBatch<double>& out) const override {
    fill_impl(s, idx, n, out);
  }

 private:
  template <typename S>
  void fill_impl(Split s, const std::int64_t* idx, Index n, TrialBatch<S>& out) const {
    task_.fill(s, idx, n, out);
    for (Index j = 0; j < n; ++j) {
      if (s == Split::kTrain && bad_.count(idx[j])) {
        out.u(0, (out.n_steps - 1) * n + j) = std::numeric_limits<S>::quiet_NaN();
      }
    }
  }
  ContextSwitchTask task_;
  std::set<std::int64_t> bad_;
};

TEST(Trainer, OnNanSkipDropsExactlyThePoisonedBatches) {
  const fs::path dir = fresh_dir("skip");
  Config c = tiny_config(Precision::kFloat32);
  c.training.n_train_trials = 80;  // 10 steps of 8: every trial is used once
  c.training.n_epochs = 1;
  c.training.on_nan = OnNan::kSkip;
  c.output.dir = dir.string();
  const PoisonedTrials trials(c, {5, 77});  // two trials, in one or two batches
  TrainRunOptions o;
  o.trials = &trials;
  std::set<std::int64_t> expected_skips;
  o.on_step = [&](const StepReport& r) {
    if (r.skipped) expected_skips.insert(r.step);
  };
  const TrainSummary s = train(c, prepare_run_dir(c.output.dir), o);
  EXPECT_EQ(s.status, TrainStatus::kCompleted);
  EXPECT_GE(s.nan_skips, 1);
  EXPECT_LE(s.nan_skips, 2);
  EXPECT_EQ(static_cast<std::int64_t>(expected_skips.size()), s.nan_skips);
  const std::vector<test::Json> lines = test::read_json_lines((dir / "metrics.jsonl").string());
  ASSERT_FALSE(lines.empty());
  int skipped_lines = 0;
  for (const test::Json& line : lines) skipped_lines += line.value("skipped", false) ? 1 : 0;
  EXPECT_EQ(skipped_lines, s.nan_skips);
  EXPECT_EQ(lines.back().value("nan_skips", std::int64_t{-1}), s.nan_skips) << lines.back();
  EXPECT_TRUE(load_checkpoint<float>((dir / "final.h5").string()).net.theta.flat().allFinite());

  // With on_nan: stop the same data ends the run at the first poisoned batch.
  c.training.on_nan = OnNan::kStop;
  c.output.dir = fresh_dir("stop").string();
  o.on_step = nullptr;
  try {
    train(c, prepare_run_dir(c.output.dir), o);
    FAIL() << "expected NumericalError";
  } catch (const NumericalError& e) {
    const std::string expect =
        "step " + std::to_string(*expected_skips.begin()) + ": the loss is NaN";
    EXPECT_NE(std::string(e.what()).find(expect), std::string::npos) << e.what();
  }
  // The last good checkpoint stays, and no final.h5 is written.
  EXPECT_NO_THROW(load_checkpoint<float>(c.output.dir + "/checkpoints/step_000000.h5"));
  EXPECT_FALSE(fs::exists(c.output.dir + "/final.h5"));
}

// The stop rule, against a run without it: from the full run's validations, the step at which
// training.stop_patience = 2 validations in a row reach a threshold in both contexts is known in
// advance; the run with the rule must end exactly there, with exactly the full run's parameters of
// that step, and so must a run interrupted inside the streak and resumed.
TEST(Trainer, StopRuleEndsAtThePredictedStepAndResumesExactly) {
  Config c = tiny_config(Precision::kFloat32);
  c.training.eval_every = 20;
  c.training.save_every = 20;
  c.output.dir = fresh_dir("stop_full").string();
  std::vector<std::pair<std::int64_t, double>> worst_ctx;  // (step, min accuracy over contexts)
  TrainRunOptions full;
  full.on_step = [&](const StepReport& r) {
    if (r.has_validation) {
      worst_ctx.emplace_back(r.step,
                             std::min(r.validation.accuracy_ctx[0], r.validation.accuracy_ctx[1]));
    }
  };
  const RunDir full_run = prepare_run_dir(c.output.dir);
  ASSERT_EQ(train(c, full_run, full).status, TrainStatus::kCompleted);
  ASSERT_EQ(worst_ctx.size(), 10u);
  // A threshold that validations 4 and 5 (steps 80, 100) both reach: the rule fires there or
  // earlier, never at the first validation (patience 2).
  const double threshold = std::min(worst_ctx[3].second, worst_ctx[4].second);
  ASSERT_GT(threshold, 0.0);
  std::int64_t expected_stop = -1;
  for (std::size_t i = 1; i < worst_ctx.size() && expected_stop < 0; ++i) {
    if (worst_ctx[i - 1].second >= threshold && worst_ctx[i].second >= threshold) {
      expected_stop = worst_ctx[i].first;
    }
  }
  ASSERT_GE(expected_stop, 40);
  ASSERT_LE(expected_stop, 100);

  c.training.stop_at_val_accuracy = threshold;
  c.training.stop_patience = 2;
  const auto expect_stopped_like_full_run = [&](const TrainSummary& s, const RunDir& run) {
    EXPECT_EQ(s.status, TrainStatus::kStoppedEarly);
    EXPECT_EQ(s.steps_done, expected_stop);
    EXPECT_NE(s.message.find("stopped early at step " + std::to_string(expected_stop)),
              std::string::npos)
        << s.message;
    EXPECT_EQ(s.last_checkpoint, run.step_checkpoint(expected_stop));
    const auto a = load_checkpoint<float>(full_run.step_checkpoint(expected_stop));
    const auto b = load_checkpoint<float>(run.final());
    EXPECT_EQ(b.info.meta.step, expected_stop);
    EXPECT_EQ(b.info.meta.stop_streak, 2);
    EXPECT_TRUE((a.net.theta.flat().array() == b.net.theta.flat().array()).all());
    EXPECT_TRUE((a.adam.m.array() == b.adam.m.array()).all());
    EXPECT_FALSE(fs::exists(run.step_checkpoint(expected_stop + 20)));
  };

  c.output.dir = fresh_dir("stop_rule").string();
  const RunDir stop_run = prepare_run_dir(c.output.dir);
  const TrainSummary s = train(c, stop_run, TrainRunOptions{});
  expect_stopped_like_full_run(s, stop_run);
  // metrics.jsonl ends at the stopping step, and its validations count the streak.
  const std::vector<test::Json> metrics = test::read_json_lines(stop_run.metrics());
  EXPECT_EQ(static_cast<std::int64_t>(metrics.size()), expected_stop);
  ASSERT_FALSE(metrics.empty());
  EXPECT_EQ(metrics.back().value("stop_streak", std::int64_t{-1}), 2) << metrics.back();

  // Interrupted after the first validation of the streak: the checkpoint carries the count.
  c.output.dir = fresh_dir("stop_resume").string();
  const RunDir part = prepare_run_dir(c.output.dir);
  std::atomic<bool> stop{false};
  TrainRunOptions first;
  first.stop_requested = &stop;
  first.on_step = [&](const StepReport& r) {
    if (r.step == expected_stop - 13) stop = true;
  };
  ASSERT_EQ(train(c, part, first).status, TrainStatus::kInterrupted);
  EXPECT_EQ(load_checkpoint<float>(part.step_checkpoint(expected_stop - 13)).info.meta.stop_streak,
            1);
  TrainRunOptions second;
  second.resume = part.step_checkpoint(expected_stop - 13);
  expect_stopped_like_full_run(train(c, part, second), part);

  // A resume from the stopping checkpoint has nothing left to do.
  TrainRunOptions third;
  third.resume = part.step_checkpoint(expected_stop);
  const TrainSummary again = train(c, part, third);
  EXPECT_EQ(again.status, TrainStatus::kStoppedEarly);
  EXPECT_EQ(again.steps_done, expected_stop);
}

TEST(Trainer, ValidationWithoutRecurrentNoiseSeesTheDeterministicNetwork) {
  Config c = tiny_config(Precision::kFloat32);
  c.rnn.noise_std = 0.5;
  c.training.n_epochs = 1;  // 100 steps, validations at 50 and 100
  std::vector<TaskMetrics> with_noise;
  std::vector<TaskMetrics> without;
  const auto run = [&c](bool val_noise, std::vector<TaskMetrics>& out) {
    c.training.val_recurrent_noise = val_noise;
    c.output.dir = fresh_dir(val_noise ? "val_noise" : "val_noise_free").string();
    const RunDir dir = prepare_run_dir(c.output.dir);
    TrainRunOptions o;
    o.on_step = [&out](const StepReport& r) {
      if (r.has_validation) out.push_back(r.validation);
    };
    EXPECT_EQ(train(c, dir, o).status, TrainStatus::kCompleted);
    return load_checkpoint<float>(dir.final());
  };
  const auto a = run(true, with_noise);
  const auto b = run(false, without);
  // Validation changes nothing in training: the same parameters, bit for bit.
  EXPECT_TRUE((a.net.theta.flat().array() == b.net.theta.flat().array()).all());
  ASSERT_EQ(with_noise.size(), 2u);
  ASSERT_EQ(without.size(), 2u);
  EXPECT_NE(with_noise.back().loss, without.back().loss);
  // The noise-free validation is the final network's, run with rnn.noise_std = 0.
  Network<float> net = b.net;  // a checkpoint holds parameters; the dynamics are the config's
  net.noise_std = 0.0;
  ContextSwitchTask task(c.task, c.integrator.dt, c.training.seed, c.training.n_train_trials,
                         c.training.n_val_trials, 0);
  BatchGradient<float> batch(c.integrator, task.grid(), c.task.label_type, 1);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(c.training.n_val_trials));
  std::iota(idx.begin(), idx.end(), 0);
  const auto r = batch.evaluate(net, task, Split::kValidation, idx.data(), c.training.n_val_trials)
                     .metrics.result();
  EXPECT_NEAR(r.loss, without.back().loss, 1e-5 * r.loss);
  EXPECT_EQ(r.accuracy, without.back().accuracy);
  net.noise_std = 0.5;
  net.noise_seed = c.training.seed;
  const auto noisy =
      batch.evaluate(net, task, Split::kValidation, idx.data(), c.training.n_val_trials)
          .metrics.result();
  EXPECT_NE(noisy.loss, r.loss);
}

TEST(TrainingOrder, IsAPermutationWithBalancedBatches) {
  Config c;
  ContextSwitchTask task(c.task, c.integrator.dt, 5, 10000, 1, 0);
  for (const bool balanced : {false, true}) {
    const auto order = training_order(task, 5, 3, 10000, balanced);
    std::vector<std::int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::int64_t i = 0; i < 10000; ++i) ASSERT_EQ(sorted[static_cast<std::size_t>(i)], i);
    // Worst count of one condition in a batch of 32 over the first 250 batches (before the
    // smaller queues run out): exactly 4 when balanced; random batches stray far from it.
    int worst = 0;
    for (int batch = 0; batch < 250; ++batch) {
      std::vector<int> count(8, 0);
      for (int j = 0; j < 32; ++j) {
        ++count[static_cast<std::size_t>(
            task.condition(Split::kTrain, order[static_cast<std::size_t>(batch * 32 + j)]))];
      }
      for (int n : count) worst = std::max(worst, std::abs(n - 4));
    }
    if (balanced) {
      EXPECT_EQ(worst, 0);
    } else {
      EXPECT_GE(worst, 3);
    }
  }
  // Another epoch, another order.
  EXPECT_NE(training_order(task, 5, 3, 10000, true), training_order(task, 5, 4, 10000, true));
}

}  // namespace
}  // namespace lrnn
