// End-to-end: interrupts and exactness through the real lrnn-train. SIGINT / SIGTERM at the default
// network size finish the step, write a checkpoint and exit with 130 / 143 within 2 s (a request
// during validation abandons the step: validation takes several steps' time); a second SIGINT
// leaves at once; --resume finishes the run; a resumed run equals an uninterrupted one bit for
// bit, in float32 and float64, and the same config and seed give the same parameters run after
// run.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "lrnn/io/checkpoint.hpp"
#include "support/files.hpp"
#include "support/process.hpp"
#include "support/tiny_config.hpp"

namespace lrnn {
namespace {

namespace fs = std::filesystem;
using test::ChildProcess;
using test::ProcessResult;
using test::ScratchDir;

// The issue's bound on the time from SIGINT / SIGTERM to the exit, at any network size.
constexpr double kInterruptBoundS = 2.0;

std::vector<std::string> metrics_lines(const std::string& run) {
  std::vector<std::string> lines = test::lines_of(test::read_text(run + "/metrics.jsonl"));
  lines.erase(std::remove(lines.begin(), lines.end(), std::string()), lines.end());
  return lines;
}

// `key` of one metrics line, parsed: -1 when the line or the key is missing.
std::int64_t number_after(const std::string& line, const std::string& key) {
  const test::Json j = test::Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.contains(key) || !j[key].is_number()) return -1;
  return j[key].get<std::int64_t>();
}

double seconds_after(const std::string& line, const std::string& key) {
  const test::Json j = test::Json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.contains(key) || !j[key].is_number()) return 0.0;
  return j[key].get<double>();
}

/// The steps of metrics.jsonl, in file order.
std::vector<std::int64_t> logged_steps(const std::string& run) {
  std::vector<std::int64_t> steps;
  for (const auto& line : metrics_lines(run)) steps.push_back(number_after(line, "step"));
  return steps;
}

/// metrics.jsonl without the wall times, parsed: what must repeat exactly (key order included).
std::vector<test::Json> logged_numbers(const std::string& run) {
  std::vector<test::Json> out;
  for (const auto& line : metrics_lines(run)) {
    test::Json j = test::Json::parse(line, nullptr, false);
    if (j.is_object()) j.erase("step_time_s");
    out.push_back(std::move(j));
  }
  return out;
}

/// Waits until metrics.jsonl has `lines` lines; false if the process ends first or after
/// `timeout_s`.
bool wait_for_lines(ChildProcess& p, const std::string& run, std::size_t lines,
                    double timeout_s = 300.0) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (metrics_lines(run).size() < lines) {
    if (!p.running() || std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  return true;
}

/// The step_NNNNNN.h5 of the highest step in run/checkpoints ("" if none).
std::string newest_checkpoint(const std::string& run) {
  static const std::regex name(R"(step_\d{6}\.h5)");
  std::string newest;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(run + "/checkpoints", ec)) {
    const std::string f = e.path().filename().string();
    if (std::regex_match(f, name) && e.path().string() > newest) newest = e.path().string();
  }
  return newest;
}

/// lrnn-inspect loads the checkpoint (every dataset, NaN checks included).
void expect_loads(const std::string& ckpt, const ScratchDir& dir) {
  const ProcessResult r =
      test::run_process({LRNN_INSPECT_EXE, ckpt, "--json"}, dir / "inspect", 120.0);
  EXPECT_EQ(r.exit_code, 0) << ckpt << ": " << r.how() << " " << r.err;
}

std::vector<std::string> train_args(const std::string& config, const std::string& out,
                                    const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {LRNN_TRAIN_EXE, config, "--out", out};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return argv;
}

// ---------------------------------------------------------------------------------------------
// Interrupts at the default network size (N = 500, one thread)

// configs/default.yaml cut to 8 steps that validate (500 trials) at steps 5 and 8.
const std::vector<std::string> kDefaultShort = {
    "--set", "training.n_train_trials=256", "--set", "training.n_epochs=1",
    "--set", "training.eval_every=5",       "--set", "training.save_every=100"};

double slowest_step_s(const std::string& run) {
  double slowest = 0.0;
  for (const auto& line : metrics_lines(run)) {
    slowest = std::max(slowest, seconds_after(line, "step_time_s"));
  }
  return slowest;
}

