// End-to-end: runs that fail, through the real lrnn-train. A loss or gradient that turns NaN/Inf
// stops the run with exit 1 and a message that gives the step and the quantity, keeping a last
// good checkpoint that loads (training.on_nan: skip drops batches and counts them in
// metrics.jsonl); an output directory that cannot be written fails before training with exit 2;
// a checkpoint write that fails mid-run (full disk, run directory removed) exits with 1, naming
// the file and the system's reason, and leaves the earlier checkpoints whole.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

const std::string kTiny = test::tiny_config_yaml(R"(  batch_size: 8
  n_train_trials: 160
  n_val_trials: 32
  eval_every: 10
  save_every: 10
  threads: 1
)");

ProcessResult run(const std::vector<std::string>& argv, const ScratchDir& dir, int as_user = -1) {
  static int calls = 0;
  return test::run_process(argv, dir / ("capture_" + std::to_string(++calls)), 300.0, as_user);
}

std::string write_tiny(const ScratchDir& dir) {
  const std::string path = dir / "tiny.yaml";
  std::ofstream(path) << kTiny;
  return path;
}

/// The line of stderr that holds `part` ("" if none).
std::string line_with(const std::string& err, const std::string& part) {
  for (const auto& line : test::lines_of(err)) {
    if (line.find(part) != std::string::npos) return line;
  }
  return "";
}

void expect_no_crash_trace(const ProcessResult& r) {
  EXPECT_TRUE(r.exited) << r.how() << "\n" << r.err;
  for (const char* bad :
       {"HDF5-DIAG", "terminate called", "Segmentation", "H5Fclose", "H5Dclose", "LOG ERROR"}) {
    EXPECT_EQ(r.err.find(bad), std::string::npos) << r.err;
  }
}

void expect_loads(const std::string& ckpt, const ScratchDir& dir) {
  const ProcessResult r = run({LRNN_INSPECT_EXE, ckpt, "--json"}, dir);
  EXPECT_EQ(r.exit_code, 0) << ckpt << ": " << r.how() << " " << r.err;
}

/// The checkpoint a divergence message names: "... The last good parameters are in PATH".
std::string named_checkpoint(const std::string& line) {
  const std::string tag = "are in ";
  const auto pos = line.find(tag);
  return pos == std::string::npos ? "" : line.substr(pos + tag.size());
}

// ---------------------------------------------------------------------------------------------
// Divergence

TEST(E2eDivergence, NanLossStopsWithExitOneNamingStepQuantityAndCheckpoint) {
  ScratchDir dir("diverge_loss");
  const std::string run_dir = dir / "run";
  // An Adam step of 1e38 puts every parameter near float32's largest value: the next forward
  // pass overflows.
  const ProcessResult r =
      run({LRNN_TRAIN_EXE, write_tiny(dir), "--out", run_dir, "--set",
           "training.learning_rate=1e38", "--set", "training.lr_schedule=constant"},
          dir);
  expect_no_crash_trace(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string line = line_with(r.err, "[error]");
  EXPECT_NE(line.find("step 2: the loss is NaN; stopping (training.on_nan = stop)"),
            std::string::npos)
      << r.err;
  const std::string ckpt = named_checkpoint(line);
  EXPECT_EQ(ckpt, run_dir + "/checkpoints/step_000001.h5");
  expect_loads(ckpt, dir);
  EXPECT_EQ(read_checkpoint_info(ckpt).meta.step, 1);
  EXPECT_FALSE(fs::exists(run_dir + "/final.h5"));
  // The log stops at the last good step.
  EXPECT_EQ(test::count_lines(test::read_text(run_dir + "/metrics.jsonl")), 1);
}

TEST(E2eDivergence, InfGradientNamesTheParameterGroup) {
  ScratchDir dir("diverge_gradient");
  const std::string run_dir = dir / "run";
  // Only the bias trains: one step puts it at 2e38, where the loss (a double) is still finite but
  // its float32 gradient is not.
  const ProcessResult r = run(
      {LRNN_TRAIN_EXE, write_tiny(dir), "--out", run_dir, "--set", "training.learning_rate=2e38",
       "--set", "training.lr_schedule=constant", "--set", "training.grad_clip=0", "--set",
       "training.train_M=false", "--set", "training.train_N=false", "--set",
       "training.train_B=false", "--set", "training.train_w=false"},
      dir);
  expect_no_crash_trace(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string line = line_with(r.err, "[error]");
  EXPECT_NE(line.find("step 2: the gradient of b holds NaN or Inf"), std::string::npos) << r.err;
  const std::string ckpt = named_checkpoint(line);
  EXPECT_EQ(ckpt, run_dir + "/checkpoints/step_000001.h5");
  expect_loads(ckpt, dir);
}

TEST(E2eDivergence, OnNanSkipCountsTheSkippedBatchesInMetrics) {
  ScratchDir dir("diverge_skip");
  const std::string run_dir = dir / "run";
  const ProcessResult r = run(
      {LRNN_TRAIN_EXE, write_tiny(dir), "--out", run_dir, "--set", "training.learning_rate=1e38",
       "--set", "training.lr_schedule=constant", "--set", "training.on_nan=skip"},
      dir);
  expect_no_crash_trace(r);
  // The parameters themselves went bad, so every batch after step 1 is skipped, and the tenth in a
  // row ends the run.
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string line = line_with(r.err, "[error]");
  EXPECT_NE(line.find("step 11: 10 batches in a row gave NaN or Inf"), std::string::npos) << r.err;
  EXPECT_NE(line_with(r.err,
                      "step 2: the loss is NaN; batch skipped (training.on_nan = skip, 1 "
                      "so far)"),
            "")
      << r.err;
  // Steps 1 to 10 are logged (step 11 ended the run), and so is each skip.
  const auto lines = test::read_json_lines(run_dir + "/metrics.jsonl");
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_FALSE(lines[0].contains("skipped")) << lines[0];
  for (std::size_t i = 1; i < lines.size(); ++i) {
    // The two keys follow the solver counts, in this order.
    const std::vector<std::string> keys = test::keys_of(lines[i]);
    ASSERT_GE(keys.size(), 12u) << lines[i];
    EXPECT_EQ(std::vector<std::string>(keys.begin() + 10, keys.begin() + 12),
              (std::vector<std::string>{"skipped", "nan_skips"}))
        << lines[i];
    EXPECT_EQ(lines[i].at("skipped"), true) << lines[i];
    EXPECT_EQ(lines[i].at("nan_skips"), static_cast<std::int64_t>(i)) << lines[i];
  }
  const std::string ckpt = named_checkpoint(line);
  expect_loads(ckpt, dir);
  // The checkpoint is of step 10: nine skips, as the log says; a resume takes step 11 again.
  const auto info = read_checkpoint_info(ckpt);
  EXPECT_EQ(info.meta.step, 10);
  EXPECT_EQ(info.meta.nan_skips, 9);
  EXPECT_EQ(info.meta.nan_skips_in_a_row, 9);
  // Resumed, it goes on counting: step 11 is the tenth skip in a row, as in the run above.
  const ProcessResult resumed = run(
      {LRNN_TRAIN_EXE, write_tiny(dir), "--out", run_dir, "--set", "training.learning_rate=1e38",
       "--set", "training.lr_schedule=constant", "--set", "training.on_nan=skip", "--resume", ckpt},
      dir);
  EXPECT_EQ(resumed.exit_code, 1) << resumed.err;
  EXPECT_NE(line_with(resumed.err, "step 11: 10 batches in a row gave NaN or Inf"), "")
      << resumed.err;
}

// ---------------------------------------------------------------------------------------------
// Output directories that cannot be written: exit 2 before training starts

void expect_refused_before_training(const ProcessResult& r, const std::string& out,
                                    const std::string& reason) {
  SCOPED_TRACE(out);
  expect_no_crash_trace(r);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(test::lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("lrnn-train: error: " + out + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(reason), std::string::npos) << r.err;
}

TEST(E2eOutputDir, UnwritableDirectoriesFailBeforeTraining) {
  ScratchDir dir("unwritable_out");
  const std::string config = write_tiny(dir);
  std::ofstream(dir / "a_file") << "not a directory\n";
  struct Case {
    std::string out, reason;
  };
  for (const Case& c : std::vector<Case>{
           {"/proc/lrnn_cannot", "cannot create the run directory"},
           {dir / "a_file", "cannot create the run directory"},
           {dir / "a_file/run", "cannot create the run directory: Not a directory"},
       }) {
    expect_refused_before_training(run({LRNN_TRAIN_EXE, config, "--out", c.out}, dir), c.out,
                                   c.reason);
  }
  // A run directory whose checkpoints/ is a file.
  fs::create_directories(dir / "blocked");
  std::ofstream(dir / "blocked/checkpoints") << "in the way\n";
  expect_refused_before_training(run({LRNN_TRAIN_EXE, config, "--out", dir / "blocked"}, dir),
                                 dir / "blocked", "cannot create the run directory");
}

// Permissions stop an ordinary user; root ignores them, so as root the app runs as 'nobody'.
TEST(E2eOutputDir, ReadOnlyDirectoryFailsBeforeTraining) {
  ScratchDir dir("readonly_out");
  const std::string config = write_tiny(dir);
  const std::string ro = dir / "ro";
  fs::create_directories(ro + "/existing/checkpoints");
  ::chmod(config.c_str(), 0644);
  int user = -1;
  if (::geteuid() == 0) {
    const passwd* nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "running as root and there is no user 'nobody'";
    user = static_cast<int>(nobody->pw_uid);
    const ProcessResult probe = run({LRNN_TRAIN_EXE, "--help"}, dir, user);
    if (probe.exit_code != 0) {
      GTEST_SKIP() << "running as root, and user 'nobody' cannot run " << LRNN_TRAIN_EXE;
    }
  }
  // ro/ and ro/existing/checkpoints are read-only for the user.
  ASSERT_EQ(::chmod((ro + "/existing/checkpoints").c_str(), 0555), 0);
  ASSERT_EQ(::chmod((ro + "/existing").c_str(), 0555), 0);
  ASSERT_EQ(::chmod(ro.c_str(), 0555), 0);
  expect_refused_before_training(run({LRNN_TRAIN_EXE, config, "--out", ro + "/run"}, dir, user),
                                 ro + "/run", "Permission denied");
  expect_refused_before_training(
      run({LRNN_TRAIN_EXE, config, "--out", ro + "/existing"}, dir, user), ro + "/existing",
      "not writable");
  for (const char* d : {"", "/existing", "/existing/checkpoints"}) {
    ::chmod((ro + d).c_str(), 0755);
  }
}

// ---------------------------------------------------------------------------------------------
// Checkpoint writes that fail mid-run

// Whether this process may mount a file system in a private mount namespace (root in most
// containers and CI runners).
bool can_mount_tmpfs(const ScratchDir& dir) {
  if (::geteuid() != 0 || std::system("command -v unshare >/dev/null 2>&1") != 0) return false;
  fs::create_directories(dir / "probe");
  const std::string cmd =
      "unshare -m sh -c 'mount -t tmpfs -o size=64k tmpfs " + dir / "probe" + "' >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

/// "/checkpoints/step_NNNNNN.h5".
std::string fmt_step(int step) {
  char name[64];
  std::snprintf(name, sizeof name, "/checkpoints/step_%06d.h5", step);
  return name;
}

TEST(E2eDiskFull, FailedCheckpointWriteExitsOneAndKeepsTheEarlierOnes) {
  ScratchDir dir("disk_full");
  if (!can_mount_tmpfs(dir)) GTEST_SKIP() << "cannot mount a small tmpfs (needs root and unshare)";
  const std::string config = write_tiny(dir);
  const std::string mnt = dir / "mnt";
  const std::string kept = dir / "kept";
  fs::create_directories(mnt);
  // A 120 KiB file system holds the run's small files and four 22 KB checkpoints; the fifth
  // does not fit. The run is copied out before the private mount namespace ends.
  const std::string script = "mount -t tmpfs -o size=120k tmpfs '" + mnt + "' || exit 99\n'" +
                             std::string(LRNN_TRAIN_EXE) + "' '" + config + "' --out '" + mnt +
                             "/run' --set training.save_every=1\nrc=$?\ncp -a '" + mnt + "/run' '" +
                             kept + "'\nexit $rc\n";
  const ProcessResult r = run({"/usr/bin/env", "unshare", "-m", "sh", "-c", script}, dir);
  ASSERT_NE(r.exit_code, 99) << "mount failed: " << r.err;
  expect_no_crash_trace(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string line = line_with(r.err, "[error]");
  const std::regex expected(
      ".*/run/checkpoints/step_(\\d{6})\\.h5: cannot write temporary file "
      ".*/run/checkpoints/step_\\d{6}\\.h5\\.tmp\\.\\d+: No space left on "
      "device$");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(line, m, expected)) << r.err;
  const int failed_step = std::stoi(m[1]);
  EXPECT_GE(failed_step, 1);
  // Every earlier checkpoint is there and loads; no temporary file is left.
  for (int s = 0; s < failed_step; ++s) {
    expect_loads(kept + fmt_step(s), dir);
  }
  for (const auto& e : fs::directory_iterator(kept + "/checkpoints")) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_FALSE(fs::exists(kept + fmt_step(failed_step)));
}

// lrnn-eval writes eval.h5 the same way: a full disk is one line and exit 1, not a crash.
TEST(E2eDiskFull, EvalOutputOnAFullDiskExitsOne) {
  ScratchDir dir("disk_full_eval");
  if (!can_mount_tmpfs(dir)) GTEST_SKIP() << "cannot mount a small tmpfs (needs root and unshare)";
  const ProcessResult trained = run({LRNN_TRAIN_EXE, write_tiny(dir), "--out", dir / "run"}, dir);
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const std::string mnt = dir / "mnt";
  fs::create_directories(mnt);
  // 400 trials of traces need about half a megabyte; the file system holds 64 KiB.
  const std::string script = "mount -t tmpfs -o size=64k tmpfs '" + mnt + "' || exit 99\nexec '" +
                             std::string(LRNN_EVAL_EXE) + "' '" + dir / "run/final.h5" +
                             "' --trials 400 --no-figures --out '" + mnt + "/eval'\n";
  const ProcessResult r = run({"/usr/bin/env", "unshare", "-m", "sh", "-c", script}, dir);
  ASSERT_NE(r.exit_code, 99) << "mount failed: " << r.err;
  expect_no_crash_trace(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(test::lines_of(r.err).size(), 1u) << r.err;
  EXPECT_EQ(r.err.rfind("lrnn-eval: error: " + mnt + "/eval/eval.h5: cannot write temporary file " +
                            mnt + "/eval/eval.h5.tmp.",
                        0),
            0u)
      << r.err;
  EXPECT_NE(r.err.find(": No space left on device"), std::string::npos) << r.err;
}

TEST(E2eDiskFull, RunDirectoryRemovedMidRunExitsOne) {
  ScratchDir dir("dir_removed");
  const std::string config = write_tiny(dir);
  const std::string run_dir = dir / "run";
  ChildProcess p({LRNN_TRAIN_EXE, config, "--out", run_dir, "--set",
                  "training.n_train_trials=80000", "--set", "training.save_every=1"},
                 dir / "train");
  // Let it write a few checkpoints, then take the directory away.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!fs::exists(run_dir + "/checkpoints/step_000003.h5") && p.running() &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // The trainer may be creating a file meanwhile: remove until the directory is gone.
  while (fs::exists(run_dir) && p.running()) {
    std::error_code ec;
    fs::remove_all(run_dir, ec);
  }
  const ProcessResult r = p.wait(60.0);
  expect_no_crash_trace(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const std::string line = line_with(r.err, "[error]");
  EXPECT_NE(line.find(run_dir + "/checkpoints/step_"), std::string::npos) << r.err;
  // Found gone before the write, or while it was written.
  EXPECT_TRUE(line.find("does not exist") != std::string::npos ||
              line.find("No such file or directory") != std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace lrnn