TEST(E2eInterrupt, SigintAndSigtermAtTheDefaultSizeStopWithinTwoSecondsAndResume) {
  ScratchDir dir("interrupt_default");
  const std::string config = std::string(LRNN_SOURCE_DIR) + "/configs/default.yaml";
  const std::string run = dir / "run";
  std::vector<std::string> one_thread = kDefaultShort;
  one_thread.insert(one_thread.end(), {"--threads", "1"});

  // SIGINT while step 5 computes: step 5 validates, so the request abandons it and the run
  // stops at step 4 instead of after 500 validation trials.
  {
    ChildProcess p(train_args(config, run, one_thread), dir / "a");
    ASSERT_TRUE(wait_for_lines(p, run, 4)) << p.wait().err;
    p.signal(SIGINT);
    const ProcessResult r = p.wait(120.0);
    ASSERT_TRUE(r.exited) << r.how();
    EXPECT_EQ(r.exit_code, 130) << r.err;
    std::printf("SIGINT during a validating step: exit %d after %.3f s (slowest step %.3f s)\n",
                r.exit_code, r.seconds, slowest_step_s(run));
    ::testing::Test::RecordProperty("sigint_seconds", std::to_string(r.seconds));
    EXPECT_LT(r.seconds, kInterruptBoundS) << "slowest step " << slowest_step_s(run) << " s";
    const std::string ckpt = newest_checkpoint(run);
    ASSERT_FALSE(ckpt.empty());
    const auto info = read_checkpoint_info(ckpt);
    // The checkpoint is of the last step logged: nothing of an abandoned step remains.
    EXPECT_EQ(info.meta.step, static_cast<std::int64_t>(metrics_lines(run).size()));
    EXPECT_GE(info.meta.step, 4);
    EXPECT_NE(r.err.find("interrupted at step " + std::to_string(info.meta.step)),
              std::string::npos)
        << r.err;
    expect_loads(ckpt, dir);
  }
  // SIGTERM while step 7 (no validation) computes: 143 after that step.
  {
    std::vector<std::string> args = one_thread;
    args.insert(args.end(), {"--resume", newest_checkpoint(run)});
    ChildProcess p(train_args(config, run, args), dir / "b");
    ASSERT_TRUE(wait_for_lines(p, run, 6)) << p.wait().err;
    p.signal(SIGTERM);
    const ProcessResult r = p.wait(120.0);
    ASSERT_TRUE(r.exited) << r.how();
    EXPECT_EQ(r.exit_code, 143) << r.err;
    std::printf("SIGTERM during a plain step: exit %d after %.3f s (slowest step %.3f s)\n",
                r.exit_code, r.seconds, slowest_step_s(run));
    ::testing::Test::RecordProperty("sigterm_seconds", std::to_string(r.seconds));
    EXPECT_LT(r.seconds, kInterruptBoundS);
    const std::string ckpt = newest_checkpoint(run);
    EXPECT_EQ(read_checkpoint_info(ckpt).meta.step,
              static_cast<std::int64_t>(metrics_lines(run).size()));
    expect_loads(ckpt, dir);
  }
  // --resume finishes, on another thread count; every step logged once, in order.
  {
    std::vector<std::string> args = kDefaultShort;
    args.insert(args.end(), {"--threads", "2", "--resume", newest_checkpoint(run)});
    const ProcessResult r = test::run_process(train_args(config, run, args), dir / "c", 600.0);
    ASSERT_EQ(r.exit_code, 0) << r.how() << " " << r.err;
    EXPECT_EQ(logged_steps(run), (std::vector<std::int64_t>{1, 2, 3, 4, 5, 6, 7, 8}));
    EXPECT_EQ(read_checkpoint_info(run + "/final.h5").meta.step, 8);
  }
}

// N = 2000 on one thread: a training step takes seconds. SIGINT in the middle of the first one
// cancels it, writes the checkpoint of step 0 and exits, in well under a step's time.
TEST(E2eInterrupt, SigintInsideALongStepStopsWithinTwoSeconds) {
  ScratchDir dir("interrupt_long_step");
  const std::string config = std::string(LRNN_SOURCE_DIR) + "/configs/default.yaml";
  const std::string run = dir / "run";
  std::vector<std::string> args = kDefaultShort;
  args.insert(args.end(), {"--threads", "1", "--set", "rnn.N=2000"});
  ChildProcess p(train_args(config, run, args), dir / "a");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (newest_checkpoint(run).empty() && p.running() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  ASSERT_FALSE(newest_checkpoint(run).empty()) << p.wait().err;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // into the step's solve
  p.signal(SIGINT);
  const ProcessResult r = p.wait(120.0);
  ASSERT_TRUE(r.exited) << r.how();
  EXPECT_EQ(r.exit_code, 130) << r.err;
  std::printf("SIGINT inside a step of N = 2000: exit %d after %.3f s (%zu steps finished)\n",
              r.exit_code, r.seconds, metrics_lines(run).size());
  ::testing::Test::RecordProperty("sigint_long_step_seconds", std::to_string(r.seconds));
  EXPECT_LT(r.seconds, kInterruptBoundS);
  const std::string ckpt = newest_checkpoint(run);
  EXPECT_EQ(read_checkpoint_info(ckpt).meta.step,
            static_cast<std::int64_t>(metrics_lines(run).size()));
  EXPECT_NE(r.err.find("interrupted at step"), std::string::npos) << r.err;
  EXPECT_NO_THROW(load_checkpoint<float>(ckpt));  // lrnn-inspect would take a minute at N = 2000
}

TEST(E2eInterrupt, SecondSigintLeavesAtOnce) {
  ScratchDir dir("interrupt_twice");
  const std::string config = std::string(LRNN_SOURCE_DIR) + "/configs/default.yaml";
  const std::string run = dir / "run";
  std::vector<std::string> args = kDefaultShort;
  args.insert(args.end(), {"--threads", "1"});
  ChildProcess p(train_args(config, run, args), dir / "a");
  ASSERT_TRUE(wait_for_lines(p, run, 1)) << p.wait().err;
  // The first request is answered within milliseconds, so the second must arrive before the
  // program runs again: both are made pending while it is stopped (two signals, since a pending
  // signal is not queued twice), and their handlers run back to back on SIGCONT.
  ::kill(p.pid(), SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(p.pid(), SIGINT);
  ::kill(p.pid(), SIGTERM);
  p.signal(SIGCONT);
  const ProcessResult r = p.wait(60.0);
  ASSERT_TRUE(r.exited) << r.how();
  // 128 + the signal that came second (Linux delivers the lower number, SIGINT, first).
  EXPECT_TRUE(r.exit_code == 143 || r.exit_code == 130) << r.exit_code << " " << r.err;
  std::printf("second signal: exit %d after %.3f s (a step takes %.3f s)\n", r.exit_code, r.seconds,
              slowest_step_s(run));
  ::testing::Test::RecordProperty("second_sigint_seconds", std::to_string(r.seconds));
  // It did not finish the step: no interrupt checkpoint, no message.
  EXPECT_LT(r.seconds, 0.5);
  EXPECT_EQ(r.err.find("interrupted at step"), std::string::npos) << r.err;
  // Whatever it left is whole: every checkpoint loads.
  for (const auto& e : fs::directory_iterator(run + "/checkpoints")) {
    if (e.path().extension() == ".h5") expect_loads(e.path().string(), dir);
  }
}

// ---------------------------------------------------------------------------------------------
// Exactness

const std::string kSmall = test::tiny_config_yaml(R"(  seed: 11
  batch_size: 8
  n_train_trials: 800
  n_epochs: 2
  n_val_trials: 32
  eval_every: 10
  save_every: 50
  threads: 2
)");

/// Every number a run ends with: parameters, Adam moments and step, best.h5, and the log.
template <typename Scalar>
void expect_same_run(const std::string& a, const std::string& b) {
  for (const char* file : {"/final.h5", "/best.h5"}) {
    SCOPED_TRACE(file);
    const auto x = load_checkpoint<Scalar>(a + file);
    const auto y = load_checkpoint<Scalar>(b + file);
    EXPECT_TRUE((x.net.theta.flat().array() == y.net.theta.flat().array()).all());
    EXPECT_TRUE((x.adam.m.array() == y.adam.m.array()).all());
    EXPECT_TRUE((x.adam.v.array() == y.adam.v.array()).all());
    EXPECT_EQ(x.adam.step, y.adam.step);
    EXPECT_TRUE((x.net.C.array() == y.net.C.array()).all());
    EXPECT_EQ(x.info.meta.step, y.info.meta.step);
    EXPECT_EQ(x.info.meta.best_step, y.info.meta.best_step);
    EXPECT_EQ(x.info.meta.best_val_loss, y.info.meta.best_val_loss);
  }
  EXPECT_EQ(logged_numbers(a), logged_numbers(b));
}

struct ExactCase {
  const char* name;
  const char* precision;
  std::vector<std::string> sets;  ///< on top of kSmall
};

// Names the case in gtest's and ctest's output (instead of its bytes).
void PrintTo(const ExactCase& c, std::ostream* os) { *os << c.name; }

class E2eExact : public ::testing::TestWithParam<ExactCase> {
 protected:
  template <typename F>
  void for_precision(F&& f) {
    if (std::string(GetParam().precision) == "float64") {
      f(double{});
    } else {
      f(float{});
    }
  }
  std::vector<std::string> sets(std::vector<std::string> more = {}) const {
    std::vector<std::string> s = {"--set",
                                  std::string("training.precision=") + GetParam().precision};
    s.insert(s.end(), GetParam().sets.begin(), GetParam().sets.end());
    s.insert(s.end(), more.begin(), more.end());
    return s;
  }
};

class E2eExactTwice : public E2eExact {};

TEST_P(E2eExactTwice, SameConfigAndSeedGiveTheSameRunRunAfterRun) {
  ScratchDir dir(std::string("exact_twice_") + GetParam().name);
  const std::string config = dir / "small.yaml";
  std::ofstream(config) << kSmall;
  for (const char* run : {"a", "b"}) {
    const ProcessResult r =
        test::run_process(train_args(config, dir / run, sets()), dir / run, 300.0);
    ASSERT_EQ(r.exit_code, 0) << r.how() << " " << r.err;
  }
  // And on another thread count, as the README promises.
  const ProcessResult r =
      test::run_process(train_args(config, dir / "c", sets({"--threads", "1"})), dir / "c", 300.0);
  ASSERT_EQ(r.exit_code, 0) << r.how() << " " << r.err;
  for_precision([&](auto scalar) {
    using S = decltype(scalar);
    expect_same_run<S>(dir / "a", dir / "b");
    expect_same_run<S>(dir / "a", dir / "c");
  });
}

TEST_P(E2eExact, ResumedRunEqualsAnUninterruptedOneBitForBit) {
  ScratchDir dir(std::string("exact_resume_") + GetParam().name);
  const std::string config = dir / "small.yaml";
  std::ofstream(config) << kSmall;
  const ProcessResult full =
      test::run_process(train_args(config, dir / "full", sets()), dir / "full", 300.0);
  ASSERT_EQ(full.exit_code, 0) << full.how() << " " << full.err;

  // Interrupted twice, at moments set by the machine's speed, then finished.
  const std::string part = dir / "part";
  int interrupts = 0;
  for (const std::size_t after : {std::size_t{30}, std::size_t{120}}) {
    std::vector<std::string> more;
    const std::string ckpt = newest_checkpoint(part);
    if (!ckpt.empty()) more = {"--resume", ckpt};
    ChildProcess p(train_args(config, part, sets(more)), part + "_" + std::to_string(after));
    if (!wait_for_lines(p, part, after)) {
      const ProcessResult r = p.wait();
      ASSERT_EQ(r.exit_code, 0) << r.how() << " " << r.err;  // finished first: fine
      break;
    }
    p.signal(SIGINT);
    const ProcessResult r = p.wait(60.0);
    ASSERT_EQ(r.exit_code, 130) << r.how() << " " << r.err;
    ++interrupts;
    const std::int64_t step = read_checkpoint_info(newest_checkpoint(part)).meta.step;
    EXPECT_EQ(step, static_cast<std::int64_t>(metrics_lines(part).size()));
    std::printf("interrupted at step %lld\n", static_cast<long long>(step));
  }
  EXPECT_GE(interrupts, 1) << "the run ended before any interrupt: make it longer";
  if (!fs::exists(part + "/final.h5")) {
    const ProcessResult r =
        test::run_process(train_args(config, part, sets({"--resume", newest_checkpoint(part)})),
                          part + "_end", 300.0);
    ASSERT_EQ(r.exit_code, 0) << r.how() << " " << r.err;
  }
  for_precision([&](auto scalar) { expect_same_run<decltype(scalar)>(dir / "full", part); });
}

// Validation of many trials at every step: most interrupts land in validation and abandon the
// step. 150 steps, so that both interrupts (after 30 and 120 steps) land.
const std::vector<std::string> kValidatingEveryStep = {"--set", "training.eval_every=1",
                                                       "--set", "training.n_val_trials=400",
                                                       "--set", "training.n_train_trials=600"};

std::string exact_case_name(const ::testing::TestParamInfo<ExactCase>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Runs, E2eExactTwice,
                         ::testing::Values(ExactCase{"float32", "float32", {}},
                                           ExactCase{"float64", "float64", {}}),
                         exact_case_name);

INSTANTIATE_TEST_SUITE_P(
    Runs, E2eExact,
    ::testing::Values(ExactCase{"float32", "float32", {}}, ExactCase{"float64", "float64", {}},
                      ExactCase{"float32_in_validation", "float32", kValidatingEveryStep},
                      ExactCase{"float64_in_validation", "float64", kValidatingEveryStep}),
    exact_case_name);

}  // namespace
}  // namespace lrnn
